//! The TLS settings of the commands: what `meshrtc join` trusts
//! (`--server-fingerprint` or `--server-ca`) and the certificate of
//! `meshrtc serve --tls` and `meshrtc demo --tls`.

use std::net::IpAddr;
use std::path::Path;

use meshrtc_mesh::signaling::tls::{parse_fingerprint, read_certificates};
use meshrtc_mesh::signaling::{ServerTls, ServerTrust, TlsError};

/// The trust `--server-fingerprint` or `--server-ca` gives, if any.
pub fn client_trust(
    fingerprint: Option<&str>,
    ca_file: Option<&Path>,
) -> Result<Option<ServerTrust>, TlsError> {
    if let Some(fp) = fingerprint {
        return Ok(Some(ServerTrust::Fingerprint(parse_fingerprint(fp)?)));
    }
    match ca_file {
        Some(path) => Ok(Some(ServerTrust::Roots(read_certificates(path)?))),
        None => Ok(None),
    }
}

/// A self-signed certificate naming `localhost`, this machine's host name
/// and every given address (an unspecified address stands for every
/// interface address).
pub fn self_signed_for(ips: &[IpAddr]) -> Result<ServerTls, TlsError> {
    let mut names = vec!["localhost".to_owned()];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        if !host.is_empty() && host != "localhost" {
            names.push(host.to_owned());
            names.push(format!("{host}.local"));
        }
    }
    let mut addrs: Vec<IpAddr> = Vec::new();
    for ip in ips {
        if ip.is_unspecified() {
            addrs.extend(crate::lan::interface_addresses(true));
        } else {
            addrs.push(*ip);
        }
    }
    for ip in addrs {
        let text = ip.to_string();
        if !names.contains(&text) {
            names.push(text);
        }
    }
    ServerTls::self_signed(&names)
}

//! `--ice-server URL` (repeatable), `--ice-username`, `--ice-credential`
//! and `--turn-ca` of `meshrtc join`, `offer` and `answer`: STUN and TURN
//! servers given on the command line, for use without a room server that
//! hands them out.
//!
//! URLs are those of RFC 7064 §3.1 and RFC 7065 §3.1 (`stun:`, `turn:`,
//! `turns:`, `?transport=udp|tcp`), as a browser's `RTCIceServer.urls`
//! takes them; the TURN credentials are given once for every TURN URL
//! (`--ice-username U --ice-credential P`, like `RTCIceServer`'s
//! `username` and `credential`). The protocol cores resolve nothing: a
//! host name is resolved here, once, when the command starts, and its
//! address handed on with the URL, which keeps the name (a `turns:`
//! server's certificate is checked for it). `turns:` servers are trusted as
//! `--turn-ca FILE` says (PEM certificates: the server's own if
//! self-signed, or its CA), else by the system's CA bundle.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use meshrtc_mesh::ice_servers::HostAddresses;
use meshrtc_mesh::signaling::protocol::IceServer;
use meshrtc_mesh::signaling::tls::read_certificates;
use meshrtc_mesh::signaling::ServerTrust;

/// The system's CA bundle (Debian `ca-certificates`).
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The command-line STUN/TURN servers.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IceServerArgs {
    /// A STUN or TURN server: `stun:HOST[:PORT]`, `turn:HOST[:PORT]`
    /// (`?transport=tcp` for TCP to the server) or `turns:HOST[:PORT]`
    /// (TLS, port 5349 by default); repeatable. HOST may be a name.
    #[arg(long = "ice-server", value_name = "URL")]
    pub urls: Vec<String>,
    /// The user name for the `turn:`/`turns:` servers.
    #[arg(long, value_name = "NAME")]
    pub ice_username: Option<String>,
    /// The password for the `turn:`/`turns:` servers.
    #[arg(long, value_name = "SECRET")]
    pub ice_credential: Option<String>,
    /// Trust `turns:` servers (ours and the room's) whose certificate these
    /// PEM certificates sign (default for our own: the system's CA
    /// bundle). The name checked is the URL's host name, or the server's
    /// IP address for an IP-literal URL.
    #[arg(long, value_name = "PEM")]
    pub turn_ca: Option<PathBuf>,
}

impl IceServerArgs {
    /// The servers as one `RTCIceServer` entry, and the addresses of the
    /// host names in their URLs (resolved here, once; for
    /// `meshrtc_mesh::ice_servers::apply_resolved`, which keeps each name
    /// for TLS to check).
    pub fn ice_servers(&self) -> Result<(Vec<IceServer>, HostAddresses), String> {
        let mut hosts = HostAddresses::new();
        if self.urls.is_empty() {
            return Ok((Vec::new(), hosts));
        }
        for u in &self.urls {
            if let Some((name, ip)) = resolve_url(u)? {
                hosts.insert(name, ip);
            }
        }
        let urls = self.urls.clone();
        let turn = urls
            .iter()
            .any(|u| u.to_ascii_lowercase().starts_with("turn"));
        if turn && (self.ice_username.is_none() || self.ice_credential.is_none()) {
            return Err("a turn: or turns: --ice-server needs --ice-username and \
                 --ice-credential"
                .into());
        }
        let servers = vec![IceServer {
            urls,
            username: self.ice_username.clone(),
            credential: self.ice_credential.clone(),
        }];
        Ok((servers, hosts))
    }

    /// The TLS client configuration for `turns:` servers (ours and, for
    /// `join`, the room's): `--turn-ca`, or the system's CA bundle; `None`
    /// when neither `--turn-ca` nor a `turns:` URL was given.
    pub fn turn_tls(&self) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
        let turns = self
            .urls
            .iter()
            .any(|u| u.to_ascii_lowercase().starts_with("turns:"));
        if !turns && self.turn_ca.is_none() {
            return Ok(None);
        }
        let path = self
            .turn_ca
            .as_deref()
            .unwrap_or_else(|| Path::new(SYSTEM_CA_BUNDLE));
        let roots = read_certificates(path).map_err(|e| e.to_string())?;
        let config = ServerTrust::Roots(roots)
            .client_config()
            .map_err(|e| e.to_string())?;
        // TURN names no ALPN protocol for plain TURN over TLS (RFC 7443's
        // "stun.turn" is optional); coturn expects none.
        let mut config = (*config).clone();
        config.alpn_protocols.clear();
        Ok(Some(Arc::new(config)))
    }
}

/// The host name of `url` (`scheme:host[:port][?query]`, lower case) and
/// its address, if the host is a name; `None` for an IP literal.
fn resolve_url(url: &str) -> Result<Option<(String, IpAddr)>, String> {
    let bad = || format!("--ice-server {url}: not scheme:host[:port][?transport=...]");
    let (scheme, rest) = url.split_once(':').ok_or_else(bad)?;
    let (hostport, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (rest, None),
    };
    if hostport.starts_with('[') {
        return Ok(None);
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| bad())?)),
        None => (hostport, None),
    };
    if host.is_empty() {
        return Err(bad());
    }
    if host.parse::<IpAddr>().is_ok() {
        return Ok(None);
    }
    let default_port = if scheme.eq_ignore_ascii_case("turns") {
        5349
    } else {
        3478
    };
    let port = port.unwrap_or(default_port);
    let addr: SocketAddr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("--ice-server {url}: cannot resolve {host}: {e}"))?
        .min_by_key(|a| a.is_ipv6())
        .ok_or_else(|| format!("--ice-server {url}: {host} has no address"))?;
    let _ = query;
    Ok(Some((host.to_ascii_lowercase(), addr.ip())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_resolved_and_addresses_kept() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let localhost = Some(("localhost".to_string(), lo));
        assert_eq!(
            resolve_url("turn:LocalHost:3479?transport=tcp").unwrap(),
            localhost
        );
        assert_eq!(resolve_url("turns:localhost").unwrap(), localhost);
        assert_eq!(resolve_url("stun:localhost").unwrap(), localhost);
        assert_eq!(resolve_url("turn:10.0.0.1").unwrap(), None);
        assert_eq!(resolve_url("turn:[::1]:3478").unwrap(), None);
        // The name is kept for TLS: a `turns:` server named `localhost`
        // is checked for that name.
        let a = IceServerArgs {
            urls: vec!["turns:localhost".into()],
            ice_username: Some("u".into()),
            ice_credential: Some("p".into()),
            ..IceServerArgs::default()
        };
        let (servers, hosts) = a.ice_servers().unwrap();
        let mut ice = meshrtc_ice::IceConfig::controlled(1);
        let apply = meshrtc_mesh::ice_servers::apply_resolved;
        assert!(apply(&servers, &hosts, &mut ice).is_empty());
        assert_eq!(ice.turn_servers[0].addr, SocketAddr::new(lo, 5349));
        assert_eq!(ice.turn_servers[0].host.as_deref(), Some("localhost"));
        assert!(resolve_url("turn:").is_err());
        assert!(resolve_url("turn:host:port").is_err());
        assert!(resolve_url("nothing").is_err());
    }

    #[test]
    fn turn_urls_need_credentials() {
        let mut a = IceServerArgs {
            urls: vec![
                "stun:127.0.0.1".into(),
                "turn:127.0.0.1?transport=tcp".into(),
            ],
            ..IceServerArgs::default()
        };
        assert!(a.ice_servers().is_err());
        a.ice_username = Some("u".into());
        a.ice_credential = Some("p".into());
        let (s, _) = a.ice_servers().unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].urls.len(), 2);
        assert_eq!(s[0].username.as_deref(), Some("u"));
        let mut ice = meshrtc_ice::IceConfig::controlled(1);
        assert!(meshrtc_mesh::ice_servers::apply(&s, &mut ice).is_empty());
        assert_eq!(ice.turn_servers.len(), 1);
        assert_eq!(
            ice.turn_servers[0].transport,
            meshrtc_ice::TurnTransport::Tcp
        );
        assert_eq!(
            ice.stun_servers,
            vec!["127.0.0.1:3478".parse::<std::net::SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn turns_trust_comes_from_the_ca_file() {
        let a = IceServerArgs {
            urls: vec!["turns:127.0.0.1".into()],
            turn_ca: Some("/nonexistent/ca.pem".into()),
            ..IceServerArgs::default()
        };
        assert!(a.turn_tls().is_err());
        let none = IceServerArgs {
            urls: vec!["turn:127.0.0.1".into()],
            ..IceServerArgs::default()
        };
        assert!(none.turn_tls().unwrap().is_none());
    }
}

//! The SRTP keys of a connection as a pcapng packet comment (issue 21):
//! one line `meshrtc-srtp local=A remote=B dtls=client|server
//! profile=NAME material=HEX`, the DTLS-SRTP keying material as exported
//! (RFC 5764 §4.2: client key, server key, client salt, server salt).
//! Wireshark shows it as the packet's comment; `meshrtc decode` reads it.

use std::net::SocketAddr;

use meshrtc_peer::SrtpKeyLog;
use meshrtc_srtp::{split_keying_material, MasterKey, Profile};

/// What every such comment starts with.
pub const PREFIX: &str = "meshrtc-srtp ";

/// The comment for `k`.
pub fn format(k: &SrtpKeyLog) -> String {
    format!(
        "{PREFIX}local={} remote={} dtls={} profile={} material={}",
        k.local,
        k.remote,
        if k.dtls_client { "client" } else { "server" },
        k.profile,
        hex(&k.keying_material)
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bytes from lowercase or uppercase hex; `None` if it is not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The keys of one connection, read back: which master key protects the
/// packets going each way between its two addresses.
#[derive(Debug, Clone)]
pub struct ConnectionKeys {
    /// The capturing side's address.
    pub local: SocketAddr,
    /// The other side's.
    pub remote: SocketAddr,
    /// What `local` sends with.
    pub local_sends: MasterKey,
    /// What `remote` sends with.
    pub remote_sends: MasterKey,
}

impl ConnectionKeys {
    /// The key protecting a packet from `src` to `dst`, if this
    /// connection carries it.
    pub fn for_packet(&self, src: SocketAddr, dst: SocketAddr) -> Option<&MasterKey> {
        if (src, dst) == (self.local, self.remote) {
            Some(&self.local_sends)
        } else if (src, dst) == (self.remote, self.local) {
            Some(&self.remote_sends)
        } else {
            None
        }
    }
}

/// Reads a comment; `None` when it is not ours or does not parse.
pub fn parse(comment: &str) -> Option<ConnectionKeys> {
    let rest = comment.trim().strip_prefix(PREFIX)?;
    let mut local = None;
    let mut remote = None;
    let mut client = None;
    let mut profile = None;
    let mut material = None;
    for field in rest.split_ascii_whitespace() {
        let (k, v) = field.split_once('=')?;
        match k {
            "local" => local = v.parse::<SocketAddr>().ok(),
            "remote" => remote = v.parse::<SocketAddr>().ok(),
            "dtls" => client = Some(v == "client"),
            "profile" => profile = Profile::from_name(v),
            "material" => material = unhex(v),
            _ => {}
        }
    }
    let profile = profile?;
    let material = material?;
    if material.len() != profile.keying_material_len() {
        return None;
    }
    let (c, s) = split_keying_material(profile, &material).ok()?;
    let (local_sends, remote_sends) = if client? { (c, s) } else { (s, c) };
    Some(ConnectionKeys {
        local: local?,
        remote: remote?,
        local_sends,
        remote_sends,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_reads_back_with_each_direction_on_its_half() {
        let profile = Profile::AeadAes128Gcm;
        let material: Vec<u8> = (0..profile.keying_material_len() as u8).collect();
        let k = SrtpKeyLog {
            local: "127.0.0.1:4000".parse().unwrap(),
            remote: "127.0.0.1:5000".parse().unwrap(),
            dtls_client: true,
            profile,
            keying_material: material.clone(),
        };
        let text = format(&k);
        assert!(text.starts_with("meshrtc-srtp local=127.0.0.1:4000 remote=127.0.0.1:5000 dtls=client profile=SRTP_AEAD_AES_128_GCM material=000102"), "{text}");
        let back = parse(&text).unwrap();
        let (client, server) = split_keying_material(profile, &material).unwrap();
        assert!(back.for_packet(k.local, k.remote) == Some(&client));
        assert!(back.for_packet(k.remote, k.local) == Some(&server));
        assert!(back.for_packet(k.local, k.local).is_none());
        // The server side's comment swaps them.
        let server_side = parse(&text.replace("dtls=client", "dtls=server")).unwrap();
        assert!(server_side.for_packet(k.local, k.remote) == Some(&server));
    }

    #[test]
    fn other_comments_and_broken_ones_are_not_keys() {
        assert!(parse("a comment").is_none());
        assert!(parse("meshrtc-srtp local=x").is_none());
        assert!(parse("meshrtc-srtp local=1.2.3.4:5 remote=1.2.3.4:6 dtls=client profile=SRTP_AEAD_AES_128_GCM material=00").is_none());
    }
}

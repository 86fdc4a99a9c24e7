//! The ICE servers a room's `welcome` names, for a node's connections.
//!
//! The signaling server hands every member the same list browsers get
//! (`RTCIceServer` objects, W3C webrtc-pc §4.2.4). A sans-IO node cannot
//! resolve host names: it takes the URLs whose host is an IP literal, and
//! those whose host name its owner resolved ([`host_names`] lists them,
//! [`apply_resolved`] takes the addresses; the name is kept in
//! [`TurnServer::host`] for TLS to check the certificate against):
//! `stun:` (RFC 7064 §3.1) becomes a STUN server of the ICE agent, `turn:`
//! (RFC 7065 §3.1) with the entry's `username` and `credential` a TURN
//! server (RFC 8656) reached over UDP (`?transport=udp` or none) or TCP
//! (`?transport=tcp`), and `turns:` one reached over TLS (port 5349 by
//! default). What it cannot use (a host name, DTLS to the server
//! (`turns:...?transport=udp`), TURN without credentials, a URL that does
//! not parse) is returned with the reason, so the caller can count and
//! report it.

use std::net::{IpAddr, SocketAddr};

use meshrtc_ice::{IceConfig, TurnServer, TurnTransport};

use crate::signaling::protocol::IceServer;

/// The default port of STUN and TURN over UDP and TCP (RFC 8489 §9,
/// RFC 8656 §3).
const DEFAULT_PORT: u16 = 3478;
/// The default port of TURN over TLS (`turns:`, RFC 7065 §3.1).
const DEFAULT_TLS_PORT: u16 = 5349;

/// Why a URL was left out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IceServerSkipped {
    /// Not `stun:`, `turn:` or `turns:`.
    #[error("{0}: unsupported scheme")]
    Scheme(String),
    /// The host is a name the owner did not resolve (the node resolves
    /// nothing).
    #[error("{0}: host name not resolved")]
    HostName(String),
    /// A transport to the server not spoken (DTLS: `turns:` over UDP).
    #[error("{0}: unsupported transport")]
    Transport(String),
    /// A TURN URL without username or credential.
    #[error("{0}: TURN without credentials")]
    NoCredentials(String),
    /// Host or port do not parse.
    #[error("{0}: malformed")]
    Malformed(String),
}

/// Host names the owner resolved: name (lower case) to address.
pub type HostAddresses = std::collections::BTreeMap<String, IpAddr>;

/// The host names (lower case, each once) in the URLs of `servers`: what
/// the owner should resolve before [`apply_resolved`].
pub fn host_names(servers: &[IceServer]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for url in servers.iter().flat_map(|s| &s.urls) {
        if let Some((_, host, _)) = split(url) {
            let host = host.to_ascii_lowercase();
            if host.parse::<IpAddr>().is_err() && !host.is_empty() && !names.contains(&host) {
                names.push(host);
            }
        }
    }
    names
}

/// Puts the usable servers of `servers` into `ice` (after those already
/// there, without duplicates) and returns what was left out. A TURN server
/// already there takes the credentials given now (renewed TURN REST
/// credentials replace expiring ones). Host names are left out; see
/// [`apply_resolved`].
pub fn apply(servers: &[IceServer], ice: &mut IceConfig) -> Vec<IceServerSkipped> {
    apply_resolved(servers, &HostAddresses::new(), ice)
}

/// [`apply`], with the host names in `hosts` taken at their address (a
/// name not there is left out).
pub fn apply_resolved(
    servers: &[IceServer],
    hosts: &HostAddresses,
    ice: &mut IceConfig,
) -> Vec<IceServerSkipped> {
    let mut skipped = Vec::new();
    for server in servers {
        for url in &server.urls {
            match parse(url, hosts) {
                Ok((Scheme::Stun, addr, _)) => {
                    if !ice.stun_servers.contains(&addr) {
                        ice.stun_servers.push(addr);
                    }
                }
                Ok((Scheme::Turn(transport), addr, host)) => {
                    match (&server.username, &server.credential) {
                        (Some(u), Some(c)) => {
                            let known = ice
                                .turn_servers
                                .iter_mut()
                                .find(|t| t.addr == addr && t.transport == transport);
                            match known {
                                Some(known) => {
                                    known.username.clone_from(u);
                                    known.password.clone_from(c);
                                    known.host = host;
                                }
                                None => ice.turn_servers.push(TurnServer {
                                    transport,
                                    host,
                                    ..TurnServer::udp(addr, u, c)
                                }),
                            }
                        }
                        _ => skipped.push(IceServerSkipped::NoCredentials(url.clone())),
                    }
                }
                Err(e) => skipped.push(e),
            }
        }
    }
    skipped
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Stun,
    Turn(TurnTransport),
}

/// `scheme:host[:port][?query]` split into scheme, host (an IPv6 literal
/// without its brackets) and the rest after the host.
fn split(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once(':')?;
    let hostport = rest.split_once('?').map_or(rest, |(h, _)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        return Some((scheme, h, after));
    }
    Some(match hostport.rsplit_once(':') {
        Some((h, p)) => (scheme, h, p),
        None => (scheme, hostport, ""),
    })
}

/// `scheme:host[:port][?transport=...]`, host an IPv4 literal, an IPv6
/// literal in brackets (RFC 7064 §3.1 and RFC 7065 §3.1 grammar), or a
/// name in `hosts` (returned too, for TLS).
fn parse(
    url: &str,
    hosts: &HostAddresses,
) -> Result<(Scheme, SocketAddr, Option<String>), IceServerSkipped> {
    let bad = || IceServerSkipped::Malformed(url.to_owned());
    let (scheme, rest) = url.split_once(':').ok_or_else(bad)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "stun" => Scheme::Stun,
        "turn" => Scheme::Turn(TurnTransport::Udp),
        "turns" => Scheme::Turn(TurnTransport::Tls),
        _ => return Err(IceServerSkipped::Scheme(url.to_owned())),
    };
    let (hostport, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q.to_ascii_lowercase())),
        None => (rest, None),
    };
    let scheme = match (scheme, query.as_deref()) {
        (s, None) => s,
        (Scheme::Turn(TurnTransport::Udp), Some("transport=udp")) => scheme,
        (Scheme::Turn(TurnTransport::Udp), Some("transport=tcp")) => {
            Scheme::Turn(TurnTransport::Tcp)
        }
        (Scheme::Turn(TurnTransport::Tls), Some("transport=tcp")) => scheme,
        (Scheme::Turn(_), Some(q)) if q.starts_with("transport=") => {
            return Err(IceServerSkipped::Transport(url.to_owned()))
        }
        _ => return Err(bad()),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (h, port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(bad)?,
        None if scheme == Scheme::Turn(TurnTransport::Tls) => DEFAULT_TLS_PORT,
        None => DEFAULT_PORT,
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((scheme, SocketAddr::new(ip, port), None));
    }
    let name = host.to_ascii_lowercase();
    match hosts.get(&name) {
        Some(&ip) => Ok((scheme, SocketAddr::new(ip, port), Some(name))),
        None => Err(IceServerSkipped::HostName(url.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stun_and_turn_over_udp_tcp_and_tls_with_ip_literals_are_taken_the_rest_is_reported() {
        let servers = vec![
            IceServer::url("stun:192.0.2.1"),
            IceServer {
                urls: vec![
                    "turn:192.0.2.2:3479?transport=udp".into(),
                    "turn:[2001:db8::1]".into(),
                    "turn:192.0.2.2:443?transport=tcp".into(),
                    "turns:192.0.2.2".into(),
                    "turns:192.0.2.2:443?transport=tcp".into(),
                    "turns:192.0.2.2:5349?transport=udp".into(),
                ],
                username: Some("1700000000:ada".into()),
                credential: Some("c2VjcmV0".into()),
            },
            IceServer::url("turn:192.0.2.9"),
            IceServer::url("stun:stun.example.org:19302"),
            IceServer::url("stun:192.0.2.1:0"),
            IceServer::url("stun:[2001:db8::2]:3478"),
            IceServer::url("stun:192.0.2.1"),
        ];
        let mut ice = IceConfig::controlled(0);
        let skipped = apply(&servers, &mut ice);
        assert_eq!(
            ice.stun_servers,
            vec![
                "192.0.2.1:3478".parse::<SocketAddr>().unwrap(),
                "[2001:db8::2]:3478".parse().unwrap(),
            ]
        );
        assert!(ice
            .turn_servers
            .iter()
            .all(|t| (t.username.as_str(), t.password.as_str()) == ("1700000000:ada", "c2VjcmV0")));
        let turn: Vec<(SocketAddr, TurnTransport)> = ice
            .turn_servers
            .iter()
            .map(|t| (t.addr, t.transport))
            .collect();
        let at = |a: &str| a.parse::<SocketAddr>().unwrap();
        assert_eq!(
            turn,
            vec![
                (at("192.0.2.2:3479"), TurnTransport::Udp),
                (at("[2001:db8::1]:3478"), TurnTransport::Udp),
                (at("192.0.2.2:443"), TurnTransport::Tcp),
                (at("192.0.2.2:5349"), TurnTransport::Tls),
                (at("192.0.2.2:443"), TurnTransport::Tls),
            ]
        );
        assert_eq!(
            skipped,
            vec![
                IceServerSkipped::Transport("turns:192.0.2.2:5349?transport=udp".into()),
                IceServerSkipped::NoCredentials("turn:192.0.2.9".into()),
                IceServerSkipped::HostName("stun:stun.example.org:19302".into()),
                IceServerSkipped::Malformed("stun:192.0.2.1:0".into()),
            ]
        );
    }

    #[test]
    fn renewed_turn_credentials_replace_those_of_the_same_server() {
        let entry = |user: &str| IceServer {
            urls: vec!["turn:192.0.2.2:3478".into()],
            username: Some(user.into()),
            credential: Some(format!("pw-{user}")),
        };
        let mut ice = IceConfig::controlled(0);
        assert!(apply(&[entry("1700000060:p1")], &mut ice).is_empty());
        assert!(apply(&[entry("1700000090:p1")], &mut ice).is_empty());
        assert_eq!(ice.turn_servers.len(), 1);
        assert_eq!(ice.turn_servers[0].username, "1700000090:p1");
        assert_eq!(ice.turn_servers[0].password, "pw-1700000090:p1");
    }

    #[test]
    fn host_names_the_owner_resolved_are_taken_with_the_name_kept_for_tls() {
        let servers = vec![IceServer {
            urls: vec![
                "turns:TURN.example.org".into(),
                "turn:turn.example.org:3479?transport=tcp".into(),
                "stun:stun.example.org".into(),
                "turn:192.0.2.7".into(),
                "turn:[2001:db8::7]".into(),
                "turn:unresolved.example.org".into(),
            ],
            username: Some("u".into()),
            credential: Some("p".into()),
        }];
        assert_eq!(
            host_names(&servers),
            vec![
                "turn.example.org".to_string(),
                "stun.example.org".into(),
                "unresolved.example.org".into()
            ]
        );
        let mut hosts = HostAddresses::new();
        hosts.insert("turn.example.org".into(), "192.0.2.1".parse().unwrap());
        hosts.insert("stun.example.org".into(), "192.0.2.3".parse().unwrap());
        let mut ice = IceConfig::controlled(0);
        let skipped = apply_resolved(&servers, &hosts, &mut ice);
        assert_eq!(
            skipped,
            vec![IceServerSkipped::HostName(
                "turn:unresolved.example.org".into()
            )]
        );
        assert_eq!(ice.stun_servers, vec!["192.0.2.3:3478".parse().unwrap()]);
        let turn: Vec<(SocketAddr, TurnTransport, Option<&str>)> = ice
            .turn_servers
            .iter()
            .map(|t| (t.addr, t.transport, t.host.as_deref()))
            .collect();
        assert_eq!(
            turn,
            vec![
                (
                    "192.0.2.1:5349".parse().unwrap(),
                    TurnTransport::Tls,
                    Some("turn.example.org")
                ),
                (
                    "192.0.2.1:3479".parse().unwrap(),
                    TurnTransport::Tcp,
                    Some("turn.example.org")
                ),
                ("192.0.2.7:3478".parse().unwrap(), TurnTransport::Udp, None),
                (
                    "[2001:db8::7]:3478".parse().unwrap(),
                    TurnTransport::Udp,
                    None
                ),
            ]
        );
        // Without the addresses, names are left out as before.
        let mut ice = IceConfig::controlled(0);
        assert_eq!(apply(&servers, &mut ice).len(), 4);
    }

    #[test]
    fn malformed_urls_never_panic() {
        for url in [
            "",
            ":",
            "stun",
            "stun:",
            "stun:[",
            "stun:[::1",
            "stun:[::1]x",
            "turn:1.2.3.4?",
            "stun:1.2.3.4:99999",
            "stun:1.2.3.4?transport=udp",
        ] {
            let mut ice = IceConfig::controlled(0);
            let skipped = apply(&[IceServer::url(url)], &mut ice);
            assert_eq!(skipped.len(), 1, "{url}");
            assert!(ice.stun_servers.is_empty() && ice.turn_servers.is_empty());
        }
    }
}

//! Converting between the SDP candidate attribute (`meshrtc-sdp`, which owns
//! the RFC 8839 §5.1 syntax) and the ICE agent's candidate (`meshrtc-ice`).
//!
//! The agent runs over UDP on IP addresses. A candidate it cannot use is
//! not an error of the session: TCP candidates (RFC 6544), names (the
//! sans-IO connection does not resolve them; the drivers resolve mDNS
//! `.local` names by multicast, see [`mdns_name`] and [`with_address`], and
//! hand the candidate in again with the address), other components, and
//! unknown types are each reported as a [`Skipped`] reason so the caller
//! can count them.

use meshrtc_ice::{Candidate, CandidateKind};
use meshrtc_sdp::{CandidateAddress, CandidateAttr, CandidateType};
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// Why a remote candidate was not handed to the ICE agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Skipped {
    /// Not UDP (e.g. `tcp` with a `tcptype`).
    #[error("transport {0:?} is not UDP")]
    NotUdp(String),
    /// An FQDN such as an mDNS `.local` name.
    #[error("address {0:?} is a name, not an IP address (resolved by the driver, if mDNS)")]
    Fqdn(String),
    /// Component other than 1 (RTP); with rtcp-mux only 1 is used.
    #[error("component {0} (only 1 is used with rtcp-mux)")]
    Component(u16),
    /// A `typ` the agent does not know.
    #[error("unknown candidate type {0:?}")]
    UnknownType(String),
}

/// Converts a remote candidate for the ICE agent (RFC 8839 §5.1 fields to
/// RFC 8445 §5.1 ones). `raddr`/`rport` become the related address when
/// both are present and an IP.
pub fn from_sdp(c: &CandidateAttr<'_>) -> Result<Candidate, Skipped> {
    if !c.is_udp() {
        return Err(Skipped::NotUdp(c.transport.to_string()));
    }
    if c.component != 1 {
        return Err(Skipped::Component(c.component));
    }
    let ip = match &c.address {
        CandidateAddress::Ip(ip) => *ip,
        CandidateAddress::Fqdn(name) => return Err(Skipped::Fqdn(name.to_string())),
    };
    let kind = match &c.typ {
        CandidateType::Host => CandidateKind::Host,
        CandidateType::Srflx => CandidateKind::ServerReflexive,
        CandidateType::Prflx => CandidateKind::PeerReflexive,
        CandidateType::Relay => CandidateKind::Relayed,
        CandidateType::Other(t) => return Err(Skipped::UnknownType(t.to_string())),
    };
    let related = match (&c.raddr, c.rport) {
        (Some(CandidateAddress::Ip(a)), Some(p)) => Some(SocketAddr::new(*a, p)),
        _ => None,
    };
    Ok(Candidate {
        foundation: c.foundation.to_string(),
        component: c.component,
        priority: c.priority,
        addr: SocketAddr::new(ip, c.port),
        kind,
        related,
    })
}

/// The mDNS name of a candidate (`candidate:...`, with or without `a=`)
/// whose address is a `.local` name (draft-ietf-mmusic-mdns-ice-candidates
/// §3.2): a UDP candidate of component 1, the only ones the agent takes.
pub fn mdns_name(line: &str) -> Option<String> {
    let v = normalized(line);
    let c = CandidateAttr::parse(&v).ok()?;
    match &c.address {
        CandidateAddress::Fqdn(name) if c.is_udp() && c.component == 1 && is_local_name(name) => {
            Some(name.to_string())
        }
        _ => None,
    }
}

/// The candidate with its name replaced by `ip`, the address the name
/// resolved to (§3.2.2: then processed as if signalled with the address).
pub fn with_address(line: &str, ip: IpAddr) -> Option<String> {
    let v = normalized(line);
    let mut c = CandidateAttr::parse(&v).ok()?;
    c.address = CandidateAddress::Ip(ip);
    Some(c.to_string())
}

/// Every `a=candidate` line of a description whose address is a `.local`
/// name, as (name, line).
pub fn mdns_candidates(sdp: &str) -> Vec<(String, String)> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a="))
        .filter(|l| l.starts_with("candidate:"))
        .filter_map(|l| Some((mdns_name(l)?, l.to_string())))
        .collect()
}

fn is_local_name(name: &str) -> bool {
    let n = name.strip_suffix('.').unwrap_or(name);
    n.len() > 6
        && n.is_char_boundary(n.len() - 6)
        && n[n.len() - 6..].eq_ignore_ascii_case(".local")
}

fn normalized(line: &str) -> String {
    let v = line.trim().trim_start_matches("a=");
    if v.starts_with("candidate:") {
        v.to_string()
    } else {
        format!("candidate:{v}")
    }
}

/// [`to_sdp`], with host addresses in `names` written as their mDNS name
/// (draft-ietf-mmusic-mdns-ice-candidates §3.1.1) and, when any name is
/// given, the related address of other candidates as unspecified, port 0
/// (§3.1.2.2), so the address does not leak through them.
pub fn to_sdp_hiding(c: &Candidate, names: &[(IpAddr, String)]) -> CandidateAttr<'static> {
    let mut attr = to_sdp(c);
    if names.is_empty() {
        return attr;
    }
    if c.kind == CandidateKind::Host {
        if let Some((_, name)) = names.iter().find(|(ip, _)| *ip == c.addr.ip()) {
            attr.address = CandidateAddress::Fqdn(Cow::Owned(name.clone()));
        }
    } else if let Some(r) = c.related {
        let any = match r {
            SocketAddr::V4(_) => IpAddr::from([0u8; 4]),
            SocketAddr::V6(_) => IpAddr::from([0u16; 8]),
        };
        attr.raddr = Some(CandidateAddress::Ip(any));
        attr.rport = Some(0);
    }
    attr
}

/// Writes one of our candidates as an SDP attribute value, with
/// `generation 0` as browsers expect.
pub fn to_sdp(c: &Candidate) -> CandidateAttr<'static> {
    CandidateAttr {
        foundation: Cow::Owned(c.foundation.clone()),
        component: c.component,
        transport: Cow::Borrowed("udp"),
        priority: c.priority,
        address: CandidateAddress::Ip(c.addr.ip()),
        port: c.addr.port(),
        typ: match c.kind {
            CandidateKind::Host => CandidateType::Host,
            CandidateKind::ServerReflexive => CandidateType::Srflx,
            CandidateKind::PeerReflexive => CandidateType::Prflx,
            CandidateKind::Relayed => CandidateType::Relay,
        },
        raddr: c.related.map(|r| CandidateAddress::Ip(r.ip())),
        rport: c.related.map(|r| r.port()),
        extensions: Cow::Borrowed("generation 0"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_candidates_convert_and_ours_write_back() {
        let c = CandidateAttr::parse(
            "candidate:842163049 1 udp 1677729535 203.0.113.7 61000 typ srflx raddr 192.168.1.2 rport 5000 generation 0 network-cost 50",
        )
        .unwrap();
        let ice = from_sdp(&c).unwrap();
        assert_eq!(ice.kind, CandidateKind::ServerReflexive);
        assert_eq!(ice.addr, "203.0.113.7:61000".parse().unwrap());
        assert_eq!(ice.related, Some("192.168.1.2:5000".parse().unwrap()));
        assert_eq!(
            (ice.priority, ice.foundation.as_str()),
            (1_677_729_535, "842163049")
        );
        let back = to_sdp(&ice);
        assert_eq!(
            back.to_string(),
            "candidate:842163049 1 udp 1677729535 203.0.113.7 61000 typ srflx raddr 192.168.1.2 rport 5000 generation 0"
        );
        assert_eq!(from_sdp(&back).unwrap(), ice);
        let host = Candidate::host("[2001:db8::1]:4000".parse().unwrap(), 65535);
        assert_eq!(from_sdp(&to_sdp(&host)).unwrap(), host);
    }

    #[test]
    fn a_local_name_is_found_and_replaced_by_its_address() {
        let line = "candidate:3 1 udp 2113937151 5d3c1b7e-0000-4000-8000-123456789abc.local 50123 typ host generation 0 network-cost 999";
        assert_eq!(
            mdns_name(line).as_deref(),
            Some("5d3c1b7e-0000-4000-8000-123456789abc.local")
        );
        assert_eq!(mdns_name(&format!("a={line}")), mdns_name(line));
        let resolved = with_address(line, "10.9.0.2".parse().unwrap()).unwrap();
        let c = from_sdp(&CandidateAttr::parse(&resolved).unwrap()).unwrap();
        assert_eq!(c.addr, "10.9.0.2:50123".parse().unwrap());
        assert_eq!((c.kind, c.priority), (CandidateKind::Host, 2_113_937_151));
        // An IP address, a name that is not .local, TCP: none.
        assert_eq!(mdns_name("candidate:1 1 udp 1 10.0.0.1 5 typ host"), None);
        assert_eq!(
            mdns_name("candidate:1 1 udp 1 host.example 5 typ host"),
            None
        );
        assert_eq!(
            mdns_name("candidate:1 1 tcp 1 x.local 9 typ host tcptype active"),
            None
        );
        let sdp = format!("v=0\r\na=candidate:1 1 udp 1 10.0.0.1 5 typ host\r\na={line}\r\n");
        let found = mdns_candidates(&sdp);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, line);
    }

    #[test]
    fn hidden_host_addresses_are_written_as_their_names() {
        let names = vec![(
            "10.9.0.2".parse().unwrap(),
            "07070707-0707-4707-8707-070707070707.local".to_string(),
        )];
        let host = Candidate::host("10.9.0.2:4000".parse().unwrap(), 65535);
        let written = to_sdp_hiding(&host, &names).to_string();
        assert!(
            written.contains(" 07070707-0707-4707-8707-070707070707.local 4000 typ host"),
            "{written}"
        );
        assert_eq!(
            mdns_name(&written).as_deref(),
            Some("07070707-0707-4707-8707-070707070707.local")
        );
        // Another address stays; a server-reflexive one loses its base.
        let other = Candidate::host("10.9.0.3:4000".parse().unwrap(), 65534);
        assert_eq!(to_sdp_hiding(&other, &names), to_sdp(&other));
        let mut srflx = Candidate::host("203.0.113.9:5000".parse().unwrap(), 1);
        srflx.kind = CandidateKind::ServerReflexive;
        srflx.related = Some("10.9.0.2:4000".parse().unwrap());
        let w = to_sdp_hiding(&srflx, &names).to_string();
        assert!(
            w.ends_with("typ srflx raddr 0.0.0.0 rport 0 generation 0"),
            "{w}"
        );
        assert_eq!(to_sdp_hiding(&srflx, &[]), to_sdp(&srflx));
    }

    #[test]
    fn candidates_the_agent_cannot_use_say_why() {
        for (text, why) in [
            (
                "candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
                Skipped::NotUdp("tcp".into()),
            ),
            (
                "candidate:1 1 udp 1 3c1a9d3e-4b2f-4e5a-9c1d-0a1b2c3d4e5f.local 5 typ host",
                Skipped::Fqdn("3c1a9d3e-4b2f-4e5a-9c1d-0a1b2c3d4e5f.local".into()),
            ),
            (
                "candidate:1 2 udp 1 1.2.3.4 5 typ host",
                Skipped::Component(2),
            ),
            (
                "candidate:1 1 udp 1 1.2.3.4 5 typ weird",
                Skipped::UnknownType("weird".into()),
            ),
        ] {
            assert_eq!(
                from_sdp(&CandidateAttr::parse(text).unwrap()),
                Err(why),
                "{text}"
            );
        }
    }
}

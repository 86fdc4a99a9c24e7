//! Converting between the SDP candidate attribute (`meshrtc-sdp`, which owns
//! the RFC 8839 §5.1 syntax) and the ICE agent's candidate (`meshrtc-ice`).
//!
//! The agent runs over UDP on IP addresses. A candidate it cannot use is
//! not an error of the session: TCP candidates (RFC 6544), mDNS `.local`
//! names (browsers hide host addresses behind them; resolving them needs
//! multicast DNS, which meshrtc does not do), other components, and unknown
//! types are each reported as a [`Skipped`] reason so the caller can count
//! them.

use meshrtc_ice::{Candidate, CandidateKind};
use meshrtc_sdp::{CandidateAddress, CandidateAttr, CandidateType};
use std::borrow::Cow;
use std::net::SocketAddr;

/// Why a remote candidate was not handed to the ICE agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Skipped {
    /// Not UDP (e.g. `tcp` with a `tcptype`).
    #[error("transport {0:?} is not UDP")]
    NotUdp(String),
    /// An FQDN such as an mDNS `.local` name.
    #[error("address {0:?} is a name, not an IP address (mDNS is not resolved)")]
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

//! ICE candidates as the agent sees them (RFC 8445 §5.1).
//!
//! The SDP syntax of `a=candidate` belongs to `meshrtc-sdp`; `meshrtc-peer`
//! converts between the two.

use std::fmt;
use std::net::SocketAddr;

/// The type of a candidate (RFC 8445 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CandidateKind {
    /// An address of a local interface.
    Host,
    /// The address a STUN server saw (the outside of a NAT).
    ServerReflexive,
    /// An address learnt from a connectivity check.
    PeerReflexive,
    /// An address on a TURN relay (not gathered by meshrtc yet).
    Relayed,
}

impl CandidateKind {
    /// The recommended type preference (RFC 8445 §5.1.2.2).
    pub fn type_preference(self) -> u32 {
        match self {
            CandidateKind::Host => 126,
            CandidateKind::PeerReflexive => 110,
            CandidateKind::ServerReflexive => 100,
            CandidateKind::Relayed => 0,
        }
    }

    /// The SDP name (`host`, `srflx`, `prflx`, `relay`).
    pub fn sdp_name(self) -> &'static str {
        match self {
            CandidateKind::Host => "host",
            CandidateKind::ServerReflexive => "srflx",
            CandidateKind::PeerReflexive => "prflx",
            CandidateKind::Relayed => "relay",
        }
    }
}

/// Candidate priority (RFC 8445 §5.1.2.1):
/// `2^24 × type preference + 2^8 × local preference + (256 − component)`.
pub fn priority(kind: CandidateKind, local_preference: u16, component: u16) -> u32 {
    (kind.type_preference() << 24)
        + ((local_preference as u32) << 8)
        + (256 - component.clamp(1, 256) as u32)
}

/// Candidate pair priority (RFC 8445 §6.1.2.3), from the controlling
/// agent's candidate priority `g` and the controlled agent's `d`.
pub fn pair_priority(g: u32, d: u32) -> u64 {
    let (g, d) = (g as u64, d as u64);
    (1 << 32) * g.min(d) + 2 * g.max(d) + u64::from(g > d)
}

/// A candidate: a transport address a peer may be reached at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// Groups candidates of the same type, base IP and server (§5.1.1.3).
    pub foundation: String,
    /// Component id; always 1 with rtcp-mux and BUNDLE.
    pub component: u16,
    /// Priority (§5.1.2).
    pub priority: u32,
    /// The transport address.
    pub addr: SocketAddr,
    /// Its type.
    pub kind: CandidateKind,
    /// For reflexive candidates, the base they were learnt from (raddr/rport).
    pub related: Option<SocketAddr>,
}

impl Candidate {
    /// A host candidate.
    pub fn host(addr: SocketAddr, local_preference: u16) -> Candidate {
        Candidate {
            foundation: foundation(CandidateKind::Host, addr, None),
            component: 1,
            priority: priority(CandidateKind::Host, local_preference, 1),
            addr,
            kind: CandidateKind::Host,
            related: None,
        }
    }

    /// A candidate of any type with priority computed from the local
    /// preference (for tests and for remote candidates known by address).
    pub fn new(kind: CandidateKind, addr: SocketAddr, local_preference: u16) -> Candidate {
        Candidate {
            foundation: foundation(kind, addr, None),
            component: 1,
            priority: priority(kind, local_preference, 1),
            addr,
            kind,
            related: None,
        }
    }
}

impl Candidate {
    /// A candidate the agent gathered from a server (server-reflexive or
    /// relayed): its foundation groups by type, host base IP and server
    /// (RFC 8445 §5.1.1.3), its priority follows §5.1.2.1.
    pub(crate) fn gathered(
        kind: CandidateKind,
        addr: SocketAddr,
        host_base: SocketAddr,
        server: SocketAddr,
        local_preference: u16,
        related: SocketAddr,
    ) -> Candidate {
        Candidate {
            foundation: foundation(kind, host_base, Some(server)),
            component: 1,
            priority: priority(kind, local_preference, 1),
            addr,
            kind,
            related: Some(related),
        }
    }
}

impl fmt::Display for Candidate {
    /// The body of an `a=candidate` line (RFC 8839 §5.1), for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "candidate:{} {} udp {} {} {} typ {}",
            self.foundation,
            self.component,
            self.priority,
            self.addr.ip(),
            self.addr.port(),
            self.kind.sdp_name()
        )?;
        if let Some(r) = self.related {
            write!(f, " raddr {} rport {}", r.ip(), r.port())?;
        }
        Ok(())
    }
}

/// A foundation: equal for the same type, base IP address and STUN server
/// (§5.1.1.3). Numeric, as browsers write them.
pub(crate) fn foundation(
    kind: CandidateKind,
    base: SocketAddr,
    server: Option<SocketAddr>,
) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut mix = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    mix(kind.sdp_name().as_bytes());
    mix(base.ip().to_string().as_bytes());
    if let Some(s) = server {
        mix(s.to_string().as_bytes());
    }
    h.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_follow_rfc_8445_formulas() {
        // Chromium's host candidates carry 2122260223: type 126, local
        // preference 32542, component 1.
        assert_eq!(priority(CandidateKind::Host, 32542, 1), 2_122_260_223);
        assert_eq!(
            priority(CandidateKind::Host, 65535, 1),
            (126 << 24) | (65535 << 8) | 255
        );
        assert_eq!(
            priority(CandidateKind::PeerReflexive, 32542, 1),
            1_853_824_767
        );
        // §6.1.2.3 with G > D.
        assert_eq!(pair_priority(10, 5), (1 << 32) * 5 + 20 + 1);
        assert_eq!(pair_priority(5, 10), (1 << 32) * 5 + 20);
    }

    #[test]
    fn foundations_group_by_type_and_base_ip() {
        let a = Candidate::host("10.0.0.1:1000".parse().unwrap(), 65535);
        let b = Candidate::host("10.0.0.1:2000".parse().unwrap(), 65535);
        let c = Candidate::host("10.0.0.2:1000".parse().unwrap(), 65535);
        assert_eq!(a.foundation, b.foundation);
        assert_ne!(a.foundation, c.foundation);
        assert_eq!(
            a.to_string(),
            format!(
                "candidate:{} 1 udp 2130706431 10.0.0.1 1000 typ host",
                a.foundation
            )
        );
    }
}

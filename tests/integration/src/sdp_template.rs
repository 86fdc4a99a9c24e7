//! SDP for the ICE interop tests: a data-channel-only description carrying
//! our ICE parameters (Chromium needs an m-line to gather; these tests stop
//! at ICE), and the ICE parameters of a browser's description read with
//! `meshrtc-sdp` and converted with `meshrtc-peer`.

use meshrtc_ice::{Candidate, CandidateKind};
use meshrtc_sdp::{Attribute, CandidateAttr, SessionDescription};
use std::net::SocketAddr;

/// The ICE parameters of a description's first media section.
#[derive(Debug, Clone, Default)]
pub struct IceParams {
    /// a=ice-ufrag.
    pub ufrag: String,
    /// a=ice-pwd.
    pub pwd: String,
    /// a=mid.
    pub mid: String,
    /// UDP candidates with an IP address.
    pub candidates: Vec<Candidate>,
    /// Candidates left out, with the reason: TCP, or an mDNS `.local` name.
    pub skipped: Vec<String>,
}

/// Parses one `candidate:...` attribute and converts it to the ICE agent's
/// type (`None` for what the agent cannot use: TCP, mDNS names).
pub fn parse_candidate(value: &str) -> Option<Candidate> {
    meshrtc_peer::candidate::from_sdp(&CandidateAttr::parse(value).ok()?).ok()
}

/// Reads ufrag, pwd, mid and candidates of the first media section.
/// Panics on a description `meshrtc-sdp` cannot parse (a test failure).
pub fn ice_params(sdp: &str) -> IceParams {
    let d = SessionDescription::parse(sdp).unwrap_or_else(|e| panic!("{e}\n{sdp}"));
    let mut p = IceParams::default();
    let Some(m) = d.media.first() else {
        return p;
    };
    if let Some((u, pwd)) = m.ice_credentials() {
        (p.ufrag, p.pwd) = (u.to_string(), pwd.to_string());
    }
    p.mid = m.mid().unwrap_or_default().to_string();
    for a in &m.attributes {
        if let Attribute::Candidate(c) = a {
            match meshrtc_peer::candidate::from_sdp(c) {
                Ok(ice) => p.candidates.push(ice),
                Err(why) => p.skipped.push(format!("{c} ({why})")),
            }
        }
    }
    p
}

/// A description with one data-channel m-line carrying our ICE ufrag, pwd
/// and one host candidate. `setup` is `actpass` in an offer, `active` or
/// `passive` in an answer. The fingerprint is a placeholder: these tests
/// stop at ICE, before DTLS.
pub fn datachannel_sdp(
    ufrag: &str,
    pwd: &str,
    candidate: SocketAddr,
    setup: &str,
    mid: &str,
) -> String {
    let fingerprint = (0..32)
        .map(|i| format!("{:02X}", i * 7 % 256))
        .collect::<Vec<_>>()
        .join(":");
    let ipv = if candidate.is_ipv4() { "IP4" } else { "IP6" };
    [
        "v=0".to_string(),
        format!("o=- 4611731400430051336 2 IN {ipv} {}", candidate.ip()),
        "s=-".into(),
        "t=0 0".into(),
        format!("a=group:BUNDLE {mid}"),
        "a=msid-semantic: WMS".into(),
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel".into(),
        format!("c=IN {ipv} 0.0.0.0"),
        format!(
            "a=candidate:1 1 udp {} {} {} typ host",
            meshrtc_ice::candidate::priority(CandidateKind::Host, 65535, 1),
            candidate.ip(),
            candidate.port()
        ),
        "a=end-of-candidates".into(),
        format!("a=ice-ufrag:{ufrag}"),
        format!("a=ice-pwd:{pwd}"),
        "a=ice-options:trickle".into(),
        format!("a=fingerprint:sha-256 {fingerprint}"),
        format!("a=setup:{setup}"),
        format!("a=mid:{mid}"),
        "a=sctp-port:5000".into(),
        "a=max-message-size:262144".into(),
        String::new(),
    ]
    .join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chromium_trickled_candidates() {
        let c = parse_candidate(
            "candidate:2767456160 1 udp 2122260223 127.0.0.1 37663 typ host generation 0 ufrag gAt7 network-id 1 network-cost 50",
        )
        .unwrap();
        assert_eq!(c.addr, "127.0.0.1:37663".parse().unwrap());
        assert_eq!((c.priority, c.kind), (2122260223, CandidateKind::Host));
        assert!(parse_candidate(
            "candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active"
        )
        .is_none());
        assert!(parse_candidate("candidate:1 1 udp 2122260223 abcd.local 5000 typ host").is_none());
    }
}

//! `meshrtc sdp <FILE|->`: a readable summary of a session description, or
//! the exact parse error with its line.

use meshrtc_sdp::{Attribute, CandidateAttr, MediaSection, SessionDescription};
use std::fmt::Write;

/// The summary text.
pub fn summary(d: &SessionDescription) -> String {
    let mut s = String::new();
    let o = &d.origin;
    let _ = writeln!(
        s,
        "session {} version {} from {} {}",
        o.session_id, o.session_version, o.addr_type, o.address
    );
    if let Some(b) = d.bundle() {
        let _ = writeln!(s, "BUNDLE  {}", b.join(" "));
    }
    for a in &d.attributes {
        match a {
            Attribute::Group { .. } => {}
            Attribute::IceLite => s += "ice-lite (the peer only answers checks)\n",
            other => {
                let _ = writeln!(s, "a={other}");
            }
        }
    }
    for (i, m) in d.media.iter().enumerate() {
        media(&mut s, i, m);
    }
    s
}

fn media(s: &mut String, i: usize, m: &MediaSection) {
    let rejected = if m.port == 0 {
        "  REJECTED (port 0)"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "\nm-line {i}: {} mid {}  {} port {}{rejected}",
        m.kind,
        m.mid().unwrap_or("(none)"),
        m.protocol,
        m.port
    );
    let _ = writeln!(s, "  direction   {}", m.direction().as_str());
    if let Some((u, p)) = m.ice_credentials() {
        let _ = writeln!(s, "  ice         ufrag {u}  pwd {p}");
    }
    for a in &m.attributes {
        match a {
            Attribute::Fingerprint { hash, value } => {
                let _ = writeln!(s, "  dtls        fingerprint {hash} {value}");
            }
            Attribute::Setup(_) => {
                let _ = writeln!(s, "  dtls        {a}");
            }
            _ => {}
        }
    }
    // Codecs in m-line order, each with its fmtp and feedback.
    for f in &m.formats {
        let Ok(pt) = f.parse::<u8>() else {
            let _ = writeln!(s, "  format      {f}");
            continue;
        };
        let mut line = format!("  codec {pt:<4} ");
        for a in &m.attributes {
            match a {
                Attribute::Rtpmap {
                    pt: p,
                    encoding,
                    clock,
                    channels,
                } if *p == pt => {
                    let _ = write!(line, "{encoding}/{clock}");
                    if let Some(c) = channels {
                        let _ = write!(line, "/{c}");
                    }
                }
                Attribute::Fmtp { pt: p, params } if *p == pt => {
                    let _ = write!(line, "  [{params}]");
                }
                _ => {}
            }
        }
        let fb: Vec<&str> = m
            .attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::RtcpFb { pt: p, feedback } if *p == Some(pt) || p.is_none() => {
                    Some(feedback.as_ref())
                }
                _ => None,
            })
            .collect();
        if !fb.is_empty() {
            let _ = write!(line, "  feedback: {}", fb.join(", "));
        }
        let _ = writeln!(s, "{line}");
    }
    for a in &m.attributes {
        if let Attribute::Extmap { id, uri, .. } = a {
            let _ = writeln!(s, "  extmap {id:<3}  {uri}");
        }
    }
    let ssrcs: Vec<String> = m
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::SsrcGroup { semantics, ssrcs } => Some(format!(
                "{semantics} {}",
                ssrcs
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            _ => None,
        })
        .collect();
    if !ssrcs.is_empty() {
        let _ = writeln!(s, "  ssrc-group  {}", ssrcs.join("; "));
    }
    let cands: Vec<&CandidateAttr> = m
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Candidate(c) => Some(&**c),
            _ => None,
        })
        .collect();
    let _ = writeln!(s, "  candidates  {}", cands.len());
    for c in cands {
        let _ = writeln!(
            s,
            "    {:<5} {:<6} {}:{}  priority {}",
            c.transport,
            match &c.typ {
                meshrtc_sdp::CandidateType::Host => "host",
                meshrtc_sdp::CandidateType::Srflx => "srflx",
                meshrtc_sdp::CandidateType::Prflx => "prflx",
                meshrtc_sdp::CandidateType::Relay => "relay",
                meshrtc_sdp::CandidateType::Other(o) => o.as_ref(),
            },
            c.address,
            c.port,
            c.priority
        );
    }
    if m.attributes.contains(&Attribute::EndOfCandidates) {
        s.push_str("  end-of-candidates\n");
    }
    for a in &m.attributes {
        match a {
            Attribute::SctpPort(p) => {
                let _ = writeln!(s, "  sctp-port   {p}");
            }
            Attribute::MaxMessageSize(x) => {
                let _ = writeln!(s, "  max-message-size {x}");
            }
            _ => {}
        }
    }
    if m.kind != "application" && !m.rtcp_mux() {
        s.push_str("  (no rtcp-mux: a WebRTC answer refuses this)\n");
    }
}

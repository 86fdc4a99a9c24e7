//! Tests of the model, parser and writer on Chromium's descriptions and on
//! broken input.

use crate::*;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../fixtures/chromium-156/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

const FIXTURES: [&str; 4] = [
    "chromium_offer.sdp",
    "chromium_answer.sdp",
    "chromium_session_offer.sdp",
    "chromium_session_answer.sdp",
];

#[test]
fn every_chromium_description_parses_and_round_trips() {
    for name in FIXTURES {
        let text = fixture(name);
        let d = SessionDescription::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let written = d.to_string();
        assert_eq!(SessionDescription::parse(&written).unwrap(), d, "{name}");
        // Chromium writes exactly what we write: CRLF, same order, same
        // spelling, so the text round-trips too.
        assert_eq!(
            written.replace("\r\n", "\n").trim_end(),
            text.replace("\r\n", "\n").trim_end(),
            "{name}"
        );
        for m in &d.media {
            assert!(m.mid().is_some(), "{name}: every m-line has a mid");
            assert_eq!(
                m.rtcp_mux(),
                m.kind != "application",
                "{name}: rtcp-mux on RTP sections"
            );
            assert!(m.ice_credentials().is_some(), "{name}: ICE credentials");
        }
    }
}

#[test]
fn chromium_offer_reads_as_expected() {
    let text = fixture("chromium_offer.sdp");
    let d = SessionDescription::parse(&text).unwrap();
    assert_eq!(d.media.len(), 3);
    assert_eq!(d.bundle().map(|b| b.len()), Some(3));
    let kinds: Vec<&str> = d.media.iter().map(|m| m.kind.as_ref()).collect();
    assert_eq!(kinds, ["video", "audio", "application"]);
    let video = &d.media[0];
    assert_eq!(video.setup(), Some(Setup::ActPass));
    assert!(video.attributes.contains(&Attribute::Rtpmap {
        pt: 96,
        encoding: "VP8".into(),
        clock: 90000,
        channels: None
    }));
    assert!(video.attributes.contains(&Attribute::RtcpFb {
        pt: Some(96),
        feedback: "nack pli".into()
    }));
    let audio = &d.media[1];
    assert!(audio.attributes.contains(&Attribute::Rtpmap {
        pt: 111,
        encoding: "opus".into(),
        clock: 48000,
        channels: Some(2)
    }));
    assert!(audio.attributes.contains(&Attribute::Fmtp {
        pt: 111,
        params: "minptime=10;useinbandfec=1".into()
    }));
    let app = &d.media[2];
    assert_eq!(app.protocol, "UDP/DTLS/SCTP");
    assert!(app.attributes.contains(&Attribute::SctpPort(5000)));
    assert!(app.attributes.contains(&Attribute::MaxMessageSize(262144)));
    let fp = video.find(|a| match a {
        Attribute::Fingerprint { hash, .. } => Some(hash.clone()),
        _ => None,
    });
    assert_eq!(fp.as_deref(), Some("sha-256"));
    let cands: Vec<&CandidateAttr> = d
        .media
        .iter()
        .flat_map(|m| m.attributes.iter())
        .filter_map(|a| match a {
            Attribute::Candidate(c) => Some(&**c),
            _ => None,
        })
        .collect();
    assert!(!cands.is_empty());
}

#[test]
fn lf_trailing_whitespace_blank_lines_and_unknown_lines_are_accepted() {
    let text = "v=0\no=- 1 2 IN IP4 0.0.0.0  \ns=-\n\nt=0 0\nb=AS:30\na=x-unknown:1 2\n\
                m=video 9 UDP/TLS/RTP/SAVPF 96\ni=camera\nc=IN IP4 0.0.0.0\na=mid:v\n\
                a=x-flag\na=rtpmap:96 VP8/90000\t\n";
    let d = SessionDescription::parse(text).unwrap();
    assert_eq!(d.other, vec![('b', "AS:30".into())]);
    assert_eq!(
        d.attributes,
        vec![Attribute::Other {
            name: "x-unknown".into(),
            value: Some("1 2".into())
        }]
    );
    assert_eq!(d.media[0].other, vec![('i', "camera".into())]);
    assert!(d.media[0].attributes.contains(&Attribute::Other {
        name: "x-flag".into(),
        value: None
    }));
    assert_eq!(SessionDescription::parse(&d.to_string()).unwrap(), d);
    assert!(d.to_string().contains("\r\n") && !d.to_string().contains("\n\n"));
}

#[test]
fn broken_descriptions_give_the_line_and_the_reason() {
    let base = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
    for (text, line, needle) in [
        ("", 0, "ends before its v= line"),
        ("o=- 1 2 IN IP4 0.0.0.0\r\n", 1, "expected a v= line"),
        ("v=1\r\n", 1, "unsupported version"),
        (
            "v=0\r\no=- 1 IN IP4 0.0.0.0\r\ns=-\r\n",
            2,
            "o= needs 6 fields",
        ),
        (
            "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n",
            0,
            "ends before its s= line",
        ),
        (&format!("{base}m=audio\r\n"), 5, "m= needs"),
        (
            &format!("{base}m=audio 70000 RTP/AVP 0\r\n"),
            5,
            "not a port number",
        ),
        (
            &format!("{base}m=audio 9 RTP/AVP 0\r\nnonsense\r\n"),
            6,
            "not a <type>=<value> line",
        ),
        (
            &format!("{base}m=audio 9 RTP/AVP 0\r\na=rtpmap:300 x/1\r\n"),
            6,
            "rtpmap payload type",
        ),
        (
            &format!("{base}m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n"),
            6,
            "clock rate",
        ),
        (&format!("{base}a=setup:sometimes\r\n"), 5, "setup must be"),
        (
            &format!("{base}a=fingerprint:sha-256 zz:yy\r\n"),
            5,
            "colon-separated hex",
        ),
        (
            &format!("{base}a=extmap:0 urn:x\r\n"),
            5,
            "extmap id must be 1 to 255",
        ),
        (
            &format!("{base}a=candidate:1 1 udp x 1.2.3.4 5 typ host\r\n"),
            5,
            "malformed candidate",
        ),
        (&format!("{base}a=ssrc:abc cname:x\r\n"), 5, "ssrc"),
        (&format!("{base}c=IN IP4\r\n"), 5, "c= needs"),
        (&format!("{base}t=now later\r\n"), 5, "t= needs"),
        (
            &format!("{base}m=audio 9 RTP/AVP 0\r\nt=0 0\r\n"),
            6,
            "cannot appear here",
        ),
        (&format!("{base}v=0\r\n"), 5, "cannot appear here"),
    ] {
        let e = SessionDescription::parse(text).unwrap_err();
        assert_eq!(e.line, line, "{text:?}: {e}");
        assert!(e.reason.contains(needle), "{text:?}: {e}");
    }
}

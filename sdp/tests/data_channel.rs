//! The data channel m-line (RFC 8841): offered, answered (from Chromium's
//! real offer too), negotiated, alone or bundled with audio and video.

use meshrtc_sdp::*;

mod common;
use common::local;

const FP_A: &str = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99";
const FP_B: &str = "11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF";

fn data(mid: &str) -> Transceiver {
    Transceiver {
        mid: mid.into(),
        kind: MediaKind::Application,
        send: None,
        receive: true,
        stopped: false,
    }
}

fn audio(mid: &str) -> Transceiver {
    Transceiver {
        mid: mid.into(),
        kind: MediaKind::Audio,
        send: None,
        receive: true,
        stopped: false,
    }
}

fn reparse(d: &SessionDescription<'_>) -> SessionDescription<'static> {
    SessionDescription::parse(&d.to_string())
        .unwrap()
        .into_owned()
}

#[test]
fn data_only_offer_writes_the_rfc_8841_m_line_and_both_sides_agree() {
    let offer = create_offer(&local("aaaa", FP_A), &Features::all(), &[data("0")]).unwrap();
    let text = offer.to_string();
    assert!(text.contains("\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
    assert!(text.contains("\r\na=sctp-port:5000\r\n"));
    assert!(text.contains("\r\na=max-message-size:262144\r\n"));
    assert!(text.contains("\r\na=setup:actpass\r\n"));
    assert!(
        !text.contains("rtcp-mux"),
        "no RTP attributes on the data m-line"
    );
    let offer_at_b = reparse(&offer);
    let answer = create_answer_for(
        &offer_at_b,
        &local("bbbb", FP_B),
        &Features::all(),
        &[data("0")],
        None,
    )
    .unwrap();
    let answer_text = answer.to_string();
    assert!(answer_text.contains("\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
    assert!(answer_text.contains("\r\na=setup:active\r\n"));
    assert_eq!(answer.bundle().unwrap(), ["0"]);
    let at_a = negotiate(&offer, &reparse(&answer), true).unwrap();
    let at_b = negotiate(&answer, &offer_at_b, false).unwrap();
    let da = at_a.data.unwrap();
    let db = at_b.data.unwrap();
    assert_eq!(
        (da.mid.as_str(), da.local_port, da.remote_port),
        ("0", 5000, 5000)
    );
    assert_eq!(da.remote_max_message_size, Some(262_144));
    assert_eq!(db.remote_max_message_size, Some(262_144));
    assert_eq!(at_a.dtls_role, DtlsRole::Server);
    assert_eq!(at_b.dtls_role, DtlsRole::Client);
    assert_eq!(at_a.media[0].kind, Some(MediaKind::Application));
    assert!(!at_a.media[0].rejected && at_a.media[0].codecs.is_empty());
}

#[test]
fn data_m_line_bundles_with_audio_and_keeps_the_peers_port_and_limit() {
    let offer = create_offer(
        &local("aaaa", FP_A),
        &Features::all(),
        &[audio("0"), data("1")],
    )
    .unwrap();
    assert_eq!(offer.bundle().unwrap(), ["0", "1"]);
    // The peer answers with another port, no limit (0) — and without a
    // max-message-size at all in a second answer.
    let answer = create_answer_for(
        &reparse(&offer),
        &local("bbbb", FP_B),
        &Features::all(),
        &[audio("0"), data("1")],
        None,
    )
    .unwrap();
    assert_eq!(answer.bundle().unwrap(), ["0", "1"]);
    let text = answer
        .to_string()
        .replace("a=sctp-port:5000", "a=sctp-port:5001")
        .replace("a=max-message-size:262144", "a=max-message-size:0");
    let n = negotiate(&offer, &SessionDescription::parse(&text).unwrap(), true).unwrap();
    let d = n.data.unwrap();
    assert_eq!(
        (d.mid.as_str(), d.remote_port, d.remote_max_message_size),
        ("1", 5001, None)
    );
    let text = text.replace("a=max-message-size:0\r\n", "");
    let n = negotiate(&offer, &SessionDescription::parse(&text).unwrap(), true).unwrap();
    assert_eq!(n.data.unwrap().remote_max_message_size, Some(65_536));
}

#[test]
fn chromiums_data_m_line_is_accepted_with_a_data_transceiver_and_rejected_without() {
    let offer_text = std::fs::read_to_string(format!(
        "{}/../fixtures/chromium-156/chromium_offer.sdp",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let offer = SessionDescription::parse(&offer_text).unwrap();
    let mids: Vec<_> = offer.media.iter().map(|m| m.mid().unwrap()).collect();
    assert_eq!(mids, ["0", "1", "2"]);
    let mut ts = vec![audio("0"), audio("1"), data("2")];
    ts[0].kind = MediaKind::Video;
    let answer =
        create_answer_for(&offer, &local("bbbb", FP_B), &Features::all(), &ts, None).unwrap();
    let app = &answer.media[2];
    assert_eq!((app.port, app.protocol.as_ref()), (9, "UDP/DTLS/SCTP"));
    assert_eq!(app.formats, ["webrtc-datachannel"]);
    assert!(app.attributes.contains(&Attribute::SctpPort(5000)));
    assert_eq!(answer.bundle().unwrap(), ["0", "1", "2"]);
    let n = negotiate(&answer, &offer, false).unwrap();
    let d = n.data.unwrap();
    assert_eq!(
        (d.remote_port, d.remote_max_message_size),
        (5000, Some(262_144))
    );
    // Without the data transceiver the m-line is rejected.
    let answer = create_answer_for(
        &offer,
        &local("bbbb", FP_B),
        &Features::all(),
        &ts[..2],
        None,
    )
    .unwrap();
    assert_eq!(answer.media[2].port, 0);
    assert!(negotiate(&answer, &offer, false).unwrap().data.is_none());
}

#[test]
fn old_sctpmap_form_and_a_second_data_m_line_are_rejected() {
    let offer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a d\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n\
        a=ice-ufrag:offr\r\na=ice-pwd:offerpasswordoffer12345\r\na=setup:actpass\r\n\
        a=fingerprint:sha-256 {FP_B}\r\n\
        m=application 9 DTLS/SCTP 5000\r\na=mid:d\r\na=sctpmap:5000 webrtc-datachannel 1024\r\n"
        .replace("{FP_B}", FP_B);
    let offer = SessionDescription::parse(&offer).unwrap();
    let answer = create_answer_for(
        &offer,
        &local("mesh", FP_A),
        &Features::default(),
        &[audio("a"), data("d")],
        None,
    )
    .unwrap();
    assert_eq!(answer.media[1].port, 0);
    assert_eq!(answer.bundle().unwrap(), ["a"]);
    let n = negotiate(&answer, &offer, false).unwrap();
    assert!(n.data.is_none() && n.media[1].rejected);
}

#[test]
fn stopped_data_m_line_is_offered_with_port_zero() {
    let mut d = data("1");
    d.stopped = true;
    let offer = create_offer(&local("aaaa", FP_A), &Features::all(), &[audio("0"), d]).unwrap();
    assert!(offer
        .to_string()
        .contains("\r\nm=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
    assert_eq!(offer.bundle().unwrap(), ["0"]);
}

//! Offer/answer: our offers, our answers to Chromium's offers (a test per
//! answer rule), and the negotiated result on both sides.

use meshrtc_sdp::negotiate::ext;
use meshrtc_sdp::*;

mod common;
use common::local;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../fixtures/chromium-156/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

const FP_A: &str = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99";
const FP_B: &str = "11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF";

fn track(id: &str, ssrc: u32, rtx: Option<u32>) -> SendTrack {
    SendTrack {
        stream_id: "stream-1".into(),
        track_id: id.into(),
        ssrc,
        rtx_ssrc: rtx,
    }
}

fn av_transceivers() -> Vec<Transceiver> {
    vec![
        Transceiver {
            mid: "0".into(),
            kind: MediaKind::Audio,
            send: Some(track("audio-1", 1111, None)),
            receive: true,
            stopped: false,
        },
        Transceiver {
            mid: "1".into(),
            kind: MediaKind::Video,
            send: Some(track("video-1", 2222, Some(3333))),
            receive: true,
            stopped: false,
        },
    ]
}

fn media<'d, 'a>(d: &'d SessionDescription<'a>, mid: &str) -> &'d MediaSection<'a> {
    d.media.iter().find(|m| m.mid() == Some(mid)).unwrap()
}

fn lines_of(m: &MediaSection<'_>, prefix: &str) -> Vec<String> {
    m.attributes
        .iter()
        .map(|a| a.to_string())
        .filter(|a| a.starts_with(prefix))
        .collect()
}

fn answer_chromium(features: &Features) -> (String, SessionDescription<'static>) {
    let offer_text = fixture("chromium_offer.sdp");
    let offer = SessionDescription::parse(&offer_text).unwrap();
    let tracks = [
        (MediaKind::Video, track("v", 7, Some(8))),
        (MediaKind::Audio, track("a", 9, None)),
    ];
    let answer = create_answer(&offer, &local("mesh", FP_A), features, &tracks).unwrap();
    (offer_text, answer)
}

#[test]
fn our_offer_has_every_promised_line_and_nothing_unpromised() {
    let offer = create_offer(
        &local("mesh", FP_A),
        &Features::default(),
        &av_transceivers(),
    )
    .unwrap();
    let text = offer.to_string();
    assert!(
        text.starts_with("v=0\r\no=- 4611686018427387904 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")
    );
    assert_eq!(offer.bundle().unwrap(), ["0", "1"]);
    let audio = media(&offer, "0");
    assert_eq!(audio.formats, ["111"]);
    assert_eq!(audio.protocol, "UDP/TLS/RTP/SAVPF");
    assert_eq!(lines_of(audio, "rtpmap"), ["rtpmap:111 opus/48000/2"]);
    assert_eq!(
        lines_of(audio, "fmtp"),
        ["fmtp:111 minptime=10;useinbandfec=1"]
    );
    assert!(
        lines_of(audio, "rtcp-fb").is_empty(),
        "no transport-cc unless enabled"
    );
    assert_eq!(audio.setup(), Some(Setup::ActPass));
    assert!(audio.rtcp_mux() && audio.attributes.contains(&Attribute::RtcpRsize));
    assert_eq!(
        audio.ice_credentials(),
        Some(("mesh", "abcdefghijklmnopqrstuvwx"))
    );
    assert_eq!(
        lines_of(audio, "fingerprint"),
        [format!("fingerprint:sha-256 {FP_A}")]
    );
    assert_eq!(lines_of(audio, "msid"), ["msid:stream-1 audio-1"]);
    assert_eq!(
        lines_of(audio, "ssrc:"),
        [
            "ssrc:1111 cname:meshrtc-cname",
            "ssrc:1111 msid:stream-1 audio-1"
        ]
    );
    assert_eq!(
        lines_of(audio, "extmap"),
        [format!("extmap:4 {}", ext::MID)]
    );
    assert_eq!(
        lines_of(audio, "candidate").len(),
        1,
        "candidates on the tagged m-line"
    );
    let video = media(&offer, "1");
    assert_eq!(video.formats, ["96"]);
    assert_eq!(lines_of(video, "rtpmap"), ["rtpmap:96 VP8/90000"]);
    assert_eq!(
        lines_of(video, "rtcp-fb"),
        [
            "rtcp-fb:96 ccm fir",
            "rtcp-fb:96 nack",
            "rtcp-fb:96 nack pli"
        ]
    );
    assert!(
        lines_of(video, "ssrc-group").is_empty(),
        "no FID group without RTX"
    );
    assert!(lines_of(video, "candidate").is_empty());
    assert_eq!(video.direction(), Direction::SendRecv);
    // Everything enabled: rtx, remb, transport-cc, and the extensions with
    // the same id for the same URI in both m-lines.
    let full = create_offer(&local("mesh", FP_A), &Features::all(), &av_transceivers()).unwrap();
    let video = media(&full, "1");
    assert_eq!(video.formats, ["96", "97"]);
    assert!(lines_of(video, "fmtp").contains(&"fmtp:97 apt=96".to_string()));
    assert_eq!(
        lines_of(video, "rtcp-fb"),
        [
            "rtcp-fb:96 goog-remb",
            "rtcp-fb:96 transport-cc",
            "rtcp-fb:96 ccm fir",
            "rtcp-fb:96 nack",
            "rtcp-fb:96 nack pli"
        ]
    );
    assert_eq!(lines_of(video, "ssrc-group"), ["ssrc-group:FID 2222 3333"]);
    assert_eq!(lines_of(video, "ssrc:").len(), 4);
    let audio = media(&full, "0");
    assert_eq!(lines_of(audio, "rtcp-fb"), ["rtcp-fb:111 transport-cc"]);
    assert_eq!(
        lines_of(audio, "extmap"),
        [
            format!("extmap:1 {}", ext::AUDIO_LEVEL),
            format!("extmap:2 {}", ext::ABS_SEND_TIME),
            format!("extmap:3 {}", ext::TRANSPORT_CC),
            format!("extmap:4 {}", ext::MID),
        ]
    );
    assert_eq!(
        lines_of(video, "extmap").len(),
        3,
        "no audio level on video"
    );
    // What we write is what we parse.
    assert_eq!(SessionDescription::parse(&full.to_string()).unwrap(), full);
}

#[test]
fn our_offer_and_answer_parse_in_webrtc_sdp_strict_and_sdp_types() {
    let offer = create_offer(&local("mesh", FP_A), &Features::all(), &av_transceivers()).unwrap();
    let (_, answer) = answer_chromium(&Features::all());
    for (what, d) in [("offer", offer), ("answer", answer)] {
        let text = d.to_string();
        let ff = webrtc_sdp::parse_sdp(&text, true)
            .unwrap_or_else(|e| panic!("webrtc-sdp (strict) refuses our {what}: {e:?}\n{text}"));
        assert_eq!(ff.media.len(), d.media.len());
        let st = sdp_types::Session::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("sdp-types refuses our {what}: {e:?}"));
        assert_eq!(st.medias.len(), d.media.len());
    }
}

#[test]
fn answering_chromium_yields_vp8_96_and_opus_111() {
    let (_, answer) = answer_chromium(&Features::default());
    let video = media(&answer, "0");
    assert_eq!(video.formats, ["96"]);
    assert_eq!(lines_of(video, "rtpmap"), ["rtpmap:96 VP8/90000"]);
    let audio = media(&answer, "1");
    assert_eq!(audio.formats, ["111"]);
    assert_eq!(lines_of(audio, "rtpmap"), ["rtpmap:111 opus/48000/2"]);
    assert_eq!(
        lines_of(audio, "fmtp"),
        ["fmtp:111 minptime=10;useinbandfec=1"]
    );
}

#[test]
fn every_chromium_offer_can_be_answered() {
    for name in ["chromium_offer.sdp", "chromium_session_offer.sdp"] {
        let text = fixture(name);
        let offer = SessionDescription::parse(&text).unwrap();
        let answer = create_answer(&offer, &local("mesh", FP_A), &Features::all(), &[])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let answer_text = answer.to_string();
        let back = SessionDescription::parse(&answer_text).unwrap();
        assert_eq!(back, answer, "{name}");
        let n = negotiate(&answer, &offer, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(n.media.iter().any(|m| !m.rejected), "{name}");
    }
}

#[test]
fn rule_same_m_lines_in_the_same_order_with_the_same_mids() {
    let (offer_text, answer) = answer_chromium(&Features::all());
    let offer = SessionDescription::parse(&offer_text).unwrap();
    assert_eq!(answer.media.len(), offer.media.len());
    for (o, a) in offer.media.iter().zip(&answer.media) {
        assert_eq!((o.mid(), &o.kind), (a.mid(), &a.kind));
    }
}

#[test]
fn rule_codecs_intersected_with_the_offerers_payload_types() {
    // VP8 at 120 and Opus at 109 in the offer: the answer keeps those
    // numbers; H264 and VP9 are dropped.
    let offer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a v\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 0 109\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\na=setup:actpass\r\n\
        a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwxyz\r\na=fingerprint:sha-256 AB:CD\r\n\
        a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:109 OPUS/48000/2\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 100 120 98\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\na=setup:actpass\r\n\
        a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:100 H264/90000\r\na=rtpmap:120 VP8/90000\r\n\
        a=rtcp-fb:120 nack\r\na=rtcp-fb:120 nack pli\r\na=rtcp-fb:120 ccm fir\r\na=rtcp-fb:120 goog-lntf\r\n\
        a=rtpmap:98 VP9/90000\r\n";
    let offer = SessionDescription::parse(offer).unwrap();
    let answer = create_answer(&offer, &local("mesh", FP_A), &Features::default(), &[]).unwrap();
    let audio = media(&answer, "a");
    assert_eq!(audio.formats, ["109"]);
    assert_eq!(lines_of(audio, "rtpmap"), ["rtpmap:109 OPUS/48000/2"]);
    let video = media(&answer, "v");
    assert_eq!(video.formats, ["120"]);
    assert_eq!(
        lines_of(video, "rtcp-fb"),
        [
            "rtcp-fb:120 nack",
            "rtcp-fb:120 nack pli",
            "rtcp-fb:120 ccm fir"
        ],
        "feedback intersected: goog-lntf is not ours"
    );
    // No common codec at all: the m-line is rejected, not answered empty.
    let no_vp8 = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a v\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 100\r\na=mid:v\r\na=rtcp-mux\r\na=rtpmap:100 H264/90000\r\n";
    let offer = SessionDescription::parse(no_vp8).unwrap();
    let answer = create_answer(&offer, &local("mesh", FP_A), &Features::default(), &[]).unwrap();
    assert_eq!(media(&answer, "v").port, 0);
    assert_eq!(answer.bundle().unwrap(), ["a"]);
}

#[test]
fn rule_rtx_only_with_its_apt_codec_and_only_when_enabled() {
    let (_, answer) = answer_chromium(&Features::all());
    let video = media(&answer, "0");
    // Chromium offers rtx 97 (apt=96), 103 (apt=102, H264), ...: only 97.
    assert_eq!(video.formats, ["96", "97"]);
    assert_eq!(
        lines_of(video, "fmtp"),
        ["fmtp:97 apt=96"],
        "no fmtp for VP8, and only the rtx of a kept codec"
    );
    assert_eq!(lines_of(video, "ssrc-group"), ["ssrc-group:FID 7 8"]);
    let (_, plain) = answer_chromium(&Features::default());
    let video = media(&plain, "0");
    assert_eq!(video.formats, ["96"]);
    assert!(lines_of(video, "ssrc-group").is_empty());
    assert_eq!(lines_of(video, "ssrc:").len(), 2, "no rtx SSRC announced");
}

#[test]
fn rule_feedback_and_extensions_never_more_than_features() {
    let (_, none) = answer_chromium(&Features::default());
    let video = media(&none, "0");
    assert_eq!(
        lines_of(video, "rtcp-fb"),
        [
            "rtcp-fb:96 ccm fir",
            "rtcp-fb:96 nack",
            "rtcp-fb:96 nack pli"
        ]
    );
    // Only sdes:mid, under Chromium's id 9.
    assert_eq!(
        lines_of(video, "extmap"),
        [format!("extmap:9 {}", ext::MID)]
    );
    assert!(lines_of(media(&none, "1"), "rtcp-fb").is_empty());
    let (_, all) = answer_chromium(&Features::all());
    let video = media(&all, "0");
    assert_eq!(
        lines_of(video, "rtcp-fb"),
        [
            "rtcp-fb:96 goog-remb",
            "rtcp-fb:96 transport-cc",
            "rtcp-fb:96 ccm fir",
            "rtcp-fb:96 nack",
            "rtcp-fb:96 nack pli"
        ]
    );
    assert_eq!(
        lines_of(video, "extmap"),
        [
            format!("extmap:2 {}", ext::ABS_SEND_TIME),
            format!("extmap:4 {}", ext::TRANSPORT_CC),
            format!("extmap:9 {}", ext::MID),
        ],
        "the offerer's ids; toffset, video-orientation, playout-delay... left out"
    );
    assert_eq!(
        lines_of(media(&all, "1"), "extmap"),
        [
            format!("extmap:14 {}", ext::AUDIO_LEVEL),
            format!("extmap:2 {}", ext::ABS_SEND_TIME),
            format!("extmap:4 {}", ext::TRANSPORT_CC),
            format!("extmap:9 {}", ext::MID),
        ]
    );
}

#[test]
fn rule_rtcp_mux_is_required() {
    let text = fixture("chromium_offer.sdp").replace("a=rtcp-mux\r\n", "");
    let offer = SessionDescription::parse(&text).unwrap();
    let e = create_answer(&offer, &local("mesh", FP_A), &Features::default(), &[]).unwrap_err();
    assert_eq!(e, NegotiationError::NoRtcpMux { mid: "0".into() });
}

#[test]
fn rule_setup_active_for_actpass_or_passive_and_passive_for_active() {
    let text = fixture("chromium_offer.sdp");
    for (offered, answered) in [
        ("actpass", Some(Setup::Active)),
        ("passive", Some(Setup::Active)),
        ("active", Some(Setup::Passive)),
        ("holdconn", None),
    ] {
        let t = text.replace("a=setup:actpass", &format!("a=setup:{offered}"));
        let offer = SessionDescription::parse(&t).unwrap();
        match create_answer(&offer, &local("mesh", FP_A), &Features::default(), &[]) {
            Ok(a) => {
                assert_eq!(media(&a, "0").setup(), answered, "{offered}");
                let n = negotiate(&a, &offer, false).unwrap();
                let role = if answered == Some(Setup::Active) {
                    DtlsRole::Client
                } else {
                    DtlsRole::Server
                };
                assert_eq!(n.dtls_role, role, "{offered}");
            }
            Err(e) => {
                assert_eq!(answered, None, "{offered}: {e}");
                assert!(matches!(e, NegotiationError::Setup(_)));
            }
        }
    }
}

#[test]
fn rule_directions_per_rfc_3264() {
    let text = fixture("chromium_offer.sdp");
    let v = || [(MediaKind::Video, track("v", 7, None))];
    for (offered, with_track, expected) in [
        ("sendrecv", true, Direction::SendRecv),
        ("sendrecv", false, Direction::RecvOnly),
        ("sendonly", true, Direction::RecvOnly),
        ("recvonly", true, Direction::SendOnly),
        ("recvonly", false, Direction::Inactive),
        ("inactive", true, Direction::Inactive),
    ] {
        // Only the video m-line (the first a=sendrecv) changes.
        let t = text.replacen("a=sendrecv", &format!("a={offered}"), 1);
        let offer = SessionDescription::parse(&t).unwrap();
        let tracks: &[(MediaKind, SendTrack)] = if with_track { &v() } else { &[] };
        let a = create_answer(&offer, &local("mesh", FP_A), &Features::default(), tracks).unwrap();
        let video = media(&a, "0");
        assert_eq!(video.direction(), expected, "{offered} {with_track}");
        // msid/ssrc only when we really send.
        assert_eq!(
            lines_of(video, "msid").len(),
            usize::from(expected == Direction::SendRecv || expected == Direction::SendOnly),
            "{offered} {with_track}"
        );
        let n = negotiate(&a, &offer, false).unwrap();
        let m = &n.media[0];
        assert_eq!(
            (m.send, m.receive),
            (
                matches!(expected, Direction::SendRecv | Direction::SendOnly),
                matches!(expected, Direction::SendRecv | Direction::RecvOnly)
            )
        );
    }
}

#[test]
fn rule_application_is_rejected_with_port_0_and_left_out_of_bundle() {
    let (_, answer) = answer_chromium(&Features::default());
    let app = media(&answer, "2");
    assert_eq!(app.port, 0);
    assert_eq!(app.kind, "application");
    assert_eq!(app.attributes, [Attribute::Mid("2".into())]);
    assert_eq!(answer.bundle().unwrap(), ["0", "1"]);
    let text = answer.to_string();
    assert!(text.contains("\r\nm=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
}

#[test]
fn rule_rejecting_the_bundle_tagged_m_line_tags_the_next_one() {
    // Data channel first: it carries the offerer's BUNDLE transport, and
    // we have no data channels. RFC 9143 §7.3.1: reject it, tag "a".
    let offer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE d a\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:d\r\na=sctp-port:5000\r\n\
        a=ice-ufrag:offr\r\na=ice-pwd:offerpasswordoffer12345\r\na=setup:actpass\r\n\
        a=candidate:1 1 udp 2122260223 10.0.0.5 5000 typ host\r\n\
        a=fingerprint:sha-256 {FP_B}\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n\
        a=ice-ufrag:offr\r\na=ice-pwd:offerpasswordoffer12345\r\na=setup:actpass\r\n\
        a=fingerprint:sha-256 {FP_B}\r\n"
        .replace("{FP_B}", FP_B);
    let offer = SessionDescription::parse(&offer).unwrap();
    let answer = create_answer(&offer, &local("mesh", FP_A), &Features::default(), &[]).unwrap();
    assert_eq!(answer.bundle().unwrap(), ["a"]);
    assert_eq!(media(&answer, "d").port, 0);
    let a = media(&answer, "a");
    assert_eq!(a.port, 9);
    assert_eq!(
        lines_of(a, "candidate").len(),
        1,
        "our candidates on our tag"
    );
    assert_eq!(a.setup(), Some(Setup::Active));
    // Both sides agree the transport is "a"'s, with the offerer's
    // credentials and its candidate from the rejected tagged m-line.
    let n = negotiate(&answer, &offer, false).unwrap();
    assert_eq!(n.bundle_mid, "a");
    assert_eq!(n.remote_ufrag, "offr");
    assert_eq!(n.remote_candidates.len(), 1);
    assert!(n.media[0].rejected && !n.media[1].rejected);
    let n = negotiate(&offer, &answer, true).unwrap();
    assert_eq!(n.bundle_mid, "a");
    assert_eq!(n.remote_ufrag, "mesh");
    // The answer said active: the offerer is the DTLS server.
    assert_eq!(n.dtls_role, DtlsRole::Server);
}

#[test]
fn rule_rejecting_every_m_line_of_the_bundle_is_an_error() {
    let offer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE d v\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:d\r\na=sctp-port:5000\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=mid:v\r\na=rtcp-mux\r\na=rtpmap:102 H264/90000\r\n";
    let offer = SessionDescription::parse(offer).unwrap();
    let e = create_answer(&offer, &local("mesh", FP_A), &Features::default(), &[]).unwrap_err();
    assert_eq!(
        e,
        NegotiationError::BundleTransportRejected { mid: "d".into() }
    );
    assert!(e.to_string().contains("whole bundle"));
}

#[test]
fn the_answer_carries_our_transport_on_the_tagged_m_line() {
    let (_, answer) = answer_chromium(&Features::default());
    let video = media(&answer, "0");
    assert_eq!(lines_of(video, "candidate").len(), 1);
    assert!(video.attributes.contains(&Attribute::EndOfCandidates));
    assert!(lines_of(media(&answer, "1"), "candidate").is_empty());
    for m in answer.media.iter().filter(|m| m.port != 0) {
        assert_eq!(
            m.ice_credentials(),
            Some(("mesh", "abcdefghijklmnopqrstuvwx"))
        );
        assert_eq!(
            lines_of(m, "fingerprint"),
            [format!("fingerprint:sha-256 {FP_A}")]
        );
        assert!(m.rtcp_mux());
        assert!(
            m.attributes.contains(&Attribute::RtcpRsize),
            "offered, so kept"
        );
    }
}

#[test]
fn applying_chromiums_answer_to_chromiums_offer() {
    let offer_text = fixture("chromium_offer.sdp");
    let answer_text = fixture("chromium_answer.sdp");
    let offer = SessionDescription::parse(&offer_text).unwrap();
    let answer = SessionDescription::parse(&answer_text).unwrap();
    // As if we had sent Chromium's offer.
    let n = negotiate(&offer, &answer, true).unwrap();
    assert_eq!(n.bundle_mid, "0");
    assert_eq!(n.bundle, ["0", "1", "2"]);
    assert_eq!(
        (n.remote_ufrag.as_str(), n.remote_pwd.as_str()),
        ("u7hd", "4/FOzYIsoCwFF+z16dT7w3xi")
    );
    assert_eq!(
        n.dtls_role,
        DtlsRole::Server,
        "the answer says setup:active"
    );
    assert_eq!(n.remote_fingerprint.hash, "sha-256");
    assert!(n.remote_fingerprint.value.starts_with("83:18:2B"));
    assert_eq!(n.remote_candidates.len(), 1);
    assert_eq!(n.remote_candidates[0].port, 34478);
    let video = &n.media[0];
    assert_eq!(video.kind, Some(MediaKind::Video));
    assert_eq!(
        (video.send, video.receive),
        (true, false),
        "the answer is recvonly"
    );
    let vp8 = &video.codecs[0];
    assert_eq!(
        (vp8.pt, vp8.name.as_str(), vp8.rtx_pt),
        (96, "VP8", Some(97))
    );
    assert!(vp8.feedback.contains(&"nack pli".to_string()));
    assert_eq!(video.extension_id(ext::TRANSPORT_CC), Some(4));
    assert_eq!(video.extension_id(ext::MID), Some(9));
    assert!(
        video.remote_ssrcs.is_empty(),
        "a recvonly answer announces no SSRC"
    );
    let audio = &n.media[1];
    assert_eq!(audio.codecs[0].pt, 111);
    assert_eq!(
        audio.codecs[0].fmtp.as_deref(),
        Some("minptime=10;useinbandfec=1")
    );
    // And the other way round: Chromium's offer, seen by the answerer.
    let n = negotiate(&answer, &offer, false).unwrap();
    assert_eq!(n.dtls_role, DtlsRole::Client);
    let video = &n.media[0];
    assert_eq!(
        video.remote_ssrcs,
        [RemoteSsrc {
            ssrc: 4038612048,
            rtx: Some(1416389598),
            cname: Some("R8OMbYNQKBLiioOy".into())
        }]
    );
    assert_eq!(
        video.remote_msid,
        Some((
            "-".into(),
            Some("3e646480-b551-4688-add3-a907f63e748a".into())
        ))
    );
    assert_eq!((video.send, video.receive), (false, true));
}

#[test]
fn two_meshrtc_peers_agree_on_everything() {
    let a_local = local("aaaa", FP_A);
    let b_local = local("bbbb", FP_B);
    let offer = create_offer(&a_local, &Features::all(), &av_transceivers()).unwrap();
    // B parses the offer from its text, as it would arrive.
    let offer_text = offer.to_string();
    let offer_at_b = SessionDescription::parse(&offer_text).unwrap();
    let b_tracks = [
        (MediaKind::Audio, track("b-audio", 5555, None)),
        (MediaKind::Video, track("b-video", 6666, Some(7777))),
    ];
    let answer = create_answer(&offer_at_b, &b_local, &Features::all(), &b_tracks).unwrap();
    let answer_text = answer.to_string();
    let answer_at_a = SessionDescription::parse(&answer_text).unwrap();
    let at_a = negotiate(&offer, &answer_at_a, true).unwrap();
    let at_b = negotiate(&answer, &offer_at_b, false).unwrap();
    assert_eq!(at_a.dtls_role, DtlsRole::Server);
    assert_eq!(at_b.dtls_role, DtlsRole::Client);
    assert_eq!(at_a.remote_ufrag, "bbbb");
    assert_eq!(at_b.remote_ufrag, "aaaa");
    assert_eq!(at_a.remote_fingerprint.value, FP_B);
    assert_eq!(at_b.remote_fingerprint.value, FP_A);
    assert_eq!(at_a.remote_candidates.len(), 1);
    for (ma, mb) in at_a.media.iter().zip(&at_b.media) {
        assert_eq!(ma.codecs, mb.codecs);
        assert_eq!(ma.extensions, mb.extensions);
        assert!(ma.send && ma.receive && mb.send && mb.receive);
    }
    assert_eq!(at_a.media[1].codecs[0].rtx_pt, Some(97));
    assert_eq!(
        at_a.media[1].remote_ssrcs,
        [RemoteSsrc {
            ssrc: 6666,
            rtx: Some(7777),
            cname: Some("meshrtc-cname".into())
        }]
    );
    assert_eq!(at_b.media[1].remote_ssrcs[0].ssrc, 2222);
    assert_eq!(at_b.media[1].remote_ssrcs[0].rtx, Some(3333));
    assert_eq!(
        at_a.media[0].remote_msid,
        Some(("stream-1".into(), Some("b-audio".into())))
    );
}

#[test]
fn broken_answers_and_bad_parameters_each_give_their_error() {
    let a_local = local("aaaa", FP_A);
    let offer = create_offer(&a_local, &Features::all(), &av_transceivers()).unwrap();
    let answer = create_answer(&offer, &local("bbbb", FP_B), &Features::all(), &[]).unwrap();
    let text = answer.to_string();
    let apply = |t: &str| {
        let d = SessionDescription::parse(t).unwrap();
        negotiate(&offer, &d, true)
    };
    assert!(apply(&text).is_ok());
    let cases: Vec<(String, NegotiationError)> = vec![
        (
            text.replace("a=rtpmap:96 VP8/90000", "a=rtpmap:96 H264/90000"),
            NegotiationError::UnknownPayloadType {
                mid: "1".into(),
                pt: 96,
            },
        ),
        (
            text.replace("a=mid:1", "a=mid:x")
                .replace("BUNDLE 0 1", "BUNDLE 0 x"),
            NegotiationError::AnswerMismatch {
                index: 1,
                reason: "a different mid",
            },
        ),
        (
            text.replace("a=fingerprint:", "a=x-fingerprint:"),
            NegotiationError::Missing {
                mid: "0".into(),
                what: "a=fingerprint",
            },
        ),
        (
            text.replace("a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=ice-pwd:short"),
            NegotiationError::InvalidRemoteCredentials("pwd"),
        ),
        (
            text.replace("a=setup:active", "a=setup:actpass"),
            NegotiationError::Setup("the answer must say active or passive"),
        ),
        (
            text.replace("a=group:BUNDLE 0 1\r\n", ""),
            NegotiationError::NotBundled,
        ),
    ];
    for (t, e) in cases {
        assert_eq!(apply(&t), Err(e.clone()), "{e}");
    }
    // A direction the offer does not allow: we offered recvonly video.
    let mut recv_only = av_transceivers();
    recv_only[1].send = None;
    let offer2 = create_offer(&a_local, &Features::all(), &recv_only).unwrap();
    let answer2 = create_answer(&offer2, &local("bbbb", FP_B), &Features::all(), &[]).unwrap();
    let bad = answer2.to_string().replacen("a=inactive", "a=recvonly", 1);
    let e = negotiate(&offer2, &SessionDescription::parse(&bad).unwrap(), true).unwrap_err();
    assert!(
        matches!(e, NegotiationError::DirectionMismatch { .. }),
        "{e}"
    );
    // Local parameters out of range.
    let mut l = local("abc", FP_A);
    assert_eq!(
        create_offer(&l, &Features::default(), &av_transceivers()),
        Err(NegotiationError::InvalidLocalCredentials("ufrag"))
    );
    l.ice_ufrag = "abcd".into();
    l.ice_pwd = "x".repeat(21);
    assert_eq!(
        create_offer(&l, &Features::default(), &av_transceivers()),
        Err(NegotiationError::InvalidLocalCredentials("pwd"))
    );
    let mut dup = av_transceivers();
    dup[1].mid = "0".into();
    assert!(matches!(
        create_offer(&local("abcd", FP_A), &Features::default(), &dup),
        Err(NegotiationError::BadMid { index: 1, .. })
    ));
}

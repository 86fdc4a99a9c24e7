//! Firefox ESR 153's offer (captured in a loopback-only network namespace:
//! `fixtures/firefox-153/firefox_offer.sdp`), answered by a sans-IO
//! PeerConnection. What sets it apart from Chromium's, one test each:
//! the certificate fingerprint at session level only, `a=msid` ids in
//! braces, candidates for components 1 and 2 (and `::1`) per m-line,
//! `a=end-of-candidates`, and, when it trickles, an empty candidate string
//! before the final `null`. VP8 is payload type 120 (RTX 124), Opus 109.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_peer::{PeerConfig, PeerConnection, SdpType};
use meshrtc_sdp::negotiate::MediaKind;
use meshrtc_sdp::{Attribute, SessionDescription};

fn offer() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/firefox-153/firefox_offer.sdp"
    ))
    .unwrap()
}

const SESSION_FINGERPRINT: &str = "8B:91:BC:75:F1:7E:4A:D5:E8:7F:7C:64:6E:12:B4:EA:1F:8B:0F:D8:FF:1E:A0:50:AF:8D:AF:5F:55:CE:B9:77";

/// Our side on 127.0.0.1:40000, with Firefox's offer applied and
/// answered.
fn answered(offer: &str) -> (PeerConnection, String, Instant) {
    let now = Instant::now();
    let mut pc = PeerConnection::new(PeerConfig::with_fixed_seed(153), now).unwrap();
    pc.add_local_address("127.0.0.1:40000".parse().unwrap());
    pc.add_answer_track(MediaKind::Video);
    pc.add_answer_track(MediaKind::Audio);
    pc.set_remote_description(now, SdpType::Offer, offer)
        .unwrap();
    let answer = pc.create_answer(now).unwrap();
    (pc, answer, now)
}

/// Where our connectivity checks go in the first second.
fn check_destinations(pc: &mut PeerConnection, mut now: Instant) -> Vec<SocketAddr> {
    let end = now + Duration::from_secs(1);
    let mut dsts = Vec::new();
    while now < end {
        pc.handle_timeout(now);
        while let Some(t) = pc.poll_transmit() {
            dsts.push(t.dst);
        }
        now += Duration::from_millis(10);
    }
    dsts.sort();
    dsts.dedup();
    dsts
}

#[test]
fn the_session_level_fingerprint_is_the_one_dtls_must_match() {
    let text = offer();
    // Firefox writes it once, before the first m-line, and in no m-line.
    let d = SessionDescription::parse(&text).unwrap();
    assert!(d.media.iter().all(|m| !m
        .attributes
        .iter()
        .any(|a| matches!(a, Attribute::Fingerprint { .. }))));
    let (pc, answer, _) = answered(&text);
    let n = pc.negotiated().unwrap();
    assert_eq!(n.remote_fingerprint.hash, "sha-256");
    assert_eq!(n.remote_fingerprint.value, SESSION_FINGERPRINT);
    // We are the DTLS client (Firefox offers actpass and is the server).
    assert!(answer.contains("a=setup:active\r\n"), "{answer}");
}

#[test]
fn firefoxs_payload_types_are_answered_and_what_we_lack_is_left_out() {
    let (pc, answer, _) = answered(&offer());
    let n = pc.negotiated().unwrap();
    let codec = |kind| {
        n.media
            .iter()
            .find(|m| m.kind == Some(kind))
            .unwrap()
            .codecs[0]
            .clone()
    };
    let vp8 = codec(MediaKind::Video);
    assert_eq!(
        (vp8.pt, vp8.name.as_str(), vp8.rtx_pt),
        (120, "VP8", Some(124))
    );
    let opus = codec(MediaKind::Audio);
    assert_eq!((opus.pt, opus.name.as_str()), (109, "opus"));
    assert!(answer.contains("a=rtpmap:120 VP8/90000\r\n"), "{answer}");
    assert!(answer.contains("a=fmtp:124 apt=120\r\n"), "{answer}");
    assert!(answer.contains("a=rtpmap:109 opus/48000/2\r\n"), "{answer}");
    for absent in [
        "VP9",
        "AV1",
        "G722",
        "PCMU",
        "telephone-event",
        "ulpfec",
        "red/",
        "goog-remb",
    ] {
        assert!(
            !answer.contains(absent),
            "{absent} in our answer:\n{answer}"
        );
    }
}

#[test]
fn msid_ids_in_braces_parse_and_write_back_unchanged() {
    let text = offer();
    let d = SessionDescription::parse(&text).unwrap();
    let msids: Vec<(String, Option<String>)> = d
        .media
        .iter()
        .flat_map(|m| &m.attributes)
        .filter_map(|a| match a {
            Attribute::Msid { stream, track } => {
                Some((stream.to_string(), track.as_ref().map(|t| t.to_string())))
            }
            _ => None,
        })
        .collect();
    assert_eq!(msids.len(), 2, "{msids:?}");
    for (stream, track) in &msids {
        assert_eq!(stream, "{a423d74a-b38e-4890-9834-acb4f96002a2}");
        let track = track.as_deref().unwrap();
        assert!(
            track.starts_with('{') && track.ends_with('}') && track.len() == 38,
            "{track}"
        );
    }
    // Written back, the msid lines are Firefox's own (the whole text differs
    // only in `a=msid-semantic:WMS *`, which we write with a space after
    // the colon, as Chromium does).
    let msid_lines = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("a=msid:"))
            .map(String::from)
            .collect()
    };
    let written = d.to_string();
    assert_eq!(msid_lines(&written), msid_lines(&text));
    assert_eq!(
        written.replace("a=msid-semantic: WMS", "a=msid-semantic:WMS"),
        text
    );
}

#[test]
fn only_the_component_1_ipv4_candidate_of_the_tagged_m_line_is_checked() {
    let text = offer();
    // Per m-line: 127.0.0.1 and ::1, each for components 1 and 2.
    let d = SessionDescription::parse(&text).unwrap();
    for m in &d.media {
        let comps: Vec<u16> = m
            .attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::Candidate(c) => Some(c.component),
                _ => None,
            })
            .collect();
        assert_eq!(comps, [1, 1, 2, 2]);
    }
    let (mut pc, _, now) = answered(&text);
    let n = pc.negotiated().unwrap();
    assert_eq!(n.bundle_mid, "0");
    assert!(n.remote_end_of_candidates, "a=end-of-candidates was read");
    // Component 2 (its RTCP port 45119), the video m-line's own ports and
    // the IPv6 candidate (we have only an IPv4 address) get no check.
    let dsts = check_destinations(&mut pc, now);
    assert_eq!(dsts, ["127.0.0.1:40740".parse::<SocketAddr>().unwrap()]);
}

#[test]
fn a_trickled_empty_candidate_is_end_of_candidates_not_an_error() {
    // Firefox's offer without candidates, as it trickles them.
    let text: String = offer()
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("a=candidate:") && !l.starts_with("a=end-of-candidates"))
        .collect();
    let (mut pc, _, now) = answered(&text);
    assert!(!pc.negotiated().unwrap().remote_end_of_candidates);
    for c in [
        "candidate:0 1 UDP 2122187007 127.0.0.1 40740 typ host",
        "candidate:0 2 UDP 2122187006 127.0.0.1 45119 typ host",
        "",
    ] {
        pc.add_remote_candidate(now, Some(c)).unwrap();
    }
    // Then the video m-line's own end, and the final null.
    pc.add_remote_candidate(now, Some("")).unwrap();
    pc.add_remote_candidate(now, None).unwrap();
    let dsts = check_destinations(&mut pc, now);
    assert_eq!(dsts, ["127.0.0.1:40740".parse::<SocketAddr>().unwrap()]);
    // A candidate that is not empty and not a candidate is still refused.
    assert!(pc.add_remote_candidate(now, Some("candidate:x")).is_err());
}

/// Firefox's subsequent offer after `addTrack`, built from the captured
/// one as Firefox writes it: the new m-line has port 0, `a=bundle-only`
/// and no candidates (`bundle_only: false` leaves the attribute out).
fn offer_with_a_second_camera(first: &str, bundle_only: bool) -> String {
    let video = &first[first.find("m=video").unwrap()..];
    let added: String = video
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("a=candidate:") && !l.starts_with("a=end-of-candidates"))
        .filter(|l| !l.starts_with("a=rtcp:"))
        .map(|l| match l {
            "m=video 36890 UDP/TLS/RTP/SAVPF 120 124 121 125 99 100 123 122 119\r\n" => {
                "m=video 0 UDP/TLS/RTP/SAVPF 120 124 121 125 99 100 123 122 119\r\n".to_string()
            }
            "c=IN IP4 127.0.0.1\r\n" if bundle_only => {
                "c=IN IP4 0.0.0.0\r\na=bundle-only\r\n".to_string()
            }
            "c=IN IP4 127.0.0.1\r\n" => "c=IN IP4 0.0.0.0\r\n".to_string(),
            "a=mid:1\r\n" => "a=mid:2\r\n".to_string(),
            l => l
                .replace("3193621280", "1111")
                .replace("3353052961", "2222"),
        })
        .collect();
    first
        .replace("189482808015040940 0 IN", "189482808015040940 1 IN")
        .replace("a=group:BUNDLE 0 1\r\n", "a=group:BUNDLE 0 1 2\r\n")
        + &added
}

#[test]
fn a_port_0_bundle_only_m_line_in_a_subsequent_offer_is_accepted_not_rejected() {
    let first = offer();
    let (mut pc, _, now) = answered(&first);
    let second = offer_with_a_second_camera(&first, true);
    assert!(second.contains("m=video 0 ") && second.contains("a=bundle-only\r\n"));
    pc.set_remote_description(now, SdpType::Offer, &second)
        .unwrap();
    let answer = pc.create_answer(now).unwrap();
    let d = SessionDescription::parse(&answer).unwrap();
    assert_eq!(d.media.len(), 3);
    assert_ne!(d.media[2].port, 0, "{answer}");
    assert!(answer.contains("a=group:BUNDLE 0 1 2\r\n"), "{answer}");
    let n = pc.negotiated().unwrap();
    let m2 = n.media.iter().find(|m| m.mid == "2").unwrap();
    assert!(!m2.rejected && m2.receive, "{m2:?}");
    assert_eq!(m2.codecs[0].pt, 120);

    // Port 0 without `a=bundle-only` still rejects the m-line (RFC 3264).
    let (mut pc, _, now) = answered(&first);
    let second = offer_with_a_second_camera(&first, false);
    pc.set_remote_description(now, SdpType::Offer, &second)
        .unwrap();
    let answer = pc.create_answer(now).unwrap();
    let d = SessionDescription::parse(&answer).unwrap();
    assert_eq!(d.media[2].port, 0, "{answer}");
    assert!(pc.negotiated().unwrap().media[2].rejected);
}

/// The `a=extmap` lines of a description: (id, URI), deduplicated.
fn extmaps(sdp: &str) -> Vec<(u16, String)> {
    let mut v: Vec<(u16, String)> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=extmap:"))
        .filter_map(|l| {
            let (id, uri) = l.split_once(' ')?;
            Some((id.split('/').next()?.parse().ok()?, uri.to_string()))
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn our_subsequent_offer_keeps_the_header_extension_ids_firefox_chose() {
    let (mut pc, answer, now) = answered(&offer());
    let agreed = extmaps(&answer);
    // Firefox's ids: the MID is 3 and transport-cc 7 (ours would be 4 and
    // 3; Firefox refuses an offer that remaps an id mid-session).
    assert!(
        agreed.contains(&(3, "urn:ietf:params:rtp-hdrext:sdes:mid".into())),
        "{agreed:?}"
    );
    pc.add_transceiver(MediaKind::Video, true, false);
    let ours = pc.create_offer(now).unwrap();
    let offered = extmaps(&ours);
    for (id, uri) in &offered {
        if let Some((was, _)) = agreed.iter().find(|(_, u)| u == uri) {
            assert_eq!(id, was, "{uri} remapped:\n{ours}");
        }
        assert_eq!(
            offered.iter().filter(|(i, _)| i == id).count(),
            1,
            "id {id} twice: {offered:?}"
        );
    }
    // The new m-line carries the MID extension too, on the same id.
    let d = SessionDescription::parse(&ours).unwrap();
    assert_eq!(d.media.len(), 3);
    assert!(d.media[2]
        .attributes
        .iter()
        .any(|a| matches!(a, Attribute::Extmap { id: 3, uri, .. } if uri == "urn:ietf:params:rtp-hdrext:sdes:mid")));
}

/// `(payload type, encoding)` of each m-line's rtpmaps.
fn rtpmaps(sdp: &str) -> Vec<Vec<(u8, String)>> {
    SessionDescription::parse(sdp)
        .unwrap()
        .media
        .iter()
        .map(|m| {
            m.attributes
                .iter()
                .filter_map(|a| match a {
                    Attribute::Rtpmap { pt, encoding, .. } => Some((*pt, encoding.to_string())),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

#[test]
fn our_subsequent_offer_keeps_the_payload_types_firefox_chose() {
    let (mut pc, answer, now) = answered(&offer());
    // Answered with Firefox's numbers: Opus 109, VP8 120 with RTX 124.
    let agreed = rtpmaps(&answer);
    assert!(agreed.contains(&vec![(109, "opus".into())]), "{agreed:?}");
    let video = vec![(120, "VP8".to_string()), (124, "rtx".to_string())];
    assert!(agreed.contains(&video), "{agreed:?}");
    // Our own offer later (a screen track added) keeps them on the current
    // m-lines and uses them on the new one (ours would be 111, 96, 97:
    // a changed number restarted our stream and Firefox lost it).
    pc.add_transceiver(MediaKind::Video, true, false);
    let ours = pc.create_offer(now).unwrap();
    let offered = rtpmaps(&ours);
    assert_eq!(offered.len(), 3, "{ours}");
    assert_eq!(&offered[..2], &agreed[..], "{ours}");
    assert_eq!(offered[2], video, "{ours}");
    assert!(ours.contains("a=fmtp:124 apt=120"), "{ours}");
}

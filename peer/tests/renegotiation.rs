//! Renegotiation on a connected call (RFC 8829 §5.2.2, §5.3.2, §5.10):
//! subsequent offers from either side add, stop and recycle m-lines and
//! change directions, a local offer is rolled back; media flows before and
//! after on the same ICE/DTLS/SRTP transport.

use std::time::{Duration, Instant};

use meshrtc_peer::{
    ConnectionState, DtlsState, PacketizedFrame, PeerError, PeerEvent, SdpType, SignalingState,
};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;
use meshrtc_sdp::SessionDescription;

mod pair;
use pair::*;

/// a offers video and audio, b answers with both; connected.
fn connected() -> (Instant, Side, Side, String) {
    let (mut now, mut a, mut b) = sides();
    a.pc.add_transceiver(MediaKind::Audio, true, true);
    b.pc.add_answer_track(MediaKind::Audio);
    let (offer, _) = renegotiate(now, &mut a, &mut b);
    run_until_settled(&mut now, &mut a, &mut b);
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
    (now, a, b, offer)
}

/// Sends `n` video frames (the first a key frame) on each `(side, mid)`,
/// then lets the pair run 300 ms.
fn send_video(now: &mut Instant, a: &mut Side, b: &mut Side, a_mids: &[&str], b_mids: &[&str]) {
    let mut pk = Vp8Packetizer::new(1);
    for i in 0..10u32 {
        let f = vp8_frame(i, i == 0, 1500);
        let frame = PacketizedFrame::vp8(&mut pk, f.into(), i * 3000, 1100).unwrap();
        for mid in a_mids {
            a.pc.send_frame(*now, mid, &frame).unwrap();
        }
        for mid in b_mids {
            b.pc.send_frame(*now, mid, &frame).unwrap();
        }
        step(now, a, b);
    }
    let end = *now + Duration::from_millis(300);
    while *now < end {
        step(now, a, b);
    }
}

/// Video frames `s` received on `mid` since event index `from`.
fn frames_on(s: &Side, mid: &str, from: usize) -> usize {
    s.events[from..]
        .iter()
        .filter(|e| matches!(e, PeerEvent::Frame(f) if f.mid == mid))
        .count()
}

fn mids_of(sdp: &str) -> Vec<(String, u16)> {
    let d = SessionDescription::parse(sdp).unwrap();
    d.media
        .iter()
        .map(|m| (m.mid().unwrap().to_string(), m.port))
        .collect()
}

/// The transport did not move: one DTLS handshake, no state change since.
fn assert_same_transport(s: &Side) {
    let dtls: Vec<_> = s
        .events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::DtlsStateChanged(d) => Some(*d),
            _ => None,
        })
        .collect();
    assert_eq!(dtls, [DtlsState::Connecting, DtlsState::Connected]);
    assert_eq!(s.pc.state(), ConnectionState::Connected);
    let st = s.pc.stats();
    assert_eq!(st.srtp_errors, 0);
}

#[test]
fn the_answerer_adds_a_second_video_track_mid_call_then_stops_it_and_a_third_recycles_its_m_line() {
    let (mut now, mut a, mut b, _) = connected();
    let b_video = b.pc.sending_mids()[0].0.clone();
    assert_eq!(b_video, "0");
    send_video(&mut now, &mut a, &mut b, &["0"], &["0"]);
    assert_eq!(frames_on(&a, "0", 0), 10);
    assert_eq!(frames_on(&b, "0", 0), 10);

    // b, the answerer of the first negotiation, adds a screen track.
    let mark_b = b.events.len();
    let screen = b.pc.add_transceiver(MediaKind::Video, true, false);
    assert_eq!(screen, "2");
    drain(&mut b);
    assert!(b.events[mark_b..].contains(&PeerEvent::NegotiationNeeded));
    assert!(b.pc.negotiation_needed());
    let (offer, answer) = renegotiate(now, &mut b, &mut a);
    assert!(!b.pc.negotiation_needed());
    assert_eq!(
        mids_of(&offer),
        [("0".into(), 9), ("1".into(), 9), ("2".into(), 9)]
    );
    assert_eq!(mids_of(&answer), mids_of(&offer));
    // Same transport: the same credentials and fingerprint, actpass in the
    // offer and the old role kept in the answer (a stays the DTLS server).
    assert!(offer.contains("a=setup:actpass"));
    assert!(answer.contains("a=setup:passive"), "{answer}");
    assert!(offer.contains("a=group:BUNDLE 0 1 2"), "{offer}");

    let mark_a = a.events.len();
    send_video(&mut now, &mut a, &mut b, &["0"], &["0", &screen]);
    assert_eq!(frames_on(&a, "0", mark_a), 10);
    assert_eq!(frames_on(&a, &screen, mark_a), 10, "the new track");
    assert!(a.events[mark_a..].iter().any(
        |e| matches!(e, PeerEvent::TrackAdded { mid, kind: MediaKind::Video, .. } if *mid == screen)
    ));
    // Video from b on both m-lines (no audio was sent).
    assert_eq!(a.pc.stats().inbound.len(), 2);

    // b stops it: port 0 in the next offer, a hears the track went.
    b.pc.stop_transceiver(&screen).unwrap();
    assert!(matches!(
        b.pc.send_frame(now, &screen, &PacketizedFrame::opus(vec![1].into(), 0)),
        Err(PeerError::UnknownMid(_))
    ));
    let (offer, _) = renegotiate(now, &mut b, &mut a);
    assert_eq!(
        mids_of(&offer),
        [("0".into(), 9), ("1".into(), 9), ("2".into(), 0)]
    );
    assert!(offer.contains("a=group:BUNDLE 0 1\r\n"), "{offer}");
    drain(&mut a);
    assert!(a
        .events
        .iter()
        .any(|e| matches!(e, PeerEvent::TrackRemoved { mid, .. } if *mid == screen)));
    let mark_a = a.events.len();
    send_video(&mut now, &mut a, &mut b, &["0"], &["0"]);
    assert_eq!(frames_on(&a, "0", mark_a), 10);
    assert_eq!(frames_on(&b, "0", mark_b), 20, "a's video all along");

    // a (the first offerer) adds a video track: it recycles m-line 2 with
    // a new mid, the order of the others kept.
    let camera2 = a.pc.add_transceiver(MediaKind::Video, true, true);
    assert_eq!(camera2, "3");
    let (offer, _) = renegotiate(now, &mut a, &mut b);
    assert_eq!(
        mids_of(&offer),
        [("0".into(), 9), ("1".into(), 9), ("3".into(), 9)]
    );
    let mark_b = b.events.len();
    send_video(&mut now, &mut a, &mut b, &["0", &camera2], &["0"]);
    assert_eq!(frames_on(&b, &camera2, mark_b), 10);
    assert_eq!(frames_on(&b, "0", mark_b), 10);
    assert_same_transport(&a);
    assert_same_transport(&b);
    assert_eq!(a.pc.stats().unroutable, 0);
    assert_eq!(b.pc.stats().unroutable, 0);
}

#[test]
fn a_direction_change_stops_one_way_and_resuming_continues_the_same_stream() {
    let (mut now, mut a, mut b, _) = connected();
    send_video(&mut now, &mut a, &mut b, &["0"], &["0"]);
    let ssrc_before = a.pc.stats().outbound[0].ssrc;
    // a goes receive-only on its video.
    a.pc.set_direction("0", false, true).unwrap();
    drain(&mut a);
    assert!(a.events.contains(&PeerEvent::NegotiationNeeded));
    let (offer, answer) = renegotiate(now, &mut a, &mut b);
    assert!(offer.contains("a=recvonly"), "{offer}");
    assert!(answer.contains("a=sendonly"), "{answer}");
    drain(&mut b);
    assert!(b.events.iter().any(
        |e| matches!(e, PeerEvent::TrackRemoved { mid, kind: MediaKind::Video } if mid == "0")
    ));
    assert!(matches!(
        a.pc.send_frame(now, "0", &PacketizedFrame::opus(vec![1].into(), 0)),
        Err(PeerError::UnknownMid(_))
    ));
    let (ma, mb) = (a.events.len(), b.events.len());
    send_video(&mut now, &mut a, &mut b, &[], &["0"]);
    assert_eq!(frames_on(&a, "0", ma), 10, "b's video still arrives");
    assert_eq!(frames_on(&b, "0", mb), 0);

    // Back to sendrecv: the same SSRC goes on, its sequence numbers
    // continuing (b decodes all, no SRTP error).
    a.pc.set_direction("0", true, true).unwrap();
    renegotiate(now, &mut a, &mut b);
    let mb = b.events.len();
    send_video(&mut now, &mut a, &mut b, &["0"], &["0"]);
    assert_eq!(frames_on(&b, "0", mb), 10);
    assert_eq!(a.pc.stats().outbound[0].ssrc, ssrc_before);
    assert_eq!(a.pc.stats().outbound[0].frames_sent, 20);
    assert_same_transport(&a);
    assert_same_transport(&b);
}

#[test]
fn crossing_offers_are_resolved_by_rolling_back_the_polite_sides_offer() {
    let (mut now, mut a, mut b, _) = connected();
    // Both add a video track and offer at once (glare).
    let a_new = a.pc.add_transceiver(MediaKind::Video, true, true);
    let b_new = b.pc.add_transceiver(MediaKind::Video, true, true);
    assert_eq!(a_new, b_new, "both picked mid 2");
    let offer_a = a.pc.create_offer(now).unwrap();
    let offer_b = b.pc.create_offer(now).unwrap();
    // Each refuses the other's offer while its own is outstanding.
    let e =
        a.pc.set_remote_description(now, SdpType::Offer, &offer_b)
            .unwrap_err();
    assert!(matches!(
        e,
        PeerError::WrongState {
            state: SignalingState::HaveLocalOffer,
            ..
        }
    ));
    // b is polite: it rolls back and answers a's offer.
    b.pc.rollback().unwrap();
    assert_eq!(b.pc.signaling_state(), SignalingState::Stable);
    b.pc.set_remote_description(now, SdpType::Offer, &offer_a)
        .unwrap();
    drain(&mut b);
    // a's new m-line took mid 2: b's own new transceiver gets another.
    let renamed = b
        .events
        .iter()
        .find_map(|e| match e {
            PeerEvent::MidChanged { old, new } if *old == b_new => Some(new.clone()),
            _ => None,
        })
        .expect("b's mid changed");
    assert_eq!(renamed, "3");
    let answer = b.pc.create_answer(now).unwrap();
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    // Stable again, b still has its change to offer.
    drain(&mut b);
    assert!(b.pc.negotiation_needed());
    let (offer, _) = renegotiate(now, &mut b, &mut a);
    assert_eq!(
        mids_of(&offer).into_iter().map(|m| m.0).collect::<Vec<_>>(),
        ["0", "1", "2", "3"]
    );
    let (ma, mb) = (a.events.len(), b.events.len());
    send_video(&mut now, &mut a, &mut b, &["0", &a_new], &["0", &renamed]);
    assert_eq!(frames_on(&b, &a_new, mb), 10);
    assert_eq!(frames_on(&a, &renamed, ma), 10);
    assert_eq!(frames_on(&a, "0", ma), 10);
    assert_same_transport(&a);
    assert_same_transport(&b);
}

#[test]
fn a_rolled_back_offer_leaves_the_call_as_it_was_and_the_change_pending() {
    let (mut now, mut a, mut b, _) = connected();
    let before = a.pc.transceivers();
    let extra = a.pc.add_transceiver(MediaKind::Video, true, true);
    let offer = a.pc.create_offer(now).unwrap();
    assert_eq!(mids_of(&offer).len(), 3);
    assert_eq!(a.pc.signaling_state(), SignalingState::HaveLocalOffer);
    a.pc.rollback().unwrap();
    assert_eq!(a.pc.signaling_state(), SignalingState::Stable);
    assert!(matches!(
        a.pc.rollback(),
        Err(PeerError::WrongState {
            state: SignalingState::Stable,
            ..
        })
    ));
    // The old transceivers as they were; the new one not on an m-line.
    let after = a.pc.transceivers();
    assert_eq!(&after[..before.len()], &before[..]);
    assert_eq!(after[before.len()].mid.as_deref(), Some(extra.as_str()));
    assert_eq!(after[before.len()].mline, None);
    assert!(a.pc.negotiation_needed());
    // The local description is the current one again: two m-lines.
    assert_eq!(mids_of(&a.pc.local_description().unwrap()).len(), 2);
    // The call goes on, and the next offer carries the change.
    send_video(&mut now, &mut a, &mut b, &["0"], &["0"]);
    assert_eq!(frames_on(&b, "0", 0), 10);
    let (offer, _) = renegotiate(now, &mut a, &mut b);
    assert_eq!(mids_of(&offer).len(), 3);
    // A remote offer can be rolled back too.
    b.pc.add_transceiver(MediaKind::Audio, true, true);
    let offer = b.pc.create_offer(now).unwrap();
    a.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    a.pc.rollback().unwrap();
    assert_eq!(a.pc.transceivers().len(), 3);
    assert_same_transport(&a);
}

#[test]
fn an_offer_whose_bundle_tagged_video_m_line_offers_only_h264_gets_a_working_answer() {
    let (mut now, mut a, mut b) = sides();
    a.pc.add_transceiver(MediaKind::Audio, true, true);
    b.pc.add_answer_track(MediaKind::Audio);
    let offer = a.pc.create_offer(now).unwrap();
    // The first (tagged) m-line offers H264 only, which we do not have.
    let h264 = offer
        .replace("a=rtpmap:96 VP8/90000", "a=rtpmap:96 H264/90000")
        .replace("a=rtpmap:97 rtx/90000\r\n", "")
        .replace("a=fmtp:97 apt=96\r\n", "")
        .replace(
            "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
            "m=video 9 UDP/TLS/RTP/SAVPF 96",
        );
    assert!(h264.contains("a=group:BUNDLE 0 1\r\nm=") || h264.contains("a=group:BUNDLE 0 1"));
    assert!(h264.contains("H264"), "{h264}");
    b.pc.set_remote_description(now, SdpType::Offer, &h264)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    // RFC 9143 §7.3.1: video rejected, audio tagged.
    assert_eq!(mids_of(&answer), [("0".into(), 0), ("1".into(), 9)]);
    assert!(answer.contains("a=group:BUNDLE 1\r\n"), "{answer}");
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    run_until_settled(&mut now, &mut a, &mut b);
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
    assert_eq!(a.pc.negotiated().unwrap().bundle_mid, "1");
    // Audio flows both ways.
    for i in 0..10u32 {
        let opus = PacketizedFrame::opus(vec![0xfc, i as u8].into(), i * 960);
        a.pc.send_frame(now, "1", &opus).unwrap();
        b.pc.send_frame(now, "1", &opus).unwrap();
        step(&mut now, &mut a, &mut b);
    }
    for _ in 0..20 {
        step(&mut now, &mut a, &mut b);
    }
    assert_eq!(frames_on(&a, "1", 0), 10);
    assert_eq!(frames_on(&b, "1", 0), 10);
    // The tag stays in a subsequent offer from a (RFC 9143 §7.3.3).
    let offer2 = a.pc.create_offer(now).unwrap();
    assert!(offer2.contains("a=group:BUNDLE 1\r\n"), "{offer2}");
}

#[test]
fn an_offer_with_a_data_channel_first_is_answered_with_the_data_m_line_tagged() {
    // Chromium's offer when data channels are created before the tracks
    // (m=application first, tagged): the data m-line is accepted (RFC
    // 8841) and carries the BUNDLE transport. (Rejecting a tagged m-line
    // moves the tag to the next one: see the sdp crate's tests.)
    let offer = "v=0\r\no=- 4215775240449105457 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Vd5O\r\na=ice-pwd:L4z8mWkOkjtUmk6GS9Pmc0dV\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 6F:3A:12:B2:1C:0D:53:E0:51:4E:39:A4:3B:84:18:C0:53:94:5E:90:31:28:2E:4B:66:DF:0E:5B:C8:11:0A:72\r\n\
a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Vd5O\r\na=ice-pwd:L4z8mWkOkjtUmk6GS9Pmc0dV\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 6F:3A:12:B2:1C:0D:53:E0:51:4E:39:A4:3B:84:18:C0:53:94:5E:90:31:28:2E:4B:66:DF:0E:5B:C8:11:0A:72\r\n\
a=setup:actpass\r\na=mid:1\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=sendrecv\r\n\
a=msid:- 7d1f0c1e-6a4b-4c43-9a4b-1c4b0b2f9c11\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1001 cname:abc\r\n";
    let (now, _, mut b) = sides();
    b.pc.add_answer_track(MediaKind::Audio);
    b.pc.set_remote_description(now, SdpType::Offer, offer)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    assert_eq!(mids_of(&answer), [("0".into(), 9), ("1".into(), 9)]);
    assert!(answer.contains("a=group:BUNDLE 0 1\r\n"), "{answer}");
    assert!(
        answer.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel"),
        "{answer}"
    );
    let n = b.pc.negotiated().unwrap();
    assert_eq!(n.bundle_mid, "0");
    assert_eq!(
        n.data.as_ref().unwrap().remote_max_message_size,
        Some(262_144)
    );
    assert_eq!(b.pc.negotiated().unwrap().remote_ufrag, "Vd5O");
    assert_eq!(b.pc.sending_mids(), [("1".to_string(), MediaKind::Audio)]);
}

/// The ufrag of a description's first m-line.
fn ufrag(sdp: &str) -> String {
    let d = SessionDescription::parse(sdp).unwrap();
    d.media[0].ice_credentials().unwrap().0.to_string()
}

#[test]
fn an_ice_restart_changes_both_sides_credentials_and_media_never_stops() {
    let (mut now, mut a, mut b, first_offer) = connected();
    let first_answer = b.pc.local_description().unwrap();
    a.pc.restart_ice();
    drain(&mut a);
    assert!(a.events.contains(&PeerEvent::NegotiationNeeded));
    let offer = a.pc.create_offer(now).unwrap();
    assert_ne!(ufrag(&offer), ufrag(&first_offer), "new credentials");
    // Media still flows while the offer is out: the old pair is kept.
    let (ma, mb) = (a.events.len(), b.events.len());
    send_video(&mut now, &mut a, &mut b, &["0"], &["0"]);
    assert_eq!(frames_on(&b, "0", mb), 10);
    assert_eq!(frames_on(&a, "0", ma), 10);
    // b sees the new credentials: it restarts too, in its answer.
    b.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    assert_ne!(ufrag(&answer), ufrag(&first_answer));
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    let (ma, mb) = (a.events.len(), b.events.len());
    send_video(&mut now, &mut a, &mut b, &["0"], &["0"]);
    assert_eq!(frames_on(&b, "0", mb), 10, "media during the new checks");
    assert_eq!(frames_on(&a, "0", ma), 10);
    run_until_settled(&mut now, &mut a, &mut b);
    drain(&mut a);
    // ICE went through checking again and selected a pair.
    let ice_states: Vec<_> = a
        .events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::IceStateChanged(s) => Some(*s),
            _ => None,
        })
        .collect();
    assert!(
        ice_states
            .iter()
            .filter(|s| **s == meshrtc_ice::IceState::New)
            .count()
            >= 1,
        "{ice_states:?}"
    );
    assert_eq!(a.pc.stats().ice_restarts, 1);
    assert_eq!(b.pc.stats().ice_restarts, 1);
    assert_eq!(a.pc.stats().selected_pair, Some((a.addr, b.addr)));
    let (ma, mb) = (a.events.len(), b.events.len());
    send_video(&mut now, &mut a, &mut b, &["0"], &["0"]);
    assert_eq!(frames_on(&b, "0", mb), 10);
    assert_eq!(frames_on(&a, "0", ma), 10);
    assert_same_transport(&a);
    assert_same_transport(&b);
}

#[test]
fn a_crossing_offer_implicitly_rolls_back_the_polite_sides_offer_which_is_offered_again_after() {
    let (mut now, mut a, mut b, _) = connected();
    let b_before = b.pc.transceivers();
    let a_new = a.pc.add_transceiver(MediaKind::Video, true, true);
    let b_new = b.pc.add_transceiver(MediaKind::Video, true, true);
    let offer_a = a.pc.create_offer(now).unwrap();
    let offer_b = b.pc.create_offer(now).unwrap();
    assert_eq!(mids_of(&offer_b).len(), 3);
    drain(&mut b);
    let events_before = b.events.len();
    // b is polite: the peer's offer rolls its own back in the same call
    // (W3C setRemoteDescription(offer) in have-local-offer).
    assert!(b.pc.set_remote_offer_with_rollback(now, &offer_a).unwrap());
    assert_eq!(b.pc.signaling_state(), SignalingState::HaveRemoteOffer);
    assert_eq!(b.pc.stats().implicit_rollbacks, 1);
    // Our offer is gone: the local description is the current one again.
    assert_eq!(mids_of(&b.pc.local_description().unwrap()).len(), 2);
    // The transceivers as before our offer: the old ones unchanged, ours
    // off its m-line (renamed: a's new m-line took its mid), and one for
    // a's new m-line.
    let after = b.pc.transceivers();
    assert_eq!(&after[..b_before.len()], &b_before[..]);
    let ours = &after[b_before.len()];
    assert_eq!((ours.mline, ours.send), (None, true));
    assert_ne!(ours.mid.as_deref(), Some(a_new.as_str()));
    assert!(after
        .iter()
        .any(|t| t.mid.as_deref() == Some(a_new.as_str()) && t.receive));
    drain(&mut b);
    // No negotiation-needed while the peer's offer is outstanding.
    assert!(!b.events[events_before..]
        .iter()
        .any(|e| matches!(e, PeerEvent::NegotiationNeeded)));
    let answer = b.pc.create_answer(now).unwrap();
    assert_eq!(
        mids_of(&answer)
            .into_iter()
            .map(|m| m.0)
            .collect::<Vec<_>>(),
        ["0", "1", a_new.as_str()]
    );
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    // Stable again: now b's change needs an offer, and it is made.
    drain(&mut b);
    assert!(b.events[events_before..]
        .iter()
        .any(|e| matches!(e, PeerEvent::NegotiationNeeded)));
    assert!(b.pc.negotiation_needed());
    let renamed = b.pc.transceivers()[b_before.len()].mid.clone().unwrap();
    assert_ne!(renamed, b_new);
    let (offer, _) = renegotiate(now, &mut b, &mut a);
    assert_eq!(mids_of(&offer).len(), 4);
    let (ma, mb) = (a.events.len(), b.events.len());
    send_video(&mut now, &mut a, &mut b, &["0", &a_new], &["0", &renamed]);
    assert_eq!(frames_on(&b, &a_new, mb), 10);
    assert_eq!(frames_on(&a, &renamed, ma), 10);
    assert_same_transport(&a);
    assert_same_transport(&b);
}

#[test]
fn an_offer_with_rollback_in_the_stable_state_is_a_plain_remote_offer() {
    let (mut now, mut a, mut b, _) = connected();
    let new = a.pc.add_transceiver(MediaKind::Video, true, true);
    let offer = a.pc.create_offer(now).unwrap();
    assert!(!b.pc.set_remote_offer_with_rollback(now, &offer).unwrap());
    let answer = b.pc.create_answer(now).unwrap();
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    assert_eq!(b.pc.stats().implicit_rollbacks, 0);
    let mb = b.events.len();
    send_video(&mut now, &mut a, &mut b, &[&new], &[]);
    assert_eq!(frames_on(&b, &new, mb), 10);
    assert_eq!(b.pc.signaling_state(), SignalingState::Stable);
}

#[test]
fn a_bad_offer_after_an_implicit_rollback_leaves_the_rollback_in_place() {
    let (mut now, mut a, mut b, _) = connected();
    let before = b.pc.transceivers();
    b.pc.add_transceiver(MediaKind::Audio, true, true);
    b.pc.create_offer(now).unwrap();
    drain(&mut b);
    let from = b.events.len();
    // An offer that drops m-lines of the call is refused (RFC 8829 §5.10)
    // after our offer was rolled back.
    let (_, mut lone, _) = sides();
    let bad = lone.pc.create_offer(now).unwrap();
    let e = b.pc.set_remote_offer_with_rollback(now, &bad);
    assert!(e.is_err(), "{e:?}");
    assert_eq!(b.pc.signaling_state(), SignalingState::Stable);
    assert_eq!(&b.pc.transceivers()[..before.len()], &before[..]);
    assert_eq!(b.pc.transceivers()[before.len()].mline, None);
    assert_eq!(mids_of(&b.pc.local_description().unwrap()).len(), 2);
    // Our change still waits for an offer, and the call goes on.
    drain(&mut b);
    assert!(b.pc.negotiation_needed());
    assert!(b.events[from..]
        .iter()
        .any(|e| matches!(e, PeerEvent::NegotiationNeeded)));
    send_video(&mut now, &mut a, &mut b, &["0"], &["0"]);
    assert_eq!(frames_on(&b, "0", from), 10);
    let (offer, _) = renegotiate(now, &mut b, &mut a);
    assert_eq!(mids_of(&offer).len(), 3);
    assert_same_transport(&b);
}

#[test]
fn first_offers_that_cross_are_resolved_by_an_implicit_rollback_and_the_answerer_is_ice_controlled()
{
    let (mut now, mut a, mut b) = sides();
    // Both make a first offer at once (a call both sides start).
    b.pc.add_transceiver(MediaKind::Audio, true, true);
    let offer_a = a.pc.create_offer(now).unwrap();
    b.pc.create_offer(now).unwrap();
    assert_eq!(b.pc.stats().ice_controlling, Some(true));
    assert!(b.pc.set_remote_offer_with_rollback(now, &offer_a).unwrap());
    // The answerer is ICE controlled (RFC 8445 §6.1.1), its agent kept.
    assert_eq!(b.pc.stats().ice_controlling, Some(false));
    let answer = b.pc.create_answer(now).unwrap();
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    run_until_settled(&mut now, &mut a, &mut b);
    assert_same_transport(&a);
    assert_eq!(a.pc.stats().ice_controlling, Some(true));
    assert_eq!(a.pc.stats().dtls_role, Some("server"));
    assert_eq!(b.pc.stats().dtls_role, Some("client"));
    // b's audio, rolled back, goes in its next offer; video flows now.
    let mb = b.events.len();
    send_video(&mut now, &mut a, &mut b, &["0"], &[]);
    assert_eq!(frames_on(&b, "0", mb), 10);
    assert!(b.pc.negotiation_needed());
    let (offer, _) = renegotiate(now, &mut b, &mut a);
    assert!(offer.contains("m=audio"), "{offer}");
    assert_same_transport(&a);
    assert_same_transport(&b);
}

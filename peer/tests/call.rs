//! Two PeerConnections in memory: offer/answer, ICE, DTLS, SRTP, and
//! frames both ways.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_peer::{
    ConnectionState, DtlsVersions, OutboundStats, PacketizedFrame, PeerConfig, PeerConnection,
    PeerError, PeerEvent, SdpType, SignalingState,
};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;

mod pair;
use pair::*;

/// One side on 127.0.0.1:`port`, its configuration changed by `tune`.
fn side(seed: u64, port: u16, now: Instant, tune: impl Fn(&mut PeerConfig)) -> Side {
    let mut cfg = PeerConfig::with_fixed_seed(seed);
    tune(&mut cfg);
    let mut pc = PeerConnection::new(cfg, now).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    pc.add_local_address(addr);
    Side {
        pc,
        addr,
        events: vec![],
    }
}

/// a offers, b answers, both run until connected (or failed).
fn connect(now: &mut Instant, a: &mut Side, b: &mut Side) {
    let offer = a.pc.create_offer(*now).unwrap();
    b.pc.set_remote_description(*now, SdpType::Offer, &offer)
        .unwrap();
    let answer = b.pc.create_answer(*now).unwrap();
    a.pc.set_remote_description(*now, SdpType::Answer, &answer)
        .unwrap();
    run_until_settled(now, a, b);
}

#[test]
fn a_remote_description_that_is_not_sdp_is_an_error_and_changes_nothing() {
    let (now, mut a, _) = sides();
    for bad in ["", "hello", "v=0\r\no=- x\r\n", "v=1\r\n"] {
        let e =
            a.pc.set_remote_description(now, SdpType::Offer, bad)
                .unwrap_err();
        assert!(matches!(e, PeerError::Sdp(_)), "{bad:?}: {e:?}");
    }
    assert_eq!(a.pc.signaling_state(), SignalingState::Stable);
    // Still usable.
    assert!(a.pc.create_offer(now).is_ok());
}

#[test]
fn an_answer_for_an_offer_we_never_made_is_refused() {
    let (now, mut a, mut b) = sides();
    let offer = a.pc.create_offer(now).unwrap();
    b.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    let (_, mut c, _) = sides();
    let e =
        c.pc.set_remote_description(now, SdpType::Answer, &answer)
            .unwrap_err();
    assert!(
        matches!(
            e,
            PeerError::WrongState {
                state: SignalingState::Stable,
                ..
            }
        ),
        "{e:?}"
    );
    // And an offer while our own offer is outstanding.
    let e =
        a.pc.set_remote_description(now, SdpType::Offer, &offer)
            .unwrap_err();
    assert!(matches!(
        e,
        PeerError::WrongState {
            state: SignalingState::HaveLocalOffer,
            ..
        }
    ));
    // The real answer still works afterwards.
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
}

#[test]
fn a_wrong_fingerprint_fails_the_connection_on_both_sides() {
    for versions in [DtlsVersions::Dtls12Only, DtlsVersions::Both] {
        wrong_fingerprint(versions);
    }
}

fn wrong_fingerprint(versions: DtlsVersions) {
    let mut now = Instant::now();
    let mut a = side(1, 4001, now, |c| c.dtls_versions = versions);
    let mut b = side(2, 4002, now, |c| c.dtls_versions = versions);
    a.pc.add_transceiver(MediaKind::Video, true, true);
    b.pc.add_answer_track(MediaKind::Video);
    let offer = a.pc.create_offer(now).unwrap();
    b.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    // Swap b's fingerprint for another certificate's.
    let other = meshrtc_dtls::Certificate::generate("x").unwrap();
    let real = b.pc.certificate().fingerprint().to_string();
    let forged = answer.replace(&real, &other.fingerprint().to_string());
    assert_ne!(forged, answer);
    a.pc.set_remote_description(now, SdpType::Answer, &forged)
        .unwrap();
    run_until_settled(&mut now, &mut a, &mut b);
    assert_eq!(a.pc.state(), ConnectionState::Failed);
    // DTLS 1.2: a's bad_certificate alert is unauthenticated (sent before
    // its keys were in use), so b does not act on it: b's handshake runs
    // to its deadline and then names the alert. DTLS 1.3: the alert is
    // protected with the handshake keys (epoch 2), so b ends at once.
    for _ in 0..2000 {
        if b.pc.state() == ConnectionState::Failed {
            break;
        }
        step(&mut now, &mut a, &mut b);
    }
    drain(&mut b);
    assert_eq!(b.pc.state(), ConnectionState::Failed);
    let reason = |s: &Side| {
        s.events.iter().find_map(|e| match e {
            PeerEvent::Closed(r) => Some(r.clone()),
            _ => None,
        })
    };
    let ra = reason(&a).unwrap();
    assert!(ra.contains("fingerprint"), "{ra}");
    let rb = reason(&b).unwrap();
    if versions == DtlsVersions::Dtls12Only {
        assert!(
            rb.contains("timed out") && rb.contains("alert 42 (bad_certificate)"),
            "{rb}"
        );
    } else {
        // b, the client, finished first (RFC 8446 §2: the client's
        // Finished ends its side) and was failed by a's alert.
        assert!(rb.contains("alert 42"), "{rb}");
        assert_eq!(b.pc.stats().dtls_version, Some("DTLS 1.3"));
    }
}

#[test]
fn bad_srtp_tags_and_garbage_datagrams_are_counted_and_the_call_goes_on() {
    let (mut now, mut a, mut b) = sides();
    connect(&mut now, &mut a, &mut b);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
    let mid = a.pc.sending_mids()[0].0.clone();
    let mut pk = Vp8Packetizer::new(1);
    let frame = PacketizedFrame::vp8(&mut pk, vp8_frame(0, true, 500).into(), 0, 1100).unwrap();
    a.pc.send_frame(now, &mid, &frame).unwrap();
    // The packet leaves when the pacer lets it: follow a's timer.
    let t = loop {
        if let Some(t) = a.pc.poll_transmit() {
            if t.payload[0] >> 6 == 2 && !(192..=223).contains(&t.payload[1]) {
                break t;
            }
            continue;
        }
        now = a.pc.poll_timeout().unwrap().max(now);
        a.pc.handle_timeout(now);
    };
    // A flipped bit in the tag, then garbage of every class.
    let mut bad = t.payload.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    b.pc.handle_datagram(now, t.src, t.dst, &bad);
    assert_eq!(b.pc.stats().srtp_errors, 1);
    for g in [
        &[][..],
        &[0xff; 40],
        &[0x80, 96, 1],
        &[0x16, 0xfe, 0xfd],
        &[0, 1, 0, 0],
        &[0x81, 200, 0, 1],
    ] {
        b.pc.handle_datagram(now, t.src, t.dst, g);
    }
    let st = b.pc.stats();
    assert!(st.malformed + st.srtp_errors >= 5, "{st:?}");
    // The real packet still goes through, and the call stays up.
    b.pc.handle_datagram(now, t.src, t.dst, &t.payload);
    drain(&mut b);
    assert!(b.events.iter().any(|e| matches!(e, PeerEvent::Frame(_))));
    run_until_settled(&mut now, &mut a, &mut b);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
}

#[test]
fn offer_answer_connect_and_exchange_video_and_audio() {
    let (mut now, mut a, mut b) = sides();
    let video = "0";
    let audio = a.pc.add_transceiver(MediaKind::Audio, true, true);
    b.pc.add_answer_track(MediaKind::Audio);
    let offer = a.pc.create_offer(now).unwrap();
    assert!(offer.contains("a=setup:actpass"), "{offer}");
    b.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    assert!(answer.contains("a=setup:active"), "{answer}");
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();

    for _ in 0..500 {
        step(&mut now, &mut a, &mut b);
        if a.pc.state() == ConnectionState::Connected && b.pc.state() == ConnectionState::Connected
        {
            break;
        }
    }
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
    let sa = a.pc.stats();
    assert_eq!(sa.dtls_role, Some("server"));
    assert_eq!(b.pc.stats().dtls_role, Some("client"));
    assert_eq!(sa.srtp_profile, Some("SRTP_AEAD_AES_128_GCM"));

    // Frames from a to b and b to a.
    let mut pk = Vp8Packetizer::new(1);
    let b_mids = b.pc.sending_mids();
    let b_video = b_mids
        .iter()
        .find(|m| m.1 == MediaKind::Video)
        .unwrap()
        .0
        .clone();
    let b_audio = b_mids
        .iter()
        .find(|m| m.1 == MediaKind::Audio)
        .unwrap()
        .0
        .clone();
    for i in 0..30u32 {
        let f = vp8_frame(i, i == 0, if i == 0 { 9000 } else { 1500 });
        let frame = PacketizedFrame::vp8(&mut pk, f.into(), i * 3000, 1100).unwrap();
        a.pc.send_frame(now, video, &frame).unwrap();
        b.pc.send_frame(now, &b_video, &frame).unwrap();
        let opus = PacketizedFrame::opus(vec![0xfc, i as u8, 1, 2].into(), i * 960);
        a.pc.send_frame(now, &audio, &opus).unwrap();
        b.pc.send_frame(now, &b_audio, &opus).unwrap();
        step(&mut now, &mut a, &mut b);
    }
    // Paced: the timers now fire every few milliseconds, so run for a
    // simulated time long enough for two RTCP report rounds.
    let end = now + Duration::from_secs(3);
    while now < end {
        step(&mut now, &mut a, &mut b);
    }
    for (name, side) in [("a", &a), ("b", &b)] {
        let frames: Vec<_> = side
            .events
            .iter()
            .filter_map(|e| match e {
                PeerEvent::Frame(f) => Some(f),
                _ => None,
            })
            .collect();
        let video: Vec<_> = frames
            .iter()
            .filter(|f| f.kind == MediaKind::Video)
            .collect();
        let audio: Vec<_> = frames
            .iter()
            .filter(|f| f.kind == MediaKind::Audio)
            .collect();
        assert_eq!(video.len(), 30, "{name} video frames");
        assert_eq!(audio.len(), 30, "{name} audio frames");
        assert!(video[0].keyframe);
        assert_eq!(video[5].data, vp8_frame(5, false, 1500));
        assert_eq!(audio[7].data, [0xfc, 7, 1, 2]);
        let st = side.pc.stats();
        assert_eq!(st.inbound.len(), 2, "{name}: {:?}", st.inbound);
        assert_eq!(st.outbound.len(), 2);
        assert!(
            st.outbound.iter().all(|o| o.rtt_ms.is_some()),
            "{name}: RTT from reports {:?}",
            st.outbound
        );
        assert_eq!(st.srtp_errors, 0);
        assert_eq!(st.unroutable, 0, "{name}");
        // transport-cc both ways: each side reports what it received and
        // hears about what it sent.
        assert!(st.transport_feedbacks_sent > 0, "{name}: {st:?}");
        assert!(st.transport_feedbacks_received > 0, "{name}: {st:?}");
    }
    for sdp in [&offer, &answer] {
        assert!(sdp.contains("transport-wide-cc-extensions-01"), "{sdp}");
        assert!(sdp.contains("a=rtcp-fb:111 transport-cc"), "{sdp}");
    }
}

/// Without negotiated RTX a lost packet is not resent: a resend under its
/// old sequence number would reuse its SRTP index (the GCM nonce) for other
/// bytes, since the transport-wide sequence number changes.
/// One call with `profile` as the only SRTP profile, RTX on or off; frame 3
/// loses a packet so that b asks for it. Every packet a seals is checked
/// against everything it sealed before under the same SSRC and sequence
/// number (the SRTP index, RFC 3711 §3.3.1; the GCM nonce, RFC 7714
/// §8.1): the same index must never protect other bytes. Returns a's
/// outbound video stats and the packets a sent on other SSRCs than its
/// video's (RTX).
fn one_index_one_packet(profile: meshrtc_srtp::Profile, rtx: bool) -> (OutboundStats, usize) {
    let now0 = Instant::now();
    let mut now = now0;
    let tune = |cfg: &mut PeerConfig| {
        cfg.features.rtx = rtx;
        cfg.srtp_profiles = vec![profile];
    };
    let (mut a, mut b) = (side(1, 4001, now0, tune), side(2, 4002, now0, tune));
    let video = a.pc.add_transceiver(MediaKind::Video, true, true);
    b.pc.add_answer_track(MediaKind::Video);
    let offer = a.pc.create_offer(now).unwrap();
    assert_eq!(offer.contains("rtx/90000"), rtx, "{offer}");
    b.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    run_until_settled(&mut now, &mut a, &mut b);
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    assert_eq!(a.pc.stats().srtp_profile, Some(profile.name()));
    let video_ssrc = a.pc.stats().outbound[0].ssrc;

    let mut seen: std::collections::HashMap<(u32, u16), Vec<u8>> = Default::default();
    let mut other_ssrcs = 0;
    let mut pk = Vp8Packetizer::new(1);
    let mut dropped = false;
    for i in 0..20u32 {
        let f = vp8_frame(i, i == 0, 4000);
        let frame = PacketizedFrame::vp8(&mut pk, f.into(), i * 3000, 1100).unwrap();
        a.pc.send_frame(now, &video, &frame).unwrap();
        for _ in 0..20 {
            while let Some(t) = a.pc.poll_transmit() {
                let p = &t.payload;
                if p.len() > 12 && p[0] >> 6 == 2 && !(192..=223).contains(&p[1]) {
                    let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
                    let seq = u16::from_be_bytes([p[2], p[3]]);
                    if let Some(old) = seen.insert((ssrc, seq), p.clone()) {
                        assert_eq!(&old, p, "SRTP index {ssrc:#x}/{seq} sealed twice");
                    }
                    if ssrc != video_ssrc {
                        other_ssrcs += 1;
                    }
                    // Lose the second packet of frame 3.
                    if i == 3 && !dropped && seen.len() > 1 {
                        dropped = true;
                        continue;
                    }
                }
                b.pc.handle_datagram(now, t.src, t.dst, &t.payload);
            }
            deliver(now, &mut b, &mut a);
            drain(&mut a);
            drain(&mut b);
            now += Duration::from_millis(5);
            a.pc.handle_timeout(now);
            b.pc.handle_timeout(now);
        }
    }
    assert!(dropped);
    assert_eq!(b.pc.stats().srtp_errors, 0);
    let out = a.pc.stats().outbound[0].clone();
    assert!(
        out.nacks_received > 0,
        "b asked for the lost packet: {out:?}"
    );
    (out, other_ssrcs)
}

#[test]
fn no_srtp_index_carries_two_packets_with_any_profile_with_or_without_rtx() {
    for profile in meshrtc_srtp::Profile::ALL {
        // Without RTX the lost packet is not resent: resealing it would
        // put a new header under the old index.
        let (out, rtx_packets) = one_index_one_packet(profile, false);
        assert_eq!(out.retransmitted, 0, "{profile:?}: {out:?}");
        assert!(out.retransmissions_refused > 0, "{profile:?}: {out:?}");
        assert_eq!(rtx_packets, 0, "{profile:?}");
        // With RTX it goes on the RTX SSRC, under an index of its own.
        let (out, rtx_packets) = one_index_one_packet(profile, true);
        assert!(out.retransmitted > 0, "{profile:?}: {out:?}");
        assert!(rtx_packets > 0, "{profile:?}");
    }
}

#[test]
fn trickled_candidates_before_the_description_are_queued_and_used() {
    let (mut now, mut a, mut b) = sides();
    let offer = a.pc.create_offer(now).unwrap();
    drain(&mut a);
    // The offer without its candidates; they come by trickle, before it.
    let bare: String = offer
        .split("\r\n")
        .filter(|l| !l.starts_with("a=candidate") && !l.starts_with("a=end-of-candidates"))
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        .trim_end_matches("\r\n")
        .to_string()
        + "\r\n";
    let trickled: Vec<String> = a
        .events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::LocalCandidate(c) => Some(c.candidate.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(trickled.len(), 1, "one host candidate");
    assert!(trickled[0].starts_with("candidate:"), "{}", trickled[0]);
    for c in &trickled {
        b.pc.add_remote_candidate(now, Some(c)).unwrap();
    }
    b.pc.add_remote_candidate(now, None).unwrap();
    assert!(b
        .pc
        .add_remote_candidate(now, Some("candidate:garbage"))
        .is_err());
    b.pc.set_remote_description(now, SdpType::Offer, &bare)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    run_until_settled(&mut now, &mut a, &mut b);
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
}

#[test]
fn a_flood_of_trickled_candidates_before_the_description_is_bounded_in_count_and_bytes() {
    let (mut now, mut a, mut b) = sides();
    let offer = a.pc.create_offer(now).unwrap();
    drain(&mut a);
    let bare: String = offer
        .split("\r\n")
        .filter(|l| !l.starts_with("a=candidate") && !l.starts_with("a=end-of-candidates"))
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        .trim_end_matches("\r\n")
        .to_string()
        + "\r\n";
    let real: Vec<String> = a
        .events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::LocalCandidate(c) => Some(c.candidate.clone()),
            _ => None,
        })
        .collect();
    // The real candidate first, then 10,000 short ones: 100 are queued
    // in all.
    b.pc.add_remote_candidate(now, Some(&real[0])).unwrap();
    let mut refused = 0;
    for k in 0..10_000u32 {
        let c = format!(
            "candidate:{k} 1 udp 2122260223 10.{}.{}.{} 9 typ host",
            k / 65_536,
            (k / 256) % 256,
            k % 256
        );
        match b.pc.add_remote_candidate(now, Some(&c)) {
            Ok(()) => {}
            Err(PeerError::CandidateQueueFull { queued, bytes }) => {
                assert_eq!(queued, 100);
                assert!(bytes < 64 * 1024, "{bytes}");
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(refused, 10_000 - 99);
    assert_eq!(b.pc.stats().remote_candidates_dropped, refused);
    // End-of-candidates still gets in.
    b.pc.add_remote_candidate(now, None).unwrap();

    // On another connection, long candidates hit the 64 KiB bound first.
    let (now2, _, mut c) = sides();
    let long_ext = "x".repeat(1000);
    let mut taken = 0;
    for k in 0..1_000u32 {
        let cand = format!(
            "candidate:{k} 1 udp 2122260223 10.0.0.{} 9 typ host ext {long_ext}",
            k % 250
        );
        match c.pc.add_remote_candidate(now2, Some(&cand)) {
            Ok(()) => taken += 1,
            Err(PeerError::CandidateQueueFull { queued, bytes }) => {
                assert!(queued < 100, "{queued}");
                assert!(
                    bytes <= 64 * 1024 && bytes + cand.len() > 64 * 1024,
                    "{bytes}"
                );
            }
            Err(e) => panic!("{e}"),
        }
    }
    // About 1,050 bytes each: 62 fit in 64 KiB, far from the 100 count.
    assert!((60..=64).contains(&taken), "{taken}");

    // The first call connects on the real candidate.
    b.pc.set_remote_description(now, SdpType::Offer, &bare)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    run_until_settled(&mut now, &mut a, &mut b);
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
}

/// Datagrams that come before the ICE agent exists wait, bounded in count
/// (64) and in bytes (128 KiB for STUN and DTLS together): 4,000-byte
/// datagrams fill the bytes first.
#[test]
fn early_datagrams_are_held_within_a_byte_bound() {
    let (now, a, _) = sides();
    let mut a = a;
    let from: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let mut stun = vec![0u8; 4000];
    stun[1] = 1;
    for _ in 0..100 {
        a.pc.handle_datagram(now, from, a.addr, &stun);
    }
    // 128 KiB / 4,000 bytes = 32 held, 68 dropped and counted.
    assert_eq!(a.pc.stats().early_dropped, 68);
}

#[test]
fn dtls_that_arrives_before_the_answer_is_buffered_not_dropped() {
    let (mut now, mut a, mut b) = sides();
    let offer = a.pc.create_offer(now).unwrap();
    b.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    // The answer is slow to reach a: b's checks succeed (a answers them
    // with its own password), b picks a pair and sends its ClientHello.
    for _ in 0..40 {
        step(&mut now, &mut a, &mut b);
    }
    assert!(a.pc.stats().early_dropped == 0);
    assert_ne!(a.pc.state(), ConnectionState::Connected);
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    run_until_settled(&mut now, &mut a, &mut b);
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
}

#[test]
fn an_application_rtcp_compound_is_checked_protected_and_read_by_the_peer() {
    let (mut now, mut a, mut b) = sides();
    // An RR and a PLI for b's video, built by hand (RFC 3550 §6.4.2,
    // RFC 4585 §6.3.1).
    let pli = |media: u32| {
        let mut c = vec![0x80, 201, 0, 1, 0, 0, 0, 9];
        c.extend_from_slice(&[0x81, 206, 0, 2, 0, 0, 0, 9]);
        c.extend_from_slice(&media.to_be_bytes());
        c
    };
    assert!(matches!(
        a.pc.send_rtcp(&pli(1)),
        Err(PeerError::NotConnected)
    ));
    connect(&mut now, &mut a, &mut b);
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    let video = a.pc.stats().outbound[0].ssrc;
    // A compound whose length field runs past its end is refused, and
    // nothing leaves.
    while a.pc.poll_transmit().is_some() {}
    while b.pc.poll_transmit().is_some() {}
    let mut bad = pli(video);
    bad[3] = 9;
    assert!(matches!(b.pc.send_rtcp(&bad), Err(PeerError::Rtcp(_))));
    assert!(b.pc.poll_transmit().is_none());
    // The good one leaves SRTCP-protected (not the clear bytes) and a
    // counts it as a PLI for its video.
    b.pc.send_rtcp(&pli(video)).unwrap();
    let t = b.pc.poll_transmit().expect("the compound is sent");
    assert_ne!(&t.payload[..], &pli(video)[..]);
    // SRTCP adds the E flag and index (4 bytes) and the tag (10 bytes
    // for HMAC-SHA1-80, 16 for AEAD_AES_128_GCM): RFC 3711 §3.4, RFC 7714.
    let added = t.payload.len() - pli(video).len();
    assert!(added == 14 || added == 20, "{added} bytes added");
    a.pc.handle_datagram(now, t.src, t.dst, &t.payload);
    assert_eq!(a.pc.stats().outbound[0].plis_received, 1);
    b.pc.close();
    assert!(matches!(
        b.pc.send_rtcp(&pli(video)),
        Err(PeerError::Closed)
    ));
}

/// a sends small frames (about 50 kbit/s: an application-limited sender)
/// for three simulated seconds; returns a's and b's stats.
fn app_limited_call(rtx: bool) -> (meshrtc_peer::PeerStats, meshrtc_peer::PeerStats, u64) {
    let now0 = Instant::now();
    let mut now = now0;
    let tune = |cfg: &mut PeerConfig| cfg.features.rtx = rtx;
    let (mut a, mut b) = (side(1, 4001, now0, tune), side(2, 4002, now0, tune));
    let video = a.pc.add_transceiver(MediaKind::Video, true, true);
    b.pc.add_answer_track(MediaKind::Video);
    connect(&mut now, &mut a, &mut b);
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    let mut pk = Vp8Packetizer::new(1);
    let start = now;
    let mut next_frame = now;
    let mut i = 0u32;
    while now < start + Duration::from_secs(3) {
        if now >= next_frame {
            let frame =
                PacketizedFrame::vp8(&mut pk, vp8_frame(i, i == 0, 200).into(), i * 3000, 1100)
                    .unwrap();
            a.pc.send_frame(now, &video, &frame).unwrap();
            i += 1;
            next_frame += Duration::from_millis(33);
        }
        step(&mut now, &mut a, &mut b);
    }
    let frames = b
        .events
        .iter()
        .filter(|e| matches!(e, PeerEvent::Frame(_)))
        .count() as u64;
    assert!(
        frames + 2 >= u64::from(i),
        "b decoded {frames} of {i} frames"
    );
    (a.pc.stats(), b.pc.stats(), a.pc.target_bitrate().unwrap())
}

#[test]
fn probes_of_an_application_limited_sender_are_made_of_rtx_padding() {
    let (a, b, target) = app_limited_call(true);
    // The start-up probes (3x and 6x the 300 kbit/s start) need far more
    // than the ~50 kbit/s of media: the rest is padding on the RTX stream.
    assert!(a.padding_sent > 10, "{a:?}");
    // Only what was asked before the first media packet (the receiver
    // could not route an RTX stream before its media stream).
    assert!(a.padding_not_sent <= 2, "{a:?}");
    let pacer = a.pacer.as_ref().unwrap();
    assert!(pacer.sent_bytes[3] > 10_000, "{pacer:?}");
    assert!(b.inbound[0].rtx_received > 0, "{:?}", b.inbound[0]);
    assert_eq!(
        (b.srtp_errors, b.malformed, b.unroutable),
        (0, 0, 0),
        "{b:?}"
    );
    // The probes measured the (unlimited) path: the estimate rose above
    // the start rate although the media alone never exceeded 60 kbit/s.
    assert!(target > 600_000, "estimate {target}");

    // Without RTX there is nowhere to put padding: asked for, not sent,
    // and the estimate stays near what the media showed.
    let (a, _, target_without) = app_limited_call(false);
    assert_eq!(a.padding_sent, 0);
    assert!(a.padding_not_sent >= 5, "{a:?}");
    assert!(target_without < target, "{target_without} vs {target}");
}

#[test]
fn a_dropped_first_client_hello_is_sent_again_after_50_ms_not_the_servers_500() {
    // The peer's DTLS server is not up when our first ClientHello comes
    // (Firefox as offerer, issue 17): that datagram is lost.
    let (mut now, mut a, mut b) = sides();
    let (offer_to, answer_from) = (&mut a, &mut b);
    let offer = offer_to.pc.create_offer(now).unwrap();
    answer_from
        .pc
        .set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = answer_from.pc.create_answer(now).unwrap();
    offer_to
        .pc
        .set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    // b answered: it is the DTLS client. Its first handshake datagram
    // (content type 22) to a is dropped.
    let mut dropped: Option<Instant> = None;
    let mut connected = None;
    for _ in 0..200 {
        while let Some(t) = b.pc.poll_transmit() {
            if t.payload.first() == Some(&22) && dropped.is_none() {
                dropped = Some(now);
                continue;
            }
            a.pc.handle_datagram(now, t.src, t.dst, &t.payload);
        }
        deliver(now, &mut a, &mut b);
        if connected.is_none() && a.pc.is_connected() && b.pc.is_connected() {
            connected = Some(now);
            break;
        }
        let next = [a.pc.poll_timeout(), b.pc.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
        now = next.max(now).min(now + Duration::from_millis(5));
        a.pc.handle_timeout(now);
        b.pc.handle_timeout(now);
    }
    let lost_at = dropped.expect("a ClientHello was sent");
    let took = connected.expect("connected").duration_since(lost_at);
    assert!(
        took >= Duration::from_millis(50) && took < Duration::from_millis(60),
        "{took:?}"
    );
    let stats = b.pc.stats();
    assert_eq!(stats.dtls_role, Some("client"));
    // DTLS 1.3 by default: the timer's resend of the lost fragment, and
    // at most one more when the server's flight crosses it. A repeated
    // flight makes one resend, not one per record of it (that was 8 here).
    let resent = stats
        .dtls
        .map(|d| d.retransmissions)
        .or(stats.dtls13.as_ref().map(|d| d.retransmissions))
        .expect("DTLS counters");
    assert!((1..=2).contains(&resent), "{resent} resends");
}

/// DTLS 1.3: the client (b, the answerer) is done when it sends its
/// Finished, so its first media can reach the server (a) before that
/// Finished (reordered here on purpose). a holds the SRTP (bounded, over
/// the validated path) and reads it once the Finished gave it the keys:
/// the key frame is not lost.
#[test]
fn dtls13_client_media_that_overtakes_its_finished_is_held_and_decoded() {
    let (mut now, mut a, mut b) = sides();
    renegotiate(now, &mut a, &mut b);
    // Step until b (the DTLS client) is done; what b sends from then on
    // waits: its Finished.
    let mut held = Vec::new();
    for _ in 0..500 {
        deliver(now, &mut a, &mut b);
        while let Some(t) = b.pc.poll_transmit() {
            if b.pc.is_connected() {
                held.push(t);
            } else {
                a.pc.handle_datagram(now, t.src, t.dst, &t.payload);
            }
        }
        drain(&mut a);
        drain(&mut b);
        if b.pc.is_connected() {
            break;
        }
        now += Duration::from_millis(5);
        a.pc.handle_timeout(now);
        b.pc.handle_timeout(now);
    }
    assert!(b.pc.is_connected() && !a.pc.is_connected());
    assert!(!held.is_empty(), "b's Finished is held back");
    assert!(b.pc.stats().dtls13.is_some(), "DTLS 1.3 runs");
    // b's first key frame reaches a ahead of the Finished.
    let mid = b.pc.transceivers()[0].mid.clone().unwrap();
    let mut pk = Vp8Packetizer::new(1);
    let frame = PacketizedFrame::vp8(&mut pk, vp8_frame(0, true, 3000).into(), 0, 1100).unwrap();
    b.pc.send_frame(now, &mid, &frame).unwrap();
    // The pacer lets it out over a few milliseconds; b's DTLS (a repeat
    // of its Finished) keeps waiting.
    let mut media = 0;
    for _ in 0..20 {
        while let Some(t) = b.pc.poll_transmit() {
            if (128..192).contains(&t.payload[0]) {
                a.pc.handle_datagram(now, t.src, t.dst, &t.payload);
                media += 1;
            } else {
                held.push(t);
            }
        }
        now += Duration::from_millis(2);
        b.pc.handle_timeout(now);
    }
    assert!(media >= 3, "{media} packets");
    drain(&mut a);
    assert!(!a.events.iter().any(|e| matches!(e, PeerEvent::Frame(_))));
    assert_eq!(a.pc.stats().early_held, media);
    // Then the Finished: a connects and reads the held media.
    for t in held {
        a.pc.handle_datagram(now, t.src, t.dst, &t.payload);
    }
    drain(&mut a);
    assert!(a.pc.is_connected());
    let keyframes = |e: &PeerEvent| matches!(e, PeerEvent::Frame(f) if f.keyframe);
    assert_eq!(
        a.events.iter().filter(|e| keyframes(e)).count(),
        1,
        "the key frame arrived whole"
    );
    let st = a.pc.stats();
    assert_eq!((st.early_dropped, st.srtp_errors), (0, 0));
}

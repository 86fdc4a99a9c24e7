//! Two PeerConnections in memory: offer/answer, ICE, DTLS, SRTP, and
//! frames both ways.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_peer::{
    ConnectionState, PacketizedFrame, PeerConfig, PeerConnection, PeerEvent, Transmit,
};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;

struct Side {
    pc: PeerConnection,
    addr: SocketAddr,
    events: Vec<PeerEvent>,
}

fn deliver(now: Instant, from: &mut Side, to: &mut Side) -> usize {
    let mut n = 0;
    while let Some(Transmit { src, dst, payload }) = from.pc.poll_transmit() {
        if dst == to.addr {
            to.pc.handle_datagram(now, src, dst, &payload);
            n += 1;
        }
    }
    n
}

fn drain(s: &mut Side) {
    while let Some(e) = s.pc.poll_event() {
        s.events.push(e);
    }
}

fn step(now: &mut Instant, a: &mut Side, b: &mut Side) {
    for _ in 0..10 {
        let n = deliver(*now, a, b) + deliver(*now, b, a);
        drain(a);
        drain(b);
        if n == 0 {
            break;
        }
    }
    let next = [a.pc.poll_timeout(), b.pc.poll_timeout()]
        .into_iter()
        .flatten()
        .min();
    if let Some(t) = next {
        *now = (*now).max(t).min(*now + Duration::from_millis(20));
    } else {
        *now += Duration::from_millis(20);
    }
    a.pc.handle_timeout(*now);
    b.pc.handle_timeout(*now);
}

fn vp8_frame(i: u32, key: bool, len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|j| (j as u32 * 7 + i) as u8).collect();
    f[0] = if key { 0x10 } else { 0x11 };
    f
}

#[test]
fn offer_answer_connect_and_exchange_video_and_audio() {
    let mut now = Instant::now();
    let mut a = Side {
        pc: PeerConnection::new(PeerConfig::new(1), now).unwrap(),
        addr: "127.0.0.1:4001".parse().unwrap(),
        events: vec![],
    };
    let mut b = Side {
        pc: PeerConnection::new(PeerConfig::new(2), now).unwrap(),
        addr: "127.0.0.1:4002".parse().unwrap(),
        events: vec![],
    };
    a.pc.add_local_address(a.addr);
    b.pc.add_local_address(b.addr);
    let video = a.pc.add_transceiver(MediaKind::Video, true, true);
    let audio = a.pc.add_transceiver(MediaKind::Audio, true, true);
    b.pc.add_answer_track(MediaKind::Video);
    b.pc.add_answer_track(MediaKind::Audio);
    let offer = a.pc.create_offer(now).unwrap();
    assert!(offer.contains("a=setup:actpass"), "{offer}");
    b.pc.set_remote_description(now, &offer).unwrap();
    let answer = b.pc.create_answer(now).unwrap();
    assert!(answer.contains("a=setup:active"), "{answer}");
    a.pc.set_remote_description(now, &answer).unwrap();

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
        a.pc.send_frame(now, &video, &frame).unwrap();
        b.pc.send_frame(now, &b_video, &frame).unwrap();
        let opus = PacketizedFrame::opus(vec![0xfc, i as u8, 1, 2].into(), i * 960);
        a.pc.send_frame(now, &audio, &opus).unwrap();
        b.pc.send_frame(now, &b_audio, &opus).unwrap();
        step(&mut now, &mut a, &mut b);
    }
    for _ in 0..100 {
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
    }
}

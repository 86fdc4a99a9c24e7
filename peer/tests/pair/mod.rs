//! A pair of PeerConnections wired together in memory, stepped to their
//! timers (shared by the call and renegotiation tests).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_peer::{
    ConnectionState, PeerConfig, PeerConnection, PeerEvent, SdpType, SignalingState, Transmit,
};
use meshrtc_sdp::negotiate::MediaKind;

pub struct Side {
    pub pc: PeerConnection,
    pub addr: SocketAddr,
    pub events: Vec<PeerEvent>,
}

pub fn deliver(now: Instant, from: &mut Side, to: &mut Side) -> usize {
    deliver_lossy(now, from, to, &mut || false)
}

/// Delivers what `from` sends to `to`, but what `drop()` says to lose.
pub fn deliver_lossy(
    now: Instant,
    from: &mut Side,
    to: &mut Side,
    drop: &mut dyn FnMut() -> bool,
) -> usize {
    let mut n = 0;
    while let Some(Transmit { src, dst, payload }) = from.pc.poll_transmit() {
        if dst == to.addr && !drop() {
            to.pc.handle_datagram(now, src, dst, &payload);
            n += 1;
        }
    }
    n
}

pub fn drain(s: &mut Side) {
    while let Some(e) = s.pc.poll_event() {
        s.events.push(e);
    }
}

pub fn step(now: &mut Instant, a: &mut Side, b: &mut Side) {
    step_lossy(now, a, b, &mut || false)
}

/// Exchanges datagrams (losing what `drop()` says), then advances the
/// clock to the next timer, 20 ms at most.
pub fn step_lossy(now: &mut Instant, a: &mut Side, b: &mut Side, drop: &mut dyn FnMut() -> bool) {
    for _ in 0..10 {
        let n = deliver_lossy(*now, a, b, drop) + deliver_lossy(*now, b, a, drop);
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

pub fn vp8_frame(i: u32, key: bool, len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|j| (j as u32 * 7 + i) as u8).collect();
    f[0] = if key { 0x10 } else { 0x11 };
    f
}

pub fn run_until_settled(now: &mut Instant, a: &mut Side, b: &mut Side) {
    for _ in 0..500 {
        step(now, a, b);
        let done = |s: &ConnectionState| {
            matches!(
                s,
                ConnectionState::Connected | ConnectionState::Failed | ConnectionState::Closed
            )
        };
        if done(&a.pc.state()) && done(&b.pc.state()) {
            break;
        }
    }
}

/// a with a video transceiver to offer, b with a video track to answer.
pub fn sides() -> (Instant, Side, Side) {
    let now = Instant::now();
    let mut a = Side {
        pc: PeerConnection::new(PeerConfig::with_fixed_seed(1), now).unwrap(),
        addr: "127.0.0.1:4001".parse().unwrap(),
        events: vec![],
    };
    let mut b = Side {
        pc: PeerConnection::new(PeerConfig::with_fixed_seed(2), now).unwrap(),
        addr: "127.0.0.1:4002".parse().unwrap(),
        events: vec![],
    };
    a.pc.add_local_address(a.addr);
    b.pc.add_local_address(b.addr);
    a.pc.add_transceiver(MediaKind::Video, true, true);
    b.pc.add_answer_track(MediaKind::Video);
    (now, a, b)
}

/// `x` offers, `y` answers (a first or a subsequent negotiation).
/// Returns (offer, answer).
pub fn renegotiate(now: Instant, x: &mut Side, y: &mut Side) -> (String, String) {
    let offer = x.pc.create_offer(now).unwrap();
    y.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = y.pc.create_answer(now).unwrap();
    x.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    assert_eq!(x.pc.signaling_state(), SignalingState::Stable);
    assert_eq!(y.pc.signaling_state(), SignalingState::Stable);
    (offer, answer)
}

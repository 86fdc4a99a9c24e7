//! IPv6 host candidates: two PeerConnections on IPv6 addresses only, and a
//! dual-stack one, connect and carry media.

use std::time::Instant;

use meshrtc_peer::{ConnectionState, PacketizedFrame, PeerConfig, PeerConnection};
use meshrtc_sdp::negotiate::MediaKind;

mod pair;
use pair::*;

fn side(seed: u64, addrs: &[&str]) -> Side {
    let now = Instant::now();
    let mut pc = PeerConnection::new(PeerConfig::with_fixed_seed(seed), now).unwrap();
    for a in addrs {
        pc.add_local_address(a.parse().unwrap());
    }
    Side {
        pc,
        addr: addrs[0].parse().unwrap(),
        events: vec![],
    }
}

fn call(mut a: Side, mut b: Side) -> (Side, Side) {
    let mut now = Instant::now();
    a.pc.add_transceiver(MediaKind::Audio, true, true);
    b.pc.add_answer_track(MediaKind::Audio);
    let (offer, answer) = renegotiate(now, &mut a, &mut b);
    run_until_settled(&mut now, &mut a, &mut b);
    assert_eq!(a.pc.state(), ConnectionState::Connected, "{offer}");
    assert_eq!(b.pc.state(), ConnectionState::Connected, "{answer}");
    for i in 0..10u32 {
        let opus = PacketizedFrame::opus(vec![0xfc, i as u8].into(), i * 960);
        a.pc.send_frame(now, "0", &opus).unwrap();
        step(&mut now, &mut a, &mut b);
    }
    for _ in 0..20 {
        step(&mut now, &mut a, &mut b);
    }
    let got = b
        .events
        .iter()
        .filter(|e| matches!(e, meshrtc_peer::PeerEvent::Frame(_)))
        .count();
    assert_eq!(got, 10);
    (a, b)
}

#[test]
fn two_ipv6_only_peers_connect_on_ipv6_host_candidates() {
    let (a, b) = call(side(1, &["[fd00::1]:4001"]), side(2, &["[fd00::2]:4002"]));
    let offer = a.pc.local_description().unwrap();
    assert!(offer.contains(" fd00::1 4001 typ host"), "{offer}");
    assert_eq!(
        a.pc.stats().selected_pair,
        Some((a.addr, b.addr)),
        "an IPv6 pair"
    );
}

#[test]
fn a_dual_stack_peer_pairs_only_within_an_address_family() {
    let mut a = side(3, &["[fd00::1]:4001", "10.0.0.1:4001"]);
    let mut b = side(4, &["[fd00::2]:4002"]);
    let now = Instant::now();
    a.pc.add_transceiver(MediaKind::Audio, true, true);
    b.pc.add_answer_track(MediaKind::Audio);
    let (offer, _) = renegotiate(now, &mut a, &mut b);
    assert!(offer.contains(" fd00::1 4001 typ host"), "{offer}");
    assert!(offer.contains(" 10.0.0.1 4001 typ host"), "{offer}");
    // No check ever goes from one family to the other (RFC 8445
    // §6.1.2.2).
    let mut t = now;
    for _ in 0..50 {
        for s in [&mut a, &mut b] {
            while let Some(x) = s.pc.poll_transmit() {
                assert_eq!(x.src.is_ipv4(), x.dst.is_ipv4(), "{x:?}");
            }
        }
        t += std::time::Duration::from_millis(20);
        a.pc.handle_timeout(t);
        b.pc.handle_timeout(t);
    }
    // And the call itself runs on IPv6.
    call(
        side(5, &["[fd00::1]:4001", "10.0.0.1:4001"]),
        side(6, &["[fd00::2]:4002"]),
    );
}

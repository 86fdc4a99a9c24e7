//! Two associations over a deterministic lossy, reordering in-memory link.
#![allow(missing_docs)]

mod pair;

use std::time::Duration;

use meshrtc_sctp::chunk::{Chunk, DataChunk};
use meshrtc_sctp::packet::{Packet, PacketRepr};
use meshrtc_sctp::{Association, CloseReason, Error, Event, Reliability, State};
use pair::{config, Link, Pair};

fn lossy(loss: f64) -> Link {
    Link {
        loss,
        duplicate: 0.02,
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(15),
    }
}

/// Message `i` carries its index, so order and integrity can be checked.
fn payload(i: u32, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len)
        .map(|k| (k as u32).wrapping_mul(31).wrapping_add(i) as u8)
        .collect();
    if len >= 4 {
        v[..4].copy_from_slice(&i.to_be_bytes());
    }
    v
}

#[test]
fn simultaneous_open_establishes_both_sides_once() {
    let p = Pair::connected(Link::default(), 1);
    assert_eq!(p.a_events, vec![Event::Connected]);
    assert_eq!(p.b_events, vec![Event::Connected]);
}

#[test]
fn one_sided_open_establishes_through_the_cookie() {
    let mut p = Pair::new(config(1), config(2), Link::default(), 2);
    p.a.connect(p.now);
    p.run_until(Duration::from_secs(10), |p| {
        p.a.is_established() && p.b.is_established()
    });
    assert_eq!(p.a_events, vec![Event::Connected]);
    assert_eq!(p.b_events, vec![Event::Connected]);
    // INIT, INIT ACK, COOKIE ECHO, COOKIE ACK: 40 ms of link latency each way.
    assert_eq!(p.now - p.start, Duration::from_millis(80));
}

#[test]
fn handshake_survives_heavy_loss() {
    let mut p = Pair::new(config(1), config(2), lossy(0.3), 3);
    p.a.connect(p.now);
    p.b.connect(p.now);
    p.run_until(Duration::from_secs(600), |p| {
        p.a.is_established() && p.b.is_established()
    });
    assert!(
        p.a.is_established() && p.b.is_established(),
        "{:?} {:?} {:?} {:?} {:?}",
        p.a.state(),
        p.b.state(),
        p.now - p.start,
        p.a.stats(),
        p.b.stats()
    );
}

#[test]
fn ordered_and_unordered_messages_arrive_once_through_10_percent_loss() {
    let mut p = Pair::connected(lossy(0.10), 4);
    let n = 300u32;
    for i in 0..n {
        let stream = (i % 3) as u16;
        let ordered = stream != 2;
        p.a.send(
            p.now,
            stream,
            53,
            &payload(i, 4 + (i as usize * 37) % 3000),
            ordered,
            Reliability::Reliable,
        )
        .unwrap();
    }
    p.run_until(Duration::from_secs(300), |p| {
        p.messages_at_b().len() == n as usize
    });
    let msgs = p.messages_at_b();
    assert_eq!(msgs.len(), n as usize);
    let mut seen = vec![false; n as usize];
    let mut last_per_stream = [None::<u32>; 3];
    for m in msgs {
        let i = u32::from_be_bytes(m.data[..4].try_into().unwrap());
        assert_eq!(m.data, payload(i, m.data.len()), "message {i} intact");
        assert!(!seen[i as usize], "message {i} delivered twice");
        seen[i as usize] = true;
        assert_eq!(m.stream_id as u32, i % 3);
        if m.ordered {
            if let Some(prev) = last_per_stream[m.stream_id as usize] {
                assert!(
                    i > prev,
                    "stream {} out of order: {prev} then {i}",
                    m.stream_id
                );
            }
            last_per_stream[m.stream_id as usize] = Some(i);
        }
    }
    let s = p.a.stats();
    assert!(s.retransmissions > 0, "loss forces retransmissions: {s:?}");
    assert!(p.b.stats().duplicate_tsns > 0 || p.dropped > 0);
    assert!(
        p.cwnd_violations <= s.fast_retransmits,
        "{} sends beyond cwnd",
        p.cwnd_violations
    );
    // The association's own counter agrees, fast retransmissions excepted.
    assert_eq!(s.cwnd_overruns, 0);
}

#[test]
fn a_256_kib_message_is_fragmented_and_reassembled_under_loss() {
    let mut p = Pair::connected(lossy(0.10), 5);
    let big = payload(7, 256 * 1024);
    p.a.send(p.now, 1, 53, &big, true, Reliability::Reliable)
        .unwrap();
    p.b.send(p.now, 0, 51, b"the other way", true, Reliability::Reliable)
        .unwrap();
    p.run_until(Duration::from_secs(300), |p| !p.messages_at_b().is_empty());
    let msgs = p.messages_at_b();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].data.len(), big.len());
    assert!(msgs[0].data == big);
    assert!(p
        .a_events
        .iter()
        .any(|e| matches!(e, Event::Message(m) if m.data == b"the other way")));
    assert!(p.a.stats().fast_retransmits + p.a.stats().t3_expiries > 0);
    assert!(p.cwnd_violations <= p.a.stats().fast_retransmits);
}

#[test]
fn congestion_window_grows_on_a_clean_link_and_collapses_on_timeout() {
    let mut p = Pair::connected(Link::default(), 6);
    let initial = p.a.cwnd();
    assert_eq!(initial, 4380);
    for i in 0..200 {
        p.a.send(p.now, 0, 53, &payload(i, 1100), true, Reliability::Reliable)
            .unwrap();
    }
    p.run_until(Duration::from_secs(60), |p| p.messages_at_b().len() == 200);
    let grown = p.a.cwnd();
    assert!(
        grown > 4 * initial,
        "slow start grew cwnd from {initial} to {grown}"
    );
    // Now the link dies: T3 fires and cwnd drops to one MTU.
    p.a_to_b_filter = Some(Box::new(|_| false));
    p.a.send(p.now, 0, 53, &[1; 500], true, Reliability::Reliable)
        .unwrap();
    p.run_until(Duration::from_secs(3), |p| p.a.stats().t3_expiries > 0);
    assert_eq!(p.a.cwnd(), 1200);
    assert!(
        p.a.rto() >= Duration::from_millis(800),
        "RTO backed off: {:?}",
        p.a.rto()
    );
}

#[test]
fn sack_is_delayed_200_ms_for_one_packet_and_immediate_for_two() {
    let mut p = Pair::connected(Link::default(), 7);
    let sacks = p.b.stats().sacks_sent;
    p.a.send(p.now, 0, 53, b"one", true, Reliability::Reliable)
        .unwrap();
    let sent_at = p.now;
    p.run_until(Duration::from_secs(1), |p| p.b.stats().sacks_sent > sacks);
    // 20 ms to arrive, then the 200 ms delayed-ack timer.
    assert_eq!(p.now - sent_at, Duration::from_millis(220));
    let sacks = p.b.stats().sacks_sent;
    let t = p.now;
    p.a.send(t, 0, 53, &[1; 1100], true, Reliability::Reliable)
        .unwrap();
    p.a.send(t, 0, 53, &[2; 1100], true, Reliability::Reliable)
        .unwrap();
    p.run_until(Duration::from_secs(1), |p| p.b.stats().sacks_sent > sacks);
    assert_eq!(
        p.now - t,
        Duration::from_millis(20),
        "second packet acked at once"
    );
}

#[test]
fn graceful_shutdown_delivers_everything_then_closes_both() {
    let mut p = Pair::connected(lossy(0.1), 8);
    for i in 0..50 {
        p.a.send(p.now, 0, 53, &payload(i, 2000), true, Reliability::Reliable)
            .unwrap();
    }
    p.a.close(p.now);
    assert!(p
        .a
        .send(p.now, 0, 53, b"late", true, Reliability::Reliable)
        .is_err());
    p.run_until(Duration::from_secs(120), |p| {
        p.a.state() == State::Terminated && p.b.state() == State::Terminated
    });
    assert_eq!(p.messages_at_b().len(), 50);
    assert_eq!(
        p.a_events.last(),
        Some(&Event::Closed(CloseReason::Shutdown))
    );
    assert_eq!(
        p.b_events.last(),
        Some(&Event::Closed(CloseReason::Shutdown))
    );
}

#[test]
fn abort_ends_both_sides_at_once() {
    let mut p = Pair::connected(Link::default(), 9);
    p.a.abort();
    p.run_until(Duration::from_secs(1), |p| p.b.state() == State::Terminated);
    assert_eq!(
        p.a_events.last(),
        Some(&Event::Closed(CloseReason::AbortedLocally))
    );
    assert_eq!(
        p.b_events.last(),
        Some(&Event::Closed(CloseReason::AbortedByPeer))
    );
}

#[test]
fn a_vanished_peer_is_detected_by_heartbeats() {
    let mut p = Pair::connected(Link::default(), 10);
    p.a_to_b_filter = Some(Box::new(|_| false));
    p.b_to_a_filter = Some(Box::new(|_| false));
    p.run_until(Duration::from_secs(3600), |p| {
        p.a.state() == State::Terminated
    });
    assert_eq!(
        p.a_events.last(),
        Some(&Event::Closed(CloseReason::PeerUnreachable))
    );
}

#[test]
fn unanswered_init_gives_up_after_max_init_retransmits() {
    let mut a = Association::new(config(1));
    let t0 = std::time::Instant::now();
    a.connect(t0);
    let mut buf = Vec::new();
    let mut inits = 0;
    let mut now = t0;
    for _ in 0..100 {
        while a.poll_transmit(now, &mut buf) {
            inits += 1;
        }
        let Some(t) = a.poll_timeout() else { break };
        now = t;
        a.handle_timeout(now);
    }
    assert_eq!(inits, 9, "the INIT and 8 retransmissions");
    assert_eq!(
        a.poll_event(),
        Some(Event::Closed(CloseReason::InitTimeout))
    );
}

/// Packets from a stranger or a liar: each is refused with its own error
/// and counter, and the association carries on.
#[test]
fn hostile_packets_are_dropped_and_counted() {
    // DATA, not I-DATA: neither side offers interleaving.
    let (mut ca, mut cb) = (config(1), config(2));
    ca.interleaving = false;
    cb.interleaving = false;
    let mut p = Pair::connected_with(ca, cb, Link::default(), 11);
    // Capture one genuine DATA packet from a to b.
    p.a.send(p.now, 0, 53, b"genuine", true, Reliability::Reliable)
        .unwrap();
    let mut genuine = Vec::new();
    assert!(p.a.poll_transmit(p.now, &mut genuine));
    let b = &mut p.b;
    let now = p.now;

    let mut bad_crc = genuine.clone();
    bad_crc[20] ^= 1;
    assert!(matches!(
        b.handle_input(now, &bad_crc),
        Err(Error::BadChecksum { .. })
    ));

    let reseal = |mut v: Vec<u8>| {
        let mut pk = Packet::new_unchecked(&mut v[..]);
        pk.fill_checksum();
        v
    };
    let mut bad_tag = genuine.clone();
    bad_tag[4] ^= 0xff;
    let bad_tag = reseal(bad_tag);
    assert!(matches!(
        b.handle_input(now, &bad_tag),
        Err(Error::BadVerificationTag(_))
    ));

    let mut bad_port = genuine.clone();
    bad_port[0] = 0x77;
    let bad_port = reseal(bad_port);
    assert!(matches!(
        b.handle_input(now, &bad_port),
        Err(Error::BadPorts { .. })
    ));

    let mut lying_len = genuine.clone();
    lying_len[14..16].copy_from_slice(&4000u16.to_be_bytes());
    let lying_len = reseal(lying_len);
    assert!(matches!(
        b.handle_input(now, &lying_len),
        Err(Error::Truncated { .. })
    ));

    assert!(b.handle_input(now, &genuine[..7]).is_err());

    // A DATA chunk with a TSN far outside the window.
    let view = Packet::new_checked(&genuine[..]).unwrap();
    let repr = PacketRepr::parse(&view, meshrtc_sctp::packet::ChecksumPolicy::Required).unwrap();
    let Chunk::Data(d) = &repr.chunks[0] else {
        panic!("{repr:?}")
    };
    let far = PacketRepr {
        chunks: vec![Chunk::Data(DataChunk {
            tsn: d.tsn.wrapping_add(1_000_000),
            ..d.clone()
        })],
        ..repr.clone()
    };
    let mut far_bytes = Vec::new();
    far.emit(&mut far_bytes, false);
    b.handle_input(now, &far_bytes).unwrap();

    let s = b.stats();
    assert_eq!(s.dropped_bad_checksum, 1);
    assert_eq!(s.dropped_bad_tag, 1);
    assert_eq!(s.dropped_bad_ports, 1);
    assert_eq!(s.dropped_malformed, 2);
    assert_eq!(s.data_dropped, 1);
    // The genuine packet still gets through, once.
    b.handle_input(now, &genuine).unwrap();
    b.handle_input(now, &genuine).unwrap();
    assert_eq!(b.stats().duplicate_tsns, 1);
    let msgs: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
    assert_eq!(
        msgs.iter()
            .filter(|e| matches!(e, Event::Message(m) if m.data == b"genuine"))
            .count(),
        1
    );
}

#[test]
fn a_forged_cookie_is_refused() {
    let mut a = Association::new(config(1));
    let mut b = Association::new(config(2));
    let now = std::time::Instant::now();
    a.connect(now);
    let mut buf = Vec::new();
    assert!(a.poll_transmit(now, &mut buf));
    b.handle_input(now, &buf).unwrap();
    assert!(b.poll_transmit(now, &mut buf));
    a.handle_input(now, &buf).unwrap();
    assert!(a.poll_transmit(now, &mut buf)); // COOKIE ECHO
    let mut forged = buf.clone();
    forged[30] ^= 1;
    Packet::new_unchecked(&mut forged[..]).fill_checksum();
    b.handle_input(now, &forged).unwrap();
    assert_eq!(b.stats().bad_cookies, 1);
    assert_eq!(b.state(), State::Closed);
    b.handle_input(now, &buf).unwrap();
    assert_eq!(b.state(), State::Established);
}

#[test]
fn unknown_chunk_with_report_bits_is_answered_with_an_error() {
    let mut p = Pair::connected(Link::default(), 12);
    let mut buf = Vec::new();
    let repr = PacketRepr {
        src_port: 5000,
        dst_port: 5000,
        verification_tag: {
            // b's tag is what a puts on its packets.
            p.a.send(p.now, 0, 53, b"x", true, Reliability::Reliable)
                .unwrap();
            let mut t = Vec::new();
            assert!(p.a.poll_transmit(p.now, &mut t));
            u32::from_be_bytes(t[4..8].try_into().unwrap())
        },
        chunks: vec![Chunk::Unknown(meshrtc_sctp::chunk::RawChunk {
            ty: meshrtc_sctp::chunk::ChunkType(0xC7),
            flags: 0,
            value: &[1, 2, 3],
        })],
    };
    repr.emit(&mut buf, false);
    p.b.handle_input(p.now, &buf).unwrap();
    assert_eq!(p.b.stats().unknown_chunks, 1);
    let mut out = Vec::new();
    assert!(p.b.poll_transmit(p.now, &mut out));
    let view = Packet::new_checked(&out[..]).unwrap();
    let r = PacketRepr::parse(&view, meshrtc_sctp::packet::ChecksumPolicy::Required).unwrap();
    assert!(r
        .chunks
        .iter()
        .any(|c| matches!(c, Chunk::Error(causes) if causes[..2] == [0, 6])));
}

#[test]
fn zero_checksum_is_used_only_when_both_sides_offer_it() {
    let mut ca = config(1);
    let mut cb = config(2);
    ca.zero_checksum = true;
    cb.zero_checksum = true;
    let mut p = Pair::new(ca, cb, Link::default(), 13);
    p.a.connect(p.now);
    p.run_until(Duration::from_secs(5), |p| {
        p.a.is_established() && p.b.is_established()
    });
    p.a.send(p.now, 0, 53, b"zero", true, Reliability::Reliable)
        .unwrap();
    let mut buf = Vec::new();
    assert!(p.a.poll_transmit(p.now, &mut buf));
    assert_eq!(&buf[8..12], &[0, 0, 0, 0]);
    p.b.handle_input(p.now, &buf).unwrap();
    assert!(matches!(p.b.poll_event(), Some(Event::Message(m)) if m.data == b"zero"));

    // Only one side offers: CRC32c throughout.
    let mut ca = config(1);
    ca.zero_checksum = true;
    let mut p = Pair::new(ca, config(2), Link::default(), 14);
    p.a.connect(p.now);
    p.run_until(Duration::from_secs(5), |p| {
        p.a.is_established() && p.b.is_established()
    });
    p.a.send(p.now, 0, 53, b"crc", true, Reliability::Reliable)
        .unwrap();
    assert!(p.a.poll_transmit(p.now, &mut buf));
    Packet::new_checked(&buf[..])
        .unwrap()
        .verify_checksum()
        .unwrap();
}

/// A receiver whose application does not read: the buffer stays within
/// the window and the sender stops; once the messages are taken, a window
/// update restarts it.
#[test]
fn a_slow_reader_closes_the_window_and_a_window_update_reopens_it() {
    let mut cb = config(2);
    cb.receive_window = 64 * 1024;
    let mut p = Pair::new(config(1), cb, Link::default(), 15);
    p.a.connect(p.now);
    p.run_until(Duration::from_secs(5), |p| {
        p.a.is_established() && p.b.is_established()
    });
    for i in 0..100u32 {
        p.a.send(p.now, 0, 53, &payload(i, 4000), true, Reliability::Reliable)
            .unwrap();
    }
    // Move packets by hand for 3 virtual seconds without taking b's
    // messages (the pair would drain b's events).
    let mut buf = Vec::new();
    let mut now = p.now;
    let end = now + Duration::from_secs(3);
    let pump = |p: &mut Pair, now, buf: &mut Vec<u8>| {
        let mut moved = true;
        while moved {
            moved = false;
            while p.a.poll_transmit(now, buf) {
                let _ = p.b.handle_input(now, buf);
                moved = true;
            }
            while p.b.poll_transmit(now, buf) {
                let _ = p.a.handle_input(now, buf);
                moved = true;
            }
        }
    };
    while now < end {
        pump(&mut p, now, &mut buf);
        now = [p.a.poll_timeout(), p.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end)
            .clamp(now, end);
        p.a.handle_timeout(now);
        p.b.handle_timeout(now);
    }
    pump(&mut p, now, &mut buf);
    assert!(!p.b.poll_transmit(now, &mut buf), "b is quiet");
    // b took in at most its window: 16 messages of 4000 bytes fill 64 KiB;
    // what the sender pushed beyond (zero-window probes) was dropped.
    let b_stats = p.b.stats();
    let accepted = b_stats.data_chunks_received - b_stats.data_dropped;
    // Each message is four chunks (3 × 1172 + 484 bytes): at most the 16
    // messages that fit the window plus one.
    assert!(accepted <= 4 * 17, "{b_stats:?}");
    assert!(
        b_stats.data_dropped > 0,
        "the sender probed the closed window: {b_stats:?}"
    );
    // The application reads everything it was given, which reopens the
    // window.
    let mut taken = Vec::new();
    while let Some(e) = p.b.poll_event() {
        if let Event::Message(m) = e {
            taken.push(m);
        }
    }
    assert!(
        taken.len() >= 13,
        "b had delivered {} messages",
        taken.len()
    );
    assert!(
        p.b.poll_transmit(now, &mut buf),
        "a window update goes out at once"
    );
    let view = Packet::new_checked(&buf[..]).unwrap();
    let update = PacketRepr::parse(&view, meshrtc_sctp::packet::ChecksumPolicy::Required).unwrap();
    assert!(
        matches!(&update.chunks[0], Chunk::Sack(s) if s.a_rwnd >= 32 * 1024),
        "{update:?}"
    );
    p.now = now;
    p.a.handle_input(now, &buf).unwrap();
    p.run_until(Duration::from_secs(60), |p| {
        taken.len() + p.messages_at_b().len() == 100
    });
    taken.extend(p.messages_at_b().into_iter().cloned());
    assert_eq!(taken.len(), 100);
    for (i, m) in taken.iter().enumerate() {
        assert_eq!(m.data, payload(i as u32, 4000), "message {i}");
    }
}

/// Streams take turns between messages: a chat line queued behind a bulk
/// transfer on another stream goes out after the bulk message in progress,
/// not after the whole transfer.
#[test]
fn a_small_message_is_not_stuck_behind_another_streams_backlog() {
    let mut p = Pair::connected(Link::default(), 16);
    for i in 0..20 {
        p.a.send(
            p.now,
            1,
            53,
            &payload(i, 64 * 1024),
            true,
            Reliability::Reliable,
        )
        .unwrap();
    }
    p.a.send(
        p.now,
        2,
        51,
        b"\xff\xff\xff\xffchat",
        true,
        Reliability::Reliable,
    )
    .unwrap();
    p.run_until(Duration::from_secs(60), |p| p.messages_at_b().len() == 21);
    let streams: Vec<u16> = p.messages_at_b().iter().map(|m| m.stream_id).collect();
    let chat = streams.iter().position(|s| *s == 2).expect("chat arrived");
    assert!(
        chat <= 1,
        "chat delivered after {chat} bulk messages: {streams:?}"
    );
}

#[test]
fn a_message_above_our_max_message_size_is_dropped_counted_and_the_association_survives() {
    // b takes at most 64 KiB; a believes it may send 1 MiB (a peer that
    // ignores our a=max-message-size). The window (128 KiB) is smaller
    // than the message: only dropping it as it comes keeps b going.
    let mut ca = config(1);
    ca.max_message_size = 1 << 20;
    let mut cb = config(2);
    cb.max_receive_message_size = 64 * 1024;
    cb.receive_window = 128 * 1024;
    let mut p = Pair::new(ca, cb, lossy(0.05), 31);
    p.a.connect(p.now);
    p.b.connect(p.now);
    p.a.send(
        p.now,
        1,
        53,
        &payload(1, 1 << 20),
        true,
        Reliability::Reliable,
    )
    .unwrap();
    p.a.send(
        p.now,
        1,
        53,
        &payload(2, 64 * 1024),
        true,
        Reliability::Reliable,
    )
    .unwrap();
    p.a.send(p.now, 2, 51, b"after", false, Reliability::Reliable)
        .unwrap();
    p.run_until(Duration::from_secs(300), |p| p.messages_at_b().len() == 2);
    let got: Vec<&[u8]> = p.messages_at_b().iter().map(|m| &m.data[..]).collect();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&&payload(2, 64 * 1024)[..]));
    assert!(got.contains(&&b"after"[..]));
    assert_eq!(p.b.stats().oversized_messages, 1);
    assert!(p.a.is_established() && p.b.is_established());
    assert_eq!(p.a.stats().cwnd_overruns, 0);
}

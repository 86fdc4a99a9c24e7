//! Message interleaving (RFC 8260 I-DATA) between two associations in
//! memory: the negotiation, a small message overtaking a large one on
//! another stream, loss, partial reliability with I-FORWARD-TSN, and the
//! protocol violation of sending the kind that was not negotiated.
#![allow(missing_docs)]

mod pair;

use std::time::Duration;

use meshrtc_sctp::chunk::{Chunk, ChunkType, DataChunk, IDataChunk, RawChunk};
use meshrtc_sctp::packet::{Packet, PacketRepr};
use meshrtc_sctp::param::cause;
use meshrtc_sctp::{CloseReason, Config, Event, Reliability};
use pair::{config, Link, Pair};

const MIB: usize = 1024 * 1024;

fn big_config(seed: u8, interleaving: bool) -> Config {
    let mut c = config(seed);
    c.interleaving = interleaving;
    c.max_message_size = 2 * MIB;
    c.max_receive_message_size = 2 * MIB;
    c.receive_window = 4 * MIB;
    c
}

fn pair(a_offers: bool, b_offers: bool, link: Link, seed: u64) -> Pair {
    Pair::connected_with(big_config(1, a_offers), big_config(2, b_offers), link, seed)
}

#[test]
fn i_data_is_used_only_when_both_sides_offer_it() {
    for (a_offers, b_offers) in [(true, true), (true, false), (false, true), (false, false)] {
        let mut p = pair(a_offers, b_offers, Link::default(), 1);
        let both = a_offers && b_offers;
        assert_eq!(p.a.interleaving(), both, "{a_offers} {b_offers}");
        assert_eq!(p.b.interleaving(), both);
        assert_eq!(p.a.peer_init().map(|i| i.i_data), Some(b_offers));
        assert_eq!(p.b.peer_init().map(|i| i.i_data), Some(a_offers));
        p.a.send(p.now, 3, 53, &[9; 3000], true, Reliability::Reliable)
            .unwrap();
        p.run_until(Duration::from_secs(10), |p| !p.messages_at_b().is_empty());
        assert_eq!(p.messages_at_b()[0].data, vec![9; 3000]);
        let (sa, sb) = (p.a.stats(), p.b.stats());
        assert_eq!((sa.interleaving, sb.interleaving), (both, both));
        // Three fragments, as I-DATA or as DATA.
        assert_eq!(sa.i_data_chunks_sent, if both { 3 } else { 0 });
        assert_eq!(sb.i_data_chunks_received, if both { 3 } else { 0 });
        assert_eq!(sb.data_chunks_received, 3);
        assert_eq!(sb.protocol_violations, 0);
    }
}

/// Sends a 1 MiB message on stream 1, then 10 bytes on stream 2, and
/// returns where each was delivered in b's events.
fn large_then_small(interleave: bool) -> (usize, usize, Pair) {
    let mut p = pair(interleave, interleave, Link::default(), 2);
    let large: Vec<u8> = (0..MIB).map(|i| (i * 7 % 251) as u8).collect();
    p.a.send(p.now, 1, 53, &large, true, Reliability::Reliable)
        .unwrap();
    p.a.send(p.now, 2, 51, b"small-msg!", true, Reliability::Reliable)
        .unwrap();
    p.run_until(Duration::from_secs(60), |p| p.messages_at_b().len() == 2);
    let msgs = p.messages_at_b();
    assert_eq!(msgs.len(), 2);
    let at = |stream| msgs.iter().position(|m| m.stream_id == stream).unwrap();
    let (large_at, small_at) = (at(1), at(2));
    assert_eq!(msgs[large_at].data, large, "the large message is whole");
    assert_eq!(msgs[small_at].data, b"small-msg!");
    (large_at, small_at, p)
}

#[test]
fn with_i_data_a_small_message_overtakes_a_large_one_on_another_stream() {
    let (large_at, small_at, p) = large_then_small(true);
    assert!(small_at < large_at, "I-DATA: the small message comes first");
    // 1 MiB in fragments of 1168 bytes (1200 - 12 - 20), plus one.
    assert_eq!(p.a.stats().i_data_chunks_sent, 898 + 1);
    assert_eq!(p.b.stats().i_data_chunks_received, 899);
}

#[test]
fn with_data_the_small_message_waits_for_the_large_one() {
    let (large_at, small_at, p) = large_then_small(false);
    assert!(
        large_at < small_at,
        "DATA: fragments of one message keep consecutive TSNs (RFC 9260 §6.9)"
    );
    assert_eq!(p.b.stats().i_data_chunks_received, 0);
}

/// Drops every `n`th packet from a to b.
fn drop_every(n: u64) -> pair::Filter {
    let mut count = 0u64;
    Box::new(move |_| {
        count += 1;
        count % n != 0
    })
}

#[test]
fn interleaved_messages_survive_loss_with_their_bytes() {
    let mut p = pair(true, true, Link::default(), 3);
    p.a_to_b_filter = Some(drop_every(7));
    p.b_to_a_filter = Some(drop_every(11));
    let mut sent = Vec::new();
    for i in 0..24u32 {
        let stream = (i % 4) as u16;
        let len = [40_000usize, 1, 5_000, 123_457][i as usize % 4] + i as usize;
        let data: Vec<u8> = (0..len).map(|k| (k as u32 * 31 + i) as u8).collect();
        let ordered = stream != 3;
        p.a.send(p.now, stream, 53, &data, ordered, Reliability::Reliable)
            .unwrap();
        sent.push((stream, data));
    }
    p.run_until(Duration::from_secs(120), |p| p.messages_at_b().len() == 24);
    let msgs = p.messages_at_b();
    assert_eq!(msgs.len(), 24);
    for stream in 0..4u16 {
        let mut want: Vec<&Vec<u8>> = sent
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, d)| d)
            .collect();
        let mut got: Vec<&Vec<u8>> = msgs
            .iter()
            .filter(|m| m.stream_id == stream)
            .map(|m| &m.data)
            .collect();
        if stream == 3 {
            // Unordered: any order, same bytes.
            want.sort();
            got.sort();
        }
        assert_eq!(got, want, "stream {stream}");
    }
    let s = p.a.stats();
    assert!(s.retransmissions > 0, "{s:?}");
    assert_eq!(p.b.stats().protocol_violations, 0);
}

#[test]
fn partially_reliable_messages_are_skipped_by_i_forward_tsn() {
    let mut p = pair(true, true, Link::default(), 4);
    p.a_to_b_filter = Some(drop_every(5));
    let n = 120u32;
    for i in 0..n {
        let mut data = vec![0u8; 2500]; // three fragments each
        data[..4].copy_from_slice(&i.to_be_bytes());
        let (stream, ordered, rel) = match i % 3 {
            0 => (1, false, Reliability::MaxRetransmits(0)),
            1 => (2, true, Reliability::MaxRetransmits(0)),
            _ => (3, true, Reliability::Reliable),
        };
        p.a.send(p.now, stream, 53, &data, ordered, rel).unwrap();
    }
    p.run_until(Duration::from_secs(120), |p| {
        p.messages_at_b()
            .iter()
            .filter(|m| m.stream_id == 3)
            .count()
            == 40
    });
    p.run_until(Duration::from_secs(30), |p| p.a.flight_size() == 0);
    let msgs = p.messages_at_b();
    let index = |m: &&meshrtc_sctp::Message| u32::from_be_bytes(m.data[..4].try_into().unwrap());
    let of = |s: u16| -> Vec<u32> {
        msgs.iter()
            .filter(|m| m.stream_id == s)
            .map(index)
            .collect()
    };
    assert_eq!(of(3), (0..n).filter(|i| i % 3 == 2).collect::<Vec<_>>());
    // Ordered partially reliable: in order, some skipped.
    let ordered = of(2);
    assert!(ordered.windows(2).all(|w| w[0] < w[1]), "{ordered:?}");
    assert!(ordered.len() < 40, "{}", ordered.len());
    let unordered = of(1);
    assert!(unordered.len() < 40 && !unordered.is_empty());
    let s = p.a.stats();
    assert!(s.abandoned_messages > 0 && s.forward_tsns_sent > 0, "{s:?}");
    // Nothing of the skipped messages stays in b's receive buffer.
    assert_eq!(p.a.flight_size(), 0);
    assert_eq!(p.b.stats().protocol_violations, 0);
}

/// Re-encodes a captured packet from a with its first chunk replaced.
fn with_chunk(packet: &[u8], chunk: Chunk<'_>) -> Vec<u8> {
    let view = Packet::new_checked(packet).unwrap();
    let repr = PacketRepr::parse(&view, meshrtc_sctp::packet::ChecksumPolicy::Required).unwrap();
    let mut out = Vec::new();
    PacketRepr {
        chunks: vec![chunk],
        ..repr
    }
    .emit(&mut out, false);
    out
}

fn first_packet_with_data(p: &mut Pair) -> Vec<u8> {
    p.a.send(p.now, 0, 53, b"genuine", true, Reliability::Reliable)
        .unwrap();
    let mut buf = Vec::new();
    assert!(p.a.poll_transmit(p.now, &mut buf));
    buf
}

fn abort_cause(packet: &[u8]) -> Option<u16> {
    let view = Packet::new_checked(packet).ok()?;
    let repr = PacketRepr::parse(&view, meshrtc_sctp::packet::ChecksumPolicy::AllowZero).ok()?;
    match repr.chunks.first()? {
        Chunk::Abort { causes, .. } => Some(u16::from_be_bytes([causes[0], causes[1]])),
        _ => None,
    }
}

#[test]
fn data_where_i_data_was_negotiated_is_a_protocol_violation() {
    let mut p = pair(true, true, Link::default(), 5);
    let genuine = first_packet_with_data(&mut p);
    let bad = with_chunk(
        &genuine,
        Chunk::Data(DataChunk {
            tsn: 1,
            stream_id: 0,
            ssn: 0,
            ppid: 53,
            unordered: false,
            beginning: true,
            ending: true,
            immediate: false,
            payload: b"x",
        }),
    );
    p.b.handle_input(p.now, &bad).unwrap();
    assert_eq!(p.b.stats().protocol_violations, 1);
    assert_eq!(
        p.b.poll_event(),
        Some(Event::Closed(CloseReason::ProtocolViolation))
    );
    let mut out = Vec::new();
    assert!(p.b.poll_transmit(p.now, &mut out));
    assert_eq!(abort_cause(&out), Some(cause::PROTOCOL_VIOLATION));
}

#[test]
fn i_data_where_it_was_not_negotiated_is_a_protocol_violation() {
    let mut p = pair(true, false, Link::default(), 6);
    let genuine = first_packet_with_data(&mut p);
    let bad = with_chunk(
        &genuine,
        Chunk::IData(IDataChunk {
            tsn: 1,
            stream_id: 0,
            mid: 0,
            ppid_or_fsn: 53,
            unordered: false,
            beginning: true,
            ending: true,
            immediate: false,
            payload: b"x",
        }),
    );
    p.b.handle_input(p.now, &bad).unwrap();
    let s = p.b.stats();
    assert_eq!((s.protocol_violations, s.i_data_chunks_received), (1, 1));
    assert_eq!(
        p.b.poll_event(),
        Some(Event::Closed(CloseReason::ProtocolViolation))
    );
    let mut out = Vec::new();
    assert!(p.b.poll_transmit(p.now, &mut out));
    assert_eq!(abort_cause(&out), Some(cause::PROTOCOL_VIOLATION));
    // An I-FORWARD-TSN is refused the same way (RFC 8260 §2.3).
    let mut q = pair(false, true, Link::default(), 7);
    let genuine = first_packet_with_data(&mut q);
    let raw = [0u8, 0, 0, 5];
    let bad = with_chunk(
        &genuine,
        Chunk::Unknown(RawChunk {
            ty: ChunkType::I_FORWARD_TSN,
            flags: 0,
            value: &raw,
        }),
    );
    q.b.handle_input(q.now, &bad).unwrap();
    assert_eq!(q.b.stats().protocol_violations, 1);
}

//! Session logic: reception statistics and report blocks, RTT, NACK
//! generation, the RTX send buffer and sender statistics, against values
//! computed by hand from RFC 3550, 4585 and 4588.

use crate::rtcp::{nack_pairs, NackPair, ReportBlock};
use crate::session::{
    rtt_from_report_block, unwrap_rtx, NackConfig, NackGenerator, Padding, ReceiveStats, RtxConfig,
    SendBuffer, SendBufferConfig, SenderStats,
};
use crate::{RtpError, RtpHeader, RtpPacket};
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ----- ReceiveStats -----

#[test]
fn in_order_stream_reports_no_loss_and_zero_jitter() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new();
    // 20 ms Opus frames at 48 kHz: 960 ticks apart, arriving exactly 20 ms
    // apart after a constant 35 ms of network delay.
    for i in 0..100u32 {
        let at = t0 + ms(35) + ms(20) * i;
        s.on_packet(at, 1000 + i as u16, 5_000 + 960 * i, 48_000);
    }
    let b = s.report_block(t0 + ms(2100), 0xABCD);
    assert_eq!(
        b,
        ReportBlock {
            ssrc: 0xABCD,
            fraction_lost: 0,
            cumulative_lost: 0,
            highest_seq: 1099,
            jitter: 0,
            last_sr: 0,
            delay_since_last_sr: 0,
        }
    );
    assert_eq!((s.packets_expected(), s.packets_received()), (100, 100));
}

#[test]
fn loss_fraction_is_per_interval_and_cumulative_is_total() {
    let t = Instant::now();
    let mut s = ReceiveStats::new();
    // Interval 1: seq 0..100 without 10 and 20..=24: 6 of 100 lost.
    for seq in (0..100u16).filter(|&q| q != 10 && !(20..=24).contains(&q)) {
        s.on_packet(t, seq, 0, 90_000);
    }
    let b = s.report_block(t, 1);
    // 6 × 256 / 100 = 15.36 → 15.
    assert_eq!(
        (b.fraction_lost, b.cumulative_lost, b.highest_seq),
        (15, 6, 99)
    );
    // Interval 2: 100..200, nothing lost.
    for seq in 100..200u16 {
        s.on_packet(t, seq, 0, 90_000);
    }
    let b = s.report_block(t, 1);
    assert_eq!(
        (b.fraction_lost, b.cumulative_lost, b.highest_seq),
        (0, 6, 199)
    );
    // Interval 3: 200..210 plus duplicates of 205 and 206: 10 expected, 12
    // received, −2 lost in the interval → fraction 0 (RFC 3550 §A.3), and
    // duplicates count as received, so the total drops to 4.
    for seq in (200..210u16).chain([205, 206]) {
        s.on_packet(t, seq, 0, 90_000);
    }
    let b = s.report_block(t, 1);
    assert_eq!(
        (b.fraction_lost, b.cumulative_lost, b.highest_seq),
        (0, 4, 209)
    );
    // Interval 4: one of two lost: 128/256.
    s.on_packet(t, 211, 0, 90_000);
    let b = s.report_block(t, 1);
    assert_eq!((b.fraction_lost, b.cumulative_lost), (128, 5));
    // Nothing new: fraction 0, not a division by zero.
    assert_eq!(s.report_block(t, 1).fraction_lost, 0);
}

#[test]
fn sequence_wrap_counts_a_cycle_in_the_extended_highest() {
    let t = Instant::now();
    let mut s = ReceiveStats::new();
    // 65530..=65535 then 0..=5, with 65535 and 0 lost.
    for seq in (65530..65535u16).chain(1..=5) {
        s.on_packet(t, seq, 0, 90_000);
    }
    let b = s.report_block(t, 7);
    assert_eq!(b.highest_seq, (1 << 16) | 5);
    assert_eq!(b.cumulative_lost, 2);
    assert_eq!(b.fraction_lost, (2 * 256 / 12) as u8);
}

#[test]
fn reordered_packets_are_not_lost() {
    let t = Instant::now();
    let mut s = ReceiveStats::new();
    // The first two swapped, then 3 before 2.
    for seq in [5u16, 4, 6, 8, 7, 9] {
        s.on_packet(t, seq, 0, 90_000);
    }
    let b = s.report_block(t, 7);
    assert_eq!(
        (b.cumulative_lost, b.fraction_lost, b.highest_seq),
        (0, 0, 9)
    );
    assert_eq!(s.packets_expected(), 6);
}

#[test]
fn cumulative_lost_is_clamped_to_24_bits() {
    let t = Instant::now();
    let mut s = ReceiveStats::new();
    // Duplicates only: received grows, expected stays 1.
    for _ in 0..0x80_0005 {
        s.on_packet(t, 3, 0, 0);
    }
    assert_eq!(s.report_block(t, 1).cumulative_lost, -0x80_0000);
}

#[test]
fn jitter_with_alternating_arrival_offsets_converges_to_their_spread() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new();
    // 90 kHz video, a packet every 20 ms (1800 ticks), arriving alternately
    // 5 ms early and 5 ms late around a 50 ms delay: every transit
    // difference is 10 ms = 900 ticks, so J_n = 900 (1 − (15/16)^n).
    let mut expected = 0.0f64;
    for i in 0..400u32 {
        let delay = if i % 2 == 0 { ms(45) } else { ms(55) };
        s.on_packet(t0 + ms(20) * i + delay, i as u16, 1800 * i, 90_000);
        if i > 0 {
            expected += (900.0 - expected) / 16.0;
        }
        // The ×16 fixed point of §A.8 truncates, so it lags the real-valued
        // recursion by up to two ticks.
        let got = f64::from(s.jitter());
        assert!(
            (got - expected).abs() <= 2.0,
            "packet {i}: {got} vs {expected}"
        );
    }
    // The first steps by hand: 900 / 16 = 56.25, then 56.25 + 843.75 / 16.
    assert!((899..=900).contains(&s.report_block(t0, 1).jitter));
}

#[test]
fn jitter_first_steps_match_hand_computation() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new();
    // 8 kHz audio, 20 ms apart (160 ticks); the second packet is 10 ms late
    // (80 ticks), the rest on time: D = 80, then 80, then 0.
    let late = [ms(0), ms(10), ms(0), ms(0)];
    let mut seen = Vec::new();
    for (i, d) in late.iter().enumerate() {
        let i = i as u32;
        s.on_packet(t0 + ms(20) * i + *d, i as u16, 160 * i, 8000);
        seen.push(s.jitter());
    }
    // ×16 fixed point: 0 → 80 → 80+80−5 = 155 → 155−10 = 145; reported /16.
    assert_eq!(seen, [0, 5, 9, 9]);
}

#[test]
fn clock_rate_change_restarts_jitter() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new();
    s.on_packet(t0, 0, 0, 8000);
    s.on_packet(t0 + ms(30), 1, 160, 8000); // 10 ms late
    assert!(s.jitter() > 0);
    s.on_packet(t0 + ms(40), 2, 0, 48_000);
    assert_eq!(s.jitter(), 0);
}

#[test]
fn lsr_and_dlsr_come_from_the_last_sender_report() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new();
    s.on_packet(t0, 1, 0, 90_000);
    assert_eq!(
        (
            s.report_block(t0, 1).last_sr,
            s.report_block(t0, 1).delay_since_last_sr
        ),
        (0, 0)
    );
    s.on_sender_report(t0, 0xE000_1234_5678_9ABC);
    let b = s.report_block(t0 + ms(1500), 1);
    // Middle 32 bits; 1.5 s = 1.5 × 65536.
    assert_eq!((b.last_sr, b.delay_since_last_sr), (0x1234_5678, 98_304));
    s.on_sender_report(t0 + ms(2000), 0xE000_0000_0001_0000);
    let b = s.report_block(t0 + ms(2250), 1);
    assert_eq!((b.last_sr, b.delay_since_last_sr), (1, 16_384));
}

#[test]
fn rtt_matches_the_rfc3550_example() {
    // RFC 3550 §6.4.1: A = 0xb710:8a00, LSR = 0xb705:2000, DLSR = 0x0005:4000,
    // delay = 0x0006:2a00 = 6.1640625 s.
    let block = ReportBlock {
        last_sr: 0xb705_2000,
        delay_since_last_sr: 0x0005_4000,
        ..ReportBlock::default()
    };
    assert_eq!(
        rtt_from_report_block(0xb710_8a00, &block),
        Some(Duration::from_nanos(6_164_062_500))
    );
    // No SR echoed yet, or a result below zero.
    let none = ReportBlock {
        last_sr: 0,
        ..block
    };
    assert_eq!(rtt_from_report_block(0xb710_8a00, &none), None);
    assert_eq!(rtt_from_report_block(0xb705_2000, &block), None);
    // Across the wrap of the 32-bit NTP middle: 0x1000 = 62.5 ms.
    let wrap = ReportBlock {
        last_sr: 0xFFFF_F000,
        delay_since_last_sr: 0,
        ..block
    };
    assert_eq!(
        rtt_from_report_block(0, &wrap),
        Some(ms(62) + Duration::from_micros(500))
    );
}

// ----- NackGenerator -----

#[test]
fn single_loss_is_nacked_at_once_and_recovery_stops_it() {
    let t = Instant::now();
    let mut n = NackGenerator::default();
    for seq in [0u16, 1, 3] {
        n.on_packet(t, seq);
    }
    assert_eq!(n.poll_nack(t), Some(vec![2]));
    assert_eq!(n.poll_nack(t), None);
    // No RTT yet: the 20 ms floor.
    assert_eq!(n.poll_timeout(), Some(t + ms(20)));
    n.on_packet(t + ms(5), 2); // the retransmission
    assert_eq!(n.poll_timeout(), None);
    assert_eq!(n.poll_nack(t + ms(20)), None);
    let st = n.stats();
    assert_eq!(
        (st.missing, st.requested, st.recovered, st.given_up),
        (1, 1, 1, 0)
    );
}

#[test]
fn burst_loss_packs_into_one_nack_entry() {
    let t = Instant::now();
    let mut n = NackGenerator::default();
    n.on_packet(t, 0);
    n.on_packet(t, 10);
    let lost = n.poll_nack(t).unwrap_or_default();
    assert_eq!(lost, (1..=9).collect::<Vec<u16>>());
    let pairs: Vec<_> = nack_pairs(lost).collect();
    assert_eq!(pairs, [NackPair { pid: 1, blp: 0xFF }]);
}

#[test]
fn recovered_packets_leave_the_retry_list() {
    let t = Instant::now();
    let mut n = NackGenerator::default();
    n.on_packet(t, 0);
    n.on_packet(t, 5);
    assert_eq!(n.poll_nack(t), Some(vec![1, 2, 3, 4]));
    n.on_packet(t + ms(10), 3);
    n.on_packet(t + ms(11), 2);
    n.on_packet(t + ms(12), 2); // a duplicate changes nothing
    assert_eq!(n.poll_nack(t + ms(20)), Some(vec![1, 4]));
    assert_eq!(n.missing().collect::<Vec<_>>(), [1, 4]);
    assert_eq!(n.stats().recovered, 2);
}

#[test]
fn retries_are_spaced_by_one_and_a_half_rtt_with_a_floor() {
    let t = Instant::now();
    let mut n = NackGenerator::default();
    n.set_rtt(ms(100));
    n.on_packet(t, 0);
    n.on_packet(t, 2);
    assert_eq!(n.poll_nack(t), Some(vec![1]));
    assert_eq!(n.poll_timeout(), Some(t + ms(150)));
    assert_eq!(n.poll_nack(t + ms(149)), None);
    assert_eq!(n.poll_nack(t + ms(150)), Some(vec![1]));
    // A short RTT: the 20 ms floor wins over 1.5 × 4 ms.
    n.set_rtt(ms(4));
    assert_eq!(n.poll_timeout(), Some(t + ms(170)));
    assert_eq!(n.poll_nack(t + ms(169)), None);
    assert_eq!(n.poll_nack(t + ms(170)), Some(vec![1]));
    assert_eq!(n.stats().requested, 3);
}

#[test]
fn missing_packet_is_given_up_after_max_retries() {
    let t = Instant::now();
    let config = NackConfig {
        max_retries: 2,
        max_age: Duration::from_secs(10),
        ..NackConfig::default()
    };
    let mut n = NackGenerator::new(config);
    n.on_packet(t, 0);
    n.on_packet(t, 2);
    // The first request and two retries, 20 ms apart.
    for k in 0..3 {
        assert_eq!(n.poll_nack(t + ms(20) * k), Some(vec![1]), "request {k}");
    }
    assert_eq!(n.poll_timeout(), Some(t + ms(60)));
    assert_eq!(n.poll_nack(t + ms(60)), None);
    assert_eq!(n.poll_timeout(), None);
    let st = n.stats();
    assert_eq!((st.requested, st.given_up), (3, 1));
}

#[test]
fn missing_packet_is_given_up_after_max_age() {
    let t = Instant::now();
    let mut n = NackGenerator::default();
    n.set_rtt(ms(400)); // retries 600 ms apart
    n.on_packet(t, 0);
    n.on_packet(t, 2);
    assert_eq!(n.poll_nack(t), Some(vec![1]));
    assert_eq!(n.poll_nack(t + ms(600)), Some(vec![1]));
    // The next retry (1.2 s) would come after the 1 s age limit.
    assert_eq!(n.poll_timeout(), Some(t + ms(1000)));
    assert_eq!(n.poll_nack(t + ms(1000)), None);
    assert_eq!(n.missing().count(), 0);
    assert_eq!(n.stats().given_up, 1);
}

#[test]
fn gaps_across_the_sequence_wrap_are_nacked() {
    let t = Instant::now();
    let mut n = NackGenerator::default();
    n.on_packet(t, 65533);
    n.on_packet(t, 65534);
    n.on_packet(t, 1);
    let lost = n.poll_nack(t).unwrap_or_default();
    assert_eq!(lost, [65535, 0]);
    assert_eq!(
        nack_pairs(lost).collect::<Vec<_>>(),
        [NackPair { pid: 65535, blp: 1 }]
    );
    n.on_packet(t, 0);
    assert_eq!(n.missing().collect::<Vec<_>>(), [65535]);
}

#[test]
fn huge_jump_is_a_restart_not_thirty_thousand_nacks() {
    let t = Instant::now();
    let mut n = NackGenerator::default();
    n.on_packet(t, 100);
    n.on_packet(t, 102); // 101 missing
    n.on_packet(t, 30_102); // jump: nothing requested for it
    assert_eq!(n.missing().collect::<Vec<_>>(), [101]);
    n.on_packet(t, 30_103); // its successor: the stream restarted
    assert_eq!(n.missing().count(), 0);
    assert_eq!(n.poll_nack(t), None);
    n.on_packet(t, 30_105);
    assert_eq!(n.poll_nack(t), Some(vec![30_104]));
    let st = n.stats();
    assert_eq!((st.restarts, st.dropped, st.missing), (1, 1, 2));
}

#[test]
fn lone_far_packet_is_a_straggler_not_a_restart() {
    let t = Instant::now();
    let mut n = NackGenerator::default();
    n.on_packet(t, 100);
    n.on_packet(t, 40_000);
    n.on_packet(t, 101);
    n.on_packet(t, 103);
    assert_eq!(n.poll_nack(t), Some(vec![102]));
    assert_eq!(n.stats().restarts, 0);
}

#[test]
fn long_gap_keeps_only_the_newest_max_missing() {
    let t = Instant::now();
    let mut n = NackGenerator::default();
    n.on_packet(t, 0);
    n.on_packet(t, 2501); // 2500 missing, within max_gap
    let missing: Vec<u16> = n.missing().collect();
    assert_eq!(missing.len(), 1000);
    assert_eq!((missing[0], missing[999]), (1501, 2500));
    n.on_packet(t, 2503); // one more pushes the oldest out
    assert_eq!(n.missing().next(), Some(1502));
    let st = n.stats();
    assert_eq!((st.missing, st.dropped), (2501, 1501));
}

// ----- SendBuffer -----

fn rtx_buffer(capacity: usize) -> SendBuffer {
    let config = SendBufferConfig {
        capacity,
        rtx: Some(RtxConfig {
            ssrc: 0xBEEF,
            payload_type: 97,
            first_seq: 65535,
        }),
        ..SendBufferConfig::default()
    };
    SendBuffer::new(0xCAFE, 96, config)
}

#[test]
fn nack_rtx_round_trip_gives_the_original_packet_back() {
    let t = Instant::now();
    let mut b = rtx_buffer(1000);
    for seq in 0..5u16 {
        let payload = vec![seq as u8; 10 + usize::from(seq)];
        b.on_packet_sent(
            t,
            65533u16.wrapping_add(seq),
            9000,
            seq == 4,
            &[&[0x90], &payload],
        )
        .unwrap();
    }
    // seq 65535 (index 2) and 1 (index 4, the marker) lost.
    assert_eq!(b.on_nack(t + ms(40), [65535, 1]), 2);
    let mut header = RtpHeader::default();
    header.extensions.set(3, &[0x12, 0x34]).unwrap();
    let mut out = Vec::new();
    let mut datagrams = Vec::new();
    while let Some(r) = b.poll_retransmit() {
        out.clear();
        r.write(&mut header, &mut out).unwrap();
        datagrams.push(out.clone());
    }
    assert_eq!(datagrams.len(), 2);
    for (d, (rtx_seq, orig, idx, marker)) in datagrams
        .iter()
        .zip([(65535u16, 65535u16, 2u8, false), (0, 1, 4, true)])
    {
        let p = RtpPacket::parse(d).unwrap();
        assert_eq!((p.ssrc(), p.payload_type()), (0xBEEF, 97));
        assert_eq!(
            (p.sequence_number(), p.timestamp(), p.marker()),
            (rtx_seq, 9000, marker)
        );
        assert_eq!(p.extension_by_id(3), Some(&[0x12, 0x34][..]));
        let (seq, payload) = unwrap_rtx(p.payload()).unwrap();
        assert_eq!(seq, orig);
        let mut original = vec![0x90];
        original.resize(1 + 10 + usize::from(idx), idx);
        assert_eq!(payload, &original[..]);
    }
    assert_eq!(b.stats().retransmitted, 2);
}

#[test]
fn padding_is_an_rtx_copy_of_a_recent_packet_that_fits_or_padding_alone() {
    let t = Instant::now();
    let mut b = rtx_buffer(1000);
    // Before anything was sent: a padding-only packet on the RTX stream.
    match b.poll_padding(t, 1200) {
        Some(Padding::Empty {
            ssrc,
            payload_type,
            sequence_number,
            timestamp,
        }) => assert_eq!(
            (ssrc, payload_type, sequence_number, timestamp),
            (0xBEEF, 97, 65535, 0)
        ),
        other => panic!("{other:?}"),
    }
    b.on_packet_sent(t, 10, 3000, false, &[&[7u8; 1000]])
        .unwrap();
    b.on_packet_sent(t, 11, 6000, true, &[&[8u8; 100]]).unwrap();
    // The newest that fits (payload + 2 bytes of OSN): seq 11, as RTX.
    let Some(Padding::Resend(r)) = b.poll_padding(t + ms(10), 1200) else {
        panic!("a resend")
    };
    assert_eq!((r.ssrc, r.payload_type, r.sequence_number), (0xBEEF, 97, 0));
    assert_eq!(
        (r.original_seq, r.timestamp, r.marker),
        (Some(11), 6000, true)
    );
    assert_eq!(r.payload, &[8u8; 100][..]);
    // Too small for either packet: padding alone, the next RTX number.
    assert!(matches!(
        b.poll_padding(t + ms(10), 50),
        Some(Padding::Empty {
            sequence_number: 1,
            timestamp: 6000,
            ..
        })
    ));
    // Older than max_age (1 s): not resent.
    assert!(matches!(
        b.poll_padding(t + ms(1500), 1200),
        Some(Padding::Empty {
            sequence_number: 2,
            ..
        })
    ));
    let st = b.stats();
    assert_eq!((st.padding_resent, st.padding_empty), (1, 3));
    // No RTX stream: no padding (it would take media sequence numbers).
    let mut plain = SendBuffer::new(0xCAFE, 96, SendBufferConfig::default());
    plain.on_packet_sent(t, 1, 0, false, &[&[1u8; 10]]).unwrap();
    assert!(plain.poll_padding(t, 1200).is_none());
}

#[test]
fn without_rtx_the_original_packet_is_resent_byte_for_byte() {
    let t = Instant::now();
    let mut b = SendBuffer::new(0xCAFE, 96, SendBufferConfig::default());
    let header = RtpHeader {
        ssrc: 0xCAFE,
        payload_type: 96,
        sequence_number: 777,
        timestamp: 123_456,
        marker: true,
        ..RtpHeader::default()
    };
    let mut sent = Vec::new();
    header.write_packet(b"media bytes", 0, &mut sent).unwrap();
    b.on_packet_sent(t, 777, 123_456, true, &[b"media bytes"])
        .unwrap();
    assert_eq!(b.on_nack(t, [777]), 1);
    let mut resent = Vec::new();
    let r = b.poll_retransmit().unwrap();
    assert_eq!(r.original_seq, None);
    r.write(&mut RtpHeader::default(), &mut resent).unwrap();
    assert_eq!(resent, sent);
    assert!(b.poll_retransmit().is_none());
}

#[test]
fn nacks_for_packets_not_in_the_buffer_are_counted() {
    let t = Instant::now();
    let mut b = rtx_buffer(4);
    assert_eq!(b.on_nack(t, [1, 2]), 0); // nothing sent yet
    for seq in 10..20u16 {
        b.on_packet_sent(t, seq, 0, false, &[b"x"]).unwrap();
    }
    // 10..16 overwritten by 16..20, 500 never sent.
    assert_eq!(b.on_nack(t, [10, 15, 16, 19, 500]), 2);
    assert_eq!(b.stats().nack_missed, 2 + 3);
    // Too old to help.
    assert_eq!(b.on_nack(t + ms(1001), [17]), 0);
    assert_eq!(b.stats().nack_missed, 6);
    // Queued, then overwritten before the poll: 20 and 21 take the slots
    // of 16 and 17, so only 19 is left to resend.
    assert_eq!(b.on_nack(t, [17]), 1);
    b.on_packet_sent(t, 20, 0, false, &[b"x"]).unwrap();
    b.on_packet_sent(t, 21, 0, false, &[b"x"]).unwrap();
    let polled: Vec<u16> =
        std::iter::from_fn(|| b.poll_retransmit().and_then(|r| r.original_seq)).collect();
    assert_eq!(polled, [19]);
    assert_eq!(b.stats().nack_missed, 8);
}

#[test]
fn ring_slots_reuse_their_buffers() {
    let t = Instant::now();
    let mut b = rtx_buffer(4);
    let payload = [7u8; 200];
    for seq in 0..4u16 {
        b.on_packet_sent(t, seq, 0, false, &[&payload]).unwrap();
    }
    b.on_nack(t, [0]);
    let first = b.poll_retransmit().unwrap().payload.as_ptr();
    for seq in 4..8u16 {
        b.on_packet_sent(t, seq, u32::from(seq), false, &[&payload])
            .unwrap();
    }
    b.on_nack(t, [4]);
    let r = b.poll_retransmit().unwrap();
    assert_eq!((r.original_seq, r.timestamp), (Some(4), 4));
    assert_eq!(r.payload.as_ptr(), first, "slot 0 kept its allocation");
}

#[test]
fn zero_capacity_is_taken_as_one_slot() {
    let t = Instant::now();
    let mut b = SendBuffer::new(
        1,
        96,
        SendBufferConfig {
            capacity: 0,
            ..Default::default()
        },
    );
    b.on_packet_sent(t, 1, 0, false, &[b"a"]).unwrap();
    b.on_packet_sent(t, 2, 0, false, &[b"b"]).unwrap();
    assert_eq!(b.on_nack(t, [1, 2]), 1);
    assert_eq!(b.poll_retransmit().map(|r| r.payload), Some(&b"b"[..]));
    assert_eq!(b.stats().nack_missed, 1);
}

#[test]
fn one_packet_is_resent_at_most_once_per_interval() {
    let t = Instant::now();
    let mut b = rtx_buffer(100);
    b.on_packet_sent(t, 3, 0, false, &[b"x"]).unwrap();
    assert_eq!(b.on_nack(t, [3, 3]), 1);
    assert_eq!(b.on_nack(t + ms(9), [3]), 0);
    assert_eq!(b.stats().rate_limited, 2);
    assert_eq!(b.on_nack(t + ms(10), [3]), 1);
    let seqs: Vec<u16> =
        std::iter::from_fn(|| b.poll_retransmit().map(|r| r.sequence_number)).collect();
    // Fresh RTX sequence numbers, wrapping.
    assert_eq!(seqs, [65535, 0]);
}

#[test]
fn oversized_payload_is_refused() {
    let mut b = SendBuffer::new(1, 96, SendBufferConfig::default());
    let big = [0u8; 1501];
    assert_eq!(
        b.on_packet_sent(Instant::now(), 0, 0, false, &[&big]),
        Err(RtpError::PayloadTooLarge {
            len: 1501,
            max: 1500
        })
    );
}

#[test]
fn rtx_payload_shorter_than_the_osn_is_not_unwrapped() {
    assert_eq!(unwrap_rtx(&[]), None);
    assert_eq!(unwrap_rtx(&[0x12]), None);
    assert_eq!(unwrap_rtx(&[0x12, 0x34]), Some((0x1234, &[][..])));
}

// ----- SenderStats -----

#[test]
fn sender_info_counts_payload_and_extrapolates_the_timestamp() {
    let t = Instant::now();
    let mut s = SenderStats::new();
    assert_eq!(s.sender_info(t, 1, 90_000), None);
    s.on_packet_sent(t, 1000, 100);
    s.on_packet_sent(t + ms(10), 1900, 200);
    s.on_packet_sent(t + ms(20), u32::MAX - 99, 300);
    // 20 ms after the last packet at 90 kHz: 1800 ticks on, wrapping.
    let info = s
        .sender_info(t + ms(40), 0xE000_0000_8000_0000, 90_000)
        .unwrap();
    assert_eq!(info.ntp_time, 0xE000_0000_8000_0000);
    assert_eq!(info.rtp_time, 1700);
    assert_eq!((info.packet_count, info.octet_count), (3, 600));
    // A report built before the last send (clock skew): no extrapolation.
    assert_eq!(s.sender_info(t, 0, 90_000).unwrap().rtp_time, u32::MAX - 99);
}

#[test]
fn a_packet_reordered_before_the_first_one_reveals_a_gap_to_nack() {
    // Found by the netsim loss test: the stream's first packets were lost
    // or delayed, 10 came first, then 7; 8 and 9 must be requested too.
    let t = Instant::now();
    let mut n = NackGenerator::default();
    n.on_packet(t, 10);
    n.on_packet(t, 7);
    assert_eq!(n.missing().collect::<Vec<_>>(), [8, 9]);
    assert_eq!(n.stats().missing, 2);
    n.on_packet(t, 11);
    n.on_packet(t, 8);
    assert_eq!(n.poll_nack(t), Some(vec![9]));
    // Across the wrap as well.
    let mut n = NackGenerator::default();
    n.on_packet(t, 2);
    n.on_packet(t, 65_534);
    assert_eq!(n.missing().collect::<Vec<_>>(), [65_535, 0, 1]);
}

mod streams {
    use crate::ext::TransportSeq;
    use crate::session::{classify, KeyframeRequester, Received, SendStream};
    use crate::{RtpHeader, RtpPacket};
    use std::time::{Duration, Instant};

    #[test]
    fn send_stream_stamps_sequence_mid_and_transport_seq() {
        let mut s = SendStream::new(0xabc, 96, 65_535, Some((9, "0")), Some(4)).unwrap();
        let mut a = Vec::new();
        let mut b = Vec::new();
        assert_eq!(
            s.write(3000, false, 41, &[b"x", b"yz"], &mut a).unwrap(),
            65_535
        );
        assert_eq!(s.write(3000, true, 42, &[b"w"], &mut b).unwrap(), 0);
        let pa = RtpPacket::parse(&a).unwrap();
        let pb = RtpPacket::parse(&b).unwrap();
        assert_eq!(
            (pa.ssrc(), pa.payload_type(), pa.sequence_number()),
            (0xabc, 96, 65_535)
        );
        assert_eq!(
            (pb.sequence_number(), pb.marker(), pb.timestamp()),
            (0, true, 3000)
        );
        assert_eq!(pa.payload(), b"xyz");
        assert_eq!(pa.extension_by_id(9), Some(&b"0"[..]));
        assert_eq!(
            pa.extension_by_id(4),
            Some(&TransportSeq(41).to_bytes()[..])
        );
        assert_eq!(
            pb.extension_by_id(4),
            Some(&TransportSeq(42).to_bytes()[..])
        );
        // Without transport-cc: no such element.
        let mut plain = SendStream::new(1, 111, 7, None, None).unwrap();
        let mut c = Vec::new();
        plain.write(960, true, 99, &[b"opus"], &mut c).unwrap();
        assert!(RtpPacket::parse(&c).unwrap().extension().is_none());
    }

    #[test]
    fn received_packets_are_sorted_padding_counted_rtx_unwrapped() {
        let write = |ssrc, pt, seq, payload: &[u8], padding| {
            let h = RtpHeader {
                ssrc,
                payload_type: pt,
                sequence_number: seq,
                ..RtpHeader::default()
            };
            let mut out = Vec::new();
            h.write_packet(payload, padding, &mut out).unwrap();
            out
        };
        let rtx = Some((0x22, 97));
        let media = write(0x11, 96, 5, b"frame", 0);
        let pad = write(0x11, 96, 6, b"", 200);
        let rtx_pkt = write(0x22, 97, 900, &[0, 4, b'a'], 0);
        let rtx_pad = write(0x22, 97, 901, b"", 100);
        let other = write(0x33, 96, 1, b"x", 0);
        let c = |d: &Vec<u8>| {
            let p = RtpPacket::parse(d).unwrap();
            classify(&p, 0x11, rtx).map(|r| format!("{r:?}"))
        };
        assert_eq!(
            c(&media).unwrap(),
            format!(
                "{:?}",
                Received::Media {
                    seq: 5,
                    payload: b"frame",
                    rtx: false
                }
            )
        );
        assert_eq!(
            c(&pad).unwrap(),
            format!("{:?}", Received::Padding { seq: 6 })
        );
        assert_eq!(
            c(&rtx_pkt).unwrap(),
            format!(
                "{:?}",
                Received::Media {
                    seq: 4,
                    payload: b"a",
                    rtx: true
                }
            )
        );
        assert_eq!(
            c(&rtx_pad).unwrap(),
            format!("{:?}", Received::Padding { seq: 901 })
        );
        assert_eq!(c(&other), None);
        // Without RTX negotiated, the RTX stream is someone else's.
        let p = RtpPacket::parse(&rtx_pkt).unwrap();
        assert_eq!(classify(&p, 0x11, None), None);
    }

    #[test]
    fn pli_repeats_until_a_keyframe_arrives() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut k = KeyframeRequester::default();
        assert!(!k.poll_pli(t0) && k.poll_timeout().is_none());
        k.request(t0);
        assert!(k.poll_pli(t0), "at once");
        assert!(!k.poll_pli(ms(100)));
        assert_eq!(k.poll_timeout(), Some(ms(200)));
        k.request(ms(150)); // still waiting: no earlier repeat
        assert!(k.poll_pli(ms(200)), "repeated");
        k.set_rtt(Duration::from_millis(500));
        assert!(!k.poll_pli(ms(600)), "spaced by the RTT when larger");
        assert!(k.poll_pli(ms(700)));
        assert_eq!(k.sent(), 3);
        k.on_keyframe();
        assert!(!k.waiting() && !k.poll_pli(ms(5000)) && k.poll_timeout().is_none());
    }
}

//! Session logic: reception statistics and report blocks, RTT, NACK
//! generation, the RTX send buffer and sender statistics, against values
//! computed by hand from RFC 3550, 4585 and 4588.

use crate::rtcp::{nack_pairs, NackPair, ReportBlock};
use crate::session::{rtt_from_report_block, NackConfig, NackGenerator, ReceiveStats, SenderStats};
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

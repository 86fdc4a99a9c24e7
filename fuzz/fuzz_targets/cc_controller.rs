//! The send-side estimator (`meshrtc_cc::CongestionController`) fed what
//! the network and the owner can hand it, in any order and with any
//! values: it never panics, its target stays within the configured
//! bounds, and the probes it asks for are positive.
//!
//! Input: records `dt, op, 4 bytes` on a deterministic clock that moves
//! `dt` ms first. `op % 9`: 0 a packet sent (size u16, probe cluster u8
//! when the next byte is odd); 1 feedback for up to 15 packets back from
//! the newest (count low nibble of byte 0; each result the packet that
//! many back, byte 1, lost when byte 2 is 0, else arriving byte 2 × byte 3
//! µs after the previous result, from a receiver clock that may start
//! anywhere); 2 an RTT (u16 ms); 3 a REMB (u32); 4 application-limited
//! or not; 5 sharing the bottleneck or not (bit 0 of byte 0) and other
//! flows or not (bit 1: whether a probe can be refuted); 6 a raise from
//! outside (u16 × 1000 bit/s); 7 the timeout; 8 a new maximum (u16 × 1000
//! bit/s, at least the minimum).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_cc::{Config, CongestionController, PacketResult, SentPacket};
use std::time::{Duration, Instant};

const MIN: u64 = 30_000;
const MAX: u64 = 5_000_000;

fuzz_target!(|data: &[u8]| {
    let mut cc = CongestionController::new(Config {
        start_bitrate: 300_000,
        min_bitrate: MIN,
        max_bitrate: MAX,
    });
    let mut max = MAX;
    let mut now = Instant::now();
    let mut seq = 0u64;
    let mut arrival = Duration::from_secs(1);
    for r in data.chunks_exact(6) {
        now += Duration::from_millis(u64::from(r[0]));
        let b = [r[2], r[3], r[4], r[5]];
        let u16v = u64::from(u16::from_be_bytes([b[0], b[1]]));
        match r[1] % 9 {
            0 => {
                seq += 1;
                cc.on_packet_sent(SentPacket {
                    seq,
                    size: u16v as usize,
                    sent_at: now,
                    probe_cluster: (b[3] & 1 == 1).then_some(u32::from(b[2])),
                });
            }
            1 => {
                let n = usize::from(b[0] & 15);
                let mut results = Vec::with_capacity(n);
                for i in 0..n {
                    let back = u64::from(b[1].wrapping_add(i as u8));
                    let lost = b[2] == 0;
                    if !lost {
                        arrival += Duration::from_micros(u64::from(b[2]) * u64::from(b[3]));
                    }
                    results.push(PacketResult {
                        seq: seq.saturating_sub(back),
                        arrival: (!lost).then_some(arrival),
                    });
                }
                cc.on_feedback(now, &results);
            }
            2 => cc.on_rtt(now, Duration::from_millis(u16v)),
            3 => cc.on_remb(now, u64::from(u32::from_be_bytes(b))),
            4 => cc.set_app_limited(now, b[0] & 1 == 1),
            5 => {
                cc.set_shared_bottleneck(b[0] & 1 == 1);
                cc.set_other_flows(b[0] & 2 == 2);
            }
            6 => cc.raise_estimate(now, u16v * 1000),
            7 => cc.handle_timeout(now),
            _ => {
                max = (u16v * 1000).max(MIN);
                cc.set_max_bitrate(now, max);
            }
        }
        let target = cc.target_bitrate();
        assert!(
            (MIN..=max).contains(&target),
            "target {target} of {MIN}..={max}"
        );
        while let Some(p) = cc.poll_probe() {
            assert!(p.target_bitrate > 0, "{p:?}");
        }
    }
});

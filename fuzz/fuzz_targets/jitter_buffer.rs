//! The jitter buffer never panics, never holds more than `max_frames`,
//! releases frames in non-decreasing extended timestamp order with the
//! payload pushed under that timestamp, and `poll_timeout` is consistent
//! with `pop`.
//!
//! Input: one config byte (bits 0-4 `max_frames` − 1, bits 5-6 the clock
//! rate, bit 7 a short resync threshold), then records `op, dt, a, b` on a
//! deterministic clock that moves `dt` ms (× 100 if op bit 7) first.
//! Op bit 0 clear: push a frame whose timestamp moves by the signed `a, b`
//! times a step picked by op bits 1-3, with `4 + 8 × (op bits 4-6)`
//! payload bytes. Op bit 0 set: pop everything due (op bit 1: first move
//! the clock to `poll_timeout`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_rtp::session::{JitterBuffer, JitterConfig};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, mut rest)) = data.split_first() else {
        return;
    };
    let max_frames = usize::from(cfg & 0x1F) + 1;
    let clock_rate = [8_000, 48_000, 90_000, 1][usize::from(cfg >> 5 & 3)];
    let config = JitterConfig {
        max_frames,
        resync_threshold: if cfg & 0x80 != 0 {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(3)
        },
        ..JitterConfig::default()
    };
    let mut jb: JitterBuffer<Vec<u8>> = JitterBuffer::new(clock_rate, config);
    let mut now = Instant::now();
    let mut ts: u32 = 0xFFFF_0000;
    let mut last: Option<u64> = None;
    let mut released = 0u64;
    while let [op, dt, a, b, tail @ ..] = rest {
        rest = tail;
        let step = u64::from(*dt) * if op & 0x80 != 0 { 100 } else { 1 };
        now += Duration::from_millis(step);
        if op & 1 == 0 {
            let scale =
                [1i64, 10, 160, 960, 3000, 90_000, 1 << 20, 1 << 28][usize::from(op >> 1 & 7)];
            let delta = i64::from(i16::from_be_bytes([*a, *b])) * scale;
            ts = (i64::from(ts) + delta).rem_euclid(1 << 32) as u32;
            let mut payload = ts.to_be_bytes().to_vec();
            payload.resize(4 + 8 * usize::from(op >> 4 & 7), *a);
            let _ = jb.push(now, ts, payload);
        } else {
            if op & 2 != 0 {
                if let Some(t) = jb.poll_timeout() {
                    now = now.max(t);
                }
            }
            while let Some((t, payload)) = jb.pop(now) {
                released += 1;
                assert_eq!(payload[..4], t.to_be_bytes());
                let ext = jb.last_released().unwrap();
                assert_eq!(ext as u32, t);
                assert!(last.is_none_or(|l| ext > l), "{last:?} then {ext}");
                last = Some(ext);
            }
            // Nothing due now: the next one is due later.
            if let Some(t) = jb.poll_timeout() {
                assert!(t > now);
            }
        }
        assert!(jb.len() <= max_frames);
        assert_eq!(jb.poll_timeout().is_none(), jb.is_empty());
        let s = jb.stats();
        assert_eq!(s.released, released);
        assert_eq!(s.pushed, s.released + s.overflow_dropped + jb.len() as u64);
    }
});

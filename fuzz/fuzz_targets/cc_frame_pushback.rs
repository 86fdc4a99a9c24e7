//! The frame-skipping decision (`meshrtc_cc::FramePushback`) fed any
//! script of estimator readings: it never panics, never skips while the
//! queue is a competitor's or under its low mark, and never starts
//! skipping below its high mark.
//!
//! Input: records `dt, q_hi, q_lo, flags` on a deterministic clock that
//! moves `dt` × 10 ms first. The queuing delay is `u16(q_hi, q_lo)` ms,
//! or none when bit 0 of `flags` is set; competing when bit 1 is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_cc::frame_pushback::{FramePushback, HIGH, LOW};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let mut p = FramePushback::default();
    let mut now = Instant::now();
    let mut given_up = 0;
    for r in data.chunks_exact(4) {
        now += Duration::from_millis(u64::from(r[0]) * 10);
        let queue = (r[3] & 1 == 0)
            .then(|| Duration::from_millis(u64::from(u16::from_be_bytes([r[1], r[2]]))));
        let competing = r[3] & 2 != 0;
        let was = p.skipping();
        let skip = p.update(now, queue, competing);
        assert_eq!(skip, p.skipping());
        if competing {
            assert!(!skip, "skipping for a competitor's queue");
        }
        if let (Some(q), false) = (queue, competing) {
            if q < LOW {
                assert!(!skip, "skipping under the low mark");
            }
            if !was && skip {
                assert!(q > HIGH, "started skipping at {q:?}");
            }
        }
        if queue.is_none() && !competing {
            assert_eq!(skip, was, "a missing reading changed the decision");
        }
        assert!(p.given_up() >= given_up);
        given_up = p.given_up();
    }
});

//! The audio jitter buffer never panics, plays frames in timestamp order
//! (each packet at most once, as itself or as the FEC of the frame before
//! it), keeps its delay within bounds, and its counters add up: every
//! packet pushed is counted once as played, late, duplicate, shrunk,
//! dropped by a restart, or still buffered.
//!
//! Input: records `op, dt, a, b` on a deterministic clock that moves
//! `dt` ms (× 20 if op bit 7) first. Op bit 0 clear: push a packet whose
//! timestamp moves from the last by the signed `a, b` × 960 / 8 (so
//! reorders, duplicates, jumps and wraps all happen), 1 + (op bits 1-3)
//! bytes long. Op bit 0 set: poll everything due.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_media::audio_jitter::{AudioJitterBuffer, Playout, MAX_DELAY, MIN_DELAY};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let mut jb = AudioJitterBuffer::new();
    let mut now = Instant::now();
    let mut ts: u32 = 0x1234_5678;
    let mut counter: u32 = 0;
    let mut played_ids = std::collections::HashSet::new();
    for rec in data.chunks_exact(4) {
        let (op, dt, a, b) = (rec[0], rec[1], rec[2], rec[3]);
        let ms = u64::from(dt) * if op & 0x80 != 0 { 20 } else { 1 };
        now += Duration::from_millis(ms);
        if op & 1 == 0 {
            let step = i32::from(i16::from_be_bytes([a, b]));
            ts = ts.wrapping_add((step * 120) as u32);
            counter += 1;
            // The payload names the packet: its push number.
            let len = 1 + usize::from((op >> 1) & 7);
            let mut payload = counter.to_be_bytes().to_vec();
            payload.resize(len.max(4), 0);
            jb.push(now, ts, payload);
        } else {
            let mut polls = 0;
            while let Some(p) = jb.poll(now) {
                polls += 1;
                assert!(polls <= 10_000, "poll never ends");
                if let Playout::Packet(p) = p {
                    let id = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
                    assert!(played_ids.insert(id), "packet {id} played twice");
                }
            }
        }
        assert!(jb.delay() >= MIN_DELAY && jb.delay() <= MAX_DELAY);
        let s = jb.stats();
        assert!(
            s.played + s.late + s.duplicates + s.shrunk <= s.received,
            "{s:?}"
        );
    }
});

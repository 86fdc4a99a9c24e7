//! The VP8 frame assembler never panics and stays within its packet budget
//! whatever arrives; every frame it hands out is the concatenation of
//! contiguous packets of one timestamp, from a frame start to a marker.
//!
//! Input: one config byte (policy, keyframe rule, u16 or extended sequence
//! numbers, ring size 1..=32), then records `ctrl, len, payload[len]`:
//! ctrl bits 0-3 move the sequence number by −8..=7, bits 4-5 pick one of
//! four timestamps, bit 6 is the marker, bit 7 gives up on the oldest gap
//! instead of pushing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_rtp::vp8::{AssemblerConfig, ReleasePolicy, Vp8Assembler, Vp8Descriptor};
use meshrtc_rtp::SeqExtender;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, mut rest)) = data.split_first() else {
        return;
    };
    let max_packets = usize::from(cfg >> 3 & 0x1F) + 1;
    let policy = if cfg & 1 != 0 {
        ReleasePolicy::AsSoonAsComplete
    } else {
        ReleasePolicy::InOrder
    };
    let extended = cfg & 4 != 0;
    let mut a = Vp8Assembler::new(AssemblerConfig {
        max_packets,
        max_payload_len: 64,
        policy,
        start_with_keyframe: cfg & 2 != 0,
    });
    let mut ext = SeqExtender::default();
    // First accepted payload per extended sequence number.
    let mut sent: HashMap<u64, (u32, bool, Vec<u8>)> = HashMap::new();
    let mut seq: u16 = 0xFFF0;
    let mut frame = Vec::new();
    while let [ctrl, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(len);
        rest = next;
        if ctrl & 0x80 != 0 {
            let oldest_gap = a.missing().next();
            if let Some(m) = oldest_gap {
                a.discard_before(m + 1);
            }
        } else {
            seq = seq.wrapping_add((ctrl & 0x0F) as u16).wrapping_sub(8);
            let ts = u32::from(ctrl >> 4 & 3) * 3000;
            let marker = ctrl & 0x40 != 0;
            let (s, r) = if extended {
                let s = 0x1_0000 + u64::from(seq);
                (s, a.push_extended(s, ts, marker, payload))
            } else {
                // The same extension the assembler does internally.
                (ext.extend(seq), a.push(seq, ts, marker, payload))
            };
            if r.is_ok() {
                sent.entry(s).or_insert((ts, marker, payload.to_vec()));
            }
        }
        assert!(a.buffered_packets() <= max_packets);
        assert!(a.missing().count() <= max_packets);
        while let Some(f) = a.poll_frame(&mut frame) {
            assert!(f.last_seq >= f.first_seq && f.packets() as usize <= max_packets);
            let mut joined = Vec::new();
            for s in f.first_seq..=f.last_seq {
                let (ts, marker, p) = &sent[&s];
                assert_eq!(*ts, f.timestamp);
                assert_eq!(*marker, s == f.last_seq);
                let (d, n) = Vp8Descriptor::parse(p).unwrap();
                if s == f.first_seq {
                    assert!(d.starts_frame());
                }
                joined.extend_from_slice(&p[n..]);
            }
            assert_eq!(joined, frame);
            assert_eq!(f.len, frame.len());
        }
    }
});

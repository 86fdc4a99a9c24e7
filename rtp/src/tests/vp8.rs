use super::{h, XorShift};
use crate::vp8::*;
use crate::RtpError;

#[test]
fn descriptor_with_every_optional_field() {
    // X S | I L T | M + 15-bit id 0x0123 | TL0PICIDX 5 | TID 2, Y (K off).
    let b = h("90 E0 8123 05 A0 | 9d012a");
    let (d, n) = Vp8Descriptor::parse(&b).unwrap();
    assert_eq!(n, 6);
    assert_eq!(
        d,
        Vp8Descriptor {
            non_reference: false,
            start_of_partition: true,
            partition_index: 0,
            picture_id: Some(PictureId::Long(0x0123)),
            tl0_pic_idx: Some(5),
            temporal: Some(TemporalLayer {
                tid: 2,
                layer_sync: true
            }),
            key_idx: None,
        }
    );
    assert_eq!(d.len(), 6);
    let mut out = Vec::new();
    d.write(&mut out);
    assert_eq!(out, &b[..6]);
}

#[test]
fn descriptor_short_forms() {
    let cases: &[(&str, Vp8Descriptor)] = &[
        (
            "10",
            Vp8Descriptor {
                start_of_partition: true,
                ..Default::default()
            },
        ),
        (
            "23",
            Vp8Descriptor {
                non_reference: true,
                partition_index: 3,
                ..Default::default()
            },
        ),
        (
            "80 80 7F",
            Vp8Descriptor {
                picture_id: Some(PictureId::Short(127)),
                ..Default::default()
            },
        ),
        (
            "80 10 1F",
            Vp8Descriptor {
                key_idx: Some(31),
                ..Default::default()
            },
        ),
        (
            "80 30 5F",
            Vp8Descriptor {
                temporal: Some(TemporalLayer {
                    tid: 1,
                    layer_sync: false,
                }),
                key_idx: Some(31),
                ..Default::default()
            },
        ),
        (
            "80 40 FF",
            Vp8Descriptor {
                tl0_pic_idx: Some(255),
                ..Default::default()
            },
        ),
    ];
    for (hex, want) in cases {
        let b = h(hex);
        let (d, n) = Vp8Descriptor::parse(&b).unwrap();
        assert_eq!((&d, n), (want, b.len()), "{hex}");
        let mut out = Vec::new();
        d.write(&mut out);
        assert_eq!(out, b, "{hex}");
    }
    // Reserved bits are ignored on read and cleared on write.
    let (d, _) = Vp8Descriptor::parse(&[0x58]).unwrap();
    assert_eq!(
        d,
        Vp8Descriptor {
            start_of_partition: true,
            ..Default::default()
        }
    );
}

#[test]
fn truncated_descriptors() {
    for (hex, needed) in [
        ("", 1),
        ("80", 2),
        ("80 80", 3),
        ("80 80 80", 4),
        ("80 C0 01", 4),
        ("80 20", 3),
    ] {
        let b = h(hex);
        assert_eq!(
            Vp8Descriptor::parse(&b),
            Err(RtpError::Vp8DescriptorTruncated {
                needed,
                got: b.len()
            }),
            "{hex}"
        );
    }
}

#[test]
fn keyframe_detection_from_the_payload_header() {
    let start = Vp8Descriptor {
        start_of_partition: true,
        ..Default::default()
    };
    // RFC 7741 §4.3: P bit (bit 0 of the first byte) 0 = key frame.
    assert!(is_keyframe(&start, &[0x50, 0x2b, 0x00, 0x9d, 0x01, 0x2a]));
    assert!(!is_keyframe(&start, &[0x51, 0x2b, 0x00]));
    let middle = Vp8Descriptor::default();
    assert!(!is_keyframe(&middle, &[0x50]));
    let other_partition = Vp8Descriptor {
        partition_index: 1,
        ..start
    };
    assert!(!is_keyframe(&other_partition, &[0x50]));
    assert!(!is_keyframe(&start, &[]));
}

/// A frame of `len` pseudo-random bytes; the P bit says key or delta.
fn frame(rng: &mut XorShift, len: usize, key: bool) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    f[0] = if key { f[0] & !1 } else { f[0] | 1 };
    f
}

/// RTP payloads (descriptor + data) of one frame.
fn payloads(p: &mut Vp8Packetizer, f: &[u8], mtu: usize) -> Vec<(Vec<u8>, bool)> {
    p.packetize(f, mtu)
        .unwrap()
        .iter()
        .map(|x| {
            let mut v = Vec::new();
            x.write_to(&mut v);
            (v, x.is_last())
        })
        .collect()
}

#[test]
fn packetizer_splits_frames_of_every_size_within_the_budget() {
    let mut rng = XorShift(7);
    let mtu = 1200;
    for (len, count) in [(1, 1), (1196, 1), (1197, 2), (30_000, 26), (200_000, 168)] {
        let f = frame(&mut rng, len, true);
        let mut p = Vp8Packetizer::new(300);
        let out = p.packetize(&f, mtu).unwrap();
        assert_eq!(out.len(), count, "{len}");
        assert_eq!(out.picture_id(), 300);
        assert!(out.is_keyframe());
        assert_eq!(p.next_picture_id(), 301);
        let mut joined = Vec::new();
        let sizes: Vec<usize> = out.iter().map(|x| x.data().len()).collect();
        for (i, x) in out.iter().enumerate() {
            assert!(x.len() <= mtu);
            let (d, n) = Vp8Descriptor::parse(x.descriptor()).unwrap();
            assert_eq!(n, VP8_DESCRIPTOR_LEN);
            assert_eq!(d.start_of_partition, i == 0);
            assert_eq!(d.partition_index, 0);
            assert_eq!(d.picture_id, Some(PictureId::Long(300)));
            assert_eq!(x.is_last(), i + 1 == count);
            joined.extend_from_slice(x.data());
        }
        assert_eq!(joined, f);
        // Near-equal sizes: no runt last packet.
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
        assert_eq!(out.total_len(), len + count * VP8_DESCRIPTOR_LEN);
        assert!(out.iter().next_back().unwrap().is_last());
    }
}

#[test]
fn packetizer_limits_and_picture_id_wrap() {
    let mut p = Vp8Packetizer::new(0xFFFF);
    assert_eq!(p.next_picture_id(), 0x7FFF);
    assert_eq!(p.packetize(&[], 1200).unwrap_err(), RtpError::EmptyFrame);
    assert_eq!(
        p.packetize(&[1], 4).unwrap_err(),
        RtpError::PayloadBudgetTooSmall { max: 4, min: 5 }
    );
    assert_eq!(p.packetize(&[1, 2, 3], 5).unwrap().picture_id(), 0x7FFF);
    assert_eq!(p.packetize(&[1, 2, 3], 5).unwrap().len(), 3);
    assert_eq!(p.next_picture_id(), 1, "wrapped to 0 for the second frame");
}

/// Packets of a stream of frames: (seq, ts, marker, payload).
type Pkt = (u16, u32, bool, Vec<u8>);

fn stream(rng: &mut XorShift, sizes: &[usize], first_seq: u16) -> (Vec<Vec<u8>>, Vec<Pkt>) {
    let mut p = Vp8Packetizer::new(1000);
    let mut seq = first_seq;
    let mut frames = Vec::new();
    let mut pkts = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        let f = frame(rng, len, i == 0);
        for (payload, last) in payloads(&mut p, &f, 1200) {
            pkts.push((seq, 3000 * i as u32, last, payload));
            seq = seq.wrapping_add(1);
        }
        frames.push(f);
    }
    (frames, pkts)
}

fn drain(a: &mut Vp8Assembler, got: &mut Vec<(AssembledFrame, Vec<u8>)>) {
    let mut buf = Vec::new();
    while let Some(f) = a.poll_frame(&mut buf) {
        assert_eq!(f.len, buf.len());
        got.push((f, buf.clone()));
    }
}

#[test]
fn frames_reassemble_identically_under_shuffling_and_duplication() {
    let sizes = [1, 1196, 1197, 30_000, 200_000, 5, 1200, 2392];
    for seed in 1..=20u64 {
        let mut rng = XorShift(seed);
        let first_seq = 65_400u16.wrapping_add(seed as u16 * 10); // crosses the wrap
        let (frames, mut pkts) = stream(&mut rng, &sizes, first_seq);
        // Duplicate a tenth of the packets, then shuffle within windows of
        // 64 packets (reordering, not a full permutation of 200 KB).
        for i in 0..pkts.len() / 10 {
            let j = rng.below(pkts.len());
            let dup = pkts[j].clone();
            pkts.insert(i * 10, dup);
        }
        for w in pkts.chunks_mut(64) {
            rng.shuffle(w);
        }
        let mut a = Vp8Assembler::default();
        let mut got = Vec::new();
        for (seq, ts, m, payload) in &pkts {
            a.push(*seq, *ts, *m, payload).unwrap();
            drain(&mut a, &mut got);
        }
        assert_eq!(
            got.len(),
            frames.len(),
            "seed {seed}: {:?} {:?}",
            got.iter().map(|g| g.0).collect::<Vec<_>>(),
            a.stats()
        );
        for (i, ((info, data), want)) in got.iter().zip(&frames).enumerate() {
            assert_eq!(data, want, "seed {seed} frame {i}");
            assert_eq!(info.keyframe, i == 0);
            assert_eq!(info.timestamp, 3000 * i as u32);
            assert_eq!(info.picture_id, Some(1000 + i as u16));
        }
        let s = a.stats();
        assert_eq!(s.frames_released, frames.len() as u64);
        assert_eq!(
            (s.frames_dropped, s.packets_discarded, s.invalid),
            (0, 0, 0)
        );
        assert!(s.duplicates + s.packets_late >= 1);
        assert_eq!(
            s.duplicates + s.packets_late,
            (pkts.len() - pkts_unique(&pkts)) as u64
        );
        assert_eq!(a.buffered_packets(), 0);
        assert_eq!(a.missing().count(), 0);
    }
}

fn pkts_unique(p: &[Pkt]) -> usize {
    let mut seqs: Vec<u16> = p.iter().map(|x| x.0).collect();
    seqs.sort_unstable();
    seqs.dedup();
    seqs.len()
}

#[test]
fn a_missing_packet_holds_the_frame_and_is_listed() {
    let mut rng = XorShift(99);
    let (frames, mut pkts) = stream(&mut rng, &[30_000], 65_530);
    let lost = pkts.remove(10);
    rng.shuffle(&mut pkts);
    let mut a = Vp8Assembler::default();
    let mut got = Vec::new();
    for (seq, ts, m, payload) in &pkts {
        a.push(*seq, *ts, *m, payload).unwrap();
        drain(&mut a, &mut got);
    }
    assert!(got.is_empty(), "released without packet {}", lost.0);
    let missing: Vec<u16> = a.missing().map(|s| s as u16).collect();
    assert_eq!(missing, [lost.0]);
    assert_eq!(lost.0, 65_530u16.wrapping_add(10));
    assert_eq!(a.buffered_packets(), 25);
    a.push(lost.0, lost.1, lost.2, &lost.3).unwrap();
    drain(&mut a, &mut got);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, frames[0]);
    assert!(got[0].0.keyframe);
    assert_eq!(got[0].0.packets(), 26);
}

#[test]
fn a_complete_frame_waits_for_the_one_before_it() {
    let mut rng = XorShift(5);
    let (frames, pkts) = stream(&mut rng, &[2000, 2000, 2000], 100);
    // Frames of 2 packets: 100-101, 102-103, 104-105. Lose 103.
    let mut a = Vp8Assembler::default();
    let mut got = Vec::new();
    for (seq, ts, m, p) in pkts.iter().filter(|p| p.0 != 103) {
        a.push(*seq, *ts, *m, p).unwrap();
        drain(&mut a, &mut got);
    }
    assert_eq!(got.len(), 1, "frame 3 is complete but waits for frame 2");
    assert_eq!(a.missing().map(|s| s as u16).collect::<Vec<_>>(), [103]);
    let p = &pkts[3];
    a.push(p.0, p.1, p.2, &p.3).unwrap();
    drain(&mut a, &mut got);
    let data: Vec<_> = got.iter().map(|g| g.1.clone()).collect();
    assert_eq!(data, frames);
}

#[test]
fn a_key_frame_skips_the_gap_and_older_frames_are_dropped() {
    let mut rng = XorShift(11);
    let mut p = Vp8Packetizer::new(0);
    let delta = frame(&mut rng, 3000, false);
    let key = frame(&mut rng, 2000, true);
    let mut a = Vp8Assembler::default();
    let mut got = Vec::new();
    let d = payloads(&mut p, &delta, 1200); // seq 10, 11, 12
    let k = payloads(&mut p, &key, 1200); // seq 13, 14
    a.push(10, 0, d[0].1, &d[0].0).unwrap();
    a.push(12, 0, d[2].1, &d[2].0).unwrap();
    a.push(13, 90, k[0].1, &k[0].0).unwrap();
    drain(&mut a, &mut got);
    assert!(got.is_empty());
    a.push(14, 90, k[1].1, &k[1].0).unwrap();
    drain(&mut a, &mut got);
    assert_eq!(got.len(), 1);
    assert!(got[0].0.keyframe);
    assert_eq!(got[0].1, key);
    assert_eq!(a.stats().frames_dropped, 1);
    assert_eq!(a.stats().packets_discarded, 2);
    // The missing packet of the dropped frame arrives: too late.
    a.push(11, 0, d[1].1, &d[1].0).unwrap();
    drain(&mut a, &mut got);
    assert_eq!(got.len(), 1);
    assert_eq!(a.stats().packets_late, 1);
    assert_eq!(a.buffered_packets(), 0);
}

#[test]
fn as_soon_as_complete_releases_past_a_gap() {
    let mut rng = XorShift(12);
    let (frames, pkts) = stream(&mut rng, &[2000, 2000], 100);
    let mut a = Vp8Assembler::new(AssemblerConfig {
        policy: ReleasePolicy::AsSoonAsComplete,
        start_with_keyframe: false,
        ..AssemblerConfig::default()
    });
    let mut got = Vec::new();
    for (seq, ts, m, p) in pkts.iter().filter(|p| p.0 != 101) {
        a.push(*seq, *ts, *m, p).unwrap();
        drain(&mut a, &mut got);
    }
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, frames[1]);
    assert_eq!(
        (a.stats().frames_dropped, a.stats().packets_discarded),
        (1, 1)
    );
}

#[test]
fn discard_before_gives_up_on_a_gap() {
    let mut rng = XorShift(13);
    let (frames, pkts) = stream(&mut rng, &[1000, 2000, 1000], 7);
    // Frames: 7 | 8-9 | 10. Lose 8.
    let mut a = Vp8Assembler::default();
    let mut got = Vec::new();
    for (seq, ts, m, p) in pkts.iter().filter(|p| p.0 != 8) {
        a.push(*seq, *ts, *m, p).unwrap();
        drain(&mut a, &mut got);
    }
    assert_eq!(got.len(), 1);
    let missing: Vec<u64> = a.missing().collect();
    assert_eq!(missing.len(), 1);
    // The deadline passes: skip the broken frame; its leftover (9) goes too.
    a.discard_before(missing[0] + 1);
    drain(&mut a, &mut got);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].1, frames[2]);
    assert_eq!(a.stats().packets_discarded, 1);
    assert_eq!(a.buffered_packets(), 0);
}

#[test]
fn memory_stays_bounded_and_drops_are_counted() {
    let mut a = Vp8Assembler::new(AssemblerConfig {
        max_packets: 16,
        ..AssemblerConfig::default()
    });
    // Packets that never make a frame: continuations without marker.
    for seq in 0..1000u16 {
        a.push(seq, u32::from(seq / 4), false, &[0x00, 0xAA])
            .unwrap();
        assert!(a.buffered_packets() <= 16);
        let mut buf = Vec::new();
        assert!(a.poll_frame(&mut buf).is_none());
    }
    let s = *a.stats();
    assert_eq!(s.packets_discarded + a.buffered_packets() as u64, 1000);
    assert!(s.frames_dropped >= 240);
    assert!(a.missing().count() <= 16);
    // A stream of good frames through the same small ring still flows.
    let mut rng = XorShift(3);
    let mut p = Vp8Packetizer::new(0);
    let mut got = Vec::new();
    for i in 0..20u16 {
        let f = frame(&mut rng, 3000, i == 0);
        for (j, (payload, last)) in payloads(&mut p, &f, 1200).into_iter().enumerate() {
            a.push(
                1000 + i * 3 + j as u16,
                100_000 + u32::from(i),
                last,
                &payload,
            )
            .unwrap();
        }
        drain(&mut a, &mut got);
        assert_eq!(got.last().map(|g| &g.1), Some(&f));
    }
}

#[test]
fn invalid_payloads_are_rejected_and_counted() {
    let mut a = Vp8Assembler::new(AssemblerConfig {
        max_payload_len: 100,
        ..AssemblerConfig::default()
    });
    assert_eq!(
        a.push(1, 0, true, &[]),
        Err(RtpError::Vp8DescriptorTruncated { needed: 1, got: 0 })
    );
    assert_eq!(
        a.push(1, 0, true, &[0x90, 0x80, 0x01]),
        Err(RtpError::Vp8EmptyPayload)
    );
    assert_eq!(
        a.push(1, 0, true, &[0x10; 101]),
        Err(RtpError::PayloadTooLarge { len: 101, max: 100 })
    );
    assert!(matches!(
        a.push_extended(u64::MAX, 0, true, &[0x10, 0]),
        Err(RtpError::ValueOutOfRange { .. })
    ));
    assert_eq!(a.stats().invalid, 4);
    assert_eq!(a.buffered_packets(), 0);
    // The largest accepted number still completes a frame.
    a.push_extended(MAX_EXTENDED_SEQ, 0, true, &[0x10, 0])
        .unwrap();
    assert!(a.poll_frame(&mut Vec::new()).is_some());
    a.discard_before(u64::MAX);
    assert_eq!(a.missing().count(), 0);
}

#[test]
fn a_packet_reordered_before_the_first_one_still_counts() {
    let mut rng = XorShift(21);
    let (frames, pkts) = stream(&mut rng, &[3000], 0);
    let mut a = Vp8Assembler::default();
    let mut got = Vec::new();
    for i in [2, 1, 0] {
        let (seq, ts, m, p) = &pkts[i];
        a.push(*seq, *ts, *m, p).unwrap();
        drain(&mut a, &mut got);
    }
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, frames[0]);
    assert_eq!(a.stats().packets_late, 0);
}

#[test]
fn in_order_frames_and_reordered_ones_mix_without_corruption() {
    // Frames arriving in order take the one-copy path (built as they come,
    // handed out by swapping buffers); frames whose start comes late, or
    // with a packet filled in later, fall back to the slots. The same
    // output buffer is reused throughout, as a receive loop does.
    let mut rng = XorShift(77);
    let sizes = [5000, 3000, 4000, 2500, 6000, 1];
    let (frames, pkts) = stream(&mut rng, &sizes, 65_530);
    let by_frame: Vec<Vec<Pkt>> = {
        let mut v: Vec<Vec<Pkt>> = Vec::new();
        for p in pkts {
            match v.last_mut() {
                Some(f) if f[0].1 == p.1 => f.push(p),
                _ => v.push(vec![p]),
            }
        }
        v
    };
    let mut a = Vp8Assembler::default();
    let mut buf = Vec::new();
    let mut got = Vec::new();
    for (i, mut f) in by_frame.into_iter().enumerate() {
        match i % 3 {
            0 => {}
            1 => f.rotate_left(1), // the start packet arrives last
            _ if f.len() > 2 => {
                let n = f.len();
                f.swap(1, n - 1); // a gap, filled by the last arrival
            }
            _ => {}
        }
        for (seq, ts, m, payload) in &f {
            a.push(*seq, *ts, *m, payload).unwrap();
            while let Some(info) = a.poll_frame(&mut buf) {
                got.push((info, buf.clone()));
            }
        }
    }
    assert_eq!(got.len(), frames.len());
    for ((info, data), want) in got.iter().zip(&frames) {
        assert_eq!(data, want);
        assert_eq!(info.len, want.len());
    }
    assert_eq!(a.buffered_packets(), 0);
    assert_eq!(a.stats().packets_discarded, 0);
}

#[test]
fn simulcast_packetizers_set_to_one_picture_id_number_a_capture_alike() {
    let mut small = Vp8Packetizer::new(0x7FFE);
    let mut large = Vp8Packetizer::new(5);
    large.set_next_picture_id(small.next_picture_id() | 0x8000);
    assert_eq!(large.next_picture_id(), 0x7FFE);
    for want in [0x7FFE, 0x7FFF, 0] {
        let a = small.packetize(&[0x10, 1, 2, 3], 100).unwrap();
        let b = large.packetize(&[0x10, 4, 5, 6, 7, 8], 100).unwrap();
        assert_eq!((a.picture_id(), b.picture_id()), (want, want));
        // The descriptor on the wire carries it (M bit and 15 bits).
        let d = b.get(0).unwrap();
        assert_eq!(&d.descriptor()[2..4], &(want | 0x8000).to_be_bytes());
    }
}

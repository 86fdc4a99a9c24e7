//! RTP/RTCP: VP8 packetize and depacketize a 30,000-byte frame at MTU 1200,
//! RTP parse, RTCP compound parse — meshrtc vs rtc-rtp/rtc-rtcp (webrtc-rs)
//! in one run.
//!
//! `cargo bench --bench rtp && python3 report.py rtp`

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use meshrtc_rtp::rtcp::Compound;
use meshrtc_rtp::vp8::{Vp8Assembler, Vp8Packetizer};
use meshrtc_rtp::{RtpHeader, RtpPacket};
use rtc_rtp::packetizer::{Depacketizer, Packetizer, Payloader};
use rtc_shared::marshal::{Marshal, MarshalSize, Unmarshal};
use std::time::Instant;

const MTU: usize = 1200;
const RTP_HEADER: usize = 12;

/// A VP8 key frame of `len` bytes (P bit clear, start code in place).
fn frame(len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    f[0] = 0x10;
    f[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
    f
}

fn vp8(c: &mut Criterion) {
    let f = frame(30_000);
    let fb = Bytes::from(f.clone());
    let mut g = c.benchmark_group("rtp");

    // Splitting alone. meshrtc computes the split and the descriptors and
    // borrows the frame; webrtc-rs copies each payload into a new buffer.
    g.bench_function("meshrtc/vp8-packetize", |b| {
        let mut p = Vp8Packetizer::new(0);
        b.iter(|| {
            let payloads = p.packetize(black_box(&f), MTU - RTP_HEADER).unwrap();
            black_box(payloads.iter().map(|x| x.len()).sum::<usize>())
        })
    });
    g.bench_function("rtc-rtp/vp8-packetize", |b| {
        let mut p = rtc_rtp::codec::vp8::Vp8Payloader::default();
        p.enable_picture_id = true;
        b.iter(|| black_box(p.payload(MTU - RTP_HEADER, black_box(&fb)).unwrap()))
    });

    // Packetize and serialize every RTP packet of the frame.
    g.bench_function("meshrtc/vp8-packetize-serialize", |b| {
        let mut p = Vp8Packetizer::new(0);
        let mut h = RtpHeader {
            payload_type: 96,
            ssrc: 0x1234_5678,
            ..RtpHeader::default()
        };
        let mut out = Vec::with_capacity(64 * 1024);
        b.iter(|| {
            out.clear();
            let payloads = p.packetize(black_box(&f), MTU - RTP_HEADER).unwrap();
            h.timestamp = h.timestamp.wrapping_add(3000);
            for x in payloads.iter() {
                h.sequence_number = h.sequence_number.wrapping_add(1);
                h.marker = x.is_last();
                h.write_parts(&[x.descriptor(), x.data()], 0, &mut out)
                    .unwrap();
            }
            black_box(out.len())
        })
    });
    g.bench_function("rtc-rtp/vp8-packetize-serialize", |b| {
        let mut payloader = rtc_rtp::codec::vp8::Vp8Payloader::default();
        payloader.enable_picture_id = true;
        let now = Instant::now();
        let mut p = rtc_rtp::packetizer::new_packetizer(
            now,
            MTU,
            96,
            0x1234_5678,
            Box::new(payloader),
            Box::new(rtc_rtp::sequence::new_fixed_sequencer(0)),
            90_000,
        );
        let mut out = vec![0u8; 2048];
        b.iter(|| {
            let packets = p.packetize(now, black_box(&fb), 3000).unwrap();
            let mut n = 0;
            for pkt in &packets {
                n += pkt.marshal_to(&mut out).unwrap();
            }
            black_box(n)
        })
    });

    // Receive the frame's packets: parse, depacketize, reassemble.
    let mut datagrams = Vec::new();
    {
        let mut p = Vp8Packetizer::new(0);
        let h0 = RtpHeader {
            payload_type: 96,
            ssrc: 0x1234_5678,
            timestamp: 90_000,
            ..RtpHeader::default()
        };
        let payloads = p.packetize(&f, MTU - RTP_HEADER).unwrap();
        for (i, x) in payloads.iter().enumerate() {
            let mut h = h0.clone();
            h.sequence_number = i as u16;
            h.marker = x.is_last();
            let mut d = Vec::new();
            h.write_parts(&[x.descriptor(), x.data()], 0, &mut d)
                .unwrap();
            datagrams.push(d);
        }
    }
    let n = datagrams.len() as u16;
    // Each run is the next frame: sequence numbers and timestamps advance,
    // for both stacks alike.
    let advance = |ds: &mut [Vec<u8>]| {
        for d in ds.iter_mut() {
            let seq = u16::from_be_bytes([d[2], d[3]]).wrapping_add(n);
            d[2..4].copy_from_slice(&seq.to_be_bytes());
            let ts = u32::from_be_bytes([d[4], d[5], d[6], d[7]]).wrapping_add(3000);
            d[4..8].copy_from_slice(&ts.to_be_bytes());
        }
    };
    g.bench_function("meshrtc/vp8-depacketize", |b| {
        let mut ds = datagrams.clone();
        let mut a = Vp8Assembler::default();
        let mut frame_out = Vec::with_capacity(64 * 1024);
        b.iter(|| {
            advance(&mut ds);
            for d in &ds {
                let p = RtpPacket::parse(black_box(d)).unwrap();
                a.push(p.sequence_number(), p.timestamp(), p.marker(), p.payload())
                    .unwrap();
            }
            let got = a.poll_frame(&mut frame_out).expect("a whole frame");
            black_box(got);
            assert_eq!(frame_out.len(), 30_000);
        })
    });
    g.bench_function("rtc-rtp/vp8-depacketize", |b| {
        let mut ds: Vec<Vec<u8>> = datagrams.clone();
        let mut frame_out = Vec::with_capacity(64 * 1024);
        b.iter(|| {
            advance(&mut ds);
            frame_out.clear();
            for d in &ds {
                let pkt = rtc_rtp::Packet::unmarshal(&mut &black_box(d)[..]).unwrap();
                let mut v = rtc_rtp::codec::vp8::Vp8Packet::default();
                let data = v.depacketize(&pkt.payload).unwrap();
                frame_out.extend_from_slice(&data);
            }
            assert_eq!(frame_out.len(), 30_000);
            black_box(frame_out.len())
        })
    });

    // One 1200-byte RTP packet.
    let one = &datagrams[0];
    g.bench_function("meshrtc/rtp-parse", |b| {
        b.iter(|| {
            let p = RtpPacket::parse(black_box(one)).unwrap();
            black_box((p.sequence_number(), p.payload().len()))
        })
    });
    g.bench_function("rtc-rtp/rtp-parse", |b| {
        b.iter(|| {
            let p = rtc_rtp::Packet::unmarshal(&mut &black_box(one)[..]).unwrap();
            black_box((p.header.sequence_number, p.payload.len()))
        })
    });
    g.bench_function("meshrtc/rtp-write", |b| {
        let h = RtpHeader::from_packet(&RtpPacket::parse(one).unwrap());
        let payload = RtpPacket::parse(one).unwrap().payload().to_vec();
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            out.clear();
            h.write_packet(black_box(&payload), 0, &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("rtc-rtp/rtp-write", |b| {
        let p = rtc_rtp::Packet::unmarshal(&mut &one[..]).unwrap();
        let mut out = vec![0u8; p.marshal_size()];
        b.iter(|| black_box(black_box(&p).marshal_to(&mut out).unwrap()))
    });

    // An RTCP compound: SR with one report block + SDES CNAME.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/seeds/rtcp/sr_sdes.bin"
    );
    let sr_sdes = std::fs::read(path).unwrap();
    g.bench_function("meshrtc/rtcp-parse-sr-sdes", |b| {
        b.iter(|| {
            let mut n = 0;
            for p in Compound::new(black_box(&sr_sdes)) {
                black_box(p.unwrap());
                n += 1;
            }
            assert_eq!(n, 2);
        })
    });
    g.bench_function("rtc-rtcp/rtcp-parse-sr-sdes", |b| {
        b.iter(|| {
            let ps = rtc_rtcp::packet::unmarshal(&mut &black_box(&sr_sdes)[..]).unwrap();
            assert_eq!(ps.len(), 2);
            black_box(ps)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = vp8
}
criterion_main!(benches);

//! VP8 over a lossy simulated network: a sender packetizes frames of every
//! size class and answers NACKs with RTX from its send buffer; a receiver
//! reassembles frames and asks for what is missing. The link drops 10% of
//! the datagrams in both directions (NACKs and retransmissions included),
//! duplicates and reorders some; every frame must come out whole, in order,
//! driven by simulated time only.

use meshrtc_netsim::{Datagram, LinkConfig, Node, Sim};
use meshrtc_rtp::rtcp::{nack_pairs, Compound, Nack, NackPair, RtcpPacket, WireList};
use meshrtc_rtp::session::{
    classify, NackGenerator, Received, RtxConfig, SendBuffer, SendBufferConfig, SendStream,
};
use meshrtc_rtp::vp8::{Vp8Assembler, Vp8Packetizer};
use meshrtc_rtp::{RtpHeader, RtpPacket};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const MEDIA_SSRC: u32 = 0x1111_1111;
const RTX_SSRC: u32 = 0x2222_2222;
const RECEIVER_SSRC: u32 = 0x3333_3333;
const VP8_PT: u8 = 96;
const RTX_PT: u8 = 97;
const FRAME_INTERVAL: Duration = Duration::from_millis(33);
const FILLERS: usize = 30;

/// Frames of every size class: one packet, exactly one MTU's payload, one
/// byte over, several packets, a 100-packet key frame. Frame 0 is a key
/// frame (VP8 P bit clear), the rest are delta frames.
fn frames() -> Vec<Vec<u8>> {
    let sizes = [
        30_000, 1, 1196, 1197, 5000, 120_000, 2392, 1200, 30_000, 500, 64, 9000,
    ];
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut f: Vec<u8> = (0..n).map(|j| (j * 31 + i * 7) as u8).collect();
            f[0] = if i == 0 { 0x10 } else { 0x11 };
            f
        })
        .collect()
}

enum MediaNode {
    Sender {
        addr: SocketAddr,
        peer: SocketAddr,
        frames: Vec<Vec<u8>>,
        next_frame: usize,
        next_at: Instant,
        packetizer: Vp8Packetizer,
        stream: SendStream,
        transport_seq: u16,
        buffer: SendBuffer,
        out: Vec<Datagram>,
        nacks_received: u64,
    },
    Receiver {
        addr: SocketAddr,
        peer: SocketAddr,
        assembler: Vp8Assembler,
        nack: NackGenerator,
        frames: Vec<Vec<u8>>,
        out: Vec<Datagram>,
        rtx_received: u64,
    },
}

impl MediaNode {
    fn send_frame(&mut self, now: Instant) {
        let MediaNode::Sender {
            addr,
            peer,
            frames,
            next_frame,
            next_at,
            packetizer,
            stream,
            transport_seq,
            buffer,
            out,
            ..
        } = self
        else {
            return;
        };
        while *next_frame < frames.len() + FILLERS && *next_at <= now {
            // After the test frames, small delta frames keep the stream
            // going, as live media does: a receiver learns that the tail of
            // a frame is missing only from a later packet.
            let filler = [0x11u8, 0, 0];
            let frame = frames.get(*next_frame).map_or(&filler[..], |f| &f[..]);
            let timestamp = 3000 * *next_frame as u32;
            let payloads = packetizer.packetize(frame, 1200 - 12 - 12).unwrap();
            for p in payloads.iter() {
                // The frame is split once; each packet is stamped for this
                // connection (mid and transport-wide sequence included).
                *transport_seq = transport_seq.wrapping_add(1);
                let mut d = Vec::new();
                let parts = [p.descriptor(), p.data()];
                let seq = stream
                    .write(timestamp, p.is_last(), *transport_seq, &parts, &mut d)
                    .unwrap();
                buffer
                    .on_packet_sent(now, seq, timestamp, p.is_last(), &parts)
                    .unwrap();
                out.push(Datagram {
                    src: *addr,
                    dst: *peer,
                    payload: d,
                });
            }
            *next_frame += 1;
            *next_at += FRAME_INTERVAL;
        }
    }

    fn receiver_nack(&mut self, now: Instant) {
        let MediaNode::Receiver {
            addr,
            peer,
            nack,
            out,
            ..
        } = self
        else {
            return;
        };
        if let Some(lost) = nack.poll_nack(now) {
            let pairs: Vec<NackPair> = nack_pairs(lost).collect();
            let packet = RtcpPacket::Nack(Nack {
                sender_ssrc: RECEIVER_SSRC,
                media_ssrc: MEDIA_SSRC,
                pairs: WireList::new(&pairs),
            });
            let mut d = Vec::new();
            packet.write_to(&mut d).unwrap();
            out.push(Datagram {
                src: *addr,
                dst: *peer,
                payload: d,
            });
        }
    }
}

impl Node for MediaNode {
    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        match self {
            MediaNode::Sender {
                addr,
                peer,
                buffer,
                out,
                nacks_received,
                ..
            } => {
                for p in Compound::new(&d.payload) {
                    if let Ok(RtcpPacket::Nack(n)) = p {
                        *nacks_received += 1;
                        buffer.on_nack(now, n.lost());
                    }
                }
                let mut header = RtpHeader::default();
                while let Some(r) = buffer.poll_retransmit() {
                    let mut payload = Vec::new();
                    r.write(&mut header, &mut payload).unwrap();
                    out.push(Datagram {
                        src: *addr,
                        dst: *peer,
                        payload,
                    });
                }
            }
            MediaNode::Receiver {
                assembler,
                nack,
                frames,
                rtx_received,
                ..
            } => {
                let Ok(p) = RtpPacket::parse(&d.payload) else {
                    return;
                };
                let (seq, payload) = match classify(&p, MEDIA_SSRC, Some((RTX_SSRC, RTX_PT))) {
                    Some(Received::Media { seq, payload, rtx }) => {
                        *rtx_received += u64::from(rtx);
                        (seq, payload)
                    }
                    other => panic!("unexpected packet {other:?}"),
                };
                nack.on_packet(now, seq);
                assembler
                    .push(seq, p.timestamp(), p.marker(), payload)
                    .unwrap();
                let mut buf = Vec::new();
                while assembler.poll_frame(&mut buf).is_some() {
                    frames.push(std::mem::take(&mut buf));
                }
            }
        }
        self.receiver_nack(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.send_frame(now);
        self.receiver_nack(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        match self {
            MediaNode::Sender { out, .. } | MediaNode::Receiver { out, .. } => {
                (!out.is_empty()).then(|| out.remove(0))
            }
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            MediaNode::Sender {
                frames,
                next_frame,
                next_at,
                ..
            } => (*next_frame < frames.len() + FILLERS).then_some(*next_at),
            MediaNode::Receiver { nack, .. } => nack.poll_timeout(),
        }
    }
}

#[test]
fn vp8_frames_survive_ten_percent_loss_with_nack_and_rtx() {
    for seed in [1u64, 2, 3] {
        let mut sim: Sim<MediaNode> = Sim::new(seed);
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let start = sim.epoch();
        let sent = frames();
        let rtx = RtxConfig {
            ssrc: RTX_SSRC,
            payload_type: RTX_PT,
            first_seq: 1000,
        };
        let sender = sim.add_node(
            MediaNode::Sender {
                addr: a,
                peer: b,
                frames: sent.clone(),
                next_frame: 0,
                next_at: start,
                packetizer: Vp8Packetizer::new(0),
                // Starts near the wrap, which happens during the run.
                stream: SendStream::new(MEDIA_SSRC, VP8_PT, 65_501, Some((9, "0")), Some(3))
                    .unwrap(),
                transport_seq: 0,
                buffer: SendBuffer::new(
                    MEDIA_SSRC,
                    VP8_PT,
                    SendBufferConfig {
                        rtx: Some(rtx),
                        ..SendBufferConfig::default()
                    },
                ),
                out: Vec::new(),
                nacks_received: 0,
            },
            &[a.ip()],
        );
        let receiver = sim.add_node(
            MediaNode::Receiver {
                addr: b,
                peer: a,
                assembler: Vp8Assembler::default(),
                nack: NackGenerator::default(),
                frames: Vec::new(),
                out: Vec::new(),
                rtx_received: 0,
            },
            &[b.ip()],
        );
        sim.set_link(
            sender,
            receiver,
            LinkConfig::with_latency(Duration::from_millis(20))
                .jitter(Duration::from_millis(3))
                .loss(0.10)
                .duplicate(0.02)
                .reorder(0.05, Duration::from_millis(8)),
        );
        let want = sent.len();
        let took = sim
            .run_until(
                |s| match s.node(receiver) {
                    MediaNode::Receiver { frames, .. } => frames.len() >= want,
                    _ => false,
                },
                Duration::from_secs(10),
            )
            .unwrap_or_else(|e| {
                let MediaNode::Receiver { frames, assembler, nack, .. } = sim.node(receiver) else {
                    unreachable!()
                };
                let MediaNode::Sender { buffer, .. } = sim.node(sender) else { unreachable!() };
                panic!(
                    "seed {seed}: {e:?}: {} frames, assembler {:?} buffered {} missing {:?}, nack {:?} missing {:?}, sender {:?}",
                    frames.len(),
                    assembler.stats(),
                    assembler.buffered_packets(),
                    assembler.missing().take(10).collect::<Vec<_>>(),
                    nack.stats(),
                    nack.missing().take(10).collect::<Vec<_>>(),
                    buffer.stats()
                )
            });
        let MediaNode::Receiver {
            frames: got,
            assembler,
            nack,
            rtx_received,
            ..
        } = sim.node(receiver)
        else {
            unreachable!()
        };
        assert!(got.len() >= want, "seed {seed}");
        for (i, (g, w)) in got.iter().zip(&sent).enumerate() {
            assert!(
                g == w,
                "seed {seed}: frame {i} differs ({} vs {} bytes)",
                g.len(),
                w.len()
            );
        }
        let s = nack.stats();
        // Loss happened and was repaired through NACK + RTX, nothing was
        // given up, and the frames did not wait long: the last test frame
        // is sent at 363 ms.
        assert!(s.missing > 10 && s.recovered > 10, "seed {seed}: {s:?}");
        assert_eq!(s.given_up, 0, "seed {seed}");
        // Recovered packets come as RTX or as late (reordered) originals.
        assert!(*rtx_received > 0 && s.recovered <= s.missing, "seed {seed}");
        assert_eq!(assembler.stats().frames_dropped, 0, "seed {seed}");
        assert!(took < Duration::from_secs(2), "seed {seed}: took {took:?}");
        let MediaNode::Sender {
            nacks_received,
            buffer,
            ..
        } = sim.node(sender)
        else {
            unreachable!()
        };
        assert!(
            *nacks_received > 0 && buffer.stats().retransmitted > 0,
            "seed {seed}"
        );
    }
}

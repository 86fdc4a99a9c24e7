//! The send path: what one more member costs per packet (issue 15).
//!
//! A mesh node sends every packet once per member: the member's
//! PeerConnection stamps it (its SSRC, sequence number, timestamp offset,
//! header extensions with the transport-wide number), the pacer lets it
//! out, SRTP protects it (AEAD_AES_128_GCM here) and the socket sends it.
//! Each pair below puts that whole path beside a bare send of the same
//! bytes from one socket to loopback, in one run:
//!
//! - `sendto`: one 1200-byte packet (`PeerConnection::send_frame` of a
//!   one-packet frame, the pacer's timer, `poll_transmit`, `send_to`)
//!   against `send_to` of 1200 bytes;
//! - `sendmmsg_5`: one packet to five members in one `sendmmsg` call
//!   against `sendmmsg` of five 1200-byte datagrams to five sockets;
//! - `gso_10`: a ten-packet frame to one member sent with UDP GSO
//!   (`UDP_SEGMENT`, all packets one size) against GSO of ten 1200-byte
//!   segments.
//!
//! The connections are sans-IO pairs connected in memory; the receiving
//! side's feedback (transport-cc, reports, consent) is delivered between
//! iterations, untimed. The receiving sockets never read: the kernel
//! queues and then drops, the same for both columns.
//!
//!     cd bench && cargo bench --bench send_path -- --warm-up-time 1 --measurement-time 5 && python3 report.py send_path

use std::io::IoSlice;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use meshrtc_peer::{
    ConnectionState, PacketizedFrame, PeerConfig, PeerConnection, SdpType, Transmit,
};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;
use meshrtc_srtp::Profile;
use nix::sys::socket::{
    sendmmsg, sendmsg, setsockopt, sockopt::UdpGsoSegment, ControlMessage, MsgFlags, MultiHeaders,
    SockaddrIn,
};

/// The VP8 payload limit we packetize with: a packet on the wire is 1200
/// bytes once RTP, its extensions and the GCM tag are added (checked).
const MAX_PAYLOAD: usize = 1160;
/// VP8 payload descriptor bytes per packet (RFC 7741 §4.2, with a 15-bit
/// picture id).
const DESCRIPTOR: usize = 4;

fn is_rtp(d: &[u8]) -> bool {
    d.len() > 12 && d[0] >> 6 == 2 && !(192..=223).contains(&d[1])
}

/// One member: our sending connection and the peer that answers it.
struct Member {
    now: Instant,
    a: PeerConnection,
    b: PeerConnection,
    b_addr: SocketAddr,
    a_addr: SocketAddr,
    mid: String,
    packetizer: Vp8Packetizer,
    frame_no: u32,
}

impl Member {
    fn connected(k: u16) -> Member {
        let now = Instant::now();
        let config = |seed| {
            let mut c = PeerConfig::with_fixed_seed(seed);
            c.srtp_profiles = vec![Profile::AeadAes128Gcm];
            // A link that never limits: the pacer lets a packet out at
            // once, as it does below the estimate on a real call.
            c.bitrate.start_bitrate = 50_000_000;
            c.bitrate.min_bitrate = 50_000_000;
            c.bitrate.max_bitrate = 100_000_000;
            c
        };
        let mut a = PeerConnection::new(config(u64::from(k) * 2 + 1), now).unwrap();
        let mut b = PeerConnection::new(config(u64::from(k) * 2 + 2), now).unwrap();
        let a_addr: SocketAddr = format!("127.0.0.1:{}", 41000 + 2 * k).parse().unwrap();
        let b_addr: SocketAddr = format!("127.0.0.1:{}", 41001 + 2 * k).parse().unwrap();
        a.add_local_address(a_addr);
        b.add_local_address(b_addr);
        let mid = a.add_transceiver(MediaKind::Video, true, false);
        b.add_answer_track(MediaKind::Video);
        let offer = a.create_offer(now).unwrap();
        b.set_remote_description(now, SdpType::Offer, &offer)
            .unwrap();
        let answer = b.create_answer(now).unwrap();
        a.set_remote_description(now, SdpType::Answer, &answer)
            .unwrap();
        let mut m = Member {
            now,
            a,
            b,
            a_addr,
            b_addr,
            mid,
            packetizer: Vp8Packetizer::new(k),
            frame_no: 0,
        };
        for _ in 0..1000 {
            m.shuttle(|_| {});
            m.advance(Duration::from_millis(5));
            if m.a.state() == ConnectionState::Connected
                && m.b.state() == ConnectionState::Connected
            {
                assert_eq!(
                    m.a.stats().srtp_profile,
                    Some(Profile::AeadAes128Gcm.name())
                );
                return m;
            }
        }
        panic!("not connected: {:?} {:?}", m.a.state(), m.b.state());
    }

    /// Everything in flight both ways; a's RTP goes to `rtp` instead.
    fn shuttle(&mut self, mut rtp: impl FnMut(Vec<u8>)) {
        for _ in 0..10 {
            let mut n = 0;
            while let Some(Transmit { src, dst, payload }) = self.a.poll_transmit() {
                if is_rtp(&payload) {
                    rtp(payload);
                } else if dst == self.b_addr {
                    self.b.handle_datagram(self.now, src, dst, &payload);
                    n += 1;
                }
            }
            while let Some(Transmit { src, dst, payload }) = self.b.poll_transmit() {
                if dst == self.a_addr {
                    self.a.handle_datagram(self.now, src, dst, &payload);
                    n += 1;
                }
            }
            while self.a.poll_event().is_some() {}
            while self.b.poll_event().is_some() {}
            if n == 0 {
                break;
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
    }

    /// The next frame, `packets` packets of one size.
    fn frame(&mut self, packets: usize) -> PacketizedFrame {
        let len = packets * (MAX_PAYLOAD - DESCRIPTOR);
        let mut data: Vec<u8> = (0..len).map(|j| (j * 7) as u8).collect();
        data[0] = 0x11; // a delta frame
        let i = self.frame_no;
        self.frame_no += 1;
        PacketizedFrame::vp8(&mut self.packetizer, data.into(), i * 3000, MAX_PAYLOAD).unwrap()
    }

    /// The timed part: hand the frame to the connection, run its pacer's
    /// timer (the simulated clock jumps to it), take the protected packets
    /// out.
    fn send(&mut self, frame: &PacketizedFrame, out: &mut Vec<Vec<u8>>) {
        self.a.send_frame(self.now, &self.mid, frame).unwrap();
        let want = out.len() + frame.payloads.len();
        for _ in 0..64 {
            while let Some(t) = self.a.poll_transmit() {
                if is_rtp(&t.payload) {
                    out.push(t.payload);
                } else if t.dst == self.b_addr {
                    self.b.handle_datagram(self.now, t.src, t.dst, &t.payload);
                }
            }
            if out.len() >= want {
                return;
            }
            // The pacer lets packets out on its timer (5 ms budgets): move
            // the simulated clock there; the work of that timer is part
            // of the send path.
            match self.a.poll_timeout() {
                Some(t) => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                }
                None => return,
            }
        }
    }

    /// Untimed, between iterations: the peer's feedback, 2 ms on.
    fn settle(&mut self) {
        self.shuttle(|_| {});
        self.advance(Duration::from_millis(2));
        self.shuttle(|_| {});
    }
}

fn sinks(n: usize) -> Vec<(UdpSocket, SocketAddr)> {
    (0..n)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let a = s.local_addr().unwrap();
            (s, a)
        })
        .collect()
}

fn sin(a: SocketAddr) -> SockaddrIn {
    match a {
        SocketAddr::V4(v4) => SockaddrIn::from(v4),
        SocketAddr::V6(_) => unreachable!("loopback v4"),
    }
}

fn send_batch(socket: &UdpSocket, packets: &[Vec<u8>], to: &[SockaddrIn]) {
    let mut headers = MultiHeaders::<SockaddrIn>::preallocate(packets.len(), None);
    let iovs: Vec<[IoSlice<'_>; 1]> = packets.iter().map(|p| [IoSlice::new(p)]).collect();
    let addrs: Vec<Option<SockaddrIn>> = to.iter().map(|a| Some(*a)).collect();
    let sent = sendmmsg(
        socket.as_raw_fd(),
        &mut headers,
        &iovs,
        &addrs,
        [],
        MsgFlags::empty(),
    )
    .expect("sendmmsg");
    assert_eq!(sent.count(), packets.len());
}

/// One `sendmsg` with `UDP_SEGMENT`: the kernel cuts `data` into
/// `segment`-byte datagrams (the last may be shorter).
fn send_gso(socket: &UdpSocket, data: &[u8], segment: u16, to: SockaddrIn) {
    let iov = [IoSlice::new(data)];
    let cmsg = [ControlMessage::UdpGsoSegments(&segment)];
    let n = sendmsg(
        socket.as_raw_fd(),
        &iov,
        &cmsg,
        MsgFlags::empty(),
        Some(&to),
    )
    .expect("sendmsg with UDP_SEGMENT");
    assert_eq!(n, data.len());
}

fn bench(c: &mut Criterion) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sink = sinks(5);
    let mut members: Vec<Member> = (0..5).map(Member::connected).collect();

    // What one packet is on the wire, for the bare columns.
    let mut probe = Vec::new();
    let f = members[0].frame(1);
    members[0].send(&f, &mut probe);
    let size = probe[0].len();
    members[0].settle();
    assert_eq!(size, 1200, "one packet on the wire");
    let bare = vec![0x80u8; size];

    let mut g = c.benchmark_group("send_path");
    g.bench_function("sendto/bare", |b| {
        b.iter(|| socket.send_to(&bare, sink[0].1).unwrap())
    });
    g.bench_function("sendto/meshrtc", |b| {
        let m = &mut members[0];
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut out = Vec::with_capacity(1);
            for _ in 0..iters {
                let frame = m.frame(1);
                let t = Instant::now();
                m.send(&frame, &mut out);
                assert_eq!(out.len(), 1, "the pacer held the packet");
                for p in out.drain(..) {
                    socket.send_to(&p, sink[0].1).unwrap();
                }
                total += t.elapsed();
                m.settle();
            }
            total
        })
    });

    let to: Vec<SockaddrIn> = sink.iter().map(|(_, a)| sin(*a)).collect();
    let five = vec![bare.clone(); 5];
    g.bench_function("sendmmsg_5/bare", |b| {
        b.iter(|| send_batch(&socket, &five, &to))
    });
    g.bench_function("sendmmsg_5/meshrtc", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut out = Vec::with_capacity(5);
            for _ in 0..iters {
                // The mesh packetizes once and hands each member the same
                // frame; each member stamps and protects its own copy.
                let frame = members[0].frame(1);
                let t = Instant::now();
                for m in members.iter_mut() {
                    m.send(&frame, &mut out);
                }
                assert_eq!(out.len(), 5, "a pacer held a packet");
                send_batch(&socket, &out, &to);
                out.clear();
                total += t.elapsed();
                for m in members.iter_mut() {
                    m.settle();
                }
            }
            total
        })
    });

    // GSO: ten packets of one size to one member.
    let mut ten = Vec::new();
    let f = members[1].frame(10);
    members[1].send(&f, &mut ten);
    members[1].settle();
    let seg = ten[0].len();
    let gso_ok = ten.len() == 10 && ten[..9].iter().all(|p| p.len() == seg);
    eprintln!(
        "send_path: ten-packet frame sizes {:?}",
        ten.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert!(
        gso_ok,
        "the packets of one frame differ in size: GSO cannot carry them"
    );
    if setsockopt(&socket, UdpGsoSegment, &0).is_err() {
        eprintln!("send_path: this kernel has no UDP_SEGMENT; gso_10 skipped");
        g.finish();
        return;
    }
    let bare_ten = vec![0x80u8; seg * 10];
    g.bench_function("gso_10/bare", |b| {
        b.iter(|| send_gso(&socket, &bare_ten, seg as u16, to[1]))
    });
    g.bench_function("gso_10/meshrtc", |b| {
        let m = &mut members[1];
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut out = Vec::with_capacity(10);
            let mut joined = Vec::with_capacity(seg * 10);
            for _ in 0..iters {
                let frame = m.frame(10);
                let t = Instant::now();
                m.send(&frame, &mut out);
                assert_eq!(out.len(), 10, "the pacer held packets");
                for p in out.drain(..) {
                    joined.extend_from_slice(&p);
                }
                send_gso(&socket, &joined, seg as u16, to[1]);
                joined.clear();
                total += t.elapsed();
                m.settle();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

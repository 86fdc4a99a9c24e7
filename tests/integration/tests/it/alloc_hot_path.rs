//! How much the media hot paths allocate, counted by the test binary's
//! counting allocator (`meshrtc_integration::alloc`), on connections that
//! run in memory, once warm (queues and buffers at their working size).
//! The bounds are what was measured, so that a regression fails:
//!
//! - Receiving RTP on a `PeerConnection` with nothing missing: nothing
//!   per packet; two allocations per frame (its buffer, reserved at its
//!   first packet from the size of the last frame, and the frame event).
//! - Sending, once the retransmission buffer's ring has gone round: one
//!   allocation per packet in `send_frame` (the buffer the pacer queues,
//!   which owns the packet until it may leave); letting it out allocates
//!   nothing. (The "no allocation per packet" of the send path's history
//!   predates the pacer; a pool of packet buffers would restore it.)
//! - Mesh: routing a received datagram to its member's connection adds no
//!   allocation to the connection's own; fan-out costs one buffer per
//!   packet per member.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_integration::alloc::measure;
use meshrtc_mesh::signaling::protocol::ServerMessage;
use meshrtc_mesh::signaling::rooms::{ClientId, Output, Rooms, RoomsConfig};
use meshrtc_mesh::{MeshConfig, MeshEvent, MeshNode};
use meshrtc_peer::{
    ConnectionState, PacketizedFrame, PeerConfig, PeerConnection, PeerEvent, SdpType, Transmit,
};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;

/// A VP8-looking frame of `len` bytes (key frame tag bit as asked).
fn vp8_frame(i: u32, key: bool, len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|j| (j as u32 * 7 + i) as u8).collect();
    f[0] = if key { 0x10 } else { 0x11 };
    f
}

/// Frames sent before measuring: at 4 packets a frame, more than the 1000
/// packets the retransmission buffer keeps.
const WARM_FRAMES: u32 = 300;

/// SRTP (not SRTCP, STUN or DTLS): RFC 7983 first byte 128..=191, and an
/// RTP payload type rather than an RTCP packet type (RFC 5761 §4).
fn is_rtp(d: &[u8]) -> bool {
    d.len() >= 12 && (128..=191).contains(&d[0]) && !(192..=223).contains(&d[1])
}

/// The frames b got are a's key frame and frames 1, 2, ... in order and
/// whole, and no more than two (still in the pacer) are missing of `n`.
fn check_frames(got: &[Vec<u8>], n: u32) {
    let sent: Vec<Vec<u8>> = std::iter::once(vp8_frame(0, true, 9000))
        .chain((1..n).map(|i| vp8_frame(i, false, 4000)))
        .collect();
    assert!(
        got.len() + 2 >= sent.len(),
        "{} frames of {n} received",
        got.len()
    );
    assert!(
        got == &sent[..got.len()],
        "frames not whole or not in order: {:?}",
        got.iter()
            .map(|f| (f.len(), f.get(1).copied()))
            .collect::<Vec<_>>()
    );
}

struct Pair {
    now: Instant,
    a: PeerConnection,
    b: PeerConnection,
    a_addr: SocketAddr,
    b_addr: SocketAddr,
    a_frames: Vec<Vec<u8>>,
    b_frames: Vec<Vec<u8>>,
}

impl Pair {
    fn connected() -> (Pair, String) {
        let now = Instant::now();
        let mut a = PeerConnection::new(PeerConfig::with_fixed_seed(11), now).unwrap();
        let mut b = PeerConnection::new(PeerConfig::with_fixed_seed(12), now).unwrap();
        let (a_addr, b_addr) = (
            "127.0.0.1:4101".parse().unwrap(),
            "127.0.0.1:4102".parse().unwrap(),
        );
        a.add_local_address(a_addr);
        b.add_local_address(b_addr);
        let mid = a.add_transceiver(MediaKind::Video, true, true);
        b.add_answer_track(MediaKind::Video);
        let offer = a.create_offer(now).unwrap();
        b.set_remote_description(now, SdpType::Offer, &offer)
            .unwrap();
        let answer = b.create_answer(now).unwrap();
        a.set_remote_description(now, SdpType::Answer, &answer)
            .unwrap();
        let mut p = Pair {
            now,
            a,
            b,
            a_addr,
            b_addr,
            a_frames: Vec::new(),
            b_frames: Vec::new(),
        };
        for _ in 0..500 {
            p.step();
            if p.a.state() == ConnectionState::Connected
                && p.b.state() == ConnectionState::Connected
            {
                return (p, mid);
            }
        }
        panic!("not connected: {:?} {:?}", p.a.state(), p.b.state());
    }

    fn events(&mut self) {
        while let Some(e) = self.a.poll_event() {
            if let PeerEvent::Frame(f) = e {
                self.a_frames.push(f.data);
            }
        }
        while let Some(e) = self.b.poll_event() {
            if let PeerEvent::Frame(f) = e {
                self.b_frames.push(f.data);
            }
        }
    }

    /// Delivers everything in flight both ways, then moves the clock to the
    /// next timer (at most 5 ms on).
    fn step(&mut self) {
        for _ in 0..10 {
            let mut n = 0;
            while let Some(Transmit { src, dst, payload }) = self.a.poll_transmit() {
                if dst == self.b_addr {
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
            self.events();
            if n == 0 {
                break;
            }
        }
        self.advance();
    }

    fn advance(&mut self) {
        let next = [self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let cap = self.now + Duration::from_millis(5);
        self.now = next.map_or(cap, |t| t.clamp(self.now, cap));
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
    }

    /// Sends frame `i` from a (not measured) and steps until the pacer
    /// has let all of it out; returns what a sent to b, in order.
    fn send_and_collect(&mut self, mid: &str, pk: &mut Vp8Packetizer, i: u32) -> Vec<Vec<u8>> {
        let f = vp8_frame(i, false, 4000);
        let frame = PacketizedFrame::vp8(pk, f.into(), i * 3000, 1100).unwrap();
        self.a.send_frame(self.now, mid, &frame).unwrap();
        let mut out = Vec::new();
        for _ in 0..40 {
            while let Some(t) = self.a.poll_transmit() {
                if t.dst == self.b_addr {
                    out.push(t.payload);
                }
            }
            let rtp = out.iter().filter(|d| is_rtp(d)).count();
            if rtp >= frame.payloads.len() {
                break;
            }
            self.advance();
        }
        out
    }
}

#[test]
fn a_received_rtp_packet_allocates_nothing_but_a_frame_allocates_twice() {
    let (mut p, mid) = Pair::connected();
    let mut pk = Vp8Packetizer::new(1);
    // Warm up: a key frame, then enough frames that every queue, map and
    // buffer on the receive path has reached its working size.
    let key = PacketizedFrame::vp8(&mut pk, vp8_frame(0, true, 9000).into(), 0, 1100).unwrap();
    p.a.send_frame(p.now, &mid, &key).unwrap();
    for i in 1..60 {
        let data = p.send_and_collect(&mid, &mut pk, i);
        for d in data {
            p.b.handle_datagram(p.now, p.a_addr, p.b_addr, &d);
        }
        p.step();
    }
    let warm = p.b_frames.len();
    assert!(warm >= 55, "only {warm} frames through while warming up");

    // Measured: 40 more frames, every received datagram on its own. The
    // packets of a frame arrive in order; the first one (after the
    // previous frame completed) starts the frame's buffer.
    let (mut rtp_packets, mut inner, mut inner_allocs) = (0u64, 0u64, 0u64);
    let (mut starting, mut starting_allocs) = (0u64, 0u64);
    let (mut completing, mut completing_allocs) = (0u64, 0u64);
    let mut worst_frame = 0u64;
    let mut frame_allocs = 0u64;
    let mut at_start: Option<bool> = None;
    for i in 60..100 {
        let data = p.send_and_collect(&mid, &mut pk, i);
        for d in &data {
            if !is_rtp(d) {
                p.b.handle_datagram(p.now, p.a_addr, p.b_addr, d);
                continue;
            }
            rtp_packets += 1;
            let before = p.b_frames.len();
            let ((), usage) = measure(|| p.b.handle_datagram(p.now, p.a_addr, p.b_addr, d));
            p.events();
            frame_allocs += usage.allocations;
            let completes = p.b_frames.len() > before;
            match (at_start, completes) {
                // Before the first completion the position in the frame
                // is unknown: not counted.
                (None, false) => {}
                (None, true) => at_start = Some(true),
                (Some(_), true) => {
                    completing += 1;
                    completing_allocs += usage.allocations;
                    worst_frame = worst_frame.max(frame_allocs);
                    at_start = Some(true);
                }
                (Some(true), false) => {
                    starting += 1;
                    starting_allocs += usage.allocations;
                    at_start = Some(false);
                }
                (Some(false), false) => {
                    inner += 1;
                    inner_allocs += usage.allocations;
                }
            }
            if completes {
                frame_allocs = 0;
            }
        }
        p.step();
    }
    eprintln!(
        "receive: {rtp_packets} RTP packets; {starting} starting a frame: {starting_allocs} \
         allocations; {inner} inside: {inner_allocs}; {completing} completing one: \
         {completing_allocs}; worst frame {worst_frame}"
    );
    assert!(completing >= 38, "{completing} measured frames completed");
    assert!(inner >= 60, "{inner} packets inside frames");
    // No allocation per packet: a packet that neither starts nor
    // completes a frame allocates nothing.
    assert_eq!(inner_allocs, 0, "allocations on packets inside frames");
    // Per frame: its buffer (at the first packet) and the event handed
    // out (the m-line id, at the last); the buffer leaves with the frame.
    assert!(worst_frame <= 2, "{worst_frame} allocations for one frame");
    check_frames(&p.b_frames, 100);
}

#[test]
fn a_sent_packet_costs_its_buffer_and_nothing_when_paced_out() {
    let (mut p, mid) = Pair::connected();
    let mut pk = Vp8Packetizer::new(1);
    let key = PacketizedFrame::vp8(&mut pk, vp8_frame(0, true, 9000).into(), 0, 1100).unwrap();
    p.a.send_frame(p.now, &mid, &key).unwrap();
    // Warm up past the retransmission buffer's 1000-slot ring, whose slot
    // buffers are allocated on its first round only.
    for i in 1..WARM_FRAMES {
        let data = p.send_and_collect(&mid, &mut pk, i);
        for d in data {
            p.b.handle_datagram(p.now, p.a_addr, p.b_addr, &d);
        }
        p.step();
    }
    // Measured: a's side only (send_frame, the pacer's timers, handing
    // datagrams out); b's receiving and its feedback to a are not.
    let (mut rtp, mut other, mut allocs) = (0u64, 0u64, 0u64);
    let (mut in_send, mut in_poll, mut in_timeout) = (0u64, 0u64, 0u64);
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(1024);
    for i in WARM_FRAMES..WARM_FRAMES + 40 {
        let frame = PacketizedFrame::vp8(&mut pk, vp8_frame(i, false, 4000).into(), i * 3000, 1100)
            .unwrap();
        let n = frame.payloads.len() as u64;
        let ((), u) = measure(|| p.a.send_frame(p.now, &mid, &frame).unwrap());
        allocs += u.allocations;
        in_send += u.allocations;
        let mut sent = 0;
        for _ in 0..40 {
            out.clear();
            let ((), u) = measure(|| {
                while let Some(t) = p.a.poll_transmit() {
                    out.push(t.payload);
                }
            });
            allocs += u.allocations;
            in_poll += u.allocations;
            for d in &out {
                if is_rtp(d) {
                    sent += 1;
                    rtp += 1;
                } else {
                    other += 1;
                }
                p.b.handle_datagram(p.now, p.a_addr, p.b_addr, d);
            }
            p.events();
            while let Some(t) = p.b.poll_transmit() {
                p.a.handle_datagram(p.now, t.src, t.dst, &t.payload);
            }
            if sent >= n {
                break;
            }
            let next = [p.a.poll_timeout(), p.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let cap = p.now + Duration::from_millis(5);
            p.now = next.map_or(cap, |t| t.clamp(p.now, cap));
            let ((), u) = measure(|| p.a.handle_timeout(p.now));
            allocs += u.allocations;
            in_timeout += u.allocations;
            p.b.handle_timeout(p.now);
        }
        assert_eq!(sent, n, "frame {i}: {sent} of {n} packets out");
    }
    eprintln!(
        "send: {rtp} RTP packets and {other} other datagrams out, {allocs} allocations \
         (send_frame {in_send}, poll_transmit {in_poll}, handle_timeout {in_timeout})"
    );
    assert!(rtp >= 160, "{rtp} packets");
    check_frames(&p.b_frames, WARM_FRAMES + 40);
    // Measured: one allocation per packet in send_frame, the buffer the
    // pacer queues (it owns the packet until it may leave); letting it out
    // (protect in place, queue for the socket) allocates nothing.
    assert!(
        in_send <= rtp + 8,
        "send_frame: {in_send} allocations for {rtp} packets"
    );
    assert!(
        in_timeout + in_poll <= 8,
        "pacer release: {} allocations for {rtp} packets",
        in_timeout + in_poll
    );
}

/// Three mesh nodes, a room server and a wire, all in memory.
struct Mesh {
    now: Instant,
    nodes: Vec<MeshNode>,
    clients: Vec<ClientId>,
    rooms: Rooms,
    /// Video frames each node got, per sender id.
    frames: Vec<Vec<(String, Vec<u8>)>>,
}

impl Mesh {
    fn new(n: usize) -> Mesh {
        let now = Instant::now();
        let mut rooms = Rooms::new(RoomsConfig::default());
        let mut nodes = Vec::new();
        let mut clients = Vec::new();
        for i in 0..n {
            let slots = (0..4).map(|k| vec![Self::addr(i, k)]).collect::<Vec<_>>();
            let mut cfg = MeshConfig::new(
                "alloc",
                &format!("m{i}"),
                PeerConfig::with_fixed_seed(300 + i as u64),
                slots,
            );
            cfg.send_audio = false;
            nodes.push(MeshNode::new(cfg));
            clients.push(rooms.connect(now));
        }
        Mesh {
            now,
            nodes,
            clients,
            rooms,
            frames: vec![Vec::new(); n],
        }
    }

    fn addr(node: usize, slot: usize) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, node as u8 + 1], 40000 + slot as u16))
    }

    fn signaling(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                while let Some(msg) = self.nodes[i].poll_signal() {
                    moved = true;
                    let text = serde_json::to_string(&msg).unwrap();
                    for out in self.rooms.handle_text(self.now, self.clients[i], &text) {
                        if let Output::Send { to, text } = out {
                            let j = self.clients.iter().position(|c| *c == to).unwrap();
                            let msg: ServerMessage = serde_json::from_str(&text).unwrap();
                            self.nodes[j].handle_signal(self.now, msg);
                        }
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn events(&mut self) {
        for (i, node) in self.nodes.iter_mut().enumerate() {
            while let Some(e) = node.poll_event() {
                if let MeshEvent::Frame { from, frame } = e {
                    self.frames[i].push((from, frame.data));
                }
            }
        }
    }

    fn owner(&self, dst: SocketAddr) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| (0..4).any(|k| Self::addr(i, k) == dst))
    }

    /// Everything in flight delivered, then the clock moved to the next
    /// timer (at most 5 ms on).
    fn step(&mut self) {
        self.signaling();
        for _ in 0..10 {
            let mut n = 0;
            for i in 0..self.nodes.len() {
                while let Some(t) = self.nodes[i].poll_transmit() {
                    if let Some(j) = self.owner(t.dst) {
                        self.nodes[j].handle_datagram(self.now, t.src, t.dst, &t.payload);
                        n += 1;
                    }
                }
            }
            self.events();
            if n == 0 {
                break;
            }
        }
        let next = self.nodes.iter().filter_map(MeshNode::poll_timeout).min();
        let cap = self.now + Duration::from_millis(5);
        self.now = next.map_or(cap, |t| t.clamp(self.now, cap));
        for node in &mut self.nodes {
            node.handle_timeout(self.now);
        }
    }

    fn all_connected(&self) -> bool {
        self.nodes.iter().all(|n| {
            let m = n.members();
            m.len() == self.nodes.len() - 1 && m.iter().all(|(_, up)| *up)
        })
    }
}

#[test]
fn mesh_fan_out_costs_a_buffer_per_packet_per_member_and_routing_nothing() {
    let mut mesh = Mesh::new(3);
    for _ in 0..2000 {
        mesh.step();
        if mesh.all_connected() {
            break;
        }
    }
    assert!(mesh.all_connected(), "mesh not connected");
    let mut pk = Vp8Packetizer::new(1);
    let mut frame_no = 0u32;
    let mut others = [Vp8Packetizer::new(500), Vp8Packetizer::new(900)];
    // Members 1 and 2 send too (not measured): each connection then has
    // RTCP reports both ways and knows its RTT, as in a real call.
    let mut send = |mesh: &mut Mesh, key: bool| {
        let f = vp8_frame(frame_no, key, if key { 9000 } else { 4000 });
        let frame = PacketizedFrame::vp8(&mut pk, f.into(), frame_no * 3000, 1100).unwrap();
        for (k, other) in others.iter_mut().enumerate() {
            let f = vp8_frame(frame_no, key, 1000);
            let frame = PacketizedFrame::vp8(other, f.into(), frame_no * 3000, 1100).unwrap();
            mesh.nodes[k + 1].send_frame(mesh.now, &frame);
        }
        frame_no += 1;
        let packets = frame.payloads.len() as u64;
        let (sent, u) = measure(|| mesh.nodes[0].send_frame(mesh.now, &frame));
        (sent, packets, u.allocations)
    };
    // Warm up: a key frame, then frames at 15 fps past the retransmission
    // buffers' first round.
    send(&mut mesh, true);
    for _ in 0..WARM_FRAMES {
        for _ in 0..13 {
            mesh.step();
        }
        send(&mut mesh, false);
    }
    for _ in 0..40 {
        mesh.step();
    }
    let ids: Vec<String> = mesh
        .nodes
        .iter()
        .map(|n| n.id().unwrap().to_string())
        .collect();
    let got = |mesh: &Mesh, j: usize| mesh.frames[j].iter().filter(|(f, _)| *f == ids[0]).count();
    let warm = [got(&mesh, 1), got(&mesh, 2)];
    assert!(
        warm.iter().all(|&n| n as u32 + 5 >= WARM_FRAMES),
        "warm-up frames received: {warm:?}"
    );

    // Measured: 40 frames sent to the two other members; and, on member
    // 1, every datagram member 0 sends it, routed to its connection.
    let (mut packets, mut fan_allocs, mut members_reached) = (0u64, 0u64, 0u64);
    let (mut routed, mut routed_allocs, mut routed_frames) = (0u64, 0u64, 0u64);
    let (mut routed_mid, mut routed_over_one) = (0u64, 0u64);
    let start = mesh.now;
    for _ in 0..40 {
        let (reached, n, allocs) = send(&mut mesh, false);
        packets += n;
        fan_allocs += allocs;
        members_reached += reached as u64;
        for _ in 0..13 {
            mesh.signaling();
            for _ in 0..10 {
                let mut moved = 0;
                for i in 0..3 {
                    while let Some(t) = mesh.nodes[i].poll_transmit() {
                        let Some(j) = mesh.owner(t.dst) else { continue };
                        if i == 0 && j == 1 && is_rtp(&t.payload) {
                            let before = mesh.frames[1].len();
                            let now = mesh.now;
                            let ((), u) = measure(|| {
                                mesh.nodes[1].handle_datagram(now, t.src, t.dst, &t.payload)
                            });
                            mesh.events();
                            routed += 1;
                            if mesh.frames[1].len() > before {
                                routed_frames += 1;
                            } else {
                                routed_allocs += u.allocations;
                                routed_mid += 1;
                                routed_over_one += u64::from(u.allocations > 1);
                            }
                        } else {
                            mesh.nodes[j].handle_datagram(mesh.now, t.src, t.dst, &t.payload);
                        }
                        moved += 1;
                    }
                }
                mesh.events();
                if moved == 0 {
                    break;
                }
            }
            let next = mesh.nodes.iter().filter_map(MeshNode::poll_timeout).min();
            let cap = mesh.now + Duration::from_millis(5);
            mesh.now = next.map_or(cap, |t| t.clamp(mesh.now, cap));
            for node in &mut mesh.nodes {
                node.handle_timeout(mesh.now);
            }
        }
    }
    eprintln!(
        "mesh: 40 frames, {packets} packets, reached {members_reached} member-frames, \
         send_frame allocations {fan_allocs}; routed {routed} RTP datagrams on member 1 \
         ({routed_frames} completing a frame), {routed_allocs} allocations on the other \
         {routed_mid} ({routed_over_one} with more than one) in {:?}",
        mesh.now - start
    );
    assert_eq!(members_reached, 80, "each frame reaches both members");
    assert_eq!(routed_frames, 40);
    // Routing adds nothing to what the member's connection allocates
    // (one buffer per frame at its first packet, see above).
    assert!(routed_mid >= 120, "{routed_mid} packets inside frames");
    assert!(
        routed_allocs <= routed_frames && routed_over_one == 0,
        "{routed_allocs} allocations on {routed_mid} routed packets, \
         {routed_over_one} with more than one"
    );
    // Fan-out: each member's connection stamps and queues its own copy of
    // each packet (one buffer per packet per member), nothing more.
    assert!(
        fan_allocs <= packets * 2 + 8,
        "{fan_allocs} allocations for {packets} packets to 2 members"
    );
    assert_eq!(got(&mesh, 1), warm[0] + 40);
    assert_eq!(got(&mesh, 2), warm[1] + 40);
}

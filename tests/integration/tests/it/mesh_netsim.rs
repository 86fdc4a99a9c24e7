//! Mesh calls of up to six members on the network simulator. Signaling
//! goes through the real room logic (`meshrtc_mesh::signaling::rooms`) in
//! memory, as JSON text; media is the fake codec (realistic sizes and key
//! frame structure, frame numbers inside) plus real Opus.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use meshrtc_media::fake::{FakeConfig, FakeDecoder, FakeEncoder};
use meshrtc_media::opus::OpusEncoder;
use meshrtc_media::source::ToneSource;
use meshrtc_mesh::signaling::protocol::{ClientMessage, ServerMessage};
use meshrtc_mesh::signaling::rooms::{ClientId, Output, Rooms, RoomsConfig};
use meshrtc_mesh::{LayerFrame, MeshConfig, MeshEvent, MeshNode};
use meshrtc_netsim::{Datagram, LinkConfig, NatConfig, NatId, Node, NodeId, Sim};
use meshrtc_peer::{PacketizedFrame, PeerConfig};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;

pub(crate) const FPS: u32 = 15;
const FRAME: Duration = Duration::from_micros(1_000_000 / FPS as u64);

pub(crate) struct Member {
    pub(crate) node: MeshNode,
    origin: Instant,
    encoder: FakeEncoder,
    packetizer: Vp8Packetizer,
    tone: ToneSource,
    opus: OpusEncoder,
    frame_no: u32,
    audio_no: u32,
    next_video: Instant,
    next_audio: Instant,
    decoders: BTreeMap<String, FakeDecoder>,
    /// Frame numbers decoded, per sender.
    decoded: BTreeMap<String, Vec<u32>>,
    /// Frames a decoder refused after it had started (real gaps).
    pub(crate) decode_errors: u32,
    audio: BTreeMap<String, u32>,
    events: Vec<(Instant, MeshEvent)>,
    silent: bool,
    /// Hostile: the share of incoming RTP (RTX included) thrown away, so
    /// that the node's NACK generator asks for it again and again.
    drop_rtp: f64,
    rng: u64,
    /// Hostile: asks every member for a key frame at these times (every
    /// 10 ms).
    pli_flood: Option<Instant>,
    /// Hostile: from this time on, every 10 ms, sends every member a
    /// compound it crafts itself: for each of the member's SSRCs, a generic
    /// NACK covering the 1000 packets before the last one seen and a PLI
    /// (not paced, unlike [`MeshNode::request_keyframe`]).
    raw_flood: Option<Instant>,
    /// The last sequence number seen per SSRC (SRTP leaves the RTP header
    /// in the clear, RFC 3711 §3.1).
    seen: BTreeMap<u32, u16>,
    /// Crafted compounds sent.
    raw_sent: u64,
    /// Simulcast: one encoder and packetizer per layer, smallest first
    /// (empty: one stream from `encoder`). Each layer's frame number
    /// carries the layer in its top byte.
    pub(crate) layers: Vec<(FakeEncoder, Vp8Packetizer)>,
    /// Key frames each layer's encoder made, the first ones included.
    pub(crate) layer_keyframes: Vec<u64>,
    /// Key frames asked for come this many frames later (a pipelined
    /// encoder), so that members wait for their layer's key frame while
    /// its delta frames go by.
    pub(crate) key_delay: u32,
    /// Key frames asked for: at which frame, of which layer.
    keys_due: Vec<(u32, usize)>,
    /// Video frames decoded, per sender, with their layer and size.
    pub(crate) rx: BTreeMap<String, Vec<Rx>>,
    /// The camera is off: no video frames are encoded (audio goes on).
    pub(crate) video_paused: bool,
    /// Delta frames of another layer than the key frame before them: a
    /// sender that moved us between layers off a key frame.
    pub(crate) layer_breaks: u32,
    /// The second video track ("screen"): sent while on, 5 frames a
    /// second, frame numbers from 0.
    screen: Option<(FakeEncoder, Vp8Packetizer, u32, Instant)>,
    /// Screen frames decoded, per sender (the video m-lines after the
    /// first, mid "0").
    screen_decoded: BTreeMap<String, Vec<u32>>,
    screen_decoders: BTreeMap<String, FakeDecoder>,
    /// This node is no member but a TURN server (`add_turn_server`).
    pub(crate) turn: Option<Box<meshrtc_integration::turn_server::SimTurn>>,
    /// "Sockets" opened for TURN allocations after an ICE restart (a new
    /// port on the node's IP), and those closed again.
    pub(crate) relay_sockets: Vec<SocketAddr>,
    pub(crate) relay_sockets_closed: Vec<SocketAddr>,
}

/// A decoded video frame, for the simulcast test.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rx {
    pub(crate) at: Instant,
    /// The sender's frame count (layer bits removed).
    pub(crate) frame: u32,
    layer: u32,
    /// The width of the last key frame.
    width: u16,
    /// RTP time (the connection's offset added).
    ts: u32,
    bytes: usize,
}

impl Member {
    fn new(i: usize, epoch: Instant, ip: IpAddr, consent: Duration) -> Member {
        let mut m = Member::with_config(i, 1000 + i as u64, epoch, ip, consent, 40000, |cfg| {
            cfg.keyframe_min_interval = Duration::from_millis(300);
        });
        m.rng = i as u64 + 1;
        m
    }

    fn with_config(
        i: usize,
        seed: u64,
        epoch: Instant,
        ip: IpAddr,
        consent: Duration,
        first_port: u16,
        tune: impl FnOnce(&mut MeshConfig),
    ) -> Member {
        // The default DTLS versions: 1.3 between two meshrtc members.
        let mut peer = PeerConfig::with_fixed_seed(seed);
        peer.ice.disconnected_timeout = consent / 2;
        peer.ice.consent_timeout = consent;
        peer.ice.consent_interval = Duration::from_secs(1);
        let slots = (0..10)
            .map(|k| vec![SocketAddr::new(ip, first_port + k as u16)])
            .collect();
        let mut cfg = MeshConfig::new("room", &format!("member{i}"), peer, slots);
        tune(&mut cfg);
        Member {
            node: MeshNode::new(cfg),
            origin: epoch,
            encoder: FakeEncoder::new(FakeConfig::new(300_000, FPS), i as u64),
            packetizer: Vp8Packetizer::new(i as u16 * 100),
            tone: ToneSource::new(48_000, 1, 300.0 + 100.0 * i as f64),
            opus: OpusEncoder::new(48_000, 1, 24_000).unwrap(),
            frame_no: 0,
            audio_no: 0,
            next_video: epoch,
            next_audio: epoch,
            decoders: BTreeMap::new(),
            decoded: BTreeMap::new(),
            decode_errors: 0,
            audio: BTreeMap::new(),
            events: Vec::new(),
            silent: false,
            drop_rtp: 0.0,
            rng: seed | 1,
            pli_flood: None,
            raw_flood: None,
            seen: BTreeMap::new(),
            raw_sent: 0,
            layers: Vec::new(),
            layer_keyframes: Vec::new(),
            key_delay: 0,
            keys_due: Vec::new(),
            rx: BTreeMap::new(),
            video_paused: false,
            layer_breaks: 0,
            screen: None,
            screen_decoded: BTreeMap::new(),
            screen_decoders: BTreeMap::new(),
            turn: None,
            relay_sockets: Vec::new(),
            relay_sockets_closed: Vec::new(),
        }
    }

    /// The hostile's own RTCP for one member: an empty RR (RFC 3550 §6.1),
    /// then for each of its `ssrcs` seen a NACK of the 1000 packets up to the last one seen
    /// (RFC 4585 §6.2.1: 63 FCI pairs of 16 + 1 packets) and a PLI
    /// (§6.3.1).
    fn crafted_feedback(&self, ssrcs: &[u32]) -> Vec<u8> {
        let sender: u32 = 0x4854_4f53;
        let mut out = Vec::new();
        out.extend_from_slice(&[0x80, 201, 0, 1]);
        out.extend_from_slice(&sender.to_be_bytes());
        for (&ssrc, &last) in self.seen.iter().filter(|(s, _)| ssrcs.contains(s)) {
            let pairs = 1000 / 17 + 1;
            out.extend_from_slice(&[0x81, 205]);
            out.extend_from_slice(&(2 + pairs as u16).to_be_bytes());
            out.extend_from_slice(&sender.to_be_bytes());
            out.extend_from_slice(&ssrc.to_be_bytes());
            for k in (0..pairs).rev() {
                let pid = last.wrapping_sub(16 + 17 * k as u16);
                out.extend_from_slice(&pid.to_be_bytes());
                out.extend_from_slice(&0xffffu16.to_be_bytes());
            }
            out.extend_from_slice(&[0x81, 206, 0, 2]);
            out.extend_from_slice(&sender.to_be_bytes());
            out.extend_from_slice(&ssrc.to_be_bytes());
        }
        out
    }

    /// xorshift64: the hostile's drops, reproducible.
    fn chance(&mut self, p: f64) -> bool {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        ((self.rng >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub(crate) fn events(&mut self, now: Instant) {
        // New transports for TURN allocations after an ICE restart (the
        // simulator routes by IP: a new port is a new socket).
        while let Some(r) = self.node.poll_relay_transport_request() {
            let port = 45000 + self.relay_sockets.len() as u16;
            let local = SocketAddr::new(r.request.bind, port);
            let (server, transport) = (r.request.server, r.request.transport);
            self.node
                .add_relay_transport(now, r.slot, server, transport, local);
            self.relay_sockets.push(local);
        }
        while let Some(local) = self.node.poll_relay_transport_release() {
            self.relay_sockets_closed.push(local);
        }
        while let Some(e) = self.node.poll_event() {
            if let MeshEvent::Frame { from, frame } = &e {
                if frame.kind == MediaKind::Video && frame.mid != "0" {
                    let d = self.screen_decoders.entry(from.clone()).or_default();
                    if let Ok(info) = d.decode(&frame.data) {
                        let v = self.screen_decoded.entry(from.clone()).or_default();
                        v.push(info.frame_number);
                    }
                    continue;
                }
                match frame.kind {
                    MediaKind::Video => {
                        let d = self.decoders.entry(from.clone()).or_default();
                        match d.decode(&frame.data) {
                            Ok(info) => {
                                self.decoded
                                    .entry(from.clone())
                                    .or_default()
                                    .push(info.frame_number);
                                let rx = self.rx.entry(from.clone()).or_default();
                                let layer = info.frame_number >> 24;
                                // RFC 6386 §9.1: width in bytes 6-7 of a key frame.
                                let width = if info.keyframe {
                                    u16::from_le_bytes([frame.data[6], frame.data[7]]) & 0x3fff
                                } else {
                                    let last = rx.last().map(|r| (r.layer, r.width));
                                    if last.is_some_and(|(l, _)| l != layer) {
                                        self.layer_breaks += 1;
                                    }
                                    last.map_or(0, |(_, w)| w)
                                };
                                rx.push(Rx {
                                    at: now,
                                    frame: info.frame_number & 0xff_ffff,
                                    layer,
                                    width,
                                    ts: frame.rtp_timestamp,
                                    bytes: frame.data.len(),
                                });
                            }
                            Err(_) => {
                                if self.decoded.contains_key(from) {
                                    self.decode_errors += 1;
                                }
                            }
                        }
                    }
                    MediaKind::Audio => *self.audio.entry(from.clone()).or_default() += 1,
                    MediaKind::Application => {}
                }
                continue;
            }
            self.events.push((now, e));
        }
    }

    fn media(&mut self, now: Instant) {
        if self.silent {
            return;
        }
        while self.next_video <= now && !self.layers.is_empty() {
            let t_us = (self.next_video - self.origin).as_micros() as u64;
            let ts = (t_us * 9 / 100) as u32;
            let frame_no = self.frame_no;
            for l in self.node.take_keyframe_requests(now) {
                self.keys_due.push((frame_no + self.key_delay, l));
            }
            let keys: Vec<usize> = self
                .keys_due
                .iter()
                .filter(|(at, _)| *at <= frame_no)
                .map(|(_, l)| *l)
                .collect();
            self.keys_due.retain(|(at, _)| *at > frame_no);
            let targets = self.node.layer_targets();
            // The same capture encoded once per layer and packetized once
            // per layer; the packetizers started at the same picture id
            // and advance together, so every layer of a capture has the
            // same picture id and RTP time.
            let mut frames = Vec::new();
            for (i, (enc, pk)) in self.layers.iter_mut().enumerate() {
                enc.set_bitrate(targets[i]);
                let key = keys.contains(&i) || self.frame_no == 0;
                let f = enc.encode(self.frame_no | (i as u32) << 24, t_us, key);
                self.layer_keyframes[i] += u64::from(f.keyframe);
                frames.push(PacketizedFrame::vp8(pk, f.data.into(), ts, 1100).unwrap());
            }
            let layered: Vec<LayerFrame> = frames
                .iter()
                .enumerate()
                .map(|(index, frame)| LayerFrame { index, frame })
                .collect();
            self.node.send_layers(now, &layered);
            self.frame_no += 1;
            self.next_video += FRAME;
        }
        while self.video_paused && self.next_video <= now {
            self.next_video += FRAME;
        }
        while self.next_video <= now {
            let t_us = (self.next_video - self.origin).as_micros() as u64;
            let key = self.node.take_keyframe_request(now) || self.frame_no == 0;
            self.encoder.set_bitrate(self.node.target_bitrate());
            let f = self.encoder.encode(self.frame_no, t_us, key);
            self.frame_no += 1;
            // Encoded once, packetized once, sent to every member.
            let ts = (t_us * 9 / 100) as u32;
            let p = PacketizedFrame::vp8(&mut self.packetizer, f.data.into(), ts, 1100).unwrap();
            self.node.send_frame(now, &p);
            self.next_video += FRAME;
        }
        if let Some((enc, pk, no, next)) = &mut self.screen {
            while *next <= now {
                let t_us = (*next - self.origin).as_micros() as u64;
                let key = *no % 10 == 0 || self.node.screen_keyframe_wanted();
                let f = enc.encode(*no, t_us, key);
                let ts = (t_us * 9 / 100) as u32;
                let p = PacketizedFrame::vp8(pk, f.data.into(), ts, 1100).unwrap();
                self.node.send_screen_frame(now, &p);
                *no += 1;
                *next += Duration::from_millis(200);
            }
        }
        while self.next_audio <= now {
            let pcm = self.tone.next_frame();
            let packet = self.opus.encode(&pcm).unwrap();
            self.node.send_frame(
                now,
                &PacketizedFrame::opus(packet.into(), self.audio_no * 960),
            );
            self.audio_no += 1;
            self.next_audio += Duration::from_millis(20);
        }
    }
}

impl Node for Member {
    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        if let Some(t) = &mut self.turn {
            t.handle_datagram(now, d);
            return;
        }
        if self.silent {
            return;
        }
        // RTP (RFC 7983 first byte 128..=191, RFC 5761 payload types
        // outside RTCP's 64..=95): the hostile loses what it chooses.
        let rtp = matches!(d.payload.first(), Some(128..=191))
            && !matches!(d.payload.get(1).map(|b| b & 0x7f), Some(64..=95));
        if rtp && self.raw_flood.is_some() && d.payload.len() >= 12 {
            let seq = u16::from_be_bytes([d.payload[2], d.payload[3]]);
            let ssrc = u32::from_be_bytes(d.payload[8..12].try_into().unwrap());
            self.seen.insert(ssrc, seq);
        }
        if rtp && self.drop_rtp > 0.0 && self.chance(self.drop_rtp) {
            return;
        }
        self.node.handle_datagram(now, d.src, d.dst, &d.payload);
        self.events(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        if self.silent || self.turn.is_some() {
            return;
        }
        self.node.handle_timeout(now);
        if let Some(at) = self.pli_flood.filter(|t| *t <= now) {
            for (peer, _) in self.node.members() {
                self.node.request_keyframe(now, &peer.id);
            }
            self.pli_flood = Some(at + Duration::from_millis(10));
        }
        if let Some(at) = self.raw_flood.filter(|t| *t <= now) {
            for (id, _, st) in self.node.stats().members {
                let ssrcs: Vec<u32> = st.inbound.iter().map(|s| s.ssrc).collect();
                let compound = self.crafted_feedback(&ssrcs);
                if let Some(Ok(())) = self.node.send_rtcp(&id, &compound) {
                    self.raw_sent += 1;
                }
            }
            self.raw_flood = Some(at + Duration::from_millis(10));
        }
        self.media(now);
        self.events(now);
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        if let Some(t) = &mut self.turn {
            return t.poll_transmit(now);
        }
        let t = self.node.poll_transmit()?;
        (!self.silent).then_some(Datagram {
            src: t.src,
            dst: t.dst,
            payload: t.payload,
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        if self.silent || self.turn.is_some() {
            return None;
        }
        [
            self.node.poll_timeout(),
            Some(self.next_video.min(self.next_audio)),
            self.pli_flood,
            self.raw_flood,
            self.screen.as_ref().map(|s| s.3),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// The simulator, the room server, and who is who.
pub(crate) struct Call {
    pub(crate) sim: Sim<Member>,
    rooms: Rooms,
    pub(crate) ids: Vec<NodeId>,
    clients: Vec<Option<ClientId>>,
    /// Members whose signaling is cut (vanished).
    deaf: Vec<bool>,
}

impl Call {
    pub(crate) fn new(seed: u64, link: LinkConfig) -> Call {
        let mut sim = Sim::new(seed);
        sim.set_default_link(link);
        Call {
            sim,
            rooms: Rooms::new(RoomsConfig::default()),
            ids: Vec::new(),
            clients: Vec::new(),
            deaf: Vec::new(),
        }
    }

    fn add(&mut self, consent: Duration) -> usize {
        let i = self.ids.len();
        let ip: IpAddr = format!("10.0.0.{}", i + 1).parse().unwrap();
        let m = Member::new(i, self.sim.now(), ip, consent);
        self.ids.push(self.sim.add_node(m, &[ip]));
        self.clients.push(Some(self.rooms.connect(self.sim.now())));
        self.deaf.push(false);
        i
    }

    /// A member with the mesh defaults (key frames: 500 ms, burst 2,
    /// newcomers 250 ms apart).
    fn add_default(&mut self) -> usize {
        self.add_tuned(|_| {})
    }

    /// A member with the mesh defaults changed by `tune`.
    pub(crate) fn add_tuned(&mut self, tune: impl FnOnce(&mut MeshConfig)) -> usize {
        let i = self.ids.len();
        let ip: IpAddr = format!("10.0.0.{}", i + 1).parse().unwrap();
        self.add_with(ip, None, Duration::from_secs(30), tune)
    }

    /// A member at `ip` (behind `nat` if given) with consent timing out
    /// after `consent`.
    pub(crate) fn add_with(
        &mut self,
        ip: IpAddr,
        nat: Option<NatId>,
        consent: Duration,
        tune: impl FnOnce(&mut MeshConfig),
    ) -> usize {
        let i = self.ids.len();
        let m = Member::with_config(i, 1000 + i as u64, self.sim.now(), ip, consent, 40000, tune);
        let id = match nat {
            Some(nat) => self.sim.add_node_behind(nat, m, &[ip]),
            None => self.sim.add_node(m, &[ip]),
        };
        self.ids.push(id);
        self.clients.push(Some(self.rooms.connect(self.sim.now())));
        self.deaf.push(false);
        i
    }

    /// A TURN server node at `addr` (user `user`, password `pass`),
    /// outside the room: no member, only relays.
    pub(crate) fn add_turn_server(&mut self, addr: SocketAddr) -> NodeId {
        let mut m = Member::with_config(
            99,
            99,
            self.sim.now(),
            addr.ip(),
            Duration::from_secs(30),
            40000,
            |_| {},
        );
        m.turn = Some(Box::new(meshrtc_integration::turn_server::SimTurn::new(
            addr,
            "user",
            "pass",
            meshrtc_integration::turn_server::TurnLifetimes::default(),
        )));
        self.sim.add_node(m, &[addr.ip()])
    }

    /// A member on every address of `ips` (IPv4, IPv6 or both): each
    /// connection slot binds one port on each.
    fn add_on(&mut self, ips: &[IpAddr]) -> usize {
        let i = self.ids.len();
        let slots: Vec<Vec<SocketAddr>> = (0..10u16)
            .map(|k| {
                ips.iter()
                    .map(|ip| SocketAddr::new(*ip, 40000 + k))
                    .collect()
            })
            .collect();
        let m = Member::with_config(
            i,
            1000 + i as u64,
            self.sim.now(),
            ips[0],
            Duration::from_secs(30),
            40000,
            |cfg| cfg.slots = slots,
        );
        self.ids.push(self.sim.add_node(m, ips));
        self.clients.push(Some(self.rooms.connect(self.sim.now())));
        self.deaf.push(false);
        i
    }

    /// A member behind a home NAT (its own, public address 203.0.113.x),
    /// with short consent timers (a check every 500 ms, Disconnected after
    /// 1 s without consent, failed after 10 s).
    fn add_behind_nat(&mut self) -> (usize, NatId) {
        let i = self.ids.len();
        let public: IpAddr = format!("203.0.113.{}", i + 1).parse().unwrap();
        let nat = self.sim.add_nat(NatConfig::home(public));
        let ip: IpAddr = format!("192.168.{}.2", i + 1).parse().unwrap();
        let i = self.add_with(ip, Some(nat), Duration::from_secs(10), |cfg| {
            cfg.peer.ice.disconnected_timeout = Duration::from_secs(1);
            cfg.peer.ice.consent_interval = Duration::from_millis(500);
        });
        (i, nat)
    }

    /// Member `i` starts its screen track: `bps` at 5 frames a second.
    fn start_screen(&mut self, i: usize, bps: u32) {
        let now = self.sim.now();
        let m = self.sim.node_mut(self.ids[i]);
        m.node.start_screen(now);
        m.screen = Some((
            FakeEncoder::new(FakeConfig::new(bps, 5), 100 + i as u64),
            Vp8Packetizer::new(7000 + i as u16),
            0,
            now,
        ));
    }

    /// Member `i` leaves the room and comes back as a new member (a new
    /// node, seed, signaling connection and ports): one turn of churn.
    fn rejoin(&mut self, i: usize, turn: u64) {
        let now = self.sim.now();
        self.sim.node_mut(self.ids[i]).node.leave();
        self.shuttle();
        if let Some(old) = self.clients[i].take() {
            for out in self.rooms.disconnect(old) {
                self.deliver(now, out);
            }
        }
        let ip: IpAddr = format!("10.0.0.{}", i + 1).parse().unwrap();
        let first_port = 41000 + (turn % 8) as u16 * 20;
        let m = Member::with_config(
            i,
            5000 + turn,
            now,
            ip,
            Duration::from_secs(30),
            first_port,
            |_| {},
        );
        *self.sim.node_mut(self.ids[i]) = m;
        self.clients[i] = Some(self.rooms.connect(now));
    }

    /// Frames each member decoded from each other one, by index.
    fn decoded_counts(&self, members: &[usize]) -> BTreeMap<(usize, usize), usize> {
        let mut out = BTreeMap::new();
        for &i in members {
            for &j in members.iter().filter(|&&j| j != i) {
                let from = self.member(j).node.id().unwrap();
                let n = self.member(i).decoded.get(from).map_or(0, Vec::len);
                out.insert((i, j), n);
            }
        }
        out
    }

    /// Key frames member `i`'s encoder made (read on its connection to
    /// member `to`, which carries every frame).
    pub(crate) fn keyframes_sent(&self, i: usize, to: usize) -> u64 {
        let to = self.member(to).node.id().unwrap().to_string();
        self.member(i)
            .node
            .stats()
            .members
            .into_iter()
            .find(|(id, _, _)| *id == to)
            .and_then(|(_, _, s)| s.outbound.into_iter().find(|o| o.kind == "video"))
            .map_or(0, |o| o.keyframes_sent)
    }

    /// Moves signaling both ways until quiet (in memory, instantly).
    fn shuttle(&mut self) {
        let now = self.sim.now();
        for _ in 0..100 {
            let mut moved = false;
            for i in 0..self.ids.len() {
                let Some(client) = self.clients[i] else {
                    continue;
                };
                while let Some(msg) = self.sim.node_mut(self.ids[i]).node.poll_signal() {
                    if self.deaf[i] {
                        continue;
                    }
                    moved = true;
                    let text = serde_json::to_string(&msg).unwrap();
                    for out in self.rooms.handle_text(now, client, &text) {
                        self.deliver(now, out);
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn deliver(&mut self, now: Instant, out: Output) {
        if let Output::Send { to, text } = out {
            let Some(i) = self.clients.iter().position(|c| *c == Some(to)) else {
                return;
            };
            if self.deaf[i] {
                return;
            }
            let msg: ServerMessage = serde_json::from_str(&text).unwrap();
            let m = self.sim.node_mut(self.ids[i]);
            m.node.handle_signal(now, msg);
            m.events(now);
        }
    }

    pub(crate) fn run_for(&mut self, d: Duration) {
        let end = self.sim.now() + d;
        while self.sim.now() < end {
            self.shuttle();
            match self.sim.step() {
                Ok(true) => {}
                _ => break,
            }
        }
        self.shuttle();
    }

    pub(crate) fn member(&self, i: usize) -> &Member {
        self.sim.node(self.ids[i])
    }

    fn all_connected(&self, members: &[usize]) -> bool {
        members.iter().all(|&i| {
            let m = self.member(i).node.members();
            m.len() == members.len() - 1 && m.iter().all(|(_, up)| *up)
        })
    }

    pub(crate) fn run_until_connected(&mut self, members: &[usize], limit: Duration) -> Duration {
        let start = self.sim.now();
        while !self.all_connected(members) {
            assert!(
                self.sim.now() - start < limit,
                "mesh not connected after {limit:?}"
            );
            self.run_for(Duration::from_millis(100));
        }
        self.sim.now() - start
    }

    /// Every member of `members` decoded every other one's video, in
    /// order and without a gap from its first frame on (or, with
    /// `settled`, from the frame each sender was at a second after the mesh
    /// was complete: while members connect, key frames for newcomers may
    /// overtake a delta frame still being repaired, which the receiver
    /// then skips, as a real-time receiver should), and got its audio.
    pub(crate) fn check_streams(&self, members: &[usize], min_frames: usize) {
        self.check_streams_from(members, min_frames, &[]);
    }

    fn sender_frames(&self) -> Vec<u32> {
        (0..self.ids.len())
            .map(|i| self.member(i).frame_no)
            .collect()
    }

    fn check_streams_from(&self, members: &[usize], min_frames: usize, settled: &[u32]) {
        let mut streams = 0;
        for &i in members {
            let me = self.member(i);
            assert_eq!(me.decode_errors, 0, "member {i}");
            for &j in members.iter().filter(|&&j| j != i) {
                let from = self.member(j).node.id().unwrap().to_string();
                let d = me.decoded.get(&from).map_or(&[][..], |v| v.as_slice());
                assert!(
                    d.len() >= min_frames,
                    "{i} decoded {} frames of {j}",
                    d.len()
                );
                let from_frame = settled.get(j).copied().unwrap_or(0);
                for w in d.windows(2).filter(|w| w[0] >= from_frame) {
                    let st = me.node.stats();
                    let link = st
                        .members
                        .iter()
                        .find(|(id, _, _)| *id == from)
                        .map(|(_, _, s)| &s.inbound);
                    assert_eq!(w[1], w[0] + 1, "{i} from {j}: gap after {}; {link:?}", w[0]);
                }
                assert!(
                    me.audio.get(&from).copied().unwrap_or(0) > 20,
                    "{i} got no audio from {j}"
                );
                streams += 1;
            }
        }
        assert_eq!(streams, members.len() * (members.len() - 1));
    }
}

pub(crate) fn link(loss: f64) -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(15),
        jitter: Duration::from_millis(5),
        loss,
        mtu: 1500,
        ..LinkConfig::default()
    }
}

#[test]
fn six_members_joining_one_at_a_time_decode_all_30_streams() {
    let mut call = Call::new(1, link(0.0));
    let all: Vec<usize> = (0..6).collect();
    for _ in 0..6 {
        call.add(Duration::from_secs(30));
        call.run_for(Duration::from_secs(1));
    }
    let took = call.run_until_connected(&all, Duration::from_secs(20));
    call.run_for(Duration::from_secs(5));
    call.check_streams(&all, 60);
    eprintln!("six joined one at a time: full mesh {took:?} after the last join");
    // Every member got a key frame as soon as its connection was up.
    for i in all {
        assert!(call.member(i).node.stats().keyframes_requested >= 1);
    }
}

#[test]
fn six_members_joining_at_once_with_3_percent_loss_and_jitter() {
    let mut call = Call::new(
        2,
        LinkConfig {
            jitter: Duration::from_millis(10),
            ..link(0.03)
        },
    );
    let all: Vec<usize> = (0..6).collect();
    for _ in 0..6 {
        call.add(Duration::from_secs(30));
    }
    let took = call.run_until_connected(&all, Duration::from_secs(20));
    // The newcomers' key frames have gone out a second later.
    call.run_for(Duration::from_secs(1));
    let settled = call.sender_frames();
    call.run_for(Duration::from_secs(7));
    call.check_streams_from(&all, 100, &settled);
    eprintln!("six joined at once with 3% loss: full mesh in {took:?}");
    let nacks: u64 = all
        .iter()
        .flat_map(|&i| call.member(i).node.stats().members)
        .flat_map(|(_, _, s)| s.inbound.into_iter().map(|x| x.nacks_sent))
        .sum();
    assert!(nacks > 0, "loss was repaired with NACKs");
    // Repairs are not a storm: reordering (10 ms of jitter) is not taken
    // for loss, so retransmissions stay near the packets actually lost.
    let (mut rtx, mut video_packets) = (0u64, 0u64);
    for i in &all {
        for (_, _, s) in call.member(*i).node.stats().members {
            for x in s.inbound.iter().filter(|x| x.kind == "video") {
                rtx += x.rtx_received;
                video_packets += x.packets_received;
            }
        }
    }
    eprintln!("3% loss: {rtx} retransmissions received for {video_packets} video packets");
    assert!(
        (rtx as f64) < 0.10 * video_packets as f64,
        "{rtx} of {video_packets}"
    );
}

#[test]
fn a_member_leaves_and_one_vanishes_and_the_others_never_notice() {
    let consent = Duration::from_secs(4);
    let mut call = Call::new(3, link(0.0));
    let all: Vec<usize> = (0..6).collect();
    for _ in 0..6 {
        call.add(consent);
    }
    call.run_until_connected(&all, Duration::from_secs(20));
    call.run_for(Duration::from_secs(2));
    // Member 5 leaves cleanly: the others drop it at once.
    let gone = call.member(5).node.id().unwrap().to_string();
    call.sim.node_mut(call.ids[5]).node.leave();
    let t_leave = call.sim.now();
    call.run_for(Duration::from_millis(50));
    for i in 0..5 {
        let removed = call.member(i).events.iter().find_map(|(t, e)| match e {
            MeshEvent::MemberRemoved { id, .. } if *id == gone => Some(*t),
            _ => None,
        });
        let t = removed.unwrap_or_else(|| panic!("{i} still has {gone}"));
        assert!(t - t_leave < Duration::from_millis(10), "removed at once");
    }
    // Member 4 vanishes: no packet, no signaling; removed on consent.
    let vanished = call.member(4).node.id().unwrap().to_string();
    call.deaf[4] = true;
    call.sim.node_mut(call.ids[4]).silent = true;
    let t_vanish = call.sim.now();
    call.run_for(consent + Duration::from_secs(3));
    for i in 0..4 {
        let t = call
            .member(i)
            .events
            .iter()
            .find_map(|(t, e)| match e {
                MeshEvent::MemberRemoved { id, .. } if *id == vanished => Some(*t),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{i} still has {vanished}"));
        assert!(
            t - t_vanish <= consent + Duration::from_secs(2),
            "{:?}",
            t - t_vanish
        );
        assert_eq!(call.member(i).node.members().len(), 3, "member {i}");
    }
    call.run_for(Duration::from_secs(2));
    // The other four decoded each other all along, without a gap.
    call.check_streams(&[0, 1, 2, 3], 100);
}

#[test]
fn a_seventh_join_is_refused_by_the_room() {
    let mut call = Call::new(4, link(0.0));
    for _ in 0..6 {
        call.add(Duration::from_secs(30));
    }
    let seventh = call.add(Duration::from_secs(30));
    call.run_for(Duration::from_secs(1));
    let m = call.member(seventh);
    assert!(m.node.id().is_none());
    assert!(m.node.members().is_empty());
    assert!(
        m.events.iter().any(|(_, e)| matches!(e,
        MeshEvent::SignalingError { code, .. } if code.contains("RoomFull"))),
        "{:?}",
        m.events
    );
    // And the six are unaffected.
    let six: Vec<usize> = (0..6).collect();
    call.run_until_connected(&six, Duration::from_secs(20));
    assert_eq!(call.rooms.stats().members, 6);
    let _ = ClientMessage::Leave;
}

/// Frames the stable members decoded from each other over a window, and
/// what the window cost.
struct Window {
    frames: BTreeMap<(usize, usize), usize>,
    /// Key frames each stable member's encoder made in the window.
    keyframes: Vec<u64>,
    length: Duration,
}

fn window_diff(
    before: &BTreeMap<(usize, usize), usize>,
    after: &BTreeMap<(usize, usize), usize>,
) -> BTreeMap<(usize, usize), usize> {
    after
        .iter()
        .map(|(k, n)| (*k, n - before.get(k).copied().unwrap_or(0)))
        .collect()
}

/// Every stable pair's frame count under abuse is within 10% of the run
/// without it.
fn assert_rates_hold(base: &Window, abused: &Window) {
    for (pair, &n) in &base.frames {
        let m = abused.frames[pair];
        assert!(n > 0, "{pair:?} decoded nothing in the baseline");
        assert!(
            m as f64 >= 0.9 * n as f64 && m as f64 <= 1.1 * n as f64,
            "{pair:?}: {m} frames under abuse, {n} without"
        );
    }
}

/// Six members, member 5 hostile (when `abuse`): its receive path throws
/// away half of the RTP it gets, retransmissions included, so its NACK
/// generator asks for packets again and again (up to ten times each),
/// and every 10 ms it asks every member for a key frame.
fn hostile_call(abuse: bool) -> (Call, Window) {
    let mut call = Call::new(11, link(0.0));
    let all: Vec<usize> = (0..6).collect();
    for _ in 0..6 {
        call.add_default();
    }
    call.run_until_connected(&all, Duration::from_secs(20));
    call.run_for(Duration::from_secs(1));
    let stable: Vec<usize> = (0..5).collect();
    let before = call.decoded_counts(&stable);
    let kf_before: Vec<u64> = stable
        .iter()
        .map(|&i| call.keyframes_sent(i, (i + 1) % 5))
        .collect();
    if abuse {
        let now = call.sim.now();
        let h = call.sim.node_mut(call.ids[5]);
        h.drop_rtp = 0.5;
        h.pli_flood = Some(now);
        h.raw_flood = Some(now);
    }
    let length = Duration::from_secs(8);
    call.run_for(length);
    let frames = window_diff(&before, &call.decoded_counts(&stable));
    let keyframes = stable
        .iter()
        .map(|&i| call.keyframes_sent(i, (i + 1) % 5) - kf_before[i])
        .collect();
    (
        call,
        Window {
            frames,
            keyframes,
            length,
        },
    )
}

#[test]
fn a_hostile_member_flooding_nacks_and_plis_does_not_degrade_the_other_five() {
    let t = std::time::Instant::now();
    let (base_call, base) = hostile_call(false);
    let (call, abused) = hostile_call(true);
    // Not asserted: this call sends one layer, and the encoder follows
    // the lowest member's estimate, so a member that reports heavy loss
    // lowers everyone's quality (with layers it gets the small one alone:
    // see the simulcast tests); the frame rate is what holds.
    eprintln!(
        "hostile: encoder targets {:?} with the hostile, {:?} without",
        (0..5)
            .map(|i| call.member(i).node.target_bitrate())
            .collect::<Vec<_>>(),
        (0..5)
            .map(|i| base_call.member(i).node.target_bitrate())
            .collect::<Vec<_>>(),
    );
    assert_rates_hold(&base, &abused);
    let hostile = call.member(5).node.id().unwrap().to_string();
    let (mut nacks, mut plis, mut ignored) = (0, 0, 0);
    for i in 0..5 {
        let st = call.member(i).node.stats();
        // Key frames within the configured rate: a bucket of 2, one
        // token per 500 ms.
        let allowed = 2 + (abused.length.as_millis() / 500) as u64;
        assert!(
            abused.keyframes[i] <= allowed,
            "member {i} made {} key frames in {:?}",
            abused.keyframes[i],
            abused.length
        );
        // The hostile's requests were merged and counted.
        let c = st.member_counters.iter().find(|c| c.id == hostile).unwrap();
        assert!(c.keyframe_requests_ignored > 0, "member {i}: {c:?}");
        assert_eq!(st.keyframe_requests_ignored, c.keyframe_requests_ignored);
        ignored += c.keyframe_requests_ignored;
        // Retransmissions to the hostile stay within the pacer's budget:
        // 25% of the media bytes of the last second.
        let (_, _, to_hostile) = st.members.iter().find(|(id, _, _)| *id == hostile).unwrap();
        let video = to_hostile
            .outbound
            .iter()
            .find(|o| o.kind == "video")
            .unwrap();
        nacks += video.nacks_received;
        plis += video.plis_received;
        let pacer = to_hostile.pacer.as_ref().expect("transport-cc negotiated");
        let media = pacer.sent_bytes[0] + pacer.sent_bytes[1];
        let rtx = pacer.sent_bytes[2];
        assert!(
            pacer.rtx_refused > 0,
            "member {i}: the budget was never reached: {pacer:?}"
        );
        assert!(
            rtx as f64 <= 0.25 * media as f64 + 30_000.0,
            "member {i}: {rtx} bytes retransmitted for {media} of media"
        );
        eprintln!(
            "hostile: member {i} got {} NACKs, {} PLIs; {} key frames in {:?} \
             (baseline {}); rtx {rtx} B for {media} B media ({:.1}%), {} refused; \
             {} requests taken, {} merged",
            video.nacks_received,
            video.plis_received,
            abused.keyframes[i],
            abused.length,
            base.keyframes[i],
            100.0 * rtx as f64 / media as f64,
            pacer.rtx_refused,
            c.keyframe_requests,
            c.keyframe_requests_ignored,
        );
    }
    // The crafted flood: a compound every 10 ms to each of the five for
    // 8 s, each with a 1003-packet NACK and a PLI per SSRC seen.
    let raw = call.member(5).raw_sent;
    assert!(raw >= 5 * 700, "the hostile sent {raw} crafted compounds");
    assert!(
        nacks > 5 * 700 && plis > 5 * 700,
        "the abuse was real: {nacks} NACKs, {plis} PLIs"
    );
    let worst = base
        .frames
        .iter()
        .map(|(k, &n)| abused.frames[k] as f64 / n as f64)
        .fold(f64::INFINITY, f64::min);
    eprintln!(
        "hostile: 20 stable streams, worst frame count {:.1}% of the baseline; {ignored} requests merged; {:?} real time",
        100.0 * worst,
        t.elapsed()
    );
}

/// Four stable members; when `churn`, a fifth joins, stays 300 ms and
/// comes back as a new member, for 10 s.
fn churn_call(churn: bool) -> (Call, Window, usize) {
    let mut call = Call::new(12, link(0.0));
    let stable: Vec<usize> = (0..4).collect();
    for _ in 0..4 {
        call.add_default();
    }
    call.run_until_connected(&stable, Duration::from_secs(20));
    call.run_for(Duration::from_secs(1));
    let before = call.decoded_counts(&stable);
    let kf_before: Vec<u64> = stable
        .iter()
        .map(|&i| call.keyframes_sent(i, (i + 1) % 4))
        .collect();
    let length = Duration::from_secs(10);
    let mut connected = 0;
    if churn {
        let churner = call.add_default();
        let end = call.sim.now() + length;
        let mut turn = 0;
        while call.sim.now() < end {
            call.run_for(Duration::from_millis(300));
            // How many of the stable members saw this incarnation come up.
            if let Some(id) = call.member(churner).node.id().map(str::to_string) {
                connected += stable
                    .iter()
                    .filter(|&&i| {
                        call.member(i).events.iter().any(
                            |(_, e)| matches!(e, MeshEvent::MemberConnected { id: c } if *c == id),
                        )
                    })
                    .count();
            }
            turn += 1;
            call.rejoin(churner, turn);
        }
    } else {
        call.run_for(length);
    }
    let frames = window_diff(&before, &call.decoded_counts(&stable));
    let keyframes = stable
        .iter()
        .map(|&i| call.keyframes_sent(i, (i + 1) % 4) - kf_before[i])
        .collect();
    (
        call,
        Window {
            frames,
            keyframes,
            length,
        },
        connected,
    )
}

#[test]
fn join_and_leave_churn_every_300_ms_forces_no_more_key_frames_than_the_rate() {
    let t = std::time::Instant::now();
    let (_, base, _) = churn_call(false);
    let (call, churned, connected) = churn_call(true);
    assert_rates_hold(&base, &churned);
    // The churner came up with the stable members again and again: each
    // of those was a newcomer asking for a key frame at once.
    assert!(connected >= 4 * 20, "only {connected} connections came up");
    let allowed = 2 + (churned.length.as_millis() / 500) as u64;
    for i in 0..4 {
        let st = call.member(i).node.stats();
        assert!(
            churned.keyframes[i] <= allowed,
            "member {i} made {} key frames in {:?}",
            churned.keyframes[i],
            churned.length
        );
        eprintln!(
            "churn: member {i}: {} key frames in {:?} (baseline {}), {} for newcomers; \
             {} requests merged",
            churned.keyframes[i],
            churned.length,
            base.keyframes[i],
            st.keyframes_urgent,
            st.keyframe_requests_ignored,
        );
    }
    eprintln!(
        "churn: {connected} member connections came up in {:?}; {:?} real time",
        churned.length,
        t.elapsed()
    );
}

#[test]
fn ten_thousand_candidates_before_the_offer_are_bounded_and_the_call_connects() {
    use meshrtc_mesh::signaling::protocol::IceCandidateInit;
    let mut call = Call::new(13, link(0.0));
    let victim = call.add_default();
    call.run_for(Duration::from_millis(200));
    let flooder = call.add_default();
    // The flooder's join only: the room answers it (welcome) and tells
    // the victim (peer-joined); its offer stays in its queue.
    let now = call.sim.now();
    let join = call
        .sim
        .node_mut(call.ids[flooder])
        .node
        .poll_signal()
        .unwrap();
    let client = call.clients[flooder].unwrap();
    for out in call
        .rooms
        .handle_text(now, client, &serde_json::to_string(&join).unwrap())
    {
        call.deliver(now, out);
    }
    let from = call.member(flooder).node.id().unwrap().to_string();
    // 10,000 trickled candidates before the description. The room's
    // token bucket would close a client sending this many, so they are
    // handed straight to the victim, as another relay might.
    for k in 0..10_000u32 {
        let candidate = format!(
            "candidate:{k} 1 udp 2122260223 10.{}.{}.{} {} typ host",
            100 + k / 65_536,
            (k / 256) % 256,
            k % 256,
            20_000 + k % 10_000
        );
        let m = call.sim.node_mut(call.ids[victim]);
        m.node.handle_signal(
            now,
            ServerMessage::Candidate {
                from: from.clone(),
                candidate: Some(IceCandidateInit {
                    candidate,
                    sdp_mid: Some("0".into()),
                    sdp_m_line_index: Some(0),
                    username_fragment: None,
                }),
            },
        );
    }
    let st = call.member(victim).node.stats();
    assert_eq!(st.candidates_dropped, 10_000 - 100);
    let c = st.member_counters.iter().find(|c| c.id == from).unwrap();
    assert_eq!(c.candidates_dropped, 10_000 - 100);
    assert_eq!(st.signaling_errors, 0);
    // Now the offer (with the flooder's real candidates) and the rest.
    let took = call.run_until_connected(&[victim, flooder], Duration::from_secs(10));
    call.run_for(Duration::from_secs(3));
    call.check_streams(&[victim, flooder], 40);
    eprintln!("candidate flood: 9,900 of 10,000 dropped; connected in {took:?}");
}

/// What member `i` decoded of member `j`'s video from `since` on.
fn rx_since(call: &Call, i: usize, j: usize, since: Instant) -> Vec<Rx> {
    let from = call.member(j).node.id().unwrap();
    call.member(i)
        .rx
        .get(from)
        .map(|v| v.iter().filter(|r| r.at >= since).copied().collect())
        .unwrap_or_default()
}

/// The simulcast scenario's outcome, seen from member 0 (A).
struct LayeredOutcome {
    /// Per receiver 1..=3: frames, share of small (320 wide) frames, bits/s.
    received: Vec<(usize, f64, f64)>,
    /// Key frames each of A's layers made in the window.
    keyframes: Vec<u64>,
    window: Duration,
    /// Per receiver: when it got its first large frame (after the first
    /// key frames), from when the mesh was up.
    first_large: Vec<Option<Duration>>,
    /// Per receiver: PLIs it sent A from 2 s after the mesh was up.
    plis: Vec<u64>,
}

/// PLIs member `i` sent for member `j`'s video.
fn plis_sent(call: &Call, i: usize, j: usize) -> u64 {
    let from = call.member(j).node.id().unwrap();
    call.member(i)
        .node
        .stats()
        .members
        .into_iter()
        .filter(|(id, _, _)| id == from)
        .flat_map(|(_, _, st)| st.inbound)
        .filter(|x| x.kind == "video")
        .map(|x| x.plis_sent)
        .sum()
}

fn bits_per_second(rx: &[Rx], window: Duration) -> f64 {
    rx.iter().map(|r| r.bytes as f64 * 8.0).sum::<f64>() / window.as_secs_f64()
}

/// Four members on 5 Mbit/s paths (300 ms queues), except that the path
/// from A (member 0) to B (member 1) carries 200 kbit/s. A sends fake
/// video at 320x180 and 640x360 (`two_layers`; a member needs an encoder
/// target of 250 kbit/s for the large one), or 640x360 alone. A's
/// encoders make a requested key frame 3 frames (200 ms) late.
fn layered_call(two_layers: bool) -> (Call, LayeredOutcome) {
    let fast = LinkConfig {
        latency: Duration::from_millis(20),
        mtu: 1500,
        rate_bps: Some(5_000_000),
        queue_bytes: 5_000_000 / 8 * 3 / 10,
        ..LinkConfig::default()
    };
    let slow = LinkConfig {
        rate_bps: Some(200_000),
        queue_bytes: 200_000 / 8 * 3 / 10,
        ..fast.clone()
    };
    let mut call = Call::new(21, fast);
    let all: Vec<usize> = (0..4).collect();
    let mins = if two_layers {
        vec![0, 250_000]
    } else {
        vec![0]
    };
    call.add_tuned(|c| c.layer_min_bitrates = mins);
    for _ in 1..4 {
        call.add_default();
    }
    let sizes: &[(u16, u16)] = if two_layers {
        &[(320, 180), (640, 360)]
    } else {
        &[(640, 360)]
    };
    {
        let a = call.sim.node_mut(call.ids[0]);
        for (k, &(width, height)) in sizes.iter().enumerate() {
            let cfg = FakeConfig {
                width,
                height,
                ..FakeConfig::new(300_000, FPS)
            };
            a.layers.push((
                FakeEncoder::new(cfg, 77 + k as u64),
                Vp8Packetizer::new(4242),
            ));
        }
        a.layer_keyframes = vec![0; sizes.len()];
        a.key_delay = 3;
    }
    let (a, b) = (call.ids[0], call.ids[1]);
    call.sim.set_link_oneway(a, b, slow);
    call.run_until_connected(&all, Duration::from_secs(20));
    let connected = call.sim.now();
    // The estimates settle: B's path is found out, and the others'
    // climb (GCC's ramp: +8%/s, and probes) past the large layer's
    // minimum.
    // (The newcomers' first key frames are out by then.)
    call.run_for(Duration::from_secs(2));
    let joined = call.sim.now();
    let plis_joined: Vec<u64> = (1..4).map(|i| plis_sent(&call, i, 0)).collect();
    call.run_for(Duration::from_secs(18));
    let since = call.sim.now();
    let first_large = (1..4)
        .map(|i| {
            rx_since(&call, i, 0, joined)
                .iter()
                .find(|r| r.layer == 1)
                .map(|r| r.at - connected)
        })
        .collect();
    let kf_before = call.member(0).layer_keyframes.clone();
    let window = Duration::from_secs(10);
    call.run_for(window);
    let plis = (1..4)
        .map(|i| plis_sent(&call, i, 0) - plis_joined[i - 1])
        .collect();
    let received = (1..4)
        .map(|i| {
            let rx = rx_since(&call, i, 0, since);
            let small = rx.iter().filter(|r| r.width == 320).count();
            (
                rx.len(),
                small as f64 / rx.len().max(1) as f64,
                bits_per_second(&rx, window),
            )
        })
        .collect();
    let keyframes = call
        .member(0)
        .layer_keyframes
        .iter()
        .zip(&kf_before)
        .map(|(n, b)| n - b)
        .collect();
    (
        call,
        LayeredOutcome {
            received,
            keyframes,
            window,
            first_large,
            plis,
        },
    )
}

#[test]
fn a_slow_member_gets_the_small_layer_and_no_longer_holds_the_others_down() {
    let (_, single) = layered_call(false);
    let (call, layered) = layered_call(true);
    for (name, o) in [("one layer", &single), ("two layers", &layered)] {
        for (k, (frames, small, bps)) in o.received.iter().enumerate() {
            eprintln!(
                "{name}: member {} got {frames} frames from A, {:.0}% small, {:.0} kbit/s",
                k + 1,
                small * 100.0,
                bps / 1000.0
            );
        }
        eprintln!(
            "{name}: A's key frames per layer in the window: {:?}; PLIs to A {:?}; \
             first large frames at {:?}",
            o.keyframes, o.plis, o.first_large
        );
    }
    let a = call.member(0).node.stats();
    eprintln!(
        "two layers: A's layer targets {:?}, member layers {:?}, {} switches",
        a.layer_targets, a.member_layers, a.layer_switches
    );
    // Every frame from its key frame on is whole: a receiver is moved
    // between layers only at a key frame, and its decoder never breaks.
    for i in 1..4 {
        let me = call.member(i);
        assert_eq!(me.decode_errors, 0, "member {i}");
        assert_eq!(me.layer_breaks, 0, "member {i} was moved off a key frame");
    }
    let expected = FPS as f64 * layered.window.as_secs_f64();
    let since = call.sim.now() - layered.window;
    for i in 1..4 {
        let rx = rx_since(&call, i, 0, since);
        // No gap in A's frame numbers after settling, at either size.
        // And RTP time goes on by a frame's 90 kHz ticks across switches
        // (the connection's offset is one for all layers).
        for w in rx.windows(2) {
            assert_eq!(w[1].frame, w[0].frame + 1, "member {i}: {:?}", w);
            let step = w[1].ts.wrapping_sub(w[0].ts);
            assert!((5999..=6000).contains(&step), "member {i}: {w:?}");
        }
        assert!(
            rx.len() as f64 >= 0.95 * expected,
            "member {i}: {}",
            rx.len()
        );
        // The layer is the size it says: 320 wide small, 640 large.
        for r in &rx {
            assert_eq!(r.width, if r.layer == 0 { 320 } else { 640 }, "{r:?}");
        }
    }
    // B (200 kbit/s from A) gets the small layer, the others the large.
    let (_, b_small, b_bps) = layered.received[0];
    assert!(b_small >= 0.9, "B: {b_small}");
    for &(_, small, bps) in &layered.received[1..] {
        assert!(small <= 0.1, "{small}");
        // B no longer holds them down.
        assert!(bps > 2.0 * b_bps, "{bps} vs B's {b_bps}");
    }
    // With one layer it does: everyone gets about what B can take.
    for (k, &(_, _, bps)) in single.received.iter().enumerate() {
        let two = layered.received[k].2;
        if k > 0 {
            assert!(
                two > 2.0 * bps,
                "member {}: {two} vs {bps} with one layer",
                k + 1
            );
        }
    }
    // Key frames stay within each layer's encoder's rate: a burst of 2
    // and one per 500 ms at most, and in a settled call far fewer.
    let bound = 2 + (layered.window.as_millis() / 500) as u64;
    for &n in &layered.keyframes {
        assert!(n <= bound, "{:?}", layered.keyframes);
    }
    // The receivers moved between layers (after their first key frames
    // were in) never asked for a key frame: the picture ids and RTP times
    // of the layers are one stream.
    assert!(a.layer_switches >= 2, "nobody was moved");
    for k in 1..3 {
        assert!(
            layered.first_large[k].is_some(),
            "{:?}",
            layered.first_large
        );
    }
    assert_eq!(
        layered.plis,
        vec![0, 0, 0],
        "receivers asked for key frames"
    );
}

#[test]
fn a_member_whose_path_collapses_moves_down_to_the_small_layer_alone() {
    let (mut call, before) = layered_call(true);
    assert!(before.received[1].1 <= 0.1, "C was not on the large layer");
    // A's path to C (member 2) falls from 5 Mbit/s to 200 kbit/s.
    let (a, c) = (call.ids[0], call.ids[2]);
    let slow = LinkConfig {
        latency: Duration::from_millis(20),
        mtu: 1500,
        rate_bps: Some(200_000),
        queue_bytes: 200_000 / 8 * 3 / 10,
        ..LinkConfig::default()
    };
    call.sim.set_link_oneway(a, c, slow);
    call.run_for(Duration::from_secs(10));
    let since = call.sim.now();
    let window = Duration::from_secs(5);
    call.run_for(window);
    let st = call.member(0).node.stats();
    let ids: Vec<String> = (1..4)
        .map(|i| call.member(i).node.id().unwrap().to_string())
        .collect();
    let layer_of = |id: &str| {
        let k = st.members.iter().position(|(m, _, _)| m == id).unwrap();
        st.member_layers[k]
    };
    let c_rx = rx_since(&call, 2, 0, since);
    let d_rx = rx_since(&call, 3, 0, since);
    let c_small = c_rx.iter().filter(|r| r.width == 320).count() as f64 / c_rx.len() as f64;
    let d_small = d_rx.iter().filter(|r| r.width == 320).count() as f64 / d_rx.len() as f64;
    let (c_bps, d_bps) = (
        bits_per_second(&c_rx, window),
        bits_per_second(&d_rx, window),
    );
    eprintln!(
        "after C's path fell to 200 kbit/s: layers B {} C {} D {}; C {} frames, {:.0}% small, \
         {:.0} kbit/s; D {} frames, {:.0}% small, {:.0} kbit/s; targets {:?}",
        layer_of(&ids[0]),
        layer_of(&ids[1]),
        layer_of(&ids[2]),
        c_rx.len(),
        c_small * 100.0,
        c_bps / 1000.0,
        d_rx.len(),
        d_small * 100.0,
        d_bps / 1000.0,
        st.layer_targets
    );
    assert_eq!(layer_of(&ids[1]), 0, "C did not move down");
    assert!(c_small >= 0.9, "C: {c_small}");
    // D keeps the large layer at its own rate: C holds down only the
    // small layer.
    assert_eq!(layer_of(&ids[2]), 1);
    assert!(d_small <= 0.1, "D: {d_small}");
    assert!(d_bps > 2.0 * c_bps, "D {d_bps} vs C {c_bps}");
    // C was moved down at a key frame: its decoder never broke.
    assert_eq!(call.member(2).layer_breaks, 0);
    assert_eq!(call.member(2).decode_errors, 0);
    assert!(c_rx.len() as f64 >= 0.9 * FPS as f64 * window.as_secs_f64());
}

/// Every member starts a screen track at the same instant, so the offers
/// of every pair cross: perfect negotiation resolves each pair (the
/// polite side, the larger id, rolls back and answers; the impolite side
/// ignores the crossing offer), nobody is dropped, the screens reach
/// everyone and the cameras never stop. Then one member stops its screen.
#[test]
fn glare_on_every_pair_of_a_six_member_mesh_is_resolved_without_dropping_anyone() {
    let mut call = Call::new(17, link(0.0));
    let all: Vec<usize> = (0..6).collect();
    for _ in 0..6 {
        call.add(Duration::from_secs(30));
    }
    call.run_until_connected(&all, Duration::from_secs(20));
    call.run_for(Duration::from_secs(1));
    let settled = call.sender_frames();
    for &i in &all {
        call.start_screen(i, 200_000);
    }
    // All 30 offers are out before any is delivered: 15 pairs glare.
    call.run_for(Duration::from_secs(4));
    let pairs = 15;
    let (mut rollbacks, mut ignored, mut renegotiations) = (0, 0, 0);
    for &i in &all {
        let st = call.member(i).node.stats();
        rollbacks += st.glare_rollbacks;
        ignored += st.glare_ignored;
        renegotiations += st.renegotiations;
        assert_eq!(st.members_failed, 0);
        assert!(
            !call
                .member(i)
                .events
                .iter()
                .any(|(_, e)| matches!(e, MeshEvent::MemberRemoved { .. })),
            "member {i} dropped someone"
        );
    }
    assert_eq!(rollbacks, pairs, "one polite side per pair rolled back");
    assert_eq!(ignored, pairs, "one impolite side per pair ignored");
    // Each pair: the impolite side's offer answered, then the polite
    // side's own offer answered; counted at both ends.
    assert_eq!(renegotiations, 4 * pairs);
    assert!(call.all_connected(&all));
    for &i in &all {
        for &j in all.iter().filter(|&&j| j != i) {
            let from = call.member(j).node.id().unwrap().to_string();
            let got = call.member(i).screen_decoded.get(&from).map_or(0, Vec::len);

            assert!(got >= 12, "{i} decoded {got} screen frames of {j}");
        }
    }
    call.check_streams_from(&all, 60, &settled);

    // Member 0 stops its screen: the others hear its track went.
    let now = call.sim.now();
    let m0 = call.sim.node_mut(call.ids[0]);
    m0.node.stop_screen(now);
    m0.screen = None;
    call.run_for(Duration::from_secs(1));
    let id0 = call.member(0).node.id().unwrap().to_string();
    for &i in &all[1..] {
        assert!(
            call.member(i).events.iter().any(|(_, e)| matches!(
                e,
                MeshEvent::TrackRemoved { from, kind: MediaKind::Video, .. } if *from == id0
            )),
            "member {i}"
        );
    }
    assert!(call.all_connected(&all));
}

/// A member behind a NAT gets a new public address mid-call (the NAT
/// forgets its mappings): the others lose consent, go Disconnected and
/// restart ICE; media resumes on the new path within two seconds, on the
/// same connections (no member removed, no new DTLS handshake).
#[test]
fn a_members_address_changes_mid_call_and_media_resumes_after_an_ice_restart() {
    let mut call = Call::new(23, link(0.0));
    let (moving, nat) = call.add_behind_nat();
    let all: Vec<usize> = std::iter::once(moving)
        .chain((0..2).map(|_| {
            call.add_tuned(|cfg| {
                cfg.peer.ice.disconnected_timeout = Duration::from_secs(1);
                cfg.peer.ice.consent_timeout = Duration::from_secs(10);
                cfg.peer.ice.consent_interval = Duration::from_millis(500);
            })
        }))
        .collect();
    call.run_until_connected(&all, Duration::from_secs(20));
    call.run_for(Duration::from_secs(2));
    let moving_id = call.member(moving).node.id().unwrap().to_string();
    let before: Vec<usize> = all[1..]
        .iter()
        .map(|&i| call.member(i).decoded[&moving_id].len())
        .collect();
    let rebind_at = call.sim.now();
    call.sim.rebind_nat(nat);
    // Frames decoded after the rebind, per other member, and when media
    // from the moving member came back.
    let mut resumed: Vec<Option<Duration>> = vec![None; all.len() - 1];
    while call.sim.now() - rebind_at < Duration::from_secs(3) {
        call.run_for(Duration::from_millis(100));
        for (k, &i) in all[1..].iter().enumerate() {
            let m = call.member(i);
            let now_count = m.decoded[&moving_id].len();
            // Nothing from the moved member is taken before the restart
            // (it comes from an address ICE has not validated).
            let restarts = restarts_with(&call, i, &moving_id);
            if resumed[k].is_none() && restarts > 0 && now_count > before[k] {
                resumed[k] = Some(call.sim.now() - rebind_at);
            }
        }
    }
    eprintln!("address change: media from the moved member resumed after {resumed:?}");
    for (k, &i) in all[1..].iter().enumerate() {
        let st = call.member(i).node.stats();
        assert!(restarts_with(&call, i, &moving_id) >= 1, "member {i}");
        assert_eq!(st.members_failed, 0);
        let t = resumed[k].expect("media resumed");
        // A frame a second is more than the decoder had at the rebind.
        let after = call.member(i).decoded[&moving_id].len();
        assert!(
            after >= before[k] + 20,
            "member {i}: {} -> {after}",
            before[k]
        );
        // Disconnected after 1 s without consent, then one round trip of
        // signaling and checks.
        assert!(t <= Duration::from_secs(2), "member {i}: {t:?}");
        // One restart resolved it: no flapping.
        assert_eq!(restarts_with(&call, i, &moving_id), 1, "member {i}");
    }
    for &i in &all {
        assert!(
            !call
                .member(i)
                .events
                .iter()
                .any(|(_, e)| matches!(e, MeshEvent::MemberRemoved { .. })),
            "member {i} dropped someone"
        );
        // The same connections: each came up once.
        let ups = call
            .member(i)
            .events
            .iter()
            .filter(|(_, e)| matches!(e, MeshEvent::MemberConnected { .. }))
            .count();
        assert_eq!(ups, all.len() - 1, "member {i}");
    }
    // And the moved member gets the others' media again too.
    let mark: Vec<usize> = all[1..]
        .iter()
        .map(|&j| {
            let from = call.member(j).node.id().unwrap().to_string();
            call.member(moving).decoded[&from].len()
        })
        .collect();
    call.run_for(Duration::from_secs(1));
    for (k, &j) in all[1..].iter().enumerate() {
        let from = call.member(j).node.id().unwrap().to_string();
        assert!(call.member(moving).decoded[&from].len() >= mark[k] + 10);
    }
}

/// ICE restarts on member `i`'s connection to `member` (its own and the
/// member's).
fn restarts_with(call: &Call, i: usize, member: &str) -> u64 {
    call.member(i)
        .node
        .stats()
        .members
        .into_iter()
        .find(|(id, _, _)| id == member)
        .map_or(0, |(_, _, s)| s.ice_restarts)
}

/// A member adds a screen track and later stops it while 5% of the media
/// is lost (signaling is not): the renegotiations complete, the screen is
/// decoded, the cameras go on, nobody is dropped.
#[test]
fn a_screen_track_is_added_and_stopped_while_5_percent_of_the_media_is_lost() {
    let mut call = Call::new(31, link(0.05));
    let all: Vec<usize> = (0..3).collect();
    for _ in 0..3 {
        call.add(Duration::from_secs(30));
    }
    call.run_until_connected(&all, Duration::from_secs(20));
    call.run_for(Duration::from_secs(1));
    let camera_before = call.decoded_counts(&all);
    call.start_screen(0, 60_000);
    call.run_for(Duration::from_secs(4));
    let id0 = call.member(0).node.id().unwrap().to_string();
    for &i in &all[1..] {
        let got = call.member(i).screen_decoded.get(&id0).map_or(0, Vec::len);
        // 20 frames sent; the first may go before the answer.
        assert!(got >= 10, "{i} decoded {got} screen frames");
    }
    let now = call.sim.now();
    let m0 = call.sim.node_mut(call.ids[0]);
    m0.node.stop_screen(now);
    m0.screen = None;
    call.run_for(Duration::from_secs(1));
    let camera_after = call.decoded_counts(&all);
    for (pair, n) in &camera_after {
        assert!(
            *n >= camera_before[pair] + 40,
            "camera {pair:?}: {} -> {n}",
            camera_before[pair]
        );
    }
    for &i in &all {
        let st = call.member(i).node.stats();
        assert_eq!(st.members_failed, 0);
        assert!(st.renegotiations >= 2, "member {i}: {}", st.renegotiations);
    }
    for &i in &all[1..] {
        assert!(call.member(i).events.iter().any(|(_, e)| matches!(
            e,
            MeshEvent::TrackRemoved { from, .. } if *from == id0
        )));
    }
    assert!(call.all_connected(&all));
}

#[test]
fn a_chat_line_typed_at_one_member_arrives_at_the_other_two() {
    let mut call = Call::new(20, link(0.02));
    let all: Vec<usize> = (0..3).collect();
    for _ in 0..3 {
        // The default DTLS versions (1.3 between meshrtc members). Under
        // 1.3 member0's estimates once stayed near 330 kbit/s and its
        // media filled them, and SCTP sent nothing while media waited, so
        // the line waited seconds; data now has a guaranteed share of the
        // estimate (peer/src/connection/data_share.rs).
        call.add_tuned(|cfg| cfg.chat = true);
    }
    call.run_until_connected(&all, Duration::from_secs(20));
    call.run_for(Duration::from_secs(1));
    let now = call.sim.now();
    let sent = call
        .sim
        .node_mut(call.ids[0])
        .node
        .send_chat(now, "hello from member0 ✓");
    assert_eq!(sent, 2, "the chat channel is open to both others");
    let sent = call.sim.node_mut(call.ids[2]).node.send_chat(now, "");
    assert_eq!(sent, 2, "an empty line too");
    call.run_for(Duration::from_secs(1));
    let chats = |i: usize| -> Vec<(String, String)> {
        call.member(i)
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                MeshEvent::Chat { name, text, .. } => Some((name.clone(), text.clone())),
                _ => None,
            })
            .collect()
    };
    let line = ("member0".to_string(), "hello from member0 ✓".to_string());
    let empty = ("member2".to_string(), String::new());
    // Lines from two members come over two connections: no order
    // between them.
    let mut at_1 = chats(1);
    at_1.sort();
    assert_eq!(at_1, [line.clone(), empty.clone()]);
    assert_eq!(chats(2), [line]);
    assert_eq!(chats(0), [empty]);
    // Media is unaffected: every stream decodes.
    call.check_streams(&all, 10);
}

/// IPv6-only and dual-stack members in one room (issue 17): a dual-stack
/// member, an IPv6-only one and another dual-stack one. Every pair
/// connects, the IPv6-only member's pairs over IPv6, and media flows
/// everywhere.
#[test]
fn ipv6_only_and_dual_stack_members_connect_every_pair_and_exchange_media() {
    let mut call = Call::new(37, link(0.0));
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    let dual_a = call.add_on(&[ip("10.0.0.1"), ip("2001:db8::1")]);
    let v6_only = call.add_on(&[ip("2001:db8::2")]);
    let dual_b = call.add_on(&[ip("10.0.0.3"), ip("2001:db8::3")]);
    let all = [dual_a, v6_only, dual_b];
    let took = call.run_until_connected(&all, Duration::from_secs(10));
    let before = call.decoded_counts(&all);
    call.run_for(Duration::from_secs(2));
    let after = call.decoded_counts(&all);
    for (pair, n) in &after {
        // 2 s at the fake encoder's rate.
        assert!(*n >= before[pair] + 20, "{pair:?}: {} -> {n}", before[pair]);
    }
    for &i in &all {
        let st = call.member(i).node.stats();
        assert_eq!(st.members_failed, 0);
        for (id, _, s) in &st.members {
            let (local, remote) = s.selected_pair.expect("selected pair");
            assert_eq!(local.is_ipv6(), remote.is_ipv6(), "{i} to {id}");
            if i == v6_only {
                assert!(local.is_ipv6(), "{i} to {id}: {local} -> {remote}");
            }
        }
    }
    let v6_id = call.member(v6_only).node.id().unwrap().to_string();
    for &i in &[dual_a, dual_b] {
        let st = call.member(i).node.stats();
        let (_, _, s) = st.members.iter().find(|(id, _, _)| *id == v6_id).unwrap();
        assert!(s.selected_pair.unwrap().1.is_ipv6(), "member {i}");
    }
    eprintln!("IPv6-only and dual-stack: connected in {took:?}");
}

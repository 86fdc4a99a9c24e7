//! Relay candidates end to end: two agents that cannot reach each other
//! directly connect through a small TURN server written for these tests
//! (long-term auth, permissions, channels, Send/Data indications,
//! ChannelData). The live tests against coturn are in tests/integration.

use super::super::{IceAgent, IceConfig, IceError, IceEvent, IceState, PathStatus, Transmit};
use super::{RelayedData, TurnServer, TurnTransport};
use crate::candidate::{Candidate, CandidateKind};
use crate::stun::{
    AttrType, Attribute, Class, ErrorCode, Message, MessageBuilder, Method, ShortTermKey,
};
use crate::turn::{emit_channel_data, long_term_key, ChannelData};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const REALM: &str = "relay.test";

struct Alloc {
    client: SocketAddr,
    relayed: SocketAddr,
    perms: Vec<IpAddr>,
    channels: Vec<(u16, SocketAddr)>,
}

/// A TURN server good enough for these tests: one user, no expiry.
struct FakeTurn {
    addr: SocketAddr,
    key: ShortTermKey,
    allocs: Vec<Alloc>,
    next_port: u16,
    /// Requests by method, to assert what the clients did.
    requests: Vec<Method>,
}

type Datagram = (SocketAddr, SocketAddr, Vec<u8>);

impl FakeTurn {
    fn new(addr: SocketAddr) -> FakeTurn {
        FakeTurn {
            addr,
            key: ShortTermKey::new(&long_term_key("user", REALM, "pass")),
            allocs: Vec::new(),
            next_port: 50_000,
            requests: Vec::new(),
        }
    }

    fn respond(
        &self,
        msg: &Message<'_>,
        class: Class,
        f: impl FnOnce(&mut MessageBuilder<'_>),
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut b = MessageBuilder::new(&mut out, class, msg.method(), msg.transaction_id());
        f(&mut b);
        if class == Class::Success {
            b.add_message_integrity(&self.key).unwrap();
        }
        b.add_fingerprint().unwrap();
        out
    }

    /// A datagram from a client to the server's address.
    fn on_client_datagram(&mut self, from: SocketAddr, data: &[u8]) -> Vec<Datagram> {
        let Some(a) = self.allocs.iter().position(|a| a.client == from) else {
            // No allocation (e.g. after a restart): data is dropped.
            let request = Message::parse(data).is_ok_and(|m| m.class() == Class::Request);
            if !request {
                return vec![];
            }
            return self.request(from, data).into_iter().collect();
        };
        if let Ok(cd) = ChannelData::parse(data) {
            let alloc = &self.allocs[a];
            return match alloc.channels.iter().find(|c| c.0 == cd.channel()) {
                Some(&(_, peer)) => vec![(alloc.relayed, peer, cd.data().to_vec())],
                None => vec![],
            };
        }
        let msg = Message::parse(data).unwrap();
        if (msg.class(), msg.method()) == (Class::Indication, Method::SEND) {
            let peer = msg
                .xor_address(AttrType::XOR_PEER_ADDRESS)
                .unwrap()
                .unwrap();
            let alloc = &self.allocs[a];
            if !alloc.perms.contains(&peer.ip()) {
                return vec![];
            }
            let d = msg.raw(AttrType::DATA).unwrap().value.to_vec();
            return vec![(alloc.relayed, peer, d)];
        }
        self.request(from, data).into_iter().collect()
    }

    fn request(&mut self, from: SocketAddr, data: &[u8]) -> Option<Datagram> {
        let msg = Message::parse(data).unwrap();
        assert_eq!(msg.class(), Class::Request);
        if !msg.has_integrity() || msg.verify_integrity(&self.key).is_err() {
            let out = self.respond(&msg, Class::Error, |b| {
                b.add(&Attribute::ErrorCode(ErrorCode {
                    code: 401,
                    reason: "Unauthorized",
                }))
                .unwrap();
                b.add(&Attribute::Realm(REALM)).unwrap();
                b.add(&Attribute::Nonce("n0nce")).unwrap();
            });
            return Some((self.addr, from, out));
        }
        self.requests.push(msg.method());
        let peer = msg.xor_address(AttrType::XOR_PEER_ADDRESS).ok().flatten();
        let a = self.allocs.iter().position(|a| a.client == from);
        match (msg.method(), a) {
            (Method::ALLOCATE, None) => {
                let relayed = SocketAddr::new(self.addr.ip(), self.next_port);
                self.next_port += 1;
                self.allocs.push(Alloc {
                    client: from,
                    relayed,
                    perms: vec![],
                    channels: vec![],
                });
                let out = self.respond(&msg, Class::Success, |b| {
                    b.add_xor_address(AttrType::XOR_RELAYED_ADDRESS, relayed)
                        .unwrap();
                    // As seen through a NAT that keeps the port.
                    let outside = SocketAddr::new([198, 51, 100, 1].into(), from.port());
                    b.add(&Attribute::XorMappedAddress(outside)).unwrap();
                    b.add_raw(AttrType::LIFETIME, &600u32.to_be_bytes())
                        .unwrap();
                });
                Some((self.addr, from, out))
            }
            (Method::CREATE_PERMISSION, Some(a)) => {
                self.allocs[a].perms.push(peer?.ip());
                Some((self.addr, from, self.respond(&msg, Class::Success, |_| {})))
            }
            (Method::CHANNEL_BIND, Some(a)) => {
                let v = msg.raw(AttrType::CHANNEL_NUMBER)?.value;
                let ch = u16::from_be_bytes([v[0], v[1]]);
                self.allocs[a].perms.push(peer?.ip());
                self.allocs[a].channels.push((ch, peer?));
                Some((self.addr, from, self.respond(&msg, Class::Success, |_| {})))
            }
            // RFC 8656 §8: no allocation on this 5-tuple.
            (Method::REFRESH | Method::CREATE_PERMISSION | Method::CHANNEL_BIND, None) => {
                let out = self.respond(&msg, Class::Error, |b| {
                    b.add(&Attribute::ErrorCode(ErrorCode {
                        code: 437,
                        reason: "Allocation Mismatch",
                    }))
                    .unwrap();
                });
                Some((self.addr, from, out))
            }
            (Method::REFRESH, Some(a)) => {
                if msg.raw(AttrType::LIFETIME)?.value == [0, 0, 0, 0] {
                    self.allocs.remove(a);
                }
                Some((self.addr, from, self.respond(&msg, Class::Success, |_| {})))
            }
            _ => None,
        }
    }

    /// A datagram from `from` to one of the relayed addresses.
    fn at_relay(&mut self, relayed: SocketAddr, from: SocketAddr, data: &[u8]) -> Vec<Datagram> {
        let Some(alloc) = self.allocs.iter().find(|a| a.relayed == relayed) else {
            return vec![];
        };
        if !alloc.perms.contains(&from.ip()) {
            return vec![];
        }
        let mut out = Vec::new();
        if let Some(&(ch, _)) = alloc.channels.iter().find(|c| c.1 == from) {
            emit_channel_data(&mut out, ch, data, false).unwrap();
        } else {
            let mut b = MessageBuilder::new(
                &mut out,
                Class::Indication,
                Method::DATA,
                crate::stun::TransactionId([5; 12]),
            );
            b.add_xor_address(AttrType::XOR_PEER_ADDRESS, from).unwrap();
            b.add_raw(AttrType::DATA, data).unwrap();
        }
        vec![(self.addr, alloc.client, out)]
    }
}

fn relay_only_agent(controlling: bool, host: &str, server: SocketAddr) -> IceAgent {
    let mut cfg = if controlling {
        IceConfig::controlling(1)
    } else {
        IceConfig::controlled(2)
    };
    cfg.turn_servers = vec![TurnServer::udp(server, "user", "pass")];
    cfg.relay_only = true;
    let t0 = Instant::now();
    let mut a = IceAgent::new(cfg, t0);
    a.add_local_host(host.parse().unwrap()).unwrap();
    a
}

/// Both agents, the server, a virtual clock. Host addresses cannot reach
/// each other (two private networks); everything goes through the server.
struct World {
    agents: [IceAgent; 2],
    turn: FakeTurn,
    now: Instant,
    /// Non-STUN data each agent received through its relay.
    received: [Vec<(SocketAddr, SocketAddr, Vec<u8>)>; 2],
    direct_dropped: usize,
    /// The local address of an agent's TCP stream to the server, if it
    /// reaches the server over one.
    streams: [Option<SocketAddr>; 2],
    /// What left through a stream, message by message.
    stream_sent: Vec<Vec<u8>>,
    /// Sockets an agent opened for new allocations (restart.rs).
    extra: [Vec<SocketAddr>; 2],
}

impl World {
    fn new() -> World {
        let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
        World {
            agents: [
                relay_only_agent(true, "10.0.0.1:1000", server),
                relay_only_agent(false, "10.1.0.1:1000", server),
            ],
            turn: FakeTurn::new(server),
            now: Instant::now(),
            received: [vec![], vec![]],
            direct_dropped: 0,
            streams: [None, None],
            stream_sent: Vec::new(),
            extra: [vec![], vec![]],
        }
    }

    /// Agent 0 reaches the server over TCP, from `10.0.0.1:2000`.
    fn with_stream() -> World {
        let mut w = World::new();
        let server = w.turn.addr;
        let mut cfg = IceConfig::controlling(1);
        cfg.turn_servers = vec![TurnServer {
            transport: TurnTransport::Tcp,
            ..TurnServer::udp(server, "user", "pass")
        }];
        cfg.relay_only = true;
        let mut a = IceAgent::new(cfg, w.now);
        a.add_local_host(w.host(0)).unwrap();
        let stream: SocketAddr = "10.0.0.1:2000".parse().unwrap();
        a.add_turn_stream(w.now, server, stream).unwrap();
        w.agents[0] = a;
        w.streams[0] = Some(stream);
        w
    }

    fn host(&self, i: usize) -> SocketAddr {
        ["10.0.0.1:1000", "10.1.0.1:1000"][i].parse().unwrap()
    }

    /// Delivers every queued datagram (zero latency), until quiet.
    fn deliver(&mut self) {
        for _ in 0..10_000 {
            let mut queue: Vec<Datagram> = Vec::new();
            for a in &mut self.agents {
                while let Some(t) = a.poll_transmit() {
                    queue.push((t.src, t.dst, t.payload));
                }
            }
            if queue.is_empty() {
                return;
            }
            while let Some((src, dst, payload)) = queue.pop() {
                if dst == self.turn.addr && self.streams.contains(&Some(src)) {
                    self.stream_sent.push(payload.clone());
                }
                if dst == self.turn.addr {
                    queue.extend(self.turn.on_client_datagram(src, &payload));
                } else if self.turn.allocs.iter().any(|a| a.relayed == dst) {
                    queue.extend(self.turn.at_relay(dst, src, &payload));
                } else if let Some(i) = (0..2).find(|&i| {
                    self.host(i) == dst
                        || self.streams[i] == Some(dst)
                        || self.extra[i].contains(&dst)
                }) {
                    if src != self.turn.addr {
                        self.direct_dropped += 1;
                        continue;
                    }
                    let now = self.now;
                    match self.agents[i].handle_relay_datagram(now, src, dst, &payload) {
                        Ok(Some(RelayedData { relay, peer, data })) => {
                            self.received[i].push((relay, peer, data.to_vec()))
                        }
                        Ok(None) => {}
                        Err(e) => panic!("agent {i} dropped a relayed datagram: {e}"),
                    }
                } else {
                    self.direct_dropped += 1;
                }
            }
        }
        panic!("livelock");
    }

    fn step(&mut self) {
        self.deliver();
        let next = self.agents.iter().filter_map(|a| a.poll_timeout()).min();
        if let Some(t) = next {
            self.now = self.now.max(t);
            for a in &mut self.agents {
                a.handle_timeout(self.now);
            }
        }
    }

    /// A world whose agents signaled and completed ICE.
    fn connected() -> World {
        World::new().connect()
    }

    fn connect(mut self) -> World {
        let mut w = {
            self.signal();
            self
        };
        let t0 = w.now;
        while !w.agents.iter().all(|a| a.state() == IceState::Completed) {
            assert!(w.now - t0 < Duration::from_secs(10), "no connection");
            w.step();
        }
        w
    }

    /// Gathers, exchanges candidates and credentials.
    fn signal(&mut self) {
        let now = self.now;
        for a in &mut self.agents {
            a.start_gathering(now);
        }
        let mut cands: [Vec<Candidate>; 2] = [vec![], vec![]];
        for _ in 0..50 {
            self.deliver();
            for (i, a) in self.agents.iter_mut().enumerate() {
                while let Some(e) = a.poll_event() {
                    if let IceEvent::LocalCandidate(c) = e {
                        cands[i].push(c);
                    }
                }
            }
            if cands.iter().all(|c| !c.is_empty()) {
                break;
            }
            self.step();
        }
        // Relay only: the one candidate each signals is the relayed one.
        for c in &cands {
            assert_eq!(c.len(), 1, "{c:?}");
            assert_eq!(c[0].kind, CandidateKind::Relayed);
            assert_eq!(c[0].priority >> 24, 0, "type preference 0");
        }
        let creds: Vec<(String, String)> = self
            .agents
            .iter()
            .map(|a| (a.local_ufrag().to_string(), a.local_pwd().to_string()))
            .collect();
        for i in 0..2 {
            let (u, p) = &creds[1 - i];
            self.agents[i].set_remote_credentials(now, u, p).unwrap();
            for c in &cands[1 - i] {
                self.agents[i].add_remote_candidate(now, c.clone()).unwrap();
            }
        }
    }
}

mod restart;

#[test]
fn relay_only_agents_connect_relay_to_relay_and_exchange_data_through_the_server() {
    let mut w = World::connected();
    w.deliver();
    assert_eq!(w.turn.allocs.len(), 2);
    let relays: Vec<SocketAddr> = (0..2)
        .map(|i| {
            w.turn
                .allocs
                .iter()
                .find(|a| a.client == w.host(i))
                .unwrap()
                .relayed
        })
        .collect();
    for (i, a) in w.agents.iter().enumerate() {
        assert_eq!(
            a.selected_kinds(),
            Some((CandidateKind::Relayed, CandidateKind::Relayed))
        );
        let (local, remote) = a.selected_pair().unwrap();
        assert_eq!((local, remote), (relays[i], relays[1 - i]));
        assert_eq!(a.path_status(local, remote), PathStatus::Validated);
        // The relay's own address is no path for a stranger.
        assert_eq!(
            a.path_status(local, "192.0.2.1:3478".parse().unwrap()),
            PathStatus::Unknown
        );
    }
    // Nothing went host to host, and only relayed candidates are ours.
    assert_eq!(w.direct_dropped, 0);
    for a in &w.agents {
        assert!(a
            .local_candidates()
            .all(|c| c.kind == CandidateKind::Relayed));
    }
    // A genuine check reaching a host address gets no answer: relay only.
    let now = w.now;
    let mut check = Vec::new();
    let user = format!(
        "{}:{}",
        w.agents[1].local_ufrag(),
        w.agents[0].local_ufrag()
    );
    let key = ShortTermKey::new(w.agents[1].local_pwd().as_bytes());
    let mut b = MessageBuilder::new(
        &mut check,
        Class::Request,
        Method::BINDING,
        crate::stun::TransactionId([8; 12]),
    );
    b.add(&Attribute::Username(&user)).unwrap();
    b.add(&Attribute::Priority(1)).unwrap();
    b.add(&Attribute::IceControlling(1)).unwrap();
    b.add_message_integrity(&key).unwrap();
    let ignored = w.agents[1].stats().ignored;
    let host1 = w.host(1);
    w.agents[1]
        .handle_datagram(now, relays[0], host1, &check)
        .unwrap();
    assert_eq!(w.agents[1].stats().ignored, ignored + 1);
    assert_eq!(w.agents[1].poll_transmit(), None);
    // A DTLS-like datagram from agent 0 reaches agent 1 with the 5-tuple
    // (agent 1's relay, agent 0's relay).
    let (src, dst) = w.agents[0].selected_pair().unwrap();
    let wrapped = w.agents[0]
        .wrap_relayed(super::Transmit {
            src,
            dst,
            payload: b"\x16\xfe\xfdhello".to_vec(),
        })
        .unwrap();
    assert_eq!(wrapped.src, w.host(0));
    assert_eq!(wrapped.dst, w.turn.addr);
    // Channels are bound by now: ChannelData, first byte 64..=79.
    assert!(
        (64..=79).contains(&wrapped.payload[0]),
        "{:?}",
        wrapped.payload
    );
    let out = w.turn.on_client_datagram(wrapped.src, &wrapped.payload);
    let mut queue = out;
    while let Some((s, d, p)) = queue.pop() {
        if w.turn.allocs.iter().any(|a| a.relayed == d) {
            queue.extend(w.turn.at_relay(d, s, &p));
        } else {
            let now = w.now;
            let got = w.agents[1].handle_relay_datagram(now, s, d, &p).unwrap();
            assert_eq!(
                got,
                Some(RelayedData {
                    relay: relays[1],
                    peer: relays[0],
                    data: b"\x16\xfe\xfdhello"
                })
            );
        }
    }
    // Each client allocated once, then asked for permissions and channels.
    let allocs = w
        .turn
        .requests
        .iter()
        .filter(|m| **m == Method::ALLOCATE)
        .count();
    let binds = w
        .turn
        .requests
        .iter()
        .filter(|m| **m == Method::CHANNEL_BIND)
        .count();
    assert_eq!((allocs, binds), (2, 2));
    for a in &w.agents {
        let (_, s) = a.turn_stats()[0];
        assert!(s.channel_data_received + s.data_indications > 0);
        assert_eq!(
            (s.bad_integrity, s.unmatched_responses, s.malformed),
            (0, 0, 0)
        );
    }
}

#[test]
fn close_deletes_the_allocation_on_the_server() {
    let mut w = World::new();
    w.signal();
    for _ in 0..5 {
        w.step();
    }
    assert_eq!(w.turn.allocs.len(), 2);
    w.agents[0].close();
    w.deliver();
    assert_eq!(w.turn.allocs.len(), 1);
    assert_eq!(w.agents[0].poll_timeout(), None);
}

#[test]
fn allocate_response_gives_a_server_reflexive_candidate_unless_relay_only() {
    let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let mut a = relay_only_agent(true, "10.0.0.1:1000", server);
    a.config.relay_only = false;
    let mut turn = FakeTurn::new(server);
    let now = Instant::now();
    a.start_gathering(now);
    let mut kinds = Vec::new();
    for _ in 0..5 {
        while let Some(t) = a.poll_transmit() {
            for (s, d, p) in turn.on_client_datagram(t.src, &t.payload) {
                a.handle_datagram(now, s, d, &p).unwrap();
            }
        }
        while let Some(e) = a.poll_event() {
            match e {
                IceEvent::LocalCandidate(c) => kinds.push((c.kind, c.addr)),
                IceEvent::GatheringComplete => kinds.push((CandidateKind::PeerReflexive, server)),
                _ => {}
            }
        }
    }
    let relayed = turn.allocs[0].relayed;
    // Host, then (from the one Allocate response) srflx and relay, then the
    // end of gathering (marked here with a prflx placeholder).
    assert_eq!(
        kinds,
        vec![
            (CandidateKind::Host, "10.0.0.1:1000".parse().unwrap()),
            (
                CandidateKind::ServerReflexive,
                "198.51.100.1:1000".parse().unwrap()
            ),
            (CandidateKind::Relayed, relayed),
            (CandidateKind::PeerReflexive, server),
        ]
    );
}

#[test]
fn allocation_permissions_and_channels_are_refreshed_while_the_call_lasts() {
    let mut w = World::connected();
    let t0 = w.now;
    let count = |w: &World, m: Method| w.turn.requests.iter().filter(|r| **r == m).count();
    let (perms, binds) = (
        count(&w, Method::CREATE_PERMISSION),
        count(&w, Method::CHANNEL_BIND),
    );
    assert_eq!(count(&w, Method::REFRESH), 0);
    // Eleven minutes of call: consent checks every 5 s through the relay.
    while w.now - t0 < Duration::from_secs(660) {
        w.step();
    }
    w.deliver();
    for a in &w.agents {
        assert_eq!(a.state(), IceState::Completed);
        assert_eq!(
            a.selected_kinds(),
            Some((CandidateKind::Relayed, CandidateKind::Relayed))
        );
    }
    // Each allocation refreshed once (at 540 s of its 600), each permission
    // twice (240 s, 480 s) and each channel once (540 s).
    assert_eq!(count(&w, Method::REFRESH), 2);
    assert!(count(&w, Method::CREATE_PERMISSION) >= perms + 4);
    assert_eq!(count(&w, Method::CHANNEL_BIND), binds + 2);
}

#[test]
fn a_relay_over_a_tcp_stream_sends_from_the_stream_pads_channel_data_and_connects() {
    let mut w = World::with_stream().connect();
    let stream = w.streams[0].unwrap();
    // The allocation is keyed by the stream's address, not the host's.
    let clients: Vec<SocketAddr> = w.turn.allocs.iter().map(|a| a.client).collect();
    assert!(clients.contains(&stream) && !clients.contains(&w.host(0)));
    assert!(w.agents[0].is_relay_server(stream, w.turn.addr));
    assert!(!w.agents[0].is_relay_server(w.host(0), w.turn.addr));
    // Data both ways over the relays.
    let (relay0, peer0) = w.agents[0].selected_pair().unwrap();
    let t = Transmit {
        src: relay0,
        dst: peer0,
        payload: b"hello".to_vec(),
    };
    let wrapped = w.agents[0].wrap_relayed(t).unwrap();
    assert_eq!((wrapped.src, wrapped.dst), (stream, w.turn.addr));
    // ChannelData over a stream is padded to four bytes (RFC 8656 §12.5).
    assert_eq!(wrapped.payload[0] & 0xc0, 0x40);
    assert_eq!(wrapped.payload.len(), 12);
    assert_eq!(&wrapped.payload[4..9], b"hello");
    let sent_channel_data: Vec<&Vec<u8>> = w
        .stream_sent
        .iter()
        .filter(|p| (64..=79).contains(&p[0]))
        .collect();
    assert!(!sent_channel_data.is_empty());
    assert!(sent_channel_data.iter().all(|p| p.len() % 4 == 0));
    // The stream relay's candidate ranks below a UDP relay's (agent 1's).
    let prio = |i: usize| {
        let (l, _) = w.agents[i].selected_pair().unwrap();
        w.agents[i]
            .local_candidates()
            .find(|c| c.addr == l)
            .map(|c| c.priority)
            .unwrap()
    };
    assert!(prio(0) < prio(1), "{} {}", prio(0), prio(1));
}

#[test]
fn a_stream_for_a_server_not_configured_for_one_is_refused() {
    let mut w = World::new();
    let now = w.now;
    let server = w.turn.addr;
    // Agent 0's server is a UDP one.
    assert_eq!(
        w.agents[0].add_turn_stream(now, server, "10.0.0.1:2000".parse().unwrap()),
        Err(IceError::UnknownTurnServer(server))
    );
    let other: SocketAddr = "192.0.2.9:3478".parse().unwrap();
    assert_eq!(
        w.agents[1].add_turn_stream(now, other, "10.1.0.1:2000".parse().unwrap()),
        Err(IceError::UnknownTurnServer(other))
    );
}

#[test]
fn an_allocation_the_server_lost_is_made_anew_with_a_new_relayed_candidate() {
    let mut w = World::connected();
    let old: Vec<SocketAddr> = w.turn.allocs.iter().map(|a| a.relayed).collect();
    for a in &mut w.agents {
        while a.poll_event().is_some() {}
    }
    // The server restarts: every allocation is gone. The next permission
    // refresh (240 s) gets 437, and the agent allocates again.
    w.turn.allocs.clear();
    let t0 = w.now;
    while w.agents.iter().any(|a| a.stats().relays_reallocated == 0) {
        assert!(w.now - t0 < Duration::from_secs(600), "no reallocation");
        w.step();
    }
    w.deliver();
    for (i, a) in w.agents.iter_mut().enumerate() {
        assert_eq!(a.stats().relays_reallocated, 1);
        let mut relays = Vec::new();
        while let Some(e) = a.poll_event() {
            if let IceEvent::LocalCandidate(c) = e {
                if c.kind == CandidateKind::Relayed {
                    relays.push(c.addr);
                }
            }
        }
        // A new relayed address, on a new allocation of the server.
        assert_eq!(relays.len(), 1, "agent {i}");
        assert!(!old.contains(&relays[0]));
        assert!(w.turn.allocs.iter().any(|x| x.relayed == relays[0]));
        // What the owner still sends on the failed pair, from the old
        // relayed address, has no relay to carry it: dropped and counted.
        let gone = *old
            .iter()
            .find(|o| a.local_candidates().any(|c| c.addr == **o))
            .unwrap();
        let t = Transmit {
            src: gone,
            dst: "192.0.2.99:9".parse().unwrap(),
            payload: vec![0x17, 0xfe, 0xfd],
        };
        assert!(a.wrap_relayed(t).is_none());
        assert_eq!(a.stats().relay_lost_dropped, 1);
    }
}

#[test]
fn a_closed_agent_retransmits_the_deallocation_until_answered_or_timed_out() {
    let mut w = World::new();
    w.signal();
    for _ in 0..5 {
        w.step();
    }
    assert_eq!(w.turn.allocs.len(), 2);
    // Agent 0's server cannot be reached when it closes: the Refresh with
    // lifetime 0 goes out, then again at 0.5, 1.5, 3.5, 7.5, 15.5 and
    // 31.5 s (RFC 8489 §6.2.1: RTO 500 ms doubling, Rc = 7), and the
    // transaction gives up 8 s (Rm × RTO) after the last one.
    let closed_at = w.now;
    w.agents[0].close();
    let mut sent = Vec::new();
    let mut now = closed_at;
    loop {
        while let Some(t) = w.agents[0].poll_transmit() {
            assert_eq!(t.dst, w.turn.addr);
            let m = Message::parse(&t.payload).unwrap();
            assert_eq!(m.method(), Method::REFRESH);
            sent.push(now - closed_at);
        }
        let Some(next) = w.agents[0].poll_timeout() else {
            break;
        };
        now = next;
        w.agents[0].handle_timeout(now);
    }
    let ms: Vec<u128> = sent.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [0, 500, 1500, 3500, 7500, 15_500, 31_500]);
    assert_eq!(now - closed_at, Duration::from_millis(39_500));
    assert_eq!(w.agents[0].turn_stats()[0].1.retransmits, 6);
    assert_eq!(w.turn.allocs.len(), 2, "the server never heard of it");

    // Agent 1's first two Refreshes are lost; the third is answered: the
    // allocation is deleted and the timers stop.
    w.agents[1].close();
    let mut now = w.now;
    for _ in 0..2 {
        while w.agents[1].poll_transmit().is_some() {}
        now = w.agents[1].poll_timeout().unwrap();
        w.agents[1].handle_timeout(now);
    }
    w.now = now;
    w.deliver();
    assert_eq!(w.turn.allocs.len(), 1);
    assert_eq!(w.agents[1].poll_timeout(), None);
    assert_eq!(w.agents[1].turn_stats()[0].1.retransmits, 2);
}

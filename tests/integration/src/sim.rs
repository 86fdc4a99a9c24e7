//! ICE on the simulator: an agent (or a STUN server) as a netsim node, and
//! a two-agent call whose signaling the test performs, with optional delays.
//! Used by the ICE scenarios and the ICE benchmark.

use meshrtc_ice::{Candidate, IceAgent, IceConfig, IceEvent, IceState, StunServer};
use meshrtc_netsim::{Datagram, LinkConfig, Node, NodeId, Sim};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// An ICE agent, or a STUN server, as a simulator node.
pub enum Peer {
    /// An agent, with the events it emitted (time since the epoch).
    Agent {
        /// The agent.
        agent: Box<IceAgent>,
        /// Its events so far.
        events: Vec<(Duration, IceEvent)>,
        /// The simulation's start.
        epoch: Instant,
        /// Datagrams it refused.
        errors: u64,
    },
    /// A STUN server.
    Server {
        /// The server.
        server: StunServer,
        /// Answers waiting to be sent.
        out: Vec<Datagram>,
    },
    /// A TURN server (which answers STUN Binding requests too).
    Turn(Box<crate::turn_server::SimTurn>),
}

impl Peer {
    /// A node holding a new agent whose clock starts at `epoch`.
    pub fn agent_node(cfg: IceConfig, epoch: Instant) -> Peer {
        Peer::Agent {
            agent: Box::new(IceAgent::new(cfg, epoch)),
            events: vec![],
            epoch,
            errors: 0,
        }
    }

    /// The agent (a test knows which nodes are agents: a server panics).
    /// The agent of node `id`.
    pub fn agent(&self) -> &IceAgent {
        match self {
            Peer::Agent { agent, .. } => agent,
            _ => panic!("not an agent"),
        }
    }
    /// The agent, mutably (a server panics).
    pub fn agent_mut(&mut self) -> &mut IceAgent {
        match self {
            Peer::Agent { agent, .. } => agent,
            _ => panic!("not an agent"),
        }
    }
    /// The TURN server (anything else panics).
    pub fn turn(&self) -> &crate::turn_server::SimTurn {
        match self {
            Peer::Turn(t) => t,
            _ => panic!("not a TURN server"),
        }
    }
    /// The TURN server, mutably (anything else panics).
    pub fn turn_mut(&mut self) -> &mut crate::turn_server::SimTurn {
        match self {
            Peer::Turn(t) => t,
            _ => panic!("not a TURN server"),
        }
    }
    /// The agent's events with their times (none for a server).
    pub fn events(&self) -> &[(Duration, IceEvent)] {
        match self {
            Peer::Agent { events, .. } => events,
            _ => &[],
        }
    }
    /// Moves the agent's pending events into `events`.
    pub fn drain(&mut self, now: Instant) {
        if let Peer::Agent {
            agent,
            events,
            epoch,
            ..
        } = self
        {
            while let Some(e) = agent.poll_event() {
                events.push((now - *epoch, e));
            }
        }
    }
}

impl Node for Peer {
    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        match self {
            Peer::Agent { agent, errors, .. } => {
                // From one of its TURN servers: responses, and checks or
                // data relayed from a peer (data is not ICE's: dropped).
                let failed = if agent.is_relay_server(d.dst, d.src) {
                    agent
                        .handle_relay_datagram(now, d.src, d.dst, &d.payload)
                        .is_err()
                } else {
                    agent
                        .handle_datagram(now, d.src, d.dst, &d.payload)
                        .is_err()
                };
                if failed {
                    *errors += 1;
                }
            }
            Peer::Turn(t) => t.handle_datagram(now, d),
            Peer::Server { server, out } => {
                let mut buf = Vec::new();
                if let Ok(true) = server.handle(d.src, &d.payload, &mut buf) {
                    out.push(Datagram {
                        src: d.dst,
                        dst: d.src,
                        payload: buf,
                    });
                }
            }
        }
        self.drain(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Peer::Agent { agent, .. } => agent.handle_timeout(now),
            Peer::Turn(t) => t.handle_timeout(now),
            Peer::Server { .. } => {}
        }
        self.drain(now);
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        match self {
            Peer::Agent { agent, .. } => agent.poll_transmit().map(|t| Datagram {
                src: t.src,
                dst: t.dst,
                payload: t.payload,
            }),
            Peer::Server { out, .. } => out.pop(),
            Peer::Turn(t) => t.poll_transmit(now),
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Peer::Agent { agent, .. } => agent.poll_timeout(),
            Peer::Server { .. } => None,
            Peer::Turn(t) => t.poll_timeout(),
        }
    }
}

/// Parses an IP address (tests only).
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Parses a socket address (tests only).
pub fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Two agents and the signaling between them (done by the test, with an
/// optional delay per direction).
pub struct Call {
    /// The simulator.
    pub sim: Sim<Peer>,
    /// The first agent (node 0).
    pub a: NodeId,
    /// The second agent (node 1).
    pub b: NodeId,
    /// Candidates already forwarded, per direction.
    pub sent: [usize; 2],
    /// Signaling from a to b, and from b to a, opens at these times.
    pub open_at: [Duration; 2],
    /// Whether credentials went across, per direction.
    pub creds_sent: [bool; 2],
    /// Whether credentials travel with the candidates (else the test sends them).
    pub auto_creds: bool,
}

impl Call {
    /// Agent a at 10.0.0.1:5000 and agent b at 10.0.0.2:6000, one link.
    pub fn new(seed: u64, cfg_a: IceConfig, cfg_b: IceConfig, link: LinkConfig) -> Call {
        let mut sim: Sim<Peer> = Sim::new(seed);
        let e = sim.epoch();
        let a = sim.add_node(Peer::agent_node(cfg_a, e), &[ip("10.0.0.1")]);
        let b = sim.add_node(Peer::agent_node(cfg_b, e), &[ip("10.0.0.2")]);
        sim.set_link(a, b, link);
        let mut call = Call::around(sim, a, b);
        call.host(a, "10.0.0.1:5000");
        call.host(b, "10.0.0.2:6000");
        call
    }

    /// A call between two agents already in `sim`.
    pub fn around(sim: Sim<Peer>, a: NodeId, b: NodeId) -> Call {
        Call {
            sim,
            a,
            b,
            sent: [0, 0],
            open_at: [Duration::ZERO; 2],
            creds_sent: [false; 2],
            auto_creds: true,
        }
    }

    /// Agents with `n` host addresses each (a: 10.0.1.1..n:5000, b:
    /// 10.0.2.1..n:6000), every address reachable: `n × n` candidate pairs.
    pub fn with_hosts(
        seed: u64,
        cfg_a: IceConfig,
        cfg_b: IceConfig,
        link: LinkConfig,
        n: u8,
    ) -> Call {
        let mut sim: Sim<Peer> = Sim::new(seed);
        let e = sim.epoch();
        let ips =
            |net: u8| -> Vec<IpAddr> { (1..=n).map(|h| ip(&format!("10.0.{net}.{h}"))).collect() };
        let a = sim.add_node(Peer::agent_node(cfg_a, e), &ips(1));
        let b = sim.add_node(Peer::agent_node(cfg_b, e), &ips(2));
        sim.set_link(a, b, link);
        let mut call = Call::around(sim, a, b);
        for h in 1..=n {
            call.host(a, &format!("10.0.1.{h}:5000"));
            call.host(b, &format!("10.0.2.{h}:6000"));
        }
        call
    }

    /// When agent `id` first entered state `s`, since the epoch.
    pub fn first_time_in(&self, id: NodeId, s: IceState) -> Option<Duration> {
        self.sim
            .node(id)
            .events()
            .iter()
            .find(|(_, e)| *e == IceEvent::StateChanged(s))
            .map(|(t, _)| *t)
    }

    /// Adds a host address to an agent (the node must own its IP).
    pub fn host(&mut self, id: NodeId, addr: &str) {
        self.sim
            .node_mut(id)
            .agent_mut()
            .add_local_host(sa(addr))
            .unwrap();
    }

    /// Starts gathering on both agents.
    pub fn start(&mut self) {
        let now = self.sim.now();
        for id in [self.a, self.b] {
            let n = self.sim.node_mut(id);
            n.agent_mut().start_gathering(now);
            n.drain(now);
        }
    }

    /// Forwards credentials and trickled candidates whose signaling is open.
    pub fn signal(&mut self) {
        let now = self.sim.now();
        for (dir, (from, to)) in [(self.a, self.b), (self.b, self.a)].into_iter().enumerate() {
            if self.sim.elapsed() < self.open_at[dir] {
                continue;
            }
            if self.auto_creds && !self.creds_sent[dir] {
                let src = self.sim.node(from).agent();
                let (u, p) = (src.local_ufrag().to_string(), src.local_pwd().to_string());
                self.sim
                    .node_mut(to)
                    .agent_mut()
                    .set_remote_credentials(now, &u, &p)
                    .unwrap();
                self.creds_sent[dir] = true;
            }
            let cands: Vec<Candidate> = self
                .sim
                .node(from)
                .events()
                .iter()
                .filter_map(|(_, e)| match e {
                    IceEvent::LocalCandidate(c) => Some(c.clone()),
                    _ => None,
                })
                .collect();
            for c in &cands[self.sent[dir]..] {
                self.sim
                    .node_mut(to)
                    .agent_mut()
                    .add_remote_candidate(now, c.clone())
                    .unwrap();
            }
            self.sent[dir] = cands.len();
            let node = self.sim.node_mut(to);
            node.drain(now);
        }
    }

    /// Steps until `done`, signaling as it goes.
    /// Runs until `done` holds; panics after `limit` of simulated time.
    pub fn drive(&mut self, done: impl Fn(&Call) -> bool, limit: Duration) -> Duration {
        let start = self.sim.elapsed();
        let mut steps = 0u64;
        loop {
            self.signal();
            if done(self) {
                return self.sim.elapsed() - start;
            }
            assert!(
                self.sim.elapsed() - start <= limit,
                "not done after {limit:?}: a={:?} b={:?}",
                self.state(self.a),
                self.state(self.b)
            );
            steps += 1;
            assert!(steps < 1_000_000, "livelock");
            // Signaling and the predicate get a turn every 5 ms of simulated
            // time; the nodes' own events keep their exact times.
            self.sim.run_for(Duration::from_millis(5)).unwrap();
        }
    }

    /// The agent's state.
    pub fn state(&self, id: NodeId) -> IceState {
        self.sim.node(id).agent().state()
    }

    /// Both agents are in state `s`.
    pub fn both(&self, s: IceState) -> bool {
        self.state(self.a) == s && self.state(self.b) == s
    }

    /// See the name.
    pub fn agent(&self, id: NodeId) -> &IceAgent {
        self.sim.node(id).agent()
    }

    /// The selected pairs agree: a's local is b's remote and vice versa.
    /// Panics unless a's selected pair is b's, mirrored.
    pub fn assert_pairs_agree(&self) {
        let (al, ar) = self.agent(self.a).selected_pair().expect("a has a pair");
        let (bl, br) = self.agent(self.b).selected_pair().expect("b has a pair");
        assert_eq!((al, ar), (br, bl));
    }
}

/// Both agents are in state Completed.
pub fn completed(c: &Call) -> bool {
    c.both(IceState::Completed)
}

/// A PeerConnection's next datagram, as the simulator carries it.
pub fn peer_transmit(pc: &mut meshrtc_peer::PeerConnection) -> Option<Datagram> {
    let t = pc.poll_transmit()?;
    Some(Datagram {
        src: t.src,
        dst: t.dst,
        payload: t.payload,
    })
}

/// Offer from `a`, answer from `b`, exchanged directly (complete SDP).
pub fn offer_answer(
    a: &mut meshrtc_peer::PeerConnection,
    b: &mut meshrtc_peer::PeerConnection,
    now: Instant,
) {
    use meshrtc_peer::SdpType;
    let offer = a.create_offer(now).unwrap();
    b.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    let answer = b.create_answer(now).unwrap();
    a.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
}

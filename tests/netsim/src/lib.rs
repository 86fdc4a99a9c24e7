//! A deterministic network simulator for sans-IO nodes.
//!
//! A [`Sim`] holds nodes (anything that implements [`Node`]: take a datagram
//! or a timeout, give datagrams and a next timeout), the hosts' addresses,
//! optional NAT boxes, and links with latency, jitter, loss (random and
//! bursty), duplication, reordering, MTU, rate limits and partitions, and
//! per-host access links ([`Sim::set_uplink`], [`Sim::set_downlink`]): one
//! bottleneck, with a capacity that may follow a schedule, that all of a
//! host's datagrams to (or from) every other host share. Time is
//! virtual: [`Sim::step`] jumps to the earliest delivery or node timeout, so a
//! minute of call runs in milliseconds. Every random choice comes from one
//! seeded generator and every collection is ordered, so the same seed gives
//! the same trace ([`Sim::trace_hash`]).
//!
//! It depends on no meshrtc crate: any crate can use it as a dev-dependency.
//!
//! ```
//! use meshrtc_netsim::{Datagram, LinkConfig, Node, Sim};
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//!
//! /// Answers every datagram with the same bytes.
//! struct Echo(Vec<Datagram>);
//! impl Node for Echo {
//!     fn handle_datagram(&mut self, _now: Instant, d: Datagram) {
//!         self.0.push(Datagram { src: d.dst, dst: d.src, payload: d.payload });
//!     }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//!     fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> { self.0.pop() }
//!     fn poll_timeout(&mut self) -> Option<Instant> { None }
//! }
//!
//! let mut sim = Sim::new(1);
//! let a = sim.add_node(Echo(vec![]), &["10.0.0.1".parse().unwrap()]);
//! let b = sim.add_node(Echo(vec![]), &["10.0.0.2".parse().unwrap()]);
//! sim.set_link(a, b, LinkConfig::with_latency(Duration::from_millis(10)));
//! let from: SocketAddr = "10.0.0.1:1".parse().unwrap();
//! let to: SocketAddr = "10.0.0.2:2".parse().unwrap();
//! sim.inject(Datagram { src: from, dst: to, payload: b"ping".to_vec() });
//! // Ping-pong forever: stop after 95 ms of virtual time.
//! sim.run_for(Duration::from_millis(95)).unwrap();
//! assert_eq!(sim.link_stats(a, b).delivered, 5);
//! assert_eq!(sim.link_stats(b, a).delivered, 4);
//! ```
#![forbid(unsafe_code)]

mod bottleneck;
mod link;
mod nat;
mod rng;

pub use bottleneck::{
    Bottleneck, BottleneckConfig, BottleneckStats, Fate, QueueLimit, QueueSample,
};
pub use link::{BurstLoss, LinkConfig, LinkStats};
pub use nat::{Filtering, Mapping, NatConfig};
pub use rng::SimRng;

use link::Link;
use nat::Nat;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// A datagram in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Where it comes from (the sender's local address).
    pub src: SocketAddr,
    /// Where it goes.
    pub dst: SocketAddr,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// What the simulator drives: a sans-IO protocol endpoint (or several
/// behind one set of addresses).
///
/// After every `handle_*` call the simulator drains `poll_transmit` until it
/// returns `None`, then asks `poll_timeout`.
pub trait Node {
    /// A datagram arrived for one of the node's addresses (`dgram.dst`).
    fn handle_datagram(&mut self, now: Instant, dgram: Datagram);
    /// The time the node asked for has come.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram>;
    /// When the node next wants `handle_timeout`.
    fn poll_timeout(&mut self) -> Option<Instant>;
}

impl<N: Node + ?Sized> Node for Box<N> {
    fn handle_datagram(&mut self, now: Instant, dgram: Datagram) {
        (**self).handle_datagram(now, dgram)
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now)
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        (**self).poll_transmit(now)
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        (**self).poll_timeout()
    }
}

/// Index of a node in the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// Index of a NAT box in the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NatId(pub usize);

/// Why a run stopped without reaching its goal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The predicate did not hold within the time limit.
    #[error("condition not met after {0:?} of simulated time")]
    Timeout(Duration),
    /// Nothing is in flight and no node wants a timeout: nothing can change.
    #[error("simulation idle at {0:?}: no datagram in flight and no timer set")]
    Idle(Duration),
    /// Too many events without the clock moving: a node keeps asking for a
    /// timeout in the past, or two nodes ping-pong with zero latency.
    #[error("livelock at {at:?}: {events} events without the clock advancing")]
    Livelock {
        /// Simulated time.
        at: Duration,
        /// Events processed at that instant.
        events: u64,
    },
}

/// Whole-network counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Datagrams handed to nodes.
    pub delivered: u64,
    /// Datagrams to an address no host has.
    pub unroutable: u64,
    /// Datagrams a NAT's filter refused.
    pub nat_filtered: u64,
    /// `handle_timeout` calls.
    pub timeouts: u64,
}

/// One recorded event of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEvent {
    /// A datagram was delivered to a node.
    Deliver {
        /// Simulated time.
        at: Duration,
        /// The receiving node.
        node: NodeId,
        /// Source as the receiver sees it (after NAT).
        src: SocketAddr,
        /// Destination as the receiver sees it.
        dst: SocketAddr,
        /// Payload length.
        len: usize,
    },
    /// A node's timer fired.
    Timeout {
        /// Simulated time.
        at: Duration,
        /// The node.
        node: NodeId,
    },
}

struct Host<N> {
    node: N,
    ips: Vec<IpAddr>,
    nat: Option<NatId>,
}

struct InFlight {
    from: NodeId,
    to: NodeId,
    dgram: Datagram,
    /// It reached the receiver's downlink and still has to go through it.
    at_downlink: bool,
}

/// Largest number of events processed without the clock moving before the
/// simulator calls it a livelock.
const LIVELOCK_EVENTS: u64 = 100_000;

/// The simulator. See the crate documentation.
pub struct Sim<N> {
    epoch: Instant,
    now: Duration,
    rng: SimRng,
    hosts: Vec<Host<N>>,
    nats: Vec<Nat>,
    links: BTreeMap<(NodeId, NodeId), Link>,
    default_link: LinkConfig,
    uplinks: BTreeMap<NodeId, Bottleneck>,
    downlinks: BTreeMap<NodeId, Bottleneck>,
    queue: BTreeMap<(Duration, u64), InFlight>,
    actions: BTreeMap<(Duration, u64), (NodeId, NodeId, bool)>,
    seq: u64,
    stats: SimStats,
    hash: u64,
    trace: Option<Vec<TraceEvent>>,
    same_instant_events: u64,
}

impl<N: Node> Sim<N> {
    /// An empty network whose random choices all derive from `seed`.
    pub fn new(seed: u64) -> Sim<N> {
        Sim {
            epoch: Instant::now(),
            now: Duration::ZERO,
            rng: SimRng::new(seed),
            hosts: Vec::new(),
            nats: Vec::new(),
            links: BTreeMap::new(),
            default_link: LinkConfig::default(),
            uplinks: BTreeMap::new(),
            downlinks: BTreeMap::new(),
            queue: BTreeMap::new(),
            actions: BTreeMap::new(),
            seq: 0,
            stats: SimStats::default(),
            hash: 0xcbf2_9ce4_8422_2325,
            trace: None,
            same_instant_events: 0,
        }
    }

    /// The instant nodes see as the simulation's start. Build nodes with it
    /// (their clocks start here) before adding them.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The current simulated instant.
    pub fn now(&self) -> Instant {
        self.epoch + self.now
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now
    }

    /// The simulator's generator, for tests that want seeded randomness of
    /// their own (node configs, tie-breakers).
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    /// Records every event in a list (off by default; the hash is always kept).
    pub fn record_trace(&mut self, on: bool) {
        self.trace = on.then(Vec::new);
    }

    /// The recorded events (empty unless [`Sim::record_trace`] is on).
    pub fn trace(&self) -> &[TraceEvent] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// A hash of every delivery (time, node, addresses, payload) and timeout
    /// so far: equal for equal runs.
    pub fn trace_hash(&self) -> u64 {
        self.hash
    }

    /// Adds a node reachable at `ips` on the public network.
    pub fn add_node(&mut self, node: N, ips: &[IpAddr]) -> NodeId {
        self.hosts.push(Host {
            node,
            ips: ips.to_vec(),
            nat: None,
        });
        NodeId(self.hosts.len() - 1)
    }

    /// Adds a NAT box.
    pub fn add_nat(&mut self, config: NatConfig) -> NatId {
        self.nats.push(Nat::new(config));
        NatId(self.nats.len() - 1)
    }

    /// The NAT `nat` forgets its mappings (see `Nat::rebind`): the address
    /// the outside sees for its hosts changes, as on a network change.
    pub fn rebind_nat(&mut self, nat: NatId) {
        self.nats[nat.0].rebind();
    }

    /// Adds a node behind a NAT, with private addresses.
    pub fn add_node_behind(&mut self, nat: NatId, node: N, ips: &[IpAddr]) -> NodeId {
        self.hosts.push(Host {
            node,
            ips: ips.to_vec(),
            nat: Some(nat),
        });
        NodeId(self.hosts.len() - 1)
    }

    /// The node.
    pub fn node(&self, id: NodeId) -> &N {
        &self.hosts[id.0].node
    }

    /// The node, mutably (call [`Sim::step`] or a run method afterwards so
    /// what it wants to send is sent).
    pub fn node_mut(&mut self, id: NodeId) -> &mut N {
        &mut self.hosts[id.0].node
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.hosts.len()
    }

    /// The link used between hosts that have none of their own.
    pub fn set_default_link(&mut self, config: LinkConfig) {
        self.default_link = config;
        for l in self.links.values_mut() {
            l.config = self.default_link.clone();
        }
    }

    /// Sets both directions between `a` and `b`.
    pub fn set_link(&mut self, a: NodeId, b: NodeId, config: LinkConfig) {
        self.set_link_oneway(a, b, config.clone());
        self.set_link_oneway(b, a, config);
    }

    /// Sets the direction from `a` to `b`.
    pub fn set_link_oneway(&mut self, a: NodeId, b: NodeId, config: LinkConfig) {
        self.link(a, b).config = config;
    }

    fn link(&mut self, a: NodeId, b: NodeId) -> &mut Link {
        let default = &self.default_link;
        self.links
            .entry((a, b))
            .or_insert_with(|| Link::new(default.clone()))
    }

    /// Puts every datagram `node` sends, to any host, through one
    /// bottleneck before its per-pair link (a home uplink shared by all of
    /// a mesh member's streams). Replaces any uplink it had.
    pub fn set_uplink(&mut self, node: NodeId, config: BottleneckConfig) {
        self.uplinks.insert(node, Bottleneck::new(config));
    }

    /// Puts every datagram `node` receives, from any host, through one
    /// bottleneck after its per-pair link. Replaces any downlink it had.
    pub fn set_downlink(&mut self, node: NodeId, config: BottleneckConfig) {
        self.downlinks.insert(node, Bottleneck::new(config));
    }

    /// The uplink of `node`, with its counters and samples.
    pub fn uplink(&self, node: NodeId) -> Option<&Bottleneck> {
        self.uplinks.get(&node)
    }

    /// The downlink of `node`, with its counters and samples.
    pub fn downlink(&self, node: NodeId) -> Option<&Bottleneck> {
        self.downlinks.get(&node)
    }

    /// Counters of the direction from `a` to `b`.
    pub fn link_stats(&self, a: NodeId, b: NodeId) -> LinkStats {
        self.links.get(&(a, b)).map(|l| l.stats).unwrap_or_default()
    }

    /// Whole-network counters.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Cuts both directions between `a` and `b` now.
    pub fn cut(&mut self, a: NodeId, b: NodeId) {
        self.link(a, b).cut = true;
        self.link(b, a).cut = true;
    }

    /// Heals both directions between `a` and `b` now.
    pub fn heal(&mut self, a: NodeId, b: NodeId) {
        self.link(a, b).cut = false;
        self.link(b, a).cut = false;
    }

    /// Cuts both directions at simulated time `at` (since the start).
    pub fn cut_at(&mut self, at: Duration, a: NodeId, b: NodeId) {
        self.seq += 1;
        self.actions.insert((at, self.seq), (a, b, true));
    }

    /// Heals both directions at simulated time `at`.
    pub fn heal_at(&mut self, at: Duration, a: NodeId, b: NodeId) {
        self.seq += 1;
        self.actions.insert((at, self.seq), (a, b, false));
    }

    /// Sends a datagram as if a node at `dgram.src` had sent it.
    pub fn inject(&mut self, dgram: Datagram) {
        match self.owner(dgram.src.ip(), None) {
            Some(from) => self.route(from, dgram),
            None => self.stats.unroutable += 1,
        }
    }

    /// The host that owns `ip` in the realm of `nat` (None: the public one).
    fn owner(&self, ip: IpAddr, nat: Option<NatId>) -> Option<NodeId> {
        self.hosts
            .iter()
            .position(|h| h.nat == nat && h.ips.contains(&ip))
            .map(NodeId)
    }

    /// Routes a datagram sent by `from`: translate through NATs, pick the
    /// receiving host, apply the link, queue the copies.
    fn route(&mut self, from: NodeId, mut dgram: Datagram) {
        let realm = self.hosts[from.0].nat;
        // Inside the sender's own realm: delivered directly.
        let mut to = self.owner(dgram.dst.ip(), realm);
        if to.is_none() {
            if let Some(nat) = realm {
                // Out through the sender's NAT.
                match self.nats[nat.0].outbound(dgram.src, dgram.dst) {
                    Some(src) => dgram.src = src,
                    None => {
                        self.stats.unroutable += 1;
                        return;
                    }
                }
            }
            to = self.owner(dgram.dst.ip(), None);
            if to.is_none() {
                // In through a NAT whose public address is the destination.
                let nat = self
                    .nats
                    .iter()
                    .position(|n| n.config.public_ip == dgram.dst.ip());
                if let Some(n) = nat {
                    match self.nats[n].inbound(dgram.src, dgram.dst) {
                        Some(inside) => {
                            dgram.dst = inside;
                            to = self.owner(inside.ip(), Some(NatId(n)));
                        }
                        None => {
                            self.stats.nat_filtered += 1;
                            return;
                        }
                    }
                }
            }
        }
        let Some(to) = to else {
            self.stats.unroutable += 1;
            return;
        };
        let now = self.now;
        let len = dgram.payload.len();
        let mut rng = std::mem::replace(&mut self.rng, SimRng::new(0));
        // The sender's uplink first (shared by all its destinations), then
        // the pair's own link from when the datagram left the uplink.
        let start = match self.uplinks.get_mut(&from) {
            Some(up) => up.transmit(now, len, to, &mut rng),
            None => Some(now),
        };
        let times = match start {
            Some(start) => self.link(from, to).transmit(start, len, &mut rng),
            None => Vec::new(),
        };
        self.rng = rng;
        let at_downlink = self.downlinks.contains_key(&to);
        let n = times.len();
        for (i, t) in times.into_iter().enumerate() {
            self.seq += 1;
            let d = if i + 1 == n {
                std::mem::take(&mut dgram.payload)
            } else {
                dgram.payload.clone()
            };
            let copy = Datagram {
                src: dgram.src,
                dst: dgram.dst,
                payload: d,
            };
            self.queue.insert(
                (t, self.seq),
                InFlight {
                    from,
                    to,
                    dgram: copy,
                    at_downlink,
                },
            );
        }
    }

    /// Drains what `id` wants to send.
    fn flush(&mut self, id: NodeId) {
        let now = self.now();
        while let Some(d) = self.hosts[id.0].node.poll_transmit(now) {
            self.route(id, d);
        }
    }

    fn mix(&mut self, v: u64) {
        for b in v.to_le_bytes() {
            self.hash ^= b as u64;
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn mix_addr(&mut self, a: SocketAddr) {
        match a.ip() {
            IpAddr::V4(ip) => self.mix(u32::from(ip) as u64),
            IpAddr::V6(ip) => {
                let v = u128::from(ip);
                self.mix(v as u64);
                self.mix((v >> 64) as u64);
            }
        }
        self.mix(a.port() as u64);
    }

    /// Advances to the next event and processes it. Returns `Ok(false)` when
    /// nothing is left to happen.
    pub fn step(&mut self) -> Result<bool, SimError> {
        for i in 0..self.hosts.len() {
            self.flush(NodeId(i));
        }
        let delivery = self.queue.keys().next().map(|k| k.0);
        let action = self.actions.keys().next().map(|k| k.0);
        let mut timeout: Option<(Duration, NodeId)> = None;
        for i in 0..self.hosts.len() {
            if let Some(t) = self.hosts[i].node.poll_timeout() {
                let t = t.saturating_duration_since(self.epoch).max(self.now);
                if timeout.is_none_or(|(best, _)| t < best) {
                    timeout = Some((t, NodeId(i)));
                }
            }
        }
        let next = [delivery, action, timeout.map(|t| t.0)]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else {
            return Ok(false);
        };
        if next > self.now {
            self.now = next;
            self.same_instant_events = 0;
        } else {
            self.same_instant_events += 1;
            if self.same_instant_events > LIVELOCK_EVENTS {
                return Err(SimError::Livelock {
                    at: self.now,
                    events: self.same_instant_events,
                });
            }
        }
        // Ties: scheduled actions, then deliveries, then timers.
        if action == Some(next) {
            if let Some((_, (a, b, cut))) = self.actions.pop_first() {
                if cut {
                    self.cut(a, b)
                } else {
                    self.heal(a, b)
                }
            }
        } else if delivery == Some(next) {
            if let Some((_, f)) = self.queue.pop_first() {
                if f.at_downlink {
                    self.through_downlink(f);
                } else {
                    self.deliver(f);
                }
            }
        } else if let Some((_, id)) = timeout {
            self.stats.timeouts += 1;
            self.mix(0x7100 + id.0 as u64);
            self.mix(self.now.as_nanos() as u64);
            if let Some(t) = self.trace.as_mut() {
                t.push(TraceEvent::Timeout {
                    at: self.now,
                    node: id,
                });
            }
            let now = self.now();
            self.hosts[id.0].node.handle_timeout(now);
            self.flush(id);
        }
        Ok(true)
    }

    /// A datagram reached its receiver's downlink: it queues there, in the
    /// order datagrams arrive from every sender, and is delivered when it
    /// comes out (or dropped).
    fn through_downlink(&mut self, mut f: InFlight) {
        let now = self.now;
        let Some(down) = self.downlinks.get_mut(&f.to) else {
            return self.deliver(f);
        };
        if let Some(t) = down.transmit(now, f.dgram.payload.len(), f.from, &mut self.rng) {
            f.at_downlink = false;
            self.seq += 1;
            self.queue.insert((t, self.seq), f);
        }
    }

    fn deliver(&mut self, f: InFlight) {
        self.stats.delivered += 1;
        if let Some(l) = self.links.get_mut(&(f.from, f.to)) {
            l.stats.delivered += 1;
        }
        self.mix(0xde11 + f.to.0 as u64);
        self.mix(self.now.as_nanos() as u64);
        self.mix_addr(f.dgram.src);
        self.mix_addr(f.dgram.dst);
        for chunk in f.dgram.payload.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(b));
        }
        if let Some(t) = self.trace.as_mut() {
            t.push(TraceEvent::Deliver {
                at: self.now,
                node: f.to,
                src: f.dgram.src,
                dst: f.dgram.dst,
                len: f.dgram.payload.len(),
            });
        }
        let now = self.now();
        self.hosts[f.to.0].node.handle_datagram(now, f.dgram);
        self.flush(f.to);
    }

    /// Steps until `done` holds, for at most `limit` of simulated time.
    /// Returns the simulated time it took.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&Sim<N>) -> bool,
        limit: Duration,
    ) -> Result<Duration, SimError> {
        let start = self.now;
        let end = start + limit;
        loop {
            if done(self) {
                return Ok(self.now - start);
            }
            if self.next_event_time().is_some_and(|t| t > end) {
                self.now = end;
                return Err(SimError::Timeout(limit));
            }
            if !self.step()? {
                return Err(SimError::Idle(self.now));
            }
        }
    }

    /// Runs every event up to `duration` from now, then sets the clock there.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), SimError> {
        let end = self.now + duration;
        while self.next_event_time().is_some_and(|t| t <= end) {
            self.step()?;
        }
        self.now = end;
        Ok(())
    }

    /// When the next event would happen (after flushing pending sends).
    fn next_event_time(&mut self) -> Option<Duration> {
        for i in 0..self.hosts.len() {
            self.flush(NodeId(i));
        }
        let mut next = [self.queue.keys().next(), self.actions.keys().next()]
            .into_iter()
            .flatten()
            .map(|k| k.0)
            .min();
        for i in 0..self.hosts.len() {
            if let Some(t) = self.hosts[i].node.poll_timeout() {
                let t = t.saturating_duration_since(self.epoch).max(self.now);
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }
}

#[cfg(test)]
mod tests;

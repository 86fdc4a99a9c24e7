//! A deterministic in-memory link between two associations: seeded loss,
//! duplication and reordering (random per-packet delay), a virtual clock
//! that jumps to the next delivery or timeout, and a bound on steps so a
//! livelock fails instead of hanging.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use meshrtc_sctp::{Association, ChannelEvent, Config, DataChannels, Error, Event};

/// What the pair drives: an association, or data channels over one.
pub trait Endpoint {
    type Ev;
    fn handle_input(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Error>;
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool;
    fn poll_event(&mut self) -> Option<Self::Ev>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn assoc(&self) -> &Association;
}

impl Endpoint for Association {
    type Ev = Event;
    fn handle_input(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Error> {
        Association::handle_input(self, now, bytes)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Association::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        Association::poll_transmit(self, now, buf)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Association::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Association::poll_timeout(self)
    }
    fn assoc(&self) -> &Association {
        self
    }
}

impl Endpoint for DataChannels {
    type Ev = ChannelEvent;
    fn handle_input(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Error> {
        DataChannels::handle_input(self, now, bytes)
    }
    fn handle_timeout(&mut self, now: Instant) {
        DataChannels::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        DataChannels::poll_transmit(self, now, buf)
    }
    fn poll_event(&mut self) -> Option<ChannelEvent> {
        DataChannels::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        DataChannels::poll_timeout(self)
    }
    fn assoc(&self) -> &Association {
        self.association()
    }
}

/// xorshift64*: enough for test decisions, and reproducible.
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        TestRng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}

/// Decides whether a packet passes (true) before the link sees it.
pub type Filter = Box<dyn FnMut(&[u8]) -> bool>;

pub struct Link {
    pub loss: f64,
    pub duplicate: f64,
    pub latency: Duration,
    pub jitter: Duration,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            loss: 0.0,
            duplicate: 0.0,
            latency: Duration::from_millis(20),
            jitter: Duration::ZERO,
        }
    }
}

pub struct Pair<E: Endpoint = Association> {
    pub a: E,
    pub b: E,
    pub now: Instant,
    pub start: Instant,
    pub rng: TestRng,
    pub link: Link,
    in_flight: Vec<(Instant, bool, Vec<u8>)>,
    pub a_events: Vec<E::Ev>,
    pub b_events: Vec<E::Ev>,
    pub dropped: u64,
    /// Packets that added to the flight while it was already at or above
    /// the cwnd (§6.1 B allows it only for fast retransmit, §7.2.4).
    pub cwnd_violations: u64,
    /// Called on every packet from a to b before the link sees it.
    pub a_to_b_filter: Option<Filter>,
    pub b_to_a_filter: Option<Filter>,
}

pub fn config(seed: u8) -> Config {
    Config::new([seed; 32], [seed.wrapping_add(100); 32])
}

impl Pair<Association> {
    pub fn new(a: Config, b: Config, link: Link, seed: u64) -> Self {
        Pair::from_endpoints(Association::new(a), Association::new(b), link, seed)
    }

    /// Connected with both sides sending INIT, as browsers do.
    pub fn connected(link: Link, seed: u64) -> Self {
        Pair::connected_with(config(1), config(2), link, seed)
    }

    /// Connected with these configurations, both sides sending INIT.
    pub fn connected_with(a: Config, b: Config, link: Link, seed: u64) -> Self {
        let mut p = Pair::new(a, b, link, seed);
        p.a.connect(p.now);
        p.b.connect(p.now);
        p.run_until(Duration::from_secs(60), |p| {
            p.a.is_established() && p.b.is_established()
        });
        assert!(p.a.is_established() && p.b.is_established());
        p
    }

    pub fn messages_at_b(&self) -> Vec<&meshrtc_sctp::Message> {
        self.b_events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }
}

impl Pair<DataChannels> {
    /// `a` is the DTLS client, `b` the server; the association is up.
    pub fn channels(link: Link, seed: u64) -> Self {
        let mut p = Pair::from_endpoints(
            DataChannels::new(config(1), true),
            DataChannels::new(config(2), false),
            link,
            seed,
        );
        p.a.connect(p.now);
        p.b.connect(p.now);
        p.run_until(Duration::from_secs(30), |p| {
            p.a_events.contains(&ChannelEvent::Connected)
                && p.b_events.contains(&ChannelEvent::Connected)
        });
        p
    }
}

impl<E: Endpoint> Pair<E> {
    pub fn from_endpoints(a: E, b: E, link: Link, seed: u64) -> Self {
        let now = Instant::now();
        Pair {
            a,
            b,
            now,
            start: now,
            rng: TestRng::new(seed),
            link,
            in_flight: Vec::new(),
            a_events: Vec::new(),
            b_events: Vec::new(),
            dropped: 0,
            cwnd_violations: 0,
            a_to_b_filter: None,
            b_to_a_filter: None,
        }
    }

    fn flush(&mut self) {
        let mut buf = Vec::new();
        for from_a in [true, false] {
            loop {
                let (assoc, filter) = if from_a {
                    (&mut self.a, &mut self.a_to_b_filter)
                } else {
                    (&mut self.b, &mut self.b_to_a_filter)
                };
                let (flight, cwnd) = (assoc.assoc().flight_size(), assoc.assoc().cwnd());
                if !assoc.poll_transmit(self.now, &mut buf) {
                    break;
                }
                if assoc.assoc().flight_size() > flight && flight >= cwnd {
                    self.cwnd_violations += 1;
                }
                if let Some(f) = filter {
                    if !f(&buf) {
                        continue;
                    }
                }
                if self.rng.chance(self.link.loss) {
                    self.dropped += 1;
                    continue;
                }
                let copies = if self.rng.chance(self.link.duplicate) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let jitter = if self.link.jitter.is_zero() {
                        Duration::ZERO
                    } else {
                        Duration::from_micros(
                            self.rng.next_u64() % self.link.jitter.as_micros() as u64,
                        )
                    };
                    self.in_flight.push((
                        self.now + self.link.latency + jitter,
                        !from_a,
                        buf.clone(),
                    ));
                }
            }
            while let Some(e) = if from_a {
                self.a.poll_event()
            } else {
                self.b.poll_event()
            } {
                if from_a {
                    self.a_events.push(e)
                } else {
                    self.b_events.push(e)
                }
            }
        }
    }

    /// One step: deliver or time out whatever is due next. False when
    /// nothing will ever happen again.
    pub fn step(&mut self) -> bool {
        self.flush();
        let next_packet = self.in_flight.iter().map(|p| p.0).min();
        let next = [next_packet, self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        let now = self.now;
        let mut due = Vec::new();
        self.in_flight.retain(|p| {
            if p.0 <= now {
                due.push(p.clone());
                false
            } else {
                true
            }
        });
        due.sort_by_key(|p| p.0);
        for (_, to_a, bytes) in due {
            let r = if to_a {
                self.a.handle_input(now, &bytes)
            } else {
                self.b.handle_input(now, &bytes)
            };
            r.expect("a packet from our own peer is valid");
        }
        if self.a.poll_timeout().is_some_and(|t| t <= now) {
            self.a.handle_timeout(now);
        }
        if self.b.poll_timeout().is_some_and(|t| t <= now) {
            self.b.handle_timeout(now);
        }
        self.flush();
        true
    }

    /// Steps until `done` or `limit` of virtual time; panics after too many steps.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Pair<E>) -> bool) {
        let end = self.now + limit;
        for _ in 0..2_000_000 {
            if done(self) || self.now > end {
                return;
            }
            if !self.step() {
                return;
            }
        }
        panic!("livelock: too many steps");
    }
}

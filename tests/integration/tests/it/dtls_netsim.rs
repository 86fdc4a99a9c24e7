//! DTLS handshakes on the network simulator: meshrtc against meshrtc under
//! heavy loss, reordering and duplication, a lost flight, a vanished peer;
//! and meshrtc against OpenSSL on a reordering, duplicating link.

use meshrtc_dtls::{CloseReason, Config, Connected, Dtls, Error, Event};
use meshrtc_netsim::{Datagram, LinkConfig, Node, NodeId, Sim};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What a side of a simulated handshake must offer: ours or OpenSSL.
pub trait Endpoint {
    /// A datagram from the peer.
    fn input(&mut self, now: Instant, datagram: &[u8]);
    /// Timers.
    fn timeout(&mut self, now: Instant);
    /// When to call [`Endpoint::timeout`].
    fn next_timeout(&mut self) -> Option<Instant>;
    /// The next datagram to send.
    fn output(&mut self) -> Option<Vec<u8>>;
    /// The exported SRTP keying material once connected.
    fn keys(&self) -> Option<Vec<u8>>;
    /// Why it failed, if it did.
    fn failure(&self) -> Option<String>;
}

/// Our side, with its events kept.
pub struct Ours {
    /// The state machine.
    pub dtls: Dtls,
    /// Every event, in order.
    pub events: Vec<Event>,
}

impl Ours {
    fn drain(&mut self) {
        while let Some(e) = self.dtls.poll_event() {
            self.events.push(e);
        }
    }

    /// The Connected event.
    pub fn connected(&self) -> Option<&Connected> {
        self.events.iter().find_map(|e| match e {
            Event::Connected(c) => Some(&**c),
            _ => None,
        })
    }

    /// The Closed reason.
    pub fn closed(&self) -> Option<&CloseReason> {
        self.events.iter().find_map(|e| match e {
            Event::Closed(r) => Some(r),
            _ => None,
        })
    }
}

impl Endpoint for Ours {
    fn input(&mut self, now: Instant, datagram: &[u8]) {
        let _ = self.dtls.handle_datagram(now, datagram);
        self.drain();
    }
    fn timeout(&mut self, now: Instant) {
        self.dtls.handle_timeout(now);
        self.drain();
    }
    fn next_timeout(&mut self) -> Option<Instant> {
        self.dtls.poll_timeout()
    }
    fn output(&mut self) -> Option<Vec<u8>> {
        self.dtls.poll_transmit()
    }
    fn keys(&self) -> Option<Vec<u8>> {
        self.connected()?.srtp.as_ref().map(|k| k.exported.clone())
    }
    fn failure(&self) -> Option<String> {
        match self.closed()? {
            CloseReason::Error(e) => Some(e.to_string()),
            _ => None,
        }
    }
}

/// A simulator node around an endpoint.
pub struct DtlsNode {
    addr: SocketAddr,
    peer: SocketAddr,
    /// The endpoint.
    pub ep: Box<dyn Endpoint>,
    /// Datagrams sent.
    pub sent: usize,
}

impl Node for DtlsNode {
    fn handle_datagram(&mut self, now: Instant, dgram: Datagram) {
        self.ep.input(now, &dgram.payload);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.ep.timeout(now);
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        let payload = self.ep.output()?;
        self.sent += 1;
        Some(Datagram {
            src: self.addr,
            dst: self.peer,
            payload,
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.ep.next_timeout()
    }
}

/// Two endpoints on a simulated link.
pub fn pair(
    seed: u64,
    link: LinkConfig,
    make: impl FnOnce(Instant) -> (Box<dyn Endpoint>, Box<dyn Endpoint>),
) -> (Sim<DtlsNode>, NodeId, NodeId) {
    let mut sim: Sim<DtlsNode> = Sim::new(seed);
    sim.set_default_link(link);
    let (a, b) = make(sim.epoch());
    let (aa, ba): (SocketAddr, SocketAddr) = (
        "10.0.0.1:5000".parse().unwrap(),
        "10.0.0.2:5000".parse().unwrap(),
    );
    let na = sim.add_node(
        DtlsNode {
            addr: aa,
            peer: ba,
            ep: a,
            sent: 0,
        },
        &[aa.ip()],
    );
    let nb = sim.add_node(
        DtlsNode {
            addr: ba,
            peer: aa,
            ep: b,
            sent: 0,
        },
        &[ba.ip()],
    );
    (sim, na, nb)
}

/// A client/server configuration pair for meshrtc on both sides.
pub fn our_configs(rto: Duration) -> (Config, Config) {
    let c = meshrtc_dtls::Certificate::generate("client").unwrap();
    let s = meshrtc_dtls::Certificate::generate("server").unwrap();
    let mut cc = Config::new(c.clone());
    cc.remote_fingerprint = Some(*s.fingerprint());
    let mut sc = Config::new(s);
    sc.remote_fingerprint = Some(*c.fingerprint());
    for cfg in [&mut cc, &mut sc] {
        cfg.initial_rto = rto;
        cfg.max_rto = rto * 16;
    }
    (cc, sc)
}

fn ours(d: Dtls) -> Box<dyn Endpoint> {
    Box::new(Ours {
        dtls: d,
        events: Vec::new(),
    })
}

fn both_keyed(sim: &Sim<DtlsNode>, a: NodeId, b: NodeId) -> bool {
    sim.node(a).ep.keys().is_some() && sim.node(b).ep.keys().is_some()
}

fn lossy() -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(30),
        loss: 0.30,
        duplicate: 0.10,
        reorder: 0.10,
        reorder_delay: Duration::from_millis(60),
        mtu: 1500,
        ..LinkConfig::default()
    }
}

#[test]
fn dtls_handshake_survives_30_percent_loss_on_the_simulator() {
    let mut times = Vec::new();
    for seed in 1..=16 {
        let (cc, sc) = our_configs(Duration::from_millis(200));
        let (mut sim, a, b) = pair(seed, lossy(), |now| {
            (ours(Dtls::client(cc, now)), ours(Dtls::server(sc, now)))
        });
        let took = sim
            .run_until(|s| both_keyed(s, a, b), Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));
        assert_eq!(sim.node(a).ep.keys(), sim.node(b).ep.keys());
        times.push(took);
    }
    times.sort();
    eprintln!(
        "handshake times under 30% loss: median {:?}, max {:?}",
        times[8], times[15]
    );
}

#[test]
fn dtls_lost_client_hello_flight_is_retransmitted_after_the_timer() {
    let (cc, sc) = our_configs(Duration::from_secs(1));
    let link = LinkConfig {
        latency: Duration::from_millis(25),
        mtu: 1500,
        ..LinkConfig::default()
    };
    let (mut sim, a, b) = pair(3, link, |now| {
        (ours(Dtls::client(cc, now)), ours(Dtls::server(sc, now)))
    });
    // The link is cut for the first 500 ms: the ClientHello is lost.
    sim.cut(a, b);
    sim.heal_at(Duration::from_millis(500), a, b);
    let took = sim
        .run_until(|s| both_keyed(s, a, b), Duration::from_secs(10))
        .unwrap();
    // 1 s timer, then two round trips of 50 ms.
    assert!(took >= Duration::from_millis(1100), "{took:?}");
    assert!(took < Duration::from_millis(1300), "{took:?}");
}

#[test]
fn dtls_handshake_with_a_vanished_peer_fails_after_its_deadline() {
    let (mut cc, sc) = our_configs(Duration::from_millis(500));
    cc.handshake_timeout = Duration::from_secs(8);
    let (mut sim, a, b) = pair(4, LinkConfig::default(), |now| {
        (ours(Dtls::client(cc, now)), ours(Dtls::server(sc, now)))
    });
    sim.cut(a, b);
    let _ = sim.run_for(Duration::from_secs(20));
    let failure = sim.node(a).ep.failure().expect("client failed");
    assert_eq!(
        failure,
        Error::HandshakeTimeout(Duration::from_secs(8)).to_string()
    );
    // 500 ms doubling: sends at 0, 0.5, 1.5, 3.5, 7.5 s.
    assert_eq!(sim.node(a).sent, 5);
    assert!(
        sim.node(b).ep.failure().is_none(),
        "the server never heard of it"
    );
}

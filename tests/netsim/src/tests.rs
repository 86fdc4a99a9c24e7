//! Tests of the simulator itself.

use super::*;

/// Sends `count` datagrams of `size` bytes to `dst`, one per `interval`, and
/// records what it receives. Answers nothing.
struct Pinger {
    src: SocketAddr,
    dst: SocketAddr,
    count: u32,
    size: usize,
    interval: Duration,
    next: Instant,
    sent: u32,
    out: Vec<Datagram>,
    got: Vec<(Duration, Datagram)>,
    epoch: Instant,
    echo: bool,
}

impl Pinger {
    fn new(epoch: Instant, src: &str, dst: &str, count: u32, interval_ms: u64) -> Pinger {
        Pinger {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            count,
            size: 100,
            interval: Duration::from_millis(interval_ms),
            next: epoch,
            sent: 0,
            out: Vec::new(),
            got: Vec::new(),
            epoch,
            echo: false,
        }
    }
    fn echo(epoch: Instant, addr: &str) -> Pinger {
        let mut p = Pinger::new(epoch, addr, addr, 0, 1);
        p.echo = true;
        p
    }
    fn seqs(&self) -> Vec<u32> {
        self.got
            .iter()
            .map(|(_, d)| u32::from_be_bytes(d.payload[..4].try_into().unwrap()))
            .collect()
    }
}

impl Node for Pinger {
    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        if self.echo {
            self.out.push(Datagram {
                src: d.dst,
                dst: d.src,
                payload: d.payload.clone(),
            });
        }
        self.got.push((now - self.epoch, d));
    }
    fn handle_timeout(&mut self, now: Instant) {
        if self.sent < self.count && now >= self.next {
            let mut payload = vec![0u8; self.size];
            payload[..4].copy_from_slice(&self.sent.to_be_bytes());
            self.out.push(Datagram {
                src: self.src,
                dst: self.dst,
                payload,
            });
            self.sent += 1;
            self.next += self.interval;
        }
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.remove(0))
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        (self.sent < self.count).then_some(self.next)
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn pair(
    seed: u64,
    count: u32,
    interval_ms: u64,
    link: LinkConfig,
) -> (Sim<Pinger>, NodeId, NodeId) {
    let mut sim = Sim::new(seed);
    let e = sim.epoch();
    let a = sim.add_node(
        Pinger::new(e, "10.0.0.1:1000", "10.0.0.2:2000", count, interval_ms),
        &[ip("10.0.0.1")],
    );
    let b = sim.add_node(
        Pinger::new(e, "10.0.0.2:2000", "10.0.0.1:1000", 0, 1),
        &[ip("10.0.0.2")],
    );
    sim.set_link(a, b, link);
    (sim, a, b)
}

fn run_all(sim: &mut Sim<Pinger>) {
    sim.run_for(Duration::from_secs(3600)).unwrap();
}

#[test]
fn latency_is_exact_on_a_clean_link() {
    let (mut sim, _, b) = pair(
        1,
        3,
        100,
        LinkConfig::with_latency(Duration::from_millis(30)),
    );
    run_all(&mut sim);
    let times: Vec<Duration> = sim.node(b).got.iter().map(|g| g.0).collect();
    assert_eq!(times, [30, 130, 230].map(Duration::from_millis));
    assert_eq!(sim.node(b).seqs(), vec![0, 1, 2]);
}

#[test]
fn random_loss_drops_about_the_configured_share() {
    let (mut sim, a, b) = pair(2, 10_000, 1, LinkConfig::default().loss(0.2));
    run_all(&mut sim);
    let got = sim.node(b).got.len();
    assert!((7_700..8_300).contains(&got), "{got} of 10000 arrived");
    let s = sim.link_stats(a, b);
    assert_eq!((s.sent, s.lost + s.delivered), (10_000, 10_000));
}

#[test]
fn bursty_loss_loses_runs_of_datagrams() {
    // Enter a burst 2% of the time, mean burst length 10.
    let (mut sim, _, b) = pair(3, 10_000, 1, LinkConfig::default().burst_loss(0.02, 0.1));
    run_all(&mut sim);
    let seqs = sim.node(b).seqs();
    let mut gaps = Vec::new();
    for w in seqs.windows(2) {
        if w[1] > w[0] + 1 {
            gaps.push(w[1] - w[0] - 1);
        }
    }
    let lost: u32 = gaps.iter().sum();
    let mean = lost as f64 / gaps.len() as f64;
    assert!(mean > 6.0 && mean < 14.0, "mean burst {mean}");
    assert!((1_200..2_400).contains(&lost), "{lost} lost");
}

#[test]
fn jitter_and_reordering_change_the_order_but_lose_nothing() {
    let link = LinkConfig::with_latency(Duration::from_millis(20))
        .jitter(Duration::from_millis(15))
        .reorder(0.1, Duration::from_millis(30));
    let (mut sim, a, b) = pair(4, 1_000, 5, link);
    run_all(&mut sim);
    let seqs = sim.node(b).seqs();
    assert_eq!(seqs.len(), 1_000);
    let out_of_order = seqs.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(out_of_order > 50, "{out_of_order}");
    let mut sorted = seqs.clone();
    sorted.sort();
    assert_eq!(sorted, (0..1_000).collect::<Vec<_>>());
    assert!(sim.link_stats(a, b).reordered > 50);
}

#[test]
fn duplication_delivers_some_datagrams_twice() {
    let (mut sim, a, b) = pair(5, 1_000, 1, LinkConfig::default().duplicate(0.1));
    run_all(&mut sim);
    let n = sim.node(b).got.len();
    assert!((1_070..1_130).contains(&n), "{n}");
    assert_eq!(sim.link_stats(a, b).duplicated as usize, n - 1_000);
}

#[test]
fn datagrams_over_the_mtu_are_dropped() {
    let (mut sim, a, b) = pair(6, 2, 1, LinkConfig::default().mtu(99));
    run_all(&mut sim);
    assert!(sim.node(b).got.is_empty());
    assert_eq!(sim.link_stats(a, b).dropped_mtu, 2);
}

#[test]
fn a_rate_limit_queues_and_then_drops_at_the_tail() {
    // 1000-byte datagrams sent all at once into 1 Mbit/s: 8 ms each.
    let mut link = LinkConfig::default().rate(1_000_000);
    link.queue_bytes = 20_000;
    let (mut sim, a, b) = pair(7, 50, 0, link);
    sim.node_mut(a).size = 1_000;
    run_all(&mut sim);
    let times: Vec<Duration> = sim.node(b).got.iter().map(|g| g.0).collect();
    assert_eq!(times.len(), 20, "a 20 kB queue holds 20 datagrams");
    assert_eq!(times[0], Duration::from_millis(8));
    assert_eq!(times[19], Duration::from_millis(160));
    assert_eq!(sim.link_stats(a, b).dropped_queue, 30);
}

#[test]
fn a_partition_cuts_and_heals_at_the_scheduled_times() {
    let (mut sim, a, b) = pair(8, 100, 10, LinkConfig::default());
    sim.cut_at(Duration::from_millis(200), a, b);
    sim.heal_at(Duration::from_millis(500), a, b);
    run_all(&mut sim);
    let seqs = sim.node(b).seqs();
    // Sent at 0, 10, ... 990 ms: 20..=49 fall inside the cut.
    let expected: Vec<u32> = (0..20).chain(50..100).collect();
    assert_eq!(seqs, expected);
    assert_eq!(sim.link_stats(a, b).dropped_partition, 30);
}

#[test]
fn same_seed_same_trace_and_another_seed_another() {
    let link = LinkConfig::with_latency(Duration::from_millis(10))
        .loss(0.1)
        .jitter(Duration::from_millis(5))
        .duplicate(0.05);
    let run = |seed| {
        let (mut sim, _, b) = pair(seed, 500, 3, link.clone());
        sim.record_trace(true);
        run_all(&mut sim);
        (sim.trace_hash(), sim.trace().to_vec(), sim.node(b).seqs())
    };
    let (h1, t1, s1) = run(42);
    let (h2, t2, s2) = run(42);
    let (h3, _, s3) = run(43);
    assert_eq!((h1, &t1, &s1), (h2, &t2, &s2));
    assert_ne!(h1, h3);
    assert_ne!(s1, s3);
}

fn nat_setup(config: NatConfig) -> (Sim<Pinger>, NodeId, NodeId, NodeId) {
    let mut sim = Sim::new(9);
    let e = sim.epoch();
    let nat = sim.add_nat(config);
    // Inside: sends one datagram to each outside server, 10 ms apart.
    let mut inside = Pinger::new(e, "192.168.1.2:5000", "198.51.100.1:3478", 1, 10);
    inside.echo = false;
    let a = sim.add_node_behind(nat, inside, &[ip("192.168.1.2")]);
    let s1 = sim.add_node(Pinger::echo(e, "198.51.100.1:3478"), &[ip("198.51.100.1")]);
    let s2 = sim.add_node(
        Pinger::new(e, "198.51.100.2:3478", "203.0.113.9:40000", 0, 1),
        &[ip("198.51.100.2")],
    );
    (sim, a, s1, s2)
}

#[test]
fn endpoint_independent_mapping_shows_one_port_to_everyone() {
    let (mut sim, a, s1, s2) = nat_setup(NatConfig::home(ip("203.0.113.9")));
    run_all(&mut sim);
    // The echo server saw the NAT's public address and answered through it.
    assert_eq!(
        sim.node(s1).got[0].1.src,
        "203.0.113.9:40000".parse().unwrap()
    );
    assert_eq!(sim.node(a).got.len(), 1);
    assert_eq!(
        sim.node(a).got[0].1.dst,
        "192.168.1.2:5000".parse().unwrap()
    );
    // Another destination sees the same mapping.
    sim.node_mut(a).dst = "198.51.100.2:3478".parse().unwrap();
    sim.node_mut(a).count = 2;
    run_all(&mut sim);
    assert_eq!(
        sim.node(s2).got[0].1.src,
        "203.0.113.9:40000".parse().unwrap()
    );
}

#[test]
fn address_dependent_filtering_refuses_strangers() {
    let (mut sim, a, _, s2) = nat_setup(NatConfig::home(ip("203.0.113.9")));
    run_all(&mut sim);
    // s2 never received anything from the inside host: its datagram to the
    // mapping is filtered.
    sim.node_mut(s2).count = 1;
    sim.node_mut(s2).next = sim.now();
    run_all(&mut sim);
    assert_eq!(sim.node(a).got.len(), 1, "only the echo from s1");
    assert_eq!(sim.stats().nat_filtered, 1);
}

#[test]
fn a_rebound_nat_maps_anew_and_filters_what_comes_to_the_old_port() {
    let (mut sim, a, s1, _) = nat_setup(NatConfig::home(ip("203.0.113.9")));
    run_all(&mut sim);
    assert_eq!(sim.node(s1).got[0].1.src.port(), 40_000);
    sim.rebind_nat(NatId(0));
    // The old mapping is gone: the server's datagram to it is filtered.
    sim.inject(Datagram {
        src: "198.51.100.1:3478".parse().unwrap(),
        dst: "203.0.113.9:40000".parse().unwrap(),
        payload: vec![1],
    });
    assert_eq!(sim.stats().nat_filtered, 1);
    // The next datagram out gets a new port, and its echo comes back in.
    sim.node_mut(a).count = 2;
    sim.node_mut(a).next = sim.now();
    run_all(&mut sim);
    assert_eq!(sim.node(s1).got[1].1.src.port(), 40_001);
    assert_eq!(sim.node(a).got.len(), 2);
}

#[test]
fn symmetric_mapping_uses_a_port_per_destination() {
    let (mut sim, a, s1, s2) = nat_setup(NatConfig::symmetric(ip("203.0.113.9")));
    run_all(&mut sim);
    sim.node_mut(a).dst = "198.51.100.2:3478".parse().unwrap();
    sim.node_mut(a).count = 2;
    run_all(&mut sim);
    assert_eq!(sim.node(s1).got[0].1.src.port(), 40_000);
    assert_eq!(sim.node(s2).got[0].1.src.port(), 40_001);
}

#[test]
fn private_addresses_of_another_realm_are_unroutable() {
    let mut sim: Sim<Pinger> = Sim::new(10);
    let e = sim.epoch();
    let n1 = sim.add_nat(NatConfig::home(ip("203.0.113.1")));
    let n2 = sim.add_nat(NatConfig::home(ip("203.0.113.2")));
    let a = sim.add_node_behind(
        n1,
        Pinger::new(e, "10.1.0.2:1", "10.2.0.2:1", 1, 1),
        &[ip("10.1.0.2")],
    );
    let b = sim.add_node_behind(n2, Pinger::echo(e, "10.2.0.2:1"), &[ip("10.2.0.2")]);
    run_all(&mut sim);
    assert!(sim.node(b).got.is_empty());
    assert_eq!(sim.stats().unroutable, 1);
    let _ = a;
}

struct Spinner(Instant);
impl Node for Spinner {
    fn handle_datagram(&mut self, _: Instant, _: Datagram) {}
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self, _: Instant) -> Option<Datagram> {
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        Some(self.0) // always in the past once the clock moved: a bug
    }
}

#[test]
fn a_node_that_never_lets_time_pass_is_a_livelock_not_a_hang() {
    let mut sim = Sim::new(11);
    let e = sim.epoch();
    sim.add_node(Spinner(e), &[ip("10.0.0.1")]);
    let r = sim.run_until(|_| false, Duration::from_secs(1));
    assert!(matches!(r, Err(SimError::Livelock { .. })), "{r:?}");
}

#[test]
fn run_until_reports_timeout_and_idle() {
    let (mut sim, _, b) = pair(12, 3, 100, LinkConfig::default());
    let r = sim.run_until(|s| s.node(b).got.len() == 10, Duration::from_millis(150));
    assert_eq!(r, Err(SimError::Timeout(Duration::from_millis(150))));
    assert_eq!(sim.elapsed(), Duration::from_millis(150));
    let r = sim.run_until(|s| s.node(b).got.len() == 10, Duration::from_secs(10));
    assert!(matches!(r, Err(SimError::Idle(_))), "{r:?}");
    let (mut sim, _, b) = pair(12, 3, 100, LinkConfig::default());
    assert_eq!(
        sim.run_until(|s| s.node(b).got.len() == 2, Duration::from_secs(1)),
        Ok(Duration::from_millis(100))
    );
}

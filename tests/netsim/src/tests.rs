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

fn run_all<N: Node>(sim: &mut Sim<N>) {
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

/// Sends `size`-byte datagrams to each of `dsts` in turn, one every
/// `interval`, for `count` datagrams.
struct Spray {
    src: SocketAddr,
    dsts: Vec<SocketAddr>,
    size: usize,
    interval: Duration,
    next: Instant,
    count: u32,
    sent: u32,
    out: Vec<Datagram>,
    got: Vec<(Duration, Datagram)>,
    epoch: Instant,
}

impl Spray {
    fn new(epoch: Instant, src: &str, dsts: &[&str], size: usize, bps: u64, secs: u64) -> Spray {
        let interval = Duration::from_secs_f64(size as f64 * 8.0 / bps as f64);
        Spray {
            src: src.parse().unwrap(),
            dsts: dsts.iter().map(|d| d.parse().unwrap()).collect(),
            size,
            interval,
            next: epoch,
            count: (secs as f64 / interval.as_secs_f64()) as u32,
            sent: 0,
            out: Vec::new(),
            got: Vec::new(),
            epoch,
        }
    }
    fn sink(epoch: Instant, addr: &str) -> Spray {
        Spray::new(epoch, addr, &[], 100, 1, 0)
    }
    /// Bits received from `from` (any, if `None`) between `a` and `b`.
    fn bits(&self, from: Option<&str>, a: Duration, b: Duration) -> f64 {
        let from: Option<SocketAddr> = from.map(|f| f.parse().unwrap());
        self.got
            .iter()
            .filter(|(t, d)| *t >= a && *t < b && from.is_none_or(|f| f == d.src))
            .map(|(_, d)| d.payload.len() as f64 * 8.0)
            .sum()
    }
}

impl Node for Spray {
    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        self.got.push((now - self.epoch, d));
    }
    fn handle_timeout(&mut self, now: Instant) {
        while self.sent < self.count && self.next <= now {
            let dst = self.dsts[self.sent as usize % self.dsts.len()];
            self.out.push(Datagram {
                src: self.src,
                dst,
                payload: vec![0u8; self.size],
            });
            self.sent += 1;
            self.next += self.interval;
        }
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop()
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        (self.sent < self.count).then_some(self.next)
    }
}

/// A at 10.0.0.1 sending `bps` in 1000-byte datagrams to B and C in turn
/// for `secs`, every pair link 20 ms.
fn spray_to_two(bps: u64, secs: u64) -> (Sim<Spray>, [NodeId; 3]) {
    let mut sim = Sim::new(7);
    sim.set_default_link(LinkConfig::with_latency(Duration::from_millis(20)));
    let e = sim.epoch();
    let a = sim.add_node(
        Spray::new(
            e,
            "10.0.0.1:1",
            &["10.0.0.2:2", "10.0.0.3:3"],
            1000,
            bps,
            secs,
        ),
        &[ip("10.0.0.1")],
    );
    let b = sim.add_node(Spray::sink(e, "10.0.0.2:2"), &[ip("10.0.0.2")]);
    let c = sim.add_node(Spray::sink(e, "10.0.0.3:3"), &[ip("10.0.0.3")]);
    (sim, [a, b, c])
}

#[test]
fn a_shared_uplink_carries_its_rate_in_total_to_every_destination() {
    // 1.5 Mbit/s offered to two destinations in turn through one 1 Mbit/s
    // uplink. (At exactly twice the capacity the drop-tail queue would
    // take every other datagram, all of them to the same destination.)
    let (mut sim, [a, b, c]) = spray_to_two(1_500_000, 10);
    sim.set_uplink(
        a,
        BottleneckConfig::new(1_000_000, QueueLimit::Delay(Duration::from_millis(100))),
    );
    run_all(&mut sim);
    let secs = |s| Duration::from_secs(s);
    // From 1 s to 10 s (the queue is full by then), 1 Mbit/s in total,
    // half to each: the per-pair links have no limit of their own.
    let to_b = sim.node(b).bits(None, secs(1), secs(10)) / 9.0;
    let to_c = sim.node(c).bits(None, secs(1), secs(10)) / 9.0;
    let total = to_b + to_c;
    assert!((990_000.0..=1_010_000.0).contains(&total), "{total}");
    assert!((to_b - to_c).abs() < 0.02 * total, "{to_b} {to_c}");
    let up = sim.uplink(a).unwrap();
    let st = up.stats();
    // A third of what was offered was dropped at the tail.
    assert_eq!(st.offered, 1875);
    assert_eq!(st.sent + st.dropped_queue, st.offered);
    assert!((1240..=1265).contains(&st.sent), "{st:?}");
    assert_eq!(
        sim.link_stats(a, b).sent + sim.link_stats(a, c).sent,
        st.sent
    );
    // The queue sits at its 100 ms limit: no datagram waited longer.
    let waits: Vec<Duration> = up
        .samples()
        .iter()
        .filter(|q| q.fate == Fate::Sent && q.at > secs(1))
        .map(|q| q.wait)
        .collect();
    let max = waits.iter().max().unwrap();
    let min = waits.iter().min().unwrap();
    assert!(*max <= Duration::from_millis(100), "{max:?}");
    assert!(*min >= Duration::from_millis(90), "{min:?}");
    // Each datagram arrives 20 ms after it left the queue: the queuing
    // delay shows in the one-way delay.
    let first_late = sim
        .node(b)
        .got
        .iter()
        .find(|(t, _)| *t > secs(2))
        .unwrap()
        .0;
    assert!(first_late > secs(2));
}

#[test]
fn an_uplink_below_capacity_adds_no_queue_and_loss_is_counted() {
    let (mut sim, [a, b, c]) = spray_to_two(500_000, 10);
    sim.set_uplink(
        a,
        BottleneckConfig::new(1_000_000, QueueLimit::Bytes(30_000))
            .loss(0.05)
            .delay(Duration::from_millis(5)),
    );
    run_all(&mut sim);
    let up = sim.uplink(a).unwrap();
    let st = up.stats();
    assert_eq!(st.dropped_queue, 0);
    assert_eq!(st.sent + st.lost, st.offered);
    assert!((20..=45).contains(&st.lost), "{st:?} (5% of 625)");
    assert!(up.samples().iter().all(|q| q.wait.is_zero()));
    let got = sim.node(b).got.len() + sim.node(c).got.len();
    assert_eq!(got as u64, st.sent);
    // 8 ms on the wire, 5 ms of delay, 20 ms of link.
    assert_eq!(sim.node(b).got[0].0, Duration::from_millis(33));
}

#[test]
fn uplink_capacity_follows_its_schedule() {
    // 1 -> 2.5 -> 0.6 Mbit/s at 0/4/6 s, offered 3 Mbit/s, 200 ms queue.
    let (mut sim, [a, b, c]) = spray_to_two(3_000_000, 8);
    let secs = |s| Duration::from_secs(s);
    sim.set_uplink(
        a,
        BottleneckConfig::new(1_000_000, QueueLimit::Delay(Duration::from_millis(200)))
            .schedule(vec![(secs(6), 600_000), (secs(4), 2_500_000)]),
    );
    run_all(&mut sim);
    let rate = |from: u64, to: u64| {
        (sim.node(b).bits(None, secs(from), secs(to))
            + sim.node(c).bits(None, secs(from), secs(to)))
            / (to - from) as f64
    };
    for (from, to, want) in [(1, 4, 1_000_000.0), (5, 6, 2_500_000.0), (7, 8, 600_000.0)] {
        let r = rate(from, to);
        assert!((r - want).abs() < 0.02 * want, "{from}-{to} s: {r}");
    }
}

#[test]
fn a_downlink_is_shared_by_every_sender_to_the_host() {
    // B and C send 900 and 600 kbit/s to A, whose downlink carries 1 Mbit/s.
    let mut sim = Sim::new(9);
    sim.set_default_link(LinkConfig::with_latency(Duration::from_millis(10)));
    let e = sim.epoch();
    let a = sim.add_node(Spray::sink(e, "10.0.0.1:1"), &[ip("10.0.0.1")]);
    let b = sim.add_node(
        Spray::new(e, "10.0.0.2:2", &["10.0.0.1:1"], 1000, 900_000, 5),
        &[ip("10.0.0.2")],
    );
    sim.add_node(
        Spray::new(e, "10.0.0.3:3", &["10.0.0.1:1"], 1000, 600_000, 5),
        &[ip("10.0.0.3")],
    );
    sim.set_downlink(
        a,
        BottleneckConfig::new(1_000_000, QueueLimit::Delay(Duration::from_millis(50))),
    );
    run_all(&mut sim);
    let secs = |s| Duration::from_secs(s);
    let total = sim.node(a).bits(None, secs(1), secs(5)) / 4.0;
    assert!((980_000.0..=1_020_000.0).contains(&total), "{total}");
    let from_b = sim.node(a).bits(Some("10.0.0.2:2"), secs(1), secs(5)) / 4.0;
    // Drop-tail shares in proportion to what each offers, roughly.
    assert!((from_b / total - 0.6).abs() < 0.1, "{from_b} of {total}");
    let down = sim.downlink(a).unwrap();
    assert!(down.stats().dropped_queue > 0);
    assert!(down.samples().iter().any(|q| q.peer == b));
    // No datagram arrives sooner after the previous one than its 8 ms on
    // the downlink's wire.
    for w in sim.node(a).got.windows(2) {
        assert!(
            w[1].0 - w[0].0 >= Duration::from_micros(7_999),
            "{:?}",
            (w[0].0, w[1].0)
        );
    }
    assert_eq!(sim.node(a).got.len() as u64, down.stats().sent);
}

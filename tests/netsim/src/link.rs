//! What happens to a datagram between two hosts: latency, jitter, loss
//! (random and bursty), duplication, reordering, MTU, rate limit, partition.

use crate::rng::SimRng;
use std::time::Duration;

/// Bursty loss after the Gilbert-Elliott model: a two-state Markov chain
/// evaluated once per datagram. In the bad state every datagram is lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstLoss {
    /// Probability of moving from the good to the bad state.
    pub enter: f64,
    /// Probability of moving from the bad back to the good state (the mean
    /// burst length is `1 / leave` datagrams).
    pub leave: f64,
}

/// The behaviour of one direction of a link. `Default` is a perfect link
/// with no delay at all; the builder-style methods set one property each.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per datagram (datagrams
    /// may overtake each other when jitter exceeds their spacing).
    pub jitter: Duration,
    /// Probability that a datagram is lost, independently of the others.
    pub loss: f64,
    /// Bursty loss on top of `loss`.
    pub burst: Option<BurstLoss>,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by `reorder_delay`, so that
    /// the ones behind it arrive first.
    pub reorder: f64,
    /// How long a reordered datagram is held back.
    pub reorder_delay: Duration,
    /// Datagrams larger than this are dropped (no fragmentation).
    pub mtu: usize,
    /// Bits per second; datagrams queue behind each other. `None`: unlimited.
    pub rate_bps: Option<u64>,
    /// With a rate limit, the most bytes that may wait in the queue; more is
    /// dropped at the tail.
    pub queue_bytes: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            burst: None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(20),
            mtu: 65_535,
            rate_bps: None,
            queue_bytes: 64 * 1024,
        }
    }
}

impl LinkConfig {
    /// A clean link with this one-way latency.
    pub fn with_latency(latency: Duration) -> Self {
        LinkConfig {
            latency,
            ..Self::default()
        }
    }
    /// Sets the random loss probability.
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }
    /// Sets bursty (Gilbert-Elliott) loss.
    pub fn burst_loss(mut self, enter: f64, leave: f64) -> Self {
        self.burst = Some(BurstLoss { enter, leave });
        self
    }
    /// Sets the jitter.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }
    /// Sets the duplication probability.
    pub fn duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }
    /// Sets the reordering probability and hold-back delay.
    pub fn reorder(mut self, p: f64, delay: Duration) -> Self {
        self.reorder = p;
        self.reorder_delay = delay;
        self
    }
    /// Sets the MTU.
    pub fn mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu;
        self
    }
    /// Sets a rate limit in bits per second.
    pub fn rate(mut self, bps: u64) -> Self {
        self.rate_bps = Some(bps);
        self
    }
}

/// Counters of one direction of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams offered to the link.
    pub sent: u64,
    /// Datagrams handed to the receiver so far (duplicates count twice;
    /// datagrams still in flight do not count yet).
    pub delivered: u64,
    /// Lost to random or bursty loss.
    pub lost: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Held back to reorder.
    pub reordered: u64,
    /// Dropped for exceeding the MTU.
    pub dropped_mtu: u64,
    /// Dropped because the rate-limit queue was full.
    pub dropped_queue: u64,
    /// Dropped because the link was cut.
    pub dropped_partition: u64,
}

/// The state of one direction of a link.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub config: LinkConfig,
    pub cut: bool,
    in_burst: bool,
    /// With a rate limit: when the link finishes sending what it holds.
    busy_until: Duration,
    pub stats: LinkStats,
}

impl Link {
    pub fn new(config: LinkConfig) -> Link {
        Link {
            config,
            cut: false,
            in_burst: false,
            busy_until: Duration::ZERO,
            stats: LinkStats::default(),
        }
    }

    /// Decides the fate of a datagram of `len` bytes sent at `now`: the
    /// delivery times of its copies (none if it is dropped).
    pub fn transmit(&mut self, now: Duration, len: usize, rng: &mut SimRng) -> Vec<Duration> {
        let c = &self.config;
        self.stats.sent += 1;
        if self.cut {
            self.stats.dropped_partition += 1;
            return Vec::new();
        }
        if len > c.mtu {
            self.stats.dropped_mtu += 1;
            return Vec::new();
        }
        // Serialisation on a rate-limited link, with a drop-tail queue.
        let mut depart = now;
        if let Some(bps) = c.rate_bps.filter(|&b| b > 0) {
            let start = self.busy_until.max(now);
            let backlog_bytes = (start - now).as_secs_f64() * bps as f64 / 8.0;
            if backlog_bytes + len as f64 > c.queue_bytes as f64 {
                self.stats.dropped_queue += 1;
                return Vec::new();
            }
            depart = start + Duration::from_secs_f64(len as f64 * 8.0 / bps as f64);
            self.busy_until = depart;
        }
        if let Some(b) = c.burst {
            self.in_burst = if self.in_burst {
                !rng.chance(b.leave)
            } else {
                rng.chance(b.enter)
            };
        }
        if self.in_burst || rng.chance(c.loss) {
            self.stats.lost += 1;
            return Vec::new();
        }
        let copies = if rng.chance(c.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        let mut times = Vec::with_capacity(copies);
        for _ in 0..copies {
            let mut t = depart + c.latency;
            if !c.jitter.is_zero() {
                t += Duration::from_nanos(rng.below(c.jitter.as_nanos() as u64 + 1));
            }
            if rng.chance(c.reorder) {
                self.stats.reordered += 1;
                t += c.reorder_delay;
            }
            times.push(t);
        }
        times
    }
}

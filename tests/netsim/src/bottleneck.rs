//! A host's access link: one uplink (or downlink) that every datagram the
//! host sends (or receives), to or from any other host, goes through.
//!
//! A home connection is one bottleneck for all of a mesh member's streams:
//! five copies of its video leave through the same uplink and wait in the
//! same queue. Per-pair [`LinkConfig`](crate::LinkConfig)s cannot show that
//! (each pair would have its own queue), so a [`Bottleneck`] sits in front
//! of them: a FIFO served at `rate_bps`, a drop-tail queue limited by the
//! time a datagram would wait or by bytes, optional random loss (the
//! datagram used its slot on the wire, then is lost) and a fixed delay.
//!
//! The capacity may change over time ([`BottleneckConfig::schedule`]),
//! as in the variable-capacity cases of RFC 8867 §5.1: the queue is a
//! fluid served at the rate in force at each instant, so a datagram that
//! waits across a change drains partly at the old rate and partly at the
//! new one. Every datagram offered is recorded ([`QueueSample`]) so tests
//! can compute utilisation, queuing delay percentiles, loss and per-stream
//! shares over any window.

use crate::rng::SimRng;
use crate::NodeId;
use std::time::Duration;

/// How much a [`Bottleneck`]'s drop-tail queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueLimit {
    /// A datagram that would wait longer than this before its first bit
    /// leaves is dropped (like `tc tbf latency`).
    Delay(Duration),
    /// A datagram that would make the queue hold more than this many bytes
    /// (itself included) is dropped.
    Bytes(usize),
}

/// The behaviour of a host's uplink or downlink.
#[derive(Debug, Clone, PartialEq)]
pub struct BottleneckConfig {
    /// Capacity from the start, bits per second.
    pub rate_bps: u64,
    /// Capacity changes: from each simulated time (since the start) on, the
    /// rate is the one given, until the next entry. Sorted by time. A rate
    /// of 0 stops the link (datagrams wait, and are dropped if the queue
    /// limit says so).
    pub schedule: Vec<(Duration, u64)>,
    /// The queue's limit.
    pub queue: QueueLimit,
    /// Probability that a datagram is lost after it was sent.
    pub loss: f64,
    /// Fixed delay added after the datagram left the queue (propagation).
    pub delay: Duration,
}

impl BottleneckConfig {
    /// A link of `rate_bps` whose queue holds `queue` worth of waiting, no
    /// loss, no extra delay.
    pub fn new(rate_bps: u64, queue: QueueLimit) -> Self {
        BottleneckConfig {
            rate_bps,
            schedule: Vec::new(),
            queue,
            loss: 0.0,
            delay: Duration::ZERO,
        }
    }
    /// Sets the capacity changes (sorted here).
    pub fn schedule(mut self, mut changes: Vec<(Duration, u64)>) -> Self {
        changes.sort_by_key(|c| c.0);
        self.schedule = changes;
        self
    }
    /// Sets the random loss probability.
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }
    /// Sets the fixed delay.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
    /// The capacity at simulated time `t`.
    pub fn rate_at(&self, t: Duration) -> u64 {
        self.schedule
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map_or(self.rate_bps, |c| c.1)
    }
    /// The first capacity change after `t`.
    fn next_change(&self, t: Duration) -> Option<Duration> {
        self.schedule.iter().map(|c| c.0).find(|at| *at > t)
    }
    /// Bits the link can send between `from` and `to`.
    pub fn bits_between(&self, from: Duration, to: Duration) -> f64 {
        let mut t = from;
        let mut bits = 0.0;
        while t < to {
            let end = self.next_change(t).map_or(to, |c| c.min(to));
            bits += self.rate_at(t) as f64 * (end - t).as_secs_f64();
            t = end;
        }
        bits
    }
    /// When `bits` started at `start` have all left; `None` if the link
    /// stops for good before that.
    fn finish(&self, start: Duration, bits: f64) -> Option<Duration> {
        let mut t = start;
        let mut left = bits;
        loop {
            let rate = self.rate_at(t) as f64;
            let next = self.next_change(t);
            if rate > 0.0 {
                let done = t + Duration::from_secs_f64(left / rate);
                if next.is_none_or(|c| done <= c) {
                    return Some(done);
                }
            }
            let c = next?;
            left -= rate * (c - t).as_secs_f64();
            t = c;
        }
    }
}

/// What became of a datagram offered to a [`Bottleneck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It went through.
    Sent,
    /// The queue was full.
    DroppedQueue,
    /// Random loss after it was sent.
    Lost,
}

/// One datagram offered to a [`Bottleneck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSample {
    /// When it was offered (simulated time since the start).
    pub at: Duration,
    /// How long it waited before its first bit left (zero if dropped).
    pub wait: Duration,
    /// Its size in bytes.
    pub len: usize,
    /// The other end: the destination on an uplink, the source on a
    /// downlink.
    pub peer: NodeId,
    /// What became of it.
    pub fate: Fate,
}

/// Counters of a [`Bottleneck`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BottleneckStats {
    /// Datagrams offered.
    pub offered: u64,
    /// Datagrams that went through.
    pub sent: u64,
    /// Bytes that went through.
    pub sent_bytes: u64,
    /// Dropped at the tail of a full queue.
    pub dropped_queue: u64,
    /// Lost at random after they were sent.
    pub lost: u64,
}

/// The state of one host's uplink or downlink. See the module
/// documentation.
#[derive(Debug, Clone)]
pub struct Bottleneck {
    config: BottleneckConfig,
    /// When the last datagram accepted finishes leaving.
    busy_until: Duration,
    stats: BottleneckStats,
    samples: Vec<QueueSample>,
}

impl Bottleneck {
    pub(crate) fn new(config: BottleneckConfig) -> Bottleneck {
        Bottleneck {
            config,
            busy_until: Duration::ZERO,
            stats: BottleneckStats::default(),
            samples: Vec::new(),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &BottleneckConfig {
        &self.config
    }

    /// Its counters.
    pub fn stats(&self) -> BottleneckStats {
        self.stats
    }

    /// Every datagram offered so far, in order.
    pub fn samples(&self) -> &[QueueSample] {
        &self.samples
    }

    /// Offers a datagram of `len` bytes at `now`: when it comes out of the
    /// far end (fixed delay included), or `None` if it is dropped or lost.
    pub(crate) fn transmit(
        &mut self,
        now: Duration,
        len: usize,
        peer: NodeId,
        rng: &mut SimRng,
    ) -> Option<Duration> {
        self.stats.offered += 1;
        let c = &self.config;
        let start = self.busy_until.max(now);
        let wait = start - now;
        let fits = match c.queue {
            QueueLimit::Delay(d) => wait <= d,
            QueueLimit::Bytes(b) => c.bits_between(now, start) / 8.0 + len as f64 <= b as f64,
        };
        let depart = fits.then(|| c.finish(start, len as f64 * 8.0)).flatten();
        let mut sample = QueueSample {
            at: now,
            wait: Duration::ZERO,
            len,
            peer,
            fate: Fate::DroppedQueue,
        };
        let Some(depart) = depart else {
            self.stats.dropped_queue += 1;
            self.samples.push(sample);
            return None;
        };
        self.busy_until = depart;
        sample.wait = wait;
        if rng.chance(c.loss) {
            self.stats.lost += 1;
            sample.fate = Fate::Lost;
            self.samples.push(sample);
            return None;
        }
        self.stats.sent += 1;
        self.stats.sent_bytes += len as u64;
        sample.fate = Fate::Sent;
        self.samples.push(sample);
        Some(depart + c.delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_datagram_waiting_across_a_capacity_change_drains_at_both_rates() {
        // 1 Mbit/s, then 0.5 Mbit/s from 10 ms on.
        let c = BottleneckConfig::new(1_000_000, QueueLimit::Delay(MS * 1000))
            .schedule(vec![(MS * 10, 500_000)]);
        assert_eq!(c.rate_at(MS * 9), 1_000_000);
        assert_eq!(c.rate_at(MS * 10), 500_000);
        // 10 ms at 1 Mbit/s = 10,000 bits; 5,000 more at 0.5 Mbit/s = 10 ms.
        assert_eq!(c.finish(Duration::ZERO, 15_000.0), Some(MS * 20));
        assert!((c.bits_between(MS * 5, MS * 20) - 10_000.0).abs() < 1e-6);
        // A link that stops for good never finishes.
        let stop = c.clone().schedule(vec![(MS * 10, 0)]);
        assert_eq!(stop.finish(Duration::ZERO, 15_000.0), None);
        // One that pauses resumes where it was.
        let pause = c.schedule(vec![(MS * 10, 0), (MS * 30, 1_000_000)]);
        assert_eq!(pause.finish(Duration::ZERO, 15_000.0), Some(MS * 35));
    }

    #[test]
    fn the_queue_limit_in_bytes_counts_what_waits_and_the_newcomer() {
        let mut b = Bottleneck::new(BottleneckConfig::new(
            8_000, // 1 byte per ms
            QueueLimit::Bytes(250),
        ));
        let mut rng = SimRng::new(1);
        let peer = NodeId(1);
        assert_eq!(
            b.transmit(Duration::ZERO, 100, peer, &mut rng),
            Some(MS * 100)
        );
        assert_eq!(
            b.transmit(Duration::ZERO, 100, peer, &mut rng),
            Some(MS * 200)
        );
        // 200 bytes wait: 100 more would make 300.
        assert_eq!(b.transmit(Duration::ZERO, 100, peer, &mut rng), None);
        // 50 ms later 150 wait: 100 more fit.
        assert_eq!(b.transmit(MS * 50, 100, peer, &mut rng), Some(MS * 300));
        let s = b.stats();
        assert_eq!(
            (s.offered, s.sent, s.dropped_queue, s.sent_bytes),
            (4, 3, 1, 300)
        );
        let waits: Vec<Duration> = b.samples().iter().map(|q| q.wait).collect();
        assert_eq!(waits, [Duration::ZERO, MS * 100, Duration::ZERO, MS * 150]);
        assert_eq!(b.samples()[2].fate, Fate::DroppedQueue);
    }
}

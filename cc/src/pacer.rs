//! The pacer: spreads packets at the pacing rate (draft-ietf-rmcat-gcc-02
//! §4, the sending engine), sends probe clusters at their rate, pads on
//! request, and keeps retransmissions within a budget.
//!
//! - **Leaky bucket.** A byte budget fills at the pacing rate and a packet
//!   may leave while it is not negative; it then goes into debt by the
//!   packet's size. Credit is capped at one [`INTERVAL`] (5 ms) worth, so an
//!   idle pacer releases at most one interval's burst. Debt is at most one
//!   packet.
//! - **Order.** Audio first; video and retransmissions share one FIFO in
//!   enqueue order; [`PacketClass::Padding`] items last.
//! - **Drain.** If the queue would need more than [`PacerConfig::max_drain`]
//!   at the pacing rate, it gets a deadline that far ahead and the rate is
//!   raised to empty it by then (a queue that old is worse than a burst).
//! - **Bounds.** Queue bytes and items are bounded; on overflow queued
//!   padding items, then the oldest video packets are dropped and counted.
//!   If that does not make room, `enqueue` fails with [`Error::QueueFull`].
//! - **Probes.** While a [`ProbeCluster`] is active every packet leaves at
//!   the cluster's rate, tagged with its id; when the queue has nothing,
//!   padding of up to [`PacerConfig::padding_packet_size`] is asked for
//!   instead, until the cluster's packet and byte minimums are met. The
//!   owner says how many bytes it really built for a padding request
//!   ([`Pacer::on_padding_built`]: a padding-only RTP packet holds at most
//!   255 bytes of padding, RFC 3550 §5.1, and with nothing to carry it
//!   none): the cluster's spacing and byte count follow what left, so it
//!   is sent at its rate whatever the packets' sizes.
//! - **Retransmission budget.** Retransmitted bytes (sent or queued) must
//!   stay within [`PacerConfig::rtx_fraction`] of the audio and video bytes
//!   sent in the last [`RTX_WINDOW`]; beyond that `enqueue` refuses the
//!   packet with [`Error::RetransmissionBudgetExceeded`], so loss recovery
//!   cannot crowd out the media it repairs on a congested path.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::probe::ProbeCluster;

/// Budget granularity: credit never exceeds one interval at the rate.
pub const INTERVAL: Duration = Duration::from_millis(5);
/// Sliding window of the retransmission budget.
pub const RTX_WINDOW: Duration = Duration::from_secs(1);

/// What kind of packet an item is; decides its priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketClass {
    /// Audio: sent first.
    Audio,
    /// Video media.
    Video,
    /// A retransmission (RTX or plain NACK answer), counted in the budget.
    Retransmission,
    /// Padding queued by the caller: sent only when nothing else waits.
    Padding,
}

impl PacketClass {
    fn index(self) -> usize {
        match self {
            PacketClass::Audio => 0,
            PacketClass::Video => 1,
            PacketClass::Retransmission => 2,
            PacketClass::Padding => 3,
        }
    }
}

/// Pacer limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacerConfig {
    /// Most bytes queued.
    pub max_queue_bytes: usize,
    /// Most packets queued.
    pub max_queue_items: usize,
    /// Longest time the queue may take to drain at the pacing rate.
    pub max_drain: Duration,
    /// Retransmitted bytes allowed per media byte over [`RTX_WINDOW`]
    /// (0.5 by default; libwebrtc lets retransmissions reach the whole
    /// target). A refused retransmission costs a key frame: against a TCP
    /// flow at 300 kbit/s, 0.25 refused 5-31 of a call's 40-65 and each
    /// such loss became a PLI (BENCHMARKS.md, "Probes through a token
    /// bucket").
    pub rtx_fraction: f64,
    /// Size of padding packets asked for.
    pub padding_packet_size: usize,
}

impl Default for PacerConfig {
    fn default() -> Self {
        Self {
            max_queue_bytes: 1 << 20,
            max_queue_items: 2000,
            max_drain: Duration::from_secs(2),
            rtx_fraction: 0.5,
            padding_packet_size: 1200,
        }
    }
}

/// What leaves the pacer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<T> {
    /// A queued item.
    Media {
        /// Its class.
        class: PacketClass,
        /// The caller's item.
        item: T,
    },
    /// Send this many bytes of padding now (for a probe or the padding
    /// rate); the caller builds the packet.
    Padding {
        /// Bytes on the wire wanted.
        size: usize,
    },
}

/// One release from [`Pacer::poll_send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release<T> {
    /// The item or a padding request.
    pub payload: Payload<T>,
    /// Probe cluster to tag the packet with.
    pub probe_cluster: Option<u32>,
}

/// Pacer counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PacerStats {
    /// Packets queued now.
    pub queue_items: usize,
    /// Bytes queued now.
    pub queue_bytes: usize,
    /// Bytes sent per class: audio, video, retransmission, padding (queued
    /// padding items and padding requests alike).
    pub sent_bytes: [u64; 4],
    /// Video packets dropped on overflow.
    pub dropped_video: u64,
    /// Queued padding items dropped on overflow.
    pub dropped_padding: u64,
    /// Retransmissions refused by the budget.
    pub rtx_refused: u64,
    /// Packets refused because the queue was full.
    pub queue_full: u64,
    /// Packets sent as part of a probe cluster (padding included).
    pub probe_packets: u64,
}

#[derive(Debug)]
struct Queued<T> {
    class: PacketClass,
    size: usize,
    item: T,
}

#[derive(Debug, Clone, Copy)]
struct ActiveProbe {
    cluster: ProbeCluster,
    packets: usize,
    bytes: usize,
    next_send: Option<Instant>,
}

impl ActiveProbe {
    /// The cluster's packet and byte minimums are met.
    fn complete(&self) -> bool {
        self.packets >= self.cluster.min_packets && self.bytes >= self.cluster.min_bytes
    }
}

/// Paces items of type `T`.
#[derive(Debug)]
pub struct Pacer<T> {
    config: PacerConfig,
    pacing_bps: u64,
    padding_bps: u64,
    media_budget: f64,
    padding_budget: f64,
    last_update: Option<Instant>,
    /// Set when the queue got too long to drain at the pacing rate: it must
    /// be empty by then.
    drain_deadline: Option<Instant>,
    audio: VecDeque<Queued<T>>,
    main: VecDeque<Queued<T>>,
    padding: VecDeque<Queued<T>>,
    queue_bytes: usize,
    rtx_queued_bytes: usize,
    /// (sent at, retransmission?, bytes) for the retransmission budget.
    window: VecDeque<(Instant, bool, usize)>,
    window_media: usize,
    window_rtx: usize,
    probes: VecDeque<ActiveProbe>,
    /// The last padding request not yet confirmed by `on_padding_built`:
    /// (bytes asked for, for the front probe cluster?).
    unconfirmed_padding: Option<(usize, bool)>,
    stats: PacerStats,
}

impl<T> Pacer<T> {
    /// An empty pacer with no rate: nothing leaves until
    /// [`set_rates`](Self::set_rates).
    pub fn new(config: PacerConfig) -> Self {
        Self {
            config,
            pacing_bps: 0,
            padding_bps: 0,
            media_budget: 0.0,
            padding_budget: 0.0,
            last_update: None,
            drain_deadline: None,
            audio: VecDeque::new(),
            main: VecDeque::new(),
            padding: VecDeque::new(),
            queue_bytes: 0,
            rtx_queued_bytes: 0,
            window: VecDeque::new(),
            window_media: 0,
            window_rtx: 0,
            probes: VecDeque::new(),
            unconfirmed_padding: None,
            stats: PacerStats::default(),
        }
    }

    /// Pacing and padding rates, bit/s (usually the controller's
    /// `pacing_rate()` and `padding_rate()`).
    pub fn set_rates(&mut self, pacing_bps: u64, padding_bps: u64) {
        self.pacing_bps = pacing_bps;
        self.padding_bps = padding_bps;
    }

    /// Sends `cluster` next, at its rate, before resuming normal pacing.
    pub fn start_probe(&mut self, cluster: ProbeCluster) {
        self.probes.push_back(ActiveProbe {
            cluster,
            packets: 0,
            bytes: 0,
            next_send: None,
        });
    }

    /// The owner built `actual` bytes for the last
    /// [`Payload::Padding`] released (0 when it could build none): the
    /// padding counters, the padding budget and an active probe cluster's
    /// byte count and spacing are corrected to it; a probe cluster for
    /// which nothing could be built ends. Without this call the requested
    /// size counts as sent.
    pub fn on_padding_built(&mut self, actual: usize) {
        let Some((asked, probe)) = self.unconfirmed_padding.take() else {
            return;
        };
        self.stats.sent_bytes[PacketClass::Padding.index()] =
            self.stats.sent_bytes[PacketClass::Padding.index()] - asked as u64 + actual as u64;
        if !probe {
            self.padding_budget += asked as f64 - actual as f64;
            return;
        }
        if actual == 0 {
            // The owner cannot build padding now: asking again at the same
            // instant would spin its loop. The cluster ends here, unmet
            // (its result times out in the estimator, as a lost probe's).
            self.probes.pop_front();
            return;
        }
        if let Some(p) = self.probes.front_mut() {
            p.bytes = p.bytes - asked.min(p.bytes) + actual;
            let rate = p.cluster.target_bitrate.max(1) as f64;
            if let Some(t) = p.next_send {
                let asked_gap = Duration::from_secs_f64(asked as f64 * 8.0 / rate);
                let actual_gap = Duration::from_secs_f64(actual as f64 * 8.0 / rate);
                p.next_send = Some(t.checked_sub(asked_gap).unwrap_or(t) + actual_gap);
            }
        }
    }

    /// Counters.
    pub fn stats(&self) -> PacerStats {
        PacerStats {
            queue_items: self.len(),
            queue_bytes: self.queue_bytes,
            ..self.stats.clone()
        }
    }

    /// Packets queued.
    pub fn len(&self) -> usize {
        self.audio.len() + self.main.len() + self.padding.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues an item. Retransmissions over budget and packets that do not
    /// fit are refused; video packets may evict older video.
    pub fn enqueue(
        &mut self,
        now: Instant,
        class: PacketClass,
        size: usize,
        item: T,
    ) -> Result<(), Error> {
        if class == PacketClass::Retransmission {
            self.expire_window(now);
            let used = self.window_rtx + self.rtx_queued_bytes;
            let budget = (self.window_media as f64 * self.config.rtx_fraction) as usize;
            if used + size > budget {
                self.stats.rtx_refused += 1;
                return Err(Error::RetransmissionBudgetExceeded { used, size, budget });
            }
        }
        while self.queue_bytes + size > self.config.max_queue_bytes
            || self.len() + 1 > self.config.max_queue_items
        {
            if let Some(p) = self.padding.pop_front() {
                self.queue_bytes -= p.size;
                self.stats.dropped_padding += 1;
            } else if let Some(i) = self.main.iter().position(|q| q.class == PacketClass::Video) {
                if let Some(v) = self.main.remove(i) {
                    self.queue_bytes -= v.size;
                    self.stats.dropped_video += 1;
                }
            } else {
                self.stats.queue_full += 1;
                return Err(Error::QueueFull {
                    queued_bytes: self.queue_bytes,
                    queued_items: self.len(),
                });
            }
        }
        self.queue_bytes += size;
        if class == PacketClass::Retransmission {
            self.rtx_queued_bytes += size;
        }
        let q = Queued { class, size, item };
        match class {
            PacketClass::Audio => self.audio.push_back(q),
            PacketClass::Video | PacketClass::Retransmission => self.main.push_back(q),
            PacketClass::Padding => self.padding.push_back(q),
        }
        Ok(())
    }

    /// The rate the queue drains at: the pacing rate, or faster when the
    /// queue would take longer than `max_drain`.
    pub fn effective_rate(&self) -> u64 {
        let (Some(deadline), Some(now)) = (self.drain_deadline, self.last_update) else {
            return self.pacing_bps;
        };
        let left = deadline.saturating_duration_since(now).max(INTERVAL);
        let drain = (self.queue_bytes as f64 * 8.0 / left.as_secs_f64()) as u64;
        self.pacing_bps.max(drain)
    }

    fn refill(&mut self, now: Instant) {
        let last = *self.last_update.get_or_insert(now);
        let dt = now.saturating_duration_since(last).as_secs_f64();
        self.last_update = Some(now.max(last));
        if self.queue_bytes == 0 {
            self.drain_deadline = None;
        } else if self.drain_deadline.is_none()
            && self.queue_bytes as f64 * 8.0
                > self.pacing_bps as f64 * self.config.max_drain.as_secs_f64()
        {
            self.drain_deadline = Some(now + self.config.max_drain);
        }
        let rate = self.effective_rate() as f64 / 8.0;
        let cap = rate * INTERVAL.as_secs_f64();
        self.media_budget = (self.media_budget + rate * dt).min(cap.max(0.0));
        let prate = self.padding_bps as f64 / 8.0;
        let pcap = prate * INTERVAL.as_secs_f64();
        self.padding_budget = (self.padding_budget + prate * dt).min(pcap);
    }

    fn expire_window(&mut self, now: Instant) {
        while let Some(&(t, rtx, size)) = self.window.front() {
            if now.saturating_duration_since(t) < RTX_WINDOW {
                break;
            }
            self.window.pop_front();
            if rtx {
                self.window_rtx -= size;
            } else {
                self.window_media -= size;
            }
        }
    }

    fn pop_next(&mut self) -> Option<Queued<T>> {
        let q = self
            .audio
            .pop_front()
            .or_else(|| self.main.pop_front())
            .or_else(|| self.padding.pop_front())?;
        self.queue_bytes -= q.size;
        if q.class == PacketClass::Retransmission {
            self.rtx_queued_bytes -= q.size;
        }
        Some(q)
    }

    fn account(&mut self, now: Instant, class: PacketClass, size: usize) {
        self.stats.sent_bytes[class.index()] += size as u64;
        match class {
            PacketClass::Audio | PacketClass::Video => {
                self.window.push_back((now, false, size));
                self.window_media += size;
            }
            PacketClass::Retransmission => {
                self.window.push_back((now, true, size));
                self.window_rtx += size;
            }
            PacketClass::Padding => {}
        }
        self.expire_window(now);
    }

    /// The next item allowed to leave at `now`; call until `None`, then
    /// wait for [`poll_timeout`](Self::poll_timeout).
    #[must_use]
    pub fn poll_send(&mut self, now: Instant) -> Option<Release<T>> {
        self.refill(now);
        self.unconfirmed_padding = None;
        // A cluster whose last packet was padding is complete once the
        // owner confirmed its size.
        while self.probes.front().is_some_and(ActiveProbe::complete) {
            self.probes.pop_front();
            // Normal pacing resumes from an empty budget, not from the
            // credit piled up while probing.
            self.media_budget = self.media_budget.min(0.0);
        }
        if let Some(probe) = self.probes.front().copied() {
            return self.send_probe(now, probe);
        }
        if !self.is_empty() {
            if self.media_budget < 0.0 || self.effective_rate() == 0 {
                return None;
            }
            let q = self.pop_next()?;
            self.media_budget -= q.size as f64;
            self.padding_budget -= q.size as f64;
            self.account(now, q.class, q.size);
            return Some(Release {
                payload: Payload::Media {
                    class: q.class,
                    item: q.item,
                },
                probe_cluster: None,
            });
        }
        if self.padding_bps > 0 && self.padding_budget >= 0.0 {
            let size = self.config.padding_packet_size;
            self.padding_budget -= size as f64;
            self.account(now, PacketClass::Padding, size);
            self.unconfirmed_padding = Some((size, false));
            return Some(Release {
                payload: Payload::Padding { size },
                probe_cluster: None,
            });
        }
        None
    }

    fn send_probe(&mut self, now: Instant, mut probe: ActiveProbe) -> Option<Release<T>> {
        if probe.next_send.is_some_and(|t| now < t) {
            return None;
        }
        let (payload, size, padding) = match self.pop_next() {
            Some(q) => {
                self.account(now, q.class, q.size);
                (
                    Payload::Media {
                        class: q.class,
                        item: q.item,
                    },
                    q.size,
                    false,
                )
            }
            None => {
                // What the cluster still needs, but no less than its fair
                // share per packet, so the packet minimum is not met with
                // slivers.
                let c = &probe.cluster;
                let remaining = c.min_bytes.saturating_sub(probe.bytes);
                let share = c.min_bytes.div_ceil(c.min_packets.max(1)).max(1);
                let size = self.config.padding_packet_size.min(remaining.max(share));
                self.account(now, PacketClass::Padding, size);
                self.unconfirmed_padding = Some((size, true));
                (Payload::Padding { size }, size, true)
            }
        };
        probe.packets += 1;
        probe.bytes += size;
        let spacing = size as f64 * 8.0 / probe.cluster.target_bitrate.max(1) as f64;
        // Late by more than an interval: do not catch up with a burst.
        let base = match probe.next_send {
            Some(t) if now.saturating_duration_since(t) < INTERVAL => t,
            _ => now,
        };
        probe.next_send = Some(base + Duration::from_secs_f64(spacing));
        self.stats.probe_packets += 1;
        let id = probe.cluster.id;
        if !padding && probe.complete() {
            self.probes.pop_front();
            // Normal pacing resumes from an empty budget, not from the
            // credit piled up while probing.
            self.media_budget = self.media_budget.min(0.0);
        } else if let Some(p) = self.probes.front_mut() {
            *p = probe;
        }
        Some(Release {
            payload,
            probe_cluster: Some(id),
        })
    }

    /// When the next item (or padding) may leave; `None` when nothing will
    /// until something is queued or a rate set.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let last = self.last_update?;
        if let Some(p) = self.probes.front() {
            return Some(p.next_send.unwrap_or(last));
        }
        let wait = |budget: f64, bps: u64| {
            if budget >= 0.0 {
                Some(last)
            } else if bps == 0 {
                None
            } else {
                // At least a microsecond: a debt of a rounding error would
                // otherwise give back `last`, where nothing can leave yet,
                // and an owner that trusts the timer would spin.
                let wait = Duration::from_secs_f64(-budget * 8.0 / bps as f64);
                Some(last + wait.max(Duration::from_micros(1)))
            }
        };
        if !self.is_empty() {
            return wait(self.media_budget, self.effective_rate());
        }
        if self.padding_bps > 0 {
            return wait(self.padding_budget, self.padding_bps);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// An owner that runs the pacer exactly at `poll_timeout` always makes
    /// progress: the timer never names an instant where nothing can leave.
    #[test]
    fn driving_by_poll_timeout_always_drains_the_queue() {
        let t0 = Instant::now();
        let mut p: Pacer<u32> = Pacer::new(PacerConfig::default());
        p.set_rates(750_000, 0);
        for i in 0..60 {
            p.enqueue(t0, PacketClass::Video, 1113, i).unwrap();
        }
        let mut now = t0;
        let mut sent = 0;
        for _ in 0..10_000 {
            while p.poll_send(now).is_some() {
                sent += 1;
            }
            let Some(next) = p.poll_timeout() else { break };
            assert!(next > now || sent == 60, "timer {next:?} not after {now:?}");
            now = next;
        }
        assert_eq!(sent, 60);
        // 60 × 1113 bytes at 750 kbit/s: about 0.7 s.
        let took = now - t0;
        assert!(took > 600 * MS && took < 800 * MS, "{took:?}");
    }

    fn drain(p: &mut Pacer<u32>, t0: Instant, until_ms: u64) -> Vec<(u64, Release<u32>)> {
        let mut out = Vec::new();
        for ms in 0..=until_ms {
            let now = t0 + Duration::from_millis(ms);
            while let Some(r) = p.poll_send(now) {
                out.push((ms, r));
            }
        }
        out
    }

    fn item(r: &Release<u32>) -> Option<u32> {
        match r.payload {
            Payload::Media { item, .. } => Some(item),
            Payload::Padding { .. } => None,
        }
    }

    #[test]
    fn releases_at_the_pacing_rate() {
        let t0 = Instant::now();
        let mut p = Pacer::new(PacerConfig::default());
        p.set_rates(800_000, 0); // 100 bytes per ms
        for i in 0..50 {
            p.enqueue(t0, PacketClass::Video, 1000, i).unwrap();
        }
        let out = drain(&mut p, t0, 1000);
        assert_eq!(out.len(), 50);
        // 50 kB at 100 B/ms: the last leaves about 490 ms in.
        let last = out.last().unwrap().0;
        assert!((485..=495).contains(&last), "{last}");
        let order: Vec<u32> = out.iter().filter_map(|(_, r)| item(r)).collect();
        assert_eq!(order, (0..50).collect::<Vec<_>>());
        assert_eq!(p.stats().sent_bytes[1], 50_000);
        assert_eq!(p.poll_timeout(), None);
    }

    #[test]
    fn audio_goes_first_video_and_rtx_keep_fifo_order() {
        let t0 = Instant::now();
        let mut p = Pacer::new(PacerConfig {
            rtx_fraction: 1.0,
            ..PacerConfig::default()
        });
        p.set_rates(800_000, 0);
        // Some media history so the retransmission budget allows one.
        p.enqueue(t0, PacketClass::Video, 1000, 0).unwrap();
        assert!(p.poll_send(t0).is_some());
        p.enqueue(t0, PacketClass::Video, 100, 1).unwrap();
        p.enqueue(t0, PacketClass::Retransmission, 100, 2).unwrap();
        p.enqueue(t0, PacketClass::Padding, 100, 3).unwrap();
        p.enqueue(t0, PacketClass::Video, 100, 4).unwrap();
        p.enqueue(t0, PacketClass::Audio, 100, 5).unwrap();
        let order: Vec<u32> = drain(&mut p, t0, 100)
            .iter()
            .filter_map(|(_, r)| item(r))
            .collect();
        assert_eq!(order, [5, 1, 2, 4, 3]);
    }

    #[test]
    fn idle_credit_is_capped_at_one_interval() {
        let t0 = Instant::now();
        let mut p = Pacer::new(PacerConfig::default());
        p.set_rates(800_000, 0);
        assert!(p.poll_send(t0).is_none());
        for i in 0..10 {
            p.enqueue(t0 + 1000 * MS, PacketClass::Video, 200, i)
                .unwrap();
        }
        // After 1 s idle: 500 bytes of credit, so three 200-byte packets
        // (the third into debt), not all ten.
        let mut n = 0;
        while p.poll_send(t0 + 1000 * MS).is_some() {
            n += 1;
        }
        assert_eq!(n, 3);
        let next = p.poll_timeout().unwrap() - t0;
        assert!(next > 1000 * MS && next <= 1002 * MS, "{next:?}");
    }

    #[test]
    fn long_queue_is_drained_within_two_seconds() {
        let t0 = Instant::now();
        let mut p = Pacer::new(PacerConfig::default());
        p.set_rates(100_000, 0);
        // 100 kB at 100 kbit/s would take 8 s.
        for i in 0..100 {
            p.enqueue(t0, PacketClass::Video, 1000, i).unwrap();
        }
        let out = drain(&mut p, t0, 3000);
        assert_eq!(out.len(), 100);
        let last = out.last().unwrap().0;
        assert!((1900..=2005).contains(&last), "{last}");
    }

    #[test]
    fn overflow_drops_oldest_video_and_refuses_when_nothing_droppable() {
        let t0 = Instant::now();
        let mut p = Pacer::new(PacerConfig {
            max_queue_items: 3,
            ..PacerConfig::default()
        });
        p.enqueue(t0, PacketClass::Audio, 100, 0).unwrap();
        p.enqueue(t0, PacketClass::Video, 100, 1).unwrap();
        p.enqueue(t0, PacketClass::Video, 100, 2).unwrap();
        p.enqueue(t0, PacketClass::Video, 100, 3).unwrap();
        assert_eq!(p.stats().dropped_video, 1);
        p.enqueue(t0, PacketClass::Audio, 100, 4).unwrap();
        p.enqueue(t0, PacketClass::Audio, 100, 5).unwrap();
        assert_eq!(p.stats().dropped_video, 3);
        assert!(matches!(
            p.enqueue(t0, PacketClass::Audio, 100, 6),
            Err(Error::QueueFull { .. })
        ));
        p.set_rates(8_000_000, 0);
        let order: Vec<u32> = drain(&mut p, t0, 10)
            .iter()
            .filter_map(|(_, r)| item(r))
            .collect();
        assert_eq!(order, [0, 4, 5]);
    }

    #[test]
    fn retransmissions_stay_within_half_of_media() {
        let t0 = Instant::now();
        let mut p = Pacer::new(PacerConfig::default());
        p.set_rates(8_000_000, 0);
        assert!(matches!(
            p.enqueue(t0, PacketClass::Retransmission, 100, 0),
            Err(Error::RetransmissionBudgetExceeded { .. })
        ));
        for i in 0..4 {
            p.enqueue(t0, PacketClass::Video, 1000, i).unwrap();
        }
        let _ = drain(&mut p, t0, 10);
        // 4000 media bytes: 2000 bytes of retransmissions allowed.
        p.enqueue(t0 + 10 * MS, PacketClass::Retransmission, 1200, 10)
            .unwrap();
        assert!(p
            .enqueue(t0 + 10 * MS, PacketClass::Retransmission, 1200, 11)
            .is_err());
        p.enqueue(t0 + 10 * MS, PacketClass::Retransmission, 800, 12)
            .unwrap();
        assert_eq!(p.stats().rtx_refused, 2);
        // Once the media leaves the 1 s window the budget is gone.
        let _ = drain(&mut p, t0 + 10 * MS, 20);
        assert!(p
            .enqueue(t0 + 1100 * MS, PacketClass::Retransmission, 100, 13)
            .is_err());
    }

    #[test]
    fn probe_cluster_is_sent_at_its_rate_with_padding_and_tagged() {
        let t0 = Instant::now();
        let mut p = Pacer::new(PacerConfig::default());
        p.set_rates(100_000, 0);
        p.enqueue(t0, PacketClass::Video, 1000, 1).unwrap();
        p.start_probe(ProbeCluster {
            id: 9,
            target_bitrate: 1_600_000, // 200 bytes per ms
            min_packets: 5,
            min_bytes: 3000,
        });
        let out = drain(&mut p, t0, 100);
        let probe: Vec<_> = out
            .iter()
            .filter(|(_, r)| r.probe_cluster == Some(9))
            .collect();
        assert_eq!(probe.len(), 5);
        assert_eq!(item(&probe[0].1), Some(1));
        let sizes: Vec<usize> = probe[1..]
            .iter()
            .map(|(_, r)| match r.payload {
                Payload::Padding { size } => size,
                Payload::Media { .. } => 0,
            })
            .collect();
        assert_eq!(sizes, [1200, 800, 600, 600]);
        // 1000 bytes then 1200 at 200 B/ms: 0, 5, 11 ms, ...
        let times: Vec<u64> = probe.iter().map(|(t, _)| *t).collect();
        assert_eq!(&times[..3], &[0, 5, 11]);
        assert_eq!(out.len(), 5, "nothing else was queued");
        assert_eq!(p.stats().probe_packets, 5);
    }

    /// The owner can build only 300-byte padding packets (a padding-only
    /// RTP packet holds at most 255 bytes of padding): the cluster goes on
    /// until its bytes are met and keeps its rate.
    #[test]
    fn probe_padding_smaller_than_asked_keeps_the_cluster_rate() {
        let t0 = Instant::now();
        let mut p: Pacer<u32> = Pacer::new(PacerConfig::default());
        p.set_rates(100_000, 0);
        p.start_probe(ProbeCluster {
            id: 3,
            target_bitrate: 2_400_000, // 300 bytes per ms
            min_packets: 5,
            min_bytes: 3000,
        });
        let mut sent = Vec::new();
        for us in (0..=20_000u64).step_by(100) {
            let now = t0 + Duration::from_micros(us);
            while let Some(r) = p.poll_send(now) {
                assert_eq!(r.probe_cluster, Some(3));
                assert!(matches!(r.payload, Payload::Padding { .. }));
                p.on_padding_built(300);
                sent.push(us);
            }
        }
        // 3000 bytes in 300-byte packets: ten, one a millisecond.
        assert_eq!(sent.len(), 10, "{sent:?}");
        assert_eq!(sent[9], 9_000, "{sent:?}");
        assert_eq!(p.stats().sent_bytes[3], 3000);
        // Nothing built at all: the request does not count.
        p.start_probe(ProbeCluster {
            id: 4,
            target_bitrate: 2_400_000,
            min_packets: 5,
            min_bytes: 3000,
        });
        let now = t0 + Duration::from_millis(30);
        assert!(p.poll_send(now).is_some());
        p.on_padding_built(0);
        assert_eq!(p.stats().sent_bytes[3], 3000);
        // And the cluster ends: asking again at once would spin an owner
        // that cannot pad (no RTX stream yet).
        assert_eq!(p.poll_timeout(), None);
        assert!(p.poll_send(now).is_none());
    }

    #[test]
    fn padding_fills_up_to_the_padding_rate_when_idle() {
        let t0 = Instant::now();
        let mut p: Pacer<u32> = Pacer::new(PacerConfig::default());
        p.set_rates(1_000_000, 96_000); // 12 bytes per ms of padding
        let out = drain(&mut p, t0, 1000);
        let bytes: usize = out
            .iter()
            .map(|(_, r)| match r.payload {
                Payload::Padding { size } => size,
                Payload::Media { .. } => 0,
            })
            .sum();
        assert!((10_800..=13_200).contains(&bytes), "{bytes}");
    }
}

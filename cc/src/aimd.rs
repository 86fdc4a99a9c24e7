//! Delay-based rate control: AIMD (draft-ietf-rmcat-gcc-02 §5.5).
//!
//! The detector's signal drives a three-state machine (§5.5, the table):
//!
//! | signal \ state | Hold     | Increase | Decrease |
//! |----------------|----------|----------|----------|
//! | over-use       | Decrease | Decrease |          |
//! | normal         | Increase |          | Hold     |
//! | under-use      |          | Hold     | Hold     |
//!
//! *Increase* is multiplicative, `eta = 1.08^min(dt, 1 s)`, while far from
//! the last known link capacity, and additive near it: about one packet per
//! response time (RTT + 100 ms), the packet size being what a 30 fps stream
//! at the current rate would send. "Near" means the acknowledged bitrate is
//! within three standard deviations of the average acknowledged bitrate seen
//! at past decreases (§5.5); leaving that band forgets the average.
//!
//! *Decrease* sets the rate to [`BETA`] × the acknowledged bitrate and goes
//! to Hold. It happens at most once per RTT (clamped to 10..200 ms), since
//! the effect of a decrease is not seen before; sooner only if the
//! acknowledged rate is below half the current rate.
//!
//! An increase never takes the rate above 1.5 × acknowledged + 10 kbit/s
//! (§5.5: the estimate must not diverge from what the sender can show the
//! path carries; an application-limited sender otherwise inflates it).

use std::time::{Duration, Instant};

use crate::delay::overuse::BandwidthUsage;

/// Multiplicative decrease factor (§5.5, beta).
pub const BETA: f64 = 0.85;
/// Decrease factor when the over-use is read with the queue still short:
/// the link is only just full, and [`BETA`] would leave 15% of it idle
/// until the additive increase climbs back.
pub const BETA_SHORT_QUEUE: f64 = 0.97;
/// The decrease factor is `1 - queue / DRAIN_TIME`, within
/// [`BETA`]..=[`BETA_SHORT_QUEUE`]: the queue measured at the over-use
/// drains in about this time at the decreased rate.
pub const DRAIN_TIME: Duration = Duration::from_millis(500);
/// Multiplicative increase per second (§5.5, eta base).
pub const ETA: f64 = 1.08;
/// Packet size assumed by the additive increase, bytes.
pub const ADDITIVE_PACKET_BYTES: f64 = 1200.0;
/// Floor of the additive increase, bit/s per second.
pub const MIN_ADDITIVE_INCREASE: f64 = 4_000.0;
/// Headroom over the acknowledged bitrate: factor and constant (§5.5).
pub const ACKED_CAP_FACTOR: f64 = 1.5;
/// Constant part of the headroom, bit/s.
pub const ACKED_CAP_MARGIN: f64 = 10_000.0;
/// Above the mean of the acknowledged rates at past decreases (where the
/// link was last found full), while the acknowledged rate is within that
/// band (the link is loaded, not an application-limited sender), the
/// additive increase is at most this fraction of that mean per second.
pub const ABOVE_CAPACITY_INCREASE: f64 = 0.02;
/// RTT assumed until one is measured.
pub const DEFAULT_RTT: Duration = Duration::from_millis(200);
/// Competing with a loss-based flow, the decrease per loss event. CUBIC's
/// is 0.7 (RFC 9438 §4.6); with it the call held 0.35-0.38 of a 300
/// kbit/s `tbf` link against a TCP flow that filled the buffer, hence a
/// gentler one (BENCHMARKS.md).
pub const COMPETING_BETA: f64 = 0.8;
/// Competing, the additive increase in [`COMPETING_PACKET_BYTES`] packets
/// per round trip: the AIMD that shares with Reno for a decrease of
/// [`COMPETING_BETA`], 3 (1 - beta) / (1 + beta) (as CUBIC's Reno-friendly
/// alpha, RFC 9438 §4.3), 1/3 for 0.8.
pub const COMPETING_ALPHA: f64 = 3.0 * (1.0 - COMPETING_BETA) / (1.0 + COMPETING_BETA);
/// The packet [`COMPETING_ALPHA`] counts in: the competitor's, a TCP
/// segment on an Ethernet path (1448 bytes of payload and its headers),
/// since the share that formula makes equal is counted in its packets.
/// With our own 1200-byte packet the call grew 0.8 times as fast as a
/// competitor with the same alpha. With the decrease from the rate
/// ([`AimdRateControl::competing_decrease`]) it took the call from 0.24 to
/// 0.39 of a 1 Mbit/s FIFO against Reno on the model (the two not
/// measured apart; `cc/tests/bottleneck.rs`).
pub const COMPETING_PACKET_BYTES: f64 = 1500.0;

/// State of the rate controller (§5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateControlState {
    /// Keep the rate.
    Hold,
    /// Raise the rate.
    Increase,
    /// Lower the rate.
    Decrease,
}

/// Running average and deviation of the acknowledged bitrate at decreases:
/// where the bottleneck was last found. Kept in kbit/s as a normalised
/// variance, so the band scales with the rate.
#[derive(Debug, Default, Clone, Copy)]
struct LinkCapacity {
    mean_kbps: Option<f64>,
    var: f64,
}

impl LinkCapacity {
    const ALPHA: f64 = 0.05;

    fn on_decrease(&mut self, acked_bps: u64) {
        let x = acked_bps as f64 / 1000.0;
        let mean = match self.mean_kbps {
            None => x,
            Some(m) => (1.0 - Self::ALPHA) * m + Self::ALPHA * x,
        };
        let norm = mean.max(1.0);
        self.var = ((1.0 - Self::ALPHA) * self.var + Self::ALPHA * (mean - x).powi(2) / norm)
            .clamp(0.4, 2.5);
        self.mean_kbps = Some(mean);
    }

    fn mean_bps(&self) -> Option<f64> {
        self.mean_kbps.map(|m| m * 1000.0)
    }

    fn band(&self) -> Option<(f64, f64)> {
        let m = self.mean_kbps?;
        let dev = 3.0 * (self.var * m).sqrt();
        Some(((m - dev) * 1000.0, (m + dev) * 1000.0))
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The AIMD controller.
#[derive(Debug)]
pub struct AimdRateControl {
    min: u64,
    max: u64,
    rate: u64,
    state: RateControlState,
    last_change: Option<Instant>,
    last_decrease: Option<Instant>,
    rtt: Duration,
    capacity: LinkCapacity,
    cap_acked: Option<u64>,
    competing: bool,
    queue_delay: Option<Duration>,
    shared_bottleneck: bool,
}

impl AimdRateControl {
    /// Starts at `start` bit/s, held within `min..=max`.
    pub fn new(start: u64, min: u64, max: u64) -> Self {
        let max = max.max(min);
        Self {
            min,
            max,
            rate: start.clamp(min, max),
            state: RateControlState::Hold,
            last_change: None,
            last_decrease: None,
            rtt: DEFAULT_RTT,
            capacity: LinkCapacity::default(),
            cap_acked: None,
            competing: false,
            queue_delay: None,
            shared_bottleneck: false,
        }
    }

    /// Current delay-based estimate, bit/s.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Current state.
    pub fn state(&self) -> RateControlState {
        self.state
    }

    /// When the rate was last decreased.
    pub fn last_decrease(&self) -> Option<Instant> {
        self.last_decrease
    }

    /// The band of the acknowledged rates at past decreases, bit/s: where
    /// the link was last found full (`None` when not known, or left).
    pub fn capacity_band(&self) -> Option<(u64, u64)> {
        self.capacity
            .band()
            .map(|(lo, hi)| (lo.max(0.0) as u64, hi as u64))
    }

    /// A second acknowledged rate for the increase's cap only (the
    /// controller's larger short-window reading): the cap is
    /// [`ACKED_CAP_FACTOR`] × the larger of it and the one given to
    /// [`update`](Self::update) + [`ACKED_CAP_MARGIN`].
    pub fn set_cap_acked(&mut self, bps: Option<u64>) {
        self.cap_acked = bps;
    }

    /// Competing with a loss-based flow ([`crate::queue_delay`]): the
    /// increase is TCP's, [`COMPETING_ALPHA`] of a
    /// [`COMPETING_PACKET_BYTES`] packet per round trip each round trip
    /// (the RTT taken within 100 ms..1 s), so the call grows back after a
    /// loss event ([`Self::competing_decrease`]) as its competitor does.
    pub fn set_competing(&mut self, competing: bool) {
        self.competing = competing;
    }

    /// Forgets where the link was found full: the increase is
    /// multiplicative again (the link's share changed: a competing flow
    /// came).
    pub fn forget_capacity(&mut self) {
        self.capacity.reset();
    }

    /// The queuing delay last measured ([`crate::queue_delay`]): an
    /// over-use read with a short queue decreases less.
    pub fn set_queue_delay(&mut self, q: Option<Duration>) {
        self.queue_delay = q;
    }

    /// Shares its bottleneck with flows that may not decrease with it
    /// (see [`crate::CongestionController::set_shared_bottleneck`]): every
    /// decrease is by [`BETA`].
    pub fn set_shared_bottleneck(&mut self, shared: bool) {
        self.shared_bottleneck = shared;
    }

    /// See [`AimdRateControl::set_shared_bottleneck`].
    pub fn shared_bottleneck(&self) -> bool {
        self.shared_bottleneck
    }

    /// The factor of the next over-use decrease: `1 - queue / DRAIN_TIME`
    /// within [`BETA`]..=[`BETA_SHORT_QUEUE`]; [`BETA`] while no queuing
    /// delay is known.
    pub fn decrease_factor(&self, acked: Option<u64>) -> f64 {
        let within = match (acked, self.capacity.band()) {
            (Some(a), Some((lo, hi))) => (lo..=hi).contains(&(a as f64)),
            _ => false,
        };
        match self.queue_delay {
            Some(q) if within && !self.shared_bottleneck => {
                (1.0 - q.as_secs_f64() / DRAIN_TIME.as_secs_f64()).clamp(BETA, BETA_SHORT_QUEUE)
            }
            _ => BETA,
        }
    }

    /// Latest round-trip time.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = rtt;
    }

    /// New bounds; the rate is clamped into them.
    pub fn set_bounds(&mut self, min: u64, max: u64) {
        self.min = min;
        self.max = max.max(min);
        self.rate = self.rate.clamp(self.min, self.max);
    }

    /// Overrides the estimate (a probe result). The link capacity average
    /// is forgotten when the new rate lies above its band.
    pub fn set_estimate(&mut self, now: Instant, bps: u64) {
        self.rate = bps.clamp(self.min, self.max);
        if self
            .capacity
            .band()
            .is_some_and(|(_, upper)| bps as f64 > upper)
        {
            self.capacity.reset();
        }
        self.last_change = Some(now);
    }

    /// Additive increase rate near convergence, bit/s per second.
    pub fn additive_increase_per_second(&self) -> f64 {
        let bits_per_frame = self.rate as f64 / 30.0;
        let packets = (bits_per_frame / (ADDITIVE_PACKET_BYTES * 8.0))
            .ceil()
            .max(1.0);
        let packet_bits = bits_per_frame / packets;
        let response = (self.rtt + Duration::from_millis(100)).as_secs_f64();
        (packet_bits / response).max(MIN_ADDITIVE_INCREASE)
    }

    /// One detector verdict with the acknowledged bitrate at `now`.
    /// Returns the new estimate.
    pub fn update(&mut self, now: Instant, usage: BandwidthUsage, acked: Option<u64>) -> u64 {
        self.state = match (usage, self.state) {
            (BandwidthUsage::Overusing, _) => RateControlState::Decrease,
            (BandwidthUsage::Normal, RateControlState::Hold) => {
                self.last_change = Some(now);
                RateControlState::Increase
            }
            (BandwidthUsage::Normal, s) => s,
            (BandwidthUsage::Underusing, _) => RateControlState::Hold,
        };
        let mut new = self.rate;
        match self.state {
            RateControlState::Hold => {}
            RateControlState::Increase => {
                if let (Some(a), Some((_, upper))) = (acked, self.capacity.band()) {
                    if a as f64 > upper {
                        self.capacity.reset();
                    }
                }
                let dt = self
                    .last_change
                    .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
                let inc = if self.competing {
                    let rtt = self
                        .rtt
                        .clamp(Duration::from_millis(100), Duration::from_secs(1))
                        .as_secs_f64();
                    COMPETING_ALPHA * COMPETING_PACKET_BYTES * 8.0 / (rtt * rtt)
                        * dt.as_secs_f64().min(1.0)
                } else if let Some(mean) = self.capacity.mean_bps() {
                    let mut per_s = self.additive_increase_per_second();
                    // Only while the link is loaded near where it was
                    // found full: an application-limited sender (acked
                    // under the band) is not near the link.
                    let loaded = match (acked, self.capacity.band()) {
                        (Some(a), Some((lower, _))) => a as f64 >= lower,
                        _ => true,
                    };
                    if self.rate as f64 >= mean && loaded {
                        per_s = per_s
                            .min(ABOVE_CAPACITY_INCREASE * mean)
                            .max(MIN_ADDITIVE_INCREASE);
                    }
                    per_s * dt.as_secs_f64().min(1.0)
                } else {
                    let eta = ETA.powf(dt.as_secs_f64().min(1.0));
                    (self.rate as f64 * (eta - 1.0)).max(if dt.is_zero() { 0.0 } else { 1000.0 })
                };
                new = self.rate + inc as u64;
                let cap_base = match (acked, self.cap_acked) {
                    (Some(a), Some(c)) => Some(a.max(c)),
                    (a, c) => a.or(c),
                };
                if let Some(a) = cap_base {
                    let cap = (ACKED_CAP_FACTOR * a as f64 + ACKED_CAP_MARGIN) as u64;
                    if new > cap {
                        new = self.rate.max(cap).min(new);
                    }
                }
                self.last_change = Some(now);
            }
            RateControlState::Decrease => {
                if self.may_decrease(now, acked) {
                    let base = acked.unwrap_or(self.rate);
                    let factor = self.decrease_factor(acked);
                    if let Some(a) = acked {
                        if self
                            .capacity
                            .band()
                            .is_some_and(|(lower, _)| (a as f64) < lower)
                        {
                            self.capacity.reset();
                        }
                        self.capacity.on_decrease(a);
                    }
                    new = ((factor * base as f64) as u64).min(self.rate);
                    self.last_decrease = Some(now);
                }
                self.last_change = Some(now);
                self.state = RateControlState::Hold;
            }
        }
        self.rate = new.clamp(self.min, self.max);
        self.rate
    }

    #[cfg(test)]
    fn set_rate_for_test(&mut self, bps: u64) {
        self.rate = bps;
    }

    /// Whether the last decrease was within [`crate::queue_delay::BACKOFF`]
    /// (`None` before any).
    pub fn decreased_within(&self, now: Instant) -> Option<bool> {
        self.last_decrease
            .map(|t| now.saturating_duration_since(t) < crate::queue_delay::BACKOFF)
    }

    /// A decrease the detector did not ask for: a standing queue
    /// ([`crate::queue_delay`]). To β times the lower of the rate and the
    /// acknowledged rate, so that a sender whose real rate exceeds its
    /// target still drains the queue.
    pub fn immediate_decrease(&mut self, now: Instant, acked: Option<u64>) -> u64 {
        let base = acked.map_or(self.rate, |a| a.min(self.rate));
        self.rate = ((BETA * base as f64) as u64).clamp(self.min, self.max);
        self.last_decrease = Some(now);
        self.last_change = Some(now);
        self.state = RateControlState::Hold;
        self.rate
    }

    /// A loss event while competing with a loss-based flow (a loss of
    /// ours or the shared buffer full, see [`crate::queue_delay`]): to
    /// [`COMPETING_BETA`] times the rate, as the competitor's own decrease
    /// of its window. Not of the acknowledged rate: behind a full buffer
    /// it is the rate of a queue's time ago (300-450 ms), lower than the
    /// rate while the call grows, and a decrease from it cut the call to
    /// about 0.6 of its rate at each event. Before session 12's competing
    /// changes, this among them, the call held 0.10-0.33 of `tbf` links
    /// from 300 kbit/s to 2 Mbit/s against a CUBIC-like flow on the model;
    /// after them, 0.36-0.41 (`cc/tests/bottleneck.rs`, BENCHMARKS.md).
    pub fn competing_decrease(&mut self, now: Instant) -> u64 {
        self.rate = ((COMPETING_BETA * self.rate as f64) as u64).clamp(self.min, self.max);
        self.last_decrease = Some(now);
        self.last_change = Some(now);
        self.state = RateControlState::Hold;
        self.rate
    }

    fn may_decrease(&self, now: Instant, acked: Option<u64>) -> bool {
        let Some(last) = self.last_decrease else {
            return true;
        };
        let interval = self
            .rtt
            .clamp(Duration::from_millis(10), Duration::from_millis(200));
        now.saturating_duration_since(last) >= interval || acked.is_some_and(|a| a < self.rate / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn overuse_decreases_to_beta_times_acked_and_holds() {
        let t0 = Instant::now();
        let mut a = AimdRateControl::new(1_000_000, 10_000, 5_000_000);
        let r = a.update(t0, BandwidthUsage::Overusing, Some(800_000));
        assert_eq!(r, 680_000);
        assert_eq!(a.state(), RateControlState::Hold);
        // A second over-use within the RTT does not decrease again.
        a.set_rtt(100 * MS);
        assert_eq!(
            a.update(t0 + 50 * MS, BandwidthUsage::Overusing, Some(600_000)),
            680_000
        );
        // After it, it does.
        assert_eq!(
            a.update(t0 + 150 * MS, BandwidthUsage::Overusing, Some(600_000)),
            510_000
        );
        // Under-use holds.
        assert_eq!(
            a.update(t0 + 300 * MS, BandwidthUsage::Underusing, Some(600_000)),
            510_000
        );
    }

    #[test]
    fn far_from_convergence_increase_is_eight_percent_per_second() {
        let t0 = Instant::now();
        let mut a = AimdRateControl::new(500_000, 10_000, 5_000_000);
        a.update(t0, BandwidthUsage::Normal, None);
        assert_eq!(a.state(), RateControlState::Increase);
        for i in 1..=10 {
            a.update(t0 + i * 100 * MS, BandwidthUsage::Normal, None);
        }
        let r = a.rate() as f64;
        assert!((r / 500_000.0 - 1.08).abs() < 0.002, "{r}");
    }

    #[test]
    fn an_overuse_read_with_a_short_queue_near_the_known_capacity_decreases_less() {
        let t0 = Instant::now();
        let mut a = AimdRateControl::new(1_000_000, 10_000, 5_000_000);
        a.set_rtt(50 * MS);
        // The first over-use: no capacity known yet, beta.
        a.set_queue_delay(Some(5 * MS));
        assert_eq!(
            a.update(t0, BandwidthUsage::Overusing, Some(1_000_000)),
            850_000
        );
        // Acknowledged within the band learnt there: 1 - q / DRAIN_TIME,
        // at most BETA_SHORT_QUEUE.
        a.set_rate_for_test(1_100_000);
        let mut t = t0 + 300 * MS;
        a.update(t, BandwidthUsage::Overusing, Some(1_000_000));
        assert_eq!(a.rate(), 970_000);
        for (q_ms, want) in [(25, 950_000), (50, 900_000), (100, 850_000), (300, 850_000)] {
            a.set_rate_for_test(1_100_000);
            a.set_queue_delay(Some(q_ms * MS));
            t += 300 * MS;
            a.update(t, BandwidthUsage::Overusing, Some(1_000_000));
            assert_eq!(a.rate(), want, "queue {q_ms} ms");
        }
        // Acknowledged far under the band (a transient, not the link
        // found full where it was): beta, and the band is learnt anew.
        a.set_rate_for_test(1_100_000);
        a.set_queue_delay(Some(5 * MS));
        t += 300 * MS;
        a.update(t, BandwidthUsage::Overusing, Some(500_000));
        assert_eq!(a.rate(), 425_000);
        // No queuing delay measured: beta.
        a.set_queue_delay(None);
        a.set_rate_for_test(600_000);
        t += 300 * MS;
        a.update(t, BandwidthUsage::Overusing, Some(500_000));
        assert_eq!(a.rate(), 425_000);
        // Within the band again with a short queue, but sharing the
        // bottleneck with flows that may not decrease: beta.
        a.set_queue_delay(Some(5 * MS));
        for shared in [false, true] {
            a.set_shared_bottleneck(shared);
            a.set_rate_for_test(600_000);
            t += 300 * MS;
            a.update(t, BandwidthUsage::Overusing, Some(500_000));
            assert_eq!(a.rate(), if shared { 425_000 } else { 485_000 });
        }
    }

    #[test]
    fn near_convergence_increase_is_additive() {
        let t0 = Instant::now();
        let mut a = AimdRateControl::new(1_000_000, 10_000, 5_000_000);
        a.set_rtt(50 * MS);
        a.update(t0, BandwidthUsage::Overusing, Some(600_000));
        assert_eq!(a.rate(), 510_000);
        let per_s = a.additive_increase_per_second();
        // 510 kbit/s at 30 fps: 17 kbit frames of 2 packets, 8.5 kbit each,
        // one per 150 ms.
        assert!((per_s - 56_667.0).abs() < 1.0, "{per_s}");
        let mut t = t0;
        for _ in 0..=10 {
            t += 100 * MS;
            a.update(t, BandwidthUsage::Normal, Some(600_000));
        }
        // One second of additive increase; the packet grows with the rate,
        // so the gain lies between the rates at the start and at the end.
        let gained = a.rate() as f64 - 510_000.0;
        let end_per_s = a.additive_increase_per_second();
        assert!(gained > per_s && gained < end_per_s, "{gained}");
        // Acked far above the last capacity: back to multiplicative.
        t += 100 * MS;
        let before = a.rate() as f64;
        a.update(t, BandwidthUsage::Normal, Some(1_500_000));
        t += 1000 * MS;
        a.update(t, BandwidthUsage::Normal, Some(1_500_000));
        assert!(a.rate() as f64 > before * 1.07);
    }

    #[test]
    fn above_the_last_capacity_increase_slows_to_two_percent_a_second() {
        let t0 = Instant::now();
        let mut a = AimdRateControl::new(400_000, 10_000, 5_000_000);
        a.set_rtt(MS);
        // The link was found full at 300 kbit/s acknowledged.
        a.update(t0, BandwidthUsage::Overusing, Some(300_000));
        assert_eq!(a.rate(), 255_000);
        let (lo, hi) = a.capacity_band().unwrap();
        assert!(lo < 300_000 && hi > 300_000, "{lo} {hi}");
        // Below it: one packet per response time (about 43 kbit/s each
        // second at 255 kbit/s and a 1 ms round trip).
        let mut t = t0;
        for _ in 0..=10 {
            t += 100 * MS;
            a.update(t, BandwidthUsage::Normal, Some(280_000));
        }
        assert!(a.rate() > 295_000, "{}", a.rate());
        // Above it: 2% of 300 kbit/s a second, 6 kbit/s.
        while a.rate() < 300_000 {
            t += 100 * MS;
            a.update(t, BandwidthUsage::Normal, Some(290_000));
        }
        let from = a.rate();
        for _ in 0..10 {
            t += 100 * MS;
            a.update(t, BandwidthUsage::Normal, Some(295_000));
        }
        let gained = a.rate() - from;
        assert!((5_900..=6_100).contains(&gained), "{gained}");
    }

    #[test]
    fn competing_decrease_is_0_8_and_growth_a_third_of_a_packet_per_round_trip() {
        let t0 = Instant::now();
        let mut a = AimdRateControl::new(200_000, 10_000, 5_000_000);
        a.set_competing(true);
        a.set_rtt(400 * MS);
        // To 0.8 x the rate, whatever was acknowledged.
        assert_eq!(a.competing_decrease(t0), 160_000);
        assert_eq!(a.competing_decrease(t0), 128_000);
        a.set_rate_for_test(120_000);
        assert_eq!(a.competing_decrease(t0), 96_000);
        // Then 1/3 x 1500 bytes per RTT per RTT: 12000 / 3 / 0.16, 25
        // kbit/s a second, whatever the rate.
        a.update(t0, BandwidthUsage::Normal, Some(96_000));
        let mut t = t0;
        for _ in 0..10 {
            t += 100 * MS;
            a.update(t, BandwidthUsage::Normal, Some(96_000));
        }
        let gained = a.rate() as f64 - 96_000.0;
        let expected = COMPETING_ALPHA * COMPETING_PACKET_BYTES * 8.0 / 0.16;
        assert!((expected - 25_000.0).abs() < 1.0, "{expected}");
        assert!((gained - expected).abs() < 100.0, "{gained} {expected}");
    }

    #[test]
    fn increase_is_capped_by_acked_bitrate() {
        let t0 = Instant::now();
        let mut a = AimdRateControl::new(300_000, 10_000, 5_000_000);
        a.update(t0, BandwidthUsage::Normal, Some(100_000));
        for i in 1..50 {
            a.update(t0 + i * 100 * MS, BandwidthUsage::Normal, Some(100_000));
        }
        // 300k is already above 1.5 × 100k + 10k: not lowered, not raised.
        assert_eq!(a.rate(), 300_000);
        let mut b = AimdRateControl::new(100_000, 10_000, 5_000_000);
        b.update(t0, BandwidthUsage::Normal, Some(100_000));
        for i in 1..100 {
            b.update(t0 + i * 100 * MS, BandwidthUsage::Normal, Some(100_000));
        }
        assert_eq!(b.rate(), 160_000);
    }
}

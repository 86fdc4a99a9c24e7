//! Over-use detector with an adaptive threshold (draft-ietf-rmcat-gcc-02
//! §5.4).
//!
//! The modified trend m(i) is compared with a threshold del_var_th(i).
//! Over-use is signalled only when m(i) has stayed above the threshold for
//! more than [`OVERUSE_TIME`] (measured in send time between groups), has
//! done so for more than one group, and is not decreasing: one noisy group
//! does not halve anyone's video. Under-use is m(i) below -del_var_th(i).
//!
//! The threshold follows |m(i)| (§5.4, eq. for del_var_th):
//! `th += dt * k * (|m| - th)` with `k = K_U` when |m| is above the
//! threshold and `K_D` below, so it rises when the trend swings (a
//! concurrent TCP flow keeps it from starving GCC) and falls back when the
//! swings end. The draft's gains (K_u = 0.01, K_d = 0.00018 per ms) belong
//! to its Kalman m(i); with the trendline's scaled slope they let one large
//! over-use lift the threshold for tens of seconds (measured here: after a
//! 2.5 → 0.6 Mbit/s drop the threshold sat near 80 ms and a 300 ms queue
//! went unnoticed). The gains below are the ones libwebrtc pairs with the
//! trendline (K_u = 0.0087, K_d = 0.039): still adaptive, but the threshold
//! returns to the trend's level within a fraction of a second. Samples more than
//! [`MAX_ADAPT_JUMP`] above it are not let in (a sudden spike is a real
//! over-use, not noise), `dt` is capped at 100 ms, and the result is held in
//! [`MIN_THRESHOLD`, `MAX_THRESHOLD`].

/// Initial threshold, ms (§5.6).
pub const INITIAL_THRESHOLD: f64 = 12.5;
/// Gain when |m| exceeds the threshold, per ms (K_u; see the module doc).
pub const K_U: f64 = 0.0087;
/// Gain when |m| is below the threshold, per ms (K_d; see the module doc).
pub const K_D: f64 = 0.039;
/// Lowest threshold, ms.
pub const MIN_THRESHOLD: f64 = 6.0;
/// Highest threshold, ms.
pub const MAX_THRESHOLD: f64 = 600.0;
/// Over-use must last this long, ms (§5.4, overuse_time_th).
pub const OVERUSE_TIME: f64 = 10.0;
/// |m| further than this above the threshold does not move it, ms.
pub const MAX_ADAPT_JUMP: f64 = 15.0;
/// Longest time step the adaptation integrates, ms.
const MAX_ADAPT_STEP: f64 = 100.0;

/// The detector's verdict, the signal of §5.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BandwidthUsage {
    /// Neither over- nor under-using.
    #[default]
    Normal,
    /// Queues are draining: the path has room.
    Underusing,
    /// Queues are growing: send less.
    Overusing,
}

/// The §5.4 state machine.
#[derive(Debug)]
pub struct OveruseDetector {
    threshold: f64,
    time_over_using: f64,
    overuse_count: u32,
    prev_trend: f64,
    last_update_ms: Option<f64>,
    state: BandwidthUsage,
}

impl Default for OveruseDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl OveruseDetector {
    /// A detector in [`BandwidthUsage::Normal`] with the initial threshold.
    pub fn new() -> Self {
        Self {
            threshold: INITIAL_THRESHOLD,
            time_over_using: -1.0,
            overuse_count: 0,
            prev_trend: 0.0,
            last_update_ms: None,
            state: BandwidthUsage::Normal,
        }
    }

    /// Current threshold, ms.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Current verdict.
    pub fn state(&self) -> BandwidthUsage {
        self.state
    }

    /// One group: its modified trend `m`, its send spacing, how many deltas
    /// the filter has seen, and the receiver time of the sample (ms; it
    /// only paces the threshold adaptation).
    pub fn detect(
        &mut self,
        m: f64,
        send_delta_ms: f64,
        num_deltas: u32,
        at_ms: f64,
    ) -> BandwidthUsage {
        if num_deltas < 2 {
            return self.state;
        }
        if m > self.threshold {
            if self.time_over_using < 0.0 {
                // First sample above: count half of it, the crossing happened
                // somewhere in between.
                self.time_over_using = send_delta_ms / 2.0;
            } else {
                self.time_over_using += send_delta_ms;
            }
            self.overuse_count += 1;
            if self.time_over_using > OVERUSE_TIME && self.overuse_count > 1 && m >= self.prev_trend
            {
                self.time_over_using = 0.0;
                self.overuse_count = 0;
                self.state = BandwidthUsage::Overusing;
            }
        } else if m < -self.threshold {
            self.time_over_using = -1.0;
            self.overuse_count = 0;
            self.state = BandwidthUsage::Underusing;
        } else {
            self.time_over_using = -1.0;
            self.overuse_count = 0;
            self.state = BandwidthUsage::Normal;
        }
        self.prev_trend = m;
        self.adapt(m, at_ms);
        self.state
    }

    fn adapt(&mut self, m: f64, at_ms: f64) {
        let last = *self.last_update_ms.get_or_insert(at_ms);
        let dt = (at_ms - last).clamp(0.0, MAX_ADAPT_STEP);
        self.last_update_ms = Some(at_ms);
        if m.abs() > self.threshold + MAX_ADAPT_JUMP {
            return;
        }
        let k = if m.abs() < self.threshold { K_D } else { K_U };
        self.threshold += k * (m.abs() - self.threshold) * dt;
        self.threshold = self.threshold.clamp(MIN_THRESHOLD, MAX_THRESHOLD);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sustained_rising_trend_signals_overuse_a_single_spike_does_not() {
        let mut d = OveruseDetector::new();
        let mut t = 0.0;
        let mut step = |d: &mut OveruseDetector, m: f64| {
            t += 10.0;
            d.detect(m, 10.0, 60, t)
        };
        assert_eq!(step(&mut d, 0.0), BandwidthUsage::Normal);
        // One sample above: not yet (5 ms counted, one group).
        assert_eq!(step(&mut d, 20.0), BandwidthUsage::Normal);
        assert_eq!(step(&mut d, 1.0), BandwidthUsage::Normal);
        // Two rising samples above: 5 + 10 ms > 10 ms, count 2.
        assert_eq!(step(&mut d, 20.0), BandwidthUsage::Normal);
        assert_eq!(step(&mut d, 21.0), BandwidthUsage::Overusing);
        assert_eq!(step(&mut d, -30.0), BandwidthUsage::Underusing);
        assert_eq!(step(&mut d, 0.0), BandwidthUsage::Normal);
    }

    #[test]
    fn falling_trend_above_threshold_is_not_overuse() {
        let mut d = OveruseDetector::new();
        let mut t = 0.0;
        for m in [20.0, 19.0, 18.0, 17.0] {
            t += 10.0;
            assert_eq!(d.detect(m, 10.0, 60, t), BandwidthUsage::Normal);
        }
    }

    #[test]
    fn threshold_follows_the_trend_within_bounds() {
        let mut d = OveruseDetector::new();
        // |m| = 20, within 15 ms of 12.5: one 10 ms step moves the threshold
        // K_U × 10 of the way up.
        d.detect(20.0, 10.0, 60, 0.0);
        d.detect(20.0, 10.0, 60, 10.0);
        let up = d.threshold();
        assert!((up - (12.5 + K_U * 10.0 * 7.5)).abs() < 1e-9, "{up}");
        // |m| = 0 for 10 ms: K_D × 10 of the way down.
        d.detect(0.0, 10.0, 60, 20.0);
        let down = d.threshold();
        assert!((down - (up - K_D * 10.0 * up)).abs() < 1e-9, "{down}");
        // A long time at zero: the floor.
        for i in 3..200 {
            d.detect(0.0, 10.0, 60, 10.0 * i as f64);
        }
        assert_eq!(d.threshold(), MIN_THRESHOLD);
        // A spike far above the threshold does not drag it up.
        d.detect(100.0, 10.0, 60, 2000.0);
        assert_eq!(d.threshold(), MIN_THRESHOLD);
        // A long steady climb does, up to the ceiling.
        for i in 0..100_000 {
            let m = (MIN_THRESHOLD + i as f64).min(2000.0);
            d.detect(m, 10.0, 60, 2010.0 + 10.0 * i as f64);
        }
        assert_eq!(d.threshold(), MAX_THRESHOLD);
    }
}

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
//! threshold and `K_D` below, so it rises fast when the trend swings (a
//! concurrent TCP flow) and sinks slowly otherwise; samples more than
//! [`MAX_ADAPT_JUMP`] above it are not let in (a sudden spike is a real
//! over-use, not noise), `dt` is capped at 100 ms, and the result is held in
//! [`MIN_THRESHOLD`, `MAX_THRESHOLD`].

/// Initial threshold, ms (§5.6).
pub const INITIAL_THRESHOLD: f64 = 12.5;
/// Gain when |m| exceeds the threshold (§5.6, K_u).
pub const K_U: f64 = 0.01;
/// Gain when |m| is below the threshold (§5.6, K_d).
pub const K_D: f64 = 0.00018;
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
    fn threshold_adapts_up_fast_down_slowly_within_bounds() {
        let mut d = OveruseDetector::new();
        let mut t = 0.0;
        // |m| = 20 (within 15 of 12.5): K_U pulls the threshold up.
        for _ in 0..100 {
            t += 10.0;
            d.detect(20.0, 10.0, 60, t);
        }
        let high = d.threshold();
        assert!(high > 19.0 && high <= 20.0, "{high}");
        // Zero trend for 1 s: K_D pulls it down, but slowly.
        for _ in 0..100 {
            t += 10.0;
            d.detect(0.0, 10.0, 60, t);
        }
        let low = d.threshold();
        assert!(low < high - 2.0 && low > 15.0, "{low}");
        for _ in 0..100_000 {
            t += 10.0;
            d.detect(0.0, 10.0, 60, t);
        }
        assert_eq!(d.threshold(), MIN_THRESHOLD);
        // A spike far above the threshold does not drag it up.
        t += 10.0;
        d.detect(100.0, 10.0, 60, t);
        assert_eq!(d.threshold(), MIN_THRESHOLD);
    }
}

//! Loss-based control (draft-ietf-rmcat-gcc-02 §6).
//!
//! Each time feedback has covered at least [`MIN_PACKETS`] packets, the loss
//! fraction p over them updates the bound As:
//!
//! - p < 2 %: `As = 1.05 × As` (the path is not losing: room to grow),
//! - p > 10 %: `As = As × (1 - 0.5 p)`,
//! - otherwise As is kept.
//!
//! Before each update As is first brought down to the delay-based estimate
//! (§6: the target is the minimum of both, so a bound floating far above the
//! target would make a later decrease meaningless). Decreases happen at most
//! once per RTT + 300 ms, the time the previous one needs to show.

use std::time::{Duration, Instant};

/// Below this loss fraction the bound increases (§6).
pub const LOW_LOSS: f64 = 0.02;
/// Above this loss fraction the bound decreases (§6).
pub const HIGH_LOSS: f64 = 0.10;
/// Increase factor (§6).
pub const INCREASE: f64 = 1.05;
/// Packets a loss fraction is computed over, at least.
pub const MIN_PACKETS: usize = 20;
/// Added to the RTT to space decreases.
pub const DECREASE_SPACING: Duration = Duration::from_millis(300);

/// The loss-based bound As.
#[derive(Debug)]
pub struct LossBasedControl {
    estimate: u64,
    min: u64,
    max: u64,
    lost: usize,
    expected: usize,
    fraction: f64,
    last_decrease: Option<Instant>,
    rtt: Duration,
}

impl LossBasedControl {
    /// Starts unconstrained (at `max`): the first update brings it to the
    /// delay-based estimate.
    pub fn new(min: u64, max: u64) -> Self {
        let max = max.max(min);
        Self {
            estimate: max,
            min,
            max,
            lost: 0,
            expected: 0,
            fraction: 0.0,
            last_decrease: None,
            rtt: crate::aimd::DEFAULT_RTT,
        }
    }

    /// The bound, bit/s.
    pub fn estimate(&self) -> u64 {
        self.estimate
    }

    /// Loss fraction of the last completed interval, 0..=1.
    pub fn loss_fraction(&self) -> f64 {
        self.fraction
    }

    /// Latest round-trip time.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = rtt;
    }

    /// New bounds.
    pub fn set_bounds(&mut self, min: u64, max: u64) {
        self.min = min;
        self.max = max.max(min);
        self.estimate = self.estimate.clamp(self.min, self.max);
    }

    /// Raises the bound to at least `bps` (a successful probe showed the
    /// path carries it).
    pub fn raise_to(&mut self, bps: u64) {
        self.estimate = self.estimate.max(bps).clamp(self.min, self.max);
    }

    /// Counts one feedback message's losses; updates the bound when enough
    /// packets have been covered. Returns the bound.
    pub fn on_feedback(
        &mut self,
        now: Instant,
        lost: usize,
        received: usize,
        delay_based: u64,
    ) -> u64 {
        self.lost += lost;
        self.expected += lost + received;
        if self.expected < MIN_PACKETS {
            return self.estimate;
        }
        let p = self.lost as f64 / self.expected as f64;
        self.fraction = p;
        self.lost = 0;
        self.expected = 0;
        let base = self.estimate.min(delay_based);
        let new = if p < LOW_LOSS {
            (base as f64 * INCREASE) as u64
        } else if p > HIGH_LOSS {
            let spaced = self
                .last_decrease
                .is_none_or(|t| now.saturating_duration_since(t) >= self.rtt + DECREASE_SPACING);
            if spaced {
                self.last_decrease = Some(now);
                (base as f64 * (1.0 - 0.5 * p)) as u64
            } else {
                base
            }
        } else {
            base
        };
        self.estimate = new.clamp(self.min, self.max);
        self.estimate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn low_loss_increases_five_percent_over_the_delay_estimate() {
        let t0 = Instant::now();
        let mut l = LossBasedControl::new(10_000, 10_000_000);
        // Not enough packets yet: nothing decided.
        assert_eq!(l.on_feedback(t0, 0, 10, 1_000_000), 10_000_000);
        assert_eq!(l.on_feedback(t0, 0, 10, 1_000_000), 1_050_000);
        assert_eq!(l.loss_fraction(), 0.0);
    }

    #[test]
    fn moderate_loss_holds_heavy_loss_decreases_once_per_interval() {
        let t0 = Instant::now();
        let mut l = LossBasedControl::new(10_000, 10_000_000);
        l.set_rtt(100 * MS);
        // 5 %: hold at the delay-based estimate.
        assert_eq!(l.on_feedback(t0, 1, 19, 1_000_000), 1_000_000);
        // 20 %: × 0.9.
        assert_eq!(l.on_feedback(t0, 4, 16, 1_000_000), 900_000);
        assert!((l.loss_fraction() - 0.2).abs() < 1e-12);
        // Again 200 ms later: too soon (RTT + 300 ms), held.
        assert_eq!(l.on_feedback(t0 + 200 * MS, 4, 16, 1_000_000), 900_000);
        assert_eq!(l.on_feedback(t0 + 400 * MS, 4, 16, 1_000_000), 810_000);
    }

    #[test]
    fn a_probe_raises_the_bound() {
        let mut l = LossBasedControl::new(10_000, 10_000_000);
        l.on_feedback(Instant::now(), 1, 19, 300_000);
        l.raise_to(2_000_000);
        assert_eq!(l.estimate(), 2_000_000);
    }
}

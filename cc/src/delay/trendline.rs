//! Arrival-time filter (draft-ietf-rmcat-gcc-02 §5.3), in the form current
//! libwebrtc uses instead of the draft's Kalman filter: a trendline.
//!
//! Each group's delay variation d(i) is accumulated into a one-way queuing
//! delay (relative to an unknown base), smoothed exponentially, and the
//! slope of a least-squares line through the last [`WINDOW`] smoothed
//! samples against arrival time is the delay *trend*: dimensionless, the
//! fraction by which the path's queue grows per unit of time. The detector
//! sees it scaled by the number of deltas so far (capped at
//! [`MAX_DELTA_SCALE`]) and by [`THRESHOLD_GAIN`], so it compares with the
//! same millisecond threshold the draft's m(i) does.

use std::collections::VecDeque;
use std::time::Duration;

/// Samples in the regression window.
pub const WINDOW: usize = 20;
/// Exponential smoothing of the accumulated delay.
pub const SMOOTHING: f64 = 0.9;
/// Gain applied to the slope before comparison with the threshold.
pub const THRESHOLD_GAIN: f64 = 4.0;
/// Cap on the delta-count scale of the trend.
pub const MAX_DELTA_SCALE: u32 = 60;

/// Trendline over the smoothed accumulated delay.
#[derive(Debug)]
pub struct Trendline {
    samples: VecDeque<(f64, f64)>,
    first_arrival: Option<Duration>,
    accumulated_ms: f64,
    smoothed_ms: f64,
    num_deltas: u32,
    slope: f64,
}

impl Default for Trendline {
    fn default() -> Self {
        Self::new()
    }
}

impl Trendline {
    /// A filter with no samples.
    pub fn new() -> Self {
        Self {
            samples: VecDeque::with_capacity(WINDOW + 1),
            first_arrival: None,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            num_deltas: 0,
            slope: 0.0,
        }
    }

    /// Adds one group's delay variation (ms) measured at `arrival`
    /// (receiver clock) and returns the modified trend, in ms-equivalent
    /// units comparable with the detector's threshold.
    pub fn update(&mut self, delay_variation_ms: f64, arrival: Duration) -> f64 {
        self.num_deltas = self.num_deltas.saturating_add(1).min(MAX_DELTA_SCALE);
        let first = *self.first_arrival.get_or_insert(arrival);
        self.accumulated_ms += delay_variation_ms;
        self.smoothed_ms = SMOOTHING * self.smoothed_ms + (1.0 - SMOOTHING) * self.accumulated_ms;
        let x = arrival.saturating_sub(first).as_secs_f64() * 1000.0;
        self.samples.push_back((x, self.smoothed_ms));
        if self.samples.len() > WINDOW {
            self.samples.pop_front();
        }
        if self.samples.len() == WINDOW {
            if let Some(slope) = linear_slope(&self.samples) {
                self.slope = slope;
            }
        }
        self.modified_trend()
    }

    /// The raw slope of the last regression.
    pub fn slope(&self) -> f64 {
        self.slope
    }

    /// Number of deltas seen (saturating at [`MAX_DELTA_SCALE`]).
    pub fn num_deltas(&self) -> u32 {
        self.num_deltas
    }

    /// Slope scaled for the detector.
    pub fn modified_trend(&self) -> f64 {
        f64::from(self.num_deltas) * self.slope * THRESHOLD_GAIN
    }
}

/// Least-squares slope of y over x; `None` when all x coincide.
fn linear_slope(points: &VecDeque<(f64, f64)>) -> Option<f64> {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), &(x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), &(x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    (den > 0.0).then(|| num / den)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_is_exact() {
        let pts: VecDeque<(f64, f64)> = (0..10).map(|i| (i as f64, 3.0 * i as f64 + 1.0)).collect();
        assert!((linear_slope(&pts).unwrap() - 3.0).abs() < 1e-12);
        let flat: VecDeque<(f64, f64)> = (0..3).map(|_| (1.0, 2.0)).collect();
        assert_eq!(linear_slope(&flat), None);
    }

    #[test]
    fn growing_queue_gives_positive_trend_steady_gives_zero() {
        let mut t = Trendline::new();
        // Groups every 10 ms, no queue growth.
        for i in 0..40u64 {
            t.update(0.0, Duration::from_millis(10 * i));
        }
        assert!(t.modified_trend().abs() < 1e-9);
        // Queue grows by 1 ms per 10 ms group: slope tends to 0.1.
        for i in 40..200u64 {
            t.update(1.0, Duration::from_millis(10 * i));
        }
        assert!((t.slope() - 0.1).abs() < 0.01, "{}", t.slope());
        let expected = 60.0 * 0.1 * THRESHOLD_GAIN;
        assert!((t.modified_trend() - expected).abs() < 3.0);
        // Draining queue: negative trend.
        for i in 200..300u64 {
            t.update(-1.0, Duration::from_millis(10 * i));
        }
        assert!(t.slope() < -0.09);
    }
}

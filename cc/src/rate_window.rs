//! Sums over the last one to two seconds, in two one-second buckets: what
//! [`crate::send_mix`] and [`crate::encoder_overshoot`] measure rates with.
//! Fixed size, nothing allocated.

use std::time::{Duration, Instant};

/// One bucket's length.
pub const BUCKET: Duration = Duration::from_secs(1);

/// `N` counters summed per bucket; the window is the previous bucket (when
/// it is complete and recent) and the current one.
#[derive(Debug, Clone)]
pub struct RateWindow<const N: usize> {
    /// When the current bucket began.
    start: Option<Instant>,
    current: [f64; N],
    /// The bucket before the current one, when it was complete and ended
    /// where the current one began.
    previous: Option<[f64; N]>,
}

impl<const N: usize> Default for RateWindow<N> {
    fn default() -> Self {
        RateWindow {
            start: None,
            current: [0.0; N],
            previous: None,
        }
    }
}

impl<const N: usize> RateWindow<N> {
    /// Moves to the bucket `now` falls in. A gap of more than one bucket
    /// forgets everything: the window then holds only what comes next.
    fn roll(&mut self, now: Instant) {
        let Some(start) = self.start else {
            self.start = Some(now);
            return;
        };
        let age = now.saturating_duration_since(start);
        if age < BUCKET {
            return;
        }
        if age < 2 * BUCKET {
            self.previous = Some(self.current);
            self.start = Some(start + BUCKET);
        } else {
            self.previous = None;
            self.start = Some(now);
        }
        self.current = [0.0; N];
    }

    /// Adds `amount` to counter `k` at `now` (`k` < `N`).
    pub fn add(&mut self, now: Instant, k: usize, amount: f64) {
        self.roll(now);
        if let Some(c) = self.current.get_mut(k) {
            *c += amount;
        }
    }

    /// The sums over the window and its length, once a whole bucket lies
    /// behind `now` (`None` before: too little to measure a rate on).
    pub fn sums(&self, now: Instant) -> Option<([f64; N], Duration)> {
        let start = self.start?;
        let age = now.saturating_duration_since(start);
        if age >= 2 * BUCKET {
            // Nothing recorded for over a bucket: nothing recent.
            return None;
        }
        if age >= BUCKET {
            // The current bucket is complete; the previous one is too old.
            return Some((self.current, age));
        }
        let previous = self.previous?;
        let mut s = self.current;
        for (a, b) in s.iter_mut().zip(previous) {
            *a += b;
        }
        Some((s, BUCKET + age))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_need_a_whole_bucket_and_cover_at_most_two() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut w = RateWindow::<1>::default();
        w.add(t0, 0, 10.0);
        assert!(w.sums(ms(500)).is_none());
        w.add(ms(900), 0, 10.0);
        w.add(ms(1200), 0, 5.0);
        let (s, span) = w.sums(ms(1500)).unwrap();
        assert_eq!(s[0], 25.0);
        assert_eq!(span, Duration::from_millis(1500));
        // The first bucket leaves the window.
        w.add(ms(2100), 0, 1.0);
        let (s, span) = w.sums(ms(2100)).unwrap();
        assert_eq!(s[0], 6.0);
        assert_eq!(span, Duration::from_millis(1100));
    }

    #[test]
    fn a_long_silence_forgets_the_past() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut w = RateWindow::<1>::default();
        w.add(t0, 0, 10.0);
        w.add(ms(1100), 0, 10.0);
        assert!(w.sums(ms(3500)).is_none());
        w.add(ms(5000), 0, 3.0);
        assert!(w.sums(ms(5500)).is_none());
        assert_eq!(w.sums(ms(6000)).unwrap().0[0], 3.0);
    }

    #[test]
    fn an_index_out_of_range_is_ignored() {
        let t0 = Instant::now();
        let mut w = RateWindow::<1>::default();
        w.add(t0, 3, 10.0);
        assert_eq!(w.sums(t0 + BUCKET).unwrap().0[0], 0.0);
    }
}

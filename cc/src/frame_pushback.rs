//! Frame skipping while the link's queue stands, and only while it helps.
//!
//! An encoder cannot go below some bitrate at a given size (libvpx at
//! 320x180 and 30 fps: about 50 kbit/s of the test pattern whatever it is
//! asked), so a queue filled at start-up (the first key frame, probes a
//! shaper's bucket let through) would otherwise drain at the few kbit/s
//! the link has spare: measured at 150 kbit/s, 10 s of 200-450 ms. As
//! libwebrtc's congestion-window pushback, skipping every other capture
//! drains it: on above [`HIGH`] of queuing delay (the estimator's measure
//! over the base one-way delay), off below [`LOW`].
//!
//! A queue can be someone else's without the estimator's competing mode
//! (which turns skipping off) knowing it: a TCP flow on the machine (BBR,
//! this kernel's default, which paces at its model of the link instead of
//! filling the buffer) kept a `tbf` queue at 60-150 ms with no drop for
//! a whole call, and the call skipped every other frame (15 fps) for
//! nothing; against such a flow on `scripts/shaped-call --tcp --tcp-cc
//! bbr`, main's calls skipped 199-238 frames and showed 17.7-19.4 fps.
//! Skipping that does not drain the queue is not draining our queue:
//! when, after [`DRAIN_WINDOW`] of skipping, the queue has not fallen
//! under [`DRAINED`] of what it was when the window began, skipping stops
//! and stays off until the queue has been under [`LOW`] once. While the
//! estimator takes the queue for a competitor's, nothing is skipped.

use std::time::{Duration, Instant};

/// Queuing delay above which skipping starts.
pub const HIGH: Duration = Duration::from_millis(150);
/// Queuing delay below which skipping stops (and may start again).
pub const LOW: Duration = Duration::from_millis(60);
/// How long skipping gets to show that it drains the queue.
pub const DRAIN_WINDOW: Duration = Duration::from_secs(3);
/// A queue at more than this fraction of where a window began has not
/// drained. Our own start-up queue on a 150 kbit/s `tbf` link drains
/// slowly, skipping or not (the encoder at its floor, audio and headers
/// fill most of the link): 580 ms to 457 ms in 2 s, 406 ms in 3 s. At
/// 0.75 of a 2 s window skipping stopped there, and the queue took 10 s
/// to drain.
pub const DRAINED: f64 = 0.9;

/// See the module documentation.
#[derive(Debug, Default, Clone)]
pub struct FramePushback {
    /// While skipping: when the current window began and the queue then.
    window: Option<(Instant, Duration)>,
    /// Skipping did not drain the queue: off until it is under [`LOW`].
    given_up: bool,
    /// Times skipping was given up.
    given_up_count: u64,
}

impl FramePushback {
    /// A new reading of the estimator: its queuing delay and whether it
    /// takes the queue for a competing flow's. Returns whether to skip
    /// every other capture now.
    pub fn update(&mut self, now: Instant, queue: Option<Duration>, competing: bool) -> bool {
        if competing {
            // A competing flow's queue: skipping frames would not drain it.
            self.window = None;
            return false;
        }
        let Some(q) = queue else {
            return self.skipping();
        };
        if q < LOW {
            self.window = None;
            self.given_up = false;
            return false;
        }
        match self.window {
            None if q > HIGH && !self.given_up => self.window = Some((now, q)),
            Some((start, at_start)) if now.saturating_duration_since(start) >= DRAIN_WINDOW => {
                if q.as_secs_f64() > DRAINED * at_start.as_secs_f64() {
                    self.window = None;
                    self.given_up = true;
                    self.given_up_count += 1;
                } else {
                    self.window = Some((now, q));
                }
            }
            _ => {}
        }
        self.skipping()
    }

    /// Whether every other capture is skipped.
    pub fn skipping(&self) -> bool {
        self.window.is_some()
    }

    /// How many times skipping stopped because it did not drain the queue.
    pub fn given_up(&self) -> u64 {
        self.given_up_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds one reading every 100 ms for `secs` seconds, the queue given
    /// by `q(i)`; returns the skip decision of each.
    fn feed(
        p: &mut FramePushback,
        t: &mut Instant,
        secs: u64,
        competing: bool,
        q: impl Fn(u64) -> u64,
    ) -> Vec<bool> {
        (0..secs * 10)
            .map(|i| {
                *t += ms(100);
                p.update(*t, Some(ms(q(i))), competing)
            })
            .collect()
    }

    #[test]
    fn a_queue_that_drains_while_frames_are_skipped_keeps_them_skipped_until_it_is_short() {
        let mut p = FramePushback::default();
        let mut t = Instant::now();
        // Under the high mark: nothing skipped.
        assert!(feed(&mut p, &mut t, 1, false, |_| 120).iter().all(|s| !s));
        // 400 ms, draining 8 ms every reading: skipped down to 60 ms,
        // across a window's check (160 ms after 3 s, under 0.9 x 400).
        let s = feed(&mut p, &mut t, 4, false, |i| 400 - 8 * i);
        assert!(s.iter().all(|&s| s), "{s:?}");
        assert!(p.update(t + ms(100), Some(ms(61)), false));
        assert!(!p.update(t + ms(200), Some(ms(59)), false));
        assert_eq!(p.given_up(), 0);
    }

    #[test]
    fn a_queue_that_skipping_does_not_drain_stops_the_skipping_until_it_is_short_once() {
        let mut p = FramePushback::default();
        let mut t = Instant::now();
        // A competitor's queue held at 150 ms after a spike to 160: skipped
        // for the first window only (3 s, and 150 is over 0.9 x 160).
        let s = feed(&mut p, &mut t, 1, false, |_| 160);
        assert!(s.iter().all(|&s| s));
        let s = feed(&mut p, &mut t, 5, false, |_| 150);
        assert!(s[..20].iter().all(|&s| s), "{s:?}");
        assert!(s[20..].iter().all(|&s| !s), "{s:?}");
        assert_eq!(p.given_up(), 1);
        // Above the high mark again: still not skipped...
        assert!(!p.update(t + ms(100), Some(ms(300)), false));
        // ...until the queue has been short once.
        assert!(!p.update(t + ms(200), Some(ms(50)), false));
        assert!(p.update(t + ms(300), Some(ms(300)), false));
    }

    #[test]
    fn a_competing_flows_queue_is_never_skipped_for() {
        let mut p = FramePushback::default();
        let mut t = Instant::now();
        assert!(feed(&mut p, &mut t, 1, false, |_| 300).iter().all(|&s| s));
        assert!(feed(&mut p, &mut t, 3, true, |_| 300).iter().all(|&s| !s));
        // No longer competing, the standing queue is skipped for again.
        assert!(p.update(t + ms(100), Some(ms(300)), false));
        // No reading: the decision holds.
        assert!(p.update(t + ms(200), None, false));
    }
}

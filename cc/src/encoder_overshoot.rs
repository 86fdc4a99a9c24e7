//! How much more an encoder produces than it is asked for. libvpx's rate
//! control overshoots its target (by up to `rc_overshoot_pct`, 15% in
//! libwebrtc's settings) and key frames come on top; the simulator's fake
//! codec meets its target. [`EncoderOvershoot`] measures the ratio of
//! what came out to what was asked over the last one to two seconds
//! ([`crate::rate_window`]), so that the owner can ask for the budget
//! ([`crate::send_mix`]) divided by it, as libwebrtc's encoder bitrate
//! adjuster divides by each layer's measured utilisation. It is never less
//! than 1: an encoder that undershoots (a still picture) is not asked for
//! more than the budget.

use std::time::{Duration, Instant};

use crate::rate_window::RateWindow;

const PRODUCED: usize = 0;
const ASKED: usize = 1;

/// The largest overshoot taken: more is a key frame in a window too short
/// to average it out, and dividing by it would starve the next frames.
pub const MAX_OVERSHOOT: f64 = 1.5;

/// The longest gap between frames counted at the target: a paused or
/// skipping encoder is not asked for bits over its silence.
pub const MAX_FRAME_GAP: Duration = Duration::from_millis(200);

/// Bits an encoder must have been asked for before its ratio counts.
pub const MIN_ASKED_BITS: f64 = 16_000.0;

/// See the module documentation.
#[derive(Debug, Default, Clone)]
pub struct EncoderOvershoot {
    window: RateWindow<2>,
    last_frame: Option<Instant>,
}

impl EncoderOvershoot {
    /// The encoder produced a frame of `bytes` while asked for
    /// `target_bps`: the frame is set against the target over the time
    /// since the previous frame (at most [`MAX_FRAME_GAP`]).
    pub fn on_frame(&mut self, now: Instant, bytes: usize, target_bps: u64) {
        let gap = self
            .last_frame
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
            .min(MAX_FRAME_GAP);
        self.last_frame = Some(now);
        self.window.add(now, PRODUCED, bytes as f64 * 8.0);
        self.window
            .add(now, ASKED, target_bps as f64 * gap.as_secs_f64());
    }

    /// Produced over asked as of the latest frame, within
    /// `1.0..=MAX_OVERSHOOT`; 1 until measured.
    pub fn factor(&self) -> f64 {
        match self.last_frame.and_then(|t| self.window.sums(t)) {
            Some((s, _)) if s[ASKED] >= MIN_ASKED_BITS => {
                (s[PRODUCED] / s[ASKED]).clamp(1.0, MAX_OVERSHOOT)
            }
            _ => 1.0,
        }
    }

    /// `budget_bps` divided by the measured overshoot: what to ask of the
    /// encoder so that what it produces fits the budget.
    pub fn target_for(&self, budget_bps: u64) -> u64 {
        (budget_bps as f64 / self.factor()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 30 fps for `secs` seconds at `target`, each frame `scale` × its
    /// share of the target.
    fn run(o: &mut EncoderOvershoot, t0: Instant, secs: u64, target: u64, scale: f64) -> Instant {
        let frames = secs * 30;
        let per_frame = target as f64 / 30.0 / 8.0 * scale;
        let mut now = t0;
        for i in 0..frames {
            now = t0 + Duration::from_micros(i * 33_333);
            o.on_frame(now, per_frame as usize, target);
        }
        now
    }

    #[test]
    fn an_encoder_that_overshoots_by_15_percent_is_asked_for_less() {
        let t0 = Instant::now();
        let mut o = EncoderOvershoot::default();
        run(&mut o, t0, 3, 600_000, 1.15);
        let f = o.factor();
        assert!((f - 1.15).abs() < 0.01, "{f}");
        let t = o.target_for(600_000);
        assert!((t as f64 - 600_000.0 / 1.15).abs() < 6_000.0, "{t}");
    }

    #[test]
    fn an_exact_or_undershooting_encoder_gets_the_whole_budget() {
        let t0 = Instant::now();
        let mut o = EncoderOvershoot::default();
        run(&mut o, t0, 3, 600_000, 1.0);
        assert!((o.factor() - 1.0).abs() < 0.01);
        let mut o = EncoderOvershoot::default();
        run(&mut o, t0, 3, 600_000, 0.5);
        assert_eq!(o.factor(), 1.0);
        assert_eq!(o.target_for(500_000), 500_000);
    }

    #[test]
    fn a_pause_is_not_asked_for_bits_and_a_key_frame_is_bounded() {
        let t0 = Instant::now();
        // 30% over the target, with 700 ms without a frame in the middle:
        // the pause is not counted as bits asked for (it would hide the
        // overshoot: 1.3 × 1.5 s produced over 2.2 s asked is under 1).
        let mut o = EncoderOvershoot::default();
        let now = run(&mut o, t0, 1, 300_000, 1.3);
        let resumed = now + Duration::from_millis(700);
        run(&mut o, resumed, 1, 300_000, 1.3);
        // (The first frame after the pause still counts 200 ms asked.)
        let f = o.factor();
        assert!(f > 1.1 && f <= 1.3, "{f}");
        // A key frame worth 3 s of the target alone in its window.
        let mut o = EncoderOvershoot::default();
        let now = run(&mut o, t0, 2, 300_000, 1.0);
        o.on_frame(now + Duration::from_millis(33), 112_500, 300_000);
        assert_eq!(o.factor(), MAX_OVERSHOOT);
    }

    #[test]
    fn nothing_measured_is_no_overshoot() {
        let t0 = Instant::now();
        let o = EncoderOvershoot::default();
        assert_eq!(o.factor(), 1.0);
        let mut o = EncoderOvershoot::default();
        o.on_frame(t0, 100_000, 1_000);
        assert_eq!(o.factor(), 1.0);
    }
}

//! The resolution ladder of a single-layer call: the encoder's picture
//! size follows its bitrate target, so that a slow link gets a smaller
//! picture at the full frame rate instead of a large one that the encoder
//! cannot fit (libvpx then overshoots its target, the link's queue stands
//! full and every frame is late).
//!
//! The measure is bits per pixel per frame at the current size
//! (`target / (width × height × fps)`). Below [`DOWN_BPP`] for
//! [`DOWN_AFTER`] the picture halves (each side); when the next larger
//! size would get at least [`UP_BPP`] for [`UP_AFTER`] it doubles again.
//! The gap between the two and the longer wait up keep a link's sawtooth
//! from switching back and forth: each switch costs a key frame.
//!
//! Figures (the test pattern, libvpx, VP8): at 640x360 and 30 fps the
//! switch down happens below about 104 kbit/s of video and back up above
//! about 152 kbit/s; a 300 kbit/s link (about 190 kbit/s of video) keeps
//! 640x360, a 150 kbit/s one (about 65 kbit/s) gets 320x180.

use std::time::{Duration, Instant};

/// Bits per pixel per frame below which the picture halves.
pub const DOWN_BPP: f64 = 0.015;
/// Bits per pixel per frame the next larger size must get to go back up.
pub const UP_BPP: f64 = 0.022;
/// How long the target must stay low before halving.
pub const DOWN_AFTER: Duration = Duration::from_millis(1000);
/// How long the target must stay high before doubling.
pub const UP_AFTER: Duration = Duration::from_secs(4);
/// Fewest pixels on the wider side of a picture the ladder makes (half of
/// it on the other); sides stay even.
pub const MIN_SIDE: u32 = 80;

/// Which step of the ladder the encoder is on: `0` the source's size, `n`
/// each side halved `n` times.
#[derive(Debug, Clone)]
pub struct ResolutionLadder {
    width: u32,
    height: u32,
    fps: u32,
    max_step: u32,
    step: u32,
    low_since: Option<Instant>,
    high_since: Option<Instant>,
    switches: u64,
}

impl ResolutionLadder {
    /// A ladder for a `width`×`height` source at `fps`, at full size.
    pub fn new(width: u32, height: u32, fps: u32) -> ResolutionLadder {
        let mut max_step = 0;
        let fits = |s: u32| {
            let (w, h) = (width >> s, height >> s);
            w >= MIN_SIDE && h >= MIN_SIDE / 2 && w % 2 == 0 && h % 2 == 0 && s < 8
        };
        while fits(max_step + 1) {
            max_step += 1;
        }
        ResolutionLadder {
            width,
            height,
            fps: fps.max(1),
            max_step,
            step: 0,
            low_since: None,
            high_since: None,
            switches: 0,
        }
    }

    /// The picture size at the current step.
    #[cfg(test)]
    pub fn size(&self) -> (u32, u32) {
        (self.width >> self.step, self.height >> self.step)
    }

    /// Switches made so far.
    #[cfg(test)]
    pub fn switches(&self) -> u64 {
        self.switches
    }

    fn bpp(&self, bps: u64, step: u32) -> f64 {
        let pixels = f64::from(self.width >> step) * f64::from(self.height >> step);
        bps as f64 / (pixels * f64::from(self.fps))
    }

    /// The encoder's target at `now`; `Some(step)` when the picture size
    /// changes to that step.
    pub fn on_target(&mut self, now: Instant, bps: u64) -> Option<u32> {
        let low = self.step < self.max_step && self.bpp(bps, self.step) < DOWN_BPP;
        let high = self.step > 0 && self.bpp(bps, self.step - 1) >= UP_BPP;
        self.low_since = if low {
            self.low_since.or(Some(now))
        } else {
            None
        };
        self.high_since = if high {
            self.high_since.or(Some(now))
        } else {
            None
        };
        let down = self
            .low_since
            .is_some_and(|t| now.saturating_duration_since(t) >= DOWN_AFTER);
        let up = self
            .high_since
            .is_some_and(|t| now.saturating_duration_since(t) >= UP_AFTER);
        if !(down || up) {
            return None;
        }
        self.step = if down { self.step + 1 } else { self.step - 1 };
        self.low_since = None;
        self.high_since = None;
        self.switches += 1;
        Some(self.step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Feeds `bps` every 250 ms for `ms`; the steps switched to.
    fn feed(l: &mut ResolutionLadder, t: &mut Instant, bps: u64, ms: u64) -> Vec<u32> {
        let mut out = Vec::new();
        for _ in 0..ms / 250 {
            *t += 250 * MS;
            out.extend(l.on_target(*t, bps));
        }
        out
    }

    #[test]
    fn a_low_target_halves_the_picture_and_a_high_one_restores_it() {
        let mut t = Instant::now();
        let mut l = ResolutionLadder::new(640, 360, 30);
        assert_eq!(l.size(), (640, 360));
        // A 300 kbit/s link's video (about 190 kbit/s) stays at full size.
        assert!(feed(&mut l, &mut t, 190_000, 5000).is_empty());
        // A 150 kbit/s link's (about 65 kbit/s): half, after a second.
        assert!(feed(&mut l, &mut t, 65_000, 750).is_empty());
        assert_eq!(feed(&mut l, &mut t, 65_000, 5000), [1]);
        assert_eq!(l.size(), (320, 180));
        // A dip of the sawtooth does not go lower (65 k is 0.038 bpp at
        // 320x180), nor does a short high spike go back up.
        assert!(feed(&mut l, &mut t, 140_000, 2000).is_empty());
        assert!(feed(&mut l, &mut t, 65_000, 2000).is_empty());
        // Well above 0.022 bpp at 640x360 for 4 s: back to full size.
        assert_eq!(feed(&mut l, &mut t, 200_000, 5000), [0]);
        assert_eq!(l.switches(), 2);
    }

    #[test]
    fn the_smallest_step_keeps_even_sides_of_at_least_80_by_40() {
        let mut t = Instant::now();
        let mut l = ResolutionLadder::new(640, 360, 30);
        assert_eq!(feed(&mut l, &mut t, 1_000, 10_000), [1, 2]);
        assert_eq!(l.size(), (160, 90));
        let mut small = ResolutionLadder::new(160, 90, 30);
        assert!(feed(&mut small, &mut t, 1_000, 10_000).is_empty());
        let mut hd = ResolutionLadder::new(1280, 720, 30);
        assert_eq!(feed(&mut hd, &mut t, 1_000, 10_000), [1, 2, 3]);
        assert_eq!(hd.size(), (160, 90));
    }
}

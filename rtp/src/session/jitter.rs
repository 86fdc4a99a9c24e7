//! A jitter buffer of complete frames: holds frames (a VP8 frame from the
//! assembler, one Opus packet) and releases them in RTP timestamp order at
//! a playout time that follows the sender's clock plus an adaptive delay.
//!
//! The playout time of a frame with (extended) timestamp `ts` is
//!
//! ```text
//! base_arrival + (ts − base_ts) / clock_rate + offset + target
//! ```
//!
//! `base_*` is the first frame. `offset` follows the transit time of the
//! stream relative to that first frame: it drops at once to a frame that
//! arrives earlier than the mapping says (the first frame was delayed), and
//! creeps up by 1/128 of the difference otherwise, so sender clock drift is
//! followed. `target` is `jitter_multiplier × J` clamped to
//! [`min_delay`, `max_delay`], where `J` is the interarrival jitter of
//! RFC 3550 §6.4.1 (`J += (|D| − J) / 16`, `D` the change of transit time
//! between two consecutive frames) measured on frames instead of packets.
//! A frame is never held longer than `max_delay` after it arrived.
//!
//! [`min_delay`]: JitterConfig::min_delay
//! [`max_delay`]: JitterConfig::max_delay

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Limits and tuning of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Smallest target delay.
    pub min_delay: Duration,
    /// Largest target delay, and the longest a frame is held after it
    /// arrived.
    pub max_delay: Duration,
    /// The target delay is this many times the jitter estimate (before
    /// clamping).
    pub jitter_multiplier: u32,
    /// Most frames held; when full the oldest (lowest timestamp) frame is
    /// dropped and counted in [`JitterStats::overflow_dropped`].
    pub max_frames: usize,
    /// A frame whose transit differs from the stream's by more than this
    /// is out of range (a timestamp jump, a sender restart); two such
    /// frames in a row re-anchor the buffer on the second one
    /// ([`JitterStats::resyncs`]).
    pub resync_threshold: Duration,
}

impl Default for JitterConfig {
    fn default() -> JitterConfig {
        JitterConfig {
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(500),
            jitter_multiplier: 3,
            max_frames: 256,
            resync_threshold: Duration::from_secs(3),
        }
    }
}

/// Counters of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterStats {
    /// Frames accepted by `push`.
    pub pushed: u64,
    /// Frames handed out by `pop`.
    pub released: u64,
    /// Frames dropped on arrival because their timestamp is older than the
    /// last one released.
    pub late_dropped: u64,
    /// Frames dropped on arrival because a frame with the same timestamp
    /// is held or was the last released.
    pub duplicates: u64,
    /// Frames dropped because the buffer was full.
    pub overflow_dropped: u64,
    /// Frames accepted after their playout time (played at once).
    pub late_played: u64,
    /// Times the buffer re-anchored its timeline.
    pub resyncs: u64,
}

#[derive(Debug, Clone)]
struct Held<T> {
    ext: u64,
    arrival: Instant,
    payload: T,
}

/// Frames in, frames out in timestamp order at their playout time.
/// Generic over the payload so audio and video share it.
///
/// The playout time of a frame with (extended) timestamp `ts` is
/// `base_arrival + (ts − base_ts) / clock_rate + offset + target`, at most
/// `max_delay` after the frame arrived. `base_*` is the first frame;
/// `offset` follows the stream's transit time against it (down at once,
/// up by 1/128 of the difference per frame, so clock drift is followed);
/// `target` is `jitter_multiplier ×` the RFC 3550 §6.4.1 interarrival
/// jitter of the frames, clamped to [`min_delay`, `max_delay`].
///
/// Frames with a timestamp older than the last released are dropped
/// ([`JitterStats::late_dropped`]); a newer one that arrives after its
/// playout time is due at once ([`JitterStats::late_played`]). Timestamps
/// are extended to 64 bits across wraps; two frames in a row whose transit
/// is off by more than `resync_threshold` re-anchor the timeline (a
/// sender restart or a timestamp jump). Memory is bounded by `max_frames`.
///
/// [`min_delay`]: JitterConfig::min_delay
/// [`max_delay`]: JitterConfig::max_delay
///
/// Call [`JitterBuffer::push`] for each complete frame, and
/// [`JitterBuffer::pop`] until it returns `None` whenever
/// [`JitterBuffer::poll_timeout`] is reached (and after each push, since a
/// late frame is due at once).
///
/// ```
/// use meshrtc_rtp::session::{JitterBuffer, JitterConfig};
/// use std::time::{Duration, Instant};
/// let t0 = Instant::now();
/// let mut jb = JitterBuffer::new(90_000, JitterConfig::default());
/// jb.push(t0, 3000, "frame 1");
/// assert_eq!(jb.pop(t0), None); // held for the 20 ms minimum delay
/// let due = jb.poll_timeout().unwrap();
/// assert_eq!(due, t0 + Duration::from_millis(20));
/// assert_eq!(jb.pop(due), Some((3000, "frame 1")));
/// ```
#[derive(Debug, Clone)]
pub struct JitterBuffer<T> {
    config: JitterConfig,
    clock_rate: u64,
    /// First frame's arrival and extended timestamp.
    base: Option<(Instant, u64)>,
    /// Highest extended timestamp seen (reference of the extension).
    highest: u64,
    /// Transit offset against the base, ns.
    offset_ns: i128,
    /// Transit of the previous in-range frame, ns.
    last_transit_ns: Option<i128>,
    /// Jitter estimate, ns.
    jitter_ns: i128,
    /// Whether the previous push was out of range.
    out_of_range: bool,
    last_released: Option<u64>,
    /// Increasing extended timestamps.
    frames: VecDeque<Held<T>>,
    stats: JitterStats,
}

/// The 64-bit value with low 32 bits `ts` nearest to `reference`.
fn extend_ts_near(reference: u64, ts: u32) -> u64 {
    let diff = ts.wrapping_sub(reference as u32);
    if diff < 0x8000_0000 {
        reference.saturating_add(u64::from(diff))
    } else {
        let back = (1u64 << 32) - u64::from(diff);
        reference
            .checked_sub(back)
            .unwrap_or(reference.saturating_add(u64::from(diff)))
    }
}

fn ns(d: Duration) -> i128 {
    i128::try_from(d.as_nanos()).unwrap_or(i128::MAX)
}

/// `at` moved by `delta_ns` (either way), `None` if `Instant` cannot hold it.
fn shift(at: Instant, delta_ns: i128) -> Option<Instant> {
    let mag = u64::try_from(delta_ns.unsigned_abs()).ok()?;
    if delta_ns >= 0 {
        at.checked_add(Duration::from_nanos(mag))
    } else {
        at.checked_sub(Duration::from_nanos(mag))
    }
}

/// `a − b` in ns.
fn diff_ns(a: Instant, b: Instant) -> i128 {
    if a >= b {
        ns(a - b)
    } else {
        -ns(b - a)
    }
}

impl<T> JitterBuffer<T> {
    /// A buffer for a stream with this RTP clock rate (Hz; 0 is taken as
    /// 1).
    pub fn new(clock_rate: u32, config: JitterConfig) -> JitterBuffer<T> {
        JitterBuffer {
            config,
            clock_rate: u64::from(clock_rate.max(1)),
            base: None,
            highest: 0,
            offset_ns: 0,
            last_transit_ns: None,
            jitter_ns: 0,
            out_of_range: false,
            last_released: None,
            frames: VecDeque::new(),
            stats: JitterStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The extended timestamp of the last released frame. Extended
    /// timestamps only grow, across 32-bit wraps and resyncs.
    pub fn last_released(&self) -> Option<u64> {
        self.last_released
    }

    /// The interarrival jitter estimate.
    pub fn jitter(&self) -> Duration {
        Duration::from_nanos(u64::try_from(self.jitter_ns.max(0)).unwrap_or(u64::MAX))
    }

    /// The current target delay: `jitter_multiplier × jitter`, within
    /// [`min_delay`, `max_delay`].
    ///
    /// [`min_delay`]: JitterConfig::min_delay
    /// [`max_delay`]: JitterConfig::max_delay
    pub fn target_delay(&self) -> Duration {
        let want = self.jitter().saturating_mul(self.config.jitter_multiplier);
        want.min(self.config.max_delay).max(self.config.min_delay)
    }

    /// Time of extended timestamp `ext` on the arrival clock relative to the
    /// base arrival, ns (`ts` ticks at `clock_rate`).
    fn media_ns(&self, ext: u64, base_ts: u64) -> i128 {
        let ticks = i128::from(ext) - i128::from(base_ts);
        ticks * 1_000_000_000 / i128::from(self.clock_rate)
    }

    /// Transit of a frame against the base mapping, ns.
    fn transit_ns(&self, now: Instant, ext: u64) -> i128 {
        match self.base {
            Some((at, ts)) => diff_ns(now, at) - self.media_ns(ext, ts),
            None => 0,
        }
    }

    fn playout(&self, f: &Held<T>) -> Option<Instant> {
        let latest = f.arrival.checked_add(self.config.max_delay);
        let (at, ts) = self.base?;
        let rel = self.media_ns(f.ext, ts) + self.offset_ns + ns(self.target_delay());
        match (shift(at, rel), latest) {
            (Some(p), Some(l)) => Some(p.min(l)),
            (p, l) => p.or(l),
        }
    }

    /// Takes a complete frame with RTP timestamp `rtp_ts` that arrived at
    /// `now`. Returns `false` if it was dropped (late or duplicate, see
    /// [`JitterStats`]); a frame accepted may still push out the oldest
    /// one when the buffer is full.
    pub fn push(&mut self, now: Instant, rtp_ts: u32, payload: T) -> bool {
        if self.base.is_none() {
            let ext = (1u64 << 32) + u64::from(rtp_ts);
            self.base = Some((now, ext));
            self.highest = ext;
            self.last_transit_ns = Some(0);
            return self.insert(now, ext, payload);
        }
        let mut ext = extend_ts_near(self.highest, rtp_ts);
        let transit = self.transit_ns(now, ext);
        let threshold = ns(self.config.resync_threshold);
        if (transit - self.offset_ns).abs() > threshold {
            if self.out_of_range {
                // Two in a row: the stream jumped. Re-anchor on this frame,
                // in an epoch above everything seen so released extended
                // timestamps keep growing; frames still held are now due.
                let floor = self.highest.max(self.last_released.unwrap_or(0));
                if ext <= floor {
                    ext = ((floor >> 32) + 1) << 32 | u64::from(rtp_ts);
                }
                self.base = Some((now, ext));
                self.offset_ns = 0;
                self.last_transit_ns = Some(0);
                self.out_of_range = false;
                self.stats.resyncs += 1;
            } else {
                // A lone outlier does not move the estimates.
                self.out_of_range = true;
            }
        } else {
            self.out_of_range = false;
            if let Some(last) = self.last_transit_ns {
                let d = (transit - last).abs();
                self.jitter_ns += (d - self.jitter_ns) / 16;
            }
            self.last_transit_ns = Some(transit);
            if transit < self.offset_ns {
                self.offset_ns = transit;
            } else {
                self.offset_ns += (transit - self.offset_ns) / 128;
            }
        }
        self.highest = self.highest.max(ext);
        self.insert(now, ext, payload)
    }

    fn insert(&mut self, now: Instant, ext: u64, payload: T) -> bool {
        if let Some(last) = self.last_released {
            if ext < last {
                self.stats.late_dropped += 1;
                return false;
            }
            if ext == last {
                self.stats.duplicates += 1;
                return false;
            }
        }
        let pos = match self.frames.binary_search_by_key(&ext, |f| f.ext) {
            Ok(_) => {
                self.stats.duplicates += 1;
                return false;
            }
            Err(pos) => pos,
        };
        let held = Held {
            ext,
            arrival: now,
            payload,
        };
        if self.playout(&held).is_some_and(|p| p <= now) {
            self.stats.late_played += 1;
        }
        self.frames.insert(pos, held);
        self.stats.pushed += 1;
        while self.frames.len() > self.config.max_frames.max(1) {
            self.frames.pop_front();
            self.stats.overflow_dropped += 1;
        }
        true
    }

    /// The oldest frame if its playout time has come: (RTP timestamp,
    /// payload). Call until `None`.
    #[must_use]
    pub fn pop(&mut self, now: Instant) -> Option<(u32, T)> {
        let front = self.frames.front()?;
        if self.playout(front).is_some_and(|p| p > now) {
            return None;
        }
        let f = self.frames.pop_front()?;
        self.last_released = Some(f.ext);
        self.stats.released += 1;
        Some((f.ext as u32, f.payload))
    }

    /// When the oldest held frame is due; `None` if nothing is held.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let front = self.frames.front()?;
        Some(self.playout(front).unwrap_or(front.arrival))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn jb() -> JitterBuffer<u32> {
        JitterBuffer::new(90_000, JitterConfig::default())
    }

    /// Drains everything due at `now`.
    fn drain(jb: &mut JitterBuffer<u32>, now: Instant) -> Vec<(u32, u32)> {
        std::iter::from_fn(|| jb.pop(now)).collect()
    }

    #[test]
    fn in_order_frames_with_constant_delay_play_at_arrival_plus_min_delay() {
        let t0 = Instant::now();
        let mut jb = jb();
        for i in 0..10u32 {
            // 30 fps: 3000 ticks at 90 kHz, exactly 33.333… ms; use 2970
            // ticks = 33 ms so the times are exact.
            let at = t0 + 33 * MS * i;
            assert!(jb.push(at, 1000 + 2970 * i, i));
            assert_eq!(jb.poll_timeout(), Some(at + 20 * MS));
            assert_eq!(jb.pop(at + 19 * MS), None);
            assert_eq!(jb.pop(at + 20 * MS), Some((1000 + 2970 * i, i)));
        }
        assert_eq!(jb.target_delay(), 20 * MS);
        assert_eq!(jb.jitter(), Duration::ZERO);
        let s = jb.stats();
        assert_eq!((s.pushed, s.released, s.late_played), (10, 10, 0));
    }

    #[test]
    fn frames_reordered_within_the_delay_play_in_timestamp_order() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(48_000, JitterConfig::default());
        // 20 ms Opus frames (960 ticks); frame 1 overtakes frame 0 by 5 ms.
        jb.push(t0, 960, 1);
        jb.push(t0 + 5 * MS, 0, 0);
        jb.push(t0 + 20 * MS, 1920, 2);
        let mut out = Vec::new();
        let mut now = t0;
        for _ in 0..100 {
            let Some(t) = jb.poll_timeout() else { break };
            now = now.max(t);
            out.extend(drain_any(&mut jb, now));
        }
        assert_eq!(out, [(0, 0), (960, 1), (1920, 2)]);
        assert_eq!(jb.stats().late_dropped, 0);
    }

    fn drain_any<T>(jb: &mut JitterBuffer<T>, now: Instant) -> Vec<(u32, T)> {
        std::iter::from_fn(|| jb.pop(now)).collect()
    }

    #[test]
    fn jitter_raises_the_target_delay_within_bounds() {
        let t0 = Instant::now();
        let config = JitterConfig {
            min_delay: 20 * MS,
            max_delay: 200 * MS,
            ..JitterConfig::default()
        };
        let mut jb: JitterBuffer<u32> = JitterBuffer::new(90_000, config);
        // Arrivals alternate 0 and 30 ms late against a 33 ms cadence.
        for i in 0..40u32 {
            let late = if i % 2 == 1 { 30 * MS } else { Duration::ZERO };
            jb.push(t0 + 33 * MS * i + late, 2970 * i, i);
            let _ = drain(&mut jb, t0 + 33 * MS * i);
        }
        // J converges towards 30 ms; 3 × J is well above the minimum.
        assert!(jb.jitter() > 20 * MS, "{:?}", jb.jitter());
        assert!(jb.target_delay() > 60 * MS && jb.target_delay() <= 200 * MS);
        // Much more jitter: the target stops at max_delay.
        for i in 40..200u32 {
            let late = if i % 2 == 1 { 900 * MS } else { Duration::ZERO };
            jb.push(t0 + 33 * MS * i + late, 2970 * i, i);
            let _ = drain(&mut jb, t0 + 33 * MS * i + late);
            assert!(jb.target_delay() <= 200 * MS && jb.target_delay() >= 20 * MS);
        }
        assert_eq!(jb.target_delay(), 200 * MS);
        // Steady arrivals again: the estimate decays back towards min.
        for i in 200..400u32 {
            jb.push(t0 + 33 * MS * i + 900 * MS, 2970 * i, i);
            let _ = drain(&mut jb, t0 + 33 * MS * i + 900 * MS);
        }
        assert_eq!(jb.target_delay(), 20 * MS);
    }

    #[test]
    fn frames_older_than_the_last_released_are_dropped_and_counted() {
        let t0 = Instant::now();
        let mut jb = jb();
        jb.push(t0, 3000, 1);
        jb.push(t0 + 33 * MS, 6000, 2);
        assert_eq!(drain(&mut jb, t0 + 100 * MS), [(3000, 1), (6000, 2)]);
        assert!(!jb.push(t0 + 110 * MS, 0, 0)); // older than 6000
        assert!(!jb.push(t0 + 110 * MS, 6000, 2)); // the last released again
        let s = jb.stats();
        assert_eq!((s.late_dropped, s.duplicates, s.pushed), (1, 1, 2));
        assert!(jb.is_empty());
    }

    #[test]
    fn a_frame_after_its_playout_time_plays_at_once_and_is_counted() {
        let t0 = Instant::now();
        let mut jb = jb();
        jb.push(t0, 0, 0);
        assert_eq!(drain(&mut jb, t0 + 20 * MS), [(0, 0)]);
        // Due at 33 + 20 ms; arrives at 80 ms.
        assert!(jb.push(t0 + 80 * MS, 2970, 1));
        assert_eq!(jb.stats().late_played, 1);
        assert_eq!(jb.pop(t0 + 80 * MS), Some((2970, 1)));
    }

    #[test]
    fn a_full_buffer_drops_its_oldest_frame() {
        let t0 = Instant::now();
        let config = JitterConfig {
            max_frames: 3,
            ..JitterConfig::default()
        };
        let mut jb: JitterBuffer<u32> = JitterBuffer::new(90_000, config);
        for i in 0..5u32 {
            jb.push(t0, 2970 * i, i);
        }
        assert_eq!(jb.len(), 3);
        assert_eq!(jb.stats().overflow_dropped, 2);
        let out = drain(&mut jb, t0 + Duration::from_secs(1));
        assert_eq!(out.iter().map(|f| f.1).collect::<Vec<_>>(), [2, 3, 4]);
    }

    #[test]
    fn the_32_bit_timestamp_wraps_without_reordering() {
        let t0 = Instant::now();
        let mut jb = jb();
        let start = u32::MAX - 2970 * 2;
        let mut out = Vec::new();
        for i in 0..6u32 {
            let at = t0 + 33 * MS * i;
            jb.push(at, start.wrapping_add(2970 * i), i);
            out.extend(drain(&mut jb, at + 20 * MS));
        }
        assert_eq!(
            out.iter().map(|f| f.1).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
        assert_eq!(out[3].0, 2969); // wrapped
        assert_eq!(jb.last_released(), Some((2u64 << 32) + 2969 + 2 * 2970));
        assert_eq!(jb.stats().late_dropped, 0);
    }

    #[test]
    fn poll_timeout_is_the_playout_time_of_the_oldest_frame() {
        let t0 = Instant::now();
        let mut jb = jb();
        assert_eq!(jb.poll_timeout(), None);
        jb.push(t0, 2970, 1);
        assert_eq!(jb.poll_timeout(), Some(t0 + 20 * MS));
        // An older frame arrives 1 ms later, 34 ms late against the
        // mapping: it is due at once, before the newer one.
        jb.push(t0 + MS, 0, 0);
        let t = jb.poll_timeout().unwrap();
        assert!(t < t0 + 20 * MS);
        assert_eq!(jb.pop(t - Duration::from_nanos(1)), None);
        assert_eq!(jb.pop(t), Some((0, 0)));
        let t2 = jb.poll_timeout().unwrap();
        assert!(t2 > t);
        assert_eq!(jb.pop(t2), Some((2970, 1)));
        assert_eq!(jb.poll_timeout(), None);
    }

    #[test]
    fn a_timestamp_jump_resyncs_after_two_frames() {
        let t0 = Instant::now();
        let mut jb = jb();
        jb.push(t0, 5_000_000, 0);
        assert_eq!(drain(&mut jb, t0 + 20 * MS), [(5_000_000, 0)]);
        // The sender restarts with a much lower timestamp.
        assert!(!jb.push(t0 + 33 * MS, 100, 1)); // lone outlier: late
        assert!(jb.push(t0 + 66 * MS, 3070, 2)); // second: resync
        assert_eq!(jb.stats().resyncs, 1);
        assert_eq!(jb.poll_timeout(), Some(t0 + 86 * MS));
        assert_eq!(drain(&mut jb, t0 + 86 * MS), [(3070, 2)]);
        assert!(jb.last_released().unwrap() > (1 << 32) + 5_000_000);
        assert!(jb.push(t0 + 99 * MS, 6040, 3));
        assert_eq!(drain(&mut jb, t0 + 119 * MS), [(6040, 3)]);
    }
}

//! A standing queue: the delay the bottleneck's queue adds, measured
//! against the smallest one-way delay seen recently.
//!
//! GCC's detector (draft-ietf-rmcat-gcc-02 §5.3–5.4) reacts to the *trend*
//! of the delay: a queue that fills is overuse, one that drains underuse.
//! A queue that stays full has no trend. That happens when the sender's
//! real rate sits just above the path (an encoder overshooting its target,
//! audio and packet overheads on top): the queue fills once, tail drops
//! are too few for the loss bound (§6, 10%), and every packet then waits
//! hundreds of milliseconds while the trend says "normal". Measured on a
//! real `tc tbf` link at 300 kbit/s with a 300 ms queue, before this: a
//! 240 ms standing delay for the last quarter of a 20 s call.
//!
//! So the one-way delay of each acknowledged packet (arrival on the
//! receiver's clock minus send time on ours: an unknown offset, which the
//! difference to the minimum removes) is compared with the minimum over the
//! last [`BASE_WINDOW`] (kept as per-second minima, as LEDBAT keeps its base
//! delay, RFC 6817 §3.4.2). When the median of a feedback's packets stays
//! more than [`THRESHOLD`] above it for [`SUSTAIN`], the controller is told
//! to treat it as overuse, at most once per [`BACKOFF`] while the queue
//! drains. Clock drift between the two ends is parts per million: over the
//! window it is far below the threshold.
//!
//! A queue can also be someone else's: a loss-based flow (TCP, RFC 8867
//! §5.6) fills the bottleneck's buffer until it overflows, whatever we
//! send. Backing off then only hands the link over: measured on a 300
//! kbit/s `tbf` link with a 300 ms queue and one TCP flow, the call sat at
//! its minimum bitrate (25% of the link) at 15 frames a second. A queue
//! that has stood above [`THRESHOLD`] for [`COMPETING_AFTER`] and
//! overflowed in that time (packets of ours lost) while we kept decreasing
//! is taken as a competing flow's: [`StandingQueue::competing`] says so,
//! and the controller then lets losses bound the rate (§6) instead of the
//! delay, as GCC's loss-based controller is meant to when it competes with
//! loss-based flows. Our own standing queue does not overflow: the
//! decreases keep it under the buffer. When the queue falls back under the
//! threshold for [`COMPETING_CLEARS`], the competitor is gone.
//!
//! A call that starts on a link a loss-based flow already fills is never
//! squeezed: it starts, and stays, near its floor. Measured in a CI run
//! on a clean clone (300 kbit/s `tbf`, 300 ms queue, the TCP flow and the
//! call started together): the queue stood for the whole call, the call's
//! target sat at 63-92 kbit/s (floor 50) and took 30% of the link. So a
//! queue that has stood, and overflowed, for [`PINNED_AFTER`] while what
//! we get through stays under [`PINNED_FACTOR`] times our floor is a
//! competitor's too: backing off further has nothing left to give, and
//! no queue of ours outlasts that long at such a rate unless the link
//! itself is under twice our floor (then losses bound the rate, which is
//! what the floor does anyway).
//!
//! While competing, our own losses are a poor congestion signal: a `tbf`
//! or drop-tail buffer limited in bytes drops a full-sized TCP segment
//! when our smaller packets still fit, so the competitor backs off and we
//! do not, until our growth overflows the buffer in a burst that costs
//! the call whole frames (measured on a 300 kbit/s `tbf` link with a
//! 300 ms queue against a CUBIC flow: the call took 0.72-0.74 of the link
//! and froze for 1-2 s at each of its loss events, 23 fps). The buffer's
//! depth is visible though: the queuing delay measured when packets of
//! ours were lost is where it overflows. The highest such delay of the
//! last [`PEAK_WINDOW`] is kept, and a queue within [`NEAR_FULL`] of it
//! ([`StandingQueue::near_full`]) is taken as a loss event (the buffer
//! about to overflow, the competitor's loss), on which the controller
//! backs off before its own packets are dropped. Without a loss in the
//! window there is no such reference: the highest delay seen is not the
//! buffer's depth when the competitor does not fill it (a TCP flow whose
//! congestion control is BBR, which paces at its model of the link, kept
//! 100-150 ms there), and backing off from it would hand the link over.
//!
//! A stand that lasts [`PINNED_QUIET_AFTER`] while we sit near our floor
//! is a competitor's even if it never overflows: measured on the same
//! link, such a TCP flow held the queue at 100-150 ms for the whole call
//! with no drop at all, the standing-queue decreases kept the call at its
//! floor (share 0.26) and frame skipping on (15 fps). So is a stand that
//! lasts as long while it squeezes us without a loss of ours: against a
//! CUBIC flow on a 1 Mbit/s `tbf` link the buffer (limited in bytes)
//! dropped only the competitor's 1500-byte segments while our smaller
//! paced packets fitted, and the call sat at 0.14 of the link.
//!
//! A call that starts on a link a competitor already fills never sees the
//! queue empty: its base includes the competitor's standing queue, and
//! the delay it reads swings with the competitor's cycle, 15-150 ms where
//! the real queue is 300-450 ms, under [`THRESHOLD`] now and then. The
//! stand of the quiet criteria (no overflow needed, [`PINNED_QUIET_AFTER`])
//! therefore ends only when the queue has stayed under the threshold for
//! [`STAND_GAP`], not at the first feedback under it. The stand of the
//! overflow criteria still ends at the first: a queue of our own after the
//! link's capacity fell also dips as it drains, and counted through its
//! dips it was taken for a competitor's (a mesh member's path falling
//! from 5 Mbit/s to 200 kbit/s, `mesh_netsim`). Measured on the real
//! 1 Mbit/s link behind a router, the flow started before the call:
//! competing mode never came on and the call held 0.14 of the IP bytes;
//! now it comes on at 10-14 s and the call held 0.16-0.27 of 10-25 s,
//! still growing.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::feedback::AckedPacket;

/// How long the minimum one-way delay is remembered.
pub const BASE_WINDOW: Duration = Duration::from_secs(60);
/// Queuing delay above which a queue counts as standing.
pub const THRESHOLD: Duration = Duration::from_millis(50);
/// How long the queuing delay must stay above [`THRESHOLD`].
pub const SUSTAIN: Duration = Duration::from_millis(500);
/// Least time between two decreases this detector asks for.
pub const BACKOFF: Duration = Duration::from_millis(1000);
/// How long a queue must stand, and overflow, to be a competitor's.
pub const COMPETING_AFTER: Duration = Duration::from_secs(3);
/// When, into a stand, our acknowledged rate is taken as the reference.
pub const STAND_REFERENCE_AFTER: Duration = Duration::from_secs(1);
/// Our acknowledged rate under this fraction of the reference: squeezed.
pub const SQUEEZED: f64 = 0.8;
/// How long a queue must stand, and overflow, while we are pinned near
/// our floor to be a competitor's.
pub const PINNED_AFTER: Duration = Duration::from_secs(6);
/// Acknowledged rates under this multiple of the floor count as pinned.
pub const PINNED_FACTOR: f64 = 2.0;
/// How long a queue must stand, without overflowing, while we are pinned
/// near our floor to be a competitor's.
pub const PINNED_QUIET_AFTER: Duration = Duration::from_secs(8);
/// How long the queue must stay short for a stand to end.
pub const STAND_GAP: Duration = Duration::from_millis(1000);
/// How long the queue must stay short for the competitor to be gone.
pub const COMPETING_CLEARS: Duration = Duration::from_secs(1);
/// How long the queuing delay at a loss (the buffer's depth) is
/// remembered.
pub const PEAK_WINDOW: Duration = Duration::from_secs(30);
/// A queue at this fraction of the delay at a loss is taken as full. At
/// 0.4 the queue a competitor keeps filled read "full" nearly all the
/// time, and the call backed off each time it had grown back, two or
/// three times per cycle of the competitor's (on the model, with session
/// 12's other competing changes: 0.34, 0.19 and 0.15 of 300 kbit/s, 1 and
/// 2 Mbit/s `tbf` links against CUBIC, 0.39 of a 1 Mbit/s FIFO against
/// Reno). At 0.8 its events come nearer the competitor's losses: 0.41,
/// 0.37 and 0.36, and 0.44. 0.85 took a little more on the model (0.46,
/// 0.40, 0.37) but over a real 300 kbit/s `tbf` link overflowed the buffer
/// with the call's own packets: 2 and 5 key frames once settled in two of
/// three calls, 17.9 fps in one (`cc/tests/bottleneck.rs`, BENCHMARKS.md).
pub const NEAR_FULL: f64 = 0.8;

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct StandingQueue {
    /// Our clock's origin for send times.
    origin: Option<Instant>,
    /// `(second, minimum one-way delay in µs)`, oldest first.
    minima: VecDeque<(u64, i64)>,
    above_since: Option<Instant>,
    last_signal: Option<Instant>,
    queue_delay: Option<Duration>,
    signals: u64,
    scratch: Vec<i64>,
    /// Since when the queue has stood above the threshold (any length).
    high_since: Option<Instant>,
    /// Packets of ours were lost while it stood.
    overflowed: bool,
    /// Since when the queue has been under the threshold.
    low_since: Option<Instant>,
    /// Since when the queue has stood with no dip of [`STAND_GAP`] under
    /// the threshold (the quiet criteria's stand).
    long_since: Option<Instant>,
    /// Our acknowledged rate [`STAND_REFERENCE_AFTER`] into that stand.
    long_acked: Option<u64>,
    competing: bool,
    /// Our latest acknowledged rate (see [`StandingQueue::set_acked`]).
    acked: Option<u64>,
    /// Our acknowledged rate [`STAND_REFERENCE_AFTER`] into the stand.
    stand_acked: Option<u64>,
    /// The controller's minimum bitrate (see [`StandingQueue::set_floor`]).
    floor: Option<u64>,
    /// (start of a bucket of [`PEAK_BUCKET`], highest queuing delay at a
    /// loss in it), oldest first, over [`PEAK_WINDOW`].
    peaks: VecDeque<(Instant, Duration)>,
    /// Packets of ours were lost since the last feedback's delay.
    lost_now: bool,
}

/// The span of one entry of the peak queuing delay's window.
const PEAK_BUCKET: Duration = Duration::from_secs(1);

impl Default for StandingQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl StandingQueue {
    /// Nothing measured yet.
    pub fn new() -> StandingQueue {
        StandingQueue {
            origin: None,
            minima: VecDeque::new(),
            above_since: None,
            last_signal: None,
            queue_delay: None,
            signals: 0,
            scratch: Vec::new(),
            high_since: None,
            overflowed: false,
            low_since: None,
            long_since: None,
            long_acked: None,
            competing: false,
            acked: None,
            stand_acked: None,
            floor: None,
            peaks: VecDeque::new(),
            lost_now: false,
        }
    }

    /// The controller's minimum bitrate: a stand that lasts
    /// [`PINNED_AFTER`] while we get through less than [`PINNED_FACTOR`]
    /// times it is a competitor's (see the module documentation).
    pub fn set_floor(&mut self, floor_bps: u64) {
        self.floor = Some(floor_bps);
    }

    /// Packets of ours reported lost by a feedback at `now` (a full
    /// buffer's tail drops when the queue stands).
    pub fn on_losses(&mut self, lost: usize) {
        if lost > 0 && self.high_since.is_some() {
            self.overflowed = true;
        }
        if lost > 0 {
            self.lost_now = true;
        }
    }

    /// Our acknowledged rate at the latest feedback. A competitor's queue
    /// squeezes it: a standing, overflowing queue is taken for one only
    /// if what we get through has fallen under [`SQUEEZED`] of what it
    /// was [`STAND_REFERENCE_AFTER`] into the stand. Alone at a link our
    /// packets fill, it stays at the link's rate: measured on a 150 kbit/s
    /// `tbf` link, a start-up that filled the queue was otherwise taken
    /// for a competitor's at 4 s (131-141 kbit/s acknowledged all along),
    /// and the call grew TCP-like over a queue that never cleared.
    pub fn set_acked(&mut self, acked: Option<u64>) {
        self.acked = acked;
    }

    /// Whether the standing queue is taken to be a competing loss-based
    /// flow's (see the module documentation).
    pub fn competing(&self) -> bool {
        self.competing
    }

    /// The highest queuing delay measured at a loss of ours in the last
    /// [`PEAK_WINDOW`]: the buffer's depth.
    pub fn peak_queue_delay(&self) -> Option<Duration> {
        self.peaks.iter().map(|&(_, q)| q).max()
    }

    /// While competing, whether the queue is within [`NEAR_FULL`] of the
    /// delay at the last losses: the buffer is about to overflow, the
    /// competitor's loss event (see the module documentation).
    pub fn near_full(&self) -> bool {
        let (Some(q), Some(peak)) = (self.queue_delay, self.peak_queue_delay()) else {
            return false;
        };
        self.competing && peak > THRESHOLD && q.as_secs_f64() >= NEAR_FULL * peak.as_secs_f64()
    }

    fn track_peak(&mut self, now: Instant, q: Duration, lost: bool) {
        if lost {
            match self.peaks.back_mut() {
                Some((start, m)) if now.saturating_duration_since(*start) < PEAK_BUCKET => {
                    *m = (*m).max(q);
                }
                _ => self.peaks.push_back((now, q)),
            }
        }
        while self
            .peaks
            .front()
            .is_some_and(|&(start, _)| now.saturating_duration_since(start) > PEAK_WINDOW)
        {
            self.peaks.pop_front();
        }
    }

    fn track_competitor(&mut self, now: Instant, high: bool) {
        if high {
            self.low_since = None;
            let since = *self.high_since.get_or_insert(now);
            let stood = now.saturating_duration_since(since);
            let long_since = *self.long_since.get_or_insert(now);
            let long_stood = now.saturating_duration_since(long_since);
            if stood >= STAND_REFERENCE_AFTER && self.stand_acked.is_none() {
                self.stand_acked = self.acked;
            }
            if long_stood >= STAND_REFERENCE_AFTER && self.long_acked.is_none() {
                self.long_acked = self.acked;
            }
            let below = |reference: Option<u64>| match (reference, self.acked) {
                (Some(r), Some(a)) => (a as f64) < SQUEEZED * r as f64,
                _ => false,
            };
            let squeezed = below(self.stand_acked);
            let squeezed_long = below(self.long_acked);
            let pinned = match (self.floor, self.acked) {
                (Some(f), Some(a)) => (a as f64) < PINNED_FACTOR * f as f64,
                _ => false,
            };
            if self.overflowed
                && ((squeezed && stood >= COMPETING_AFTER) || (pinned && stood >= PINNED_AFTER))
                || (pinned || squeezed_long) && long_stood >= PINNED_QUIET_AFTER
            {
                self.competing = true;
            }
        } else {
            // A stand with an overflow ends at the first feedback under
            // the threshold: a queue of ours after the link's capacity
            // fell dips as it drains, and counted through the dips it was
            // taken for a competitor's (a mesh member whose path fell from
            // 5 Mbit/s to 200 kbit/s). The long stand of the quiet
            // criteria ends only after STAND_GAP.
            self.high_since = None;
            self.overflowed = false;
            self.stand_acked = None;
            let since = *self.low_since.get_or_insert(now);
            let low_for = now.saturating_duration_since(since);
            if low_for >= STAND_GAP {
                self.long_since = None;
                self.long_acked = None;
            }
            if self.competing && low_for >= COMPETING_CLEARS {
                self.competing = false;
                self.low_since = None;
            }
        }
    }

    /// The packets one feedback acknowledged; `true` while a standing queue
    /// has lasted [`SUSTAIN`] (see [`StandingQueue::signal`]).
    pub fn on_feedback(&mut self, now: Instant, acked: &[AckedPacket]) -> bool {
        if acked.is_empty() {
            return false;
        }
        let origin = *self.origin.get_or_insert(acked[0].sent_at);
        self.scratch.clear();
        for p in acked {
            let sent = p.sent_at.saturating_duration_since(origin);
            let owd = p.arrival.as_micros() as i64 - sent.as_micros() as i64;
            self.scratch.push(owd);
            let second = sent.as_secs();
            match self.minima.back_mut() {
                Some((s, m)) if *s == second => *m = (*m).min(owd),
                Some((s, _)) if *s > second => {
                    // Reordered feedback: fold into the newest bucket.
                    if let Some((_, m)) = self.minima.back_mut() {
                        *m = (*m).min(owd);
                    }
                }
                _ => self.minima.push_back((second, owd)),
            }
        }
        if let Some(&(newest, _)) = self.minima.back() {
            while self
                .minima
                .front()
                .is_some_and(|&(s, _)| s + BASE_WINDOW.as_secs() < newest)
            {
                self.minima.pop_front();
            }
        }
        let Some(base) = self.minima.iter().map(|&(_, m)| m).min() else {
            return false;
        };
        self.scratch.sort_unstable();
        let median = self.scratch[self.scratch.len() / 2];
        let q = Duration::from_micros((median - base).max(0) as u64);
        self.queue_delay = Some(q);
        let lost = std::mem::take(&mut self.lost_now);
        self.track_peak(now, q, lost);
        self.track_competitor(now, q > THRESHOLD);
        if q <= THRESHOLD {
            self.above_since = None;
            return false;
        }
        let since = *self.above_since.get_or_insert(now);
        now.saturating_duration_since(since) >= SUSTAIN
    }

    /// The controller acts on the standing queue now: `false` (and nothing
    /// recorded) within [`BACKOFF`] of the last time, while the queue
    /// drains.
    pub fn signal(&mut self, now: Instant) -> bool {
        if self
            .last_signal
            .is_some_and(|t| now.saturating_duration_since(t) < BACKOFF)
        {
            return false;
        }
        self.last_signal = Some(now);
        self.signals += 1;
        true
    }

    /// The last measured queuing delay (median of a feedback above the
    /// base).
    pub fn queue_delay(&self) -> Option<Duration> {
        self.queue_delay
    }

    /// Decreases asked for so far.
    pub fn signals(&self) -> u64 {
        self.signals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Packets every 10 ms whose one-way delay is `base + extra(i)` on a
    /// receiver clock 5 s ahead of ours.
    fn feed(
        q: &mut StandingQueue,
        t0: Instant,
        from: u64,
        n: u64,
        extra: impl Fn(u64) -> u64,
    ) -> Vec<bool> {
        let mut out = Vec::new();
        for batch in (from..from + n).collect::<Vec<_>>().chunks(10) {
            let acked: Vec<AckedPacket> = batch
                .iter()
                .map(|&i| AckedPacket {
                    seq: i,
                    size: 1000,
                    sent_at: t0 + ms(i * 10),
                    arrival: Duration::from_secs(5) + ms(i * 10 + 20 + extra(i)),
                    probe_cluster: None,
                })
                .collect();
            let now = t0 + ms(batch[batch.len() - 1] * 10 + 100);
            let standing = q.on_feedback(now, &acked);
            out.push(standing && q.signal(now));
        }
        out
    }

    #[test]
    fn a_queue_that_stays_full_is_signalled_once_per_backoff() {
        let t0 = Instant::now();
        let mut q = StandingQueue::new();
        // 3 s with no queue: the base is learnt, nothing signalled.
        assert!(feed(&mut q, t0, 0, 300, |_| 0).iter().all(|s| !s));
        assert_eq!(q.queue_delay(), Some(Duration::ZERO));
        // Then a flat 200 ms queue for 3 s: no trend at all, yet signalled
        // after SUSTAIN, and again only after each BACKOFF.
        let signals = feed(&mut q, t0, 300, 300, |_| 200);
        let n = signals.iter().filter(|s| **s).count();
        assert!((2..=3).contains(&n), "{signals:?}");
        assert!(
            !signals[..4].iter().any(|s| *s),
            "not before 500 ms: {signals:?}"
        );
        assert_eq!(q.queue_delay(), Some(200 * MS));
    }

    #[test]
    fn delay_below_the_threshold_or_short_spikes_are_not_signalled() {
        let t0 = Instant::now();
        let mut q = StandingQueue::new();
        feed(&mut q, t0, 0, 100, |_| 0);
        // 40 ms of queue for 5 s, and 150 ms spikes of 300 ms every second.
        assert!(feed(&mut q, t0, 100, 500, |_| 40).iter().all(|s| !s));
        let spikes = feed(&mut q, t0, 600, 500, |i| if i % 100 < 30 { 150 } else { 0 });
        assert!(spikes.iter().all(|s| !s), "{spikes:?}");
        assert_eq!(q.signals(), 0);
    }

    #[test]
    fn the_base_forgets_a_minimum_older_than_the_window() {
        let t0 = Instant::now();
        let mut q = StandingQueue::new();
        feed(&mut q, t0, 0, 100, |_| 0);
        // The path's delay rises for good by 80 ms (a route change): after
        // the window, that is the new base and nothing is signalled.
        let n = BASE_WINDOW.as_millis() as u64 / 10 + 300;
        feed(&mut q, t0, 100, n, |_| 80);
        let after = feed(&mut q, t0, 100 + n, 200, |_| 80);
        assert!(after.iter().all(|s| !s), "{after:?}");
        assert_eq!(q.queue_delay(), Some(Duration::ZERO));
    }

    #[test]
    fn a_standing_queue_that_overflows_is_a_competitors_until_it_clears() {
        let t0 = Instant::now();
        let mut q = StandingQueue::new();
        q.set_acked(Some(1_000_000));
        feed(&mut q, t0, 0, 100, |_| 0);
        // 5 s of a standing 300 ms queue without a loss: ours.
        feed(&mut q, t0, 100, 500, |_| 300);
        assert!(!q.competing());
        // It overflows (a loss) and has stood for 3 s, but what we get
        // through has not fallen: still ours (a link our packets fill).
        q.on_losses(2);
        feed(&mut q, t0, 600, 10, |_| 300);
        assert!(!q.competing());
        // Squeezed to half: a competitor's.
        q.set_acked(Some(500_000));
        feed(&mut q, t0, 610, 10, |_| 300);
        assert!(q.competing());
        // Short dips do not end it; a second under the threshold does.
        feed(&mut q, t0, 620, 50, |_| 0);
        feed(&mut q, t0, 670, 100, |_| 300);
        assert!(q.competing());
        feed(&mut q, t0, 770, 120, |_| 0);
        assert!(!q.competing());
        // A queue that overflows at once, and squeezes us after its
        // first second, is a competitor's only once it has stood for
        // COMPETING_AFTER.
        q.set_acked(Some(1_000_000));
        feed(&mut q, t0, 890, 10, |_| 300);
        q.on_losses(1);
        feed(&mut q, t0, 900, 110, |_| 300);
        q.set_acked(Some(600_000));
        feed(&mut q, t0, 1010, 160, |_| 300);
        assert!(!q.competing());
        feed(&mut q, t0, 1170, 50, |_| 300);
        assert!(q.competing());
    }

    #[test]
    fn a_stand_that_overflows_while_we_sit_near_our_floor_is_a_competitors() {
        let t0 = Instant::now();
        let mut q = StandingQueue::new();
        q.set_floor(50_000);
        // Never squeezed: 80 kbit/s from the start of the stand to its end.
        q.set_acked(Some(80_000));
        feed(&mut q, t0, 0, 100, |_| 0);
        feed(&mut q, t0, 100, 10, |_| 300);
        q.on_losses(1);
        // 5 s into the stand: not yet PINNED_AFTER.
        feed(&mut q, t0, 110, 490, |_| 300);
        assert!(!q.competing());
        feed(&mut q, t0, 600, 120, |_| 300);
        assert!(q.competing());
        // The same stand while we get 2.4x our floor through (a link our
        // packets fill): ours, however long it lasts.
        feed(&mut q, t0, 720, 150, |_| 0);
        assert!(!q.competing());
        q.set_acked(Some(120_000));
        feed(&mut q, t0, 870, 10, |_| 300);
        q.on_losses(1);
        feed(&mut q, t0, 880, 1000, |_| 300);
        assert!(!q.competing());
        // Pinned but no packet of ours lost: a queue that does not
        // overflow is taken for a competitor's only after
        // PINNED_QUIET_AFTER (7 s into the stand: not yet; 9 s: yes).
        let mut q = StandingQueue::new();
        q.set_floor(50_000);
        q.set_acked(Some(60_000));
        feed(&mut q, t0, 0, 100, |_| 0);
        feed(&mut q, t0, 100, 700, |_| 300);
        assert!(!q.competing());
        feed(&mut q, t0, 800, 200, |_| 300);
        assert!(q.competing());
        // Not pinned (2.4x the floor), no loss: ours however long.
        let mut q = StandingQueue::new();
        q.set_floor(50_000);
        q.set_acked(Some(120_000));
        feed(&mut q, t0, 0, 100, |_| 0);
        feed(&mut q, t0, 100, 2000, |_| 300);
        assert!(!q.competing());
    }

    /// A detector with a 50 kbit/s floor, `acked` getting through, that
    /// has learnt its base over 1 s without a queue.
    fn learnt_base(t0: Instant, acked: u64) -> StandingQueue {
        let mut q = StandingQueue::new();
        q.set_floor(50_000);
        q.set_acked(Some(acked));
        feed(&mut q, t0, 0, 100, |_| 0);
        q
    }

    #[test]
    fn a_stand_lasts_through_dips_shorter_than_the_gap() {
        // A call that joins a link a competitor already fills measures its
        // queue against a base that includes the competitor's: what it
        // reads swings with the competitor's cycle and dips under the
        // threshold now and then. One feedback in ten under it (100 ms a
        // second): the stand goes on, and pinned near our floor for
        // PINNED_QUIET_AFTER it is a competitor's.
        let t0 = Instant::now();
        let mut q = learnt_base(t0, 60_000);
        let swing = |i: u64| if (i / 10) % 10 == 0 { 20 } else { 200 };
        feed(&mut q, t0, 100, 700, swing);
        assert!(!q.competing());
        feed(&mut q, t0, 800, 200, swing);
        assert!(q.competing());
        // Dips still end a stand that overflows and squeezes us at once: a
        // queue of our own draining after the link's capacity fell. 5 s
        // of it (3 s would do with the dips counted through) is not a
        // competitor's.
        let mut q = learnt_base(t0, 400_000);
        feed(&mut q, t0, 100, 150, |_| 200);
        q.set_acked(Some(250_000));
        for second in 0..5 {
            q.on_losses(2);
            feed(&mut q, t0, 250 + second * 100, 100, swing);
        }
        assert!(!q.competing());
        // A dip of STAND_GAP or more ends a stand: 1.5 s under the
        // threshold every 6 s, and no stand reaches PINNED_QUIET_AFTER.
        let mut q = StandingQueue::new();
        q.set_floor(50_000);
        q.set_acked(Some(60_000));
        feed(&mut q, t0, 0, 100, |_| 0);
        feed(
            &mut q,
            t0,
            100,
            3000,
            |i| if i % 600 < 150 { 20 } else { 200 },
        );
        assert!(!q.competing());
    }

    #[test]
    fn a_stand_that_squeezes_us_for_long_is_a_competitors_without_a_loss() {
        // At 1 Mbit/s a CUBIC flow drops its own 1500-byte segments from a
        // byte-limited buffer while our smaller paced packets fit: we lose
        // nothing, yet what we get through falls under SQUEEZED of what it
        // was a second into the stand. After PINNED_QUIET_AFTER of that it
        // is a competitor's.
        let t0 = Instant::now();
        let mut q = learnt_base(t0, 400_000);
        feed(&mut q, t0, 100, 150, |_| 200);
        q.set_acked(Some(250_000));
        feed(&mut q, t0, 250, 550, |_| 200);
        assert!(!q.competing(), "7 s into the stand");
        feed(&mut q, t0, 800, 200, |_| 200);
        assert!(q.competing(), "9 s into the stand");
        // Not squeezed (0.9 of the reference), no loss: ours however long.
        let mut q = learnt_base(t0, 400_000);
        feed(&mut q, t0, 100, 150, |_| 200);
        q.set_acked(Some(360_000));
        feed(&mut q, t0, 250, 2000, |_| 200);
        assert!(!q.competing());
    }

    #[test]
    fn while_competing_a_queue_near_its_depth_at_the_last_loss_is_full() {
        let t0 = Instant::now();
        // Competing without a loss (pinned near the floor for
        // PINNED_QUIET_AFTER): no depth known, so however high the
        // queue, not "full".
        let mut q = StandingQueue::new();
        q.set_floor(50_000);
        q.set_acked(Some(60_000));
        feed(&mut q, t0, 0, 100, |_| 0);
        feed(&mut q, t0, 100, 900, |_| 200);
        assert!(q.competing());
        feed(&mut q, t0, 1000, 10, |_| 400);
        assert_eq!(q.peak_queue_delay(), None);
        assert!(!q.near_full());
        // Losses at 400 ms: the buffer's depth.
        q.on_losses(3);
        feed(&mut q, t0, 1010, 10, |_| 400);
        assert_eq!(q.peak_queue_delay(), Some(400 * MS));
        assert!(q.near_full());
        // NEAR_FULL (0.8) of it is full, less is not.
        feed(&mut q, t0, 1020, 10, |_| 330);
        assert!(q.near_full());
        feed(&mut q, t0, 1030, 10, |_| 310);
        assert!(!q.near_full());
        // Forgotten after PEAK_WINDOW without another loss.
        let n = PEAK_WINDOW.as_millis() as u64 / 10 + 200;
        feed(&mut q, t0, 1040, n, |_| 350);
        assert_eq!(q.peak_queue_delay(), None);
        assert!(!q.near_full());
    }
}

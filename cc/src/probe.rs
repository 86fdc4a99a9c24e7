//! Probe controller: when to send a short burst above the estimate to find
//! out quickly whether the path carries more (libwebrtc's bandwidth
//! probing; draft-ietf-rmcat-gcc-02 §5.5 only grows the rate by 8 %/s,
//! which takes tens of seconds to find a fast link).
//!
//! - At start, two clusters at [`INITIAL_FACTORS`] × the start bitrate.
//! - After a result, if the estimate reached [`FURTHER_FRACTION`] of the
//!   last probe's rate, probe again at twice the estimate (exponential
//!   probing) until the path stops following or the maximum is reached.
//! - When the application stops being application-limited, once.
//! - Every [`PERIODIC_INTERVAL`] while the estimate is below the maximum and
//!   stable (the caller says what stable is: no over-use, no recent
//!   decrease); twice as long after each refuted probe (one whose raise
//!   the link did not carry, see [`ProbeController::on_refuted`]).
//! - When the maximum is raised while the estimate sits at the old one.
//! - After a large drop (to under [`LARGE_DROP`] of the previous estimate),
//!   once the estimate is stable again and within [`DROP_RECOVERY_WINDOW`],
//!   at [`AFTER_DROP_FRACTION`] of the rate before the drop: a drop caused
//!   by a transient (a burst of cross traffic, a false over-use right after
//!   a probe) is then undone in one probe instead of at 8 %/s.
//!
//! Once the rate controller knows where the link is (its band of the
//! acknowledged rates at past decreases, see `aimd`), the controller sets
//! that band's top as a ceiling ([`ProbeController::set_ceiling`]):
//! periodic probes stop, and a large drop from above it is not probed back.
//! A converged sender finds more room with its own slow increase, which
//! leaves the band and forgets it when the link grew. Probing a converged
//! link only fills its queue, and a shaper's token bucket (`tc tbf`) lets a
//! short cluster through at line rate, so the probe reads far above the
//! link (measured: a 900 kbit/s result on a 300 kbit/s `tbf` link).
//!
//! A cluster must carry at least [`MIN_PROBE_PACKETS`] packets and
//! [`MIN_PROBE_DURATION`] worth of bytes at its rate, so its send and
//! receive spacing can be measured (see `probe_estimator`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Multiples of the start bitrate probed first.
pub const INITIAL_FACTORS: [u64; 2] = [3, 6];
/// A result at least this fraction of the probed rate probes further.
pub const FURTHER_FRACTION: f64 = 0.7;
/// Periodic probing interval.
pub const PERIODIC_INTERVAL: Duration = Duration::from_secs(5);
/// The longest the periodic interval grows to after refuted probes (see
/// [`ProbeController::on_refuted`]).
pub const MAX_PERIODIC_INTERVAL: Duration = Duration::from_secs(60);
/// Give up waiting for a result after this.
pub const RESULT_TIMEOUT: Duration = Duration::from_secs(1);
/// An estimate below this fraction of the previous one is a large drop.
pub const LARGE_DROP: f64 = 0.66;
/// Rate probed after a large drop, as a fraction of the rate before it.
pub const AFTER_DROP_FRACTION: f64 = 0.85;
/// A large drop is probed back only this long after it.
pub const DROP_RECOVERY_WINDOW: Duration = Duration::from_secs(5);
/// Fewest packets in a cluster.
pub const MIN_PROBE_PACKETS: usize = 5;
/// How often [`ProbeController::handle_timeout`] looks again while it waits
/// for the estimate to be stable (after a large drop, or for a periodic
/// probe).
pub const CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// A cluster lasts at least this long at its rate.
pub const MIN_PROBE_DURATION: Duration = Duration::from_millis(15);

/// One probe: send this many packets/bytes at this rate, tagged with `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeCluster {
    /// Tag carried by the packets (see `SentPacket::probe_cluster`).
    pub id: u32,
    /// Rate to send the cluster at, bit/s.
    pub target_bitrate: u64,
    /// At least this many packets.
    pub min_packets: usize,
    /// At least this many bytes.
    pub min_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Nothing sent yet: initial probes pending.
    Init,
    /// Probes out, the highest at `probed`; a result above
    /// `further_above` probes further, higher than `probed`.
    Waiting { further_above: u64, probed: u64 },
    /// Idle: only periodic, recovery or max-change probes.
    Done,
}

/// Decides probe clusters.
#[derive(Debug)]
pub struct ProbeController {
    state: State,
    pending: VecDeque<ProbeCluster>,
    next_id: u32,
    max: u64,
    estimate: u64,
    last_probe_at: Option<Instant>,
    /// The next look, so that a condition not met yet is not asked about
    /// again at the same instant.
    next_check: Option<Instant>,
    waiting_since: Option<Instant>,
    app_limited: bool,
    /// (rate before, when) of the last large drop not yet probed back.
    large_drop: Option<(u64, Instant)>,
    /// The top of the link's known band, when converged.
    ceiling: Option<u64>,
    /// The periodic interval now: [`PERIODIC_INTERVAL`], doubled by each
    /// refuted probe, back to it after a confirmed one.
    periodic_interval: Duration,
}

impl ProbeController {
    /// Queues the initial probes for `start` bit/s, capped at `max`.
    pub fn new(start: u64, max: u64) -> Self {
        let mut c = Self {
            state: State::Init,
            pending: VecDeque::new(),
            next_id: 1,
            max,
            estimate: start,
            last_probe_at: None,
            next_check: None,
            waiting_since: None,
            app_limited: false,
            large_drop: None,
            ceiling: None,
            periodic_interval: PERIODIC_INTERVAL,
        };
        let mut highest = 0;
        for f in INITIAL_FACTORS {
            let rate = (start * f).min(max);
            if rate > start && rate > highest {
                c.push(rate);
                highest = rate;
            }
        }
        c.state = if highest > 0 {
            State::Waiting {
                further_above: (highest as f64 * FURTHER_FRACTION) as u64,
                probed: highest,
            }
        } else {
            State::Done
        };
        c
    }

    fn push(&mut self, rate: u64) {
        let min_bytes = (rate as f64 * MIN_PROBE_DURATION.as_secs_f64() / 8.0) as usize;
        self.pending.push_back(ProbeCluster {
            id: self.next_id,
            target_bitrate: rate,
            min_packets: MIN_PROBE_PACKETS,
            min_bytes,
        });
        self.next_id = self.next_id.wrapping_add(1).max(1);
    }

    /// Probes at `rate` if it is above the estimate; capped at the maximum.
    fn probe(&mut self, now: Instant, rate: u64) -> bool {
        let rate = rate.min(self.max);
        if rate <= self.estimate || self.ceiling.is_some_and(|c| rate > c) {
            return false;
        }
        self.push(rate);
        self.state = State::Waiting {
            further_above: (rate as f64 * FURTHER_FRACTION) as u64,
            probed: rate,
        };
        self.waiting_since = Some(now);
        self.last_probe_at = Some(now);
        true
    }

    /// The next cluster to hand the pacer.
    pub fn poll_probe(&mut self) -> Option<ProbeCluster> {
        self.pending.pop_front()
    }

    /// A probe packet left at `now`.
    pub fn on_probe_sent(&mut self, now: Instant) {
        self.last_probe_at = Some(now);
        if self.waiting_since.is_none() {
            self.waiting_since = Some(now);
        }
    }

    /// The estimate after a feedback message (with any probe result in it).
    pub fn on_estimate(&mut self, now: Instant, estimate: u64) {
        if (estimate as f64) < LARGE_DROP * self.estimate as f64 {
            let before = self
                .large_drop
                .map_or(self.estimate, |(b, _)| b.max(self.estimate));
            self.large_drop = Some((before, now));
        }
        self.estimate = estimate;
        if let State::Waiting {
            further_above,
            probed,
        } = self.state
        {
            // Further means higher: a probe capped at the maximum is not
            // repeated for a result under it (that would probe the maximum
            // at every feedback while the estimate sits within
            // FURTHER_FRACTION of it, filling the queue).
            let next = estimate.saturating_mul(2).min(self.max);
            if estimate > further_above
                && self.pending.is_empty()
                && (next <= probed || !self.probe(now, next))
            {
                self.state = State::Done;
            }
        }
    }

    /// The application became (or stopped being) application-limited.
    pub fn set_app_limited(&mut self, now: Instant, limited: bool) {
        let recovered = self.app_limited && !limited;
        self.app_limited = limited;
        if recovered && self.pending.is_empty() {
            self.probe(now, self.estimate.saturating_mul(2));
        }
    }

    /// A new maximum; probes at it when the estimate sat at the old one.
    pub fn set_max(&mut self, now: Instant, max: u64) {
        let old = self.max;
        self.max = max;
        if max > old && self.estimate as f64 >= 0.9 * old as f64 {
            self.probe(now, max);
        }
    }

    /// The rate controller's converged band top (`None`: not converged):
    /// no periodic probes under one, no probe above it (further probing,
    /// a raised maximum, the end of an application-limited period), and
    /// no probing back a drop from above it.
    pub fn set_ceiling(&mut self, ceiling: Option<u64>) {
        self.ceiling = ceiling;
    }

    /// A probe's raise was refuted: the link was found full soon after,
    /// carrying no more than before the probe. A shaper's token bucket
    /// (`tc tbf`, a home router's) lets a short cluster through at line
    /// rate whatever the link's rate, so on such a link every probe reads
    /// high, and the media that follow fill its queue. The periodic
    /// interval doubles (up to [`MAX_PERIODIC_INTERVAL`]), and the drop
    /// back from the raise is not probed again.
    pub fn on_refuted(&mut self, now: Instant) {
        self.periodic_interval = (self.periodic_interval * 2).min(MAX_PERIODIC_INTERVAL);
        self.large_drop = None;
        self.last_probe_at = Some(now);
    }

    /// A probe's raise held: the periodic interval is back to
    /// [`PERIODIC_INTERVAL`].
    pub fn on_confirmed(&mut self) {
        self.periodic_interval = PERIODIC_INTERVAL;
    }

    /// The periodic interval now (see [`ProbeController::on_refuted`]).
    pub fn periodic_interval(&self) -> Duration {
        self.periodic_interval
    }

    /// Periodic work: result timeouts and periodic probes. `stable` says
    /// whether the estimate is settled enough to probe above it.
    pub fn handle_timeout(&mut self, now: Instant, stable: bool) {
        self.next_check = Some(now + CHECK_INTERVAL);
        if let State::Waiting { .. } = self.state {
            // Clusters handed out but never sent (the pacer had no media
            // to make them of): the result's wait starts now, so a lost
            // cluster cannot stop periodic probing for good.
            self.waiting_since.get_or_insert(now);
        }
        if let (State::Waiting { .. }, Some(since)) = (self.state, self.waiting_since) {
            if now.saturating_duration_since(since) >= RESULT_TIMEOUT {
                self.state = State::Done;
                self.waiting_since = None;
            }
        }
        if let Some((before, at)) = self.large_drop {
            if now.saturating_duration_since(at) > DROP_RECOVERY_WINDOW {
                self.large_drop = None;
            } else if self.ceiling.is_some_and(|c| before > c) {
                // An overshoot above the known link, not a transient.
                self.large_drop = None;
            } else if stable && self.pending.is_empty() && self.state == State::Done {
                self.large_drop = None;
                self.probe(now, (before as f64 * AFTER_DROP_FRACTION) as u64);
                return;
            }
        }
        if self.state == State::Done && stable && self.pending.is_empty() && self.ceiling.is_none()
        {
            let due = self
                .last_probe_at
                .is_none_or(|t| now.saturating_duration_since(t) >= self.periodic_interval);
            if due {
                self.probe(now, self.estimate.saturating_mul(2));
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Init => None,
            State::Waiting { .. } => self.waiting_since.map(|t| t + RESULT_TIMEOUT),
            State::Done if self.large_drop.is_some() => self.next_check,
            State::Done if self.estimate < self.max && self.ceiling.is_none() => self
                .last_probe_at
                .map(|t| (t + self.periodic_interval).max(self.next_check.unwrap_or(t))),
            State::Done => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn initial_probes_are_three_and_six_times_start_capped_at_max() {
        let mut p = ProbeController::new(300_000, 10_000_000);
        let a = p.poll_probe().unwrap();
        let b = p.poll_probe().unwrap();
        assert_eq!((a.target_bitrate, b.target_bitrate), (900_000, 1_800_000));
        assert_ne!(a.id, b.id);
        assert_eq!(b.min_packets, 5);
        assert_eq!(b.min_bytes, 3375);
        assert_eq!(p.poll_probe(), None);
        let mut p = ProbeController::new(300_000, 1_000_000);
        assert_eq!(p.poll_probe().unwrap().target_bitrate, 900_000);
        assert_eq!(p.poll_probe().unwrap().target_bitrate, 1_000_000);
    }

    #[test]
    fn a_result_under_the_maximum_does_not_probe_the_maximum_again() {
        let t0 = Instant::now();
        let mut p = ProbeController::new(1_000_000, 3_000_000);
        while p.poll_probe().is_some() {}
        // The 3 Mbit/s probe (capped from 6) reads 2.6 Mbit/s: above 0.7 of
        // it, but the next probe would be the maximum again.
        p.on_estimate(t0 + S / 10, 2_600_000);
        assert_eq!(p.poll_probe(), None);
        // Feedback after feedback, still none.
        for k in 2..20u32 {
            p.on_estimate(t0 + S / 10 * k, 2_600_000);
            p.handle_timeout(t0 + S / 10 * k, false);
            assert_eq!(p.poll_probe(), None, "feedback {k}");
        }
        // A probe under the maximum still probes further, up to it.
        let mut q = ProbeController::new(300_000, 3_000_000);
        while q.poll_probe().is_some() {}
        q.on_estimate(t0 + S / 10, 1_700_000);
        assert_eq!(q.poll_probe().unwrap().target_bitrate, 3_000_000);
        q.on_estimate(t0 + S / 5, 2_600_000);
        assert_eq!(q.poll_probe(), None);
    }

    #[test]
    fn good_result_probes_further_poor_result_stops() {
        let t0 = Instant::now();
        let mut p = ProbeController::new(300_000, 10_000_000);
        while p.poll_probe().is_some() {}
        p.on_probe_sent(t0);
        // 1.5 Mbit/s > 0.7 × 1.8: probe at 3 Mbit/s.
        p.on_estimate(t0 + S / 5, 1_500_000);
        assert_eq!(p.poll_probe().unwrap().target_bitrate, 3_000_000);
        // 2 Mbit/s < 0.7 × 3: stop.
        p.on_estimate(t0 + S / 2, 2_000_000);
        assert_eq!(p.poll_probe(), None);
        p.handle_timeout(t0 + 2 * S, true);
        assert_eq!(p.poll_probe(), None);
    }

    #[test]
    fn periodic_probe_after_five_seconds_only_when_stable_and_below_max() {
        let t0 = Instant::now();
        let mut p = ProbeController::new(300_000, 10_000_000);
        while p.poll_probe().is_some() {}
        p.on_probe_sent(t0);
        p.on_estimate(t0, 400_000);
        p.handle_timeout(t0 + 2 * S, true);
        assert_eq!(
            p.poll_probe(),
            None,
            "result timed out, too early to repeat"
        );
        assert_eq!(p.poll_timeout(), Some(t0 + 5 * S));
        p.handle_timeout(t0 + 5 * S, false);
        assert_eq!(p.poll_probe(), None, "not stable");
        p.handle_timeout(t0 + 6 * S, true);
        assert_eq!(p.poll_probe().unwrap().target_bitrate, 800_000);
    }

    #[test]
    fn recovery_from_app_limited_probes_once() {
        let t0 = Instant::now();
        let mut p = ProbeController::new(1_000_000, 1_000_000);
        assert_eq!(p.poll_probe(), None, "start is the max: nothing to probe");
        p.set_max(t0, 4_000_000);
        assert_eq!(p.poll_probe().unwrap().target_bitrate, 4_000_000);
        p.on_estimate(t0, 1_000_000);
        p.handle_timeout(t0 + 2 * S, false);
        p.set_app_limited(t0 + 2 * S, true);
        p.set_app_limited(t0 + 3 * S, false);
        assert_eq!(p.poll_probe().unwrap().target_bitrate, 2_000_000);
        p.set_app_limited(t0 + 3 * S, false);
        assert_eq!(p.poll_probe(), None);
    }

    #[test]
    fn large_drop_is_probed_back_once_when_stable() {
        let t0 = Instant::now();
        let mut p = ProbeController::new(2_000_000, 2_000_000);
        p.on_estimate(t0, 2_000_000);
        p.on_estimate(t0 + S / 10, 1_000_000);
        p.handle_timeout(t0 + S / 2, false);
        assert_eq!(p.poll_probe(), None, "not while unstable");
        p.handle_timeout(t0 + S, true);
        assert_eq!(p.poll_probe().unwrap().target_bitrate, 1_700_000);
        p.on_estimate(t0 + 2 * S, 1_000_000);
        p.handle_timeout(t0 + 3 * S, true);
        assert_eq!(p.poll_probe(), None, "only once");
        // A drop too long ago is not probed back.
        p.on_estimate(t0 + 4 * S, 500_000);
        p.handle_timeout(t0 + 10 * S, false);
        p.handle_timeout(t0 + 10 * S, true);
        assert_eq!(
            p.poll_probe().map(|c| c.target_bitrate),
            Some(1_000_000),
            "periodic, not 850 k"
        );
    }

    #[test]
    fn a_converged_link_is_not_probed_periodically_nor_after_an_overshoot() {
        let t0 = Instant::now();
        let mut p = ProbeController::new(300_000, 10_000_000);
        while p.poll_probe().is_some() {}
        p.on_probe_sent(t0);
        p.on_estimate(t0, 400_000);
        p.set_ceiling(Some(330_000));
        p.handle_timeout(t0 + 6 * S, true);
        assert_eq!(p.poll_probe(), None, "no periodic probe under a ceiling");
        assert_eq!(p.poll_timeout(), None);
        // An overshoot to 400 k, dropped to 250 k: above the ceiling, not
        // probed back.
        p.on_estimate(t0 + 7 * S, 250_000);
        p.handle_timeout(t0 + 8 * S, true);
        assert_eq!(p.poll_probe(), None);
        // The band left (the link grew): periodic probes again.
        p.set_ceiling(None);
        p.handle_timeout(t0 + 12 * S, true);
        assert_eq!(p.poll_probe().unwrap().target_bitrate, 500_000);
    }

    #[test]
    fn refuted_probes_space_periodic_probing_out_and_a_confirmed_one_restores_it() {
        let t0 = Instant::now();
        let mut p = ProbeController::new(300_000, 10_000_000);
        while p.poll_probe().is_some() {}
        p.on_probe_sent(t0);
        p.on_estimate(t0, 300_000);
        // A periodic probe after 5 s; its raise to 900 k is refuted at 7
        // s (the media found the link full at 300 k): the drop back is
        // not probed, and the next periodic probe waits 10 s.
        p.handle_timeout(t0 + 5 * S, true);
        assert_eq!(p.poll_probe().unwrap().target_bitrate, 600_000);
        p.on_estimate(t0 + 5 * S, 900_000);
        p.handle_timeout(t0 + 6 * S, true);
        while p.poll_probe().is_some() {}
        p.on_estimate(t0 + 7 * S, 250_000);
        p.on_refuted(t0 + 7 * S);
        assert_eq!(p.periodic_interval(), 10 * S);
        p.handle_timeout(t0 + 8 * S, true);
        assert_eq!(p.poll_probe(), None, "the drop is not probed back");
        p.handle_timeout(t0 + 16 * S, true);
        assert_eq!(p.poll_probe(), None, "5 s is not 10");
        p.handle_timeout(t0 + 17 * S, true);
        assert_eq!(p.poll_probe().unwrap().target_bitrate, 500_000);
        // Doubling stops at the maximum.
        for k in 0..8 {
            p.on_refuted(t0 + (20 + k) * S);
        }
        assert_eq!(p.periodic_interval(), MAX_PERIODIC_INTERVAL);
        p.on_confirmed();
        assert_eq!(p.periodic_interval(), PERIODIC_INTERVAL);
    }

    #[test]
    fn initial_clusters_never_sent_time_out_and_periodic_probing_resumes() {
        let t0 = Instant::now();
        let mut p = ProbeController::new(300_000, 10_000_000);
        while p.poll_probe().is_some() {}
        // Nothing sent; the estimate moves but no result comes.
        p.on_estimate(t0, 330_000);
        p.handle_timeout(t0, true);
        p.handle_timeout(t0 + S / 2, true);
        assert_eq!(p.poll_probe(), None, "still waiting for a result");
        // The result's wait ends; nothing was ever sent, so a periodic
        // probe is due at once.
        p.handle_timeout(t0 + S, true);
        assert_eq!(p.poll_probe().unwrap().target_bitrate, 660_000);
    }

    #[test]
    fn no_probe_above_a_ceiling_whatever_asks_for_it() {
        let t0 = Instant::now();
        let mut p = ProbeController::new(300_000, 10_000_000);
        while p.poll_probe().is_some() {}
        p.on_probe_sent(t0);
        p.set_ceiling(Some(1_000_000));
        // A good result would probe further at 3 Mbit/s: above the ceiling.
        p.on_estimate(t0 + S / 5, 1_500_000);
        assert_eq!(p.poll_probe(), None);
        // A raised maximum while at the old one.
        let mut q = ProbeController::new(300_000, 400_000);
        while q.poll_probe().is_some() {}
        q.on_estimate(t0, 400_000);
        q.handle_timeout(t0 + 2 * S, false);
        q.set_ceiling(Some(500_000));
        q.set_max(t0 + 3 * S, 2_000_000);
        assert_eq!(q.poll_probe(), None);
        // The end of an application-limited period.
        q.set_app_limited(t0 + 4 * S, true);
        q.set_app_limited(t0 + 5 * S, false);
        assert_eq!(q.poll_probe(), None);
        // Without the ceiling, the same ask probes.
        q.set_ceiling(None);
        q.set_app_limited(t0 + 6 * S, true);
        q.set_app_limited(t0 + 7 * S, false);
        assert_eq!(q.poll_probe().unwrap().target_bitrate, 800_000);
    }
}

//! The congestion controller: feedback in, target bitrate and probes out
//! (draft-ietf-rmcat-gcc-02 §2, the sender-side architecture).
//!
//! `target = clamp(min(A_hat, As_hat, REMB), min, max)`: the delay-based
//! estimate of §5, the loss-based bound of §6 and, when the receiver sends
//! one, its REMB (draft-alvestrand-rmcat-remb-03) as a cap.

use std::time::{Duration, Instant};

use crate::aimd::{AimdRateControl, RateControlState};
use crate::delay::overuse::BandwidthUsage;
use crate::delay::DelayDetector;
use crate::feedback::{PacketResult, SendHistory, SentPacket};
use crate::loss::LossBasedControl;
use crate::probe::{ProbeCluster, ProbeController};
use crate::probe_estimator::ProbeEstimator;
use crate::queue_delay::StandingQueue;

/// The pacer's rate as a multiple of the target: bursts (a key frame) leave
/// quickly but spread out.
pub const PACING_FACTOR: f64 = 2.5;
/// Short window of the acknowledged bitrate (see `on_feedback`).
pub const RECENT_ACKED_WINDOW: Duration = Duration::from_millis(150);
/// An acknowledged rate under this fraction of the target is
/// application-limited (see `on_feedback`).
pub const APP_LIMITED_FRACTION: f64 = 0.7;
/// An application-limited sender probes periodically only while its
/// target is under this multiple of its acknowledged rate (see
/// `on_feedback`).
pub const APP_LIMITED_PROBE_HEADROOM: f64 = 2.0;
/// An over-use this soon after a probe raised the estimate, with no more
/// acknowledged than the link was known to carry before the raise,
/// refutes the probe (see `on_feedback`).
pub const PROBE_CONFIRM_WINDOW: Duration = Duration::from_secs(3);
/// "No more than before": at most this multiple of the rate the link was
/// known to carry before the raise.
pub const REFUTED_MARGIN: f64 = 1.1;
/// How long after a probe raised the estimate the short acknowledged
/// window counts (see `on_feedback`).
pub const AFTER_PROBE_WINDOW: Duration = Duration::from_secs(1);
/// A periodic probe needs this long since the last decrease.
pub const STABLE_AFTER_DECREASE: Duration = Duration::from_secs(1);
/// Competing with a loss-based flow, a loss event after a decrease counts
/// only once the rate has grown back to where it was decreased from, or
/// after this long (see [`CongestionController::on_feedback`]).
pub const COMPETING_LOSS_HOLD: Duration = Duration::from_secs(2);

/// Bitrate bounds, bit/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// First target, before any feedback.
    pub start_bitrate: u64,
    /// Never go below.
    pub min_bitrate: u64,
    /// Never go above.
    pub max_bitrate: u64,
}

/// Probe raises in a row not yet confirmed (see
/// [`PROBE_CONFIRM_WINDOW`]).
#[derive(Debug, Clone, Copy)]
struct RaisedFrom {
    /// The last raise.
    at: Instant,
    /// What the link was known to carry before the first: the band's
    /// top or the acknowledged rate, the larger.
    carried: u64,
}

impl RaisedFrom {
    /// Whether an over-use decrease with `acked` acknowledged at `now`
    /// refutes the raises.
    fn refuted_by(&self, now: Instant, acked: Option<u64>) -> bool {
        now.saturating_duration_since(self.at) < PROBE_CONFIRM_WINDOW
            && acked.is_some_and(|a| a as f64 <= REFUTED_MARGIN * self.carried as f64)
    }
}

/// A snapshot for stats and logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CcState {
    /// Detector verdict (§5.4).
    pub delay_state: BandwidthUsage,
    /// Rate control state (§5.5).
    pub rate_control: RateControlState,
    /// Modified trend m(i), ms-equivalent.
    pub trend: f64,
    /// Adaptive threshold, ms.
    pub threshold: f64,
    /// Loss fraction of the last loss interval.
    pub loss_fraction: f64,
    /// Acknowledged bitrate, bit/s.
    pub acked_bitrate: Option<u64>,
    /// Delay-based estimate A_hat, bit/s.
    pub delay_based: u64,
    /// Loss-based bound As_hat, bit/s.
    pub loss_based: u64,
    /// Receiver's REMB cap, bit/s.
    pub remb: Option<u64>,
    /// The target, bit/s.
    pub target: u64,
    /// Latest RTT.
    pub rtt: Option<Duration>,
    /// Probe clusters handed out so far.
    pub probes: u64,
    /// Probe results that raised the estimate.
    pub probe_raises: u64,
    /// Probe raises refuted by an over-use soon after, at no more than the
    /// link carried before ([`PROBE_CONFIRM_WINDOW`]).
    pub probes_refuted: u64,
    /// The sender has other flows
    /// ([`CongestionController::set_other_flows`]): no probe is refuted.
    pub other_flows: bool,
    /// Queuing delay of the last feedback over the base one-way delay.
    pub queue_delay: Option<Duration>,
    /// Decreases for a standing queue ([`crate::queue_delay`]).
    pub standing_queue_decreases: u64,
    /// The standing queue is a competing loss-based flow's
    /// ([`crate::queue_delay`]): losses bound the rate, not the delay.
    pub competing: bool,
    /// The flow shares its bottleneck with others of the same sender
    /// ([`CongestionController::set_shared_bottleneck`]): every over-use
    /// decreases by beta.
    pub shared_bottleneck: bool,
}

/// Send-side GCC.
///
/// Call order: [`on_packet_sent`](Self::on_packet_sent) for every packet
/// the pacer releases, [`on_feedback`](Self::on_feedback) for every
/// transport feedback, and [`handle_timeout`](Self::handle_timeout) at
/// [`poll_timeout`](Self::poll_timeout); after any of them read
/// [`target_bitrate`](Self::target_bitrate) and drain
/// [`poll_probe`](Self::poll_probe) into the pacer.
#[derive(Debug)]
pub struct CongestionController {
    config: Config,
    history: SendHistory,
    delay: DelayDetector,
    aimd: AimdRateControl,
    loss: LossBasedControl,
    probe: ProbeController,
    probe_estimator: ProbeEstimator,
    queue: StandingQueue,
    remb: Option<u64>,
    rtt: Option<Duration>,
    padding_target: u64,
    probes: u64,
    probe_raises: u64,
    last_probe_raise: Option<Instant>,
    /// The sender filled its target when the last probe raised it (not
    /// application-limited), or when the first of raises in a row did.
    probe_raised_loaded: bool,
    /// The latest probe raises in a row, not yet confirmed or refuted.
    raised_from: Option<RaisedFrom>,
    /// Probe raises refuted by an over-use soon after.
    probes_refuted: u64,
    /// See [`CongestionController::set_other_flows`].
    other_flows: bool,
    was_competing: bool,
    /// The last decrease for a loss event while competing, and the rate
    /// it decreased from.
    last_loss_decrease: Option<(Instant, u64)>,
    /// The detector's last verdict and the last target logged: a debug
    /// event says when either changes (issue 21), not on every feedback.
    last_usage: BandwidthUsage,
    logged_target: u64,
}

impl CongestionController {
    /// A controller at `config.start_bitrate`, with the initial probes
    /// queued.
    pub fn new(config: Config) -> Self {
        let max = config.max_bitrate.max(config.min_bitrate);
        let config = Config {
            max_bitrate: max,
            start_bitrate: config.start_bitrate.clamp(config.min_bitrate, max),
            ..config
        };
        Self {
            config,
            history: SendHistory::new(),
            delay: DelayDetector::new(),
            aimd: AimdRateControl::new(config.start_bitrate, config.min_bitrate, max),
            loss: LossBasedControl::new(config.min_bitrate, max),
            probe: ProbeController::new(config.start_bitrate, max),
            probe_estimator: ProbeEstimator::new(),
            queue: {
                let mut q = StandingQueue::new();
                q.set_floor(config.min_bitrate);
                q
            },
            remb: None,
            rtt: None,
            padding_target: 0,
            probes: 0,
            probe_raises: 0,
            last_probe_raise: None,
            probe_raised_loaded: false,
            raised_from: None,
            probes_refuted: 0,
            other_flows: false,
            was_competing: false,
            last_loss_decrease: None,
            last_usage: BandwidthUsage::Normal,
            logged_target: config.start_bitrate,
        }
    }

    /// A packet left the pacer.
    pub fn on_packet_sent(&mut self, packet: SentPacket) {
        if packet.probe_cluster.is_some() {
            self.probe.on_probe_sent(packet.sent_at);
        }
        self.history.on_sent(packet);
    }

    /// Transport-wide feedback arrived at `now`.
    pub fn on_feedback(&mut self, now: Instant, results: &[PacketResult]) {
        let summary = self.history.on_feedback(results);
        let mut probe_result: Option<u64> = None;
        for p in &summary.acked {
            self.delay.on_packet(p);
            if let Some(r) = self.probe_estimator.on_packet(p) {
                probe_result = Some(probe_result.map_or(r, |b| b.max(r)));
            }
        }
        // §5.5 measures R_hat over 0.5-1 s; right after the rate rose (a
        // probe) that window still holds the old rate, and a decrease based
        // on it undershoots far below the path. What the receiver got in
        // the last 150 ms cannot exceed a plain bottleneck either, so for
        // [`AFTER_PROBE_WINDOW`] after a probe raised the estimate the
        // larger of the two is used. Not otherwise: a shaper's token bucket
        // (`tc tbf`) delivers its burst at once, and 150 ms of arrivals
        // then read far above the link (on a 300 kbit/s `tbf` link with a
        // 6 KB bucket, up to 1.2x), which made decreases too shallow and
        // pushed the rate out of its converged band.
        // An application-limited sender's increase cap (1.5 ×
        // acknowledged, §5.5) takes the larger of the two: with the 500 ms
        // window alone, a sender whose media is far under its target (a
        // mesh sending only its small layer) is held under what its next
        // layer needs. A sender that loads the link keeps the 500 ms one.
        let long = self.history.acked_bitrate();
        let recent = self.history.recent_acked_bitrate(RECENT_ACKED_WINDOW);
        let after_probe = self
            .last_probe_raise
            .is_some_and(|t| now.saturating_duration_since(t) < AFTER_PROBE_WINDOW);
        let larger = match (long, recent) {
            (Some(a), Some(r)) => Some(a.max(r)),
            (a, r) => a.or(r),
        };
        let acked = if after_probe { larger } else { long.or(recent) };
        let app_limited = |target: u64, acked: Option<u64>| {
            acked.is_some_and(|a| (a as f64) < APP_LIMITED_FRACTION * target as f64)
        };
        self.aimd
            .set_cap_acked(larger.filter(|_| app_limited(self.target_bitrate(), acked)));
        let mut usage = self.delay.state();
        if usage != self.last_usage {
            tracing::debug!(
                "delay detector: {:?} -> {usage:?} (trend of the one-way delay)",
                self.last_usage
            );
            self.last_usage = usage;
        }
        self.queue.set_acked(long);
        self.queue.on_losses(summary.lost);
        let standing = self.queue.on_feedback(now, &summary.acked);
        // A competing loss-based flow's queue ([`crate::queue_delay`]):
        // its delay says nothing about our rate; losses bound it (§6).
        let competing = self.queue.competing();
        if competing != self.was_competing {
            tracing::debug!(
                competing,
                "standing queue {}",
                if competing {
                    "is a competing loss-based flow's: losses bound the rate now"
                } else {
                    "no longer competing: delay bounds the rate again"
                }
            );
        }
        if competing && !self.was_competing {
            // The capacity found alone is not our share now: grow
            // multiplicatively until losses bound us.
            self.aimd.forget_capacity();
        }
        self.was_competing = competing;
        self.aimd.set_competing(competing);
        if competing {
            // The competitor's queue fills and drains with its own cycle.
            usage = BandwidthUsage::Normal;
        }
        // A standing queue is acted on only where the trend detector is
        // silent about it (no overuse, no decrease of its own lately).
        let standing = standing
            && !competing
            && usage == BandwidthUsage::Normal
            && self.aimd.decreased_within(now) != Some(true)
            && self.queue.signal(now);
        // Competing, a loss is the congestion signal, as it is the
        // competitor's: β once per RTT + 300 ms (the time the last decrease
        // needs to show), TCP-like growth in between.
        // A queue near the buffer's depth is one too: the competitor's
        // loss event, which our smaller packets may not share
        // ([`crate::queue_delay`]).
        // As a TCP flow's window after a loss, the rate must first grow
        // back to where it was decreased from (or [`COMPETING_LOSS_HOLD`]
        // pass) before the next event counts: a competitor that keeps the
        // buffer full drops a packet of ours, or holds the queue near its
        // depth, every round trip, and a decrease each time held the call
        // at 50-100 kbit/s on a 300 kbit/s `tbf` link (share 0.35), while
        // the competitor decreases once per cycle of its own.
        let near_full = self.queue.near_full();
        let loss_event = competing
            && (summary.lost > 0 || near_full)
            && self.last_loss_decrease.is_none_or(|(t, from)| {
                let since = now.saturating_duration_since(t);
                since
                    >= self.rtt.unwrap_or(crate::aimd::DEFAULT_RTT) + crate::loss::DECREASE_SPACING
                    && (self.aimd.rate() >= from || since >= COMPETING_LOSS_HOLD)
            });
        let target_before_raise = self.target_bitrate();
        if self
            .raised_from
            .is_some_and(|r| now.saturating_duration_since(r.at) >= PROBE_CONFIRM_WINDOW)
        {
            // The raise held through the window.
            self.raised_from = None;
            self.probe.on_confirmed();
        }
        let decreased_before = self.aimd.last_decrease();
        match probe_result {
            _ if standing => {
                tracing::debug!(acked_bps = ?acked, "rate decreased: standing queue");
                self.aimd.immediate_decrease(now, acked);
            }
            _ if loss_event => {
                tracing::debug!(
                    lost = summary.lost,
                    near_full,
                    "rate decreased: {} while competing",
                    if summary.lost > 0 {
                        "losses"
                    } else {
                        "a full queue"
                    }
                );
                let from = self.aimd.rate();
                self.aimd.competing_decrease(now);
                self.last_loss_decrease = Some((now, from));
            }
            Some(r) if usage != BandwidthUsage::Overusing && r > self.aimd.rate() => {
                tracing::debug!(probe_bps = r, "estimate raised by a probe to {r} bit/s");
                // What the link was known to carry, before the raise
                // forgets a band it leaves.
                let carried = self
                    .aimd
                    .capacity_band()
                    .map(|(_, hi)| hi)
                    .into_iter()
                    .chain(acked)
                    .max()
                    .unwrap_or(0);
                self.aimd.set_estimate(now, r);
                self.loss.raise_to(r);
                self.probe_raises += 1;
                self.last_probe_raise = Some(now);
                // A raise right after another (further probing) finds the
                // sender still catching up with the first: whether it was
                // loaded is the first raise's answer. Measured on the
                // simulator's rise from 1 to 2.5 Mbit/s: the second of two
                // raises 100 ms apart saw 1.49 Mbit/s acknowledged under
                // 2.17 Mbit/s of target, took the sender for an
                // application-limited one, and the over-use of the
                // probes' step 200 ms later set the band at 2 Mbit/s.
                let loaded = !app_limited(target_before_raise, acked);
                self.probe_raised_loaded = loaded || (after_probe && self.probe_raised_loaded);
                self.raised_from = Some(match self.raised_from {
                    Some(row) if now.saturating_duration_since(row.at) < PROBE_CONFIRM_WINDOW => {
                        RaisedFrom { at: now, ..row }
                    }
                    _ => RaisedFrom { at: now, carried },
                });
            }
            _ => {
                self.aimd.set_queue_delay(self.queue.queue_delay());
                self.aimd.update(now, usage, acked);
                let decreased = self.aimd.last_decrease() != decreased_before;
                // A raise the link did not carry: found full within
                // [`PROBE_CONFIRM_WINDOW`] with no more acknowledged than
                // it carried before. A shaper's token bucket passes a
                // probe at line rate (a 300 kbit/s `tbf` link read at
                // 540-1260 kbit/s); the encoder follows the raise and
                // fills the queue (100-185 ms a few seconds later, every
                // 5-6 s, in real calls). Not for a sender with other flows
                // (a mesh's other members, coupled or not): their rates
                // may have filled the link (measured on the simulator,
                // simulcast to five members: a member's periodic probes,
                // spaced out by over-uses the others caused, moved the
                // layers and the coupling).
                let refuted = decreased
                    && !self.other_flows
                    && self.raised_from.is_some_and(|r| r.refuted_by(now, acked));
                if refuted {
                    tracing::debug!(
                        acked_bps = ?acked,
                        "probe refuted: the link was found full at what it carried before"
                    );
                    self.probes_refuted += 1;
                    self.probe.on_refuted(now);
                } else if after_probe && self.probe_raised_loaded && decreased {
                    // The step a probe's result made is read as over-use
                    // while the acknowledged window still mixes the old
                    // rate with the probe's: not where the link is full.
                    // Forgotten, so the increase is multiplicative again.
                    // Not for an application-limited sender: its
                    // periodic probes (below) would otherwise keep its
                    // increase multiplicative for good.
                    self.aimd.forget_capacity();
                }
            }
        }
        if self.aimd.last_decrease() != decreased_before {
            // Any decrease ends the row: judged above if it was an
            // over-use, unjudged otherwise (a standing queue, a loss event
            // while competing).
            self.raised_from = None;
        }
        self.loss
            .on_feedback(now, summary.lost, summary.received, self.aimd.rate());
        if competing {
            // Competing, the rate is already loss-based (a β decrease per
            // loss event): §6's bound, which holds at 2-10% loss, would
            // stop the growth between loss events while the competitor's
            // full buffer drops a few of ours every second (measured on
            // a 300 kbit/s `tbf` link against a TCP flow: the call held
            // at 50-100 kbit/s, a share of 0.35).
            self.loss.raise_to(self.aimd.rate());
        }
        // Converged, the band's top; competing, no probe at all (a
        // competitor's full queue makes every probe a loss). A sender far
        // below its target (application-limited: the acknowledged rate
        // under [`APP_LIMITED_FRACTION`] of it) cannot leave the band by
        // itself and keeps probing periodically, as libwebrtc probes in
        // its application-limited region.
        // An application-limited sender whose target is already
        // [`APP_LIMITED_PROBE_HEADROOM`] × what it sends has nothing to
        // learn from a probe (its media could double and still fit the
        // estimate); probing then only spends padding, and its result,
        // above what the media could ever confirm, lifts the estimate
        // further from the truth (a mesh member's connections whose
        // encoder follows another member's lower target, a paused camera).
        let target = self.target_bitrate();
        // Only moves of a tenth or more are worth a line.
        if target.abs_diff(self.logged_target) * 10 >= self.logged_target {
            tracing::debug!(
                from = self.logged_target,
                to = target,
                ?usage,
                "target bitrate {} -> {target} bit/s",
                self.logged_target
            );
            self.logged_target = target;
        }
        let ceiling = if competing {
            Some(0)
        } else if app_limited(target, acked) {
            let held_by_media =
                acked.is_some_and(|a| (target as f64) < APP_LIMITED_PROBE_HEADROOM * a as f64);
            if held_by_media {
                None
            } else {
                Some(0)
            }
        } else {
            self.aimd.capacity_band().map(|(_, hi)| hi)
        };
        self.probe.set_ceiling(ceiling);
        self.probe.on_estimate(now, target);
        self.probe.handle_timeout(now, self.is_stable(now));
    }

    /// A new round-trip time measurement.
    pub fn on_rtt(&mut self, _now: Instant, rtt: Duration) {
        self.rtt = Some(rtt);
        self.aimd.set_rtt(rtt);
        self.loss.set_rtt(rtt);
    }

    /// The receiver's REMB: a cap on the target.
    pub fn on_remb(&mut self, _now: Instant, bps: u64) {
        self.remb = Some(bps);
    }

    /// Whether the application is sending less than the target on its own
    /// (a static screen, a paused camera). Recovering from it probes.
    pub fn set_app_limited(&mut self, now: Instant, limited: bool) {
        self.probe.set_app_limited(now, limited);
    }

    /// A new maximum bitrate; raising it while at the old one probes.
    pub fn set_max_bitrate(&mut self, now: Instant, bps: u64) {
        let max = bps.max(self.config.min_bitrate);
        self.config.max_bitrate = max;
        self.aimd.set_bounds(self.config.min_bitrate, max);
        self.loss.set_bounds(self.config.min_bitrate, max);
        self.probe.set_max(now, max);
    }

    /// Raises the delay-based and loss-based estimates to `bps` when they
    /// are below it (never lowers them): the owner learnt from outside this
    /// flow that it may send that much, as the flow state exchange of
    /// RFC 8699 §5 hands a coupled flow its share of the aggregate. The
    /// estimator goes on from there: an over-use brings it down again.
    pub fn raise_estimate(&mut self, now: Instant, bps: u64) {
        let bps = bps.clamp(self.config.min_bitrate, self.config.max_bitrate);
        if bps > self.aimd.rate() {
            self.aimd.set_estimate(now, bps);
        }
        self.loss.raise_to(bps);
    }

    /// Whether this flow shares its bottleneck with others of the same
    /// sender (a mesh node's coupled flows, RFC 8699): then every over-use
    /// decreases by beta, as flows that do not all decrease cannot drain
    /// a shared queue by a gentle step each (`AimdRateControl::
    /// decrease_factor`).
    pub fn set_shared_bottleneck(&mut self, shared: bool) {
        self.aimd.set_shared_bottleneck(shared);
    }

    /// Whether the sender has other flows that may share this one's
    /// bottleneck (a mesh node's other members), coupled or not: then an
    /// over-use after a probe raise may be theirs, and does not refute the
    /// probe ([`PROBE_CONFIRM_WINDOW`]). Off by default: one flow.
    pub fn set_other_flows(&mut self, others: bool) {
        self.other_flows = others;
    }

    /// Padding the application wants sent when media does not fill it
    /// (never above the target).
    pub fn set_padding_target(&mut self, bps: u64) {
        self.padding_target = bps;
    }

    /// The rate to encode at, bit/s.
    pub fn target_bitrate(&self) -> u64 {
        let t = self
            .aimd
            .rate()
            .min(self.loss.estimate())
            .min(self.remb.unwrap_or(u64::MAX));
        t.clamp(self.config.min_bitrate, self.config.max_bitrate)
    }

    /// The rate to pace at: [`PACING_FACTOR`] × target.
    pub fn pacing_rate(&self) -> u64 {
        (self.target_bitrate() as f64 * PACING_FACTOR) as u64
    }

    /// The rate to pad up to when media falls short.
    pub fn padding_rate(&self) -> u64 {
        self.padding_target.min(self.target_bitrate())
    }

    /// The next probe cluster for the pacer.
    #[must_use]
    pub fn poll_probe(&mut self) -> Option<ProbeCluster> {
        let c = self.probe.poll_probe()?;
        self.probe_estimator.on_cluster(c);
        self.probes += 1;
        Some(c)
    }

    fn is_stable(&self, now: Instant) -> bool {
        self.delay.state() == BandwidthUsage::Normal
            && self
                .aimd
                .last_decrease()
                .is_none_or(|t| now.saturating_duration_since(t) >= STABLE_AFTER_DECREASE)
    }

    /// Timers: probe result timeouts and periodic probes.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.probe.handle_timeout(now, self.is_stable(now));
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.probe.poll_timeout()
    }

    /// A snapshot for stats.
    pub fn state(&self) -> CcState {
        CcState {
            delay_state: self.delay.state(),
            rate_control: self.aimd.state(),
            trend: self.delay.trend(),
            threshold: self.delay.threshold(),
            loss_fraction: self.loss.loss_fraction(),
            acked_bitrate: self.history.acked_bitrate(),
            delay_based: self.aimd.rate(),
            loss_based: self.loss.estimate(),
            remb: self.remb,
            target: self.target_bitrate(),
            rtt: self.rtt,
            probes: self.probes,
            probe_raises: self.probe_raises,
            probes_refuted: self.probes_refuted,
            other_flows: self.other_flows,
            queue_delay: self.queue.queue_delay(),
            standing_queue_decreases: self.queue.signals(),
            competing: self.queue.competing(),
            shared_bottleneck: self.aimd.shared_bottleneck(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn config() -> Config {
        Config {
            start_bitrate: 300_000,
            min_bitrate: 30_000,
            max_bitrate: 5_000_000,
        }
    }

    #[test]
    fn target_is_the_smallest_bound_clamped() {
        let t0 = Instant::now();
        let mut cc = CongestionController::new(config());
        assert_eq!(cc.target_bitrate(), 300_000);
        assert_eq!(cc.pacing_rate(), 750_000);
        cc.on_remb(t0, 200_000);
        assert_eq!(cc.target_bitrate(), 200_000);
        cc.on_remb(t0, 1_000);
        assert_eq!(cc.target_bitrate(), 30_000);
        cc.set_padding_target(100_000);
        assert_eq!(cc.padding_rate(), 30_000);
        assert_eq!(cc.state().remb, Some(1_000));
    }

    #[test]
    fn a_raise_from_outside_lifts_both_bounds_and_never_lowers_them() {
        let t0 = Instant::now();
        let mut cc = CongestionController::new(config());
        cc.raise_estimate(t0, 800_000);
        assert_eq!(cc.target_bitrate(), 800_000);
        assert_eq!(cc.state().delay_based, 800_000);
        assert!(cc.state().loss_based >= 800_000);
        // A lower share is no reason to send less: the estimate stays.
        cc.raise_estimate(t0 + 100 * MS, 500_000);
        assert_eq!(cc.target_bitrate(), 800_000);
        // Clamped to the configured maximum.
        cc.raise_estimate(t0 + 200 * MS, 50_000_000);
        assert_eq!(cc.target_bitrate(), 5_000_000);
    }

    #[test]
    fn initial_probes_are_handed_out_once() {
        let mut cc = CongestionController::new(config());
        let rates: Vec<u64> = std::iter::from_fn(|| cc.poll_probe())
            .map(|c| c.target_bitrate)
            .collect();
        assert_eq!(rates, [900_000, 1_800_000]);
        assert_eq!(cc.state().probes, 2);
    }

    /// A FIFO path of a given capacity for 1200-byte packets.
    struct Fifo {
        service: f64,
        free: f64,
    }

    impl Fifo {
        fn new(capacity: u64) -> Fifo {
            Fifo {
                service: 1200.0 * 8.0 / capacity as f64,
                free: 0.0,
            }
        }

        /// When a packet sent at `sent` seconds leaves the path.
        fn depart(&mut self, sent: f64) -> Duration {
            self.free = sent.max(self.free) + self.service;
            Duration::from_secs_f64(self.free)
        }
    }

    /// One 1200-byte packet sent at `sent_at` and its feedback entry
    /// (arrival on the receiver's clock).
    fn send_one(
        cc: &mut CongestionController,
        seq: &mut u64,
        sent_at: Instant,
        arrival: Duration,
        probe_cluster: Option<u32>,
    ) -> PacketResult {
        cc.on_packet_sent(SentPacket {
            seq: *seq,
            size: 1200,
            sent_at,
            probe_cluster,
        });
        let r = PacketResult {
            seq: *seq,
            arrival: Some(arrival),
        };
        *seq += 1;
        r
    }

    /// Sends a probe cluster at its rate through a path of `capacity`
    /// and feeds back what arrived.
    fn probe_through(cc: &mut CongestionController, t0: Instant, capacity: u64, seq: &mut u64) {
        let c = cc.poll_probe().unwrap();
        let spacing = 1200.0 * 8.0 / c.target_bitrate as f64;
        let mut path = Fifo::new(capacity);
        let mut results = Vec::new();
        for i in 0..6 {
            let sent = i as f64 * spacing;
            let arrival = Duration::from_secs(100) + path.depart(sent);
            results.push(send_one(
                cc,
                seq,
                t0 + Duration::from_secs_f64(sent),
                arrival,
                Some(c.id),
            ));
        }
        cc.on_feedback(t0 + 100 * MS, &results);
    }

    #[test]
    fn successful_probe_raises_the_estimate_and_probes_further() {
        let t0 = Instant::now();
        let mut cc = CongestionController::new(config());
        let mut seq = 0;
        probe_through(&mut cc, t0, 10_000_000, &mut seq);
        assert_eq!(cc.target_bitrate(), 900_000);
        probe_through(&mut cc, t0 + 200 * MS, 10_000_000, &mut seq);
        assert_eq!(cc.target_bitrate(), 1_800_000);
        assert_eq!(cc.state().probe_raises, 2);
        // Further probing at twice the new estimate.
        let next = cc.poll_probe().unwrap();
        assert_eq!(next.target_bitrate, 3_600_000);
    }

    #[test]
    fn saturated_probe_finds_the_bottleneck() {
        let t0 = Instant::now();
        let mut cc = CongestionController::new(config());
        let mut seq = 0;
        probe_through(&mut cc, t0, 600_000, &mut seq);
        // 95 % of the 600 kbit/s the path delivered.
        let t = cc.target_bitrate();
        assert!((560_000..=580_000).contains(&t), "{t}");
    }

    /// Media at `rate` through a FIFO path of `capacity` from `from`, with
    /// feedback every 50 ms, until the delay-based estimate falls under
    /// what it was (or 2 s pass): when it fell.
    fn overload_until_decrease(
        cc: &mut CongestionController,
        from: Instant,
        rate: u64,
        capacity: u64,
        seq: &mut u64,
    ) -> Option<Instant> {
        let before = cc.state().delay_based;
        let gap = 1200.0 * 8.0 / rate as f64;
        let mut path = Fifo::new(capacity);
        let mut sent = 0.0f64;
        for tick in 1..=40 {
            let now = tick as f64 * 0.05;
            let mut results = Vec::new();
            while sent < now {
                let arrival = Duration::from_secs(200) + path.depart(sent);
                let at = from + Duration::from_secs_f64(sent);
                results.push(send_one(cc, seq, at, arrival, None));
                sent += gap;
            }
            let at = from + Duration::from_secs_f64(now);
            cc.on_feedback(at, &results);
            if cc.state().delay_based < before {
                return Some(at);
            }
        }
        None
    }

    #[test]
    fn an_overuse_read_right_after_a_probe_raise_teaches_no_capacity() {
        for wait_ms in [0u32, 1500] {
            let t0 = Instant::now();
            let mut cc = CongestionController::new(config());
            let mut seq = 0;
            probe_through(&mut cc, t0, 10_000_000, &mut seq);
            assert_eq!(cc.state().probe_raises, 1);
            while cc.poll_probe().is_some() {}
            let from = t0 + 100 * MS + wait_ms * MS;
            let at = overload_until_decrease(&mut cc, from, 1_500_000, 600_000, &mut seq)
                .expect("the overload is read as over-use");
            if wait_ms == 0 {
                // Within AFTER_PROBE_WINDOW of the raise: the step is not
                // where the link was found full; the increase stays
                // multiplicative.
                assert!(at - (t0 + 100 * MS) < AFTER_PROBE_WINDOW);
                assert_eq!(cc.aimd.capacity_band(), None);
            } else {
                // Later, the same over-use is where the link is full.
                assert!(cc.aimd.capacity_band().is_some());
            }
        }
    }

    #[test]
    fn raises_in_a_row_keep_the_first_ones_loaded_sender() {
        let t0 = Instant::now();
        let mut cc = CongestionController::new(config());
        let mut seq = 0;
        let mut pending: Vec<u32> = Vec::new();
        while let Some(c) = cc.poll_probe() {
            pending.push(c.id);
        }
        // The sender fills its 300 kbit/s start target (a path without
        // queue: arrival = send time; feedback every 100 ms) and goes on
        // at that rate while two probe clusters, at 1.0 and 1.2 s, raise
        // its target twice: at the second raise its media have not caught
        // up with the first.
        let gap = Duration::from_secs_f64(1200.0 * 8.0 / 300_000.0);
        let mut sent_at = t0;
        let mut loaded = 0;
        let mut raises_at = Vec::new();
        for tick in 1..=13u32 {
            let now = t0 + tick * 100 * MS;
            let mut results = Vec::new();
            while sent_at < now {
                results.push(send_one(&mut cc, &mut seq, sent_at, sent_at - t0, None));
                sent_at += gap;
            }
            if tick == 10 || tick == 12 {
                if tick == 10 {
                    loaded = cc.target_bitrate();
                }
                let id = pending.remove(0);
                let rate = if tick == 10 { 1_800_000.0 } else { 3_600_000.0 };
                let from = now - 50 * MS;
                for i in 0..6 {
                    let at = from + Duration::from_secs_f64(i as f64 * 9600.0 / rate);
                    results.push(send_one(&mut cc, &mut seq, at, at - t0, Some(id)));
                }
            }
            let raises = cc.state().probe_raises;
            cc.on_feedback(now, &results);
            if cc.state().probe_raises > raises {
                raises_at.push(now);
            }
        }
        assert_eq!(raises_at.len(), 2, "{raises_at:?}");
        assert!(
            cc.target_bitrate() > 4 * loaded,
            "{loaded} {:?}",
            cc.state()
        );
        // The second raise saw the media far under the first one's target.
        let acked = cc.state().acked_bitrate.unwrap();
        assert!(
            (acked as f64) < APP_LIMITED_FRACTION * 1_700_000.0,
            "{acked}"
        );
        while cc.poll_probe().is_some() {}
        // The probes' step read as over-use right after: not where the
        // link is full, as after a single raise.
        let after = raises_at[1];
        let at = overload_until_decrease(&mut cc, after, 4_000_000, 2_500_000, &mut seq)
            .expect("the overload is read as over-use");
        assert!(at - after < AFTER_PROBE_WINDOW);
        assert_eq!(cc.aimd.capacity_band(), None);
    }

    /// Sends media at `rate` for `secs` (1200-byte packets, a constant
    /// 50 ms path, feedback every 100 ms) and returns the probe clusters
    /// asked for meanwhile (after the initial ones).
    fn app_limited_probes(rate: u64, secs: u64) -> Vec<u64> {
        let t0 = Instant::now();
        let mut cc = CongestionController::new(config());
        while cc.poll_probe().is_some() {}
        let gap = Duration::from_secs_f64(1200.0 * 8.0 / rate as f64);
        let mut seq = 0;
        let mut sent_at = t0;
        let mut probes = Vec::new();
        for tick in 1..=secs * 10 {
            let now = t0 + tick as u32 * 100 * MS;
            let mut results = Vec::new();
            while sent_at < now {
                cc.on_packet_sent(SentPacket {
                    seq,
                    size: 1200,
                    sent_at,
                    probe_cluster: None,
                });
                results.push(PacketResult {
                    seq,
                    arrival: Some(sent_at - t0 + 50 * MS),
                });
                seq += 1;
                sent_at += gap;
            }
            cc.on_feedback(now, &results);
            probes.extend(std::iter::from_fn(|| cc.poll_probe()).map(|c| c.target_bitrate));
        }
        probes
    }

    /// A sender that found a 300 kbit/s FIFO link full (its media at 1.5
    /// times the target until then) sends at 0.9 of its target, except at
    /// a third of it from 8 to 9 s and at half of it from 13 s on
    /// (application-limited both times: it probes). Its probe clusters
    /// pass as a shaper's token bucket passes them, at the rate they were
    /// sent; its media go through the FIFO. The times of the decreases,
    /// of the probes asked for, and the controller.
    fn probed_through_a_bucket(other_flows: bool) -> (Vec<f64>, Vec<f64>, CongestionController) {
        let t0 = Instant::now();
        let mut cc = CongestionController::new(config());
        cc.set_other_flows(other_flows);
        while cc.poll_probe().is_some() {}
        let mut seq = 0;
        let mut path = Fifo::new(300_000);
        let mut sent = 0.0f64;
        let (mut decreases, mut probes) = (Vec::new(), Vec::new());
        let mut found_full = false;
        for tick in 1..=300 {
            let now = tick as f64 * 0.1;
            let share = match now {
                _ if !found_full => 1.5,
                t if (8.0..9.0).contains(&t) => 1.0 / 3.0,
                t if t < 13.0 => 0.9,
                _ => 0.5,
            };
            let gap = 1200.0 * 8.0 / (share * cc.target_bitrate() as f64);
            let mut results = Vec::new();
            while sent < now {
                let arrival = Duration::from_secs(100) + path.depart(sent);
                let at = t0 + Duration::from_secs_f64(sent);
                results.push(send_one(&mut cc, &mut seq, at, arrival, None));
                sent += gap;
            }
            let at = t0 + Duration::from_secs_f64(now);
            let clusters: Vec<_> = std::iter::from_fn(|| cc.poll_probe()).collect();
            for c in clusters {
                if found_full {
                    probes.push(now);
                }
                let spacing = 1200.0 * 8.0 / c.target_bitrate as f64;
                for i in 0..6 {
                    let t = now - 0.05 + i as f64 * spacing;
                    let arrival = Duration::from_secs(100) + Duration::from_secs_f64(t);
                    let sent_at = t0 + Duration::from_secs_f64(t);
                    results.push(send_one(&mut cc, &mut seq, sent_at, arrival, Some(c.id)));
                }
            }
            let before = cc.aimd.last_decrease();
            cc.on_feedback(at, &results);
            cc.handle_timeout(at);
            if found_full && cc.aimd.last_decrease() != before {
                decreases.push(now);
            }
            found_full |= cc.aimd.capacity_band().is_some();
        }
        (decreases, probes, cc)
    }

    #[test]
    fn a_probe_raise_the_link_does_not_carry_spaces_periodic_probes_out() {
        let (decreases, probes, cc) = probed_through_a_bucket(false);
        // The application-limited sender probed; the bucket passed the
        // cluster, which raised the estimate; its media then found the
        // link full at about what it carried before.
        let first = *probes
            .first()
            .expect("an application-limited sender probes");
        assert!(cc.state().probe_raises >= 1);
        let refuted_at = decreases
            .iter()
            .copied()
            .find(|&d| d > first)
            .expect("the raise is found too high");
        assert!(refuted_at - first < 3.0, "{decreases:?} {probes:?}");
        assert!(cc.state().probes_refuted >= 1, "{:?}", cc.state());
        // Application-limited again from 13 s, it probes again, but only
        // twice the interval after the refutation (10 s, not 5).
        let next = probes
            .iter()
            .copied()
            .find(|&p| p > refuted_at)
            .expect("application-limited, it probes again");
        assert!(next - refuted_at >= 9.9, "{refuted_at} {probes:?}");
        // A sender with other flows cannot tell its own raise from their
        // rates: nothing is refuted, probes stay 5 s apart.
        let (_, probes, cc) = probed_through_a_bucket(true);
        assert_eq!(cc.state().probes_refuted, 0);
        assert!(probes.windows(2).any(|w| w[1] - w[0] < 6.0), "{probes:?}");
    }

    #[test]
    fn an_application_limited_sender_probes_only_while_its_target_is_under_twice_what_it_sends() {
        // 180 kbit/s sent under a 300 kbit/s target: its media could not
        // double within the target, so the link above it is worth probing.
        let probes = app_limited_probes(180_000, 3);
        assert!(probes.first().is_some_and(|&r| r >= 600_000), "{probes:?}");
        // 100 kbit/s under 300 kbit/s: the target already allows three
        // times the media; a probe would only spend padding.
        assert_eq!(app_limited_probes(100_000, 8), Vec::<u64>::new());
    }
}

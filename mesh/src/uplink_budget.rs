//! One budget for all the streams a mesh member sends: they leave through
//! the same home uplink, so the node learns when that uplink is their
//! common bottleneck, estimates its capacity, and shares it fairly between
//! the members.
//!
//! Each member's connection runs its own send-side estimator
//! (draft-ietf-rmcat-gcc-02). On their own, N estimators behind one
//! uplink each see the whole queue but only their own throughput, so one
//! whose probe happened to get through (its packets interleaved with the
//! others' in the same queue) believes it may send far more than its share,
//! and a layer switch on that belief overloads everyone's uplink. This
//! module couples them, sans-IO, in two steps:
//!
//! 1. **Shared-bottleneck detection** (after RFC 8382 §3, much simplified
//!    for flows that have one sender). RFC 8382 groups flows whose one-way
//!    delay statistics move together: flows behind one queue see the same
//!    queuing delay rise and fall. Here every flow reports the queuing
//!    delay of its last feedback (one-way delay over its base, from the
//!    estimator) and whether its delay detector says over-use. When at
//!    least two flows, and at least half of those with an estimate, are
//!    congested at once (queuing delay of [`BudgetConfig::congested_delay`]
//!    or more, or over-use) and their queuing delays are alike (within
//!    [`BudgetConfig::similar_delay`] or a third of the largest), they are
//!    taken to share the node's uplink. A flow whose own path is slow (a
//!    member on a poor downlink) builds a queue the others do not see and
//!    never makes the group on its own.
//! 2. **A node-level capacity and a fair split** (after the flow state
//!    exchange of RFC 8699 §5: flows register with a shared entity that
//!    sums their rates, `S_CR`, and hands each its share, `S_CR × P(f) /
//!    S_P`; here every priority `P` is equal, and a flow that wants less
//!    than its share gives the rest to the others, as §5's
//!    application-limited flows do). At each joint congestion the capacity
//!    estimate becomes what all the flows together got through, the sum of
//!    their acknowledged bitrates (the uplink was full, so that is what it
//!    carries), provided every flow filled at least 70% of its estimate
//!    (a flow that was paused or is app-limited measures nothing, and
//!    neither does one whose capacity just fell: the acknowledged rate
//!    lags by up to a second). Between congestion events it grows by
//!    [`BudgetConfig::growth_per_second`] (faster than an estimator's own
//!    8%/s, so it never holds back a ramp the path allows) and stays within
//!    1.5 × the sum of the flows' estimates and, above what was measured,
//!    within [`GROWTH_HEADROOM`] × what the flows send now (so that it does
//!    not drift far above what is used and then fail to bind: flows on a
//!    small simulcast layer would otherwise let it float to twice the
//!    uplink, and the shares with it). Each member may use
//!    [`UplinkBudget::shares`]: a max-min fair split of the capacity over
//!    the flows' own estimates. The split is in the estimates' units: a
//!    node may send less than its estimates (until a connection has
//!    measured its audio and overhead, the encoder is asked for 85% of
//!    what is left after audio), so the capacity is divided by the share
//!    of their estimates the flows filled at the event; otherwise each
//!    event would lower the budget below what filled the uplink, and the
//!    next one lower still. A member's encoder target and layer come from
//!    `min(its estimate, its share)`. The node (`node/uplink_shares.rs`)
//!    passes a coupled flow (one congested at the last joint congestion)
//!    with no limit of its own, so coupled flows split the capacity
//!    equally, and raises a coupled flow's estimate that lies far under
//!    its share to the share (RFC 8699 §5).
//!
//! Before the first joint congestion there is no capacity estimate and
//! no cap: a node whose uplink is never the bottleneck is never limited
//! by this module.

use std::time::{Duration, Instant};

/// A flow acknowledged at less than this share of its estimate is not
/// filling it: its throughput says nothing of the uplink's capacity. A
/// node's encoders fill their estimates (with
/// `MeshConfig::measured_video_budget`) or about 87% of them (the fixed
/// share), so a flow under 70% of its estimate is one a probe has just
/// raised, one resuming from a pause, or one sent a small layer.
const MIN_FILL: f64 = 0.7;

/// Between joint congestions the capacity grows past what was measured
/// only up to this many times what the flows send now.
const GROWTH_HEADROOM: f64 = 1.25;

/// What one flow (a member's connection) tells the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowSignal {
    /// The connection's send-side estimate, bit/s.
    pub estimate: u64,
    /// What its receiver acknowledged lately, bit/s.
    pub acked: Option<u64>,
    /// Queuing delay of its last feedback: one-way delay over its base.
    pub queue_delay: Option<Duration>,
    /// Its delay detector says over-use.
    pub overusing: bool,
}

/// Settings of an [`UplinkBudget`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetConfig {
    /// A flow with at least this much queuing delay is congested.
    pub congested_delay: Duration,
    /// Congested flows whose queuing delays differ by at most this much
    /// (or by a third of the largest) see the same queue.
    pub similar_delay: Duration,
    /// Joint congestion events closer than this are one event.
    pub event_gap: Duration,
    /// How fast the capacity estimate grows between events (0.1: 10% per
    /// second, compounded).
    pub growth_per_second: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            congested_delay: Duration::from_millis(30),
            similar_delay: Duration::from_millis(20),
            event_gap: Duration::from_millis(500),
            growth_per_second: 0.10,
        }
    }
}

/// The node's uplink budget. See the module documentation.
///
/// Call [`UplinkBudget::update`] with every flow's signal now and then
/// (every 100 ms is plenty), then read [`UplinkBudget::shares`].
#[derive(Debug, Clone)]
pub struct UplinkBudget {
    config: BudgetConfig,
    /// Estimated capacity of the shared uplink, bit/s.
    capacity: Option<f64>,
    /// What went through at the last joint congestion, bit/s.
    measured: f64,
    /// At the last event: what went through over the flows' estimates
    /// (0.5 to 1), to turn the capacity into a sum of estimates.
    fill: f64,
    updated_at: Option<Instant>,
    last_event: Option<Instant>,
    events: u64,
}

impl UplinkBudget {
    /// A budget with no capacity estimate yet.
    pub fn new(config: BudgetConfig) -> Self {
        UplinkBudget {
            config,
            capacity: None,
            measured: 0.0,
            fill: 1.0,
            updated_at: None,
            last_event: None,
            events: 0,
        }
    }

    /// The estimated capacity of the shared uplink, once a joint
    /// congestion was seen.
    pub fn capacity(&self) -> Option<u64> {
        self.capacity.map(|c| c as u64)
    }

    /// Joint congestion events seen so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Whether the flows are congested together now: at least two, and at
    /// least half of them, with alike queuing delays.
    pub fn jointly_congested(&self, flows: &[FlowSignal]) -> bool {
        let c = &self.config;
        let delays: Vec<Duration> = flows
            .iter()
            .filter(|f| self.is_congested(f))
            .map(|f| f.queue_delay.unwrap_or(c.congested_delay))
            .collect();
        if delays.len() < 2 || delays.len() * 2 < flows.len() {
            return false;
        }
        let (lo, hi) = (
            delays.iter().min().copied().unwrap_or_default(),
            delays.iter().max().copied().unwrap_or_default(),
        );
        hi - lo <= c.similar_delay.max(hi / 3)
    }

    /// Whether one flow is congested: over-use, or a queuing delay of at
    /// least [`BudgetConfig::congested_delay`].
    pub fn is_congested(&self, flow: &FlowSignal) -> bool {
        flow.overusing
            || flow
                .queue_delay
                .is_some_and(|d| d >= self.config.congested_delay)
    }

    /// Takes every flow's latest signal at `now`.
    pub fn update(&mut self, now: Instant, flows: &[FlowSignal]) {
        let dt = self
            .updated_at
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        self.updated_at = Some(now);
        let estimates: f64 = flows.iter().map(|f| f.estimate as f64).sum();
        let through_now: f64 = flows.iter().filter_map(|f| f.acked).map(|a| a as f64).sum();
        if let Some(cap) = self.capacity.as_mut() {
            *cap *= (1.0 + self.config.growth_per_second).powf(dt);
            // Above what was measured, it grows only as far as the flows
            // really send: flows that stay under it (a small simulcast
            // layer, a paused camera) prove nothing about a larger uplink.
            let proven = self.measured.max(GROWTH_HEADROOM * through_now);
            *cap = cap.min(1.5 * estimates * self.fill).min(proven);
        }
        let new_event = self
            .last_event
            .is_none_or(|t| now.saturating_duration_since(t) >= self.config.event_gap);
        // The sum of acknowledged bitrates measures the uplink only while
        // the flows fill their estimates: right after a pause (or a drop
        // in capacity) it still holds the rate of the last second, far
        // from what the uplink carries now, and the flows' own estimators
        // are the ones to react.
        let filling = flows.iter().all(|f| {
            f.acked
                .is_some_and(|a| a as f64 >= MIN_FILL * f.estimate as f64)
        });
        if new_event && filling && self.jointly_congested(flows) {
            let through: f64 = flows.iter().filter_map(|f| f.acked).map(|a| a as f64).sum();
            if through > 0.0 {
                self.capacity = Some(through);
                self.measured = through;
                self.fill = (through / estimates.max(1.0)).clamp(MIN_FILL, 1.0);
                self.last_event = Some(now);
                self.events += 1;
            }
        }
    }

    /// What each flow may use, in the order of `estimates` (each flow's
    /// own estimate): the capacity split max-min fairly, a flow never
    /// given more than its estimate (RFC 8699 §5, equal priorities). With
    /// no capacity estimate yet, the estimates themselves.
    pub fn shares(&self, estimates: &[u64]) -> Vec<u64> {
        let Some(capacity) = self.capacity else {
            return estimates.to_vec();
        };
        // In the estimates' units: a node whose encoders send 87% of their
        // estimates filled the uplink with estimates summing to
        // capacity / 0.87.
        let capacity = capacity / self.fill;
        let mut order: Vec<usize> = (0..estimates.len()).collect();
        order.sort_by_key(|&i| estimates[i]);
        let mut out = vec![0; estimates.len()];
        let mut left = capacity;
        for (k, &i) in order.iter().enumerate() {
            let fair = left / (estimates.len() - k) as f64;
            let share = (estimates[i] as f64).min(fair);
            out[i] = share as u64;
            left -= share;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn flow(estimate: u64, acked: u64, queue_ms: u64) -> FlowSignal {
        FlowSignal {
            estimate,
            acked: Some(acked),
            queue_delay: Some(MS * queue_ms as u32),
            overusing: false,
        }
    }

    #[test]
    fn flows_queued_together_are_a_shared_bottleneck_and_one_slow_path_is_not() {
        let b = UplinkBudget::new(BudgetConfig::default());
        // Five flows behind one queue: all see 60-75 ms.
        let shared: Vec<FlowSignal> = [60, 65, 70, 75, 62]
            .iter()
            .map(|&d| flow(500_000, 400_000, d))
            .collect();
        assert!(b.jointly_congested(&shared));
        // One member's own path is slow: only its flow queues.
        let mut one = vec![flow(500_000, 400_000, 2); 4];
        one.push(flow(200_000, 180_000, 150));
        assert!(!b.jointly_congested(&one));
        // Two slow paths of very different depth are not one queue.
        let mut two = vec![flow(500_000, 400_000, 2); 2];
        two.push(flow(200_000, 180_000, 40));
        two.push(flow(200_000, 180_000, 200));
        assert!(!b.jointly_congested(&two));
        // Over-use counts as congested even before the delay is deep.
        let over: Vec<FlowSignal> = (0..3)
            .map(|_| FlowSignal {
                overusing: true,
                ..flow(500_000, 400_000, 10)
            })
            .collect();
        assert!(b.jointly_congested(&over));
        // A single flow is never a group.
        assert!(!b.jointly_congested(&shared[..1]));
    }

    #[test]
    fn a_joint_congestion_sets_the_capacity_to_what_went_through_and_it_grows_after() {
        let t0 = Instant::now();
        let mut b = UplinkBudget::new(BudgetConfig::default());
        // No congestion: no cap.
        b.update(t0, &[flow(900_000, 400_000, 0), flow(300_000, 300_000, 0)]);
        assert_eq!(b.capacity(), None);
        assert_eq!(b.shares(&[900_000, 300_000]), vec![900_000, 300_000]);
        // Four flows queue together; 4 × 450 kbit/s went through.
        let congested = vec![flow(600_000, 450_000, 80); 4];
        b.update(t0 + MS * 100, &congested);
        assert_eq!(b.capacity(), Some(1_800_000));
        assert_eq!(b.events(), 1);
        // The same episode 200 ms later is not a second event, and flows
        // sending 1.2 M in all do not let it grow past the 1.8 M measured.
        b.update(t0 + MS * 300, &[flow(600_000, 300_000, 80); 4]);
        assert_eq!(b.events(), 1);
        assert_eq!(b.capacity(), Some(1_800_000));
        // 1 s later, no queue, the flows sending 1.8 M again: it grew by
        // 10% a second, compounded (1.8 M × 1.1 = 1.98 M), within 1.25 ×
        // what they send.
        b.update(t0 + MS * 1300, &[flow(600_000, 450_000, 0); 4]);
        let c = b.capacity().unwrap();
        assert!((1_975_000..=1_985_000).contains(&c), "{c}");
        // Flows that stay at 1.8 M: after 5 s more it stops at 1.25 ×
        // 1.8 M = 2.25 M, not 1.98 M × 1.1^5 = 3.19 M.
        b.update(t0 + MS * 6300, &[flow(600_000, 450_000, 0); 4]);
        assert_eq!(b.capacity(), Some(2_250_000));
        // The flows filled 75% of their estimates: the budget is split in
        // the estimates' units (2.25 M / 0.75 = 3 M).
        let shares = b.shares(&[900_000; 4]);
        assert!(
            shares.iter().all(|&s| (740_000..=760_000).contains(&s)),
            "{shares:?}"
        );
        // It never floats above 1.5 × what the flows estimate (in
        // throughput: × 0.75).
        b.update(t0 + MS * 30_000, &[flow(100_000, 100_000, 0); 4]);
        assert_eq!(b.capacity(), Some(450_000));
    }

    #[test]
    fn flows_that_do_not_fill_their_estimates_measure_nothing() {
        let t0 = Instant::now();
        let mut b = UplinkBudget::new(BudgetConfig::default());
        // Just after a pause: queues rise, but the acknowledged rates
        // still hold the paused second.
        b.update(t0, &[flow(800_000, 60_000, 80); 3]);
        assert_eq!(b.capacity(), None);
        // Estimates a probe raised above what the encoder fills yet: 55%
        // filled, not a measure (the capacity it gave, split over
        // estimates twice what went through, let a member's share float
        // to 1.8 times the uplink on the simulator's pause-and-resume).
        b.update(t0 + MS * 300, &[flow(900_000, 495_000, 80); 2]);
        assert_eq!(b.capacity(), None);
        // Or one flow without an acknowledged rate yet.
        let mut flows = vec![flow(800_000, 700_000, 80); 3];
        flows[2].acked = None;
        b.update(t0 + MS * 600, &flows);
        assert_eq!(b.capacity(), None);
        flows[2].acked = Some(700_000);
        b.update(t0 + MS * 1200, &flows);
        assert_eq!(b.capacity(), Some(2_100_000));
    }

    #[test]
    fn shares_are_max_min_fair_and_never_above_a_flows_own_estimate() {
        let t0 = Instant::now();
        let mut b = UplinkBudget::new(BudgetConfig::default());
        b.update(t0, &[flow(500_000, 500_000, 80); 4]);
        assert_eq!(b.capacity(), Some(2_000_000));
        // Equal demands above the fair share: a quarter each.
        assert_eq!(b.shares(&[900_000; 4]), vec![500_000; 4]);
        // One flow whose probe made it think 1.5 Mbit/s is held to its
        // share; one that wants 200 kbit/s gives the rest to the others.
        let s = b.shares(&[1_500_000, 200_000, 700_000, 500_000]);
        assert_eq!(s[1], 200_000);
        assert_eq!(s[3], 500_000);
        assert_eq!(s[0], 650_000);
        assert_eq!(s[2], 650_000);
        assert!(s.iter().sum::<u64>() <= 2_000_000);
        // All below their shares: untouched.
        assert_eq!(b.shares(&[300_000, 400_000]), vec![300_000, 400_000]);
    }
}

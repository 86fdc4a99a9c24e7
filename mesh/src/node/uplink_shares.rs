//! Each member's share of the node's uplink, and the coupling of the
//! members' estimators through it (RFC 8699 §5, the flow state exchange).
//!
//! [`crate::uplink_budget`] learns when the members' flows queue together
//! behind the node's uplink and what it carries. Its split is max-min fair
//! over what each flow can use. A flow that was congested at the last
//! joint congestion is *coupled*: what limits it is the shared uplink,
//! not its own path, so its own estimate says nothing of what it could
//! use, and it may use an equal part of the uplink. A flow congested
//! alone (its own path is slow: the others see no queue) is not coupled
//! and keeps its estimate as its limit.
//!
//! A coupled flow's estimate may sit far under its share: estimators that
//! backed off together at a joint congestion recover slowly near their
//! last decrease, and a member sent a small simulcast layer fills only
//! that layer, so its estimate never shows that it could take a larger
//! one. As RFC 8699 §5's shared entity hands each flow its rate, the node
//! raises such a flow's estimate to its share, at most once every
//! [`RAISE_INTERVAL`]; the estimator carries on from there, and an
//! over-use brings it back down. Layers are then chosen from the shares
//! (`min(estimate, share)`), and a member moves up a layer only after
//! wanting it for [`LAYER_UP_DELAY`] (a move costs a key frame).

use std::time::{Duration, Instant};

use meshrtc_cc::BandwidthUsage;

use super::MeshNode;
use crate::uplink_budget::FlowSignal;

/// How often the uplink budget takes the members' signals (feedback comes
/// every 50-100 ms).
const BUDGET_INTERVAL: Duration = Duration::from_millis(100);

/// A coupled flow whose estimate is under this part of its share is
/// raised to the share.
const RAISE_BELOW: f64 = 0.8;

/// At most one raise per member in this long: its estimator has time to
/// show that its own path cannot carry the share.
const RAISE_INTERVAL: Duration = Duration::from_secs(3);

/// No raise while the flow's queuing delay is this long: the uplink is
/// full now, and the estimators are backing off together.
const RAISE_QUEUE_LIMIT: Duration = Duration::from_millis(15);

/// How long a member must want a higher layer before it is moved up.
pub(super) const LAYER_UP_DELAY: Duration = Duration::from_secs(1);

impl MeshNode {
    /// Gives the uplink budget every connected member's congestion signal
    /// (at most every [`BUDGET_INTERVAL`]), marks the coupled members at
    /// a joint congestion, sets each member's share and raises the
    /// estimates of coupled members far under theirs.
    pub(super) fn update_budget(&mut self, now: Instant) {
        if self
            .budget_at
            .is_some_and(|t| now.saturating_duration_since(t) < BUDGET_INTERVAL)
        {
            return;
        }
        self.budget_at = Some(now);
        // Each member's estimator knows whether it is the node's only flow
        // (a probe it raised that the link then refused is its own then).
        let others = self.members.values().filter(|m| m.connected).count() > 1;
        for m in self.members.values_mut() {
            m.pc.set_other_flows(others);
        }
        if self.config.uplink_budget.is_none() {
            return;
        }
        let mut flows = Vec::with_capacity(self.members.len());
        let mut ids = Vec::with_capacity(self.members.len());
        for (id, m) in self.members.iter().filter(|(_, m)| m.connected) {
            if let Some(st) = m.pc.congestion_state() {
                flows.push(FlowSignal {
                    estimate: st.target,
                    acked: st.acked_bitrate,
                    queue_delay: st.queue_delay,
                    overusing: st.delay_state == BandwidthUsage::Overusing,
                });
                ids.push(id.clone());
            }
        }
        let events = self.budget.events();
        self.budget.update(now, &flows);
        let congested: Vec<bool> = flows.iter().map(|f| self.budget.is_congested(f)).collect();
        let joint_event = self.budget.events() > events;
        let congested_count = congested.iter().filter(|&&c| c).count();
        for (id, &c) in ids.iter().zip(&congested) {
            if let Some(m) = self.members.get_mut(id) {
                if joint_event {
                    m.coupled = c;
                } else if c && congested_count == 1 && flows.len() > 1 {
                    // Its queue alone: its own path limits it.
                    m.coupled = false;
                }
                m.pc.set_shared_bottleneck(m.coupled);
            }
        }
        let bound = self.budget.capacity().is_some();
        // With one layer every member is sent the same stream, whose
        // encoder follows the lowest member: an equal split changes
        // nothing, and raising estimates only moves the course.
        let simulcast = self.config.layer_min_bitrates.len() > 1;
        let max = u64::from(self.config.max_bitrate);
        let limits: Vec<u64> = ids
            .iter()
            .zip(&flows)
            .map(|(id, f)| match self.members.get(id) {
                Some(m) if simulcast && m.coupled => max.max(f.estimate),
                _ => f.estimate,
            })
            .collect();
        let shares = self.budget.shares(&limits);
        for m in self.members.values_mut() {
            m.share = None;
        }
        for ((id, f), share) in ids.iter().zip(&flows).zip(shares) {
            let Some(m) = self.members.get_mut(id) else {
                continue;
            };
            if !bound {
                continue;
            }
            m.share = Some(share);
            let due = m
                .raised_at
                .is_none_or(|t| now.saturating_duration_since(t) >= RAISE_INTERVAL);
            let calm = !f.overusing && f.queue_delay.is_none_or(|d| d < RAISE_QUEUE_LIMIT);
            let far_under = (f.estimate as f64) < RAISE_BELOW * share as f64;
            if simulcast && m.coupled && due && calm && far_under {
                tracing::debug!(
                    member = %id,
                    from = f.estimate,
                    to = share,
                    "estimate raised to the member's share of the uplink"
                );
                m.pc.raise_estimate(now, share);
                m.raised_at = Some(now);
                self.estimate_raises += 1;
            }
        }
    }
}

//! Key frames the members ask of our encoders, bounded per member and in
//! total (see "One member cannot degrade the others" in the node module's
//! documentation): one pending flag per layer's encoder, a bucket of
//! [`MeshConfig::keyframe_burst`] tokens refilled one per
//! [`MeshConfig::keyframe_min_interval`], and the interval since the last
//! key frame ([`MeshNode::take_keyframe_requests`]).

use std::time::Instant;

use super::MeshNode;

#[cfg(doc)]
use super::MeshConfig;

/// Key frame state of one layer's encoder.
#[derive(Debug, Clone)]
pub(super) struct LayerKeyframes {
    pub(super) wanted: bool,
    pub(super) urgent: bool,
    pub(super) last: Option<Instant>,
    /// The requested-key-frame bucket: tokens, and when it was refilled.
    pub(super) tokens: f64,
    pub(super) tokens_at: Option<Instant>,
}

impl MeshNode {
    /// Whether the encoder should make a key frame now: a member asked
    /// (PLI/FIR) or just connected, a token of the bucket is there, and
    /// the last key frame is older than `keyframe_min_interval` (for a
    /// newcomer: `keyframe_urgent_interval`). Clears the request when it
    /// says yes; a request that is not due yet stays pending. See the
    /// module documentation. With several layers: whether any layer's
    /// encoder should (see [`MeshNode::take_keyframe_requests`]).
    pub fn take_keyframe_request(&mut self, now: Instant) -> bool {
        !self.take_keyframe_requests(now).is_empty()
    }

    /// The layers whose encoder should make a key frame now, each by the
    /// rules of [`MeshNode::take_keyframe_request`] with its own bucket:
    /// a layer's requests come from the members it is sent to (PLI/FIR,
    /// newcomers on layer 0) and from members waiting to be moved to it.
    pub fn take_keyframe_requests(&mut self, now: Instant) -> Vec<usize> {
        self.update_wanted_layers(now);
        let cfg = &self.config;
        let burst = f64::from(cfg.keyframe_burst.max(1));
        let mut out = Vec::new();
        for (i, k) in self.keyframes.iter_mut().enumerate() {
            if let Some(at) = k.tokens_at {
                let interval = cfg.keyframe_min_interval.as_secs_f64();
                let refill = if interval > 0.0 {
                    now.saturating_duration_since(at).as_secs_f64() / interval
                } else {
                    burst
                };
                k.tokens = (k.tokens + refill).min(burst);
            }
            k.tokens_at = Some(now);
            if !k.wanted || k.tokens < 1.0 {
                continue;
            }
            let gap = if k.urgent {
                cfg.keyframe_urgent_interval
            } else {
                cfg.keyframe_min_interval
            };
            let due = k
                .last
                .is_none_or(|t| now.saturating_duration_since(t) >= gap);
            if due {
                k.tokens -= 1.0;
                self.keyframes_urgent += u64::from(k.urgent);
                k.wanted = false;
                k.urgent = false;
                self.keyframes_requested += 1;
                k.last = Some(now);
                out.push(i);
            }
        }
        out
    }
}

//! Simulcast layers: which layer each member is sent ([`wanted_layer`],
//! moved up only after wanting it for a while, moved at the layer's next
//! key frame), sending one captured frame's layers ([`LayerFrame`],
//! [`MeshNode::send_layers`]) and each layer's encoder target
//! ([`MeshNode::layer_targets`]). See "Layers (simulcast)" in the node
//! module's documentation.

use std::time::Instant;

use meshrtc_peer::PacketizedFrame;

use super::{uplink_shares, MeshNode};

#[cfg(doc)]
use super::MeshConfig;

/// One layer of a captured video frame for [`MeshNode::send_layers`]: the
/// same picture encoded at one of the configured sizes, packetized once.
#[derive(Debug, Clone, Copy)]
pub struct LayerFrame<'a> {
    /// The layer, an index into [`MeshConfig::layer_min_bitrates`]
    /// (0: smallest).
    pub index: usize,
    /// The frame. All layers of one capture carry the same RTP time and
    /// VP8 picture id, so a receiver moved between layers sees one
    /// continuous stream.
    pub frame: &'a PacketizedFrame,
}

impl MeshNode {
    /// Sends one captured video frame, encoded once per layer and
    /// packetized once per layer, to every connected member: each member
    /// gets the layer it is on. A member whose estimate allows another
    /// layer (see [`MeshConfig::layer_min_bitrates`]) is moved there on
    /// that layer's next key frame, and not before (a delta frame of
    /// another layer would not decode); until then it keeps its layer.
    /// Layers missing from `layers` are not sent this time. Returns how
    /// many members a frame went to.
    pub fn send_layers(&mut self, now: Instant, layers: &[LayerFrame<'_>]) -> usize {
        self.update_wanted_layers(now);
        // Each layer's frame against what its encoder was asked for.
        for l in layers {
            let target = self.layer_target(l.index);
            if let Some(o) = self.overshoot.get_mut(l.index) {
                o.on_frame(now, l.frame.data.len(), u64::from(target));
            }
        }
        let mut n = 0;
        let outbox = &mut self.outbox;
        for m in self.members.values_mut().filter(|m| m.connected) {
            if m.wanted_layer != m.layer {
                let key_of_wanted = layers
                    .iter()
                    .any(|l| l.index == m.wanted_layer && l.frame.keyframe);
                if key_of_wanted {
                    m.layer = m.wanted_layer;
                    m.higher_layer_since = None;
                    self.layer_switches += 1;
                }
            }
            let Some(l) = layers.iter().find(|l| l.index == m.layer) else {
                continue;
            };
            if let Some(mid) = m.video_mid.as_deref() {
                if m.pc.send_frame(now, mid, l.frame).is_ok() {
                    n += 1;
                }
            }
            while let Some(t) = m.pc.poll_transmit() {
                outbox.push_back(t);
            }
        }
        for l in layers.iter().filter(|l| l.frame.keyframe) {
            if let Some(k) = self.keyframes.get_mut(l.index) {
                k.last = Some(now);
            }
        }
        n
    }

    /// Each connected member's wanted layer from its current estimate (a
    /// higher one only once wanted for [`uplink_shares::LAYER_UP_DELAY`]);
    /// a member that wants another layer asks that layer's encoder for a
    /// key frame (rate-limited like any request).
    pub(super) fn update_wanted_layers(&mut self, now: Instant) {
        let mins = &self.config.layer_min_bitrates;
        for m in self.members.values_mut().filter(|m| m.connected) {
            let target = m.estimate().map(|_| m.video_budget(&self.config));
            let allowed = wanted_layer(mins, m.layer, target);
            m.wanted_layer = if allowed > m.layer {
                let since = *m.higher_layer_since.get_or_insert(now);
                if now.saturating_duration_since(since) >= uplink_shares::LAYER_UP_DELAY {
                    allowed
                } else {
                    m.layer
                }
            } else {
                m.higher_layer_since = None;
                allowed
            };
            if m.wanted_layer != m.layer {
                if let Some(k) = self.keyframes.get_mut(m.wanted_layer) {
                    k.wanted = true;
                }
            }
        }
    }

    /// The encoder target of each video layer (smallest first): the lowest
    /// video budget (estimate less the audio and overhead measured on the
    /// connection) of the members sent that layer or waiting to be moved
    /// to it, so that no member is sent more than its estimate allows,
    /// over the layer's encoder's measured overshoot. A
    /// member below a layer's minimum moves down, so a weak member holds a
    /// layer's target down only to that layer's minimum. A layer below the
    /// top is capped at the next layer's minimum (a member that could
    /// afford more gets the next layer); a layer no member is on gets its
    /// minimum. All within `min_bitrate..=max_bitrate`.
    pub fn layer_targets(&self) -> Vec<u32> {
        (0..self.keyframes.len())
            .map(|i| self.layer_target(i))
            .collect()
    }

    /// Layer `i`'s encoder target (see [`MeshNode::layer_targets`]).
    fn layer_target(&self, i: usize) -> u32 {
        let cfg = &self.config;
        let mins = &cfg.layer_min_bitrates;
        let floor = mins.get(i).copied().unwrap_or(0);
        let cap = mins
            .get(i + 1)
            .copied()
            .unwrap_or(cfg.max_bitrate)
            .max(floor);
        super::encoder_target::lowest_budget(
            self.members
                .values()
                .filter(|m| m.connected && (m.layer == i || m.wanted_layer == i))
                .filter(|m| m.estimate().is_some()),
            cfg,
            mins.len() <= 1,
        )
        .map_or(floor, |b| {
            self.encoder_target_for(i, b).min(u64::from(cap)) as u32
        })
        .clamp(cfg.min_bitrate, cfg.max_bitrate)
    }

    /// The video layer `member` is sent.
    pub fn member_layer(&self, member: &str) -> Option<usize> {
        self.members.get(member).map(|m| m.layer)
    }
}

/// A member stays on its layer while its video encoder target is at least
/// this part of the layer's minimum: a move costs a key frame, and an
/// estimate dips after every over-use before it recovers.
const LAYER_HOLD: f64 = 0.6;

/// The layer for a member on `current` whose video encoder target is
/// `target` (`None`: no estimate yet, layer 0): the highest layer whose
/// minimum it reaches. A member stays on a higher layer while its target
/// is at least [`LAYER_HOLD`] of that layer's minimum, so an estimate
/// wavering around a minimum does not cost a key frame at every wave.
pub(super) fn wanted_layer(mins: &[u32], current: usize, target: Option<u64>) -> usize {
    let Some(t) = target else {
        return 0;
    };
    let best = mins
        .iter()
        .rposition(|&min| u64::from(min) <= t)
        .unwrap_or(0);
    let hold = mins
        .get(current)
        .is_some_and(|&min| t as f64 >= LAYER_HOLD * f64::from(min));
    if current > best && hold {
        current
    } else {
        best
    }
}

//! The video bitrate the node asks of its encoder
//! ([`MeshNode::target_bitrate`]): the lowest of the connected members'
//! budgets, each the send-side estimate (draft-ietf-rmcat-gcc-02) less
//! the audio and overhead measured on the member's connection where
//! transport-cc was negotiated, else a loss/RTT target updated once a
//! second from the member's report blocks ([`update_bitrate`]); divided
//! by the encoder's measured overshoot.

use std::time::{Duration, Instant};

use super::{Member, MeshConfig, MeshNode};

impl MeshNode {
    /// The video bitrate to ask of the encoder: the lowest of the connected
    /// members' budgets ([`Member::video_budget`]) over the encoder's
    /// measured overshoot. A member whose connection negotiated
    /// transport-cc counts with its send-side estimate
    /// (draft-ietf-rmcat-gcc-02) less the audio and overhead its
    /// connection measured; one without it with a loss/RTT target (raised
    /// slowly while its loss stays under 2%, lowered in proportion above
    /// 10%, halved while its RTT exceeds 400 ms). Members still connecting
    /// do not count.
    pub fn target_bitrate(&self) -> u32 {
        lowest_budget(
            self.members.values().filter(|m| m.connected),
            &self.config,
            self.config.layer_min_bitrates.len() <= 1,
        )
        .map_or(self.config.max_bitrate / 2, |b| {
            self.encoder_target_for(0, b).min(u64::from(u32::MAX)) as u32
        })
        .clamp(self.config.min_bitrate, self.config.max_bitrate)
    }

    /// What to ask of layer `layer`'s encoder so that what it produces
    /// fits `budget_bps`: the budget over the encoder's measured overshoot
    /// ([`meshrtc_cc::EncoderOvershoot`], recorded as frames are sent).
    pub(super) fn encoder_target_for(&self, layer: usize, budget_bps: u64) -> u64 {
        match self.overshoot.get(layer) {
            Some(o) if self.config.measured_video_budget => o.target_for(budget_bps),
            _ => budget_bps,
        }
    }
}

/// The lowest video budget of `members` ([`Member::video_budget`]). With
/// `mean_of_coupled` (one layer: every member is sent the same stream)
/// the coupled ones (queued together behind the node's uplink at its last
/// joint congestion, `uplink_shares.rs`) count once, with the mean of
/// their budgets: RFC 8699 §5's flow state exchange gives coupled flows
/// of equal priority the sum of their rates split equally. Their
/// estimators read the same queue and each backs off at its own moment;
/// with the lowest of them the one encoder followed whichever had
/// decreased last. With simulcast, coupled members' estimates are raised
/// to their shares instead (`uplink_shares.rs`).
pub(super) fn lowest_budget<'a>(
    members: impl Iterator<Item = &'a Member>,
    cfg: &MeshConfig,
    mean_of_coupled: bool,
) -> Option<u64> {
    let mut lowest: Option<u64> = None;
    let (mut coupled_sum, mut coupled_n) = (0u64, 0u64);
    for m in members {
        let b = m.video_budget(cfg);
        if mean_of_coupled && m.coupled {
            coupled_sum = coupled_sum.saturating_add(b);
            coupled_n += 1;
        } else {
            lowest = Some(lowest.map_or(b, |l| l.min(b)));
        }
    }
    if let Some(mean) = coupled_sum.checked_div(coupled_n) {
        lowest = Some(lowest.map_or(mean, |l| l.min(mean)));
    }
    lowest
}

impl Member {
    /// What the video encoder's output may be for this member: with
    /// transport-cc, its estimate less audio and overhead as measured on
    /// its connection ([`meshrtc_peer::PeerConnection::video_budget_of`]),
    /// or the fixed share of it ([`meshrtc_peer::video_encoder_target`])
    /// without [`MeshConfig::measured_video_budget`]; without
    /// transport-cc, its loss/RTT target.
    pub(super) fn video_budget(&self, cfg: &MeshConfig) -> u64 {
        match self.estimate() {
            Some(t) if cfg.measured_video_budget => self.pc.video_budget_of(t, cfg.send_audio),
            Some(t) => meshrtc_peer::video_encoder_target(t, cfg.send_audio),
            None => self.bitrate as u64,
        }
    }
}

/// Loss- and RTT-based target for one member (a connection without
/// transport-cc), updated once a second from its latest report block.
pub(super) fn update_bitrate(m: &mut Member, now: Instant, cfg: &MeshConfig) {
    // With transport-cc the send-side estimate is the target; this loss/RTT
    // one is never read. Otherwise it looks at the stats (which allocate)
    // at most once a second, report or not.
    if !m.connected
        || m.pc.target_bitrate().is_some()
        || m.last_report
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
    {
        return;
    }
    m.last_report = Some(now);
    let st = m.pc.stats();
    let Some(video) = st.outbound.iter().find(|o| o.kind == "video") else {
        return;
    };
    if video.rtt_ms.is_none() {
        return;
    }
    let loss = video.fraction_lost;
    let mut b = m.bitrate;
    if loss > 0.10 {
        b *= 1.0 - loss / 2.0;
    } else if loss < 0.02 {
        b *= 1.08;
    }
    if video.rtt_ms.unwrap_or(0.0) > 400.0 {
        b = b.min(f64::from(cfg.max_bitrate) / 2.0);
    }
    m.bitrate = b.clamp(f64::from(cfg.min_bitrate), f64::from(cfg.max_bitrate));
}

//! The video bitrate the node asks of its encoder
//! ([`MeshNode::target_bitrate`]): the lowest of the connected members'
//! targets, each the send-side estimate (draft-ietf-rmcat-gcc-02) where
//! transport-cc was negotiated, else a loss/RTT target updated once a
//! second from the member's report blocks ([`update_bitrate`]).

use std::time::{Duration, Instant};

use meshrtc_peer::video_encoder_target;

use super::{Member, MeshConfig, MeshNode};

impl MeshNode {
    /// The video bitrate to ask of the encoder: the lowest of the connected
    /// members' targets. A member whose connection negotiated transport-cc
    /// counts with its send-side estimate (draft-ietf-rmcat-gcc-02) as
    /// [`video_encoder_target`] turns it into an encoder's; one without it with a loss/RTT target (raised
    /// slowly while its loss stays under 2%, lowered in proportion above
    /// 10%, halved while its RTT exceeds 400 ms). Members still connecting
    /// do not count.
    pub fn target_bitrate(&self) -> u32 {
        self.members
            .values()
            .filter(|m| m.connected)
            .map(|m| match m.estimate() {
                Some(t) => {
                    video_encoder_target(t, self.config.send_audio).min(u64::from(u32::MAX)) as u32
                }
                None => m.bitrate as u32,
            })
            .min()
            .unwrap_or(self.config.max_bitrate / 2)
            .clamp(self.config.min_bitrate, self.config.max_bitrate)
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

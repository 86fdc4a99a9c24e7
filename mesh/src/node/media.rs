//! Media to the members: a frame packetized once, sent to every connected
//! member on its own connection (which stamps and protects it); RTCP of the
//! caller's own; a key frame request (PLI, RFC 4585 §6.3.1) to a member
//! whose video we lost.

use std::time::Instant;

use meshrtc_peer::{PacketizedFrame, PeerError};
use meshrtc_sdp::negotiate::MediaKind;

use super::{LayerFrame, MeshNode};

#[cfg(doc)]
use meshrtc_peer::PeerConnection;

impl MeshNode {
    /// Sends a frame packetized once to every connected member (video or
    /// audio by the frame's kind). Returns how many members it went to.
    /// A video frame is layer 0 of [`MeshNode::send_layers`]: with one
    /// layer (the default) every member gets it.
    pub fn send_frame(&mut self, now: Instant, frame: &PacketizedFrame) -> usize {
        match frame.kind {
            MediaKind::Video => self.send_layers(now, &[LayerFrame { index: 0, frame }]),
            MediaKind::Audio => {
                let mut n = 0;
                let outbox = &mut self.outbox;
                for m in self.members.values_mut().filter(|m| m.connected) {
                    if let Some(mid) = m.audio_mid.as_deref() {
                        if m.pc.send_frame(now, mid, frame).is_ok() {
                            n += 1;
                        }
                    }
                    while let Some(t) = m.pc.poll_transmit() {
                        outbox.push_back(t);
                    }
                }
                n
            }
            // Frames are audio or video; nothing is sent on the data m-line.
            MediaKind::Application => 0,
        }
    }

    /// Asks `member` for a key frame of its video (a PLI on its
    /// connection), as a decoder that lost its reference would. The
    /// connection paces repeats while it waits (at most one PLI per
    /// 200 ms or round trip). Returns whether the member has video to ask
    /// for.
    pub fn request_keyframe(&mut self, now: Instant, member: &str) -> bool {
        let Some(m) = self.members.get_mut(member) else {
            return false;
        };
        let Some(mid) = m.video_mid.clone() else {
            return false;
        };
        m.pc.request_keyframe(now, &mid);
        self.drain_member(now, member);
        true
    }

    /// Sends an RTCP compound the caller built to `member` on its
    /// connection (see [`PeerConnection::send_rtcp`]): APP packets or
    /// feedback of the application's own, or a test playing a hostile
    /// member. `None` if there is no such member.
    pub fn send_rtcp(&mut self, member: &str, compound: &[u8]) -> Option<Result<(), PeerError>> {
        let m = self.members.get_mut(member)?;
        Some(m.pc.send_rtcp(compound))
    }
}

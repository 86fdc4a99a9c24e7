//! Renegotiation in the mesh: the W3C "perfect negotiation" pattern
//! (webrtc-pc §10.7) on each member's connection, and the second video
//! track (a "screen" source) that uses it.
//!
//! Each pair has a polite and an impolite side: the polite one is the
//! member with the larger id (compared as byte strings), as on the room
//! page. Either side offers when its connection says negotiation is
//! needed (a track added or stopped, an ICE restart) and the signaling
//! state is stable. When offers cross (glare), the impolite side ignores
//! the peer's offer (its own answer comes), the polite side rolls its own
//! offer back (RFC 8829 §4.1.8.2) and answers; its change is offered again
//! once stable. The first negotiation is the join's (the newcomer offers),
//! so a renegotiation waits for it.

use super::*;

impl MeshNode {
    /// Whether we are the polite side towards `member` (our id is the
    /// larger).
    pub(super) fn polite_towards(&self, member: &str) -> bool {
        self.id
            .as_deref()
            .is_some_and(|me| me.as_bytes() > member.as_bytes())
    }

    /// An offer from a member we know: answered, unless it crosses ours
    /// and we are impolite. A subsequent offer that fails leaves a
    /// connected member's call as it was.
    pub(super) fn on_offer(&mut self, now: Instant, from: &str, sdp: &str) {
        let polite = self.polite_towards(from);
        let chat = self.config.chat;
        let Some(m) = self.members.get_mut(from) else {
            return;
        };
        if m.pc.signaling_state() == SignalingState::HaveLocalOffer && !polite {
            // Our offer wins; the peer rolls back and answers it.
            self.glare_ignored += 1;
            return;
        }
        let renegotiation = m.pc.negotiated().is_some();
        // The polite side's offer, if one crosses this, is rolled back
        // implicitly (W3C webrtc-pc §4.4.1.6).
        let answer =
            m.pc.set_remote_offer_with_rollback(now, sdp)
                .and_then(|rolled_back| {
                    self.glare_rollbacks += u64::from(rolled_back);
                    // The chat takes the offer's data m-line (or asks for one
                    // by renegotiation).
                    if chat && m.chat.is_none() {
                        m.chat = super::chat::open_chat(&mut m.pc, now);
                    }
                    m.pc.create_answer(now)
                });
        match answer {
            Ok(sdp) => {
                self.renegotiations += u64::from(renegotiation);
                self.signals.push_back(ClientMessage::Answer {
                    to: from.to_string(),
                    sdp,
                });
            }
            Err(_) if renegotiation => {
                self.signaling_errors += 1;
                let _ = m.pc.rollback();
            }
            Err(e) => {
                self.signaling_errors += 1;
                self.remove(from, &format!("bad offer: {e}"));
            }
        }
    }

    /// An answer from a member: a bad answer to a renegotiation rolls our
    /// offer back and keeps the call; one to the first offer ends it.
    pub(super) fn on_answer(&mut self, now: Instant, from: &str, sdp: &str) {
        let Some(m) = self.members.get_mut(from) else {
            self.signaling_errors += 1;
            return;
        };
        let renegotiation = m.pc.negotiated().is_some();
        match m.pc.set_remote_description(now, SdpType::Answer, sdp) {
            Ok(()) => self.renegotiations += u64::from(renegotiation),
            // Not waiting for an answer: a stale one (our offer was rolled
            // back). Nothing to do.
            Err(PeerError::WrongState { .. }) => self.signaling_errors += 1,
            Err(_) if renegotiation => {
                self.signaling_errors += 1;
                let _ = m.pc.rollback();
            }
            Err(e) => {
                self.signaling_errors += 1;
                self.remove(from, &format!("bad answer: {e}"));
            }
        }
    }

    /// Offers to `id` if its connection needs a negotiation, the first one
    /// is done and no offer is outstanding.
    pub(super) fn maybe_offer(&mut self, now: Instant, id: &str) {
        let Some(m) = self.members.get_mut(id) else {
            return;
        };
        if !m.pc.negotiation_needed()
            || m.pc.negotiated().is_none()
            || m.pc.signaling_state() != SignalingState::Stable
        {
            return;
        }
        match m.pc.create_offer(now) {
            Ok(sdp) => self.signals.push_back(ClientMessage::Offer {
                to: id.to_string(),
                sdp,
            }),
            Err(_) => self.signaling_errors += 1,
        }
    }

    /// Starts sending a second video track (a "screen" source) to every
    /// member: a transceiver is added on each connection and offered by
    /// renegotiation; members that join later get it the same way once
    /// their connection is negotiated. Frames go with
    /// [`MeshNode::send_screen_frame`].
    pub fn start_screen(&mut self, now: Instant) {
        self.screen = true;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            self.add_screen(&id);
            self.drain_member(now, &id);
        }
    }

    /// Stops the screen track: each member's transceiver is stopped, and
    /// renegotiation rejects its m-line.
    pub fn stop_screen(&mut self, now: Instant) {
        self.screen = false;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            if let Some(m) = self.members.get_mut(&id) {
                if let Some(mid) = m.screen_mid.take() {
                    let _ = m.pc.stop_transceiver(&mid);
                }
            }
            self.drain_member(now, &id);
        }
    }

    /// Adds the screen transceiver to `id`'s connection if the screen is
    /// on and it has none.
    pub(super) fn add_screen(&mut self, id: &str) {
        if !self.screen {
            return;
        }
        if let Some(m) = self.members.get_mut(id) {
            if m.screen_mid.is_none() {
                m.screen_mid = Some(m.pc.add_transceiver(MediaKind::Video, true, false));
            }
        }
    }

    /// Sends a frame of the screen track, packetized once, to every
    /// member whose connection negotiated it. Returns how many.
    pub fn send_screen_frame(&mut self, now: Instant, frame: &PacketizedFrame) -> usize {
        let mut n = 0;
        let outbox = &mut self.outbox;
        for m in self.members.values_mut().filter(|m| m.connected) {
            if let Some(mid) = m.screen_mid.as_deref() {
                if m.pc.send_frame(now, mid, frame).is_ok() {
                    n += 1;
                }
            }
            while let Some(t) = m.pc.poll_transmit() {
                outbox.push_back(t);
            }
        }
        if frame.keyframe {
            self.screen_keyframe = false;
        }
        n
    }

    /// Whether a member asked for a key frame of the screen track (PLI or
    /// FIR on it, or its stream just started there). Cleared by the next
    /// key frame sent.
    pub fn screen_keyframe_wanted(&self) -> bool {
        self.screen_keyframe
    }
}

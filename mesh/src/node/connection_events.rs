//! What a member's connection reports, taken after every input the
//! connection had: candidates to trickle, the connection coming up (a
//! key frame for the newcomer), going Disconnected (an ICE restart; RFC
//! 7675 §5.1 for how long it may take), failing or closing (the member is
//! removed), tracks, frames, key frame requests (merged per member), chat
//! lines and key logs.

use std::time::Instant;

use meshrtc_peer::{ConnectionState, PeerEvent};
use meshrtc_sdp::negotiate::MediaKind;

use crate::signaling::protocol::{ClientMessage, IceCandidateInit};

use super::encoder_target::update_bitrate;
use super::{MeshEvent, MeshNode};

impl MeshNode {
    /// Takes the events and transmits of `id`'s connection (see the module
    /// documentation).
    pub(super) fn drain_member(&mut self, now: Instant, id: &str) {
        self.follow_turn_redirects(now, id);
        let mut failed = false;
        let mut closed_by_peer = false;
        let mut reason: Option<String> = None;
        let mut keyframe = false;
        let mut urgent = false;
        let layer;
        {
            let Some(m) = self.members.get_mut(id) else {
                return;
            };
            while let Some(e) = m.pc.poll_event() {
                match e {
                    PeerEvent::LocalCandidate(c) => {
                        self.signals.push_back(ClientMessage::Candidate {
                            to: id.to_string(),
                            candidate: Some(IceCandidateInit {
                                candidate: c.candidate,
                                sdp_mid: Some(c.mid),
                                sdp_m_line_index: u16::try_from(c.mline_index).ok(),
                                username_fragment: Some(c.ufrag),
                            }),
                        });
                    }
                    PeerEvent::GatheringComplete => {
                        self.signals.push_back(ClientMessage::Candidate {
                            to: id.to_string(),
                            candidate: None,
                        });
                    }
                    PeerEvent::ConnectionStateChanged(ConnectionState::Connected)
                        if !m.connected =>
                    {
                        m.connected = true;
                        for (mid, kind) in m.pc.sending_mids() {
                            if m.screen_mid.as_deref() == Some(mid.as_str()) {
                                continue;
                            }
                            match kind {
                                MediaKind::Video => m.video_mid = Some(mid),
                                MediaKind::Audio => m.audio_mid = Some(mid),
                                MediaKind::Application => {}
                            }
                        }
                        // A newcomer gets a key frame as soon as it is up.
                        keyframe = true;
                        urgent = true;
                        self.events
                            .push_back(MeshEvent::MemberConnected { id: id.to_string() });
                    }
                    PeerEvent::ConnectionStateChanged(ConnectionState::Failed) => failed = true,
                    // Consent lost for a while (the member's or our
                    // address changed, say): an ICE restart, before the
                    // connection fails; media resumes on the new pair.
                    PeerEvent::ConnectionStateChanged(ConnectionState::Disconnected)
                        if m.pc.negotiated().is_some() =>
                    {
                        m.pc.restart_ice();
                        self.ice_restarts += 1;
                        // As long as consent would have lasted (RFC 7675
                        // §5.1): Disconnected comes that much earlier.
                        let ice = &self.config.peer.ice;
                        let grace = ice.consent_timeout.saturating_sub(ice.disconnected_timeout);
                        m.restart_deadline.get_or_insert(now + grace);
                    }
                    PeerEvent::ConnectionStateChanged(ConnectionState::Connected)
                        if m.connected =>
                    {
                        m.restart_deadline = None;
                    }
                    // The member closed its side (DTLS close_notify): a
                    // clean end, usually just before its peer-left.
                    PeerEvent::ConnectionStateChanged(ConnectionState::Closed) => {
                        closed_by_peer = true;
                    }
                    PeerEvent::Closed(why) => {
                        reason.get_or_insert(why);
                    }
                    PeerEvent::TrackAdded { kind, .. } => {
                        self.events.push_back(MeshEvent::TrackAdded {
                            from: id.to_string(),
                            kind,
                        });
                    }
                    PeerEvent::Frame(frame) => {
                        self.events.push_back(MeshEvent::Frame {
                            from: id.to_string(),
                            frame,
                        });
                    }
                    PeerEvent::KeyframeRequested { mid }
                        if m.screen_mid.as_deref() == Some(mid.as_str()) =>
                    {
                        self.screen_keyframe = true;
                    }
                    PeerEvent::MidChanged { old, new }
                        if m.screen_mid.as_deref() == Some(old.as_str()) =>
                    {
                        m.screen_mid = Some(new);
                    }
                    PeerEvent::KeyLog(line) => {
                        self.events.push_back(MeshEvent::KeyLog {
                            from: id.to_string(),
                            line,
                        });
                    }
                    PeerEvent::SrtpKeys(keys) => {
                        self.events.push_back(MeshEvent::SrtpKeys {
                            from: id.to_string(),
                            keys,
                        });
                    }
                    PeerEvent::DataChannelMessage {
                        id: ch,
                        payload: meshrtc_peer::DataPayload::Text(text),
                    } if m.chat == Some(ch) => {
                        self.events.push_back(MeshEvent::Chat {
                            from: id.to_string(),
                            name: m.info.name.clone(),
                            text,
                        });
                    }
                    PeerEvent::TrackRemoved { mid, kind } => {
                        self.events.push_back(MeshEvent::TrackRemoved {
                            from: id.to_string(),
                            mid,
                            kind,
                        });
                    }
                    PeerEvent::KeyframeRequested { .. } => {
                        // Per member: one request per interval is taken;
                        // the rest are counted and merged into it.
                        let recent = m.last_keyframe_request.is_some_and(|t| {
                            now.saturating_duration_since(t) < self.config.keyframe_min_interval
                        });
                        if recent {
                            m.counters.keyframe_requests_ignored += 1;
                            self.keyframe_requests_ignored += 1;
                        } else {
                            m.last_keyframe_request = Some(now);
                            m.counters.keyframe_requests += 1;
                            keyframe = true;
                        }
                    }
                    _ => {}
                }
            }
            while let Some(t) = m.pc.poll_transmit() {
                self.outbox.push_back(t);
            }
            update_bitrate(m, now, &self.config);
            // A request concerns the layer the member is sent (a newcomer
            // starts on layer 0).
            layer = m.layer;
        }
        if keyframe {
            if let Some(k) = self.keyframes.get_mut(layer) {
                k.wanted = true;
                k.urgent |= urgent;
            }
        }
        if failed {
            self.members_failed += 1;
            let why = reason.unwrap_or_else(|| "connection failed".into());
            self.remove(id, &why);
        } else if closed_by_peer {
            self.remove(id, "closed by the member");
        } else {
            self.add_screen(id);
            self.maybe_offer(now, id);
            // The offer's events (none today) and transmits.
            if let Some(m) = self.members.get_mut(id) {
                while let Some(t) = m.pc.poll_transmit() {
                    self.outbox.push_back(t);
                }
            }
        }
    }
}

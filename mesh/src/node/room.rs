//! The room as signaling tells it (`docs/signaling.md`): `welcome` (the
//! newcomer offers to every member already there, so joins never glare;
//! the room's ICE servers, RFC 8445 §5.1.1), `ice-servers`, `peer-joined`
//! (wait for the newcomer's offer), `peer-left`, the relayed
//! offer/answer/candidate, errors; and leaving the room.

use std::time::Instant;

use meshrtc_peer::PeerError;
use meshrtc_sdp::negotiate::MediaKind;

use crate::signaling::protocol::{ClientMessage, PeerInfo, ServerMessage};

use super::{chat, MeshEvent, MeshNode};

impl MeshNode {
    /// Leaves the room: every connection is closed and `leave` is sent.
    pub fn leave(&mut self) {
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            self.remove(&id, "we left");
        }
        self.signals.push_back(ClientMessage::Leave);
    }

    /// A message from the signaling server.
    pub fn handle_signal(&mut self, now: Instant, msg: ServerMessage) {
        match msg {
            ServerMessage::Welcome {
                id,
                peers,
                ice_servers,
                resume,
                ..
            } => {
                self.resume_token = resume;
                // The room's STUN and TURN servers, for every connection
                // made from now on (RFC 8445 §5.1.1: gathered per agent);
                // a resumed welcome's are fresh credentials.
                let skipped = crate::ice_servers::apply_resolved(
                    &ice_servers,
                    &self.resolved_hosts,
                    &mut self.config.peer.ice,
                );
                self.renew_turn_credentials();
                for s in &skipped {
                    tracing::debug!("ice server from welcome left out: {s}");
                }
                self.ice_servers_skipped += skipped.len() as u64;
                if self.id.as_deref() == Some(id.as_str()) {
                    self.on_resumed(now, peers);
                    return;
                }
                self.id = Some(id.clone());
                self.events.push_back(MeshEvent::Joined {
                    id,
                    peers: peers.clone(),
                });
                // The newcomer offers to everyone already there.
                for p in peers {
                    self.offer_to(now, p);
                }
            }
            ServerMessage::IceServers { ice_servers } => {
                // Renewed TURN credentials (the server's TURN REST ones):
                // for connections made from now on; an allocation that
                // exists keeps the username it was made with.
                let skipped = crate::ice_servers::apply_resolved(
                    &ice_servers,
                    &self.resolved_hosts,
                    &mut self.config.peer.ice,
                );
                self.renew_turn_credentials();
                self.ice_servers_skipped += skipped.len() as u64;
                self.ice_servers_renewed += 1;
            }
            ServerMessage::PeerJoined { peer } => {
                // The newcomer will offer; be ready for it.
                self.events.push_back(MeshEvent::MemberJoined(peer.clone()));
                let (send_video, send_audio) = (self.config.send_video, self.config.send_audio);
                if let Some(m) = self.new_member(now, peer) {
                    if send_video {
                        m.pc.add_answer_track(MediaKind::Video);
                    }
                    if send_audio {
                        m.pc.add_answer_track(MediaKind::Audio);
                    }
                }
            }
            ServerMessage::PeerLeft { id } => self.remove(&id, "left the room"),
            ServerMessage::Offer { from, sdp } => {
                if !self.members.contains_key(&from) {
                    // An offer before its peer-joined: take it all the same.
                    let info = PeerInfo {
                        id: from.clone(),
                        name: from.clone(),
                    };
                    let (send_video, send_audio) = (self.config.send_video, self.config.send_audio);
                    if let Some(m) = self.new_member(now, info) {
                        if send_video {
                            m.pc.add_answer_track(MediaKind::Video);
                        }
                        if send_audio {
                            m.pc.add_answer_track(MediaKind::Audio);
                        }
                    }
                }
                let _member = tracing::debug_span!("member", id = %from).entered();
                self.on_offer(now, &from, &sdp);
                self.drain_member(now, &from);
            }
            ServerMessage::Answer { from, sdp } => {
                let _member = tracing::debug_span!("member", id = %from).entered();
                self.on_answer(now, &from, &sdp);
                self.drain_member(now, &from);
            }
            ServerMessage::Candidate { from, candidate } => {
                let Some(m) = self.members.get_mut(&from) else {
                    self.signaling_errors += 1;
                    return;
                };
                let c = candidate.as_ref().map(|c| c.candidate.as_str());
                // An empty candidate is a browser's end of a generation.
                let c = c.filter(|c| !c.is_empty());
                match m.pc.add_remote_candidate(now, c) {
                    Ok(()) => {}
                    Err(PeerError::CandidateQueueFull { .. }) => {
                        m.counters.candidates_dropped += 1;
                        self.candidates_dropped += 1;
                    }
                    Err(_) => self.signaling_errors += 1,
                }
                self.drain_member(now, &from);
            }
            ServerMessage::Error { code, message } => {
                self.events.push_back(MeshEvent::SignalingError {
                    code: format!("{code:?}"),
                    message,
                });
            }
        }
    }

    pub(super) fn offer_to(&mut self, now: Instant, peer: PeerInfo) {
        let id = peer.id.clone();
        let (send_video, send_audio) = (self.config.send_video, self.config.send_audio);
        let Some(m) = self.new_member(now, peer) else {
            return;
        };
        m.pc.add_transceiver(MediaKind::Video, send_video, true);
        m.pc.add_transceiver(MediaKind::Audio, send_audio, true);
        self.add_screen(&id);
        let chat = self.config.chat;
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        if chat {
            m.chat = chat::open_chat(&mut m.pc, now);
        }
        match m.pc.create_offer(now) {
            Ok(sdp) => self.signals.push_back(ClientMessage::Offer {
                to: id.clone(),
                sdp,
            }),
            Err(e) => {
                self.signaling_errors += 1;
                self.remove(&id, &format!("cannot offer: {e}"));
                return;
            }
        }
        self.drain_member(now, &id);
    }
}

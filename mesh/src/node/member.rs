//! [`Member`]: what the node keeps of each other member of the room (its
//! connection, its slot of local addresses, its media m-lines, its layer and
//! share of the uplink, its counters), and how members are added to and
//! removed from the node: a slot taken (least recently freed first) and a
//! connection made with a seed of its own, or closed and its slot freed.

use rand_chacha::rand_core::RngCore;
use std::time::Instant;

use meshrtc_peer::PeerConnection;

use crate::signaling::protocol::PeerInfo;

use super::{MemberCounters, MeshEvent, MeshNode};

/// Another member of the room, as the node keeps it (see the module
/// documentation).
pub(super) struct Member {
    pub(super) info: PeerInfo,
    pub(super) counters: MemberCounters,
    /// When a key frame request of this member was last taken.
    pub(super) last_keyframe_request: Option<Instant>,
    pub(super) pc: PeerConnection,
    pub(super) slot: usize,
    pub(super) connected: bool,
    pub(super) video_mid: Option<String>,
    pub(super) audio_mid: Option<String>,
    /// The second video track's m-line (see [`MeshNode::start_screen`]).
    pub(super) screen_mid: Option<String>,
    /// After an ICE restart: the member is removed if its connection is not
    /// Connected again by then.
    pub(super) restart_deadline: Option<Instant>,
    pub(super) bitrate: f64,
    pub(super) last_report: Option<Instant>,
    /// The video layer the member is sent.
    pub(super) layer: usize,
    /// The layer its estimate allows; it is moved there at that layer's
    /// next key frame.
    pub(super) wanted_layer: usize,
    /// Its share of the uplink budget, when the budget binds.
    pub(super) share: Option<u64>,
    /// Its flow was congested at the uplink budget's last joint
    /// congestion: it is limited by the shared uplink, not by its own
    /// path (see `node/uplink_shares.rs`).
    pub(super) coupled: bool,
    /// When the node last raised its estimate to its share.
    pub(super) raised_at: Option<Instant>,
    /// Since when it has wanted a higher layer than the one it is on.
    pub(super) higher_layer_since: Option<Instant>,
    /// The chat channel, when the chat is on.
    pub(super) chat: Option<meshrtc_peer::DataChannelId>,
}

impl Member {
    /// The send-side estimate the node acts on: the connection's own,
    /// within the member's share of the uplink budget (both less the data
    /// channels' guaranteed share while data is pending).
    pub(super) fn estimate(&self) -> Option<u64> {
        let t = self.pc.target_bitrate()?;
        Some(self.share.map_or(t, |s| t.min(self.pc.media_part_of(s))))
    }
}

impl MeshNode {
    pub(super) fn take_slot(&mut self) -> Option<usize> {
        let pos = self
            .slot_free_order
            .iter()
            .position(|&s| !self.slot_used[s])?;
        let s = self.slot_free_order.remove(pos)?;
        self.slot_used[s] = true;
        Some(s)
    }

    pub(super) fn free_slot(&mut self, s: usize) {
        if let Some(u) = self.slot_used.get_mut(s) {
            *u = false;
            self.slot_free_order.push_back(s);
        }
    }

    pub(super) fn new_member(&mut self, now: Instant, info: PeerInfo) -> Option<&mut Member> {
        if self.members.contains_key(&info.id) {
            return self.members.get_mut(&info.id);
        }
        let Some(slot) = self.take_slot() else {
            self.signaling_errors += 1;
            return None;
        };
        let mut cfg = self.config.peer.clone();
        // A seed of its own per connection, drawn from the node's stream:
        // one member's ICE password says nothing of another's.
        self.rng.fill_bytes(&mut cfg.seed);
        let mut pc = match PeerConnection::new(cfg, now) {
            Ok(pc) => pc,
            Err(_) => {
                self.free_slot(slot);
                return None;
            }
        };
        for a in &self.config.slots[slot] {
            pc.add_local_address(*a);
        }
        for (server, local) in self.turn_streams_of(slot) {
            let _ = pc.add_turn_stream(now, server, local);
        }
        let id = info.id.clone();
        if let Some(s) = self.slot_ids.get_mut(slot) {
            *s = Some(id.clone());
        }
        self.members.insert(
            id.clone(),
            Member {
                counters: MemberCounters {
                    id: id.clone(),
                    ..MemberCounters::default()
                },
                last_keyframe_request: None,
                info,
                pc,
                slot,
                connected: false,
                video_mid: None,
                audio_mid: None,
                screen_mid: None,
                restart_deadline: None,
                bitrate: f64::from(self.config.max_bitrate) / 2.0,
                last_report: None,
                layer: 0,
                wanted_layer: 0,
                share: None,
                coupled: false,
                raised_at: None,
                higher_layer_since: None,
                chat: None,
            },
        );
        self.members.get_mut(&id)
    }

    pub(super) fn remove(&mut self, id: &str, reason: &str) {
        if let Some(mut m) = self.members.remove(id) {
            m.pc.close();
            // Let the close_notify out.
            while let Some(t) = m.pc.poll_transmit() {
                self.outbox.push_back(t);
            }
            if let Some(s) = self.slot_ids.get_mut(m.slot) {
                *s = None;
            }
            self.free_slot(m.slot);
            self.events.push_back(MeshEvent::MemberRemoved {
                id: id.to_string(),
                reason: reason.to_string(),
            });
        }
    }
}

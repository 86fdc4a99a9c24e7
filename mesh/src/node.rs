//! [`MeshNode`]: one member of a mesh call, sans-IO.
//!
//! A node keeps one [`PeerConnection`] to every other member of its room.
//! It follows the roster from signaling: on `welcome` the newcomer sends an
//! offer to each member already there, and a member that sees `peer-joined`
//! waits for the newcomer's offer, so joins never glare. A member that
//! leaves is removed at once (`peer-left`); one that vanishes is removed
//! when its connection fails (ICE consent, RFC 7675): a connection that
//! goes Disconnected is restarted (ICE restart by renegotiation, see
//! `negotiation.rs`), and removed if it is not Connected again by the time
//! its consent would have expired. A member that comes
//! back gets a fresh connection (it has a new id).
//!
//! Media fan-out is done once: the caller encodes each frame once and
//! packetizes it once into a [`PacketizedFrame`]; [`MeshNode::send_frame`]
//! hands the same payloads to every connected member, whose connection
//! stamps its own SSRC, sequence numbers and extensions and protects with
//! its own keys. Key frame requests from any member become one request
//! ([`MeshNode::take_keyframe_request`]), rate-limited as described
//! below. The encoder's
//! target bitrate ([`MeshNode::target_bitrate`]) follows the worst
//! connected member's estimate. Every member's estimate is taken within
//! its share of one budget for the node's uplink, which all members'
//! streams leave through ([`crate::uplink_budget`]: once the members'
//! queues rise together, the sum stays within the uplink's estimated
//! capacity, split fairly).
//!
//! # Layers (simulcast)
//!
//! With several [`MeshConfig::layer_min_bitrates`], the caller encodes
//! each captured frame once per layer (say 320x180 and 640x360) and
//! packetizes each once, and [`MeshNode::send_layers`] sends every member
//! the layer it is on, so one slow member no longer pulls everyone's
//! encoder down. A member wants the highest layer whose minimum its video
//! budget (its estimate less the audio and overhead measured on its
//! connection) reaches (layer 0 until it has an estimate; it keeps a
//! higher layer down to 60% of that layer's minimum, and moves up
//! only after wanting the higher layer for a second), and is moved
//! there at that layer's next key frame, which the node asks for
//! ([`MeshNode::take_keyframe_requests`]); until then it keeps its layer.
//! Each layer's encoder follows [`MeshNode::layer_targets`]: the lowest
//! target of the members on it. The caller gives all layers of one
//! capture the same RTP time and VP8 picture id (one packetizer per layer,
//! all started at the same id), and each connection numbers its own
//! packets, so a receiver moved between layers sees one continuous stream
//! and has no reason to ask for a key frame. Key frame requests and their
//! bucket (below) are per layer: a member's PLI concerns the layer it is
//! sent.
//!
//! Sockets: each connection has its own local addresses, taken from a pool
//! of slots the owner binds up front ([`MeshConfig::slots`]); datagrams are
//! routed to a connection by the local address they arrived at.
//!
//! # One member cannot degrade the others
//!
//! Key frames cost every member bandwidth, so what members can ask for is
//! bounded per member and in total ([`MeshConfig`] holds the numbers):
//!
//! - Requests (PLI/FIR, and a newcomer's first key frame) only set a
//!   pending flag: any number of them before the encoder's next frame make
//!   one key frame.
//! - In total, requested key frames come from a bucket of
//!   [`MeshConfig::keyframe_burst`] tokens (default 2) refilled one per
//!   [`MeshConfig::keyframe_min_interval`] (default 500 ms): over any
//!   span `T` at most `burst + T / min_interval` requested key frames, however
//!   many members ask and however often members join and leave.
//! - A PLI/FIR is served once `keyframe_min_interval` has passed since the
//!   last key frame; a newcomer's (a member whose connection just came up)
//!   once [`MeshConfig::keyframe_urgent_interval`] (default 250 ms) has.
//!   Each connection comes up once, and a member who rejoins has a new id
//!   and is one more newcomer: churn is held by the bucket, not by id.
//! - Per member: a request from a member whose previous request was
//!   taken less than `keyframe_min_interval` ago is merged into it (which
//!   is pending or was served) and counted in
//!   [`MemberCounters::keyframe_requests_ignored`] (node-wide:
//!   [`MeshStats::keyframe_requests_ignored`]).
//!
//! Retransmissions are bounded by each connection's pacer (25% of the
//! media bytes of the last second, `PeerConfig::pacer`), so a member that
//! NACKs everything costs its own connection's uplink that much at most;
//! remote candidates queued before a description are bounded by the
//! connection (100 and 64 KiB; the excess is counted in
//! [`MemberCounters::candidates_dropped`]).

// Some of these are for the files below that take `use super::*`
// (chat.rs, local_addresses.rs, negotiation.rs).
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use meshrtc_peer::{PacketizedFrame, PeerConnection, PeerError, SdpType, SignalingState, Transmit};
use meshrtc_sdp::negotiate::MediaKind;

use crate::signaling::protocol::{ClientMessage, PeerInfo};
use crate::uplink_budget::UplinkBudget;

mod chat;
mod config;
mod connection_events;
mod encoder_target;
mod events;
mod host_names;
mod keyframes;
mod layers;
mod local_addresses;
mod media;
mod member;
mod negotiation;
mod relay_transports;
mod resume;
mod room;
mod stats;
mod turn_streams;
mod uplink_shares;
pub use chat::{CHAT_LABEL, CHAT_STREAM, MAX_CHAT_BYTES};
pub use config::MeshConfig;
pub use events::MeshEvent;
use keyframes::LayerKeyframes;
pub use layers::LayerFrame;
use member::Member;
pub use relay_transports::SlotRelayTransportRequest;
pub use stats::{MemberCounters, MeshStats};
pub use turn_streams::TurnStreamRequest;

/// One member of a mesh call. See the module documentation.
pub struct MeshNode {
    config: MeshConfig,
    id: Option<String>,
    members: BTreeMap<String, Member>,
    slot_used: Vec<bool>,
    /// The member on each slot, so that routing a datagram costs no
    /// allocation (the id is taken out and put back).
    slot_ids: Vec<Option<String>>,
    /// Slots in the order they were freed (least recently used first).
    slot_free_order: VecDeque<usize>,
    signals: VecDeque<ClientMessage>,
    events: VecDeque<MeshEvent>,
    outbox: VecDeque<Transmit>,
    /// Per video layer (one without simulcast).
    keyframes: Vec<LayerKeyframes>,
    /// Per video layer: what its encoder produced against what it was
    /// asked for (see `encoder_target.rs`).
    overshoot: Vec<meshrtc_cc::EncoderOvershoot>,
    layer_switches: u64,
    /// Coupled members' estimates raised to their shares.
    estimate_raises: u64,
    keyframes_requested: u64,
    keyframes_urgent: u64,
    keyframe_requests_ignored: u64,
    candidates_dropped: u64,
    members_failed: u64,
    signaling_errors: u64,
    renegotiations: u64,
    glare_rollbacks: u64,
    glare_ignored: u64,
    ice_restarts: u64,
    address_changes: u64,
    ice_servers_skipped: u64,
    /// Host names of ICE server URLs the owner resolved (host_names.rs).
    resolved_hosts: crate::ice_servers::HostAddresses,
    /// The `resume` token of the last `welcome`.
    resume_token: Option<String>,
    signaling_resumes: u64,
    ice_servers_renewed: u64,
    turn_streams: turn_streams::TurnStreams,
    relay_transports: relay_transports::RelayTransports,
    /// The screen track is on ([`MeshNode::start_screen`]).
    screen: bool,
    /// A member asked for a key frame of the screen track.
    screen_keyframe: bool,
    /// Draws each connection's 256-bit seed from the node's seed.
    rng: ChaCha20Rng,
    /// One budget for every member's stream ([`crate::uplink_budget`]).
    budget: UplinkBudget,
    /// When the budget last took the members' signals.
    budget_at: Option<Instant>,
}

impl std::fmt::Debug for MeshNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshNode")
            .field("id", &self.id)
            .field("members", &self.members.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl MeshNode {
    /// A node that will join `config.room` (the join message is ready in
    /// [`MeshNode::poll_signal`]).
    pub fn new(config: MeshConfig) -> MeshNode {
        let slots = config.slots.len();
        let rng = ChaCha20Rng::from_seed(config.peer.seed);
        let mut n = MeshNode {
            budget: UplinkBudget::new(config.uplink_budget.unwrap_or_default()),
            budget_at: None,
            id: None,
            members: BTreeMap::new(),
            slot_used: vec![false; slots],
            slot_ids: vec![None; slots],
            slot_free_order: (0..slots).collect(),
            signals: VecDeque::new(),
            events: VecDeque::new(),
            outbox: VecDeque::new(),
            keyframes: vec![
                LayerKeyframes {
                    wanted: false,
                    urgent: false,
                    last: None,
                    tokens: f64::from(config.keyframe_burst.max(1)),
                    tokens_at: None,
                };
                config.layer_min_bitrates.len().max(1)
            ],
            overshoot: vec![
                meshrtc_cc::EncoderOvershoot::default();
                config.layer_min_bitrates.len().max(1)
            ],
            layer_switches: 0,
            estimate_raises: 0,
            keyframes_requested: 0,
            keyframes_urgent: 0,
            keyframe_requests_ignored: 0,
            candidates_dropped: 0,
            members_failed: 0,
            signaling_errors: 0,
            renegotiations: 0,
            glare_rollbacks: 0,
            glare_ignored: 0,
            ice_restarts: 0,
            address_changes: 0,
            ice_servers_skipped: 0,
            resolved_hosts: Default::default(),
            resume_token: None,
            signaling_resumes: 0,
            ice_servers_renewed: 0,
            turn_streams: turn_streams::TurnStreams::default(),
            relay_transports: relay_transports::RelayTransports::default(),
            screen: false,
            screen_keyframe: false,
            rng,
            config,
        };
        n.signals.push_back(ClientMessage::Join {
            room: n.config.room.clone(),
            name: n.config.name.clone(),
            password: n.config.password.clone(),
        });
        n
    }

    /// Our id once joined.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The members and whether media flows with each.
    pub fn members(&self) -> Vec<(PeerInfo, bool)> {
        self.members
            .values()
            .map(|m| (m.info.clone(), m.connected))
            .collect()
    }

    // ----- signaling -----

    /// The next message for the signaling server.
    #[must_use]
    pub fn poll_signal(&mut self) -> Option<ClientMessage> {
        self.signals.pop_front()
    }

    // ----- datagrams and time -----

    /// A datagram from `from` arrived at our local address `to`: it goes
    /// to the connection that owns `to`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let slot = self.config.slots.iter().position(|s| s.contains(&to));
        let slot = slot
            .or_else(|| self.turn_stream_slot(to))
            .or_else(|| self.relay_transport_slot(to));
        let Some(slot) = slot else {
            return;
        };
        let Some(id) = self.slot_ids.get_mut(slot).and_then(Option::take) else {
            return;
        };
        if let Some(m) = self.members.get_mut(&id) {
            // Events of this connection name the member (issue 21); a
            // disabled span costs one check of its callsite.
            let _member = tracing::debug_span!("member", id = %id).entered();
            m.pc.handle_datagram(now, from, to, data);
        }
        self.drain_member(now, &id);
        // Back on its slot, unless the member was removed meanwhile.
        if self.members.get(&id).is_some_and(|m| m.slot == slot) {
            self.slot_ids[slot] = Some(id);
        }
        self.update_budget(now);
    }

    /// Timers of every connection.
    pub fn handle_timeout(&mut self, now: Instant) {
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            if let Some(m) = self.members.get_mut(&id) {
                if m.pc.poll_timeout().is_some_and(|t| t <= now) {
                    let _member = tracing::debug_span!("member", id = %id).entered();
                    m.pc.handle_timeout(now);
                }
            }
            self.drain_member(now, &id);
            // An ICE restart that did not bring the member back by the
            // time its consent would have expired: it is gone (it may have
            // vanished, and a restart needs its answer).
            let expired = self
                .members
                .get(&id)
                .and_then(|m| m.restart_deadline)
                .is_some_and(|t| t <= now);
            if expired {
                self.members_failed += 1;
                self.remove(&id, "consent lost; the ICE restart did not reconnect");
            }
        }
        self.update_budget(now);
    }

    /// The earliest timer of any connection.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.members
            .values()
            .flat_map(|m| [m.pc.poll_timeout(), m.restart_deadline])
            .flatten()
            .min()
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.outbox.pop_front() {
            return Some(t);
        }
        self.members.values_mut().find_map(|m| m.pc.poll_transmit())
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<MeshEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests;

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
//! encoder down. A member wants the highest layer whose minimum its
//! `video_encoder_target` reaches (layer 0 until it has an estimate; it
//! keeps a higher layer down to 60% of that layer's minimum, and moves up
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

use meshrtc_peer::video_encoder_target;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_peer::{
    ConnectionState, PacketizedFrame, PeerConfig, PeerConnection, PeerError, PeerEvent, PeerStats,
    ReceivedFrame, SdpType, SignalingState, Transmit,
};
use meshrtc_sdp::negotiate::MediaKind;

use crate::signaling::protocol::{ClientMessage, IceCandidateInit, PeerInfo, ServerMessage};
use crate::uplink_budget::{BudgetConfig, UplinkBudget};

mod chat;
mod host_names;
mod local_addresses;
mod negotiation;
mod relay_transports;
mod resume;
mod turn_streams;
mod uplink_shares;
pub use chat::{CHAT_LABEL, CHAT_STREAM, MAX_CHAT_BYTES};
pub use relay_transports::SlotRelayTransportRequest;
pub use turn_streams::TurnStreamRequest;

/// Settings of a [`MeshNode`].
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// Room to join.
    pub room: String,
    /// Display name.
    pub name: String,
    /// The room's password, for a server that requires one.
    pub password: Option<String>,
    /// Template of every connection: its certificate is shared by all of
    /// them, its seed keys the stream each connection's own seed is drawn
    /// from.
    pub peer: PeerConfig,
    /// Local address sets the owner has bound, one per connection slot:
    /// each member's connection uses one slot's addresses. At least
    /// `max_members - 1` slots; a few more let a member that reconnects
    /// get a fresh slot while its old connection's packets drain.
    pub slots: Vec<Vec<SocketAddr>>,
    /// Send audio and video (a member's media set is fixed at join).
    pub send_video: bool,
    /// See `send_video`.
    pub send_audio: bool,
    /// Key frames asked for by members (PLI/FIR) are made at most this
    /// often, and the bucket of requested key frames refills one token per
    /// interval. See the module documentation.
    pub keyframe_min_interval: Duration,
    /// A newly connected member's key frame waits until this long after the
    /// previous key frame (and for a token).
    pub keyframe_urgent_interval: Duration,
    /// Tokens of the requested-key-frame bucket (at least 1).
    pub keyframe_burst: u32,
    /// The encoder's bitrate bounds.
    pub min_bitrate: u32,
    /// See `min_bitrate`.
    pub max_bitrate: u32,
    /// Simulcast: the number of video layers the caller encodes (one per
    /// entry, smallest first) and the encoder target a member needs to be
    /// sent each one. A member gets the highest layer whose minimum is at
    /// most its `video_encoder_target`; `[0]` (the default) is one layer
    /// for everyone. See [`MeshNode::send_layers`].
    pub layer_min_bitrates: Vec<u32>,
    /// Couple the members' estimates through one budget for the shared
    /// uplink ([`crate::uplink_budget`]): once their queues rise together,
    /// what the node sends in total stays within the uplink's estimated
    /// capacity, split fairly. `None`: each member's estimate alone.
    pub uplink_budget: Option<BudgetConfig>,
    /// The room chat: a data channel to every member (see
    /// [`MeshNode::send_chat`]). Off by default: it adds a data m-line to
    /// every connection.
    pub chat: bool,
}

impl MeshConfig {
    /// Defaults: audio and video, requested key frames at most every
    /// 500 ms on average (a burst of 2, newcomers' no closer than 250 ms), video
    /// between 30 kbit/s (a small layer on a 150 kbit/s uplink) and 1.5 Mbit/s.
    pub fn new(room: &str, name: &str, peer: PeerConfig, slots: Vec<Vec<SocketAddr>>) -> Self {
        MeshConfig {
            room: room.into(),
            name: name.into(),
            password: None,
            peer,
            slots,
            send_video: true,
            send_audio: true,
            keyframe_min_interval: Duration::from_millis(500),
            keyframe_urgent_interval: Duration::from_millis(250),
            keyframe_burst: 2,
            min_bitrate: 30_000,
            max_bitrate: 1_500_000,
            layer_min_bitrates: vec![0],
            uplink_budget: Some(BudgetConfig::default()),
            chat: false,
        }
    }
}

/// What happened in the mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MeshEvent {
    /// We are in the room.
    Joined {
        /// Our id.
        id: String,
        /// Who was there.
        peers: Vec<PeerInfo>,
    },
    /// Signaling refused something (room full, say).
    SignalingError {
        /// The code, as text.
        code: String,
        /// The message.
        message: String,
    },
    /// A member joined (its connection is being set up).
    MemberJoined(PeerInfo),
    /// Media flows with a member.
    MemberConnected {
        /// The member.
        id: String,
    },
    /// A member is gone: it left, or its connection failed.
    MemberRemoved {
        /// The member.
        id: String,
        /// Why.
        reason: String,
    },
    /// A remote track started.
    TrackAdded {
        /// The member.
        from: String,
        /// Audio or video.
        kind: MediaKind,
    },
    /// A member's track stopped (it stopped sending on the m-line `mid`,
    /// after a renegotiation).
    TrackRemoved {
        /// The member.
        from: String,
        /// The m-line.
        mid: String,
        /// Audio or video.
        kind: MediaKind,
    },
    /// A frame from a member.
    Frame {
        /// The member.
        from: String,
        /// The frame.
        frame: ReceivedFrame,
    },
    /// An NSS key log line of the connection with a member (when the
    /// template `PeerConfig::key_log` is on).
    KeyLog {
        /// The member.
        from: String,
        /// `CLIENT_RANDOM <hex> <hex>`.
        line: String,
    },
    /// The SRTP keys of the connection with a member (when the template
    /// `PeerConfig::key_log` is on).
    SrtpKeys {
        /// The member.
        from: String,
        /// The keys, addresses and role.
        keys: meshrtc_peer::SrtpKeyLog,
    },
    /// A chat line from a member ([`MeshConfig::chat`]).
    Chat {
        /// The member.
        from: String,
        /// Its display name.
        name: String,
        /// The line.
        text: String,
    },
}

/// Per-member and node-wide statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshStats {
    /// Our id, once joined.
    pub id: Option<String>,
    /// Each member: id, name, connection stats.
    pub members: Vec<(String, String, PeerStats)>,
    /// Bytes sent to all members (payload), for the upstream bitrate.
    pub bytes_sent: u64,
    /// The target bitrate the node asks of the encoder.
    pub target_bitrate: u32,
    /// Key frames requested of the encoder.
    pub keyframes_requested: u64,
    /// Of those, for a member whose connection had just come up.
    pub keyframes_urgent: u64,
    /// Key frame requests merged because their member had asked less than
    /// `keyframe_min_interval` before (all members, departed ones
    /// included).
    pub keyframe_requests_ignored: u64,
    /// Remote candidates refused because too many were queued before the
    /// member's description (all members, departed ones included).
    pub candidates_dropped: u64,
    /// What each current member asked of us (same order as `members`).
    pub member_counters: Vec<MemberCounters>,
    /// Members removed because their connection failed.
    pub members_failed: u64,
    /// The video layer each current member is sent (same order as
    /// `members`; 0 with one layer).
    pub member_layers: Vec<usize>,
    /// Each layer's encoder target ([`MeshNode::layer_targets`]).
    pub layer_targets: Vec<u32>,
    /// Members moved from one layer to another (at a key frame).
    pub layer_switches: u64,
    /// The shared uplink's estimated capacity ([`crate::uplink_budget`]),
    /// once the members' queues rose together.
    pub uplink_capacity: Option<u64>,
    /// Times the members' queues rose together (shared-bottleneck
    /// congestion events).
    pub shared_congestion_events: u64,
    /// What each current member may use of the uplink budget (same order
    /// as `members`; `None` without a budget or an estimate).
    pub member_shares: Vec<Option<u64>>,
    /// Times a coupled member's estimate was raised to its share of the
    /// uplink (RFC 8699 §5; see `node/uplink_shares.rs`).
    pub estimates_raised: u64,
    /// Signaling messages that did not fit (unknown sender, bad SDP).
    pub signaling_errors: u64,
    /// Renegotiations completed (offers answered and answers applied
    /// after the first negotiation of a connection).
    pub renegotiations: u64,
    /// Glare as the polite side: our offer rolled back for the member's.
    pub glare_rollbacks: u64,
    /// Glare as the impolite side: the member's crossing offer ignored.
    pub glare_ignored: u64,
    /// ICE restarts we asked for (a connection went Disconnected, or our
    /// addresses changed).
    pub ice_restarts: u64,
    /// Changes of our own addresses the owner reported
    /// ([`MeshNode::local_addresses_changed`]).
    pub address_changes: u64,
    /// Times our place in the room was taken back after the signaling
    /// connection dropped (`resume`, answered by a `welcome`).
    pub signaling_resumes: u64,
    /// URLs of the room's ICE servers (`welcome`) the node could not use
    /// (a host name, TCP or TLS transport, TURN without credentials; see
    /// [`crate::ice_servers`]).
    pub ice_servers_skipped: u64,
    /// `ice-servers` messages taken (renewed TURN credentials).
    pub ice_servers_renewed: u64,
}

/// What one member asked of the node, and what was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberCounters {
    /// The member.
    pub id: String,
    /// Key frame requests (PLI/FIR) from the member that were taken.
    pub keyframe_requests: u64,
    /// Requests merged into the member's previous one: it had asked less
    /// than `keyframe_min_interval` before.
    pub keyframe_requests_ignored: u64,
    /// Its trickled candidates refused because too many were queued
    /// before its description.
    pub candidates_dropped: u64,
}

struct Member {
    info: PeerInfo,
    counters: MemberCounters,
    /// When a key frame request of this member was last taken.
    last_keyframe_request: Option<Instant>,
    pc: PeerConnection,
    slot: usize,
    connected: bool,
    video_mid: Option<String>,
    audio_mid: Option<String>,
    /// The second video track's m-line (see [`MeshNode::start_screen`]).
    screen_mid: Option<String>,
    /// After an ICE restart: the member is removed if its connection is not
    /// Connected again by then.
    restart_deadline: Option<Instant>,
    bitrate: f64,
    last_report: Option<Instant>,
    /// The video layer the member is sent.
    layer: usize,
    /// The layer its estimate allows; it is moved there at that layer's
    /// next key frame.
    wanted_layer: usize,
    /// Its share of the uplink budget, when the budget binds.
    share: Option<u64>,
    /// Its flow was congested at the uplink budget's last joint
    /// congestion: it is limited by the shared uplink, not by its own
    /// path (see `node/uplink_shares.rs`).
    coupled: bool,
    /// When the node last raised its estimate to its share.
    raised_at: Option<Instant>,
    /// Since when it has wanted a higher layer than the one it is on.
    higher_layer_since: Option<Instant>,
    /// The chat channel, when the chat is on.
    chat: Option<meshrtc_peer::DataChannelId>,
}

impl Member {
    /// The send-side estimate the node acts on: the connection's own,
    /// within the member's share of the uplink budget (both less the data
    /// channels' guaranteed share while data is pending).
    fn estimate(&self) -> Option<u64> {
        let t = self.pc.target_bitrate()?;
        Some(self.share.map_or(t, |s| t.min(self.pc.media_part_of(s))))
    }
}

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

/// Key frame state of one layer's encoder.
#[derive(Debug, Clone)]
struct LayerKeyframes {
    wanted: bool,
    urgent: bool,
    last: Option<Instant>,
    /// The requested-key-frame bucket: tokens, and when it was refilled.
    tokens: f64,
    tokens_at: Option<Instant>,
}

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

    /// Leaves the room: every connection is closed and `leave` is sent.
    pub fn leave(&mut self) {
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            self.remove(&id, "we left");
        }
        self.signals.push_back(ClientMessage::Leave);
    }

    fn take_slot(&mut self) -> Option<usize> {
        let pos = self
            .slot_free_order
            .iter()
            .position(|&s| !self.slot_used[s])?;
        let s = self.slot_free_order.remove(pos)?;
        self.slot_used[s] = true;
        Some(s)
    }

    fn free_slot(&mut self, s: usize) {
        if let Some(u) = self.slot_used.get_mut(s) {
            *u = false;
            self.slot_free_order.push_back(s);
        }
    }

    fn new_member(&mut self, now: Instant, info: PeerInfo) -> Option<&mut Member> {
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

    fn remove(&mut self, id: &str, reason: &str) {
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

    // ----- signaling -----

    /// The next message for the signaling server.
    #[must_use]
    pub fn poll_signal(&mut self) -> Option<ClientMessage> {
        self.signals.pop_front()
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

    fn offer_to(&mut self, now: Instant, peer: PeerInfo) {
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

    fn drain_member(&mut self, now: Instant, id: &str) {
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

    // ----- media -----

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
    fn update_wanted_layers(&mut self, now: Instant) {
        let mins = &self.config.layer_min_bitrates;
        for m in self.members.values_mut().filter(|m| m.connected) {
            let target = m
                .estimate()
                .map(|t| video_encoder_target(t, self.config.send_audio));
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

    /// The encoder target of each video layer (smallest first): the lowest
    /// [`video_encoder_target`] of the members sent that layer or waiting
    /// to be moved to it, so that no member is sent more than its estimate
    /// allows. A member below a layer's minimum moves down, so a weak
    /// member holds a layer's target down only to that layer's minimum. A
    /// layer below the top is capped at the next layer's minimum (a
    /// member that could afford more gets the next layer); a layer no
    /// member is on gets its minimum. All within
    /// `min_bitrate..=max_bitrate`.
    pub fn layer_targets(&self) -> Vec<u32> {
        let cfg = &self.config;
        let mins = &cfg.layer_min_bitrates;
        (0..self.keyframes.len())
            .map(|i| {
                let floor = mins.get(i).copied().unwrap_or(0);
                let cap = mins
                    .get(i + 1)
                    .copied()
                    .unwrap_or(cfg.max_bitrate)
                    .max(floor);
                self.members
                    .values()
                    .filter(|m| m.connected && (m.layer == i || m.wanted_layer == i))
                    .filter_map(Member::estimate)
                    .map(|t| video_encoder_target(t, cfg.send_audio))
                    .min()
                    .map_or(floor, |t| t.min(u64::from(cap)) as u32)
                    .clamp(cfg.min_bitrate, cfg.max_bitrate)
            })
            .collect()
    }

    /// The video layer `member` is sent.
    pub fn member_layer(&self, member: &str) -> Option<usize> {
        self.members.get(member).map(|m| m.layer)
    }

    /// Per-member and node-wide statistics.
    pub fn stats(&self) -> MeshStats {
        let members: Vec<(String, String, PeerStats)> = self
            .members
            .values()
            .map(|m| (m.info.id.clone(), m.info.name.clone(), m.pc.stats()))
            .collect();
        let bytes_sent = members
            .iter()
            .flat_map(|(_, _, s)| s.outbound.iter().map(|o| o.bytes_sent))
            .sum();
        MeshStats {
            id: self.id.clone(),
            members,
            bytes_sent,
            target_bitrate: self.target_bitrate(),
            keyframes_requested: self.keyframes_requested,
            keyframes_urgent: self.keyframes_urgent,
            keyframe_requests_ignored: self.keyframe_requests_ignored,
            candidates_dropped: self.candidates_dropped,
            member_counters: self.members.values().map(|m| m.counters.clone()).collect(),
            members_failed: self.members_failed,
            member_layers: self.members.values().map(|m| m.layer).collect(),
            layer_targets: self.layer_targets(),
            layer_switches: self.layer_switches,
            uplink_capacity: self.budget.capacity(),
            shared_congestion_events: self.budget.events(),
            member_shares: self.members.values().map(|m| m.share).collect(),
            estimates_raised: self.estimate_raises,
            signaling_errors: self.signaling_errors,
            renegotiations: self.renegotiations,
            glare_rollbacks: self.glare_rollbacks,
            glare_ignored: self.glare_ignored,
            ice_restarts: self.ice_restarts,
            address_changes: self.address_changes,
            ice_servers_skipped: self.ice_servers_skipped,
            signaling_resumes: self.signaling_resumes,
            ice_servers_renewed: self.ice_servers_renewed,
        }
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
fn wanted_layer(mins: &[u32], current: usize, target: Option<u64>) -> usize {
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

/// Loss- and RTT-based target for one member (a connection without
/// transport-cc), updated once a second from its latest report block.
fn update_bitrate(m: &mut Member, now: Instant, cfg: &MeshConfig) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> MeshNode {
        let peer = PeerConfig::with_fixed_seed(7);
        let addr: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        MeshNode::new(MeshConfig::new("room", "a", peer, vec![vec![addr]]))
    }

    /// Asks `take_keyframe_request` at every frame of a 30 fps encoder for
    /// `secs`, with `ask` setting requests before each frame; returns the
    /// times key frames were made.
    fn run(
        n: &mut MeshNode,
        t0: Instant,
        secs: u64,
        mut ask: impl FnMut(&mut MeshNode, Duration),
    ) -> Vec<Duration> {
        let frame = Duration::from_micros(33_333);
        let mut made = Vec::new();
        let mut t = Duration::ZERO;
        while t < Duration::from_secs(secs) {
            ask(n, t);
            if n.take_keyframe_request(t0 + t) {
                made.push(t);
            }
            t += frame;
        }
        made
    }

    #[test]
    fn newcomers_every_50_ms_get_no_more_than_the_bucket_allows() {
        let mut n = node();
        let t0 = Instant::now();
        // A newcomer's connection comes up every 50 ms for 10 s: without
        // the bucket each would be served at once (200 key frames).
        let made = run(&mut n, t0, 10, |n, _| {
            n.keyframes[0].wanted = true;
            n.keyframes[0].urgent = true;
        });
        // burst 2 + one per 500 ms.
        assert!(made.len() <= 2 + 20, "{}", made.len());
        assert!(made.len() >= 19, "{}", made.len());
        for w in made.windows(2) {
            assert!(w[1] - w[0] >= Duration::from_millis(250), "{made:?}");
        }
        let st = n.stats();
        assert_eq!(st.keyframes_requested, made.len() as u64);
        assert_eq!(st.keyframes_urgent, made.len() as u64);
    }

    #[test]
    fn a_newcomer_is_served_at_once_after_a_quiet_spell_and_plis_wait_the_interval() {
        let mut n = node();
        let t0 = Instant::now();
        // One newcomer at 1 s, PLIs at 1.1 s and 1.2 s.
        let made = run(&mut n, t0, 3, |n, t| {
            let ms = t.as_millis();
            if (1000..1034).contains(&ms) {
                n.keyframes[0].wanted = true;
                n.keyframes[0].urgent = true;
            }
            if (1100..1134).contains(&ms) || (1200..1234).contains(&ms) {
                n.keyframes[0].wanted = true;
            }
        });
        assert_eq!(made.len(), 2, "{made:?}");
        assert!(made[0] - Duration::from_secs(1) < Duration::from_millis(34));
        // The PLIs were merged into one, 500 ms after the newcomer's.
        let gap = made[1] - made[0];
        assert!(
            gap >= Duration::from_millis(500) && gap < Duration::from_millis(534),
            "{made:?}"
        );
    }

    #[test]
    fn a_member_gets_the_highest_layer_its_target_reaches_and_holds_it_down_to_60_percent() {
        let mins = [0, 250_000, 800_000];
        // No estimate yet: the smallest layer.
        assert_eq!(wanted_layer(&mins, 2, None), 0);
        assert_eq!(wanted_layer(&mins, 0, Some(120_000)), 0);
        assert_eq!(wanted_layer(&mins, 0, Some(250_000)), 1);
        assert_eq!(wanted_layer(&mins, 0, Some(2_000_000)), 2);
        // Under layer 1's minimum: a member on it stays down to 60%
        // (150 kbit/s), one below does not climb.
        assert_eq!(wanted_layer(&mins, 1, Some(220_000)), 1);
        assert_eq!(wanted_layer(&mins, 1, Some(150_000)), 1);
        assert_eq!(wanted_layer(&mins, 0, Some(220_000)), 0);
        // Well under: it goes down, as far as its target says.
        assert_eq!(wanted_layer(&mins, 1, Some(149_000)), 0);
        assert_eq!(wanted_layer(&mins, 2, Some(470_000)), 1);
        assert_eq!(wanted_layer(&mins, 2, Some(480_000)), 2);
        // No layers configured: one layer.
        assert_eq!(wanted_layer(&[], 0, Some(1_000_000)), 0);
    }

    #[test]
    fn each_layer_has_its_own_key_frame_requests_and_bucket() {
        let peer = PeerConfig::with_fixed_seed(7);
        let addr: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let mut cfg = MeshConfig::new("room", "a", peer, vec![vec![addr]]);
        cfg.layer_min_bitrates = vec![0, 250_000];
        let mut n = MeshNode::new(cfg);
        let t0 = Instant::now();
        assert!(n.take_keyframe_requests(t0).is_empty());
        // Only layer 1 asked: only layer 1 is told.
        n.keyframes[1].wanted = true;
        assert_eq!(n.take_keyframe_requests(t0), vec![1]);
        assert!(n.take_keyframe_requests(t0).is_empty());
        // Layer 1 asks at every frame for 10 s, layer 0 never: layer 1's
        // encoder makes at most burst + 10 s / 500 ms, layer 0's none.
        let mut made = [0usize; 2];
        let mut t = Duration::ZERO;
        while t < Duration::from_secs(10) {
            n.keyframes[1].wanted = true;
            for l in n.take_keyframe_requests(t0 + Duration::from_secs(1) + t) {
                made[l] += 1;
            }
            t += Duration::from_micros(33_333);
        }
        assert_eq!(made[0], 0);
        assert!((19..=22).contains(&made[1]), "{made:?}");
        // Layer 0's bucket is untouched: a newcomer there is served at once.
        n.keyframes[0].wanted = true;
        n.keyframes[0].urgent = true;
        assert_eq!(
            n.take_keyframe_requests(t0 + Duration::from_secs(11)),
            vec![0]
        );
        // No members: each layer's target is its minimum (within bounds).
        assert_eq!(n.layer_targets(), vec![30_000, 250_000]);
    }
}

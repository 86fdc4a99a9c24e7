//! [`MeshConfig`]: the settings of a [`MeshNode`] (room, name, the template
//! of every connection, the slots of local addresses, the key frame bounds
//! and the bitrate bounds and simulcast layers the node module's
//! documentation describes).

use std::net::SocketAddr;
use std::time::Duration;

use meshrtc_peer::PeerConfig;

use crate::uplink_budget::BudgetConfig;

#[cfg(doc)]
use super::MeshNode;

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
    /// most its video budget (its estimate less the audio and overhead
    /// measured on its connection); `[0]` (the default) is one layer for
    /// everyone. See [`MeshNode::send_layers`].
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
    /// Ask the encoder for what each member's connection measured its
    /// video may use (the estimate less the audio and overhead seen on the
    /// wire, `PeerConnection::video_budget_of`) over the encoder's
    /// measured overshoot, filling the estimate. Off: the fixed share
    /// (`meshrtc_peer::video_encoder_target`: 85% of the estimate less 60
    /// kbit/s of audio), which leaves headroom. On by default (the
    /// simulator's fake codec: 2-4 points more of a steady link); the
    /// driver turns it off for libvpx on real links
    /// ([`crate::driver::MemberConfig::measured_video_budget`]).
    pub measured_video_budget: bool,
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
            measured_video_budget: true,
        }
    }
}

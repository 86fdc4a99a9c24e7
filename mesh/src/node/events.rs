//! [`MeshEvent`]: what the node hands its owner from
//! [`MeshNode::poll_event`](super::MeshNode::poll_event): the room (joined,
//! members joining, connecting, removed), tracks, frames, chat lines and key
//! logs.

use meshrtc_peer::ReceivedFrame;
use meshrtc_sdp::negotiate::MediaKind;

use crate::signaling::protocol::PeerInfo;

#[cfg(doc)]
use super::MeshConfig;

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

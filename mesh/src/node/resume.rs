//! Taking our place back after the signaling connection dropped. Media
//! does not go through the server: the connections keep running while it
//! is gone. The server keeps a member that dropped without a goodbye for
//! its resume window and holds what was relayed to it
//! (`signaling::rooms::resume`); the driver reconnects and sends
//! [`MeshNode::resume_request`] in place of a `join`. The `welcome` that
//! answers carries our own id: nothing is torn down, and nothing is
//! started from its member list either. What happened in the room
//! meanwhile comes after it, held for us by the server: a `peer-joined`
//! (the newcomer then offers to us, as it would have), a `peer-left`, the
//! offers and answers of renegotiations.

use std::time::Instant;

use crate::signaling::protocol::{ClientMessage, PeerInfo};

use super::MeshNode;

impl MeshNode {
    /// The message that takes our place back on a new signaling
    /// connection: `resume` with the token of the last `welcome`. `None`
    /// before a welcome, or when the server keeps no places.
    pub fn resume_request(&self) -> Option<ClientMessage> {
        self.resume_token
            .as_ref()
            .map(|token| ClientMessage::Resume {
                token: token.clone(),
            })
    }

    /// A `welcome` with our own id: the place was taken back.
    pub(super) fn on_resumed(&mut self, _now: Instant, peers: Vec<PeerInfo>) {
        self.signaling_resumes += 1;
        tracing::debug!(
            peers = peers.len(),
            members = self.members.len(),
            "signaling resumed: our place taken back"
        );
    }
}

//! The room chat (issue 20): with [`MeshConfig::chat`] on, every member's
//! connection carries one data channel, `chat`, negotiated out of band on
//! a fixed SCTP stream (RFC 8832 §6: no DATA_CHANNEL_OPEN, both sides make
//! it), so it needs no extra round trip and both sides agree on it
//! whoever offers. Text lines go to every member with
//! [`MeshNode::send_chat`] and arrive as [`MeshEvent::Chat`].

use meshrtc_peer::{DataChannelId, DataChannelOptions, DataPayload};

use super::*;

/// The chat channel's label.
pub const CHAT_LABEL: &str = "chat";
/// Its SCTP stream: high enough that the ids browsers pick for their own
/// in-band channels (the lowest free of their parity) do not meet it.
pub const CHAT_STREAM: u16 = 1000;
/// The longest chat line sent, in bytes (a line is cut at a character
/// boundary below it).
pub const MAX_CHAT_BYTES: usize = 4096;

/// Makes the chat channel on a member's connection (adding the data
/// m-line when the connection has none, which asks for a negotiation).
pub(super) fn open_chat(pc: &mut PeerConnection, now: Instant) -> Option<DataChannelId> {
    let options = DataChannelOptions {
        negotiated: Some(CHAT_STREAM),
        ..DataChannelOptions::default()
    };
    pc.create_data_channel(now, CHAT_LABEL, options).ok()
}

impl MeshNode {
    /// Sends a chat line to every member whose chat channel is open.
    /// Returns how many it went to. Longer lines are cut to
    /// [`MAX_CHAT_BYTES`].
    pub fn send_chat(&mut self, now: Instant, text: &str) -> usize {
        let mut end = text.len().min(MAX_CHAT_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let payload = DataPayload::Text(text[..end].to_string());
        let mut n = 0;
        let outbox = &mut self.outbox;
        for m in self.members.values_mut() {
            let Some(ch) = m.chat else { continue };
            if m.pc.send_data(now, ch, &payload).is_ok() {
                n += 1;
            }
            while let Some(t) = m.pc.poll_transmit() {
                outbox.push_back(t);
            }
        }
        n
    }
}

//! Heartbeats (RFC 9260 §8.3): sent after an idle interval plus the RTO
//! on an established association, answered for the peer, and counted
//! toward Association.Max.Retrans when unanswered (§8.1).

use std::time::Instant;

use super::Association;
use crate::chunk::Chunk;

impl Association {
    /// The heartbeat timer (§8.3): a HEARTBEAT with a nonce and the send
    /// time; one still unanswered counts as an error (§8.1) and doubles the
    /// RTO. True when the association ended.
    pub(super) fn on_heartbeat_timer(&mut self, now: Instant) -> bool {
        if self.heartbeat_outstanding.is_some() && self.count_error() {
            return true;
        }
        if self.heartbeat_outstanding.is_some() {
            self.rto.back_off();
        }
        let nonce = self.rng.next_u64();
        let mut info = [0u8; 16];
        info[..8].copy_from_slice(&nonce.to_be_bytes());
        let ms = self.ms(now);
        info[8..].copy_from_slice(&ms.to_be_bytes());
        let mut c = Vec::new();
        Chunk::Heartbeat(&info).emit(&mut c);
        self.control.push_back(c);
        self.heartbeat_outstanding = Some((nonce, now));
        self.heartbeat_at = Some(now + self.rto.rto() + self.config.heartbeat_interval);
        false
    }

    /// HEARTBEAT from the peer (§8.3): echoed in a HEARTBEAT ACK.
    pub(super) fn on_heartbeat(&mut self, info: &[u8]) {
        if self.peer.is_some() {
            let mut c = Vec::new();
            Chunk::HeartbeatAck(info).emit(&mut c);
            self.control.push_back(c);
        }
    }

    /// HEARTBEAT ACK (§8.3): an RTT sample when it answers our
    /// outstanding heartbeat, which also clears the error count.
    pub(super) fn on_heartbeat_ack(&mut self, now: Instant, info: &[u8]) {
        if let Some((nonce, sent)) = self.heartbeat_outstanding {
            if info.len() == 16 && info[..8] == nonce.to_be_bytes() {
                self.rto.measure(now.saturating_duration_since(sent));
                self.heartbeat_outstanding = None;
                self.error_count = 0;
            }
        }
    }
}

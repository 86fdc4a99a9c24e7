//! The SACKs the association sends (RFC 9260 §6.2, §3.3.4): when one is
//! due (every second packet with data, the delayed-ack timer) and the
//! chunk itself, from [`crate::receive`]'s cumulative TSN, gap blocks,
//! duplicate TSNs and receive window.

use std::time::Instant;

use super::Association;
use crate::chunk::{Chunk, SackChunk};

impl Association {
    /// §6.2: after a packet with DATA or I-DATA, a SACK at least every
    /// second such packet, otherwise within the delayed-ack time.
    pub(super) fn schedule_sack(&mut self, now: Instant) {
        self.data_packets_unacked += 1;
        // §6.2: SACK at least every second packet with DATA.
        if self.data_packets_unacked >= 2 {
            self.ack_now = true;
        }
        if self.ack_deadline.is_none() && !self.ack_now {
            self.ack_deadline = Some(now + self.config.delayed_ack);
        }
    }

    pub(super) fn sack_chunk(&mut self) -> Option<Vec<u8>> {
        let rx = self.receiver.as_mut()?;
        self.advertised_rwnd = rx.a_rwnd();
        let sack = SackChunk {
            cum_tsn_ack: rx.cum_tsn() as u32,
            a_rwnd: self.advertised_rwnd,
            gap_blocks: rx.gap_blocks(),
            duplicate_tsns: rx.take_dups(),
        };
        let mut c = Vec::new();
        Chunk::Sack(sack).emit(&mut c);
        Some(c)
    }
}

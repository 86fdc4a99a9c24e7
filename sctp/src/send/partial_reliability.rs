//! Partial reliability on the sending side: messages abandoned after a
//! lifetime (RFC 3758 §3.5) or a number of retransmissions (RFC 7496 §4),
//! the Advanced.Peer.Ack.Point (RFC 3758 §3.5 C1-C3) and the FORWARD TSN
//! (RFC 3758 §3.2) or, with I-DATA, I-FORWARD-TSN (RFC 8260 §2.3.1) that
//! announces it.

use std::time::Instant;

use super::Sender;
use crate::chunk::{Chunk, IForwardEntry};

impl Sender {
    /// Abandons every fragment of a message (RFC 3758 §3.5 A3), sent or not.
    pub(super) fn abandon(&mut self, msg_id: u64) {
        for s in self
            .sent
            .iter_mut()
            .filter(|s| s.msg_id == msg_id && !s.abandoned)
        {
            s.abandoned = true;
            if std::mem::take(&mut s.needs_rtx) {
                self.rtx_marked -= 1;
            }
            if s.in_flight {
                s.in_flight = false;
                self.flight_size -= s.data.len();
            }
        }
        let mut removed = Vec::new();
        let mut timed = 0;
        self.pending.retain(|p| {
            if p.msg_id == msg_id {
                timed += p.expires.is_some() as usize;
                removed.push((p.stream_id, p.data.len()));
                false
            } else {
                true
            }
        });
        self.pending_timed -= timed;
        for (stream, n) in removed {
            self.unbuffer(stream, n);
        }
        self.current_mid.retain(|_, (m, _)| *m != msg_id);
        self.abandoned_messages += 1;
        self.update_adv_peer_ack();
    }

    /// RFC 3758 §3.5 C2: the Advanced.Peer.Ack.Point moves over abandoned
    /// chunks that follow the cumulative ack.
    pub(super) fn update_adv_peer_ack(&mut self) {
        if self.adv_peer_ack < self.cum_ack {
            self.adv_peer_ack = self.cum_ack;
        }
        if !self.pr_supported {
            return;
        }
        for s in &self.sent {
            if s.tsn <= self.adv_peer_ack {
                continue;
            }
            if s.tsn == self.adv_peer_ack + 1 && s.abandoned {
                self.adv_peer_ack = s.tsn;
            } else {
                break;
            }
        }
        if self.adv_peer_ack > self.cum_ack {
            self.forward_tsn_due = true;
        }
    }

    /// The FORWARD TSN to send, if the peer's ack point should move
    /// (RFC 3758 §3.5 C3): the new cumulative TSN and, per stream, the
    /// last SSN of ordered messages skipped.
    pub(crate) fn forward_tsn(&self) -> Option<Chunk<'static>> {
        if self.adv_peer_ack <= self.cum_ack {
            return None;
        }
        if self.interleave {
            return Some(self.i_forward_tsn());
        }
        let mut streams: Vec<(u16, u16)> = Vec::new();
        for s in self
            .sent
            .iter()
            .filter(|s| s.tsn <= self.adv_peer_ack && !s.unordered)
        {
            let ssn = s.mid as u16;
            match streams.iter_mut().find(|(id, _)| *id == s.stream_id) {
                Some(e) => {
                    if ssn.wrapping_sub(e.1) < 0x8000 {
                        e.1 = ssn;
                    }
                }
                None => streams.push((s.stream_id, ssn)),
            }
        }
        Some(Chunk::ForwardTsn {
            new_cum_tsn: self.adv_peer_ack as u32,
            streams,
        })
    }

    /// The I-FORWARD-TSN to send (RFC 8260 §2.3.1): per stream the
    /// highest ordered MID skipped, and each unordered message skipped.
    /// Everything between the cumulative ack and the ack point is
    /// abandoned (§3.5 C1 moves only over abandoned chunks).
    pub(super) fn i_forward_tsn(&self) -> Chunk<'static> {
        let mut entries: Vec<IForwardEntry> = Vec::new();
        for s in self.sent.iter().take_while(|s| s.tsn <= self.adv_peer_ack) {
            let found = entries.iter_mut().find(|e| {
                e.stream_id == s.stream_id
                    && e.unordered == s.unordered
                    && (!s.unordered || e.mid == s.mid)
            });
            match found {
                // Ordered: the highest MID skipped on the stream.
                Some(e) => {
                    if s.mid.wrapping_sub(e.mid) < 0x8000_0000 {
                        e.mid = s.mid;
                    }
                }
                None => entries.push(IForwardEntry {
                    stream_id: s.stream_id,
                    unordered: s.unordered,
                    mid: s.mid,
                }),
            }
        }
        Chunk::IForwardTsn {
            new_cum_tsn: self.adv_peer_ack as u32,
            entries,
        }
    }

    /// Drops unsent messages whose lifetime is over.
    pub(super) fn expire_pending(&mut self, now: Instant) {
        while self.pending_timed > 0 {
            let expired = self
                .pending
                .iter()
                .find(|p| p.beginning && p.expires.is_some_and(|e| now >= e))
                .map(|p| p.msg_id);
            match expired {
                Some(id) => self.abandon(id),
                None => break,
            }
        }
    }
}

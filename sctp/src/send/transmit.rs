//! Filling a packet with data (RFC 9260 §6.1): retransmissions first,
//! then new fragments within the congestion window and the peer's window
//! (rules A-B, one chunk may probe a zero window), TSNs and SSNs or MIDs
//! assigned at first transmission, written as DATA (§3.3.1) or, with
//! I-DATA negotiated, I-DATA chunks (RFC 8260 §2.1).

use std::time::Instant;

use super::{Sender, Sent};
use crate::chunk::{Chunk, DataChunk, IDataChunk};
use crate::param::padded;

impl Sender {
    /// Whether `fill` would write something now.
    pub(crate) fn wants_to_send(&self) -> bool {
        let rtx = self.rtx_marked > 0;
        let room = self.flight_size < self.cwnd || self.fast_rtx_bypass;
        (rtx && room)
            || (!self.pending.is_empty()
                && self.flight_size < self.cwnd
                && (self.flight_size == 0 || self.peer_rwnd > 0))
    }

    /// The next SSN (DATA: 16 bits) or MID (I-DATA) of `stream`, ordered
    /// or unordered, counted.
    pub(super) fn take_mid(&mut self, stream: u16, unordered: bool) -> u32 {
        let n = self.next_mid.entry((stream, unordered)).or_default();
        let mid = *n;
        *n = if self.interleave {
            n.wrapping_add(1)
        } else {
            (*n as u16).wrapping_add(1) as u32
        };
        mid
    }

    /// Writes DATA chunks into `out` (a packet being built) while they fit
    /// in `room` bytes: retransmissions first, then new data, within cwnd
    /// and the peer's window (§6.1 A, B; §7.2.4 step 3). Returns whether
    /// something was written and whether a retransmission was among it.
    pub(crate) fn fill(
        &mut self,
        now: Instant,
        out: &mut Vec<u8>,
        mut room: usize,
    ) -> (bool, bool) {
        debug_assert_eq!(
            self.rtx_marked,
            self.sent.iter().filter(|s| s.needs_rtx).count(),
            "retransmission count out of step"
        );
        debug_assert_eq!(
            self.pending_timed,
            self.pending.iter().filter(|p| p.expires.is_some()).count(),
            "timed fragment count out of step"
        );
        self.expire_pending(now);
        let mut wrote = false;
        let mut retransmitted = false;
        let bypass = std::mem::take(&mut self.fast_rtx_bypass);
        // Retransmissions.
        let mut i = 0;
        while self.rtx_marked > 0 && i < self.sent.len() {
            let s = &self.sent[i];
            if !s.needs_rtx || s.abandoned {
                i += 1;
                continue;
            }
            let expired = s.expires.is_some_and(|e| now >= e)
                || s.max_rtx.is_some_and(|m| s.transmissions > m);
            if expired && self.pr_supported {
                let id = s.msg_id;
                self.abandon(id);
                i += 1;
                continue;
            }
            let len = padded(self.header_len() + s.data.len());
            if len > room || (!bypass && self.flight_size >= self.cwnd) {
                break;
            }
            let interleave = self.interleave;
            self.i_data_chunks_sent += interleave as u64;
            let s = &mut self.sent[i];
            emit_data(out, s, interleave);
            s.needs_rtx = false;
            self.rtx_marked -= 1;
            s.in_flight = true;
            s.misses = 0;
            s.transmissions += 1;
            s.sent_at = now;
            self.flight_size += s.data.len();
            self.retransmissions += 1;
            room -= len;
            wrote = true;
            retransmitted = true;
            i += 1;
        }
        // New data.
        while let Some(p) = self.pending.front() {
            let len = padded(self.header_len() + p.data.len());
            if len > room || self.flight_size >= self.cwnd {
                break;
            }
            // §6.1 A: the peer's window, except one chunk when nothing is
            // in flight (zero window probe).
            if p.data.len() > self.peer_rwnd && self.flight_size > 0 {
                break;
            }
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            self.pending_timed -= p.expires.is_some() as usize;
            // DATA numbers ordered messages only (§6.5; unordered SSN is
            // ignored), I-DATA every message, ordered and unordered apart.
            let mid = if p.unordered && !self.interleave {
                0
            } else if p.beginning && p.ending {
                // A message in one chunk: the next number, and no later
                // fragment needs to find it.
                self.take_mid(p.stream_id, p.unordered)
            } else {
                match self.current_mid.get(&p.stream_id) {
                    Some(&(m, mid)) if m == p.msg_id => mid,
                    _ => {
                        let mid = self.take_mid(p.stream_id, p.unordered);
                        self.current_mid.insert(p.stream_id, (p.msg_id, mid));
                        mid
                    }
                }
            };
            if p.ending && !p.beginning {
                self.current_mid.remove(&p.stream_id);
            }
            self.unbuffer(p.stream_id, p.data.len());
            let s = Sent {
                tsn: self.next_tsn,
                msg_id: p.msg_id,
                stream_id: p.stream_id,
                mid,
                fsn: p.fsn,
                ppid: p.ppid,
                unordered: p.unordered,
                beginning: p.beginning,
                ending: p.ending,
                data: p.data,
                sent_at: now,
                transmissions: 1,
                acked: false,
                in_flight: true,
                needs_rtx: false,
                abandoned: false,
                misses: 0,
                expires: p.expires,
                max_rtx: p.max_rtx,
            };
            self.next_tsn += 1;
            emit_data(out, &s, self.interleave);
            self.i_data_chunks_sent += self.interleave as u64;
            self.flight_size += s.data.len();
            self.peer_rwnd = self.peer_rwnd.saturating_sub(s.data.len());
            self.sent.push_back(s);
            room -= len;
            wrote = true;
        }
        (wrote, retransmitted)
    }
}

/// Writes a DATA chunk, or an I-DATA chunk (RFC 8260 §2.1: the PPID in
/// the first fragment, the FSN in the others) when `interleave`.
fn emit_data(out: &mut Vec<u8>, s: &Sent, interleave: bool) {
    if interleave {
        Chunk::IData(IDataChunk {
            tsn: s.tsn as u32,
            stream_id: s.stream_id,
            mid: s.mid,
            ppid_or_fsn: if s.beginning { s.ppid } else { s.fsn },
            unordered: s.unordered,
            beginning: s.beginning,
            ending: s.ending,
            immediate: false,
            payload: s.data.bytes(),
        })
        .emit(out);
        return;
    }
    Chunk::Data(DataChunk {
        tsn: s.tsn as u32,
        stream_id: s.stream_id,
        ssn: s.mid as u16,
        ppid: s.ppid,
        unordered: s.unordered,
        beginning: s.beginning,
        ending: s.ending,
        immediate: false,
        payload: s.data.bytes(),
    })
    .emit(out);
}

//! The sending side of an association: user messages split into DATA
//! chunks (§6.9), TSNs and SSNs assigned at first transmission, SACK
//! processing with gap blocks (§6.2.1), fast retransmit after three miss
//! indications (§7.2.4), T3-rtx retransmission (§6.3.3), congestion control
//! (cwnd, ssthresh, slow start, congestion avoidance, fast recovery, §7.2),
//! the peer's receive window (§6.1), and partial reliability: messages
//! abandoned after a lifetime (RFC 3758 §3.5) or a number of
//! retransmissions (RFC 7496 §4) and the Advanced.Peer.Ack.Point that a
//! FORWARD TSN announces.
//!
//! With I-DATA negotiated (RFC 8260) the same path writes I-DATA chunks
//! with per-stream message identifiers (MID, ordered and unordered
//! apart) and fragment sequence numbers, the queue hands out one
//! fragment per stream per turn (RFC 8260 §3.2), and skipped messages are
//! announced by I-FORWARD-TSN (§2.3).

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use crate::send_queue::{Fragment, StreamQueues};
use std::time::{Duration, Instant};

use crate::chunk::{
    Chunk, DataChunk, IDataChunk, IForwardEntry, DATA_HEADER_LEN, I_DATA_HEADER_LEN,
};
use crate::param::padded;
use crate::tsn::unwrap_tsn;

/// How reliably a message is delivered (RFC 8831 §6.1, RFC 3758, RFC 7496).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reliability {
    /// Retransmitted until acknowledged.
    #[default]
    Reliable,
    /// Abandoned after this many retransmissions (RFC 7496 §4).
    MaxRetransmits(u32),
    /// Abandoned when not acknowledged within this time of being queued
    /// (RFC 3758 §3.5 timed reliability).
    MaxLifetime(Duration),
}

/// A fragment's bytes: a range of its message's buffer, which all the
/// message's fragments share (one allocation and one copy per message
/// when it is queued, not one per fragment; the packet writer copies
/// straight from it).
#[derive(Debug, Clone)]
struct Piece {
    message: Arc<[u8]>,
    range: Range<usize>,
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        &self.message[self.range.clone()]
    }

    fn len(&self) -> usize {
        self.range.len()
    }
}

/// `message` split into pieces of at most `max` bytes (one empty piece
/// for an empty message), and how many.
fn split(message: &[u8], max: usize) -> (usize, impl Iterator<Item = Piece>) {
    let message: Arc<[u8]> = Arc::from(message);
    let len = message.len();
    let n = len.div_ceil(max).max(1);
    let pieces = (0..n).map(move |i| Piece {
        message: message.clone(),
        range: i * max..((i + 1) * max).min(len),
    });
    (n, pieces)
}

#[derive(Debug)]
struct Pending {
    msg_id: u64,
    stream_id: u16,
    ppid: u32,
    unordered: bool,
    beginning: bool,
    ending: bool,
    /// Fragment sequence number within its message (I-DATA).
    fsn: u32,
    data: Piece,
    expires: Option<Instant>,
    max_rtx: Option<u32>,
}

impl Fragment for Pending {
    fn stream(&self) -> u16 {
        self.stream_id
    }
    fn is_first(&self) -> bool {
        self.beginning
    }
    fn is_last(&self) -> bool {
        self.ending
    }
}

#[derive(Debug)]
struct Sent {
    tsn: u64,
    msg_id: u64,
    stream_id: u16,
    /// The SSN (DATA, low 16 bits) or MID (I-DATA).
    mid: u32,
    fsn: u32,
    ppid: u32,
    unordered: bool,
    beginning: bool,
    ending: bool,
    data: Piece,
    sent_at: Instant,
    transmissions: u32,
    /// Acknowledged by a gap block.
    acked: bool,
    /// Counted in the flight size.
    in_flight: bool,
    needs_rtx: bool,
    abandoned: bool,
    misses: u32,
    expires: Option<Instant>,
    max_rtx: Option<u32>,
}

/// What a SACK did.
#[derive(Debug, Default)]
pub(crate) struct SackOutcome {
    /// An RTT measurement from a chunk sent once (Karn's rule, §6.3.1 C5).
    pub rtt: Option<Duration>,
    /// The cumulative ack moved.
    pub cum_advanced: bool,
    /// Some TSN was newly acknowledged (resets the error counter, §8.1).
    pub newly_acked: bool,
    /// Chunks were marked for fast retransmit.
    pub fast_retransmit: u32,
    /// The SACK was stale or acknowledged TSNs never sent.
    pub invalid: bool,
}

/// Most gap blocks processed from one SACK (bounds the work a hostile
/// peer can cause).
const MAX_SACK_GAPS: usize = 256;

#[derive(Debug)]
pub(crate) struct Sender {
    mtu: usize,
    next_tsn: u64,
    cum_ack: u64,
    adv_peer_ack: u64,
    pending: StreamQueues<Pending>,
    /// How many fragments in `pending` have a lifetime (so the search for
    /// expired ones is skipped when none has: it walked the whole queue
    /// before every packet).
    pending_timed: usize,
    sent: VecDeque<Sent>,
    /// Next SSN or MID per (stream, unordered): DATA numbers ordered
    /// messages only, I-DATA both, apart (RFC 8260 §2.1).
    next_mid: HashMap<(u16, bool), u32>,
    /// Per stream, (message, SSN or MID) of the message whose fragments
    /// are being sent (one per stream: a stream's fragments leave in order).
    current_mid: HashMap<u16, (u64, u32)>,
    /// I-DATA in use (RFC 8260 §2.2).
    pub(crate) interleave: bool,
    /// I-DATA chunks written (first transmissions and retransmissions).
    pub(crate) i_data_chunks_sent: u64,
    next_msg_id: u64,
    flight_size: usize,
    pub(crate) cwnd: usize,
    pub(crate) ssthresh: usize,
    partial_bytes_acked: usize,
    pub(crate) peer_rwnd: usize,
    fast_recovery_exit: Option<u64>,
    /// One packet of fast retransmissions may ignore cwnd (§7.2.4 step 3).
    pub(crate) fast_rtx_bypass: bool,
    /// How many chunks in `sent` have `needs_rtx` (so sending need not
    /// scan them all).
    rtx_marked: usize,
    buffered: HashMap<u16, usize>,
    buffered_total: usize,
    pub(crate) forward_tsn_due: bool,
    pub(crate) pr_supported: bool,
    /// Counters.
    pub(crate) retransmissions: u64,
    pub(crate) abandoned_messages: u64,
}

impl Sender {
    pub(crate) fn new(initial_tsn: u64, mtu: usize, peer_rwnd: usize) -> Self {
        Sender {
            mtu,
            next_tsn: initial_tsn,
            cum_ack: initial_tsn - 1,
            adv_peer_ack: initial_tsn - 1,
            pending: StreamQueues::new(),
            pending_timed: 0,
            sent: VecDeque::new(),
            next_mid: HashMap::new(),
            current_mid: HashMap::new(),
            interleave: false,
            i_data_chunks_sent: 0,
            next_msg_id: 0,
            flight_size: 0,
            // §7.2.1: initial cwnd = min(4*MTU, max(2*MTU, 4380 bytes)).
            cwnd: (4 * mtu).min((2 * mtu).max(4380)),
            ssthresh: peer_rwnd,
            partial_bytes_acked: 0,
            peer_rwnd,
            fast_recovery_exit: None,
            fast_rtx_bypass: false,
            rtx_marked: 0,
            buffered: HashMap::new(),
            buffered_total: 0,
            forward_tsn_due: false,
            pr_supported: false,
            retransmissions: 0,
            abandoned_messages: 0,
        }
    }

    /// Once the peer's INIT/INIT ACK is known.
    pub(crate) fn set_peer_rwnd(&mut self, rwnd: usize) {
        self.peer_rwnd = rwnd;
        self.ssthresh = rwnd;
    }

    pub(crate) fn next_tsn(&self) -> u64 {
        self.next_tsn
    }

    pub(crate) fn flight_size(&self) -> usize {
        self.flight_size
    }

    /// Bytes queued on `stream` and not yet sent.
    pub(crate) fn buffered(&self, stream: u16) -> usize {
        self.buffered.get(&stream).copied().unwrap_or(0)
    }

    pub(crate) fn buffered_total(&self) -> usize {
        self.buffered_total
    }

    /// Whether any fragment of `stream` waits to be sent.
    pub(crate) fn has_pending_on(&self, stream: u16) -> bool {
        self.buffered(stream) > 0
    }

    /// Nothing queued and nothing unacknowledged (shutdown may proceed, §9.2).
    pub(crate) fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.sent.is_empty()
    }

    /// Some chunk awaits acknowledgement (T3-rtx must run, §6.3.2).
    pub(crate) fn has_outstanding(&self) -> bool {
        self.sent.iter().any(|s| !s.acked && !s.abandoned)
    }

    /// RFC 6525 §5.1.2: SSNs (or MIDs) of a reset outgoing stream start
    /// again at 0.
    pub(crate) fn reset_ssn(&mut self, streams: &[u16]) {
        if streams.is_empty() {
            self.next_mid.clear();
        }
        for s in streams {
            self.next_mid.remove(&(*s, false));
            self.next_mid.remove(&(*s, true));
        }
    }

    /// Bytes of a chunk header before the user data.
    fn header_len(&self) -> usize {
        if self.interleave {
            I_DATA_HEADER_LEN
        } else {
            DATA_HEADER_LEN
        }
    }

    /// Largest fragment: rounded down to a multiple of 4, as a chunk is
    /// padded to one (RFC 9260 §3.2) and a padded fragment must still fit.
    fn max_payload(&self) -> usize {
        (self.mtu - crate::packet::HEADER_LEN - self.header_len()) & !3
    }

    /// Switches to I-DATA (RFC 8260) or back, once the peer's INIT or
    /// INIT ACK decided it. Messages queued before (none has been sent
    /// yet) are split again for the new header size, and the queue
    /// interleaves fragments of different streams.
    pub(crate) fn set_interleaving(&mut self, on: bool) {
        if on == self.interleave {
            return;
        }
        self.interleave = on;
        self.pending.set_interleaving(on);
        let max = self.max_payload();
        let queued = self.pending.drain();
        let mut i = 0;
        while i < queued.len() {
            let mut j = i;
            let mut data = Vec::new();
            while j < queued.len() && queued[j].msg_id == queued[i].msg_id {
                data.extend_from_slice(queued[j].data.bytes());
                j += 1;
            }
            let head = &queued[i];
            let (n, pieces) = split(&data, max);
            for (k, piece) in pieces.enumerate() {
                self.pending.push_back(Pending {
                    msg_id: head.msg_id,
                    stream_id: head.stream_id,
                    ppid: head.ppid,
                    unordered: head.unordered,
                    beginning: k == 0,
                    ending: k + 1 == n,
                    fsn: k as u32,
                    data: piece,
                    expires: head.expires,
                    max_rtx: head.max_rtx,
                });
            }
            i = j;
        }
    }

    /// Queues a message, split into fragments that fit the MTU.
    pub(crate) fn enqueue(
        &mut self,
        now: Instant,
        stream_id: u16,
        ppid: u32,
        data: &[u8],
        ordered: bool,
        reliability: Reliability,
    ) {
        let max_payload = self.max_payload();
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        let (expires, max_rtx) = match reliability {
            Reliability::Reliable => (None, None),
            Reliability::MaxRetransmits(n) => (None, Some(n)),
            Reliability::MaxLifetime(d) => (Some(now + d), None),
        };
        let (n, pieces) = split(data, max_payload);
        if expires.is_some() {
            self.pending_timed += n;
        }
        for (i, piece) in pieces.enumerate() {
            self.pending.push_back(Pending {
                msg_id,
                stream_id,
                ppid,
                unordered: !ordered,
                beginning: i == 0,
                ending: i + 1 == n,
                fsn: i as u32,
                data: piece,
                expires,
                max_rtx,
            });
        }
        *self.buffered.entry(stream_id).or_default() += data.len();
        self.buffered_total += data.len();
    }

    fn unbuffer(&mut self, stream: u16, n: usize) {
        if let Some(b) = self.buffered.get_mut(&stream) {
            *b -= n;
            if *b == 0 {
                self.buffered.remove(&stream);
            }
        }
        self.buffered_total -= n;
    }

    /// Abandons every fragment of a message (RFC 3758 §3.5 A3), sent or not.
    fn abandon(&mut self, msg_id: u64) {
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
    fn update_adv_peer_ack(&mut self) {
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
    fn i_forward_tsn(&self) -> Chunk<'static> {
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
    fn expire_pending(&mut self, now: Instant) {
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

    /// Processes a SACK (§6.2.1, §7.2).
    pub(crate) fn on_sack(
        &mut self,
        now: Instant,
        cum_tsn_ack: u32,
        a_rwnd: u32,
        gaps: &[(u16, u16)],
    ) -> SackOutcome {
        let mut out = SackOutcome::default();
        let cum = unwrap_tsn(self.cum_ack, cum_tsn_ack);
        if cum < self.cum_ack || cum >= self.next_tsn {
            // Stale (reordered) or acknowledging what was never sent.
            out.invalid = cum >= self.next_tsn;
            return out;
        }
        let flight_before = self.flight_size;
        let mut bytes_acked = 0usize;
        while self.sent.front().is_some_and(|s| s.tsn <= cum) {
            let Some(s) = self.sent.pop_front() else {
                break;
            };
            if s.needs_rtx {
                self.rtx_marked -= 1;
            }
            if !s.acked && !s.abandoned {
                bytes_acked += s.data.len();
                out.newly_acked = true;
                if s.transmissions == 1 {
                    out.rtt = Some(now.saturating_duration_since(s.sent_at));
                }
            }
            if s.in_flight {
                self.flight_size -= s.data.len();
            }
        }
        out.cum_advanced = cum > self.cum_ack;
        self.cum_ack = cum;
        let mut highest_newly_acked = None;
        for &(start, end) in gaps.iter().take(MAX_SACK_GAPS) {
            if start == 0 || start > end {
                continue;
            }
            let first = (start as usize - 1).min(self.sent.len());
            let last = (end as usize).min(self.sent.len());
            for s in self.sent.range_mut(first..last) {
                if s.acked {
                    continue;
                }
                s.acked = true;
                if std::mem::take(&mut s.needs_rtx) {
                    self.rtx_marked -= 1;
                }
                if s.in_flight {
                    s.in_flight = false;
                    self.flight_size -= s.data.len();
                }
                if !s.abandoned {
                    bytes_acked += s.data.len();
                    out.newly_acked = true;
                    if s.transmissions == 1 {
                        out.rtt = Some(now.saturating_duration_since(s.sent_at));
                    }
                }
                highest_newly_acked = Some(s.tsn);
            }
        }
        // §7.2.4: miss indications for TSNs below the highest newly acked.
        if let Some(h) = highest_newly_acked {
            let mut enter_recovery = false;
            for s in self.sent.iter_mut() {
                if s.tsn >= h {
                    break;
                }
                if s.acked || s.abandoned || !s.in_flight {
                    continue;
                }
                s.misses += 1;
                if s.misses == 3 {
                    s.needs_rtx = true;
                    self.rtx_marked += 1;
                    s.in_flight = false;
                    self.flight_size -= s.data.len();
                    out.fast_retransmit += 1;
                    enter_recovery = true;
                }
            }
            if enter_recovery {
                self.fast_rtx_bypass = true;
                if self.fast_recovery_exit.is_none() {
                    // §7.2.3 on loss by fast retransmit.
                    self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
                    self.cwnd = self.ssthresh;
                    self.partial_bytes_acked = 0;
                    self.fast_recovery_exit = Some(self.next_tsn - 1);
                }
            }
        }
        if self.fast_recovery_exit.is_some_and(|e| cum >= e) {
            self.fast_recovery_exit = None;
        }
        // §7.2.1, §7.2.2: grow cwnd when the cumulative ack advances.
        if out.cum_advanced && self.fast_recovery_exit.is_none() {
            if self.cwnd <= self.ssthresh {
                if flight_before + self.mtu >= self.cwnd {
                    self.cwnd += bytes_acked.min(self.mtu);
                }
            } else {
                self.partial_bytes_acked += bytes_acked;
                if self.partial_bytes_acked >= self.cwnd && flight_before + self.mtu >= self.cwnd {
                    self.partial_bytes_acked -= self.cwnd;
                    self.cwnd += self.mtu;
                }
            }
        }
        if self.flight_size == 0 {
            self.partial_bytes_acked = 0;
        }
        // §6.2.1 D: the peer's window less what is in flight.
        self.peer_rwnd = (a_rwnd as usize).saturating_sub(self.flight_size);
        self.update_adv_peer_ack();
        out
    }

    /// T3-rtx expired (§6.3.3 E1, E3; §7.2.3): back to one MTU and every
    /// outstanding chunk is retransmitted.
    pub(crate) fn on_t3_expired(&mut self) {
        self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
        self.cwnd = self.mtu;
        self.partial_bytes_acked = 0;
        self.fast_recovery_exit = None;
        for s in self.sent.iter_mut().filter(|s| !s.acked && !s.abandoned) {
            if s.in_flight {
                s.in_flight = false;
                self.flight_size -= s.data.len();
            }
            if !s.needs_rtx {
                s.needs_rtx = true;
                self.rtx_marked += 1;
            }
        }
        if self.adv_peer_ack > self.cum_ack {
            self.forward_tsn_due = true;
        }
    }

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
    fn take_mid(&mut self, stream: u16, unordered: bool) -> u32 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsn::initial;

    const MTU: usize = 1200;

    fn sender() -> Sender {
        let mut s = Sender::new(initial(100), MTU, 1 << 20);
        s.pr_supported = true;
        s
    }

    fn fill_all(s: &mut Sender, now: Instant) -> usize {
        let mut n = 0;
        loop {
            let mut out = Vec::new();
            if !s.fill(now, &mut out, MTU - 12).0 {
                return n;
            }
            n += 1;
        }
    }

    #[test]
    fn messages_fragment_to_the_mtu_and_initial_cwnd_limits_the_flight() {
        let now = Instant::now();
        let mut s = sender();
        s.enqueue(now, 1, 53, &vec![7u8; 10_000], true, Reliability::Reliable);
        // 1172 bytes per fragment: 9 fragments.
        assert_eq!(s.pending.len(), 9);
        let frags: Vec<&Pending> = s.pending.iter().collect();
        assert!(frags[0].beginning && !frags[0].ending);
        assert!(frags[8].ending);
        assert_eq!(s.buffered(1), 10_000);
        // Initial cwnd 4380 bytes: 4 fragments go out (the fourth may
        // start while flight < cwnd).
        assert_eq!(fill_all(&mut s, now), 4);
        assert_eq!(s.flight_size(), 4 * 1172);
        assert_eq!(s.buffered(1), 10_000 - 4 * 1172);
    }

    #[test]
    fn fragments_fit_an_mtu_that_is_not_a_multiple_of_four() {
        // 1163: 1200 minus a DTLS record's overhead. Unrounded, a 1135-byte
        // fragment padded to 1136 would never fit and nothing would leave.
        let now = Instant::now();
        let mut s = Sender::new(initial(100), 1163, 1 << 20);
        s.enqueue(now, 1, 53, &vec![7u8; 3000], true, Reliability::Reliable);
        let mut sent = 0;
        loop {
            let mut out = Vec::new();
            if !s.fill(now, &mut out, 1163 - 12).0 {
                break;
            }
            assert!(out.len() <= 1163 - 12, "{}", out.len());
            sent += 1;
        }
        assert_eq!(sent, 3);
        assert_eq!(s.buffered(1), 0);
    }

    #[test]
    fn cumulative_acks_grow_cwnd_in_slow_start_and_measure_rtt() {
        let t0 = Instant::now();
        let mut s = sender();
        s.enqueue(t0, 1, 53, &vec![7u8; 10_000], true, Reliability::Reliable);
        fill_all(&mut s, t0);
        let cwnd = s.cwnd;
        let out = s.on_sack(t0 + Duration::from_millis(50), 101, 1 << 20, &[]);
        assert!(out.cum_advanced);
        assert_eq!(out.rtt, Some(Duration::from_millis(50)));
        assert_eq!(s.cwnd, cwnd + MTU.min(2 * 1172));
        assert_eq!(s.flight_size(), 2 * 1172);
    }

    #[test]
    fn three_miss_indications_trigger_fast_retransmit_and_halve_cwnd() {
        let t0 = Instant::now();
        let mut s = sender();
        s.cwnd = 100_000;
        s.ssthresh = 100_000;
        for _ in 0..6 {
            s.enqueue(t0, 1, 53, &[1u8; 1000], true, Reliability::Reliable);
        }
        fill_all(&mut s, t0);
        // TSN 100 lost; 101, 102, 103 arrive one SACK each.
        for end in 1..=3u16 {
            let o = s.on_sack(t0, 99, 1 << 20, &[(2, end + 1)]);
            assert_eq!(o.fast_retransmit, (end == 3) as u32);
        }
        assert_eq!(s.cwnd, 50_000);
        let mut out = Vec::new();
        let (wrote, rtx) = s.fill(t0, &mut out, MTU);
        assert!(wrote && rtx);
        let raw = crate::chunk::RawChunk {
            ty: crate::chunk::ChunkType(out[0]),
            flags: out[1],
            value: &out[4..u16::from_be_bytes([out[2], out[3]]) as usize],
        };
        let Chunk::Data(d) = Chunk::parse(raw).unwrap() else {
            panic!()
        };
        assert_eq!(d.tsn, 100);
        assert_eq!(s.retransmissions, 1);
    }

    #[test]
    fn t3_expiry_collapses_cwnd_and_marks_everything() {
        let t0 = Instant::now();
        let mut s = sender();
        s.enqueue(t0, 1, 53, &[1u8; 3000], true, Reliability::Reliable);
        fill_all(&mut s, t0);
        s.on_t3_expired();
        assert_eq!(s.cwnd, MTU);
        assert_eq!(s.ssthresh, 4 * MTU);
        assert_eq!(s.flight_size(), 0);
        // One full fragment (1172 bytes) stays below a cwnd of 1200, so
        // §6.1 B lets exactly one more packet follow.
        assert_eq!(fill_all(&mut s, t0), 2);
        assert_eq!(s.retransmissions, 2);
        assert!(s.flight_size() >= s.cwnd);
    }

    #[test]
    fn max_retransmits_abandons_and_forward_tsn_follows() {
        let t0 = Instant::now();
        let mut s = sender();
        s.enqueue(t0, 3, 53, &[1u8; 100], true, Reliability::MaxRetransmits(1));
        s.enqueue(t0, 3, 53, &[2u8; 100], true, Reliability::Reliable);
        fill_all(&mut s, t0);
        s.on_t3_expired();
        fill_all(&mut s, t0); // first retransmission of both
        s.on_t3_expired();
        fill_all(&mut s, t0); // TSN 100 is abandoned now
        assert_eq!(s.abandoned_messages, 1);
        assert_eq!(
            s.forward_tsn(),
            Some(Chunk::ForwardTsn {
                new_cum_tsn: 100,
                streams: vec![(3, 0)]
            })
        );
        s.on_sack(t0, 100, 1 << 20, &[]);
        assert_eq!(s.forward_tsn(), None);
    }

    #[test]
    fn expired_lifetime_drops_unsent_messages_without_using_a_tsn() {
        let t0 = Instant::now();
        let mut s = sender();
        s.cwnd = 0;
        s.enqueue(
            t0,
            1,
            53,
            &[1u8; 100],
            false,
            Reliability::MaxLifetime(Duration::from_millis(10)),
        );
        s.cwnd = 10_000;
        let mut out = Vec::new();
        assert!(!s.fill(t0 + Duration::from_millis(20), &mut out, MTU).0);
        assert_eq!(s.next_tsn(), initial(100));
        assert_eq!(s.buffered_total(), 0);
        assert_eq!(s.abandoned_messages, 1);
    }

    fn chunks_of(out: &[u8]) -> Vec<Chunk<'_>> {
        let mut v = Vec::new();
        let mut at = 0;
        while at + 4 <= out.len() {
            let len = u16::from_be_bytes([out[at + 2], out[at + 3]]) as usize;
            let raw = crate::chunk::RawChunk {
                ty: crate::chunk::ChunkType(out[at]),
                flags: out[at + 1],
                value: &out[at + 4..at + len],
            };
            v.push(Chunk::parse(raw).unwrap());
            at += padded(len);
        }
        v
    }

    #[test]
    fn with_i_data_fragments_interleave_and_carry_mid_and_fsn() {
        let now = Instant::now();
        let mut s = sender();
        s.cwnd = 1 << 20;
        // Queued while DATA was assumed (1172-byte fragments), then split
        // again for I-DATA's longer header (1168 bytes).
        s.enqueue(now, 1, 53, &vec![1u8; 2400], true, Reliability::Reliable);
        s.enqueue(now, 2, 51, b"small", true, Reliability::Reliable);
        s.enqueue(now, 2, 51, b"unordered", false, Reliability::Reliable);
        s.set_interleaving(true);
        let mut seen = Vec::new();
        loop {
            let mut out = Vec::new();
            if !s.fill(now, &mut out, 1168 + 20).0 {
                break;
            }
            for c in chunks_of(&out) {
                let Chunk::IData(d) = c else { panic!("{c:?}") };
                seen.push((
                    d.stream_id,
                    d.mid,
                    d.ppid_or_fsn,
                    d.unordered,
                    d.payload.len(),
                ));
            }
        }
        assert_eq!(
            seen,
            [
                (1, 0, 53, false, 1168),
                (2, 0, 51, false, 5),
                (1, 0, 1, false, 1168),
                (2, 0, 51, true, 9),
                (1, 0, 2, false, 64),
            ]
        );
        assert_eq!(s.i_data_chunks_sent, 5);
    }

    #[test]
    fn i_forward_tsn_names_the_skipped_mids() {
        let t0 = Instant::now();
        let mut s = sender();
        s.set_interleaving(true);
        s.enqueue(t0, 3, 53, &[1u8; 100], true, Reliability::MaxRetransmits(0));
        s.enqueue(t0, 3, 53, &[2u8; 100], true, Reliability::MaxRetransmits(0));
        s.enqueue(
            t0,
            4,
            53,
            &[3u8; 100],
            false,
            Reliability::MaxRetransmits(0),
        );
        fill_all(&mut s, t0);
        s.on_t3_expired();
        fill_all(&mut s, t0); // all three abandoned
        assert_eq!(s.abandoned_messages, 3);
        let Some(Chunk::IForwardTsn {
            new_cum_tsn,
            mut entries,
        }) = s.forward_tsn()
        else {
            panic!("{:?}", s.forward_tsn())
        };
        entries.sort_by_key(|e| e.stream_id);
        assert_eq!(new_cum_tsn, 102);
        assert_eq!(
            entries,
            [
                IForwardEntry {
                    stream_id: 3,
                    unordered: false,
                    mid: 1
                },
                IForwardEntry {
                    stream_id: 4,
                    unordered: true,
                    mid: 0
                },
            ]
        );
    }

    #[test]
    fn timed_messages_expire_among_reliable_ones_and_the_count_follows() {
        let t0 = Instant::now();
        let mut s = sender();
        s.cwnd = 0;
        let life = Reliability::MaxLifetime(Duration::from_millis(10));
        s.enqueue(t0, 1, 53, &[1u8; 3000], true, life);
        s.enqueue(t0, 1, 53, &[2u8; 100], true, Reliability::Reliable);
        s.enqueue(t0, 2, 53, &[3u8; 100], true, life);
        assert_eq!(s.pending_timed, 3 + 1);
        s.cwnd = 100_000;
        // One fragment of the first message leaves before its lifetime
        // ends. After it, the rest of that message still goes (a message
        // once started is finished; its lifetime acts on retransmission),
        // the reliable one goes, the unsent timed one is abandoned.
        let mut out = Vec::new();
        assert!(s.fill(t0, &mut out, 1300).0);
        assert_eq!(s.pending_timed, 3);
        let later = t0 + Duration::from_millis(20);
        assert_eq!(fill_all(&mut s, later), 2);
        assert_eq!(s.pending_timed, 0);
        assert!(s.pending.is_empty());
        assert_eq!(s.abandoned_messages, 1);
        assert_eq!(s.buffered_total(), 0);
        assert_eq!(s.flight_size(), 3000 + 100);
    }

    #[test]
    fn hostile_sacks_do_not_break_accounting() {
        let t0 = Instant::now();
        let mut s = sender();
        s.enqueue(t0, 1, 53, &[1u8; 2000], true, Reliability::Reliable);
        fill_all(&mut s, t0);
        assert!(s.on_sack(t0, 500, 0, &[]).invalid);
        let o = s.on_sack(t0, 99, 0, &[(0, 65535), (9, 3), (1, 65535)]);
        assert!(!o.invalid);
        assert_eq!(s.flight_size(), 0);
        assert!(!s.has_outstanding());
    }
}

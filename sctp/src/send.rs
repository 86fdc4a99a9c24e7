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
//!
//! This file holds the sender's state and its message queue side
//! (splitting, enqueuing, buffered amounts); `transmit` fills packets,
//! `retransmission` handles SACKs and T3-rtx, `partial_reliability`
//! abandons messages and builds FORWARD TSN.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use crate::send_queue::{Fragment, StreamQueues};
use std::time::{Duration, Instant};

use crate::chunk::{DATA_HEADER_LEN, I_DATA_HEADER_LEN};

mod partial_reliability;
mod retransmission;
mod transmit;

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
}

#[cfg(test)]
mod tests;

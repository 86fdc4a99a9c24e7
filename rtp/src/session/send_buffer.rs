//! The send side of retransmission (RFC 4585 §6.2.1 NACK, RFC 4588 RTX):
//! a ring of recently sent packets, answered from when a NACK asks, and
//! the receive side's unwrapping of RTX payloads.

use crate::{extend_near, RtpError, RtpHeader, SeqExtender};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Largest ring: half the sequence number space.
const MAX_CAPACITY: usize = 0x8000;

/// The RTX stream of a media stream (RFC 4588 §4, negotiated with
/// `a=fmtp:<rtx pt> apt=<pt>` and an `a=ssrc-group:FID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtxConfig {
    /// SSRC of the retransmission stream.
    pub ssrc: u32,
    /// Its payload type.
    pub payload_type: u8,
    /// Sequence number of the first RTX packet (RFC 3550 §5.1 wants it
    /// random; the caller brings the randomness).
    pub first_seq: u16,
}

/// Limits and behaviour of a [`SendBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendBufferConfig {
    /// Packets kept (the ring size), 1..=32768: sequence numbers are
    /// matched to the nearest sent one, so half the 16-bit space is the
    /// most that can be told apart; values outside are clamped.
    pub capacity: usize,
    /// Packets older than this are not retransmitted (too late to help).
    pub max_age: Duration,
    /// Largest payload stored; larger ones are refused.
    pub max_payload: usize,
    /// One packet is resent at most once within this interval, however
    /// many NACKs ask for it.
    pub min_resend_interval: Duration,
    /// Retransmit as RTX (RFC 4588) instead of resending the original.
    pub rtx: Option<RtxConfig>,
}

impl Default for SendBufferConfig {
    fn default() -> SendBufferConfig {
        SendBufferConfig {
            capacity: 1000,
            max_age: Duration::from_secs(1),
            max_payload: 1500,
            min_resend_interval: Duration::from_millis(10),
            rtx: None,
        }
    }
}

/// Counters of a [`SendBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendBufferStats {
    /// Packets stored.
    pub stored: u64,
    /// Retransmissions handed out.
    pub retransmitted: u64,
    /// NACKed sequence numbers no longer (or never) in the buffer, or too
    /// old to resend.
    pub nack_missed: u64,
    /// NACKed sequence numbers skipped because they were resent less than
    /// `min_resend_interval` ago.
    pub rate_limited: u64,
    /// Queued retransmissions dropped because the queue was full.
    pub queue_dropped: u64,
    /// Padding sent as an RTX copy of a recent packet.
    pub padding_resent: u64,
    /// Padding sent as an RTX packet of padding bytes only.
    pub padding_empty: u64,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    /// Extended sequence number; `None` for a slot never filled.
    ext: Option<u64>,
    timestamp: u32,
    marker: bool,
    payload: Vec<u8>,
    sent: Option<Instant>,
    last_resent: Option<Instant>,
}

/// What to send when the pacer asks for padding (a probe, or the padding
/// rate of a sender below its estimate), from [`SendBuffer::poll_padding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding<'a> {
    /// An RTX copy of a recent packet: useful bytes (a receiver that lost
    /// the original recovers it; one that has it drops the copy).
    Resend(Retransmission<'a>),
    /// Nothing recent fits: an RTX packet with no payload, only padding
    /// (RFC 3550 §5.1 P bit; RFC 4588 §4 lets RTX carry padding alone).
    Empty {
        /// The RTX SSRC.
        ssrc: u32,
        /// The RTX payload type.
        payload_type: u8,
        /// A fresh RTX sequence number.
        sequence_number: u16,
        /// The newest timestamp sent (0 before any packet).
        timestamp: u32,
    },
}

/// One packet to retransmit, borrowing its payload from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retransmission<'a> {
    /// SSRC to send it with (the RTX SSRC when RTX is on).
    pub ssrc: u32,
    /// Its payload type.
    pub payload_type: u8,
    /// Its sequence number (a fresh RTX number when RTX is on).
    pub sequence_number: u16,
    /// The original RTP timestamp.
    pub timestamp: u32,
    /// The original marker bit.
    pub marker: bool,
    /// The original sequence number, when this is an RTX packet: the first
    /// two payload bytes (RFC 4588 §4).
    pub original_seq: Option<u16>,
    /// The original payload.
    pub payload: &'a [u8],
}

impl Retransmission<'_> {
    /// Appends the packet to `out`, taking the caller's `header` for its
    /// CSRCs and header extensions (a MID, a transport-wide sequence
    /// number) and setting its SSRC, payload type, sequence number,
    /// timestamp and marker from this retransmission.
    pub fn write(&self, header: &mut RtpHeader, out: &mut Vec<u8>) -> Result<(), RtpError> {
        header.ssrc = self.ssrc;
        header.payload_type = self.payload_type;
        header.sequence_number = self.sequence_number;
        header.timestamp = self.timestamp;
        header.marker = self.marker;
        match self.original_seq {
            Some(osn) => header.write_parts(&[&osn.to_be_bytes(), self.payload], 0, out),
            None => header.write_parts(&[self.payload], 0, out),
        }
    }
}

/// The last packets sent on one media stream, to answer NACKs with
/// (RFC 4585 §6.2.1, RFC 4588).
///
/// Feed it every packet sent with [`SendBuffer::on_packet_sent`]; hand it
/// the sequence numbers of each NACK received with [`SendBuffer::on_nack`],
/// then drain [`SendBuffer::poll_retransmit`] and write each
/// [`Retransmission`] into the send buffer. Payloads are copied into a ring
/// of `capacity` slots whose buffers are reused, so once the ring has gone
/// round once nothing is allocated per packet. The ring grows as packets
/// fill it: an idle stream holds no slots (a connection that has not sent
/// yet costs a few bytes, not `capacity` of them).
#[derive(Debug, Clone)]
pub struct SendBuffer {
    config: SendBufferConfig,
    ssrc: u32,
    payload_type: u8,
    seq: SeqExtender,
    slots: Vec<Slot>,
    /// Extended sequence numbers queued for retransmission.
    queue: VecDeque<u64>,
    rtx_seq: u16,
    stats: SendBufferStats,
}

impl SendBuffer {
    /// A buffer for the stream `ssrc` with payload type `payload_type`.
    /// The ring and its slot buffers are allocated as packets fill them.
    pub fn new(ssrc: u32, payload_type: u8, config: SendBufferConfig) -> SendBuffer {
        let capacity = config.capacity.clamp(1, MAX_CAPACITY);
        SendBuffer {
            config: SendBufferConfig { capacity, ..config },
            ssrc,
            payload_type,
            seq: SeqExtender::default(),
            slots: Vec::new(),
            queue: VecDeque::new(),
            rtx_seq: config.rtx.map_or(0, |r| r.first_seq),
            stats: SendBufferStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> SendBufferStats {
        self.stats
    }

    /// The RTX stream, if retransmissions go on one.
    pub fn rtx(&self) -> Option<RtxConfig> {
        self.config.rtx
    }

    /// The stream's payload types changed in a renegotiation: stored
    /// packets are resent under the new numbers (the only ones the
    /// receiver maps now). The RTX stream keeps its SSRC and sequence
    /// numbers; with `rtx_payload_type` `None` (RTX no longer negotiated)
    /// the originals are resent instead (RFC 4585 §6.2.1).
    pub fn set_payload_types(&mut self, payload_type: u8, rtx_payload_type: Option<u8>) {
        self.payload_type = payload_type;
        match (rtx_payload_type, &mut self.config.rtx) {
            (Some(pt), Some(rtx)) => rtx.payload_type = pt,
            (None, rtx) => *rtx = None,
            (Some(_), None) => {}
        }
    }

    fn slot_index(&self, ext: u64) -> usize {
        (ext % self.config.capacity as u64) as usize
    }

    /// Slot `i`, growing the ring up to it.
    fn slot_mut(&mut self, i: usize) -> &mut Slot {
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, Slot::default);
        }
        &mut self.slots[i]
    }

    /// Stores a packet just sent: its sequence number, timestamp, marker
    /// and payload (in parts, as written: a payload descriptor and a slice
    /// of the frame, for instance). Fails when the payload exceeds
    /// `max_payload`.
    pub fn on_packet_sent(
        &mut self,
        now: Instant,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[&[u8]],
    ) -> Result<(), RtpError> {
        let len: usize = payload.iter().map(|p| p.len()).sum();
        if len > self.config.max_payload {
            return Err(RtpError::PayloadTooLarge {
                len,
                max: self.config.max_payload,
            });
        }
        let ext = self.seq.extend(seq);
        let i = self.slot_index(ext);
        let slot = self.slot_mut(i);
        slot.ext = Some(ext);
        slot.timestamp = timestamp;
        slot.marker = marker;
        slot.sent = Some(now);
        slot.last_resent = None;
        slot.payload.clear();
        for p in payload {
            slot.payload.extend_from_slice(p);
        }
        self.stats.stored += 1;
        Ok(())
    }

    /// Queues retransmissions for the sequence numbers a NACK reported lost
    /// (for instance `nack.pairs.iter().flat_map(|p| p.lost())`), and
    /// returns how many were queued. Numbers no longer stored are counted
    /// in `nack_missed`, numbers resent within `min_resend_interval` in
    /// `rate_limited`.
    pub fn on_nack<I: IntoIterator<Item = u16>>(&mut self, now: Instant, seqs: I) -> usize {
        let Some(highest) = self.seq.highest() else {
            let n = seqs.into_iter().count() as u64;
            self.stats.nack_missed += n;
            return 0;
        };
        let (capacity, max_age) = (self.config.capacity, self.config.max_age);
        let mut queued = 0;
        for seq in seqs {
            let ext = extend_near(highest, seq);
            let i = self.slot_index(ext);
            let Some(slot) = self.slots.get_mut(i) else {
                self.stats.nack_missed += 1;
                continue;
            };
            let fresh = slot
                .sent
                .is_some_and(|t| now.saturating_duration_since(t) <= max_age);
            if slot.ext != Some(ext) || !fresh {
                self.stats.nack_missed += 1;
                continue;
            }
            if slot
                .last_resent
                .is_some_and(|t| now.saturating_duration_since(t) < self.config.min_resend_interval)
            {
                self.stats.rate_limited += 1;
                continue;
            }
            if self.queue.len() >= capacity {
                self.stats.queue_dropped += 1;
                continue;
            }
            slot.last_resent = Some(now);
            self.queue.push_back(ext);
            queued += 1;
        }
        queued
    }

    /// The next queued retransmission, `None` when the queue is empty. A
    /// queued packet overwritten by newer ones in the meantime is skipped
    /// (counted in `nack_missed`).
    #[must_use]
    pub fn poll_retransmit(&mut self) -> Option<Retransmission<'_>> {
        while let Some(ext) = self.queue.pop_front() {
            let i = self.slot_index(ext);
            if self.slots.get(i).is_none_or(|s| s.ext != Some(ext)) {
                self.stats.nack_missed += 1;
                continue;
            }
            self.stats.retransmitted += 1;
            let slot = &self.slots[i];
            let original = ext as u16;
            return Some(match self.config.rtx {
                Some(rtx) => {
                    let seq = self.rtx_seq;
                    self.rtx_seq = seq.wrapping_add(1);
                    Retransmission {
                        ssrc: rtx.ssrc,
                        payload_type: rtx.payload_type,
                        sequence_number: seq,
                        timestamp: slot.timestamp,
                        marker: slot.marker,
                        original_seq: Some(original),
                        payload: &slot.payload,
                    }
                }
                None => Retransmission {
                    ssrc: self.ssrc,
                    payload_type: self.payload_type,
                    sequence_number: original,
                    timestamp: slot.timestamp,
                    marker: slot.marker,
                    original_seq: None,
                    payload: &slot.payload,
                },
            });
        }
        None
    }
}

impl SendBuffer {
    /// Padding of at most `max_payload` bytes of RTP payload, sent on the
    /// RTX stream so that it never takes a media sequence number (a media
    /// stream's receiver would see a gap) nor an SRTP index of the media
    /// stream. Prefers an RTX copy of the newest of the last 16 packets
    /// that fits and is not older than `max_age` (libwebrtc calls this
    /// payload padding: a probe then carries data a receiver may need);
    /// otherwise a padding-only packet. `None` without RTX.
    #[must_use]
    pub fn poll_padding(&mut self, now: Instant, max_payload: usize) -> Option<Padding<'_>> {
        let rtx = self.config.rtx?;
        let seq = self.rtx_seq;
        self.rtx_seq = seq.wrapping_add(1);
        let max_age = self.config.max_age;
        let newest = self.seq.highest();
        let found = newest.and_then(|h| {
            (0..16u64).filter_map(|k| h.checked_sub(k)).find(|&ext| {
                self.slots.get(self.slot_index(ext)).is_some_and(|s| {
                    s.ext == Some(ext)
                        && s.payload.len() + 2 <= max_payload
                        && s.sent
                            .is_some_and(|t| now.saturating_duration_since(t) <= max_age)
                })
            })
        });
        match found {
            Some(ext) => {
                self.stats.padding_resent += 1;
                let slot = &self.slots[self.slot_index(ext)];
                Some(Padding::Resend(Retransmission {
                    ssrc: rtx.ssrc,
                    payload_type: rtx.payload_type,
                    sequence_number: seq,
                    timestamp: slot.timestamp,
                    marker: slot.marker,
                    original_seq: Some(ext as u16),
                    payload: &slot.payload,
                }))
            }
            None => {
                self.stats.padding_empty += 1;
                let timestamp = newest
                    .and_then(|h| self.slots.get(self.slot_index(h)))
                    .map_or(0, |s| s.timestamp);
                Some(Padding::Empty {
                    ssrc: rtx.ssrc,
                    payload_type: rtx.payload_type,
                    sequence_number: seq,
                    timestamp,
                })
            }
        }
    }
}

/// Splits the payload of a received RTX packet (RFC 4588 §4) into the
/// original sequence number and the original payload; `None` when it is
/// shorter than the 2-byte OSN (an RTX packet used as padding).
pub fn unwrap_rtx(payload: &[u8]) -> Option<(u16, &[u8])> {
    match payload {
        [a, b, rest @ ..] => Some((u16::from_be_bytes([*a, *b]), rest)),
        _ => None,
    }
}

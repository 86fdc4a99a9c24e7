//! Reassembling VP8 frames from RTP payloads received in any order.
//!
//! A frame is complete when the buffer holds, with contiguous sequence
//! numbers and one RTP timestamp, every packet from a frame start (S = 1,
//! PID = 0, RFC 7741 §4.2) to the packet with the marker bit (RFC 7741
//! §4.1). At most `max_packets` consecutive sequence numbers are buffered,
//! in a ring of slots (`max_packets` rounded up to a power of two) indexed
//! by extended sequence number, so memory is bounded by about
//! `slots × max_payload_len` whatever arrives; each slot's buffer is
//! reused, so a steady stream does not allocate once the slots have grown.
//!
//! Frames come out in sequence order ([`ReleasePolicy::InOrder`]): a
//! complete frame waits for the frames before it — the gap is what NACK
//! asks for, see [`Vp8Assembler::missing`] — unless it is a key frame,
//! which makes what precedes it useless. The caller gives up on a gap with
//! [`Vp8Assembler::discard_before`] (a jitter buffer's deadline), or the
//! ring forces it when full. [`ReleasePolicy::AsSoonAsComplete`] hands out
//! every complete frame at once and drops older incomplete ones. By default
//! the first frame handed out is a key frame
//! ([`AssemblerConfig::start_with_keyframe`]). Everything dropped is counted
//! in [`AssemblerStats`].

use super::{is_keyframe, Vp8Descriptor};
use crate::seq::SeqExtender;
use crate::RtpError;

/// The largest extended sequence number accepted (far beyond the 48-bit
/// SRTP index), so arithmetic on the window never overflows.
pub const MAX_EXTENDED_SEQ: u64 = u64::MAX >> 2;

/// When complete frames are handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReleasePolicy {
    /// In sequence order: a complete frame after a gap waits for the gap to
    /// fill, unless it is a key frame.
    #[default]
    InOrder,
    /// As soon as complete; incomplete older frames are dropped.
    AsSoonAsComplete,
}

/// Limits and policy of a [`Vp8Assembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssemblerConfig {
    /// Packets buffered at most (the sequence number window); at least 1.
    pub max_packets: usize,
    /// Largest RTP payload accepted.
    pub max_payload_len: usize,
    /// When frames are released.
    pub policy: ReleasePolicy,
    /// Hand out no frame before a key frame: a decoder cannot use delta
    /// frames without one, and at the start a delta frame that arrives
    /// before the key frame's packets would otherwise make them late.
    pub start_with_keyframe: bool,
}

impl Default for AssemblerConfig {
    /// 1024 packets (over 1 MB of frames at 1200 bytes), 1500-byte payloads,
    /// in order, starting with a key frame.
    fn default() -> Self {
        AssemblerConfig {
            max_packets: 1024,
            max_payload_len: 1500,
            policy: ReleasePolicy::InOrder,
            start_with_keyframe: true,
        }
    }
}

/// Counters of what the assembler did with its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AssemblerStats {
    /// Frames handed out.
    pub frames_released: u64,
    /// Frames (distinct timestamps) of which buffered packets were thrown
    /// away because they could no longer complete.
    pub frames_dropped: u64,
    /// Buffered packets thrown away: older than a released frame, evicted
    /// by a full ring, or skipped by [`Vp8Assembler::discard_before`].
    pub packets_discarded: u64,
    /// Packets that arrived too late: older than what was already released
    /// or discarded.
    pub packets_late: u64,
    /// Packets received twice while buffered.
    pub duplicates: u64,
    /// Payloads rejected: bad descriptor, empty, or too large.
    pub invalid: u64,
}

/// What [`Vp8Assembler::poll_frame`] hands out with a frame's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssembledFrame {
    /// The RTP timestamp of the frame.
    pub timestamp: u32,
    /// Whether it is a key frame (RFC 7741 §4.3).
    pub keyframe: bool,
    /// The picture id of its first packet, if present.
    pub picture_id: Option<u16>,
    /// Extended sequence number of its first packet.
    pub first_seq: u64,
    /// Extended sequence number of its last (marker) packet.
    pub last_seq: u64,
    /// Length of the frame.
    pub len: usize,
}

impl AssembledFrame {
    /// Number of RTP packets it was carried in.
    pub fn packets(&self) -> u64 {
        self.last_seq - self.first_seq + 1
    }
}

/// Where a frame scan stopped.
#[derive(Debug, Clone, Copy)]
struct Break {
    at: u64,
    dead: bool,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    used: bool,
    seq: u64,
    timestamp: u32,
    marker: bool,
    start: bool,
    keyframe: bool,
    picture_id: Option<u16>,
    /// VP8 data after the descriptor, unless it sits in the frame being
    /// built (`in_frame`).
    data: Vec<u8>,
    /// The data is `frame.buf[frame_at..frame_at + frame_len]`.
    in_frame: bool,
    frame_at: usize,
    frame_len: usize,
}

/// The frame being built in order: packets that arrive in sequence after a
/// frame's first packet are appended here directly, so a frame that
/// arrives in order is copied once (into this buffer, which is then handed
/// out by swapping), not twice (into its slots, then into the frame).
/// Anything else falls back to the slots.
#[derive(Debug, Clone, Default)]
struct Building {
    active: bool,
    first: u64,
    next: u64,
    timestamp: u32,
    buf: Vec<u8>,
    /// Length of the last frame handed out of `buf`: the next frame's
    /// buffer is reserved at its first packet from this, so that a frame
    /// costs one allocation rather than one per packet as it grows (the
    /// buffer leaves with each frame, swapped into the caller's `out`).
    last_len: usize,
}

/// Collects the RTP payloads of one VP8 stream and hands out complete
/// frames.
///
/// ```
/// use meshrtc_rtp::vp8::{Vp8Assembler, Vp8Packetizer};
/// let frame: Vec<u8> = (0..5000u32).map(|i| (i * 2) as u8).collect(); // P bit 0: key frame
/// let payloads = Vp8Packetizer::new(7).packetize(&frame, 1200)?;
/// let mut asm = Vp8Assembler::default();
/// let mut buf = Vec::new();
/// for (i, p) in payloads.iter().enumerate().rev() { // arriving backwards
///     let mut payload = p.descriptor().to_vec();
///     payload.extend_from_slice(p.data());
///     asm.push(1000 + i as u16, 3000, p.is_last(), &payload)?;
/// }
/// let f = asm.poll_frame(&mut buf).expect("complete");
/// assert_eq!((buf == frame, f.keyframe, f.picture_id), (true, true, Some(7)));
/// # Ok::<(), meshrtc_rtp::RtpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Vp8Assembler {
    cfg: AssemblerConfig,
    slots: Vec<Slot>,
    extender: SeqExtender,
    /// Lowest sequence number of interest; everything below is released
    /// or discarded.
    lo: u64,
    /// Highest sequence number buffered (or `lo - 1`).
    highest: u64,
    started: bool,
    /// Whether `lo` is final (something was released or discarded); until
    /// then a packet reordered before the first one lowers it.
    firm: bool,
    buffered: usize,
    /// The frame at `lo` may be complete.
    check_lo: bool,
    /// A complete frame after a gap may be releasable.
    maybe_jump: bool,
    building: Building,
    stats: AssemblerStats,
}

impl Default for Vp8Assembler {
    fn default() -> Self {
        Vp8Assembler::new(AssemblerConfig::default())
    }
}

impl Vp8Assembler {
    /// An empty assembler.
    pub fn new(cfg: AssemblerConfig) -> Vp8Assembler {
        let cfg = AssemblerConfig {
            max_packets: cfg.max_packets.max(1),
            ..cfg
        };
        Vp8Assembler {
            cfg,
            // A power of two, so a slot index is a mask, not a division;
            // the window stays `max_packets` wide.
            slots: vec![Slot::default(); cfg.max_packets.next_power_of_two()],
            extender: SeqExtender::default(),
            lo: 0,
            highest: 0,
            started: false,
            firm: false,
            buffered: 0,
            check_lo: false,
            maybe_jump: false,
            building: Building::default(),
            stats: AssemblerStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AssemblerConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> &AssemblerStats {
        &self.stats
    }

    /// Packets currently buffered (at most `max_packets`).
    pub fn buffered_packets(&self) -> usize {
        self.buffered
    }

    /// The window: at most this many sequence numbers are buffered.
    fn cap(&self) -> u64 {
        self.cfg.max_packets as u64
    }

    fn index(&self, seq: u64) -> usize {
        // `slots.len()` is a power of two at least `max_packets`, so the
        // window never maps two buffered packets to one slot.
        (seq & (self.slots.len() as u64 - 1)) as usize
    }

    fn slot(&self, seq: u64) -> Option<&Slot> {
        let s = &self.slots[self.index(seq)];
        (s.used && s.seq == seq).then_some(s)
    }

    /// Adds one RTP payload with its 16-bit sequence number (extended
    /// internally, see [`SeqExtender`]: the first packet becomes
    /// `0x1_0000 + seq`). Do not mix with [`Vp8Assembler::push_extended`].
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<(), RtpError> {
        let seq = self.extender.extend(seq);
        self.push_extended(seq, timestamp, marker, payload)
    }

    /// Adds one RTP payload with an extended sequence number (from SRTP's
    /// rollover counter, for instance; at most [`MAX_EXTENDED_SEQ`]). Late
    /// packets and duplicates are counted, not errors; a payload that is
    /// not VP8 is an error.
    pub fn push_extended(
        &mut self,
        seq: u64,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<(), RtpError> {
        if seq > MAX_EXTENDED_SEQ {
            self.stats.invalid += 1;
            return Err(RtpError::ValueOutOfRange {
                what: "extended sequence number",
                value: seq,
            });
        }
        if payload.len() > self.cfg.max_payload_len {
            self.stats.invalid += 1;
            return Err(RtpError::PayloadTooLarge {
                len: payload.len(),
                max: self.cfg.max_payload_len,
            });
        }
        let (desc, desc_len) = Vp8Descriptor::parse(payload).inspect_err(|_| {
            self.stats.invalid += 1;
        })?;
        let data = &payload[desc_len..];
        if data.is_empty() {
            self.stats.invalid += 1;
            return Err(RtpError::Vp8EmptyPayload);
        }
        let cap = self.cap();
        if !self.started {
            self.started = true;
            self.lo = seq;
            self.highest = seq;
        } else if seq < self.lo {
            if !self.firm && self.highest - seq < cap {
                self.lo = seq;
                self.check_lo = true;
            } else {
                self.stats.packets_late += 1;
                return Ok(());
            }
        }
        if seq - self.lo >= cap {
            // The ring is full up to `seq`: give up on the oldest.
            let new_lo = seq - cap + 1;
            self.discard_range(new_lo);
            self.lo = new_lo;
            self.firm = true;
            self.check_lo = true;
        }
        let idx = self.index(seq);
        if self.slots[idx].used {
            // The window is narrower than the ring, so a used slot holds
            // this very sequence number.
            self.stats.duplicates += 1;
            return Ok(());
        }
        let starts = desc.starts_frame();
        if starts && self.building.active {
            Self::spill(&mut self.slots, &mut self.building);
        }
        let slot = &mut self.slots[idx];
        slot.used = true;
        slot.seq = seq;
        slot.timestamp = timestamp;
        slot.marker = marker;
        slot.start = starts;
        slot.keyframe = is_keyframe(&desc, data);
        slot.picture_id = desc.picture_id.map(|p| p.value());
        let b = &mut self.building;
        let follows = b.active && seq == b.next && timestamp == b.timestamp;
        if starts || follows {
            if starts {
                b.active = true;
                b.first = seq;
                b.timestamp = timestamp;
                b.buf.clear();
                // Room for a frame half again as large as the last one.
                b.buf.reserve(data.len().max(b.last_len + b.last_len / 2));
            }
            b.next = seq + 1;
            slot.in_frame = true;
            slot.frame_at = b.buf.len();
            slot.frame_len = data.len();
            b.buf.extend_from_slice(data);
        } else {
            slot.in_frame = false;
            slot.data.clear();
            slot.data.extend_from_slice(data);
        }
        self.buffered += 1;
        if seq > self.highest || self.highest < self.lo {
            self.highest = seq;
        }
        if let Some((first, _)) = self.frame_containing(seq) {
            if first == self.lo {
                self.check_lo = true;
            } else if self.jumpable(first) {
                self.maybe_jump = true;
            }
        }
        Ok(())
    }

    /// Whether a frame may be released now that it starts at `lo`.
    fn releasable(&self, first: u64) -> bool {
        !self.waiting_for_keyframe() || self.slot(first).is_some_and(|s| s.keyframe)
    }

    /// Whether a complete frame at `first` may skip a gap before it.
    fn jumpable(&self, first: u64) -> bool {
        let key = self.slot(first).is_some_and(|s| s.keyframe);
        key || (self.cfg.policy == ReleasePolicy::AsSoonAsComplete && !self.waiting_for_keyframe())
    }

    fn waiting_for_keyframe(&self) -> bool {
        self.cfg.start_with_keyframe && self.stats.frames_released == 0
    }

    /// From a frame start at `first`, the marker packet's sequence number,
    /// or where the frame breaks: at a missing packet (it may still come)
    /// or at a packet of another frame (it never will).
    fn scan_forward(&self, first: u64) -> Result<u64, Break> {
        let ts = self
            .slot(first)
            .ok_or(Break {
                at: first,
                dead: false,
            })?
            .timestamp;
        let mut s = first;
        loop {
            match self.slot(s) {
                Some(p) if p.timestamp == ts => {
                    if p.marker {
                        return Ok(s);
                    }
                    s += 1;
                }
                Some(_) => return Err(Break { at: s, dead: true }),
                None => return Err(Break { at: s, dead: false }),
            }
        }
    }

    /// The complete frame `seq` belongs to, if any.
    fn frame_containing(&self, seq: u64) -> Option<(u64, u64)> {
        // Forward first: arriving in order, only the marker packet finds
        // the end, so the backward walk runs once per frame.
        let last = self.scan_forward(seq).ok()?;
        let ts = self.slot(seq)?.timestamp;
        let mut first = seq;
        loop {
            let p = self.slot(first)?;
            if p.timestamp != ts {
                return None;
            }
            if p.start {
                return Some((first, last));
            }
            if first == self.lo {
                return None;
            }
            first -= 1;
        }
    }

    /// The earliest complete frame after `lo` that may skip the gap.
    fn find_jump(&self) -> Option<(u64, u64)> {
        let mut s = self.lo;
        while s <= self.highest {
            match self.slot(s) {
                Some(p) if p.start && self.jumpable(s) => match self.scan_forward(s) {
                    Ok(last) => return Some((s, last)),
                    Err(stop) => s = stop.at.max(s + 1),
                },
                _ => s += 1,
            }
        }
        None
    }

    /// Frees every buffered packet below `end`, counting it discarded.
    fn discard_range(&mut self, end: u64) {
        if self.building.active && self.building.first < end {
            Self::spill(&mut self.slots, &mut self.building);
        }
        let stop = end.min(self.lo.saturating_add(self.cap()));
        let mut last_ts = None;
        for s in self.lo..stop {
            let idx = self.index(s);
            let slot = &mut self.slots[idx];
            if slot.used && slot.seq == s {
                slot.used = false;
                self.buffered -= 1;
                self.stats.packets_discarded += 1;
                if last_ts != Some(slot.timestamp) {
                    self.stats.frames_dropped += 1;
                    last_ts = Some(slot.timestamp);
                }
            }
        }
    }

    /// Gives up on everything before `seq`: buffered packets below it are
    /// discarded, and frames after the gap may be released.
    pub fn discard_before(&mut self, seq: u64) {
        let seq = seq.min(MAX_EXTENDED_SEQ + 1);
        if !self.started || seq <= self.lo {
            return;
        }
        self.discard_range(seq);
        self.lo = seq;
        if self.highest < seq {
            self.highest = seq - 1;
        }
        self.firm = true;
        self.check_lo = true;
        self.maybe_jump = true;
    }

    /// The sequence numbers missing between the oldest unreleased packet
    /// and the newest one received, in order: what to NACK (the low 16 bits
    /// are the RTP sequence numbers).
    pub fn missing(&self) -> impl Iterator<Item = u64> + '_ {
        let end = if self.started && self.highest >= self.lo {
            self.highest + 1
        } else {
            self.lo
        };
        (self.lo..end).filter(|&s| self.slot(s).is_none())
    }

    /// The next complete frame: its bytes replace the contents of `out`.
    /// Call until `None` after each [`Vp8Assembler::push`].
    pub fn poll_frame(&mut self, out: &mut Vec<u8>) -> Option<AssembledFrame> {
        while self.check_lo {
            match self.slot(self.lo).map(|p| p.start) {
                // Nothing at `lo` yet: wait for it.
                None => self.check_lo = false,
                // A continuation at `lo` once everything before is gone:
                // its frame's start is gone too.
                Some(false) if self.firm => {
                    let mut end = self.lo + 1;
                    while self.slot(end).is_some_and(|p| !p.start) {
                        end += 1;
                    }
                    self.discard_before(end);
                }
                Some(false) => self.check_lo = false,
                Some(true) => match self.scan_forward(self.lo) {
                    Ok(last) if self.releasable(self.lo) => {
                        return Some(self.emit(self.lo, last, out))
                    }
                    // A delta frame before the first key frame: it waits
                    // (a key frame after it will drop it).
                    Ok(_) => self.check_lo = false,
                    // Another frame sits where this one should go on.
                    Err(Break { at, dead: true }) => self.discard_before(at),
                    Err(Break { dead: false, .. }) => self.check_lo = false,
                },
            }
        }
        if self.maybe_jump {
            if let Some((first, last)) = self.find_jump() {
                self.discard_range(first);
                self.lo = first;
                return Some(self.emit(first, last, out));
            }
            self.maybe_jump = false;
        }
        None
    }

    /// Moves the data of the frame being built back into its slots (it
    /// will not be handed out whole: a packet of it was discarded, or
    /// another frame started) and stops building.
    fn spill(slots: &mut [Slot], b: &mut Building) {
        let mask = slots.len() as u64 - 1;
        for seq in b.first..b.next {
            let slot = &mut slots[(seq & mask) as usize];
            if slot.used && slot.seq == seq && slot.in_frame {
                let range = slot.frame_at..slot.frame_at + slot.frame_len;
                slot.data.clear();
                slot.data.extend_from_slice(&b.buf[range]);
                slot.in_frame = false;
            }
        }
        b.active = false;
    }

    fn emit(&mut self, first: u64, last: u64, out: &mut Vec<u8>) -> AssembledFrame {
        out.clear();
        let head = &self.slots[self.index(first)];
        let mut frame = AssembledFrame {
            timestamp: head.timestamp,
            keyframe: head.keyframe,
            picture_id: head.picture_id,
            first_seq: first,
            last_seq: last,
            len: 0,
        };
        let whole = {
            let b = &self.building;
            b.active && b.first == first && b.next == last + 1
        };
        if whole {
            // Arrived in order: hand the built frame over without a copy.
            std::mem::swap(out, &mut self.building.buf);
            self.building.active = false;
            self.building.last_len = out.len();
        } else {
            if self.building.active && self.building.first <= last {
                Self::spill(&mut self.slots, &mut self.building);
            }
            let len: usize = (first..=last)
                .map(|s| self.slots[self.index(s)].data.len())
                .sum();
            out.reserve(len);
            for s in first..=last {
                out.extend_from_slice(&self.slots[self.index(s)].data);
            }
        }
        for s in first..=last {
            let idx = self.index(s);
            self.slots[idx].used = false;
        }
        self.buffered -= (last - first + 1) as usize;
        frame.len = out.len();
        self.lo = last + 1;
        if self.highest < self.lo {
            self.highest = last;
        }
        self.firm = true;
        self.check_lo = true;
        self.stats.frames_released += 1;
        frame
    }
}

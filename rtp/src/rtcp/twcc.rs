//! Transport-wide congestion control feedback, RTPFB FMT 15
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
//!
//! ```text
//! header (FMT 15, PT 205) | SSRC of packet sender | SSRC of media source |
//! base sequence number (16) | packet status count (16) |
//! reference time (24, signed, × 64 ms) | fb pkt. count (8) |
//! packet chunks (16 bits each) | recv deltas | zero padding
//! ```
//!
//! Chunks (§3.1.3, §3.1.4): a run-length chunk `0 | S (2) | run (13)`
//! repeats one symbol; a status vector chunk `1 | 0 | 14 × 1-bit` or
//! `1 | 1 | 7 × 2-bit` lists symbols. Symbols: 0 not received, 1 received
//! with a small delta (1 byte, unsigned), 2 received with a large or negative
//! delta (2 bytes, signed), 3 reserved. Deltas count 250 µs (§3.1.5); the
//! first is relative to the reference time, each next one to the previous
//! received packet.
//!
//! Writing picks the chunks itself: a run-length chunk for runs of 14 or
//! more identical symbols (or 7 when a large delta is near, or the rest of
//! the packet), else a 1-bit vector when the next 14 symbols have no large
//! delta, else a 2-bit vector. Padding is zero bytes inside the packet
//! (no P bit), so the packet can sit anywhere in a compound.

use super::feedback::begin_fb;
use super::{be16, be32, end_packet, fmt, need, pt};
use crate::RtpError;
use std::fmt as stdfmt;
use std::time::Duration;

/// One receive delta tick.
pub const DELTA_TICK_US: i64 = 250;
/// One reference time unit.
pub const REFERENCE_TICK_US: i64 = 64_000;

fn sext24(v: u32) -> i32 {
    ((v << 8) as i32) >> 8
}

/// The status of one sequence number in a feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TwccPacket {
    /// The transport-wide sequence number.
    pub seq: u16,
    /// The receive delta in 250 µs ticks, `None` if not received.
    pub delta: Option<i32>,
    /// Arrival time in µs on the receiver's reference clock (reference
    /// time × 64 ms plus the deltas so far), `None` if not received.
    pub arrival_us: Option<i64>,
}

impl TwccPacket {
    /// The receive delta in µs.
    pub fn delta_micros(&self) -> Option<i64> {
        self.delta.map(|d| i64::from(d) * DELTA_TICK_US)
    }
}

#[derive(Clone, Copy)]
enum Repr<'a> {
    /// Validated chunks (exactly those needed) and deltas.
    Wire { chunks: &'a [u8], deltas: &'a [u8] },
    /// Sorted arrivals, and the reference time in µs since their epoch.
    Arrivals {
        arrivals: &'a [(u16, Option<Duration>)],
        reference_us: i64,
    },
}

/// A transport-cc feedback: which of a range of transport-wide sequence
/// numbers arrived, and when.
#[derive(Clone, Copy)]
pub struct TransportCc<'a> {
    /// The SSRC sending the feedback.
    pub sender_ssrc: u32,
    /// The media source (by convention the SSRC of one of the streams).
    pub media_ssrc: u32,
    /// The feedback packet counter (wraps at 255).
    pub fb_pkt_count: u8,
    base_seq: u16,
    status_count: u16,
    reference_time: i32,
    repr: Repr<'a>,
}

/// The symbol that carries a delta.
fn symbol(delta: Option<i32>) -> u16 {
    match delta {
        None => 0,
        Some(0..=255) => 1,
        Some(_) => 2,
    }
}

/// Symbols a chunk holds.
fn chunk_len(c: u16) -> u16 {
    if c & 0x8000 == 0 {
        c & 0x1FFF
    } else if c & 0x4000 == 0 {
        14
    } else {
        7
    }
}

/// Symbol `i` of a chunk.
fn chunk_symbol(c: u16, i: u16) -> u16 {
    if c & 0x8000 == 0 {
        (c >> 13) & 0b11
    } else if c & 0x4000 == 0 {
        (c >> (13 - i)) & 0b1
    } else {
        (c >> (12 - 2 * i)) & 0b11
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl<'a> TransportCc<'a> {
    /// A feedback for `arrivals`: (transport-wide sequence number, arrival
    /// time since any fixed epoch, `None` if lost), in increasing sequence
    /// order (wrapping); sequence numbers missing from the list are
    /// reported as not received. The reference time is the first arrival
    /// rounded down to 64 ms; deltas are rounded down to 250 µs against it,
    /// so rounding does not accumulate.
    pub fn from_arrivals(
        sender_ssrc: u32,
        media_ssrc: u32,
        fb_pkt_count: u8,
        arrivals: &'a [(u16, Option<Duration>)],
    ) -> Result<TransportCc<'a>, RtpError> {
        let Some(&(base_seq, _)) = arrivals.first() else {
            return Err(RtpError::TwccEmpty);
        };
        let mut last = 0u16;
        for &(seq, _) in &arrivals[1..] {
            let d = seq.wrapping_sub(base_seq);
            if d <= last || d == u16::MAX {
                return Err(RtpError::TwccUnsorted);
            }
            last = d;
        }
        let first_us = arrivals.iter().find_map(|a| a.1).map(micros).unwrap_or(0);
        let ref_units = first_us.div_euclid(REFERENCE_TICK_US);
        let reference_us = ref_units * REFERENCE_TICK_US;
        let mut prev = 0i64;
        for at in arrivals.iter().filter_map(|a| a.1) {
            let ticks = (micros(at) - reference_us).div_euclid(DELTA_TICK_US);
            let delta = ticks - prev;
            if i16::try_from(delta).is_err() {
                return Err(RtpError::TwccDeltaTooLarge(delta));
            }
            prev = ticks;
        }
        Ok(TransportCc {
            sender_ssrc,
            media_ssrc,
            fb_pkt_count,
            base_seq,
            status_count: last + 1,
            reference_time: sext24(ref_units as u32 & 0x00FF_FFFF),
            repr: Repr::Arrivals {
                arrivals,
                reference_us,
            },
        })
    }

    pub(crate) fn parse(body: &'a [u8]) -> Result<TransportCc<'a>, RtpError> {
        need(pt::RTPFB, body, 16)?;
        let status_count = be16(body, 10);
        let fci = &body[16..];
        let mut pos = 0;
        let mut remaining = status_count;
        let mut delta_len = 0usize;
        while remaining > 0 {
            let c = fci.get(pos..pos + 2).ok_or(RtpError::TwccTruncated {
                what: "packet chunks",
            })?;
            let c = be16(c, 0);
            pos += 2;
            let n = chunk_len(c).min(remaining);
            if c & 0x8000 == 0 {
                match chunk_symbol(c, 0) {
                    _ if n == 0 => {}
                    0 => {}
                    1 => delta_len += usize::from(n),
                    2 => delta_len += 2 * usize::from(n),
                    _ => return Err(RtpError::TwccReservedSymbol),
                }
            } else {
                for i in 0..n {
                    match chunk_symbol(c, i) {
                        0 => {}
                        1 => delta_len += 1,
                        2 => delta_len += 2,
                        _ => return Err(RtpError::TwccReservedSymbol),
                    }
                }
            }
            remaining -= n;
        }
        let deltas = fci
            .get(pos..pos + delta_len)
            .ok_or(RtpError::TwccTruncated {
                what: "receive deltas",
            })?;
        Ok(TransportCc {
            sender_ssrc: be32(body, 0),
            media_ssrc: be32(body, 4),
            fb_pkt_count: body[15],
            base_seq: be16(body, 8),
            status_count,
            reference_time: sext24(u32::from_be_bytes([0, body[12], body[13], body[14]])),
            repr: Repr::Wire {
                chunks: &fci[..pos],
                deltas,
            },
        })
    }

    /// The first sequence number reported.
    pub fn base_seq(&self) -> u16 {
        self.base_seq
    }

    /// How many sequence numbers are reported.
    pub fn status_count(&self) -> u16 {
        self.status_count
    }

    /// The reference time, a 24-bit signed count of 64 ms.
    pub fn reference_time(&self) -> i32 {
        self.reference_time
    }

    /// The reference time in µs.
    pub fn reference_time_us(&self) -> i64 {
        i64::from(self.reference_time) * REFERENCE_TICK_US
    }

    /// Each reported sequence number with its delta and arrival time.
    pub fn packets(&self) -> TwccPackets<'a> {
        let src = match self.repr {
            Repr::Wire { chunks, deltas } => Src::Wire {
                chunks,
                deltas,
                chunk: 0,
                left_in_chunk: 0,
                index: 0,
            },
            Repr::Arrivals {
                arrivals,
                reference_us,
            } => Src::Arrivals {
                arrivals,
                reference_us,
            },
        };
        TwccPackets {
            src,
            remaining: self.status_count,
            seq: self.base_seq,
            ticks: 0,
            reference_us: self.reference_time_us(),
        }
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let start = begin_fb(
            out,
            fmt::TRANSPORT_CC,
            pt::RTPFB,
            self.sender_ssrc,
            self.media_ssrc,
        )?;
        out.extend_from_slice(&self.base_seq.to_be_bytes());
        out.extend_from_slice(&self.status_count.to_be_bytes());
        let r = (self.reference_time as u32).to_be_bytes();
        out.extend_from_slice(&[r[1], r[2], r[3], self.fb_pkt_count]);

        let mut it = self.packets();
        let mut remaining = usize::from(self.status_count);
        while remaining > 0 {
            let mut syms = it.clone().map(|p| symbol(p.delta));
            let first = syms.next().unwrap_or(0);
            let run = 1 + syms.take(8190).take_while(|&s| s == first).count();
            let large_ahead = it.clone().take(14).any(|p| symbol(p.delta) == 2);
            let (chunk, used) = if run >= 14 || run == remaining || (large_ahead && run >= 7) {
                (first << 13 | run as u16, run)
            } else if !large_ahead {
                let used = remaining.min(14);
                let mut c = 0x8000;
                for (k, p) in it.clone().take(used).enumerate() {
                    c |= symbol(p.delta) << (13 - k);
                }
                (c, used)
            } else {
                let used = remaining.min(7);
                let mut c = 0xC000;
                for (k, p) in it.clone().take(used).enumerate() {
                    c |= symbol(p.delta) << (12 - 2 * k);
                }
                (c, used)
            };
            out.extend_from_slice(&chunk.to_be_bytes());
            for _ in 0..used {
                it.next();
            }
            remaining -= used;
        }
        for p in self.packets() {
            match (symbol(p.delta), p.delta) {
                (1, Some(d)) => out.push(d as u8),
                (2, Some(d)) => {
                    let d = i16::try_from(d).map_err(|_| RtpError::TwccDeltaTooLarge(d.into()))?;
                    out.extend_from_slice(&d.to_be_bytes());
                }
                _ => {}
            }
        }
        let len = out.len() - start;
        out.resize(start + len.next_multiple_of(4), 0);
        end_packet(out, start)
    }
}

impl PartialEq for TransportCc<'_> {
    fn eq(&self, o: &Self) -> bool {
        (self.sender_ssrc, self.media_ssrc, self.fb_pkt_count)
            == (o.sender_ssrc, o.media_ssrc, o.fb_pkt_count)
            && (self.base_seq, self.status_count, self.reference_time)
                == (o.base_seq, o.status_count, o.reference_time)
            && self.packets().eq(o.packets())
    }
}

impl Eq for TransportCc<'_> {}

impl stdfmt::Debug for TransportCc<'_> {
    fn fmt(&self, f: &mut stdfmt::Formatter<'_>) -> stdfmt::Result {
        f.debug_struct("TransportCc")
            .field("sender_ssrc", &self.sender_ssrc)
            .field("media_ssrc", &self.media_ssrc)
            .field("fb_pkt_count", &self.fb_pkt_count)
            .field("base_seq", &self.base_seq)
            .field("status_count", &self.status_count)
            .field("reference_time", &self.reference_time)
            .field("packets", &self.packets().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Clone)]
enum Src<'a> {
    Wire {
        chunks: &'a [u8],
        deltas: &'a [u8],
        chunk: u16,
        left_in_chunk: u16,
        index: u16,
    },
    Arrivals {
        arrivals: &'a [(u16, Option<Duration>)],
        reference_us: i64,
    },
}

/// Iterator over the statuses of a [`TransportCc`].
#[derive(Clone)]
pub struct TwccPackets<'a> {
    src: Src<'a>,
    remaining: u16,
    seq: u16,
    /// Sum of the deltas so far.
    ticks: i64,
    reference_us: i64,
}

impl Iterator for TwccPackets<'_> {
    type Item = TwccPacket;

    fn next(&mut self) -> Option<TwccPacket> {
        if self.remaining == 0 {
            return None;
        }
        let seq = self.seq;
        let delta = match &mut self.src {
            Src::Wire {
                chunks,
                deltas,
                chunk,
                left_in_chunk,
                index,
            } => {
                while *left_in_chunk == 0 {
                    let (c, rest) = chunks.split_first_chunk::<2>()?;
                    *chunks = rest;
                    *chunk = u16::from_be_bytes(*c);
                    *left_in_chunk = chunk_len(*chunk);
                    *index = 0;
                }
                let s = chunk_symbol(*chunk, *index);
                *index += 1;
                *left_in_chunk -= 1;
                match s {
                    1 => {
                        let (&d, rest) = deltas.split_first()?;
                        *deltas = rest;
                        Some(i32::from(d))
                    }
                    2 => {
                        let (d, rest) = deltas.split_first_chunk::<2>()?;
                        *deltas = rest;
                        Some(i32::from(i16::from_be_bytes(*d)))
                    }
                    _ => None,
                }
            }
            Src::Arrivals {
                arrivals,
                reference_us,
            } => match arrivals.split_first() {
                Some((&(s, at), rest)) if s == seq => {
                    *arrivals = rest;
                    at.map(|at| {
                        let ticks = (micros(at) - *reference_us).div_euclid(DELTA_TICK_US);
                        // Checked to fit 16 bits by `from_arrivals`.
                        (ticks - self.ticks) as i32
                    })
                }
                _ => None,
            },
        };
        if let Some(d) = delta {
            self.ticks += i64::from(d);
        }
        self.remaining -= 1;
        self.seq = seq.wrapping_add(1);
        Some(TwccPacket {
            seq,
            delta,
            arrival_us: delta.map(|_| self.reference_us + self.ticks * DELTA_TICK_US),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}

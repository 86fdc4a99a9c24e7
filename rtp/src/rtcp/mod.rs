//! RTCP compound packets (RFC 3550 §6, RFC 4585 §6, RFC 5104 §4.3.1,
//! RFC 5506) with the feedback messages WebRTC uses.
//!
//! Every RTCP packet starts with the same header (RFC 3550 §6.4.1):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P| count/FMT |      PT       |  length (32-bit words − 1)   |
//! ```
//!
//! A datagram holds one or more packets back to back (a compound packet).
//! [`Compound`] walks them, checks the framing (version, lengths, padding
//! only on the last packet) and decodes each into an [`RtcpPacket`]: typed
//! views for SR, RR, SDES, BYE, APP, generic NACK, transport-cc feedback,
//! PLI, FIR and REMB, and [`RtcpPacket::Unknown`] for everything else, which
//! is skipped, not an error. Views borrow the datagram; parsing does not
//! allocate.
//!
//! The same types are built from plain values to send: lists are
//! [`WireList`]s that borrow either a received packet or the caller's slice,
//! and [`RtcpPacket::write_to`] / [`CompoundBuilder`] append packets to a
//! caller-owned buffer.
//!
//! ```
//! use meshrtc_rtp::rtcp::{Compound, CompoundBuilder, Pli, RtcpPacket, Sdes};
//! use meshrtc_rtp::rtcp::{ReceiverReport, ReportBlock, WireList};
//! let blocks = [ReportBlock { ssrc: 2, fraction_lost: 12, ..ReportBlock::default() }];
//! let mut buf = Vec::new();
//! CompoundBuilder::new(&mut buf)
//!     .push(&RtcpPacket::ReceiverReport(ReceiverReport {
//!         ssrc: 1,
//!         reports: WireList::new(&blocks),
//!         extension: &[],
//!     }))?
//!     .push(&RtcpPacket::Sdes(Sdes::cname(1, "a1b2c3")))?
//!     .push(&RtcpPacket::Pli(Pli { sender_ssrc: 1, media_ssrc: 2 }))?;
//! meshrtc_rtp::rtcp::validate_compound(&buf, false)?;
//! for p in Compound::new(&buf) {
//!     if let RtcpPacket::Pli(pli) = p? {
//!         assert_eq!(pli.media_ssrc, 2);
//!     }
//! }
//! # Ok::<(), meshrtc_rtp::RtpError>(())
//! ```

mod bye;
mod feedback;
mod list;
mod report;
mod sdes;
mod twcc;

pub use bye::{App, Bye};
pub use feedback::{nack_pairs, Fir, FirEntry, Nack, NackPair, NackPairs, Pli, Remb};
pub use list::{SsrcList, WireItem, WireList, WireListIter};
pub use report::{ReceiverReport, ReportBlock, ReportBlocks, SenderInfo, SenderReport};
pub use sdes::{Sdes, SdesChunk, SdesChunks, SdesItem, SdesItems, SdesType};
pub use twcc::{TransportCc, TwccPacket, TwccPackets};

use crate::RtpError;

/// Length of the common RTCP header.
pub const HEADER_LEN: usize = 4;

/// RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1).
pub mod pt {
    /// Sender report.
    pub const SR: u8 = 200;
    /// Receiver report.
    pub const RR: u8 = 201;
    /// Source description.
    pub const SDES: u8 = 202;
    /// Goodbye.
    pub const BYE: u8 = 203;
    /// Application-defined.
    pub const APP: u8 = 204;
    /// Transport-layer feedback (RFC 4585 §6.2).
    pub const RTPFB: u8 = 205;
    /// Payload-specific feedback (RFC 4585 §6.3).
    pub const PSFB: u8 = 206;
}

/// Feedback message types (the FMT field) used here.
pub mod fmt {
    /// RTPFB generic NACK (RFC 4585 §6.2.1).
    pub const NACK: u8 = 1;
    /// RTPFB transport-wide congestion control feedback (draft-holmer-…-01 §3.1).
    pub const TRANSPORT_CC: u8 = 15;
    /// PSFB picture loss indication (RFC 4585 §6.3.1).
    pub const PLI: u8 = 1;
    /// PSFB full intra request (RFC 5104 §4.3.1).
    pub const FIR: u8 = 4;
    /// PSFB application layer feedback (RFC 4585 §6.4), REMB inside.
    pub const AFB: u8 = 15;
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Checks that `body` holds at least `needed` bytes.
fn need(pt: u8, body: &[u8], needed: usize) -> Result<(), RtpError> {
    if body.len() < needed {
        Err(RtpError::RtcpBodyTooShort {
            pt,
            needed,
            got: body.len(),
        })
    } else {
        Ok(())
    }
}

/// Starts a packet: header with a zero length, fixed by [`end_packet`].
fn begin_packet(out: &mut Vec<u8>, count: u8, pt: u8) -> Result<usize, RtpError> {
    if count > 31 {
        return Err(RtpError::ValueOutOfRange {
            what: "RTCP count/FMT",
            value: u64::from(count),
        });
    }
    let start = out.len();
    out.extend_from_slice(&[0x80 | count, pt, 0, 0]);
    Ok(start)
}

/// Fills in the length of the packet started at `start`.
fn end_packet(out: &mut [u8], start: usize) -> Result<(), RtpError> {
    let len = out.len() - start;
    if len % 4 != 0 {
        return Err(RtpError::RtcpUnaligned(len - HEADER_LEN));
    }
    let words = len / 4 - 1;
    if words > usize::from(u16::MAX) {
        return Err(RtpError::RtcpTooLong(len));
    }
    out[start + 2..start + 4].copy_from_slice(&(words as u16).to_be_bytes());
    Ok(())
}

/// Checks a count against the 5-bit count field.
fn check_count(what: &'static str, count: usize) -> Result<u8, RtpError> {
    if count > 31 {
        Err(RtpError::TooManyItems {
            what,
            count,
            max: 31,
        })
    } else {
        Ok(count as u8)
    }
}

/// One packet of a compound as framed by its header, before typed parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPacket<'a> {
    /// Offset in the compound.
    pub offset: usize,
    /// The P bit.
    pub padding: bool,
    /// The 5-bit count (or FMT) field.
    pub count: u8,
    /// The packet type.
    pub pt: u8,
    /// The body after the 4-byte header, padding removed.
    pub body: &'a [u8],
    /// The whole packet as received (header and padding included).
    pub bytes: &'a [u8],
}

impl<'a> RawPacket<'a> {
    /// Decodes the body by packet type and FMT.
    pub fn parse(&self) -> Result<RtcpPacket<'a>, RtpError> {
        let body = self.body;
        Ok(match (self.pt, self.count) {
            (pt::SR, count) => RtcpPacket::SenderReport(SenderReport::parse(count, body)?),
            (pt::RR, count) => RtcpPacket::ReceiverReport(ReceiverReport::parse(count, body)?),
            (pt::SDES, count) => RtcpPacket::Sdes(Sdes::parse(count, body)?),
            (pt::BYE, count) => RtcpPacket::Bye(Bye::parse(count, body)?),
            (pt::APP, subtype) => RtcpPacket::App(App::parse(subtype, body)?),
            (pt::RTPFB, fmt::NACK) => RtcpPacket::Nack(Nack::parse(body)?),
            (pt::RTPFB, fmt::TRANSPORT_CC) => RtcpPacket::TransportCc(TransportCc::parse(body)?),
            (pt::PSFB, fmt::PLI) => RtcpPacket::Pli(Pli::parse(body)?),
            (pt::PSFB, fmt::FIR) => RtcpPacket::Fir(Fir::parse(body)?),
            (pt::PSFB, fmt::AFB) if Remb::is_remb(body) => RtcpPacket::Remb(Remb::parse(body)?),
            (pt, fmt) => RtcpPacket::Unknown { pt, fmt, body },
        })
    }
}

/// Walks the packets of a compound, checking the framing only.
///
/// A framing error (bad version, truncated header, a length past the end,
/// bad padding) is yielded once and ends the walk: the rest cannot be
/// delimited.
#[derive(Debug, Clone)]
pub struct RawPackets<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> RawPackets<'a> {
    /// Starts at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> RawPackets<'a> {
        RawPackets {
            buf,
            pos: 0,
            done: false,
        }
    }

    fn frame(&self) -> Result<RawPacket<'a>, RtpError> {
        let offset = self.pos;
        let rest = &self.buf[offset..];
        if rest.len() < HEADER_LEN {
            return Err(RtpError::RtcpTruncatedHeader {
                offset,
                got: rest.len(),
            });
        }
        let version = rest[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let total = (usize::from(be16(rest, 2)) + 1) * 4;
        if total > rest.len() {
            return Err(RtpError::RtcpLengthOverflow {
                offset,
                declared: total,
                available: rest.len(),
            });
        }
        let padding = rest[0] & 0x20 != 0;
        let mut body = &rest[HEADER_LEN..total];
        if padding {
            // RFC 3550 §6.4.1: only the last packet of a compound may be
            // padded, and the count includes its own octet.
            if total != rest.len() {
                return Err(RtpError::RtcpPaddingNotLast { offset });
            }
            let pad = usize::from(rest[total - 1]);
            if pad == 0 || pad > body.len() {
                return Err(RtpError::RtcpBadPadding {
                    padding: pad,
                    available: body.len(),
                });
            }
            body = &body[..body.len() - pad];
        }
        Ok(RawPacket {
            offset,
            padding,
            count: rest[0] & 0x1F,
            pt: rest[1],
            body,
            bytes: &rest[..total],
        })
    }
}

impl<'a> Iterator for RawPackets<'a> {
    type Item = Result<RawPacket<'a>, RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        // An empty datagram is an error once; the end of a non-empty one is
        // the end of the walk.
        if self.done || (self.pos == self.buf.len() && self.pos > 0) {
            return None;
        }
        match self.frame() {
            Ok(p) => {
                self.pos += p.bytes.len();
                Some(Ok(p))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Walks the packets of a compound and decodes each.
///
/// Framing errors end the walk (see [`RawPackets`]); a packet whose body
/// does not decode yields its error and the walk goes on with the next
/// packet, whose position the header still gives.
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    raw: RawPackets<'a>,
}

impl<'a> Compound<'a> {
    /// Starts at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Compound<'a> {
        Compound {
            raw: RawPackets::new(buf),
        }
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<RtcpPacket<'a>, RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.raw.next()?.and_then(|raw| raw.parse()))
    }
}

/// Checks a whole compound packet: framing and every body; and, unless
/// reduced-size RTCP (RFC 5506) was negotiated, the RFC 3550 §6.1 rules that
/// the first packet is an SR or RR and that an SDES carries a CNAME.
pub fn validate_compound(buf: &[u8], reduced_size: bool) -> Result<(), RtpError> {
    let mut first = true;
    let mut cname = false;
    for p in Compound::new(buf) {
        let p = p?;
        if first && !reduced_size {
            if let RtcpPacket::SenderReport(_) | RtcpPacket::ReceiverReport(_) = p {
            } else {
                return Err(RtpError::RtcpFirstNotReport(p.packet_type()));
            }
        }
        first = false;
        if let RtcpPacket::Sdes(s) = &p {
            cname |= s.chunks.iter().any(|c| c.items.cname().is_some());
        }
    }
    if !reduced_size && !cname {
        return Err(RtpError::RtcpMissingCname);
    }
    Ok(())
}

/// One RTCP packet, decoded (a view over a received packet or values to
/// send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR, PT 200 (RFC 3550 §6.4.1).
    SenderReport(SenderReport<'a>),
    /// RR, PT 201 (RFC 3550 §6.4.2).
    ReceiverReport(ReceiverReport<'a>),
    /// SDES, PT 202 (RFC 3550 §6.5).
    Sdes(Sdes<'a>),
    /// BYE, PT 203 (RFC 3550 §6.6).
    Bye(Bye<'a>),
    /// APP, PT 204 (RFC 3550 §6.7), kept opaque.
    App(App<'a>),
    /// RTPFB FMT 1, generic NACK (RFC 4585 §6.2.1).
    Nack(Nack<'a>),
    /// RTPFB FMT 15, transport-wide congestion control feedback.
    TransportCc(TransportCc<'a>),
    /// PSFB FMT 1, picture loss indication (RFC 4585 §6.3.1).
    Pli(Pli),
    /// PSFB FMT 4, full intra request (RFC 5104 §4.3.1).
    Fir(Fir<'a>),
    /// PSFB FMT 15 with the "REMB" identifier (draft-alvestrand-rmcat-remb).
    Remb(Remb<'a>),
    /// Any other packet type or FMT, kept as is.
    Unknown {
        /// The packet type.
        pt: u8,
        /// The 5-bit count/FMT field.
        fmt: u8,
        /// The body after the 4-byte header, padding removed.
        body: &'a [u8],
    },
}

impl RtcpPacket<'_> {
    /// The packet type on the wire.
    pub fn packet_type(&self) -> u8 {
        match self {
            RtcpPacket::SenderReport(_) => pt::SR,
            RtcpPacket::ReceiverReport(_) => pt::RR,
            RtcpPacket::Sdes(_) => pt::SDES,
            RtcpPacket::Bye(_) => pt::BYE,
            RtcpPacket::App(_) => pt::APP,
            RtcpPacket::Nack(_) | RtcpPacket::TransportCc(_) => pt::RTPFB,
            RtcpPacket::Pli(_) | RtcpPacket::Fir(_) | RtcpPacket::Remb(_) => pt::PSFB,
            RtcpPacket::Unknown { pt, .. } => *pt,
        }
    }

    /// Appends the packet to `out`. On error `out` is left as it was.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let start = out.len();
        let r = self.write_inner(out);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    fn write_inner(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        match self {
            RtcpPacket::SenderReport(p) => p.write(out),
            RtcpPacket::ReceiverReport(p) => p.write(out),
            RtcpPacket::Sdes(p) => p.write(out),
            RtcpPacket::Bye(p) => p.write(out),
            RtcpPacket::App(p) => p.write(out),
            RtcpPacket::Nack(p) => p.write(out),
            RtcpPacket::TransportCc(p) => p.write(out),
            RtcpPacket::Pli(p) => p.write(out),
            RtcpPacket::Fir(p) => p.write(out),
            RtcpPacket::Remb(p) => p.write(out),
            RtcpPacket::Unknown { pt, fmt, body } => {
                let start = begin_packet(out, *fmt, *pt)?;
                out.extend_from_slice(body);
                end_packet(out, start)
            }
        }
    }
}

/// Appends RTCP packets one after the other into a caller-owned buffer,
/// forming a compound packet.
#[derive(Debug)]
pub struct CompoundBuilder<'b> {
    buf: &'b mut Vec<u8>,
    start: usize,
    last: Option<usize>,
}

impl<'b> CompoundBuilder<'b> {
    /// Starts a compound at the end of `buf`.
    pub fn new(buf: &'b mut Vec<u8>) -> CompoundBuilder<'b> {
        let start = buf.len();
        CompoundBuilder {
            buf,
            start,
            last: None,
        }
    }

    /// Appends one packet (on error nothing is appended).
    pub fn push(&mut self, p: &RtcpPacket<'_>) -> Result<&mut Self, RtpError> {
        let at = self.buf.len();
        p.write_to(self.buf)?;
        self.last = Some(at);
        Ok(self)
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pads the last packet with `padding` bytes (a non-zero multiple of 4)
    /// and sets its P bit (RFC 3550 §6.4.1), ending the compound.
    pub fn finish_padded(self, padding: u8) -> Result<(), RtpError> {
        let Some(last) = self.last else {
            return Err(RtpError::InvalidPadding);
        };
        if padding == 0 || padding % 4 != 0 {
            return Err(RtpError::InvalidPadding);
        }
        let words = usize::from(be16(self.buf, last + 2)) + usize::from(padding / 4);
        if words > usize::from(u16::MAX) {
            return Err(RtpError::RtcpTooLong(4 * (words + 1)));
        }
        self.buf
            .resize(self.buf.len() + usize::from(padding) - 1, 0);
        self.buf.push(padding);
        self.buf[last] |= 0x20;
        self.buf[last + 2..last + 4].copy_from_slice(&(words as u16).to_be_bytes());
        Ok(())
    }
}

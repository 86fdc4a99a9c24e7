//! Feedback messages (RFC 4585 §6.1 common format): generic NACK
//! (RTPFB 1, RFC 4585 §6.2.1), PLI (PSFB 1, §6.3.1), FIR (PSFB 4,
//! RFC 5104 §4.3.1) and REMB (PSFB 15, draft-alvestrand-rmcat-remb-03 §2.2).
//!
//! ```text
//! header (count = FMT) | SSRC of packet sender | SSRC of media source | FCI
//! NACK FCI: PID (16) | BLP (16)                    (repeated)
//! FIR FCI:  SSRC (32) | seq nr (8) | reserved (24)  (repeated)
//! REMB FCI: 'R' 'E' 'M' 'B' | num SSRC (8) | exp (6) | mantissa (18) | SSRC × num
//! ```

use super::list::{SsrcList, WireItem, WireList};
use super::{be16, be32, begin_packet, end_packet, fmt, need, pt};
use crate::RtpError;

/// Reads the two SSRCs of the common feedback header.
fn fb_header(ptype: u8, body: &[u8]) -> Result<(u32, u32), RtpError> {
    need(ptype, body, 8)?;
    Ok((be32(body, 0), be32(body, 4)))
}

pub(super) fn begin_fb(
    out: &mut Vec<u8>,
    fmt: u8,
    ptype: u8,
    sender: u32,
    media: u32,
) -> Result<usize, RtpError> {
    let start = begin_packet(out, fmt, ptype)?;
    out.extend_from_slice(&sender.to_be_bytes());
    out.extend_from_slice(&media.to_be_bytes());
    Ok(start)
}

/// One generic NACK entry: a lost packet id and a bitmask of the 16
/// following sequence numbers also lost (bit i: PID + i + 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NackPair {
    /// The first lost sequence number.
    pub pid: u16,
    /// Bitmask of following lost packets.
    pub blp: u16,
}

impl NackPair {
    /// The sequence numbers this entry reports lost, in order.
    pub fn lost(&self) -> impl Iterator<Item = u16> + Clone {
        let (pid, blp) = (self.pid, self.blp);
        std::iter::once(pid).chain(
            (0..16u16)
                .filter(move |i| blp & (1 << i) != 0)
                .map(move |i| pid.wrapping_add(i + 1)),
        )
    }
}

impl WireItem for NackPair {
    const LEN: usize = 4;
    fn read(b: &[u8]) -> NackPair {
        NackPair {
            pid: be16(b, 0),
            blp: be16(b, 2),
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.pid.to_be_bytes());
        out.extend_from_slice(&self.blp.to_be_bytes());
    }
}

/// Packs lost sequence numbers, in increasing order (wrapping), into NACK
/// entries; a number that is not within 16 after the current entry's PID
/// starts a new entry, repeats are skipped.
///
/// ```
/// use meshrtc_rtp::rtcp::{nack_pairs, NackPair};
/// let pairs: Vec<_> = nack_pairs([65534, 65535, 2, 40]).collect();
/// assert_eq!(pairs, [NackPair { pid: 65534, blp: 0b1001 }, NackPair { pid: 40, blp: 0 }]);
/// ```
pub fn nack_pairs<I: IntoIterator<Item = u16>>(lost: I) -> NackPairs<I::IntoIter> {
    NackPairs {
        iter: lost.into_iter(),
        pending: None,
    }
}

/// Iterator returned by [`nack_pairs`].
#[derive(Debug, Clone)]
pub struct NackPairs<I> {
    iter: I,
    pending: Option<u16>,
}

impl<I: Iterator<Item = u16>> Iterator for NackPairs<I> {
    type Item = NackPair;
    fn next(&mut self) -> Option<NackPair> {
        let pid = self.pending.take().or_else(|| self.iter.next())?;
        let mut blp = 0u16;
        for seq in self.iter.by_ref() {
            match seq.wrapping_sub(pid) {
                0 => {}
                d @ 1..=16 => blp |= 1 << (d - 1),
                _ => {
                    self.pending = Some(seq);
                    break;
                }
            }
        }
        Some(NackPair { pid, blp })
    }
}

/// A generic NACK, RTPFB FMT 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nack<'a> {
    /// The SSRC sending the feedback.
    pub sender_ssrc: u32,
    /// The media source whose packets were lost.
    pub media_ssrc: u32,
    /// The entries.
    pub pairs: WireList<'a, NackPair>,
}

impl<'a> Nack<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Nack<'a>, RtpError> {
        let (sender_ssrc, media_ssrc) = fb_header(pt::RTPFB, body)?;
        Ok(Nack {
            sender_ssrc,
            media_ssrc,
            pairs: WireList::from_wire(&body[8..]),
        })
    }

    /// Every sequence number reported lost.
    pub fn lost(&self) -> impl Iterator<Item = u16> + 'a {
        self.pairs.iter().flat_map(|p| p.lost())
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let start = begin_fb(out, fmt::NACK, pt::RTPFB, self.sender_ssrc, self.media_ssrc)?;
        self.pairs.write_all(out);
        end_packet(out, start)
    }
}

/// A picture loss indication, PSFB FMT 1 (no FCI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pli {
    /// The SSRC sending the feedback.
    pub sender_ssrc: u32,
    /// The video source that should send a key frame.
    pub media_ssrc: u32,
}

impl Pli {
    pub(crate) fn parse(body: &[u8]) -> Result<Pli, RtpError> {
        let (sender_ssrc, media_ssrc) = fb_header(pt::PSFB, body)?;
        Ok(Pli {
            sender_ssrc,
            media_ssrc,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let start = begin_fb(out, fmt::PLI, pt::PSFB, self.sender_ssrc, self.media_ssrc)?;
        end_packet(out, start)
    }
}

/// One FIR request: the source asked for a decoder refresh and the
/// command sequence number (incremented per new request, RFC 5104 §4.3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirEntry {
    /// The media sender asked to refresh.
    pub ssrc: u32,
    /// The command sequence number.
    pub seq_nr: u8,
}

impl WireItem for FirEntry {
    const LEN: usize = 8;
    fn read(b: &[u8]) -> FirEntry {
        // The 24 reserved bits are ignored (RFC 5104 §4.3.1.1).
        FirEntry {
            ssrc: be32(b, 0),
            seq_nr: b[4],
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&[self.seq_nr, 0, 0, 0]);
    }
}

/// A full intra request, PSFB FMT 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fir<'a> {
    /// The SSRC sending the request.
    pub sender_ssrc: u32,
    /// Unused by FIR: 0 on send (RFC 5104 §4.3.1.2).
    pub media_ssrc: u32,
    /// The requests.
    pub entries: WireList<'a, FirEntry>,
}

impl<'a> Fir<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<Fir<'a>, RtpError> {
        let (sender_ssrc, media_ssrc) = fb_header(pt::PSFB, body)?;
        Ok(Fir {
            sender_ssrc,
            media_ssrc,
            entries: WireList::from_wire(&body[8..]),
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let start = begin_fb(out, fmt::FIR, pt::PSFB, self.sender_ssrc, self.media_ssrc)?;
        self.entries.write_all(out);
        end_packet(out, start)
    }
}

/// Receiver estimated maximum bitrate, an application-layer feedback
/// (PSFB FMT 15) with the "REMB" identifier.
///
/// The bitrate is `mantissa × 2^exponent` bits per second; the two fields
/// are kept as received so that writing a parsed REMB gives the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remb<'a> {
    /// The SSRC sending the estimate.
    pub sender_ssrc: u32,
    /// Unused: 0 (draft-alvestrand-rmcat-remb §2.2).
    pub media_ssrc: u32,
    /// The 6-bit exponent.
    pub exponent: u8,
    /// The 18-bit mantissa.
    pub mantissa: u32,
    /// The media sources the estimate applies to, at most 255.
    pub ssrcs: SsrcList<'a>,
}

const REMB_ID: &[u8; 4] = b"REMB";

impl<'a> Remb<'a> {
    /// An estimate of `bitrate` bits per second, rounded down to the 18 most
    /// significant bits.
    pub fn new(sender_ssrc: u32, bitrate: u64, ssrcs: SsrcList<'a>) -> Remb<'a> {
        let exponent = (64 - bitrate.leading_zeros()).saturating_sub(18);
        Remb {
            sender_ssrc,
            media_ssrc: 0,
            exponent: exponent as u8,
            mantissa: (bitrate >> exponent) as u32,
            ssrcs,
        }
    }

    /// The estimate in bits per second (saturating at `u64::MAX`).
    pub fn bitrate(&self) -> u64 {
        let m = u64::from(self.mantissa);
        if m != 0 && u32::from(self.exponent) > m.leading_zeros() {
            u64::MAX
        } else {
            m << self.exponent
        }
    }

    pub(crate) fn is_remb(body: &[u8]) -> bool {
        body.get(8..12) == Some(&REMB_ID[..])
    }

    pub(crate) fn parse(body: &'a [u8]) -> Result<Remb<'a>, RtpError> {
        let (sender_ssrc, media_ssrc) = fb_header(pt::PSFB, body)?;
        need(pt::PSFB, body, 16)?;
        let num = usize::from(body[12]);
        need(pt::PSFB, body, 16 + 4 * num)?;
        Ok(Remb {
            sender_ssrc,
            media_ssrc,
            exponent: body[13] >> 2,
            mantissa: u32::from_be_bytes([0, body[13] & 0x03, body[14], body[15]]),
            ssrcs: WireList::from_wire(&body[16..16 + 4 * num]),
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        if self.exponent > 63 {
            return Err(RtpError::ValueOutOfRange {
                what: "REMB exponent",
                value: u64::from(self.exponent),
            });
        }
        if self.mantissa >= 1 << 18 {
            return Err(RtpError::ValueOutOfRange {
                what: "REMB mantissa",
                value: u64::from(self.mantissa),
            });
        }
        if self.ssrcs.len() > 255 {
            return Err(RtpError::TooManyItems {
                what: "REMB SSRCs",
                count: self.ssrcs.len(),
                max: 255,
            });
        }
        let start = begin_fb(out, fmt::AFB, pt::PSFB, self.sender_ssrc, self.media_ssrc)?;
        out.extend_from_slice(REMB_ID);
        let m = self.mantissa.to_be_bytes();
        out.extend_from_slice(&[
            self.ssrcs.len() as u8,
            (self.exponent << 2) | m[1],
            m[2],
            m[3],
        ]);
        self.ssrcs.write_all(out);
        end_packet(out, start)
    }
}

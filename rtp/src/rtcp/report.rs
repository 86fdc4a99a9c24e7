//! Sender and receiver reports (RFC 3550 §6.4.1, §6.4.2).
//!
//! ```text
//! SR: header | SSRC of sender | NTP timestamp (64) | RTP timestamp |
//!     sender's packet count | sender's octet count | report blocks | ext
//! RR: header | SSRC of packet sender | report blocks | ext
//! report block (24 bytes):
//!     SSRC_n | fraction lost (8) | cumulative lost (24, signed) |
//!     extended highest sequence number | jitter | LSR | DLSR
//! ```

use super::list::{WireItem, WireList};
use super::{be32, begin_packet, check_count, end_packet, need, pt};
use crate::RtpError;

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction of packets lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost, a 24-bit signed value (duplicates can make
    /// it negative). Written values are clamped to −0x800000..=0x7FFFFF.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles << 16 | seq).
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (LSR).
    pub last_sr: u32,
    /// Delay since that SR in 1/65536 s (DLSR).
    pub delay_since_last_sr: u32,
}

impl WireItem for ReportBlock {
    const LEN: usize = 24;

    fn read(b: &[u8]) -> ReportBlock {
        // Sign-extend the 24-bit count: shift it to the top, then back.
        let lost = (u32::from_be_bytes([b[5], b[6], b[7], 0]) as i32) >> 8;
        ReportBlock {
            ssrc: be32(b, 0),
            fraction_lost: b[4],
            cumulative_lost: lost,
            highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32;
        let l = lost.to_be_bytes();
        out.extend_from_slice(&[self.fraction_lost, l[1], l[2], l[3]]);
        out.extend_from_slice(&self.highest_seq.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

/// Report blocks of an SR or RR.
pub type ReportBlocks<'a> = WireList<'a, ReportBlock>;

/// The sender information of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct SenderInfo {
    /// NTP timestamp (seconds since 1900 << 32 | fraction).
    pub ntp_time: u64,
    /// The same instant in RTP timestamp units.
    pub rtp_time: u32,
    /// Packets sent since the start.
    pub packet_count: u32,
    /// Payload octets sent since the start.
    pub octet_count: u32,
}

impl SenderInfo {
    /// The middle 32 bits of the NTP timestamp, as echoed in LSR.
    pub fn compact_ntp(&self) -> u32 {
        (self.ntp_time >> 16) as u32
    }

    fn read(b: &[u8]) -> SenderInfo {
        SenderInfo {
            ntp_time: (u64::from(be32(b, 0)) << 32) | u64::from(be32(b, 4)),
            rtp_time: be32(b, 8),
            packet_count: be32(b, 12),
            octet_count: be32(b, 16),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ntp_time.to_be_bytes());
        out.extend_from_slice(&self.rtp_time.to_be_bytes());
        out.extend_from_slice(&self.packet_count.to_be_bytes());
        out.extend_from_slice(&self.octet_count.to_be_bytes());
    }
}

/// A sender report, PT 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// The sender.
    pub ssrc: u32,
    /// Its sender information.
    pub info: SenderInfo,
    /// Reception reports, at most 31.
    pub reports: ReportBlocks<'a>,
    /// Profile-specific extension after the blocks (a multiple of 4 bytes).
    pub extension: &'a [u8],
}

impl<'a> SenderReport<'a> {
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<SenderReport<'a>, RtpError> {
        let blocks_end = 24 + ReportBlock::LEN * usize::from(count);
        need(pt::SR, body, blocks_end)?;
        Ok(SenderReport {
            ssrc: be32(body, 0),
            info: SenderInfo::read(&body[4..24]),
            reports: WireList::from_wire(&body[24..blocks_end]),
            extension: &body[blocks_end..],
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let count = check_count("report blocks", self.reports.len())?;
        let start = begin_packet(out, count, pt::SR)?;
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        self.info.write(out);
        self.reports.write_all(out);
        out.extend_from_slice(self.extension);
        end_packet(out, start)
    }
}

/// A receiver report, PT 201.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// The reporting source.
    pub ssrc: u32,
    /// Reception reports, at most 31.
    pub reports: ReportBlocks<'a>,
    /// Profile-specific extension after the blocks (a multiple of 4 bytes).
    pub extension: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<ReceiverReport<'a>, RtpError> {
        let blocks_end = 4 + ReportBlock::LEN * usize::from(count);
        need(pt::RR, body, blocks_end)?;
        Ok(ReceiverReport {
            ssrc: be32(body, 0),
            reports: WireList::from_wire(&body[4..blocks_end]),
            extension: &body[blocks_end..],
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let count = check_count("report blocks", self.reports.len())?;
        let start = begin_packet(out, count, pt::RR)?;
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        self.reports.write_all(out);
        out.extend_from_slice(self.extension);
        end_packet(out, start)
    }
}

//! What a sender reports about its own stream in an SR (RFC 3550 §6.4.1):
//! counts and an RTP timestamp matching the report's NTP time.

use super::receive::duration_in_units;
use crate::rtcp::SenderInfo;
use std::time::Instant;

/// Packet and octet counts of one sent stream, and the timestamp of its
/// last packet, for the sender information of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Packets sent (wraps, like the 32-bit field).
    packets: u32,
    /// Payload octets sent, headers and padding excluded (wraps).
    octets: u32,
    /// RTP timestamp of the last packet and when it was sent.
    last: Option<(u32, Instant)>,
}

impl SenderStats {
    /// Nothing sent yet.
    pub fn new() -> SenderStats {
        SenderStats::default()
    }

    /// Records a packet sent at `now` with this RTP timestamp and this many
    /// payload octets.
    pub fn on_packet_sent(&mut self, now: Instant, rtp_timestamp: u32, payload_len: usize) {
        self.packets = self.packets.wrapping_add(1);
        // RFC 3550 §6.4.1: the count wraps modulo 2^32.
        self.octets = self.octets.wrapping_add(payload_len as u32);
        self.last = Some((rtp_timestamp, now));
    }

    /// Packets sent, modulo 2^32.
    pub fn packet_count(&self) -> u32 {
        self.packets
    }

    /// Payload octets sent, modulo 2^32.
    pub fn octet_count(&self) -> u32 {
        self.octets
    }

    /// The sender information of an SR sent at `now`, when the NTP clock
    /// reads `ntp_now`: the RTP timestamp is the last packet's, moved on by
    /// the time elapsed since it was sent at `clock_rate` (RFC 3550 §6.4.1:
    /// the same instant as the NTP timestamp). `None` before any packet: an
    /// RR is sent instead.
    pub fn sender_info(&self, now: Instant, ntp_now: u64, clock_rate: u32) -> Option<SenderInfo> {
        let (ts, at) = self.last?;
        let elapsed = duration_in_units(now.saturating_duration_since(at), clock_rate);
        Some(SenderInfo {
            ntp_time: ntp_now,
            rtp_time: ts.wrapping_add(elapsed as u32),
            packet_count: self.packets,
            octet_count: self.octets,
        })
    }
}

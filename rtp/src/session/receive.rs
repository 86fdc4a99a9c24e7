//! Reception statistics for one remote source and the report block built
//! from them (RFC 3550 §6.4.1, Appendix A.3 and A.8), and the round-trip
//! time a sender derives from a block it gets back (RFC 3550 §6.4.1).

use crate::rtcp::ReportBlock;
use crate::SeqExtender;
use std::time::{Duration, Instant};

/// RFC 3550's extended sequence numbers start at cycle 0; [`SeqExtender`]
/// places the first packet in cycle 1 so earlier packets still fit.
const EXTENDER_BASE: u64 = 0x1_0000;

/// The 24-bit signed range of the cumulative-lost field (RFC 3550 §6.4.1).
const LOST_MIN: i64 = -0x80_0000;
const LOST_MAX: i64 = 0x7F_FFFF;

/// `d` in units of `1 / per_second` seconds, rounded down.
pub(crate) fn duration_in_units(d: Duration, per_second: u32) -> u64 {
    let units = d.as_nanos() * u128::from(per_second) / 1_000_000_000;
    u64::try_from(units).unwrap_or(u64::MAX)
}

/// Interarrival jitter state (RFC 3550 §6.4.1, Appendix A.8).
#[derive(Debug, Clone, Copy)]
struct Jitter {
    /// Clock rate the transit times are measured in.
    clock_rate: u32,
    /// Transit time of the previous packet, in RTP units modulo 2^32.
    last_transit: u32,
    /// The jitter estimate × 16 (the fixed-point form of Appendix A.8).
    jitter_x16: u64,
}

/// What we know about one remote media source: feeds one report block of
/// our SR or RR (RFC 3550 §6.4.1).
///
/// Counting follows RFC 3550 Appendix A.3: every packet handed to
/// [`ReceiveStats::on_packet`] counts as received, duplicates included, so
/// the cumulative number lost can go below zero (the RFC keeps it signed
/// for this reason); no per-packet history is kept to tell duplicates
/// apart. The expected count runs from the lowest to the highest extended
/// sequence number seen (a packet reordered before the first one lowers
/// the base, up to 32768 back), and no RFC 3550 §A.1 probation is done:
/// the caller feeds packets that already passed SRTP authentication.
#[derive(Debug, Clone, Default)]
pub struct ReceiveStats {
    seq: SeqExtender,
    /// Lowest extended sequence number seen.
    base: u64,
    /// Packets received, duplicates included.
    received: u64,
    /// `expected` at the previous report (Appendix A.3).
    expected_prior: u64,
    /// `received` at the previous report (Appendix A.3).
    received_prior: u64,
    /// Arrival of the first packet: the origin of the arrival clock.
    epoch: Option<Instant>,
    jitter: Option<Jitter>,
    /// Middle 32 bits of the last SR's NTP timestamp, and when it came.
    last_sr: Option<(u32, Instant)>,
}

impl ReceiveStats {
    /// Stats with nothing received yet.
    pub fn new() -> ReceiveStats {
        ReceiveStats::default()
    }

    /// Records an RTP packet of this source arriving at `now`, with its
    /// RTP timestamp and the clock rate of its payload type.
    ///
    /// The arrival time is converted to the stream's clock (RFC 3550
    /// §6.4.1: jitter is in timestamp units); a change of clock rate (a
    /// payload type switch) restarts the jitter estimate, and a clock rate
    /// of 0 leaves it alone.
    pub fn on_packet(&mut self, now: Instant, seq: u16, rtp_timestamp: u32, clock_rate: u32) {
        let ext = self.seq.extend(seq);
        if self.received == 0 || ext < self.base {
            self.base = ext;
        }
        self.received += 1;
        let epoch = *self.epoch.get_or_insert(now);
        if clock_rate == 0 {
            return;
        }
        // Arrival in RTP units; only differences matter, so wrapping modulo
        // 2^32 like the timestamps themselves is exact.
        let arrival = duration_in_units(now.saturating_duration_since(epoch), clock_rate) as u32;
        let transit = arrival.wrapping_sub(rtp_timestamp);
        match &mut self.jitter {
            Some(j) if j.clock_rate == clock_rate => {
                // RFC 3550 §A.8: D = difference of transits, J += (|D| − J) / 16,
                // kept × 16 to stay in integers.
                let d = u64::from((transit.wrapping_sub(j.last_transit) as i32).unsigned_abs());
                j.jitter_x16 = (j.jitter_x16 + d).saturating_sub((j.jitter_x16 + 8) >> 4);
                j.last_transit = transit;
            }
            _ => {
                self.jitter = Some(Jitter {
                    clock_rate,
                    last_transit: transit,
                    jitter_x16: 0,
                })
            }
        }
    }

    /// Records a sender report of this source arriving at `now` with its
    /// 64-bit NTP timestamp: its middle 32 bits become LSR (RFC 3550
    /// §6.4.1).
    pub fn on_sender_report(&mut self, now: Instant, ntp: u64) {
        self.last_sr = Some(((ntp >> 16) as u32, now));
    }

    /// Packets received so far, duplicates included.
    pub fn packets_received(&self) -> u64 {
        self.received
    }

    /// Packets expected so far (highest − lowest extended sequence + 1).
    pub fn packets_expected(&self) -> u64 {
        match self.seq.highest() {
            Some(h) if self.received > 0 => h - self.base + 1,
            _ => 0,
        }
    }

    /// The interarrival jitter in RTP timestamp units (RFC 3550 §A.8).
    pub fn jitter(&self) -> u32 {
        self.jitter
            .map_or(0, |j| u32::try_from(j.jitter_x16 >> 4).unwrap_or(u32::MAX))
    }

    /// The report block on this source (whose SSRC is `ssrc`) for a report
    /// sent at `now`, and the start of the next reporting interval.
    ///
    /// - fraction lost: lost in the interval since the previous call over
    ///   expected in it, in 1/256, 0 when duplicates made it negative
    ///   (RFC 3550 §A.3);
    /// - cumulative lost: expected − received, clamped to 24 bits signed;
    /// - extended highest sequence number: cycles << 16 | highest;
    /// - jitter in timestamp units;
    /// - LSR and DLSR (in 1/65536 s), both 0 before any SR.
    pub fn report_block(&mut self, now: Instant, ssrc: u32) -> ReportBlock {
        let expected = self.packets_expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            // lost_interval <= expected_interval, so this is at most 256.
            u8::try_from(((lost_interval as u64) << 8) / expected_interval).unwrap_or(u8::MAX)
        };
        let lost = i64::try_from(expected).unwrap_or(i64::MAX)
            - i64::try_from(self.received).unwrap_or(i64::MAX);
        let highest_seq = self
            .seq
            .highest()
            .map_or(0, |h| h.saturating_sub(EXTENDER_BASE) as u32);
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => {
                let dlsr = duration_in_units(now.saturating_duration_since(at), 65536);
                (lsr, u32::try_from(dlsr).unwrap_or(u32::MAX))
            }
            None => (0, 0),
        };
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(LOST_MIN, LOST_MAX) as i32,
            highest_seq,
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// The round-trip time from a report block a remote receiver sent about
/// our stream, received when the NTP clock read `now_ntp_middle32` (the
/// middle 32 bits of our NTP time, 1/65536 s units): RFC 3550 §6.4.1,
/// RTT = A − LSR − DLSR.
///
/// `None` when the block carries no LSR (no SR of ours reached the peer) or
/// when the result is negative (clock trouble or a stale block).
pub fn rtt_from_report_block(now_ntp_middle32: u32, block: &ReportBlock) -> Option<Duration> {
    if block.last_sr == 0 {
        return None;
    }
    let rtt = now_ntp_middle32
        .wrapping_sub(block.last_sr)
        .wrapping_sub(block.delay_since_last_sr) as i32;
    let rtt = u64::try_from(rtt).ok()?;
    Some(Duration::from_nanos(rtt * 1_000_000_000 / 65536))
}

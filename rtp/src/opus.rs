//! Opus over RTP (RFC 7587) and the Opus packet TOC byte (RFC 6716 §3.1).
//!
//! One Opus packet is one RTP payload (RFC 7587 §4.2), with no payload
//! header. The RTP clock is always 48 kHz whatever rate the encoder runs at
//! (RFC 7587 §4.1), so a 20 ms packet advances the timestamp by 960. A
//! receiver learns a packet's duration from its TOC byte and frame count.

use crate::RtpError;
use std::time::Duration;

/// The Opus RTP clock rate (RFC 7587 §4.1).
pub const OPUS_CLOCK_RATE: u32 = 48_000;

/// The longest duration of one Opus packet (RFC 6716 §3.2.5).
pub const MAX_PACKET_DURATION: Duration = Duration::from_millis(120);

/// RTP timestamp increment for `duration` of audio at 48 kHz (960 for
/// 20 ms), rounded down to whole samples.
pub fn timestamp_increment(duration: Duration) -> u32 {
    let samples = duration.as_nanos() * u128::from(OPUS_CLOCK_RATE) / 1_000_000_000;
    u32::try_from(samples).unwrap_or(u32::MAX)
}

/// The duration of `samples` at 48 kHz.
pub fn samples_to_duration(samples: u32) -> Duration {
    Duration::from_nanos(u64::from(samples) * 1_000_000_000 / u64::from(OPUS_CLOCK_RATE))
}

/// The coding mode of a configuration (RFC 6716 §3.1, table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpusMode {
    /// SILK only (configurations 0..=11).
    Silk,
    /// SILK and CELT (12..=15).
    Hybrid,
    /// CELT only (16..=31).
    Celt,
}

/// The audio bandwidth of a configuration (RFC 6716 §2, table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpusBandwidth {
    /// 4 kHz.
    Narrowband,
    /// 6 kHz.
    Mediumband,
    /// 8 kHz.
    Wideband,
    /// 12 kHz.
    SuperWideband,
    /// 20 kHz.
    Fullband,
}

/// The table-of-contents byte that starts every Opus packet (RFC 6716
/// §3.1): `config (5) | s (1) | c (2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpusToc(pub u8);

impl OpusToc {
    /// The configuration number, 0..=31.
    pub fn config(self) -> u8 {
        self.0 >> 3
    }

    /// The s bit: stereo.
    pub fn stereo(self) -> bool {
        self.0 & 0x04 != 0
    }

    /// The frame count code c, 0..=3 (RFC 6716 §3.2).
    pub fn frame_count_code(self) -> u8 {
        self.0 & 0x03
    }

    /// The coding mode.
    pub fn mode(self) -> OpusMode {
        match self.config() {
            0..=11 => OpusMode::Silk,
            12..=15 => OpusMode::Hybrid,
            _ => OpusMode::Celt,
        }
    }

    /// The audio bandwidth.
    pub fn bandwidth(self) -> OpusBandwidth {
        use OpusBandwidth::*;
        match self.config() {
            0..=3 => Narrowband,
            4..=7 => Mediumband,
            8..=11 => Wideband,
            12..=13 => SuperWideband,
            14..=15 => Fullband,
            16..=19 => Narrowband,
            20..=23 => Wideband,
            24..=27 => SuperWideband,
            _ => Fullband,
        }
    }

    /// Samples at 48 kHz in one frame of this configuration.
    pub fn frame_samples(self) -> u32 {
        let c = self.config();
        match c {
            // SILK: 10, 20, 40, 60 ms.
            0..=11 => [480, 960, 1920, 2880][usize::from(c % 4)],
            // Hybrid: 10, 20 ms.
            12..=15 => [480, 960][usize::from(c % 2)],
            // CELT: 2.5, 5, 10, 20 ms.
            _ => [120, 240, 480, 960][usize::from(c % 4)],
        }
    }

    /// The duration of one frame.
    pub fn frame_duration(self) -> Duration {
        samples_to_duration(self.frame_samples())
    }
}

/// Frames in an Opus packet, from its TOC byte and, for code 3, its frame
/// count byte (RFC 6716 §3.2), with the framing checks that need no
/// decoding: a code 1 packet has an even payload, code 2 its length byte,
/// code 3 a count of at least 1 and at most 120 ms.
pub fn frame_count(packet: &[u8]) -> Result<u32, RtpError> {
    let (&toc, rest) = packet
        .split_first()
        .ok_or(RtpError::MalformedOpus("empty packet"))?;
    let toc = OpusToc(toc);
    let frames = match toc.frame_count_code() {
        0 => 1,
        1 => {
            // RFC 6716 §3.2.3 (R3): two frames of equal size.
            if rest.len() % 2 != 0 {
                return Err(RtpError::MalformedOpus("code 1 packet with an odd payload"));
            }
            2
        }
        2 => {
            // RFC 6716 §3.2.4 (R4): at least the first frame's length.
            if rest.is_empty() {
                return Err(RtpError::MalformedOpus(
                    "code 2 packet without a frame length",
                ));
            }
            2
        }
        _ => {
            let &count = rest.first().ok_or(RtpError::MalformedOpus(
                "code 3 packet without a frame count",
            ))?;
            let m = u32::from(count & 0x3F);
            // RFC 6716 §3.2.5 (R5): 1 to 48 frames, 120 ms at most.
            if m == 0 || m * toc.frame_samples() > 5760 {
                return Err(RtpError::MalformedOpus("code 3 frame count out of range"));
            }
            m
        }
    };
    Ok(frames)
}

/// Samples at 48 kHz in an Opus packet (the RTP timestamp advance it
/// covers), after the framing checks of [`frame_count`].
pub fn packet_samples(packet: &[u8]) -> Result<u32, RtpError> {
    let frames = frame_count(packet)?;
    // `frame_count` checked the packet is not empty.
    let toc = OpusToc(packet[0]);
    Ok(frames * toc.frame_samples())
}

/// The duration of an Opus packet.
pub fn packet_duration(packet: &[u8]) -> Result<Duration, RtpError> {
    packet_samples(packet).map(samples_to_duration)
}

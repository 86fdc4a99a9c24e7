//! ChannelData messages (RFC 8656 §12.4, §12.5) and the framing of STUN and
//! ChannelData on a stream to the TURN server (§12.5; the framing of the
//! stream is `stream.rs`).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Channel Number        |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                       Application Data                        /
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Channel numbers are 0x4000–0x4FFF (§12), so the first byte is 64..=79,
//! the range RFC 7983 §7 gives TURN channels when demultiplexing.

use super::TurnError;

/// Lowest valid channel number (RFC 8656 §12).
pub const MIN_CHANNEL: u16 = 0x4000;
/// Highest valid channel number (RFC 8656 §12).
pub const MAX_CHANNEL: u16 = 0x4FFF;
/// The ChannelData header length.
pub const CHANNEL_DATA_HEADER_LEN: usize = 4;

/// Field offsets of the ChannelData header.
mod field {
    use std::ops::Range;
    pub const CHANNEL: Range<usize> = 0..2;
    pub const LENGTH: Range<usize> = 2..4;
}

/// Whether `n` is a channel number a client may bind (RFC 8656 §12).
pub fn is_valid_channel(n: u16) -> bool {
    (MIN_CHANNEL..=MAX_CHANNEL).contains(&n)
}

/// A validated ChannelData message borrowed from a receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelData<'a> {
    channel: u16,
    data: &'a [u8],
}

impl<'a> ChannelData<'a> {
    /// Validates one ChannelData message: a channel number 0x4000–0x4FFF,
    /// and a length that fits. Up to three padding bytes may follow the data
    /// (RFC 8656 §12.5: padding is optional over UDP, required over streams);
    /// more trailing bytes are an error.
    pub fn parse(buf: &'a [u8]) -> Result<ChannelData<'a>, TurnError> {
        if buf.len() < CHANNEL_DATA_HEADER_LEN {
            return Err(TurnError::TruncatedChannelData {
                needed: CHANNEL_DATA_HEADER_LEN,
                got: buf.len(),
            });
        }
        let channel =
            u16::from_be_bytes([buf[field::CHANNEL.start], buf[field::CHANNEL.start + 1]]);
        if !is_valid_channel(channel) {
            return Err(TurnError::InvalidChannelNumber(channel));
        }
        let len =
            u16::from_be_bytes([buf[field::LENGTH.start], buf[field::LENGTH.start + 1]]) as usize;
        let end = CHANNEL_DATA_HEADER_LEN + len;
        if buf.len() < end {
            return Err(TurnError::TruncatedChannelData {
                needed: end,
                got: buf.len(),
            });
        }
        if buf.len() > padded(end) {
            return Err(TurnError::ChannelDataTrailingBytes {
                declared: len,
                got: buf.len() - CHANNEL_DATA_HEADER_LEN,
            });
        }
        Ok(ChannelData {
            channel,
            data: &buf[CHANNEL_DATA_HEADER_LEN..end],
        })
    }

    /// The channel number.
    pub fn channel(&self) -> u16 {
        self.channel
    }

    /// The application data (without padding).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

pub(super) fn padded(n: usize) -> usize {
    (n + 3) & !3
}

/// Appends a ChannelData message to `out`; with `pad` the message is padded
/// with zeros to a multiple of four bytes, as streams require (§12.5).
/// Data longer than 65535 bytes cannot be framed.
pub fn emit_channel_data(
    out: &mut Vec<u8>,
    channel: u16,
    data: &[u8],
    pad: bool,
) -> Result<(), TurnError> {
    if !is_valid_channel(channel) {
        return Err(TurnError::InvalidChannelNumber(channel));
    }
    let len = u16::try_from(data.len()).map_err(|_| TurnError::DataTooLong(data.len()))?;
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    if pad {
        out.resize(out.len() + (padded(data.len()) - data.len()), 0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_data_round_trips_and_first_byte_is_in_the_turn_range() {
        let mut out = Vec::new();
        emit_channel_data(&mut out, 0x4001, b"hello", false).unwrap();
        assert_eq!(out, b"\x40\x01\x00\x05hello");
        assert!((64..=79).contains(&out[0]));
        let cd = ChannelData::parse(&out).unwrap();
        assert_eq!((cd.channel(), cd.data()), (0x4001, &b"hello"[..]));
        // Padded, as over a stream: still parses to the same data.
        out.clear();
        emit_channel_data(&mut out, 0x4FFF, b"hello", true).unwrap();
        assert_eq!(out, b"\x4f\xff\x00\x05hello\0\0\0");
        assert_eq!(ChannelData::parse(&out).unwrap().data(), b"hello");
    }

    #[test]
    fn malformed_channel_data_gets_typed_errors() {
        assert_eq!(
            ChannelData::parse(b"\x40\x00\x00"),
            Err(TurnError::TruncatedChannelData { needed: 4, got: 3 })
        );
        assert_eq!(
            ChannelData::parse(b"\x50\x00\x00\x00"),
            Err(TurnError::InvalidChannelNumber(0x5000))
        );
        assert_eq!(
            ChannelData::parse(b"\x40\x00\x00\x08abc"),
            Err(TurnError::TruncatedChannelData { needed: 12, got: 7 })
        );
        assert_eq!(
            ChannelData::parse(b"\x40\x00\x00\x01abcdefgh"),
            Err(TurnError::ChannelDataTrailingBytes {
                declared: 1,
                got: 8
            })
        );
        let mut out = Vec::new();
        assert_eq!(
            emit_channel_data(&mut out, 0x3FFF, b"x", false),
            Err(TurnError::InvalidChannelNumber(0x3FFF))
        );
        assert_eq!(
            emit_channel_data(&mut out, 0x4000, &vec![0; 70_000], false),
            Err(TurnError::DataTooLong(70_000))
        );
        assert!(out.is_empty());
    }
}

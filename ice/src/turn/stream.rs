//! Framing of the byte stream to a TURN server over TCP or TLS (RFC 8656
//! §3.1, §12.5): STUN messages are delimited by their length field (RFC
//! 8489 §6.2.2), ChannelData messages by theirs, padded to a multiple of
//! four bytes. Nothing else may appear on the stream (RFC 6062's
//! connection data is not spoken).

use super::channel_data::padded;
use super::TurnError;

/// Largest message a [`StreamFramer`] accepts: a STUN header plus 65535
/// bytes (the length field's maximum), rounded up.
const MAX_FRAME: usize = 20 + 65536;

/// Splits the byte stream of a TCP or TLS connection to a TURN server into
/// messages (RFC 8656 §12.5): a STUN message is 20 bytes of header plus its
/// length field; a ChannelData message is 4 bytes plus its length, padded to
/// a multiple of four. The first byte tells them apart (0..=3 STUN, 64..=79
/// ChannelData); any other first byte is a framing error after which the
/// stream cannot be resynchronised.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    broken: bool,
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> StreamFramer {
        StreamFramer::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.broken {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next whole message, if the buffer holds one. An error means the
    /// stream is not TURN; the framer stays broken and the owner should
    /// close the connection.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, TurnError> {
        if self.broken {
            return Err(TurnError::StreamDesynchronised);
        }
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize;
        let (frame_len, keep) = match self.buf[0] {
            0..=3 => (20 + len, 20 + len),
            64..=79 => (padded(4 + len), 4 + len),
            _ => {
                self.broken = true;
                self.buf.clear();
                return Err(TurnError::StreamDesynchronised);
            }
        };
        debug_assert!(frame_len <= MAX_FRAME);
        if self.buf.len() < frame_len {
            return Ok(None);
        }
        let mut frame: Vec<u8> = self.buf.drain(..frame_len).collect();
        frame.truncate(keep);
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::turn::emit_channel_data;

    #[test]
    fn stream_framer_splits_stun_and_padded_channel_data_across_reads() {
        let mut stream = Vec::new();
        emit_channel_data(&mut stream, 0x4000, b"abcde", true).unwrap();
        // A STUN header with 4 bytes of attributes.
        let stun = [
            0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
            0x80, 0x22, 0x00, 0x00,
        ];
        stream.extend_from_slice(&stun);
        emit_channel_data(&mut stream, 0x4002, b"", true).unwrap();
        let mut f = StreamFramer::new();
        let mut frames = Vec::new();
        for chunk in stream.chunks(3) {
            f.push(chunk);
            while let Some(fr) = f.next_frame().unwrap() {
                frames.push(fr);
            }
        }
        assert_eq!(
            frames,
            vec![
                b"\x40\x00\x00\x05abcde".to_vec(),
                stun.to_vec(),
                b"\x40\x02\x00\x00".to_vec()
            ]
        );
        f.push(b"\x16\xfe\xfd\x00");
        assert_eq!(f.next_frame(), Err(TurnError::StreamDesynchronised));
        f.push(&stun);
        assert_eq!(f.next_frame(), Err(TurnError::StreamDesynchronised));
    }
}

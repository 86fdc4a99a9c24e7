//! Splitting an encoded VP8 frame into RTP payloads (RFC 7741 §4.2, §5).
//!
//! Packetizing computes split points and descriptors only: a payload is a
//! 4-byte descriptor plus a slice of the caller's frame, so packetizing
//! copies and allocates nothing. In a mesh the frame is packetized once and
//! each connection writes its own RTP header (SSRC, sequence number,
//! payload type, timestamp, extensions) followed by the descriptor and the
//! slice straight into its send buffer, where SRTP then protects it in
//! place:
//!
//! ```
//! use meshrtc_rtp::{vp8::Vp8Packetizer, RtpHeader, RtpPacket};
//! let frame = vec![0x10u8; 3000]; // an encoded VP8 frame (P bit 0: key frame)
//! let mut packetizer = Vp8Packetizer::new(100);
//! let payloads = packetizer.packetize(&frame, 1200)?;
//! assert_eq!(payloads.len(), 3);
//! let mut connections = [RtpHeader { payload_type: 96, ssrc: 1, ..RtpHeader::default() },
//!                        RtpHeader { payload_type: 98, ssrc: 2, ..RtpHeader::default() }];
//! let mut datagram = Vec::with_capacity(1500);
//! for header in &mut connections {
//!     header.timestamp = 90_000;
//!     for p in payloads.iter() {
//!         header.sequence_number = header.sequence_number.wrapping_add(1);
//!         header.marker = p.is_last();
//!         datagram.clear();
//!         header.write_parts(&[p.descriptor(), p.data()], 0, &mut datagram)?;
//!         assert!(RtpPacket::parse(&datagram)?.payload().len() <= 1200);
//!         // … protect with this connection's SRTP context and send.
//!     }
//! }
//! # Ok::<(), meshrtc_rtp::RtpError>(())
//! ```

use crate::RtpError;

/// Length of the descriptors the packetizer writes: X, I with a 15-bit
/// picture id.
pub const VP8_DESCRIPTOR_LEN: usize = 4;

/// Packetizes VP8 frames of one stream, numbering them with a 15-bit picture
/// id that advances by one per frame.
#[derive(Debug, Clone)]
pub struct Vp8Packetizer {
    next_picture_id: u16,
}

impl Vp8Packetizer {
    /// Starts at `initial_picture_id` (masked to 15 bits; pick it at random
    /// from the caller's RNG).
    pub fn new(initial_picture_id: u16) -> Vp8Packetizer {
        Vp8Packetizer {
            next_picture_id: initial_picture_id & 0x7FFF,
        }
    }

    /// The picture id the next frame will get.
    pub fn next_picture_id(&self) -> u16 {
        self.next_picture_id
    }

    /// Sets the picture id the next frame will get (masked to 15 bits):
    /// the packetizers of simulcast layers give every layer of one capture
    /// the same id, so a receiver moved between layers sees no gap
    /// (RFC 7741 §4.2).
    pub fn set_next_picture_id(&mut self, picture_id: u16) {
        self.next_picture_id = picture_id & 0x7FFF;
    }

    /// Splits `frame` into payloads of at most `max_payload` bytes each,
    /// descriptor included, of near-equal sizes. The first payload has S = 1;
    /// all have PID = 0 (the frame is not split by partition).
    pub fn packetize<'f>(
        &mut self,
        frame: &'f [u8],
        max_payload: usize,
    ) -> Result<Vp8Payloads<'f>, RtpError> {
        if frame.is_empty() {
            return Err(RtpError::EmptyFrame);
        }
        if max_payload <= VP8_DESCRIPTOR_LEN {
            return Err(RtpError::PayloadBudgetTooSmall {
                max: max_payload,
                min: VP8_DESCRIPTOR_LEN + 1,
            });
        }
        let capacity = max_payload - VP8_DESCRIPTOR_LEN;
        let count = frame.len().div_ceil(capacity);
        let picture_id = self.next_picture_id;
        self.next_picture_id = (picture_id + 1) & 0x7FFF;
        Ok(Vp8Payloads {
            frame,
            picture_id,
            count,
            base: frame.len() / count,
            extra: frame.len() % count,
        })
    }
}

/// The payloads of one frame: descriptors computed, data borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Vp8Payloads<'f> {
    frame: &'f [u8],
    picture_id: u16,
    count: usize,
    /// Every payload carries `base` bytes of the frame, the first `extra`
    /// one byte more.
    base: usize,
    extra: usize,
}

impl<'f> Vp8Payloads<'f> {
    /// Number of payloads (RTP packets).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Always false: a frame gives at least one payload.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The frame's picture id.
    pub fn picture_id(&self) -> u16 {
        self.picture_id
    }

    /// Whether the frame is a key frame (RFC 7741 §4.3).
    pub fn is_keyframe(&self) -> bool {
        super::frame_is_keyframe(self.frame)
    }

    /// Payload `i`.
    pub fn get(&self, i: usize) -> Option<Vp8Payload<'f>> {
        if i >= self.count {
            return None;
        }
        let start = i * self.base + i.min(self.extra);
        let len = self.base + usize::from(i < self.extra);
        let pid = self.picture_id.to_be_bytes();
        // X = 1, S on the first payload; I = 1; M = 1 and 15 bits of id.
        let s = if i == 0 { 0x10 } else { 0 };
        Some(Vp8Payload {
            descriptor: [0x80 | s, 0x80, 0x80 | pid[0], pid[1]],
            data: &self.frame[start..start + len],
            last: i + 1 == self.count,
        })
    }

    /// The payloads in order.
    pub fn iter(&self) -> Vp8PayloadIter<'f> {
        Vp8PayloadIter {
            payloads: *self,
            next: 0,
            end: self.count,
        }
    }

    /// Sum of the payload lengths.
    pub fn total_len(&self) -> usize {
        self.frame.len() + self.count * VP8_DESCRIPTOR_LEN
    }
}

/// Iterator over the payloads of a frame.
#[derive(Debug, Clone)]
pub struct Vp8PayloadIter<'f> {
    payloads: Vp8Payloads<'f>,
    next: usize,
    end: usize,
}

impl<'f> Iterator for Vp8PayloadIter<'f> {
    type Item = Vp8Payload<'f>;
    fn next(&mut self) -> Option<Vp8Payload<'f>> {
        if self.next >= self.end {
            return None;
        }
        self.next += 1;
        self.payloads.get(self.next - 1)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.saturating_sub(self.next);
        (n, Some(n))
    }
}

impl<'f> DoubleEndedIterator for Vp8PayloadIter<'f> {
    fn next_back(&mut self) -> Option<Vp8Payload<'f>> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        self.payloads.get(self.end)
    }
}

impl ExactSizeIterator for Vp8PayloadIter<'_> {}

/// One RTP payload of a packetized frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Payload<'f> {
    descriptor: [u8; VP8_DESCRIPTOR_LEN],
    data: &'f [u8],
    last: bool,
}

impl<'f> Vp8Payload<'f> {
    /// The payload descriptor bytes.
    pub fn descriptor(&self) -> &[u8] {
        &self.descriptor
    }

    /// The slice of the frame this payload carries.
    pub fn data(&self) -> &'f [u8] {
        self.data
    }

    /// Whether this is the frame's last payload (set the RTP marker).
    pub fn is_last(&self) -> bool {
        self.last
    }

    /// Descriptor plus data length.
    pub fn len(&self) -> usize {
        VP8_DESCRIPTOR_LEN + self.data.len()
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends descriptor and data to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.descriptor);
        out.extend_from_slice(self.data);
    }
}

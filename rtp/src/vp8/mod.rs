//! The VP8 RTP payload format (RFC 7741): payload descriptor (§4.2), key
//! frame detection from the payload header (§4.3), a packetizer and a frame
//! assembler.
//!
//! ```text
//!       0 1 2 3 4 5 6 7
//!      +-+-+-+-+-+-+-+-+
//!      |X|R|N|S|R| PID | (required)
//!      +-+-+-+-+-+-+-+-+
//! X:   |I|L|T|K| RSV   | (if X)
//!      +-+-+-+-+-+-+-+-+
//! I:   |M| PictureID   | (if I; a second byte if M)
//!      +-+-+-+-+-+-+-+-+
//! L:   |   TL0PICIDX   | (if L)
//!      +-+-+-+-+-+-+-+-+
//! T/K: |TID|Y| KEYIDX  | (if T or K)
//!      +-+-+-+-+-+-+-+-+
//! ```

mod assembler;
mod packetizer;

pub use assembler::{
    AssembledFrame, AssemblerConfig, AssemblerStats, ReleasePolicy, Vp8Assembler, MAX_EXTENDED_SEQ,
};
pub use packetizer::{Vp8Packetizer, Vp8Payload, Vp8PayloadIter, Vp8Payloads, VP8_DESCRIPTOR_LEN};

use crate::RtpError;

/// A picture id: 7 bits (M = 0) or 15 bits (M = 1), kept as sent so a
/// descriptor writes back to the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PictureId {
    /// 7-bit form.
    Short(u8),
    /// 15-bit form.
    Long(u16),
}

impl PictureId {
    /// The numeric value.
    pub fn value(self) -> u16 {
        match self {
            PictureId::Short(v) => u16::from(v & 0x7F),
            PictureId::Long(v) => v & 0x7FFF,
        }
    }
}

/// The temporal layer fields of the T/K byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TemporalLayer {
    /// TID, the temporal layer index (2 bits).
    pub tid: u8,
    /// Y, layer sync: the frame depends only on the base layer key frame.
    pub layer_sync: bool,
}

/// The VP8 payload descriptor (RFC 7741 §4.2). Reserved bits are ignored
/// when reading and written as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Vp8Descriptor {
    /// N: the frame is not used as a reference.
    pub non_reference: bool,
    /// S: the payload starts a VP8 partition.
    pub start_of_partition: bool,
    /// PID: the partition index (3 bits).
    pub partition_index: u8,
    /// I (and M): the picture id.
    pub picture_id: Option<PictureId>,
    /// L: TL0PICIDX, the running index of base-layer frames.
    pub tl0_pic_idx: Option<u8>,
    /// T: TID and Y.
    pub temporal: Option<TemporalLayer>,
    /// K: KEYIDX, the running index of key frames (5 bits).
    pub key_idx: Option<u8>,
}

impl Vp8Descriptor {
    /// Reads the descriptor at the start of an RTP payload; returns it and
    /// its length.
    pub fn parse(payload: &[u8]) -> Result<(Vp8Descriptor, usize), RtpError> {
        let truncated = |needed: usize| RtpError::Vp8DescriptorTruncated {
            needed,
            got: payload.len(),
        };
        let b0 = *payload.first().ok_or(truncated(1))?;
        let mut d = Vp8Descriptor {
            non_reference: b0 & 0x20 != 0,
            start_of_partition: b0 & 0x10 != 0,
            partition_index: b0 & 0x07,
            ..Vp8Descriptor::default()
        };
        if b0 & 0x80 == 0 {
            return Ok((d, 1));
        }
        let x = *payload.get(1).ok_or(truncated(2))?;
        let mut pos = 2;
        let byte = |pos: &mut usize| -> Result<u8, RtpError> {
            let b = *payload.get(*pos).ok_or(truncated(*pos + 1))?;
            *pos += 1;
            Ok(b)
        };
        if x & 0x80 != 0 {
            let p = byte(&mut pos)?;
            d.picture_id = Some(if p & 0x80 != 0 {
                let lo = byte(&mut pos)?;
                PictureId::Long(u16::from_be_bytes([p & 0x7F, lo]))
            } else {
                PictureId::Short(p)
            });
        }
        if x & 0x40 != 0 {
            d.tl0_pic_idx = Some(byte(&mut pos)?);
        }
        if x & 0x30 != 0 {
            let tk = byte(&mut pos)?;
            if x & 0x20 != 0 {
                d.temporal = Some(TemporalLayer {
                    tid: tk >> 6,
                    layer_sync: tk & 0x20 != 0,
                });
            }
            if x & 0x10 != 0 {
                d.key_idx = Some(tk & 0x1F);
            }
        }
        Ok((d, pos))
    }

    /// Whether this payload starts a frame: S = 1 and PID = 0.
    pub fn starts_frame(&self) -> bool {
        self.start_of_partition && self.partition_index == 0
    }

    fn has_extension(&self) -> bool {
        self.picture_id.is_some()
            || self.tl0_pic_idx.is_some()
            || self.temporal.is_some()
            || self.key_idx.is_some()
    }

    /// Length on the wire.
    pub fn len(&self) -> usize {
        let mut n = 1;
        if self.has_extension() {
            n += 1;
            n += match self.picture_id {
                None => 0,
                Some(PictureId::Short(_)) => 1,
                Some(PictureId::Long(_)) => 2,
            };
            n += usize::from(self.tl0_pic_idx.is_some());
            n += usize::from(self.temporal.is_some() || self.key_idx.is_some());
        }
        n
    }

    /// Always false: a descriptor has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the descriptor into `buf` (at least [`Vp8Descriptor::len`]
    /// bytes, at most 6); returns the length. Out-of-range fields are
    /// masked to their width.
    pub fn write_into(&self, buf: &mut [u8; 6]) -> usize {
        let ext = self.has_extension();
        buf[0] = (u8::from(ext) << 7)
            | (u8::from(self.non_reference) << 5)
            | (u8::from(self.start_of_partition) << 4)
            | (self.partition_index & 0x07);
        if !ext {
            return 1;
        }
        buf[1] = (u8::from(self.picture_id.is_some()) << 7)
            | (u8::from(self.tl0_pic_idx.is_some()) << 6)
            | (u8::from(self.temporal.is_some()) << 5)
            | (u8::from(self.key_idx.is_some()) << 4);
        let mut pos = 2;
        match self.picture_id {
            None => {}
            Some(PictureId::Short(v)) => {
                buf[pos] = v & 0x7F;
                pos += 1;
            }
            Some(PictureId::Long(v)) => {
                let b = (v & 0x7FFF).to_be_bytes();
                buf[pos] = 0x80 | b[0];
                buf[pos + 1] = b[1];
                pos += 2;
            }
        }
        if let Some(t) = self.tl0_pic_idx {
            buf[pos] = t;
            pos += 1;
        }
        if self.temporal.is_some() || self.key_idx.is_some() {
            let (tid, y) = self
                .temporal
                .map_or((0, false), |t| (t.tid & 0x03, t.layer_sync));
            buf[pos] = (tid << 6) | (u8::from(y) << 5) | (self.key_idx.unwrap_or(0) & 0x1F);
            pos += 1;
        }
        pos
    }

    /// Appends the descriptor to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut b = [0u8; 6];
        let n = self.write_into(&mut b);
        out.extend_from_slice(&b[..n]);
    }
}

/// Whether the VP8 data after the descriptor starts a key frame
/// (RFC 7741 §4.3): the payload starts the frame (S = 1, PID = 0) and the
/// inverse key frame bit P of the payload header's first byte is 0.
pub fn is_keyframe(descriptor: &Vp8Descriptor, vp8_data: &[u8]) -> bool {
    descriptor.starts_frame() && vp8_data.first().is_some_and(|b| b & 0x01 == 0)
}

/// Whether an encoded VP8 frame is a key frame (P bit of its first byte,
/// RFC 6386 §9.1).
pub fn frame_is_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 0x01 == 0)
}

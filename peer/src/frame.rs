//! Media frames on their way out and in.
//!
//! A mesh node encodes a frame once and packetizes it once; every
//! connection then stamps its own SSRC, sequence numbers, payload type and
//! header extensions around the same payloads (ARCHITECTURE.md, "data flow
//! of one media frame"). [`PacketizedFrame`] is that shared, once-made
//! part: the encoded bytes and where each RTP payload's descriptor and data
//! come from.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_rtp::RtpError;
use meshrtc_sdp::negotiate::MediaKind;

/// One RTP payload of a [`PacketizedFrame`]: a payload descriptor (VP8's,
/// up to 6 bytes; empty for Opus) followed by a range of the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadSlice {
    /// Descriptor bytes (`descriptor[..descriptor_len]`).
    pub descriptor: [u8; 6],
    /// How many of them are used.
    pub descriptor_len: u8,
    /// The part of the frame this payload carries.
    pub range: Range<usize>,
}

/// An encoded frame split into RTP payloads once, for any number of
/// connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketizedFrame {
    /// Audio or video.
    pub kind: MediaKind,
    /// The encoded frame.
    pub data: Arc<[u8]>,
    /// The payloads in order; the last one carries the marker bit (video).
    pub payloads: Vec<PayloadSlice>,
    /// Media time in the codec clock (90 kHz video, 48 kHz Opus), from an
    /// arbitrary origin: each connection adds its own random offset.
    pub rtp_time: u32,
    /// Whether this is a key frame.
    pub keyframe: bool,
    /// When it was captured (for latency statistics).
    pub captured: Option<Instant>,
}

impl PacketizedFrame {
    /// Splits an encoded VP8 frame (RFC 7741) into payloads of at most
    /// `max_payload` bytes, descriptors included.
    pub fn vp8(
        packetizer: &mut Vp8Packetizer,
        frame: Arc<[u8]>,
        rtp_time: u32,
        max_payload: usize,
    ) -> Result<PacketizedFrame, RtpError> {
        let p = packetizer.packetize(&frame, max_payload)?;
        let keyframe = p.is_keyframe();
        let base = frame.as_ptr() as usize;
        let payloads = p
            .iter()
            .map(|pl| {
                let mut descriptor = [0u8; 6];
                let d = pl.descriptor();
                descriptor[..d.len()].copy_from_slice(d);
                let start = pl.data().as_ptr() as usize - base;
                PayloadSlice {
                    descriptor,
                    descriptor_len: d.len() as u8,
                    range: start..start + pl.data().len(),
                }
            })
            .collect();
        Ok(PacketizedFrame {
            kind: MediaKind::Video,
            data: frame,
            payloads,
            rtp_time,
            keyframe,
            captured: None,
        })
    }

    /// One Opus packet (RFC 7587: one payload, no descriptor).
    pub fn opus(packet: Arc<[u8]>, rtp_time: u32) -> PacketizedFrame {
        let len = packet.len();
        PacketizedFrame {
            kind: MediaKind::Audio,
            data: packet,
            payloads: vec![PayloadSlice {
                descriptor: [0; 6],
                descriptor_len: 0,
                range: 0..len,
            }],
            rtp_time,
            keyframe: false,
            captured: None,
        }
    }

    /// The parts of payload `i`: descriptor and data.
    pub fn parts(&self, i: usize) -> Option<[&[u8]; 2]> {
        let p = self.payloads.get(i)?;
        let data = self.data.get(p.range.clone())?;
        Some([&p.descriptor[..usize::from(p.descriptor_len)], data])
    }
}

/// A whole frame received from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFrame {
    /// The m-line it belongs to.
    pub mid: String,
    /// Audio or video.
    pub kind: MediaKind,
    /// The sender's SSRC.
    pub ssrc: u32,
    /// The payload type it came with.
    pub payload_type: u8,
    /// Its RTP timestamp.
    pub rtp_timestamp: u32,
    /// Whether it is a key frame (video).
    pub keyframe: bool,
    /// The encoded frame (VP8 frame or Opus packet).
    pub data: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_payload_ranges_cover_the_frame_once_in_order() {
        let frame: Arc<[u8]> = (0..5000u32).map(|i| i as u8).collect::<Vec<_>>().into();
        let mut p = Vp8Packetizer::new(7);
        let f = PacketizedFrame::vp8(&mut p, frame.clone(), 1234, 1000).unwrap();
        assert_eq!(f.payloads.len(), 6);
        let mut next = 0;
        for (i, s) in f.payloads.iter().enumerate() {
            assert_eq!(s.range.start, next);
            next = s.range.end;
            let [d, data] = f.parts(i).unwrap();
            assert!(d.len() + data.len() <= 1000);
            assert_eq!(d[0] & 0x10 != 0, i == 0, "S bit on the first payload only");
        }
        assert_eq!(next, 5000);
        assert!(f.parts(6).is_none());
        let o = PacketizedFrame::opus(vec![1, 2, 3].into(), 960);
        assert_eq!(o.parts(0).unwrap(), [&[][..], &[1, 2, 3][..]]);
    }
}

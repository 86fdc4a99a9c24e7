//! A fake video codec for simulator tests.
//!
//! Real VP8 costs CPU that a network simulator running hundreds of seconds of
//! virtual time does not have. The fake encoder makes frames that cost
//! nothing to produce but behave like VP8 where the rest of the stack looks:
//!
//! - sizes: the target bitrate over the frame rate on average, key frames
//!   `keyframe_ratio` times larger than delta frames, with deterministic
//!   jitter from a seed;
//! - bytes: a VP8 frame tag (RFC 6386 §9.1: bit 0 is 0 for key frames, bits
//!   1-3 version, bit 4 show_frame, bits 5-23 first partition size), and on
//!   key frames the start code `9d 01 2a` and 14-bit width and height
//!   (§9.1, little endian), so an RTP payload parser sees a VP8 frame;
//! - dependencies: [`FakeDecoder`] refuses a delta frame unless every frame
//!   since the last key frame arrived, as a real decoder without its
//!   reference would.
//!
//! After the tag (and key frame header) comes the fake payload header:
//! `magic "FK"`, encoder sequence number (u32), frame number (u32), capture
//! time (u64, µs), total frame length (u32), all big endian, then a CRC-32
//! (IEEE) of every byte of the frame except the CRC itself, then filler.

use crate::vp8::EncodedFrame;
use crate::MediaError;

const KEY_START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];
const MAGIC: [u8; 2] = *b"FK";
/// Tag (3) + magic (2) + sequence (4) + frame number (4) + capture time (8)
/// + length (4) + CRC (4).
const DELTA_MIN: usize = 29;
/// Delta header plus start code (3), width (2), height (2).
const KEY_MIN: usize = DELTA_MIN + 7;

/// Settings for [`FakeEncoder`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FakeConfig {
    /// Target bitrate in bits per second.
    pub bitrate_bps: u32,
    /// Frames per second the caller will encode at.
    pub fps: u32,
    /// Automatic key frame every this many frames (counted from the last key
    /// frame, forced or not); `None`: only the first and forced ones.
    pub keyframe_interval_frames: Option<u32>,
    /// Key frame size over delta frame size (real VP8: about 5 to 10).
    pub keyframe_ratio: f64,
    /// Width written into key frame headers.
    pub width: u16,
    /// Height written into key frame headers.
    pub height: u16,
}

impl FakeConfig {
    /// 320x240, no periodic key frames, key frames 6x delta frames.
    pub fn new(bitrate_bps: u32, fps: u32) -> Self {
        FakeConfig {
            bitrate_bps,
            fps,
            keyframe_interval_frames: None,
            keyframe_ratio: 6.0,
            width: 320,
            height: 240,
        }
    }
}

/// What a fake frame says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FakeFrameInfo {
    /// The frame number the caller gave the encoder.
    pub frame_number: u32,
    /// The capture time the caller gave the encoder, in microseconds.
    pub capture_time_us: u64,
    /// Whether it is a key frame.
    pub keyframe: bool,
    /// The encoder's own count of frames produced before this one (what the
    /// decoder uses to see gaps, whatever frame numbers the caller uses).
    pub sequence: u32,
}

/// SplitMix64: a tiny deterministic generator, enough for sizes and filler.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Produces fake VP8-like frames; see the module docs.
#[derive(Debug, Clone)]
pub struct FakeEncoder {
    config: FakeConfig,
    rng: SplitMix64,
    sequence: u32,
    since_key: Option<u32>,
}

impl FakeEncoder {
    /// Creates an encoder; the same config and seed give the same frames.
    pub fn new(config: FakeConfig, seed: u64) -> Self {
        FakeEncoder {
            config,
            rng: SplitMix64(seed),
            sequence: 0,
            since_key: None,
        }
    }

    /// The configuration (with the current bitrate).
    pub fn config(&self) -> &FakeConfig {
        &self.config
    }

    /// Changes the target bitrate from the next frame on.
    pub fn set_bitrate(&mut self, bps: u32) {
        self.config.bitrate_bps = bps;
    }

    /// Target sizes (key, delta) in bytes for the current settings.
    fn target_sizes(&self) -> (f64, f64) {
        let avg = f64::from(self.config.bitrate_bps) / 8.0 / f64::from(self.config.fps.max(1));
        let ratio = self.config.keyframe_ratio.max(1.0);
        let delta = match self.config.keyframe_interval_frames {
            // One key frame and (k - 1) delta frames per interval average out
            // to `avg`.
            Some(k) if k > 0 => avg * f64::from(k) / (ratio + f64::from(k) - 1.0),
            _ => avg,
        };
        (delta * ratio, delta)
    }

    /// Encodes a frame. Key frames come first, on the interval, and when
    /// forced.
    pub fn encode(
        &mut self,
        frame_number: u32,
        capture_time_us: u64,
        force_keyframe: bool,
    ) -> EncodedFrame {
        let keyframe = force_keyframe
            || match (self.since_key, self.config.keyframe_interval_frames) {
                (None, _) => true,
                (Some(n), Some(k)) => k > 0 && n + 1 >= k,
                (Some(_), None) => false,
            };
        let (key_size, delta_size) = self.target_sizes();
        let target = if keyframe { key_size } else { delta_size };
        // ±20% jitter, mean preserving.
        let jitter = 0.8 + 0.4 * self.rng.unit();
        let min = if keyframe { KEY_MIN } else { DELTA_MIN };
        let len = ((target * jitter).round() as usize).max(min);
        let data = build_frame(
            FakeFrameInfo {
                frame_number,
                capture_time_us,
                keyframe,
                sequence: self.sequence,
            },
            (self.config.width, self.config.height),
            len,
            &mut self.rng,
        );
        self.sequence = self.sequence.wrapping_add(1);
        self.since_key = Some(if keyframe {
            0
        } else {
            self.since_key.map_or(0, |n| n.saturating_add(1))
        });
        EncodedFrame {
            data,
            keyframe,
            pts: capture_time_us,
        }
    }
}

fn build_frame(info: FakeFrameInfo, dims: (u16, u16), len: usize, rng: &mut SplitMix64) -> Vec<u8> {
    let mut d = Vec::with_capacity(len);
    let header = if info.keyframe { 10 } else { 3 };
    // RFC 6386 §9.1 frame tag; the "first partition" is the rest of the frame.
    let part = ((len - header) as u32).min((1 << 19) - 1);
    let tag: u32 = u32::from(!info.keyframe) | (1 << 4) | (part << 5);
    d.extend_from_slice(&tag.to_le_bytes()[..3]);
    if info.keyframe {
        d.extend_from_slice(&KEY_START_CODE);
        d.extend_from_slice(&(dims.0 & 0x3fff).to_le_bytes());
        d.extend_from_slice(&(dims.1 & 0x3fff).to_le_bytes());
    }
    d.extend_from_slice(&MAGIC);
    d.extend_from_slice(&info.sequence.to_be_bytes());
    d.extend_from_slice(&info.frame_number.to_be_bytes());
    d.extend_from_slice(&info.capture_time_us.to_be_bytes());
    d.extend_from_slice(&(len as u32).to_be_bytes());
    let crc_at = d.len();
    d.extend_from_slice(&[0; 4]);
    while d.len() < len {
        let chunk = rng.next().to_le_bytes();
        let n = (len - d.len()).min(8);
        d.extend_from_slice(&chunk[..n]);
    }
    let crc = frame_crc(&d, crc_at);
    d[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
    d
}

fn frame_crc(data: &[u8], crc_at: usize) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&data[..crc_at]);
    h.update(&data[crc_at + 4..]);
    h.finalize()
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads a fake frame's header and checks its length and checksum. `None` if
/// the data is not an intact fake frame.
pub fn read_frame(data: &[u8]) -> Option<FakeFrameInfo> {
    let first = *data.first()?;
    let keyframe = first & 1 == 0;
    let min = if keyframe { KEY_MIN } else { DELTA_MIN };
    if data.len() < min {
        return None;
    }
    let mut at = 3;
    if keyframe {
        if data[3..6] != KEY_START_CODE {
            return None;
        }
        at = 10;
    }
    if data[at..at + 2] != MAGIC {
        return None;
    }
    let sequence = be32(&data[at + 2..]);
    let frame_number = be32(&data[at + 6..]);
    let capture_time_us = u64::from_be_bytes(data[at + 10..at + 18].try_into().ok()?);
    let len = be32(&data[at + 18..]) as usize;
    let crc_at = at + 22;
    if len != data.len() || be32(&data[crc_at..]) != frame_crc(data, crc_at) {
        return None;
    }
    Some(FakeFrameInfo {
        frame_number,
        capture_time_us,
        keyframe,
        sequence,
    })
}

/// Checks fake frames the way a decoder would use them: a delta frame
/// decodes only if the frame before it (by encoder sequence) decoded.
#[derive(Debug, Clone, Default)]
pub struct FakeDecoder {
    /// Sequence number of the last frame decoded, while the chain from the
    /// last key frame is unbroken.
    last_good: Option<u32>,
    /// Frames decoded.
    pub frames_decoded: u64,
    /// Frames rejected (corrupt, or delta without reference).
    pub decode_errors: u64,
}

impl FakeDecoder {
    /// A decoder waiting for its first key frame.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the decoder needs a key frame before it can decode anything
    /// (what makes a receiver send PLI).
    pub fn needs_keyframe(&self) -> bool {
        self.last_good.is_none()
    }

    /// "Decodes" one frame.
    pub fn decode(&mut self, data: &[u8]) -> Result<FakeFrameInfo, MediaError> {
        let Some(info) = read_frame(data) else {
            // A frame that cannot be read breaks the chain like a lost one.
            self.last_good = None;
            self.decode_errors += 1;
            return Err(MediaError::CorruptFrame);
        };
        let ok = info.keyframe || self.last_good == Some(info.sequence.wrapping_sub(1));
        if !ok {
            let last_good = self.last_good.take();
            self.decode_errors += 1;
            return Err(MediaError::MissingReference {
                sequence: info.sequence,
                last_good,
            });
        }
        self.last_good = Some(info.sequence);
        self.frames_decoded += 1;
        Ok(info)
    }
}

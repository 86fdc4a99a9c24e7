//! What the calls send: the test pattern through VP8 or an IVF file's
//! frames, the tone or a WAV file's samples (files loop). Shared by the
//! copy-paste call and the mesh member.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use meshrtc_media::sink::{IvfReader, WavReader};
use meshrtc_media::source::{TestPattern, ToneSource};
use meshrtc_media::vp8::{Vp8Encoder, Vp8EncoderConfig};

/// Microseconds of wall clock: the capture time stamped into the pixels
/// (both ends on one machine share it, which gives end-to-end latency).
pub fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The video sent.
pub enum VideoIn {
    /// The test pattern and its encoder.
    Pattern(TestPattern, Vp8Encoder),
    /// An IVF file's VP8 frames and the next one to send.
    File(Vec<Vec<u8>>, usize),
}

impl VideoIn {
    /// The file's frames, or the test pattern at this size, rate and
    /// bitrate, with `marks` white squares on its ramp when given (to tell
    /// mesh members apart).
    pub fn open(
        file: Option<&Path>,
        (width, height, fps): (u32, u32, u32),
        bps: u32,
        marks: Option<u32>,
    ) -> Result<VideoIn, String> {
        match file {
            Some(p) => {
                let f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let mut r =
                    IvfReader::new(std::io::BufReader::new(f)).map_err(|e| e.to_string())?;
                let mut frames = Vec::new();
                while let Some(fr) = r.next_frame().map_err(|e| e.to_string())? {
                    frames.push(fr.data);
                }
                if frames.is_empty() {
                    return Err(format!("{}: no frames", p.display()));
                }
                Ok(VideoIn::File(frames, 0))
            }
            None => {
                let enc = Vp8Encoder::new(Vp8EncoderConfig::new(width, height, fps, bps))
                    .map_err(|e| e.to_string())?;
                let pattern = match marks {
                    Some(m) => TestPattern::with_marks(width, height, fps, m),
                    None => TestPattern::new(width, height, fps),
                };
                Ok(VideoIn::Pattern(pattern, enc))
            }
        }
    }

    /// The next encoded frame and whether it is a key frame (a file cannot
    /// honour key frame requests; its own key frames are reported).
    /// `bitrate` of `None` leaves the encoder's as it is.
    pub fn next(&mut self, key: bool, pts: u64, bitrate: Option<u32>) -> Option<(Vec<u8>, bool)> {
        match self {
            VideoIn::Pattern(p, enc) => {
                if let Some(b) = bitrate {
                    enc.set_bitrate(b);
                }
                let img = p.next_frame(wall_us());
                enc.encode(&img, pts, key)
                    .ok()
                    .flatten()
                    .map(|f| (f.data, f.keyframe))
            }
            VideoIn::File(frames, i) => {
                let d = frames[*i % frames.len()].clone();
                *i += 1;
                // RFC 6386 §9.1: the P bit (bit 0) is clear on key frames.
                let key = d.first().is_some_and(|b| b & 1 == 0);
                Some((d, key))
            }
        }
    }
}

/// The audio sent, 20 ms at 48 kHz mono at a time.
pub enum AudioIn {
    /// The tone with beeps.
    Tone(ToneSource),
    /// A WAV file's samples and the next position.
    File(Vec<i16>, usize),
}

impl AudioIn {
    /// The file's samples, or the tone.
    pub fn open(file: Option<&Path>) -> Result<AudioIn, String> {
        let Some(p) = file else {
            return Ok(AudioIn::Tone(ToneSource::new(48_000, 1, 440.0)));
        };
        let f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let r = WavReader::new(std::io::BufReader::new(f)).map_err(|e| e.to_string())?;
        let samples = r.samples().map_err(|e| e.to_string())?;
        if samples.len() < 960 {
            return Err(format!("{}: shorter than 20 ms", p.display()));
        }
        Ok(AudioIn::File(samples, 0))
    }

    /// The next 20 ms.
    pub fn next(&mut self) -> Vec<i16> {
        match self {
            AudioIn::Tone(t) => t.next_frame(),
            AudioIn::File(s, pos) => {
                let v = (0..960).map(|k| s[(*pos + k) % s.len()]).collect();
                *pos = (*pos + 960) % s.len();
                v
            }
        }
    }
}

/// A 2-worker tokio runtime for a command.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

//! What the calls send: a synthetic source (the test pattern or the
//! camera-like texture) or a Y4M file's raw pictures through a live VP8
//! encoder that follows the congestion controller's target, or an IVF
//! file's pre-encoded frames as they are; the tone or a WAV file's samples.
//! Files loop. Shared by the copy-paste call and the mesh member.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use meshrtc_media::sink::{IvfReader, WavReader};
use meshrtc_media::source::{half_size_stamped, TestPattern, ToneSource};
use meshrtc_media::texture::TextureSource;
use meshrtc_media::vp8::{I420Frame, Vp8Encoder, Vp8EncoderConfig};
use meshrtc_media::y4m::Y4mReader;

/// Microseconds of wall clock: the capture time stamped into the pixels
/// (both ends on one machine share it, which gives end-to-end latency).
pub fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Which synthetic video to send (`--source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SourceKind {
    /// Colour bars and a bouncing box: a few hundred kbit/s of VP8.
    #[default]
    Pattern,
    /// A panned detailed texture with noise, like a camera: needs about
    /// 2 Mbit/s at 640x360 and 30 fps.
    Texture,
}

/// What to send as video.
#[derive(Debug, Clone, Copy)]
pub struct VideoSpec<'a> {
    /// An IVF (VP8) or Y4M file instead of a synthetic source.
    pub file: Option<&'a Path>,
    /// The synthetic source when there is no file.
    pub source: SourceKind,
    /// Size and rate of a synthetic source (a Y4M file has its own).
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// See `width`.
    pub fps: u32,
    /// The encoder's first bitrate.
    pub bps: u32,
    /// White squares on the picture, to tell mesh members apart.
    pub marks: Option<u32>,
    /// Simulcast layers to encode (1 or 2): with 2, a half-size layer
    /// (each side halved, 2x2 averaging) is encoded too. An IVF file has
    /// one.
    pub layers: u32,
}

/// Raw pictures to encode.
pub enum Raw {
    /// The test pattern.
    Pattern(TestPattern),
    /// The camera-like texture.
    Texture(Box<TextureSource>),
    /// A Y4M file.
    Y4m(Y4mLoop),
}

/// A Y4M file read picture by picture, from the start again at its end.
pub struct Y4mLoop {
    path: PathBuf,
    reader: Y4mReader<BufReader<std::fs::File>>,
    warned: bool,
}

impl Y4mLoop {
    fn reader(path: &Path) -> Result<Y4mReader<BufReader<std::fs::File>>, String> {
        let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Y4mReader::new(BufReader::new(f)).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Opens the file and reads it through once, so that a malformed or
    /// truncated picture anywhere is an error now rather than mid-call.
    fn open(path: &Path) -> Result<Y4mLoop, String> {
        let n = Self::reader(path)?
            .count_frames()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            return Err(format!("{}: no pictures", path.display()));
        }
        Ok(Y4mLoop {
            path: path.to_path_buf(),
            reader: Self::reader(path)?,
            warned: false,
        })
    }

    fn next(&mut self) -> Option<I420Frame> {
        let r = match self.reader.next_frame() {
            Ok(Some(f)) => return Some(f),
            Ok(None) => Self::reader(&self.path).and_then(|mut r| {
                let f = r
                    .next_frame()
                    .map_err(|e| format!("{}: {e}", self.path.display()));
                self.reader = r;
                f
            }),
            Err(e) => Err(format!("{}: {e}", self.path.display())),
        };
        match r {
            Ok(f) => f,
            Err(e) => {
                // The file changed under us: say so once, send nothing.
                if !std::mem::replace(&mut self.warned, true) {
                    eprintln!("meshrtc: {e}");
                }
                None
            }
        }
    }
}

/// The source's own size and rate, and how many times each side of the
/// single layer's picture is halved before encoding
/// ([`VideoIn::set_scale`]).
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    width: u32,
    height: u32,
    fps: u32,
    step: u32,
}

/// The video sent.
pub enum VideoIn {
    /// Raw pictures (a synthetic source or a Y4M file) and their encoder,
    /// which follows the bitrate asked of it, and the half-size layer's
    /// encoder with two layers.
    Live(Box<(Raw, Vp8Encoder, Option<Vp8Encoder>, Scale)>, u32),
    /// An IVF file's VP8 frames and the next one to send: pre-encoded, so
    /// their bitrate cannot follow congestion control.
    File(Vec<Vec<u8>>, usize),
}

impl VideoIn {
    /// The file's frames (IVF, or Y4M pictures to encode; told apart by
    /// their signatures), or the synthetic source at this size, rate and
    /// bitrate.
    pub fn open(spec: VideoSpec<'_>) -> Result<VideoIn, String> {
        let (raw, (w, h, fps)) = match spec.file {
            Some(p) => {
                let mut f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let mut magic = Vec::new();
                (&mut f)
                    .take(9)
                    .read_to_end(&mut magic)
                    .map_err(|e| format!("{}: {e}", p.display()))?;
                if magic.starts_with(b"DKIF") {
                    return open_ivf(p);
                }
                if magic != b"YUV4MPEG2" {
                    return Err(format!(
                        "{}: neither an IVF (VP8) nor a Y4M (YUV4MPEG2) file",
                        p.display()
                    ));
                }
                let y = Y4mLoop::open(p)?;
                let hd = y.reader.header();
                let size = (hd.width, hd.height, hd.fps_rounded());
                (Raw::Y4m(y), size)
            }
            None => {
                let (w, h, fps) = (spec.width, spec.height, spec.fps);
                let raw = match (spec.source, spec.marks) {
                    (SourceKind::Pattern, Some(m)) => {
                        Raw::Pattern(TestPattern::with_marks(w, h, fps, m))
                    }
                    (SourceKind::Pattern, None) => Raw::Pattern(TestPattern::new(w, h, fps)),
                    (SourceKind::Texture, Some(m)) => {
                        Raw::Texture(Box::new(TextureSource::with_marks(w, h, fps, m)))
                    }
                    (SourceKind::Texture, None) => {
                        Raw::Texture(Box::new(TextureSource::new(w, h, fps)))
                    }
                };
                (raw, (w, h, fps))
            }
        };
        let enc = Vp8Encoder::new(Vp8EncoderConfig::new(w, h, fps, spec.bps))
            .map_err(|e| format!("video {w}x{h} at {fps} fps: {e}"))?;
        let small = if spec.layers >= 2 && w >= 2 && h >= 2 {
            let (w2, h2) = (w / 2, h / 2);
            Some(
                Vp8Encoder::new(Vp8EncoderConfig::new(w2, h2, fps, spec.bps / 4))
                    .map_err(|e| format!("video {w2}x{h2} at {fps} fps: {e}"))?,
            )
        } else {
            None
        };
        let scale = Scale {
            width: w,
            height: h,
            fps,
            step: 0,
        };
        Ok(VideoIn::Live(Box::new((raw, enc, small, scale)), fps))
    }

    /// The frame rate to send at, when the source sets it (a Y4M file's
    /// own rate, rounded).
    pub fn fps(&self) -> Option<u32> {
        match self {
            VideoIn::Live(b, fps) if matches!(b.0, Raw::Y4m(_)) => Some(*fps),
            _ => None,
        }
    }

    /// The size of the source's pictures, when they are encoded here (not
    /// an IVF file) in one layer; a [`VideoIn::set_scale`] halves it.
    pub fn size(&self) -> Option<(u32, u32)> {
        match self {
            VideoIn::Live(b, _) if b.2.is_none() => {
                let s = b.3;
                Some((s.width >> s.step, s.height >> s.step))
            }
            _ => None,
        }
    }

    /// How many layers [`VideoIn::next_layers`] gives.
    pub fn layers(&self) -> usize {
        match self {
            VideoIn::Live(b, _) if b.2.is_some() => 2,
            _ => 1,
        }
    }

    /// The next capture encoded once per layer, smallest first (see
    /// [`VideoIn::layers`]): each frame, if its encoder gave one, and
    /// whether it is a key frame. `keys[i]` forces layer `i`'s to be one;
    /// `bitrates[i]` is layer `i`'s target (missing: unchanged). With one
    /// layer, [`VideoIn::next`].
    pub fn next_layers(
        &mut self,
        keys: &[bool],
        pts: u64,
        bitrates: &[u32],
    ) -> Vec<Option<(Vec<u8>, bool)>> {
        let VideoIn::Live(b, _) = self else {
            let key = keys.first().copied().unwrap_or(false);
            return vec![self.next(key, pts, bitrates.first().copied())];
        };
        let (raw, enc, small, _) = &mut **b;
        let Some(small) = small else {
            let key = keys.first().copied().unwrap_or(false);
            return vec![self.next(key, pts, bitrates.first().copied())];
        };
        let Some(img) = next_picture(raw) else {
            return vec![None, None];
        };
        let mut out = Vec::new();
        // The small layer: the picture halved (2x2 averaging), its stamp
        // written again at the small size.
        let half = half_size_stamped(&img);
        for (i, (e, pic)) in [(small, half.as_ref()), (enc, Some(&img))]
            .into_iter()
            .enumerate()
        {
            if let Some(&b) = bitrates.get(i) {
                e.set_bitrate(b);
            }
            let key = keys.get(i).copied().unwrap_or(false);
            out.push(pic.and_then(|p| {
                e.encode(p, pts, key)
                    .ok()
                    .flatten()
                    .map(|f| (f.data, f.keyframe))
            }));
        }
        out
    }

    /// Encodes the single layer with each side of the source's picture
    /// halved `step` times (0: the source's size), by a new encoder at
    /// `bps`, so the next frame is a key frame. Returns the new size;
    /// `None` (nothing changed) for an IVF file, two layers, or the same
    /// step.
    pub fn set_scale(&mut self, step: u32, bps: u32) -> Result<Option<(u32, u32)>, String> {
        let VideoIn::Live(b, _) = self else {
            return Ok(None);
        };
        let (_, enc, small, scale) = &mut **b;
        if small.is_some() || scale.step == step {
            return Ok(None);
        }
        let (w, h) = (scale.width >> step, scale.height >> step);
        *enc = Vp8Encoder::new(Vp8EncoderConfig::new(w, h, scale.fps, bps))
            .map_err(|e| format!("video {w}x{h} at {} fps: {e}", scale.fps))?;
        scale.step = step;
        Ok(Some((w, h)))
    }

    /// The next encoded frame and whether it is a key frame (an IVF file
    /// cannot honour key frame requests; its own key frames are reported).
    /// `bitrate` of `None` leaves the encoder's as it is.
    pub fn next(&mut self, key: bool, pts: u64, bitrate: Option<u32>) -> Option<(Vec<u8>, bool)> {
        match self {
            VideoIn::Live(b, _) => {
                let (raw, enc, _, scale) = &mut **b;
                if let Some(b) = bitrate {
                    enc.set_bitrate(b);
                }
                let mut img = next_picture(raw)?;
                for _ in 0..scale.step {
                    img = half_size_stamped(&img)?;
                }
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

/// The next raw picture, stamped with the wall clock.
fn next_picture(raw: &mut Raw) -> Option<I420Frame> {
    Some(match raw {
        Raw::Pattern(p) => p.next_frame(wall_us()),
        Raw::Texture(t) => t.next_frame(wall_us()),
        Raw::Y4m(y) => y.next()?,
    })
}

fn open_ivf(p: &Path) -> Result<VideoIn, String> {
    let f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let mut r = IvfReader::new(BufReader::new(f)).map_err(|e| format!("{}: {e}", p.display()))?;
    let mut frames = Vec::new();
    while let Some(fr) = r
        .next_frame()
        .map_err(|e| format!("{}: {e}", p.display()))?
    {
        frames.push(fr.data);
    }
    if frames.is_empty() {
        return Err(format!("{}: no frames", p.display()));
    }
    Ok(VideoIn::File(frames, 0))
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

//! Recorders and readers: IVF (VP8 elementary stream), WAV (16-bit PCM),
//! I420 to RGB conversion and PNG snapshots.
//!
//! IVF layout (little endian): a 32-byte file header, `DKIF`, version (u16,
//! 0), header length (u16, 32), fourcc, width (u16), height (u16), timebase
//! denominator (u32), timebase numerator (u32), frame count (u32), unused
//! (u32); then per frame a 12-byte header, size (u32) and pts (u64), and the
//! frame. WAV is the canonical RIFF/WAVE layout with a `fmt ` chunk (PCM,
//! format 1) and a `data` chunk.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::vp8::I420Frame;
use crate::MediaError;

/// Frames or chunks larger than this are taken as corruption, not allocated.
const MAX_CHUNK: u64 = 256 << 20;

/// Reads exactly `buf.len()` bytes. `Ok(false)` if the stream ended before
/// the first byte (a clean end), `Err(Truncated)` if it ended part way.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<bool, MediaError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => {
                return Err(MediaError::Truncated {
                    needed: buf.len(),
                    got,
                })
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<(), MediaError> {
    if read_full(r, buf)? {
        Ok(())
    } else {
        Err(MediaError::Truncated {
            needed: buf.len(),
            got: 0,
        })
    }
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

// ---------------------------------------------------------------- IVF

const IVF_HEADER_LEN: usize = 32;
const IVF_FRAME_HEADER_LEN: usize = 12;

/// The fields of an IVF file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfHeader {
    /// Codec, e.g. `*b"VP80"`.
    pub fourcc: [u8; 4],
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Timebase numerator: pts units are `num / den` seconds.
    pub timebase_num: u32,
    /// Timebase denominator.
    pub timebase_den: u32,
    /// Frame count as written in the header (0 if the writer never finished).
    pub frame_count: u32,
}

/// One frame read from an IVF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvfFrame {
    /// The frame bytes.
    pub data: Vec<u8>,
    /// Presentation timestamp in the file's timebase.
    pub pts: u64,
}

/// Writes an IVF file; the frame count in the header is patched by
/// [`finish`](Self::finish).
#[derive(Debug)]
pub struct IvfWriter<W: Write + Seek> {
    w: W,
    frames: u32,
}

impl<W: Write + Seek> IvfWriter<W> {
    /// Writes the header. Timestamps given to [`write_frame`](Self::write_frame)
    /// count `timebase_num / timebase_den` seconds (1/90000 for RTP time).
    pub fn new(
        mut w: W,
        fourcc: [u8; 4],
        width: u16,
        height: u16,
        timebase_num: u32,
        timebase_den: u32,
    ) -> Result<Self, MediaError> {
        let mut h = [0u8; IVF_HEADER_LEN];
        h[..4].copy_from_slice(b"DKIF");
        h[6..8].copy_from_slice(&(IVF_HEADER_LEN as u16).to_le_bytes());
        h[8..12].copy_from_slice(&fourcc);
        h[12..14].copy_from_slice(&width.to_le_bytes());
        h[14..16].copy_from_slice(&height.to_le_bytes());
        h[16..20].copy_from_slice(&timebase_den.to_le_bytes());
        h[20..24].copy_from_slice(&timebase_num.to_le_bytes());
        w.write_all(&h)?;
        Ok(IvfWriter { w, frames: 0 })
    }

    /// Frames written so far.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Appends one frame.
    pub fn write_frame(&mut self, data: &[u8], pts: u64) -> Result<(), MediaError> {
        let len = u32::try_from(data.len()).map_err(|_| MediaError::TooLarge(data.len() as u64))?;
        let mut h = [0u8; IVF_FRAME_HEADER_LEN];
        h[..4].copy_from_slice(&len.to_le_bytes());
        h[4..].copy_from_slice(&pts.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(data)?;
        self.frames += 1;
        Ok(())
    }

    /// Writes the frame count into the header and returns the writer,
    /// positioned at the end.
    pub fn finish(mut self) -> Result<W, MediaError> {
        self.w.seek(SeekFrom::Start(24))?;
        self.w.write_all(&self.frames.to_le_bytes())?;
        self.w.seek(SeekFrom::End(0))?;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Reads an IVF file frame by frame.
#[derive(Debug)]
pub struct IvfReader<R: Read> {
    r: R,
    header: IvfHeader,
}

impl<R: Read> IvfReader<R> {
    /// Reads and checks the file header.
    pub fn new(mut r: R) -> Result<Self, MediaError> {
        let mut h = [0u8; IVF_HEADER_LEN];
        read_exact(&mut r, &mut h)?;
        if &h[..4] != b"DKIF" {
            return Err(MediaError::BadMagic("IVF"));
        }
        let header_len = usize::from(le16(&h[6..]));
        if header_len < IVF_HEADER_LEN {
            return Err(MediaError::Truncated {
                needed: IVF_HEADER_LEN,
                got: header_len,
            });
        }
        // Skip any header extension.
        let mut rest = vec![0u8; header_len - IVF_HEADER_LEN];
        read_exact(&mut r, &mut rest)?;
        let header = IvfHeader {
            fourcc: [h[8], h[9], h[10], h[11]],
            width: le16(&h[12..]),
            height: le16(&h[14..]),
            timebase_den: le32(&h[16..]),
            timebase_num: le32(&h[20..]),
            frame_count: le32(&h[24..]),
        };
        Ok(IvfReader { r, header })
    }

    /// The file header.
    pub fn header(&self) -> &IvfHeader {
        &self.header
    }

    /// The next frame; `Ok(None)` at a clean end of file.
    pub fn next_frame(&mut self) -> Result<Option<IvfFrame>, MediaError> {
        let mut h = [0u8; IVF_FRAME_HEADER_LEN];
        if !read_full(&mut self.r, &mut h)? {
            return Ok(None);
        }
        let len = u64::from(le32(&h));
        if len > MAX_CHUNK {
            return Err(MediaError::TooLarge(len));
        }
        let pts = u64::from_le_bytes(h[4..].try_into().unwrap_or_default());
        let mut data = vec![0u8; len as usize];
        read_exact(&mut self.r, &mut data)?;
        Ok(Some(IvfFrame { data, pts }))
    }

    /// Gives back the underlying reader.
    pub fn into_inner(self) -> R {
        self.r
    }
}

// ---------------------------------------------------------------- WAV

const WAV_HEADER_LEN: u64 = 44;

/// Writes a 16-bit PCM WAV file; the sizes in the header are patched by
/// [`finish`](Self::finish).
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    w: W,
    data_bytes: u64,
}

impl<W: Write + Seek> WavWriter<W> {
    /// Writes the header for `channels` channels at `sample_rate`.
    pub fn new(mut w: W, sample_rate: u32, channels: u16) -> Result<Self, MediaError> {
        if channels == 0 || sample_rate == 0 {
            return Err(MediaError::InvalidConfig(
                "WAV needs channels and a sample rate",
            ));
        }
        let block_align = channels * 2;
        let mut h = Vec::with_capacity(WAV_HEADER_LEN as usize);
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(b"WAVE");
        h.extend_from_slice(b"fmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&sample_rate.to_le_bytes());
        h.extend_from_slice(&(sample_rate * u32::from(block_align)).to_le_bytes());
        h.extend_from_slice(&block_align.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&0u32.to_le_bytes());
        w.write_all(&h)?;
        Ok(WavWriter { w, data_bytes: 0 })
    }

    /// Appends interleaved samples.
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<(), MediaError> {
        let mut buf = Vec::with_capacity(samples.len() * 2);
        for s in samples {
            buf.extend_from_slice(&s.to_le_bytes());
        }
        self.w.write_all(&buf)?;
        self.data_bytes += buf.len() as u64;
        Ok(())
    }

    /// Patches the RIFF and data sizes and returns the writer, positioned at
    /// the end.
    pub fn finish(mut self) -> Result<W, MediaError> {
        let data =
            u32::try_from(self.data_bytes).map_err(|_| MediaError::TooLarge(self.data_bytes))?;
        let riff = data
            .checked_add(WAV_HEADER_LEN as u32 - 8)
            .ok_or(MediaError::TooLarge(self.data_bytes))?;
        self.w.seek(SeekFrom::Start(4))?;
        self.w.write_all(&riff.to_le_bytes())?;
        self.w.seek(SeekFrom::Start(40))?;
        self.w.write_all(&data.to_le_bytes())?;
        self.w.seek(SeekFrom::End(0))?;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// A 16-bit PCM WAV file's format and samples.
#[derive(Debug)]
pub struct WavReader<R: Read> {
    r: R,
    /// Samples per second.
    pub sample_rate: u32,
    /// Channels (samples are interleaved).
    pub channels: u16,
    data_len: u32,
}

impl<R: Read> WavReader<R> {
    /// Reads the header up to the start of the `data` chunk.
    pub fn new(mut r: R) -> Result<Self, MediaError> {
        let mut riff = [0u8; 12];
        read_exact(&mut r, &mut riff)?;
        if &riff[..4] != b"RIFF" || &riff[8..] != b"WAVE" {
            return Err(MediaError::BadMagic("WAV"));
        }
        let mut format: Option<(u32, u16)> = None;
        loop {
            let mut ch = [0u8; 8];
            read_exact(&mut r, &mut ch)?;
            let len = le32(&ch[4..]);
            if u64::from(len) > MAX_CHUNK {
                return Err(MediaError::TooLarge(len.into()));
            }
            match &ch[..4] {
                b"fmt " => {
                    if len < 16 {
                        return Err(MediaError::Truncated {
                            needed: 16,
                            got: len as usize,
                        });
                    }
                    let mut f = vec![0u8; len as usize + (len as usize & 1)];
                    read_exact(&mut r, &mut f)?;
                    let (tag, channels, rate, bits) =
                        (le16(&f), le16(&f[2..]), le32(&f[4..]), le16(&f[14..]));
                    // WAVE_FORMAT_PCM, or WAVE_FORMAT_EXTENSIBLE (0xFFFE)
                    // whose subformat we take on trust to be PCM.
                    if (tag != 1 && tag != 0xFFFE) || bits != 16 || channels == 0 {
                        return Err(MediaError::Unsupported("WAV other than 16-bit PCM"));
                    }
                    format = Some((rate, channels));
                }
                b"data" => {
                    let (sample_rate, channels) =
                        format.ok_or(MediaError::Unsupported("WAV data before fmt chunk"))?;
                    return Ok(WavReader {
                        r,
                        sample_rate,
                        channels,
                        data_len: len,
                    });
                }
                _ => {
                    // Skip unknown chunks (LIST, fact...), padded to even.
                    let mut skip = vec![0u8; len as usize + (len as usize & 1)];
                    read_exact(&mut r, &mut skip)?;
                }
            }
        }
    }

    /// Reads all the samples of the `data` chunk.
    pub fn samples(mut self) -> Result<Vec<i16>, MediaError> {
        let mut buf = vec![0u8; self.data_len as usize & !1];
        read_exact(&mut self.r, &mut buf)?;
        Ok(buf
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect())
    }
}

// ---------------------------------------------------------------- RGB, PNG

/// An 8-bit RGB picture, rows top to bottom, 3 bytes a pixel.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgbImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl RgbImage {
    /// A black image.
    pub fn new(width: u32, height: u32) -> Self {
        RgbImage {
            width,
            height,
            data: vec![0; width as usize * height as usize * 3],
        }
    }

    /// The pixel at (x, y), if inside.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        Some([self.data[i], self.data[i + 1], self.data[i + 2]])
    }

    /// Copies `src` with its top-left corner at (x, y), clipped to this
    /// image (for composing a grid of participants into one snapshot).
    pub fn blit(&mut self, src: &RgbImage, x: u32, y: u32) {
        if x >= self.width || y >= self.height {
            return;
        }
        let w = (src.width.min(self.width - x)) as usize * 3;
        let rows = src.height.min(self.height - y) as usize;
        let (dw, sw) = (self.width as usize * 3, src.width as usize * 3);
        for row in 0..rows {
            let d = (y as usize + row) * dw + x as usize * 3;
            let s = row * sw;
            if let (Some(dst), Some(srcrow)) = (self.data.get_mut(d..d + w), src.data.get(s..s + w))
            {
                dst.copy_from_slice(srcrow);
            }
        }
    }
}

/// Converts a video-range BT.601 I420 frame to RGB. A frame whose planes do
/// not match its size gives a black image of that size.
pub fn i420_to_rgb(frame: &I420Frame) -> RgbImage {
    let mut img = RgbImage::new(frame.width, frame.height);
    if frame.check_planes().is_err() {
        return img;
    }
    let (w, h) = (frame.width as usize, frame.height as usize);
    let cw = frame.chroma_width() as usize;
    for row in 0..h {
        for x in 0..w {
            let c = (row / 2) * cw + x / 2;
            // Fixed point, 8 fractional bits: 1.164, 1.596, 0.391, 0.813, 2.018.
            let y = (i32::from(frame.y[row * w + x]) - 16) * 298;
            let u = i32::from(frame.u[c]) - 128;
            let v = i32::from(frame.v[c]) - 128;
            let r = (y + 409 * v + 128) >> 8;
            let g = (y - 100 * u - 208 * v + 128) >> 8;
            let b = (y + 516 * u + 128) >> 8;
            let i = (row * w + x) * 3;
            img.data[i] = r.clamp(0, 255) as u8;
            img.data[i + 1] = g.clamp(0, 255) as u8;
            img.data[i + 2] = b.clamp(0, 255) as u8;
        }
    }
    img
}

/// Writes `img` as an 8-bit RGB PNG.
pub fn write_png<W: Write>(img: &RgbImage, w: W) -> Result<(), MediaError> {
    if img.data.len() != img.width as usize * img.height as usize * 3 {
        return Err(MediaError::InvalidConfig(
            "RGB buffer does not match its size",
        ));
    }
    let png_err = |e: png::EncodingError| MediaError::Png(e.to_string());
    let mut enc = png::Encoder::new(w, img.width, img.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(png_err)?;
    writer.write_image_data(&img.data).map_err(png_err)?;
    writer.finish().map_err(png_err)
}

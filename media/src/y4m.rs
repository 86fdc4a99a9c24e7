//! YUV4MPEG2 (`.y4m`) input: raw 4:2:0 pictures, as `ffmpeg -f yuv4mpegpipe`
//! and most test-sequence archives write them.
//!
//! The format: one header line, `YUV4MPEG2` then space-separated tagged
//! fields (`W<width> H<height> F<num>:<den> I<interlacing> A<aspect>
//! C<colour space> X<extension>`), then per picture a `FRAME` line (which
//! may carry fields of its own) and the three planes, Y then Cb then Cr,
//! without padding. Only 8-bit 4:2:0 is read (`C420jpeg`, `C420`,
//! `C420mpeg2`, `C420paldv`, or no `C` field, which means `420jpeg`); the
//! chroma siting differences are ignored. Odd sizes are allowed: the chroma
//! planes round up, as for [`I420Frame`].
//!
//! Malformed input is a [`Y4mError`] that says what is wrong and where,
//! never a panic; sizes are bounded so a corrupt header cannot ask for a
//! huge allocation.

use std::io::{BufRead, Read};

use crate::vp8::I420Frame;

/// The signature the header line starts with.
const MAGIC: &[u8] = b"YUV4MPEG2";
/// The marker each picture starts with.
const FRAME_MARKER: &[u8] = b"FRAME";
/// Longest header or `FRAME` line read before giving up on a newline.
const MAX_LINE: usize = 4096;
/// Largest width or height accepted (VP8's limit).
pub const MAX_DIMENSION: u32 = 16383;

/// What can be wrong with a `.y4m` stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Y4mError {
    /// The stream does not start with `YUV4MPEG2 `.
    #[error("not a YUV4MPEG2 file (it must start with \"YUV4MPEG2 \")")]
    BadMagic,
    /// A header or `FRAME` line has no newline within [`MAX_LINE`] bytes or
    /// before the end of the stream.
    #[error("the {what} line is not terminated by a newline")]
    UnterminatedLine {
        /// `"header"` or `"FRAME"`.
        what: &'static str,
    },
    /// A field the header must have is missing.
    #[error("the header has no {field} field")]
    MissingField {
        /// `W`, `H` or `F`.
        field: char,
    },
    /// A header field's value cannot be read.
    #[error("bad header field {field}{value:?}: {why}")]
    BadField {
        /// The field's tag.
        field: char,
        /// Its value as written.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The colour space is not 8-bit 4:2:0.
    #[error("colour space C{0} is not supported (only 8-bit 4:2:0: C420jpeg, C420, C420mpeg2, C420paldv)")]
    UnsupportedChroma(String),
    /// Something other than `FRAME` where a picture should start.
    #[error("picture {index}: expected a FRAME marker")]
    MissingFrameMarker {
        /// Pictures read before this one.
        index: u64,
    },
    /// The stream ended inside a picture.
    #[error("picture {index} is truncated: {got} of {needed} bytes")]
    TruncatedFrame {
        /// Pictures read before this one.
        index: u64,
        /// Bytes one picture takes.
        needed: usize,
        /// Bytes there were.
        got: usize,
    },
    /// Reading failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A `.y4m` stream's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Y4mHeader {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frame rate numerator.
    pub fps_num: u32,
    /// Frame rate denominator.
    pub fps_den: u32,
    /// The colour space as written (`420jpeg` when the header has none).
    pub chroma: String,
}

impl Y4mHeader {
    /// Bytes of one picture (the three planes).
    pub fn frame_len(&self) -> usize {
        let luma = self.width as usize * self.height as usize;
        luma + 2 * (self.width.div_ceil(2) as usize * self.height.div_ceil(2) as usize)
    }

    /// The frame rate rounded to whole frames per second (at least 1).
    pub fn fps_rounded(&self) -> u32 {
        ((f64::from(self.fps_num) / f64::from(self.fps_den.max(1))).round() as u32).max(1)
    }

    /// Parses the header line (without its newline).
    pub fn parse(line: &[u8]) -> Result<Y4mHeader, Y4mError> {
        let rest = line
            .strip_prefix(MAGIC)
            .filter(|r| r.is_empty() || r[0] == b' ')
            .ok_or(Y4mError::BadMagic)?;
        let (mut width, mut height, mut fps) = (None, None, None);
        let mut chroma = None;
        for field in rest.split(|&b| b == b' ').filter(|f| !f.is_empty()) {
            let tag = char::from(field[0]);
            let value = String::from_utf8_lossy(&field[1..]).into_owned();
            let bad = |why| Y4mError::BadField {
                field: tag,
                value: value.clone(),
                why,
            };
            match tag {
                'W' | 'H' => {
                    let v: u32 = value.parse().map_err(|_| bad("not a number"))?;
                    if v == 0 || v > MAX_DIMENSION {
                        return Err(bad("must be 1 to 16383"));
                    }
                    if tag == 'W' {
                        width = Some(v);
                    } else {
                        height = Some(v);
                    }
                }
                'F' => {
                    let (n, d) = value.split_once(':').ok_or_else(|| bad("not num:den"))?;
                    let n: u32 = n.parse().map_err(|_| bad("not num:den"))?;
                    let d: u32 = d.parse().map_err(|_| bad("not num:den"))?;
                    if n == 0 || d == 0 {
                        return Err(bad("the rate must be positive"));
                    }
                    if n / d > 1000 {
                        return Err(bad("over 1000 frames per second"));
                    }
                    fps = Some((n, d));
                }
                'C' => {
                    if !matches!(value.as_str(), "420jpeg" | "420" | "420mpeg2" | "420paldv") {
                        return Err(Y4mError::UnsupportedChroma(value));
                    }
                    chroma = Some(value);
                }
                // Interlacing, aspect ratio and extensions do not change the
                // bytes of a picture.
                _ => {}
            }
        }
        let (fps_num, fps_den) = fps.ok_or(Y4mError::MissingField { field: 'F' })?;
        Ok(Y4mHeader {
            width: width.ok_or(Y4mError::MissingField { field: 'W' })?,
            height: height.ok_or(Y4mError::MissingField { field: 'H' })?,
            fps_num,
            fps_den,
            chroma: chroma.unwrap_or_else(|| "420jpeg".into()),
        })
    }
}

/// Reads one line of at most [`MAX_LINE`] bytes, without its newline.
/// `Ok(None)` at a clean end of stream (nothing read).
fn read_line<R: BufRead>(r: &mut R, what: &'static str) -> Result<Option<Vec<u8>>, Y4mError> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(Y4mError::UnterminatedLine { what });
    }
    line.pop();
    Ok(Some(line))
}

/// Reads pictures from a `.y4m` stream.
#[derive(Debug)]
pub struct Y4mReader<R> {
    inner: R,
    header: Y4mHeader,
    frames_read: u64,
}

impl<R: BufRead> Y4mReader<R> {
    /// Reads and checks the header.
    pub fn new(mut inner: R) -> Result<Self, Y4mError> {
        // Check the signature before looking for a newline, so that any
        // other file is called what it is rather than a missing newline.
        let start = inner.fill_buf()?;
        let n = start.len().min(MAGIC.len());
        if start[..n] != MAGIC[..n] {
            return Err(Y4mError::BadMagic);
        }
        let line = read_line(&mut inner, "header")?.ok_or(Y4mError::BadMagic)?;
        let header = Y4mHeader::parse(&line)?;
        Ok(Y4mReader {
            inner,
            header,
            frames_read: 0,
        })
    }

    /// The stream's header.
    pub fn header(&self) -> &Y4mHeader {
        &self.header
    }

    /// Pictures read so far.
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// The next picture, or `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<I420Frame>, Y4mError> {
        let Some(data) = self.next_frame_bytes()? else {
            return Ok(None);
        };
        let luma = self.header.width as usize * self.header.height as usize;
        let chroma = (data.len() - luma) / 2;
        let (y, uv) = data.split_at(luma);
        let (u, v) = uv.split_at(chroma);
        Ok(Some(I420Frame {
            width: self.header.width,
            height: self.header.height,
            y: y.to_vec(),
            u: u.to_vec(),
            v: v.to_vec(),
        }))
    }

    /// The next picture's bytes (Y, Cb, Cr), or `None` at the end.
    fn next_frame_bytes(&mut self) -> Result<Option<Vec<u8>>, Y4mError> {
        let index = self.frames_read;
        let Some(line) = read_line(&mut self.inner, "FRAME")? else {
            return Ok(None);
        };
        let marker_ok = line
            .strip_prefix(FRAME_MARKER)
            .is_some_and(|r| r.is_empty() || r[0] == b' ');
        if !marker_ok {
            return Err(Y4mError::MissingFrameMarker { index });
        }
        let needed = self.header.frame_len();
        // No allocation up front: a corrupt header may promise far more
        // than the stream holds.
        let mut data = Vec::new();
        let got = self
            .inner
            .by_ref()
            .take(needed as u64)
            .read_to_end(&mut data)?;
        if got < needed {
            return Err(Y4mError::TruncatedFrame { index, needed, got });
        }
        self.frames_read += 1;
        Ok(Some(data))
    }

    /// Reads to the end, checking every picture, and returns how many there
    /// were (for a file opened only to be checked).
    pub fn count_frames(mut self) -> Result<u64, Y4mError> {
        while self.next_frame_bytes()?.is_some() {}
        Ok(self.frames_read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_in_any_order_with_extras() {
        let h =
            Y4mHeader::parse(b"YUV4MPEG2 C420mpeg2 F30000:1001 XYSCSS=420MPEG2 W65 Ip A1:1 H49")
                .unwrap();
        assert_eq!(
            h,
            Y4mHeader {
                width: 65,
                height: 49,
                fps_num: 30000,
                fps_den: 1001,
                chroma: "420mpeg2".into()
            }
        );
        assert_eq!(h.fps_rounded(), 30);
        assert_eq!(h.frame_len(), 65 * 49 + 2 * 33 * 25);
    }
}

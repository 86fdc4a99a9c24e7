//! Synthetic sources: a video test pattern that carries a machine-readable
//! stamp, and an audio tone with periodic beeps.
//!
//! The stamp is what lets end-to-end tests check media rather than packets:
//! a receiver decodes a frame, calls [`read_stamp`], and knows which frame it
//! got and when it was captured (so latency and freezes can be measured from
//! pixels alone).
//!
//! Stamp format: 16 bytes, `frame_number` (u32, big endian), `capture_time_us`
//! (u64, big endian), then CRC-32 (IEEE) of those 12 bytes XOR `0x4D455348`.
//! The 128 bits, most significant first, are drawn as square luma blocks in
//! raster order from the top-left corner, `0` as luma 32 and `1` as luma 224,
//! with neutral chroma. Blocks are aligned to VP8's 4x4 transform grid, so
//! each is flat within every transform block and survives heavy quantisation.
//! The block size is the largest of 16, 8 and 4 pixels for which the stamp
//! fits in the top quarter of the frame (8 at 320x240, 16 at 640x360).

use crate::vp8::I420Frame;

/// Bits in a stamp.
const STAMP_BITS: u32 = 128;
/// XORed into the CRC so that a frame of all-dark blocks never passes.
const STAMP_CRC_XOR: u32 = 0x4D45_5348;
const LUMA_ZERO: u8 = 32;
const LUMA_ONE: u8 = 224;

/// What a [`TestPattern`] frame says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// Frames generated before this one by the same pattern.
    pub frame_number: u32,
    /// Capture time given to [`TestPattern::next_frame`], in microseconds.
    pub capture_time_us: u64,
}

/// Side of one stamp bit's block for a frame size, if the stamp fits.
fn stamp_block(width: u32, height: u32) -> Option<u32> {
    [16u32, 8, 4].into_iter().find(|&b| {
        let per_row = width / b;
        per_row > 0 && STAMP_BITS.div_ceil(per_row) * b <= height / 4
    })
}

/// Height in rows of the stamp area for a frame size (0 if it does not fit).
pub fn stamp_height(width: u32, height: u32) -> u32 {
    match stamp_block(width, height) {
        Some(b) => STAMP_BITS.div_ceil(width / b) * b,
        None => 0,
    }
}

fn stamp_bytes(stamp: Stamp) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&stamp.frame_number.to_be_bytes());
    b[4..12].copy_from_slice(&stamp.capture_time_us.to_be_bytes());
    let crc = crc32fast::hash(&b[..12]) ^ STAMP_CRC_XOR;
    b[12..].copy_from_slice(&crc.to_be_bytes());
    b
}

/// `frame` at half the width and height ([`I420Frame::half_size`]) with
/// its stamp, if it had one, written again at the small size: halving
/// keeps a stamp readable only where the block layout happens to halve
/// with the picture (640x360 to 320x180 does, 1280x720 to 640x360 does
/// not), and a simulcast receiver of the small layer should read the same
/// frame number and capture time.
pub fn half_size_stamped(frame: &I420Frame) -> Option<I420Frame> {
    let mut small = frame.half_size()?;
    if let Some(stamp) = read_stamp(frame) {
        write_stamp(&mut small, stamp);
    }
    Some(small)
}

/// Writes `stamp` into the top rows of `frame`. Does nothing if the frame is
/// too small to hold it (under 64x16 or so).
pub fn write_stamp(frame: &mut I420Frame, stamp: Stamp) {
    let Some(block) = stamp_block(frame.width, frame.height) else {
        return;
    };
    if frame.check_planes().is_err() {
        return;
    }
    let bytes = stamp_bytes(stamp);
    let per_row = frame.width / block;
    let rows = STAMP_BITS.div_ceil(per_row);
    let w = frame.width as usize;
    // Blank the whole stamp band (luma "0", neutral chroma), then set bits.
    let band = (rows * block) as usize;
    frame.y[..band * w].fill(LUMA_ZERO);
    let cw = frame.chroma_width() as usize;
    let cband = band.div_ceil(2) * cw;
    frame.u[..cband].fill(128);
    frame.v[..cband].fill(128);
    for bit in 0..STAMP_BITS {
        if bytes[(bit / 8) as usize] & (0x80 >> (bit % 8)) == 0 {
            continue;
        }
        let bx = (bit % per_row * block) as usize;
        let by = (bit / per_row * block) as usize;
        for row in by..by + block as usize {
            frame.y[row * w + bx..row * w + bx + block as usize].fill(LUMA_ONE);
        }
    }
}

/// Reads the stamp a [`TestPattern`] wrote, after any amount of lossy coding
/// that keeps blocks on the right side of mid-grey. `None` if the frame has
/// no stamp or its checksum fails.
pub fn read_stamp(frame: &I420Frame) -> Option<Stamp> {
    let block = stamp_block(frame.width, frame.height)?;
    frame.check_planes().ok()?;
    let per_row = frame.width / block;
    let w = frame.width as usize;
    // Average the inner half of each block: edges are where the loop filter
    // and ringing blur.
    let (lo, hi) = ((block / 4) as usize, (block - block / 4) as usize);
    let mut bytes = [0u8; 16];
    for bit in 0..STAMP_BITS {
        let bx = (bit % per_row * block) as usize;
        let by = (bit / per_row * block) as usize;
        let mut sum = 0u32;
        let mut n = 0u32;
        for row in by + lo..by + hi {
            for &p in &frame.y[row * w + bx + lo..row * w + bx + hi] {
                sum += u32::from(p);
                n += 1;
            }
        }
        if sum > 128 * n {
            bytes[(bit / 8) as usize] |= 0x80 >> (bit % 8);
        }
    }
    let crc = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    if crc32fast::hash(&bytes[..12]) ^ STAMP_CRC_XOR != crc {
        return None;
    }
    Some(Stamp {
        frame_number: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        capture_time_us: u64::from_be_bytes([
            bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11],
        ]),
    })
}

/// Draws `marks` (1 to 12) white squares in the bottom eighth of `frame`,
/// left to right (the test pattern's grey ramp), so that people can tell
/// senders apart: member 3 shows three.
pub fn draw_marks(frame: &mut I420Frame, marks: u32) {
    if frame.check_planes().is_err() {
        return;
    }
    let (w, h) = (frame.width as usize, frame.height as usize);
    let ramp = h / 8;
    let side = (ramp * 3 / 4).max(2) & !1;
    let y0 = (h - ramp + ramp.saturating_sub(side) / 2) & !1;
    for k in 0..marks.clamp(1, 12) as usize {
        let x0 = (side / 2 + k * side * 3 / 2) & !1;
        for row in y0..(y0 + side).min(h) {
            for x in x0..(x0 + side).min(w) {
                frame.y[row * w + x] = 235;
            }
        }
    }
}

/// BT.601 video-range YUV for an RGB colour.
fn rgb_to_yuv(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
    let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    (
        y.clamp(0, 255) as u8,
        u.clamp(0, 255) as u8,
        v.clamp(0, 255) as u8,
    )
}

/// 75% colour bars, left to right.
const BARS: [(u8, u8, u8); 7] = [
    (191, 191, 191),
    (191, 191, 0),
    (0, 191, 191),
    (0, 191, 0),
    (191, 0, 191),
    (191, 0, 0),
    (0, 0, 191),
];

/// A moving video test pattern: colour bars, a bouncing box whose colour
/// cycles, and the [`Stamp`] band on top.
#[derive(Debug, Clone)]
pub struct TestPattern {
    width: u32,
    height: u32,
    fps: u32,
    frame_number: u32,
    background: I420Frame,
}

impl TestPattern {
    /// A pattern of the given size. `fps` sets how fast the box moves (one
    /// crossing of the frame every two seconds or so).
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        let mut bg = I420Frame::new_black(width, height);
        let top = stamp_height(width, height) as usize;
        let (w, h) = (width as usize, height as usize);
        let cw = bg.chroma_width() as usize;
        let bars = BARS.map(|(r, g, b)| rgb_to_yuv(r, g, b));
        let bar_of = |x: usize| bars[(x * BARS.len() / w.max(1)).min(BARS.len() - 1)];
        // The bottom eighth is a grey ramp instead of bars.
        let ramp_top = h - h / 8;
        for row in top..h {
            for x in 0..w {
                bg.y[row * w + x] = if row >= ramp_top {
                    (16 + x * 219 / w.max(1)) as u8
                } else {
                    bar_of(x).0
                };
            }
        }
        for crow in top.div_ceil(2)..bg.chroma_height() as usize {
            for cx in 0..cw {
                let (u, v) = if crow * 2 >= ramp_top {
                    (128, 128)
                } else {
                    let (_, u, v) = bar_of(cx * 2);
                    (u, v)
                };
                bg.u[crow * cw + cx] = u;
                bg.v[crow * cw + cx] = v;
            }
        }
        TestPattern {
            width,
            height,
            fps: fps.max(1),
            frame_number: 0,
            background: bg,
        }
    }

    /// A pattern that also shows `marks` (1 to 12) white squares on its grey
    /// ramp, so that people can tell senders apart (member 3 shows three).
    pub fn with_marks(width: u32, height: u32, fps: u32, marks: u32) -> Self {
        let mut p = TestPattern::new(width, height, fps);
        draw_marks(&mut p.background, marks);
        p
    }

    /// The next frame's number (frames generated so far).
    pub fn frame_number(&self) -> u32 {
        self.frame_number
    }

    /// Generates the next frame, stamped with its number and `capture_time_us`.
    pub fn next_frame(&mut self, capture_time_us: u64) -> I420Frame {
        let n = self.frame_number;
        self.frame_number = self.frame_number.wrapping_add(1);
        let mut f = self.background.clone();
        let (w, h) = (self.width as usize, self.height as usize);
        let top = stamp_height(self.width, self.height) as usize;
        // A box a fifth of the height, bouncing across the bars area.
        let side = (h / 5).max(2) & !1;
        let span_x = w.saturating_sub(side);
        let span_y = h.saturating_sub(top + side);
        let step = (w / (2 * self.fps as usize)).max(1);
        let bounce = |t: usize, span: usize| {
            if span == 0 {
                0
            } else {
                let p = t % (2 * span);
                if p < span {
                    p
                } else {
                    2 * span - p
                }
            }
        };
        let bx = bounce(n as usize * step, span_x) & !1;
        let by = (top + bounce(n as usize * step / 2, span_y)) & !1;
        let hue = (n / self.fps) % 3;
        let colour = match hue {
            0 => (255, 128, 0),
            1 => (0, 200, 255),
            _ => (255, 255, 255),
        };
        let (yc, uc, vc) = rgb_to_yuv(colour.0, colour.1, colour.2);
        let cw = f.chroma_width() as usize;
        for row in by..(by + side).min(h) {
            for x in bx..(bx + side).min(w) {
                // A dark inner square makes motion easy to see.
                let inner = row >= by + side / 3
                    && row < by + 2 * side / 3
                    && x >= bx + side / 3
                    && x < bx + 2 * side / 3;
                f.y[row * w + x] = if inner { 40 } else { yc };
            }
        }
        let ch = f.chroma_height() as usize;
        for crow in by / 2..((by + side) / 2).min(ch) {
            for cx in bx / 2..((bx + side) / 2).min(cw) {
                f.u[crow * cw + cx] = uc;
                f.v[crow * cw + cx] = vc;
            }
        }
        write_stamp(
            &mut f,
            Stamp {
                frame_number: n,
                capture_time_us,
            },
        );
        f
    }
}

/// A voice-like audio source, mono: twelve harmonics of a pitch that
/// glides between 80 and 160 Hz, under a 4 Hz syllable envelope. Opus's
/// SILK encoder makes in-band FEC data (RFC 6716 §2.1.7) only for frames
/// its voice activity detector counts as speech, which a steady tone,
/// taken for background, is not: tests of FEC need this one.
#[derive(Debug, Clone)]
pub struct VoiceSource {
    sample_rate: u32,
    sample_index: u64,
    /// Pitch phase in cycles, kept in [0, 1).
    phase: f64,
}

impl VoiceSource {
    /// A voice-like source at `sample_rate`.
    pub fn new(sample_rate: u32) -> Self {
        VoiceSource {
            sample_rate: sample_rate.max(1),
            sample_index: 0,
            phase: 0.0,
        }
    }

    /// The next 20 ms.
    pub fn next_frame(&mut self) -> Vec<i16> {
        use std::f64::consts::TAU;
        let n = (self.sample_rate / 50) as usize;
        let sr = f64::from(self.sample_rate);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = self.sample_index as f64 / sr;
            let pitch = 120.0 + 40.0 * (TAU * 0.7 * t).sin();
            self.phase = (self.phase + pitch / sr).fract();
            let envelope = 0.55 + 0.45 * (TAU * 4.0 * t).sin();
            let harmonics: f64 = (1..=12)
                .map(|h| (self.phase * TAU * f64::from(h)).sin() / f64::from(h))
                .sum();
            out.push((6000.0 * envelope * harmonics) as i16);
            self.sample_index += 1;
        }
        out
    }
}

/// An audio source: a quiet sine at `freq_hz` with a louder 1 kHz beep for
/// the first 100 ms of every second (beeps make lip-sync and loss audible).
#[derive(Debug, Clone)]
pub struct ToneSource {
    sample_rate: u32,
    channels: u8,
    freq_hz: f64,
    sample_index: u64,
}

/// Amplitude of the background tone.
const TONE_AMPLITUDE: f64 = 3000.0;
/// Amplitude of the beep.
const BEEP_AMPLITUDE: f64 = 12000.0;
const BEEP_HZ: f64 = 1000.0;

impl ToneSource {
    /// A tone source; `channels` channels carry the same signal.
    pub fn new(sample_rate: u32, channels: u8, freq_hz: f64) -> Self {
        ToneSource {
            sample_rate: sample_rate.max(1),
            channels: channels.max(1),
            freq_hz,
            sample_index: 0,
        }
    }

    /// Whether the sample with this index (per channel) is inside a beep.
    pub fn is_beep(&self, sample_index: u64) -> bool {
        sample_index % u64::from(self.sample_rate) < u64::from(self.sample_rate / 10)
    }

    /// The next 20 ms, interleaved.
    pub fn next_frame(&mut self) -> Vec<i16> {
        let n = (self.sample_rate / 50) as usize;
        let ch = self.channels as usize;
        let sr = f64::from(self.sample_rate);
        let mut out = Vec::with_capacity(n * ch);
        for _ in 0..n {
            let i = self.sample_index;
            // Phases in cycles, reduced to [0, 1) before `sin` so precision
            // holds over hours of samples.
            let phase = |hz: f64| (i as f64 * hz / sr).fract() * std::f64::consts::TAU;
            let mut s = TONE_AMPLITUDE * phase(self.freq_hz).sin();
            if self.is_beep(i) {
                s += BEEP_AMPLITUDE * phase(BEEP_HZ).sin();
            }
            let s = s.round().clamp(-32768.0, 32767.0) as i16;
            out.extend(std::iter::repeat_n(s, ch));
            self.sample_index += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_size_averages_each_2x2_block() {
        let f = I420Frame {
            width: 4,
            height: 2,
            y: vec![0, 4, 8, 12, 2, 6, 10, 14],
            u: vec![100, 200],
            v: vec![7, 9],
        };
        let h = f.half_size().unwrap();
        assert_eq!((h.width, h.height), (2, 1));
        assert_eq!(h.y, vec![3, 11]);
        // Chroma 2x1 becomes 1x1: the edge row is reused.
        assert_eq!(h.u, vec![150]);
        assert_eq!(h.v, vec![8]);
        assert!(I420Frame::new_black(1, 8).half_size().is_none());
    }

    #[test]
    fn a_half_size_pattern_frame_keeps_its_stamp_readable() {
        // Halving alone loses it where the block layout changes.
        let f = TestPattern::new(1280, 720, 15).next_frame(5);
        assert!(read_stamp(&f).is_some());
        assert_eq!(read_stamp(&f.half_size().unwrap()), None);
        for (w, h) in [(640, 360), (320, 240), (1280, 720)] {
            let mut p = TestPattern::with_marks(w, h, 15, 3);
            let _ = p.next_frame(0);
            let f = p.next_frame(987_654_321);
            let small = half_size_stamped(&f).unwrap();
            assert_eq!((small.width, small.height), (w / 2, h / 2));
            assert_eq!(
                read_stamp(&small),
                Some(Stamp {
                    frame_number: 1,
                    capture_time_us: 987_654_321
                }),
                "{w}x{h}"
            );
        }
    }

    #[test]
    fn stamp_round_trips_on_raw_frames_of_several_sizes() {
        for (w, h) in [(320, 240), (640, 360), (1280, 720), (160, 120), (321, 241)] {
            let mut p = TestPattern::new(w, h, 15);
            let _ = p.next_frame(0);
            let f = p.next_frame(u64::MAX - 5);
            assert_eq!(
                read_stamp(&f),
                Some(Stamp {
                    frame_number: 1,
                    capture_time_us: u64::MAX - 5
                }),
                "{w}x{h}"
            );
        }
        assert_eq!(stamp_block(320, 240), Some(8));
        assert_eq!(stamp_block(640, 360), Some(16));
    }

    #[test]
    fn frames_without_a_stamp_read_as_none() {
        assert_eq!(read_stamp(&I420Frame::new_black(320, 240)), None);
        let mut white = I420Frame::new_black(320, 240);
        white.y.fill(235);
        assert_eq!(read_stamp(&white), None);
        // Too small to carry one at all.
        assert_eq!(read_stamp(&I420Frame::new_black(16, 16)), None);
        let mut f = TestPattern::new(320, 240, 15).next_frame(7);
        // Flip one bit block: the checksum catches it.
        for row in 0..8 {
            for x in 0..8 {
                f.y[row * 320 + x] = 255 - f.y[row * 320 + x];
            }
        }
        assert_eq!(read_stamp(&f), None);
    }

    #[test]
    fn marks_are_drawn_on_the_ramp_and_the_stamp_still_reads() {
        let mut plain = TestPattern::new(320, 240, 15);
        let mut marked = TestPattern::with_marks(320, 240, 15, 3);
        let (a, b) = (plain.next_frame(7), marked.next_frame(7));
        let differ = a.y.iter().zip(&b.y).filter(|(x, y)| x != y).count();
        // Three squares of 22x22 luma pixels on the bottom ramp.
        assert_eq!(differ, 3 * 22 * 22);
        assert_eq!(read_stamp(&b).map(|s| s.capture_time_us), Some(7));
    }

    #[test]
    fn the_pattern_moves() {
        let mut p = TestPattern::new(320, 240, 15);
        let a = p.next_frame(0);
        let b = p.next_frame(0);
        let top = stamp_height(320, 240) as usize * 320;
        assert_ne!(a.y[top..], b.y[top..]);
    }
}

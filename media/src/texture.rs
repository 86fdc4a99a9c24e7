//! A camera-like synthetic source: a detailed texture panned like a
//! hand-held shot, a textured disc crossing it, and sensor noise, with the
//! same [`Stamp`] band as the [`TestPattern`](crate::source::TestPattern).
//!
//! The test pattern is flat colour: VP8 codes it in a few kilobits, so it
//! cannot show whether congestion control and the encoder hold up at the
//! rates a real camera needs. This source is tuned so that libvpx, given far
//! more than it needs (4 Mbit/s at 640x360 and 30 fps), spends about 2
//! Mbit/s on it (measured: 2.0 over the first two seconds, key frame
//! included; 2.1 in the second): the detail is fractal value noise (energy
//! falling with frequency, as in natural images) with faint hard-edged patches,
//! the motion is sub-pixel (bilinear resampling, so motion compensation is
//! never exact), and every frame one pixel in eight gets a luma step of
//! fresh noise.
//!
//! Everything is deterministic: the texture and the noise come from a fixed
//! seed, so two runs produce the same frames for the same capture times.

use crate::source::{draw_marks, stamp_height, write_stamp, Stamp};
use crate::vp8::I420Frame;

/// Sensor noise: this many pixels in 16 get one luma step more, as many
/// one step less, fresh every frame.
const NOISE_IN_16: u64 = 1;
/// Seconds for one turn of the camera's elliptic pan.
const PAN_PERIOD_S: f64 = 9.0;
/// Fractional pixel positions are kept in 1/16 pixel.
const SUBPEL: i32 = 16;

/// A small xorshift generator: fast and deterministic (nothing here is
/// secret, and the frames must be reproducible).
#[derive(Debug, Clone)]
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// One plane of the texture (luma or a chroma plane), larger than the frame
/// by the pan's margin on every side.
#[derive(Debug, Clone)]
struct Plane {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl Plane {
    /// Samples the `out_w` x `out_h` window whose top-left corner is at
    /// (`x16`, `y16`) sixteenths of a pixel, bilinearly, into `out`.
    fn window(&self, x16: i32, y16: i32, out_w: usize, out_h: usize, out: &mut [u8]) {
        let (x0, fx) = ((x16 / SUBPEL) as usize, x16 % SUBPEL);
        let (y0, fy) = ((y16 / SUBPEL) as usize, y16 % SUBPEL);
        // The same four weights for every pixel: the whole window moves.
        let w00 = (SUBPEL - fx) * (SUBPEL - fy);
        let w01 = fx * (SUBPEL - fy);
        let w10 = (SUBPEL - fx) * fy;
        let w11 = fx * fy;
        let round = SUBPEL * SUBPEL / 2;
        for row in 0..out_h {
            let sy = (y0 + row).min(self.height - 1);
            let sy1 = (sy + 1).min(self.height - 1);
            let a = &self.data[sy * self.width..(sy + 1) * self.width];
            let b = &self.data[sy1 * self.width..(sy1 + 1) * self.width];
            let dst = &mut out[row * out_w..(row + 1) * out_w];
            for (col, d) in dst.iter_mut().enumerate() {
                let sx = (x0 + col).min(self.width - 1);
                let sx1 = (sx + 1).min(self.width - 1);
                let v = i32::from(a[sx]) * w00
                    + i32::from(a[sx1]) * w01
                    + i32::from(b[sx]) * w10
                    + i32::from(b[sx1]) * w11;
                *d = ((v + round) / (SUBPEL * SUBPEL)) as u8;
            }
        }
    }
}

/// Fractal value noise: octaves of random lattice values, smoothly
/// interpolated, each octave half the cell size of the one before and
/// `persistence` times its amplitude. Values in 0..1.
fn value_noise(
    width: usize,
    height: usize,
    largest_cell: usize,
    persistence: f32,
    rng: &mut XorShift,
) -> Vec<f32> {
    let mut out = vec![0f32; width * height];
    let mut cell = largest_cell.max(2);
    let mut amp = 1.0f32;
    let mut total = 0.0f32;
    while cell >= 2 {
        let gw = width / cell + 2;
        let gh = height / cell + 2;
        let lattice: Vec<f32> = (0..gw * gh)
            .map(|_| (rng.next() >> 40) as f32 / (1u64 << 24) as f32)
            .collect();
        let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
        for y in 0..height {
            let gy = y / cell;
            let ty = smooth((y % cell) as f32 / cell as f32);
            for x in 0..width {
                let gx = x / cell;
                let tx = smooth((x % cell) as f32 / cell as f32);
                let l = |i: usize, j: usize| lattice[(gy + j) * gw + gx + i];
                let top = l(0, 0) + (l(1, 0) - l(0, 0)) * tx;
                let bottom = l(0, 1) + (l(1, 1) - l(0, 1)) * tx;
                out[y * width + x] += amp * (top + (bottom - top) * ty);
            }
        }
        total += amp;
        amp *= persistence;
        cell /= 2;
    }
    for v in &mut out {
        *v /= total;
    }
    out
}

/// The synthetic camera. See the module documentation.
#[derive(Debug, Clone)]
pub struct TextureSource {
    width: u32,
    height: u32,
    fps: u32,
    frame_number: u32,
    margin: usize,
    luma: Plane,
    cb: Plane,
    cr: Plane,
    /// The disc's own texture (luma), `disc` x `disc` pixels.
    disc_tex: Vec<u8>,
    disc: usize,
    marks: Option<u32>,
    rng: XorShift,
}

impl TextureSource {
    /// A source of the given size; `fps` sets how far things move per
    /// frame (the motion is the same per second at any rate).
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        let (w, h) = (width.max(2) as usize, height.max(2) as usize);
        let margin = (w.max(h) / 6).max(8) & !1;
        let (tw, th) = (w + 2 * margin, h + 2 * margin);
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let base = value_noise(tw, th, 64, 0.42, &mut rng);
        // Hard-edged patches (walls, shelves, shadows): a low-frequency
        // field thresholded into bands.
        let patches = value_noise(tw, th, 128, 0.45, &mut rng);
        let luma: Vec<u8> = base
            .iter()
            .zip(&patches)
            .map(|(&b, &p)| {
                let band = ((p * 5.0) as i32 % 2) as f32;
                let v = 45.0 + 140.0 * b + 12.0 * band;
                v.clamp(16.0, 235.0) as u8
            })
            .collect();
        let (cw, ch) = (tw.div_ceil(2), th.div_ceil(2));
        let hue_u = value_noise(cw, ch, 64, 0.5, &mut rng);
        let hue_v = value_noise(cw, ch, 64, 0.5, &mut rng);
        let chroma = |n: &[f32]| -> Vec<u8> {
            n.iter()
                .map(|&c| (128.0 + (c - 0.5) * 90.0).clamp(16.0, 240.0) as u8)
                .collect()
        };
        let disc = ((h / 4).max(4)) & !1;
        let disc_noise = value_noise(disc, disc, 16, 0.8, &mut rng);
        let disc_tex = disc_noise
            .iter()
            .map(|&v| (60.0 + 160.0 * v).clamp(16.0, 235.0) as u8)
            .collect();
        TextureSource {
            width,
            height,
            fps: fps.max(1),
            frame_number: 0,
            margin,
            luma: Plane {
                width: tw,
                height: th,
                data: luma,
            },
            cb: Plane {
                width: cw,
                height: ch,
                data: chroma(&hue_u),
            },
            cr: Plane {
                width: cw,
                height: ch,
                data: chroma(&hue_v),
            },
            disc_tex,
            disc,
            marks: None,
            rng: XorShift(0x2545_F491_4F6C_DD1D),
        }
    }

    /// A source that also shows `marks` (1 to 12) white squares near the
    /// bottom left, as [`TestPattern::with_marks`](crate::source::TestPattern::with_marks)
    /// does, to tell senders apart.
    pub fn with_marks(width: u32, height: u32, fps: u32, marks: u32) -> Self {
        TextureSource {
            marks: Some(marks),
            ..TextureSource::new(width, height, fps)
        }
    }

    /// The next frame's number (frames generated so far).
    pub fn frame_number(&self) -> u32 {
        self.frame_number
    }

    /// Generates the next frame, stamped with its number and
    /// `capture_time_us`.
    pub fn next_frame(&mut self, capture_time_us: u64) -> I420Frame {
        let n = self.frame_number;
        self.frame_number = self.frame_number.wrapping_add(1);
        let mut f = I420Frame::new_black(self.width, self.height);
        let (w, h) = (self.width as usize, self.height as usize);
        let t = f64::from(n) / f64::from(self.fps);
        // The pan: an ellipse around the texture's centre, with a faster
        // wobble on top (a hand holding the camera).
        let phase = t * std::f64::consts::TAU / PAN_PERIOD_S;
        let m = self.margin as f64;
        let px = m + 0.9 * m * phase.cos() + 0.05 * m * (phase * 7.3).sin();
        let py = m + 0.6 * m * phase.sin() + 0.05 * m * (phase * 5.1).cos();
        let (x16, y16) = (
            (px * f64::from(SUBPEL)) as i32,
            (py * f64::from(SUBPEL)) as i32,
        );
        self.luma.window(x16, y16, w, h, &mut f.y);
        let (cw, ch) = (f.chroma_width() as usize, f.chroma_height() as usize);
        self.cb.window(x16 / 2, y16 / 2, cw, ch, &mut f.u);
        self.cr.window(x16 / 2, y16 / 2, cw, ch, &mut f.v);

        // The disc crosses the frame along a sine, against the pan.
        let top = stamp_height(self.width, self.height) as usize;
        let d = self.disc;
        let span_x = w.saturating_sub(d).max(1) as f64;
        let span_y = h.saturating_sub(top + d).max(1) as f64;
        let dx = ((0.5 - 0.5 * (t * 0.9).cos()) * span_x) as usize;
        let dy = top + ((0.5 + 0.5 * (t * 1.7).sin()) * span_y) as usize;
        let r2 = (d * d / 4) as isize;
        for row in 0..d {
            for col in 0..d {
                let (yy, xx) = (row as isize - d as isize / 2, col as isize - d as isize / 2);
                if yy * yy + xx * xx > r2 {
                    continue;
                }
                let (fy, fx) = (dy + row, dx + col);
                if fy < h && fx < w {
                    f.y[fy * w + fx] = self.disc_tex[row * d + col];
                    if fy % 2 == 0 && fx % 2 == 0 {
                        f.u[fy / 2 * cw + fx / 2] = 100;
                        f.v[fy / 2 * cw + fx / 2] = 170;
                    }
                }
            }
        }

        // Sensor noise, fresh every frame.
        let mut bits = 0u64;
        let mut left = 0;
        for p in &mut f.y {
            if left == 0 {
                bits = self.rng.next();
                left = 16;
            }
            let r = bits & 0xf;
            bits >>= 4;
            left -= 1;
            if r < NOISE_IN_16 {
                *p = p.saturating_add(1).min(235);
            } else if r < 2 * NOISE_IN_16 {
                *p = p.saturating_sub(1).max(16);
            }
        }

        if let Some(k) = self.marks {
            draw_marks(&mut f, k);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::read_stamp;

    #[test]
    fn odd_and_tiny_sizes_make_frames_of_the_right_shape() {
        for (w, h) in [(641, 359), (16, 16), (2, 2), (321, 241)] {
            let mut s = TextureSource::new(w, h, 30);
            let f = s.next_frame(5);
            f.check_planes().unwrap();
            assert_eq!((f.width, f.height), (w, h));
        }
    }

    #[test]
    fn the_stamp_reads_back_from_raw_frames() {
        let mut s = TextureSource::with_marks(640, 360, 30, 2);
        let _ = s.next_frame(0);
        let f = s.next_frame(123_456);
        assert_eq!(
            read_stamp(&f),
            Some(Stamp {
                frame_number: 1,
                capture_time_us: 123_456
            })
        );
    }
}

//! VP8 encode and decode speed at 320x240 and 640x360, plain pattern and
//! with camera-like grain (1 thread, cpu_used -8). Not a test: speed is
//! measured by hand, not asserted.
//!
//! `cargo run --release -p meshrtc-media --example vp8_speed`

use std::time::Instant;

use meshrtc_media::source::TestPattern;
use meshrtc_media::vp8::{Vp8Decoder, Vp8Encoder, Vp8EncoderConfig};

/// Encode and decode frames per second; `noise` adds camera-like grain
/// below the stamp so that every macroblock changes every frame.
fn speed(width: u32, height: u32, frames: u32, noise: bool) -> (f64, f64) {
    let mut pattern = TestPattern::new(width, height, 30);
    let mut seed = 1u32;
    let pics: Vec<_> = (0..frames)
        .map(|n| {
            let mut f = pattern.next_frame(u64::from(n) * 33_333);
            if noise {
                for p in f.y.iter_mut().skip(width as usize * 64) {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    *p = p.saturating_add((seed >> 28) as u8 * 2).saturating_sub(15);
                }
            }
            f
        })
        .collect();
    let bitrate = width * height * 4; // ~300 kbps at 320x240, 920 kbps at 640x360
    let mut enc =
        Vp8Encoder::new(Vp8EncoderConfig::new(width, height, 30, bitrate)).expect("codec");
    let t = Instant::now();
    let mut encoded = Vec::new();
    for (n, p) in pics.iter().enumerate() {
        encoded.push(
            enc.encode(p, n as u64 * 33_333, false)
                .expect("encode")
                .expect("a frame"),
        );
    }
    let enc_fps = f64::from(frames) / t.elapsed().as_secs_f64();
    let mut dec = Vp8Decoder::new().expect("codec");
    let t = Instant::now();
    for e in &encoded {
        dec.decode(&e.data).expect("encode").expect("a frame");
    }
    let dec_fps = f64::from(frames) / t.elapsed().as_secs_f64();
    (enc_fps, dec_fps)
}

fn main() {
    for (w, h) in [(320, 240), (640, 360)] {
        for noise in [false, true] {
            let (e, d) = speed(w, h, 90, noise);
            let what = if noise { "pattern + grain" } else { "pattern" };
            println!(
                "VP8 {w}x{h} {what}: encode {e:.0} fps, decode {d:.0} fps (1 thread, cpu_used -8)"
            );
        }
    }
}

//! Encodes the test pattern through VP8, decodes it, and writes four of the
//! decoded frames as a 2x2 PNG grid, with their stamps printed.
//!
//! `cargo run -p meshrtc-media --example pattern_snapshot -- out.png [bitrate_bps]`

use std::fs::File;
use std::io::BufWriter;

use meshrtc_media::sink::{i420_to_rgb, write_png, RgbImage};
use meshrtc_media::source::{read_stamp, TestPattern};
use meshrtc_media::vp8::{Vp8Decoder, Vp8Encoder, Vp8EncoderConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "pattern.png".into());
    let bitrate: u32 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(300_000);
    let (w, h, fps) = (320, 240, 15);
    let mut pattern = TestPattern::new(w, h, fps);
    let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(w, h, fps, bitrate))?;
    let mut dec = Vp8Decoder::new()?;
    let mut grid = RgbImage::new(2 * w, 2 * h);
    let mut bytes = 0;
    let mut slot = 0;
    for n in 0..30u32 {
        let t = u64::from(n) * 1_000_000 / u64::from(fps);
        let e = enc
            .encode(&pattern.next_frame(t), t, false)?
            .ok_or("no frame")?;
        bytes += e.data.len();
        let pic = dec.decode(&e.data)?.ok_or("no picture")?;
        if [0, 10, 20, 29].contains(&n) {
            println!(
                "frame {n}: {} bytes, stamp {:?}",
                e.data.len(),
                read_stamp(&pic)
            );
            grid.blit(&i420_to_rgb(&pic), (slot % 2) * w, (slot / 2) * h);
            slot += 1;
        }
    }
    println!("{} kbps over 2 s", bytes * 8 / 2 / 1000);
    write_png(&grid, BufWriter::new(File::create(&path)?))?;
    println!("wrote {path}");
    Ok(())
}

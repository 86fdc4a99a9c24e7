//! IVF, WAV and PNG writers and readers.

use std::io::Cursor;

use meshrtc_media::sink::{
    i420_to_rgb, write_png, IvfReader, IvfWriter, RgbImage, WavReader, WavWriter,
};
use meshrtc_media::source::{TestPattern, ToneSource};
use meshrtc_media::MediaError;

fn ivf_file() -> Vec<u8> {
    let mut w = IvfWriter::new(Cursor::new(Vec::new()), *b"VP80", 320, 240, 1, 90_000).unwrap();
    for n in 0..5u64 {
        let data = vec![n as u8; 10 + n as usize * 7];
        w.write_frame(&data, n * 6000).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn ivf_writer_and_reader_round_trip() {
    let file = ivf_file();
    assert_eq!(&file[..4], b"DKIF");
    let mut r = IvfReader::new(Cursor::new(&file)).unwrap();
    let h = *r.header();
    assert_eq!(&h.fourcc, b"VP80");
    assert_eq!(
        (h.width, h.height, h.timebase_num, h.timebase_den),
        (320, 240, 1, 90_000)
    );
    assert_eq!(h.frame_count, 5);
    for n in 0..5u64 {
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(f.pts, n * 6000);
        assert_eq!(f.data, vec![n as u8; 10 + n as usize * 7]);
    }
    assert!(r.next_frame().unwrap().is_none());
}

#[test]
fn ivf_reader_rejects_truncated_and_garbage_files() {
    let file = ivf_file();
    assert!(matches!(
        IvfReader::new(Cursor::new(&file[..20])),
        Err(MediaError::Truncated { .. })
    ));
    assert!(matches!(
        IvfReader::new(Cursor::new(b"RIFF0000000000000000000000000000")),
        Err(MediaError::BadMagic(_))
    ));
    // Cut inside a frame header, then inside a frame body.
    for cut in [32 + 5, 32 + 12 + 4] {
        let mut r = IvfReader::new(Cursor::new(&file[..cut])).unwrap();
        assert!(
            matches!(r.next_frame(), Err(MediaError::Truncated { .. })),
            "cut at {cut}"
        );
    }
    // A frame header claiming 4 GB.
    let mut huge = file[..32].to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    huge.extend_from_slice(&[0; 8]);
    let mut r = IvfReader::new(Cursor::new(huge)).unwrap();
    assert!(matches!(r.next_frame(), Err(MediaError::TooLarge(_))));
}

#[test]
fn wav_writer_and_reader_round_trip() {
    let mut tone = ToneSource::new(48_000, 2, 440.0);
    let mut w = WavWriter::new(Cursor::new(Vec::new()), 48_000, 2).unwrap();
    let mut all = Vec::new();
    for _ in 0..10 {
        let f = tone.next_frame();
        w.write_samples(&f).unwrap();
        all.extend(f);
    }
    let file = w.finish().unwrap().into_inner();
    assert_eq!(file.len(), 44 + all.len() * 2);
    assert_eq!(
        u32::from_le_bytes(file[4..8].try_into().unwrap()) as usize,
        file.len() - 8
    );
    let r = WavReader::new(Cursor::new(&file)).unwrap();
    assert_eq!((r.sample_rate, r.channels), (48_000, 2));
    assert_eq!(r.samples().unwrap(), all);
}

#[test]
fn wav_reader_rejects_truncated_and_garbage_files() {
    let mut w = WavWriter::new(Cursor::new(Vec::new()), 8000, 1).unwrap();
    w.write_samples(&[1, 2, 3, 4]).unwrap();
    let file = w.finish().unwrap().into_inner();
    assert!(WavReader::new(Cursor::new(&file[..10])).is_err());
    assert!(WavReader::new(Cursor::new(&file[..30])).is_err());
    let r = WavReader::new(Cursor::new(&file[..file.len() - 2])).unwrap();
    assert!(matches!(r.samples(), Err(MediaError::Truncated { .. })));
    assert!(matches!(
        WavReader::new(Cursor::new(vec![0u8; 64])),
        Err(MediaError::BadMagic(_))
    ));
    let mut eight_bit = file.clone();
    eight_bit[34] = 8;
    assert!(matches!(
        WavReader::new(Cursor::new(eight_bit)),
        Err(MediaError::Unsupported(_))
    ));
}

#[test]
fn png_of_a_test_pattern_frame_reads_back() {
    let frame = TestPattern::new(320, 240, 15).next_frame(0);
    let rgb = i420_to_rgb(&frame);
    // Composite two frames side by side, as a call snapshot would.
    let mut canvas = RgbImage::new(640, 240);
    canvas.blit(&rgb, 0, 0);
    canvas.blit(&rgb, 320, 0);
    canvas.blit(&rgb, 600, 200); // clipped, must not panic
    let mut png_bytes = Vec::new();
    write_png(&canvas, &mut png_bytes).unwrap();

    let decoder = png::Decoder::new(Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (640, 240));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(&buf[..info.buffer_size()], &canvas.data[..]);
    // The first bar (75% white) sits below the stamp band on the left.
    let px = rgb.pixel(10, 120).unwrap();
    assert!(px.iter().all(|&c| (180..=200).contains(&c)), "{px:?}");
}

//! VP8 on libvpx with the stamped test pattern.

use meshrtc_media::source::{read_stamp, TestPattern};
use meshrtc_media::vp8::{I420Frame, Vp8Decoder, Vp8Encoder, Vp8EncoderConfig};
use meshrtc_media::MediaError;

const W: u32 = 320;
const H: u32 = 240;
const FPS: u32 = 15;
const FRAME_US: u64 = 1_000_000 / FPS as u64;

fn capture_time(n: u32) -> u64 {
    // An arbitrary wall-clock-like origin, so the stamp carries a big number.
    1_700_000_000_000_000 + u64::from(n) * FRAME_US
}

#[test]
fn vp8_round_trip_keeps_every_frame_number_and_capture_time() {
    let mut pattern = TestPattern::new(W, H, FPS);
    let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(W, H, FPS, 300_000)).unwrap();
    let mut dec = Vp8Decoder::new().unwrap();
    let mut bytes = 0usize;
    for n in 0..30u32 {
        let t = capture_time(n);
        let frame = pattern.next_frame(t);
        let force = n == 10;
        let out = enc
            .encode(&frame, t, force)
            .unwrap()
            .expect("no frame drops");
        assert_eq!(out.pts, t);
        match n {
            0 => assert!(out.keyframe, "first frame must be a key frame"),
            10 => assert!(out.keyframe, "forced key frame"),
            _ => assert!(!out.keyframe, "frame {n} should be a delta frame"),
        }
        // RFC 6386 §9.1: bit 0 of the frame tag is 0 on key frames.
        assert_eq!(out.data[0] & 1 == 0, out.keyframe);
        bytes += out.data.len();
        let pic = dec.decode(&out.data).unwrap().expect("a picture");
        assert_eq!((pic.width, pic.height), (W, H));
        let stamp = read_stamp(&pic).unwrap_or_else(|| panic!("stamp of frame {n} unreadable"));
        assert_eq!(stamp.frame_number, n);
        assert_eq!(stamp.capture_time_us, t);
    }
    assert_eq!(dec.frames_decoded, 30);
    assert_eq!(dec.decode_errors, 0);
    // 2 s of video at 300 kbps; key frames make it lumpy, so a loose bound.
    let kbps = bytes as f64 * 8.0 / 2.0 / 1000.0;
    assert!((60.0..900.0).contains(&kbps), "{kbps} kbps");
}

#[test]
fn vp8_stamp_survives_a_low_bitrate() {
    let mut pattern = TestPattern::new(W, H, FPS);
    let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(W, H, FPS, 80_000)).unwrap();
    let mut dec = Vp8Decoder::new().unwrap();
    for n in 0..10u32 {
        let frame = pattern.next_frame(capture_time(n));
        let out = enc.encode(&frame, capture_time(n), false).unwrap().unwrap();
        let pic = dec.decode(&out.data).unwrap().unwrap();
        assert_eq!(read_stamp(&pic).map(|s| s.frame_number), Some(n));
    }
}

#[test]
fn vp8_decoder_rejects_garbage_and_truncation_then_recovers_on_a_key_frame() {
    let mut pattern = TestPattern::new(W, H, FPS);
    let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(W, H, FPS, 300_000)).unwrap();
    let mut frames = Vec::new();
    for n in 0..4u32 {
        let f = pattern.next_frame(capture_time(n));
        frames.push(enc.encode(&f, capture_time(n), n == 3).unwrap().unwrap());
    }
    let mut dec = Vp8Decoder::new().unwrap();
    // Nothing decoded yet: a delta frame has no reference.
    assert!(dec.decode(&frames[1].data).is_err());
    // Garbage of several shapes, including a key frame tag in front of noise.
    let mut noise: Vec<u8> = (0..2000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(dec.decode(&noise).is_err());
    noise[..10].copy_from_slice(&frames[0].data[..10]);
    let _ = dec.decode(&noise); // may or may not be caught; must not crash
    assert!(dec.decode(&[]).is_err());
    assert!(dec.decode(&[0x00]).is_err());
    // A key frame cut short inside its first partition.
    let key = &frames[0].data;
    assert!(dec.decode(&key[..key.len().min(20)]).is_err());
    assert!(dec.decode(&key[..3]).is_err());
    let errors = dec.decode_errors;
    assert!(errors >= 6, "{errors} errors counted");

    // A good key frame brings it back.
    let pic = dec.decode(&frames[0].data).unwrap().unwrap();
    assert_eq!(read_stamp(&pic).unwrap().frame_number, 0);
    let pic = dec.decode(&frames[1].data).unwrap().unwrap();
    assert_eq!(read_stamp(&pic).unwrap().frame_number, 1);
    // Frame 2 lost: frame 3 is the forced key frame, which decodes.
    assert!(frames[3].keyframe);
    let pic = dec.decode(&frames[3].data).unwrap().unwrap();
    assert_eq!(read_stamp(&pic).unwrap().frame_number, 3);
}

#[test]
fn vp8_encoder_refuses_a_frame_of_the_wrong_size() {
    let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(W, H, FPS, 300_000)).unwrap();
    let small = I420Frame::new_black(160, 120);
    assert!(matches!(
        enc.encode(&small, 0, false),
        Err(MediaError::FrameSizeMismatch { .. })
    ));
    let mut bad = I420Frame::new_black(W, H);
    bad.u.pop();
    assert!(matches!(
        enc.encode(&bad, 0, false),
        Err(MediaError::BadPlanes { .. })
    ));
}

#[test]
fn vp8_periodic_key_frames_and_bitrate_change() {
    let mut cfg = Vp8EncoderConfig::new(W, H, FPS, 300_000);
    cfg.keyframe_interval = Some(5);
    let mut enc = Vp8Encoder::new(cfg).unwrap();
    let mut pattern = TestPattern::new(W, H, FPS);
    let mut keys = Vec::new();
    for n in 0..12u32 {
        if n == 6 {
            enc.set_bitrate(150_000);
        }
        let f = pattern.next_frame(capture_time(n));
        if enc
            .encode(&f, capture_time(n), false)
            .unwrap()
            .unwrap()
            .keyframe
        {
            keys.push(n);
        }
    }
    assert_eq!(enc.config().bitrate_bps, 150_000);
    assert_eq!(keys.first(), Some(&0));
    assert!(keys.len() >= 2, "key frames at {keys:?}");
    assert!(
        keys.windows(2).all(|w| w[1] - w[0] <= 5),
        "key frames at {keys:?}"
    );
}

#[test]
fn vp8_frames_cut_anywhere_are_errors_not_pictures() {
    let mut pattern = TestPattern::new(W, H, FPS);
    let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(W, H, FPS, 300_000)).unwrap();
    let frames: Vec<_> = (0..3u32)
        .map(|n| {
            let f = pattern.next_frame(capture_time(n));
            enc.encode(&f, capture_time(n), false).unwrap().unwrap()
        })
        .collect();
    for (i, f) in frames.iter().enumerate() {
        for percent in [10, 25, 50, 75, 95] {
            let mut dec = Vp8Decoder::new().unwrap();
            if i > 0 {
                dec.decode(&frames[0].data).unwrap();
            }
            let cut = f.data.len() * percent / 100;
            assert!(
                dec.decode(&f.data[..cut]).is_err(),
                "frame {i} cut to {percent}%"
            );
            assert_eq!(dec.decode_errors, 1);
            // The next key frame decodes.
            assert!(dec.decode(&frames[0].data).unwrap().is_some());
        }
    }
}

//! The fake codec used by simulator tests.

use meshrtc_media::fake::{read_frame, FakeConfig, FakeDecoder, FakeEncoder};
use meshrtc_media::MediaError;

fn config() -> FakeConfig {
    FakeConfig {
        keyframe_interval_frames: Some(60),
        ..FakeConfig::new(500_000, 30)
    }
}

#[test]
fn fake_encoder_hits_its_bitrate_and_key_frame_interval() {
    let mut enc = FakeEncoder::new(config(), 7);
    let (mut bytes, mut keys, mut key_bytes, mut delta_bytes) = (0usize, vec![], 0usize, 0usize);
    for n in 0..300u32 {
        let f = enc.encode(n, u64::from(n) * 33_333, false);
        bytes += f.data.len();
        if f.keyframe {
            keys.push(n);
            key_bytes += f.data.len();
        } else {
            delta_bytes += f.data.len();
        }
    }
    assert_eq!(keys, vec![0, 60, 120, 180, 240]);
    let bps = bytes as f64 * 8.0 / 10.0;
    assert!((bps - 500_000.0).abs() < 50_000.0, "{bps} bps");
    let ratio = (key_bytes as f64 / 5.0) / (delta_bytes as f64 / 295.0);
    assert!((4.0..9.0).contains(&ratio), "key/delta size ratio {ratio}");
}

#[test]
fn fake_encoder_is_deterministic_per_seed() {
    let run = |seed| {
        let mut e = FakeEncoder::new(config(), seed);
        (0..20)
            .map(|n| e.encode(n, 0, false).data)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn fake_frames_look_like_vp8_and_read_back() {
    let mut enc = FakeEncoder::new(config(), 3);
    let key = enc.encode(41, 1_234_567, false);
    let delta = enc.encode(42, 1_300_000, false);
    let forced = enc.encode(43, 1_366_666, true);
    assert!(key.keyframe && !delta.keyframe && forced.keyframe);
    // RFC 6386 §9.1: P bit clear on key frames, set on delta frames; show_frame set.
    assert_eq!(key.data[0] & 1, 0);
    assert_eq!(delta.data[0] & 1, 1);
    assert_eq!(key.data[0] & 0x10, 0x10);
    assert_eq!(&key.data[3..6], &[0x9d, 0x01, 0x2a]);
    assert_eq!(u16::from_le_bytes([key.data[6], key.data[7]]), 320);
    assert_eq!(u16::from_le_bytes([key.data[8], key.data[9]]), 240);
    let tag = u32::from_le_bytes([key.data[0], key.data[1], key.data[2], 0]);
    assert_eq!((tag >> 5) as usize, key.data.len() - 10);

    let info = read_frame(&key.data).unwrap();
    assert_eq!(
        (info.frame_number, info.capture_time_us, info.keyframe),
        (41, 1_234_567, true)
    );
    let info = read_frame(&delta.data).unwrap();
    assert_eq!(
        (info.frame_number, info.capture_time_us, info.keyframe),
        (42, 1_300_000, false)
    );
    assert_eq!(info.sequence, 1);
}

#[test]
fn fake_frame_corruption_is_detected() {
    let mut enc = FakeEncoder::new(config(), 5);
    let f = enc.encode(1, 2, false);
    for i in [0, 5, 20, f.data.len() / 2, f.data.len() - 1] {
        let mut bad = f.data.clone();
        bad[i] ^= 0x40;
        assert_eq!(read_frame(&bad), None, "flip at {i} undetected");
    }
    assert_eq!(read_frame(&f.data[..f.data.len() - 1]), None);
    assert_eq!(read_frame(&[]), None);
    assert_eq!(read_frame(&[0x00, 0x01]), None);
    let mut dec = FakeDecoder::new();
    let mut bad = f.data.clone();
    bad[30] ^= 1;
    assert!(matches!(dec.decode(&bad), Err(MediaError::CorruptFrame)));
}

#[test]
fn fake_decoder_errors_on_a_gap_and_recovers_on_the_next_key_frame() {
    let mut enc = FakeEncoder::new(FakeConfig::new(300_000, 30), 9);
    let frames: Vec<_> = (0..8).map(|n| enc.encode(n, 0, n == 5)).collect();
    let mut dec = FakeDecoder::new();
    assert!(dec.needs_keyframe());
    // A delta frame before any key frame.
    assert!(matches!(
        dec.decode(&frames[1].data),
        Err(MediaError::MissingReference { .. })
    ));
    dec.decode(&frames[0].data).unwrap();
    dec.decode(&frames[1].data).unwrap();
    // Frame 2 lost.
    let err = dec.decode(&frames[3].data).unwrap_err();
    assert!(matches!(
        err,
        MediaError::MissingReference {
            sequence: 3,
            last_good: Some(1)
        }
    ));
    assert!(dec.needs_keyframe());
    // Still broken for the next delta, even though it follows frame 3.
    assert!(dec.decode(&frames[4].data).is_err());
    // Key frame 5 repairs the chain.
    assert!(dec.decode(&frames[5].data).unwrap().keyframe);
    assert_eq!(dec.decode(&frames[6].data).unwrap().frame_number, 6);
    assert_eq!(dec.decode(&frames[7].data).unwrap().frame_number, 7);
    assert_eq!((dec.frames_decoded, dec.decode_errors), (5, 3));
}

//! Opus on libopus with the tone source.

use meshrtc_media::opus::{OpusDecoder, OpusEncoder};
use meshrtc_media::source::ToneSource;
use meshrtc_media::MediaError;

fn rms(s: &[i16]) -> f64 {
    (s.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / s.len().max(1) as f64).sqrt()
}

#[test]
fn opus_round_trip_of_a_tone_keeps_length_and_energy() {
    for channels in [1u8, 2] {
        let mut tone = ToneSource::new(48_000, channels, 440.0);
        let mut enc = OpusEncoder::new(48_000, channels, 32_000).unwrap();
        let mut dec = OpusDecoder::new(48_000, channels).unwrap();
        let (mut input, mut output) = (Vec::new(), Vec::new());
        let mut bytes = 0;
        for _ in 0..50 {
            let pcm = tone.next_frame();
            assert_eq!(pcm.len(), 960 * channels as usize);
            let pkt = enc.encode(&pcm).unwrap();
            assert!(!pkt.is_empty() && pkt.len() < 400, "{} bytes", pkt.len());
            bytes += pkt.len();
            let out = dec.decode(Some(&pkt)).unwrap();
            assert_eq!(out.len(), 960 * channels as usize);
            input.extend(pcm);
            output.extend(out);
        }
        // 1 s at 32 kbps is 4000 bytes; allow the encoder its slack.
        assert!((2000..8000).contains(&bytes), "{bytes} bytes");
        // Skip the codec's start-up delay, then compare loudness.
        let (a, b) = (rms(&input[9600..]), rms(&output[9600..]));
        assert!(b > 0.5 * a && b < 1.5 * a, "rms in {a:.0}, out {b:.0}");
        // The beep (first 100 ms of each second) is louder than the rest.
        let beep = rms(&output[960 * channels as usize..4800 * channels as usize]);
        let quiet = rms(&output[9600 * channels as usize..]);
        assert!(beep > 2.0 * quiet, "beep {beep:.0}, quiet {quiet:.0}");
    }
}

#[test]
fn opus_packet_loss_concealment_fills_20_ms() {
    let mut tone = ToneSource::new(48_000, 1, 440.0);
    let mut enc = OpusEncoder::new(48_000, 1, 32_000).unwrap();
    let mut dec = OpusDecoder::new(48_000, 1).unwrap();
    for _ in 0..10 {
        let pkt = enc.encode(&tone.next_frame()).unwrap();
        dec.decode(Some(&pkt)).unwrap();
    }
    let concealed = dec.decode(None).unwrap();
    assert_eq!(concealed.len(), 960);
    assert!(
        rms(&concealed) > 100.0,
        "concealment should continue the tone"
    );
    // And the decoder goes on with real packets afterwards.
    let pkt = enc.encode(&tone.next_frame()).unwrap();
    assert_eq!(dec.decode(Some(&pkt)).unwrap().len(), 960);
}

#[test]
fn opus_rejects_bad_input_without_crashing() {
    let mut enc = OpusEncoder::new(48_000, 1, 32_000).unwrap();
    assert!(matches!(
        enc.encode(&[0; 100]),
        Err(MediaError::BadPcmLength {
            expected: 960,
            got: 100
        })
    ));
    assert!(OpusEncoder::new(44_100, 1, 32_000).is_err());
    assert!(OpusDecoder::new(48_000, 3).is_err());
    let mut dec = OpusDecoder::new(48_000, 1).unwrap();
    assert!(dec.decode(Some(&[])).is_err());
    // A TOC byte claiming code 3 with an impossible frame count.
    assert!(dec.decode(Some(&[0x03, 0x00])).is_err());
    assert!(dec.decode_errors >= 2);
}

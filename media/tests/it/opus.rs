//! Opus on libopus with the tone source.

use meshrtc_media::opus::{OpusDecoder, OpusEncoder};
use meshrtc_media::source::{ToneSource, VoiceSource};
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

/// RFC 6716 §3.1: TOC configurations 0-15 are SILK-only or hybrid, the
/// modes that carry in-band FEC (§2.1.7).
fn silk_or_hybrid(packet: &[u8]) -> bool {
    packet.first().is_some_and(|toc| toc >> 3 < 16)
}

/// `frames` 20 ms frames of [`VoiceSource`] at 48 kHz.
fn voice_like(frames: usize) -> Vec<Vec<i16>> {
    let mut v = VoiceSource::new(48_000);
    (0..frames).map(|_| v.next_frame()).collect()
}

#[test]
fn a_lost_packet_is_decoded_from_the_next_ones_fec_data_not_concealed() {
    let mut enc = OpusEncoder::new(48_000, 1, 32_000).unwrap();
    enc.set_inband_fec(10).unwrap();
    let packets: Vec<Vec<u8>> = voice_like(100)
        .iter()
        .map(|f| enc.encode(f).unwrap())
        .collect();
    assert!(packets.iter().all(|p| silk_or_hybrid(p)));
    // The loss-free decode is the reference.
    let mut reference = OpusDecoder::new(48_000, 1).unwrap();
    let want: Vec<Vec<i16>> = packets
        .iter()
        .map(|p| reference.decode(Some(p)).unwrap())
        .collect();
    // Two decoders fed the same packets: at the first loss their states
    // are equal, so the FEC decode differs from concealment only if the
    // next packet really carried the lost frame.
    let (mut with_fec, mut plc) = (
        OpusDecoder::new(48_000, 1).unwrap(),
        OpusDecoder::new(48_000, 1).unwrap(),
    );
    let mut n = 0;
    for (i, p) in packets.iter().enumerate() {
        if i % 10 == 5 && i > 20 {
            let a = with_fec.decode_fec(&packets[i + 1]).unwrap();
            let b = plc.decode(None).unwrap();
            assert_eq!((a.len(), b.len()), (960, 960));
            if n == 0 {
                assert_ne!(a, b, "the FEC decode was a concealment");
            }
            // As loud as the frame it stands for.
            let (got, wanted) = (rms(&a), rms(&want[i]));
            assert!(
                got > 0.5 * wanted && got < 1.5 * wanted,
                "frame {i}: rms {got:.0}, the lost frame's {wanted:.0}"
            );
            n += 1;
        } else {
            with_fec.decode(Some(p)).unwrap();
            plc.decode(Some(p)).unwrap();
        }
    }
    assert_eq!(n, 8);
    // Without FEC data (the encoder's FEC off) the same call conceals.
    let mut plain = OpusEncoder::new(48_000, 1, 32_000).unwrap();
    let packets: Vec<Vec<u8>> = voice_like(30)
        .iter()
        .map(|f| plain.encode(f).unwrap())
        .collect();
    let (mut x, mut y) = (
        OpusDecoder::new(48_000, 1).unwrap(),
        OpusDecoder::new(48_000, 1).unwrap(),
    );
    for p in &packets[..25] {
        x.decode(Some(p)).unwrap();
        y.decode(Some(p)).unwrap();
    }
    if silk_or_hybrid(&packets[26]) {
        assert_eq!(x.decode_fec(&packets[26]).unwrap(), y.decode(None).unwrap());
    }
}

#[test]
fn playout_of_a_lossy_reordered_stream_is_continuous_and_counts_how_each_frame_was_made() {
    use meshrtc_media::audio_playout::AudioPlayout;
    use std::time::{Duration, Instant};
    let mut enc = OpusEncoder::new(48_000, 1, 32_000).unwrap();
    enc.set_inband_fec(10).unwrap();
    let mut playout = AudioPlayout::new(1).unwrap();
    let t0 = Instant::now();
    let mut pcm = Vec::new();
    let frames = 250u32; // 5 s
    let voice = voice_like(frames as usize);
    // Frame i arrives at i x 20 ms, except: 5% lost (every 20th), and
    // every 7th 30 ms late, after the one that follows it.
    let mut arrivals: Vec<(u32, u32, Vec<u8>)> = (0..frames)
        .map(|i| {
            let late = if i % 7 == 3 { 30 } else { 0 };
            (i * 20 + late, i, enc.encode(&voice[i as usize]).unwrap())
        })
        .filter(|(_, i, _)| i % 20 != 13)
        .collect();
    arrivals.sort_by_key(|a| a.0);
    let mut next = 0;
    for ms in 0..(frames * 20 + 400) {
        let now = t0 + Duration::from_millis(u64::from(ms));
        while next < arrivals.len() && arrivals[next].0 <= ms {
            let (_, i, p) = arrivals[next].clone();
            playout.push(now, 1_000 + i * 960, p);
            next += 1;
        }
        while let Some(f) = playout.poll(now) {
            assert_eq!(f.len(), 960);
            pcm.extend(f);
        }
    }
    let s = playout.stats();
    assert_eq!(s.received, u64::from(frames - frames / 20));
    // Each lost frame's next packet was there in time: recovered by FEC.
    assert_eq!(s.fec, u64::from(frames / 20), "{s:?}");
    assert_eq!(s.late, 0, "{s:?}");
    assert_eq!(playout.decode_errors(), 0);
    // Every frame played once, then the stream's end concealed.
    let made = s.played + s.fec + s.concealed;
    assert_eq!(pcm.len() as u64, made * 960);
    assert!(s.played + s.fec >= u64::from(frames) - 1, "{s:?}");
    assert!(rms(&pcm[48_000..]) > 100.0);
}

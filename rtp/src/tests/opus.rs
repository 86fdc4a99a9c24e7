use crate::opus::*;
use crate::RtpError;
use std::time::Duration;

#[test]
fn the_rtp_clock_is_48_khz_whatever_the_frame() {
    let ms = Duration::from_millis;
    assert_eq!(timestamp_increment(ms(20)), 960);
    assert_eq!(timestamp_increment(ms(10)), 480);
    assert_eq!(timestamp_increment(Duration::from_micros(2500)), 120);
    assert_eq!(timestamp_increment(ms(60)), 2880);
    assert_eq!(timestamp_increment(ms(120)), 5760);
    assert_eq!(samples_to_duration(960), ms(20));
}

#[test]
fn toc_byte_gives_mode_bandwidth_and_frame_duration() {
    // RFC 6716 §3.1 table 2, one configuration per row.
    let rows: &[(u8, OpusMode, OpusBandwidth, u32)] = &[
        (0, OpusMode::Silk, OpusBandwidth::Narrowband, 480),
        (5, OpusMode::Silk, OpusBandwidth::Mediumband, 960),
        (11, OpusMode::Silk, OpusBandwidth::Wideband, 2880),
        (12, OpusMode::Hybrid, OpusBandwidth::SuperWideband, 480),
        (15, OpusMode::Hybrid, OpusBandwidth::Fullband, 960),
        (16, OpusMode::Celt, OpusBandwidth::Narrowband, 120),
        (22, OpusMode::Celt, OpusBandwidth::Wideband, 480),
        (25, OpusMode::Celt, OpusBandwidth::SuperWideband, 240),
        (31, OpusMode::Celt, OpusBandwidth::Fullband, 960),
    ];
    for &(config, mode, bw, samples) in rows {
        let toc = OpusToc(config << 3 | 0b100 | 0b01);
        assert_eq!(toc.config(), config);
        assert!(toc.stereo());
        assert_eq!(toc.frame_count_code(), 1);
        assert_eq!(
            (toc.mode(), toc.bandwidth(), toc.frame_samples()),
            (mode, bw, samples)
        );
    }
    assert_eq!(OpusToc(31 << 3).frame_duration(), Duration::from_millis(20));
}

#[test]
fn packet_duration_from_the_frame_count_code() {
    // Code 0: one 20 ms CELT frame (what browsers send).
    assert_eq!(packet_samples(&[0xF8, 1, 2, 3]).unwrap(), 960);
    // Code 1: two equal frames.
    assert_eq!(packet_samples(&[0xF9, 1, 2]).unwrap(), 1920);
    // Code 2: two frames, first length given.
    assert_eq!(packet_samples(&[0xFA, 1, 9, 9]).unwrap(), 1920);
    // Code 3: 3 frames of 20 ms; 6 × 20 ms = 120 ms is the maximum.
    assert_eq!(packet_samples(&[0xFB, 3, 0, 0, 0]).unwrap(), 2880);
    assert_eq!(
        packet_duration(&[0xFB, 6]).unwrap(),
        Duration::from_millis(120)
    );
    // 48 × 2.5 ms = 120 ms.
    assert_eq!(packet_samples(&[(16 << 3) | 3, 48]).unwrap(), 5760);
}

#[test]
fn malformed_opus_packets() {
    let bad: &[&[u8]] = &[
        &[],
        &[0xF9, 1],           // code 1, odd payload
        &[0xFA],              // code 2 without length
        &[0xFB],              // code 3 without count
        &[0xFB, 0],           // code 3, zero frames
        &[0xFB, 7],           // 140 ms
        &[(16 << 3) | 3, 49], // 122.5 ms
    ];
    for b in bad {
        assert!(
            matches!(frame_count(b), Err(RtpError::MalformedOpus(_))),
            "{b:?}"
        );
    }
}

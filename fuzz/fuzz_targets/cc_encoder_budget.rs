//! The encoder's budget measurements (`meshrtc_cc::SendMix`,
//! `meshrtc_cc::EncoderOvershoot`) fed any script of packets sent, frames
//! encoded and clock moves, backwards ones included: they never panic, the
//! wire bytes per encoded byte stay within `1..=MAX_EXPANSION`, the
//! overshoot within `1..=MAX_OVERSHOOT`, and neither ever hands out more
//! than it was given.
//!
//! Input: records `dt, op, size_hi, size_lo, rate_hi, rate_lo`. The clock
//! moves `dt` ms forward (backwards when bit 7 of `op` is set); the low
//! bits of `op` pick: 0 audio sent, 1 video sent, 2 a retransmission, 3
//! padding (`size` bytes on the wire), 4 a frame encoded for the
//! connection (`size` bytes), 5 a frame the encoder made of `size` bytes
//! while asked for `rate` kbit/s. After each record the budget of `rate`
//! kbit/s is read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_cc::encoder_overshoot::{EncoderOvershoot, MAX_OVERSHOOT};
use meshrtc_cc::send_mix::{SendMix, MAX_EXPANSION};
use meshrtc_cc::PacketClass;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let mut mix = SendMix::default();
    let mut overshoot = EncoderOvershoot::default();
    let start = Instant::now() + Duration::from_secs(3600);
    let mut now = start;
    for r in data.chunks_exact(6) {
        let dt = Duration::from_millis(u64::from(r[0]));
        now = if r[1] & 0x80 != 0 {
            now.checked_sub(dt).unwrap_or(now).max(start)
        } else {
            now + dt
        };
        let size = usize::from(u16::from_be_bytes([r[2], r[3]]));
        let rate = u64::from(u16::from_be_bytes([r[4], r[5]])) * 1000;
        match r[1] & 0x7f {
            0 => mix.on_sent(now, PacketClass::Audio, size),
            1 => mix.on_sent(now, PacketClass::Video, size),
            2 => mix.on_sent(now, PacketClass::Retransmission, size),
            3 => mix.on_sent(now, PacketClass::Padding, size),
            4 => mix.on_video_encoded(now, size),
            5 => overshoot.on_frame(now, size, rate),
            _ => {}
        }
        if let Some((audio, expansion)) = mix.measured() {
            assert!(
                (1.0..=MAX_EXPANSION).contains(&expansion),
                "expansion {expansion}"
            );
            let budget = mix.video_budget(rate).expect("measured");
            assert!(budget <= rate, "budget {budget} of {rate}");
            if audio >= rate {
                assert_eq!(budget, 0);
            }
        } else {
            assert!(mix.video_budget(rate).is_none());
        }
        let f = overshoot.factor();
        assert!((1.0..=MAX_OVERSHOOT).contains(&f), "overshoot {f}");
        assert!(overshoot.target_for(rate) <= rate);
    }
});

//! What of a connection's estimate its video encoder may have: the
//! estimate covers every byte on the wire (draft-ietf-rmcat-gcc-02 §5:
//! the rate controller's output is the sending rate), and the encoder's
//! target counts only the frames it produces. Between the two lie the
//! audio stream, each video packet's RTP header, header extensions, payload
//! descriptor, SRTP tag and UDP/IP header, and the retransmissions the
//! losses cost. [`SendMix`] measures them on what actually left (the last
//! one to two seconds, [`crate::rate_window`]) instead of assuming them:
//! audio's rate on the wire, and the bytes on the wire per byte of encoded
//! video.
//!
//! A fixed share cannot fit every path: 85% of the estimate less a 60
//! kbit/s audio allowance left 11-13% of a 1 Mbit/s link unused with an
//! encoder that meets its target (the simulator's), and is what an encoder
//! that overshoots by 15% needs ([`crate::encoder_overshoot`] measures
//! that part).

use std::time::Instant;

use crate::pacer::PacketClass;
use crate::rate_window::RateWindow;

const AUDIO: usize = 0;
const VIDEO_WIRE: usize = 1;
const VIDEO_ENCODED: usize = 2;

/// Bytes on the wire per encoded video byte are at least 1 and taken as
/// at most this: more means the window holds too little video to measure
/// (a key frame still queued, say).
pub const MAX_EXPANSION: f64 = 1.5;

/// Encoded video bytes a window needs before its expansion counts (about
/// a second of video at 16 kbit/s).
pub const MIN_ENCODED_BYTES: f64 = 2_000.0;

/// See the module documentation.
#[derive(Debug, Default, Clone)]
pub struct SendMix {
    window: RateWindow<3>,
    /// The latest packet or frame: the window is read as of then.
    latest: Option<Instant>,
}

impl SendMix {
    /// A packet of `wire_bytes` (SRTP tag and UDP/IP header included) left
    /// the pacer. Audio counts as audio; video and retransmissions as video
    /// on the wire; padding not at all (it is the estimator's, not the
    /// encoder's).
    pub fn on_sent(&mut self, now: Instant, class: PacketClass, wire_bytes: usize) {
        let k = match class {
            PacketClass::Audio => AUDIO,
            PacketClass::Video | PacketClass::Retransmission => VIDEO_WIRE,
            PacketClass::Padding => return,
        };
        self.latest = Some(now);
        self.window.add(now, k, wire_bytes as f64);
    }

    /// The encoder produced a video frame of `bytes` to send here.
    pub fn on_video_encoded(&mut self, now: Instant, bytes: usize) {
        self.latest = Some(now);
        self.window.add(now, VIDEO_ENCODED, bytes as f64);
    }

    /// Audio's rate on the wire and the wire bytes per encoded video byte
    /// over the window as of the latest packet or frame; `None` until a
    /// whole second with enough video was measured.
    pub fn measured(&self) -> Option<(u64, f64)> {
        let (sums, span) = self.window.sums(self.latest?)?;
        if sums[VIDEO_ENCODED] < MIN_ENCODED_BYTES {
            return None;
        }
        let audio_bps = sums[AUDIO] * 8.0 / span.as_secs_f64();
        let expansion = (sums[VIDEO_WIRE] / sums[VIDEO_ENCODED]).clamp(1.0, MAX_EXPANSION);
        Some((audio_bps as u64, expansion))
    }

    /// The encoded video rate that, with the audio and overhead measured,
    /// fills `total_bps` on the wire; `None` until measured.
    pub fn video_budget(&self, total_bps: u64) -> Option<u64> {
        let (audio, expansion) = self.measured()?;
        Some((total_bps.saturating_sub(audio) as f64 / expansion) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Two seconds of 25 fps video of `frame` encoded bytes sent as
    /// packets of `wire` bytes, and 50 audio packets a second of `audio`
    /// wire bytes.
    fn two_seconds(mix: &mut SendMix, t0: Instant, frame: usize, wire: &[usize], audio: usize) {
        for i in 0..100u64 {
            let now = t0 + Duration::from_millis(20 * i);
            mix.on_sent(now, PacketClass::Audio, audio);
            if i % 2 == 0 {
                mix.on_video_encoded(now, frame);
                for &w in wire {
                    mix.on_sent(now, PacketClass::Video, w);
                }
            }
        }
    }

    #[test]
    fn the_budget_is_what_is_left_of_the_estimate_over_the_measured_expansion() {
        let t0 = Instant::now();
        let mut mix = SendMix::default();
        // 2000-byte frames in two packets of 1068 bytes: 1.068 on the wire
        // per encoded byte; audio 148 bytes × 50/s = 59.2 kbit/s.
        two_seconds(&mut mix, t0, 2000, &[1068, 1068], 148);
        let (audio, expansion) = mix.measured().unwrap();
        assert!((audio as f64 - 59_200.0).abs() < 1_500.0, "{audio}");
        assert!((expansion - 1.068).abs() < 1e-9, "{expansion}");
        let budget = mix.video_budget(1_000_000).unwrap();
        let expect = (1_000_000.0 - audio as f64) / 1.068;
        assert!((budget as f64 - expect).abs() < 2.0, "{budget} vs {expect}");
    }

    #[test]
    fn retransmissions_count_and_padding_does_not() {
        let t0 = Instant::now();
        let mut mix = SendMix::default();
        two_seconds(&mut mix, t0, 1000, &[1100], 0);
        for i in 0..10u64 {
            let now = t0 + Duration::from_millis(1000 + 90 * i);
            mix.on_sent(now, PacketClass::Retransmission, 1100);
            mix.on_sent(now, PacketClass::Padding, 1100);
        }
        let (audio, expansion) = mix.measured().unwrap();
        assert_eq!(audio, 0);
        // 50 frames of 1000 bytes, 50 + 10 packets of 1100 on the wire.
        assert!(
            (expansion - 60.0 * 1100.0 / 50_000.0).abs() < 1e-9,
            "{expansion}"
        );
    }

    #[test]
    fn nothing_is_measured_without_enough_video() {
        let t0 = Instant::now();
        let mut mix = SendMix::default();
        two_seconds(&mut mix, t0, 10, &[60], 148);
        assert!(mix.video_budget(500_000).is_none());
        let mut fresh = SendMix::default();
        fresh.on_video_encoded(t0, 50_000);
        fresh.on_sent(t0 + Duration::from_millis(500), PacketClass::Video, 1000);
        assert!(fresh.measured().is_none());
    }

    #[test]
    fn the_expansion_is_bounded() {
        let t0 = Instant::now();
        let mut mix = SendMix::default();
        // Frames counted, nothing sent yet (the pacer holds them).
        two_seconds(&mut mix, t0, 3000, &[], 0);
        assert_eq!(mix.measured().unwrap().1, 1.0);
        // Never more than the estimate.
        assert_eq!(mix.video_budget(400_000), Some(400_000));
        let mut mix = SendMix::default();
        two_seconds(&mut mix, t0, 1000, &[1100, 1100], 0);
        assert_eq!(mix.measured().unwrap().1, MAX_EXPANSION);
    }
}

//! A second video track, the "screen", that `meshrtc join --screen AT:FOR`
//! shares `AT` seconds after joining for `FOR` seconds: a 640x360 test
//! pattern with eight marks (so it does not look like the camera) at
//! 5 frames a second and 250 kbit/s, encoded once and sent to every
//! member over a transceiver the mesh adds by renegotiation
//! (`MeshNode::start_screen`, RFC 8829 §5.2.2 subsequent offers), then
//! stopped (its m-line rejected).

use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_media::source::TestPattern;
use meshrtc_media::vp8::{Vp8Encoder, Vp8EncoderConfig};
use meshrtc_mesh::driver::MemberHandle;
use meshrtc_peer::PacketizedFrame;
use meshrtc_rtp::vp8::Vp8Packetizer;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 360;
const FPS: u32 = 5;
const BITRATE: u32 = 250_000;

/// Parses `AT:FOR` (seconds, decimals allowed).
pub fn parse_schedule(s: &str) -> Result<(Duration, Duration), String> {
    let (at, len) = s
        .split_once(':')
        .ok_or_else(|| format!("--screen {s}: expected AT:FOR in seconds"))?;
    let secs = |v: &str| -> Result<Duration, String> {
        let f: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("--screen {s}: {v:?} is not a number of seconds"))?;
        if !(0.0..=86_400.0).contains(&f) {
            return Err(format!("--screen {s}: {v} is out of 0..=86400 seconds"));
        }
        Ok(Duration::from_secs_f64(f))
    };
    Ok((secs(at)?, secs(len)?))
}

/// The screen share of one member: when it runs and what it sends.
pub struct ScreenShare {
    start_after: Duration,
    stop_after: Duration,
    pattern: TestPattern,
    encoder: Vp8Encoder,
    packetizer: Vp8Packetizer,
    frame_no: u64,
    next_frame: Option<Instant>,
    started: bool,
    stopped: bool,
    /// Frames sent.
    pub frames_sent: u64,
}

impl ScreenShare {
    /// Shares `at` after joining, for `len`.
    pub fn new((at, len): (Duration, Duration), picture_id: u16) -> Result<ScreenShare, String> {
        let encoder = Vp8Encoder::new(Vp8EncoderConfig::new(WIDTH, HEIGHT, FPS, BITRATE))
            .map_err(|e| e.to_string())?;
        Ok(ScreenShare {
            start_after: at,
            stop_after: at + len,
            pattern: TestPattern::with_marks(WIDTH, HEIGHT, FPS, 8),
            encoder,
            packetizer: Vp8Packetizer::new(picture_id),
            frame_no: 0,
            next_frame: None,
            started: false,
            stopped: false,
            frames_sent: 0,
        })
    }

    /// Starts, sends the frames due, or stops, `now` with the member
    /// joined at `joined_at`. Returns when to be called next.
    pub fn tick(
        &mut self,
        now: Instant,
        joined_at: Instant,
        member: &MemberHandle,
    ) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        let since = now.saturating_duration_since(joined_at);
        if since >= self.stop_after {
            if self.started {
                member.stop_screen();
            }
            self.stopped = true;
            return None;
        }
        if since < self.start_after {
            return Some(joined_at + self.start_after);
        }
        if !self.started {
            self.started = true;
            member.start_screen();
            self.next_frame = Some(now);
        }
        let interval = Duration::from_secs(1) / FPS;
        let mut next = self.next_frame.unwrap_or(now);
        while next <= now {
            let pts = self.frame_no * 1_000_000 / u64::from(FPS);
            let key = self.frame_no == 0 || member.screen_keyframe_wanted();
            let img = self.pattern.next_frame(pts);
            if let Ok(Some(f)) = self.encoder.encode(&img, pts, key) {
                let ts = (self.frame_no * 90_000 / u64::from(FPS)) as u32;
                if let Ok(p) = PacketizedFrame::vp8(&mut self.packetizer, f.data.into(), ts, 1100) {
                    member.send_screen_frame(Arc::new(p));
                    self.frames_sent += 1;
                }
            }
            self.frame_no += 1;
            next += interval;
        }
        self.next_frame = Some(next);
        Some(next.min(joined_at + self.stop_after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_schedule("2:3.5").unwrap(),
            (Duration::from_secs(2), Duration::from_millis(3500))
        );
        for bad in ["2", "a:1", "1:-1", "1:1e9", ":"] {
            let e = parse_schedule(bad).unwrap_err();
            assert!(e.starts_with("--screen"), "{bad}: {e}");
        }
    }
}

//! A jitter buffer for 20 ms Opus packets: packets go in as they arrive
//! (out of order, late, twice, or not at all) and come out one per 20 ms
//! on a playout clock, each as the packet itself, as the next packet's
//! in-band FEC (RFC 6716 §2.1.7: Opus carries a low-bitrate copy of the
//! previous frame when the encoder is told to expect loss, and the
//! receiver signals it wants one with `useinbandfec=1`, RFC 7587 §6.1), or
//! as a frame for the decoder to conceal (its packet loss concealment).
//!
//! `meshrtc_rtp::session::JitterBuffer` releases whole frames at their
//! own playout times and nothing in between, which suits video (a frame
//! is shown when due; a missing one is not shown). Audio needs a frame
//! every 20 ms whatever arrived, and a look at the packet after a missing
//! one for its FEC: that is this buffer.
//!
//! Sans-IO: the caller says when (`now`) a packet arrived and asks at any
//! time what is due; nothing here reads a clock.
//!
//! Frames are numbered by RTP timestamp (48 kHz, RFC 7587 §4.1: 960 ticks
//! a 20 ms frame), unwrapped across the 32-bit wrap. The playout delay
//! starts at [`MIN_DELAY`] and follows the interarrival jitter (RFC 3550
//! §6.4.1's estimate): four times the jitter plus one frame, within
//! [`MIN_DELAY`]..=[`MAX_DELAY`]. A packet that arrives after its turn was
//! played is counted late and grows the delay by one frame at once (one
//! concealed frame is played in its place, so the output never stops);
//! when the least level buffered over half a second is more than the delay
//! needs, one frame is dropped to come back down. A stream that stops (the sender muted, or
//! left) is concealed for [`MAX_CONCEALED_RUN`] frames, then the buffer
//! waits silently for the next packet and restarts from it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One Opus frame at the WebRTC packet time (`a=ptime:20`).
pub const FRAME: Duration = Duration::from_millis(20);
/// RTP timestamp ticks in one frame (48 kHz clock, RFC 7587 §4.1).
pub const FRAME_TICKS: u32 = 960;
/// The least playout delay.
pub const MIN_DELAY: Duration = Duration::from_millis(40);
/// The most playout delay.
pub const MAX_DELAY: Duration = Duration::from_millis(300);
/// Frames the buffer holds ahead of the playout point; a packet further
/// ahead is a jump in the sender's timeline and restarts the buffer.
pub const CAPACITY_FRAMES: i64 = 50;
/// Frames concealed in a row, with nothing buffered, before the buffer
/// stops playing and waits for the next packet.
pub const MAX_CONCEALED_RUN: u32 = 5;
/// The window over which the least buffered level decides a shrink; at
/// most one frame is dropped per window.
pub const SHRINK_SPACING: Duration = Duration::from_millis(500);

/// What to play for the next 20 ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// The frame's own packet.
    Packet(Vec<u8>),
    /// The frame's packet is missing; this is the *next* packet, whose
    /// in-band FEC data carries it (decode it with FEC on).
    Fec(Vec<u8>),
    /// Nothing to decode: the decoder conceals the frame.
    Conceal,
}

/// What [`AudioJitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Buffered for its turn.
    Queued,
    /// The same frame is already buffered: dropped.
    Duplicate,
    /// Its turn was already played: dropped, and the delay grows.
    Late,
    /// Far ahead of (or behind) what is playing: the buffer restarted
    /// from this packet.
    Restarted,
}

/// Counters of a jitter buffer's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets pushed.
    pub received: u64,
    /// Frames played from their own packet.
    pub played: u64,
    /// Frames played from the next packet's in-band FEC.
    pub fec: u64,
    /// Frames handed to the decoder to conceal.
    pub concealed: u64,
    /// Packets that arrived after their turn.
    pub late: u64,
    /// Packets that arrived twice.
    pub duplicates: u64,
    /// Frames dropped to bring the delay down.
    pub shrunk: u64,
    /// Restarts (the first packet, a jump, a stream that resumed).
    pub restarts: u64,
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct AudioJitterBuffer {
    /// Unwrapped timestamp of the last packet, for unwrapping the next.
    last_ext: Option<i64>,
    /// First frame's unwrapped timestamp (frame numbers count from it).
    origin: i64,
    slots: BTreeMap<i64, Vec<u8>>,
    /// The next frame to play, and when.
    next: Option<(i64, Instant)>,
    /// Concealed frames owed before `next` plays (the delay grew).
    owed: u32,
    concealed_run: u32,
    delay: Duration,
    /// RFC 3550 §6.4.1 interarrival jitter, in microseconds.
    jitter_us: f64,
    last_transit_us: Option<i64>,
    clock: Option<Instant>,
    /// Start of the current shrink window.
    last_shrink: Option<Instant>,
    /// The least buffered level (frames) seen in the current window.
    min_buffered: i64,
    stats: JitterStats,
}

impl Default for AudioJitterBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl AudioJitterBuffer {
    /// An empty buffer at [`MIN_DELAY`].
    pub fn new() -> AudioJitterBuffer {
        AudioJitterBuffer {
            last_ext: None,
            origin: 0,
            slots: BTreeMap::new(),
            next: None,
            owed: 0,
            concealed_run: 0,
            delay: MIN_DELAY,
            jitter_us: 0.0,
            last_transit_us: None,
            clock: None,
            last_shrink: None,
            min_buffered: i64::MAX,
            stats: JitterStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The playout delay now.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// The interarrival jitter estimate (RFC 3550 §6.4.1).
    pub fn jitter(&self) -> Duration {
        Duration::from_micros(self.jitter_us as u64)
    }

    fn unwrap(&mut self, ts: u32) -> i64 {
        let ext = match self.last_ext {
            None => i64::from(ts),
            Some(last) => {
                let diff = ts.wrapping_sub(last as u32) as i32;
                last + i64::from(diff)
            }
        };
        self.last_ext = Some(match self.last_ext {
            Some(l) => l.max(ext),
            None => ext,
        });
        ext
    }

    /// A packet with this RTP timestamp arrived at `now`.
    pub fn push(&mut self, now: Instant, rtp_timestamp: u32, payload: Vec<u8>) -> PushOutcome {
        self.stats.received += 1;
        let ext = self.unwrap(rtp_timestamp);
        let delay_before = self.delay;
        self.track_jitter(now, ext);
        let Some((next, _)) = self.next else {
            self.restart(now, ext, payload);
            return PushOutcome::Restarted;
        };
        let frame = self.frame_of(ext);
        if frame < next {
            if next - frame > CAPACITY_FRAMES {
                self.restart(now, ext, payload);
                return PushOutcome::Restarted;
            }
            self.stats.late += 1;
            // Grown by one frame, unless its jitter already grew it.
            if self.delay == delay_before && self.delay + FRAME <= MAX_DELAY {
                self.delay += FRAME;
                self.owed += 1;
            }
            return PushOutcome::Late;
        }
        if frame - next >= CAPACITY_FRAMES {
            self.restart(now, ext, payload);
            return PushOutcome::Restarted;
        }
        if self.slots.contains_key(&frame) {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        self.slots.insert(frame, payload);
        PushOutcome::Queued
    }

    fn frame_of(&self, ext: i64) -> i64 {
        let ticks = i64::from(FRAME_TICKS);
        (ext - self.origin + ticks / 2).div_euclid(ticks)
    }

    fn restart(&mut self, now: Instant, ext: i64, payload: Vec<u8>) {
        self.stats.restarts += 1;
        self.slots.clear();
        self.origin = ext;
        self.owed = 0;
        self.concealed_run = 0;
        self.slots.insert(0, payload);
        self.next = Some((0, now + self.delay));
    }

    fn track_jitter(&mut self, now: Instant, ext: i64) {
        let clock = *self.clock.get_or_insert(now);
        let arrival_us = now.saturating_duration_since(clock).as_micros() as i64;
        // 48 kHz ticks to microseconds.
        let transit = arrival_us - ext * 1000 / 48;
        if let Some(last) = self.last_transit_us {
            let d = (transit - last).abs() as f64;
            self.jitter_us += (d - self.jitter_us) / 16.0;
        }
        self.last_transit_us = Some(transit);
        let wanted = Duration::from_micros((4.0 * self.jitter_us) as u64) + FRAME;
        let wanted = wanted.clamp(MIN_DELAY, MAX_DELAY);
        if wanted > self.delay {
            // Grow at once: the playout clock slips by whole frames, each
            // played as a concealed one.
            while self.delay + FRAME <= wanted {
                self.delay += FRAME;
                self.owed += 1;
            }
        }
    }

    /// The next frame, if its time has come at `now`; call until `None`.
    pub fn poll(&mut self, now: Instant) -> Option<Playout> {
        let (next, at) = self.next?;
        if at > now {
            return None;
        }
        // A caller that stalled far behind the clock starts again from now
        // rather than bursting out every frame it missed.
        let at = if now.saturating_duration_since(at) > MAX_DELAY {
            now
        } else {
            at
        };
        if self.owed > 0 {
            self.owed -= 1;
            self.next = Some((next, at + FRAME));
            self.stats.concealed += 1;
            return Some(Playout::Conceal);
        }
        self.shrink(now, next);
        let (next, _) = self.next?;
        let out = if let Some(p) = self.slots.remove(&next) {
            self.concealed_run = 0;
            self.stats.played += 1;
            Playout::Packet(p)
        } else if let Some(p) = self.slots.get(&(next + 1)) {
            self.concealed_run = 0;
            self.stats.fec += 1;
            Playout::Fec(p.clone())
        } else {
            if self.slots.is_empty() {
                self.concealed_run += 1;
                if self.concealed_run > MAX_CONCEALED_RUN {
                    // The stream stopped: wait for it to resume.
                    self.next = None;
                    self.concealed_run = 0;
                    return None;
                }
            }
            self.stats.concealed += 1;
            Playout::Conceal
        };
        self.next = Some((next + 1, at + FRAME));
        Some(out)
    }

    /// More buffered than the delay needs for a whole [`SHRINK_SPACING`]
    /// (the least level seen in it above the delay's frames by two):
    /// skip one frame. The least level, not the level now, so a burst of
    /// arrivals (jitter the delay is there for) is not dropped.
    fn shrink(&mut self, now: Instant, next: i64) {
        let frames_for_delay = (self.delay.as_millis() / FRAME.as_millis()) as i64;
        let buffered = self
            .slots
            .last_key_value()
            .map_or(0, |(&newest, _)| newest - next + 1);
        self.min_buffered = self.min_buffered.min(buffered);
        let window_start = *self.last_shrink.get_or_insert(now);
        if now.saturating_duration_since(window_start) < SHRINK_SPACING {
            return;
        }
        let least = std::mem::replace(&mut self.min_buffered, i64::MAX);
        self.last_shrink = Some(now);
        // The frame skipped is one that is here (a missing one is left to
        // FEC or concealment; the next window tries again).
        if least > frames_for_delay + 2 && self.slots.remove(&next).is_some() {
            if let Some((n, at)) = self.next {
                self.next = Some((n + 1, at));
            }
            self.stats.shrunk += 1;
            // Once the buffer is back near its delay, the delay the jitter
            // asks for may be smaller too.
            let wanted = (Duration::from_micros((4.0 * self.jitter_us) as u64) + FRAME)
                .clamp(MIN_DELAY, MAX_DELAY);
            if wanted + FRAME <= self.delay {
                self.delay -= FRAME;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn pkt(i: u32) -> Vec<u8> {
        i.to_be_bytes().to_vec()
    }

    /// Pushes packets `order` (frame numbers from a timestamp base) at
    /// `arrival(i)` and polls every 20 ms; what came out, in order.
    fn run(
        base: u32,
        order: &[u32],
        arrival: impl Fn(u32) -> Duration,
        frames: usize,
    ) -> (Vec<Playout>, JitterStats) {
        let t0 = Instant::now();
        let mut jb = AudioJitterBuffer::new();
        let mut events: Vec<(Duration, u32)> = order.iter().map(|&i| (arrival(i), i)).collect();
        events.sort_by_key(|e| e.0);
        let mut out = Vec::new();
        let mut e = 0;
        let mut t = Duration::ZERO;
        while out.len() < frames && t < Duration::from_secs(30) {
            while e < events.len() && events[e].0 <= t {
                let i = events[e].1;
                jb.push(
                    t0 + t,
                    base.wrapping_add(i.wrapping_mul(FRAME_TICKS)),
                    pkt(i),
                );
                e += 1;
            }
            while let Some(p) = jb.poll(t0 + t) {
                out.push(p);
            }
            t += MS;
        }
        (out, jb.stats())
    }

    #[test]
    fn packets_in_order_play_in_order_after_the_minimum_delay() {
        let order: Vec<u32> = (0..50).collect();
        let (out, stats) = run(1000, &order, |i| ms(i * 20), 50);
        let expect: Vec<Playout> = (0..50).map(|i| Playout::Packet(pkt(i))).collect();
        assert_eq!(out, expect);
        assert_eq!(stats.played, 50);
        assert_eq!(stats.concealed + stats.fec + stats.late, 0);
    }

    fn ms(n: u32) -> Duration {
        Duration::from_millis(u64::from(n))
    }

    #[test]
    fn reordered_packets_within_the_delay_play_in_timestamp_order() {
        // Pairs swapped: 1,0,3,2,... each 10 ms apart from its slot.
        let order: Vec<u32> = (0..40).map(|i| i ^ 1).collect();
        let (out, stats) = run(7, &order, |i| ms(i * 20 + 10), 40);
        let expect: Vec<Playout> = (0..40).map(|i| Playout::Packet(pkt(i))).collect();
        assert_eq!(out, expect);
        assert_eq!(stats.late, 0);
    }

    #[test]
    fn a_lost_packet_is_recovered_from_the_next_ones_fec_and_two_in_a_row_are_concealed() {
        let order: Vec<u32> = (0..30).filter(|i| ![5, 12, 13].contains(i)).collect();
        let (out, stats) = run(0, &order, |i| ms(i * 20), 30);
        assert_eq!(out[5], Playout::Fec(pkt(6)));
        assert_eq!(out[6], Playout::Packet(pkt(6)));
        // 12 and 13 lost: 12 has no next packet to recover from, 13 has.
        assert_eq!(out[12], Playout::Conceal);
        assert_eq!(out[13], Playout::Fec(pkt(14)));
        assert_eq!((stats.fec, stats.concealed, stats.played), (2, 1, 27));
    }

    #[test]
    fn duplicates_are_dropped_and_counted() {
        let mut order: Vec<u32> = (0..20).collect();
        order.extend([3, 4, 4]);
        let (out, stats) = run(0, &order, |i| ms(i * 20), 20);
        assert_eq!(stats.duplicates, 3);
        assert_eq!(out.len(), 20);
        assert!(out.iter().all(|p| matches!(p, Playout::Packet(_))));
    }

    #[test]
    fn a_late_packet_is_counted_and_grows_the_delay_without_a_gap() {
        let t0 = Instant::now();
        let mut jb = AudioJitterBuffer::new();
        let mut played = 0;
        let mut outputs = 0;
        for step in 0..2000u32 {
            let t = t0 + ms(step);
            // Frame 20 arrives 200 ms late; every other on time.
            if step % 20 == 0 && step / 20 < 80 && step / 20 != 20 {
                jb.push(t, (step / 20) * FRAME_TICKS, pkt(step / 20));
            }
            if step == 20 * 20 + 200 {
                assert_eq!(jb.push(t, 20 * FRAME_TICKS, pkt(20)), PushOutcome::Late);
            }
            while let Some(p) = jb.poll(t) {
                outputs += 1;
                if matches!(p, Playout::Packet(_)) {
                    played += 1;
                }
            }
        }
        let s = jb.stats();
        assert_eq!(s.late, 1);
        assert!(jb.delay() > MIN_DELAY);
        // 79 packets played, 20 recovered by FEC, a concealed frame for
        // each frame the delay grew by, then the stream's end concealed
        // MAX_CONCEALED_RUN times: no 20 ms without an output.
        assert_eq!(played, 79);
        assert_eq!(s.fec, 1);
        assert_eq!(outputs as u64, s.played + s.fec + s.concealed);
        let grown = ((jb.delay() - MIN_DELAY).as_millis() / FRAME.as_millis()) as u64;
        assert_eq!(s.concealed, grown + u64::from(MAX_CONCEALED_RUN), "{s:?}");
    }

    #[test]
    fn jittery_arrivals_raise_the_delay_and_nothing_is_late_once_it_has() {
        // Arrivals spread 0-60 ms after their slot (a hash of the index).
        let jitter = |i: u32| ms((i.wrapping_mul(2654435761) >> 7) % 61);
        let order: Vec<u32> = (0..400).collect();
        let (_, stats) = run(0, &order, |i| ms(i * 20) + jitter(i), 400);
        assert!(stats.late <= 3, "{stats:?}");
        assert!(stats.played >= 390, "{stats:?}");
    }

    #[test]
    fn timestamps_that_wrap_keep_their_order() {
        let base = u32::MAX - 5 * FRAME_TICKS;
        let order: Vec<u32> = (0..20).collect();
        let (out, stats) = run(base, &order, |i| ms(i * 20), 20);
        assert_eq!(
            out,
            (0..20).map(|i| Playout::Packet(pkt(i))).collect::<Vec<_>>()
        );
        assert_eq!(stats.restarts, 1);
    }

    #[test]
    fn a_stream_that_stops_is_concealed_briefly_then_resumes_from_its_next_packet() {
        let mut order: Vec<u32> = (0..10).collect();
        order.extend(100..110);
        let (out, stats) = run(0, &order, |i| ms(i * 20), 20 + MAX_CONCEALED_RUN as usize);
        assert_eq!(stats.concealed, u64::from(MAX_CONCEALED_RUN));
        // The jump of 90 frames ahead restarts the buffer from it.
        assert_eq!(stats.restarts, 2);
        assert_eq!(out.last(), Some(&Playout::Packet(pkt(109))));
    }

    #[test]
    fn a_buffer_fuller_than_its_delay_drops_a_frame_each_half_second_until_it_is_not() {
        let t0 = Instant::now();
        let mut jb = AudioJitterBuffer::new();
        // 10 frames arrive at once, then one every 20 ms.
        for i in 0..10 {
            jb.push(t0, i * FRAME_TICKS, pkt(i));
        }
        let mut out = Vec::new();
        for step in 0..3000u32 {
            let t = t0 + ms(step);
            if step % 20 == 0 && step > 0 {
                let i = 9 + step / 20;
                jb.push(t, i * FRAME_TICKS, pkt(i));
            }
            while let Some(p) = jb.poll(t) {
                out.push(p);
            }
        }
        let s = jb.stats();
        // 10 frames at once, then steady arrivals: the excess over the
        // delay's frames and the two of margin goes, one frame a window,
        // and then no more.
        let excess = 10 - (jb.delay().as_millis() / FRAME.as_millis()) as u64 - 2;
        assert!(
            s.shrunk >= excess - 2 && s.shrunk <= excess,
            "{s:?}, delay {:?}",
            jb.delay()
        );
        assert!(s.shrunk <= 6, "{s:?}");
        assert_eq!(s.concealed, 0, "{s:?}");
    }
}

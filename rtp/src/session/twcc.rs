//! The receive side of transport-wide congestion control
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3): record when
//! each transport-wide sequence number arrived, and report them in
//! transport-cc feedback ([`TransportCc`], §3.1).

use crate::rtcp::TransportCc;
use crate::SeqExtender;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Limits and pacing of a [`TwccRecorder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwccConfig {
    /// Most sequence numbers waiting to be reported (received or not);
    /// see [`TwccRecorder`] for what happens beyond.
    pub max_window: usize,
    /// Most sequence numbers one feedback reports; more pending ones go
    /// in the next feedback.
    pub max_status_count: u16,
    /// Spacing of feedbacks that [`TwccRecorder::poll_timeout`] asks for.
    pub interval: Duration,
}

impl Default for TwccConfig {
    fn default() -> TwccConfig {
        TwccConfig {
            max_window: 10_000,
            // Keeps one feedback around 1 KB at worst (two-byte deltas).
            max_status_count: 500,
            interval: Duration::from_millis(100),
        }
    }
}

/// Counters of a [`TwccRecorder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TwccStats {
    /// Packets recorded.
    pub received: u64,
    /// Packets whose sequence number was already recorded.
    pub duplicates: u64,
    /// Packets that arrived after their sequence number was reported (as
    /// not received); not reported again.
    pub too_old: u64,
    /// Recorded arrivals pushed out of the window before any feedback
    /// reported them.
    pub dropped: u64,
    /// Feedbacks built.
    pub feedbacks: u64,
    /// Times a jump beyond the window restarted the recording.
    pub restarts: u64,
}

/// Consecutive received packets further apart than this in arrival time
/// go in separate feedbacks: a receive delta holds at most 32767 × 250 µs
/// (§3.1.5), and 8 s leaves room for the rounding.
const MAX_DELTA: Duration = Duration::from_secs(8);

/// Records arrivals of transport-wide sequence numbers and builds the
/// feedbacks that report them.
///
/// Call [`TwccRecorder::on_packet`] for each RTP packet carrying the
/// transport-wide sequence number extension, and
/// [`TwccRecorder::build_feedback`] at [`TwccRecorder::poll_timeout`] (or
/// whenever a feedback is wanted) until it returns `None`.
///
/// Each feedback starts where the previous one ended, so every sequence
/// number is reported once: a missing one as not received. A feedback
/// ends at the highest number received, or earlier after
/// `max_status_count` numbers or where two received packets are more than
/// 8 s apart (a receive delta cannot say more); the rest waits for the
/// next call.
///
/// Memory is bounded by `max_window` pending numbers. A packet further
/// than that ahead of the first unreported number pushes the oldest
/// pending ones out (counted in [`TwccStats::dropped`]); if it is further
/// than that ahead of everything pending, the recording starts afresh at
/// it and the numbers skipped are never reported (a sender restart, or a
/// gap no feedback series should describe).
///
/// ```
/// use meshrtc_rtp::session::TwccRecorder;
/// use std::time::{Duration, Instant};
/// let t0 = Instant::now();
/// let mut rec = TwccRecorder::default();
/// rec.on_packet(t0, 7);
/// rec.on_packet(t0 + Duration::from_millis(5), 9); // 8 is lost
/// let fb = rec.build_feedback(t0, 0x1111, 0x2222).unwrap();
/// let got: Vec<_> = fb.packets().map(|p| (p.seq, p.delta.is_some())).collect();
/// assert_eq!(got, [(7, true), (8, false), (9, true)]);
/// assert!(rec.build_feedback(t0, 0x1111, 0x2222).is_none());
/// ```
#[derive(Debug, Clone)]
pub struct TwccRecorder {
    config: TwccConfig,
    seq: SeqExtender,
    /// Arrival times are reported relative to the first packet's.
    epoch: Option<Instant>,
    /// Extended sequence number of `pending[0]`: the first one not yet
    /// reported.
    start: u64,
    /// Arrival of `start + i`; the last entry is always a received one.
    pending: VecDeque<Option<Instant>>,
    fb_pkt_count: u8,
    last_feedback: Option<Instant>,
    scratch: Vec<(u16, Option<Duration>)>,
    stats: TwccStats,
}

impl Default for TwccRecorder {
    fn default() -> TwccRecorder {
        TwccRecorder::new(TwccConfig::default())
    }
}

impl TwccRecorder {
    /// A recorder with these limits.
    pub fn new(config: TwccConfig) -> TwccRecorder {
        TwccRecorder {
            config,
            seq: SeqExtender::default(),
            epoch: None,
            start: 0,
            pending: VecDeque::new(),
            fb_pkt_count: 0,
            last_feedback: None,
            scratch: Vec::new(),
            stats: TwccStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> TwccStats {
        self.stats
    }

    /// Sequence numbers waiting to be reported.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Records that transport-wide sequence number `seq` arrived at `now`.
    pub fn on_packet(&mut self, now: Instant, seq: u16) {
        let window = self.config.max_window.max(1) as u64;
        let ext = self.seq.extend(seq);
        if self.epoch.is_none() {
            self.epoch = Some(now);
            self.start = ext;
        }
        if ext < self.start {
            self.stats.too_old += 1;
            return;
        }
        if ext - self.start >= window {
            let end = self.start + self.pending.len() as u64;
            let new_start = ext + 1 - window;
            if new_start >= end {
                self.stats.dropped += self.pending.iter().flatten().count() as u64;
                self.pending.clear();
                self.start = ext;
                self.stats.restarts += 1;
            } else {
                for _ in self.start..new_start {
                    if let Some(Some(_)) = self.pending.pop_front() {
                        self.stats.dropped += 1;
                    }
                }
                self.start = new_start;
            }
        }
        // Below `max_window` after the adjustment above.
        let idx = (ext - self.start) as usize;
        if self.pending.len() <= idx {
            self.pending.resize(idx + 1, None);
        }
        match self.pending.get_mut(idx) {
            Some(slot @ None) => {
                *slot = Some(now);
                self.stats.received += 1;
            }
            _ => self.stats.duplicates += 1,
        }
    }

    /// When the next feedback is due (`interval` after the previous one,
    /// or after the first packet); `None` while nothing is pending.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.pending.is_empty() {
            return None;
        }
        self.last_feedback
            .or(self.epoch)?
            .checked_add(self.config.interval)
    }

    /// The next feedback, from the first unreported sequence number up to
    /// the highest received one (or less, see [`TwccRecorder`]), with the
    /// next feedback packet count; `None` if nothing is pending. Arrival
    /// times are reported relative to the first packet recorded: the
    /// reference time in 64 ms units and the deltas in 250 µs, both rounded
    /// down (§3.1).
    pub fn build_feedback(
        &mut self,
        now: Instant,
        sender_ssrc: u32,
        media_ssrc: u32,
    ) -> Option<TransportCc<'_>> {
        let epoch = self.epoch?;
        let limit = usize::from(self.config.max_status_count.max(1));
        let mut prev: Option<Instant> = None;
        let mut n = 0;
        for at in self.pending.iter().take(limit) {
            if let (Some(at), Some(p)) = (at, prev) {
                let gap = if *at >= p { *at - p } else { p - *at };
                if gap > MAX_DELTA {
                    break;
                }
            }
            prev = at.or(prev);
            n += 1;
        }
        if n == 0 {
            return None;
        }
        self.scratch.clear();
        for (i, at) in self.pending.drain(..n).enumerate() {
            let seq = self.start.wrapping_add(i as u64) as u16;
            self.scratch
                .push((seq, at.map(|t| t.saturating_duration_since(epoch))));
        }
        self.start += n as u64;
        let count = self.fb_pkt_count;
        self.fb_pkt_count = count.wrapping_add(1);
        self.last_feedback = Some(now);
        self.stats.feedbacks += 1;
        // Sorted, at most `max_status_count` long and with deltas within
        // range, so this does not fail.
        TransportCc::from_arrivals(sender_ssrc, media_ssrc, count, &self.scratch).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{Compound, RtcpPacket};

    const MS: Duration = Duration::from_millis(1);

    /// Writes the feedback, parses it back and returns (seq, arrival µs
    /// since the epoch) per status, with the packet count.
    fn roundtrip(fb: &TransportCc<'_>) -> (u8, Vec<(u16, Option<i64>)>) {
        let mut buf = Vec::new();
        RtcpPacket::TransportCc(*fb).write_to(&mut buf).unwrap();
        let mut it = Compound::new(&buf);
        let Some(Ok(RtcpPacket::TransportCc(p))) = it.next() else {
            panic!("no transport-cc in {buf:02x?}");
        };
        assert!(it.next().is_none());
        (
            p.fb_pkt_count,
            p.packets().map(|s| (s.seq, s.arrival_us)).collect(),
        )
    }

    /// Checks reported arrivals against the real ones (µs since `t0`).
    fn assert_close(got: &[(u16, Option<i64>)], want: &[(u16, Option<i64>)]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.0, w.0);
            match (g.1, w.1) {
                (None, None) => {}
                (Some(g), Some(w)) => assert!(g <= w && w - g < 250, "{g} vs {w}"),
                _ => panic!("{got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn packets_in_order_are_reported_with_their_arrival_times() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::default();
        let mut want = Vec::new();
        for i in 0..20u16 {
            let at = Duration::from_micros(u64::from(i) * 1_370 + 90_123 * u64::from(i / 10));
            rec.on_packet(t0 + at, 100 + i);
            want.push((100 + i, Some(at.as_micros() as i64)));
        }
        let fb = rec.build_feedback(t0 + 300 * MS, 1, 2).unwrap();
        assert_eq!((fb.sender_ssrc, fb.media_ssrc), (1, 2));
        let (count, got) = roundtrip(&fb);
        assert_eq!(count, 0);
        assert_close(&got, &want);
        assert_eq!(rec.pending(), 0);
        assert!(rec.build_feedback(t0, 1, 2).is_none());
        assert_eq!(rec.poll_timeout(), None);
    }

    #[test]
    fn lost_packets_are_reported_as_not_received_once() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::default();
        rec.on_packet(t0, 10);
        rec.on_packet(t0 + MS, 13);
        let (c0, got) = roundtrip(&rec.build_feedback(t0 + 2 * MS, 1, 2).unwrap());
        assert_close(
            &got,
            &[(10, Some(0)), (11, None), (12, None), (13, Some(1000))],
        );
        // The next feedback starts after 13 and covers the new gap.
        rec.on_packet(t0 + 5 * MS, 16);
        let (c1, got) = roundtrip(&rec.build_feedback(t0 + 6 * MS, 1, 2).unwrap());
        assert_close(&got, &[(14, None), (15, None), (16, Some(5000))]);
        assert_eq!((c0, c1), (0, 1));
        // 12 shows up late: already reported, so only counted.
        rec.on_packet(t0 + 7 * MS, 12);
        assert_eq!(rec.stats().too_old, 1);
        assert!(rec.build_feedback(t0 + 8 * MS, 1, 2).is_none());
    }

    #[test]
    fn reordered_arrivals_keep_their_own_times() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::default();
        rec.on_packet(t0, 1);
        rec.on_packet(t0 + 2 * MS, 3);
        rec.on_packet(t0 + 3 * MS, 2); // negative delta for 3 → 2 order
        rec.on_packet(t0 + 4 * MS, 3); // duplicate
        let (_, got) = roundtrip(&rec.build_feedback(t0 + 5 * MS, 1, 2).unwrap());
        assert_close(&got, &[(1, Some(0)), (2, Some(3000)), (3, Some(2000))]);
        assert_eq!(rec.stats().duplicates, 1);
    }

    #[test]
    fn the_16_bit_sequence_number_wraps() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::default();
        let mut want = Vec::new();
        for i in 0..8u16 {
            let seq = 65532u16.wrapping_add(i);
            if seq == 0 {
                continue; // lost across the wrap
            }
            rec.on_packet(t0 + MS * u32::from(i), seq);
            want.push((seq, Some(i64::from(i) * 1000)));
        }
        want.insert(4, (0, None));
        let fb = rec.build_feedback(t0 + 10 * MS, 1, 2).unwrap();
        assert_eq!((fb.base_seq(), fb.status_count()), (65532, 8));
        assert_close(&roundtrip(&fb).1, &want);
    }

    #[test]
    fn long_runs_are_split_over_several_feedbacks_with_increasing_counts() {
        let t0 = Instant::now();
        let config = TwccConfig {
            max_status_count: 100,
            ..TwccConfig::default()
        };
        let mut rec = TwccRecorder::new(config);
        for i in 0..250u16 {
            rec.on_packet(t0 + MS * u32::from(i), i);
        }
        let mut all = Vec::new();
        let mut counts = Vec::new();
        while let Some(fb) = rec.build_feedback(t0 + Duration::from_secs(1), 1, 2) {
            let (c, got) = roundtrip(&fb);
            counts.push(c);
            all.extend(got);
        }
        assert_eq!(counts, [0, 1, 2]);
        let want: Vec<_> = (0..250u16)
            .map(|i| (i, Some(i64::from(i) * 1000)))
            .collect();
        assert_close(&all, &want);
        assert_eq!(rec.stats().feedbacks, 3);
    }

    #[test]
    fn arrivals_more_than_8_s_apart_go_in_separate_feedbacks() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::default();
        rec.on_packet(t0, 1);
        rec.on_packet(t0 + Duration::from_secs(9), 2);
        let (_, a) = roundtrip(&rec.build_feedback(t0, 1, 2).unwrap());
        let (_, b) = roundtrip(&rec.build_feedback(t0, 1, 2).unwrap());
        assert_close(&a, &[(1, Some(0))]);
        assert_close(&b, &[(2, Some(9_000_000))]);
    }

    #[test]
    fn a_jump_beyond_the_window_restarts_and_memory_stays_bounded() {
        let t0 = Instant::now();
        let config = TwccConfig {
            max_window: 100,
            ..TwccConfig::default()
        };
        let mut rec = TwccRecorder::new(config);
        rec.on_packet(t0, 0);
        rec.on_packet(t0, 50);
        rec.on_packet(t0, 120); // the window slides: 0 is pushed out
        assert_eq!(rec.pending(), 100);
        assert_eq!(rec.stats().dropped, 1);
        rec.on_packet(t0, 20_000); // far beyond: start afresh
        assert_eq!((rec.pending(), rec.stats().restarts), (1, 1));
        assert_eq!(rec.stats().dropped, 3);
        let fb = rec.build_feedback(t0, 1, 2).unwrap();
        assert_eq!((fb.base_seq(), fb.status_count()), (20_000, 1));
    }

    #[test]
    fn poll_timeout_follows_the_interval() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::default();
        assert_eq!(rec.poll_timeout(), None);
        rec.on_packet(t0, 5);
        assert_eq!(rec.poll_timeout(), Some(t0 + 100 * MS));
        let _ = rec.build_feedback(t0 + 100 * MS, 1, 2);
        assert_eq!(rec.poll_timeout(), None);
        rec.on_packet(t0 + 120 * MS, 6);
        assert_eq!(rec.poll_timeout(), Some(t0 + 200 * MS));
    }

    #[test]
    fn every_arrival_is_reported_once_or_counted_under_reordering_and_loss() {
        let t0 = Instant::now();
        let config = TwccConfig {
            max_window: 300,
            max_status_count: 64,
            ..TwccConfig::default()
        };
        let mut rec = TwccRecorder::new(config);
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut arrivals = std::collections::HashMap::new();
        let mut reported = std::collections::HashMap::new();
        let mut now_us = 0u64;
        let mut first_us = None;
        let mut seq = 65_000u16;
        for round in 0..3000u32 {
            now_us += next() % 3000;
            // Mostly in order, some reordered back by up to 20, some lost.
            let s = match next() % 10 {
                0 => seq.wrapping_sub((next() % 20) as u16),
                1 => {
                    seq = seq.wrapping_add(2);
                    seq
                }
                _ => {
                    seq = seq.wrapping_add(1);
                    seq
                }
            };
            rec.on_packet(t0 + Duration::from_micros(now_us), s);
            // Reported times count from the first packet's arrival.
            let first = *first_us.get_or_insert(now_us);
            arrivals.entry(s).or_insert((now_us - first) as i64);
            if round % 50 == 0 {
                while let Some(fb) = rec.build_feedback(t0, 1, 2) {
                    for (s, at) in roundtrip(&fb).1 {
                        if let Some(at) = at {
                            assert!(reported.insert(s, at).is_none(), "{s} twice");
                        }
                    }
                }
            }
        }
        while let Some(fb) = rec.build_feedback(t0, 1, 2) {
            for (s, at) in roundtrip(&fb)
                .1
                .into_iter()
                .filter_map(|(s, a)| Some((s, a?)))
            {
                assert!(reported.insert(s, at).is_none(), "{s} twice");
            }
        }
        // Sequence numbers are reused after 65536 packets; this run stays
        // below that, so each maps to one arrival.
        for (s, at) in &reported {
            let want = arrivals[s];
            assert!(*at <= want && want - at < 250, "{s}: {at} vs {want}");
        }
        let st = rec.stats();
        assert_eq!(st.received, reported.len() as u64 + st.dropped);
        assert_eq!(st.received + st.duplicates + st.too_old, 3000, "{st:?}");
        assert!(st.too_old > 0 && st.duplicates > 0 && st.feedbacks > 60);
    }
}

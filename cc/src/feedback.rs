//! What the controller is fed: packets as they leave, and transport-wide
//! feedback as it comes back (draft-ietf-rmcat-gcc-02 §3; the feedback
//! itself is draft-holmer-rmcat-transport-wide-cc-extensions-01 or the
//! RFC 8888 report, decoded elsewhere).
//!
//! [`SendHistory`] remembers what was sent, pairs it with feedback and
//! measures the acknowledged bitrate: the throughput the receiver saw, on
//! its own clock, which is what a decrease is based on (§5.5).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A packet as it left the pacer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentPacket {
    /// Unwrapped transport-wide sequence number.
    pub seq: u64,
    /// Bytes on the wire (RTP header, payload and SRTP tag; what the
    /// bottleneck carries).
    pub size: usize,
    /// When it was handed to the socket.
    pub sent_at: Instant,
    /// The probe cluster it belongs to, if the pacer sent it as a probe.
    pub probe_cluster: Option<u32>,
}

/// One packet's fate as the receiver reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketResult {
    /// Unwrapped transport-wide sequence number.
    pub seq: u64,
    /// Arrival on the receiver's clock (arbitrary origin, monotonic within a
    /// feedback series); `None` when reported lost.
    pub arrival: Option<Duration>,
}

/// A sent packet matched with its arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckedPacket {
    /// Transport-wide sequence number.
    pub seq: u64,
    /// Bytes on the wire.
    pub size: usize,
    /// Send time, sender's clock.
    pub sent_at: Instant,
    /// Arrival time, receiver's clock.
    pub arrival: Duration,
    /// Probe cluster the packet was sent in.
    pub probe_cluster: Option<u32>,
}

/// What one feedback message told us, after matching with the history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackSummary {
    /// Received packets in send order.
    pub acked: Vec<AckedPacket>,
    /// Packets newly reported lost.
    pub lost: usize,
    /// Packets newly reported received.
    pub received: usize,
    /// Results for sequence numbers we never sent or already forgot.
    pub unknown: usize,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    packet: SentPacket,
    /// Reported received: a later report of the same packet is a duplicate.
    acked: bool,
}

/// How long and how many sent packets are remembered for matching.
pub const HISTORY_SPAN: Duration = Duration::from_secs(10);
/// Upper bound on remembered packets, whatever their age.
pub const HISTORY_PACKETS: usize = 10_000;
/// Window of the acknowledged-bitrate measurement.
pub const ACKED_WINDOW: Duration = Duration::from_millis(500);
/// Shortest span of arrivals that gives an acknowledged bitrate at all.
const ACKED_MIN_SPAN: Duration = Duration::from_millis(150);

/// Sent packets awaiting feedback, and the acknowledged bitrate.
#[derive(Debug, Default)]
pub struct SendHistory {
    entries: VecDeque<Entry>,
    /// (arrival, bytes) of acknowledged packets, in arrival order.
    acked_window: VecDeque<(Duration, usize)>,
    acked_bytes_in_window: usize,
    /// Earliest arrival seen in the current feedback series.
    first_arrival: Option<Duration>,
}

impl SendHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers a packet that just left. Sequence numbers must increase;
    /// a packet that does not is ignored (and `false` returned).
    pub fn on_sent(&mut self, packet: SentPacket) -> bool {
        if let Some(last) = self.entries.back() {
            if packet.seq <= last.packet.seq {
                return false;
            }
        }
        self.entries.push_back(Entry {
            packet,
            acked: false,
        });
        while self.entries.len() > HISTORY_PACKETS
            || self.entries.front().is_some_and(|e| {
                packet.sent_at.saturating_duration_since(e.packet.sent_at) > HISTORY_SPAN
            })
        {
            self.entries.pop_front();
        }
        true
    }

    /// Number of packets remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Matches one feedback message. Received packets come back in send
    /// order; duplicates of already acknowledged packets are skipped, and a
    /// packet reported lost may still be acknowledged by a later message
    /// (feedback from the receiver is cumulative in that sense).
    pub fn on_feedback(&mut self, results: &[PacketResult]) -> FeedbackSummary {
        let mut summary = FeedbackSummary::default();
        for r in results {
            let Some(index) = self.index_of(r.seq) else {
                summary.unknown += 1;
                continue;
            };
            let entry = &mut self.entries[index];
            match r.arrival {
                None => {
                    if !entry.acked {
                        summary.lost += 1;
                    }
                }
                Some(arrival) => {
                    if entry.acked {
                        continue;
                    }
                    entry.acked = true;
                    summary.received += 1;
                    summary.acked.push(AckedPacket {
                        seq: entry.packet.seq,
                        size: entry.packet.size,
                        sent_at: entry.packet.sent_at,
                        arrival,
                        probe_cluster: entry.packet.probe_cluster,
                    });
                }
            }
        }
        summary.acked.sort_by_key(|p| p.seq);
        let mut by_arrival: Vec<(Duration, usize)> =
            summary.acked.iter().map(|p| (p.arrival, p.size)).collect();
        by_arrival.sort_by_key(|&(a, _)| a);
        for (arrival, size) in by_arrival {
            self.on_acked(arrival, size);
        }
        summary
    }

    fn index_of(&self, seq: u64) -> Option<usize> {
        let front = self.entries.front()?.packet.seq;
        if seq < front {
            return None;
        }
        // Sequence numbers are usually contiguous: try the direct slot first.
        let guess = usize::try_from(seq - front).ok()?;
        if self.entries.get(guess).is_some_and(|e| e.packet.seq == seq) {
            return Some(guess);
        }
        self.entries
            .binary_search_by_key(&seq, |e| e.packet.seq)
            .ok()
    }

    fn on_acked(&mut self, arrival: Duration, size: usize) {
        if let Some(&(last, _)) = self.acked_window.back() {
            if arrival < last {
                // Receiver clock went backwards: a new feedback series.
                if last - arrival > ACKED_WINDOW {
                    self.acked_window.clear();
                    self.acked_bytes_in_window = 0;
                    self.first_arrival = None;
                }
            }
        }
        let arrival = self
            .acked_window
            .back()
            .map_or(arrival, |&(last, _)| arrival.max(last));
        self.first_arrival.get_or_insert(arrival);
        self.acked_window.push_back((arrival, size));
        self.acked_bytes_in_window += size;
        while let Some(&(a, s)) = self.acked_window.front() {
            if arrival - a > ACKED_WINDOW {
                self.acked_window.pop_front();
                self.acked_bytes_in_window -= s;
            } else {
                break;
            }
        }
    }

    /// Throughput of acknowledged bytes over the last `window` of receiver
    /// time (at most [`ACKED_WINDOW`]), bit/s; `None` until arrivals span
    /// that long. Received throughput cannot exceed the bottleneck's rate,
    /// so a short window reacts to a rate that just rose without risk of
    /// overstating the path.
    pub fn recent_acked_bitrate(&self, window: Duration) -> Option<u64> {
        let window = window.min(ACKED_WINDOW);
        let first = self.first_arrival?;
        let &(last, _) = self.acked_window.back()?;
        if window.is_zero() || last - first < window {
            return None;
        }
        // Bytes after the earliest packet in the window over the span from
        // its arrival: counting n packets over n - 1 gaps would overstate a
        // slow link that delivers few packets per window. The window is in
        // arrival order, so the earliest is the last one visited.
        let mut total = 0usize;
        let mut earliest = (last, 0usize);
        for &(a, size) in self.acked_window.iter().rev() {
            if last - a > window {
                break;
            }
            total += size;
            earliest = (a, size);
        }
        let span = last - earliest.0;
        if span.is_zero() || span < window / 2 {
            return None;
        }
        let bytes = total - earliest.1;
        Some((bytes as u128 * 8 * 1_000_000 / span.as_micros()) as u64)
    }

    /// Throughput of acknowledged bytes over the last [`ACKED_WINDOW`] of
    /// receiver time, in bits per second; `None` until arrivals span at
    /// least 150 ms.
    pub fn acked_bitrate(&self) -> Option<u64> {
        let first = self.first_arrival?;
        let &(last, _) = self.acked_window.back()?;
        let span = (last - first).min(ACKED_WINDOW);
        if span < ACKED_MIN_SPAN {
            return None;
        }
        let bits = self.acked_bytes_in_window as u128 * 8;
        Some((bits * 1_000_000 / span.as_micros().max(1)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(seq: u64, at: Instant) -> SentPacket {
        SentPacket {
            seq,
            size: 1000,
            sent_at: at,
            probe_cluster: None,
        }
    }

    #[test]
    fn feedback_is_matched_and_losses_counted_once() {
        let t0 = Instant::now();
        let mut h = SendHistory::new();
        for seq in 0..5 {
            assert!(h.on_sent(sent(seq, t0 + Duration::from_millis(seq))));
        }
        let s = h.on_feedback(&[
            PacketResult {
                seq: 0,
                arrival: Some(Duration::from_millis(100)),
            },
            PacketResult {
                seq: 1,
                arrival: None,
            },
            PacketResult {
                seq: 2,
                arrival: Some(Duration::from_millis(102)),
            },
            PacketResult {
                seq: 99,
                arrival: Some(Duration::from_millis(103)),
            },
        ]);
        assert_eq!((s.received, s.lost, s.unknown), (2, 1, 1));
        assert_eq!(s.acked[1].seq, 2);
        assert_eq!(s.acked[1].sent_at, t0 + Duration::from_millis(2));
        assert_eq!(s.acked[1].arrival, Duration::from_millis(102));
        // A repeat of packet 0 is a duplicate; packet 1 turned up after all.
        let s = h.on_feedback(&[
            PacketResult {
                seq: 0,
                arrival: Some(Duration::from_millis(100)),
            },
            PacketResult {
                seq: 1,
                arrival: Some(Duration::from_millis(104)),
            },
        ]);
        assert_eq!((s.received, s.lost), (1, 0));
    }

    #[test]
    fn history_is_bounded_in_time() {
        let t0 = Instant::now();
        let mut h = SendHistory::new();
        for seq in 0..200u64 {
            h.on_sent(sent(seq, t0 + Duration::from_millis(seq * 100)));
        }
        // 10 s at 100 ms spacing: 101 packets (both ends inclusive).
        assert_eq!(h.len(), 101);
        let s = h.on_feedback(&[PacketResult {
            seq: 5,
            arrival: Some(Duration::ZERO),
        }]);
        assert_eq!(s.unknown, 1);
        assert!(!h.on_sent(sent(3, t0)), "old sequence number refused");
    }

    #[test]
    fn acked_bitrate_measures_receiver_throughput() {
        let t0 = Instant::now();
        let mut h = SendHistory::new();
        // 1000-byte packets arriving every 8 ms: 1 Mbit/s, whatever the
        // sender did.
        let mut results = Vec::new();
        for seq in 0..100u64 {
            h.on_sent(sent(seq, t0 + Duration::from_millis(seq)));
            results.push(PacketResult {
                seq,
                arrival: Some(Duration::from_secs(50) + Duration::from_millis(seq * 8)),
            });
        }
        assert_eq!(h.acked_bitrate(), None);
        h.on_feedback(&results[..10]);
        assert_eq!(h.acked_bitrate(), None, "72 ms span is too short");
        h.on_feedback(&results[10..]);
        let rate = h.acked_bitrate().unwrap();
        assert!((990_000..=1_020_000).contains(&rate), "{rate}");
        // The last 160 ms at twice the pace: the short window sees it first.
        let mut more = Vec::new();
        for i in 0..40u64 {
            let seq = 100 + i;
            h.on_sent(sent(seq, t0 + Duration::from_millis(seq)));
            more.push(PacketResult {
                seq,
                arrival: Some(Duration::from_secs(50) + Duration::from_millis(800 + i * 4)),
            });
        }
        h.on_feedback(&more);
        let short = h.recent_acked_bitrate(Duration::from_millis(150)).unwrap();
        let long = h.acked_bitrate().unwrap();
        assert!((1_950_000..=2_050_000).contains(&short), "{short}");
        assert!(long < 1_700_000, "{long}");
    }
}

//! Generic NACK requests on the receive side (RFC 4585 §6.2.1): which
//! lost sequence numbers to ask for, and when to ask again.

use crate::{extend_near, SeqExtender};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Limits of a [`NackGenerator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NackConfig {
    /// Most missing sequence numbers tracked at once; when a gap pushes
    /// past it the oldest entries are dropped (counted in
    /// [`NackStats::dropped`]).
    pub max_missing: usize,
    /// Requests after the first one before a number is given up.
    pub max_retries: u32,
    /// A number still missing this long after its gap was seen is given up.
    pub max_age: Duration,
    /// Floor of the spacing between two requests for one number; the
    /// spacing is max(1.5 × RTT, this).
    pub min_retry_interval: Duration,
    /// A packet more than this many sequence numbers away from the highest
    /// one is not taken as a gap to fill: see [`NackGenerator`].
    pub max_gap: u16,
    /// The first request for a number waits this long after its gap was
    /// seen, so that a packet merely reordered by the network is not asked
    /// for (and sent twice). Zero asks at once.
    pub reorder_delay: Duration,
}

impl Default for NackConfig {
    fn default() -> NackConfig {
        NackConfig {
            max_missing: 1000,
            max_retries: 10,
            max_age: Duration::from_secs(1),
            min_retry_interval: Duration::from_millis(20),
            // RFC 3550 §A.1 uses the same bound (MAX_DROPOUT).
            max_gap: 3000,
            reorder_delay: Duration::ZERO,
        }
    }
}

/// Counters of a [`NackGenerator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NackStats {
    /// Sequence numbers found missing.
    pub missing: u64,
    /// Requests handed out (a number asked for three times counts three).
    pub requested: u64,
    /// Missing numbers that arrived later (reordered or retransmitted).
    pub recovered: u64,
    /// Numbers given up after `max_retries` or `max_age`.
    pub given_up: u64,
    /// Numbers never tracked or dropped because of `max_missing`, or
    /// dropped by a restart.
    pub dropped: u64,
    /// Times the stream was taken to have restarted after a jump.
    pub restarts: u64,
}

#[derive(Debug, Clone, Copy)]
struct Missing {
    ext: u64,
    detected: Instant,
    last_sent: Option<Instant>,
    sends: u32,
}

impl Missing {
    /// When this number is due for a request (or, past its retries, for
    /// giving up); `None` beyond what `Instant` can hold.
    fn next_request(&self, interval: Duration, first: Duration) -> Option<Instant> {
        match self.last_sent {
            None => self.detected.checked_add(first),
            Some(t) => t.checked_add(interval),
        }
    }
}

/// Tracks gaps in one received stream and says which sequence numbers to
/// NACK when (RFC 4585 §6.2.1).
///
/// Call [`NackGenerator::on_packet`] for every packet of the stream,
/// original or recovered through RTX (with the original sequence number),
/// then [`NackGenerator::poll_nack`] at [`NackGenerator::poll_timeout`].
/// A missing number is requested at once, then again at most
/// `max_retries` times, spaced by max(1.5 × RTT, `min_retry_interval`),
/// and forgotten `max_age` after its gap was seen.
///
/// Jumps: a packet more than `max_gap` away from the highest sequence
/// number (either way) asks for nothing. If the next packet is its
/// successor, the stream has restarted there (an encoder restart, a new
/// sender behind the same SSRC): pending requests are dropped and tracking
/// starts afresh, so a jump by 30000 costs no 30000 NACKs (the same
/// two-in-a-row rule as RFC 3550 §A.1). Memory is bounded by `max_missing`
/// entries and the work of one packet by `max_missing` insertions.
#[derive(Debug, Clone)]
pub struct NackGenerator {
    config: NackConfig,
    seq: SeqExtender,
    /// Missing extended numbers, increasing.
    missing: VecDeque<Missing>,
    rtt: Option<Duration>,
    /// Successor of the last packet that jumped.
    jump_next: Option<u16>,
    /// The lowest extended number seen since the start (or a restart): a
    /// packet reordered before the first one reveals that the numbers
    /// between them are missing too.
    lowest: u64,
    stats: NackStats,
}

impl Default for NackGenerator {
    fn default() -> NackGenerator {
        NackGenerator::new(NackConfig::default())
    }
}

impl NackGenerator {
    /// A generator with these limits.
    pub fn new(config: NackConfig) -> NackGenerator {
        NackGenerator {
            config,
            seq: SeqExtender::default(),
            missing: VecDeque::new(),
            rtt: None,
            jump_next: None,
            lowest: 0,
            stats: NackStats::default(),
        }
    }

    /// Sets the round-trip time that spaces repeated requests.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = Some(rtt);
    }

    /// The counters.
    pub fn stats(&self) -> NackStats {
        self.stats
    }

    /// Sequence numbers currently missing, oldest first.
    pub fn missing(&self) -> impl Iterator<Item = u16> + '_ {
        self.missing.iter().map(|m| m.ext as u16)
    }

    fn retry_interval(&self) -> Duration {
        let from_rtt = self.rtt.map_or(Duration::ZERO, |r| r.saturating_mul(3) / 2);
        from_rtt.max(self.config.min_retry_interval)
    }

    /// Records a packet (original or recovered) of the stream.
    pub fn on_packet(&mut self, now: Instant, seq: u16) {
        let Some(highest) = self.seq.highest() else {
            self.lowest = self.seq.extend(seq);
            return;
        };
        let ext = extend_near(highest, seq);
        let distance = ext.abs_diff(highest);
        if distance > u64::from(self.config.max_gap) {
            if self.jump_next == Some(seq) {
                self.restart(seq);
            } else {
                self.jump_next = Some(seq.wrapping_add(1));
            }
            return;
        }
        if self.jump_next == Some(seq) {
            // The jump was a lone straggler: the stream goes on where it was.
            self.jump_next = None;
        }
        if ext > highest {
            self.seq.extend(seq);
            let gap = ext - highest - 1;
            self.stats.missing += gap;
            // Only the newest `max_missing` of a long gap are worth tracking.
            let tracked = gap.min(self.config.max_missing as u64);
            self.stats.dropped += gap - tracked;
            for e in ext - tracked..ext {
                self.missing.push_back(Missing {
                    ext: e,
                    detected: now,
                    last_sent: None,
                    sends: 0,
                });
            }
            while self.missing.len() > self.config.max_missing {
                self.missing.pop_front();
                self.stats.dropped += 1;
            }
        } else if ext < self.lowest {
            // Reordered before the first packet seen: everything between
            // them is missing (and older than anything tracked so far).
            let gap = self.lowest - ext - 1;
            self.stats.missing += gap;
            let room =
                (self.config.max_missing - self.missing.len().min(self.config.max_missing)) as u64;
            let tracked = gap.min(room);
            self.stats.dropped += gap - tracked;
            for e in (self.lowest - tracked..self.lowest).rev() {
                self.missing.push_front(Missing {
                    ext: e,
                    detected: now,
                    last_sent: None,
                    sends: 0,
                });
            }
            self.lowest = ext;
        } else if let Ok(i) = self.missing.binary_search_by_key(&ext, |m| m.ext) {
            self.missing.remove(i);
            self.stats.recovered += 1;
        }
    }

    fn restart(&mut self, seq: u16) {
        self.stats.restarts += 1;
        self.stats.dropped += self.missing.len() as u64;
        self.missing.clear();
        self.jump_next = None;
        // The jumped packet (seq − 1) arrived too; start right after it.
        self.seq = SeqExtender::default();
        self.lowest = self.seq.extend(seq.wrapping_sub(1));
        self.seq.extend(seq);
    }

    /// The sequence numbers to NACK now, in increasing (wrapping) order, as
    /// [`crate::rtcp::nack_pairs`] wants them; `None` when none is due.
    /// Numbers past their retries or age are given up here.
    #[must_use]
    pub fn poll_nack(&mut self, now: Instant) -> Option<Vec<u16>> {
        let interval = self.retry_interval();
        let first = self.config.reorder_delay;
        let (max_age, max_retries) = (self.config.max_age, self.config.max_retries);
        let mut given_up = 0;
        let mut due = Vec::new();
        self.missing.retain_mut(|m| {
            let is_due = m
                .next_request(interval, first)
                .is_some_and(|next| now >= next);
            if now.saturating_duration_since(m.detected) >= max_age
                || (m.sends > max_retries && is_due)
            {
                given_up += 1;
                return false;
            }
            if is_due {
                m.sends += 1;
                m.last_sent = Some(now);
                due.push(m.ext as u16);
            }
            true
        });
        self.stats.given_up += given_up;
        self.stats.requested += due.len() as u64;
        (!due.is_empty()).then_some(due)
    }

    /// When [`NackGenerator::poll_nack`] has something to do next (a request
    /// or a give-up), `None` when nothing is missing.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let interval = self.retry_interval();
        self.missing
            .iter()
            .filter_map(|m| {
                let expiry = m.detected.checked_add(self.config.max_age);
                match (m.next_request(interval, self.config.reorder_delay), expiry) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            })
            .min()
    }
}

//! How data channels and media split one connection's congestion budget
//! (issue 20 with issue 15).
//!
//! The send-side estimate `E` (draft-ietf-rmcat-gcc-02, [`Congestion`])
//! bounds everything the connection sends, but only RTP carries
//! transport-wide sequence numbers: SCTP packets are invisible to the
//! estimator, so their rate is set here, beside the pacer, from `E`:
//!
//! - **What is left.** A token bucket, the *shared* budget, fills at `E`
//!   and is drained by every media packet the pacer releases (padding and
//!   probes included) and by every SCTP packet. Data may take from it
//!   while it is positive and the pacer has no media waiting: media goes
//!   first, data takes what the estimate leaves.
//! - **A guaranteed share.** A second bucket, the *reserve*, fills at
//!   [`DATA_MIN_SHARE`] × `E` and is drained only by data; while it is
//!   positive an SCTP packet leaves even though media waits or the shared
//!   budget is spent (the packet is still charged to the shared budget, so
//!   the total stays counted). It holds at most one burst or one full
//!   packet, whichever is larger, so at 300 kbit/s (a 30 kbit/s reserve) a
//!   1.2 kB packet leaves about every 330 ms even when media fills the
//!   rest: a data channel never stops while media is queued.
//! - **Media makes room.** While data is pending (queued in SCTP or in
//!   flight), [`PeerConnection::target_bitrate`] — what the owner's
//!   encoders aim at — is `E` less the reserve, so the encoders leave the
//!   data share free and the bottleneck queue does not grow; with no data
//!   pending it is `E` again. [`PeerConnection::estimated_bitrate`] is `E`
//!   itself.
//! - **SCTP's own congestion control** (RFC 9260 §7, cwnd and the peer's
//!   receive window) still applies beneath: a packet is only asked of SCTP
//!   when the budget allows one, and SCTP gives one only when its window
//!   does.
//!
//! Why 10%: RFC 8835 §4 (local prioritization) counts media tracks and
//! data channels alike as flows to be shared between under congestion, and
//! RFC 8836 §4 asks the media algorithm to coexist with the application's
//! other flows on the path rather than starve them; a bulk transfer must
//! not take the video's bits either (issue 20: a 10 MB transfer must not
//! starve the video on a 300 kbit/s uplink). A tenth of the estimate keeps
//! video at 90% of its rate (the fake codec and libvpx lose little
//! quality for it, and no frames), while giving a channel a steady
//! 30 kbit/s on the worst link of issue 15 (300 kbit/s), enough for chat,
//! presence and game state to flow within a second. A "one packet per
//! pacing interval" floor (5 ms, [`meshrtc_cc::pacer::INTERVAL`]) was
//! rejected: 1.2 kB every 5 ms is about 2 Mbit/s, more than the whole link
//! in the cases that matter. With no media (a data-only session, or no
//! transport-cc) no estimator runs and SCTP's window alone paces the data.
//!
//! [`Congestion`]: super::congestion::Congestion

use std::time::{Duration, Instant};

/// The share of the estimate guaranteed to data while data is pending,
/// and taken off the media target meanwhile.
pub const DATA_MIN_SHARE: f64 = 0.10;

/// The shared budget holds at most this long a time of the estimate: data
/// bursts no more than this beyond it.
const BUDGET_BURST: Duration = Duration::from_millis(40);

/// The reserve always holds at least one packet's worth (bytes on the
/// wire: a full SCTP packet with DTLS and UDP/IP overhead).
const RESERVE_MIN_CAP: f64 = 1300.0;

/// The two buckets data sends from. See the module documentation.
#[derive(Debug, Default)]
pub(super) struct DataShare {
    /// Bytes; negative when overdrawn.
    shared: f64,
    /// Bytes; negative when overdrawn.
    reserve: f64,
    at: Option<Instant>,
    /// When a bucket allows the next packet, while data waits.
    pub(super) wakeup: Option<Instant>,
    /// SCTP packets that left on the reserve (media waiting or the shared
    /// budget spent): the ones the old "media first" rule would have held.
    pub(super) reserve_packets: u64,
}

/// Where a packet may come from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// What the estimate leaves after media.
    Shared,
    /// The guaranteed share.
    Reserve,
}

impl DataShare {
    /// Refills both buckets for the time since the last call, at the
    /// estimate `estimate_bps`.
    pub(super) fn refill(&mut self, now: Instant, estimate_bps: u64) {
        let rate = estimate_bps as f64 / 8.0;
        let elapsed = self
            .at
            .map_or(BUDGET_BURST, |t| now.saturating_duration_since(t))
            .as_secs_f64();
        self.at = Some(now);
        let cap = rate * BUDGET_BURST.as_secs_f64();
        // Debt is bounded too: media is not paced by this bucket, so a
        // burst of it (a key frame, a probe cluster) is not owed by data
        // for long; without a floor one start-up probe kept data on the
        // reserve alone for the whole call (measured: -22 kB for 20 s).
        self.shared = (self.shared + rate * elapsed).clamp(-cap, cap);
        let reserve_rate = rate * DATA_MIN_SHARE;
        let reserve_cap = (reserve_rate * BUDGET_BURST.as_secs_f64()).max(RESERVE_MIN_CAP);
        self.reserve = (self.reserve + reserve_rate * elapsed).min(reserve_cap);
    }

    /// A media packet of `wire` bytes left the pacer.
    pub(super) fn on_media(&mut self, wire: usize) {
        self.shared -= wire as f64;
    }

    /// Whether a data packet may leave now, and on which budget.
    pub(super) fn source(&self, media_waiting: bool) -> Option<Source> {
        if !media_waiting && self.shared > 0.0 {
            Some(Source::Shared)
        } else if self.reserve > 0.0 {
            Some(Source::Reserve)
        } else {
            None
        }
    }

    /// A data packet of `wire` bytes left on `source`.
    pub(super) fn on_data(&mut self, source: Source, wire: usize) {
        self.shared -= wire as f64;
        if source == Source::Reserve {
            self.reserve -= wire as f64;
            self.reserve_packets += 1;
        }
    }

    /// When to look again, data waiting at `now` for the budget: when the
    /// reserve is back, or the shared budget if no media waits (the
    /// pacer's own timer wakes the connection when media drained).
    pub(super) fn wait(&mut self, now: Instant, estimate_bps: u64, media_waiting: bool) {
        let rate = (estimate_bps as f64 / 8.0).max(1.0);
        // Until a bucket holds a byte (not just zero: float rounding).
        let mut wait = (1.0 - self.reserve).max(1.0) / (rate * DATA_MIN_SHARE);
        if !media_waiting {
            wait = wait.min((1.0 - self.shared).max(1.0) / rate);
        }
        let wait = Duration::from_secs_f64(wait.min(1.0)).max(Duration::from_millis(1));
        self.wakeup = Some(now + wait);
    }

    /// The media target for an estimate of `estimate_bps` while data is
    /// pending: the estimate less the data's guaranteed share.
    pub(super) fn media_target(estimate_bps: u64) -> u64 {
        (estimate_bps as f64 * (1.0 - DATA_MIN_SHARE)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_leaves_on_the_reserve_while_media_waits_and_the_total_is_charged() {
        let t0 = Instant::now();
        let mut s = DataShare::default();
        s.refill(t0, 300_000);
        // Media spent everything and more.
        s.on_media(10_000);
        assert_eq!(s.source(true), Some(Source::Reserve));
        assert_eq!(s.source(false), Some(Source::Reserve));
        s.on_data(Source::Reserve, 1200);
        assert_eq!(
            s.source(true),
            None,
            "one packet, then the reserve is spent"
        );
        assert_eq!(s.reserve_packets, 1);
        // The reserve refills at 10% of 300 kbit/s: 3.75 kB/s, so the
        // ~1.1 kB debt (1200 less the 150-byte start) is back in ~0.3 s.
        s.wait(t0, 300_000, true);
        let back = s.wakeup.unwrap() - t0;
        assert!(
            back > Duration::from_millis(200) && back < Duration::from_millis(400),
            "{back:?}"
        );
        s.refill(t0 + back, 300_000);
        assert_eq!(s.source(true), Some(Source::Reserve));
    }

    #[test]
    fn without_media_waiting_data_takes_what_the_estimate_leaves_first() {
        let t0 = Instant::now();
        let mut s = DataShare::default();
        s.refill(t0, 1_000_000);
        // 40 ms at 1 Mbit/s: 5 kB of shared budget.
        let mut shared = 0;
        while s.source(false) == Some(Source::Shared) {
            s.on_data(Source::Shared, 1000);
            shared += 1;
        }
        assert_eq!(shared, 5);
        assert_eq!(s.reserve_packets, 0);
        // Then the reserve (the shared budget is spent, not the reserve).
        assert_eq!(s.source(false), Some(Source::Reserve));
    }

    #[test]
    fn the_media_target_leaves_the_data_share_free() {
        assert_eq!(DataShare::media_target(300_000), 270_000);
        assert_eq!(DataShare::media_target(0), 0);
    }
}

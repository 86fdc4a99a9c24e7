//! What acknowledgements and timeouts do to the flight: SACK processing
//! with gap blocks (RFC 9260 §6.2.1), miss indications and fast
//! retransmit with fast recovery (§7.2.4), the congestion window in slow
//! start and congestion avoidance (§7.2.1, §7.2.2), the peer's window
//! (§6.1) and T3-rtx expiry (§6.3.3, §7.2.3).

use std::time::Instant;

use super::{SackOutcome, Sender, MAX_SACK_GAPS};
use crate::tsn::unwrap_tsn;

impl Sender {
    /// Processes a SACK (§6.2.1, §7.2).
    pub(crate) fn on_sack(
        &mut self,
        now: Instant,
        cum_tsn_ack: u32,
        a_rwnd: u32,
        gaps: &[(u16, u16)],
    ) -> SackOutcome {
        let mut out = SackOutcome::default();
        let cum = unwrap_tsn(self.cum_ack, cum_tsn_ack);
        if cum < self.cum_ack || cum >= self.next_tsn {
            // Stale (reordered) or acknowledging what was never sent.
            out.invalid = cum >= self.next_tsn;
            return out;
        }
        let flight_before = self.flight_size;
        let mut bytes_acked = 0usize;
        while self.sent.front().is_some_and(|s| s.tsn <= cum) {
            let Some(s) = self.sent.pop_front() else {
                break;
            };
            if s.needs_rtx {
                self.rtx_marked -= 1;
            }
            if !s.acked && !s.abandoned {
                bytes_acked += s.data.len();
                out.newly_acked = true;
                if s.transmissions == 1 {
                    out.rtt = Some(now.saturating_duration_since(s.sent_at));
                }
            }
            if s.in_flight {
                self.flight_size -= s.data.len();
            }
        }
        out.cum_advanced = cum > self.cum_ack;
        self.cum_ack = cum;
        let mut highest_newly_acked = None;
        for &(start, end) in gaps.iter().take(MAX_SACK_GAPS) {
            if start == 0 || start > end {
                continue;
            }
            let first = (start as usize - 1).min(self.sent.len());
            let last = (end as usize).min(self.sent.len());
            for s in self.sent.range_mut(first..last) {
                if s.acked {
                    continue;
                }
                s.acked = true;
                if std::mem::take(&mut s.needs_rtx) {
                    self.rtx_marked -= 1;
                }
                if s.in_flight {
                    s.in_flight = false;
                    self.flight_size -= s.data.len();
                }
                if !s.abandoned {
                    bytes_acked += s.data.len();
                    out.newly_acked = true;
                    if s.transmissions == 1 {
                        out.rtt = Some(now.saturating_duration_since(s.sent_at));
                    }
                }
                highest_newly_acked = Some(s.tsn);
            }
        }
        // §7.2.4: miss indications for TSNs below the highest newly acked.
        if let Some(h) = highest_newly_acked {
            let mut enter_recovery = false;
            for s in self.sent.iter_mut() {
                if s.tsn >= h {
                    break;
                }
                if s.acked || s.abandoned || !s.in_flight {
                    continue;
                }
                s.misses += 1;
                if s.misses == 3 {
                    s.needs_rtx = true;
                    self.rtx_marked += 1;
                    s.in_flight = false;
                    self.flight_size -= s.data.len();
                    out.fast_retransmit += 1;
                    enter_recovery = true;
                }
            }
            if enter_recovery {
                self.fast_rtx_bypass = true;
                if self.fast_recovery_exit.is_none() {
                    // §7.2.3 on loss by fast retransmit.
                    self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
                    self.cwnd = self.ssthresh;
                    self.partial_bytes_acked = 0;
                    self.fast_recovery_exit = Some(self.next_tsn - 1);
                }
            }
        }
        if self.fast_recovery_exit.is_some_and(|e| cum >= e) {
            self.fast_recovery_exit = None;
        }
        // §7.2.1, §7.2.2: grow cwnd when the cumulative ack advances.
        if out.cum_advanced && self.fast_recovery_exit.is_none() {
            if self.cwnd <= self.ssthresh {
                if flight_before + self.mtu >= self.cwnd {
                    self.cwnd += bytes_acked.min(self.mtu);
                }
            } else {
                self.partial_bytes_acked += bytes_acked;
                if self.partial_bytes_acked >= self.cwnd && flight_before + self.mtu >= self.cwnd {
                    self.partial_bytes_acked -= self.cwnd;
                    self.cwnd += self.mtu;
                }
            }
        }
        if self.flight_size == 0 {
            self.partial_bytes_acked = 0;
        }
        // §6.2.1 D: the peer's window less what is in flight.
        self.peer_rwnd = (a_rwnd as usize).saturating_sub(self.flight_size);
        self.update_adv_peer_ack();
        out
    }

    /// T3-rtx expired (§6.3.3 E1, E3; §7.2.3): back to one MTU and every
    /// outstanding chunk is retransmitted.
    pub(crate) fn on_t3_expired(&mut self) {
        self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
        self.cwnd = self.mtu;
        self.partial_bytes_acked = 0;
        self.fast_recovery_exit = None;
        for s in self.sent.iter_mut().filter(|s| !s.acked && !s.abandoned) {
            if s.in_flight {
                s.in_flight = false;
                self.flight_size -= s.data.len();
            }
            if !s.needs_rtx {
                s.needs_rtx = true;
                self.rtx_marked += 1;
            }
        }
        if self.adv_peer_ack > self.cum_ack {
            self.forward_tsn_due = true;
        }
    }
}

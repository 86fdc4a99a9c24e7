//! Sending user data (RFC 9260 §6.1-§6.3, §7) as the association drives
//! [`crate::send`]: queuing messages (RFC 8831 §6.6), SACKs from the peer
//! (fast retransmit, §7.2.4), the T3-rtx timer (§6.3.2, §6.3.3) with the
//! RTO (§6.3.1), and the congestion window (§7.2).

use std::time::{Duration, Instant};

use super::{Association, State};
use crate::chunk::SackChunk;
use crate::error::{Error, Result};
use crate::send::Reliability;

impl Association {
    /// The congestion window in bytes (§7.2).
    pub fn cwnd(&self) -> usize {
        self.sender.cwnd
    }

    /// Bytes sent and not yet acknowledged (§6.1 flightsize).
    pub fn flight_size(&self) -> usize {
        self.sender.flight_size()
    }

    /// The current retransmission timeout.
    pub fn rto(&self) -> Duration {
        self.rto.rto()
    }

    /// Bytes queued on `stream` and not yet sent.
    pub fn buffered_amount(&self, stream: u16) -> usize {
        self.sender.buffered(stream)
    }

    /// Queues a user message on `stream` (RFC 8831 §6.6). `ordered`
    /// selects SSN-ordered delivery; `reliability` partial reliability
    /// (ignored, i.e. reliable, when the peer lacks FORWARD TSN).
    pub fn send(
        &mut self,
        now: Instant,
        stream: u16,
        ppid: u32,
        data: &[u8],
        ordered: bool,
        reliability: Reliability,
    ) -> Result<()> {
        match self.state {
            State::Closed | State::CookieWait | State::CookieEchoed | State::Established => {}
            _ => return Err(Error::NotEstablished),
        }
        if stream >= self.outbound_streams() {
            return Err(Error::InvalidStream(stream));
        }
        if data.len() > self.config.max_message_size {
            return Err(Error::MessageTooLarge {
                size: data.len(),
                max: self.config.max_message_size,
            });
        }
        if self.sender.buffered_total() + data.len() > self.config.send_buffer {
            return Err(Error::BufferFull);
        }
        self.sender
            .enqueue(now, stream, ppid, data, ordered, reliability);
        Ok(())
    }

    pub(super) fn on_sack(&mut self, now: Instant, s: &SackChunk) {
        if !matches!(
            self.state,
            State::Established
                | State::ShutdownPending
                | State::ShutdownReceived
                | State::ShutdownSent
        ) {
            self.stats.unexpected_chunks += 1;
            return;
        }
        let out = self
            .sender
            .on_sack(now, s.cum_tsn_ack, s.a_rwnd, &s.gap_blocks);
        if out.invalid {
            self.stats.invalid_sacks += 1;
            return;
        }
        if let Some(rtt) = out.rtt {
            self.rto.measure(rtt);
        }
        if out.newly_acked {
            self.error_count = 0;
        }
        if out.fast_retransmit > 0 {
            self.stats.fast_retransmits += 1;
        }
        // §6.3.2 R2, R3.
        if !self.sender.has_outstanding() {
            self.t3 = None;
        } else if out.cum_advanced {
            self.t3 = Some(now + self.rto.rto());
        }
        self.after_ack(now);
    }

    pub(super) fn after_ack(&mut self, now: Instant) {
        if self.reconfig_in_flight.is_none() && self.reconfig_timer.is_none() {
            self.maybe_send_reconfig(now);
        }
        self.try_shutdown(now);
    }

    /// T3-rtx expiry (§6.3.3): the RTO doubles and everything outstanding
    /// is retransmitted (§7.2.3 for cwnd and ssthresh). True when the
    /// association ended (Association.Max.Retrans, §8.1).
    pub(super) fn on_t3_expired(&mut self, now: Instant) -> bool {
        self.stats.t3_expiries += 1;
        self.t3 = None;
        if self.count_error() {
            return true;
        }
        self.rto.back_off();
        self.sender.on_t3_expired();
        if self.sender.has_outstanding() {
            self.t3 = Some(now + self.rto.rto());
        }
        false
    }

    pub(super) fn can_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownReceived
        )
    }
}

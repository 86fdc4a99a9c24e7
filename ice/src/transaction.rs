//! STUN client transaction timing (RFC 8489 §6.2.1): a request is sent, then
//! retransmitted after RTO, 2×RTO, 4×RTO… until `max_sends` requests have
//! gone out; after the last one the client waits `last_wait_factor`×RTO
//! (Rm = 16 in the RFC) before giving up.

use std::time::{Duration, Instant};

/// The retransmission schedule of one transaction.
#[derive(Debug, Clone)]
pub(crate) struct Retransmit {
    rto: Duration,
    sends: u32,
    max_sends: u32,
    last_wait_factor: u32,
    /// When to retransmit next, or to give up after the last send.
    pub deadline: Instant,
}

/// What the timer says when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fire {
    /// Send the request again.
    Resend,
    /// No answer: the transaction failed.
    GiveUp,
}

impl Retransmit {
    /// Starts the schedule at `now`; the first request is sent now.
    pub fn start(now: Instant, rto: Duration, max_sends: u32, last_wait_factor: u32) -> Self {
        Retransmit {
            rto,
            sends: 1,
            max_sends: max_sends.max(1),
            last_wait_factor,
            deadline: if max_sends <= 1 {
                now + rto * last_wait_factor
            } else {
                now + rto
            },
        }
    }

    /// Called when `now >= deadline`.
    pub fn fire(&mut self, now: Instant) -> Fire {
        if self.sends >= self.max_sends {
            return Fire::GiveUp;
        }
        self.sends += 1;
        let wait = if self.sends == self.max_sends {
            self.rto * self.last_wait_factor
        } else {
            self.rto * (1 << (self.sends - 1).min(16))
        };
        self.deadline = now + wait;
        Fire::Resend
    }

    /// How many requests have been sent.
    #[cfg(test)]
    pub fn sends(&self) -> u32 {
        self.sends
    }
}

/// The keys of the transactions whose timer is due at `now`.
pub(crate) fn due<K: Copy + Ord, T>(
    txns: &std::collections::BTreeMap<K, T>,
    now: Instant,
    timer: impl Fn(&T) -> &Retransmit,
) -> Vec<K> {
    txns.iter()
        .filter(|(_, t)| timer(t).deadline <= now)
        .map(|(k, _)| *k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_8489_schedule_is_0_500_1500_3500_7500_15500_31500_and_gives_up_at_39500() {
        let t0 = Instant::now();
        let mut r = Retransmit::start(t0, Duration::from_millis(500), 7, 16);
        let mut sent_at = vec![0u128];
        loop {
            let now = r.deadline;
            match r.fire(now) {
                Fire::Resend => sent_at.push((now - t0).as_millis()),
                Fire::GiveUp => {
                    assert_eq!((now - t0).as_millis(), 39_500);
                    break;
                }
            }
        }
        assert_eq!(sent_at, vec![0, 500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(r.sends(), 7);
    }
}

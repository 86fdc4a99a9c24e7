//! Outgoing flights of DTLS 1.3 (RFC 9147 §5.8) and their ACKs (§7),
//! apart from either handshake: which messages a flight holds and in
//! which epoch, how they are fragmented and packed into datagrams, which
//! record carried which fragment, what an ACK covers, and the doubling
//! retransmission timer. Only fragments not yet acknowledged are sent
//! again (§7.1), each under the epoch of its first transmission (§4.2.1).

use std::time::{Duration, Instant};

use super::record::{RecordLayer13, CONTENT_HANDSHAKE, TAG_LEN, WRITTEN_HEADER_LEN};
use crate::handshake::{HandshakeType, Message};
use crate::record::{self, ContentType, DTLS1_2, HEADER_LEN as PLAIN_HEADER};

/// One message of a flight.
#[derive(Debug, Clone)]
struct OutMessage {
    epoch: u64,
    message: Message,
    /// Per fragment (at the flight's fragment size): acknowledged yet?
    acked: Vec<bool>,
}

/// A flight we sent and may have to send again.
#[derive(Debug)]
pub struct Flight {
    messages: Vec<OutMessage>,
    /// `(epoch, sequence)` of each record sent → (message, fragment).
    sent: Vec<((u64, u64), (usize, usize))>,
    max_fragment: usize,
    rto: Duration,
    max_rto: Duration,
    deadline: Option<Instant>,
    /// Transmissions so far (the first included).
    pub transmissions: u32,
}

/// What an ACK did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AckOutcome {
    /// Record numbers that named a record of this flight.
    pub known: usize,
    /// Record numbers that named nothing we sent.
    pub unknown: usize,
}

impl Flight {
    /// An empty flight whose fragments fit `mtu`-byte datagrams.
    pub fn new(mtu: usize, rto: Duration, max_rto: Duration) -> Flight {
        // The larger of the two record overheads: a protected record's
        // header, content type byte and tag.
        let overhead = (WRITTEN_HEADER_LEN + 1 + TAG_LEN).max(PLAIN_HEADER);
        Flight {
            messages: Vec::new(),
            sent: Vec::new(),
            max_fragment: mtu.saturating_sub(overhead).max(64),
            rto,
            max_rto,
            deadline: None,
            transmissions: 0,
        }
    }

    /// Adds a message to send in `epoch`.
    pub fn push(&mut self, epoch: u64, msg_type: u8, message_seq: u16, body: Vec<u8>) {
        let message = Message {
            msg_type: HandshakeType::from_u8(msg_type),
            message_seq,
            body,
        };
        let n = message.fragments(self.max_fragment).len();
        self.messages.push(OutMessage {
            epoch,
            message,
            acked: vec![false; n],
        });
    }

    /// Whether every fragment was acknowledged.
    pub fn fully_acked(&self) -> bool {
        self.messages.iter().all(|m| m.acked.iter().all(|a| *a))
    }

    /// When the retransmission timer fires, if it runs.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Stops the timer (the flight was acknowledged, implicitly or not).
    pub fn stop(&mut self) {
        self.deadline = None;
    }

    /// Sends every unacknowledged fragment, packing records into
    /// datagrams of at most `mtu` bytes, and (re)arms the timer: the
    /// first call at the initial timeout, each later one doubled up to
    /// the maximum (§5.8.1). A fragment whose epoch has no write keys is
    /// skipped (never happens for our own flights).
    pub fn transmit(
        &mut self,
        now: Instant,
        mtu: usize,
        records: &mut RecordLayer13,
    ) -> Vec<Vec<u8>> {
        if self.transmissions > 0 {
            self.rto = (self.rto * 2).min(self.max_rto);
        }
        self.transmissions += 1;
        self.deadline = Some(now + self.rto);
        let mut datagrams = Vec::new();
        let mut current: Vec<u8> = Vec::new();
        for (mi, m) in self.messages.iter().enumerate() {
            for (fi, frag) in m.message.fragments(self.max_fragment).iter().enumerate() {
                if m.acked.get(fi).copied().unwrap_or(true) {
                    continue;
                }
                let mut rec = Vec::with_capacity(frag.len() + 32);
                let seq = if m.epoch == 0 {
                    let seq = records.plaintext_seq;
                    records.plaintext_seq += 1;
                    record::write_record(&mut rec, ContentType::Handshake, DTLS1_2, 0, seq, frag);
                    seq
                } else {
                    match records.seal(m.epoch, CONTENT_HANDSHAKE, frag, &mut rec) {
                        Ok(seq) => seq,
                        Err(_) => continue,
                    }
                };
                self.sent.push(((m.epoch, seq), (mi, fi)));
                if !current.is_empty() && current.len() + rec.len() > mtu {
                    datagrams.push(std::mem::take(&mut current));
                }
                current.extend_from_slice(&rec);
            }
        }
        if !current.is_empty() {
            datagrams.push(current);
        }
        datagrams
    }

    /// Applies an ACK's record numbers (§7).
    pub fn on_ack(&mut self, record_numbers: &[(u64, u64)]) -> AckOutcome {
        let mut out = AckOutcome::default();
        for rn in record_numbers {
            match self.sent.iter().find(|(n, _)| n == rn) {
                Some(&(_, (mi, fi))) => {
                    out.known += 1;
                    if let Some(a) = self.messages.get_mut(mi).and_then(|m| m.acked.get_mut(fi)) {
                        *a = true;
                    }
                }
                None => out.unknown += 1,
            }
        }
        if self.fully_acked() {
            self.deadline = None;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v13::key_schedule::Schedule;
    use crate::v13::record::{CipherSuite13, EpochKeys};

    fn layer() -> RecordLayer13 {
        let suite = CipherSuite13::Aes128GcmSha256;
        let s = Schedule::dtls13(suite.hash());
        let mut r = RecordLayer13::new();
        r.install_write(2, EpochKeys::new(suite, &s.traffic_keys(&[1; 32], 16)));
        r
    }

    #[test]
    fn large_messages_are_fragmented_to_the_mtu_and_only_unacked_fragments_resent() {
        let mut records = layer();
        let mut f = Flight::new(300, Duration::from_secs(1), Duration::from_secs(8));
        f.push(0, 2, 0, vec![1; 100]);
        f.push(2, 11, 1, vec![2; 1000]);
        let now = Instant::now();
        let first = f.transmit(now, 300, &mut records);
        assert!(
            first.iter().all(|d| d.len() <= 300),
            "{:?}",
            first.iter().map(Vec::len).collect::<Vec<_>>()
        );
        let records_sent = f.sent.len();
        assert!(
            records_sent >= 5,
            "1000 bytes in ~278-byte fragments plus the hello"
        );
        assert_eq!(f.deadline(), Some(now + Duration::from_secs(1)));
        // ACK the epoch-2 records of the first transmission.
        let acks: Vec<(u64, u64)> = f
            .sent
            .iter()
            .filter(|(n, _)| n.0 == 2)
            .map(|(n, _)| *n)
            .collect();
        let out = f.on_ack(&acks);
        assert_eq!(
            out,
            AckOutcome {
                known: acks.len(),
                unknown: 0
            }
        );
        assert!(!f.fully_acked());
        let again = f.transmit(now, 300, &mut records);
        assert_eq!(
            f.sent.len(),
            records_sent + 1,
            "only the unacknowledged hello again"
        );
        assert_eq!(again.len(), 1);
        assert_eq!(f.deadline(), Some(now + Duration::from_secs(2)));
        assert_eq!(
            f.on_ack(&[(0, 1), (7, 7)]),
            AckOutcome {
                known: 1,
                unknown: 1
            }
        );
        assert!(f.fully_acked());
        assert_eq!(f.deadline(), None);
    }
}

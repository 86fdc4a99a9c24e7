//! The end of an association: graceful SHUTDOWN (RFC 9260 §9.2: SHUTDOWN,
//! SHUTDOWN ACK, SHUTDOWN COMPLETE, T2-shutdown, simultaneous shutdown),
//! ABORT (§9.1), and the SHUTDOWN COMPLETE answered after we terminated
//! (§8.4 item 5).

use std::time::Instant;

use super::{Association, CloseReason, Event, State};
use crate::chunk::Chunk;
use crate::packet::{ChecksumPolicy, Packet, PacketRepr};
use crate::param::{cause, emit_tlv};

impl Association {
    /// Graceful shutdown (§9.2): SHUTDOWN once all data is acknowledged.
    pub fn close(&mut self, now: Instant) {
        match self.state {
            State::Established => {
                self.state = State::ShutdownPending;
                self.try_shutdown(now);
            }
            State::Closed | State::CookieWait | State::CookieEchoed => {
                self.terminate(CloseReason::AbortedLocally);
            }
            _ => {}
        }
    }

    /// Sends ABORT (§9.1) and ends the association at once.
    pub fn abort(&mut self) {
        if let Some(p) = self.peer {
            if self.state != State::Terminated {
                let mut c = Vec::new();
                let mut causes = Vec::new();
                emit_tlv(&mut causes, cause::USER_INITIATED_ABORT, &[]);
                Chunk::Abort {
                    reflected: false,
                    causes: &causes,
                }
                .emit(&mut c);
                self.solo.push_back((p.tag, c));
            }
        }
        self.terminate(CloseReason::AbortedLocally);
    }

    pub(super) fn terminate(&mut self, reason: CloseReason) {
        if self.state == State::Terminated {
            return;
        }
        self.state = State::Terminated;
        self.t1 = None;
        self.t2 = None;
        self.t3 = None;
        self.ack_deadline = None;
        self.heartbeat_at = None;
        self.reconfig_timer = None;
        self.control.clear();
        self.events.push_back(Event::Closed(reason));
    }

    /// T2-shutdown expiry (§9.2): SHUTDOWN or SHUTDOWN ACK again. True when
    /// the association ended (Association.Max.Retrans).
    pub(super) fn on_t2_expired(&mut self, now: Instant) -> bool {
        if self.count_error() {
            return true;
        }
        self.rto.back_off();
        self.send_shutdown_chunk();
        self.t2 = Some(now + self.rto.rto());
        false
    }

    fn send_shutdown_chunk(&mut self) {
        let mut c = Vec::new();
        match self.state {
            State::ShutdownSent => {
                let cum = self.receiver.as_ref().map_or(0, |r| r.cum_tsn() as u32);
                Chunk::Shutdown { cum_tsn_ack: cum }.emit(&mut c);
            }
            State::ShutdownAckSent => Chunk::ShutdownAck.emit(&mut c),
            _ => return,
        }
        self.control.push_back(c);
    }

    pub(super) fn try_shutdown(&mut self, now: Instant) {
        if !self.sender.is_idle() {
            return;
        }
        match self.state {
            State::ShutdownPending => self.state = State::ShutdownSent,
            State::ShutdownReceived => self.state = State::ShutdownAckSent,
            _ => return,
        }
        self.send_shutdown_chunk();
        self.t3 = None;
        self.heartbeat_at = None;
        self.t2 = Some(now + self.rto.rto());
    }

    pub(super) fn on_shutdown(&mut self, now: Instant, cum_tsn_ack: u32) {
        match self.state {
            State::Established | State::ShutdownPending | State::ShutdownReceived => {
                let rwnd = self.sender.peer_rwnd as u32;
                let out = self.sender.on_sack(
                    now,
                    cum_tsn_ack,
                    rwnd + self.sender.flight_size() as u32,
                    &[],
                );
                if !self.sender.has_outstanding() {
                    self.t3 = None;
                } else if out.cum_advanced {
                    self.t3 = Some(now + self.rto.rto());
                }
                self.state = State::ShutdownReceived;
                self.try_shutdown(now);
            }
            State::ShutdownSent => {
                // §9.2: both sides shut down at once.
                self.state = State::ShutdownAckSent;
                self.send_shutdown_chunk();
                self.t2 = Some(now + self.rto.rto());
            }
            State::ShutdownAckSent => self.send_shutdown_chunk(),
            _ => self.stats.unexpected_chunks += 1,
        }
    }

    /// SHUTDOWN ACK (§9.2): SHUTDOWN COMPLETE, and the association is over.
    pub(super) fn on_shutdown_ack(&mut self) {
        if matches!(self.state, State::ShutdownSent | State::ShutdownAckSent) {
            if let Some(p) = self.peer {
                let mut c = Vec::new();
                Chunk::ShutdownComplete { reflected: false }.emit(&mut c);
                self.solo.push_back((p.tag, c));
            }
            self.terminate(CloseReason::Shutdown);
        } else {
            self.stats.unexpected_chunks += 1;
        }
    }

    /// SHUTDOWN COMPLETE (§9.2): the association is over.
    pub(super) fn on_shutdown_complete(&mut self) {
        if self.state == State::ShutdownAckSent {
            self.terminate(CloseReason::Shutdown);
        } else {
            self.stats.unexpected_chunks += 1;
        }
    }

    /// §8.4 item 5: a SHUTDOWN ACK after we terminated (our SHUTDOWN
    /// COMPLETE was lost) is answered with SHUTDOWN COMPLETE, T bit set,
    /// so the peer need not time out.
    pub(super) fn answer_after_termination(&mut self, bytes: &[u8]) {
        let Some(peer) = self.peer else { return };
        let Ok(view) = Packet::new_checked(bytes) else {
            return;
        };
        let Ok(repr) = PacketRepr::parse(&view, ChecksumPolicy::AllowZero) else {
            return;
        };
        if repr.verification_tag == self.local_tag
            && peer.tag != 0
            && matches!(repr.chunks.first(), Some(Chunk::ShutdownAck))
        {
            let mut c = Vec::new();
            Chunk::ShutdownComplete { reflected: true }.emit(&mut c);
            self.solo.push_back((self.local_tag, c));
        }
    }
}

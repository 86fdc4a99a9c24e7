//! Stream reset (RFC 6525 §5) as RE-CONFIG chunks carry it: our Outgoing
//! SSN Reset Requests (§5.1.2), sent once the data queued on those streams
//! has gone out and retransmitted after an RTO, and the peer's requests
//! and responses (§5.2.2-§5.2.7), as closing a data channel uses them
//! (RFC 8831 §6.7).

use std::time::Instant;

use super::{Association, Event, State};
use crate::chunk::{reconfig_result, Chunk, ReConfigParam};
use crate::tsn::unwrap_tsn;

#[derive(Debug)]
pub(super) struct ReconfigRequest {
    seq: u32,
    streams: Vec<u16>,
    last_tsn: u32,
}

impl Association {
    /// Resets our outgoing `streams` (RFC 6525 §5.1.2), as closing a data
    /// channel does (RFC 8831 §6.7). The request goes out once the data
    /// queued on them has been sent.
    pub fn reset_streams(&mut self, streams: &[u16]) {
        self.reset_wanted.extend(streams.iter().copied());
    }

    /// The RE-CONFIG retransmission timer (RFC 6525 §5.1.1): the request
    /// in flight goes again.
    pub(super) fn on_reconfig_timer(&mut self, now: Instant) {
        self.reconfig_timer = None;
        if let Some(r) = &self.reconfig_in_flight {
            let c = self.reconfig_chunk(r);
            self.control.push_back(c);
            self.reconfig_timer = Some(now + self.rto.rto());
        }
    }

    fn reconfig_chunk(&self, r: &ReconfigRequest) -> Vec<u8> {
        let mut c = Vec::new();
        Chunk::ReConfig(vec![ReConfigParam::OutgoingReset {
            request_seq: r.seq,
            response_seq: self.peer_next_reconfig_seq.wrapping_sub(1),
            last_tsn: r.last_tsn,
            streams: r.streams.clone(),
        }])
        .emit(&mut c);
        c
    }

    /// Queues a RE-CONFIG chunk with one Re-configuration Response
    /// Parameter (RFC 6525 §4.4).
    fn queue_reconfig_response(&mut self, response_seq: u32, result: u32) {
        let mut c = Vec::new();
        Chunk::ReConfig(vec![ReConfigParam::Response {
            response_seq,
            result,
            next_tsns: None,
        }])
        .emit(&mut c);
        self.control.push_back(c);
    }

    pub(super) fn maybe_send_reconfig(&mut self, now: Instant) {
        if self.reconfig_in_flight.is_some()
            || self.reset_wanted.is_empty()
            || self.state != State::Established
        {
            return;
        }
        let Some(peer) = self.peer else { return };
        let ready: Vec<u16> = self
            .reset_wanted
            .iter()
            .copied()
            .filter(|s| !self.sender.has_pending_on(*s))
            .take(200)
            .collect();
        if ready.is_empty() {
            return;
        }
        for s in &ready {
            self.reset_wanted.remove(s);
        }
        if !peer.reconfig {
            // The peer cannot reset streams; SSNs restart locally only.
            self.sender.reset_ssn(&ready);
            self.events.push_back(Event::OutgoingStreamsReset(ready));
            return;
        }
        let r = ReconfigRequest {
            seq: self.next_reconfig_seq,
            streams: ready,
            last_tsn: (self.sender.next_tsn() - 1) as u32,
        };
        let c = self.reconfig_chunk(&r);
        self.control.push_back(c);
        self.reconfig_in_flight = Some(r);
        self.reconfig_timer = Some(now + self.rto.rto());
    }

    pub(super) fn on_reconfig_param(&mut self, now: Instant, p: &ReConfigParam<'_>) {
        let Some(peer) = self.peer else {
            self.stats.unexpected_chunks += 1;
            return;
        };
        let _ = peer;
        match p {
            ReConfigParam::OutgoingReset {
                request_seq,
                last_tsn,
                streams,
                ..
            } => {
                let result = if *request_seq == self.peer_next_reconfig_seq {
                    let Some(rx) = self.receiver.as_mut() else {
                        return;
                    };
                    let last = unwrap_tsn(rx.cum_tsn(), *last_tsn);
                    if last <= rx.cum_tsn() {
                        rx.reset_streams(streams);
                        self.events
                            .push_back(Event::IncomingStreamsReset(streams.clone()));
                        self.peer_next_reconfig_seq = self.peer_next_reconfig_seq.wrapping_add(1);
                        self.last_reconfig_result = reconfig_result::PERFORMED;
                        reconfig_result::PERFORMED
                    } else {
                        // RFC 6525 §5.2.2: data before the reset is still
                        // missing; the peer retries the same request.
                        reconfig_result::IN_PROGRESS
                    }
                } else if request_seq.wrapping_add(1) == self.peer_next_reconfig_seq {
                    self.last_reconfig_result
                } else {
                    reconfig_result::BAD_SEQUENCE_NUMBER
                };
                self.queue_reconfig_response(*request_seq, result);
            }
            ReConfigParam::IncomingReset {
                request_seq,
                streams,
            } => {
                let result = if *request_seq == self.peer_next_reconfig_seq {
                    self.peer_next_reconfig_seq = self.peer_next_reconfig_seq.wrapping_add(1);
                    self.reset_wanted.extend(streams.iter().copied());
                    self.last_reconfig_result = reconfig_result::NOTHING_TO_DO;
                    reconfig_result::NOTHING_TO_DO
                } else {
                    reconfig_result::BAD_SEQUENCE_NUMBER
                };
                self.queue_reconfig_response(*request_seq, result);
                self.maybe_send_reconfig(now);
            }
            ReConfigParam::Response {
                response_seq,
                result,
                ..
            } => {
                let Some(r) = &self.reconfig_in_flight else {
                    return;
                };
                if *response_seq != r.seq {
                    return;
                }
                match *result {
                    reconfig_result::PERFORMED | reconfig_result::NOTHING_TO_DO => {
                        let Some(r) = self.reconfig_in_flight.take() else {
                            return;
                        };
                        self.sender.reset_ssn(&r.streams);
                        self.next_reconfig_seq = self.next_reconfig_seq.wrapping_add(1);
                        self.reconfig_timer = None;
                        self.events
                            .push_back(Event::OutgoingStreamsReset(r.streams));
                        self.maybe_send_reconfig(now);
                    }
                    reconfig_result::IN_PROGRESS => {
                        // Retry after an RTO (the timer is running).
                    }
                    _ => {
                        self.reconfig_in_flight = None;
                        self.reconfig_timer = None;
                        self.next_reconfig_seq = self.next_reconfig_seq.wrapping_add(1);
                    }
                }
            }
            ReConfigParam::Other(_) => {}
        }
    }
}

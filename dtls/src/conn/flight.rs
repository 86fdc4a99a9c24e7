//! Our side of the wire: handshake messages and the transcript, flights
//! fragmented to the MTU and retransmitted (RFC 6347 §4.2.4), sealed
//! records and alerts.

use super::*;

impl Dtls {
    pub(super) fn next_message(&mut self, msg_type: HandshakeType, body: Vec<u8>) -> Message {
        let msg = Message {
            msg_type,
            message_seq: self.next_send_seq,
            body,
        };
        self.next_send_seq = self.next_send_seq.wrapping_add(1);
        self.add_to_transcript(&msg);
        msg
    }

    /// What a ServerKeyExchange signs (RFC 8422 §5.4): both randoms, then
    /// the curve parameters and public key.
    pub(super) fn ske_signed(&self, ske: &ServerKeyExchange<'_>) -> Vec<u8> {
        let params = ske.params();
        let mut signed = Vec::with_capacity(64 + params.len());
        signed.extend_from_slice(&self.client_random);
        signed.extend_from_slice(&self.server_random);
        signed.extend_from_slice(&params);
        signed
    }

    pub(super) fn add_to_transcript(&mut self, msg: &Message) {
        msg.write_unfragmented(&mut self.transcript);
    }

    pub(super) fn transcript_hash(&self, hash: PrfHash) -> Vec<u8> {
        let alg = match hash {
            PrfHash::Sha256 => &digest::SHA256,
            PrfHash::Sha384 => &digest::SHA384,
        };
        digest::digest(alg, &self.transcript).as_ref().to_vec()
    }

    pub(super) fn start_flight(&mut self, items: Vec<FlightItem>, needs_reply: bool, now: Instant) {
        // A new flight means the exchange progressed: the timer starts
        // over from its initial value.
        self.rto = self.config.initial_rto;
        self.flight = items;
        self.flight_needs_reply = needs_reply;
        self.stats.flights_sent += 1;
        self.transmit_flight();
        self.retransmit_at = needs_reply.then(|| now + self.rto);
    }

    /// Packs the flight into datagrams of at most `mtu` bytes, several
    /// records per datagram and messages fragmented where they do not fit
    /// (§4.2.3). Every transmission uses fresh record sequence numbers.
    pub(super) fn transmit_flight(&mut self) {
        let mtu = self.config.mtu.max(256);
        let mut dg: Vec<u8> = Vec::with_capacity(mtu);
        let items = std::mem::take(&mut self.flight);
        for item in &items {
            match item {
                FlightItem::ChangeCipherSpec => {
                    if dg.len() + REC_HEADER + 1 > mtu {
                        self.outbox.push_back(std::mem::take(&mut dg));
                    }
                    let seq = self.take_seq(0);
                    record::write_record(
                        &mut dg,
                        ContentType::ChangeCipherSpec,
                        DTLS1_2,
                        0,
                        seq,
                        &[1],
                    );
                }
                FlightItem::Handshake { msg, epoch } => {
                    let overhead = REC_HEADER + HS_HEADER + if *epoch == 1 { OVERHEAD } else { 0 };
                    let mut offset = 0;
                    loop {
                        let mut room = mtu.saturating_sub(dg.len() + overhead);
                        let left = msg.body.len() - offset;
                        // Start a new datagram rather than send a sliver.
                        if room < left.min(64) || (room == 0 && left == 0 && !dg.is_empty()) {
                            if !dg.is_empty() {
                                self.outbox.push_back(std::mem::take(&mut dg));
                            }
                            room = mtu - overhead;
                        }
                        let n = room.min(left);
                        let mut frag = Vec::with_capacity(HS_HEADER + n);
                        frag.push(msg.msg_type.as_u8());
                        frag.extend_from_slice(&(msg.body.len() as u32).to_be_bytes()[1..]);
                        frag.extend_from_slice(&msg.message_seq.to_be_bytes());
                        frag.extend_from_slice(&(offset as u32).to_be_bytes()[1..]);
                        frag.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
                        frag.extend_from_slice(&msg.body[offset..offset + n]);
                        if *epoch == 1 {
                            self.seal_into(ContentType::Handshake, &frag, &mut dg);
                        } else {
                            let seq = self.take_seq(0);
                            record::write_record(
                                &mut dg,
                                ContentType::Handshake,
                                DTLS1_2,
                                0,
                                seq,
                                &frag,
                            );
                        }
                        offset += n;
                        if offset >= msg.body.len() {
                            break;
                        }
                    }
                }
            }
        }
        if !dg.is_empty() {
            self.outbox.push_back(dg);
        }
        self.flight = items;
    }

    pub(super) fn take_seq(&mut self, epoch: usize) -> u64 {
        let s = self.send_seq[epoch];
        self.send_seq[epoch] += 1;
        s
    }

    pub(super) fn seal_into(&mut self, ct: ContentType, plaintext: &[u8], out: &mut Vec<u8>) {
        let seq = self.take_seq(1);
        if let Some(c) = &self.write_cipher {
            c.seal(ct, DTLS1_2, 1, seq, plaintext, out);
        }
    }

    pub(super) fn send_alert(&mut self, level: u8, desc: AlertDescription) {
        let body = [level, desc.0];
        let mut out = Vec::new();
        // Protected once we have switched our write side (after sending our
        // ChangeCipherSpec); the server switches when it sends flight 6.
        let protected = self.write_cipher.is_some()
            && (self.role == Role::Client
                && matches!(self.expect, Expect::Finished | Expect::Done)
                || self.role == Role::Server && self.handshake_done);
        if protected {
            self.seal_into(ContentType::Alert, &body, &mut out);
        } else {
            let seq = self.take_seq(0);
            record::write_record(&mut out, ContentType::Alert, DTLS1_2, 0, seq, &body);
        }
        self.outbox.push_back(out);
    }
}

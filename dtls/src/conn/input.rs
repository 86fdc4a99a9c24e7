//! Input: datagrams into records (RFC 6347 §4.1), records into
//! handshake fragments and reassembled messages (§4.2.3), alerts, and the
//! dispatch of each message to the state that expects it. Invalid input is
//! dropped and counted (§4.1.2.7).

use super::*;

impl Dtls {
    /// Handles one datagram from the peer. Malformed records, records that
    /// fail authentication and replays are dropped and counted (RFC 6347
    /// §4.1.2.7); an `Err` means the association failed (a fatal alert is
    /// queued and [`Event::Closed`] follows).
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Error> {
        self.stats.datagrams_received += 1;
        if self.expect == Expect::Closed {
            return Ok(());
        }
        self.handle_datagram_inner(now, datagram)
            .map_err(|e| self.fail(e))
    }

    pub(super) fn handle_datagram_inner(
        &mut self,
        now: Instant,
        datagram: &[u8],
    ) -> Result<(), Error> {
        for rec in record::records(datagram) {
            let rec = match rec {
                Ok(r) => r,
                Err(_) => {
                    self.stats.malformed += 1;
                    break;
                }
            };
            self.handle_record(now, &rec)?;
            if self.expect == Expect::Closed {
                return Ok(());
            }
        }
        self.process_messages(now)?;
        // Keys derived while processing may open records that came early.
        let have_keys = self.read_cipher.is_some() || self.pending_read_cipher.is_some();
        if have_keys && !self.early_records.is_empty() {
            for raw in std::mem::take(&mut self.early_records) {
                if let Ok((rec, _)) = Record::parse(&raw) {
                    self.handle_record(now, &rec)?;
                }
            }
            self.process_messages(now)?;
        }
        Ok(())
    }

    pub(super) fn handle_record(&mut self, now: Instant, rec: &Record<'_>) -> Result<(), Error> {
        match rec.epoch {
            0 => {
                if rec.version != DTLS1_2 && rec.version != DTLS1_0 {
                    self.stats.malformed += 1;
                    return Ok(());
                }
                self.stats.records_received += 1;
                let fragment = rec.fragment.to_vec();
                self.handle_plaintext(now, rec.content_type, &fragment, 0, rec.sequence)
            }
            1 => {
                if self.read_cipher.is_none() {
                    self.switch_read_epoch_if_ready();
                }
                let Some(cipher) = &self.read_cipher else {
                    if self.early_records.len() < MAX_EARLY_RECORDS && !self.handshake_done {
                        let mut raw = rec.header.to_vec();
                        raw.extend_from_slice(rec.fragment);
                        self.early_records.push(raw);
                    } else {
                        self.stats.wrong_epoch += 1;
                    }
                    return Ok(());
                };
                if !self.replay.check(rec.sequence) {
                    self.stats.replayed += 1;
                    return Ok(());
                }
                let mut plain = Vec::new();
                if cipher.open(rec, &mut plain).is_err() {
                    self.stats.bad_mac += 1;
                    return Ok(());
                }
                self.replay.record(rec.sequence);
                self.stats.records_received += 1;
                self.handle_plaintext(now, rec.content_type, &plain, 1, rec.sequence)
            }
            _ => {
                self.stats.wrong_epoch += 1;
                Ok(())
            }
        }
    }

    /// The read side moves to epoch 1 as soon as its keys exist: a
    /// protected record that authenticates proves the peer has them, and
    /// the Finished must come protected (checked per fragment).
    pub(super) fn switch_read_epoch_if_ready(&mut self) {
        if let Some(c) = self.pending_read_cipher.take() {
            self.read_cipher = Some(c);
            self.read_epoch = 1;
        }
    }

    pub(super) fn handle_plaintext(
        &mut self,
        now: Instant,
        ct: ContentType,
        data: &[u8],
        epoch: u16,
        record_seq: u64,
    ) -> Result<(), Error> {
        match ct {
            ContentType::Handshake => self.handle_handshake_record(now, data, epoch, record_seq),
            ContentType::ChangeCipherSpec => {
                if data != [1] {
                    self.stats.bad_fragments += 1;
                }
                Ok(())
            }
            ContentType::Alert => self.handle_alert(data, epoch),
            ContentType::ApplicationData => {
                if epoch == 1 && self.connected_sent {
                    self.events.push_back(Event::ApplicationData(data.to_vec()));
                } else {
                    // Plaintext application data, or data before we
                    // declared the association up, is dropped.
                    self.stats.wrong_epoch += 1;
                }
                Ok(())
            }
            ContentType::Other(_) => {
                self.stats.malformed += 1;
                Ok(())
            }
        }
    }

    pub(super) fn handle_alert(&mut self, data: &[u8], epoch: u16) -> Result<(), Error> {
        let &[level, desc] = data else {
            self.stats.malformed += 1;
            return Ok(());
        };
        if epoch == 0 {
            // An unauthenticated alert could be anyone's (RFC 6347
            // §4.1.2.7 drops what cannot be trusted): it ends nothing, but
            // is kept to explain a handshake that fails later.
            self.stats.plaintext_alerts += 1;
            let keep = level == 2 || self.plaintext_alert.is_none_or(|(l, _)| l != 2);
            if !self.handshake_done && keep {
                self.plaintext_alert = Some((level, desc));
            }
            return Ok(());
        }
        if desc == AlertDescription::CLOSE_NOTIFY.0 {
            self.expect = Expect::Closed;
            self.retransmit_at = None;
            self.events
                .push_back(Event::Closed(CloseReason::PeerClosed));
            return Ok(());
        }
        if level == 2 {
            return Err(Error::PeerAlert(desc));
        }
        Ok(())
    }

    pub(super) fn handle_handshake_record(
        &mut self,
        now: Instant,
        data: &[u8],
        epoch: u16,
        record_seq: u64,
    ) -> Result<(), Error> {
        let mut rest = data;
        while !rest.is_empty() {
            let (f, r) = match Fragment::parse(rest) {
                Ok(x) => x,
                Err(_) => {
                    self.stats.bad_fragments += 1;
                    return Ok(());
                }
            };
            rest = r;
            // Finished travels protected; everything else in epoch 0.
            if (f.msg_type == HandshakeType::Finished) != (epoch == 1) {
                self.stats.bad_fragments += 1;
                continue;
            }
            if self.handshake_done {
                // No renegotiation: only a repeat of the peer's final
                // flight means anything now (ours was lost, §4.2.4).
                self.stats.late_handshake += 1;
                if f.message_seq < self.reassembler.next_seq() {
                    self.peer_repeated(now);
                }
                continue;
            }
            if self.role == Role::Server && self.expect == Expect::ClientHello {
                self.push_client_hello_fragment(now, &f, record_seq)?;
                continue;
            }
            if self.push_fragment(&f) == Some(Pushed::Old) {
                self.peer_repeated(now);
            }
        }
        Ok(())
    }

    /// Hands a fragment to the reassembler and counts what it dropped;
    /// returns what it kept it as, `None` when refused.
    pub(super) fn push_fragment(&mut self, f: &Fragment<'_>) -> Option<Pushed> {
        let work = self.reassembler.work();
        let r = self.reassembler.push(f);
        self.stats.reassembly_work += self.reassembler.work() - work;
        let peak = &mut self.stats.reassembly_peak_ranges;
        *peak = (*peak).max(self.reassembler.max_ranges() as u64);
        let peak = &mut self.stats.reassembly_peak_partials;
        *peak = (*peak).max(self.reassembler.partials() as u64);
        match r {
            Ok(p) => {
                match p {
                    Pushed::AheadOfWindow => self.stats.unexpected_seq += 1,
                    Pushed::Replaced => self.stats.conflicting_fragments += 1,
                    Pushed::Evicted => self.stats.partials_evicted += 1,
                    Pushed::Kept | Pushed::Old => {}
                }
                Some(p)
            }
            Err(HandshakeError::Inconsistent(_)) => {
                self.stats.conflicting_fragments += 1;
                None
            }
            Err(HandshakeError::TooManyRanges { .. } | HandshakeError::TooManyPartials { .. }) => {
                self.stats.fragments_over_cap += 1;
                None
            }
            Err(_) => {
                self.stats.bad_fragments += 1;
                None
            }
        }
    }

    /// The peer repeated a flight we already have: our reply was lost, so
    /// send our last flight again (§4.2.4), at most once per quarter of
    /// the initial timer.
    pub(super) fn peer_repeated(&mut self, now: Instant) {
        if self.flight.is_empty() {
            return;
        }
        let gap = self.config.initial_rto / 4;
        if self.last_peer_triggered.is_some_and(|t| now < t + gap) {
            return;
        }
        self.last_peer_triggered = Some(now);
        tracing::debug!(
            role = ?self.role,
            flight = self.stats.flights_sent,
            "DTLS flight resent: the peer repeated its previous flight"
        );
        self.stats.retransmissions += 1;
        self.transmit_flight();
        if self.flight_needs_reply {
            self.retransmit_at = Some(now + self.rto);
        }
    }

    /// Server, before any state: ClientHello fragments, possibly of a
    /// later hello (after a HelloVerifyRequest).
    pub(super) fn push_client_hello_fragment(
        &mut self,
        now: Instant,
        f: &Fragment<'_>,
        record_seq: u64,
    ) -> Result<(), Error> {
        if f.msg_type != HandshakeType::ClientHello {
            self.stats.bad_fragments += 1;
            return Ok(());
        }
        // RFC 6347 §4.2.2: the first hello is message 0; only a hello
        // answering our HelloVerifyRequest may be numbered higher. Anything
        // else is forged and must not displace the real hello.
        if f.message_seq > self.hello_seq_limit {
            self.stats.unexpected_seq += 1;
            return Ok(());
        }
        match self.client_hello_seq {
            Some(s) if s == f.message_seq => {}
            Some(s) if f.message_seq < s => {
                self.stats.unexpected_seq += 1;
                return Ok(());
            }
            _ => {
                self.client_hello_seq = Some(f.message_seq);
                self.reassembler =
                    Reassembler::new(f.message_seq, self.config.max_handshake_message, 1);
            }
        }
        self.push_fragment(f);
        if let Some(msg) = self.reassembler.pop() {
            match self.server_on_client_hello(now, msg, record_seq) {
                Err(Error::Decode { .. }) => {
                    // Forged or corrupted: wait for the real one.
                    self.stats.undecodable_messages += 1;
                    self.client_hello_seq = None;
                }
                r => r?,
            }
        }
        Ok(())
    }

    pub(super) fn process_messages(&mut self, now: Instant) -> Result<(), Error> {
        while self.expect != Expect::Closed {
            let Some(msg) = self.reassembler.pop() else {
                break;
            };
            if self.handshake_done {
                // No renegotiation: a handshake message after the end is
                // dropped, never fatal (it may be an off-path injection).
                self.stats.late_handshake += 1;
                continue;
            }
            let seq = msg.message_seq;
            match self.handle_message(now, msg) {
                Err(Error::Decode { .. }) => {
                    // Every handler decodes before it changes any state, so
                    // the message can be dropped (it may be forged) and the
                    // peer's retransmission awaited.
                    self.stats.undecodable_messages += 1;
                    self.reassembler.expect_again(seq);
                    break;
                }
                r => r?,
            }
        }
        Ok(())
    }

    pub(super) fn handle_message(&mut self, now: Instant, msg: Message) -> Result<(), Error> {
        use HandshakeType as T;
        match (self.expect, msg.msg_type) {
            (Expect::ServerHello, T::HelloVerifyRequest) => self.client_on_hvr(now, &msg),
            (Expect::ServerHello, T::ServerHello) => self.client_on_server_hello(msg),
            (Expect::Certificate, T::Certificate) => {
                self.on_certificate(msg, Expect::ServerKeyExchange)
            }
            (Expect::ServerKeyExchange, T::ServerKeyExchange) => self.client_on_ske(msg),
            (Expect::CertificateRequestOrDone, T::CertificateRequest) => self.client_on_cr(msg),
            (Expect::CertificateRequestOrDone | Expect::ServerHelloDone, T::ServerHelloDone) => {
                self.client_on_done(now, msg)
            }
            (Expect::ClientCertificate, T::Certificate) => {
                self.on_certificate(msg, Expect::ClientKeyExchange)
            }
            (Expect::ClientKeyExchange, T::ClientKeyExchange) => self.server_on_cke(msg),
            (Expect::CertificateVerify, T::CertificateVerify) => self.server_on_cv(msg),
            (Expect::Finished, T::Finished) => self.on_finished(now, msg),
            (_, got) => Err(Error::UnexpectedMessage {
                got,
                expected: self.expect_name(),
            }),
        }
    }

    pub(super) fn expect_name(&self) -> &'static str {
        match self.expect {
            Expect::ServerHello => "ServerHello",
            Expect::Certificate => "Certificate",
            Expect::ServerKeyExchange => "ServerKeyExchange",
            Expect::CertificateRequestOrDone => "CertificateRequest or ServerHelloDone",
            Expect::ServerHelloDone => "ServerHelloDone",
            Expect::ClientHello => "ClientHello",
            Expect::ClientCertificate => "client Certificate",
            Expect::ClientKeyExchange => "ClientKeyExchange",
            Expect::CertificateVerify => "CertificateVerify",
            Expect::Finished => "Finished",
            Expect::Done => "nothing (handshake done)",
            Expect::Closed => "nothing (closed)",
        }
    }

    // ----- client -----
}

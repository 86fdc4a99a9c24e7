//! The end of the handshake: the peer's certificate against the SDP
//! fingerprint (RFC 8122 §5), Finished (RFC 5246 §7.4.9), key
//! installation and the exporter (RFC 5705, RFC 5764 §4.2).

use super::*;

impl Dtls {
    pub(super) fn read_peer_certificate(&mut self, msg: &Message) -> Result<(), Error> {
        let c = messages::Certificate::parse(&msg.body).map_err(|e| decode("Certificate", e))?;
        let Some(first) = c.chain.first() else {
            return Err(Error::NoPeerCertificate);
        };
        let der = first.to_vec();
        if let Some(fp) = self.config.remote_fingerprint {
            if !fp.matches(&der) {
                return Err(Error::FingerprintMismatch {
                    expected: fp,
                    got: Fingerprint::of_der(&der),
                });
            }
        }
        self.peer_key = Some(cert::peer_key(&der).map_err(Error::BadCertificate)?);
        self.peer_certificate = Some(der);
        Ok(())
    }

    /// The peer's Certificate (either role): checked, hashed, and what
    /// comes next.
    pub(super) fn on_certificate(&mut self, msg: Message, next: Expect) -> Result<(), Error> {
        self.read_peer_certificate(&msg)?;
        self.add_to_transcript(&msg);
        self.expect = next;
        Ok(())
    }

    pub(super) fn on_finished(&mut self, now: Instant, msg: Message) -> Result<(), Error> {
        let suite = self.suite.ok_or(Error::Internal("no suite".into()))?;
        let master = self
            .master
            .ok_or(Error::Internal("no master secret".into()))?;
        let peer_is_client = self.role == Role::Server;
        let want = prf::verify_data(
            suite.prf_hash(),
            &master,
            peer_is_client,
            &self.transcript_hash(suite.prf_hash()),
        );
        if !constant_time_eq(&msg.body, &want) {
            return Err(Error::BadFinished);
        }
        self.add_to_transcript(&msg);
        if self.role == Role::Server {
            // Flight 6: ChangeCipherSpec, Finished. It is kept to answer
            // a repeated flight 5, but needs no timer (§4.2.4).
            let vd = prf::verify_data(
                suite.prf_hash(),
                &master,
                false,
                &self.transcript_hash(suite.prf_hash()),
            );
            let m = self.next_message(HandshakeType::Finished, vd.to_vec());
            self.start_flight(
                vec![
                    FlightItem::ChangeCipherSpec,
                    FlightItem::Handshake { msg: m, epoch: 1 },
                ],
                false,
                now,
            );
        } else {
            // The server's flight ends the handshake; ours needs no more
            // retransmission.
            self.flight.clear();
            self.retransmit_at = None;
        }
        self.expect = Expect::Done;
        self.handshake_done = true;
        tracing::debug!(
            role = ?self.role,
            suite = ?self.suite,
            srtp_profile = ?self.srtp_profile,
            retransmissions = self.stats.retransmissions,
            "DTLS handshake complete"
        );
        if self.config.key_log {
            self.events.push_back(Event::KeyLog(format!(
                "CLIENT_RANDOM {} {}",
                to_hex(&self.client_random),
                to_hex(&master)
            )));
        }
        self.maybe_connected();
        Ok(())
    }

    pub(super) fn maybe_connected(&mut self) {
        if !self.handshake_done || self.connected_sent || self.expect == Expect::Closed {
            return;
        }
        let (Some(der), Some(fp)) = (&self.peer_certificate, self.config.remote_fingerprint) else {
            return;
        };
        if !fp.matches(der) {
            return;
        }
        let (Some(suite), Some(group), Some(master)) = (self.suite, self.group, self.master) else {
            return;
        };
        let srtp = self.srtp_profile.and_then(|p| {
            let (k, s) = p.key_salt_len()?;
            let mut block = vec![0u8; 2 * (k + s)];
            prf::export_keying_material(
                suite.prf_hash(),
                &master,
                SRTP_EXPORTER_LABEL,
                &self.client_random,
                &self.server_random,
                &mut block,
            );
            Some(SrtpKeyingMaterial {
                profile: p,
                client_key: block[..k].to_vec(),
                server_key: block[k..2 * k].to_vec(),
                client_salt: block[2 * k..2 * k + s].to_vec(),
                server_salt: block[2 * k + s..].to_vec(),
                exported: block,
            })
        });
        self.connected_sent = true;
        self.events.push_back(Event::Connected(Box::new(Connected {
            version: DTLS1_2,
            suite,
            group,
            srtp,
            peer_certificate: der.clone(),
        })));
    }

    /// RFC 5705 keying material from this association's master secret
    /// (after the handshake), e.g. `EXTRACTOR-dtls_srtp`.
    pub fn export_keying_material(&self, label: &[u8], out: &mut [u8]) -> Result<(), Error> {
        let (Some(suite), Some(master)) = (self.suite, self.master) else {
            return Err(Error::NotConnected);
        };
        if !self.handshake_done {
            return Err(Error::NotConnected);
        }
        prf::export_keying_material(
            suite.prf_hash(),
            &master,
            label,
            &self.client_random,
            &self.server_random,
            out,
        );
        Ok(())
    }

    pub(super) fn install_keys(&mut self, suite: Suite, master: &[u8; 48]) -> Result<(), Error> {
        let mut block = vec![0u8; suite.key_block_len()];
        prf::key_block(
            suite.prf_hash(),
            master,
            &self.client_random,
            &self.server_random,
            &mut block,
        );
        let pair = CipherPair::from_key_block(suite, &block)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let (write, read) = match self.role {
            Role::Client => (pair.client_write, pair.server_write),
            Role::Server => (pair.server_write, pair.client_write),
        };
        self.write_cipher = Some(write);
        self.pending_read_cipher = Some(read);
        self.master = Some(*master);
        Ok(())
    }
}

//! The server's side of the handshake: the stateless cookie exchange
//! (RFC 6347 §4.2.1), the ClientHello decision, and the client's key
//! exchange and CertificateVerify.

use super::*;

impl Dtls {
    pub(super) fn cookie_for(&self, hello: &ClientHello<'_>) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.cookie_secret);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(hello.random);
        ctx.update(&hello.version.to_be_bytes());
        for s in hello.cipher_suites() {
            ctx.update(&s.to_be_bytes());
        }
        let mut c = [0u8; 32];
        c.copy_from_slice(ctx.sign().as_ref());
        c
    }

    pub(super) fn server_on_client_hello(
        &mut self,
        now: Instant,
        msg: Message,
        record_seq: u64,
    ) -> Result<(), Error> {
        let hello = ClientHello::parse(&msg.body).map_err(|e| decode("ClientHello", e))?;
        if self.config.cookie_exchange {
            let want = self.cookie_for(&hello);
            if !constant_time_eq(hello.cookie, &want) {
                // Stateless answer (§4.2.1): same message_seq and record
                // sequence as the hello; expect the next hello.
                let mut body = Vec::new();
                HelloVerifyRequest {
                    version: DTLS1_0,
                    cookie: &want,
                }
                .write(&mut body);
                let hvr = Message {
                    msg_type: HandshakeType::HelloVerifyRequest,
                    message_seq: msg.message_seq,
                    body,
                };
                let mut frag = Vec::new();
                hvr.write_unfragmented(&mut frag);
                let mut dg = Vec::new();
                record::write_record(
                    &mut dg,
                    ContentType::Handshake,
                    DTLS1_2,
                    0,
                    record_seq,
                    &frag,
                );
                self.outbox.push_back(dg);
                // Our next records must not reuse that sequence number: the
                // client's replay window would drop the ServerHello.
                self.send_seq[0] = self.send_seq[0].max(record_seq + 1);
                self.stats.hello_verify_requests += 1;
                self.client_hello_seq = None;
                self.hello_seq_limit = self.hello_seq_limit.max(msg.message_seq.saturating_add(1));
                self.reassembler = Reassembler::new(
                    msg.message_seq.wrapping_add(1),
                    self.config.max_handshake_message,
                    1,
                );
                return Ok(());
            }
        }
        // Version: DTLS 1.2 (0xfefd) or later (numerically lower); a DTLS
        // 1.3 client still writes 1.2 here and gets a 1.2 answer.
        if hello.version > DTLS1_2 {
            return Err(Error::UnsupportedVersion(hello.version));
        }
        // RFC 8446 §4.2.1: a client that sends supported_versions offers
        // exactly what it lists there. 1.3 alone cannot be answered yet.
        let versions = hello.supported_versions();
        if !versions.is_empty() && !versions.contains(&DTLS1_2) {
            return Err(if versions.contains(&DTLS1_3) {
                Error::Dtls13Only(versions)
            } else {
                Error::UnsupportedVersion(versions[0])
            });
        }
        let offered: Vec<u16> = hello.cipher_suites().collect();
        let suite = self
            .config
            .suites
            .iter()
            .copied()
            .find(|s| offered.contains(&s.id()))
            .ok_or_else(|| Error::NoCommonCipherSuite(offered.clone()))?;
        let groups = hello.supported_groups();
        let group = if hello.extension(ext::SUPPORTED_GROUPS).is_none() {
            self.config.groups.first().copied()
        } else {
            self.config
                .groups
                .iter()
                .copied()
                .find(|g| groups.contains(&g.id()))
        }
        .ok_or_else(|| Error::NoCommonGroup(groups.clone()))?;
        if !hello.signature_algorithms().contains(&ECDSA_P256_SHA256) {
            return Err(Error::NoCommonSignatureScheme);
        }
        if !hello.extended_master_secret() {
            return Err(Error::ExtendedMasterSecretRequired);
        }
        if !hello.compression_methods.contains(&0) {
            return Err(Error::IllegalParameter("no null compression"));
        }
        if let Some(d) = hello.extension(ext::RENEGOTIATION_INFO) {
            if d != [0] {
                return Err(Error::IllegalParameter("renegotiation_info not empty"));
            }
        }
        let srtp = hello.use_srtp().and_then(|(offered, _)| {
            self.config
                .srtp_profiles
                .iter()
                .copied()
                .find(|p| offered.contains(&p.0))
        });
        let secure_reneg = hello.extension(ext::RENEGOTIATION_INFO).is_some()
            || offered.contains(&RENEGOTIATION_SCSV);
        let point_formats = hello.extension(ext::EC_POINT_FORMATS).is_some();

        self.client_random.copy_from_slice(hello.random);
        self.server_random = self.rng.bytes32();
        if self.downgrade_sentinel {
            self.server_random[24..].copy_from_slice(&crate::v13::messages::DOWNGRADE_TLS12);
        }
        // Continue from the hello's record sequence number (RFC 6347
        // §4.2.1), never below what we already used.
        self.send_seq[0] = self.send_seq[0].max(record_seq);
        self.suite = Some(suite);
        self.group = Some(group);
        self.srtp_profile = srtp;
        self.next_send_seq = msg.message_seq;
        self.reassembler = Reassembler::new(
            msg.message_seq.wrapping_add(1),
            self.config.max_handshake_message,
            REASSEMBLY_WINDOW,
        );
        self.transcript.clear();
        self.add_to_transcript(&msg);

        // Flight 4: ServerHello, Certificate, ServerKeyExchange,
        // CertificateRequest, ServerHelloDone.
        let srtp_ext = srtp.map(|p| {
            let mut d = Vec::new();
            d.extend_from_slice(&2u16.to_be_bytes());
            d.extend_from_slice(&p.0.to_be_bytes());
            d.push(0);
            d
        });
        let mut extensions: Vec<(u16, &[u8])> = Vec::new();
        if secure_reneg {
            extensions.push((ext::RENEGOTIATION_INFO, &[0]));
        }
        extensions.push((ext::EXTENDED_MASTER_SECRET, &[]));
        if point_formats {
            extensions.push((ext::EC_POINT_FORMATS, &[1, 0]));
        }
        if let Some(d) = &srtp_ext {
            extensions.push((ext::USE_SRTP, d));
        }
        let mut body = Vec::new();
        ServerHello {
            version: DTLS1_2,
            random: self.server_random,
            session_id: &[],
            cipher_suite: suite.id(),
            compression: 0,
            extensions,
            extensions_block: true,
        }
        .write(&mut body);
        let mut items = Vec::new();
        let m = self.next_message(HandshakeType::ServerHello, body);
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });

        let mut body = Vec::new();
        messages::Certificate {
            chain: vec![self.config.certificate.der()],
        }
        .write(&mut body);
        let m = self.next_message(HandshakeType::Certificate, body);
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });

        let eph = Ephemeral::generate(group).map_err(|e| Error::Internal(e.to_string()))?;
        let public = eph.public_key().to_vec();
        let unsigned = ServerKeyExchange {
            group: group.id(),
            public: &public,
            scheme: ECDSA_P256_SHA256,
            signature: &[],
        };
        let signed = self.ske_signed(&unsigned);
        let sig = self
            .config
            .certificate
            .sign(&signed)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut body = Vec::new();
        ServerKeyExchange {
            signature: &sig,
            ..unsigned
        }
        .write(&mut body);
        let m = self.next_message(HandshakeType::ServerKeyExchange, body);
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });
        self.ephemeral = Some(eph);

        let mut body = Vec::new();
        CertificateRequest {
            types: &[ECDSA_SIGN],
            schemes: vec![ECDSA_P256_SHA256],
            authorities: &[],
        }
        .write(&mut body);
        let m = self.next_message(HandshakeType::CertificateRequest, body);
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });
        let m = self.next_message(HandshakeType::ServerHelloDone, Vec::new());
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });

        self.cert_requested = true;
        self.expect = Expect::ClientCertificate;
        self.start_flight(items, true, now);
        Ok(())
    }

    pub(super) fn server_on_cke(&mut self, msg: Message) -> Result<(), Error> {
        let public = messages::parse_client_key_exchange(&msg.body)
            .map_err(|e| decode("ClientKeyExchange", e))?;
        let eph = self
            .ephemeral
            .take()
            .ok_or(Error::Internal("no ephemeral key".into()))?;
        let pre_master = eph
            .agree(public)
            .map_err(|e| Error::KeyExchange(e.to_string()))?;
        self.add_to_transcript(&msg);
        let suite = self.suite.ok_or(Error::Internal("no suite".into()))?;
        let session_hash = self.transcript_hash(suite.prf_hash());
        let master = prf::extended_master_secret(suite.prf_hash(), &pre_master, &session_hash);
        self.install_keys(suite, &master)?;
        self.expect = Expect::CertificateVerify;
        Ok(())
    }

    pub(super) fn server_on_cv(&mut self, msg: Message) -> Result<(), Error> {
        let (scheme, sig) = messages::parse_certificate_verify(&msg.body)
            .map_err(|e| decode("CertificateVerify", e))?;
        if scheme != ECDSA_P256_SHA256 {
            return Err(Error::IllegalParameter(
                "CertificateVerify signature scheme",
            ));
        }
        let key = self.peer_key.as_ref().ok_or(Error::NoPeerCertificate)?;
        key.verify(scheme, &self.transcript, sig)
            .map_err(|_| Error::BadSignature("CertificateVerify"))?;
        self.add_to_transcript(&msg);
        self.expect = Expect::Finished;
        Ok(())
    }

    // ----- both -----
}

//! The client's side of the handshake (RFC 6347 §4.2.1, RFC 5246 §7.3):
//! ClientHello (again with a cookie), then the server's flight.

use super::*;

impl Dtls {
    pub(super) fn send_client_hello(&mut self, cookie: &[u8], now: Instant) {
        if let Some(hello) = &self.hello13 {
            // The 1.3 client's hello, the cookie in its legacy field
            // (after version, random and the empty session_id).
            let mut body = Vec::with_capacity(hello.len() + cookie.len());
            body.extend_from_slice(&hello[..35]);
            body.push(cookie.len() as u8);
            body.extend_from_slice(cookie);
            body.extend_from_slice(&hello[36..]);
            self.offered_extensions = ClientHello::parse(hello)
                .map(|h| h.extensions.iter().map(|e| e.0).collect())
                .unwrap_or_default();
            self.transcript.clear();
            let msg = self.next_message(HandshakeType::ClientHello, body);
            self.start_flight(vec![FlightItem::Handshake { msg, epoch: 0 }], true, now);
            return;
        }
        let suites: Vec<u16> = self
            .config
            .suites
            .iter()
            .map(|s| s.id())
            .chain([RENEGOTIATION_SCSV])
            .collect();
        let mut groups = Vec::new();
        for g in &self.config.groups {
            groups.extend_from_slice(&g.id().to_be_bytes());
        }
        let groups = [&(groups.len() as u16).to_be_bytes()[..], &groups].concat();
        let sigs = [0, 2, 0x04, 0x03];
        let srtp_ids: Vec<u16> = self.config.srtp_profiles.iter().map(|p| p.0).collect();
        let srtp = messages::use_srtp_extension(&srtp_ids);
        let mut extensions: Vec<(u16, &[u8])> = vec![
            (ext::EXTENDED_MASTER_SECRET, &[]),
            (ext::SUPPORTED_GROUPS, &groups),
            (ext::EC_POINT_FORMATS, &[1, 0]),
            (ext::SIGNATURE_ALGORITHMS, &sigs),
        ];
        if !srtp_ids.is_empty() {
            extensions.push((ext::USE_SRTP, &srtp));
        }
        self.offered_extensions = extensions.iter().map(|e| e.0).collect();
        self.offered_extensions.push(ext::RENEGOTIATION_INFO);
        let mut body = Vec::new();
        messages::write_client_hello(&mut body, &self.client_random, cookie, &suites, &extensions);
        self.transcript.clear();
        let msg = self.next_message(HandshakeType::ClientHello, body);
        self.start_flight(vec![FlightItem::Handshake { msg, epoch: 0 }], true, now);
    }

    pub(super) fn client_on_hvr(&mut self, now: Instant, msg: &Message) -> Result<(), Error> {
        let hvr =
            HelloVerifyRequest::parse(&msg.body).map_err(|e| decode("HelloVerifyRequest", e))?;
        self.stats.hello_verify_requests += 1;
        self.hello_verify_seen += 1;
        if self.hello_verify_seen > 4 {
            return Err(Error::UnexpectedMessage {
                got: HandshakeType::HelloVerifyRequest,
                expected: "ServerHello (too many HelloVerifyRequests)",
            });
        }
        let cookie = hvr.cookie.to_vec();
        self.send_client_hello(&cookie, now);
        Ok(())
    }

    pub(super) fn client_on_server_hello(&mut self, msg: Message) -> Result<(), Error> {
        let sh = ServerHello::parse(&msg.body).map_err(|e| decode("ServerHello", e))?;
        if sh.version != DTLS1_2 {
            return Err(Error::UnsupportedVersion(sh.version));
        }
        let suite = Suite::from_id(sh.cipher_suite)
            .filter(|s| self.config.suites.contains(s))
            .ok_or(Error::IllegalParameter("cipher suite we did not offer"))?;
        if self.hello13.is_some() && sh.random[24..] == crate::v13::messages::DOWNGRADE_TLS12 {
            // RFC 8446 §4.1.3: a 1.3-capable server answered 1.2 only
            // because our 1.3 offer was stripped on the way.
            return Err(Error::IllegalParameter("DTLS 1.3 downgrade sentinel"));
        }
        if sh.compression != 0 {
            return Err(Error::IllegalParameter("compression method"));
        }
        for &(t, d) in &sh.extensions {
            if !self.offered_extensions.contains(&t) {
                return Err(Error::UnsolicitedExtension(t));
            }
            if t == ext::RENEGOTIATION_INFO && d != [0] {
                return Err(Error::IllegalParameter("renegotiation_info not empty"));
            }
        }
        if sh.extension(ext::EXTENDED_MASTER_SECRET).is_none() {
            return Err(Error::ExtendedMasterSecretRequired);
        }
        if let Some(d) = sh.extension(ext::USE_SRTP) {
            let (p, _mki) =
                messages::parse_use_srtp_answer(d).map_err(|e| decode("use_srtp", e))?;
            let p = SrtpProfileId(p);
            if !self.config.srtp_profiles.contains(&p) {
                return Err(Error::IllegalParameter("SRTP profile we did not offer"));
            }
            self.srtp_profile = Some(p);
        }
        self.server_random = sh.random;
        self.suite = Some(suite);
        self.add_to_transcript(&msg);
        // The ClientHello stays on its timer until the whole flight 4 is
        // here: a lost Certificate is recovered by resending the hello.
        self.expect = Expect::Certificate;
        Ok(())
    }

    pub(super) fn client_on_ske(&mut self, msg: Message) -> Result<(), Error> {
        let ske =
            ServerKeyExchange::parse(&msg.body).map_err(|e| decode("ServerKeyExchange", e))?;
        let group = Group::from_id(ske.group)
            .filter(|g| self.config.groups.contains(g))
            .ok_or(Error::IllegalParameter("ECDHE group we did not offer"))?;
        if ske.scheme != ECDSA_P256_SHA256 {
            return Err(Error::IllegalParameter(
                "ServerKeyExchange signature scheme",
            ));
        }
        let signed = self.ske_signed(&ske);
        let key = self.peer_key.as_ref().ok_or(Error::NoPeerCertificate)?;
        key.verify(ske.scheme, &signed, ske.signature)
            .map_err(|_| Error::BadSignature("ServerKeyExchange"))?;
        let eph = Ephemeral::generate(group).map_err(|e| Error::Internal(e.to_string()))?;
        let public = eph.public_key().to_vec();
        let pre_master = eph
            .agree(ske.public)
            .map_err(|e| Error::KeyExchange(e.to_string()))?;
        self.group = Some(group);
        // Keep the public key and the premaster until the flight is built.
        self.ephemeral = None;
        self.pending_kx = Some((public, pre_master));
        self.add_to_transcript(&msg);
        self.expect = Expect::CertificateRequestOrDone;
        Ok(())
    }

    pub(super) fn client_on_cr(&mut self, msg: Message) -> Result<(), Error> {
        let cr =
            CertificateRequest::parse(&msg.body).map_err(|e| decode("CertificateRequest", e))?;
        if !cr.schemes.contains(&ECDSA_P256_SHA256) || !cr.types.contains(&ECDSA_SIGN) {
            return Err(Error::NoCommonSignatureScheme);
        }
        self.cert_requested = true;
        self.add_to_transcript(&msg);
        self.expect = Expect::ServerHelloDone;
        Ok(())
    }

    pub(super) fn client_on_done(&mut self, now: Instant, msg: Message) -> Result<(), Error> {
        if !msg.body.is_empty() {
            return Err(Error::Decode {
                what: "ServerHelloDone",
                detail: format!("{} bytes of body", msg.body.len()),
            });
        }
        self.add_to_transcript(&msg);
        let suite = self.suite.ok_or(Error::Internal("no suite".into()))?;
        let (public, pre_master) = self
            .pending_kx
            .take()
            .ok_or(Error::Internal("no key exchange".into()))?;
        let mut items = Vec::new();
        if self.cert_requested {
            let mut body = Vec::new();
            messages::Certificate {
                chain: vec![self.config.certificate.der()],
            }
            .write(&mut body);
            let m = self.next_message(HandshakeType::Certificate, body);
            items.push(FlightItem::Handshake { msg: m, epoch: 0 });
        }
        let mut body = Vec::new();
        messages::write_client_key_exchange(&mut body, &public);
        let m = self.next_message(HandshakeType::ClientKeyExchange, body);
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });
        // RFC 7627 §3: the session hash covers up to ClientKeyExchange.
        let session_hash = self.transcript_hash(suite.prf_hash());
        let master = prf::extended_master_secret(suite.prf_hash(), &pre_master, &session_hash);
        self.install_keys(suite, &master)?;
        if self.cert_requested {
            let sig = self
                .config
                .certificate
                .sign(&self.transcript)
                .map_err(|e| Error::Internal(e.to_string()))?;
            let mut body = Vec::new();
            messages::write_certificate_verify(&mut body, ECDSA_P256_SHA256, &sig);
            let m = self.next_message(HandshakeType::CertificateVerify, body);
            items.push(FlightItem::Handshake { msg: m, epoch: 0 });
        }
        items.push(FlightItem::ChangeCipherSpec);
        let vd = prf::verify_data(
            suite.prf_hash(),
            &master,
            true,
            &self.transcript_hash(suite.prf_hash()),
        );
        let m = self.next_message(HandshakeType::Finished, vd.to_vec());
        items.push(FlightItem::Handshake { msg: m, epoch: 1 });
        self.expect = Expect::Finished;
        self.start_flight(items, true, now);
        Ok(())
    }

    // ----- server -----
}

//! Handshake steps both DTLS 1.3 roles take, written once (RFC 8446
//! §7.1, §4.4): the handshake traffic keys after the hellos, the
//! application secrets after the server's Finished, our Certificate,
//! CertificateVerify and Finished in a flight, and reading the peer's.
//! The role decides only which secret and which CertificateVerify
//! context string (§4.4.3) is whose.

use super::conn::{decode, expect, Dtls13, HandshakeKeys, Step, Traffic};
use super::error::Error13;
use super::flight::Flight;
use super::key_schedule::Schedule;
use super::key_share::NamedGroup13;
use super::messages::{
    certificate_verify_content, msg, parse_certificate, write_certificate, ECDSA_SECP256R1_SHA256,
};
use super::record::CipherSuite13;
use crate::cert::{peer_key, PeerKey};
use crate::conn::{Role, SrtpProfileId};
use crate::handshake::Message;
use crate::messages::{parse_certificate_verify, write_certificate_verify};

impl Dtls13 {
    /// After the ServerHello is in the transcript: the handshake secret
    /// from the key exchange's `shared` secret, both handshake traffic
    /// secrets, and epoch 2 installed (RFC 8446 §7.1, RFC 9147 §6.1).
    pub(super) fn enter_handshake_epoch(
        &mut self,
        suite: CipherSuite13,
        group: NamedGroup13,
        shared: &[u8],
        srtp: Option<SrtpProfileId>,
    ) -> HandshakeKeys {
        let hash = suite.hash();
        let schedule = Schedule::dtls13(hash);
        let handshake = schedule.early_secret().into_handshake(shared);
        let (client_hs, server_hs) = handshake.traffic_secrets(&self.transcript_hash(hash));
        let keys = HandshakeKeys {
            suite,
            group,
            schedule,
            handshake,
            client_hs,
            server_hs,
            srtp,
        };
        self.install_handshake_keys(&keys);
        keys
    }

    /// After the server's Finished is in the transcript: the application
    /// traffic secrets and the exporter secret (epoch 3).
    pub(super) fn application_traffic(&self, hs: &HandshakeKeys) -> Box<Traffic> {
        let app = hs
            .handshake
            .clone()
            .into_master()
            .application(&self.transcript_hash(hs.suite.hash()));
        Box::new(Traffic {
            suite: hs.suite,
            group: hs.group,
            schedule: hs.schedule,
            client_ap: app.client,
            server_ap: app.server,
            exporter: app.exporter,
            srtp: hs.srtp,
            write_epoch: 3,
            read_epoch: 3,
        })
    }

    /// Appends a handshake message of ours to the transcript and to
    /// `flight` (epoch 2).
    pub(super) fn push_message(&mut self, flight: &mut Flight, msg_type: u8, body: Vec<u8>) {
        self.add_to_transcript(msg_type, &body);
        let seq = self.take_message_seq();
        flight.push(2, msg_type, seq, body);
    }

    /// Our Certificate (with the request's `context`) and its
    /// CertificateVerify (RFC 8446 §4.4.2, §4.4.3).
    pub(super) fn push_certificate(
        &mut self,
        flight: &mut Flight,
        context: &[u8],
        suite: CipherSuite13,
    ) -> Result<(), Step> {
        let mut cert = Vec::new();
        let der = self.config.certificate.der().to_vec();
        write_certificate(&mut cert, context, &der);
        self.push_message(flight, msg::CERTIFICATE, cert);
        let server = self.role == Role::Server;
        let content = certificate_verify_content(server, &self.transcript_hash(suite.hash()));
        let sig = (self.config.certificate)
            .sign(&content)
            .map_err(|e| Step::Fatal(Error13::BadCertificate(e)))?;
        let mut cv = Vec::new();
        write_certificate_verify(&mut cv, ECDSA_SECP256R1_SHA256, &sig);
        self.push_message(flight, msg::CERTIFICATE_VERIFY, cv);
        Ok(())
    }

    /// Our Finished (RFC 8446 §4.4.4) over the transcript so far.
    pub(super) fn push_finished(&mut self, flight: &mut Flight, hs: &HandshakeKeys) {
        let ours = match self.role {
            Role::Client => &hs.client_hs,
            Role::Server => &hs.server_hs,
        };
        let hash = self.transcript_hash(hs.suite.hash());
        let fin = hs.schedule.finished_verify_data(ours, &hash);
        self.push_message(flight, msg::FINISHED, fin);
    }

    /// The peer's Certificate: one certificate, matching the SDP
    /// fingerprint when it is known; its key.
    pub(super) fn read_peer_certificate(&mut self, m: &Message) -> Result<PeerKey, Step> {
        expect(m, msg::CERTIFICATE, "Certificate")?;
        let (ctx, der) = parse_certificate(&m.body).map_err(decode("Certificate"))?;
        // Empty from a server (§4.4.2), and from a client since our
        // CertificateRequest's context is empty.
        if !ctx.is_empty() {
            return Err(Error13::IllegalParameter("certificate_request_context").into());
        }
        let der = der.ok_or(Step::Fatal(Error13::NoPeerCertificate))?.to_vec();
        self.check_fingerprint(&der)?;
        let key = peer_key(&der).map_err(|e| Step::Fatal(Error13::BadCertificate(e)))?;
        self.peer_certificate = Some(der);
        self.add_to_transcript(msg::CERTIFICATE, &m.body);
        Ok(key)
    }

    /// The peer's CertificateVerify, checked with its certificate's key.
    pub(super) fn read_peer_certificate_verify(
        &mut self,
        m: &Message,
        key: &PeerKey,
        suite: CipherSuite13,
    ) -> Result<(), Step> {
        expect(m, msg::CERTIFICATE_VERIFY, "CertificateVerify")?;
        let (scheme, sig) =
            parse_certificate_verify(&m.body).map_err(decode("CertificateVerify"))?;
        let peer_is_server = self.role == Role::Client;
        let content =
            certificate_verify_content(peer_is_server, &self.transcript_hash(suite.hash()));
        key.verify(scheme, &content, sig)
            .map_err(|_| Step::Fatal(Error13::BadSignature))?;
        self.add_to_transcript(msg::CERTIFICATE_VERIFY, &m.body);
        Ok(())
    }

    /// The peer's Finished, checked against its handshake secret.
    pub(super) fn read_peer_finished(
        &mut self,
        m: &Message,
        hs: &HandshakeKeys,
    ) -> Result<(), Step> {
        expect(m, msg::FINISHED, "Finished")?;
        let theirs = match self.role {
            Role::Client => &hs.server_hs,
            Role::Server => &hs.client_hs,
        };
        let want = hs
            .schedule
            .finished_verify_data(theirs, &self.transcript_hash(hs.suite.hash()));
        if !constant_time_eq(&want, &m.body) {
            return Err(Error13::BadFinished.into());
        }
        self.add_to_transcript(msg::FINISHED, &m.body);
        Ok(())
    }
}

/// Compares MACs without an early exit.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

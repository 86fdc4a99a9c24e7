//! The DTLS 1.3 client handshake (RFC 8446 §4 as RFC 9147 §5 runs it):
//! ClientHello with supported_versions and a key share, an optional
//! HelloRetryRequest (cookie, another group), ServerHello, then the
//! server's encrypted flight (EncryptedExtensions with `use_srtp`,
//! CertificateRequest, Certificate, CertificateVerify, Finished) and our
//! final flight (Certificate, CertificateVerify, Finished) in epoch 2,
//! retransmitted until the server's ACK (RFC 9147 §5.8.3, §7).

use std::time::Instant;

use super::conn::{decode, expect, DropReason, Dtls13, HandshakeKeys, State, Step, Transition};
use super::error::Error13;
use super::key_share::{KeyShare, NamedGroup13};
use super::messages::{
    msg, parse_certificate_request, parse_cookie, parse_encrypted_extensions, write_client_hello,
    ClientHelloOffer, ServerHello13, DOWNGRADE_TLS12, ECDSA_SECP256R1_SHA256, EXT_COOKIE,
};
use super::record::CipherSuite13;
use crate::cert::PeerKey;
use crate::conn::SrtpProfileId;
use crate::handshake::Message;
use crate::hello::ext;
use crate::messages::parse_use_srtp_answer;
use crate::record::DTLS1_3;

/// ClientHello sent: our key shares, and what a HelloRetryRequest fixed.
pub(crate) struct HelloSent {
    shares: Vec<KeyShare>,
    retry_suite: Option<CipherSuite13>,
}

/// CertificateRequest read (or not sent by the server).
pub(crate) struct Requested {
    hs: HandshakeKeys,
    /// The request's context, `None` when the server asked for nothing.
    context: Option<Vec<u8>>,
}

/// The server's certificate read.
pub(crate) struct WithServerCert {
    req: Requested,
    peer_key: PeerKey,
}

/// Our 1.3 suites, then (offering both versions) the 1.2 ones.
fn offered_suites(d: &Dtls13) -> Vec<u16> {
    let v12 = d.config.suites.iter().map(|s| s.id());
    (d.config.suites13.iter().map(|s| s.id()))
        .chain(v12.filter(|_| d.offer12))
        .collect()
}

/// Whether the client still waits for the answer to its first hello
/// (no HelloRetryRequest yet): the moment a 1.2 answer may come.
pub(super) fn awaits_first_server_hello(state: &State) -> bool {
    matches!(state, State::ClientExpectServerHello(h) if h.retry_suite.is_none())
}

fn send_client_hello(d: &mut Dtls13, now: Instant, shares: &[KeyShare], cookie: Option<&[u8]>) {
    let suites = offered_suites(d);
    let groups: Vec<u16> = d.groups13().iter().map(|g| g.id()).collect();
    let key_shares: Vec<(u16, Vec<u8>)> = shares
        .iter()
        .map(|e| (e.group().id(), e.public_key().to_vec()))
        .collect();
    let srtp: Vec<u16> = d.config.srtp_profiles.iter().map(|p| p.0).collect();
    let mut body = Vec::new();
    write_client_hello(
        &mut body,
        &ClientHelloOffer {
            random: d.client_random,
            suites: &suites,
            groups: &groups,
            key_shares: &key_shares,
            srtp_profiles: &srtp,
            cookie,
            offer_dtls12: d.offer12,
        },
    );
    if d.offer12 && cookie.is_none() {
        d.first_hello = Some(body.clone());
    }
    let seq = d.take_message_seq();
    d.add_to_transcript(msg::CLIENT_HELLO, &body);
    let mut flight = d.new_flight();
    flight.push(0, msg::CLIENT_HELLO, seq, body);
    d.send_flight(now, flight);
}

/// Sends the first ClientHello, with one key share on our preferred group.
pub(super) fn start(d: &mut Dtls13, now: Instant) -> Result<(), Error13> {
    d.client_random = d.rng.bytes32();
    // Like the browsers: the hybrid share (when enabled) and one on our
    // first classic group, so a server without ML-KEM needs no retry.
    let mut shares = Vec::new();
    if d.config.x25519mlkem768 {
        let seed = d.rng.bytes32();
        shares.push(
            KeyShare::generate(NamedGroup13::X25519MlKem768, seed).map_err(Error13::KeyExchange)?,
        );
    }
    if let Some(g) = d.config.groups.first() {
        let seed = d.rng.bytes32();
        shares.push(KeyShare::generate((*g).into(), seed).map_err(Error13::KeyExchange)?);
    }
    if shares.is_empty() {
        return Err(Error13::NoCommonGroup(Vec::new()));
    }
    send_client_hello(d, now, &shares, None);
    d.state = State::ClientExpectServerHello(Box::new(HelloSent {
        shares,
        retry_suite: None,
    }));
    Ok(())
}

/// One message in the client's current state; returns the next state.
pub(super) fn on_message(d: &mut Dtls13, now: Instant, state: State, m: &Message) -> Transition {
    match state {
        State::ClientExpectServerHello(hello) => on_server_hello(d, now, hello, m),
        State::ClientExpectEncryptedExtensions(hs) => {
            expect(m, msg::ENCRYPTED_EXTENSIONS, "EncryptedExtensions")?;
            let exts =
                parse_encrypted_extensions(&m.body).map_err(decode("EncryptedExtensions"))?;
            let mut hs = hs;
            if let Some((_, data)) = exts.iter().find(|(t, _)| *t == ext::USE_SRTP) {
                let (profile, _mki) = parse_use_srtp_answer(data).map_err(decode("use_srtp"))?;
                let p = SrtpProfileId(profile);
                if !d.config.srtp_profiles.contains(&p) {
                    return Err(Error13::IllegalParameter("SRTP profile not offered").into());
                }
                hs.srtp = Some(p);
            }
            d.add_to_transcript(msg::ENCRYPTED_EXTENSIONS, &m.body);
            Ok(State::ClientExpectCertificateRequest(hs))
        }
        State::ClientExpectCertificateRequest(hs) => {
            if m.msg_type.as_u8() == msg::CERTIFICATE {
                // The server did not ask for our certificate.
                let req = Requested {
                    hs: *hs,
                    context: None,
                };
                return on_certificate(d, req, m);
            }
            expect(m, msg::CERTIFICATE_REQUEST, "CertificateRequest")?;
            let (context, exts) =
                parse_certificate_request(&m.body).map_err(decode("CertificateRequest"))?;
            let schemes = exts
                .iter()
                .find(|(t, _)| *t == ext::SIGNATURE_ALGORITHMS)
                .map(|(_, d)| {
                    d.get(2..)
                        .unwrap_or(&[])
                        .chunks_exact(2)
                        .any(|c| c == ECDSA_SECP256R1_SHA256.to_be_bytes())
                })
                .ok_or(Step::Fatal(Error13::MissingExtension(
                    "signature_algorithms",
                )))?;
            if !schemes {
                return Err(Error13::NoCommonSignatureScheme.into());
            }
            let context = context.to_vec();
            d.add_to_transcript(msg::CERTIFICATE_REQUEST, &m.body);
            Ok(State::ClientExpectCertificate(Box::new(Requested {
                hs: *hs,
                context: Some(context),
            })))
        }
        State::ClientExpectCertificate(req) => on_certificate(d, *req, m),
        State::ClientExpectCertificateVerify(w) => {
            d.read_peer_certificate_verify(m, &w.peer_key, w.req.hs.suite)?;
            Ok(State::ClientExpectFinished(w))
        }
        State::ClientExpectFinished(w) => on_finished(d, now, *w, m),
        State::Connected(mut t) => {
            super::server::post_handshake(d, &mut t, m)?;
            Ok(State::Connected(t))
        }
        _ => Err(Error13::UnexpectedMessage {
            got: m.msg_type.as_u8(),
            expected: "nothing",
        }
        .into()),
    }
}

fn on_server_hello(
    d: &mut Dtls13,
    now: Instant,
    hello: Box<HelloSent>,
    m: &Message,
) -> Result<State, Step> {
    if m.msg_type.as_u8() != msg::SERVER_HELLO {
        return Err(Step::Drop(
            State::ClientExpectServerHello(hello),
            DropReason::Unexpected,
        ));
    }
    let Ok(sh) = ServerHello13::parse(&m.body) else {
        return Err(Step::Drop(
            State::ClientExpectServerHello(hello),
            DropReason::Undecodable,
        ));
    };
    match sh.selected_version() {
        Some(DTLS1_3) => {}
        None if sh.random[24..] == DOWNGRADE_TLS12 => {
            // RFC 8446 §4.1.3: a 1.3-capable server answered 1.2 only
            // because our 1.3 offer was stripped on the way.
            d.stats.downgrades_refused += 1;
            return Err(Error13::DowngradeDetected.into());
        }
        v => return Err(Error13::UnsupportedVersion(vec![v.unwrap_or(sh.legacy_version)]).into()),
    }
    let suite = CipherSuite13::from_id(sh.suite)
        .filter(|s| d.config.suites13.contains(s))
        .ok_or(Step::Fatal(Error13::IllegalParameter(
            "cipher suite not offered",
        )))?;
    if hello.retry_suite.is_some_and(|s| s != suite) {
        return Err(Error13::IllegalParameter("suite changed after HelloRetryRequest").into());
    }
    if sh.is_hello_retry_request() {
        if hello.retry_suite.is_some() {
            return Err(Error13::UnexpectedMessage {
                got: msg::SERVER_HELLO,
                expected: "ServerHello after HelloRetryRequest",
            }
            .into());
        }
        // RFC 8446 §4.1.4: the server's group (if it names one) must be
        // one we support and did not already share.
        let mut shares = hello.shares;
        if let Some(g) = sh.hrr_group() {
            let ours = d.groups13();
            let group = NamedGroup13::from_id(g)
                .filter(|g| ours.contains(g) && !shares.iter().any(|s| s.group() == *g))
                .ok_or(Step::Fatal(Error13::IllegalParameter(
                    "HelloRetryRequest group",
                )))?;
            let seed = d.rng.bytes32();
            shares = vec![KeyShare::generate(group, seed)
                .map_err(|e| Step::Fatal(Error13::KeyExchange(e)))?];
        }
        let cookie = match sh.extension(EXT_COOKIE) {
            Some(c) => Some(parse_cookie(c).map_err(decode("cookie"))?.to_vec()),
            None => None,
        };
        d.replace_transcript_with_message_hash(suite.hash());
        d.add_to_transcript(msg::SERVER_HELLO, &m.body);
        send_client_hello(d, now, &shares, cookie.as_deref());
        return Ok(State::ClientExpectServerHello(Box::new(HelloSent {
            shares,
            retry_suite: Some(suite),
        })));
    }
    let (g, key) = sh.key_share().map_err(decode("key_share"))?;
    let eph = hello
        .shares
        .into_iter()
        .find(|e| e.group().id() == g)
        .ok_or(Step::Fatal(Error13::IllegalParameter(
            "key_share group not offered",
        )))?;
    let group = eph.group();
    let shared = eph
        .agree(key)
        .map_err(|e| Step::Fatal(Error13::KeyExchange(e)))?;
    d.add_to_transcript(msg::SERVER_HELLO, &m.body);
    let keys = d.enter_handshake_epoch(suite, group, &shared, None);
    // The ServerHello acknowledges our ClientHello.
    d.flight = None;
    Ok(State::ClientExpectEncryptedExtensions(Box::new(keys)))
}

fn on_certificate(d: &mut Dtls13, req: Requested, m: &Message) -> Result<State, Step> {
    let key = d.read_peer_certificate(m)?;
    Ok(State::ClientExpectCertificateVerify(Box::new(
        WithServerCert { req, peer_key: key },
    )))
}

fn on_finished(
    d: &mut Dtls13,
    now: Instant,
    w: WithServerCert,
    m: &Message,
) -> Result<State, Step> {
    let hs = w.req.hs;
    d.read_peer_finished(m, &hs)?;
    let traffic = d.application_traffic(&hs);
    d.install_application_keys(&traffic, false);
    let mut flight = d.new_flight();
    if let Some(context) = &w.req.context {
        d.push_certificate(&mut flight, context, hs.suite)?;
    }
    d.push_finished(&mut flight, &hs);
    d.send_flight(now, flight);
    d.install_application_keys(&traffic, true);
    Ok(d.connected(traffic)?)
}

//! The DTLS 1.3 server handshake (RFC 8446 §4 as RFC 9147 §5 runs it):
//! a ClientHello that offers DTLS 1.3, a HelloRetryRequest when the
//! client's key share is not on a group we take or a cookie is demanded
//! (RFC 9147 §5.1), then ServerHello (epoch 0) and EncryptedExtensions
//! (`use_srtp`), CertificateRequest, Certificate, CertificateVerify and
//! Finished (epoch 2) in one flight; the client's Certificate,
//! CertificateVerify and Finished are ACKed in epoch 3 (RFC 9147 §7).
//! Post-handshake messages (KeyUpdate, tickets) are handled here for
//! both roles.

use std::time::Instant;

use super::conn::{
    decode, expect, DropReason, Dtls13, HandshakeKeys, State, Step, Traffic, Transition,
};
use super::error::Error13;
use super::key_share::{respond, NamedGroup13};
use super::messages::{
    cookie_ext, msg, parse_client_key_shares, parse_cookie, selected_version_ext,
    server_key_share_ext, write_certificate_request, write_extensions, ServerHello13,
    ECDSA_SECP256R1_SHA256, EXT_COOKIE, HRR_RANDOM,
};
use super::record::CipherSuite13;
use crate::cert::PeerKey;
use crate::conn::SrtpProfileId;
use crate::handshake::Message;
use crate::hello::{ext, ClientHello};
use crate::messages::use_srtp_extension;
use crate::record::{DTLS1_2, DTLS1_3};

/// Waiting for a ClientHello; after a HelloRetryRequest, what it asked.
#[derive(Default)]
pub(crate) struct Start {
    cookie: Option<Vec<u8>>,
    retry: Option<(CipherSuite13, NamedGroup13)>,
}

/// Our flight is out.
pub(crate) struct FlightSent {
    hs: HandshakeKeys,
    traffic: Box<Traffic>,
}

/// The client's certificate read.
pub(crate) struct WithClientCert {
    sent: FlightSent,
    peer_key: PeerKey,
}

/// One message in the server's current state; returns the next state.
pub(super) fn on_message(d: &mut Dtls13, now: Instant, state: State, m: &Message) -> Transition {
    match state {
        State::ServerExpectClientHello(start) => on_client_hello(d, now, start, m),
        State::ServerExpectCertificate(sent) => {
            expect(m, msg::CERTIFICATE, "Certificate")?;
            // The client's flight acknowledges ours (RFC 9147 §7.1).
            d.flight = None;
            let key = d.read_peer_certificate(m)?;
            Ok(State::ServerExpectCertificateVerify(Box::new(
                WithClientCert {
                    sent: *sent,
                    peer_key: key,
                },
            )))
        }
        State::ServerExpectCertificateVerify(w) => {
            d.read_peer_certificate_verify(m, &w.peer_key, w.sent.hs.suite)?;
            Ok(State::ServerExpectFinished(w))
        }
        State::ServerExpectFinished(w) => {
            d.read_peer_finished(m, &w.sent.hs)?;
            let traffic = w.sent.traffic;
            d.install_application_keys(&traffic, false);
            d.flight = None;
            // RFC 9147 §7.1: the client's final flight is acknowledged
            // explicitly, in epoch 3.
            d.ack_due = true;
            Ok(d.connected(traffic)?)
        }
        State::Connected(mut t) => {
            post_handshake(d, &mut t, m)?;
            Ok(State::Connected(t))
        }
        _ => Err(Error13::UnexpectedMessage {
            got: m.msg_type.as_u8(),
            expected: "nothing",
        }
        .into()),
    }
}

/// Post-handshake messages of either role: KeyUpdate (RFC 8446 §4.6.3)
/// and NewSessionTicket (ignored: no resumption), both ACKed.
pub(super) fn post_handshake(d: &mut Dtls13, t: &mut Traffic, m: &Message) -> Result<(), Step> {
    match m.msg_type.as_u8() {
        msg::KEY_UPDATE => Ok(d.on_key_update(t, &m.body)?),
        4 => {
            d.ack_due = true;
            Ok(())
        }
        got => Err(Error13::UnexpectedMessage {
            got,
            expected: "KeyUpdate or NewSessionTicket",
        }
        .into()),
    }
}

fn on_client_hello(
    d: &mut Dtls13,
    now: Instant,
    start: Box<Start>,
    m: &Message,
) -> Result<State, Step> {
    if m.msg_type.as_u8() != msg::CLIENT_HELLO {
        return Err(Step::Drop(
            State::ServerExpectClientHello(start),
            DropReason::Unexpected,
        ));
    }
    let Ok(ch) = ClientHello::parse(&m.body) else {
        return Err(Step::Drop(
            State::ServerExpectClientHello(start),
            DropReason::Undecodable,
        ));
    };
    let Ok(shares) = ch
        .extension(ext::KEY_SHARE)
        .map(parse_client_key_shares)
        .unwrap_or(Ok(Vec::new()))
    else {
        return Err(Step::Drop(
            State::ServerExpectClientHello(start),
            DropReason::Undecodable,
        ));
    };
    let versions = ch.supported_versions();
    if !versions.contains(&DTLS1_3) {
        return Err(Error13::UnsupportedVersion(versions).into());
    }
    let offered: Vec<u16> = ch.cipher_suites().collect();
    let suite = d
        .config
        .suites13
        .iter()
        .copied()
        .find(|s| offered.contains(&s.id()))
        .ok_or_else(|| Step::Fatal(Error13::NoCommonCipherSuite(offered.clone())))?;
    if !ch.signature_algorithms().contains(&ECDSA_SECP256R1_SHA256) {
        return Err(Error13::NoCommonSignatureScheme.into());
    }
    let client_groups = ch.supported_groups();
    // Our preference among the shares the client sent; else the first
    // group of ours it supports, asked for by HelloRetryRequest.
    let ours = d.groups13();
    let with_share = ours
        .iter()
        .copied()
        .find(|g| shares.iter().any(|(id, _)| *id == g.id()));
    let supported = ours
        .iter()
        .copied()
        .find(|g| client_groups.contains(&g.id()))
        .ok_or_else(|| Step::Fatal(Error13::NoCommonGroup(client_groups.clone())))?;
    let cookie = match ch.extension(EXT_COOKIE) {
        Some(c) => Some(parse_cookie(c).map_err(decode("cookie"))?),
        None => None,
    };
    if let Some((retry_suite, retry_group)) = start.retry {
        // The second ClientHello must answer the HelloRetryRequest.
        if start.cookie.as_deref() != cookie
            || retry_suite != suite
            || with_share != Some(retry_group)
        {
            return Err(Error13::IllegalParameter(
                "ClientHello does not answer the HelloRetryRequest",
            )
            .into());
        }
    } else if with_share.is_none() || d.config.cookie_exchange {
        return send_hello_retry_request(
            d,
            now,
            suite,
            with_share.unwrap_or(supported),
            with_share.is_none(),
            m,
        );
    }
    let group = with_share.unwrap_or(supported);
    let client_share = shares
        .iter()
        .find(|(id, _)| *id == group.id())
        .map(|(_, k)| *k)
        .ok_or(Step::Fatal(Error13::IllegalParameter("key share")))?;
    d.client_random = *ch.random;
    let srtp = ch.use_srtp().and_then(|(profiles, _mki)| {
        d.config
            .srtp_profiles
            .iter()
            .copied()
            .find(|p| profiles.contains(&p.0))
    });
    let seed = d.rng.bytes32();
    let (public, shared) =
        respond(group, client_share, seed).map_err(|e| Step::Fatal(Error13::KeyExchange(e)))?;
    d.add_to_transcript(msg::CLIENT_HELLO, &m.body);
    send_server_flight(d, now, suite, group, &public, &shared, srtp)
}

fn send_hello_retry_request(
    d: &mut Dtls13,
    now: Instant,
    suite: CipherSuite13,
    group: NamedGroup13,
    ask_group: bool,
    m: &Message,
) -> Result<State, Step> {
    let cookie = d.config.cookie_exchange.then(|| d.rng.bytes32().to_vec());
    d.add_to_transcript(msg::CLIENT_HELLO, &m.body);
    d.replace_transcript_with_message_hash(suite.hash());
    let version = selected_version_ext(DTLS1_3);
    let group_ext = group.id().to_be_bytes();
    let cookie_data = cookie.as_deref().map(cookie_ext);
    let mut extensions: Vec<(u16, &[u8])> = vec![(ext::SUPPORTED_VERSIONS, &version)];
    if ask_group {
        extensions.push((ext::KEY_SHARE, &group_ext));
    }
    if let Some(c) = &cookie_data {
        extensions.push((EXT_COOKIE, c));
    }
    let hrr = ServerHello13 {
        legacy_version: DTLS1_2,
        random: HRR_RANDOM,
        session_id: &[],
        suite: suite.id(),
        compression: 0,
        extensions,
    };
    let mut body = Vec::new();
    hrr.write(&mut body);
    d.add_to_transcript(msg::SERVER_HELLO, &body);
    let seq = d.take_message_seq();
    let mut flight = d.new_flight();
    flight.push(0, msg::SERVER_HELLO, seq, body);
    d.send_flight(now, flight);
    Ok(State::ServerExpectClientHello(Box::new(Start {
        cookie,
        retry: Some((suite, group)),
    })))
}

fn send_server_flight(
    d: &mut Dtls13,
    now: Instant,
    suite: CipherSuite13,
    group: NamedGroup13,
    public: &[u8],
    shared: &[u8],
    srtp: Option<SrtpProfileId>,
) -> Result<State, Step> {
    let random = d.rng.bytes32();
    let version = selected_version_ext(DTLS1_3);
    let share = server_key_share_ext(group.id(), public);
    let sh = ServerHello13 {
        legacy_version: DTLS1_2,
        random,
        session_id: &[],
        suite: suite.id(),
        compression: 0,
        extensions: vec![
            (ext::SUPPORTED_VERSIONS, &version),
            (ext::KEY_SHARE, &share),
        ],
    };
    let mut sh_body = Vec::new();
    sh.write(&mut sh_body);
    d.add_to_transcript(msg::SERVER_HELLO, &sh_body);
    let hs = d.enter_handshake_epoch(suite, group, shared, srtp);
    let mut flight = d.new_flight();
    let seq = d.take_message_seq();
    flight.push(0, msg::SERVER_HELLO, seq, sh_body);
    let mut ee = Vec::new();
    let exts: Vec<(u16, Vec<u8>)> = srtp
        .map(|p| (ext::USE_SRTP, use_srtp_extension(&[p.0])))
        .into_iter()
        .collect();
    write_extensions(&mut ee, &exts);
    let mut cr = Vec::new();
    write_certificate_request(&mut cr);
    d.push_message(&mut flight, msg::ENCRYPTED_EXTENSIONS, ee);
    d.push_message(&mut flight, msg::CERTIFICATE_REQUEST, cr);
    d.push_certificate(&mut flight, &[], suite)?;
    d.push_finished(&mut flight, &hs);
    let traffic = d.application_traffic(&hs);
    d.send_flight(now, flight);
    // RFC 8446 §4.4.4: the server may send data after its Finished.
    d.install_application_keys(&traffic, true);
    Ok(State::ServerExpectCertificate(Box::new(FlightSent {
        hs,
        traffic,
    })))
}

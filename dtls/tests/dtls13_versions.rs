//! Version negotiation (RFC 9147 §5.3, RFC 8446 §4.2.1, §4.1.3): a server
//! speaking both versions answers a 1.3 hello with 1.3 and a 1.2-only
//! hello with 1.2 carrying the downgrade sentinel; against our own 1.2
//! and 1.3 clients and dimpl's.
//!
//! A client for both falls back within one handshake: its single
//! ClientHello offers DTLS 1.3 and 1.2; a 1.2-only server (ours, with and
//! without a HelloVerifyRequest, and dimpl's) answers 1.2 and the client
//! goes on as a 1.2 client with the transcript intact (the Finished
//! messages check it). A 1.2 answer with the downgrade sentinel is
//! refused on both paths.

use std::sync::Arc;
use std::time::Instant;

use meshrtc_dtls::handshake::{fragments, Fragment, HandshakeType};
use meshrtc_dtls::hello::ClientHello;
use meshrtc_dtls::record::records;
use meshrtc_dtls::v13::messages::DOWNGRADE_TLS12;
use meshrtc_dtls::v13::{AnyDtls, AnyError, AnyEvent, CommonEvent, Error13, Versions};
use meshrtc_dtls::{Certificate, Config, Dtls, Error, Event};

fn configs() -> (Config, Config) {
    let (a, b) = (
        Certificate::generate("client").unwrap(),
        Certificate::generate("server").unwrap(),
    );
    let mut ca = Config::new(a.clone());
    ca.remote_fingerprint = Some(*b.fingerprint());
    ca.rng_seed = Some([1; 32]);
    let mut cb = Config::new(b);
    cb.remote_fingerprint = Some(*a.fingerprint());
    cb.rng_seed = Some([2; 32]);
    (ca, cb)
}

/// The ServerHello.random in a server datagram, if it has a ServerHello.
fn server_hello_random(datagram: &[u8]) -> Option<[u8; 32]> {
    for r in records(datagram) {
        let r = r.ok()?;
        if let Ok((f, _)) = Fragment::parse(r.fragment) {
            if f.msg_type == HandshakeType::ServerHello && f.offset == 0 && f.body.len() >= 34 {
                return Some(f.body[2..34].try_into().unwrap());
            }
        }
    }
    None
}

fn drive(client: &mut AnyDtls, server: &mut AnyDtls, now: Instant, randoms: &mut Vec<[u8; 32]>) {
    for _ in 0..20 {
        while let Some(d) = client.poll_transmit() {
            server.handle_datagram(now, &d).unwrap();
        }
        while let Some(d) = server.poll_transmit() {
            randoms.extend(server_hello_random(&d));
            client.handle_datagram(now, &d).unwrap();
        }
        if client.is_connected() && server.is_connected() {
            return;
        }
    }
    panic!("no handshake");
}

#[test]
fn server_for_both_answers_a_13_hello_with_13() {
    let (ca, cb) = configs();
    let now = Instant::now();
    let (mut c, mut s) = (AnyDtls::client(ca, now), AnyDtls::server(cb, now));
    assert_eq!(s.version(), None);
    let mut randoms = Vec::new();
    drive(&mut c, &mut s, now, &mut randoms);
    assert_eq!((c.version(), s.version()), (Some(0xfefc), Some(0xfefc)));
    assert!(randoms.iter().all(|r| r[24..] != DOWNGRADE_TLS12));
    let connected = std::iter::from_fn(|| s.poll_event())
        .any(|e| matches!(e, AnyEvent::V13(meshrtc_dtls::v13::Event13::Connected(_))));
    assert!(connected);
}

#[test]
fn server_for_both_answers_a_12_hello_with_12_and_the_downgrade_sentinel() {
    let (mut ca, cb) = configs();
    ca.versions = Versions::Dtls12Only;
    let now = Instant::now();
    let (mut c, mut s) = (AnyDtls::client(ca, now), AnyDtls::server(cb, now));
    let mut randoms = Vec::new();
    drive(&mut c, &mut s, now, &mut randoms);
    assert_eq!(s.version(), Some(0xfefd));
    assert_eq!(randoms.len(), 1);
    assert_eq!(randoms[0][24..], DOWNGRADE_TLS12);
    let connected = std::iter::from_fn(|| c.poll_event())
        .any(|e| matches!(e, AnyEvent::V12(Event::Connected(_))));
    assert!(connected);
}

#[test]
fn server_for_12_only_sets_no_sentinel() {
    let (ca, mut cb) = configs();
    cb.versions = Versions::Dtls12Only;
    let now = Instant::now();
    let mut c = AnyDtls::V12(Box::new(Dtls::client(ca, now)));
    let mut s = AnyDtls::server(cb, now);
    let mut randoms = Vec::new();
    drive(&mut c, &mut s, now, &mut randoms);
    assert_eq!(randoms.len(), 1);
    assert_ne!(randoms[0][24..], DOWNGRADE_TLS12);
}

fn dimpl_client(version13: Option<bool>, now: Instant) -> dimpl::Dtls {
    let cert = Certificate::generate("dimpl").unwrap();
    let cert = dimpl::DtlsCertificate {
        certificate: cert.der().to_vec(),
        private_key: cert.pkcs8().to_vec(),
    };
    let config = Arc::new(
        dimpl::Config::builder()
            .dangerously_set_rng_seed(5)
            .build()
            .unwrap(),
    );
    let mut d = match version13 {
        Some(true) => dimpl::Dtls::new_13(config, cert, now),
        Some(false) => dimpl::Dtls::new_12(config, cert, now),
        None => dimpl::Dtls::new_auto(config, cert, now),
    };
    d.set_active(true);
    d.handle_timeout(now).unwrap();
    d
}

fn run_with_dimpl(mut theirs: dimpl::Dtls, now: Instant) -> (AnyDtls, bool, Vec<[u8; 32]>) {
    let (_, mut cb) = configs();
    cb.remote_fingerprint = None;
    let mut s = AnyDtls::server(cb, now);
    let mut randoms = Vec::new();
    let mut connected = false;
    let mut buf = vec![0u8; 4096];
    for _ in 0..20 {
        loop {
            match theirs.poll_output(&mut buf) {
                dimpl::Output::Packet(p) => {
                    let p = p.to_vec();
                    let _ = s.handle_datagram(now, &p);
                }
                dimpl::Output::Connected => connected = true,
                dimpl::Output::Timeout(_) => break,
                _ => {}
            }
        }
        while let Some(d) = s.poll_transmit() {
            randoms.extend(server_hello_random(&d));
            theirs.handle_packet(&d).unwrap();
        }
        if connected && s.poll_event().is_some() {
            break;
        }
    }
    (s, connected, randoms)
}

#[test]
fn dimpl_clients_of_each_version_get_their_version_from_a_server_for_both() {
    let now = Instant::now();
    for (mode, want) in [(Some(true), 0xfefc), (None, 0xfefc), (Some(false), 0xfefd)] {
        let (s, connected, randoms) = run_with_dimpl(dimpl_client(mode, now), now);
        assert!(connected, "dimpl {mode:?} connected");
        assert_eq!(s.version(), Some(want), "dimpl {mode:?}");
        let sentinel = randoms.iter().any(|r| r[24..] == DOWNGRADE_TLS12);
        assert_eq!(sentinel, want == 0xfefd);
    }
}

/// The ClientHello whole in `datagrams` (the hybrid share makes it two).
fn client_hello(datagrams: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for d in datagrams {
        for r in records(d) {
            for f in fragments(r.unwrap().fragment) {
                let f = f.unwrap();
                if f.msg_type == HandshakeType::ClientHello && f.offset == body.len() {
                    body.extend_from_slice(f.body);
                }
            }
        }
    }
    body
}

/// Runs until both connect or one fails; what the client sent first.
fn drive_against_12(c: &mut AnyDtls, s: &mut Dtls, now: Instant) -> Vec<Vec<u8>> {
    let mut first = Vec::new();
    for round in 0..20 {
        while let Some(d) = c.poll_transmit() {
            if round == 0 {
                first.push(d.clone());
            }
            let _ = s.handle_datagram(now, &d);
        }
        while let Some(d) = s.poll_transmit() {
            let _ = c.handle_datagram(now, &d);
        }
        if (c.is_connected() && s.is_connected()) || c.is_closed() || s.is_closed() {
            break;
        }
    }
    first
}

fn client_srtp(c: &mut AnyDtls) -> Vec<u8> {
    let e = std::iter::from_fn(|| c.poll_event()).find_map(|e| match e.common() {
        CommonEvent::Connected(n) => Some(n),
        _ => None,
    });
    let n = e.expect("client connected");
    assert_eq!(n.version, 0xfefd);
    assert_eq!(n.cipher, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    n.srtp.unwrap().exported
}

fn server_srtp(s: &mut Dtls) -> Vec<u8> {
    let e = std::iter::from_fn(|| s.poll_event()).find_map(|e| match e {
        Event::Connected(c) => Some(c),
        _ => None,
    });
    e.expect("server connected").srtp.unwrap().exported
}

#[test]
fn one_hello_offers_both_versions_and_a_12_only_server_accepts_it() {
    for cookie in [false, true] {
        let (mut ca, mut cb) = configs();
        ca.x25519mlkem768 = true;
        cb.versions = Versions::Dtls12Only;
        cb.cookie_exchange = cookie;
        let now = Instant::now();
        let mut c = AnyDtls::client(ca, now);
        let mut s = Dtls::server(cb, now);
        let first = drive_against_12(&mut c, &mut s, now);
        let body = client_hello(&first);
        let hello = ClientHello::parse(&body).unwrap();
        assert_eq!(hello.version, 0xfefd, "legacy_version");
        assert_eq!(hello.supported_versions(), vec![0xfefc, 0xfefd]);
        let suites: Vec<u16> = hello.cipher_suites().collect();
        assert!(
            suites.contains(&0x1301) && suites.contains(&0xc02b),
            "{suites:x?}"
        );
        assert!(hello.extended_master_secret());
        assert!(hello.extension(51).is_some(), "key_share");
        assert_eq!(c.version(), Some(0xfefd), "cookie {cookie}");
        assert!(c.is_connected() && s.is_connected(), "cookie {cookie}");
        assert_eq!(client_srtp(&mut c), server_srtp(&mut s), "cookie {cookie}");
        let AnyDtls::V12(d) = &c else { panic!() };
        assert_eq!(d.stats().hello_verify_requests, u64::from(cookie));
    }
}

#[test]
fn a_client_for_both_gets_13_from_a_server_for_both() {
    let (mut ca, mut cb) = configs();
    ca.x25519mlkem768 = true;
    cb.x25519mlkem768 = true;
    let now = Instant::now();
    let (mut c, mut s) = (AnyDtls::client(ca, now), AnyDtls::server(cb, now));
    for _ in 0..20 {
        while let Some(d) = c.poll_transmit() {
            s.handle_datagram(now, &d).unwrap();
        }
        while let Some(d) = s.poll_transmit() {
            c.handle_datagram(now, &d).unwrap();
        }
    }
    assert!(c.is_connected() && s.is_connected());
    assert_eq!((c.version(), s.version()), (Some(0xfefc), Some(0xfefc)));
    let n = std::iter::from_fn(|| c.poll_event())
        .find_map(|e| match e.common() {
            CommonEvent::Connected(n) => Some(n),
            _ => None,
        })
        .unwrap();
    assert_eq!(n.group, "X25519MLKEM768");
    assert_eq!(n.cipher, "TLS_AES_128_GCM_SHA256");
}

#[test]
fn a_client_for_both_falls_back_to_dimpls_12_server() {
    let (mut ca, _) = configs();
    ca.x25519mlkem768 = true;
    let now = Instant::now();
    let cert = Certificate::generate("dimpl").unwrap();
    ca.remote_fingerprint = Some(*cert.fingerprint());
    let config = Arc::new(
        dimpl::Config::builder()
            .dangerously_set_rng_seed(9)
            .build()
            .unwrap(),
    );
    let dcert = dimpl::DtlsCertificate {
        certificate: cert.der().to_vec(),
        private_key: cert.pkcs8().to_vec(),
    };
    let mut theirs = dimpl::Dtls::new_12(config, dcert, now);
    theirs.set_active(false);
    theirs.handle_timeout(now).unwrap();
    let mut c = AnyDtls::client(ca, now);
    let (mut connected, mut keying) = (false, None);
    let mut buf = vec![0u8; 4096];
    for _ in 0..20 {
        while let Some(d) = c.poll_transmit() {
            theirs.handle_packet(&d).unwrap();
        }
        loop {
            match theirs.poll_output(&mut buf) {
                dimpl::Output::Packet(p) => {
                    let p = p.to_vec();
                    c.handle_datagram(now, &p).unwrap();
                }
                dimpl::Output::Connected => connected = true,
                dimpl::Output::KeyingMaterial(k, _) => keying = Some(k.to_vec()),
                dimpl::Output::Timeout(_) => break,
                _ => {}
            }
        }
        if connected && c.is_connected() {
            break;
        }
    }
    assert!(connected && c.is_connected());
    assert_eq!(c.version(), Some(0xfefd));
    assert_eq!(
        Some(client_srtp(&mut c)),
        keying,
        "SRTP keys byte-identical"
    );
}

/// Rewrites supported_versions [1.3, 1.2] into [1.2, 1.2]: an attacker
/// stripping our 1.3 offer (lengths unchanged; epoch 0 has no MAC).
fn strip_13(d: &[u8]) -> Vec<u8> {
    let pattern = [0x00, 0x2b, 0x00, 0x05, 0x04, 0xfe, 0xfc, 0xfe, 0xfd];
    let mut d = d.to_vec();
    if let Some(i) = d.windows(pattern.len()).position(|w| w == pattern) {
        d[i + 6] = 0xfd;
    }
    d
}

#[test]
fn a_stripped_13_offer_is_refused_by_the_sentinel_on_both_paths() {
    for cookie in [false, true] {
        let (ca, mut cb) = configs();
        // No hybrid share: one datagram per hello, so the attacker's
        // rewrite is simple.
        cb.cookie_exchange = cookie;
        let now = Instant::now();
        let (mut c, mut s) = (AnyDtls::client(ca, now), AnyDtls::server(cb, now));
        let mut failure = None;
        for _ in 0..10 {
            while let Some(d) = c.poll_transmit() {
                let _ = s.handle_datagram(now, &strip_13(&d));
            }
            while let Some(d) = s.poll_transmit() {
                if let Err(e) = c.handle_datagram(now, &d) {
                    failure = Some(e);
                }
            }
        }
        assert_eq!(s.version(), Some(0xfefd), "the server saw no 1.3 offer");
        match (cookie, failure) {
            (false, Some(AnyError::V13(Error13::DowngradeDetected))) => {}
            (true, Some(AnyError::V12(Error::IllegalParameter(m)))) => {
                assert!(m.contains("downgrade"), "{m}");
            }
            (_, f) => panic!("cookie {cookie}: {f:?}"),
        }
        assert!(!c.is_connected());
    }
}

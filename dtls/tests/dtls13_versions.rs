//! Version negotiation (RFC 9147 §5.3, RFC 8446 §4.2.1, §4.1.3): a server
//! speaking both versions answers a 1.3 hello with 1.3 and a 1.2-only
//! hello with 1.2 carrying the downgrade sentinel; against our own 1.2
//! and 1.3 clients and dimpl's.

use std::sync::Arc;
use std::time::Instant;

use meshrtc_dtls::handshake::{Fragment, HandshakeType};
use meshrtc_dtls::record::records;
use meshrtc_dtls::v13::messages::DOWNGRADE_TLS12;
use meshrtc_dtls::v13::{AnyDtls, AnyEvent, Versions};
use meshrtc_dtls::{Certificate, Config, Dtls, Event};

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

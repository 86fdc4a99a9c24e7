//! The OpenSSL DTLS 1.2 oracle (`meshrtc_integration::openssl_dtls`) talking
//! to itself in memory: the harness meshrtc-dtls will be tested against must
//! itself be right.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use meshrtc_integration::openssl_dtls::{
    exchange, handshake, self_signed_p256, OpensslDtls, OpensslDtlsConfig, Role,
};
use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::{X509NameBuilder, X509};

const AES128: &str = "ECDHE-ECDSA-AES128-GCM-SHA256";
const AES256: &str = "ECDHE-ECDSA-AES256-GCM-SHA384";
const GCM_FIRST: &str = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";
const CM_FIRST: &str = "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM";

/// DTLS record content types and handshake message types used below.
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const HELLO_VERIFY_REQUEST: u8 = 3;
const CERTIFICATE: u8 = 11;

struct Certs {
    client: (String, String),
    server: (String, String),
}

/// Key generation is the slow part; do it once per test binary.
fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| Certs {
        client: self_signed_p256("client").unwrap(),
        server: self_signed_p256("server").unwrap(),
    })
}

fn config(role: Role, cipher: &str, srtp: &str) -> OpensslDtlsConfig {
    let (cert, key) = match role {
        Role::Client => certs().client.clone(),
        Role::Server => certs().server.clone(),
    };
    OpensslDtlsConfig {
        cipher_list: cipher.into(),
        srtp_profiles: srtp.into(),
        ..OpensslDtlsConfig::webrtc(role, cert, key)
    }
}

fn pair(client: &OpensslDtlsConfig, server: &OpensslDtlsConfig) -> (OpensslDtls, OpensslDtls) {
    (
        OpensslDtls::new(client).unwrap(),
        OpensslDtls::new(server).unwrap(),
    )
}

fn cert_der(pem: &str) -> Vec<u8> {
    X509::from_pem(pem.as_bytes()).unwrap().to_der().unwrap()
}

/// (content type, epoch, fragment) of every record in a datagram.
fn records(datagram: &[u8]) -> Vec<(u8, u16, &[u8])> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= 13 {
        let epoch = u16::from_be_bytes([rest[3], rest[4]]);
        let len = usize::from(u16::from_be_bytes([rest[11], rest[12]]));
        assert!(
            rest.len() >= 13 + len,
            "truncated record in {datagram:02x?}"
        );
        out.push((rest[0], epoch, &rest[13..13 + len]));
        rest = &rest[13 + len..];
    }
    assert!(rest.is_empty(), "trailing bytes in datagram");
    out
}

/// One plaintext handshake fragment: (msg_type, length, fragment_offset, fragment_length).
fn handshake_header(fragment: &[u8]) -> (u8, usize, usize, usize) {
    let u24 = |b: &[u8]| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]);
    (
        fragment[0],
        u24(&fragment[1..4]),
        u24(&fragment[6..9]),
        u24(&fragment[9..12]),
    )
}

/// Like [`exchange`], showing every datagram (and whether the client sent it) to `see`.
fn exchange_observed(
    c: &mut OpensslDtls,
    s: &mut OpensslDtls,
    mut see: impl FnMut(bool, &[u8]),
) -> usize {
    let mut moved = 0;
    while let Some(d) = c.poll_transmit() {
        see(true, &d);
        s.handle_datagram(&d);
        moved += 1;
    }
    while let Some(d) = s.poll_transmit() {
        see(false, &d);
        c.handle_datagram(&d);
        moved += 1;
    }
    moved
}

/// Full check of one configuration: handshake, negotiated parameters,
/// exported keys, app data both ways, close_notify both ways.
fn full_run(cipher: &str, client_srtp: &str, server_srtp: &str) {
    let ctx = format!("{cipher} client {client_srtp} server {server_srtp}");
    let (mut c, mut s) = pair(
        &config(Role::Client, cipher, client_srtp),
        &config(Role::Server, cipher, server_srtp),
    );
    handshake(&mut c, &mut s).unwrap_or_else(|e| panic!("{ctx}: {e}"));

    for end in [&c, &s] {
        assert_eq!(end.version().as_deref(), Some("DTLSv1.2"), "{ctx}");
        assert_eq!(end.cipher_name().as_deref(), Some(cipher), "{ctx}");
    }
    // OpenSSL's server picks the first profile of *its own* list the client offers.
    let expected = if server_srtp.starts_with("SRTP_AEAD_AES_128_GCM") {
        7
    } else {
        1
    };
    assert_eq!(s.srtp_profile(), Some(expected), "{ctx}");
    assert_eq!(c.srtp_profile(), Some(expected), "{ctx}");

    // RFC 5764 4.2: 2 * (key + salt): 2 * (16 + 12) for GCM, 2 * (16 + 14) for CM.
    let len = if expected == 7 { 56 } else { 60 };
    let kc = c.export_srtp_keying_material(len);
    let ks = s.export_srtp_keying_material(len);
    assert_eq!(kc.len(), len, "{ctx}");
    assert_eq!(kc, ks, "{ctx}");
    assert_ne!(kc, vec![0; len], "{ctx}");

    assert_eq!(c.peer_certificate_der(), Some(cert_der(&certs().server.0)));
    assert_eq!(s.peer_certificate_der(), Some(cert_der(&certs().client.0)));

    c.write_app(b"ping from client").unwrap();
    c.write_app(b"second record").unwrap();
    s.write_app(b"pong from server").unwrap();
    while exchange(&mut c, &mut s) > 0 {}
    assert_eq!(s.read_app().as_deref(), Some(&b"ping from client"[..]));
    assert_eq!(s.read_app().as_deref(), Some(&b"second record"[..]));
    assert_eq!(s.read_app(), None);
    assert_eq!(c.read_app().as_deref(), Some(&b"pong from server"[..]));
    assert_eq!(c.read_app(), None);

    assert!(!s.received_close_notify());
    c.close();
    while exchange(&mut c, &mut s) > 0 {}
    assert!(s.received_close_notify(), "{ctx}");
    s.close();
    while exchange(&mut c, &mut s) > 0 {}
    assert!(c.received_close_notify(), "{ctx}");
    assert_eq!(c.failed(), None);
    assert_eq!(s.failed(), None);
}

#[test]
fn aes128_gcm_every_srtp_order() {
    for client in [GCM_FIRST, CM_FIRST] {
        for server in [GCM_FIRST, CM_FIRST] {
            full_run(AES128, client, server);
        }
    }
}

#[test]
fn aes256_gcm_every_srtp_order() {
    for client in [GCM_FIRST, CM_FIRST] {
        for server in [GCM_FIRST, CM_FIRST] {
            full_run(AES256, client, server);
        }
    }
}

#[test]
fn srtp_aes256_gcm_profile_exports_88_bytes() {
    let srtp = "SRTP_AEAD_AES_256_GCM:SRTP_AEAD_AES_128_GCM";
    let (mut c, mut s) = pair(
        &config(Role::Client, AES128, srtp),
        &config(Role::Server, AES128, srtp),
    );
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.srtp_profile(), Some(8));
    assert_eq!(c.srtp_profile(), Some(8));
    let k = c.export_srtp_keying_material(88);
    assert_eq!(k, s.export_srtp_keying_material(88));
}

#[test]
fn no_common_srtp_profile_means_no_profile() {
    let (mut c, mut s) = pair(
        &config(Role::Client, AES128, "SRTP_AES128_CM_SHA1_80"),
        &config(Role::Server, AES128, "SRTP_AEAD_AES_128_GCM"),
    );
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.srtp_profile(), None);
    assert_eq!(s.srtp_profile(), None);
}

#[test]
fn cookie_exchange_starts_with_hello_verify_request() {
    let client = config(Role::Client, AES128, GCM_FIRST);
    let server = OpensslDtlsConfig {
        cookie_exchange: true,
        ..config(Role::Server, AES128, GCM_FIRST)
    };
    let (mut c, mut s) = pair(&client, &server);

    c.drive().unwrap();
    let hello1 = c.poll_transmit().expect("ClientHello");
    assert_eq!(c.poll_transmit(), None);
    s.handle_datagram(&hello1);

    let hvr = s.poll_transmit().expect("HelloVerifyRequest");
    assert_eq!(
        s.poll_transmit(),
        None,
        "HelloVerifyRequest is a flight of one"
    );
    let recs = records(&hvr);
    assert_eq!(recs.len(), 1);
    let (content_type, epoch, body) = recs[0];
    assert_eq!((content_type, epoch), (HANDSHAKE, 0));
    assert_eq!(body[0], HELLO_VERIFY_REQUEST, "{hvr:02x?}");
    // HelloVerifyRequest body: server_version (2) + cookie<0..255>.
    let cookie_len = usize::from(body[12 + 2]);
    assert_eq!(cookie_len, 16);
    let cookie = &body[12 + 3..12 + 3 + cookie_len];

    c.handle_datagram(&hvr);
    let hello2 = c.poll_transmit().expect("ClientHello with cookie");
    assert!(
        hello2.len() == hello1.len() + cookie_len,
        "second ClientHello carries the cookie"
    );
    assert!(hello2.windows(cookie.len()).any(|w| w == cookie));
    s.handle_datagram(&hello2);

    // From here on a normal handshake.
    let mut rounds = 0;
    while exchange(&mut c, &mut s) > 0 {
        rounds += 1;
        assert!(rounds < 16);
    }
    assert!(c.is_established() && s.is_established(), "{c:?} {s:?}");
    assert_eq!(
        c.export_srtp_keying_material(56),
        s.export_srtp_keying_material(56)
    );
}

#[test]
fn wrong_cookie_is_fatal() {
    let server = OpensslDtlsConfig {
        cookie_exchange: true,
        ..config(Role::Server, AES128, GCM_FIRST)
    };
    let (mut c, mut s) = pair(&config(Role::Client, AES128, GCM_FIRST), &server);
    c.drive().unwrap();
    s.handle_datagram(&c.poll_transmit().unwrap());
    let mut hvr = s.poll_transmit().unwrap();
    // Corrupt the cookie's last byte before the client echoes it.
    let last = hvr.len() - 1;
    hvr[last] ^= 0xff;
    c.handle_datagram(&hvr);
    s.handle_datagram(&c.poll_transmit().unwrap());
    // OpenSSL's stateful cookie check (SSL_OP_COOKIE_EXCHANGE) treats a bad
    // cookie as fatal: a handshake_failure alert, not another HelloVerifyRequest.
    let reply = s.poll_transmit().expect("an alert");
    let recs = records(&reply);
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0].0, recs[0].2),
        (ALERT, &[2u8, 40][..]),
        "fatal handshake_failure"
    );
    let why = s.failed().expect("server failed");
    assert!(why.contains("cookie mismatch"), "{why}");
    assert!(!s.is_established());
}

/// A certificate far larger than one 1200-byte datagram: forty 60-byte OUs.
fn big_cert() -> (String, String) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, "big").unwrap();
    for i in 0..40 {
        let ou = format!("{i:02}-{}", "x".repeat(57));
        name.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, &ou)
            .unwrap();
    }
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
    let key = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (cert, key)
}

#[test]
fn mtu_1200_fragments_large_certificate_flights() {
    let (cert, key) = big_cert();
    assert!(
        cert_der(&cert).len() > 2 * 1200,
        "the certificate must not fit"
    );
    let mut client = config(Role::Client, AES128, GCM_FIRST);
    let mut server = config(Role::Server, AES128, GCM_FIRST);
    (client.cert_pem, client.key_pem) = (cert.clone(), key.clone());
    (server.cert_pem, server.key_pem) = (cert.clone(), key);
    assert_eq!((client.mtu, server.mtu), (1200, 1200));
    let (mut c, mut s) = pair(&client, &server);

    // Step by hand, inspecting every datagram on the wire.
    let mut cert_fragments = [Vec::new(), Vec::new()]; // [client's, server's]
    c.drive().unwrap();
    for _ in 0..16 {
        let moved = exchange_observed(&mut c, &mut s, |from_client, d| {
            assert!(
                d.len() <= 1200,
                "datagram of {} bytes exceeds the MTU",
                d.len()
            );
            for (ct, epoch, body) in records(d) {
                if ct == HANDSHAKE && epoch == 0 && body[0] == CERTIFICATE {
                    let (_, len, off, frag_len) = handshake_header(body);
                    assert_eq!(body.len(), 12 + frag_len);
                    cert_fragments[usize::from(!from_client)].push((len, off, frag_len));
                }
            }
        });
        if moved == 0 {
            break;
        }
    }
    assert!(c.is_established() && s.is_established(), "{c:?} {s:?}");
    assert_eq!(c.peer_certificate_der(), Some(cert_der(&cert)));
    assert_eq!(s.peer_certificate_der(), Some(cert_der(&cert)));

    for frags in &cert_fragments {
        assert!(frags.len() >= 3, "Certificate not fragmented: {frags:?}");
        // Contiguous fragments covering the whole message exactly once.
        let total = frags[0].0;
        let mut next = 0;
        for &(len, off, frag_len) in frags {
            assert_eq!((len, off), (total, next), "{frags:?}");
            next += frag_len;
        }
        assert_eq!(next, total, "{frags:?}");
    }
}

#[test]
fn mtu_400_still_completes() {
    let mut client = config(Role::Client, AES128, GCM_FIRST);
    let mut server = config(Role::Server, AES128, GCM_FIRST);
    client.mtu = 400;
    server.mtu = 400;
    let (mut c, mut s) = pair(&client, &server);
    c.drive().unwrap();
    let mut max = 0;
    for _ in 0..32 {
        if exchange_observed(&mut c, &mut s, |_, d| max = max.max(d.len())) == 0 {
            break;
        }
    }
    assert!(c.is_established() && s.is_established(), "{c:?} {s:?}");
    assert!(max <= 400, "largest datagram {max}");
}

#[test]
fn cipher_mismatch_fails_cleanly() {
    let (mut c, mut s) = pair(
        &config(Role::Client, AES128, GCM_FIRST),
        &config(Role::Server, AES256, GCM_FIRST),
    );
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert!(s.failed().is_some(), "{err}");
    // The server's handshake_failure alert reached the client.
    assert!(c.failed().is_some(), "{err}");
    assert!(!c.is_established() && !s.is_established());
    assert!(c.write_app(b"x").is_err());
    assert!(c.drive().is_err());
    assert_eq!(c.export_srtp_keying_material(56), Vec::<u8>::new());
}

#[test]
fn bad_configuration_is_an_error() {
    let mut bad = config(Role::Client, "NO-SUCH-CIPHER", GCM_FIRST);
    assert!(OpensslDtls::new(&bad).is_err());
    bad = config(Role::Client, AES128, "SRTP_NOPE");
    assert!(OpensslDtls::new(&bad).is_err());
    bad = config(Role::Client, AES128, GCM_FIRST);
    bad.cert_pem = "not a pem".into();
    assert!(OpensslDtls::new(&bad).is_err());
    bad = config(Role::Client, AES128, GCM_FIRST);
    bad.groups = "nope".into();
    assert!(OpensslDtls::new(&bad).is_err());
}

#[test]
fn garbage_datagrams_are_survived() {
    let (mut c, mut s) = pair(
        &config(Role::Client, AES128, GCM_FIRST),
        &config(Role::Server, AES128, GCM_FIRST),
    );
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![22],
        vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
        vec![23; 40],
        vec![0xff; 2000],
        vec![0; 70_000],
    ];
    for g in &garbage {
        s.handle_datagram(g);
    }
    c.drive().unwrap();
    for _ in 0..16 {
        for g in &garbage {
            c.handle_datagram(g);
            s.handle_datagram(g);
        }
        if exchange(&mut c, &mut s) == 0 {
            break;
        }
    }
    assert!(c.is_established() && s.is_established(), "{c:?} {s:?}");
    for g in &garbage {
        c.handle_datagram(g);
    }
    s.write_app(b"still alive").unwrap();
    while exchange(&mut c, &mut s) > 0 {}
    assert_eq!(c.read_app().as_deref(), Some(&b"still alive"[..]));
    assert_eq!(c.failed(), None);
}

#[test]
fn app_data_before_handshake_is_refused() {
    let mut c = OpensslDtls::new(&config(Role::Client, AES128, GCM_FIRST)).unwrap();
    assert!(c.write_app(b"early").is_err());
    assert_eq!(c.version(), None);
    assert_eq!(c.cipher_name(), None);
    assert_eq!(c.srtp_profile(), None);
    assert_eq!(c.peer_certificate_der(), None);
    assert_eq!(c.timeout(), None, "no timer before the first flight");
}

/// The one test that waits for OpenSSL's real 1 s retransmission timer.
#[test]
fn lost_client_hello_is_retransmitted_on_timeout() {
    let (mut c, mut s) = pair(
        &config(Role::Client, AES128, GCM_FIRST),
        &config(Role::Server, AES128, GCM_FIRST),
    );
    c.drive().unwrap();
    let lost = c.poll_transmit().unwrap();
    let timeout = c.timeout().expect("timer armed with a flight outstanding");
    assert!(timeout <= Duration::from_secs(1), "{timeout:?}");

    c.handle_timeout();
    assert_eq!(
        c.poll_transmit(),
        None,
        "no retransmission before the timer fires"
    );

    let deadline = Instant::now() + timeout;
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    while c.timeout() != Some(Duration::ZERO) {
        std::thread::sleep(Duration::from_millis(5));
    }
    c.handle_timeout();
    let again = c.poll_transmit().expect("retransmitted ClientHello");
    assert_eq!(records(&again)[0].2[0], 1, "a ClientHello");
    // Same message, next record sequence number.
    assert_eq!(again.len(), lost.len());
    assert_ne!(again, lost);
    // The timer backs off (doubles) after a retransmission.
    assert!(c.timeout().unwrap() > Duration::from_secs(1));

    s.handle_datagram(&again);
    while exchange(&mut c, &mut s) > 0 {}
    assert!(c.is_established() && s.is_established());
}

fn groups_run(client_groups: &str, server_groups: &str) -> Result<(String, String), String> {
    let mut client = config(Role::Client, AES128, GCM_FIRST);
    let mut server = config(Role::Server, AES128, GCM_FIRST);
    client.groups = client_groups.into();
    server.groups = server_groups.into();
    let (mut c, mut s) = pair(&client, &server);
    handshake(&mut c, &mut s)?;
    Ok((
        c.key_exchange_group().unwrap(),
        s.key_exchange_group().unwrap(),
    ))
}

#[test]
fn key_exchange_group_follows_the_groups_lists() {
    let x = ("X25519".to_string(), "X25519".to_string());
    let p = ("prime256v1".to_string(), "prime256v1".to_string());
    assert_eq!(groups_run("X25519:P-256", "X25519:P-256"), Ok(x.clone()));
    assert_eq!(groups_run("P-256", "P-256"), Ok(p.clone()));
    assert_eq!(groups_run("P-256:X25519", "P-256:X25519"), Ok(p.clone()));
    // OpenSSL's server takes the client's most preferred group it supports.
    assert_eq!(groups_run("X25519:P-256", "P-256:X25519"), Ok(x));
    assert_eq!(groups_run("P-256:X25519", "X25519:P-256"), Ok(p));
}

#[test]
fn x25519_only_client_rules_out_an_ecdsa_p256_certificate() {
    // TLS 1.2 (RFC 8422 5.1): a server's ECDSA certificate must be on a curve
    // the client lists in supported_groups; "X25519" alone lists none.
    let mut client = config(Role::Client, AES128, GCM_FIRST);
    let mut server = config(Role::Server, AES128, GCM_FIRST);
    client.groups = "X25519".into();
    server.groups = "X25519".into();
    let (mut c, mut s) = pair(&client, &server);
    assert!(handshake(&mut c, &mut s).is_err());
    let server_err = s.failed().unwrap();
    assert!(server_err.contains("no shared cipher"), "{server_err}");
    let client_err = c.failed().unwrap();
    assert!(
        client_err.contains("alert handshake failure"),
        "{client_err}"
    );
}

#[test]
fn one_context_serves_many_endpoints() {
    let client = config(Role::Client, AES128, GCM_FIRST);
    let server = config(Role::Server, AES128, GCM_FIRST);
    let (cc, sc) = (
        OpensslDtls::context(&client).unwrap(),
        OpensslDtls::context(&server).unwrap(),
    );
    let mut keys = Vec::new();
    for _ in 0..3 {
        let mut c = OpensslDtls::with_context(&cc, &client).unwrap();
        let mut s = OpensslDtls::with_context(&sc, &server).unwrap();
        handshake(&mut c, &mut s).unwrap();
        let k = c.export_srtp_keying_material(56);
        assert_eq!(k, s.export_srtp_keying_material(56));
        keys.push(k);
    }
    // Full handshakes every time (no resumption): fresh keys.
    assert!(keys[0] != keys[1] && keys[1] != keys[2]);
}

/// OpenSSL buffers a flight's records and writes them as one datagram while
/// they fit the MTU: a DTLS implementation talking to it must take several
/// records per datagram. No NewSessionTicket (tickets are off).
#[test]
fn each_flight_is_one_datagram_of_several_records() {
    let (mut c, mut s) = pair(
        &config(Role::Client, AES128, GCM_FIRST),
        &config(Role::Server, AES128, GCM_FIRST),
    );
    c.drive().unwrap();
    let mut wire = Vec::new(); // (from client, [(content type, epoch, handshake type)])
    while exchange_observed(&mut c, &mut s, |from_client, d| {
        let recs = records(d)
            .iter()
            .map(|&(ct, epoch, body)| (ct, epoch, if epoch == 0 { body[0] } else { 0 }))
            .collect::<Vec<_>>();
        wire.push((from_client, recs));
    }) > 0
    {}
    assert!(c.is_established() && s.is_established());
    let hs = |t| (HANDSHAKE, 0, t);
    let ccs = (20, 0, 1);
    let finished = (HANDSHAKE, 1, 0); // encrypted under epoch 1
    assert_eq!(
        wire,
        vec![
            (true, vec![hs(1)]),                                  // ClientHello
            (false, vec![hs(2), hs(11), hs(12), hs(13), hs(14)]), // ServerHello..ServerHelloDone
            (true, vec![hs(11), hs(16), hs(15), ccs, finished]),  // Certificate..Finished
            (false, vec![ccs, finished]),                         // ChangeCipherSpec, Finished
        ]
    );
}

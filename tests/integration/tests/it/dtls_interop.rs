//! meshrtc-dtls against OpenSSL 3.0's DTLS 1.2: our client with an OpenSSL
//! server and our server with an OpenSSL client, in memory, over loopback
//! UDP and on the simulator; both cipher suites, both SRTP preference
//! orders, cookie exchange, and a wrong fingerprint. The exported DTLS-SRTP
//! keying material must be byte-identical on both sides. Our client for
//! both DTLS versions falls back to OpenSSL's 1.2 within one handshake.

use std::net::UdpSocket;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use meshrtc_dtls::cipher::Suite;
use meshrtc_dtls::v13::{AnyDtls, CommonEvent, Versions};
use meshrtc_dtls::{
    Certificate, CloseReason, Config, Connected, Dtls, Endpoint as DtlsEndpoint, Error, Event,
    Fingerprint, SrtpProfileId,
};
use meshrtc_integration::openssl_dtls::{
    self_signed_p256, OpensslDtls, OpensslDtlsConfig, Role as OsslRole,
};
use meshrtc_netsim::LinkConfig;

use super::dtls_netsim::{pair, Endpoint, Ours};

const GCM_FIRST: &str = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";
const CM_FIRST: &str = "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM";

struct Keys {
    ours: Certificate,
    ossl_pem: (String, String),
    ossl_fp: Fingerprint,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let (cert, key) = self_signed_p256("openssl").unwrap();
        let der = openssl::x509::X509::from_pem(cert.as_bytes())
            .unwrap()
            .to_der()
            .unwrap();
        Keys {
            ours: Certificate::generate("meshrtc").unwrap(),
            ossl_fp: Fingerprint::of_der(&der),
            ossl_pem: (cert, key),
        }
    })
}

fn ossl_config(role: OsslRole, suite: Suite, srtp: &str) -> OpensslDtlsConfig {
    let k = keys();
    let mut c = OpensslDtlsConfig::webrtc(role, k.ossl_pem.0.clone(), k.ossl_pem.1.clone());
    c.cipher_list = match suite {
        Suite::EcdheEcdsaAes128GcmSha256 => "ECDHE-ECDSA-AES128-GCM-SHA256".into(),
        Suite::EcdheEcdsaAes256GcmSha384 => "ECDHE-ECDSA-AES256-GCM-SHA384".into(),
    };
    c.srtp_profiles = srtp.into();
    c
}

fn our_config(suite: Suite, srtp_gcm_first: bool) -> Config {
    let k = keys();
    let mut c = Config::new(k.ours.clone());
    c.remote_fingerprint = Some(k.ossl_fp);
    c.suites = vec![suite];
    c.srtp_profiles = if srtp_gcm_first {
        vec![
            SrtpProfileId::AEAD_AES_128_GCM,
            SrtpProfileId::AES128_CM_SHA1_80,
        ]
    } else {
        vec![
            SrtpProfileId::AES128_CM_SHA1_80,
            SrtpProfileId::AEAD_AES_128_GCM,
        ]
    };
    c
}

fn connected(events: &[Event]) -> Option<&Connected> {
    events.iter().find_map(|e| match e {
        Event::Connected(c) => Some(&**c),
        _ => None,
    })
}

/// Steps ours and OpenSSL's in memory until both are up (or 64 rounds).
fn run<O: DtlsEndpoint>(ours: &mut O, ossl: &mut OpensslDtls, events: &mut Vec<O::Event>) {
    let now = Instant::now();
    let _ = ossl.drive();
    for _ in 0..64 {
        let mut moved = 0;
        while let Some(d) = ours.poll_transmit() {
            ossl.handle_datagram(&d);
            moved += 1;
        }
        while let Some(d) = ossl.poll_transmit() {
            let _ = ours.handle_datagram(now, &d);
            moved += 1;
        }
        while let Some(e) = ours.poll_event() {
            events.push(e);
        }
        if moved == 0 {
            break;
        }
    }
}

fn check_agreement(c: &Connected, ossl: &OpensslDtls, suite: Suite, profile: SrtpProfileId) {
    assert_eq!(ossl.version().as_deref(), Some("DTLSv1.2"));
    assert_eq!(c.suite, suite);
    assert_eq!(ossl.srtp_profile(), Some(profile.0));
    let keys = c.srtp.as_ref().expect("srtp keys");
    assert_eq!(keys.profile, profile);
    let theirs = ossl.export_srtp_keying_material(keys.exported.len());
    assert_eq!(
        keys.exported, theirs,
        "exported keying material is byte-identical"
    );
    assert_eq!(c.peer_certificate, openssl_der());
    assert_eq!(
        ossl.peer_certificate_der().as_deref(),
        Some(keys_ours_der())
    );
}

fn openssl_der() -> Vec<u8> {
    openssl::x509::X509::from_pem(keys().ossl_pem.0.as_bytes())
        .unwrap()
        .to_der()
        .unwrap()
}

fn keys_ours_der() -> &'static [u8] {
    keys().ours.der()
}

fn app_data_both_ways(ours: &mut Dtls, ossl: &mut OpensslDtls, events: &mut Vec<Event>) {
    let now = Instant::now();
    ours.send_application_data(b"from meshrtc").unwrap();
    while let Some(d) = ours.poll_transmit() {
        ossl.handle_datagram(&d);
    }
    assert_eq!(ossl.read_app().as_deref(), Some(&b"from meshrtc"[..]));
    ossl.write_app(b"from openssl").unwrap();
    while let Some(d) = ossl.poll_transmit() {
        ours.handle_datagram(now, &d).unwrap();
    }
    while let Some(e) = ours.poll_event() {
        events.push(e);
    }
    assert!(events.contains(&Event::ApplicationData(b"from openssl".to_vec())));
    // close_notify both ways.
    ours.close();
    while let Some(d) = ours.poll_transmit() {
        ossl.handle_datagram(&d);
    }
    assert!(ossl.received_close_notify());
}

#[test]
fn our_client_with_openssl_server_every_suite_and_srtp_order() {
    for suite in [
        Suite::EcdheEcdsaAes128GcmSha256,
        Suite::EcdheEcdsaAes256GcmSha384,
    ] {
        for (server_order, want) in [
            (GCM_FIRST, SrtpProfileId::AEAD_AES_128_GCM),
            (CM_FIRST, SrtpProfileId::AES128_CM_SHA1_80),
        ] {
            for client_gcm_first in [true, false] {
                let mut ossl =
                    OpensslDtls::new(&ossl_config(OsslRole::Server, suite, server_order)).unwrap();
                let mut ours = Dtls::client(our_config(suite, client_gcm_first), Instant::now());
                let mut events = Vec::new();
                run(&mut ours, &mut ossl, &mut events);
                assert!(ossl.failed().is_none(), "{:?}", ossl.failed());
                let c = connected(&events)
                    .unwrap_or_else(|| panic!("{suite:?} {server_order}: {events:?}"))
                    .clone();
                // OpenSSL as server: its order decides.
                check_agreement(&c, &ossl, suite, want);
                app_data_both_ways(&mut ours, &mut ossl, &mut events);
            }
        }
    }
}

#[test]
fn openssl_client_with_our_server_every_suite_and_srtp_order() {
    for suite in [
        Suite::EcdheEcdsaAes128GcmSha256,
        Suite::EcdheEcdsaAes256GcmSha384,
    ] {
        for (ours_gcm_first, want) in [
            (true, SrtpProfileId::AEAD_AES_128_GCM),
            (false, SrtpProfileId::AES128_CM_SHA1_80),
        ] {
            for client_order in [GCM_FIRST, CM_FIRST] {
                let mut ossl =
                    OpensslDtls::new(&ossl_config(OsslRole::Client, suite, client_order)).unwrap();
                let mut ours = Dtls::server(our_config(suite, ours_gcm_first), Instant::now());
                let mut events = Vec::new();
                run(&mut ours, &mut ossl, &mut events);
                assert!(ossl.failed().is_none(), "{:?}", ossl.failed());
                let c = connected(&events)
                    .unwrap_or_else(|| panic!("{suite:?} {client_order}: {events:?}"))
                    .clone();
                // We are the server: our order decides.
                check_agreement(&c, &ossl, suite, want);
                app_data_both_ways(&mut ours, &mut ossl, &mut events);
            }
        }
    }
}

#[test]
fn groups_x25519_and_p256_against_openssl() {
    use meshrtc_dtls::kx::Group;
    for group in [Group::X25519, Group::Secp256r1] {
        // Our client lists only `group` (plus P-256, which OpenSSL needs to
        // pick its ECDSA P-256 certificate, when the group is x25519 the
        // client's order still puts it first).
        let mut cfg = our_config(Suite::EcdheEcdsaAes128GcmSha256, true);
        cfg.groups = if group == Group::X25519 {
            vec![Group::X25519, Group::Secp256r1]
        } else {
            vec![Group::Secp256r1]
        };
        let mut ossl = OpensslDtls::new(&ossl_config(
            OsslRole::Server,
            Suite::EcdheEcdsaAes128GcmSha256,
            GCM_FIRST,
        ))
        .unwrap();
        let mut ours = Dtls::client(cfg, Instant::now());
        let mut events = Vec::new();
        run(&mut ours, &mut ossl, &mut events);
        let c = connected(&events).expect("connected");
        assert_eq!(c.group, group);
        let want = if group == Group::X25519 {
            "X25519"
        } else {
            "prime256v1"
        };
        assert_eq!(ossl.key_exchange_group().as_deref(), Some(want));

        // And our server choosing for an OpenSSL client.
        let mut scfg = our_config(Suite::EcdheEcdsaAes128GcmSha256, true);
        scfg.groups = vec![group];
        let mut ossl = OpensslDtls::new(&ossl_config(
            OsslRole::Client,
            Suite::EcdheEcdsaAes128GcmSha256,
            GCM_FIRST,
        ))
        .unwrap();
        let mut ours = Dtls::server(scfg, Instant::now());
        let mut events = Vec::new();
        run(&mut ours, &mut ossl, &mut events);
        assert_eq!(connected(&events).expect("connected").group, group);
    }
}

#[test]
fn cookie_exchange_both_ways_with_openssl() {
    // OpenSSL server demanding a cookie from our client.
    let mut cfg = ossl_config(
        OsslRole::Server,
        Suite::EcdheEcdsaAes128GcmSha256,
        GCM_FIRST,
    );
    cfg.cookie_exchange = true;
    let mut ossl = OpensslDtls::new(&cfg).unwrap();
    let mut ours = Dtls::client(
        our_config(Suite::EcdheEcdsaAes128GcmSha256, true),
        Instant::now(),
    );
    let mut events = Vec::new();
    run(&mut ours, &mut ossl, &mut events);
    let c = connected(&events)
        .expect("connected after a cookie")
        .clone();
    check_agreement(
        &c,
        &ossl,
        Suite::EcdheEcdsaAes128GcmSha256,
        SrtpProfileId::AEAD_AES_128_GCM,
    );
    assert_eq!(ours.stats().hello_verify_requests, 1);

    // Our server demanding one from an OpenSSL client.
    let mut scfg = our_config(Suite::EcdheEcdsaAes128GcmSha256, true);
    scfg.cookie_exchange = true;
    let mut ossl = OpensslDtls::new(&ossl_config(
        OsslRole::Client,
        Suite::EcdheEcdsaAes128GcmSha256,
        GCM_FIRST,
    ))
    .unwrap();
    let mut ours = Dtls::server(scfg, Instant::now());
    let mut events = Vec::new();
    run(&mut ours, &mut ossl, &mut events);
    let c = connected(&events)
        .unwrap_or_else(|| panic!("{events:?} {:?} {:?}", ossl.failed(), ours.stats()))
        .clone();
    check_agreement(
        &c,
        &ossl,
        Suite::EcdheEcdsaAes128GcmSha256,
        SrtpProfileId::AEAD_AES_128_GCM,
    );
    assert_eq!(ours.stats().hello_verify_requests, 1);
}

#[test]
fn openssl_certificate_with_the_wrong_fingerprint_is_refused_with_bad_certificate() {
    let mut cfg = our_config(Suite::EcdheEcdsaAes128GcmSha256, true);
    cfg.remote_fingerprint = Some(*keys().ours.fingerprint()); // not OpenSSL's
    let mut ossl = OpensslDtls::new(&ossl_config(
        OsslRole::Client,
        Suite::EcdheEcdsaAes128GcmSha256,
        GCM_FIRST,
    ))
    .unwrap();
    let mut ours = Dtls::server(cfg, Instant::now());
    let mut events = Vec::new();
    run(&mut ours, &mut ossl, &mut events);
    assert!(connected(&events).is_none());
    assert!(matches!(
        events.last(),
        Some(Event::Closed(CloseReason::Error(
            Error::FingerprintMismatch { .. }
        )))
    ));
    let why = ossl.failed().expect("OpenSSL failed too");
    assert!(why.contains("bad certificate"), "{why}");
}

/// One handshake over real UDP sockets on 127.0.0.1, each side on its own
/// thread with its own clock.
fn loopback(our_role_client: bool) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    }
    let role = if our_role_client {
        OsslRole::Server
    } else {
        OsslRole::Client
    };
    let ossl_cfg = ossl_config(role, Suite::EcdheEcdsaAes128GcmSha256, GCM_FIRST);
    let theirs = std::thread::spawn(move || {
        let mut ossl = OpensslDtls::new(&ossl_cfg).unwrap();
        let _ = ossl.drive();
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            while let Some(d) = ossl.poll_transmit() {
                b.send(&d).unwrap();
            }
            if ossl.is_established() {
                if let Some(msg) = ossl.read_app() {
                    ossl.write_app(&msg).unwrap();
                    while let Some(d) = ossl.poll_transmit() {
                        b.send(&d).unwrap();
                    }
                    return (ossl.export_srtp_keying_material(56), msg);
                }
            }
            match b.recv(&mut buf) {
                Ok(n) => ossl.handle_datagram(&buf[..n]),
                Err(_) => ossl.handle_timeout(),
            }
        }
        panic!("OpenSSL side timed out: {:?}", ossl.failed());
    });
    let cfg = our_config(Suite::EcdheEcdsaAes128GcmSha256, true);
    let start = Instant::now();
    let mut ours = if our_role_client {
        Dtls::client(cfg, start)
    } else {
        Dtls::server(cfg, start)
    };
    let mut buf = [0u8; 2048];
    let mut keys = None;
    let mut echoed = false;
    while Instant::now() < start + Duration::from_secs(10) && !echoed {
        while let Some(d) = ours.poll_transmit() {
            a.send(&d).unwrap();
        }
        while let Some(e) = ours.poll_event() {
            match e {
                Event::Connected(c) => {
                    keys = c.srtp.map(|k| k.exported);
                    ours.send_application_data(b"echo me").unwrap();
                }
                Event::ApplicationData(d) => {
                    assert_eq!(d, b"echo me");
                    echoed = true;
                }
                Event::Closed(r) => panic!("{r:?}"),
                _ => {}
            }
        }
        match a.recv(&mut buf) {
            Ok(n) => {
                let _ = ours.handle_datagram(Instant::now(), &buf[..n]);
            }
            Err(_) => ours.handle_timeout(Instant::now()),
        }
    }
    let (their_keys, msg) = theirs.join().unwrap();
    assert!(echoed, "application data echoed back");
    assert_eq!(msg, b"echo me");
    assert_eq!(keys.expect("keys"), their_keys);
}

#[test]
fn over_loopback_udp_our_client_and_openssl_server() {
    loopback(true);
}

#[test]
fn over_loopback_udp_openssl_client_and_our_server() {
    loopback(false);
}

/// OpenSSL as a simulator endpoint. Its retransmission timer runs on the
/// wall clock, so the simulated link reorders, delays and duplicates but
/// does not lose.
struct Theirs(OpensslDtls);

impl Endpoint for Theirs {
    fn input(&mut self, _now: Instant, datagram: &[u8]) {
        self.0.handle_datagram(datagram);
    }
    fn timeout(&mut self, _now: Instant) {}
    fn next_timeout(&mut self) -> Option<Instant> {
        None
    }
    fn output(&mut self) -> Option<Vec<u8>> {
        self.0.poll_transmit()
    }
    fn keys(&self) -> Option<Vec<u8>> {
        self.0
            .is_established()
            .then(|| self.0.export_srtp_keying_material(56))
    }
    fn failure(&self) -> Option<String> {
        self.0.failed()
    }
}

#[test]
fn on_the_simulator_with_reordering_and_duplication_both_roles() {
    let link = LinkConfig {
        latency: Duration::from_millis(15),
        jitter: Duration::from_millis(20),
        duplicate: 0.2,
        reorder: 0.3,
        reorder_delay: Duration::from_millis(30),
        mtu: 1500,
        ..LinkConfig::default()
    };
    for (seed, our_client) in [(1u64, true), (2, false), (3, true), (4, false)] {
        let (mut sim, a, b) = pair(seed, link.clone(), |now| {
            let cfg = our_config(Suite::EcdheEcdsaAes128GcmSha256, true);
            let (dtls, role) = if our_client {
                (Dtls::client(cfg, now), OsslRole::Server)
            } else {
                (Dtls::server(cfg, now), OsslRole::Client)
            };
            let mut ossl = OpensslDtls::new(&ossl_config(
                role,
                Suite::EcdheEcdsaAes128GcmSha256,
                GCM_FIRST,
            ))
            .unwrap();
            let _ = ossl.drive();
            let ours: Box<dyn Endpoint> = Box::new(Ours {
                dtls,
                events: Vec::new(),
            });
            (ours, Box::new(Theirs(ossl)) as Box<dyn Endpoint>)
        });
        sim.run_until(
            |s| s.node(a).ep.keys().is_some() && s.node(b).ep.keys().is_some(),
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| {
            panic!(
                "seed {seed}: {e:?} {:?} {:?}",
                sim.node(a).ep.failure(),
                sim.node(b).ep.failure()
            )
        });
        assert_eq!(sim.node(a).ep.keys(), sim.node(b).ep.keys(), "seed {seed}");
    }
}

/// A client of ours for DTLS 1.2 and 1.3 (its one ClientHello offers both,
/// with the X25519MLKEM768 share, so two datagrams) falls back to 1.2
/// with an OpenSSL 3.0 server, which speaks only 1.2, within the same
/// handshake: with and without a HelloVerifyRequest first. OpenSSL checks
/// the transcript (the Finished messages), and the SRTP keys are equal.
#[test]
fn our_client_for_both_versions_falls_back_to_an_openssl_12_server() {
    for cookie in [false, true] {
        let mut cfg = ossl_config(
            OsslRole::Server,
            Suite::EcdheEcdsaAes128GcmSha256,
            GCM_FIRST,
        );
        cfg.cookie_exchange = cookie;
        let mut ossl = OpensslDtls::new(&cfg).unwrap();
        let mut config = our_config(Suite::EcdheEcdsaAes128GcmSha256, true);
        config.versions = Versions::Both;
        config.x25519mlkem768 = true;
        let mut ours = AnyDtls::client(config, Instant::now());
        let _ = ossl.drive();
        let first: Vec<Vec<u8>> = std::iter::from_fn(|| ours.poll_transmit()).collect();
        assert_eq!(
            first.len(),
            2,
            "the hybrid share makes the hello two datagrams"
        );
        for d in &first {
            ossl.handle_datagram(d);
        }
        let mut events = Vec::new();
        run(&mut ours, &mut ossl, &mut events);
        let negotiated = events.into_iter().find_map(|e| match e.common() {
            CommonEvent::Connected(n) => Some(n),
            _ => None,
        });
        let n = negotiated.unwrap_or_else(|| panic!("cookie {cookie}: {:?}", ossl.failed()));
        assert_eq!(ours.version(), Some(0xfefd));
        assert_eq!(ossl.version().as_deref(), Some("DTLSv1.2"));
        assert_eq!(n.cipher, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
        let keys = n.srtp.expect("srtp keys");
        assert_eq!(
            keys.exported,
            ossl.export_srtp_keying_material(keys.exported.len()),
            "cookie {cookie}"
        );
        let AnyDtls::V12(d) = &ours else { panic!() };
        assert_eq!(d.stats().hello_verify_requests, u64::from(cookie));
    }
}

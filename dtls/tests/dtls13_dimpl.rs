//! DTLS 1.3 against an independent implementation: the `dimpl` crate
//! (sans-IO DTLS 1.2/1.3, RustCrypto provider), in memory with a virtual
//! clock, in both roles, with X25519 and P-256 and every suite both
//! support; the exported DTLS-SRTP keys must be byte-identical.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dimpl::crypto::{Dtls13CipherSuite, NamedGroup};
use dimpl::{DtlsCertificate, Output};
use meshrtc_dtls::kx::Group;
use meshrtc_dtls::v13::record::CipherSuite13;
use meshrtc_dtls::v13::{Dtls13, Event13};
use meshrtc_dtls::{Certificate, Config, Fingerprint};

struct Theirs {
    dtls: dimpl::Dtls,
    connected: bool,
    keying: Option<Vec<u8>>,
    peer_cert: Option<Vec<u8>>,
    app: Vec<Vec<u8>>,
    timeout: Option<Instant>,
}

impl Theirs {
    fn new(
        server: bool,
        suite: CipherSuite13,
        group: Group,
        cert: &Certificate,
        now: Instant,
    ) -> Theirs {
        let config = dimpl::Config::builder()
            .dtls13_cipher_suites(&[Dtls13CipherSuite::from_u16(suite.id())])
            .kx_groups(&[match group {
                Group::X25519 => NamedGroup::X25519,
                Group::Secp256r1 => NamedGroup::Secp256r1,
            }])
            .dangerously_set_rng_seed(7)
            .build()
            .unwrap();
        let cert = DtlsCertificate {
            certificate: cert.der().to_vec(),
            private_key: cert.pkcs8().to_vec(),
        };
        let mut dtls = dimpl::Dtls::new_13(Arc::new(config), cert, now);
        dtls.set_active(!server);
        // dimpl draws its random on the first timer call.
        dtls.handle_timeout(now).unwrap();
        Theirs {
            dtls,
            connected: false,
            keying: None,
            peer_cert: None,
            app: Vec::new(),
            timeout: None,
        }
    }

    fn drain(&mut self, out: &mut Vec<Vec<u8>>) {
        let mut buf = vec![0u8; 4096];
        loop {
            match self.dtls.poll_output(&mut buf) {
                Output::Packet(p) => out.push(p.to_vec()),
                Output::BufferTooSmall { needed } => buf.resize(needed, 0),
                Output::Timeout(t) => {
                    self.timeout = Some(t);
                    break;
                }
                Output::Connected => self.connected = true,
                Output::PeerCert(c) => self.peer_cert = Some(c.to_vec()),
                Output::KeyingMaterial(k, _profile) => self.keying = Some(k.to_vec()),
                Output::ApplicationData(d) => self.app.push(d.to_vec()),
                _ => {}
            }
        }
    }
}

struct Run {
    ours: Dtls13,
    theirs: Theirs,
    now: Instant,
    events: Vec<Event13>,
}

impl Run {
    fn new(
        ours_is_client: bool,
        suite: CipherSuite13,
        group: Group,
        our_groups: Vec<Group>,
    ) -> Run {
        let now = Instant::now();
        let (mine, other) = (
            Certificate::generate("meshrtc").unwrap(),
            Certificate::generate("dimpl").unwrap(),
        );
        let mut c = Config::new(mine);
        c.remote_fingerprint = Some(Fingerprint::of_der(other.der()));
        c.suites13 = vec![suite];
        c.groups = our_groups;
        c.rng_seed = Some([3; 32]);
        c.initial_rto = Duration::from_millis(400);
        let ours = if ours_is_client {
            Dtls13::client(c, now)
        } else {
            Dtls13::server(c, now)
        };
        let theirs = Theirs::new(ours_is_client, suite, group, &other, now);
        Run {
            ours,
            theirs,
            now,
            events: Vec::new(),
        }
    }

    /// Steps both until both connected, dropping datagrams `drop` picks;
    /// the clock jumps to the earliest timer when nothing moves.
    fn drive(&mut self, mut drop: impl FnMut(bool, &[u8]) -> bool, max_steps: usize) {
        for _ in 0..max_steps {
            let mut moved = false;
            while let Some(d) = self.ours.poll_transmit() {
                moved = true;
                if !drop(true, &d) {
                    let _ = self.theirs.dtls.handle_packet(&d);
                }
            }
            let mut out = Vec::new();
            self.theirs.drain(&mut out);
            for d in out {
                moved = true;
                if !drop(false, &d) {
                    let _ = self.ours.handle_datagram(self.now, &d);
                }
            }
            while let Some(e) = self.ours.poll_event() {
                self.events.push(e);
            }
            if self.ours.is_closed() {
                panic!("we closed: {:?}", self.events);
            }
            if self.ours.is_connected() && self.theirs.connected && !moved {
                return;
            }
            if !moved {
                let t = [self.ours.poll_timeout(), self.theirs.timeout]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap();
                self.now = self.now.max(t);
                self.ours.handle_timeout(self.now);
                self.theirs.dtls.handle_timeout(self.now).unwrap();
            }
        }
        panic!(
            "no handshake after {max_steps} steps: {:?} {:?}",
            self.ours.stats(),
            self.events
        );
    }

    fn check_connected(&mut self, suite: CipherSuite13, group: Group) {
        let c = self
            .events
            .iter()
            .find_map(|e| match e {
                Event13::Connected(c) => Some(c.clone()),
                _ => None,
            })
            .expect("we connected");
        assert_eq!((c.version, c.suite, c.group), (0xfefc, suite, group.into()));
        let ours = c.srtp.expect("use_srtp agreed").exported;
        let theirs = self.theirs.keying.clone().expect("dimpl exported keys");
        assert_eq!(ours, theirs, "DTLS-SRTP keys differ");
        assert!(self.theirs.peer_cert.is_some(), "dimpl saw our certificate");
        // Application data both ways.
        self.ours.send_application_data(b"from meshrtc").unwrap();
        self.theirs
            .dtls
            .send_application_data(b"from dimpl")
            .unwrap();
        self.drive(|_, _| false, 20);
        assert!(self.theirs.app.iter().any(|d| d == b"from meshrtc"));
        assert!(self
            .events
            .contains(&Event13::ApplicationData(b"from dimpl".to_vec())));
    }
}

const SUITES: [CipherSuite13; 3] = [
    CipherSuite13::Aes128GcmSha256,
    CipherSuite13::Aes256GcmSha384,
    CipherSuite13::Chacha20Poly1305Sha256,
];

#[test]
fn meshrtc_client_with_dimpl_server_every_suite_x25519_and_p256() {
    for suite in SUITES {
        for group in [Group::X25519, Group::Secp256r1] {
            let mut r = Run::new(true, suite, group, vec![group]);
            r.drive(|_, _| false, 200);
            r.check_connected(suite, group);
        }
    }
}

#[test]
fn dimpl_client_with_meshrtc_server_every_suite_x25519_and_p256() {
    for suite in SUITES {
        for group in [Group::X25519, Group::Secp256r1] {
            let mut r = Run::new(false, suite, group, vec![Group::X25519, Group::Secp256r1]);
            r.drive(|_, _| false, 200);
            r.check_connected(suite, group);
        }
    }
}

#[test]
fn hello_retry_request_moves_our_client_to_the_group_dimpl_wants() {
    // We share X25519 first; dimpl takes only P-256 and asks again (its
    // HelloRetryRequest also carries its cookie).
    let suite = CipherSuite13::Aes128GcmSha256;
    let mut r = Run::new(
        true,
        suite,
        Group::Secp256r1,
        vec![Group::X25519, Group::Secp256r1],
    );
    r.drive(|_, _| false, 200);
    r.check_connected(suite, Group::Secp256r1);
}

/// A deterministic 30% drop of datagrams in both directions.
fn lossy(seed: u64) -> impl FnMut(bool, &[u8]) -> bool {
    let mut x = seed;
    move |_, _| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 100 < 30
    }
}

#[test]
fn handshake_with_dimpl_survives_30_percent_loss_in_both_roles() {
    let suite = CipherSuite13::Aes128GcmSha256;
    let (mut dropped, mut sent, mut retransmissions) = (0, 0, 0);
    for seed in 1..=4u64 {
        for ours_is_client in [true, false] {
            let mut r = Run::new(ours_is_client, suite, Group::X25519, vec![Group::X25519]);
            let mut lose = lossy(seed * 7919);
            r.drive(
                |a, d| {
                    sent += 1;
                    let drop = lose(a, d);
                    dropped += usize::from(drop);
                    drop
                },
                2000,
            );
            retransmissions += r.ours.stats().retransmissions;
            // Loss-free from here: data both ways and identical keys.
            r.check_connected(suite, Group::X25519);
        }
    }
    assert!(dropped * 100 >= sent * 20, "{dropped} of {sent} dropped");
    assert!(retransmissions >= 4, "{retransmissions} retransmissions");
}

#[test]
fn our_hybrid_offer_falls_back_to_x25519_with_dimpl_which_has_no_ml_kem() {
    // The ClientHello carries X25519MLKEM768 first (1216 bytes, so two
    // datagrams) and an X25519 share; dimpl picks X25519.
    let suite = CipherSuite13::Aes128GcmSha256;
    let now = Instant::now();
    let (mine, other) = (
        Certificate::generate("meshrtc").unwrap(),
        Certificate::generate("dimpl").unwrap(),
    );
    let mut c = Config::new(mine);
    c.remote_fingerprint = Some(Fingerprint::of_der(other.der()));
    c.suites13 = vec![suite];
    c.groups = vec![Group::X25519];
    c.x25519mlkem768 = true;
    c.rng_seed = Some([4; 32]);
    let mut r = Run {
        ours: Dtls13::client(c, now),
        theirs: Theirs::new(true, suite, Group::X25519, &other, now),
        now,
        events: Vec::new(),
    };
    r.drive(|_, _| false, 200);
    r.check_connected(suite, Group::X25519);
}

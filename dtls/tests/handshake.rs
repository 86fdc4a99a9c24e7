//! Our client against our server, in memory: every suite and group, the
//! cookie exchange, fragmentation, loss, the fingerprint check, bad input,
//! and Chromium's captured ClientHello answered with DTLS 1.2.

use std::time::{Duration, Instant};

use meshrtc_dtls::cipher::Suite;
use meshrtc_dtls::handshake::{fragments, HandshakeType, Reassembler};
use meshrtc_dtls::hello::ext;
use meshrtc_dtls::kx::Group;
use meshrtc_dtls::messages::{self, ServerHello, ServerKeyExchange};
use meshrtc_dtls::record::{records, ContentType};
use meshrtc_dtls::{
    cert, Certificate, CloseReason, Config, Connected, Dtls, Error, Event, Fingerprint,
    SrtpProfileId,
};

fn certs() -> (Certificate, Certificate) {
    (
        Certificate::generate("client").unwrap(),
        Certificate::generate("server").unwrap(),
    )
}

fn configs(c: &Certificate, s: &Certificate) -> (Config, Config) {
    let mut cc = Config::new(c.clone());
    cc.remote_fingerprint = Some(*s.fingerprint());
    cc.rng_seed = Some([1; 32]);
    let mut sc = Config::new(s.clone());
    sc.remote_fingerprint = Some(*c.fingerprint());
    sc.rng_seed = Some([2; 32]);
    (cc, sc)
}

/// A tiny deterministic generator for loss decisions.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Both sides and a lossy, reordering, duplicating wire between them.
struct Pair {
    client: Dtls,
    server: Dtls,
    now: Instant,
    client_events: Vec<Event>,
    server_events: Vec<Event>,
    /// In flight: (deliver at, to server?, datagram).
    wire: Vec<(Instant, bool, Vec<u8>)>,
    loss: u64,
    dup: u64,
    jitter_ms: u64,
    rng: Lcg,
    /// Every datagram each side sent, in order.
    client_sent: Vec<Vec<u8>>,
    server_sent: Vec<Vec<u8>>,
}

impl Pair {
    fn new(cc: Config, sc: Config) -> Pair {
        let now = Instant::now();
        Pair {
            client: Dtls::client(cc, now),
            server: Dtls::server(sc, now),
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
            wire: Vec::new(),
            loss: 0,
            dup: 0,
            jitter_ms: 0,
            rng: Lcg(7),
            client_sent: Vec::new(),
            server_sent: Vec::new(),
        }
    }

    fn collect(&mut self) {
        while let Some(d) = self.client.poll_transmit() {
            self.client_sent.push(d.clone());
            self.put(true, d);
        }
        while let Some(d) = self.server.poll_transmit() {
            self.server_sent.push(d.clone());
            self.put(false, d);
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
    }

    fn put(&mut self, to_server: bool, d: Vec<u8>) {
        let copies = if self.rng.chance(self.dup) { 2 } else { 1 };
        for _ in 0..copies {
            if self.rng.chance(self.loss) {
                continue;
            }
            let delay = 10
                + if self.jitter_ms > 0 {
                    self.rng.next() % self.jitter_ms
                } else {
                    0
                };
            self.wire.push((
                self.now + Duration::from_millis(delay),
                to_server,
                d.clone(),
            ));
        }
    }

    /// Runs until both are connected (or closed), or `limit` of virtual
    /// time passes. Returns the virtual time taken.
    fn run(&mut self, limit: Duration) -> Duration {
        let start = self.now;
        self.collect();
        for _ in 0..100_000 {
            let done = |e: &[Event]| {
                e.iter()
                    .any(|e| matches!(e, Event::Connected(_) | Event::Closed(_)))
            };
            if done(&self.client_events) && done(&self.server_events) && self.wire.is_empty() {
                break;
            }
            let next_wire = self.wire.iter().map(|w| w.0).min();
            let next_timer = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(t) = [next_wire, next_timer].into_iter().flatten().min() else {
                break;
            };
            if t - start > limit {
                break;
            }
            self.now = self.now.max(t);
            if let Some(i) = self.wire.iter().position(|w| w.0 <= self.now) {
                let (_, to_server, d) = self.wire.remove(i);
                if to_server {
                    let _ = self.server.handle_datagram(self.now, &d);
                } else {
                    let _ = self.client.handle_datagram(self.now, &d);
                }
            } else {
                self.client.handle_timeout(self.now);
                self.server.handle_timeout(self.now);
            }
            self.collect();
        }
        self.now - start
    }

    fn connected(events: &[Event]) -> Option<&Connected> {
        events.iter().find_map(|e| match e {
            Event::Connected(c) => Some(&**c),
            _ => None,
        })
    }

    fn closed(events: &[Event]) -> Option<&CloseReason> {
        events.iter().find_map(|e| match e {
            Event::Closed(r) => Some(r),
            _ => None,
        })
    }

    /// Delivers everything in flight now, both ways, until quiet.
    fn flush(&mut self) {
        for _ in 0..100 {
            self.collect();
            if self.wire.is_empty() {
                return;
            }
            for (_, to_server, d) in std::mem::take(&mut self.wire) {
                if to_server {
                    let _ = self.server.handle_datagram(self.now, &d);
                } else {
                    let _ = self.client.handle_datagram(self.now, &d);
                }
            }
        }
    }
}

fn assert_agree(p: &Pair, suite: Suite, group: Group) -> Connected {
    let c = Pair::connected(&p.client_events)
        .expect("client connected")
        .clone();
    let s = Pair::connected(&p.server_events)
        .expect("server connected")
        .clone();
    assert_eq!(c.suite, suite);
    assert_eq!(s.suite, suite);
    assert_eq!(c.group, group);
    assert_eq!(s.group, group);
    assert_eq!(c.version, 0xfefd);
    let (ck, sk) = (c.srtp.clone().unwrap(), s.srtp.clone().unwrap());
    assert_eq!(ck, sk, "both sides export the same SRTP keys");
    assert_eq!(ck.profile, SrtpProfileId::AEAD_AES_128_GCM);
    assert_eq!(ck.exported.len(), 56);
    assert_eq!(ck.client_key, ck.exported[..16]);
    assert_eq!(ck.server_key, ck.exported[16..32]);
    assert_eq!(ck.client_salt, ck.exported[32..44]);
    assert_eq!(ck.server_salt, ck.exported[44..]);
    assert_ne!(ck.client_key, ck.server_key);
    c
}

#[test]
fn handshake_completes_for_every_suite_and_group_and_data_flows_both_ways() {
    let (c, s) = certs();
    for suite in [
        Suite::EcdheEcdsaAes128GcmSha256,
        Suite::EcdheEcdsaAes256GcmSha384,
    ] {
        for group in [Group::X25519, Group::Secp256r1] {
            let (mut cc, mut sc) = configs(&c, &s);
            cc.suites = vec![suite];
            sc.groups = vec![group];
            let mut p = Pair::new(cc, sc);
            p.run(Duration::from_secs(5));
            let conn = assert_agree(&p, suite, group);
            assert_eq!(conn.peer_certificate, s.der());
            // One flight each way and no retransmission on a clean wire.
            assert_eq!(p.client.stats().retransmissions, 0);
            assert_eq!(p.server.stats().retransmissions, 0);
            assert_eq!(p.client.stats().flights_sent, 2);
            assert_eq!(p.server.stats().flights_sent, 2);

            p.client.send_application_data(b"ping").unwrap();
            p.server.send_application_data(b"pong").unwrap();
            p.flush();
            assert!(p
                .server_events
                .contains(&Event::ApplicationData(b"ping".to_vec())));
            assert!(p
                .client_events
                .contains(&Event::ApplicationData(b"pong".to_vec())));

            p.client.close();
            p.flush();
            assert_eq!(
                Pair::closed(&p.server_events),
                Some(&CloseReason::PeerClosed)
            );
            assert!(p.server.is_closed());
            assert_eq!(
                p.server.send_application_data(b"x"),
                Err(Error::NotConnected)
            );
        }
    }
}

#[test]
fn srtp_profile_follows_the_server_preference_among_the_offered() {
    let (c, s) = certs();
    let (mut cc, mut sc) = configs(&c, &s);
    cc.srtp_profiles = vec![
        SrtpProfileId::AES128_CM_SHA1_80,
        SrtpProfileId::AEAD_AES_128_GCM,
    ];
    sc.srtp_profiles = vec![
        SrtpProfileId::AEAD_AES_128_GCM,
        SrtpProfileId::AES128_CM_SHA1_80,
    ];
    let mut p = Pair::new(cc, sc);
    p.run(Duration::from_secs(5));
    let k = Pair::connected(&p.client_events)
        .unwrap()
        .srtp
        .clone()
        .unwrap();
    assert_eq!(k.profile, SrtpProfileId::AEAD_AES_128_GCM);

    let (mut cc, sc) = configs(&c, &s);
    cc.srtp_profiles = vec![SrtpProfileId::AES128_CM_SHA1_80];
    let mut p = Pair::new(cc, sc);
    p.run(Duration::from_secs(5));
    let k = Pair::connected(&p.server_events)
        .unwrap()
        .srtp
        .clone()
        .unwrap();
    assert_eq!(k.profile, SrtpProfileId::AES128_CM_SHA1_80);
    assert_eq!(k.exported.len(), 60);
    assert_eq!((k.client_key.len(), k.client_salt.len()), (16, 14));
}

#[test]
fn cookie_exchange_sends_a_hello_verify_request_first_and_keeps_no_state() {
    let (c, s) = certs();
    let (cc, mut sc) = configs(&c, &s);
    sc.cookie_exchange = true;
    let mut p = Pair::new(cc, sc);
    p.run(Duration::from_secs(5));
    assert_agree(&p, Suite::EcdheEcdsaAes128GcmSha256, Group::X25519);
    let first = &p.server_sent[0];
    let rec = records(first).next().unwrap().unwrap();
    assert_eq!(rec.content_type, ContentType::Handshake);
    let f = fragments(rec.fragment).next().unwrap().unwrap();
    assert_eq!(f.msg_type, HandshakeType::HelloVerifyRequest);
    // The HVR echoes the ClientHello's record sequence number (0).
    assert_eq!(rec.sequence, 0);
    assert_eq!(p.server.stats().hello_verify_requests, 1);
    assert_eq!(p.client.stats().hello_verify_requests, 1);
    // The client's second hello has message_seq 1 and carries the cookie.
    let second = &p.client_sent[1];
    let rec = records(second).next().unwrap().unwrap();
    let f = fragments(rec.fragment).next().unwrap().unwrap();
    assert_eq!((f.msg_type, f.message_seq), (HandshakeType::ClientHello, 1));
}

#[test]
fn flights_are_fragmented_to_the_mtu() {
    let (c, s) = certs();
    for mtu in [1200, 400, 256] {
        let (mut cc, mut sc) = configs(&c, &s);
        cc.mtu = mtu;
        sc.mtu = mtu;
        let mut p = Pair::new(cc, sc);
        p.run(Duration::from_secs(5));
        assert_agree(&p, Suite::EcdheEcdsaAes128GcmSha256, Group::X25519);
        let all = p.client_sent.iter().chain(&p.server_sent);
        assert!(all.clone().all(|d| d.len() <= mtu), "datagram over {mtu}");
        if mtu < 400 {
            // The certificate (about 400 bytes) had to be split.
            let split = p.server_sent.iter().flat_map(|d| records(d)).any(|r| {
                let r = r.unwrap();
                r.content_type == ContentType::Handshake
                    && r.epoch == 0
                    && fragments(r.fragment).any(|f| {
                        let f = f.unwrap();
                        f.msg_type == HandshakeType::Certificate && !f.is_whole()
                    })
            });
            assert!(split, "mtu {mtu}: certificate fragmented");
        }
    }
}

#[test]
fn handshake_survives_30_percent_loss_reordering_and_duplication() {
    let (c, s) = certs();
    let mut retransmissions = 0;
    for seed in 0..24 {
        let (mut cc, mut sc) = configs(&c, &s);
        for cfg in [&mut cc, &mut sc] {
            cfg.initial_rto = Duration::from_millis(100);
            cfg.max_rto = Duration::from_secs(2);
        }
        let mut p = Pair::new(cc, sc);
        p.rng = Lcg(seed);
        p.loss = 30;
        p.dup = 20;
        p.jitter_ms = 80;
        let took = p.run(Duration::from_secs(25));
        assert_agree(&p, Suite::EcdheEcdsaAes128GcmSha256, Group::X25519);
        assert!(took < Duration::from_secs(25), "seed {seed}");
        retransmissions += p.client.stats().retransmissions + p.server.stats().retransmissions;
    }
    assert!(retransmissions > 0, "loss caused retransmissions");
}

#[test]
fn an_entirely_lost_flight_is_retransmitted_on_the_timer() {
    let (c, s) = certs();
    let (cc, sc) = configs(&c, &s);
    let mut p = Pair::new(cc, sc);
    p.collect();
    // Deliver the ClientHello, then lose the server's whole flight 4.
    let hello = p.wire.remove(0).2;
    p.server.handle_datagram(p.now, &hello).unwrap();
    p.collect();
    let lost = p.wire.len();
    assert!(lost >= 1);
    p.wire.clear();
    let took = p.run(Duration::from_secs(10));
    assert_agree(&p, Suite::EcdheEcdsaAes128GcmSha256, Group::X25519);
    // The first timer fires after 1 s: the client repeats its hello, the
    // server its flight (or the server's own timer does).
    assert!(took >= Duration::from_secs(1));
    assert!(p.client.stats().retransmissions + p.server.stats().retransmissions >= 1);
}

#[test]
fn a_vanished_peer_times_the_handshake_out() {
    let (c, s) = certs();
    let (mut cc, _) = configs(&c, &s);
    cc.handshake_timeout = Duration::from_secs(12);
    let now = Instant::now();
    let mut client = Dtls::client(cc, now);
    let mut t = now;
    let mut sent = 0;
    let mut events = Vec::new();
    while let Some(at) = client.poll_timeout() {
        while client.poll_transmit().is_some() {
            sent += 1;
        }
        t = at;
        client.handle_timeout(t);
        while let Some(e) = client.poll_event() {
            events.push(e);
        }
    }
    assert_eq!(t - now, Duration::from_secs(12));
    assert_eq!(
        events,
        [Event::Closed(CloseReason::Error(Error::HandshakeTimeout(
            Duration::from_secs(12)
        )))]
    );
    // 1 + retransmissions at 1, 3, 7 s (timer 1, 2, 4, 8 s).
    assert_eq!(sent, 4);
    assert_eq!(client.stats().retransmissions, 3);
}

#[test]
fn wrong_fingerprint_fails_both_sides_with_bad_certificate() {
    let (c, s) = certs();
    let other = Certificate::generate("mallory").unwrap();
    let (mut cc, mut sc) = configs(&c, &s);
    sc.remote_fingerprint = Some(*other.fingerprint());
    cc.handshake_timeout = Duration::from_secs(4);
    let mut p = Pair::new(cc, sc);
    p.run(Duration::from_secs(5));
    match Pair::closed(&p.server_events) {
        Some(CloseReason::Error(Error::FingerprintMismatch { expected, got })) => {
            assert_eq!(expected, other.fingerprint());
            assert_eq!(got, c.fingerprint());
        }
        other => panic!("server: {other:?}"),
    }
    // The server's alert is plaintext (it has not switched keys): the
    // client cannot trust it, keeps trying until its deadline, and then
    // names it.
    let why = Error::AfterPlaintextAlert {
        level: 2,
        alert: 42,
        cause: Box::new(Error::HandshakeTimeout(Duration::from_secs(4))),
    };
    assert_eq!(
        why.to_string(),
        "handshake timed out after 4s, after the peer's unauthenticated fatal alert \
         42 (bad_certificate)"
    );
    assert_eq!(
        Pair::closed(&p.client_events),
        Some(&CloseReason::Error(why))
    );
    assert_eq!(p.client.stats().plaintext_alerts, 1);
    assert!(Pair::connected(&p.client_events).is_none());
}

#[test]
fn fingerprint_learned_after_the_handshake_is_checked_then() {
    let (c, s) = certs();
    let (mut cc, sc) = configs(&c, &s);
    cc.remote_fingerprint = None;
    let mut p = Pair::new(cc.clone(), sc.clone());
    p.run(Duration::from_secs(5));
    assert!(Pair::connected(&p.server_events).is_some());
    assert!(
        Pair::connected(&p.client_events).is_none(),
        "waits for the fingerprint"
    );
    p.client.set_remote_fingerprint(*s.fingerprint()).unwrap();
    p.collect();
    assert!(Pair::connected(&p.client_events).is_some());

    let mut p = Pair::new(cc, sc);
    p.run(Duration::from_secs(5));
    let wrong = *c.fingerprint();
    assert!(matches!(
        p.client.set_remote_fingerprint(wrong),
        Err(Error::FingerprintMismatch { .. })
    ));
    p.flush();
    assert!(p.client.is_closed());
    // The alert went out protected; the server learns why.
    assert_eq!(
        Pair::closed(&p.server_events),
        Some(&CloseReason::Error(Error::PeerAlert(42)))
    );
}

#[test]
fn a_tampered_finished_is_dropped_as_a_bad_record_and_the_retransmission_recovers() {
    let (c, s) = certs();
    let (mut cc, sc) = configs(&c, &s);
    cc.initial_rto = Duration::from_millis(200);
    let mut p = Pair::new(cc, sc);
    p.collect();
    let hello = p.wire.remove(0).2;
    p.server.handle_datagram(p.now, &hello).unwrap();
    p.collect();
    for (_, _, d) in std::mem::take(&mut p.wire) {
        p.client.handle_datagram(p.now, &d).unwrap();
    }
    p.collect();
    // Flight 5: flip the last byte (the Finished record's GCM tag).
    let mut flight5: Vec<Vec<u8>> = p.wire.drain(..).map(|w| w.2).collect();
    let last = flight5.last_mut().unwrap();
    *last.last_mut().unwrap() ^= 1;
    for d in &flight5 {
        p.server.handle_datagram(p.now, d).unwrap();
    }
    assert_eq!(p.server.stats().bad_mac, 1);
    assert!(!p.server.is_connected() && !p.server.is_closed());
    p.run(Duration::from_secs(5));
    assert_agree(&p, Suite::EcdheEcdsaAes128GcmSha256, Group::X25519);
    assert!(p.client.stats().retransmissions >= 1);
}

#[test]
fn bad_mac_replays_and_garbage_are_dropped_and_counted() {
    let (c, s) = certs();
    let (cc, sc) = configs(&c, &s);
    let mut p = Pair::new(cc, sc);
    p.run(Duration::from_secs(5));
    assert_agree(&p, Suite::EcdheEcdsaAes128GcmSha256, Group::X25519);
    p.server_events.clear();

    p.client.send_application_data(b"hello").unwrap();
    let good = p.client.poll_transmit().unwrap();
    let mut bad = good.clone();
    bad[20] ^= 0x80;
    p.server.handle_datagram(p.now, &bad).unwrap();
    assert_eq!(p.server.stats().bad_mac, 1);
    p.server.handle_datagram(p.now, &good).unwrap();
    p.server.handle_datagram(p.now, &good).unwrap();
    assert_eq!(p.server.stats().replayed, 1);
    // Garbage alone, and garbage after a good record.
    let before = p.server.stats().malformed;
    p.server
        .handle_datagram(p.now, &[0x17, 0xfe, 0xfd, 0, 1, 0, 0])
        .unwrap();
    p.client.send_application_data(b"again").unwrap();
    let mut with_tail = p.client.poll_transmit().unwrap();
    with_tail.extend_from_slice(b"\xff\xff garbage");
    p.server.handle_datagram(p.now, &with_tail).unwrap();
    assert_eq!(p.server.stats().malformed, before + 2);
    p.collect();
    let data: Vec<_> = p
        .server_events
        .iter()
        .filter_map(|e| match e {
            Event::ApplicationData(d) => Some(d.as_slice()),
            _ => None,
        })
        .collect();
    assert_eq!(data, [b"hello".as_slice(), b"again"]);
    assert!(p.server.is_connected());
    // A plaintext fatal alert after the handshake is ignored.
    p.server
        .handle_datagram(
            p.now,
            &[0x15, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40],
        )
        .unwrap();
    assert!(p.server.is_connected());
}

/// A ClientHello written by hand, for what our client never sends.
fn hello_datagram(suites: &[u16], extensions: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    messages::write_client_hello(&mut body, &[9; 32], &[], suites, extensions);
    let m = meshrtc_dtls::handshake::Message {
        msg_type: HandshakeType::ClientHello,
        message_seq: 0,
        body,
    };
    let mut frag = Vec::new();
    m.write_unfragmented(&mut frag);
    let mut d = Vec::new();
    meshrtc_dtls::record::write_record(&mut d, ContentType::Handshake, 0xfefd, 0, 0, &frag);
    d
}

fn server_answer(d: &[u8]) -> (Result<(), Error>, Vec<Vec<u8>>) {
    let (c, s) = certs();
    let (_, sc) = configs(&c, &s);
    let mut server = Dtls::server(sc, Instant::now());
    let r = server.handle_datagram(Instant::now(), d);
    let mut out = Vec::new();
    while let Some(x) = server.poll_transmit() {
        out.push(x);
    }
    (r, out)
}

#[test]
fn downgraded_hellos_are_refused_with_handshake_failure() {
    let groups = [0u8, 2, 0, 29];
    let sigs = [0u8, 2, 4, 3];
    let good_ext: Vec<(u16, &[u8])> = vec![
        (ext::EXTENDED_MASTER_SECRET, &[]),
        (ext::SUPPORTED_GROUPS, &groups),
        (ext::SIGNATURE_ALGORITHMS, &sigs),
    ];
    // Only RSA and CBC suites: nothing we implement.
    let (r, out) = server_answer(&hello_datagram(&[0xc02f, 0xc013, 0x002f], &good_ext));
    assert_eq!(
        r,
        Err(Error::NoCommonCipherSuite(vec![0xc02f, 0xc013, 0x002f]))
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0][0], 21, "an alert record");
    assert_eq!(&out[0][13..], [2, 40], "fatal handshake_failure");
    // No extended master secret.
    let (r, _) = server_answer(&hello_datagram(&[0xc02b], &good_ext[1..]));
    assert_eq!(r, Err(Error::ExtendedMasterSecretRequired));
    // No ECDSA P-256 signatures.
    let rsa_only = [0u8, 2, 8, 4];
    let (r, _) = server_answer(&hello_datagram(
        &[0xc02b],
        &[
            (ext::EXTENDED_MASTER_SECRET, &[]),
            (ext::SIGNATURE_ALGORITHMS, &rsa_only),
        ],
    ));
    assert_eq!(r, Err(Error::NoCommonSignatureScheme));
    // Only groups we do not implement.
    let p384 = [0u8, 2, 0, 24];
    let (r, _) = server_answer(&hello_datagram(
        &[0xc02b],
        &[
            (ext::EXTENDED_MASTER_SECRET, &[]),
            (ext::SUPPORTED_GROUPS, &p384),
            (ext::SIGNATURE_ALGORITHMS, &sigs),
        ],
    ));
    assert_eq!(r, Err(Error::NoCommonGroup(vec![24])));
    // Garbage: dropped and counted, the server keeps waiting.
    let (r, out) = server_answer(b"\x16\xfe\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x01\x00");
    assert_eq!(r, Ok(()));
    assert!(out.is_empty());
}

#[test]
fn client_refuses_a_server_without_extended_master_secret() {
    // Our client's hello, answered by a hand-written ServerHello without
    // the extended master secret.
    let (c, s) = certs();
    let (cc, _) = configs(&c, &s);
    let now = Instant::now();
    let mut client = Dtls::client(cc, now);
    let _hello = client.poll_transmit().unwrap();
    let mut body = Vec::new();
    ServerHello {
        version: 0xfefd,
        random: [3; 32],
        session_id: &[],
        cipher_suite: 0xc02b,
        compression: 0,
        extensions: vec![],
        extensions_block: false,
    }
    .write(&mut body);
    let m = meshrtc_dtls::handshake::Message {
        msg_type: HandshakeType::ServerHello,
        message_seq: 0,
        body,
    };
    let mut frag = Vec::new();
    m.write_unfragmented(&mut frag);
    let mut d = Vec::new();
    meshrtc_dtls::record::write_record(&mut d, ContentType::Handshake, 0xfefd, 0, 0, &frag);
    assert_eq!(
        client.handle_datagram(now, &d),
        Err(Error::ExtendedMasterSecretRequired)
    );
    let alert = client.poll_transmit().unwrap();
    assert_eq!(&alert[13..], [2, 40]);
}

fn chromium_hello() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/chromium-156/chromium_dtls_clienthello.hex"
    ))
    .unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| hex::decode(l.trim()).unwrap())
        .collect()
}

#[test]
fn chromium_dtls13_client_hello_in_two_fragments_gets_a_dtls12_server_flight() {
    let s = Certificate::generate("server").unwrap();
    let mut sc = Config::new(s.clone());
    sc.rng_seed = Some([5; 32]);
    let now = Instant::now();
    let mut server = Dtls::server(sc, now);
    let hello = chromium_hello();
    assert_eq!(hello.len(), 2);
    server.handle_datagram(now, &hello[0]).unwrap();
    assert!(
        server.poll_transmit().is_none(),
        "half a hello: nothing yet"
    );
    server.handle_datagram(now, &hello[1]).unwrap();
    let mut out = Vec::new();
    while let Some(d) = server.poll_transmit() {
        assert!(d.len() <= 1200);
        out.push(d);
    }
    let mut r = Reassembler::new(0, 1 << 16, 8);
    for d in &out {
        for rec in records(d) {
            let rec = rec.unwrap();
            assert_eq!(
                (rec.content_type, rec.version, rec.epoch),
                (ContentType::Handshake, 0xfefd, 0)
            );
            for f in fragments(rec.fragment) {
                r.push(&f.unwrap()).unwrap();
            }
        }
    }
    let msgs: Vec<_> = std::iter::from_fn(|| r.pop()).collect();
    let types: Vec<_> = msgs.iter().map(|m| m.msg_type).collect();
    assert_eq!(
        types,
        [
            HandshakeType::ServerHello,
            HandshakeType::Certificate,
            HandshakeType::ServerKeyExchange,
            HandshakeType::CertificateRequest,
            HandshakeType::ServerHelloDone
        ]
    );
    let sh = ServerHello::parse(&msgs[0].body).unwrap();
    assert_eq!(sh.version, 0xfefd);
    assert_eq!(sh.cipher_suite, 0xc02b);
    assert!(sh.extension(ext::SUPPORTED_VERSIONS).is_none());
    assert!(sh.extension(ext::KEY_SHARE).is_none());
    assert!(sh.extension(ext::EXTENDED_MASTER_SECRET).is_some());
    assert_eq!(sh.extension(ext::RENEGOTIATION_INFO), Some(&[0u8][..]));
    let (profile, _) =
        messages::parse_use_srtp_answer(sh.extension(ext::USE_SRTP).unwrap()).unwrap();
    assert_eq!(profile, 7, "AEAD_AES_128_GCM");
    let chain = messages::Certificate::parse(&msgs[1].body).unwrap().chain;
    assert_eq!(chain, [s.der()]);
    // x25519 (not the hybrid 0x11ec), signed by our key over both randoms.
    let ske = ServerKeyExchange::parse(&msgs[2].body).unwrap();
    assert_eq!(ske.group, 29);
    let hello_body = hex::decode(
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/chromium-156/chromium_dtls_clienthello_reassembled_handshake.hex"
        ))
        .unwrap()
        .trim(),
    )
    .unwrap();
    let client_random = &hello_body[12 + 2..12 + 34];
    let mut signed = client_random.to_vec();
    signed.extend_from_slice(&sh.random);
    signed.extend_from_slice(&ske.params());
    cert::peer_key(s.der())
        .unwrap()
        .verify(ske.scheme, &signed, ske.signature)
        .unwrap();
    // A repeat of the hello (our flight lost) gets the same flight again.
    server
        .handle_datagram(now + Duration::from_millis(600), &hello[0])
        .unwrap();
    assert!(server.poll_transmit().is_some());
    assert_eq!(server.stats().retransmissions, 1);
}

#[test]
fn chromium_hello_with_cookie_exchange_is_decided_on_the_reassembled_message() {
    let s = Certificate::generate("server").unwrap();
    let mut sc = Config::new(s);
    sc.cookie_exchange = true;
    let now = Instant::now();
    let mut server = Dtls::server(sc, now);
    let hello = chromium_hello();
    server.handle_datagram(now, &hello[0]).unwrap();
    assert!(server.poll_transmit().is_none());
    server.handle_datagram(now, &hello[1]).unwrap();
    let hvr = server.poll_transmit().unwrap();
    assert!(server.poll_transmit().is_none());
    let rec = records(&hvr).next().unwrap().unwrap();
    let f = fragments(rec.fragment).next().unwrap().unwrap();
    assert_eq!(f.msg_type, HandshakeType::HelloVerifyRequest);
    let parsed = messages::HelloVerifyRequest::parse(f.body).unwrap();
    assert_eq!(parsed.cookie.len(), 32);
}

#[test]
fn key_log_lines_name_the_client_random_and_master_secret() {
    let (c, s) = certs();
    let (mut cc, sc) = configs(&c, &s);
    cc.key_log = true;
    let mut p = Pair::new(cc, sc);
    p.run(Duration::from_secs(5));
    let line = p
        .client_events
        .iter()
        .find_map(|e| match e {
            Event::KeyLog(l) => Some(l.clone()),
            _ => None,
        })
        .expect("a key log line");
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts[0], "CLIENT_RANDOM");
    assert_eq!(parts[1].len(), 64);
    assert_eq!(parts[2].len(), 96);
    // The client random is the one on the wire.
    let rec = records(&p.client_sent[0]).next().unwrap().unwrap();
    let f = fragments(rec.fragment).next().unwrap().unwrap();
    assert_eq!(parts[1], hex::encode(&f.body[2..34]));
    assert!(!p
        .server_events
        .iter()
        .any(|e| matches!(e, Event::KeyLog(_))));
}

#[test]
fn fingerprints_from_sdp_text_match_generated_certificates() {
    let c = Certificate::generate("x").unwrap();
    let text = c.fingerprint().to_string();
    assert_eq!(Fingerprint::parse_sdp(&text).unwrap(), *c.fingerprint());
}

//! DTLS 1.3 (RFC 9147) between two meshrtc endpoints, in memory with a
//! virtual clock: the handshake in every suite and group, HelloRetryRequest,
//! loss, and the attacks the record layer and handshake must refuse.

use std::time::Instant;

use meshrtc_dtls::kx::Group;
use meshrtc_dtls::v13::record::CipherSuite13;
use meshrtc_dtls::v13::{CloseReason13, Dtls13, Error13, Event13};
use meshrtc_dtls::{Certificate, Config};

struct Pair {
    client: Dtls13,
    server: Dtls13,
    now: Instant,
    client_events: Vec<Event13>,
    server_events: Vec<Event13>,
}

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

impl Pair {
    fn new(ca: Config, cb: Config) -> Pair {
        let now = Instant::now();
        Pair {
            client: Dtls13::client(ca, now),
            server: Dtls13::server(cb, now),
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
        }
    }

    /// Steps until both are connected (or closed), dropping datagrams for
    /// which `drop` says so; jumps the clock to the next timeout when idle.
    fn drive(&mut self, mut drop: impl FnMut(bool, &[u8]) -> bool, max_steps: usize) -> usize {
        for step in 0..max_steps {
            let mut moved = false;
            while let Some(d) = self.client.poll_transmit() {
                moved = true;
                if !drop(true, &d) {
                    let _ = self.server.handle_datagram(self.now, &d);
                }
            }
            while let Some(d) = self.server.poll_transmit() {
                moved = true;
                if !drop(false, &d) {
                    let _ = self.client.handle_datagram(self.now, &d);
                }
            }
            while let Some(e) = self.client.poll_event() {
                self.client_events.push(e);
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push(e);
            }
            let done = |d: &Dtls13| d.is_connected() || d.is_closed();
            if done(&self.client) && done(&self.server) && !moved {
                return step;
            }
            if !moved {
                let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                match next {
                    Some(t) => {
                        self.now = self.now.max(t);
                        self.client.handle_timeout(self.now);
                        self.server.handle_timeout(self.now);
                    }
                    None => return step,
                }
            }
        }
        panic!("no progress after {max_steps} steps");
    }

    fn connected(events: &[Event13]) -> Option<&meshrtc_dtls::v13::Connected13> {
        events.iter().find_map(|e| match e {
            Event13::Connected(c) => Some(&**c),
            _ => None,
        })
    }
}

#[test]
fn dtls13_handshake_in_every_suite_and_group_gives_both_sides_the_same_srtp_keys() {
    for suite in [
        CipherSuite13::Aes128GcmSha256,
        CipherSuite13::Aes256GcmSha384,
        CipherSuite13::Chacha20Poly1305Sha256,
    ] {
        for group in [Group::X25519, Group::Secp256r1] {
            let (mut ca, mut cb) = configs();
            ca.suites13 = vec![suite];
            ca.groups = vec![group];
            cb.suites13 = vec![suite];
            let mut p = Pair::new(ca, cb);
            p.drive(|_, _| false, 100);
            let c = Pair::connected(&p.client_events).expect("client connected");
            let s = Pair::connected(&p.server_events).expect("server connected");
            assert_eq!((c.version, c.suite, c.group), (0xfefc, suite, group.into()));
            assert_eq!((s.suite, s.group), (suite, group.into()));
            let (ck, sk) = (c.srtp.as_ref().unwrap(), s.srtp.as_ref().unwrap());
            assert_eq!(ck.exported, sk.exported);
            assert_eq!(ck.exported.len(), 56, "AEAD_AES_128_GCM: 2 × (16 + 12)");
            // Application data both ways.
            p.client.send_application_data(b"ping").unwrap();
            p.drive(|_, _| false, 10);
            p.server.send_application_data(b"pong").unwrap();
            p.drive(|_, _| false, 10);
            assert_eq!(app_data(&p.server_events), vec![b"ping".to_vec()]);
            assert_eq!(app_data(&p.client_events), vec![b"pong".to_vec()]);
            assert_eq!(
                p.server.stats().acks_sent,
                1,
                "the client's final flight is ACKed once"
            );
            assert_eq!(p.client.stats().acks_received, 1);
        }
    }
}

fn connected_pair() -> Pair {
    let (ca, cb) = configs();
    let mut p = Pair::new(ca, cb);
    p.drive(|_, _| false, 100);
    assert!(p.client.is_connected() && p.server.is_connected());
    p
}

fn app_data(events: &[Event13]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event13::ApplicationData(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn tampered_record_is_dropped_counted_and_the_association_survives() {
    let mut p = connected_pair();
    p.client.send_application_data(b"genuine payload").unwrap();
    let mut d = p.client.poll_transmit().unwrap();
    let last = d.len() - 1;
    d[last] ^= 0x40;
    p.server.handle_datagram(p.now, &d).unwrap();
    assert_eq!(p.server.stats().records.auth_failures, 1);
    assert!(p.server.poll_event().is_none());
    p.client.send_application_data(b"next one").unwrap();
    p.drive(|_, _| false, 10);
    assert_eq!(app_data(&p.server_events), vec![b"next one".to_vec()]);
}

#[test]
fn replayed_record_is_dropped_and_counted() {
    let mut p = connected_pair();
    p.client.send_application_data(b"once").unwrap();
    let d = p.client.poll_transmit().unwrap();
    p.server.handle_datagram(p.now, &d).unwrap();
    p.server.handle_datagram(p.now, &d).unwrap();
    assert_eq!(p.server.stats().records.replayed, 1);
    let events: Vec<_> = std::iter::from_fn(|| p.server.poll_event()).collect();
    assert_eq!(app_data(&events), vec![b"once".to_vec()]);
}

#[test]
fn forged_plaintext_ack_does_not_stop_retransmission_of_the_final_flight() {
    let (ca, cb) = configs();
    let mut p = Pair::new(ca, cb);
    // Drop everything the server sends once it is connected: its ACK.
    let mut server_done = false;
    for _ in 0..20 {
        while let Some(d) = p.client.poll_transmit() {
            p.server.handle_datagram(p.now, &d).unwrap();
        }
        server_done |= p.server.is_connected();
        while let Some(d) = p.server.poll_transmit() {
            if !server_done {
                p.client.handle_datagram(p.now, &d).unwrap();
            }
        }
        if server_done {
            break;
        }
    }
    assert!(server_done && p.client.is_connected());
    // An unauthenticated ACK naming the client's epoch-2 records 0..8.
    let mut ack = vec![0u8, 8 * 16];
    for seq in 0..8u64 {
        ack.extend_from_slice(&2u64.to_be_bytes());
        ack.extend_from_slice(&seq.to_be_bytes());
    }
    let mut forged = vec![26, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9];
    forged.extend_from_slice(&(ack.len() as u16).to_be_bytes());
    forged.extend_from_slice(&ack);
    // And one that claims to be protected but is not.
    let mut fake_protected = vec![0x2e, 0x00, 0x01, 0x00, 0x20];
    fake_protected.extend_from_slice(&[0x55; 32]);
    p.client.handle_datagram(p.now, &forged).unwrap();
    p.client.handle_datagram(p.now, &fake_protected).unwrap();
    let stats = p.client.stats();
    assert_eq!(stats.plaintext_acks, 1);
    assert_eq!(stats.records.auth_failures, 1);
    assert_eq!(stats.acks_received, 0);
    let t = p
        .client
        .poll_timeout()
        .expect("the final flight is still timed");
    p.client.handle_timeout(t);
    assert_eq!(p.client.stats().retransmissions, 1);
    let resent: Vec<_> = std::iter::from_fn(|| p.client.poll_transmit()).collect();
    assert!(!resent.is_empty());
    // The server answers the repeat with its ACK again; now it counts.
    for d in resent {
        p.server.handle_datagram(p.now, &d).unwrap();
    }
    while let Some(d) = p.server.poll_transmit() {
        p.client.handle_datagram(p.now, &d).unwrap();
    }
    assert_eq!(p.client.stats().acks_received, 1);
    assert_eq!(p.server.stats().acks_sent, 2);
    let t = p.client.poll_timeout();
    assert!(t.is_none(), "nothing left to retransmit: {t:?}");
}

fn plaintext_server_hello(random: [u8; 32], versions_ext: Option<&[u8]>) -> Vec<u8> {
    use meshrtc_dtls::v13::messages::ServerHello13;
    let mut exts: Vec<(u16, &[u8])> = Vec::new();
    if let Some(v) = versions_ext {
        exts.push((43, v));
    }
    let sh = ServerHello13 {
        legacy_version: 0xfefd,
        random,
        session_id: &[],
        suite: 0xc02b,
        compression: 0,
        extensions: exts,
    };
    let mut body = Vec::new();
    sh.write(&mut body);
    let msg = meshrtc_dtls::handshake::Message {
        msg_type: meshrtc_dtls::handshake::HandshakeType::ServerHello,
        message_seq: 0,
        body,
    };
    let mut frag = Vec::new();
    msg.write_unfragmented(&mut frag);
    let mut rec = Vec::new();
    meshrtc_dtls::record::write_record(
        &mut rec,
        meshrtc_dtls::record::ContentType::Handshake,
        0xfefd,
        0,
        0,
        &frag,
    );
    rec
}

#[test]
fn dtls12_server_hello_with_downgrade_sentinel_is_refused_and_counted() {
    let (ca, _) = configs();
    let now = Instant::now();
    let mut client = Dtls13::client(ca.clone(), now);
    while client.poll_transmit().is_some() {}
    let mut random = [9u8; 32];
    random[24..].copy_from_slice(&meshrtc_dtls::v13::messages::DOWNGRADE_TLS12);
    let err = client.handle_datagram(now, &plaintext_server_hello(random, None));
    assert_eq!(err, Err(Error13::DowngradeDetected));
    assert_eq!(client.stats().downgrades_refused, 1);
    let alert = client.poll_transmit().expect("an alert");
    assert_eq!(&alert[..1], &[21]);
    assert_eq!(
        &alert[alert.len() - 2..],
        &[2, 47],
        "fatal illegal_parameter"
    );
    // Without the sentinel it is a plain version mismatch.
    let mut client = Dtls13::client(ca, now);
    while client.poll_transmit().is_some() {}
    let err = client.handle_datagram(now, &plaintext_server_hello([9; 32], None));
    assert_eq!(err, Err(Error13::UnsupportedVersion(vec![0xfefd])));
    assert_eq!(client.stats().downgrades_refused, 0);
}

#[test]
fn server_demanding_a_cookie_sends_hello_retry_request_first() {
    let (ca, mut cb) = configs();
    cb.cookie_exchange = true;
    let mut p = Pair::new(ca, cb);
    let ch1 = p.client.poll_transmit().unwrap();
    p.server.handle_datagram(p.now, &ch1).unwrap();
    let hrr = p.server.poll_transmit().unwrap();
    let hrr_random = [
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8,
        0x91,
    ];
    assert!(
        hrr.windows(16).any(|w| w == hrr_random),
        "a HelloRetryRequest"
    );
    assert!(
        p.server.poll_transmit().is_none(),
        "nothing but the HRR before the cookie"
    );
    p.client.handle_datagram(p.now, &hrr).unwrap();
    p.drive(|_, _| false, 100);
    assert!(p.client.is_connected() && p.server.is_connected());
}

#[test]
fn handshake_survives_30_percent_loss_and_duplication() {
    let mut x = 0x9e3779b97f4a7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 100
    };
    for _ in 0..6 {
        let (mut ca, mut cb) = configs();
        ca.mtu = 400; // fragmented flights
        cb.mtu = 400;
        let mut p = Pair::new(ca, cb);
        let mut dups = Vec::new();
        p.drive(
            |_, d| {
                let r = next();
                if r >= 90 {
                    dups.push(d.to_vec());
                }
                r < 30
            },
            3000,
        );
        assert!(p.client.is_connected() && p.server.is_connected());
        // Late duplicates change nothing.
        for d in dups {
            let _ = p.client.handle_datagram(p.now, &d);
            let _ = p.server.handle_datagram(p.now, &d);
        }
        assert!(p.client.is_connected() && p.server.is_connected());
        let c = Pair::connected(&p.client_events).unwrap();
        let s = Pair::connected(&p.server_events).unwrap();
        assert_eq!(c.srtp, s.srtp);
    }
}

#[test]
fn key_update_moves_the_sender_to_epoch_4_and_data_still_flows() {
    let mut p = connected_pair();
    p.client.update_keys(p.now).unwrap();
    // RFC 9147 §8: until the KeyUpdate is ACKed, data stays in epoch 3.
    let update: Vec<_> = std::iter::from_fn(|| p.client.poll_transmit()).collect();
    p.client.send_application_data(b"still old keys").unwrap();
    let d = p.client.poll_transmit().unwrap();
    assert_eq!(d[0] & 0x03, 3, "epoch 3 until the ACK");
    for u in update.iter().chain([&d]) {
        p.server.handle_datagram(p.now, u).unwrap();
    }
    p.drive(|_, _| false, 10);
    assert_eq!(app_data(&p.server_events), vec![b"still old keys".to_vec()]);
    assert_eq!(p.server.stats().key_updates, 1);
    p.client.send_application_data(b"under new keys").unwrap();
    let d = p.client.poll_transmit().unwrap();
    assert_eq!(d[0] & 0x03, 0, "epoch 4: low bits 00");
    p.server.handle_datagram(p.now, &d).unwrap();
    let events: Vec<_> = std::iter::from_fn(|| p.server.poll_event()).collect();
    assert_eq!(app_data(&events), vec![b"under new keys".to_vec()]);
}

#[test]
fn close_notify_closes_both_sides() {
    let mut p = connected_pair();
    p.client.close();
    p.drive(|_, _| false, 10);
    assert!(p
        .client_events
        .contains(&Event13::Closed(CloseReason13::LocalClose)));
    assert!(p
        .server_events
        .contains(&Event13::Closed(CloseReason13::PeerClosed)));
    assert!(p.server.is_closed());
    assert_eq!(p.server.send_application_data(b"x"), Err(Error13::Closed));
}

#[test]
fn key_log_has_the_five_tls13_secrets_under_the_client_random() {
    let (mut ca, mut cb) = configs();
    ca.key_log = true;
    cb.key_log = true;
    let mut p = Pair::new(ca, cb);
    p.drive(|_, _| false, 100);
    let lines = |events: &[Event13]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Event13::KeyLog(l) => Some(l.clone()),
                _ => None,
            })
            .collect()
    };
    let (c, s) = (lines(&p.client_events), lines(&p.server_events));
    let labels: Vec<&str> = c.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        labels,
        [
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_0",
            "EXPORTER_SECRET"
        ]
    );
    assert_eq!(
        c, s,
        "both sides log the same secrets under the same client random"
    );
    assert!(c.iter().all(|l| l.split(' ').nth(1).unwrap().len() == 64));
}

#[test]
fn wrong_fingerprint_fails_the_handshake_with_bad_certificate() {
    let (mut ca, cb) = configs();
    ca.remote_fingerprint = Some(*Certificate::generate("someone else").unwrap().fingerprint());
    let mut p = Pair::new(ca, cb);
    p.drive(|_, _| false, 100);
    assert!(p.client.is_closed());
    assert!(p.client_events.iter().any(|e| matches!(
        e,
        Event13::Closed(CloseReason13::Error(Error13::FingerprintMismatch { .. }))
    )));
    assert!(p.server_events.iter().any(|e| matches!(
        e,
        Event13::Closed(CloseReason13::Error(Error13::AlertReceived {
            level: 2,
            description: 42
        }))
    )));
}

#[test]
fn x25519mlkem768_is_offered_first_and_chosen_when_both_sides_enable_it() {
    use meshrtc_dtls::v13::key_share::NamedGroup13;
    let (mut ca, mut cb) = configs();
    ca.x25519mlkem768 = true;
    cb.x25519mlkem768 = true;
    let mut p = Pair::new(ca, cb);
    // The hello carries 1216 bytes of hybrid share plus an X25519 share:
    // more than one 1200-byte datagram, so it is fragmented.
    let hello: Vec<Vec<u8>> = std::iter::from_fn(|| p.client.poll_transmit()).collect();
    assert_eq!(
        hello.len(),
        2,
        "{:?}",
        hello.iter().map(Vec::len).collect::<Vec<_>>()
    );
    for d in &hello {
        p.server.handle_datagram(p.now, d).unwrap();
    }
    p.drive(|_, _| false, 100);
    let c = Pair::connected(&p.client_events).unwrap();
    let s = Pair::connected(&p.server_events).unwrap();
    assert_eq!(
        (c.group, s.group),
        (NamedGroup13::X25519MlKem768, NamedGroup13::X25519MlKem768)
    );
    assert_eq!(c.srtp, s.srtp);
}

#[test]
fn hybrid_offer_to_a_server_without_ml_kem_falls_back_to_x25519_without_a_retry() {
    use meshrtc_dtls::v13::key_share::NamedGroup13;
    let (mut ca, cb) = configs();
    ca.x25519mlkem768 = true;
    let mut p = Pair::new(ca, cb);
    p.drive(|_, _| false, 100);
    let c = Pair::connected(&p.client_events).unwrap();
    assert_eq!(c.group, NamedGroup13::X25519);
}

#[test]
fn one_byte_fragment_flood_before_the_hello_is_bounded_and_the_real_client_still_connects() {
    use meshrtc_dtls::handshake::{HandshakeType, Message};
    use meshrtc_dtls::record::{write_record, ContentType};
    let (ca, cb) = configs();
    let mut p = Pair::new(ca, cb);
    // A forged 4000-byte ClientHello sent one byte at a time, every other
    // byte, so no two fragments merge (RFC 9147 §5.5 reassembly).
    let forged = Message {
        msg_type: HandshakeType::ClientHello,
        message_seq: 0,
        body: vec![0x41; 4000],
    };
    let frags = forged.fragments(13);
    let mut seq = 0u64;
    for chunk in frags.iter().step_by(2).collect::<Vec<_>>().chunks(40) {
        let mut datagram = Vec::new();
        for f in chunk {
            write_record(&mut datagram, ContentType::Handshake, 0xfefd, 0, seq, f);
            seq += 1;
        }
        p.server.handle_datagram(p.now, &datagram).unwrap();
    }
    let refused = p.server.stats().bad_fragments;
    assert!(
        refused >= 1000 - 64,
        "fragments beyond the range cap refused: {refused}"
    );
    assert!(p.server.poll_transmit().is_none());
    p.drive(|_, _| false, 100);
    assert!(p.client.is_connected() && p.server.is_connected());
}

#[test]
fn a_gap_in_the_server_flight_is_acked_and_only_the_missing_part_resent() {
    let (mut ca, mut cb) = configs();
    ca.mtu = 300;
    cb.mtu = 300;
    let mut p = Pair::new(ca, cb);
    let hello = p.client.poll_transmit().unwrap();
    p.server.handle_datagram(p.now, &hello).unwrap();
    let flight: Vec<_> = std::iter::from_fn(|| p.server.poll_transmit()).collect();
    assert!(flight.len() >= 3, "a fragmented flight: {}", flight.len());
    let full: usize = flight.iter().map(Vec::len).sum();
    // Lose the second datagram (inside the encrypted part).
    for (i, d) in flight.iter().enumerate() {
        if i != 1 {
            p.client.handle_datagram(p.now, d).unwrap();
        }
    }
    assert_eq!(p.client.stats().acks_sent, 1, "the gap is ACKed");
    let acks: Vec<_> = std::iter::from_fn(|| p.client.poll_transmit()).collect();
    for a in &acks {
        p.server.handle_datagram(p.now, a).unwrap();
    }
    assert_eq!(p.server.stats().acks_received, 1);
    let t = p.server.poll_timeout().unwrap();
    p.now = t;
    p.server.handle_timeout(t);
    let resent: usize = std::iter::from_fn(|| p.server.poll_transmit())
        .map(|d| d.len())
        .sum();
    assert!(
        resent > 0 && resent < full / 2,
        "resent {resent} of {full} bytes"
    );
    p.drive(|_, _| false, 100);
    assert!(p.client.is_connected() && p.server.is_connected());
}

/// RFC 6347 §4.1 (records of a future epoch may be buffered): in DTLS
/// 1.3 the client is done first, so its first application data (a data
/// channel's SCTP INIT) can reach the server ahead of its Finished. The
/// server holds it until the Finished installs epoch 3, then delivers it.
#[test]
fn client_data_that_overtakes_its_finished_is_held_and_delivered_after_it() {
    let (ca, cb) = configs();
    let mut p = Pair::new(ca, cb);
    let hello = p.client.poll_transmit().unwrap();
    p.server.handle_datagram(p.now, &hello).unwrap();
    while let Some(d) = p.server.poll_transmit() {
        p.client.handle_datagram(p.now, &d).unwrap();
    }
    assert!(p.client.is_connected());
    let finished: Vec<_> = std::iter::from_fn(|| p.client.poll_transmit()).collect();
    p.client.send_application_data(b"first INIT").unwrap();
    let data = p.client.poll_transmit().unwrap();
    // The data arrives first: held, not dropped.
    p.server.handle_datagram(p.now, &data).unwrap();
    let s = p.server.stats();
    assert_eq!(s.future_records_held, 1);
    assert_eq!(s.records.unknown_epoch, 0);
    assert!(p.server.poll_event().is_none());
    for d in &finished {
        p.server.handle_datagram(p.now, d).unwrap();
    }
    let events: Vec<_> = std::iter::from_fn(|| p.server.poll_event()).collect();
    assert!(matches!(events.first(), Some(Event13::Connected(_))));
    assert_eq!(app_data(&events), vec![b"first INIT".to_vec()]);
    let s = p.server.stats();
    assert_eq!((s.future_records_dropped, s.records.opened), (0, 4));
}

/// The server's encrypted flight that arrives before its ServerHello
/// (reordered) is held until the ServerHello installs epoch 2: the client
/// finishes without any retransmission.
#[test]
fn server_flight_that_overtakes_its_server_hello_is_held_and_read_after_it() {
    let (mut ca, mut cb) = configs();
    ca.mtu = 300;
    cb.mtu = 300;
    let mut p = Pair::new(ca, cb);
    let hello = p.client.poll_transmit().unwrap();
    p.server.handle_datagram(p.now, &hello).unwrap();
    let flight: Vec<_> = std::iter::from_fn(|| p.server.poll_transmit()).collect();
    assert!(flight.len() >= 3, "a fragmented flight: {}", flight.len());
    // The ServerHello is in the first datagram: deliver it last.
    for d in flight.iter().skip(1) {
        p.client.handle_datagram(p.now, d).unwrap();
    }
    let held = p.client.stats().future_records_held;
    assert!(held >= 2, "held {held}");
    assert!(!p.client.is_connected());
    p.client.handle_datagram(p.now, &flight[0]).unwrap();
    assert!(p.client.is_connected(), "the held records completed it");
    p.drive(|_, _| false, 100);
    assert!(p.server.is_connected());
    assert_eq!(p.server.stats().retransmissions, 0);
    assert_eq!(p.client.stats().retransmissions, 0);
    assert_eq!(p.client.stats().future_records_dropped, 0);
}

/// Holding is bounded (32 records, 64 KiB) and counted; held forgeries
/// fail authentication once their epoch comes, and the handshake and the
/// genuine early data are unharmed.
#[test]
fn a_flood_of_next_epoch_records_is_bounded_counted_and_harmless() {
    let (ca, cb) = configs();
    let mut p = Pair::new(ca, cb);
    let hello = p.client.poll_transmit().unwrap();
    p.server.handle_datagram(p.now, &hello).unwrap();
    while let Some(d) = p.server.poll_transmit() {
        p.client.handle_datagram(p.now, &d).unwrap();
    }
    let finished: Vec<_> = std::iter::from_fn(|| p.client.poll_transmit()).collect();
    // 40 forged epoch-3 records (16-bit sequence, length present).
    for i in 0..40u8 {
        let mut forged = vec![0x2f, 0, i, 0, 40];
        forged.extend_from_slice(&[i; 40]);
        p.server.handle_datagram(p.now, &forged).unwrap();
    }
    let s = p.server.stats();
    assert_eq!(
        (s.future_records_held, s.future_records_dropped),
        (32, 8),
        "at most 32 held"
    );
    for d in &finished {
        p.server.handle_datagram(p.now, d).unwrap();
    }
    assert!(p.server.is_connected());
    let s = p.server.stats();
    assert_eq!(
        s.records.auth_failures, 32,
        "each held forgery refused once"
    );
    assert_eq!(
        s.future_records_dropped,
        8 + 32,
        "over the cap, then unreadable"
    );
    p.client.send_application_data(b"after").unwrap();
    p.drive(|_, _| false, 10);
    assert_eq!(app_data(&p.server_events), vec![b"after".to_vec()]);
}

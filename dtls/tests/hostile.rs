//! Hostile datagrams injected into a real in-memory handshake between our
//! client and our server. RFC 6347 §4.1.2.7: what cannot be trusted is
//! dropped (and counted here), never fatal, and never keeps the real
//! messages out; reassembly stays bounded and linear.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use meshrtc_dtls::handshake::{HandshakeType, Message, MAX_PARTIALS, MAX_RANGES};
use meshrtc_dtls::hello::ext;
use meshrtc_dtls::messages;
use meshrtc_dtls::record::{records, write_record, ContentType};
use meshrtc_dtls::{Certificate, CloseReason, Config, Dtls, Error, Event};

fn configs() -> (Config, Config) {
    let c = Certificate::generate("client").unwrap();
    let s = Certificate::generate("server").unwrap();
    let mut cc = Config::new(c.clone());
    cc.remote_fingerprint = Some(*s.fingerprint());
    cc.rng_seed = Some([1; 32]);
    let mut sc = Config::new(s);
    sc.remote_fingerprint = Some(*c.fingerprint());
    sc.rng_seed = Some([2; 32]);
    (cc, sc)
}

/// One plaintext (epoch 0) record as a datagram.
fn plaintext(ct: ContentType, seq: u64, fragment: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    write_record(&mut d, ct, 0xfefd, 0, seq, fragment);
    d
}

/// A handshake fragment (header and bytes).
fn fragment(ty: HandshakeType, length: usize, seq: u16, offset: usize, body: &[u8]) -> Vec<u8> {
    let mut f = vec![ty.as_u8()];
    f.extend_from_slice(&(length as u32).to_be_bytes()[1..]);
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&(offset as u32).to_be_bytes()[1..]);
    f.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    f.extend_from_slice(body);
    f
}

fn alert(level: u8, desc: u8) -> Vec<u8> {
    plaintext(ContentType::Alert, 1000, &[level, desc])
}

/// Each record of a datagram as a datagram of its own.
fn split(datagram: &[u8]) -> Vec<Vec<u8>> {
    records(datagram)
        .map(|r| {
            let r = r.unwrap();
            [r.header, r.fragment].concat()
        })
        .collect()
}

/// Both sides and an in-order, lossless wire; `inject` sees every
/// datagram before it is delivered and may deliver others first.
struct Net {
    client: Dtls,
    server: Dtls,
    start: Instant,
    now: Instant,
    to_server: VecDeque<Vec<u8>>,
    to_client: VecDeque<Vec<u8>>,
    client_events: Vec<Event>,
    server_events: Vec<Event>,
}

impl Net {
    fn new(cc: Config, sc: Config) -> Net {
        let now = Instant::now();
        let mut n = Net {
            client: Dtls::client(cc, now),
            server: Dtls::server(sc, now),
            start: now,
            now,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
        };
        n.collect();
        n
    }

    fn collect(&mut self) {
        while let Some(d) = self.client.poll_transmit() {
            self.to_server.push_back(d);
        }
        while let Some(d) = self.server.poll_transmit() {
            self.to_client.push_back(d);
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
    }

    fn finished(events: &[Event]) -> bool {
        events
            .iter()
            .any(|e| matches!(e, Event::Connected(_) | Event::Closed(_)))
    }

    /// Runs until both sides are connected or closed, at most `limit` of
    /// virtual time and 10,000 steps. `inject(to_server, dtls, now,
    /// datagram)` returns whether to deliver the datagram.
    fn run(
        &mut self,
        limit: Duration,
        mut inject: impl FnMut(bool, &mut Dtls, Instant, &[u8]) -> bool,
    ) {
        for _ in 0..10_000 {
            self.collect();
            if Self::finished(&self.client_events) && Self::finished(&self.server_events) {
                return;
            }
            if let Some(d) = self.to_server.pop_front() {
                if inject(true, &mut self.server, self.now, &d) {
                    let _ = self.server.handle_datagram(self.now, &d);
                }
            } else if let Some(d) = self.to_client.pop_front() {
                if inject(false, &mut self.client, self.now, &d) {
                    let _ = self.client.handle_datagram(self.now, &d);
                }
            } else {
                let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                let Some(t) = next else { return };
                if t - self.start > limit {
                    return;
                }
                self.now = self.now.max(t);
                self.client.handle_timeout(self.now);
                self.server.handle_timeout(self.now);
            }
        }
        panic!("no end after 10,000 steps");
    }

    fn both_connected(&self) -> bool {
        let up = |e: &[Event]| e.iter().any(|e| matches!(e, Event::Connected(_)));
        up(&self.client_events)
            && up(&self.server_events)
            && self.client.is_connected()
            && self.server.is_connected()
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }
}

#[test]
fn a_spoofed_client_hello_fragment_with_message_seq_1_does_not_lock_out_the_real_hello() {
    for cookie in [false, true] {
        let (cc, mut sc) = configs();
        sc.cookie_exchange = cookie;
        let mut n = Net::new(cc, sc);
        // Before anything real: a ClientHello fragment numbered 1, which
        // only a client answering our HelloVerifyRequest may send.
        let spoof = fragment(HandshakeType::ClientHello, 200, 1, 0, &[7; 50]);
        n.server
            .handle_datagram(n.now, &plaintext(ContentType::Handshake, 0, &spoof))
            .unwrap();
        assert_eq!(n.server.stats().unexpected_seq, 1);
        n.run(Duration::from_secs(10), |_, _, _, _| true);
        assert!(n.both_connected(), "cookie exchange {cookie}");
        // No retransmission was needed: the real hello was never dropped.
        assert_eq!(n.elapsed(), Duration::ZERO);
        assert_eq!(n.client.stats().retransmissions, 0);
        assert_eq!(n.server.stats().unexpected_seq, 1);
        // With the cookie exchange the real hello numbered 1 (after our
        // HelloVerifyRequest) is still accepted (RFC 6347 §4.2.2).
        assert_eq!(n.server.stats().hello_verify_requests, u64::from(cookie));
    }
}

#[test]
fn spoofed_plaintext_alerts_mid_handshake_are_counted_and_ignored() {
    for (level, desc) in [(2, 40), (1, 0), (2, 0)] {
        let (cc, sc) = configs();
        let mut n = Net::new(cc, sc);
        let mut injected = [0u64; 2];
        // Before every datagram either side receives, a plaintext alert.
        n.run(Duration::from_secs(10), |to_server, dtls, now, _| {
            dtls.handle_datagram(now, &alert(level, desc)).unwrap();
            injected[usize::from(to_server)] += 1;
            true
        });
        assert!(n.both_connected(), "alert {level}/{desc}");
        assert_eq!(n.elapsed(), Duration::ZERO, "no retransmission needed");
        assert!(injected[0] >= 2 && injected[1] >= 2);
        assert_eq!(n.client.stats().plaintext_alerts, injected[0]);
        assert_eq!(n.server.stats().plaintext_alerts, injected[1]);
        assert!(!n
            .client_events
            .iter()
            .chain(&n.server_events)
            .any(|e| matches!(e, Event::Closed(_))));
    }
}

#[test]
fn a_handshake_that_times_out_after_a_plaintext_alert_names_the_alert() {
    let (mut cc, sc) = configs();
    cc.handshake_timeout = Duration::from_secs(6);
    let mut n = Net::new(cc, sc);
    let mut first = true;
    // The server's flight arrives as a forged handshake_failure alert,
    // then the server goes silent.
    n.run(Duration::from_secs(10), |to_server, dtls, now, _| {
        if !to_server && first {
            first = false;
            dtls.handle_datagram(now, &alert(2, 40)).unwrap();
        }
        to_server
    });
    let why = Error::AfterPlaintextAlert {
        level: 2,
        alert: 40,
        cause: Box::new(Error::HandshakeTimeout(Duration::from_secs(6))),
    };
    assert_eq!(
        n.client_events.last(),
        Some(&Event::Closed(CloseReason::Error(why.clone())))
    );
    assert!(
        why.to_string()
            .contains("fatal alert 40 (handshake_failure)"),
        "{why}"
    );
    assert_eq!(n.client.stats().plaintext_alerts, 1);
}

#[test]
fn a_handshake_that_fails_after_a_plaintext_alert_names_it_and_sends_its_own_alert() {
    let (mut cc, sc) = configs();
    let mallory = Certificate::generate("mallory").unwrap();
    cc.remote_fingerprint = Some(*mallory.fingerprint());
    let mut n = Net::new(cc, sc);
    let mut first = true;
    let mut client_sent_after = Vec::new();
    n.run(Duration::from_secs(5), |to_server, dtls, now, d| {
        if !to_server && first {
            first = false;
            dtls.handle_datagram(now, &alert(1, 0)).unwrap();
        }
        if to_server && !first {
            client_sent_after.push(d.to_vec());
        }
        true
    });
    let Some(Event::Closed(CloseReason::Error(Error::AfterPlaintextAlert {
        level: 1,
        alert: 0,
        cause,
    }))) = n.client_events.last()
    else {
        panic!("{:?}", n.client_events);
    };
    assert!(matches!(**cause, Error::FingerprintMismatch { .. }));
    // The alert we send is the cause's: bad_certificate.
    let last = records(client_sent_after.last().unwrap())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(last.content_type, ContentType::Alert);
    assert_eq!(last.fragment, [2, 42]);
}

#[test]
fn conflicting_fragment_lengths_are_dropped_and_counted() {
    // An incomplete forged hello of another length: the real one replaces it.
    let (cc, sc) = configs();
    let mut n = Net::new(cc, sc);
    let spoof = fragment(HandshakeType::ClientHello, 5000, 0, 0, &[7; 20]);
    n.server
        .handle_datagram(n.now, &plaintext(ContentType::Handshake, 0, &spoof))
        .unwrap();
    n.run(Duration::from_secs(10), |_, _, _, _| true);
    assert!(n.both_connected());
    assert_eq!(n.elapsed(), Duration::ZERO);
    assert_eq!(n.server.stats().conflicting_fragments, 1);

    // A complete message held for later (its predecessor is missing): a
    // conflicting fragment for it is dropped, the held one is kept.
    let (cc, sc) = configs();
    let mut n = Net::new(cc, sc);
    let mut server_hello = None;
    n.run(Duration::from_secs(10), |to_server, dtls, now, d| {
        if to_server || server_hello.is_some() {
            return true;
        }
        // Flight 4: deliver every record but the ServerHello (message 0),
        // then a ServerHelloDone (message 4) of another length, then the
        // ServerHello.
        let recs = split(d);
        for r in &recs[1..] {
            dtls.handle_datagram(now, r).unwrap();
        }
        assert_eq!(recs[0][13], HandshakeType::ServerHello.as_u8());
        let bad = fragment(HandshakeType::ServerHelloDone, 3, 4, 0, &[1]);
        dtls.handle_datagram(now, &plaintext(ContentType::Handshake, 99, &bad))
            .unwrap();
        assert_eq!(dtls.stats().conflicting_fragments, 1);
        assert!(!dtls.is_closed());
        server_hello = Some(recs[0].clone());
        dtls.handle_datagram(now, &recs[0]).unwrap();
        false
    });
    assert!(server_hello.is_some());
    assert!(n.both_connected());
    assert_eq!(n.client.stats().conflicting_fragments, 1);
    assert_eq!(n.elapsed(), Duration::ZERO);
}

/// `count` one-byte fragments of a 30,000-byte ClientHello (message 0),
/// every other byte (so none merge), packed 1,000 to a record.
fn one_byte_flood(first: usize, count: usize) -> Vec<Vec<u8>> {
    const LEN: usize = 30_000;
    let mut out = Vec::new();
    let mut rec = Vec::new();
    for i in first..first + count {
        rec.extend(fragment(
            HandshakeType::ClientHello,
            LEN,
            0,
            (2 * i) % LEN,
            &[0x55],
        ));
        if rec.len() >= 13 * 1000 {
            out.push(plaintext(ContentType::Handshake, i as u64, &rec));
            rec.clear();
        }
    }
    if !rec.is_empty() {
        out.push(plaintext(ContentType::Handshake, 0, &rec));
    }
    out
}

#[test]
fn a_flood_of_one_byte_fragments_costs_bounded_state_and_linear_work() {
    let (cc, sc) = configs();
    let mut n = Net::new(cc, sc);
    let now = n.now;
    for d in one_byte_flood(0, 1_000) {
        n.server.handle_datagram(now, &d).unwrap();
    }
    let s = n.server.stats().clone();
    // 64 ranges held, the other 936 fragments dropped.
    assert_eq!(s.reassembly_peak_ranges, MAX_RANGES as u64);
    assert_eq!(s.fragments_over_cap, 1_000 - MAX_RANGES as u64);
    assert_eq!(s.reassembly_peak_partials, 1);
    let work_1k = s.reassembly_work;
    assert!(work_1k <= 3 * 1_000, "work {work_1k}");

    for d in one_byte_flood(1_000, 100_000) {
        n.server.handle_datagram(now, &d).unwrap();
    }
    let s = n.server.stats().clone();
    assert_eq!(s.reassembly_peak_ranges, MAX_RANGES as u64);
    assert_eq!(s.reassembly_peak_partials, 1);
    // Offsets repeat every 15,000 fragments: the 7 passes over the 64
    // held bytes are duplicates, kept; everything else is over the cap.
    assert_eq!(s.fragments_over_cap, 101_000 - 7 * MAX_RANGES as u64);
    // Linear: at most 3 units of work per fragment, 1k or 101k of them.
    assert!(
        s.reassembly_work <= 3 * 101_000,
        "work {}",
        s.reassembly_work
    );
    assert!(s.reassembly_work >= 2 * 101_000);
    assert!(!n.server.is_closed());

    // The real hello (another length) replaces the flooded message.
    n.run(Duration::from_secs(10), |_, _, _, _| true);
    assert!(n.both_connected());
    assert_eq!(n.server.stats().conflicting_fragments, 1);
}

#[test]
fn a_flood_of_partial_messages_stays_within_the_cap_and_the_handshake_completes() {
    let (cc, sc) = configs();
    let mut n = Net::new(cc, sc);
    let now = n.now;
    // The client waits for messages 0..8: one byte of each of 0..8, 40
    // rounds over, every other byte of a 4,000-byte Certificate.
    let mut rec = Vec::new();
    for round in 0..40 {
        for seq in 0..8u16 {
            rec.extend(fragment(
                HandshakeType::Certificate,
                4000,
                seq,
                2 * round,
                &[1],
            ));
        }
    }
    let flood = plaintext(ContentType::Handshake, 0, &rec);
    n.client.handle_datagram(now, &flood).unwrap();
    let s = n.client.stats().clone();
    assert_eq!(s.reassembly_peak_partials, MAX_PARTIALS as u64);
    // 8 messages, 4 slots: each round, messages 4..8 come later than
    // 0..4 and find no room (message numbers above all held ones never
    // evict).
    assert_eq!(s.fragments_over_cap, 40 * 4);
    assert_eq!(s.partials_evicted, 0);
    // Reversed, the nearer messages evict the further ones.
    let mut rec = Vec::new();
    for seq in (0..8u16).rev() {
        rec.extend(fragment(HandshakeType::Certificate, 4000, seq, 1001, &[1]));
    }
    let (cc, sc) = configs();
    let mut m = Net::new(cc, sc);
    m.client
        .handle_datagram(now, &plaintext(ContentType::Handshake, 0, &rec))
        .unwrap();
    assert_eq!(m.client.stats().partials_evicted, 4);
    assert_eq!(
        m.client.stats().reassembly_peak_partials,
        MAX_PARTIALS as u64
    );

    // The real flight replaces the forged messages it meets.
    n.run(Duration::from_secs(10), |_, _, _, _| true);
    assert!(n.both_connected());
    assert!(n.client.stats().conflicting_fragments >= 1);
    assert_eq!(n.elapsed(), Duration::ZERO);
}

#[test]
fn handshake_input_after_the_handshake_is_ignored_and_counted() {
    let (cc, sc) = configs();
    let mut n = Net::new(cc, sc);
    n.run(Duration::from_secs(10), |_, _, _, _| true);
    assert!(n.both_connected());
    let bogus = fragment(HandshakeType::ClientHello, 10, 40, 0, &[0; 10]);
    for side in [&mut n.client, &mut n.server] {
        let before = side.stats().late_handshake;
        side.handle_datagram(n.now, &plaintext(ContentType::Handshake, 77, &bogus))
            .unwrap();
        assert_eq!(side.stats().late_handshake, before + 1);
        assert!(side.poll_transmit().is_none());
        assert!(side.is_connected());
    }
}

#[test]
fn an_undecodable_message_is_dropped_and_the_retransmission_completes() {
    let (mut cc, sc) = configs();
    cc.initial_rto = Duration::from_millis(100);
    let mut n = Net::new(cc, sc);
    // A whole, well-framed ServerHello (message 0) with a garbage body
    // reaches the client before the real one.
    let bad = fragment(HandshakeType::ServerHello, 5, 0, 0, &[1, 2, 3, 4, 5]);
    n.client
        .handle_datagram(n.now, &plaintext(ContentType::Handshake, 5, &bad))
        .unwrap();
    assert_eq!(n.client.stats().undecodable_messages, 1);
    assert!(!n.client.is_closed());
    n.run(Duration::from_secs(10), |_, _, _, _| true);
    assert!(n.both_connected());
    assert_eq!(n.elapsed(), Duration::ZERO, "message 0 was expected again");
}

/// A ClientHello written by hand, with supported_versions `versions`.
fn hello_with_versions(versions: &[u16]) -> Vec<u8> {
    let groups = [0u8, 2, 0, 29];
    let sigs = [0u8, 2, 4, 3];
    let mut sv = vec![(2 * versions.len()) as u8];
    for v in versions {
        sv.extend_from_slice(&v.to_be_bytes());
    }
    let extensions: Vec<(u16, &[u8])> = vec![
        (ext::EXTENDED_MASTER_SECRET, &[]),
        (ext::SUPPORTED_GROUPS, &groups),
        (ext::SIGNATURE_ALGORITHMS, &sigs),
        (ext::SUPPORTED_VERSIONS, &sv),
    ];
    let mut body = Vec::new();
    messages::write_client_hello(&mut body, &[9; 32], &[], &[0xc02b], &extensions);
    let m = Message {
        msg_type: HandshakeType::ClientHello,
        message_seq: 0,
        body,
    };
    let mut frag = Vec::new();
    m.write_unfragmented(&mut frag);
    plaintext(ContentType::Handshake, 0, &frag)
}

#[test]
fn a_client_hello_offering_only_dtls_1_3_gets_protocol_version() {
    let (_, sc) = configs();
    let now = Instant::now();
    let mut server = Dtls::server(sc.clone(), now);
    let r = server.handle_datagram(now, &hello_with_versions(&[0xfefc]));
    assert_eq!(r, Err(Error::Dtls13Only(vec![0xfefc])));
    let text = r.unwrap_err().to_string();
    assert!(
        text.contains("DTLS 1.3") && text.contains("0xfefc"),
        "{text}"
    );
    let out = server.poll_transmit().unwrap();
    let rec = records(&out).next().unwrap().unwrap();
    assert_eq!(rec.content_type, ContentType::Alert);
    assert_eq!(rec.epoch, 0);
    assert_eq!(rec.fragment, [2, 70], "fatal protocol_version");
    assert!(server.poll_transmit().is_none());
    assert!(server.is_closed());

    // 1.3 and 1.2: answered with 1.2.
    let mut server = Dtls::server(sc, now);
    server
        .handle_datagram(now, &hello_with_versions(&[0xfefc, 0xfefd]))
        .unwrap();
    let out = server.poll_transmit().unwrap();
    let rec = records(&out).next().unwrap().unwrap();
    assert_eq!(rec.content_type, ContentType::Handshake);
    assert_eq!(rec.fragment[0], HandshakeType::ServerHello.as_u8());
    // ServerHello.server_version, after the 12-byte handshake header.
    assert_eq!(rec.fragment[12..14], [0xfe, 0xfd]);
}

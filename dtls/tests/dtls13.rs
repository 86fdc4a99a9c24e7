//! DTLS 1.3 (RFC 9147) between two meshrtc endpoints, in memory with a
//! virtual clock: the handshake in every suite and group, HelloRetryRequest,
//! loss, and the attacks the record layer and handshake must refuse.

use std::time::{Duration, Instant};

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
    let (a, b) = (Certificate::generate("client").unwrap(), Certificate::generate("server").unwrap());
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
            assert_eq!((c.version, c.suite, c.group), (0xfefc, suite, group));
            assert_eq!((s.suite, s.group), (suite, group));
            let (ck, sk) = (c.srtp.as_ref().unwrap(), s.srtp.as_ref().unwrap());
            assert_eq!(ck.exported, sk.exported);
            assert_eq!(ck.exported.len(), 56, "AEAD_AES_128_GCM: 2 × (16 + 12)");
            // Application data both ways.
            p.client.send_application_data(b"ping").unwrap();
            p.drive(|_, _| false, 10);
            p.server.send_application_data(b"pong").unwrap();
            p.drive(|_, _| false, 10);
            assert!(p.server_events.contains(&Event13::ApplicationData(b"ping".to_vec())));
            assert!(p.client_events.contains(&Event13::ApplicationData(b"pong".to_vec())));
            assert_eq!(p.server.stats().acks_sent, 1, "the client's final flight is ACKed once");
            assert_eq!(p.client.stats().acks_received, 1);
        }
    }
}

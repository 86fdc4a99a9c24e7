//! A DTLS 1.3 client and server (deterministic RNGs, virtual clock)
//! running a handshake through a fuzzed network: each byte of input
//! decides what happens to the next datagram (deliver, drop, corrupt a
//! byte, duplicate, truncate, or deliver raw fuzz bytes instead). Both
//! state machines and the record layer see reordered, forged and broken
//! input: never a panic, every datagram fits the MTU, a closed side stays
//! silent, every timer handled moves forward, and if both connect they hold the same SRTP keys.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use meshrtc_dtls::v13::{Dtls13, Event13};
use meshrtc_dtls::{Certificate, Config};

const MTU: usize = 500;

fn setup() -> &'static (Certificate, Certificate, Instant) {
    static S: OnceLock<(Certificate, Certificate, Instant)> = OnceLock::new();
    S.get_or_init(|| {
        (
            Certificate::generate("client").expect("certificate"),
            Certificate::generate("server").expect("certificate"),
            Instant::now(),
        )
    })
}

fn config(own: &Certificate, peer: &Certificate, seed: u8, data: &[u8]) -> Config {
    let mut c = Config::new(own.clone());
    c.remote_fingerprint = Some(*peer.fingerprint());
    c.rng_seed = Some([seed; 32]);
    c.mtu = MTU;
    c.cookie_exchange = data.first().is_some_and(|b| b & 1 == 1);
    c
}

fn connected(events: &[Event13]) -> Option<Vec<u8>> {
    events.iter().find_map(|e| match e {
        Event13::Connected(c) => c.srtp.as_ref().map(|s| s.exported.clone()),
        _ => None,
    })
}

fuzz_target!(|data: &[u8]| {
    let (a, b, base) = setup();
    let mut now = *base;
    let mut client = Dtls13::client(config(a, b, 1, data), now);
    let mut server = Dtls13::server(config(b, a, 2, data), now);
    let (mut ce, mut se) = (Vec::new(), Vec::new());
    let mut input = data.get(1..).unwrap_or(&[]).iter().copied();
    // Closed when its datagrams were last drained (its last alert is out).
    let mut silent = [false, false];
    for _ in 0..200 {
        let mut moved = false;
        for from_client in [true, false] {
            let (tx, rx) = if from_client {
                (&mut client, &mut server)
            } else {
                (&mut server, &mut client)
            };
            let was_silent = silent[usize::from(from_client)];
            let mut out = Vec::new();
            while let Some(d) = tx.poll_transmit() {
                assert!(d.len() <= MTU, "datagram of {} bytes", d.len());
                assert!(!was_silent, "a closed side sent");
                out.push(d);
            }
            silent[usize::from(from_client)] = tx.is_closed();
            for mut d in out {
                moved = true;
                let action = input.next().unwrap_or(0);
                match action % 8 {
                    1 => continue,
                    2 => {
                        let i = usize::from(input.next().unwrap_or(0)) % d.len();
                        d[i] ^= input.next().unwrap_or(1) | 1;
                    }
                    3 => {
                        let _ = rx.handle_datagram(now, &d);
                    }
                    4 => d.truncate(usize::from(input.next().unwrap_or(0)) % d.len()),
                    5 => {
                        let n = usize::from(input.next().unwrap_or(0)) % 64;
                        let raw: Vec<u8> = input.by_ref().take(n).collect();
                        let _ = rx.handle_datagram(now, &raw);
                    }
                    _ => {}
                }
                let _ = rx.handle_datagram(now, &d);
            }
        }
        ce.extend(std::iter::from_fn(|| client.poll_event()));
        se.extend(std::iter::from_fn(|| server.poll_event()));
        if !moved {
            let next = [client.poll_timeout(), server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(t) = next else { break };
            now = now.max(t) + Duration::from_millis(1);
            client.handle_timeout(now);
            server.handle_timeout(now);
            for side in [&client, &server] {
                assert!(
                    side.poll_timeout().is_none_or(|t| t > now),
                    "a timer that handle_timeout did not move"
                );
            }
        }
    }
    if let (Some(c), Some(s)) = (connected(&ce), connected(&se)) {
        assert_eq!(c, s, "both connected with different keys");
    }
});

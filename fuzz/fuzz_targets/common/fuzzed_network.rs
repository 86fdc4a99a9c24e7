//! The fuzzed network two DTLS endpoints handshake through (shared by
//! `dtls13_handshake` and `dtls_versions`): each input byte decides what
//! happens to the next datagram (deliver, drop, corrupt a byte, duplicate,
//! truncate, or deliver raw fuzz bytes first), on a virtual clock. It
//! checks what must hold whatever the input: every datagram fits the MTU,
//! a closed side stays silent once its last alert is out, and every timer
//! `handle_timeout` handled moves forward.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use meshrtc_dtls::{Certificate, Endpoint};

/// Two certificates and a base time, made once per process.
pub fn setup() -> &'static (Certificate, Certificate, Instant) {
    static S: OnceLock<(Certificate, Certificate, Instant)> = OnceLock::new();
    S.get_or_init(|| {
        (
            Certificate::generate("client").expect("certificate"),
            Certificate::generate("server").expect("certificate"),
            Instant::now(),
        )
    })
}

/// Runs `client` and `server` through the network `input` describes (at
/// most 200 rounds) from `start`; returns their events.
pub fn run<E: Endpoint>(
    client: &mut E,
    server: &mut E,
    input: &[u8],
    start: Instant,
    mtu: usize,
) -> (Vec<E::Event>, Vec<E::Event>) {
    let mut now = start;
    let (mut ce, mut se) = (Vec::new(), Vec::new());
    let mut input = input.iter().copied();
    // Closed when its datagrams were last drained (its last alert is out).
    let mut silent = [false, false];
    for _ in 0..200 {
        let mut moved = false;
        for from_client in [true, false] {
            let (tx, rx) = if from_client {
                (&mut *client, &mut *server)
            } else {
                (&mut *server, &mut *client)
            };
            let was_silent = silent[usize::from(from_client)];
            let mut out = Vec::new();
            while let Some(d) = tx.poll_transmit() {
                assert!(d.len() <= mtu, "datagram of {} bytes", d.len());
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
            for side in [&*client, &*server] {
                assert!(
                    side.poll_timeout().is_none_or(|t| t > now),
                    "a timer that handle_timeout did not move"
                );
            }
        }
    }
    (ce, se)
}

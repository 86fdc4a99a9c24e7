//! A DTLS server (deterministic RNG, virtual clock) fed fuzzed datagrams
//! and timer ticks: never a panic, every datagram it sends fits the MTU,
//! and once closed it stays silent.
//!
//! Input: a sequence of `[delta_ms: u8][len: u16 BE][datagram]`; after
//! each datagram the clock advances by `delta_ms` and timers run.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use meshrtc_dtls::{Certificate, Config, Dtls};

const MTU: usize = 600;

fn setup() -> &'static (Certificate, Instant) {
    static S: OnceLock<(Certificate, Instant)> = OnceLock::new();
    S.get_or_init(|| {
        (
            Certificate::generate("fuzz").expect("certificate"),
            Instant::now(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (cert, base) = setup();
    let mut config = Config::new(cert.clone());
    config.rng_seed = Some([7; 32]);
    config.mtu = MTU;
    config.cookie_exchange = data.first().is_some_and(|b| b & 1 == 1);
    let mut now = *base;
    let mut server = Dtls::server(config, now);
    let mut rest = data.get(1..).unwrap_or(&[]);
    while rest.len() >= 3 {
        let delta = u64::from(rest[0]);
        let n = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let datagram = &rest[3..3 + n];
        rest = &rest[3 + n..];
        let was_closed = server.is_closed();
        let _ = server.handle_datagram(now, datagram);
        now += Duration::from_millis(delta * 20);
        if server.poll_timeout().is_some_and(|t| t <= now) {
            server.handle_timeout(now);
        }
        let mut sent = 0;
        while let Some(d) = server.poll_transmit() {
            assert!(d.len() <= MTU, "datagram of {} bytes", d.len());
            sent += 1;
        }
        if was_closed {
            assert_eq!(sent, 0, "a closed server sent");
        }
        while server.poll_event().is_some() {}
    }
});

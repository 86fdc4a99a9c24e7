//! A DTLS client (deterministic RNG, virtual clock) fed fuzzed datagrams
//! and timer ticks, as if from the server: never a panic, every datagram
//! it sends fits the MTU, once closed it stays silent, a failure before
//! the handshake ended is reported exactly once, and reassembly stays
//! within its caps with work linear in the input.
//!
//! Input: `[flags: u8]`, then a sequence of
//! `[delta_ms: u8][len: u16 BE][datagram]`; after each datagram the clock
//! advances by `delta_ms` × 20 ms and timers run. Flag bit 0: the server's
//! fingerprint is not known (Connected waits for it).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use meshrtc_dtls::handshake::{MAX_PARTIALS, MAX_RANGES};
use meshrtc_dtls::{Certificate, Config, Dtls, Event};

const MTU: usize = 600;

fn setup() -> &'static (Certificate, Certificate, Instant) {
    static S: OnceLock<(Certificate, Certificate, Instant)> = OnceLock::new();
    S.get_or_init(|| {
        (
            Certificate::generate("fuzz-client").expect("certificate"),
            Certificate::generate("fuzz-server").expect("certificate"),
            Instant::now(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (cert, server_cert, base) = setup();
    let mut config = Config::new(cert.clone());
    config.rng_seed = Some([8; 32]);
    config.mtu = MTU;
    let flags = data.first().copied().unwrap_or(0);
    if flags & 1 == 0 {
        config.remote_fingerprint = Some(*server_cert.fingerprint());
    }
    let mut now = *base;
    let mut client = Dtls::client(config, now);
    let mut closed_events = 0;
    let mut sent = 0;
    while let Some(d) = client.poll_transmit() {
        assert!(d.len() <= MTU, "datagram of {} bytes", d.len());
        sent += 1;
    }
    assert!(sent >= 1, "the ClientHello goes out at once");
    let mut rest = data.get(1..).unwrap_or(&[]);
    while rest.len() >= 3 {
        let delta = u64::from(rest[0]);
        let n = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let datagram = &rest[3..3 + n];
        rest = &rest[3 + n..];
        let was_closed = client.is_closed();
        let r = client.handle_datagram(now, datagram);
        assert!(
            r.is_ok() || client.is_closed(),
            "an Err closes the association"
        );
        now += Duration::from_millis(delta * 20);
        if let Some(t) = client.poll_timeout() {
            assert!(!client.is_closed(), "a closed client wants no timer");
            if t <= now {
                client.handle_timeout(now);
            }
        }
        let mut sent = 0;
        while let Some(d) = client.poll_transmit() {
            assert!(d.len() <= MTU, "datagram of {} bytes", d.len());
            sent += 1;
        }
        if was_closed {
            assert_eq!(sent, 0, "a closed client sent");
        }
        while let Some(e) = client.poll_event() {
            if matches!(e, Event::Closed(_)) {
                closed_events += 1;
            }
        }
        let s = client.stats();
        assert!(s.reassembly_peak_ranges <= MAX_RANGES as u64);
        assert!(s.reassembly_peak_partials <= MAX_PARTIALS as u64);
        // A fragment takes 12 input bytes and costs at most 11 units.
        assert!(
            s.reassembly_work <= data.len() as u64,
            "work {} for {} bytes",
            s.reassembly_work,
            data.len()
        );
    }
    assert!(closed_events <= 1, "closed {closed_events} times");
    assert_eq!(closed_events == 1, client.is_closed());
});

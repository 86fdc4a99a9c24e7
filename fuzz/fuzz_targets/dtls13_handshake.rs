//! A DTLS 1.3 client and server (deterministic RNGs, virtual clock)
//! running a handshake through a fuzzed network: each byte of input
//! decides what happens to the next datagram (deliver, drop, corrupt a
//! byte, duplicate, truncate, or deliver raw fuzz bytes instead). Both
//! state machines and the record layer see reordered, forged and broken
//! input: never a panic, every datagram fits the MTU, a closed side stays
//! silent, every timer handled moves forward, and if both connect they hold the same SRTP keys.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/fuzzed_network.rs"]
mod fuzzed_network;
use meshrtc_dtls::v13::{Dtls13, Event13};
use meshrtc_dtls::{Certificate, Config};

const MTU: usize = 500;

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
    let (a, b, base) = fuzzed_network::setup();
    let now = *base;
    let mut client = Dtls13::client(config(a, b, 1, data), now);
    let mut server = Dtls13::server(config(b, a, 2, data), now);
    let input = data.get(1..).unwrap_or(&[]);
    let (ce, se) = fuzzed_network::run(&mut client, &mut server, input, now, MTU);
    if let (Some(c), Some(s)) = (connected(&ce), connected(&se)) {
        assert_eq!(c, s, "both connected with different keys");
    }
});

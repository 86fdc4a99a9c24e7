//! Version negotiation ([`AnyDtls`]) in both roles: a client and a server
//! each configured for DTLS 1.2 only, 1.3 only or both (the first input
//! byte picks the pair, and the cookie exchange), run a handshake through
//! a fuzzed network as in `dtls13_handshake`: each byte decides what
//! happens to the next datagram (deliver, drop, corrupt a byte, duplicate,
//! truncate, or deliver raw fuzz bytes instead), so the deciding server,
//! the client's fallback to 1.2 and both versions' state machines see
//! reordered, forged and broken hellos. Never a panic, every datagram
//! fits the MTU, a closed side stays silent, every timer handled moves
//! forward; if both connect they agree on the version and the SRTP keys,
//! and two endpoints for both never end up on 1.2 (the downgrade
//! sentinel, RFC 8446 §4.1.3, and the Finished messages forbid it).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/fuzzed_network.rs"]
mod fuzzed_network;
use meshrtc_dtls::v13::{AnyDtls, AnyEvent, CommonEvent, Versions};
use meshrtc_dtls::{Certificate, Config};

const MTU: usize = 500;

const VERSIONS: [Versions; 3] = [Versions::Dtls12Only, Versions::Dtls13Only, Versions::Both];

fn config(
    own: &Certificate,
    peer: &Certificate,
    seed: u8,
    versions: Versions,
    first: u8,
) -> Config {
    let mut c = Config::new(own.clone());
    c.remote_fingerprint = Some(*peer.fingerprint());
    c.rng_seed = Some([seed; 32]);
    c.mtu = MTU;
    c.cookie_exchange = first & 1 == 1;
    c.x25519mlkem768 = first & 2 == 2;
    c.versions = versions;
    c
}

/// The version and SRTP keys a side connected with.
fn connected(events: Vec<AnyEvent>) -> Option<(u16, Vec<u8>)> {
    events.into_iter().find_map(|e| match e.common() {
        CommonEvent::Connected(c) => Some((c.version, c.srtp?.exported)),
        _ => None,
    })
}

fuzz_target!(|data: &[u8]| {
    let (a, b, base) = fuzzed_network::setup();
    let now = *base;
    let first = data.first().copied().unwrap_or(0);
    let cv = VERSIONS[usize::from(first >> 2) % 3];
    let sv = VERSIONS[usize::from(first >> 4) % 3];
    let mut client = AnyDtls::client(config(a, b, 1, cv, first), now);
    let mut server = AnyDtls::server(config(b, a, 2, sv, first), now);
    let input = data.get(1..).unwrap_or(&[]);
    let (ce, se) = fuzzed_network::run(&mut client, &mut server, input, now, MTU);
    if let (Some(c), Some(s)) = (connected(ce), connected(se)) {
        assert_eq!(c, s, "both connected with different versions or keys");
        if (cv, sv) == (Versions::Both, Versions::Both) {
            assert_eq!(c.0, 0xfefc, "two endpoints for both downgraded");
        }
    }
});

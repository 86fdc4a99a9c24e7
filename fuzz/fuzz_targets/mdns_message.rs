//! The mDNS message parser (RFC 1035 §4.1 with RFC 6762's changes) never
//! panics and never loops; what parses writes back and parses again to the
//! same message (records of unknown types left out); and the resolver and
//! responder take any datagram as a count, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_ice::mdns::{Mdns, MdnsConfig, Message, RecordData};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    if let Ok(mut m) = Message::parse(data) {
        m.records
            .retain(|r| !matches!(r.data, RecordData::Other(..)));
        if let Ok(bytes) = m.emit() {
            assert_eq!(Message::parse(&bytes).as_ref(), Ok(&m));
        }
    }
    let t0 = Instant::now();
    let mut mdns = Mdns::new(MdnsConfig::default());
    let _ = mdns.resolve(t0, "x.local");
    mdns.publish("y.local", "10.0.0.1".parse().unwrap());
    let from_port = if data.first().is_some_and(|b| b & 1 == 1) {
        5353
    } else {
        40000
    };
    mdns.handle_datagram(([10, 0, 0, 2], from_port).into(), data);
    while mdns.poll_transmit().is_some() {}
    while mdns.poll_event().is_some() {}
    mdns.handle_timeout(t0 + Duration::from_secs(10));
    let s = mdns.stats();
    assert!(s.resolved + s.failed <= 2 && s.malformed <= 1);
});

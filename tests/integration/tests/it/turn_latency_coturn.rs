//! What a TURN relay adds to a packet's trip, measured with coturn on
//! loopback: the round-trip time of a 100-byte datagram to a UDP echo
//! peer, sent directly and sent through a coturn allocation (ChannelData
//! to coturn, relayed to the peer, the echo relayed back as ChannelData),
//! interleaved, at microsecond resolution. The TURN side is our sans-IO
//! [`TurnClient`] on a blocking socket. The figures go to BENCHMARKS.md:
//!
//! `cargo test -p meshrtc-integration --test it turn_latency_coturn -- --nocapture`
//!
//! Needs root (a private network namespace) and `turnserver`.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use meshrtc_ice::turn::{TurnClient, TurnConfig, TurnState};
use meshrtc_integration::browser::run_in_private_netns;

use crate::turn_coturn::{Coturn, PASS, USER};

/// Round trips measured each way.
const TRIPS: usize = 2000;

/// Feeds `client` what `socket` receives and sends what it has, until
/// `done` (or 5 s).
fn drive(client: &mut TurnClient, socket: &UdpSocket, done: impl Fn(&TurnClient) -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        while let Some(t) = client.poll_transmit() {
            socket.send_to(&t.payload, t.dst).unwrap();
        }
        if done(client) {
            return;
        }
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let _ = client.handle_input(Instant::now(), from, &buf[..n]);
            }
            Err(_) => client.handle_timeout(Instant::now()),
        }
    }
    panic!("TURN setup did not finish: {:?}", client.state());
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() - 1) * p / 100]
}

#[test]
fn relay_round_trip_through_coturn_against_direct_on_loopback() {
    if !run_in_private_netns(
        "turn_latency_coturn::relay_round_trip_through_coturn_against_direct_on_loopback",
    ) {
        return;
    }
    let lo = "127.0.0.1".parse().unwrap();
    let coturn = Coturn::start(None, lo);
    // The echo peer.
    let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
    let echo_addr = echo.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut client = TurnClient::new(TurnConfig::new(coturn.addr, USER, PASS), [7; 32]);
    client.allocate(Instant::now());
    drive(&mut client, &socket, |c| c.state() == TurnState::Allocated);
    // The first send asks for a permission and a channel.
    client.send(Instant::now(), echo_addr, b"hello").unwrap();
    drive(&mut client, &socket, |c| c.channel(echo_addr).is_some());
    // Leftover echoes of the first send.
    let mut buf = [0u8; 2048];
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    while socket.recv_from(&mut buf).is_ok() {}
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let direct = UdpSocket::bind("127.0.0.1:0").unwrap();
    direct
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let (mut relayed_rtt, mut direct_rtt) = (Vec::new(), Vec::new());
    let server: SocketAddr = coturn.addr;
    for i in 0..TRIPS {
        let mut data = [0u8; 100];
        data[..8].copy_from_slice(&(i as u64).to_be_bytes());
        // Direct.
        let t = Instant::now();
        direct.send_to(&data, echo_addr).unwrap();
        let (n, _) = direct.recv_from(&mut buf).unwrap();
        direct_rtt.push(t.elapsed());
        assert_eq!(&buf[..n], &data[..]);
        // Through the relay: wrapping and unwrapping (our client's work)
        // is inside the measured time.
        let t = Instant::now();
        let wire = client.send(Instant::now(), echo_addr, &data).unwrap();
        socket.send_to(&wire, server).unwrap();
        loop {
            let (n, from) = socket.recv_from(&mut buf).unwrap();
            if let Ok(Some(got)) = client.handle_input(Instant::now(), from, &buf[..n]) {
                if got.data == &data[..] {
                    assert_eq!(got.channel, client.channel(echo_addr));
                    break;
                }
            }
        }
        relayed_rtt.push(t.elapsed());
    }
    direct_rtt.sort();
    relayed_rtt.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (d50, r50) = (percentile(&direct_rtt, 50), percentile(&relayed_rtt, 50));
    eprintln!(
        "round trip of 100 bytes, {TRIPS} each: direct median {:.1} µs (p10 {:.1}, p90 {:.1}); \
         through coturn median {:.1} µs (p10 {:.1}, p90 {:.1}); the relay adds {:.1} µs per \
         round trip, {:.1} µs per packet",
        us(d50),
        us(percentile(&direct_rtt, 10)),
        us(percentile(&direct_rtt, 90)),
        us(r50),
        us(percentile(&relayed_rtt, 10)),
        us(percentile(&relayed_rtt, 90)),
        us(r50) - us(d50),
        (us(r50) - us(d50)) / 2.0,
    );
    // Every relayed packet went as ChannelData.
    assert!(client.stats().channel_data_sent >= TRIPS as u64);
    assert!(client.stats().channel_data_received >= TRIPS as u64);
    // The relay costs two more hops through coturn each way: more than
    // the direct path, and still well under a millisecond on loopback.
    assert!(r50 > d50, "relayed {r50:?} direct {d50:?}");
    assert!(r50 < Duration::from_millis(2), "relayed {r50:?}");
}

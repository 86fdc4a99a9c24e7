//! A 300 Try Alternate over a TCP stream: the agent asks its owner for a
//! stream to the alternate, allocates over it with the first server's
//! credentials, and gathering waits for it (or for the owner's report
//! that it could not be opened).

use super::super::{IceAgent, IceConfig, IceError, IceEvent};
use super::TurnStreamRedirect;
use crate::agent::{TurnServer, TurnTransport};
use crate::stun::{Attribute, Class, ErrorCode, Message, MessageBuilder, Method};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A relay-only agent with one TCP TURN server (named `turn.example`),
/// its stream from 10.0.0.1:2000 added, gathering started.
fn agent(now: Instant) -> IceAgent {
    let mut cfg = IceConfig::controlling(1);
    cfg.turn_servers = vec![TurnServer {
        transport: TurnTransport::Tcp,
        host: Some("turn.example".into()),
        ..TurnServer::udp(addr("192.0.2.1:3478"), "user", "pass")
    }];
    cfg.relay_only = true;
    let mut a = IceAgent::new(cfg, now);
    a.add_local_host(addr("10.0.0.1:1000")).unwrap();
    a.add_turn_stream(now, addr("192.0.2.1:3478"), addr("10.0.0.1:2000"))
        .unwrap();
    a.start_gathering(now);
    a
}

/// The agent's next Allocate: (src, dst, bytes).
fn allocate(a: &mut IceAgent) -> (SocketAddr, SocketAddr, Vec<u8>) {
    let t = a.poll_transmit().expect("an Allocate");
    let m = Message::parse(&t.payload).unwrap();
    assert_eq!(m.method(), Method::ALLOCATE);
    (t.src, t.dst, t.payload)
}

fn try_alternate(request: &[u8], to: SocketAddr) -> Vec<u8> {
    let m = Message::parse(request).unwrap();
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, Class::Error, m.method(), m.transaction_id());
    b.add(&Attribute::ErrorCode(ErrorCode {
        code: 300,
        reason: "Try Alternate",
    }))
    .unwrap();
    b.add(&Attribute::AlternateServer(to)).unwrap();
    b.add_fingerprint().unwrap();
    out
}

fn gathering_complete(a: &mut IceAgent) -> bool {
    std::iter::from_fn(|| a.poll_event()).any(|e| e == IceEvent::GatheringComplete)
}

#[test]
fn a_300_over_a_stream_asks_for_a_stream_to_the_alternate_and_allocates_there() {
    let now = Instant::now();
    let mut a = agent(now);
    let (src, dst, req) = allocate(&mut a);
    assert_eq!((src, dst), (addr("10.0.0.1:2000"), addr("192.0.2.1:3478")));
    let alt = addr("192.0.2.2:3478");
    a.handle_relay_datagram(now, dst, src, &try_alternate(&req, alt))
        .unwrap();
    // Nothing goes to the alternate on the first server's stream.
    assert_eq!(a.poll_transmit(), None);
    assert_eq!(
        a.poll_turn_redirect(),
        Some(TurnStreamRedirect {
            server: alt,
            transport: TurnTransport::Tcp,
            host: Some("turn.example".into()),
            replaces: src,
        })
    );
    assert_eq!(a.poll_turn_redirect(), None);
    assert_eq!(a.stats().turn_stream_redirects, 1);
    // The first stream no longer belongs to an allocation.
    assert!(!a.is_relay_server(src, dst));
    assert!(
        !gathering_complete(&mut a),
        "gathering waits for the alternate"
    );
    // A server neither configured nor awaited is still refused.
    assert_eq!(
        a.add_turn_stream(now, addr("192.0.2.9:3478"), addr("10.0.0.1:2002")),
        Err(IceError::UnknownTurnServer(addr("192.0.2.9:3478")))
    );
    // The owner's stream to the alternate carries the next Allocate.
    a.add_turn_stream(now, alt, addr("10.0.0.1:2001")).unwrap();
    let (src2, dst2, req2) = allocate(&mut a);
    assert_eq!((src2, dst2), (addr("10.0.0.1:2001"), alt));
    assert!(a.is_relay_server(src2, alt));
    // Redirected again, and once more: the first server's budget of two
    // redirections (the TURN client's default) is spent.
    let alt2 = addr("192.0.2.3:3478");
    a.handle_relay_datagram(now, alt, src2, &try_alternate(&req2, alt2))
        .unwrap();
    let r = a.poll_turn_redirect().unwrap();
    assert_eq!((r.server, r.replaces), (alt2, src2));
    a.add_turn_stream(now, alt2, addr("10.0.0.1:2003")).unwrap();
    let (src3, dst3, req3) = allocate(&mut a);
    a.handle_relay_datagram(
        now,
        dst3,
        src3,
        &try_alternate(&req3, addr("192.0.2.4:3478")),
    )
    .unwrap();
    assert_eq!(
        a.poll_turn_redirect(),
        None,
        "a third redirection is refused"
    );
    assert_eq!(a.stats().turn_stream_redirects, 2);
    assert!(gathering_complete(&mut a));
}

#[test]
fn an_alternate_the_owner_cannot_reach_ends_gathering() {
    let now = Instant::now();
    let mut a = agent(now);
    let (src, dst, req) = allocate(&mut a);
    let alt = addr("192.0.2.2:3478");
    a.handle_relay_datagram(now, dst, src, &try_alternate(&req, alt))
        .unwrap();
    assert!(a.poll_turn_redirect().is_some());
    assert!(!gathering_complete(&mut a));
    a.turn_stream_failed(now + Duration::from_millis(5), alt);
    assert!(gathering_complete(&mut a));
    // Handed in late, the stream is no longer awaited.
    assert_eq!(
        a.add_turn_stream(now, alt, addr("10.0.0.1:2001")),
        Err(IceError::UnknownTurnServer(alt))
    );
}

//! A 300 Try Alternate over a TCP stream: the agent asks its owner for a
//! stream to the alternate, allocates over it with the first server's
//! credentials, and gathering waits for it (or for the owner's report
//! that it could not be opened). Over UDP: an allocation the alternate
//! loses is made anew through the server first asked.

use super::super::{IceAgent, IceConfig, IceError, IceEvent};
use super::TurnStreamRedirect;
use crate::agent::{TurnServer, TurnTransport};
use crate::stun::{
    AttrType, Attribute, Class, ErrorCode, Message, MessageBuilder, Method, ShortTermKey,
};
use crate::turn::long_term_key;
use crate::turn::test_answers::{answer, error_in};
use crate::CandidateKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A relay-only agent with one TCP TURN server (named `turn.example`),
/// its stream from 10.0.0.1:2000 added, gathering started.
fn agent(now: Instant) -> IceAgent {
    agent_over(now, TurnTransport::Tcp)
}

/// [`agent`] with its server reached over `transport`.
fn agent_over(now: Instant, transport: TurnTransport) -> IceAgent {
    let mut cfg = IceConfig::controlling(1);
    cfg.turn_servers = vec![TurnServer {
        transport,
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

/// A 401 or 437 from the alternate.
fn error(code: u16) -> impl FnOnce(&mut MessageBuilder<'_>) {
    error_in(code, "alt.test", "n-1")
}

/// Runs `a`'s timers to the Refresh of a 600 s allocation (540 s after
/// `t0`), checks it leaves `local` for `server`, and answers it with a 437
/// (the server lost the allocation).
fn lose_on_refresh(
    a: &mut IceAgent,
    t0: Instant,
    key: &ShortTermKey,
    local: SocketAddr,
    server: SocketAddr,
) {
    let at = t0 + Duration::from_secs(540);
    a.handle_timeout(at);
    let refresh = std::iter::from_fn(|| next(a))
        .find(|(_, _, m, _)| *m == Method::REFRESH)
        .expect("a Refresh");
    assert_eq!((refresh.0, refresh.1), (local, server));
    let lost = answer(&refresh.3, Class::Error, Some(key), error(437));
    a.handle_relay_datagram(at, server, local, &lost).unwrap();
}

/// The agent's next transmit: (src, dst, method, bytes).
fn next(a: &mut IceAgent) -> Option<(SocketAddr, SocketAddr, Method, Vec<u8>)> {
    let t = a.poll_transmit()?;
    let m = Message::parse(&t.payload).unwrap().method();
    Some((t.src, t.dst, m, t.payload))
}

#[test]
fn an_allocation_an_alternate_loses_over_udp_is_made_anew_through_the_first_server() {
    let t0 = Instant::now();
    let (first, alt) = (addr("192.0.2.1:3478"), addr("192.0.2.2:3478"));
    let base = addr("10.0.0.1:1000");
    let mut cfg = IceConfig::controlling(1);
    cfg.turn_servers = vec![TurnServer::udp(first, "user", "pass")];
    cfg.relay_only = true;
    let mut a = IceAgent::new(cfg, t0);
    a.add_local_host(base).unwrap();
    a.start_gathering(t0);
    let key = ShortTermKey::new(&long_term_key("user", "alt.test", "pass"));
    // The first server redirects; the alternate challenges, then allocates.
    let (src, dst, method, req) = next(&mut a).unwrap();
    assert_eq!((src, dst, method), (base, first, Method::ALLOCATE));
    a.handle_relay_datagram(t0, first, base, &try_alternate(&req, alt))
        .unwrap();
    let (_, dst, _, req) = next(&mut a).unwrap();
    assert_eq!(dst, alt);
    let challenge = answer(&req, Class::Error, None, error(401));
    a.handle_relay_datagram(t0, alt, base, &challenge).unwrap();
    let (_, dst, _, req) = next(&mut a).unwrap();
    assert_eq!(dst, alt);
    let relayed = addr("192.0.2.2:50000");
    let ok = answer(&req, Class::Success, Some(&key), |b| {
        b.add_xor_address(AttrType::XOR_RELAYED_ADDRESS, relayed)
            .unwrap();
        b.add(&Attribute::XorMappedAddress(addr("198.51.100.7:4000")))
            .unwrap();
        b.add_raw(AttrType::LIFETIME, &600u32.to_be_bytes())
            .unwrap();
    });
    a.handle_relay_datagram(t0, alt, base, &ok).unwrap();
    let relayed_candidates = |a: &IceAgent| -> Vec<SocketAddr> {
        a.local_candidates()
            .filter(|c| c.kind == CandidateKind::Relayed)
            .map(|c| c.addr)
            .collect()
    };
    assert_eq!(relayed_candidates(&a), vec![relayed]);
    // The Refresh a minute before expiry goes to the alternate, which has
    // lost the allocation (it restarted): 437.
    lose_on_refresh(&mut a, t0, &key, base, alt);
    // A new allocation from the same base, to the server first asked,
    // which redirects it again.
    let (src, dst, method, _) = next(&mut a).expect("a new Allocate");
    assert_eq!((src, dst, method), (base, first, Method::ALLOCATE));
    assert_eq!(a.stats().relays_reallocated, 1);
}

#[test]
fn an_allocation_lost_on_a_stream_to_an_alternate_is_made_anew_on_that_stream() {
    let t0 = Instant::now();
    let mut a = agent(t0);
    let (src, dst, req) = allocate(&mut a);
    let alt = addr("192.0.2.2:3478");
    a.handle_relay_datagram(t0, dst, src, &try_alternate(&req, alt))
        .unwrap();
    assert!(a.poll_turn_redirect().is_some());
    let stream = addr("10.0.0.1:2001");
    a.add_turn_stream(t0, alt, stream).unwrap();
    let key = ShortTermKey::new(&long_term_key("user", "alt.test", "pass"));
    let (_, _, req) = allocate(&mut a);
    let challenge = answer(&req, Class::Error, None, error(401));
    a.handle_relay_datagram(t0, alt, stream, &challenge)
        .unwrap();
    let (_, _, req) = allocate(&mut a);
    let ok = answer(&req, Class::Success, Some(&key), |b| {
        b.add_xor_address(AttrType::XOR_RELAYED_ADDRESS, addr("192.0.2.2:50000"))
            .unwrap();
        b.add_raw(AttrType::LIFETIME, &600u32.to_be_bytes())
            .unwrap();
    });
    a.handle_relay_datagram(t0, alt, stream, &ok).unwrap();
    lose_on_refresh(&mut a, t0, &key, stream, alt);
    // Allocated again on the alternate's stream, which the owner keeps.
    let (src, dst, method, _) = next(&mut a).expect("a new Allocate");
    assert_eq!((src, dst, method), (stream, alt, Method::ALLOCATE));
    assert_eq!(a.stats().relays_reallocated, 1);
}

/// A relay-only agent with one TURN server over `transport` named
/// `turn.example`, redirected by a 300 carrying ALTERNATE-DOMAIN
/// `turn2.example`: the stream it asks for.
fn redirect_with_domain(transport: TurnTransport) -> TurnStreamRedirect {
    let now = Instant::now();
    let mut a = agent_over(now, transport);
    let (src, dst, req) = allocate(&mut a);
    let alt = addr("192.0.2.2:3478");
    let redirect = answer(&req, Class::Error, None, |b| {
        b.add(&Attribute::ErrorCode(ErrorCode {
            code: 300,
            reason: "Try Alternate",
        }))
        .unwrap();
        b.add(&Attribute::AlternateServer(alt)).unwrap();
        b.add_raw(AttrType::ALTERNATE_DOMAIN, b"turn2.example")
            .unwrap();
    });
    a.handle_relay_datagram(now, dst, src, &redirect).unwrap();
    a.poll_turn_redirect().expect("a stream to the alternate")
}

#[test]
fn over_tls_the_alternate_is_checked_for_its_alternate_domain() {
    // RFC 8489 §10: the 300's ALTERNATE-DOMAIN is the name TLS checks.
    let tls = redirect_with_domain(TurnTransport::Tls);
    assert_eq!(
        (tls.transport, tls.host.as_deref()),
        (TurnTransport::Tls, Some("turn2.example"))
    );
    // Over TCP no name is checked: the URL's host name is carried on.
    let tcp = redirect_with_domain(TurnTransport::Tcp);
    assert_eq!(tcp.host.as_deref(), Some("turn.example"));
}

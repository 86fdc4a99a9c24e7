//! The TURN client against crafted server responses.

use super::test_answers::{answer, error_in};
use super::*;
use crate::stun::{
    AttrType, Attribute, Class, ErrorCode, Message, MessageBuilder, Method, ShortTermKey,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SERVER: &str = "192.0.2.1:3478";
const REALM: &str = "meshrtc.test";
const NONCE: &str = "nonce-1";

fn server() -> SocketAddr {
    SERVER.parse().unwrap()
}
fn relayed() -> SocketAddr {
    "192.0.2.1:50000".parse().unwrap()
}
fn mapped() -> SocketAddr {
    "198.51.100.7:40000".parse().unwrap()
}
fn peer() -> SocketAddr {
    "203.0.113.9:6000".parse().unwrap()
}

fn key() -> ShortTermKey {
    ShortTermKey::new(&long_term_key("alice", REALM, "secret"))
}

fn client() -> TurnClient {
    TurnClient::new(TurnConfig::new(server(), "alice", "secret"), [1; 32])
}

fn error(code: u16) -> impl FnOnce(&mut MessageBuilder<'_>) {
    error_in(code, REALM, NONCE)
}

fn try_alternate(to: SocketAddr) -> impl FnOnce(&mut MessageBuilder<'_>) {
    move |b| {
        b.add(&Attribute::ErrorCode(ErrorCode {
            code: 300,
            reason: "Try Alternate",
        }))
        .unwrap();
        b.add(&Attribute::AlternateServer(to)).unwrap();
    }
}

fn allocated(lifetime: u32) -> impl FnOnce(&mut MessageBuilder<'_>) {
    move |b| {
        b.add_xor_address(AttrType::XOR_RELAYED_ADDRESS, relayed())
            .unwrap();
        b.add(&Attribute::XorMappedAddress(mapped())).unwrap();
        b.add_raw(AttrType::LIFETIME, &lifetime.to_be_bytes())
            .unwrap();
    }
}

fn events(c: &mut TurnClient) -> Vec<TurnEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn transmits(c: &mut TurnClient) -> Vec<Vec<u8>> {
    let server = c.server();
    std::iter::from_fn(|| c.poll_transmit())
        .map(|t| {
            assert_eq!(t.dst, server);
            t.payload
        })
        .collect()
}

/// Feeds the client the server's answer to `req` (see [`answer`]).
fn reply(
    c: &mut TurnClient,
    now: Instant,
    req: &[u8],
    class: Class,
    key: Option<&ShortTermKey>,
    attrs: impl FnOnce(&mut MessageBuilder<'_>),
) {
    c.handle_input(now, server(), &answer(req, class, key, attrs))
        .unwrap();
}

/// The allocation failed with `err`, and said so once.
fn assert_failed(c: &mut TurnClient, err: TurnError) {
    assert_eq!(c.state(), TurnState::Failed);
    assert_eq!(events(c), vec![TurnEvent::Failed(err)]);
}

fn one(c: &mut TurnClient) -> Vec<u8> {
    let mut t = transmits(c);
    assert_eq!(t.len(), 1, "expected one message to the server");
    t.remove(0)
}

/// A client whose Allocate got the 401 challenge; returns it with its
/// authenticated second Allocate.
fn challenged(t0: Instant) -> (TurnClient, Vec<u8>) {
    let mut c = client();
    c.allocate(t0);
    let first = one(&mut c);
    reply(&mut c, t0, &first, Class::Error, None, error(401));
    let second = one(&mut c);
    (c, second)
}

/// Allocates through the 401 challenge, returns the client at `t0`.
fn allocate(t0: Instant, lifetime: u32) -> TurnClient {
    let (mut c, second) = challenged(t0);
    reply(
        &mut c,
        t0,
        &second,
        Class::Success,
        Some(&key()),
        allocated(lifetime),
    );
    c
}

/// An allocation of 600 s at `t0`, at its refresh (540 s): the client and
/// its Refresh request.
fn refreshing(t0: Instant) -> (TurnClient, Vec<u8>) {
    let mut c = allocate(t0, 600);
    let _ = events(&mut c);
    c.handle_timeout(t0 + Duration::from_secs(540));
    let refresh = one(&mut c);
    (c, refresh)
}

#[test]
fn allocate_answers_401_with_long_term_credentials_and_reports_the_addresses() {
    let t0 = Instant::now();
    let mut c = client();
    c.allocate(t0);
    let first = one(&mut c);
    let m = Message::parse(&first).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Request, Method::ALLOCATE));
    // RFC 8656 §7.1: REQUESTED-TRANSPORT UDP; no credentials before the
    // server names its realm and nonce.
    assert_eq!(
        m.raw(AttrType::REQUESTED_TRANSPORT).unwrap().value,
        &[17, 0, 0, 0]
    );
    assert!(m.username().unwrap().is_none() && !m.has_integrity());
    reply(&mut c, t0, &first, Class::Error, None, error(401));
    let second = one(&mut c);
    let m = Message::parse(&second).unwrap();
    assert_ne!(
        m.transaction_id(),
        Message::parse(&first).unwrap().transaction_id()
    );
    assert_eq!(m.username(), Ok(Some("alice")));
    assert_eq!(m.get(AttrType::REALM), Some(Ok(Attribute::Realm(REALM))));
    assert_eq!(m.get(AttrType::NONCE), Some(Ok(Attribute::Nonce(NONCE))));
    m.verify_integrity(&key()).unwrap();
    reply(
        &mut c,
        t0,
        &second,
        Class::Success,
        Some(&key()),
        allocated(600),
    );
    assert_eq!(c.state(), TurnState::Allocated);
    assert_eq!(c.relayed_address(), Some(relayed()));
    assert_eq!(
        events(&mut c),
        vec![TurnEvent::Allocated {
            relayed: relayed(),
            mapped: Some(mapped()),
            lifetime: Duration::from_secs(600)
        }]
    );
}

#[test]
fn stale_nonce_is_retried_with_the_new_nonce_and_a_loop_of_them_fails() {
    let t0 = Instant::now();
    let (mut c, refresh) = refreshing(t0);
    let stale = |b: &mut MessageBuilder<'_>| {
        b.add(&Attribute::ErrorCode(ErrorCode {
            code: 438,
            reason: "Stale Nonce",
        }))
        .unwrap();
        b.add(&Attribute::Realm(REALM)).unwrap();
        b.add(&Attribute::Nonce("nonce-2")).unwrap();
    };
    let t1 = t0 + Duration::from_secs(540);
    reply(&mut c, t1, &refresh, Class::Error, None, stale);
    let again = one(&mut c);
    let m = Message::parse(&again).unwrap();
    assert_eq!(m.method(), Method::REFRESH);
    assert_eq!(
        m.get(AttrType::NONCE),
        Some(Ok(Attribute::Nonce("nonce-2")))
    );
    // The key does not depend on the nonce.
    m.verify_integrity(&key()).unwrap();
    // Three more stale nonces for the same refresh: the client gives up.
    let mut last = again;
    for _ in 0..3 {
        reply(&mut c, t1, &last, Class::Error, None, stale);
        let t = transmits(&mut c);
        if t.is_empty() {
            break;
        }
        last = t[0].clone();
    }
    assert_eq!(c.stats().stale_nonces, 4);
    assert_failed(&mut c, TurnError::StaleNonceLoop);
}

#[test]
fn second_401_after_authenticating_means_wrong_credentials() {
    let t0 = Instant::now();
    let (mut c, second) = challenged(t0);
    assert_eq!(c.stats().unauthorized, 0);
    reply(&mut c, t0, &second, Class::Error, None, error(401));
    assert!(transmits(&mut c).is_empty());
    assert_failed(&mut c, TurnError::Unauthorized);
    assert_eq!(c.stats().unauthorized, 1);
}

#[test]
fn forged_responses_are_counted_and_change_nothing() {
    let t0 = Instant::now();
    let (mut c, second) = challenged(t0);
    // Wrong transaction id.
    let mut other = second.clone();
    other[10] ^= 0xFF;
    let forged = answer(&other, Class::Success, Some(&key()), allocated(600));
    assert_eq!(
        c.handle_input(t0, server(), &forged),
        Err(TurnError::UnmatchedTransaction)
    );
    // Signed with another password.
    let wrong = ShortTermKey::new(&long_term_key("alice", REALM, "guess"));
    let forged = answer(&second, Class::Success, Some(&wrong), allocated(600));
    assert_eq!(
        c.handle_input(t0, server(), &forged),
        Err(TurnError::BadIntegrity)
    );
    // Not signed at all.
    let forged = answer(&second, Class::Success, None, allocated(600));
    assert_eq!(
        c.handle_input(t0, server(), &forged),
        Err(TurnError::BadIntegrity)
    );
    // A signed 437 with a bad signature must not reset anything either.
    let forged = answer(&second, Class::Error, Some(&wrong), error(437));
    assert_eq!(
        c.handle_input(t0, server(), &forged),
        Err(TurnError::BadIntegrity)
    );
    // From somewhere else.
    let good = answer(&second, Class::Success, Some(&key()), allocated(600));
    let elsewhere: SocketAddr = "192.0.2.66:3478".parse().unwrap();
    assert_eq!(
        c.handle_input(t0, elsewhere, &good),
        Err(TurnError::UnexpectedSource(elsewhere))
    );
    // Garbage.
    assert!(c.handle_input(t0, server(), b"\x01\x01\x00").is_err());
    assert_eq!(c.state(), TurnState::Allocating);
    let s = c.stats();
    assert_eq!(
        (
            s.unmatched_responses,
            s.bad_integrity,
            s.unexpected_source,
            s.malformed
        ),
        (1, 3, 1, 1)
    );
    // The real answer still works.
    c.handle_input(t0, server(), &good).unwrap();
    assert_eq!(c.state(), TurnState::Allocated);
    // And a replay of it matches nothing any more.
    assert_eq!(
        c.handle_input(t0, server(), &good),
        Err(TurnError::UnmatchedTransaction)
    );
}

#[test]
fn allocation_is_refreshed_a_minute_before_expiry_or_half_way_when_short() {
    let t0 = Instant::now();
    let mut c = allocate(t0, 600);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(540)));
    c.handle_timeout(t0 + Duration::from_secs(539));
    assert!(transmits(&mut c).is_empty());
    let t1 = t0 + Duration::from_secs(540);
    c.handle_timeout(t1);
    let refresh = one(&mut c);
    let m = Message::parse(&refresh).unwrap();
    assert_eq!(m.method(), Method::REFRESH);
    assert_eq!(
        m.raw(AttrType::LIFETIME).unwrap().value,
        &600u32.to_be_bytes()
    );
    m.verify_integrity(&key()).unwrap();
    // The server grants 60 s: next refresh half-way, at 30 s.
    let granted =
        |b: &mut MessageBuilder<'_>| b.add_raw(AttrType::LIFETIME, &60u32.to_be_bytes()).unwrap();
    reply(&mut c, t1, &refresh, Class::Success, Some(&key()), granted);
    let _ = events(&mut c);
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(30)));
    // No answer to any refresh: the allocation lapses at its expiry.
    let mut now = t1 + Duration::from_secs(30);
    while c.state() == TurnState::Allocated {
        c.handle_timeout(now);
        let _ = transmits(&mut c);
        now = c.poll_timeout().unwrap_or(now + Duration::from_secs(1));
    }
    assert_eq!(c.state(), TurnState::Failed);
    assert!(now <= t1 + Duration::from_secs(61));
    assert_failed(&mut c, TurnError::AllocationLost);
}

#[test]
fn first_send_goes_in_a_send_indication_then_channel_data_once_bound() {
    let t0 = Instant::now();
    let mut c = allocate(t0, 600);
    let _ = events(&mut c);
    let ind = c.send(t0, peer(), b"ping").unwrap();
    let m = Message::parse(&ind).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Indication, Method::SEND));
    assert_eq!(m.xor_address(AttrType::XOR_PEER_ADDRESS), Ok(Some(peer())));
    assert_eq!(m.raw(AttrType::DATA).unwrap().value, b"ping");
    // Overhead over IPv4: header 20, XOR-PEER-ADDRESS 12, DATA header 4.
    assert_eq!(ind.len(), 36 + 4);
    // The permission and the channel were asked for, in that order.
    let reqs = transmits(&mut c);
    assert_eq!(reqs.len(), 2);
    let perm = Message::parse(&reqs[0]).unwrap();
    let bind = Message::parse(&reqs[1]).unwrap();
    assert_eq!(perm.method(), Method::CREATE_PERMISSION);
    assert_eq!(
        perm.xor_address(AttrType::XOR_PEER_ADDRESS),
        Ok(Some(peer()))
    );
    assert_eq!(bind.method(), Method::CHANNEL_BIND);
    assert_eq!(
        bind.raw(AttrType::CHANNEL_NUMBER).unwrap().value,
        &[0x40, 0x00, 0, 0]
    );
    perm.verify_integrity(&key()).unwrap();
    bind.verify_integrity(&key()).unwrap();
    // A second send before the answers: still an indication, no new requests.
    assert_eq!(c.send(t0, peer(), b"x").unwrap()[..2], [0x00, 0x16]);
    assert!(transmits(&mut c).is_empty());
    c.handle_input(
        t0,
        server(),
        &answer(&reqs[0], Class::Success, Some(&key()), |_| {}),
    )
    .unwrap();
    c.handle_input(
        t0,
        server(),
        &answer(&reqs[1], Class::Success, Some(&key()), |_| {}),
    )
    .unwrap();
    assert_eq!(
        events(&mut c),
        vec![
            TurnEvent::PermissionCreated(peer().ip()),
            TurnEvent::ChannelBound {
                peer: peer(),
                channel: 0x4000
            }
        ]
    );
    assert_eq!(
        c.send(t0, peer(), b"ping").unwrap(),
        b"\x40\x00\x00\x04ping"
    );
    let s = c.stats();
    assert_eq!((s.send_indications, s.channel_data_sent), (2, 1));
    // Permission refreshed at 240 s, channel at 540 s, allocation at 540 s.
    c.handle_timeout(t0 + Duration::from_secs(240));
    let r = transmits(&mut c);
    assert_eq!(r.len(), 1);
    assert_eq!(
        Message::parse(&r[0]).unwrap().method(),
        Method::CREATE_PERMISSION
    );
    c.handle_input(
        t0 + Duration::from_secs(240),
        server(),
        &answer(&r[0], Class::Success, Some(&key()), |_| {}),
    )
    .unwrap();
    c.handle_timeout(t0 + Duration::from_secs(540));
    let methods: Vec<Method> = transmits(&mut c)
        .iter()
        .map(|p| Message::parse(p).unwrap().method())
        .collect();
    // The permission, refreshed at 240 s, is due again at 480 s.
    assert_eq!(
        methods,
        vec![
            Method::REFRESH,
            Method::CREATE_PERMISSION,
            Method::CHANNEL_BIND
        ]
    );
}

#[test]
fn data_from_the_relay_is_returned_only_for_permitted_peers_and_bound_channels() {
    let t0 = Instant::now();
    let mut c = allocate(t0, 600);
    let data_ind = |from: SocketAddr| {
        let mut out = Vec::new();
        let mut b = MessageBuilder::new(
            &mut out,
            Class::Indication,
            Method::DATA,
            crate::stun::TransactionId([3; 12]),
        );
        b.add_xor_address(AttrType::XOR_PEER_ADDRESS, from).unwrap();
        b.add_raw(AttrType::DATA, b"hello").unwrap();
        out
    };
    // No permission yet.
    assert_eq!(
        c.handle_input(t0, server(), &data_ind(peer())),
        Err(TurnError::NoPermission(peer()))
    );
    // Unknown channel.
    assert_eq!(
        c.handle_input(t0, server(), b"\x40\x00\x00\x02hi"),
        Err(TurnError::UnknownChannel(0x4000))
    );
    let _ = c.send(t0, peer(), b"x").unwrap();
    let reqs = transmits(&mut c);
    let ind = data_ind(peer());
    let got = c.handle_input(t0, server(), &ind).unwrap();
    assert_eq!(
        got,
        Some(Received {
            peer: peer(),
            data: b"hello",
            channel: None
        })
    );
    c.handle_input(
        t0,
        server(),
        &answer(&reqs[1], Class::Success, Some(&key()), |_| {}),
    )
    .unwrap();
    let padded = b"\x40\x00\x00\x02hi\0\0".to_vec();
    let got = c.handle_input(t0, server(), &padded).unwrap();
    assert_eq!(
        got,
        Some(Received {
            peer: peer(),
            data: b"hi",
            channel: Some(0x4000)
        })
    );
    // A Data indication without DATA is malformed.
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(
        &mut out,
        Class::Indication,
        Method::DATA,
        crate::stun::TransactionId([4; 12]),
    );
    b.add_xor_address(AttrType::XOR_PEER_ADDRESS, peer())
        .unwrap();
    assert_eq!(
        c.handle_input(t0, server(), &out),
        Err(TurnError::BadDataIndication)
    );
    let s = c.stats();
    assert_eq!(
        (
            s.no_permission,
            s.unknown_channel,
            s.data_indications,
            s.channel_data_received,
            s.malformed
        ),
        (1, 1, 1, 1, 1)
    );
}

#[test]
fn close_deletes_the_allocation_with_lifetime_zero() {
    let t0 = Instant::now();
    let mut c = allocate(t0, 600);
    let _ = events(&mut c);
    c.close(t0);
    assert_eq!(c.state(), TurnState::Closing);
    let r = one(&mut c);
    let m = Message::parse(&r).unwrap();
    assert_eq!(m.method(), Method::REFRESH);
    assert_eq!(m.raw(AttrType::LIFETIME).unwrap().value, &[0, 0, 0, 0]);
    m.verify_integrity(&key()).unwrap();
    assert_eq!(c.send(t0, peer(), b"x"), Err(TurnError::NotAllocated));
    c.handle_input(
        t0,
        server(),
        &answer(&r, Class::Success, Some(&key()), |b| {
            b.add_raw(AttrType::LIFETIME, &[0, 0, 0, 0]).unwrap()
        }),
    )
    .unwrap();
    assert_eq!(c.state(), TurnState::Closed);
    assert_eq!(events(&mut c), vec![TurnEvent::Closed]);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn try_alternate_moves_to_the_alternate_server_and_allocates_there() {
    let t0 = Instant::now();
    let mut c = client();
    c.allocate(t0);
    let first = one(&mut c);
    let alt: SocketAddr = "192.0.2.2:3478".parse().unwrap();
    reply(&mut c, t0, &first, Class::Error, None, try_alternate(alt));
    assert_eq!(c.server(), alt);
    assert_eq!(
        events(&mut c),
        vec![TurnEvent::Redirected {
            server: alt,
            domain: None
        }]
    );
    let t = c.poll_transmit().unwrap();
    assert_eq!(t.dst, alt);
    assert_eq!(
        Message::parse(&t.payload).unwrap().method(),
        Method::ALLOCATE
    );
    // The old server is no longer trusted.
    assert_eq!(
        c.handle_input(
            t0,
            server(),
            &answer(&t.payload, Class::Error, None, error(401))
        ),
        Err(TurnError::UnexpectedSource(server()))
    );
    // A second redirection, then a third one is refused (max 2).
    let mut pending = Some(t);
    for i in 0..2 {
        let t = pending
            .take()
            .or_else(|| c.poll_transmit())
            .unwrap_or_else(|| panic!("allocate {i}"));
        let to: SocketAddr = format!("192.0.2.{}:3478", 3 + i).parse().unwrap();
        c.handle_input(
            t0,
            c.server(),
            &answer(&t.payload, Class::Error, None, try_alternate(to)),
        )
        .unwrap();
    }
    assert_eq!(c.state(), TurnState::Failed);
    assert_eq!(c.stats().redirects, 2);
}

/// A 300 Try Alternate to 192.0.2.2 naming `domain` in ALTERNATE-DOMAIN,
/// fed to a new client (over a stream or UDP); the client and its
/// `Redirected` event's domain.
fn redirected_with_domain(stream: bool, domain: &[u8]) -> (TurnClient, Option<String>) {
    let t0 = Instant::now();
    let mut cfg = TurnConfig::new(server(), "alice", "secret");
    cfg.stream = stream;
    let mut c = TurnClient::new(cfg, [1; 32]);
    c.allocate(t0);
    let first = one(&mut c);
    let alt: SocketAddr = "192.0.2.2:3478".parse().unwrap();
    reply(&mut c, t0, &first, Class::Error, None, |b| {
        try_alternate(alt)(b);
        b.add_raw(AttrType::ALTERNATE_DOMAIN, domain).unwrap();
    });
    let domains: Vec<Option<String>> = events(&mut c)
        .into_iter()
        .filter_map(|e| match e {
            TurnEvent::Redirected { server, domain } => {
                assert_eq!(server, alt);
                Some(domain)
            }
            _ => None,
        })
        .collect();
    assert_eq!(domains.len(), 1, "one redirection");
    (c, domains.into_iter().next().unwrap())
}

#[test]
fn alternate_domain_over_a_stream_names_the_alternate_and_a_malformed_one_is_counted() {
    // RFC 8489 §10: over TLS the alternate's certificate is checked for
    // ALTERNATE-DOMAIN (§14.16); host names compare case-insensitively.
    let (c, domain) = redirected_with_domain(true, b"Turn2.Example.net");
    assert_eq!(domain.as_deref(), Some("turn2.example.net"));
    assert_eq!(c.stats().bad_alternate_domains, 0);
    let long = vec![b'a'; 256];
    let long_label = [vec![b'a'; 64], b".example".to_vec()].concat();
    for bad in [
        &b""[..],
        b"turn two.example",
        b"turn..example",
        b".example",
        b"\xff\xfe",
        b"t\xc3\xa9l\xc3\xa9.example",
        &long,
        &long_label,
    ] {
        let (c, domain) = redirected_with_domain(true, bad);
        assert_eq!(domain, None, "{bad:?}");
        assert_eq!(c.stats().bad_alternate_domains, 1, "{bad:?}");
        // The redirection itself is followed.
        assert_eq!(c.stats().redirects, 1);
    }
    // Over UDP no TLS checks a name: the attribute is not read.
    let (c, domain) = redirected_with_domain(false, b"turn2.example.net");
    assert_eq!(domain, None);
    assert_eq!(c.stats().bad_alternate_domains, 0);
}

#[test]
fn allocation_mismatch_deletes_the_old_allocation_and_allocates_once_more() {
    let t0 = Instant::now();
    let (mut c, second) = challenged(t0);
    reply(&mut c, t0, &second, Class::Error, Some(&key()), error(437));
    let reqs = transmits(&mut c);
    let kinds: Vec<(Method, Option<Vec<u8>>)> = reqs
        .iter()
        .map(|r| {
            let m = Message::parse(r).unwrap();
            (
                m.method(),
                m.raw(AttrType::LIFETIME).map(|l| l.value.to_vec()),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Method::REFRESH, Some(vec![0, 0, 0, 0])),
            (Method::ALLOCATE, Some(600u32.to_be_bytes().to_vec()))
        ]
    );
    // The deletion's answer does not disturb the allocation in progress.
    c.handle_input(
        t0,
        server(),
        &answer(&reqs[0], Class::Success, Some(&key()), |_| {}),
    )
    .unwrap();
    assert_eq!(c.state(), TurnState::Allocating);
    // Still a mismatch: the 5-tuple belongs to someone else.
    reply(&mut c, t0, &reqs[1], Class::Error, Some(&key()), error(437));
    assert_failed(&mut c, TurnError::AllocationMismatch);
    assert_eq!(c.stats().allocation_mismatches, 2);
}

#[test]
fn silent_server_fails_the_allocation_after_rfc_8489_retransmissions() {
    let t0 = Instant::now();
    let mut c = client();
    c.allocate(t0);
    let mut sends = transmits(&mut c).len();
    while let Some(t) = c.poll_timeout() {
        c.handle_timeout(t);
        sends += transmits(&mut c).len();
        if c.state() == TurnState::Failed {
            assert_eq!(t - t0, Duration::from_millis(39_500));
        }
    }
    assert_eq!(sends, 7);
    assert_eq!(events(&mut c), vec![TurnEvent::Failed(TurnError::Timeout)]);
}

/// Over TCP or TLS the stream retransmits: the request goes out once and
/// the transaction fails after Ti = 39.5 s (RFC 8489 §6.2.2).
#[test]
fn over_a_stream_a_request_is_sent_once_and_times_out_after_ti() {
    let t0 = Instant::now();
    let mut config = TurnConfig::new(server(), "alice", "secret");
    config.stream = true;
    let mut c = TurnClient::new(config, [1; 32]);
    c.allocate(t0);
    let mut sends = transmits(&mut c).len();
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_millis(39_500)));
    while let Some(t) = c.poll_timeout() {
        c.handle_timeout(t);
        sends += transmits(&mut c).len();
    }
    assert_eq!(sends, 1);
    assert_eq!(c.stats().retransmits, 0);
    assert_eq!(events(&mut c), vec![TurnEvent::Failed(TurnError::Timeout)]);
}

#[test]
fn refresh_437_means_the_allocation_is_lost() {
    let t0 = Instant::now();
    let (mut c, r) = refreshing(t0);
    reply(&mut c, t0, &r, Class::Error, Some(&key()), error(437));
    assert_failed(&mut c, TurnError::AllocationLost);
}

#[test]
fn refused_channel_falls_back_to_send_indications_and_is_retried_with_its_number() {
    let t0 = Instant::now();
    let mut c = allocate(t0, 600);
    let _ = c.send(t0, peer(), b"x").unwrap();
    let reqs = transmits(&mut c);
    let bind = &reqs[1];
    reply(&mut c, t0, bind, Class::Error, Some(&key()), error(400));
    // Still Send indications, and no new ChannelBind for 30 s.
    for s in [1, 29] {
        let t = t0 + Duration::from_secs(s);
        let out = c.send(t, peer(), b"x").unwrap();
        assert_eq!(Message::parse(&out).unwrap().method(), Method::SEND);
        assert!(transmits(&mut c).is_empty());
    }
    let t = t0 + Duration::from_secs(30);
    let _ = c.send(t, peer(), b"x").unwrap();
    let again = transmits(&mut c);
    assert_eq!(again.len(), 1);
    let m = Message::parse(&again[0]).unwrap();
    assert_eq!(m.method(), Method::CHANNEL_BIND);
    assert_eq!(
        m.raw(AttrType::CHANNEL_NUMBER).unwrap().value,
        &[0x40, 0x00, 0, 0]
    );
    c.handle_input(
        t,
        server(),
        &answer(&again[0], Class::Success, Some(&key()), |_| {}),
    )
    .unwrap();
    assert_eq!(c.send(t, peer(), b"x").unwrap(), b"\x40\x00\x00\x01x");
}

/// An allocation with a permission for `peer()`, at the permission's
/// refresh (240 s): the client, its CreatePermission, and the time.
fn permission_refresh_due() -> (TurnClient, Vec<u8>, Instant) {
    let t0 = Instant::now();
    let mut c = allocate(t0, 600);
    c.create_permission(t0, peer());
    let perm = one(&mut c);
    reply(&mut c, t0, &perm, Class::Success, Some(&key()), |_| {});
    let _ = events(&mut c);
    let t1 = t0 + Duration::from_secs(240);
    c.handle_timeout(t1);
    let again = one(&mut c);
    assert_eq!(
        Message::parse(&again).unwrap().method(),
        Method::CREATE_PERMISSION
    );
    (c, again, t1)
}

#[test]
fn a_refused_permission_refresh_is_not_resent_at_once_and_probes_the_allocation() {
    // What coturn does after a restart: a CreatePermission on a 5-tuple
    // without an allocation gets 400 (not 437); only a Refresh gets 437.
    let (mut c, again, t1) = permission_refresh_due();
    reply(&mut c, t1, &again, Class::Error, Some(&key()), error(400));
    // The permission is kept (it lasts until 300 s) and is not asked for
    // again at once; the allocation is refreshed now instead.
    assert!(c.has_permission(peer().ip()));
    c.handle_timeout(t1);
    let probe = one(&mut c);
    assert_eq!(Message::parse(&probe).unwrap().method(), Method::REFRESH);
    assert_eq!(c.stats().allocation_probes, 1);
    assert_eq!(c.stats().permissions_sent, 2);
    // 437: the allocation is gone.
    reply(&mut c, t1, &probe, Class::Error, Some(&key()), error(437));
    assert_failed(&mut c, TurnError::AllocationLost);
}

#[test]
fn a_permission_refresh_the_server_keeps_refusing_is_retried_every_30_s() {
    let (mut c, again, t1) = permission_refresh_due();
    reply(&mut c, t1, &again, Class::Error, Some(&key()), error(403));
    c.handle_timeout(t1);
    // The probe is answered: the allocation lives.
    let probe = one(&mut c);
    reply(&mut c, t1, &probe, Class::Success, Some(&key()), |b| {
        b.add_raw(AttrType::LIFETIME, &600u32.to_be_bytes())
            .unwrap();
    });
    assert_eq!(c.state(), TurnState::Allocated);
    // Nothing more until the retry 30 s later.
    for s in [1, 29] {
        c.handle_timeout(t1 + Duration::from_secs(s));
        assert!(transmits(&mut c).is_empty(), "at +{s} s");
    }
    c.handle_timeout(t1 + Duration::from_secs(30));
    let retry = one(&mut c);
    assert_eq!(
        Message::parse(&retry).unwrap().method(),
        Method::CREATE_PERMISSION
    );
}

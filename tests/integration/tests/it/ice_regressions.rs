//! Regressions found in review, driven by hand against one agent: the
//! peer's packets are built here.

use meshrtc_ice::stun::{
    Attribute, Class, Message, MessageBuilder, Method, ShortTermKey, TransactionId,
};
use meshrtc_ice::{Candidate, IceAgent, IceConfig, IceEvent, IceState, Transmit};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const PEER_UFRAG: &str = "BBBBufrag";
const PEER_PWD: &str = "BBBBBBBBBBBBBBBBBBBBBBBBpwd";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A check from the peer to `a`.
fn check(a: &IceAgent, use_candidate: bool, controlling: bool, tid: [u8; 12]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(
        &mut out,
        Class::Request,
        Method::BINDING,
        TransactionId(tid),
    );
    let user = format!("{}:{PEER_UFRAG}", a.local_ufrag());
    b.add(&Attribute::Username(&user)).unwrap();
    b.add(&Attribute::Priority(1_853_824_767)).unwrap();
    b.add(&if controlling {
        Attribute::IceControlling(5)
    } else {
        Attribute::IceControlled(5)
    })
    .unwrap();
    if use_candidate {
        b.add(&Attribute::UseCandidate).unwrap();
    }
    b.add_message_integrity(&ShortTermKey::new(a.local_pwd().as_bytes()))
        .unwrap();
    b.add_fingerprint().unwrap();
    out
}

/// The peer's success response to one of `a`'s requests.
fn response(req: &Transmit) -> Vec<u8> {
    let tid = Message::parse(&req.payload).unwrap().transaction_id();
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, Class::Success, Method::BINDING, tid);
    b.add(&Attribute::XorMappedAddress(req.src)).unwrap();
    b.add_message_integrity(&ShortTermKey::new(PEER_PWD.as_bytes()))
        .unwrap();
    b.add_fingerprint().unwrap();
    out
}

fn drain(a: &mut IceAgent) -> (Vec<Transmit>, Vec<IceEvent>) {
    (
        std::iter::from_fn(|| a.poll_transmit()).collect(),
        std::iter::from_fn(|| a.poll_event()).collect(),
    )
}

fn requests(tx: &[Transmit]) -> Vec<&Transmit> {
    tx.iter()
        .filter(|t| Message::parse(&t.payload).is_ok_and(|m| m.class() == Class::Request))
        .collect()
}

#[test]
fn consent_runs_when_the_peer_nominated_before_our_own_check_succeeded() {
    let t0 = Instant::now();
    let (l, r) = (addr("10.0.0.1:1000"), addr("10.0.0.2:2000"));
    let mut a = IceAgent::new(IceConfig::controlled(1), t0);
    a.add_local_host(l).unwrap();
    a.set_remote_credentials(t0, PEER_UFRAG, PEER_PWD).unwrap();
    a.add_remote_candidate(t0, Candidate::host(r, 65535))
        .unwrap();
    let (tx, _) = drain(&mut a);
    let ours = requests(&tx)[0].clone();
    // The peer nominates while our check is in flight; then ours succeeds.
    a.handle_datagram(t0, r, l, &check(&a, true, true, [1; 12]))
        .unwrap();
    a.handle_datagram(t0, r, l, &response(&ours)).unwrap();
    drain(&mut a);
    assert_eq!(a.state(), IceState::Completed);
    assert!(a.poll_timeout().is_some(), "consent must have a timer");
    // Silence from the peer: consent checks go out, then consent is lost.
    let mut now = t0;
    while now < t0 + Duration::from_secs(40) {
        now += Duration::from_millis(100);
        a.handle_timeout(now);
        drain(&mut a);
    }
    assert!(a.stats().consent_checks_sent >= 5, "{:?}", a.stats());
    assert_eq!(a.state(), IceState::Failed);
}

#[test]
fn a_local_host_added_after_the_remote_side_starts_checks() {
    let t0 = Instant::now();
    let (l, r) = (addr("10.0.0.1:1000"), addr("10.0.0.2:2000"));
    let mut a = IceAgent::new(IceConfig::controlling(1), t0);
    a.set_remote_credentials(t0, PEER_UFRAG, PEER_PWD).unwrap();
    a.add_remote_candidate(t0, Candidate::host(r, 65535))
        .unwrap();
    a.add_local_host(l).unwrap();
    // The pair exists; the agent asks to be woken at once, and then checks.
    let t = a.poll_timeout().expect("a timer for the waiting pair");
    assert!(t <= t0);
    a.handle_timeout(t0);
    let (tx, _) = drain(&mut a);
    assert_eq!(requests(&tx).len(), 1);
    assert_eq!(requests(&tx)[0].dst, r);
}

#[test]
fn new_remote_credentials_recover_from_lost_consent() {
    let t0 = Instant::now();
    let (l, r) = (addr("10.0.0.1:1000"), addr("10.0.0.2:2000"));
    let mut a = IceAgent::new(IceConfig::controlling(1), t0);
    a.add_local_host(l).unwrap();
    a.set_remote_credentials(t0, PEER_UFRAG, PEER_PWD).unwrap();
    a.add_remote_candidate(t0, Candidate::host(r, 65535))
        .unwrap();
    let mut now = t0;
    // Answer every request for 2 s, then go silent until consent is lost.
    while now < t0 + Duration::from_secs(45) {
        let (tx, _) = drain(&mut a);
        if now < t0 + Duration::from_secs(2) {
            for q in requests(&tx) {
                a.handle_datagram(now, r, l, &response(q)).unwrap();
            }
        }
        now += Duration::from_millis(100);
        a.handle_timeout(now);
    }
    assert_eq!(a.state(), IceState::Failed);
    // The peer restarts ICE: new credentials and its candidate again.
    a.set_remote_credentials(now, "CCCCufrag", "CCCCCCCCCCCCCCCCCCCCCCCCpwd")
        .unwrap();
    a.add_remote_candidate(now, Candidate::host(r, 65535))
        .unwrap();
    let (tx, _) = drain(&mut a);
    assert_eq!(requests(&tx).len(), 1, "checks start again");
    assert_eq!(a.state(), IceState::Checking);
}

#[test]
fn a_check_on_an_in_progress_pair_triggers_a_new_check_at_once() {
    let t0 = Instant::now();
    let (l, r) = (addr("10.0.0.1:1000"), addr("10.0.0.2:2000"));
    let mut a = IceAgent::new(IceConfig::controlled(1), t0);
    a.add_local_host(l).unwrap();
    a.set_remote_credentials(t0, PEER_UFRAG, PEER_PWD).unwrap();
    a.add_remote_candidate(t0, Candidate::host(r, 65535))
        .unwrap();
    // Our first check, lost on the way.
    let (tx, _) = drain(&mut a);
    assert_eq!(requests(&tx).len(), 1);
    let first = requests(&tx)[0].payload.clone();
    // 100 ms later the peer's check arrives: answer it and check again
    // now, not after the 500 ms retransmission timer.
    let now = t0 + Duration::from_millis(100);
    a.handle_datagram(now, r, l, &check(&a, false, true, [2; 12]))
        .unwrap();
    let (tx, _) = drain(&mut a);
    assert_eq!(requests(&tx).len(), 1, "a triggered check right away");
    assert_ne!(requests(&tx)[0].payload, first, "a new transaction");
    // The cancelled transaction neither retransmits nor fails the pair.
    let mut later_tx = Vec::new();
    let mut t = now;
    while t < t0 + Duration::from_secs(3) {
        t += Duration::from_millis(50);
        a.handle_timeout(t);
        later_tx.extend(drain(&mut a).0);
    }
    assert_eq!(later_tx.iter().filter(|x| x.payload == first).count(), 0);
    assert!(!later_tx.is_empty(), "the new check is retransmitted");
    a.handle_datagram(t, r, l, &response(requests(&later_tx).last().unwrap()))
        .unwrap();
    drain(&mut a);
    assert!(
        matches!(a.state(), IceState::Connected | IceState::Completed),
        "{:?}",
        a.state()
    );
}

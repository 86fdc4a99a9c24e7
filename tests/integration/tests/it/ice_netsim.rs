//! ICE agents on the deterministic network simulator: clean links, loss,
//! jitter, NATs with a STUN server, role conflicts, late trickle, checks
//! before credentials, dead STUN servers, consent loss and ICE restart.

use meshrtc_ice::stun::{Class, Message, MessageBuilder, Method};
use meshrtc_ice::{
    Candidate, CandidateKind, IceConfig, IceEvent, IceState, PathStatus, StunServer,
};
use meshrtc_integration::sim::{completed, ip, sa, Call, Peer};
use meshrtc_netsim::{LinkConfig, NatConfig, Sim};
use std::time::Duration;

#[test]
fn two_agents_connect_on_a_clean_link_within_two_round_trips() {
    let rtt = Duration::from_millis(40);
    let mut c = Call::new(
        1,
        IceConfig::controlling(1),
        IceConfig::controlled(2),
        LinkConfig::with_latency(rtt / 2),
    );
    c.start();
    let t = c.drive(completed, Duration::from_secs(5));
    c.assert_pairs_agree();
    assert_eq!(
        c.agent(c.a).selected_pair(),
        Some((sa("10.0.0.1:5000"), sa("10.0.0.2:6000")))
    );
    // Connected after the first check's round trip, completed (nominated)
    // after the nomination check's, paced by Ta = 50 ms at most.
    let connected_at = c
        .sim
        .node(c.a)
        .events()
        .iter()
        .find(|(_, e)| *e == IceEvent::StateChanged(IceState::Connected))
        .map(|(t, _)| *t)
        .unwrap();
    assert_eq!(
        connected_at, rtt,
        "connected one round trip after the first check"
    );
    assert!(
        t <= rtt * 2 + Duration::from_millis(50),
        "completed after {t:?}"
    );
    assert_eq!(
        c.agent(c.a).stats().checks_sent,
        2,
        "one check and one nomination"
    );
    assert_eq!(
        c.sim
            .node(c.a)
            .events()
            .iter()
            .filter(|(_, e)| matches!(
                e,
                IceEvent::SelectedPair {
                    nominated: true,
                    ..
                }
            ))
            .count(),
        1
    );
}

#[test]
fn agents_connect_through_20_percent_loss() {
    for seed in 0..5 {
        let link = LinkConfig::with_latency(Duration::from_millis(25)).loss(0.2);
        let mut c = Call::new(
            seed,
            IceConfig::controlling(seed),
            IceConfig::controlled(seed + 100),
            link,
        );
        c.start();
        c.drive(completed, Duration::from_secs(20));
        c.assert_pairs_agree();
    }
}

#[test]
fn agents_connect_with_jitter_reordering_and_duplicates() {
    let link = LinkConfig::with_latency(Duration::from_millis(30))
        .jitter(Duration::from_millis(40))
        .reorder(0.2, Duration::from_millis(60))
        .duplicate(0.2);
    let mut c = Call::new(3, IceConfig::controlling(3), IceConfig::controlled(4), link);
    c.start();
    c.drive(completed, Duration::from_secs(10));
    c.assert_pairs_agree();
    assert_eq!(
        c.agent(c.a).stats().malformed + c.agent(c.b).stats().malformed,
        0
    );
}

#[test]
fn several_interfaces_select_the_best_pair() {
    let mut c = Call::new(
        5,
        IceConfig::controlling(5),
        IceConfig::controlled(6),
        LinkConfig::with_latency(Duration::from_millis(10)),
    );
    // b also listens on a second address that a cannot reach.
    c.host(c.b, "10.0.0.3:6001");
    c.start();
    c.drive(completed, Duration::from_secs(5));
    c.assert_pairs_agree();
    assert_eq!(c.agent(c.b).selected_pair().unwrap().0, sa("10.0.0.2:6000"));
}

#[test]
fn both_behind_nats_connect_through_server_reflexive_candidates() {
    let mut sim: Sim<Peer> = Sim::new(7);
    let e = sim.epoch();
    let stun = sa("198.51.100.1:3478");
    let server = sim.add_node(
        Peer::Server {
            server: StunServer::new(None),
            out: vec![],
        },
        &[stun.ip()],
    );
    let na = sim.add_nat(NatConfig::home(ip("203.0.113.1")));
    let nb = sim.add_nat(NatConfig::home(ip("203.0.113.2")));
    let mut cfg_a = IceConfig::controlling(7);
    cfg_a.stun_servers = vec![stun];
    let mut cfg_b = IceConfig::controlled(8);
    cfg_b.stun_servers = vec![stun];
    let a = sim.add_node_behind(na, Peer::agent_node(cfg_a, e), &[ip("192.168.1.10")]);
    let b = sim.add_node_behind(nb, Peer::agent_node(cfg_b, e), &[ip("192.168.2.20")]);
    sim.set_default_link(LinkConfig::with_latency(Duration::from_millis(15)));
    let mut c = Call::around(sim, a, b);
    c.host(a, "192.168.1.10:5000");
    c.host(b, "192.168.2.20:6000");
    c.start();
    c.drive(completed, Duration::from_secs(10));
    // Each sends from its private base to the other's server-reflexive
    // address (its NAT's public side): the views differ by design.
    let srflx = |id| -> Vec<Candidate> {
        c.agent(id)
            .local_candidates()
            .filter(|c| c.kind == CandidateKind::ServerReflexive)
            .cloned()
            .collect()
    };
    let (sa_, sb_) = (srflx(a), srflx(b));
    assert_eq!(sa_.len(), 1);
    assert_eq!(sa_[0].addr, sa("203.0.113.1:40000"));
    assert_eq!(sa_[0].related, Some(sa("192.168.1.10:5000")));
    assert_eq!(sb_[0].addr, sa("203.0.113.2:40000"));
    assert_eq!(
        c.agent(a).selected_pair(),
        Some((sa("192.168.1.10:5000"), sb_[0].addr))
    );
    assert_eq!(
        c.agent(b).selected_pair(),
        Some((sa("192.168.2.20:6000"), sa_[0].addr))
    );
    // The private host candidates were signalled but never reached.
    assert!(c.sim.stats().unroutable > 0);
    let _ = server;
}

#[test]
fn role_conflict_is_resolved_by_the_tie_breakers() {
    // Both think they are controlling (e.g. both sent an offer).
    let mut c = Call::new(
        9,
        IceConfig::controlling(9),
        IceConfig::controlling(10),
        LinkConfig::with_latency(Duration::from_millis(20)),
    );
    c.start();
    c.drive(completed, Duration::from_secs(10));
    c.assert_pairs_agree();
    let (ta, tb) = (c.agent(c.a).tie_breaker(), c.agent(c.b).tie_breaker());
    // The larger tie-breaker stays controlling (§7.3.1.1).
    assert_eq!(c.agent(c.a).is_controlling(), ta > tb);
    assert_eq!(c.agent(c.b).is_controlling(), tb > ta);
    let switches = c.agent(c.a).stats().role_switches + c.agent(c.b).stats().role_switches;
    assert_eq!(switches, 1);
    let conflicts =
        c.agent(c.a).stats().role_conflicts_sent + c.agent(c.b).stats().role_conflicts_sent;
    assert!(conflicts >= 1);

    // Both controlled: the same resolution the other way.
    let mut c = Call::new(
        11,
        IceConfig::controlled(11),
        IceConfig::controlled(12),
        LinkConfig::with_latency(Duration::from_millis(20)),
    );
    c.start();
    c.drive(completed, Duration::from_secs(10));
    c.assert_pairs_agree();
    assert_ne!(c.agent(c.a).is_controlling(), c.agent(c.b).is_controlling());
}

#[test]
fn candidates_trickled_late_still_connect() {
    let mut c = Call::new(
        13,
        IceConfig::controlling(13),
        IceConfig::controlled(14),
        LinkConfig::with_latency(Duration::from_millis(20)),
    );
    c.open_at = [Duration::from_secs(2), Duration::from_secs(3)];
    c.start();
    let t = c.drive(completed, Duration::from_secs(10));
    assert!(t >= Duration::from_secs(2));
    c.assert_pairs_agree();
}

#[test]
fn checks_before_the_remote_credentials_are_answered_and_remembered() {
    let mut c = Call::new(
        15,
        IceConfig::controlling(15),
        IceConfig::controlled(16),
        LinkConfig::with_latency(Duration::from_millis(20)),
    );
    // a knows b's credentials and candidate at once; b learns a's only at 1 s.
    c.open_at = [Duration::from_secs(1), Duration::ZERO];
    c.start();
    c.drive(
        |c| c.sim.elapsed() >= Duration::from_millis(900),
        Duration::from_secs(2),
    );
    let b = c.agent(c.b);
    assert!(
        b.stats().responses_sent >= 1,
        "b answered a's checks without a's credentials"
    );
    assert_eq!(b.stats().prflx_remote, 1);
    assert_eq!(b.remote_candidates()[0].kind, CandidateKind::PeerReflexive);
    assert_eq!(b.remote_candidates()[0].addr, sa("10.0.0.1:5000"));
    // a's checks (its nomination included) succeeded, so a is done; b needs
    // a's password before it can check back.
    assert_eq!(c.state(c.a), IceState::Completed);
    assert_eq!(c.state(c.b), IceState::Checking);
    assert_eq!(c.agent(c.b).stats().checks_sent, 0);
    c.drive(completed, Duration::from_secs(5));
    c.assert_pairs_agree();
}

#[test]
fn a_stun_server_that_never_answers_ends_gathering_at_the_deadline() {
    let mut cfg_a = IceConfig::controlling(17);
    // Nobody has this address: every request is lost.
    cfg_a.stun_servers = vec![sa("192.0.2.99:19302")];
    let mut c = Call::new(
        17,
        cfg_a,
        IceConfig::controlled(18),
        LinkConfig::with_latency(Duration::from_millis(10)),
    );
    c.start();
    c.drive(completed, Duration::from_secs(5));
    c.drive(
        |c| {
            c.sim
                .node(c.a)
                .events()
                .iter()
                .any(|(_, e)| *e == IceEvent::GatheringComplete)
        },
        Duration::from_secs(10),
    );
    let done_at = c
        .sim
        .node(c.a)
        .events()
        .iter()
        .find(|(_, e)| *e == IceEvent::GatheringComplete)
        .map(|(t, _)| *t)
        .unwrap();
    assert_eq!(
        done_at,
        Duration::from_secs(3),
        "the gather deadline, not 39.5 s of retransmissions"
    );
    assert!(
        c.sim.stats().unroutable >= 3,
        "requests were sent and retransmitted"
    );
    c.assert_pairs_agree();
}

#[test]
fn consent_is_lost_after_a_partition_and_recovered_by_an_ice_restart() {
    let mut c = Call::new(
        19,
        IceConfig::controlling(19),
        IceConfig::controlled(20),
        LinkConfig::with_latency(Duration::from_millis(20)),
    );
    c.start();
    c.drive(completed, Duration::from_secs(5));
    // Consent checks keep the call up for a minute.
    let t0 = c.sim.elapsed();
    c.drive(
        |c| c.sim.elapsed() >= t0 + Duration::from_secs(60),
        Duration::from_secs(61),
    );
    assert!(completed(&c));
    assert!(
        c.agent(c.a).stats().consent_checks_sent >= 9,
        "{:?}",
        c.agent(c.a).stats()
    );
    // Cut the network.
    let cut = c.sim.elapsed();
    c.sim.cut(c.a, c.b);
    let t = c.drive(|c| c.both(IceState::Disconnected), Duration::from_secs(20));
    assert!(
        t >= Duration::from_secs(3) && t <= Duration::from_secs(9),
        "disconnected after {t:?}"
    );
    let t = c.drive(|c| c.both(IceState::Failed), Duration::from_secs(40));
    assert!(
        c.sim.elapsed() - cut <= Duration::from_secs(31),
        "failed after {t:?}"
    );
    // Healing the network alone does not bring consent back (RFC 7675 §5.1).
    c.sim.heal(c.a, c.b);
    c.drive(
        |c| c.sim.elapsed() >= cut + Duration::from_secs(40),
        Duration::from_secs(15),
    );
    assert!(c.both(IceState::Failed));
    // An ICE restart with new credentials does.
    let now = c.sim.now();
    for id in [c.a, c.b] {
        c.sim.node_mut(id).agent_mut().restart(now);
    }
    c.sent = [0, 0];
    c.creds_sent = [false, false];
    c.drive(completed, Duration::from_secs(5));
    c.assert_pairs_agree();
}

#[test]
fn same_seed_same_trace() {
    let run = |seed: u64| {
        let link = LinkConfig::with_latency(Duration::from_millis(20))
            .loss(0.2)
            .jitter(Duration::from_millis(10));
        let mut c = Call::new(
            seed,
            IceConfig::controlling(seed),
            IceConfig::controlled(seed + 1),
            link,
        );
        c.start();
        c.drive(completed, Duration::from_secs(20));
        c.drive(
            |c| c.sim.elapsed() >= Duration::from_secs(30),
            Duration::from_secs(30),
        );
        c.sim.trace_hash()
    };
    assert_eq!(run(21), run(21));
    assert_ne!(run(21), run(22));
}

#[test]
fn hostile_checks_are_refused_and_counted_without_harm() {
    let mut c = Call::new(
        23,
        IceConfig::controlling(23),
        IceConfig::controlled(24),
        LinkConfig::with_latency(Duration::from_millis(10)),
    );
    c.start();
    c.drive(completed, Duration::from_secs(5));
    let now = c.sim.now();
    let b_ufrag = c.agent(c.b).local_ufrag().to_string();
    let from = sa("10.0.0.1:5000");
    let to = sa("10.0.0.2:6000");
    let agent = c.sim.node_mut(c.b).agent_mut();
    // Garbage, a truncated message, a check with the wrong password, one
    // without integrity, one for another ufrag.
    assert!(agent
        .handle_datagram(now, from, to, b"\x00\x01garbage")
        .is_err());
    let mut buf = Vec::new();
    let key = meshrtc_ice::stun::ShortTermKey::new(b"not-the-password-at-all");
    let mut bld = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::BINDING,
        meshrtc_ice::stun::TransactionId([1; 12]),
    );
    let user = format!("{b_ufrag}:evil");
    bld.add(&meshrtc_ice::stun::Attribute::Username(&user))
        .unwrap();
    bld.add(&meshrtc_ice::stun::Attribute::Priority(1)).unwrap();
    bld.add(&meshrtc_ice::stun::Attribute::IceControlling(1))
        .unwrap();
    bld.add_message_integrity(&key).unwrap();
    bld.add_fingerprint().unwrap();
    agent
        .handle_datagram(now, sa("10.0.0.66:1"), to, &buf)
        .unwrap();
    let mut unsigned = Vec::new();
    let mut bld = MessageBuilder::new(
        &mut unsigned,
        Class::Request,
        Method::BINDING,
        meshrtc_ice::stun::TransactionId([2; 12]),
    );
    bld.add(&meshrtc_ice::stun::Attribute::Username(&user))
        .unwrap();
    bld.add_fingerprint().unwrap();
    agent
        .handle_datagram(now, sa("10.0.0.66:1"), to, &unsigned)
        .unwrap();
    let s = agent.stats();
    assert_eq!((s.malformed, s.unauthorized, s.bad_requests), (1, 1, 1));
    assert_eq!(s.prflx_remote, 0, "unauthenticated sources are not learnt");
    // The answers: a 401 and a 400, unsigned.
    let answers: Vec<_> = std::iter::from_fn(|| agent.poll_transmit()).collect();
    let codes: Vec<u16> = answers
        .iter()
        .map(|t| {
            Message::parse(&t.payload)
                .unwrap()
                .error_code()
                .unwrap()
                .unwrap()
                .code
        })
        .collect();
    assert_eq!(codes, vec![401, 400]);
    // The call goes on.
    let t0 = c.sim.elapsed();
    c.drive(
        |c| c.sim.elapsed() >= t0 + Duration::from_secs(15),
        Duration::from_secs(16),
    );
    assert!(completed(&c));
}

#[test]
fn sixteen_pairs_connect_one_round_trip_after_the_first_check() {
    let rtt = Duration::from_millis(30);
    let mut c = Call::with_hosts(
        25,
        IceConfig::controlling(25),
        IceConfig::controlled(26),
        LinkConfig::with_latency(rtt / 2),
        4,
    );
    c.start();
    c.drive(completed, Duration::from_secs(5));
    c.assert_pairs_agree();
    assert_eq!(c.agent(c.a).pairs().len(), 16);
    // The best pair is checked first, so nothing waits for lower ones.
    assert_eq!(c.first_time_in(c.a, IceState::Connected), Some(rtt));
    let completed_at = c.first_time_in(c.a, IceState::Completed).unwrap();
    assert!(
        completed_at <= rtt * 2 + Duration::from_millis(50),
        "{completed_at:?}"
    );
    // The highest-priority pair won: a's first address to b's first.
    assert_eq!(
        c.agent(c.a).selected_pair(),
        Some((sa("10.0.1.1:5000"), sa("10.0.2.1:6000")))
    );
}

#[test]
fn a_peer_known_only_by_an_unresolvable_name_is_reached_as_peer_reflexive() {
    // a's only candidate is a browser's `<uuid>.local` name, which the SDP
    // layer cannot turn into an address: b never learns a candidate of a.
    // a's checks reach b, which learns a's address from them.
    let mut c = Call::new(
        27,
        IceConfig::controlling(27),
        IceConfig::controlled(28),
        LinkConfig::with_latency(Duration::from_millis(20)),
    );
    c.open_at = [Duration::from_secs(3600), Duration::ZERO];
    c.auto_creds = false;
    let now = c.sim.now();
    let (ua, pa) = {
        let a = c.agent(c.a);
        (a.local_ufrag().to_string(), a.local_pwd().to_string())
    };
    let (ub, pb) = {
        let b = c.agent(c.b);
        (b.local_ufrag().to_string(), b.local_pwd().to_string())
    };
    c.sim
        .node_mut(c.b)
        .agent_mut()
        .set_remote_credentials(now, &ua, &pa)
        .unwrap();
    c.sim
        .node_mut(c.a)
        .agent_mut()
        .set_remote_credentials(now, &ub, &pb)
        .unwrap();
    c.creds_sent = [true, true];
    // b's candidate does reach a.
    c.open_at[1] = Duration::ZERO;
    c.start();
    c.drive(completed, Duration::from_secs(5));
    c.assert_pairs_agree();
    let b = c.agent(c.b);
    assert_eq!(b.stats().prflx_remote, 1);
    assert_eq!(b.remote_candidates().len(), 1);
    assert_eq!(b.remote_candidates()[0].kind, CandidateKind::PeerReflexive);
}

#[test]
fn after_an_ice_restart_the_old_pair_stays_validated_until_a_pair_is_selected() {
    let mut c = Call::new(
        29,
        IceConfig::controlling(29),
        IceConfig::controlled(30),
        LinkConfig::with_latency(Duration::from_millis(20)),
    );
    c.start();
    c.drive(completed, Duration::from_secs(5));
    let old = c.agent(c.a).selected_pair().unwrap();
    let now = c.sim.now();
    for id in [c.a, c.b] {
        c.sim.node_mut(id).agent_mut().restart(now);
    }
    // Pairs and selection are gone, but datagrams of the old pair are still
    // taken (media goes on over it, RFC 8445 §9); another source is not.
    let a = c.agent(c.a);
    assert_eq!(a.selected_pair(), None);
    assert_eq!(a.path_status(old.0, old.1), PathStatus::Validated);
    assert_eq!(
        a.path_status(old.0, sa("10.0.0.9:6000")),
        PathStatus::Unknown
    );
    let b = c.agent(c.b);
    assert_eq!(b.path_status(old.1, old.0), PathStatus::Validated);
    // The restart completes with new credentials and selects a pair.
    c.sent = [0, 0];
    c.creds_sent = [false, false];
    c.drive(completed, Duration::from_secs(5));
    assert_eq!(c.agent(c.a).selected_pair(), Some(old));
    assert_eq!(
        c.agent(c.a).path_status(old.0, old.1),
        PathStatus::Validated
    );
}

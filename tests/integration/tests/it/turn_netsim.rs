//! TURN on the network simulator: ICE agents and the simulator's TURN
//! server (`meshrtc_integration::turn_server`, lifetimes chosen by the
//! test), with NATs, a partition and virtual time.
//!
//! - Both agents behind symmetric NATs: server-reflexive candidates are
//!   gathered but every path without the relay is filtered; the selected
//!   pair goes through the relay.
//! - Short lifetimes (allocation 10 s, permission 6 s, channel 8 s) with
//!   the client refreshing in time: a minute of connection, nothing
//!   expires, nothing is dropped.
//! - The client refreshing too late: permissions and channels expire on the
//!   server, consent checks are dropped there and ICE goes Disconnected;
//!   the late refresh rebinds them and consent comes back.
//! - An agent cut off from the server for longer than its allocation: the
//!   server expires it, the client finds it gone (437) and allocates anew.

use std::net::SocketAddr;
use std::time::Duration;

use meshrtc_ice::{CandidateKind, IceConfig, IceState, TurnServer};
use meshrtc_integration::sim::{completed, ip, sa, Call, Peer};
use meshrtc_integration::turn_server::{SimTurn, TurnLifetimes};
use meshrtc_netsim::{LinkConfig, NatConfig, Sim};

const TURN: &str = "198.51.100.1:3478";

/// Two agents at public addresses that cannot reach each other (the test
/// cuts the link), both relay-only through the simulator's TURN server.
fn relay_only_call(lifetimes: TurnLifetimes, tune: impl Fn(&mut IceConfig)) -> Call {
    let mut sim: Sim<Peer> = Sim::new(19);
    let e = sim.epoch();
    sim.set_default_link(LinkConfig::with_latency(Duration::from_millis(10)));
    let server = sa(TURN);
    sim.add_node(
        Peer::Turn(Box::new(SimTurn::new(server, "user", "pass", lifetimes))),
        &[server.ip()],
    );
    let cfg = |controlling: bool| {
        let mut c = if controlling {
            IceConfig::controlling(1)
        } else {
            IceConfig::controlled(2)
        };
        c.turn_servers = vec![TurnServer::udp(server, "user", "pass")];
        c.relay_only = true;
        // Consent as browsers do it, shortened so a lost path shows soon.
        c.consent_interval = Duration::from_secs(1);
        c.disconnected_timeout = Duration::from_secs(3);
        tune(&mut c);
        c
    };
    let a = sim.add_node(Peer::agent_node(cfg(true), e), &[ip("192.0.2.10")]);
    let b = sim.add_node(Peer::agent_node(cfg(false), e), &[ip("192.0.2.20")]);
    sim.cut(a, b);
    let mut c = Call::around(sim, a, b);
    c.host(a, "192.0.2.10:5000");
    c.host(b, "192.0.2.20:6000");
    c
}

fn turn(c: &Call) -> &SimTurn {
    c.sim.node(meshrtc_netsim::NodeId(0)).turn()
}

/// Both agents selected a pair from relayed address to relayed address.
fn assert_relay_to_relay(c: &Call) {
    for id in [c.a, c.b] {
        assert_eq!(
            c.agent(id).selected_kinds(),
            Some((CandidateKind::Relayed, CandidateKind::Relayed)),
            "{id:?}"
        );
    }
    c.assert_pairs_agree();
}

#[test]
fn both_behind_symmetric_nats_only_paths_through_the_relay_connect() {
    let mut sim: Sim<Peer> = Sim::new(23);
    let e = sim.epoch();
    sim.set_default_link(LinkConfig::with_latency(Duration::from_millis(15)));
    let server = sa(TURN);
    let t = sim.add_node(
        Peer::Turn(Box::new(SimTurn::new(
            server,
            "user",
            "pass",
            TurnLifetimes::default(),
        ))),
        &[server.ip()],
    );
    let na = sim.add_nat(NatConfig::symmetric(ip("203.0.113.1")));
    let nb = sim.add_nat(NatConfig::symmetric(ip("203.0.113.2")));
    let cfg = |mut c: IceConfig| {
        c.stun_servers = vec![server];
        c.turn_servers = vec![TurnServer::udp(server, "user", "pass")];
        c
    };
    let a = sim.add_node_behind(
        na,
        Peer::agent_node(cfg(IceConfig::controlling(7)), e),
        &[ip("192.168.1.10")],
    );
    let b = sim.add_node_behind(
        nb,
        Peer::agent_node(cfg(IceConfig::controlled(8)), e),
        &[ip("192.168.2.20")],
    );
    let mut c = Call::around(sim, a, b);
    c.host(a, "192.168.1.10:5000");
    c.host(b, "192.168.2.20:6000");
    c.start();
    let took = c.drive(completed, Duration::from_secs(20));
    let kinds =
        |id| -> Vec<CandidateKind> { c.agent(id).local_candidates().map(|x| x.kind).collect() };
    let relayed = |id| -> SocketAddr {
        c.agent(id)
            .local_candidates()
            .find(|x| x.kind == CandidateKind::Relayed)
            .unwrap()
            .addr
    };
    for id in [a, b] {
        // Host, server-reflexive (the NAT's public side) and relayed
        // candidates were all gathered and signalled ...
        let k = kinds(id);
        for want in [
            CandidateKind::Host,
            CandidateKind::ServerReflexive,
            CandidateKind::Relayed,
        ] {
            assert!(k.contains(&want), "{id:?}: {k:?}");
        }
    }
    // ... but a symmetric NAT maps every destination to a new port and lets
    // in only what answers it: the server-reflexive candidates reach
    // nothing, and each selected pair has a relayed end.
    assert!(c.sim.stats().nat_filtered > 0, "{:?}", c.sim.stats());
    let (al, ar) = c.agent(a).selected_pair().unwrap();
    let (bl, br) = c.agent(b).selected_pair().unwrap();
    eprintln!(
        "symmetric NATs: connected after {took:?}; a {al} -> {ar} {:?}, b {bl} -> {br} {:?}; {:?}",
        c.agent(a).selected_kinds(),
        c.agent(b).selected_kinds(),
        c.sim.node(t).turn().stats()
    );
    assert!(al == relayed(a) || ar == relayed(b), "a: {al} -> {ar}");
    assert!(bl == relayed(b) || br == relayed(a), "b: {bl} -> {br}");
    for id in [a, b] {
        let (l, r) = c.agent(id).selected_kinds().unwrap();
        assert_ne!(
            (l, r),
            (
                CandidateKind::ServerReflexive,
                CandidateKind::ServerReflexive
            )
        );
    }
    let s = c.sim.node(t).turn().stats();
    assert_eq!(s.allocations, 2);
    assert!(s.relayed_in > 0 && s.relayed_out > 0, "{s:?}");
}

#[test]
fn short_lifetimes_refreshed_in_time_keep_the_relay_pair_for_a_minute() {
    let lifetimes = TurnLifetimes {
        max_allocation: Duration::from_secs(10),
        permission: Duration::from_secs(6),
        channel: Duration::from_secs(8),
    };
    let mut c = relay_only_call(lifetimes, |cfg| {
        cfg.turn_permission_refresh = Duration::from_secs(4);
        cfg.turn_channel_refresh = Duration::from_secs(5);
    });
    c.start();
    c.drive(completed, Duration::from_secs(10));
    assert_relay_to_relay(&c);
    let before = turn(&c).stats();
    let t0 = c.sim.elapsed();
    c.drive(
        |c| c.sim.elapsed() >= t0 + Duration::from_secs(60) || !completed(c),
        Duration::from_secs(61),
    );
    assert!(completed(&c), "a={:?} b={:?}", c.state(c.a), c.state(c.b));
    assert_relay_to_relay(&c);
    let s = turn(&c).stats();
    eprintln!("a minute on 10/6/8 s lifetimes: {s:?}");
    // Two allocations, each refreshed every 5 s (half of the 10 s granted),
    // permissions every 4 s, channels every 5 s ...
    assert_eq!(s.allocations, 2);
    assert!(s.refreshes - before.refreshes >= 2 * 11, "{s:?}");
    assert!(s.permissions - before.permissions >= 2 * 11, "{s:?}");
    assert!(s.channel_binds - before.channel_binds >= 2 * 11, "{s:?}");
    // ... so nothing expired and nothing was dropped in that minute;
    // consent checks went through all along.
    assert_eq!(s.allocations_expired, 0);
    assert_eq!(s.permissions_expired, 0);
    assert_eq!(s.channels_expired, 0);
    assert_eq!(
        (
            s.no_permission - before.no_permission,
            s.no_channel - before.no_channel,
            s.no_allocation - before.no_allocation
        ),
        (0, 0, 0)
    );
    for id in [c.a, c.b] {
        let turn_stats = c.agent(id).turn_stats();
        assert_eq!(turn_stats[0].1.allocation_mismatches, 0);
        assert!(turn_stats[0].1.channel_data_sent > 50, "{:?}", turn_stats);
    }
}

#[test]
fn permissions_and_channels_refreshed_too_late_expire_and_the_late_refresh_recovers() {
    let lifetimes = TurnLifetimes {
        max_allocation: Duration::from_secs(600),
        permission: Duration::from_secs(6),
        channel: Duration::from_secs(8),
    };
    // The client believes RFC 8656's lifetimes: it refreshes after 20 s.
    let mut c = relay_only_call(lifetimes, |cfg| {
        cfg.turn_permission_refresh = Duration::from_secs(20);
        cfg.turn_channel_refresh = Duration::from_secs(20);
    });
    c.start();
    c.drive(completed, Duration::from_secs(10));
    assert_relay_to_relay(&c);
    // The channels expire on the server 8 s after binding: consent checks
    // in ChannelData are dropped there, and both agents are Disconnected
    // 3 s after their last consent response.
    let lost_after = c.drive(|c| c.both(IceState::Disconnected), Duration::from_secs(15));
    let s = turn(&c).stats();
    assert!(s.channels_expired >= 2, "{s:?}");
    assert!(s.permissions_expired >= 2, "{s:?}");
    assert!(s.no_channel > 0, "{s:?}");
    // The refresh at 20 s binds the same channel numbers again: consent
    // checks get through and the agents are connected again.
    let back_after = c.drive(
        |c| !c.both(IceState::Disconnected) && completed(c),
        Duration::from_secs(15),
    );
    assert_relay_to_relay(&c);
    let s2 = turn(&c).stats();
    assert!(s2.channel_binds >= s.channel_binds + 2, "{s2:?}");
    eprintln!(
        "late refreshes: disconnected {lost_after:?} after connecting, back {back_after:?} later; {s2:?}"
    );
}

#[test]
fn an_allocation_expired_during_a_partition_is_made_anew() {
    let lifetimes = TurnLifetimes {
        max_allocation: Duration::from_secs(10),
        ..TurnLifetimes::default()
    };
    let mut c = relay_only_call(lifetimes, |_| {});
    c.start();
    c.drive(completed, Duration::from_secs(10));
    let old = c.agent(c.a).selected_pair().unwrap().0;
    // Agent a loses its path to the server for 15 s: its refreshes are
    // lost, and the server expires the allocation 10 s after the last one.
    let server = meshrtc_netsim::NodeId(0);
    let a = c.a;
    c.sim.cut(a, server);
    let t0 = c.sim.elapsed();
    c.drive(
        |c| c.sim.elapsed() >= t0 + Duration::from_secs(15),
        Duration::from_secs(16),
    );
    c.sim.heal(a, server);
    assert!(turn(&c).stats().allocations_expired >= 1);
    // The client's own clock ended it too (no refresh got through before
    // its expiry) or the server answers 437: either way it allocates anew
    // on the same base and trickles the new relayed candidate.
    let relayed = |c: &Call| -> Vec<SocketAddr> {
        c.agent(c.a)
            .local_candidates()
            .filter(|x| x.kind == CandidateKind::Relayed)
            .map(|x| x.addr)
            .collect()
    };
    // The new Allocate, sent while still cut off, is retransmitted until
    // one gets through after the partition.
    let took = c.drive(
        |c| relayed(c).iter().any(|x| *x != old),
        Duration::from_secs(30),
    );
    assert_eq!(c.agent(c.a).stats().relays_reallocated, 1);
    let new = relayed(&c);
    assert!(turn(&c)
        .relayed_addresses()
        .iter()
        .any(|x| new.contains(x) && *x != old));
    assert_eq!(turn(&c).stats().allocations, 3);
    eprintln!(
        "allocation expired in a 15 s partition: a new one {took:?} after the heal; {:?}",
        turn(&c).stats()
    );
}

/// Six mesh members (the real mesh node, room logic and media of
/// `mesh_netsim.rs`); members 4 and 5 reach no other member directly
/// (every link from them to a member is cut), only the TURN server.
#[test]
fn a_six_member_mesh_where_two_members_can_only_relay_decodes_all_30_streams() {
    use crate::mesh_netsim::{link, Call as MeshCall};
    let server = sa(TURN);
    let mut call = MeshCall::new(29, link(0.0));
    let t = call.add_turn_server(server);
    let all: Vec<usize> = (0..6).collect();
    for i in 0..6 {
        let ip: std::net::IpAddr = format!("10.0.0.{}", i + 1).parse().unwrap();
        call.add_with(ip, None, Duration::from_secs(30), |cfg| {
            if i >= 4 {
                cfg.peer.ice.turn_servers = vec![TurnServer::udp(server, "user", "pass")];
            }
        });
    }
    for i in 4..6 {
        for j in 0..6 {
            if j != i {
                let (a, b) = (call.ids[i], call.ids[j]);
                call.sim.cut(a, b);
            }
        }
    }
    let took = call.run_until_connected(&all, Duration::from_secs(20));
    call.run_for(Duration::from_secs(6));
    call.check_streams(&all, 60);
    // Every connection of members 4 and 5 has the relay on one end (their
    // own relayed address, or the other's); the others connect directly.
    let through_relay = |i: usize| -> Vec<(String, bool)> {
        call.member(i)
            .node
            .stats()
            .members
            .into_iter()
            .map(|(id, _, st)| {
                let (l, r) = st.selected_pair.expect("a selected pair");
                (id, l.ip() == server.ip() || r.ip() == server.ip())
            })
            .collect()
    };
    let id = |i: usize| call.member(i).node.id().unwrap().to_string();
    let relay_only = [id(4), id(5)];
    for i in 0..6 {
        let pairs = through_relay(i);
        assert_eq!(pairs.len(), 5, "member {i}");
        for (peer, relayed) in pairs {
            let want = i >= 4 || relay_only.contains(&peer);
            assert_eq!(relayed, want, "member {i} to {peer}");
        }
    }
    let s = call.sim.node(t).turn.as_ref().unwrap().stats();
    eprintln!("six-member mesh, two members relay only: full mesh in {took:?}; server {s:?}");
    // One allocation per connection of members 4 and 5 (five each).
    assert!(s.allocations >= 10, "{s:?}");
    assert!(s.relayed_in > 1000 && s.relayed_out > 1000, "{s:?}");
}

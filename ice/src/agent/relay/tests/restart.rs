//! Relays across an ICE restart (new allocations on new sockets, the old
//! one deleted once the restart selects a pair) and across a lost relay
//! (nomination again, no restart): restart.rs.

use super::*;

fn agent(controlling: bool, host: &str, server: SocketAddr) -> IceAgent {
    let mut cfg = if controlling {
        IceConfig::controlling(1)
    } else {
        IceConfig::controlled(2)
    };
    cfg.turn_servers = vec![TurnServer::udp(server, "user", "pass")];
    cfg.relay_only = true;
    cfg.new_relays_on_restart = true;
    // A lost allocation shows at the first permission refresh.
    cfg.turn_permission_refresh = Duration::from_secs(2);
    let mut a = IceAgent::new(cfg, Instant::now());
    a.add_local_host(host.parse().unwrap()).unwrap();
    a
}

fn world() -> World {
    let mut w = World::new();
    let server = w.turn.addr;
    w.agents = [
        agent(true, "10.0.0.1:1000", server),
        agent(false, "10.1.0.1:1000", server),
    ];
    w.connect()
}

/// The relayed candidates agent `i` announced since the last call.
fn new_relays(w: &mut World, i: usize) -> Vec<Candidate> {
    let mut out = Vec::new();
    while let Some(e) = w.agents[i].poll_event() {
        if let IceEvent::LocalCandidate(c) = e {
            out.push(c);
        }
    }
    out
}

/// `payload` sent by agent `i` on `pair` through its relay reaches the
/// other agent, from the 5-tuple that pair validates.
fn carries(w: &mut World, i: usize, pair: (SocketAddr, SocketAddr), payload: &[u8]) {
    let t = w.agents[i]
        .wrap_relayed(Transmit {
            src: pair.0,
            dst: pair.1,
            payload: payload.to_vec(),
        })
        .expect("a relay carries it");
    assert_eq!(t.dst, w.turn.addr);
    let mut got = 0;
    for (src, dst, p) in w.turn.on_client_datagram(t.src, &t.payload) {
        for (s, d, q) in w.turn.at_relay(dst, src, &p) {
            let now = w.now;
            let r = w.agents[1 - i]
                .handle_relay_datagram(now, s, d, &q)
                .unwrap()
                .expect("data for the owner");
            assert_eq!(r.data, payload);
            assert_eq!(r.peer, pair.0);
            assert_eq!(
                w.agents[1 - i].path_status(r.relay, r.peer),
                PathStatus::Validated
            );
            got += 1;
        }
    }
    assert_eq!(got, 1, "agent {i}'s datagram did not arrive");
}

/// Both agents restart; each opens `socks[i]` for its new allocation, the
/// old pair carrying data meanwhile; new credentials and candidates are
/// exchanged and ICE completes again. Returns the new relayed addresses.
fn restart_both(w: &mut World, socks: [SocketAddr; 2]) -> [SocketAddr; 2] {
    let before: Vec<(SocketAddr, SocketAddr)> = w
        .agents
        .iter()
        .map(|a| a.selected_pair().unwrap())
        .collect();
    let bases: Vec<SocketAddr> = (0..2)
        .map(|i| {
            let relayed = before[i].0;
            w.turn
                .allocs
                .iter()
                .find(|a| a.relayed == relayed)
                .unwrap()
                .client
        })
        .collect();
    for i in 0..2 {
        new_relays(w, i);
        let now = w.now;
        w.agents[i].restart(now);
        let req = w.agents[i].poll_relay_transport_request().unwrap();
        assert_eq!(req.server, w.turn.addr);
        assert_eq!(req.transport, TurnTransport::Udp);
        assert_eq!(req.replaces, bases[i]);
        assert!(w.agents[i].poll_relay_transport_request().is_none());
        // The replaced relayed candidate is none of the new session's.
        assert!(w.agents[i]
            .local_candidates()
            .all(|c| c.addr != before[i].0));
    }
    // Until a new pair is selected, the old allocations carry data.
    for (i, &pair) in before.iter().enumerate() {
        carries(w, i, pair, &[0x17, 0xfe, 0xfd, i as u8]);
    }
    for (i, &sock) in socks.iter().enumerate() {
        w.extra[i].push(sock);
        let (now, server) = (w.now, w.turn.addr);
        // The same socket twice, or a host one, is refused.
        assert!(w.agents[i]
            .add_relay_transport(now, server, TurnTransport::Udp, w.host(i))
            .is_err());
        w.agents[i]
            .add_relay_transport(now, server, TurnTransport::Udp, sock)
            .unwrap();
    }
    w.deliver();
    let mut relays = Vec::new();
    let mut cands = Vec::new();
    for i in 0..2 {
        let c = new_relays(w, i);
        assert_eq!(c.len(), 1, "agent {i}: {c:?}");
        assert_eq!(c[0].kind, CandidateKind::Relayed);
        relays.push(c[0].addr);
        cands.push(c);
    }
    // Four allocations now: old and new, each on its own 5-tuple.
    assert_eq!(w.turn.allocs.len(), 4);
    for i in 0..2 {
        let (u, p) = (
            w.agents[1 - i].local_ufrag().to_string(),
            w.agents[1 - i].local_pwd().to_string(),
        );
        let now = w.now;
        w.agents[i].set_remote_credentials(now, &u, &p).unwrap();
        w.agents[i]
            .add_remote_candidate(now, cands[1 - i][0].clone())
            .unwrap();
    }
    let t0 = w.now;
    while !w.agents.iter().all(|a| a.state() == IceState::Completed) {
        assert!(
            w.now - t0 < Duration::from_secs(10),
            "no connection after the restart"
        );
        w.step();
    }
    w.deliver();
    for (a, &relay) in w.agents.iter().zip(&relays) {
        assert_eq!(a.selected_pair().unwrap().0, relay);
    }
    [relays[0], relays[1]]
}

#[test]
fn a_restart_allocates_on_a_new_socket_and_deletes_the_old_allocation_once_a_pair_is_selected() {
    let mut w = world();
    let socks: [SocketAddr; 2] = [
        "10.0.0.1:1001".parse().unwrap(),
        "10.1.0.1:1001".parse().unwrap(),
    ];
    let relays = restart_both(&mut w, socks);
    // The old allocations were deleted (Refresh, lifetime 0): the server
    // holds the new ones only, on the new sockets.
    assert_eq!(w.turn.allocs.len(), 2);
    for i in 0..2 {
        assert!(w
            .turn
            .allocs
            .iter()
            .any(|a| a.client == socks[i] && a.relayed == relays[i]));
        let s = w.agents[i].stats();
        assert_eq!((s.relays_renewed, s.relays_retired), (1, 1));
        // The old one was on the host socket: nothing to close.
        assert_eq!(w.agents[i].poll_relay_transport_release(), None);
        let pair = w.agents[i].selected_pair().unwrap();
        carries(&mut w, i, pair, b"new relay");
    }
    // A second restart replaces the relays on those sockets, which are
    // then handed back to be closed.
    let socks2: [SocketAddr; 2] = [
        "10.0.0.1:1002".parse().unwrap(),
        "10.1.0.1:1002".parse().unwrap(),
    ];
    restart_both(&mut w, socks2);
    assert_eq!(w.turn.allocs.len(), 2);
    for i in 0..2 {
        assert_eq!(w.agents[i].poll_relay_transport_release(), Some(socks[i]));
        assert_eq!(w.agents[i].poll_relay_transport_release(), None);
        assert!(!w.agents[i].is_relay_server(socks[i], w.turn.addr));
        assert!(w.turn.allocs.iter().any(|a| a.client == socks2[i]));
    }
    // No Allocate was refused (each went on a 5-tuple of its own).
    let allocates = w
        .turn
        .requests
        .iter()
        .filter(|m| **m == Method::ALLOCATE)
        .count();
    assert_eq!(allocates, 6);
}

#[test]
fn without_the_option_a_restart_keeps_the_allocation() {
    let mut w = World::connected();
    let before = w.agents[0].selected_pair().unwrap();
    let now = w.now;
    w.agents[0].restart(now);
    assert!(w.agents[0].poll_relay_transport_request().is_none());
    assert!(w.agents[0].local_candidates().any(|c| c.addr == before.0));
}

#[test]
fn the_new_relay_pair_is_selected_without_a_restart_after_the_server_lost_the_selected_one() {
    let mut w = world();
    let old: Vec<SocketAddr> = w
        .agents
        .iter()
        .map(|a| a.selected_pair().unwrap().0)
        .collect();
    for i in 0..2 {
        new_relays(&mut w, i);
    }
    // The server restarts: every allocation is gone; the next permission
    // refresh (2 s) finds it out and each agent allocates again.
    w.turn.allocs.clear();
    let t0 = w.now;
    while w.agents.iter().any(|a| a.stats().relays_reallocated == 0) {
        assert!(w.now - t0 < Duration::from_secs(30), "no reallocation");
        w.step();
    }
    w.deliver();
    // The new relayed candidates are trickled, nothing else is signalled.
    let cands: Vec<Vec<Candidate>> = (0..2).map(|i| new_relays(&mut w, i)).collect();
    for i in 0..2 {
        assert_eq!(cands[i].len(), 1);
        let now = w.now;
        w.agents[i]
            .add_remote_candidate(now, cands[1 - i][0].clone())
            .unwrap();
    }
    let t1 = w.now;
    let moved = |w: &World| {
        (0..2).all(|i| {
            w.agents[i].selected_pair() == Some((cands[i][0].addr, cands[1 - i][0].addr))
                && w.agents[i].state() == IceState::Completed
        })
    };
    while !moved(&w) {
        assert!(
            w.now - t1 < Duration::from_secs(5),
            "ICE did not move to the new relays"
        );
        w.step();
    }
    w.deliver();
    for (i, c) in cands.iter().enumerate() {
        assert!(!old.contains(&c[0].addr));
        assert_eq!(w.agents[i].stats().relays_reallocated, 1);
        let pair = w.agents[i].selected_pair().unwrap();
        carries(&mut w, i, pair, b"after the loss");
    }
}

#[test]
fn a_new_relay_transport_is_bound_on_a_current_address_and_asked_for_again_after_a_failure() {
    let mut w = world();
    let old_base: SocketAddr = "10.0.0.1:1000".parse().unwrap();
    let server = w.turn.addr;
    let now = w.now;
    // A peer's restart before our own address watch saw the network
    // change: the request names the address the agent still holds.
    w.agents[0].restart(now);
    let req = w.agents[0].poll_relay_transport_request().unwrap();
    assert_eq!((req.replaces, req.bind), (old_base, old_base.ip()));
    // That address is gone, so the owner could not bind: reported once.
    w.agents[0].relay_transport_failed(now, server, TurnTransport::Udp);
    w.agents[0].relay_transport_failed(now, server, TurnTransport::Udp);
    assert_eq!(w.agents[0].stats().relay_transports_failed, 1);
    // The change seen half-way (the address gone, no other yet): no
    // request, since a socket could not be bound anywhere.
    w.agents[0].remove_local_address(old_base.ip());
    w.agents[0].restart(now);
    assert_eq!(w.agents[0].poll_relay_transport_request(), None);
    // The new address comes: the next restart asks again for the retired
    // allocation's replacement, bound there.
    w.agents[0]
        .add_local_host("10.0.0.2:1000".parse().unwrap())
        .unwrap();
    w.agents[0].restart(now);
    let again = w.agents[0].poll_relay_transport_request().unwrap();
    assert_eq!(again.replaces, old_base);
    assert_eq!(again.bind, "10.0.0.2".parse::<std::net::IpAddr>().unwrap());
    assert_eq!(w.agents[0].poll_relay_transport_request(), None);
    // While that one is awaited, a further restart does not ask twice.
    w.agents[0].restart(now);
    assert_eq!(w.agents[0].poll_relay_transport_request(), None);
    // Opened, it carries a new allocation.
    w.extra[0].push("10.0.0.2:1001".parse().unwrap());
    w.agents[0]
        .add_relay_transport(
            now,
            server,
            TurnTransport::Udp,
            "10.0.0.2:1001".parse().unwrap(),
        )
        .unwrap();
    w.deliver();
    let c = new_relays(&mut w, 0);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].kind, CandidateKind::Relayed);
    assert!(w
        .turn
        .allocs
        .iter()
        .any(|a| a.client == "10.0.0.2:1001".parse().unwrap()));
}

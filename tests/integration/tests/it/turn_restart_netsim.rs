//! An ICE restart while media flows over a relay, on the simulator: two
//! relay-only mesh members (the mesh node, room logic and media of
//! `mesh_netsim.rs`) that reach each other only through the simulator's
//! TURN server. An address change restarts ICE on both connections
//! (`MeshNode::local_addresses_changed`); each restart asks for a new
//! local port per allocation (RFC 8656 §7.3: one allocation per 5-tuple),
//! allocates there while the old allocation keeps carrying the video,
//! moves to the new relay pair and deletes the old allocation; no video
//! frame is lost.

use std::net::SocketAddr;
use std::time::Duration;

use meshrtc_ice::TurnServer;
use meshrtc_integration::sim::sa;

use crate::mesh_netsim::{link, Call as MeshCall};

const TURN: &str = "198.51.100.1:3478";

/// The longest time member `i` went without decoding a video frame of
/// member `from` (by its node id), over the frames it decoded after
/// `since`.
fn longest_gap(call: &MeshCall, i: usize, from: &str, since: std::time::Instant) -> Duration {
    let rx = &call.member(i).rx[from];
    let at: Vec<std::time::Instant> = rx.iter().map(|r| r.at).filter(|t| *t >= since).collect();
    at.windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or(Duration::MAX)
}

#[test]
fn an_ice_restart_moves_relayed_media_to_new_allocations_on_new_ports_without_losing_a_frame() {
    let server = sa(TURN);
    let mut call = MeshCall::new(31, link(0.0));
    let t = call.add_turn_server(server);
    for i in 0..2 {
        let ip: std::net::IpAddr = format!("10.0.0.{}", i + 1).parse().unwrap();
        call.add_with(ip, None, Duration::from_secs(30), |cfg| {
            cfg.peer.ice.turn_servers = vec![TurnServer::udp(server, "user", "pass")];
            cfg.peer.ice.relay_only = true;
            cfg.peer.ice.new_relays_on_restart = true;
        });
    }
    let (a, b) = (call.ids[0], call.ids[1]);
    call.sim.cut(a, b);
    call.run_until_connected(&[0, 1], Duration::from_secs(20));
    call.run_for(Duration::from_secs(2));
    let ids: Vec<String> = (0..2)
        .map(|i| call.member(i).node.id().unwrap().to_string())
        .collect();
    let selected = |call: &MeshCall, i: usize| -> (SocketAddr, SocketAddr) {
        call.member(i).node.stats().members[0]
            .2
            .selected_pair
            .unwrap()
    };
    let before: Vec<(SocketAddr, SocketAddr)> = (0..2).map(|i| selected(&call, i)).collect();
    for p in &before {
        assert_eq!(
            (p.0.ip(), p.1.ip()),
            (server.ip(), server.ip()),
            "a relay pair"
        );
    }
    let restarted = call.sim.now();
    for i in 0..2 {
        let now = call.sim.now();
        let m = call.sim.node_mut(call.ids[i]);
        let same = (0..10u16)
            .map(|k| {
                vec![SocketAddr::new(
                    format!("10.0.0.{}", i + 1).parse().unwrap(),
                    40000 + k,
                )]
            })
            .collect();
        assert_eq!(m.node.local_addresses_changed(now, same), 1);
        m.events(now);
    }
    // Both move to a pair between the new relayed addresses.
    let moved = |call: &MeshCall| {
        (0..2).all(|i| {
            let p = selected(call, i);
            p.0.ip() == server.ip() && p.0 != before[i].0 && p.1 != before[i].1
        })
    };
    let start = call.sim.now();
    while !moved(&call) {
        assert!(
            call.sim.now() - start < Duration::from_secs(10),
            "no new relay pair"
        );
        call.run_for(Duration::from_millis(50));
    }
    let took = call.sim.now() - restarted;
    call.run_for(Duration::from_secs(3));
    let s = call.sim.node(t).turn.as_ref().unwrap().stats();
    eprintln!("server: {s:?}");
    // Two allocations more, each on a port of its own; the two old ones
    // deleted (Refresh, lifetime 0); no 437, no 401 to credentials.
    assert_eq!(s.allocations, 4, "{s:?}");
    assert_eq!(s.deallocations, 2, "{s:?}");
    assert_eq!(s.mismatches, 0, "{s:?}");
    let live = call.sim.node(t).turn.as_ref().unwrap().relayed_addresses();
    assert_eq!(live.len(), 2);
    for i in 0..2 {
        let m = call.member(i);
        assert_eq!(m.relay_sockets.len(), 1, "member {i}");
        assert!(live.contains(&selected(&call, i).0));
        assert!(!live.contains(&before[i].0));
        // The old allocation was on the slot's own socket: nothing to
        // close.
        assert!(m.relay_sockets_closed.is_empty());
        // Video decoded all along: no gap of 200 ms (25 frames a second)
        // across the restart.
        // Video decoded all along: every frame from a second before the
        // restart on, in order, none missing, and no gap of 300 ms (the
        // video runs at 15 frames a second; a frame is sometimes 150 ms
        // late without a restart).
        let since = restarted - Duration::from_secs(1);
        let frames: Vec<u32> = m.rx[&ids[1 - i]]
            .iter()
            .filter(|r| r.at >= since)
            .map(|r| r.frame)
            .collect();
        assert!(frames.len() > 50, "member {i}: {frames:?}");
        assert!(
            frames.windows(2).all(|w| w[1] == w[0] + 1),
            "member {i}: frames missing across the restart: {frames:?}"
        );
        let gap = longest_gap(&call, i, &ids[1 - i], since);
        assert!(
            gap < Duration::from_millis(300),
            "member {i}: {gap:?} without video"
        );
        eprintln!("member {i}: longest gap without video across the restart {gap:?}");
    }
    eprintln!("ICE restart over the relay: the new relay pair was selected {took:?} after it");
}

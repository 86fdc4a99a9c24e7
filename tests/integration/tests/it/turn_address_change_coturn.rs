//! The mesh driver's own relay sockets, live (issue 19): two relay-only
//! mesh members call each other through coturn, lose the address they use
//! (`ip addr del`) and get another (`ip addr add`). Each driver notices
//! within a second and restarts ICE; the agent retires its allocations and
//! asks for new transports (RFC 8656 §7.3: one allocation per 5-tuple), which
//! the mesh driver opens on the new address; the new allocations carry the
//! call on the same connections.
//!
//! In a private network namespace: one veth link holds the members'
//! address (10.77.0.1, then 10.77.0.2); coturn listens on 127.0.0.9,
//! which the members reach but do not gather (loopback is left out of
//! their candidates), so their only path is the relay from the changing
//! address. Needs root (namespaces) and `turnserver`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use meshrtc_ice::TurnServer;
use meshrtc_integration::browser::run_in_private_netns;
use meshrtc_mesh::driver::MemberConfig;
use meshrtc_mesh::signaling::{bind, ServerConfig};
use meshrtc_mesh::MeshStats;

use crate::local_network::{address_link, call_through_an_address_change};
use crate::turn_coturn::{Coturn, PASS, USER};

/// The selected pairs' local ends (each a relayed address on coturn).
fn selected_locals(stats: &MeshStats) -> Vec<SocketAddr> {
    stats
        .members
        .iter()
        .filter_map(|(_, _, p)| p.selected_pair.map(|(local, _)| local))
        .collect()
}

#[test]
fn relay_only_mesh_members_move_to_new_allocations_from_a_new_address() {
    if !run_in_private_netns(
        "turn_address_change_coturn::relay_only_mesh_members_move_to_new_allocations_from_a_new_address",
    ) {
        return;
    }
    address_link();
    let turn_ip: IpAddr = "127.0.0.9".parse().unwrap();
    let coturn = Coturn::start(None, turn_ip);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(bind("127.0.0.1:0", ServerConfig::default()))
        .unwrap();
    let ws = server.ws_url();
    let config = |name: &str| {
        let mut cfg = MemberConfig::new(&ws, "relayed", name).unwrap();
        cfg.loopback = false;
        cfg.send_audio = false;
        cfg.slots = 2;
        cfg.peer.ice.turn_servers = vec![TurnServer::udp(coturn.addr, USER, PASS)];
        cfg.peer.ice.relay_only = true;
        cfg
    };
    let started = Instant::now();
    let (a, b) =
        call_through_an_address_change(&rt, config, Duration::from_secs(4), Duration::from_secs(6));
    rt.block_on(async { server.shutdown().await.unwrap() });
    eprintln!(
        "relayed address change: a resumed after {:?}, b after {:?} ({:.1} s in all)\na {:?}\nb {:?}",
        a.resumed_after,
        b.resumed_after,
        started.elapsed().as_secs_f32(),
        a.stats.as_ref().map(selected_locals),
        b.stats.as_ref().map(selected_locals),
    );
    for (name, r) in [("a", &a), ("b", &b)] {
        let log = coturn.log_tail();
        let before = r.stats_before.as_ref().expect("frames before the change");
        let after = r.stats.as_ref().unwrap();
        assert!(r.before >= 10, "{name}: {r:?}\n{log}");
        assert!(after.ice_restarts >= 1, "{name}: {after:?}");
        assert!(r.after >= 20, "{name}: {r:?}\n{log}");
        let t = r.resumed_after.expect("media resumed");
        assert!(t <= Duration::from_secs(4), "{name}: resumed after {t:?}");
        // The same connection throughout: it came up once, nobody left.
        assert_eq!(r.connected_events, 1, "{name}: {r:?}");
        assert_eq!(r.removed_events, 0, "{name}: {r:?}");
        // Relayed before and after, on a new allocation after.
        let (old, new) = (selected_locals(before), selected_locals(after));
        assert_eq!(old.len(), 1, "{name}: {before:?}");
        assert_eq!(new.len(), 1, "{name}: {after:?}");
        assert_eq!(old[0].ip(), turn_ip, "{name}: relayed before");
        assert_eq!(new[0].ip(), turn_ip, "{name}: relayed after");
        assert_ne!(old[0], new[0], "{name}: a new allocation");
    }
}

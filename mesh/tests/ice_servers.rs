//! The room's ICE servers (`welcome`) reach the node's connections: STUN
//! binding requests and TURN allocations go to the servers it names.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_mesh::signaling::protocol::{IceServer, PeerInfo, ServerMessage};
use meshrtc_mesh::{MeshConfig, MeshNode};
use meshrtc_peer::PeerConfig;

#[test]
fn a_welcome_with_stun_and_turn_servers_sends_binding_and_allocate_requests_to_them() {
    let now = Instant::now();
    let local: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let cfg = MeshConfig::new(
        "room",
        "ada",
        PeerConfig::with_fixed_seed(7),
        vec![vec![local]],
    );
    let mut node = MeshNode::new(cfg);
    let stun: SocketAddr = "198.51.100.7:3478".parse().unwrap();
    let turn: SocketAddr = "198.51.100.8:3479".parse().unwrap();
    node.handle_signal(
        now,
        ServerMessage::Welcome {
            id: "p1".into(),
            room: "room".into(),
            peers: vec![PeerInfo {
                id: "p0".into(),
                name: "grace".into(),
            }],
            max_members: 6,
            ice_servers: vec![
                IceServer::url(format!("stun:{stun}")),
                IceServer {
                    urls: vec![
                        format!("turn:{turn}?transport=udp"),
                        "turns:h.example:5349".into(),
                    ],
                    username: Some("1700000000:ada".into()),
                    credential: Some("secret".into()),
                },
            ],
            resume: None,
        },
    );
    let mut to = Vec::new();
    let mut t = now;
    for _ in 0..20 {
        while let Some(tx) = node.poll_transmit() {
            // STUN (RFC 8489 §6: first two bits 0, magic cookie).
            assert_eq!(&tx.payload[4..8], &[0x21, 0x12, 0xa4, 0x42]);
            let method = u16::from_be_bytes([tx.payload[0], tx.payload[1]]);
            to.push((tx.dst, method));
        }
        t += Duration::from_millis(50);
        node.handle_timeout(t);
    }
    // A Binding request (0x0001) to the STUN server, an Allocate request
    // (0x0003, RFC 8656 §7.1) to the TURN server, both from our slot.
    assert!(to.contains(&(stun, 0x0001)), "{to:?}");
    assert!(to.contains(&(turn, 0x0003)), "{to:?}");
    assert_eq!(node.stats().ice_servers_skipped, 1);
}

//! Secrets come from the operating system (RFC 8839 §5.4: at least 128
//! bits of randomness in ice-pwd, 24 in ice-ufrag): two members made in
//! the same instant share nothing guessable, and inside one node every
//! connection has credentials of its own while the certificate is shared.

use std::net::SocketAddr;
use std::time::Instant;

use meshrtc_mesh::driver::MemberConfig;
use meshrtc_mesh::signaling::protocol::{ClientMessage, PeerInfo, ServerMessage};
use meshrtc_mesh::{MeshConfig, MeshNode};
use meshrtc_peer::{PeerConfig, PeerConnection};
use meshrtc_sdp::negotiate::MediaKind;

/// `(ufrag, pwd, fingerprint)` of a description.
fn credentials(sdp: &str) -> (String, String, String) {
    let get = |key: &str| {
        sdp.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in\n{sdp}"))
            .trim()
            .to_string()
    };
    (
        get("a=ice-ufrag:"),
        get("a=ice-pwd:"),
        get("a=fingerprint:"),
    )
}

/// Bits of randomness an ice-char string can carry (RFC 8839 §5.4: the
/// alphabet is 64 characters, 6 bits each).
fn ice_bits(s: &str) -> usize {
    assert!(
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'),
        "{s:?} is not ice-chars"
    );
    s.len() * 6
}

fn offer_of(config: PeerConfig) -> String {
    let now = Instant::now();
    let mut pc = PeerConnection::new(config, now).unwrap();
    pc.add_local_address("127.0.0.1:40000".parse().unwrap());
    pc.add_transceiver(MediaKind::Audio, true, true);
    pc.create_offer(now).unwrap()
}

#[test]
fn two_members_made_in_the_same_instant_get_unrelated_strong_credentials() {
    let a = MemberConfig::new("ws://127.0.0.1:1/ws", "r", "a").unwrap();
    let b = MemberConfig::new("ws://127.0.0.1:1/ws", "r", "a").unwrap();
    assert_ne!(a.peer.seed, b.peer.seed);
    // 256 bits from the OS: not a clock reading padded with zeros.
    assert!(a.peer.seed.iter().filter(|&&x| x == 0).count() < 8);

    let (ua, pa, fa) = credentials(&offer_of(a.peer));
    let (ub, pb, fb) = credentials(&offer_of(b.peer));
    assert_ne!(pa, pb);
    assert_ne!(ua, ub);
    assert_ne!(fa, fb, "each member has its own certificate");
    for (u, p) in [(&ua, &pa), (&ub, &pb)] {
        assert!(ice_bits(p) >= 128, "ice-pwd {p:?} carries < 128 bits");
        assert!(ice_bits(u) >= 24, "ice-ufrag {u:?} carries < 24 bits");
    }
}

#[test]
fn a_fixed_seed_is_deterministic_and_only_that() {
    let (u1, p1, _) = credentials(&offer_of(PeerConfig::with_fixed_seed(7)));
    let (u2, p2, _) = credentials(&offer_of(PeerConfig::with_fixed_seed(7)));
    let (_, p3, _) = credentials(&offer_of(PeerConfig::with_fixed_seed(8)));
    assert_eq!((u1, &p1), (u2, &p2));
    assert_ne!(p1, p3);
}

#[test]
fn a_nodes_connections_have_their_own_credentials_and_share_one_certificate() {
    let config = MemberConfig::new("ws://127.0.0.1:1/ws", "r", "n").unwrap();
    let slots: Vec<Vec<SocketAddr>> = (0..3)
        .map(|i| vec![format!("127.0.0.1:{}", 41000 + i).parse().unwrap()])
        .collect();
    let mut node = MeshNode::new(MeshConfig::new("r", "n", config.peer.clone(), slots));
    let now = Instant::now();
    node.handle_signal(
        now,
        ServerMessage::Welcome {
            id: "p3".into(),
            room: "r".into(),
            peers: vec![
                PeerInfo {
                    id: "p1".into(),
                    name: "a".into(),
                },
                PeerInfo {
                    id: "p2".into(),
                    name: "b".into(),
                },
            ],
            max_members: 6,
            ice_servers: Vec::new(),
            resume: None,
        },
    );
    let mut offers = Vec::new();
    while let Some(m) = node.poll_signal() {
        if let ClientMessage::Offer { sdp, .. } = m {
            offers.push(credentials(&sdp));
        }
    }
    assert_eq!(offers.len(), 2, "the newcomer offers to both members");
    assert_ne!(offers[0].1, offers[1].1, "one ice-pwd per connection");
    assert_ne!(offers[0].0, offers[1].0);
    assert_eq!(offers[0].2, offers[1].2, "one certificate per node");
    assert_eq!(
        offers[0].2,
        format!("sha-256 {}", config.peer.certificate.fingerprint()),
        "the node's own certificate"
    );
}

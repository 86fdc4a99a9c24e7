//! The room's ICE server URLs (`welcome`'s `ice_servers`, from the
//! signaling server: untrusted) never panic the node's parser, and every
//! URL is either taken (a STUN or TURN server of the agent, once) or
//! reported as left out. The same with every host name the URLs hold
//! resolved (as the driver does): each name found is taken or reported,
//! and a server taken by name keeps it.
//!
//! Input: lines of text; each line is one `IceServer`'s URL, and every
//! other server carries a username and credential.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_ice::IceConfig;
use meshrtc_mesh::ice_servers::{apply, apply_resolved, host_names, HostAddresses};
use meshrtc_mesh::signaling::protocol::IceServer;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let servers: Vec<IceServer> = text
        .lines()
        .enumerate()
        .map(|(i, url)| IceServer {
            urls: vec![url.to_owned()],
            username: (i % 2 == 1).then(|| "user".to_owned()),
            credential: (i % 2 == 1).then(|| "pass".to_owned()),
        })
        .collect();
    let mut ice = IceConfig::controlled(0);
    let skipped = apply(&servers, &mut ice);
    let taken = ice.stun_servers.len() + ice.turn_servers.len();
    assert!(taken + skipped.len() <= servers.len());
    // No duplicates.
    let mut stun = ice.stun_servers.clone();
    stun.sort();
    stun.dedup();
    assert_eq!(stun.len(), ice.stun_servers.len());
    assert!(ice.turn_servers.iter().all(|t| t.addr.port() != 0));
    let hosts: HostAddresses = host_names(&servers)
        .into_iter()
        .map(|n| (n, std::net::IpAddr::from([192, 0, 2, 1])))
        .collect();
    let mut ice = IceConfig::controlled(0);
    let skipped = apply_resolved(&servers, &hosts, &mut ice);
    let taken = ice.stun_servers.len() + ice.turn_servers.len();
    assert!(taken + skipped.len() <= servers.len());
    assert!(ice
        .turn_servers
        .iter()
        .all(|t| t.host.as_ref().is_none_or(|h| hosts.contains_key(h))));
});

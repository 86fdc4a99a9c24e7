//! The driver's side of host names in the room's ICE server URLs: before
//! a `welcome` or `ice-servers` message goes to the node, the names its
//! URLs hold are resolved (the system resolver, bounded in time) and the
//! addresses handed to the node ([`MeshNode::add_resolved_host`]), which
//! then takes those servers at their address and keeps the name for TLS.
//! A name that does not resolve is left out, as the node reports.

use std::time::Duration;

use crate::node::MeshNode;
use crate::signaling::protocol::ServerMessage;

/// How long resolving one name may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Resolves the host names of the ICE server URLs in `m`, if it names
/// servers, and tells `node`; returns how many did not resolve.
pub(crate) async fn resolve_ice_hosts(node: &mut MeshNode, m: &ServerMessage) -> u64 {
    let servers = match m {
        ServerMessage::Welcome { ice_servers, .. } | ServerMessage::IceServers { ice_servers } => {
            ice_servers
        }
        _ => return 0,
    };
    let mut failed = 0;
    for name in crate::ice_servers::host_names(servers) {
        let lookup = tokio::net::lookup_host((name.as_str(), 0));
        let found = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
            // IPv4 first, as the command line's resolution does.
            Ok(Ok(addrs)) => addrs.map(|a| a.ip()).min_by_key(|ip| ip.is_ipv6()),
            _ => None,
        };
        match found {
            Some(ip) => {
                tracing::debug!(%name, %ip, "ICE server host name resolved");
                node.add_resolved_host(&name, ip);
            }
            None => {
                tracing::warn!(%name, "ICE server host name did not resolve");
                failed += 1;
            }
        }
    }
    failed
}

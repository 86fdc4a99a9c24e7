//! Host names in the room's ICE server URLs (`turn:turn.example.org`):
//! the node resolves nothing, so its owner resolves the names a `welcome`
//! or `ice-servers` message names ([`crate::ice_servers::host_names`])
//! before handing the message in, and tells the node the addresses with
//! [`MeshNode::add_resolved_host`]. The servers are then taken at those
//! addresses, the name kept for TLS to check (`TurnServer::host`).

use std::net::IpAddr;

use super::MeshNode;

impl MeshNode {
    /// `name` (a host name of an ICE server URL) has address `ip`; for the
    /// signaling messages handed in from now on.
    pub fn add_resolved_host(&mut self, name: &str, ip: IpAddr) {
        self.resolved_hosts.insert(name.to_ascii_lowercase(), ip);
    }
}

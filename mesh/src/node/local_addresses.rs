//! The node's own addresses change mid-call (an interface went, a new
//! address came): the owner binds the new addresses, drops the gone ones'
//! sockets, and tells the node ([`MeshNode::local_addresses_changed`]).
//! Each member's connection drops the candidates of its slot's gone
//! addresses ([`PeerConnection::remove_local_address`]), gathers its new
//! addresses as host candidates (RFC 8445 §5.1.1.1) and restarts ICE (§9, by renegotiation,
//! [`PeerConnection::restart_ice`]): media moves to a working pair on the
//! same connection, before consent on the old one would run out
//! (RFC 7675 §5.1).

use super::*;

impl MeshNode {
    /// Writes host candidates on `ip` as the mDNS name `name` from now on,
    /// in every connection and those to come
    /// ([`meshrtc_peer::PeerConfig::host_names`]); the owner answers
    /// queries for the name.
    pub fn hide_host_address(&mut self, ip: std::net::IpAddr, name: &str) {
        if !self.config.peer.host_names.iter().any(|(a, _)| *a == ip) {
            self.config.peer.host_names.push((ip, name.to_string()));
        }
        for m in self.members.values_mut() {
            m.pc.hide_host_address(ip, name);
        }
    }

    /// The addresses bound now, one set per slot (as many slots as
    /// [`MeshConfig::slots`]; another count is refused and returns 0).
    /// Every connected member's connection gathers the new ones and
    /// restarts ICE; returns how many restarted.
    pub fn local_addresses_changed(&mut self, now: Instant, slots: Vec<Vec<SocketAddr>>) -> usize {
        if slots.len() != self.config.slots.len() {
            return 0;
        }
        // Per slot, the addresses that went: their candidates leave each
        // connection before the restart, so its offer and trickle name
        // only the addresses left.
        let gone: Vec<Vec<std::net::IpAddr>> = (self.config.slots.iter())
            .zip(&slots)
            .map(|(old, new)| {
                let mut ips: Vec<_> = (old.iter())
                    .filter(|a| !new.iter().any(|n| n.ip() == a.ip()))
                    .map(|a| a.ip())
                    .collect();
                ips.dedup();
                ips
            })
            .collect();
        self.config.slots = slots;
        self.address_changes += 1;
        let mut restarted = 0;
        for m in self.members.values_mut() {
            for ip in &gone[m.slot] {
                m.pc.remove_local_address(now, *ip);
            }
            for a in &self.config.slots[m.slot] {
                m.pc.add_local_address(*a);
            }
            // Before the first negotiation the new address simply joins
            // the gathering.
            if m.pc.negotiated().is_some() {
                m.pc.restart_ice();
                restarted += 1;
            }
        }
        self.ice_restarts += restarted as u64;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            self.drain_member(now, &id);
        }
        restarted
    }
}

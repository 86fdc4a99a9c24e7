//! A local address the driver bound went away (its interface watch saw it
//! removed): its host candidate and those based on it leave the ICE agent
//! ([`meshrtc_ice::IceAgent::remove_local_address`]), so the ICE restart
//! that follows (RFC 8445 §9) names only the addresses left, in its offer
//! and in what it trickles (RFC 8838 has no way to withdraw a candidate
//! within one ICE session: the restart is the way).

use super::*;

impl PeerConnection {
    /// The local address `ip` is gone: its host candidates (with their
    /// reflexive ones and pairs) leave the connection, and a name that hid
    /// it is forgotten. Returns how many ICE candidates went. Call
    /// [`PeerConnection::restart_ice`] afterwards; until the restart
    /// selects a pair, a pair that was on `ip` is selected no more.
    pub fn remove_local_address(&mut self, now: Instant, ip: std::net::IpAddr) -> usize {
        self.local_addrs.retain(|a| a.ip() != ip);
        self.config.host_names.retain(|(a, _)| *a != ip);
        let removed = self
            .ice
            .as_mut()
            .map_or(0, |ice| ice.remove_local_address(ip));
        if self.selected.is_some_and(|(local, _)| local.ip() == ip) {
            self.selected = None;
        }
        self.drain_ice(now);
        removed
    }
}

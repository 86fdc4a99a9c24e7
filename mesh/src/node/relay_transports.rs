//! New local transports for TURN allocations across an ICE restart, for
//! the mesh (RFC 8656 §7.3: one allocation per 5-tuple, so a restart's
//! allocation, made with the room's freshest credentials while the old
//! one still carries media, needs a new UDP socket or TCP/TLS connection).
//!
//! Each member's connection asks for them
//! (`PeerConnection::poll_relay_transport_request`); the node passes the
//! requests on with the member's slot ([`MeshNode::poll_relay_transport_request`]),
//! the owner opens them and reports each ([`MeshNode::add_relay_transport`]);
//! datagrams to one go to the slot's connection. Once the old allocation
//! is deleted, or the member is gone, the transport is handed back to be
//! closed ([`MeshNode::poll_relay_transport_release`]). A slot's own
//! stream (`turn_streams.rs`) is never handed back: the slot's next
//! connection allocates over it.
//!
//! The room's renewed credentials (`ice-servers`, a resumed `welcome`)
//! reach every existing connection too ([`MeshNode::renew_turn_credentials`]),
//! for the allocations it makes from then on.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use meshrtc_ice::{RelayTransportRequest, TurnTransport};

use super::MeshNode;

/// A transport to open for the connection on slot `slot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRelayTransportRequest {
    /// The slot ([`crate::MeshConfig::slots`]); datagrams to the new
    /// transport belong to it.
    pub slot: usize,
    /// What to open.
    pub request: RelayTransportRequest,
}

/// Transports opened for members' relays: (slot, member id, local).
#[derive(Debug, Default)]
pub(super) struct RelayTransports {
    open: Vec<(usize, String, SocketAddr)>,
    releases: VecDeque<SocketAddr>,
}

impl MeshNode {
    /// The next transport a member's connection asks for (after an ICE
    /// restart).
    #[must_use]
    pub fn poll_relay_transport_request(&mut self) -> Option<SlotRelayTransportRequest> {
        for m in self.members.values_mut() {
            if let Some(request) = m.pc.poll_relay_transport_request() {
                return Some(SlotRelayTransportRequest {
                    slot: m.slot,
                    request,
                });
            }
        }
        None
    }

    /// The owner opened `local` for a [`SlotRelayTransportRequest`] of
    /// `slot`: the slot's connection allocates on it. A connection that is
    /// gone meanwhile gets nothing, and `local` is handed back.
    pub fn add_relay_transport(
        &mut self,
        now: Instant,
        slot: usize,
        server: SocketAddr,
        transport: TurnTransport,
        local: SocketAddr,
    ) {
        let id = self.slot_ids.get(slot).cloned().flatten();
        let added = id.as_ref().is_some_and(|id| {
            self.members.get_mut(id).is_some_and(|m| {
                m.pc.add_relay_transport(now, server, transport, local)
                    .is_ok()
            })
        });
        match (added, id) {
            (true, Some(id)) => {
                self.relay_transports.open.push((slot, id.clone(), local));
                self.drain_member(now, &id);
            }
            _ => self.relay_transports.releases.push_back(local),
        }
    }

    /// The owner could not open a transport for a
    /// [`SlotRelayTransportRequest`] of `slot` (see
    /// `IceAgent::relay_transport_failed`).
    pub fn relay_transport_failed(
        &mut self,
        now: Instant,
        slot: usize,
        server: SocketAddr,
        transport: TurnTransport,
    ) {
        let id = self.slot_ids.get(slot).cloned().flatten();
        if let Some(m) = id.and_then(|id| self.members.get_mut(&id)) {
            m.pc.relay_transport_failed(now, server, transport);
        }
    }

    /// A transport opened for a relay that is no more: close it.
    pub fn poll_relay_transport_release(&mut self) -> Option<SocketAddr> {
        let slot_streams: Vec<SocketAddr> = (0..self.config.slots.len())
            .flat_map(|slot| self.turn_streams_of(slot))
            .map(|s| s.1)
            .collect();
        for m in self.members.values_mut() {
            while let Some(local) = m.pc.poll_relay_transport_release() {
                // A slot's own stream stays for the slot's next connection.
                if slot_streams.contains(&local) {
                    continue;
                }
                self.relay_transports.open.retain(|o| o.2 != local);
                self.relay_transports.releases.push_back(local);
            }
        }
        let members = &self.members;
        let q = &mut self.relay_transports;
        q.open.retain(|(_, id, local)| {
            let live = members.contains_key(id);
            if !live {
                q.releases.push_back(*local);
            }
            live
        });
        self.relay_transports.releases.pop_front()
    }

    /// The slot of a transport opened for a relay.
    pub(super) fn relay_transport_slot(&self, local: SocketAddr) -> Option<usize> {
        self.relay_transports
            .open
            .iter()
            .find(|o| o.2 == local)
            .map(|o| o.0)
    }

    /// The room's TURN servers and credentials, as just renewed, for the
    /// allocations every existing connection makes from now on (an ICE
    /// restart's, a lost one's); existing allocations keep theirs.
    pub(super) fn renew_turn_credentials(&mut self) {
        let servers = self.config.peer.ice.turn_servers.clone();
        for m in self.members.values_mut() {
            m.pc.set_turn_servers(servers.clone());
        }
    }
}

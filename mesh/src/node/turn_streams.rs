//! TURN over TCP and TLS for the mesh (RFC 8656 §3.1): a stream per slot
//! and server, opened by the owner.
//!
//! A TCP or TLS connection carries one allocation, and each member's
//! connection has its own allocations, so every slot needs its own stream
//! to each TURN server the room names with a stream transport
//! (`turn:...?transport=tcp`, `turns:`). The node cannot open connections:
//! it asks ([`MeshNode::poll_turn_stream_request`]) once the servers are
//! known (the `welcome`), the owner opens them and reports each one
//! ([`MeshNode::add_turn_stream`]); the connection on the slot, existing
//! or to come, allocates over it. A stream that closed is reported
//! ([`MeshNode::remove_turn_stream`]) and asked for again.
//!
//! A 300 Try Alternate on such a stream (RFC 8489 §10) makes the slot's
//! connection ask for a stream to the alternate server: the node asks the
//! owner for it like any other (same slot, transport and host name), or
//! hands the slot's stream to that server in at once when one is open. A
//! stream that could not be opened is reported
//! ([`MeshNode::turn_stream_failed`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use meshrtc_ice::TurnTransport;

use super::MeshNode;

/// A stream the owner should open: from slot `slot` to the TURN server
/// `server` over `transport` (TCP, or TLS over TCP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnStreamRequest {
    /// The slot ([`crate::MeshConfig::slots`]) whose connections use it.
    pub slot: usize,
    /// The server's address.
    pub server: SocketAddr,
    /// TCP or TLS.
    pub transport: TurnTransport,
    /// The name TLS checks the certificate for (the URL's host name), or
    /// `None` for the server's IP address.
    pub host: Option<String>,
}

/// The node's streams: requested, and opened (with their local address).
#[derive(Debug, Default)]
pub(super) struct TurnStreams {
    requested: Vec<(usize, SocketAddr)>,
    open: Vec<(usize, SocketAddr, SocketAddr)>,
    /// Streams to alternate servers the slots' connections asked for.
    redirects: VecDeque<TurnStreamRequest>,
}

impl MeshNode {
    /// The next stream to open, if any: one per slot and TCP/TLS TURN
    /// server of the configuration (the room's, from `welcome`), each
    /// asked once until it is removed.
    #[must_use]
    pub fn poll_turn_stream_request(&mut self) -> Option<TurnStreamRequest> {
        if let Some(r) = self.turn_streams.redirects.pop_front() {
            return Some(r);
        }
        for t in &self.config.peer.ice.turn_servers {
            if !t.transport.is_stream() {
                continue;
            }
            for slot in 0..self.config.slots.len() {
                if !self.turn_streams.requested.contains(&(slot, t.addr)) {
                    self.turn_streams.requested.push((slot, t.addr));
                    return Some(TurnStreamRequest {
                        slot,
                        server: t.addr,
                        transport: t.transport,
                        host: t.host.clone(),
                    });
                }
            }
        }
        None
    }

    /// The owner opened a stream for `slot` from `local` to `server`: the
    /// slot's connection (now, or the next one made on it) allocates over
    /// it. What the stream carries comes in through
    /// [`MeshNode::handle_datagram`] from `server` to `local`; transmits
    /// from `local` go to it.
    pub fn add_turn_stream(
        &mut self,
        now: Instant,
        slot: usize,
        server: SocketAddr,
        local: SocketAddr,
    ) {
        if slot >= self.config.slots.len() || self.turn_stream_slot(local).is_some() {
            return;
        }
        self.turn_streams.open.push((slot, server, local));
        if let Some(id) = self.slot_ids.get(slot).cloned().flatten() {
            if let Some(m) = self.members.get_mut(&id) {
                let _ = m.pc.add_turn_stream(now, server, local);
            }
            self.drain_member(now, &id);
        }
    }

    /// The stream from `local` closed: forget it, and ask for a new one.
    pub fn remove_turn_stream(&mut self, local: SocketAddr) {
        let Some(i) = self.turn_streams.open.iter().position(|s| s.2 == local) else {
            return;
        };
        let (slot, server, _) = self.turn_streams.open.remove(i);
        self.turn_streams.requested.retain(|&r| r != (slot, server));
    }

    /// The stream asked for `slot` to `server` could not be opened: the
    /// slot's connection stops waiting for it, and a later redirection
    /// asks for it again.
    pub fn turn_stream_failed(&mut self, now: Instant, slot: usize, server: SocketAddr) {
        self.turn_streams.requested.retain(|&r| r != (slot, server));
        if let Some(id) = self.slot_ids.get(slot).cloned().flatten() {
            if let Some(m) = self.members.get_mut(&id) {
                m.pc.turn_stream_failed(now, server);
            }
        }
    }

    /// Follows the 300 Try Alternate redirections of member `id`'s
    /// connection: the slot's stream to the alternate goes in at once if
    /// it is open, else the owner is asked for one.
    pub(super) fn follow_turn_redirects(&mut self, now: Instant, id: &str) {
        let Some(m) = self.members.get_mut(id) else {
            return;
        };
        let slot = m.slot;
        while let Some(r) = m.pc.poll_turn_redirect() {
            let open = &self.turn_streams.open;
            if let Some(&(_, _, local)) = open.iter().find(|s| s.0 == slot && s.1 == r.server) {
                let _ = m.pc.add_turn_stream(now, r.server, local);
            } else if !self.turn_streams.requested.contains(&(slot, r.server)) {
                self.turn_streams.requested.push((slot, r.server));
                self.turn_streams.redirects.push_back(TurnStreamRequest {
                    slot,
                    server: r.server,
                    transport: r.transport,
                    host: r.host,
                });
            }
        }
    }

    /// The slot whose stream has local address `local`.
    pub(super) fn turn_stream_slot(&self, local: SocketAddr) -> Option<usize> {
        self.turn_streams
            .open
            .iter()
            .find(|s| s.2 == local)
            .map(|s| s.0)
    }

    /// The open streams of `slot`: (server, local).
    pub(super) fn turn_streams_of(&self, slot: usize) -> Vec<(SocketAddr, SocketAddr)> {
        self.turn_streams
            .open
            .iter()
            .filter(|s| s.0 == slot)
            .map(|s| (s.1, s.2))
            .collect()
    }
}

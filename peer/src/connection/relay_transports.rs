//! New local transports for TURN allocations across an ICE restart
//! (RFC 8656 §7.3: one allocation per 5-tuple), and renewed TURN
//! credentials. The ICE agent asks, the owner (a driver) opens a UDP
//! socket or a TCP/TLS connection and reports it, and later closes it
//! again when the agent hands it back (`meshrtc_ice::agent::relay`'s
//! restart module has the design).

use super::*;
use meshrtc_ice::{RelayTransportRequest, TurnServer, TurnTransport};

impl PeerConnection {
    /// A local transport to open for a new TURN allocation (after an ICE
    /// restart, with `ice.new_relays_on_restart`): a UDP socket on
    /// `bind`, or a new TCP/TLS connection to `server`. Report it with
    /// [`PeerConnection::add_relay_transport`], or that it could not be
    /// opened with [`PeerConnection::relay_transport_failed`].
    pub fn poll_relay_transport_request(&mut self) -> Option<RelayTransportRequest> {
        self.ice.as_mut()?.poll_relay_transport_request()
    }

    /// The owner could not open a transport for a [`RelayTransportRequest`]
    /// to `server` (see `IceAgent::relay_transport_failed`).
    pub fn relay_transport_failed(
        &mut self,
        now: Instant,
        server: SocketAddr,
        transport: TurnTransport,
    ) {
        if let Some(ice) = &mut self.ice {
            ice.relay_transport_failed(now, server, transport);
        }
    }

    /// The owner opened `local` for a [`RelayTransportRequest`]: datagrams
    /// (or stream messages) from `server` to `local` come in through
    /// [`PeerConnection::handle_datagram`], transmits from `local` leave
    /// by it.
    pub fn add_relay_transport(
        &mut self,
        now: Instant,
        server: SocketAddr,
        transport: TurnTransport,
        local: SocketAddr,
    ) -> Result<(), meshrtc_ice::IceError> {
        let Some(ice) = &mut self.ice else {
            return Err(meshrtc_ice::IceError::UnknownTurnServer(server));
        };
        ice.add_relay_transport(now, server, transport, local)?;
        if transport.is_stream() && !self.turn_streams.contains(&(server, local)) {
            self.turn_streams.push((server, local));
        }
        self.drain_ice(now);
        Ok(())
    }

    /// A transport opened for an allocation that is now deleted: close it
    /// (a stream's connection, a UDP socket).
    pub fn poll_relay_transport_release(&mut self) -> Option<SocketAddr> {
        let local = self.ice.as_mut()?.poll_relay_transport_release()?;
        self.turn_streams.retain(|&(_, l)| l != local);
        Some(local)
    }

    /// Replaces the TURN servers' credentials (a room's renewed TURN REST
    /// ones): allocations made from now on (an ICE restart's, a lost
    /// allocation's) use them; existing ones keep theirs (RFC 8656 §7.2).
    pub fn set_turn_servers(&mut self, servers: Vec<TurnServer>) {
        if let Some(ice) = &mut self.ice {
            ice.set_turn_servers(servers.clone());
        }
        self.config.ice.turn_servers = servers;
    }

    /// After our ICE agent restarted: gathering is open again while new
    /// allocations are made, so the restart's description carries no
    /// end-of-candidates.
    pub(super) fn reopen_gathering(&mut self) {
        if self.ice.as_ref().is_some_and(|i| !i.gathering_complete()) {
            self.gathering_done = false;
        }
    }
}

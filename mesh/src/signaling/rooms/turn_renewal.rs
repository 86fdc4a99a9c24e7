//! Each member's TURN credentials ([`TurnRest`](crate::signaling::TurnRest)):
//! issued in `welcome`, renewed by an `ice-servers` message half-way
//! through their lifetime while the member stays, forgotten when it leaves.

use std::time::Instant;

use super::{ClientId, Output, Rooms, ServerMessage};
use crate::signaling::protocol::IceServer;

impl Rooms {
    /// The ICE servers for member `client` (seen by the others as `wire`)
    /// at `now`: the configured ones, then the TURN REST entry with its
    /// own credentials, whose renewal is scheduled.
    pub(super) fn member_ice_servers(
        &mut self,
        now: Instant,
        client: ClientId,
        wire: ClientId,
    ) -> Vec<IceServer> {
        let mut servers = self.config.ice_servers.clone();
        if let Some(rest) = &self.config.turn_rest {
            servers.push(rest.ice_server(now, &wire.peer_id()));
            self.turn_renewals.insert(client, rest.renew_at(now));
            self.stats.turn_credentials_issued += 1;
        }
        servers
    }

    /// Sends fresh ICE servers to every member whose credentials are due;
    /// forgets members that left or whose connection is suspended (a
    /// `resume` gets a `welcome` with fresh ones).
    pub(super) fn renew_turn_credentials(&mut self, now: Instant, out: &mut Vec<Output>) {
        let due: Vec<ClientId> = self
            .turn_renewals
            .iter()
            .filter(|(_, &at)| at <= now)
            .map(|(&c, _)| c)
            .collect();
        for client in due {
            self.turn_renewals.remove(&client);
            let wire = match self.clients.get(&client) {
                Some(c) if c.joined.is_some() && !self.suspended.contains_key(&client) => c.wire,
                _ => continue,
            };
            let ice_servers = self.member_ice_servers(now, client, wire);
            out.push(Output::Send {
                to: client,
                text: ServerMessage::IceServers { ice_servers }.to_json(),
            });
        }
    }
}

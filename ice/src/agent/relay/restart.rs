//! Relays across an ICE restart and a lost relay (RFC 8445 §9, §8.1.1;
//! RFC 8656 §7.3).
//!
//! **A restart makes new allocations.** A TURN server keeps one allocation
//! per 5-tuple (RFC 8656 §7.3: an Allocate on a 5-tuple that has one gets
//! 437 Allocation Mismatch), so an allocation made with the credentials of
//! the restart (a room's renewed TURN REST ones) needs a new local port or
//! a new connection to the server. With
//! [`IceConfig::new_relays_on_restart`](super::super::IceConfig::new_relays_on_restart)
//! each allocation the restart finds is *retired*: its relayed candidate
//! leaves the new session's candidates, the agent asks the owner for a new
//! local transport to the same server
//! ([`IceAgent::poll_relay_transport_request`]), and allocates on it once
//! the owner reports it ([`IceAgent::add_relay_transport`]) with the
//! credentials then in `turn_servers` ([`IceAgent::set_turn_servers`]).
//! The retired allocation keeps carrying media on the pair selected before
//! the restart (still validated, RFC 8445 §9) and keeps being refreshed;
//! what the peer sends on it is accepted until the restart nominates a
//! pair (the peer may switch a little later than we do); then it is
//! deleted (Refresh with lifetime 0, §8), and once that is answered or
//! given up, a transport the owner opened for it is handed back to be
//! closed
//! ([`IceAgent::poll_relay_transport_release`]).
//!
//! **A lost relay is replaced by regular nomination again.** When the
//! allocation of the selected pair is lost (the server restarted; relay.rs
//! makes it anew and trickles the new relayed candidate), the pairs on it
//! fail and the nomination is forgotten: the controlling agent nominates
//! the best valid pair again (§8.1.1), the controlled agent follows a
//! nomination that replaces a failed one, and both select the best valid
//! pair meanwhile, so media moves to the new relay without a restart.

use super::{Relay, TurnTransport};
use crate::agent::{IceAgent, IceError, IceState, TurnServer};
use crate::candidate::CandidateKind;
use crate::turn::TurnState;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// A new local transport the agent asks its owner for: a UDP socket bound
/// on `bind` (any free port), or a new TCP or TLS connection to `server`.
/// Report it with [`IceAgent::add_relay_transport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayTransportRequest {
    /// The TURN server to reach.
    pub server: SocketAddr,
    /// How: UDP, TCP or TLS.
    pub transport: TurnTransport,
    /// The local address of the allocation it replaces.
    pub replaces: SocketAddr,
    /// For UDP, the IP to bind the new socket on: that of `replaces`
    /// while it is still one of the agent's host addresses, else (the
    /// interface lost it, RFC 8445 §9's network change) a current host
    /// address of the same family.
    pub bind: IpAddr,
    /// The host name of the server's URL, if it named one: a TLS
    /// connection verifies it (as [`TurnServer::host`]).
    pub host: Option<String>,
}

/// Transports asked for and transports to close.
#[derive(Debug, Default)]
pub(in crate::agent) struct TransportQueues {
    requests: VecDeque<RelayTransportRequest>,
    /// Asked for and not reported yet: gathering waits for them (up to the
    /// gathering deadline).
    awaiting: Vec<(SocketAddr, TurnTransport)>,
    releases: VecDeque<SocketAddr>,
}

impl TransportQueues {
    pub(in crate::agent) fn awaited(&self) -> bool {
        !self.awaiting.is_empty()
    }
}

impl IceAgent {
    /// After a restart: retires each allocation and asks for a transport
    /// for its replacement (see the module documentation).
    pub(in crate::agent) fn renew_relays(&mut self, now: Instant) {
        if !self.config.new_relays_on_restart || self.state == IceState::Closed {
            return;
        }
        let mut asked = false;
        let hosts = self.host_bases();
        for i in 0..self.relays.len() {
            let r = &self.relays[i];
            if r.client.state() != TurnState::Allocated {
                continue;
            }
            let (server, transport) = (r.client.server(), r.transport);
            // A retired allocation whose replacement the owner could not
            // open (`relay_transport_failed`: its address was gone, as a
            // peer's restart can come before our own address watch sees a
            // network change) is renewed again; one with a replacement, or
            // one awaited, is not.
            if r.retiring {
                let replaced = self.relays.iter().any(|o| {
                    !o.retiring && o.client.server() == server && o.transport == transport
                });
                let awaited = self
                    .relay_transports
                    .awaiting
                    .contains(&(server, transport));
                if replaced || awaited {
                    continue;
                }
            }
            let base = r.base;
            let bind = if hosts.iter().any(|h| h.ip() == base.ip()) {
                Some(base.ip())
            } else {
                (hosts.iter().map(SocketAddr::ip)).find(|ip| ip.is_ipv4() == base.is_ipv4())
            };
            // A UDP relay whose address is gone, with no other of its
            // family yet (a network change seen half-way: the new address
            // comes with the next change, whose restart renews it).
            let bind = match (bind, transport) {
                (Some(ip), _) => ip,
                (None, TurnTransport::Udp) => continue,
                (None, _) => base.ip(),
            };
            let Some(host) = self
                .config
                .turn_servers
                .iter()
                .find(|t| t.addr == server && t.transport == transport)
                .map(|t| t.host.clone())
            else {
                continue;
            };
            let r = &mut self.relays[i];
            r.retiring = true;
            let replaces = r.base;
            if let Some(relayed) = r.relayed {
                // Pairs were cleared by the restart: no index refers to it.
                self.locals
                    .retain(|l| !(l.cand.kind == CandidateKind::Relayed && l.cand.addr == relayed));
            }
            tracing::debug!(%server, ?transport, %replaces, "ICE restart: a new allocation on a new local transport");
            let q = &mut self.relay_transports;
            q.requests.push_back(RelayTransportRequest {
                server,
                transport,
                replaces,
                bind,
                host,
            });
            q.awaiting.push((server, transport));
            asked = true;
        }
        if asked {
            // Gathering is open again until the new allocations exist.
            self.gathering = Some(now);
            self.gathering_done = false;
        }
    }

    /// The next local transport to open for a new allocation (after an ICE
    /// restart, with [`IceConfig::new_relays_on_restart`]).
    ///
    /// [`IceConfig::new_relays_on_restart`]: super::super::IceConfig::new_relays_on_restart
    pub fn poll_relay_transport_request(&mut self) -> Option<RelayTransportRequest> {
        self.relay_transports.requests.pop_front()
    }

    /// The owner opened `local` for a [`RelayTransportRequest`]: a UDP
    /// socket (datagrams from `server` to it go to
    /// [`IceAgent::handle_relay_datagram`], transmits with `src == local`
    /// leave from it) or a stream (as [`IceAgent::add_turn_stream`]). An
    /// allocation is made on it with the configured credentials.
    pub fn add_relay_transport(
        &mut self,
        now: Instant,
        server: SocketAddr,
        transport: TurnTransport,
        local: SocketAddr,
    ) -> Result<(), IceError> {
        if self.state == IceState::Closed {
            return Err(IceError::Closed);
        }
        if transport.is_stream() {
            self.add_turn_stream(now, server, local)?;
        } else {
            let Some(config) = self
                .config
                .turn_servers
                .iter()
                .find(|t| t.addr == server && t.transport == TurnTransport::Udp)
                .cloned()
            else {
                return Err(IceError::UnknownTurnServer(server));
            };
            if local.port() == 0
                || local.ip().is_unspecified()
                || self.relays.iter().any(|r| r.base == local)
                || self.host_bases().contains(&local)
            {
                return Err(IceError::UnusableLocalAddress(local));
            }
            let mut client = self.turn_client(&config);
            client.allocate(now);
            self.relays.push(Relay::new(client, config, local));
        }
        let q = &mut self.relay_transports;
        if let Some(i) = q.awaiting.iter().position(|&a| a == (server, transport)) {
            q.awaiting.remove(i);
        }
        self.stats.relays_renewed += 1;
        self.drain_relays(now);
        self.check_gathering_done();
        Ok(())
    }

    /// The owner could not open a transport for a
    /// [`RelayTransportRequest`] to `server` over `transport` (no usable
    /// local address, a refused connection): gathering no longer waits for
    /// it, and the next restart asks again for the allocation it was to
    /// replace. Counted in [`IceStats::relay_transports_failed`].
    ///
    /// [`IceStats::relay_transports_failed`]: crate::agent::IceStats::relay_transports_failed
    pub fn relay_transport_failed(
        &mut self,
        now: Instant,
        server: SocketAddr,
        transport: TurnTransport,
    ) {
        let q = &mut self.relay_transports;
        if let Some(i) = q.awaiting.iter().position(|&a| a == (server, transport)) {
            q.awaiting.remove(i);
            self.stats.relay_transports_failed += 1;
            self.last_now = self.last_now.max(now);
            self.check_gathering_done();
        }
    }

    /// A transport the owner opened for an allocation that is now deleted:
    /// close it. Host sockets are never handed back.
    pub fn poll_relay_transport_release(&mut self) -> Option<SocketAddr> {
        if self.relays.iter().any(|r| r.retiring) {
            let hosts = self.host_bases();
            let q = &mut self.relay_transports;
            self.relays.retain(|r| {
                let done = r.retiring
                    && matches!(r.client.state(), TurnState::Closed | TurnState::Failed)
                    && r.client.poll_timeout().is_none();
                if done && !hosts.contains(&r.base) {
                    q.releases.push_back(r.base);
                }
                !done
            });
        }
        self.relay_transports.releases.pop_front()
    }

    /// Replaces the TURN servers and their credentials (a room's renewed
    /// TURN REST credentials): existing allocations keep theirs (RFC 8656
    /// §7.2), new ones (a restart, a lost allocation) use these.
    pub fn set_turn_servers(&mut self, servers: Vec<TurnServer>) {
        self.config.turn_servers = servers;
    }

    /// Whether `relayed` is the relayed address of an allocation a restart
    /// replaced.
    pub(in crate::agent) fn on_retiring_relay(&self, relayed: SocketAddr) -> bool {
        self.relays
            .iter()
            .any(|r| r.retiring && r.relayed == Some(relayed))
    }

    /// A pair was nominated after a restart: the allocations it replaced
    /// are deleted (RFC 8656 §8).
    pub(in crate::agent) fn retire_renewed_relays(&mut self, now: Instant) {
        let mut retired = 0;
        for r in &mut self.relays {
            if r.retiring && r.client.state() == TurnState::Allocated {
                tracing::debug!(server = %r.client.server(), base = %r.base, "the restart selected a pair: deleting the allocation it replaced");
                r.client.close(now);
                retired += 1;
            }
        }
        self.stats.relays_retired += retired;
    }

    /// The allocation at `relayed` was lost: if the selected pair was on
    /// it, nomination starts over (RFC 8445 §8.1.1) and the best valid pair
    /// is selected meanwhile.
    pub(in crate::agent) fn renominate_if_selected_on(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
    ) {
        let on_it = self
            .selected
            .is_some_and(|p| self.locals[self.pairs[p].local].base == relayed);
        if !on_it {
            return;
        }
        tracing::debug!(%relayed, "the selected pair's relay was lost: nominating again");
        self.nominated = None;
        self.first_valid_at = None;
        self.select_best_valid(now);
    }
}

impl IceAgent {
    /// Whether gathering is complete (a restart with
    /// [`IceConfig::new_relays_on_restart`] opens it again until the new
    /// allocations exist).
    ///
    /// [`IceConfig::new_relays_on_restart`]: super::super::IceConfig::new_relays_on_restart
    pub fn gathering_complete(&self) -> bool {
        self.gathering_done
    }
}

//! Relay candidates: the agent's TURN allocations (RFC 8445 §5.1.1.2,
//! RFC 8656).
//!
//! Each configured TURN server gets one [`TurnClient`] per host base of its
//! address family. An allocation becomes a relayed local candidate whose
//! base is the relayed address itself; the server-reflexive address in the
//! Allocate response (XOR-MAPPED-ADDRESS) becomes a server-reflexive
//! candidate too. Pairs on a relayed candidate are checked and nominated
//! like any other: their transmits have the relayed address as source and
//! [`IceAgent::poll_transmit`] wraps them for the server (ChannelData or a
//! Send indication), sent from the host base. What the server relays back
//! is unwrapped by [`IceAgent::handle_relay_datagram`]: checks are handled
//! as if they came from the peer's address to the relayed address, and
//! anything else (DTLS, SRTP) is returned to the owner with that same
//! 5-tuple, which is the one [`IceAgent::path_status`] validates.
//!
//! A server reached over TCP or TLS (RFC 8656 §3.1) gets one allocation per
//! stream the owner opened to it ([`IceAgent::add_turn_stream`]): the
//! stream's local address stands for the host base (transmits leave "from"
//! it, the owner writes them to the stream; what the stream carries, split
//! by [`crate::turn::StreamFramer`], comes in addressed to it), ChannelData
//! is padded (§12.5), and the Allocate response's mapped address, a TCP
//! mapping, is no server-reflexive UDP candidate.

use super::{IceAgent, IceError, Local, PairState, Transmit};
use crate::candidate::{Candidate, CandidateKind};
use crate::turn::{TurnClient, TurnConfig, TurnError, TurnEvent, TurnState, TurnStats};

use rand_chacha::rand_core::RngCore;
use std::net::SocketAddr;
use std::time::Instant;

mod restart;
pub use restart::RelayTransportRequest;
pub(super) use restart::TransportQueues;

/// Allocations made anew on one base after the server lost them.
const MAX_REALLOCATIONS: u8 = 3;

/// How the client reaches a TURN server (RFC 8656 §3.1; the relayed
/// transport is UDP in every case).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TurnTransport {
    /// Datagrams to the server (`turn:` URL, the default).
    #[default]
    Udp,
    /// A TCP connection to the server (`turn:...?transport=tcp`).
    Tcp,
    /// TLS over TCP (`turns:`).
    Tls,
}

impl TurnTransport {
    /// TCP or TLS: STUN and ChannelData travel in a byte stream.
    pub fn is_stream(self) -> bool {
        self != TurnTransport::Udp
    }
}

/// A TURN server to allocate on, with its long-term credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnServer {
    /// The server's transport address.
    pub addr: SocketAddr,
    /// USERNAME.
    pub username: String,
    /// The password.
    pub password: String,
    /// UDP, or a stream the owner opens ([`IceAgent::add_turn_stream`]).
    pub transport: TurnTransport,
    /// The host name of the server's URL, when it named one (the owner
    /// resolved it into `addr`): TLS to the server verifies this name and
    /// sends it as SNI (RFC 6125 §6, RFC 8656 §3.1). `None` for an IP
    /// literal, whose certificate is checked for the address.
    pub host: Option<String>,
}

impl TurnServer {
    /// A server reached over UDP.
    pub fn udp(addr: SocketAddr, username: &str, password: &str) -> TurnServer {
        TurnServer {
            addr,
            username: username.to_owned(),
            password: password.to_owned(),
            transport: TurnTransport::Udp,
            host: None,
        }
    }
}

impl std::fmt::Debug for TurnServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnServer")
            .field("addr", &self.addr)
            .field("username", &self.username)
            .field("transport", &self.transport)
            .field("host", &self.host)
            .finish()
    }
}

/// Data a peer sent through one of our relays: hand `data` to the owner's
/// demultiplexer as a datagram from `peer` to `relay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayedData<'a> {
    /// Our relayed address (the local side of the 5-tuple ICE validates).
    pub relay: SocketAddr,
    /// The peer's address as the TURN server saw it.
    pub peer: SocketAddr,
    /// The datagram the peer sent.
    pub data: &'a [u8],
}

/// One allocation and the host base it is reached from.
#[derive(Debug)]
pub(super) struct Relay {
    pub(super) client: TurnClient,
    /// The server as configured: over UDP, the one first asked (the
    /// client follows a 300 Try Alternate itself); for a stream to an
    /// alternate, the alternate's address with the configured
    /// credentials (relay_redirect.rs).
    pub(super) server: TurnServer,
    /// The host base, or for a stream the stream's local address.
    pub(super) base: SocketAddr,
    /// The allocation's relayed address, once it exists.
    relayed: Option<SocketAddr>,
    /// Reached over TCP or TLS.
    pub(super) stream: bool,
    /// How the server is reached (the configuration's entry).
    transport: TurnTransport,
    /// Allocations made anew on this base after the server lost one.
    reallocations: u8,
    /// An ICE restart replaced it (restart.rs): it carries media on the
    /// previous pair until the restart selects one, then is deleted.
    retiring: bool,
}

impl Relay {
    fn new(client: TurnClient, server: TurnServer, base: SocketAddr) -> Relay {
        let transport = server.transport;
        Relay {
            client,
            server,
            base,
            relayed: None,
            stream: transport.is_stream(),
            transport,
            reallocations: 0,
            retiring: false,
        }
    }

    fn gathering(&self) -> bool {
        !self.retiring && matches!(self.client.state(), TurnState::Idle | TurnState::Allocating)
    }
}

impl IceAgent {
    /// Our host addresses: the bases STUN and TURN servers are asked from.
    pub(super) fn host_bases(&self) -> Vec<SocketAddr> {
        self.locals
            .iter()
            .filter(|l| l.cand.kind == CandidateKind::Host)
            .map(|l| l.base)
            .collect()
    }

    /// Starts an allocation per UDP TURN server and host base of its
    /// family, and one on each stream already added.
    pub(super) fn start_relays(&mut self, now: Instant) {
        let bases = self.host_bases();
        for server in self.config.turn_servers.clone() {
            if server.transport.is_stream() {
                continue;
            }
            for &base in bases
                .iter()
                .filter(|b| b.is_ipv4() == server.addr.is_ipv4())
            {
                let client = self.turn_client(&server);
                self.relays.push(Relay::new(client, server.clone(), base));
            }
        }
        for r in &mut self.relays {
            if r.client.state() == TurnState::Idle {
                r.client.allocate(now);
            }
        }
        self.drain_relays(now);
    }

    pub(super) fn turn_client(&mut self, server: &TurnServer) -> TurnClient {
        let cfg = self.turn_config(server);
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        TurnClient::new(cfg, seed)
    }

    pub(super) fn turn_config(&self, server: &TurnServer) -> TurnConfig {
        let mut cfg = TurnConfig::new(server.addr, &server.username, &server.password);
        cfg.rto = self.config.stun_rto;
        cfg.max_sends = self.config.stun_max_sends;
        cfg.software = self.config.software.clone();
        cfg.stream = server.transport.is_stream();
        cfg.permission_refresh = self.config.turn_permission_refresh;
        cfg.channel_refresh = self.config.turn_channel_refresh;
        cfg
    }

    /// The owner opened a TCP or TLS connection from `local` to the TURN
    /// server at `server` (one of [`IceConfig::turn_servers`] with a stream
    /// transport): an allocation is made over it, at once if gathering has
    /// started, else with gathering. Transmits with `src == local` go to
    /// that stream; each message the stream carries is handed in as a
    /// datagram from `server` to `local`. Add streams before gathering for
    /// gathering to wait for them.
    ///
    /// [`IceConfig::turn_servers`]: super::IceConfig::turn_servers
    pub fn add_turn_stream(
        &mut self,
        now: Instant,
        server: SocketAddr,
        local: SocketAddr,
    ) -> Result<(), IceError> {
        let configured = self
            .config
            .turn_servers
            .iter()
            .find(|t| t.addr == server && t.transport.is_stream())
            .cloned();
        if configured.is_none() && !self.turn_redirects.awaits(server) {
            return Err(IceError::UnknownTurnServer(server));
        }
        // A UDP base with the same address would make the 5-tuple
        // ambiguous (`is_relay_server`); so would a second stream.
        if self.relays.iter().any(|r| r.base == local) || self.host_bases().contains(&local) {
            return Err(IceError::UnusableLocalAddress(local));
        }
        // Not configured: the stream to an alternate server a 300 named
        // (relay_redirect.rs).
        let (config, mut client) = match configured {
            Some(config) => {
                let client = self.turn_client(&config);
                (config, client)
            }
            None => self
                .redirected_client(server)
                .ok_or(IceError::UnknownTurnServer(server))?,
        };
        if self.gathering.is_some() {
            client.allocate(now);
        }
        self.relays.push(Relay::new(client, config, local));
        self.drain_relays(now);
        Ok(())
    }

    /// Whether a datagram from `from` to our `local` address comes from one
    /// of our TURN servers (the owner then calls
    /// [`IceAgent::handle_relay_datagram`]).
    pub fn is_relay_server(&self, local: SocketAddr, from: SocketAddr) -> bool {
        self.relays
            .iter()
            .any(|r| r.base == local && r.client.server() == from)
    }

    /// A datagram from a TURN server (see [`IceAgent::is_relay_server`]):
    /// a response, a Data indication or ChannelData. Connectivity checks
    /// inside are handled here; other data from a peer is returned for the
    /// owner's demultiplexer. Bad input is counted by the TURN client and
    /// returned as the error. After [`IceAgent::close`] only the answers to
    /// the deallocation are read.
    pub fn handle_relay_datagram<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &'a [u8],
    ) -> Result<Option<RelayedData<'a>>, IceError> {
        self.last_now = self.last_now.max(now);
        let Some(i) = self
            .relays
            .iter()
            .position(|r| r.base == to && r.client.server() == from)
        else {
            return Ok(None);
        };
        let got = self.relays[i].client.handle_input(now, from, data);
        if self.state == super::IceState::Closed {
            // Only the answers to the deallocation matter now.
            return got.map(|_| None).map_err(IceError::from);
        }
        self.drain_relays(now);
        // Draining may have removed the relay (a 300 over a stream,
        // relay_redirect.rs): look it up again.
        let relayed = self
            .relays
            .iter()
            .find(|r| r.base == to)
            .and_then(|r| r.relayed);
        let (Some(got), Some(relay)) = (got?, relayed) else {
            return Ok(None);
        };
        if crate::stun::looks_like_stun(got.data) {
            self.handle_datagram(now, got.peer, relay, got.data)?;
            return Ok(None);
        }
        Ok(Some(RelayedData {
            relay,
            peer: got.peer,
            data: got.data,
        }))
    }

    /// Whether `src` is one of our relayed addresses: transmits from it go
    /// through [`IceAgent::wrap_relayed`].
    pub fn is_relayed_address(&self, src: SocketAddr) -> bool {
        self.relays.iter().any(|r| r.relayed == Some(src))
    }

    /// Wraps a datagram the owner sends on a relayed pair (DTLS, SRTP) for
    /// the TURN server; other transmits come back unchanged. `None` when the
    /// relay cannot send (no allocation, data too long).
    pub fn wrap_relayed(&mut self, t: Transmit) -> Option<Transmit> {
        let Some(i) = self.relays.iter().position(|r| r.relayed == Some(t.src)) else {
            // From a relayed address whose allocation was lost: nothing can
            // carry it, and sent as it is it would leave from an address
            // that is not ours.
            let lost = self
                .locals
                .iter()
                .any(|l| l.cand.kind == CandidateKind::Relayed && l.cand.addr == t.src);
            if lost {
                self.stats.relay_lost_dropped += 1;
                return None;
            }
            return Some(t);
        };
        let now = self.last_now;
        let r = &mut self.relays[i];
        if r.retiring && r.client.state() != TurnState::Allocated {
            // A replaced allocation being deleted, or lost meanwhile.
            self.stats.relay_lost_dropped += 1;
            return None;
        }
        let payload = r.client.send(now, t.dst, &t.payload).ok()?;
        Some(Transmit {
            src: r.base,
            dst: r.client.server(),
            payload,
        })
    }

    /// Moves the agent's transmits to `out`, wrapping relayed ones; the
    /// TURN requests a wrap asks for (permission, channel) go first.
    pub(super) fn flush_transmits(&mut self) {
        self.flush_relay_requests();
        while let Some(t) = self.transmits.pop_front() {
            let wrapped = self.wrap_relayed(t);
            self.flush_relay_requests();
            if let Some(t) = wrapped {
                self.out.push_back(t);
            }
        }
    }

    fn flush_relay_requests(&mut self) {
        for r in &mut self.relays {
            while let Some(t) = r.client.poll_transmit() {
                self.out.push_back(Transmit {
                    src: r.base,
                    dst: t.dst,
                    payload: t.payload,
                });
            }
        }
    }

    /// Handles the TURN clients' events: allocations become candidates,
    /// lost ones fail their pairs.
    fn drain_relays(&mut self, now: Instant) {
        let mut check_done = false;
        let mut redirected = Vec::new();
        for i in 0..self.relays.len() {
            while let Some(e) = self.relays[i].client.poll_event() {
                match e {
                    // Over a stream, the alternate needs a connection of
                    // its own, which the owner opens (relay_redirect.rs).
                    TurnEvent::Redirected { server, domain } if self.relays[i].stream => {
                        redirected.push((i, server, domain));
                        break;
                    }
                    TurnEvent::Allocated {
                        relayed, mapped, ..
                    } => {
                        self.relays[i].relayed = Some(relayed);
                        let base = self.relays[i].base;
                        let server = self.relays[i].client.server();
                        tracing::debug!(%server, %relayed, "TURN allocation made: relayed address {relayed}");
                        let stream = self.relays[i].stream;
                        // A UDP relay on a socket of its own (an ICE
                        // restart's, restart.rs) is no host base: its
                        // mapping is no candidate either.
                        let on_host = self.host_bases().contains(&base);
                        if let (Some(m), false, true) = (mapped, stream, on_host) {
                            self.add_srflx(base, server, m);
                        }
                        self.add_relayed(base, server, relayed, mapped, stream);
                        check_done = true;
                    }
                    TurnEvent::Failed(err) => {
                        tracing::debug!(server = %self.relays[i].client.server(), "TURN allocation failed: {err}");
                        if self.relays[i].retiring {
                            // Replaced by a restart: nothing to make anew,
                            // and no pair of this session is on it.
                            continue;
                        }
                        let had = self.relays[i].relayed.take();
                        if let Some(relayed) = had {
                            for p in 0..self.pairs.len() {
                                if self.locals[self.pairs[p].local].base == relayed {
                                    self.pairs[p].state = PairState::Failed;
                                }
                            }
                            self.renominate_if_selected_on(now, relayed);
                        }
                        // The server lost an allocation we had (it
                        // restarted, or expired it): allocate again on the
                        // same base, a new relayed candidate, a few times.
                        let lost = err == TurnError::AllocationLost && had.is_some();
                        let again = lost
                            && self.relays[i].reallocations < MAX_REALLOCATIONS
                            && self.reallocate(now, i);
                        // Its pairs failed (or a new allocation did not
                        // come): the agent's state follows.
                        if !again && (had.is_some() || self.relays[i].reallocations > 0) {
                            self.update_failed(now);
                        }
                        check_done = true;
                    }
                    _ => {}
                }
            }
        }
        let any_redirected = !redirected.is_empty();
        for (i, alt, domain) in redirected.into_iter().rev() {
            let relay = self.relays.remove(i);
            self.redirect_stream(relay, alt, domain);
        }
        if check_done || any_redirected {
            self.check_gathering_done();
            self.pace(now);
        }
    }

    /// A new allocation for relay `i`, whose server lost the last one;
    /// false when its server is no longer one of the configuration's.
    ///
    /// The server is looked up as configured, with the configuration's
    /// current credentials (they may have been renewed since). Over UDP
    /// that is the server first asked, whose 300 Try Alternate (RFC 8489
    /// §10) the new client follows again, as the first allocation did:
    /// the client's own address is the alternate's then, which no entry
    /// of the configuration names. A stream to an alternate belongs to
    /// the alternate (`redirect_stream`), so it allocates there again,
    /// with the credentials the redirect carried over.
    fn reallocate(&mut self, now: Instant, i: usize) -> bool {
        let relay = &self.relays[i];
        let stream = relay.transport.is_stream();
        let configured = self
            .config
            .turn_servers
            .iter()
            .find(|t| t.addr == relay.server.addr && t.transport.is_stream() == stream)
            .cloned();
        let alternate_stream =
            || (stream && relay.server.addr == relay.client.server()).then(|| relay.server.clone());
        let Some(config) = configured.or_else(alternate_stream) else {
            return false;
        };
        let mut client = self.turn_client(&config);
        client.allocate(now);
        self.relays[i].client = client;
        self.relays[i].reallocations += 1;
        self.stats.relays_reallocated += 1;
        true
    }

    /// A relayed candidate (RFC 8445 §5.1.1.2): type preference 0, its own
    /// base, a foundation of its own per host base and server (§5.1.1.3),
    /// and the server-reflexive address as related address, as browsers
    /// signal it. A relay reached over a stream has the lower local
    /// preference (§5.1.2.1 leaves it to us; UDP to the server adds no
    /// head-of-line blocking, so it is preferred, as browsers do).
    fn add_relayed(
        &mut self,
        base: SocketAddr,
        server: SocketAddr,
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
        stream: bool,
    ) {
        if self.locals.iter().any(|l| l.cand.addr == relayed) {
            return;
        }
        let n = self
            .locals
            .iter()
            .filter(|l| l.cand.kind == CandidateKind::Relayed);
        let preference = 65535u16.saturating_sub(n.count() as u16);
        let preference = if stream { preference / 2 } else { preference };
        let related = mapped.unwrap_or(base);
        let kind = CandidateKind::Relayed;
        let mut cand = Candidate::gathered(kind, relayed, base, server, preference, related);
        if stream {
            // The transport to the server is part of the foundation
            // (RFC 8445 §5.1.1.3): UDP and TCP relays on one server differ.
            cand.foundation.push('t');
        }
        self.locals.push(Local {
            cand: cand.clone(),
            base: relayed,
        });
        let li = self.locals.len() - 1;
        self.events.push_back(super::IceEvent::LocalCandidate(cand));
        for ri in 0..self.remotes.len() {
            self.add_pair(li, ri);
        }
    }

    /// Asks the relay of local candidate `li` for a permission for remote
    /// candidate `ri`.
    pub(super) fn relay_permission(&mut self, li: usize, ri: usize) {
        let relayed = self.locals[li].base;
        let peer = self.remotes[ri].addr;
        let now = self.last_now;
        if let Some(r) = self.relays.iter_mut().find(|r| r.relayed == Some(relayed)) {
            r.client.create_permission(now, peer);
        }
    }

    /// Whether an allocation is still being made (gathering waits for it).
    pub(super) fn relays_gathering(&self) -> bool {
        self.relays.iter().any(Relay::gathering)
            || self.turn_redirects.pending()
            || self.relay_transports.awaited()
    }

    pub(super) fn relays_timeout(&mut self, now: Instant) {
        for r in &mut self.relays {
            if r.client.poll_timeout().is_some_and(|t| t <= now) {
                r.client.handle_timeout(now);
            }
        }
        self.drain_relays(now);
    }

    pub(super) fn relays_poll_timeout(&self) -> Option<Instant> {
        self.relays
            .iter()
            .filter_map(|r| r.client.poll_timeout())
            .min()
    }

    /// After close: retransmits the deallocating Refresh requests (RFC 8489
    /// §6.2.1); their outcome changes nothing else.
    pub(super) fn closed_relays_timeout(&mut self, now: Instant) {
        for r in &mut self.relays {
            if r.client.poll_timeout().is_some_and(|t| t <= now) {
                r.client.handle_timeout(now);
            }
            while r.client.poll_event().is_some() {}
        }
        self.flush_relay_requests();
    }

    /// Deletes every allocation (RFC 8656 §8); the Refresh requests leave
    /// through `poll_transmit` and are retransmitted by
    /// [`IceAgent::handle_timeout`] until answered or given up.
    pub(super) fn close_relays(&mut self) {
        let now = self.last_now;
        for r in &mut self.relays {
            // One retired after a restart is being deleted already.
            if r.client.state() != TurnState::Closing {
                r.client.close(now);
            }
        }
        self.flush_relay_requests();
    }

    /// The counters of each TURN allocation, with the server it is on.
    pub fn turn_stats(&self) -> Vec<(SocketAddr, TurnStats)> {
        self.relays
            .iter()
            .map(|r| (r.client.server(), r.client.stats()))
            .collect()
    }

    /// The candidate types of the selected pair (local, remote), for stats
    /// and for tests that must know the path is relayed.
    pub fn selected_kinds(&self) -> Option<(CandidateKind, CandidateKind)> {
        let p = &self.pairs[self.selected?];
        Some((self.locals[p.local].cand.kind, self.remotes[p.remote].kind))
    }
}

#[cfg(test)]
mod tests;

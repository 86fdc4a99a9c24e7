//! 300 Try Alternate on a TURN server reached over TCP or TLS (RFC 8489
//! §10, RFC 8656 §7.2 and §3.1).
//!
//! Over UDP the [`crate::turn::TurnClient`] simply sends its next Allocate
//! to the ALTERNATE-SERVER from the same base. Over a stream it cannot: the
//! connection goes to the first server, and the alternate needs a
//! connection of its own, which a sans-IO agent cannot open. So the agent
//! drops the redirected allocation (the first server holds none) and asks
//! its owner ([`IceAgent::poll_turn_redirect`]) for a stream to the
//! alternate, over the same transport, verified (for TLS) under the name
//! the 300 gave in ALTERNATE-DOMAIN (§14.16), or without one under the
//! same host name as the first server (§10). The 300 came over the first
//! server's TLS, checked for that server's name, so the name it hands on
//! is as trusted as the server. The owner opens it and hands it in with
//! [`IceAgent::add_turn_stream`] as for a configured server; the
//! allocation made on it uses the first server's credentials and may be
//! redirected only as many more times as the first one had left. A stream
//! that cannot be opened is reported ([`IceAgent::turn_stream_failed`]).
//! Until one of the two happens (or the gathering deadline passes),
//! gathering waits for the alternate, as it waits for any allocation.

use super::relay::{Relay, TurnServer, TurnTransport};
use super::IceAgent;
use crate::turn::TurnClient;
use rand_chacha::rand_core::RngCore;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// A stream the owner should open to an alternate TURN server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnStreamRedirect {
    /// The alternate server (ALTERNATE-SERVER).
    pub server: SocketAddr,
    /// TCP or TLS, as to the first server.
    pub transport: TurnTransport,
    /// The name TLS verifies, if any: the 300's ALTERNATE-DOMAIN, else
    /// the first server's URL host name.
    pub host: Option<String>,
    /// Our end of the stream to the server that redirected us: it carries
    /// no allocation of this agent any more.
    pub replaces: SocketAddr,
}

/// An alternate server awaited: the configuration to allocate with, and
/// the redirections it may still follow.
#[derive(Debug, Clone)]
struct Awaited {
    server: TurnServer,
    redirects_left: u8,
}

/// The agent's redirections over streams: asked for, and awaited.
#[derive(Debug, Default)]
pub(super) struct Redirects {
    requests: VecDeque<TurnStreamRedirect>,
    awaited: Vec<Awaited>,
}

impl Redirects {
    /// Whether a stream to `server` is awaited.
    pub(super) fn awaits(&self, server: SocketAddr) -> bool {
        self.awaited.iter().any(|a| a.server.addr == server)
    }

    /// Whether any stream is awaited (gathering waits for it).
    pub(super) fn pending(&self) -> bool {
        !self.awaited.is_empty()
    }
}

impl IceAgent {
    /// Relay `relay`, on a stream, was sent to `alt` by a 300 Try
    /// Alternate: forget it and ask for a stream to `alt`.
    pub(super) fn redirect_stream(
        &mut self,
        relay: Relay,
        alt: SocketAddr,
        domain: Option<String>,
    ) {
        // TLS to the alternate checks its ALTERNATE-DOMAIN, or without
        // one the first server's name (RFC 8489 §10).
        let host = match (relay.server.transport, domain) {
            (TurnTransport::Tls, Some(d)) => Some(d),
            _ => relay.server.host.clone(),
        };
        let server = TurnServer {
            addr: alt,
            host,
            ..relay.server.clone()
        };
        tracing::debug!(from = %relay.server.addr, to = %alt, "TURN over a stream redirected: a stream to the alternate is needed");
        self.stats.turn_stream_redirects += 1;
        self.turn_redirects
            .awaited
            .retain(|a| a.server.addr != alt || a.server.transport != server.transport);
        self.turn_redirects.requests.push_back(TurnStreamRedirect {
            server: alt,
            transport: server.transport,
            host: server.host.clone(),
            replaces: relay.base,
        });
        self.turn_redirects.awaited.push(Awaited {
            server,
            redirects_left: relay.client.redirects_left(),
        });
    }

    /// The client for a stream to an awaited alternate `server`, with its
    /// configuration; `None` when none is awaited.
    pub(super) fn redirected_client(
        &mut self,
        server: SocketAddr,
    ) -> Option<(TurnServer, TurnClient)> {
        let i = self
            .turn_redirects
            .awaited
            .iter()
            .position(|a| a.server.addr == server)?;
        let awaited = self.turn_redirects.awaited.remove(i);
        let mut cfg = self.turn_config(&awaited.server);
        cfg.max_redirects = awaited.redirects_left;
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        Some((awaited.server, TurnClient::new(cfg, seed)))
    }

    /// The next stream to open to an alternate TURN server, if any: open
    /// it and hand it in with [`IceAgent::add_turn_stream`], or report
    /// [`IceAgent::turn_stream_failed`]. The stream the request replaces
    /// may be closed.
    pub fn poll_turn_redirect(&mut self) -> Option<TurnStreamRedirect> {
        self.turn_redirects.requests.pop_front()
    }

    /// The stream to the alternate `server` could not be opened: the
    /// allocation is given up, and gathering no longer waits for it.
    pub fn turn_stream_failed(&mut self, now: Instant, server: SocketAddr) {
        let before = self.turn_redirects.awaited.len();
        self.turn_redirects
            .awaited
            .retain(|a| a.server.addr != server);
        if self.turn_redirects.awaited.len() != before {
            self.last_now = self.last_now.max(now);
            self.check_gathering_done();
        }
    }
}

#[cfg(test)]
mod tests;

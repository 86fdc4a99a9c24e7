//! [`AnyDtls`]: version negotiation between the DTLS 1.2 implementation
//! ([`crate::Dtls`]) and the DTLS 1.3 one ([`Dtls13`]), per
//! [`Config::versions`].
//!
//! A server configured for both holds the first datagrams until the
//! first ClientHello is whole (browsers' post-quantum hellos span two
//! datagrams), then answers a hello whose supported_versions lists DTLS
//! 1.3 (0xfefc) with 1.3 and any other with 1.2, replaying the held
//! datagrams into the chosen implementation. Its 1.2 ServerHello then
//! carries the downgrade sentinel (RFC 8446 §4.1.3), which a 1.3 client
//! that sees it refuses ([`Error13::DowngradeDetected`]).
//!
//! A client speaks one version: 1.2 only gives a 1.2 client, 1.3 only
//! and both a 1.3 client (a 1.3 client falling back to a 1.2-only server
//! within the same handshake is not implemented).

use std::time::Instant;

use super::conn::{Dtls13, Event13};
use super::error::Error13;
use super::Versions;
use crate::conn::{Config, Dtls, Error, Event, Role};
use crate::handshake::{self, HandshakeType, Pushed, Reassembler};
use crate::hello::ClientHello;
use crate::record::{records, ContentType, DTLS1_3};

/// The most datagrams a deciding server holds (a hello in 8 pieces).
const MAX_HELD: usize = 8;

/// An event of whichever version runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyEvent {
    /// From the DTLS 1.2 implementation.
    V12(Event),
    /// From the DTLS 1.3 implementation.
    V13(Event13),
}

/// An error of whichever version runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnyError {
    /// DTLS 1.2.
    #[error(transparent)]
    V12(Error),
    /// DTLS 1.3.
    #[error(transparent)]
    V13(Error13),
}

/// A server that has not seen a whole ClientHello yet.
#[derive(Debug)]
pub struct Deciding {
    config: Config,
    started: Instant,
    reassembler: Reassembler,
    held: Vec<Vec<u8>>,
    /// Datagrams dropped while deciding (not a hello, or over the cap).
    pub dropped: u64,
}

/// One side of an association of either DTLS version.
#[derive(Debug)]
pub enum AnyDtls {
    /// DTLS 1.2.
    V12(Box<Dtls>),
    /// DTLS 1.3.
    V13(Box<Dtls13>),
    /// A server for both versions before the first ClientHello.
    Deciding(Box<Deciding>),
}

impl AnyDtls {
    /// A client of the configured version (1.3 when both).
    pub fn client(config: Config, now: Instant) -> AnyDtls {
        match config.versions {
            Versions::Dtls12Only => AnyDtls::V12(Box::new(Dtls::client(config, now))),
            Versions::Dtls13Only | Versions::Both => {
                AnyDtls::V13(Box::new(Dtls13::client(config, now)))
            }
        }
    }

    /// A server of the configured version(s).
    pub fn server(config: Config, now: Instant) -> AnyDtls {
        match config.versions {
            Versions::Dtls12Only => AnyDtls::V12(Box::new(Dtls::server(config, now))),
            Versions::Dtls13Only => AnyDtls::V13(Box::new(Dtls13::server(config, now))),
            Versions::Both => {
                let max = config.max_handshake_message;
                AnyDtls::Deciding(Box::new(Deciding {
                    config,
                    started: now,
                    reassembler: Reassembler::new(0, max, 1),
                    held: Vec::new(),
                    dropped: 0,
                }))
            }
        }
    }

    /// The negotiated version once known: 0xfefd or 0xfefc.
    pub fn version(&self) -> Option<u16> {
        match self {
            AnyDtls::V12(_) => Some(crate::record::DTLS1_2),
            AnyDtls::V13(_) => Some(DTLS1_3),
            AnyDtls::Deciding(_) => None,
        }
    }

    /// Our role.
    pub fn role(&self) -> Role {
        match self {
            AnyDtls::V12(d) => d.role(),
            AnyDtls::V13(d) => d.role(),
            AnyDtls::Deciding(_) => Role::Server,
        }
    }

    /// Feeds one datagram.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), AnyError> {
        match self {
            AnyDtls::V12(d) => d.handle_datagram(now, datagram).map_err(AnyError::V12),
            AnyDtls::V13(d) => d.handle_datagram(now, datagram).map_err(AnyError::V13),
            AnyDtls::Deciding(s) => {
                let Some(offers_13) = s.take(datagram) else {
                    return Ok(());
                };
                let (config, started) = (s.config.clone(), s.started);
                let held = std::mem::take(&mut s.held);
                *self = if offers_13 {
                    AnyDtls::V13(Box::new(Dtls13::server(config, started)))
                } else {
                    let mut d = Dtls::server(config, started);
                    d.set_downgrade_sentinel();
                    AnyDtls::V12(Box::new(d))
                };
                for d in held {
                    self.handle_datagram(now, &d)?;
                }
                Ok(())
            }
        }
    }

    /// Retransmission and handshake timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self {
            AnyDtls::V12(d) => d.handle_timeout(now),
            AnyDtls::V13(d) => d.handle_timeout(now),
            AnyDtls::Deciding(_) => {}
        }
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        match self {
            AnyDtls::V12(d) => d.poll_transmit(),
            AnyDtls::V13(d) => d.poll_transmit(),
            AnyDtls::Deciding(_) => None,
        }
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<AnyEvent> {
        match self {
            AnyDtls::V12(d) => d.poll_event().map(AnyEvent::V12),
            AnyDtls::V13(d) => d.poll_event().map(AnyEvent::V13),
            AnyDtls::Deciding(_) => None,
        }
    }

    /// When to call [`AnyDtls::handle_timeout`].
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            AnyDtls::V12(d) => d.poll_timeout(),
            AnyDtls::V13(d) => d.poll_timeout(),
            AnyDtls::Deciding(_) => None,
        }
    }

    /// Whether the handshake finished.
    pub fn is_connected(&self) -> bool {
        match self {
            AnyDtls::V12(d) => d.is_connected(),
            AnyDtls::V13(d) => d.is_connected(),
            AnyDtls::Deciding(_) => false,
        }
    }
}

impl Deciding {
    /// Holds `datagram` and reads the ClientHello fragments in it; once
    /// the hello is whole, whether it offers DTLS 1.3.
    fn take(&mut self, datagram: &[u8]) -> Option<bool> {
        if self.held.len() >= MAX_HELD {
            self.dropped += 1;
            return None;
        }
        let mut useful = false;
        for r in records(datagram) {
            let Ok(r) = r else { break };
            if r.content_type != ContentType::Handshake || r.epoch != 0 {
                continue;
            }
            for f in handshake::fragments(r.fragment) {
                let Ok(f) = f else { break };
                if f.msg_type == HandshakeType::ClientHello
                    && matches!(
                        self.reassembler.push(&f),
                        Ok(Pushed::Kept | Pushed::Replaced | Pushed::Evicted)
                    )
                {
                    useful = true;
                }
            }
        }
        if !useful {
            self.dropped += 1;
            return None;
        }
        self.held.push(datagram.to_vec());
        let hello = self.reassembler.pop()?;
        match ClientHello::parse(&hello.body) {
            Ok(ch) => Some(ch.supported_versions().contains(&DTLS1_3)),
            // Let the 1.2 server refuse it as it always did.
            Err(_) => Some(false),
        }
    }
}

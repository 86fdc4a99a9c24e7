//! A window on the wire for captures (issue 21): the drivers hand every
//! datagram they send and receive to a [`DatagramTap`] the application
//! gives them, with its real addresses. The protocol state machines never
//! see it; what a tap does with the bytes (a pcapng file, a counter) is the
//! application's business.

use std::net::SocketAddr;

use crate::connection::SrtpKeyLog;

/// Which way a datagram went, seen from the endpoint that tapped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapDirection {
    /// We sent it (`src` is ours).
    Sent,
    /// We received it (`dst` is ours).
    Received,
}

/// Sees the datagrams of a driver. Called on the driver's task for each
/// datagram, so it should be quick (buffer, do not block on a disk).
pub trait DatagramTap: Send + Sync + std::fmt::Debug {
    /// One datagram, `src` to `dst`, as it went on the wire.
    fn datagram(&self, direction: TapDirection, src: SocketAddr, dst: SocketAddr, data: &[u8]);

    /// A secret of a connection (when its `PeerConfig::key_log` is on),
    /// for the capture's reader to decrypt with. Ignored by default.
    fn secret(&self, _secret: TapSecret<'_>) {}
}

/// A secret the drivers pass to [`DatagramTap::secret`].
#[derive(Debug, Clone, Copy)]
pub enum TapSecret<'a> {
    /// An NSS key log line (`CLIENT_RANDOM <hex> <hex>`).
    KeyLog(&'a str),
    /// The SRTP keys DTLS exported.
    Srtp(&'a SrtpKeyLog),
}

impl<'a> TapSecret<'a> {
    /// The secret a peer event carries, if it is one.
    pub fn of_event(e: &'a crate::PeerEvent) -> Option<TapSecret<'a>> {
        match e {
            crate::PeerEvent::KeyLog(l) => Some(TapSecret::KeyLog(l)),
            crate::PeerEvent::SrtpKeys(k) => Some(TapSecret::Srtp(k)),
            _ => None,
        }
    }
}

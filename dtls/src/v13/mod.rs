//! DTLS 1.3 (RFC 9147 on RFC 8446), beside the DTLS 1.2 code and sharing
//! its handshake fragment framing and reassembly ([`crate::handshake`]),
//! DTLSPlaintext framing ([`crate::record`]), key exchange and
//! certificates ([`crate::kx`], [`crate::cert`]).
//!
//! - [`key_schedule`]: HKDF, `HKDF-Expand-Label` with the `"dtls13"`
//!   prefix, the secret chain as types, traffic keys, the exporter.
//! - [`record`]: the unified header, record number encryption, AEAD
//!   protection, epochs and their replay windows.

pub mod any;
mod client;
pub mod conn;
pub mod error;
pub mod flight;
pub mod key_schedule;
pub mod key_share;
pub mod messages;
pub mod record;
mod server;
mod steps;

pub use any::{
    group_name, suite13_name, suite_name, AnyDtls, AnyError, AnyEvent, AnyStats, CommonEvent,
    Negotiated,
};
pub use conn::{CloseReason13, Connected13, Dtls13, Dtls13Stats, Event13};
pub use error::Error13;

/// Which DTLS versions an endpoint speaks (the configuration
/// choice; both by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    /// DTLS 1.2 only (RFC 6347).
    Dtls12Only,
    /// DTLS 1.3 only (RFC 9147).
    Dtls13Only,
    /// Both: a server answers a 1.3-capable hello with 1.3.
    Both,
}

//! DTLS 1.2 (RFC 6347) for WebRTC, sans-IO: both roles, DTLS-SRTP keying
//! (RFC 5764), checked against OpenSSL and Chromium's real (fragmented,
//! DTLS 1.3-capable) ClientHello.
//!
//! [`Dtls`] (module [`conn`]) is one side of an association: datagrams and
//! `now` in, datagrams, [`Event`]s and a timeout out. It runs the handshake
//! WebRTC uses (ECDHE on x25519/secp256r1, ECDSA P-256 certificates on both
//! sides, AES-GCM, extended master secret, `use_srtp`), retransmits flights
//! (RFC 6347 §4.2.4), fragments them to the MTU, can demand a cookie, checks
//! the peer's certificate against the SDP fingerprint, and hands out the
//! SRTP keys split per RFC 5764 §4.2.
//!
//! ```
//! use std::time::Instant;
//! use meshrtc_dtls::{Certificate, Config, Dtls, Event};
//!
//! let (a, b) = (Certificate::generate("a").unwrap(), Certificate::generate("b").unwrap());
//! let mut ca = Config::new(a.clone());
//! ca.remote_fingerprint = Some(*b.fingerprint());
//! let mut cb = Config::new(b);
//! cb.remote_fingerprint = Some(*a.fingerprint());
//! let now = Instant::now();
//! let (mut client, mut server) = (Dtls::client(ca, now), Dtls::server(cb, now));
//! for _ in 0..4 {
//!     while let Some(d) = client.poll_transmit() { server.handle_datagram(now, &d).unwrap(); }
//!     while let Some(d) = server.poll_transmit() { client.handle_datagram(now, &d).unwrap(); }
//! }
//! let Some(Event::Connected(c)) = client.poll_event() else { panic!() };
//! assert_eq!(c.srtp.unwrap().exported.len(), 56); // AEAD_AES_128_GCM
//! ```
//!
//! The layers underneath, each usable alone:
//! - [`record`]: record framing (RFC 6347 §4.1): several records per
//!   datagram, DTLS 1.3 unified headers refused, the header writer.
//! - [`handshake`]: handshake fragments (§4.2.2–4.2.3), a bounded
//!   [`handshake::Reassembler`] handing out whole messages in `message_seq`
//!   order, and the unfragmented form the transcript hashes.
//! - [`hello`]: the ClientHello and the extensions a DTLS-SRTP server reads.
//! - [`messages`]: the other handshake bodies, read and written.
//! - [`kx`]: ephemeral ECDHE and ECDSA P-256 signatures through ring.
//! - [`cert`]: self-signed certificates (rcgen), the peer's key from its
//!   X.509 certificate, SHA-256 fingerprints in SDP form (RFC 8122 §5).
//! - [`prf`]: the TLS 1.2 PRF, extended master secret (RFC 7627), key
//!   block, Finished `verify_data`, the RFC 5705 exporter.
//! - [`cipher`]: AES-128/256-GCM record protection (RFC 5288) and the
//!   anti-replay window (§4.1.2.6).
//! - [`rng`]: the seedable random source (randoms, cookie secret).
//! - [`endpoint`]: the [`Endpoint`] trait, the run loop of every version.
//! - [`v13`]: DTLS 1.3 (RFC 9147): [`v13::Dtls13`] in both roles, its key
//!   schedule, record layer, flights and ACKs, and [`v13::AnyDtls`], which
//!   negotiates 1.2 or 1.3 per [`Config::versions`]. [`Dtls`] itself still
//!   answers a 1.3-capable hello with 1.2 and a 1.3-only hello with a
//!   `protocol_version` alert.
//!
//! Not implemented: session resumption, renegotiation, RSA certificates,
//! CBC suites.
#![forbid(unsafe_code)]

pub mod cert;
pub mod cipher;
pub mod conn;
pub mod endpoint;
pub mod handshake;
pub mod hello;
pub mod kx;
pub mod messages;
pub mod prf;
pub mod record;
pub mod rng;
pub mod v13;

pub use cert::{Certificate, Fingerprint};
pub use conn::{
    CloseReason, Config, Connected, Dtls, DtlsStats, Error, Event, Role, SrtpKeyingMaterial,
    SrtpProfileId,
};
pub use endpoint::Endpoint;

#[cfg(test)]
mod tests;

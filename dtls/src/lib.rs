//! DTLS 1.2 (RFC 6347) for WebRTC, sans-IO.
//!
//! Today this crate holds the parsing layers, checked against Chromium's
//! real (fragmented, DTLS 1.3-capable) ClientHello:
//! - [`record`]: record framing (RFC 6347 §4.1): several records per
//!   datagram, DTLS 1.3 unified headers refused, the header writer.
//! - [`handshake`]: handshake fragments (§4.2.2–4.2.3), a bounded
//!   [`handshake::Reassembler`] handing out whole messages in `message_seq`
//!   order, fragmentation of our own messages to an MTU budget, and the
//!   unfragmented form the transcript hashes.
//! - [`hello`]: the ClientHello and the extensions a DTLS-SRTP server reads
//!   (supported_groups, signature_algorithms, use_srtp,
//!   extended_master_secret, supported_versions).
//! - [`kx`]: ephemeral ECDHE on x25519 and secp256r1 and ECDSA P-256
//!   signatures through ring.
//! - [`messages`]: the other handshake bodies a WebRTC handshake uses
//!   (HelloVerifyRequest, ServerHello, Certificate, ServerKeyExchange for
//!   named-curve ECDHE, CertificateRequest, ClientKeyExchange,
//!   CertificateVerify) and the `use_srtp` extension, read and written.
//! - [`prf`]: the TLS 1.2 PRF (SHA-256 and SHA-384, checked against
//!   OpenSSL's), the extended master secret (RFC 7627), the key block,
//!   Finished `verify_data`, and the RFC 5705 exporter DTLS-SRTP keys come
//!   from.
//! - [`cipher`]: AES-128/256-GCM record protection (RFC 5288, RFC 6347
//!   §4.1.2.1) and the 64-record anti-replay window (§4.1.2.6).
//! - [`cert`]: our self-signed ECDSA P-256 certificate (rcgen), SHA-256
//!   fingerprints in the SDP form (RFC 8122 §5), and the peer's key out of
//!   its certificate (x509-cert) to check its signatures.
//!
//! Still to come: the client and server state machines with flights and
//! retransmission (§4.2.4), the fingerprint check in the handshake,
//! `use_srtp` selection (RFC 5764), and the OpenSSL and Chromium
//! handshakes.
#![forbid(unsafe_code)]

pub mod cert;
pub mod cipher;
pub mod conn;
pub mod handshake;
pub mod hello;
pub mod kx;
pub mod messages;
pub mod prf;
pub mod record;
pub mod rng;

pub use cert::{Certificate, Fingerprint};
pub use conn::{
    CloseReason, Config, Connected, Dtls, DtlsStats, Error, Event, Role, SrtpKeyingMaterial,
    SrtpProfileId,
};

#[cfg(test)]
mod tests;

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
//!
//! Still to come: record protection (AES-128-GCM, epochs, anti-replay), the
//! client and server state machines with flights and retransmission
//! (§4.2.4), ECDHE and ECDSA through ring, the extended master secret
//! (RFC 7627), `use_srtp` (RFC 5764) and the `EXTRACTOR-dtls_srtp` exporter
//! (RFC 5705).
#![forbid(unsafe_code)]

pub mod handshake;
pub mod hello;
pub mod record;

#[cfg(test)]
mod tests;

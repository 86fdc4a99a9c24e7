//! DTLS 1.2 (RFC 6347) for WebRTC, sans-IO.
//!
//! This crate will hold meshrtc's own DTLS 1.2 client and server: the record
//! layer (epochs, 48-bit sequence numbers, anti-replay, AEAD protection for
//! `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`), handshake fragmentation and
//! reassembly, flights with retransmission (RFC 6347 §4.2.4), the extended
//! master secret (RFC 7627), `use_srtp` (RFC 5764) and the
//! `EXTRACTOR-dtls_srtp` exporter (RFC 5705). It is not written yet: the
//! crate exists so the workspace has its final shape.
#![forbid(unsafe_code)]

//! SRTP and SRTCP (RFC 3711, RFC 7714), pure computation.
//!
//! This crate will hold key derivation from DTLS-SRTP keying material
//! (RFC 5764 §4.2), the AES-CM/HMAC-SHA1 and AEAD-GCM profiles, per-SSRC
//! rollover counters and replay windows, and in-place protect/unprotect on
//! caller-owned buffers. It is not written yet.
#![forbid(unsafe_code)]

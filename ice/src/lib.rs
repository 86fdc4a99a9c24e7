//! STUN and ICE for meshrtc, sans-IO.
//!
//! - [`stun`]: the STUN message codec (RFC 8489 and the ICE attributes of
//!   RFC 8445 §16.1): a zero-copy checked view for parsing, a builder for
//!   writing, MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT.
//! - The ICE agent (RFC 8445: candidates, checklists, nomination, consent
//!   freshness per RFC 7675) will live here too; it is being written.
//!
//! Nothing in this crate touches a socket, a clock or a thread: time comes
//! in as an argument and bytes come in as slices.
#![forbid(unsafe_code)]

pub mod stun;

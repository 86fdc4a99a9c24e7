//! Errors of SRTP processing.

/// What went wrong. Every unprotect error leaves the context unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    /// A key or salt of the wrong length for the profile.
    #[error("key material of {got} bytes where {expected} are needed")]
    BadKeyLength {
        /// Bytes required.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The packet is shorter than its headers and tag.
    #[error("packet too short: needed {needed} bytes, got {got}")]
    TooShort {
        /// Bytes required.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// Not RTP/RTCP version 2.
    #[error("not an RTP/RTCP version 2 packet (version {0})")]
    BadVersion(u8),
    /// The authentication tag does not match: forged, corrupted, or
    /// protected with another key.
    #[error("authentication failed")]
    AuthFailed,
    /// The packet index was already received (RFC 3711 §3.3.2).
    #[error("replayed packet (index {0})")]
    Replayed(u64),
    /// The packet index is older than the replay window.
    #[error("packet too old for the replay window (index {0})")]
    TooOld(u64),
    /// The sender's SRTCP index ran out (2^31 packets).
    #[error("SRTCP index exhausted: rekey")]
    IndexExhausted,
    /// A new SSRC arrived while the context holds its maximum of streams.
    #[error("too many streams (limit {0})")]
    TooManyStreams(usize),
}

//! RTP and RTCP (RFC 3550, 4585, 5104, 8285) with VP8 (RFC 7741) and Opus
//! (RFC 7587) payloads, sans-IO.
//!
//! This crate will hold checked views and builders for RTP packets and RTCP
//! compound packets, the VP8 and Opus (de)packetizers, and the session logic:
//! NACK/RTX, PLI, sender and receiver reports, transport-wide sequence
//! numbers, and a jitter buffer. It is not written yet.
#![forbid(unsafe_code)]

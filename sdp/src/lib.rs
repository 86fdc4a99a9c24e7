//! SDP (RFC 8866) and the JSEP offer/answer subset WebRTC needs (RFC 8829).
//!
//! This crate will hold the typed session model, a parser that accepts what
//! browsers send and reports broken input with its line number, a writer,
//! the `a=candidate` syntax (RFC 8839 §5.1), and offer/answer for audio, video
//! and BUNDLE (RFC 8843). It depends on no other meshrtc crate. It is not
//! written yet.
#![forbid(unsafe_code)]

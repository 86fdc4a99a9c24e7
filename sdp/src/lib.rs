//! SDP (RFC 8866) and the JSEP offer/answer subset WebRTC needs (RFC 8829).
//!
//! Today: [`CandidateAttr`], the ICE candidate attribute (RFC 8839 §5.1),
//! which parses on its own because trickled candidates arrive one by one.
//!
//! Still to come in this crate: the typed session model, a parser that
//! accepts what browsers send and reports broken input with its line
//! number, a writer, and offer/answer for audio, video and BUNDLE
//! (RFC 8843). It depends on no other meshrtc crate.
#![forbid(unsafe_code)]

mod candidate;

pub use candidate::{CandidateAddress, CandidateAttr, CandidateError, CandidateType};

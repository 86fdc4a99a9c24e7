//! SDP (RFC 8866) and the JSEP offer/answer subset WebRTC needs (RFC 8829).
//!
//! Today:
//! - [`SessionDescription`]: the typed model with its parser (accepts CRLF
//!   or LF, trailing whitespace, blank lines, unknown attributes and line
//!   types; refuses structurally broken input with the line number) and a
//!   writer (CRLF, RFC 8866 order). parse → write → parse is the identity.
//! - [`Attribute`]: the attributes WebRTC uses, typed; others kept verbatim.
//! - [`CandidateAttr`]: the ICE candidate attribute (RFC 8839 §5.1), which
//!   also parses on its own because trickled candidates arrive one by one.
//!
//! ```
//! use meshrtc_sdp::SessionDescription;
//! let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
//!            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
//!            a=rtpmap:111 opus/48000/2\r\na=rtcp-mux\r\n";
//! let d = SessionDescription::parse(sdp)?;
//! assert_eq!(d.bundle().unwrap(), ["0"]);
//! assert_eq!(d.media[0].mid(), Some("0"));
//! assert_eq!(d.to_string(), sdp);
//! # Ok::<(), meshrtc_sdp::SdpError>(())
//! ```
//!
//! - [`negotiate`](mod@negotiate): offer/answer for audio, video and BUNDLE (RFC 8829,
//!   RFC 8843, RFC 3264, RFC 8842): [`create_offer`], [`create_answer`],
//!   and [`negotiate()`], whose [`Negotiated`] result `peer` consumes.
//!
//! Parsed values borrow from the text (`Cow<'a, str>`); `into_owned()`
//! detaches them. The crate depends on no other meshrtc crate.
#![forbid(unsafe_code)]

mod attribute;
mod candidate;
pub mod negotiate;
mod scan;
mod session;

pub use attribute::{Attribute, Direction, Setup};
pub use candidate::{CandidateAddress, CandidateAttr, CandidateError, CandidateType};
pub use negotiate::{
    create_answer, create_answer_for, create_offer, create_offer_tagged, negotiate, DtlsRole,
    Features, Fingerprint, LocalParams, MediaKind, Negotiated, NegotiatedCodec, NegotiatedData,
    NegotiatedMedia, NegotiationError, RemoteSsrc, SendTrack, Transceiver,
};
pub use session::{Connection, MediaSection, Origin, SdpError, SessionDescription};

#[cfg(test)]
mod tests;

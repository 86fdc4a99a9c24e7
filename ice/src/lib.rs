//! STUN and ICE for meshrtc, sans-IO.
//!
//! - [`stun`]: the STUN message codec (RFC 8489 and the ICE attributes of
//!   RFC 8445 §16.1): a zero-copy checked view for parsing, a builder for
//!   writing, MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT.
//! - [`IceAgent`]: the ICE agent (RFC 8445: candidates, checklist, pacing,
//!   triggered checks, regular nomination, role conflicts, trickle per
//!   RFC 8838, consent freshness per RFC 7675, ICE restart).
//! - [`turn`]: a TURN client (RFC 8656) for relay candidates.
//! - [`mdns`]: multicast DNS for `.local` candidates (a DNS message codec,
//!   a resolver and a responder).
//! - [`StunServer`]: a binding server for `meshrtc stun-server` and tests.
//!
//! Nothing in this crate touches a socket, a clock or a thread: time comes
//! in as an argument and bytes come in as slices.
#![forbid(unsafe_code)]

pub mod agent;
pub mod candidate;
pub mod mdns;
pub mod server;
pub mod stun;
mod transaction;
pub mod turn;

pub use agent::{
    IceAgent, IceConfig, IceError, IceEvent, IceState, IceStats, PairState, PathStatus,
    RelayTransportRequest, RelayedData, Transmit, TurnServer, TurnStreamRedirect, TurnTransport,
};
pub use candidate::{Candidate, CandidateKind};
pub use server::{StunServer, StunServerStats};

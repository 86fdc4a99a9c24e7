//! A TURN client (RFC 8656), sans-IO, for relay candidates.
//!
//! - [`TurnClient`]: one allocation on one server: Allocate with long-term
//!   credentials (RFC 8489 §9.2), Refresh, CreatePermission, ChannelBind,
//!   Send and Data indications, ChannelData, deallocation; 300 Try
//!   Alternate, 437 Allocation Mismatch and 438 Stale Nonce.
//! - [`ChannelData`] and [`StreamFramer`]: the ChannelData wire format and
//!   the framing of STUN and ChannelData over TCP/TLS (§12.4, §12.5).
//! - [`long_term_key`]: the MD5 key of RFC 8489 §9.2.2.
//!
//! The ICE agent ([`crate::IceAgent`]) owns one client per TURN server and
//! local base, and turns allocations into relay candidates.
//!
//! ```
//! use meshrtc_ice::turn::{TurnClient, TurnConfig, TurnState};
//! use std::time::Instant;
//! let now = Instant::now();
//! let mut c = TurnClient::new(TurnConfig::new("192.0.2.1:3478".parse().unwrap(), "u", "p"), [7; 32]);
//! c.allocate(now);
//! let first = c.poll_transmit().unwrap(); // an Allocate without credentials
//! assert_eq!(first.dst, "192.0.2.1:3478".parse().unwrap());
//! assert_eq!(c.state(), TurnState::Allocating);
//! // The owner sends `first.payload`, feeds answers to `handle_input`, and
//! // runs `handle_timeout` at `poll_timeout`.
//! ```

mod channel_data;
mod client;
mod credentials;
mod error;
mod stream;

pub use channel_data::{
    emit_channel_data, is_valid_channel, ChannelData, CHANNEL_DATA_HEADER_LEN, MAX_CHANNEL,
    MIN_CHANNEL,
};
pub use client::{Received, TurnClient, TurnConfig, TurnEvent, TurnState, TurnStats, TurnTransmit};
pub use credentials::{long_term_key, rest_credentials, TurnCredentials};
pub use error::TurnError;
pub use stream::StreamFramer;

#[cfg(test)]
pub(crate) mod test_answers;
#[cfg(test)]
mod tests;

//! The STUN message codec (RFC 8489, with the ICE attributes of RFC 8445
//! §16.1).
//!
//! - [`Message::parse`] validates a received datagram once and gives a
//!   zero-copy view; attributes decode lazily into [`Attribute`]. Parsing
//!   does not allocate.
//! - [`MessageBuilder`] writes a message into a caller-owned buffer and
//!   computes MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT.
//! - [`ShortTermKey`] holds the prepared HMAC state of an ICE password;
//!   verification is constant-time.
//!
//! Unknown comprehension-optional attributes (such as Chromium's
//! GOOG-NETWORK-INFO, 0xC057) are kept and skipped; unknown
//! comprehension-required ones are listed by
//! [`Message::unknown_required`] so a server can answer 420 (RFC 8489
//! §6.3.1.1). Attributes after MESSAGE-INTEGRITY other than
//! MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored, as §14.5 requires.
//!
//! ```
//! use meshrtc_ice::stun::{Class, Message, ShortTermKey};
//! // A binding request sent by Chromium 156 (shared/fixtures).
//! let bytes = hex_literal(concat!(
//!     "000100502112a442473432495469782f56557948000600095247706e3a67417437000000",
//!     "c057000400010032802a000891d332d9cdda01f300250000002400046e7f1eff000800",
//!     "1485d4f5a0efa16de06b1225748e478c8fdc6ccbbb802800040d89e894"));
//! let msg = Message::parse(&bytes)?;
//! assert_eq!(msg.class(), Class::Request);
//! assert_eq!(msg.username()?, Some("RGpn:gAt7"));
//! msg.verify_integrity(&ShortTermKey::new(b"dPR+zd3QMw7rwvBB3GOuedwM"))?;
//! msg.verify_fingerprint()?;
//! # fn hex_literal(s: &str) -> Vec<u8> {
//! #     (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
//! # }
//! # Ok::<(), meshrtc_ice::stun::StunError>(())
//! ```

mod attr;
mod builder;
mod error;
mod integrity;
mod message;
mod types;

pub use attr::{Attribute, ErrorCode, UnknownAttributes};
pub use builder::MessageBuilder;
pub use error::StunError;
pub use integrity::{ShortTermKey, FINGERPRINT_XOR};
pub use message::{looks_like_stun, Message, RawAttribute, RawAttributes, MAX_UNKNOWN_REPORTED};
pub use types::{
    message_type, split_message_type, AttrType, Class, Method, TransactionId, HEADER_LEN,
    MAGIC_COOKIE,
};

#[cfg(test)]
mod tests;

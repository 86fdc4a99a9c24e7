//! SRTP and SRTCP (RFC 3711, RFC 7714), pure computation: no I/O, no clock.
//!
//! - [`Profile`]: the four DTLS-SRTP profiles WebRTC peers offer
//!   (AES-CM with HMAC-SHA1-80 and -32, AEAD AES-128-GCM and AES-256-GCM).
//! - [`MasterKey`] and [`split_keying_material`]: the RFC 5764 §4.2 layout
//!   of DTLS-SRTP keying material (client key, server key, client salt,
//!   server salt). The DTLS client protects with the client's key.
//! - [`Context`]: one direction's session keys (derived once, RFC 3711
//!   §4.3) and per-SSRC state (rollover counter with §3.3.1 index
//!   estimation, SRTCP index, a 1024-packet replay window), protecting and
//!   unprotecting in place in a caller-owned buffer.
//!
//! ```
//! use meshrtc_srtp::{split_keying_material, Config, Context, Profile};
//! let material = [7u8; 60]; // from DTLS: export_keying_material("EXTRACTOR-dtls_srtp")
//! let (client, server) = split_keying_material(Profile::Aes128CmHmacSha1_80, &material)?;
//! let mut send = Context::new(&client, Config::default()); // we are the DTLS client
//! let mut recv = Context::new(&client, Config::default()); // (the peer's receiving side)
//! let _ = server;
//! let mut pkt = Vec::with_capacity(1500);
//! pkt.extend_from_slice(&[0x80, 96, 0, 1, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
//! pkt.extend_from_slice(b"frame");
//! send.protect_rtp(&mut pkt)?;
//! assert_eq!(pkt.len(), 12 + 5 + 10);
//! recv.unprotect_rtp(&mut pkt)?;
//! assert_eq!(&pkt[12..], b"frame");
//! # Ok::<(), meshrtc_srtp::SrtpError>(())
//! ```
//!
//! Primitives: AES-CTR from RustCrypto's `aes` + `ctr`, HMAC-SHA1 from
//! RustCrypto (SHA-NI), AES-GCM from ring; chosen by measurement
//! (BENCHMARKS.md).
#![forbid(unsafe_code)]

mod context;
mod error;
mod kdf;
mod profile;
mod replay;

pub use context::{Config, Context};
pub use error::SrtpError;
pub use profile::{split_keying_material, MasterKey, Profile};

#[cfg(test)]
mod tests;

/// Hooks for the fuzz targets (built with `--cfg fuzzing` only).
#[cfg(fuzzing)]
pub mod fuzzing {
    /// Sets the next SRTCP index a sending context uses for `ssrc`, so a
    /// target can re-protect an accepted packet and compare.
    pub fn set_srtcp_index(ctx: &mut crate::Context, ssrc: u32, index: u32) {
        ctx.set_srtcp_index(ssrc, index)
    }
}

//! MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5), MESSAGE-INTEGRITY-SHA256
//! (§14.6) and FINGERPRINT (§14.7).
//!
//! HMAC-SHA1 comes from RustCrypto's `hmac` + `sha1`: on this project's
//! machines its SHA-1 uses the SHA-NI instructions and is several times
//! faster than ring's (see BENCHMARKS.md). The key's inner and outer pads
//! are hashed once, when the key is made, and the pre-keyed state is cloned
//! per message, so a verification costs only the message's own blocks.

use super::types::HEADER_LEN;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// Length of a MESSAGE-INTEGRITY value.
pub const SHA1_LEN: usize = 20;

/// FINGERPRINT is the CRC-32 of the message XOR this constant ("STUN").
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// A short-term credential key (RFC 8489 §9.1): the ICE password, with the
/// HMAC states for both integrity attributes prepared once.
///
/// RFC 8489 §9.1.1 runs the password through OpaqueString (RFC 8265); ICE
/// passwords are ASCII ice-chars (RFC 8839 §5.4), for which that is the
/// identity, so the bytes are used as given.
#[derive(Clone)]
pub struct ShortTermKey {
    sha1: Hmac<Sha1>,
    sha256: Hmac<Sha256>,
}

impl std::fmt::Debug for ShortTermKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShortTermKey(..)")
    }
}

impl ShortTermKey {
    /// Prepares a key from a password.
    pub fn new(password: &[u8]) -> ShortTermKey {
        // HMAC accepts keys of any length: `new_from_slice` cannot fail.
        let sha1 = match Hmac::<Sha1>::new_from_slice(password) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of every length"),
        };
        let sha256 = match Hmac::<Sha256>::new_from_slice(password) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of every length"),
        };
        ShortTermKey { sha1, sha256 }
    }

    /// HMAC-SHA1 over `msg[..attr_off]` with the header's length field
    /// replaced so that it counts up to `attr_end` (RFC 8489 §14.5).
    pub(crate) fn sha1_over(&self, msg: &[u8], attr_off: usize, attr_end: usize) -> [u8; 20] {
        let mut mac = self.sha1.clone();
        feed(&mut mac, msg, attr_off, attr_end);
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256, the same construction (RFC 8489 §14.6).
    pub(crate) fn sha256_over(&self, msg: &[u8], attr_off: usize, attr_end: usize) -> [u8; 32] {
        let mut mac = self.sha256.clone();
        feed(&mut mac, msg, attr_off, attr_end);
        mac.finalize().into_bytes().into()
    }
}

fn feed<M: Mac>(mac: &mut M, msg: &[u8], attr_off: usize, attr_end: usize) {
    let len = (attr_end - HEADER_LEN) as u16;
    mac.update(&msg[..2]);
    mac.update(&len.to_be_bytes());
    mac.update(&msg[4..attr_off]);
}

/// FINGERPRINT over `msg` (everything before the attribute; its header
/// length must already count the FINGERPRINT attribute).
pub(crate) fn fingerprint(msg: &[u8]) -> u32 {
    crc32fast::hash(msg) ^ FINGERPRINT_XOR
}

/// Constant-time equality of a computed tag and a received one: every byte
/// is compared, differences are OR-ed without a data-dependent branch, and
/// one optimisation barrier keeps the compiler from turning the fold into an
/// early exit. (Lengths are public.) `subtle`'s slice comparison puts a
/// barrier on every byte and costs 25× more here (BENCHMARKS.md).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

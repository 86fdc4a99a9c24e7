//! The seeded random source for verification tags, initial TSNs and
//! heartbeat nonces: SHA-256 in counter mode over a 256-bit seed.
//!
//! Sans-IO: the seed comes from the caller ([`crate::Config::seed`]); the
//! tags must be unpredictable to off-path attackers (RFC 9260 §5.3.1), so
//! the caller seeds it from the operating system.

use sha2::{Digest, Sha256};

#[derive(Clone)]
pub(crate) struct Rng {
    seed: [u8; 32],
    counter: u64,
}

impl std::fmt::Debug for Rng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rng { .. }")
    }
}

impl Rng {
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        Rng { seed, counter: 0 }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.counter.to_be_bytes());
        self.counter += 1;
        let d = h.finalize();
        u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }

    /// A non-zero u32 (verification tags must not be 0, §5.3.1).
    pub(crate) fn nonzero_u32(&mut self) -> u32 {
        loop {
            let v = self.next_u64() as u32;
            if v != 0 {
                return v;
            }
        }
    }
}

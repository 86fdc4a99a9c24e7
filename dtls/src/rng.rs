//! The seedable random source the state machines draw from (randoms,
//! cookie secrets): SHA-256 in counter mode over a 256-bit seed.
//!
//! Sans-IO: the seed comes from the caller ([`crate::Config::rng_seed`]),
//! so tests and fuzz targets replay exactly; without one it is drawn once
//! from the operating system through ring. Ephemeral ECDHE keys and ECDSA
//! nonces are not drawn from here: ring generates them itself.

use ring::digest;

/// A deterministic generator over a secret seed.
#[derive(Clone)]
pub struct Rng {
    seed: [u8; 32],
    counter: u64,
}

impl std::fmt::Debug for Rng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rng { .. }")
    }
}

impl Rng {
    /// From a seed.
    pub fn from_seed(seed: [u8; 32]) -> Rng {
        Rng { seed, counter: 0 }
    }

    /// Seeded from the operating system (ring's `SystemRandom`); `None`
    /// if it has no randomness to give. There is no safe substitute (a
    /// clock is guessable), so the caller fails instead.
    pub fn from_os() -> Option<Rng> {
        use ring::rand::SecureRandom;
        let mut seed = [0u8; 32];
        ring::rand::SystemRandom::new().fill(&mut seed).ok()?;
        Some(Rng::from_seed(seed))
    }

    /// Fills `out`.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(32) {
            let mut ctx = digest::Context::new(&digest::SHA256);
            ctx.update(&self.seed);
            ctx.update(&self.counter.to_be_bytes());
            self.counter += 1;
            let block = ctx.finish();
            chunk.copy_from_slice(&block.as_ref()[..chunk.len()]);
        }
    }

    /// 32 random bytes.
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut b = [0u8; 32];
        self.fill(&mut b);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_blocks_differ() {
        let mut a = Rng::from_seed([1; 32]);
        let mut b = Rng::from_seed([1; 32]);
        let x = a.bytes32();
        assert_eq!(x, b.bytes32());
        assert_ne!(x, a.bytes32());
        let mut odd = [0u8; 45];
        Rng::from_seed([2; 32]).fill(&mut odd);
        assert_ne!(&odd[..32], &Rng::from_seed([1; 32]).bytes32());
        assert_ne!(
            Rng::from_os().unwrap().bytes32(),
            Rng::from_os().unwrap().bytes32()
        );
    }
}

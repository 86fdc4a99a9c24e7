//! Tests: hand-made vectors from the RFC figures, round trips, malformed
//! inputs, and randomized (seeded xorshift) reassembly.

mod opus;
mod renumbered;
mod rtcp;
mod rtp;
mod session;
mod vp8;

/// Bytes from hex, ignoring whitespace and `|` separators.
pub(crate) fn h(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|c| c.is_ascii_hexdigit())
        .map(|c| (c as char).to_digit(16).unwrap() as u8)
        .collect();
    assert!(digits.len() % 2 == 0, "odd hex length");
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

/// A small deterministic PRNG (xorshift64*) for shuffles and loss.
pub(crate) struct XorShift(pub u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

//! Finding a byte in short text. SDP lines and fields are 5 to 100 bytes:
//! eight bytes at a time in a register (SWAR) beats both a byte loop and a
//! SIMD search whose set-up is paid on every call.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// A mask with the high bit set in every byte of `w` that is zero (exact
/// for the lowest such byte, which is all `find` uses).
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

/// The first index at or after `from` holding `x` or `y` (pass the same
/// byte twice to look for one).
#[inline]
pub(crate) fn find(b: &[u8], from: usize, x: u8, y: u8) -> Option<usize> {
    let (vx, vy) = (LO * u64::from(x), LO * u64::from(y));
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let hit = zero_bytes(w ^ vx) | zero_bytes(w ^ vy);
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..)?
        .iter()
        .position(|&c| c == x || c == y)
        .map(|p| i + p)
}

/// High bit set in exactly the bytes of `w` that equal `x`.
#[inline(always)]
fn bytes_equal(w: u64, x: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let v = w ^ (LO * u64::from(x));
    !(((v & LOW7) + LOW7) | v | LOW7)
}

/// Whether `b` is words separated by single spaces: no byte below 0x20
/// (tabs, CR, LF, controls) and no two spaces in a row. Leading and
/// trailing spaces are the caller's business.
pub(crate) fn single_spaced(b: &[u8]) -> bool {
    let mut prev_space = false;
    let mut chunks = b.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // Any byte below 0x20 (the borrow trick: a flag exists iff one does).
        if w.wrapping_sub(LO * 0x20) & !w & HI != 0 {
            return false;
        }
        let spaces = bytes_equal(w, b' ');
        if spaces & (spaces << 8) != 0 || (prev_space && spaces & 0x80 != 0) {
            return false;
        }
        prev_space = spaces >> 63 != 0;
    }
    for &c in chunks.remainder() {
        if c < b' ' || (c == b' ' && prev_space) {
            return false;
        }
        prev_space = c == b' ';
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{find, single_spaced};

    #[test]
    fn single_spaced_matches_a_plain_byte_check() {
        let slow = |b: &[u8]| b.iter().all(|&c| c >= b' ') && !b.windows(2).any(|w| w == b"  ");
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let b: Vec<u8> = (0..len)
                .map(|i| match (seed >> (i % 60)) & 7 {
                    0 | 1 => b' ',
                    2 => [b'\t', 0x1f, 0x7f, 0x80, 0xff, b'\r'][(seed as usize >> 3) % 6],
                    _ => b'a' + (i as u8 % 26),
                })
                .collect();
            assert_eq!(single_spaced(&b), slow(&b), "{b:?}");
        }
        assert!(single_spaced(b"generation 0 network-id 1 network-cost 50"));
        assert!(!single_spaced(b"generation 0 network-id  1"));
        assert!(!single_spaced(b"generation\t0"));
    }

    #[test]
    fn finds_the_first_of_two_bytes_at_every_position() {
        for len in 0..40 {
            for at in 0..len {
                let mut b = vec![b'a'; len];
                b[at] = b'\t';
                if at + 3 < len {
                    b[at + 3] = b' ';
                }
                for from in 0..=at {
                    assert_eq!(find(&b, from, b' ', b'\t'), Some(at), "{len} {at} {from}");
                }
                assert_eq!(find(&b, at + 1, b'\t', b'\t'), None);
            }
            // High bytes (UTF-8) next to the target must not give false hits.
            let mut b = vec![0x80u8; len];
            b.push(b'\n');
            assert_eq!(find(&b, 0, b'\n', b'\n'), Some(len));
            assert_eq!(find(&b, 0, 0x81, 0x81), None);
        }
        assert_eq!(find(b"abc", 5, b'a', b'a'), None);
    }
}

//! Serial-number arithmetic for TSNs and SSNs (RFC 9260 §1.6, RFC 1982).
//!
//! Internally TSNs are kept "unwrapped" as `u64`: a 32-bit TSN from the
//! wire is placed at the `u64` value nearest a reference, so comparisons
//! and map keys need no modular care.

/// The `u64` whose low 32 bits are `tsn` and that is nearest `reference`
/// (within 2^31 either side). `reference` is at least 2^32 (see
/// [`initial`]), so the result never underflows.
pub(crate) fn unwrap_tsn(reference: u64, tsn: u32) -> u64 {
    let diff = tsn.wrapping_sub(reference as u32) as i32 as i64;
    (reference as i64).wrapping_add(diff) as u64
}

/// The first unwrapped value of an association's TSN space: the initial
/// TSN placed one wrap above zero, so "one before" never underflows.
pub(crate) fn initial(tsn: u32) -> u64 {
    (1u64 << 32) | tsn as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrapping_follows_the_nearest_wrap() {
        let r = initial(0xFFFF_FFF0);
        assert_eq!(unwrap_tsn(r, 0xFFFF_FFF5), r + 5);
        assert_eq!(unwrap_tsn(r, 3), r + 0x13);
        assert_eq!(unwrap_tsn(r, 0xFFFF_FF00), r - 0xF0);
        let r = initial(5);
        assert_eq!(unwrap_tsn(r, 0xFFFF_FFFF), r - 6);
    }
}

//! Extending 16-bit RTP sequence numbers to 64 bits (RFC 3550 §A.1), so
//! ordering survives the wrap from 65535 to 0.

/// Turns 16-bit sequence numbers into monotonic 64-bit ones: each is placed
/// in the 65536-cycle that puts it nearest to the highest seen so far.
///
/// The first number is placed in cycle 1 (`0x1_0000 + seq`), so a packet
/// reordered before it (up to 32768 earlier) still gets an extended value.
///
/// ```
/// use meshrtc_rtp::SeqExtender;
/// let mut e = SeqExtender::default();
/// let a = e.extend(65534);
/// let b = e.extend(1); // wrapped
/// let c = e.extend(65535); // late, before the wrap
/// assert_eq!((b - a, a + 1), (3, c));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqExtender {
    highest: Option<u64>,
}

impl SeqExtender {
    /// The extended value of `seq`.
    pub fn extend(&mut self, seq: u16) -> u64 {
        let ext = match self.highest {
            None => 0x1_0000 + u64::from(seq),
            Some(h) => extend_near(h, seq),
        };
        if self.highest.is_none_or(|h| ext > h) {
            self.highest = Some(ext);
        }
        ext
    }

    /// The highest extended value returned so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

/// The 64-bit value with low 16 bits `seq` nearest to `reference` (half-way,
/// 32768 away, counts as before; never below 0).
pub fn extend_near(reference: u64, seq: u16) -> u64 {
    let diff = seq.wrapping_sub(reference as u16);
    if diff < 0x8000 {
        reference + u64::from(diff)
    } else {
        let back = u64::from(0x1_0000 - u32::from(diff));
        reference
            .checked_sub(back)
            .unwrap_or(reference + u64::from(diff))
    }
}

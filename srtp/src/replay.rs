//! The replay window of RFC 3711 §3.3.2: a bitmap of the last `size` packet
//! indices below the highest one received.

/// A sliding window over packet indices, as a ring of bits.
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    bits: Vec<u64>,
    size: u64,
    top: u64,
}

impl ReplayWindow {
    /// A window of `size` packets (rounded up to a multiple of 64) whose
    /// first accepted index is `first`.
    pub fn new(size: u64, first: u64) -> ReplayWindow {
        let words = size.max(1).div_ceil(64) as usize;
        let mut w = ReplayWindow {
            bits: vec![0; words],
            size: words as u64 * 64,
            top: first,
        };
        w.set(first);
        w
    }

    fn bit(&self, i: u64) -> (usize, u64) {
        let pos = i % self.size;
        ((pos / 64) as usize, 1 << (pos % 64))
    }

    fn set(&mut self, i: u64) {
        let (w, m) = self.bit(i);
        self.bits[w] |= m;
    }

    /// Whether `index` may be accepted: newer than the highest, or within
    /// the window and not seen yet.
    pub fn check(&self, index: u64) -> Result<(), crate::SrtpError> {
        if index > self.top {
            return Ok(());
        }
        if self.top - index >= self.size {
            return Err(crate::SrtpError::TooOld(index));
        }
        let (w, m) = self.bit(index);
        if self.bits[w] & m != 0 {
            return Err(crate::SrtpError::Replayed(index));
        }
        Ok(())
    }

    /// Records `index` in the window of `slot`, creating a `size`-packet
    /// window there on a stream's first packet.
    pub fn record(slot: &mut Option<ReplayWindow>, size: u64, index: u64) {
        match slot {
            Some(w) => w.accept(index),
            None => *slot = Some(ReplayWindow::new(size, index)),
        }
    }

    /// Records `index` (after it passed `check` and authentication).
    pub fn accept(&mut self, index: u64) {
        if index > self.top {
            let advance = index - self.top;
            if advance >= self.size {
                self.bits.iter_mut().for_each(|w| *w = 0);
            } else {
                for i in self.top + 1..=index {
                    let (w, m) = self.bit(i);
                    self.bits[w] &= !m;
                }
            }
            self.top = index;
        }
        self.set(index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SrtpError;

    #[test]
    fn new_in_window_replayed_and_too_old() {
        let mut w = ReplayWindow::new(64, 100);
        assert_eq!(w.check(100), Err(SrtpError::Replayed(100)));
        assert_eq!(w.check(101), Ok(()));
        w.accept(105);
        assert_eq!(w.check(101), Ok(()), "late but inside the window");
        w.accept(101);
        assert_eq!(w.check(101), Err(SrtpError::Replayed(101)));
        assert_eq!(w.check(105 - 64), Err(SrtpError::TooOld(41)));
        assert_eq!(w.check(105 - 63), Ok(()));
        // A jump beyond the window forgets everything below.
        w.accept(1000);
        assert_eq!(w.check(999), Ok(()));
        assert_eq!(w.check(105), Err(SrtpError::TooOld(105)));
    }

    #[test]
    fn a_1024_window_takes_late_retransmissions_a_64_window_refuses() {
        let mut big = ReplayWindow::new(1024, 0);
        let mut small = ReplayWindow::new(64, 0);
        big.accept(600);
        small.accept(600);
        assert_eq!(big.check(100), Ok(()));
        assert_eq!(small.check(100), Err(SrtpError::TooOld(100)));
    }

    #[test]
    fn bits_are_cleared_as_the_window_slides() {
        let mut w = ReplayWindow::new(64, 0);
        for i in 1..200 {
            w.accept(i);
        }
        // Every index in the window was accepted once.
        for i in 136..200 {
            assert_eq!(w.check(i), Err(SrtpError::Replayed(i)));
        }
        // Skip ahead by 10: the 10 new slots must be free.
        w.accept(209);
        for i in 200..209 {
            assert_eq!(w.check(i), Ok(()), "{i}");
        }
    }
}

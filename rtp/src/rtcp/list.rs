//! Lists of fixed-size RTCP items (report blocks, NACK pairs, FIR entries,
//! SSRCs) that are either a slice of a received packet or a slice of values
//! the caller wants to send: one type for both directions, so a parsed
//! packet can be written back and a packet to send is built from plain
//! values.

use std::fmt;

/// A fixed-size item of an RTCP list. Implemented by the crate's item
/// types; not meant to be implemented elsewhere.
pub trait WireItem: Copy {
    /// Size on the wire.
    const LEN: usize;
    /// Reads one item from exactly `LEN` bytes.
    fn read(b: &[u8]) -> Self;
    /// Appends the item.
    fn write(&self, out: &mut Vec<u8>);
}

impl WireItem for u32 {
    const LEN: usize = 4;
    fn read(b: &[u8]) -> u32 {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

#[derive(Clone, Copy)]
enum Repr<'a, T> {
    Wire(&'a [u8]),
    Items(&'a [T]),
}

/// A list of `T` borrowed from a packet or from the caller. Equality
/// compares the items, whatever their origin.
#[derive(Clone, Copy)]
pub struct WireList<'a, T> {
    repr: Repr<'a, T>,
}

/// A list of SSRCs.
pub type SsrcList<'a> = WireList<'a, u32>;

impl<'a, T: WireItem> WireList<'a, T> {
    /// A list of the caller's values.
    pub fn new(items: &'a [T]) -> WireList<'a, T> {
        WireList {
            repr: Repr::Items(items),
        }
    }

    /// A list read from wire bytes; a partial trailing item is ignored.
    pub(crate) fn from_wire(bytes: &'a [u8]) -> WireList<'a, T> {
        let whole = bytes.len() - bytes.len() % T::LEN;
        WireList {
            repr: Repr::Wire(&bytes[..whole]),
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        match self.repr {
            Repr::Wire(b) => b.len() / T::LEN,
            Repr::Items(i) => i.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `i`.
    pub fn get(&self, i: usize) -> Option<T> {
        match self.repr {
            Repr::Wire(b) => b.get(i * T::LEN..(i + 1) * T::LEN).map(T::read),
            Repr::Items(items) => items.get(i).copied(),
        }
    }

    /// The items in order.
    pub fn iter(&self) -> WireListIter<'a, T> {
        WireListIter {
            list: *self,
            next: 0,
        }
    }

    pub(crate) fn write_all(&self, out: &mut Vec<u8>) {
        match self.repr {
            Repr::Wire(b) => out.extend_from_slice(b),
            Repr::Items(items) => items.iter().for_each(|i| i.write(out)),
        }
    }
}

impl<T: WireItem> Default for WireList<'_, T> {
    fn default() -> Self {
        WireList::new(&[])
    }
}

impl<'a, T: WireItem> From<&'a [T]> for WireList<'a, T> {
    fn from(items: &'a [T]) -> Self {
        WireList::new(items)
    }
}

impl<T: WireItem + PartialEq> PartialEq for WireList<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: WireItem + Eq> Eq for WireList<'_, T> {}

impl<T: WireItem + fmt::Debug> fmt::Debug for WireList<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over a [`WireList`].
#[derive(Clone)]
pub struct WireListIter<'a, T> {
    list: WireList<'a, T>,
    next: usize,
}

impl<T: WireItem> Iterator for WireListIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        let item = self.list.get(self.next)?;
        self.next += 1;
        Some(item)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.list.len().saturating_sub(self.next);
        (n, Some(n))
    }
}

impl<T: WireItem> ExactSizeIterator for WireListIter<'_, T> {}

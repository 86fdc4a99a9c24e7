//! Source description, PT 202 (RFC 3550 §6.5).
//!
//! ```text
//! header (count = SC) | chunk 1 | chunk 2 | …
//! chunk: SSRC/CSRC | item | item | … | 0 (end) | zero padding to 32 bits
//! item:  type (8) | length (8) | text (length bytes)
//! ```

use super::{be32, begin_packet, check_count, end_packet, pt};
use crate::RtpError;
use std::fmt;

/// An SDES item type (RFC 3550 §6.5); unknown types are kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SdesType(pub u8);

impl SdesType {
    /// End of the item list (never an item of its own).
    pub const END: SdesType = SdesType(0);
    /// Canonical end-point identifier.
    pub const CNAME: SdesType = SdesType(1);
    /// User name.
    pub const NAME: SdesType = SdesType(2);
    /// E-mail address.
    pub const EMAIL: SdesType = SdesType(3);
    /// Phone number.
    pub const PHONE: SdesType = SdesType(4);
    /// Geographic location.
    pub const LOC: SdesType = SdesType(5);
    /// Application or tool name.
    pub const TOOL: SdesType = SdesType(6);
    /// Notice/status.
    pub const NOTE: SdesType = SdesType(7);
    /// Private extension.
    pub const PRIV: SdesType = SdesType(8);

    /// The item's name in RFC 3550, if registered there.
    pub fn name(self) -> Option<&'static str> {
        const NAMES: [&str; 9] = [
            "END", "CNAME", "NAME", "EMAIL", "PHONE", "LOC", "TOOL", "NOTE", "PRIV",
        ];
        NAMES.get(usize::from(self.0)).copied()
    }
}

impl fmt::Debug for SdesType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "SdesType({:#04x})", self.0),
        }
    }
}

/// One SDES item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// The item type (not [`SdesType::END`]).
    pub kind: SdesType,
    /// The text, up to 255 bytes (UTF-8 by RFC 3550, not checked).
    pub value: &'a [u8],
}

#[derive(Clone, Copy)]
enum ItemsRepr<'a> {
    /// Validated item bytes, terminator excluded.
    Wire(&'a [u8]),
    Items(&'a [SdesItem<'a>]),
    One(SdesItem<'a>),
}

/// The items of a chunk, from a packet or from the caller.
#[derive(Clone, Copy)]
pub struct SdesItems<'a> {
    repr: ItemsRepr<'a>,
}

impl<'a> SdesItems<'a> {
    /// The caller's items.
    pub fn new(items: &'a [SdesItem<'a>]) -> SdesItems<'a> {
        SdesItems {
            repr: ItemsRepr::Items(items),
        }
    }

    /// A single item.
    pub fn one(item: SdesItem<'a>) -> SdesItems<'a> {
        SdesItems {
            repr: ItemsRepr::One(item),
        }
    }

    /// The items in order.
    pub fn iter(&self) -> impl Iterator<Item = SdesItem<'a>> + Clone + 'a {
        let (wire, items, one): (&'a [u8], &'a [SdesItem<'a>], Option<SdesItem<'a>>) =
            match self.repr {
                ItemsRepr::Wire(b) => (b, &[], None),
                ItemsRepr::Items(i) => (&[], i, None),
                ItemsRepr::One(i) => (&[], &[], Some(i)),
            };
        let mut pos = 0;
        let from_wire = std::iter::from_fn(move || {
            // Validated at parse: type, length and text are all present.
            let (&kind, rest) = wire.get(pos..)?.split_first()?;
            let (&len, rest) = rest.split_first()?;
            let value = rest.get(..usize::from(len))?;
            pos += 2 + usize::from(len);
            Some(SdesItem {
                kind: SdesType(kind),
                value,
            })
        });
        from_wire.chain(items.iter().copied()).chain(one)
    }

    /// The CNAME, if one of the items is.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.iter()
            .find(|i| i.kind == SdesType::CNAME)
            .map(|i| i.value)
    }
}

impl PartialEq for SdesItems<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for SdesItems<'_> {}

impl fmt::Debug for SdesItems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One chunk: a source and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The SSRC or CSRC described.
    pub ssrc: u32,
    /// Its items.
    pub items: SdesItems<'a>,
}

#[derive(Clone, Copy)]
enum ChunksRepr<'a> {
    /// Validated chunk bytes and the chunk count.
    Wire(&'a [u8], usize),
    Items(&'a [SdesChunk<'a>]),
    One(SdesChunk<'a>),
}

/// The chunks of an SDES packet, from a packet or from the caller.
#[derive(Clone, Copy)]
pub struct SdesChunks<'a> {
    repr: ChunksRepr<'a>,
}

/// Walks one wire chunk at `pos`: returns the item bytes and the offset of
/// the next chunk, or `None` if it is truncated or unterminated.
fn wire_chunk(body: &[u8], pos: usize) -> Option<(u32, &[u8], usize)> {
    let ssrc = be32(body.get(pos..pos + 4)?, 0);
    let items_start = pos + 4;
    let mut q = items_start;
    loop {
        let kind = *body.get(q)?;
        if kind == 0 {
            break;
        }
        let len = usize::from(*body.get(q + 1)?);
        if q + 2 + len > body.len() {
            return None;
        }
        q += 2 + len;
    }
    // The null octet, then null padding to the next 32-bit boundary (the
    // body starts on one). A body cut short by packet padding may end
    // before that boundary.
    let next = (q + 1).next_multiple_of(4).min(body.len());
    Some((ssrc, &body[items_start..q], next))
}

impl<'a> SdesChunks<'a> {
    /// The caller's chunks.
    pub fn new(chunks: &'a [SdesChunk<'a>]) -> SdesChunks<'a> {
        SdesChunks {
            repr: ChunksRepr::Items(chunks),
        }
    }

    /// A single chunk.
    pub fn one(chunk: SdesChunk<'a>) -> SdesChunks<'a> {
        SdesChunks {
            repr: ChunksRepr::One(chunk),
        }
    }

    /// Number of chunks.
    pub fn len(&self) -> usize {
        match self.repr {
            ChunksRepr::Wire(_, n) => n,
            ChunksRepr::Items(c) => c.len(),
            ChunksRepr::One(_) => 1,
        }
    }

    /// Whether there are no chunks.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chunks in order.
    pub fn iter(&self) -> impl Iterator<Item = SdesChunk<'a>> + Clone + 'a {
        let (wire, count, items, one): (&'a [u8], usize, &'a [SdesChunk<'a>], Option<_>) =
            match self.repr {
                ChunksRepr::Wire(b, n) => (b, n, &[], None),
                ChunksRepr::Items(c) => (&[], 0, c, None),
                ChunksRepr::One(c) => (&[], 0, &[], Some(c)),
            };
        let mut pos = 0;
        let from_wire = (0..count).map_while(move |_| {
            let (ssrc, items, next) = wire_chunk(wire, pos)?;
            pos = next;
            Some(SdesChunk {
                ssrc,
                items: SdesItems {
                    repr: ItemsRepr::Wire(items),
                },
            })
        });
        from_wire.chain(items.iter().copied()).chain(one)
    }
}

impl PartialEq for SdesChunks<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for SdesChunks<'_> {}

impl fmt::Debug for SdesChunks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A source description packet, PT 202.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdes<'a> {
    /// The chunks, at most 31.
    pub chunks: SdesChunks<'a>,
}

impl<'a> Sdes<'a> {
    /// The SDES every compound needs: one chunk with a CNAME.
    pub fn cname(ssrc: u32, cname: &'a str) -> Sdes<'a> {
        Sdes {
            chunks: SdesChunks::one(SdesChunk {
                ssrc,
                items: SdesItems::one(SdesItem {
                    kind: SdesType::CNAME,
                    value: cname.as_bytes(),
                }),
            }),
        }
    }

    pub(crate) fn parse(count: u8, body: &'a [u8]) -> Result<Sdes<'a>, RtpError> {
        let mut pos = 0;
        for chunk in 0..usize::from(count) {
            let (_, _, next) = wire_chunk(body, pos).ok_or(RtpError::SdesTruncated { chunk })?;
            pos = next;
        }
        Ok(Sdes {
            chunks: SdesChunks {
                repr: ChunksRepr::Wire(&body[..pos], usize::from(count)),
            },
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        let count = check_count("SDES chunks", self.chunks.len())?;
        let start = begin_packet(out, count, pt::SDES)?;
        for chunk in self.chunks.iter() {
            out.extend_from_slice(&chunk.ssrc.to_be_bytes());
            for item in chunk.items.iter() {
                if item.kind == SdesType::END {
                    return Err(RtpError::ValueOutOfRange {
                        what: "SDES item type",
                        value: 0,
                    });
                }
                if item.value.len() > 255 {
                    return Err(RtpError::TextTooLong(item.value.len()));
                }
                out.push(item.kind.0);
                out.push(item.value.len() as u8);
                out.extend_from_slice(item.value);
            }
            // The null item, then zeros to the next 32-bit boundary.
            out.push(0);
            let len = out.len() - start;
            out.resize(start + len.next_multiple_of(4), 0);
        }
        end_packet(out, start)
    }
}

//! The SCTP packet: common header (RFC 9260 §3.1) and the chunks after it.
//!
//! [`Packet`] is a checked view (smoltcp style): [`Packet::new_checked`]
//! validates the 12-byte header once, after which no accessor can panic.
//! [`PacketRepr`] is the decoded meaning, parsed from a view and emitted
//! into a caller-owned buffer with its CRC32c filled in (§6.8).

use crate::chunk::{Chunk, ChunkType, RawChunk};
use crate::crc32c::sctp_checksum;
use crate::error::{Error, Result};
use crate::param::padded;

mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const VERIFICATION_TAG: Range<usize> = 4..8;
    pub const CHECKSUM: Range<usize> = 8..12;
    pub const CHUNKS: usize = 12;
}

/// Common header length.
pub const HEADER_LEN: usize = 12;

/// A view over an SCTP packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Without checks; accessors may panic on short buffers.
    pub fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Checks that the common header is present.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let got = buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                got,
            });
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[field::SRC_PORT][0], self.b()[field::SRC_PORT][1]])
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[field::DST_PORT][0], self.b()[field::DST_PORT][1]])
    }

    /// Verification tag.
    pub fn verification_tag(&self) -> u32 {
        let f = &self.b()[field::VERIFICATION_TAG];
        u32::from_be_bytes([f[0], f[1], f[2], f[3]])
    }

    /// The checksum field. The CRC32c is stored least significant byte
    /// first (the byte order RFC 9260 Appendix A's reference code produces,
    /// and what every deployed stack writes).
    pub fn checksum(&self) -> u32 {
        let f = &self.b()[field::CHECKSUM];
        u32::from_le_bytes([f[0], f[1], f[2], f[3]])
    }

    /// Checks the CRC32c (RFC 9260 §6.8).
    pub fn verify_checksum(&self) -> Result<()> {
        let computed = sctp_checksum(self.b());
        let got = self.checksum();
        if computed == got {
            Ok(())
        } else {
            Err(Error::BadChecksum { got, computed })
        }
    }

    /// The chunks, delimited and length-checked one by one.
    pub fn chunks(&self) -> ChunkIter<'_> {
        ChunkIter {
            buf: &self.b()[field::CHUNKS..],
        }
    }

    /// The underlying bytes.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Writes the source port.
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Writes the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Writes the verification tag.
    pub fn set_verification_tag(&mut self, v: u32) {
        self.buffer.as_mut()[field::VERIFICATION_TAG].copy_from_slice(&v.to_be_bytes());
    }

    /// Computes and writes the CRC32c.
    pub fn fill_checksum(&mut self) {
        let c = sctp_checksum(self.buffer.as_ref());
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_le_bytes());
    }

    /// Writes a zero checksum (RFC 9653, only when the peer accepts it).
    pub fn clear_checksum(&mut self) {
        self.buffer.as_mut()[field::CHECKSUM].fill(0);
    }
}

/// Iterator over the chunks of a packet. Each item's length was checked
/// against the bytes present; a length below 4 or beyond the packet ends
/// the iteration with an error. The last chunk may omit its padding.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = Result<RawChunk<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let fail = |s: &mut Self, e| {
            s.buf = &[];
            Some(Err(e))
        };
        if self.buf.len() < 4 {
            let got = self.buf.len();
            return fail(self, Error::Truncated { needed: 4, got });
        }
        let len = u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize;
        if len < 4 {
            return fail(self, Error::BadLength(len));
        }
        if len > self.buf.len() {
            let got = self.buf.len();
            return fail(self, Error::Truncated { needed: len, got });
        }
        let raw = RawChunk {
            ty: ChunkType(self.buf[0]),
            flags: self.buf[1],
            value: &self.buf[4..len],
        };
        let next = padded(len).min(self.buf.len());
        self.buf = &self.buf[next..];
        Some(Ok(raw))
    }
}

/// A decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Verification tag.
    pub verification_tag: u32,
    /// Chunks in order.
    pub chunks: Vec<Chunk<'a>>,
}

/// How a packet's checksum is treated when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumPolicy {
    /// Must be the correct CRC32c.
    Required,
    /// A zero checksum is also accepted (RFC 9653 §5, after we advertised
    /// Zero Checksum Acceptable).
    AllowZero,
    /// Not checked (tests and fuzzing of the chunk parsers).
    Ignore,
}

impl<'a> PacketRepr<'a> {
    /// Decodes a packet: header, checksum per `policy`, every chunk. An
    /// unknown chunk type whose upper bits say "stop" ends the list there
    /// (it is kept as the last chunk so the caller can report it).
    pub fn parse(packet: &Packet<&'a [u8]>, policy: ChecksumPolicy) -> Result<Self> {
        match policy {
            ChecksumPolicy::Required => packet.verify_checksum()?,
            ChecksumPolicy::AllowZero if packet.checksum() != 0 => packet.verify_checksum()?,
            _ => {}
        }
        let bytes: &'a [u8] = packet.buffer;
        let iter = ChunkIter {
            buf: &bytes[field::CHUNKS..],
        };
        let mut chunks = Vec::new();
        for raw in iter {
            let chunk = Chunk::parse(raw?)?;
            let stop =
                matches!(&chunk, Chunk::Unknown(r) if !r.ty.unrecognized_action().continues());
            chunks.push(chunk);
            if stop {
                break;
            }
        }
        if chunks.is_empty() {
            return Err(Error::NoChunks);
        }
        // RFC 9260 §6.10: INIT, INIT ACK and SHUTDOWN COMPLETE stand alone.
        if chunks.len() > 1
            && chunks.iter().any(|c| {
                matches!(
                    c,
                    Chunk::Init(_) | Chunk::InitAck(_) | Chunk::ShutdownComplete { .. }
                )
            })
        {
            return Err(Error::IllegalBundling);
        }
        Ok(PacketRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            verification_tag: packet.verification_tag(),
            chunks,
        })
    }

    /// Bytes the packet takes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.chunks.iter().map(|c| c.buffer_len()).sum::<usize>()
    }

    /// Appends the packet to `out` with its CRC32c (or a zero checksum when
    /// `zero_checksum`, RFC 9653).
    pub fn emit(&self, out: &mut Vec<u8>, zero_checksum: bool) {
        let start = out.len();
        emit_header(out, self.src_port, self.dst_port, self.verification_tag);
        for c in &self.chunks {
            c.emit(out);
        }
        finish_packet(&mut out[start..], zero_checksum);
    }
}

/// Appends a common header with a zero checksum.
pub(crate) fn emit_header(out: &mut Vec<u8>, src: u16, dst: u16, tag: u32) {
    out.extend_from_slice(&src.to_be_bytes());
    out.extend_from_slice(&dst.to_be_bytes());
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
}

/// Fills the checksum of a complete packet.
pub(crate) fn finish_packet(packet: &mut [u8], zero_checksum: bool) {
    let mut p = Packet::new_unchecked(packet);
    if zero_checksum {
        p.clear_checksum();
    } else {
        p.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{DataChunk, InitChunk, SackChunk};
    use crate::param::Param;

    fn sample() -> PacketRepr<'static> {
        PacketRepr {
            src_port: 5000,
            dst_port: 5000,
            verification_tag: 0x1234_5678,
            chunks: vec![
                Chunk::Sack(SackChunk {
                    cum_tsn_ack: 7,
                    a_rwnd: 1000,
                    gap_blocks: vec![(2, 2)],
                    duplicate_tsns: vec![],
                }),
                Chunk::Data(DataChunk {
                    tsn: 8,
                    stream_id: 1,
                    ssn: 0,
                    ppid: 53,
                    unordered: false,
                    beginning: true,
                    ending: true,
                    immediate: false,
                    payload: &[1, 2, 3, 4, 5],
                }),
            ],
        }
    }

    /// An INIT written by an independent implementation (Scapy's SCTP
    /// layer, its regression test "SCTP - Chunk Init - build": ports 0,
    /// tag 0, an IPv4 address parameter 127.0.0.1), checksum bytes
    /// 40 2c 0b 5f as Scapy computes them.
    #[test]
    fn scapy_init_packet_parses_with_its_checksum() {
        let bytes: [u8; 40] = [
            0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x2c, 0x0b, 0x5f, 1, 0, 0, 0x1c, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 8, 0x7f, 0, 0, 1,
        ];
        let view = Packet::new_checked(&bytes[..]).unwrap();
        view.verify_checksum().unwrap();
        let repr = PacketRepr::parse(&view, ChecksumPolicy::Required).unwrap();
        let Chunk::Init(init) = &repr.chunks[0] else {
            panic!("{repr:?}")
        };
        assert_eq!(init.params.len(), 1);
        assert_eq!(
            init.params[0].param_type(),
            crate::param::ParamType::IPV4_ADDRESS
        );
        let mut out = Vec::new();
        repr.emit(&mut out, false);
        assert_eq!(out, bytes);
    }

    #[test]
    fn packet_round_trips_with_a_valid_crc32c() {
        let p = sample();
        let mut out = Vec::new();
        p.emit(&mut out, false);
        assert_eq!(out.len(), p.buffer_len());
        let view = Packet::new_checked(&out[..]).unwrap();
        assert_eq!(view.src_port(), 5000);
        assert_eq!(view.verification_tag(), 0x1234_5678);
        view.verify_checksum().unwrap();
        let mut zeroed = out.clone();
        zeroed[8..12].fill(0);
        assert_eq!(view.checksum(), crate::crc32c::crc32c(&zeroed));
        assert_eq!(
            PacketRepr::parse(&view, ChecksumPolicy::Required).unwrap(),
            p
        );
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let mut out = Vec::new();
        sample().emit(&mut out, false);
        for i in 0..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 0x10;
            let view = Packet::new_checked(&bad[..]).unwrap();
            assert!(
                matches!(
                    PacketRepr::parse(&view, ChecksumPolicy::Required),
                    Err(Error::BadChecksum { .. })
                ),
                "byte {i}"
            );
        }
    }

    #[test]
    fn zero_checksum_is_accepted_only_when_allowed() {
        let mut out = Vec::new();
        sample().emit(&mut out, true);
        assert_eq!(&out[8..12], &[0; 4]);
        let view = Packet::new_checked(&out[..]).unwrap();
        assert!(PacketRepr::parse(&view, ChecksumPolicy::Required).is_err());
        assert_eq!(
            PacketRepr::parse(&view, ChecksumPolicy::AllowZero).unwrap(),
            sample()
        );
    }

    #[test]
    fn chunk_length_lies_are_errors() {
        let mut out = Vec::new();
        sample().emit(&mut out, false);
        // The SACK chunk (at 12) claims 200 bytes.
        let mut bad = out.clone();
        bad[14..16].copy_from_slice(&200u16.to_be_bytes());
        let view = Packet::new_checked(&bad[..]).unwrap();
        assert!(matches!(
            PacketRepr::parse(&view, ChecksumPolicy::Ignore),
            Err(Error::Truncated { needed: 200, .. })
        ));
        bad[14..16].copy_from_slice(&2u16.to_be_bytes());
        let view = Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(
            PacketRepr::parse(&view, ChecksumPolicy::Ignore),
            Err(Error::BadLength(2))
        );
        assert!(Packet::new_checked(&out[..11]).is_err());
    }

    #[test]
    fn init_bundled_with_data_is_refused() {
        let mut p = sample();
        p.chunks.push(Chunk::Init(InitChunk {
            initiate_tag: 1,
            a_rwnd: 1,
            outbound_streams: 1,
            inbound_streams: 1,
            initial_tsn: 1,
            params: vec![Param::ForwardTsnSupported],
            unrecognized: vec![],
        }));
        let mut out = Vec::new();
        p.emit(&mut out, false);
        let view = Packet::new_checked(&out[..]).unwrap();
        assert_eq!(
            PacketRepr::parse(&view, ChecksumPolicy::Required),
            Err(Error::IllegalBundling)
        );
    }

    #[test]
    fn unknown_chunks_stop_or_continue_by_their_upper_bits() {
        let unknown = |ty| {
            Chunk::Unknown(RawChunk {
                ty: ChunkType(ty),
                flags: 0,
                value: &[1],
            })
        };
        for (ty, kept) in [(0x3e, 2), (0x7e, 2), (0xbe, 3), (0xfe, 3)] {
            let mut p = sample();
            p.chunks.insert(1, unknown(ty));
            let mut out = Vec::new();
            p.emit(&mut out, false);
            let view = Packet::new_checked(&out[..]).unwrap();
            let r = PacketRepr::parse(&view, ChecksumPolicy::Required).unwrap();
            assert_eq!(r.chunks.len(), kept, "type {ty:#x}");
        }
    }
}

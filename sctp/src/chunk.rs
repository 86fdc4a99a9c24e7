//! SCTP chunks (RFC 9260 §3.2, §3.3), FORWARD TSN (RFC 3758 §3.2),
//! RE-CONFIG (RFC 6525 §3.1, §4), I-DATA (RFC 8260 §2.1) and
//! I-FORWARD-TSN (RFC 8260 §2.3.1).
//!
//! [`Chunk::parse`] decodes one [`RawChunk`] (type, flags, value, as the
//! packet's chunk iterator validated them); [`Chunk::emit`] writes one,
//! padded to 4 bytes. Values borrow from the packet buffer. Chunk types
//! this implementation does not know are kept as [`Chunk::Unknown`]; what
//! to do with them follows from [`ChunkType::unrecognized_action`].
//! The RE-CONFIG parameters ([`ReConfigParam`]) are in `chunk/reconfig.rs`.

use crate::error::{Error, Result};
use crate::param::{emit_tlv, padded, Param, Tlv, TlvIter, UnrecognizedAction};

mod reconfig;

pub use reconfig::{reconfig_result, ReConfigParam};

/// A chunk type (RFC 9260 §3.2; unknown values kept as numbers).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkType(pub u8);

impl ChunkType {
    /// Payload data (§3.3.1).
    pub const DATA: ChunkType = ChunkType(0);
    /// Initiation (§3.3.2).
    pub const INIT: ChunkType = ChunkType(1);
    /// Initiation acknowledgement (§3.3.3).
    pub const INIT_ACK: ChunkType = ChunkType(2);
    /// Selective acknowledgement (§3.3.4).
    pub const SACK: ChunkType = ChunkType(3);
    /// Heartbeat request (§3.3.5).
    pub const HEARTBEAT: ChunkType = ChunkType(4);
    /// Heartbeat acknowledgement (§3.3.6).
    pub const HEARTBEAT_ACK: ChunkType = ChunkType(5);
    /// Abort (§3.3.7).
    pub const ABORT: ChunkType = ChunkType(6);
    /// Shutdown (§3.3.8).
    pub const SHUTDOWN: ChunkType = ChunkType(7);
    /// Shutdown acknowledgement (§3.3.9).
    pub const SHUTDOWN_ACK: ChunkType = ChunkType(8);
    /// Operation error (§3.3.10).
    pub const ERROR: ChunkType = ChunkType(9);
    /// State cookie (§3.3.11).
    pub const COOKIE_ECHO: ChunkType = ChunkType(10);
    /// Cookie acknowledgement (§3.3.12).
    pub const COOKIE_ACK: ChunkType = ChunkType(11);
    /// Shutdown complete (§3.3.13).
    pub const SHUTDOWN_COMPLETE: ChunkType = ChunkType(14);
    /// I-DATA (RFC 8260 §2.1).
    pub const I_DATA: ChunkType = ChunkType(64);
    /// Re-configuration (RFC 6525 §3.1).
    pub const RE_CONFIG: ChunkType = ChunkType(130);
    /// Forward cumulative TSN (RFC 3758 §3.2).
    pub const FORWARD_TSN: ChunkType = ChunkType(192);
    /// I-FORWARD-TSN (RFC 8260 §2.3.1).
    pub const I_FORWARD_TSN: ChunkType = ChunkType(194);

    /// What to do when this type is not recognized (RFC 9260 §3.2).
    pub fn unrecognized_action(self) -> UnrecognizedAction {
        UnrecognizedAction::from_bits(self.0 >> 6)
    }
}

impl std::fmt::Debug for ChunkType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0 {
            0 => "Data",
            1 => "Init",
            2 => "InitAck",
            3 => "Sack",
            4 => "Heartbeat",
            5 => "HeartbeatAck",
            6 => "Abort",
            7 => "Shutdown",
            8 => "ShutdownAck",
            9 => "Error",
            10 => "CookieEcho",
            11 => "CookieAck",
            14 => "ShutdownComplete",
            64 => "IData",
            130 => "ReConfig",
            192 => "ForwardTsn",
            194 => "IForwardTsn",
            _ => return write!(f, "ChunkType({:#04x})", self.0),
        };
        f.write_str(name)
    }
}

/// A chunk as the packet iterator delimits it: its length was checked
/// against the packet, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawChunk<'a> {
    /// Chunk type.
    pub ty: ChunkType,
    /// Chunk flags.
    pub flags: u8,
    /// The value (after the 4-byte header, padding excluded).
    pub value: &'a [u8],
}

/// DATA chunk flags (§3.3.1) and I-DATA's (RFC 8260 §2.1).
pub mod data_flags {
    /// Last fragment.
    pub const E: u8 = 1;
    /// First fragment.
    pub const B: u8 = 2;
    /// Unordered.
    pub const U: u8 = 4;
    /// Immediate: SACK this without delay (RFC 7053 §3).
    pub const I: u8 = 8;
}

/// DATA (RFC 9260 §3.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChunk<'a> {
    /// Transmission sequence number.
    pub tsn: u32,
    /// Stream identifier.
    pub stream_id: u16,
    /// Stream sequence number (ignored for unordered).
    pub ssn: u16,
    /// Payload protocol identifier (big-endian on the wire, as WebRTC uses it).
    pub ppid: u32,
    /// U bit.
    pub unordered: bool,
    /// B bit: first fragment of a user message.
    pub beginning: bool,
    /// E bit: last fragment.
    pub ending: bool,
    /// I bit (RFC 7053): the receiver should SACK at once.
    pub immediate: bool,
    /// User data (never empty on the wire, §3.3.1).
    pub payload: &'a [u8],
}

/// Bytes of a DATA chunk before its user data (chunk header included).
pub const DATA_HEADER_LEN: usize = 16;

impl DataChunk<'_> {
    fn flags(&self) -> u8 {
        (self.ending as u8 * data_flags::E)
            | (self.beginning as u8 * data_flags::B)
            | (self.unordered as u8 * data_flags::U)
            | (self.immediate as u8 * data_flags::I)
    }
}

/// I-DATA (RFC 8260 §2.1): DATA with a 32-bit message identifier and a
/// fragment sequence number, so messages of different streams interleave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IDataChunk<'a> {
    /// Transmission sequence number.
    pub tsn: u32,
    /// Stream identifier.
    pub stream_id: u16,
    /// Message identifier.
    pub mid: u32,
    /// PPID in the first fragment (B set), FSN in the others.
    pub ppid_or_fsn: u32,
    /// U bit.
    pub unordered: bool,
    /// B bit.
    pub beginning: bool,
    /// E bit.
    pub ending: bool,
    /// I bit.
    pub immediate: bool,
    /// User data.
    pub payload: &'a [u8],
}

/// Bytes of an I-DATA chunk before its user data (chunk header included).
pub const I_DATA_HEADER_LEN: usize = 20;

/// One entry of an I-FORWARD-TSN (RFC 8260 §2.3.1): the receiver skips
/// the messages of `stream_id` up to `mid` (ordered), or the one message
/// `mid` (unordered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IForwardEntry {
    /// Stream identifier.
    pub stream_id: u16,
    /// U bit: the entry is about an unordered message.
    pub unordered: bool,
    /// Message identifier.
    pub mid: u32,
}

/// INIT and INIT ACK (RFC 9260 §3.3.2, §3.3.3): the same fixed fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitChunk<'a> {
    /// Initiate tag: the verification tag the sender wants to see.
    pub initiate_tag: u32,
    /// Advertised receiver window credit.
    pub a_rwnd: u32,
    /// Number of outbound streams.
    pub outbound_streams: u16,
    /// Number of inbound streams.
    pub inbound_streams: u16,
    /// Initial TSN.
    pub initial_tsn: u32,
    /// Optional/variable-length parameters, in order.
    pub params: Vec<Param<'a>>,
    /// The unrecognized parameters to report (upper bits 01 or 11) in an
    /// Unrecognized Parameter cause (§3.2.1). Processing stops after one
    /// with upper bits 00 or 01: `params` ends with it.
    pub unrecognized: Vec<Tlv<'a>>,
}

impl<'a> InitChunk<'a> {
    /// The state cookie parameter, if present.
    pub fn state_cookie(&self) -> Option<&'a [u8]> {
        self.params.iter().find_map(|p| match p {
            Param::StateCookie(c) => Some(*c),
            _ => None,
        })
    }

    /// Whether FORWARD-TSN-Supported is present (RFC 3758 §3.1), or
    /// FORWARD TSN is listed in Supported Extensions.
    pub fn forward_tsn_supported(&self) -> bool {
        self.params.iter().any(|p| match p {
            Param::ForwardTsnSupported => true,
            Param::SupportedExtensions(l) => l.contains(&ChunkType::FORWARD_TSN.0),
            _ => false,
        })
    }

    /// Whether Supported Extensions lists `ty` (RFC 5061 §4.2.7).
    pub fn supports(&self, ty: ChunkType) -> bool {
        self.params
            .iter()
            .any(|p| matches!(p, Param::SupportedExtensions(l) if l.contains(&ty.0)))
    }

    /// The Zero Checksum Acceptable EDMID, if offered (RFC 9653).
    pub fn zero_checksum_edmid(&self) -> Option<u32> {
        self.params.iter().find_map(|p| match p {
            Param::ZeroChecksumAcceptable(e) => Some(*e),
            _ => None,
        })
    }

    fn parse(kind: &'static str, v: &'a [u8]) -> Result<Self> {
        if v.len() < 16 {
            return Err(Error::MalformedChunk(kind));
        }
        let mut params = Vec::new();
        let mut unrecognized = Vec::new();
        for tlv in TlvIter::new(&v[16..]) {
            let tlv = tlv?;
            let ty = crate::param::ParamType(tlv.ty);
            if !ty.is_recognized() {
                // Kept in `params` too, so the chunk is written back as it
                // came (up to and including a parameter that stops).
                params.push(Param::Other(tlv));
                let action = ty.unrecognized_action();
                if action.reports() {
                    unrecognized.push(tlv);
                }
                if !action.continues() {
                    break;
                }
                continue;
            }
            params.push(Param::parse(tlv)?);
        }
        Ok(InitChunk {
            initiate_tag: be32(v, 0),
            a_rwnd: be32(v, 4),
            outbound_streams: be16(v, 8),
            inbound_streams: be16(v, 10),
            initial_tsn: be32(v, 12),
            params,
            unrecognized,
        })
    }

    fn value_len(&self) -> usize {
        16 + self.params.iter().map(|p| p.buffer_len()).sum::<usize>()
    }

    fn emit_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.initiate_tag.to_be_bytes());
        out.extend_from_slice(&self.a_rwnd.to_be_bytes());
        out.extend_from_slice(&self.outbound_streams.to_be_bytes());
        out.extend_from_slice(&self.inbound_streams.to_be_bytes());
        out.extend_from_slice(&self.initial_tsn.to_be_bytes());
        for p in &self.params {
            p.emit(out);
        }
    }
}

/// SACK (RFC 9260 §3.3.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SackChunk {
    /// Cumulative TSN ack.
    pub cum_tsn_ack: u32,
    /// Advertised receiver window credit.
    pub a_rwnd: u32,
    /// Gap ack blocks: (start, end) offsets from `cum_tsn_ack`, inclusive.
    pub gap_blocks: Vec<(u16, u16)>,
    /// Duplicate TSNs received since the last SACK.
    pub duplicate_tsns: Vec<u32>,
}

/// One chunk, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// DATA.
    Data(DataChunk<'a>),
    /// INIT.
    Init(InitChunk<'a>),
    /// INIT ACK (carries the state cookie).
    InitAck(InitChunk<'a>),
    /// SACK.
    Sack(SackChunk),
    /// HEARTBEAT with its Heartbeat Info (opaque to the receiver).
    Heartbeat(&'a [u8]),
    /// HEARTBEAT ACK echoing the info.
    HeartbeatAck(&'a [u8]),
    /// ABORT.
    Abort {
        /// T bit: the verification tag is the reflected one (§8.4).
        reflected: bool,
        /// Error causes, raw TLVs (see [`crate::param::cause`]).
        causes: &'a [u8],
    },
    /// SHUTDOWN.
    Shutdown {
        /// Cumulative TSN ack.
        cum_tsn_ack: u32,
    },
    /// SHUTDOWN ACK.
    ShutdownAck,
    /// ERROR: raw cause TLVs.
    Error(&'a [u8]),
    /// COOKIE ECHO: the cookie from the INIT ACK.
    CookieEcho(&'a [u8]),
    /// COOKIE ACK.
    CookieAck,
    /// SHUTDOWN COMPLETE.
    ShutdownComplete {
        /// T bit.
        reflected: bool,
    },
    /// FORWARD TSN (RFC 3758 §3.2).
    ForwardTsn {
        /// New cumulative TSN.
        new_cum_tsn: u32,
        /// (stream, SSN) pairs of ordered messages skipped.
        streams: Vec<(u16, u16)>,
    },
    /// RE-CONFIG (RFC 6525 §3.1): one or two parameters.
    ReConfig(Vec<ReConfigParam<'a>>),
    /// I-DATA (RFC 8260).
    IData(IDataChunk<'a>),
    /// I-FORWARD-TSN (RFC 8260 §2.3.1).
    IForwardTsn {
        /// New cumulative TSN.
        new_cum_tsn: u32,
        /// Messages skipped, per stream and ordering.
        entries: Vec<IForwardEntry>,
    },
    /// Any other type, kept as it came.
    Unknown(RawChunk<'a>),
}

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a> Chunk<'a> {
    /// Decodes a raw chunk. Errors only for known types whose value does
    /// not fit their layout.
    pub fn parse(raw: RawChunk<'a>) -> Result<Self> {
        let v = raw.value;
        let f = raw.flags;
        Ok(match raw.ty {
            ChunkType::DATA => {
                if v.len() < 12 {
                    return Err(Error::MalformedChunk("DATA"));
                }
                Chunk::Data(DataChunk {
                    tsn: be32(v, 0),
                    stream_id: be16(v, 4),
                    ssn: be16(v, 6),
                    ppid: be32(v, 8),
                    unordered: f & data_flags::U != 0,
                    beginning: f & data_flags::B != 0,
                    ending: f & data_flags::E != 0,
                    immediate: f & data_flags::I != 0,
                    payload: &v[12..],
                })
            }
            ChunkType::I_DATA => {
                if v.len() < 16 {
                    return Err(Error::MalformedChunk("I-DATA"));
                }
                Chunk::IData(IDataChunk {
                    tsn: be32(v, 0),
                    stream_id: be16(v, 4),
                    mid: be32(v, 8),
                    ppid_or_fsn: be32(v, 12),
                    unordered: f & data_flags::U != 0,
                    beginning: f & data_flags::B != 0,
                    ending: f & data_flags::E != 0,
                    immediate: f & data_flags::I != 0,
                    payload: &v[16..],
                })
            }
            ChunkType::INIT => Chunk::Init(InitChunk::parse("INIT", v)?),
            ChunkType::INIT_ACK => Chunk::InitAck(InitChunk::parse("INIT ACK", v)?),
            ChunkType::SACK => {
                if v.len() < 12 {
                    return Err(Error::MalformedChunk("SACK"));
                }
                let gaps = be16(v, 8) as usize;
                let dups = be16(v, 10) as usize;
                if v.len() < 12 + 4 * gaps + 4 * dups {
                    return Err(Error::MalformedChunk("SACK"));
                }
                let gap_blocks = (0..gaps)
                    .map(|i| (be16(v, 12 + 4 * i), be16(v, 14 + 4 * i)))
                    .collect();
                let base = 12 + 4 * gaps;
                let duplicate_tsns = (0..dups).map(|i| be32(v, base + 4 * i)).collect();
                Chunk::Sack(SackChunk {
                    cum_tsn_ack: be32(v, 0),
                    a_rwnd: be32(v, 4),
                    gap_blocks,
                    duplicate_tsns,
                })
            }
            ChunkType::HEARTBEAT | ChunkType::HEARTBEAT_ACK => {
                // One Heartbeat Info parameter (type 1), §3.3.5.
                let info = match TlvIter::new(v).next() {
                    Some(Ok(Tlv { ty: 1, value })) => value,
                    _ => return Err(Error::MalformedChunk("HEARTBEAT")),
                };
                if raw.ty == ChunkType::HEARTBEAT {
                    Chunk::Heartbeat(info)
                } else {
                    Chunk::HeartbeatAck(info)
                }
            }
            ChunkType::ABORT => Chunk::Abort {
                reflected: f & 1 != 0,
                causes: v,
            },
            ChunkType::SHUTDOWN => {
                if v.len() < 4 {
                    return Err(Error::MalformedChunk("SHUTDOWN"));
                }
                Chunk::Shutdown {
                    cum_tsn_ack: be32(v, 0),
                }
            }
            ChunkType::SHUTDOWN_ACK => Chunk::ShutdownAck,
            ChunkType::ERROR => Chunk::Error(v),
            ChunkType::COOKIE_ECHO => Chunk::CookieEcho(v),
            ChunkType::COOKIE_ACK => Chunk::CookieAck,
            ChunkType::SHUTDOWN_COMPLETE => Chunk::ShutdownComplete {
                reflected: f & 1 != 0,
            },
            ChunkType::FORWARD_TSN => {
                if v.len() < 4 || (v.len() - 4) % 4 != 0 {
                    return Err(Error::MalformedChunk("FORWARD TSN"));
                }
                Chunk::ForwardTsn {
                    new_cum_tsn: be32(v, 0),
                    streams: v[4..]
                        .chunks_exact(4)
                        .map(|c| (be16(c, 0), be16(c, 2)))
                        .collect(),
                }
            }
            ChunkType::I_FORWARD_TSN => {
                // New cumulative TSN, then 8-byte entries: stream (16),
                // reserved (15) and U (1), MID (32).
                if v.len() < 4 || (v.len() - 4) % 8 != 0 {
                    return Err(Error::MalformedChunk("I-FORWARD-TSN"));
                }
                Chunk::IForwardTsn {
                    new_cum_tsn: be32(v, 0),
                    entries: v[4..]
                        .chunks_exact(8)
                        .map(|c| IForwardEntry {
                            stream_id: be16(c, 0),
                            unordered: be16(c, 2) & 1 != 0,
                            mid: be32(c, 4),
                        })
                        .collect(),
                }
            }
            ChunkType::RE_CONFIG => {
                let params = TlvIter::new(v)
                    .map(|t| t.and_then(ReConfigParam::parse))
                    .collect::<Result<Vec<_>>>()?;
                if params.is_empty() || params.len() > 2 {
                    return Err(Error::MalformedChunk("RE-CONFIG"));
                }
                Chunk::ReConfig(params)
            }
            _ => Chunk::Unknown(raw),
        })
    }

    /// The chunk type.
    pub fn chunk_type(&self) -> ChunkType {
        match self {
            Chunk::Data(_) => ChunkType::DATA,
            Chunk::Init(_) => ChunkType::INIT,
            Chunk::InitAck(_) => ChunkType::INIT_ACK,
            Chunk::Sack(_) => ChunkType::SACK,
            Chunk::Heartbeat(_) => ChunkType::HEARTBEAT,
            Chunk::HeartbeatAck(_) => ChunkType::HEARTBEAT_ACK,
            Chunk::Abort { .. } => ChunkType::ABORT,
            Chunk::Shutdown { .. } => ChunkType::SHUTDOWN,
            Chunk::ShutdownAck => ChunkType::SHUTDOWN_ACK,
            Chunk::Error(_) => ChunkType::ERROR,
            Chunk::CookieEcho(_) => ChunkType::COOKIE_ECHO,
            Chunk::CookieAck => ChunkType::COOKIE_ACK,
            Chunk::ShutdownComplete { .. } => ChunkType::SHUTDOWN_COMPLETE,
            Chunk::ForwardTsn { .. } => ChunkType::FORWARD_TSN,
            Chunk::ReConfig(_) => ChunkType::RE_CONFIG,
            Chunk::IData(_) => ChunkType::I_DATA,
            Chunk::IForwardTsn { .. } => ChunkType::I_FORWARD_TSN,
            Chunk::Unknown(r) => r.ty,
        }
    }

    fn flags(&self) -> u8 {
        match self {
            Chunk::Data(d) => d.flags(),
            Chunk::IData(d) => {
                (d.ending as u8 * data_flags::E)
                    | (d.beginning as u8 * data_flags::B)
                    | (d.unordered as u8 * data_flags::U)
                    | (d.immediate as u8 * data_flags::I)
            }
            Chunk::Abort { reflected, .. } | Chunk::ShutdownComplete { reflected } => {
                *reflected as u8
            }
            Chunk::Unknown(r) => r.flags,
            _ => 0,
        }
    }

    /// Length of the value (header and padding excluded).
    fn value_len(&self) -> usize {
        match self {
            Chunk::Data(d) => 12 + d.payload.len(),
            Chunk::IData(d) => 16 + d.payload.len(),
            Chunk::Init(i) | Chunk::InitAck(i) => i.value_len(),
            Chunk::Sack(s) => 12 + 4 * s.gap_blocks.len() + 4 * s.duplicate_tsns.len(),
            Chunk::Heartbeat(i) | Chunk::HeartbeatAck(i) => padded(4 + i.len()),
            Chunk::Abort { causes: v, .. } | Chunk::Error(v) | Chunk::CookieEcho(v) => v.len(),
            Chunk::Shutdown { .. } => 4,
            Chunk::ShutdownAck | Chunk::CookieAck | Chunk::ShutdownComplete { .. } => 0,
            Chunk::ForwardTsn { streams, .. } => 4 + 4 * streams.len(),
            Chunk::IForwardTsn { entries, .. } => 4 + 8 * entries.len(),
            Chunk::ReConfig(ps) => ps.iter().map(|p| padded(4 + p.value_len())).sum(),
            Chunk::Unknown(r) => r.value.len(),
        }
    }

    /// Bytes on the wire, header and padding included.
    pub fn buffer_len(&self) -> usize {
        padded(4 + self.value_len())
    }

    /// Appends the chunk, padded to 4 bytes, to `out`. A chunk whose
    /// length exceeds 65535 bytes cannot be written; callers keep chunks
    /// within the MTU.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(self.chunk_type().0);
        out.push(self.flags());
        out.extend_from_slice(&((4 + self.value_len()) as u16).to_be_bytes());
        match self {
            Chunk::Data(d) => {
                out.extend_from_slice(&d.tsn.to_be_bytes());
                out.extend_from_slice(&d.stream_id.to_be_bytes());
                out.extend_from_slice(&d.ssn.to_be_bytes());
                out.extend_from_slice(&d.ppid.to_be_bytes());
                out.extend_from_slice(d.payload);
            }
            Chunk::IData(d) => {
                out.extend_from_slice(&d.tsn.to_be_bytes());
                out.extend_from_slice(&d.stream_id.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&d.mid.to_be_bytes());
                out.extend_from_slice(&d.ppid_or_fsn.to_be_bytes());
                out.extend_from_slice(d.payload);
            }
            Chunk::Init(i) | Chunk::InitAck(i) => i.emit_value(out),
            Chunk::Sack(s) => {
                out.extend_from_slice(&s.cum_tsn_ack.to_be_bytes());
                out.extend_from_slice(&s.a_rwnd.to_be_bytes());
                out.extend_from_slice(&(s.gap_blocks.len() as u16).to_be_bytes());
                out.extend_from_slice(&(s.duplicate_tsns.len() as u16).to_be_bytes());
                for (a, b) in &s.gap_blocks {
                    out.extend_from_slice(&a.to_be_bytes());
                    out.extend_from_slice(&b.to_be_bytes());
                }
                for d in &s.duplicate_tsns {
                    out.extend_from_slice(&d.to_be_bytes());
                }
            }
            Chunk::Heartbeat(i) | Chunk::HeartbeatAck(i) => emit_tlv(out, 1, i),
            Chunk::Abort { causes: v, .. } | Chunk::Error(v) | Chunk::CookieEcho(v) => {
                out.extend_from_slice(v)
            }
            Chunk::Shutdown { cum_tsn_ack } => out.extend_from_slice(&cum_tsn_ack.to_be_bytes()),
            Chunk::ShutdownAck | Chunk::CookieAck | Chunk::ShutdownComplete { .. } => {}
            Chunk::ForwardTsn {
                new_cum_tsn,
                streams,
            } => {
                out.extend_from_slice(&new_cum_tsn.to_be_bytes());
                for (s, n) in streams {
                    out.extend_from_slice(&s.to_be_bytes());
                    out.extend_from_slice(&n.to_be_bytes());
                }
            }
            Chunk::IForwardTsn {
                new_cum_tsn,
                entries,
            } => {
                out.extend_from_slice(&new_cum_tsn.to_be_bytes());
                for e in entries {
                    out.extend_from_slice(&e.stream_id.to_be_bytes());
                    out.extend_from_slice(&(e.unordered as u16).to_be_bytes());
                    out.extend_from_slice(&e.mid.to_be_bytes());
                }
            }
            Chunk::ReConfig(ps) => ps.iter().for_each(|p| p.emit(out)),
            Chunk::Unknown(r) => out.extend_from_slice(r.value),
        }
        let end = start + self.buffer_len();
        out.resize(end, 0);
    }
}

#[cfg(test)]
mod tests;

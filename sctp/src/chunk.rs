//! SCTP chunks (RFC 9260 §3.2, §3.3), FORWARD TSN (RFC 3758 §3.2),
//! RE-CONFIG (RFC 6525 §3.1, §4), I-DATA (RFC 8260 §2.1) and
//! I-FORWARD-TSN (RFC 8260 §2.3.1).
//!
//! [`Chunk::parse`] decodes one [`RawChunk`] (type, flags, value, as the
//! packet's chunk iterator validated them); [`Chunk::emit`] writes one,
//! padded to 4 bytes. Values borrow from the packet buffer. Chunk types
//! this implementation does not know are kept as [`Chunk::Unknown`]; what
//! to do with them follows from [`ChunkType::unrecognized_action`].

use crate::error::{Error, Result};
use crate::param::{emit_tlv, padded, Param, Tlv, TlvIter, UnrecognizedAction};

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

/// A reconfiguration parameter (RFC 6525 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReConfigParam<'a> {
    /// Outgoing SSN Reset Request (§4.1): the sender resets its outgoing
    /// streams (the receiver's incoming).
    OutgoingReset {
        /// Re-configuration request sequence number.
        request_seq: u32,
        /// The last request this sender responds to with it.
        response_seq: u32,
        /// The sender's last assigned TSN.
        last_tsn: u32,
        /// Streams to reset (empty: all).
        streams: Vec<u16>,
    },
    /// Incoming SSN Reset Request (§4.2): asks the receiver to reset its
    /// outgoing streams.
    IncomingReset {
        /// Request sequence number.
        request_seq: u32,
        /// Streams (empty: all).
        streams: Vec<u16>,
    },
    /// Re-configuration Response (§4.4).
    Response {
        /// The request answered.
        response_seq: u32,
        /// Result (§4.4: 0 nothing to do, 1 performed, 2 denied, 6 in progress...).
        result: u32,
        /// Sender's and receiver's next TSN (only for SSN/TSN resets).
        next_tsns: Option<(u32, u32)>,
    },
    /// Anything else (SSN/TSN reset, add streams), kept as it came.
    Other(Tlv<'a>),
}

/// Re-configuration results (RFC 6525 §4.4).
pub mod reconfig_result {
    /// Success - Nothing to do.
    pub const NOTHING_TO_DO: u32 = 0;
    /// Success - Performed.
    pub const PERFORMED: u32 = 1;
    /// Denied.
    pub const DENIED: u32 = 2;
    /// Error - Wrong SSN.
    pub const WRONG_SSN: u32 = 3;
    /// Error - Request already in progress.
    pub const REQUEST_IN_PROGRESS: u32 = 4;
    /// Error - Bad Sequence Number.
    pub const BAD_SEQUENCE_NUMBER: u32 = 5;
    /// In progress.
    pub const IN_PROGRESS: u32 = 6;
}

const OUTGOING_RESET: u16 = 13;
const INCOMING_RESET: u16 = 14;
const RECONFIG_RESPONSE: u16 = 16;

impl<'a> ReConfigParam<'a> {
    fn parse(tlv: Tlv<'a>) -> Result<Self> {
        let v = tlv.value;
        let streams = |from: usize| -> Result<Vec<u16>> {
            let rest = &v[from..];
            if rest.len() % 2 != 0 {
                return Err(Error::MalformedChunk("RE-CONFIG stream list"));
            }
            Ok(rest
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect())
        };
        Ok(match tlv.ty {
            OUTGOING_RESET => {
                if v.len() < 12 {
                    return Err(Error::MalformedChunk("outgoing reset request"));
                }
                ReConfigParam::OutgoingReset {
                    request_seq: be32(v, 0),
                    response_seq: be32(v, 4),
                    last_tsn: be32(v, 8),
                    streams: streams(12)?,
                }
            }
            INCOMING_RESET => {
                if v.len() < 4 {
                    return Err(Error::MalformedChunk("incoming reset request"));
                }
                ReConfigParam::IncomingReset {
                    request_seq: be32(v, 0),
                    streams: streams(4)?,
                }
            }
            RECONFIG_RESPONSE => match v.len() {
                8 => ReConfigParam::Response {
                    response_seq: be32(v, 0),
                    result: be32(v, 4),
                    next_tsns: None,
                },
                16 => ReConfigParam::Response {
                    response_seq: be32(v, 0),
                    result: be32(v, 4),
                    next_tsns: Some((be32(v, 8), be32(v, 12))),
                },
                _ => return Err(Error::MalformedChunk("re-configuration response")),
            },
            _ => ReConfigParam::Other(tlv),
        })
    }

    fn value_len(&self) -> usize {
        match self {
            ReConfigParam::OutgoingReset { streams, .. } => 12 + 2 * streams.len(),
            ReConfigParam::IncomingReset { streams, .. } => 4 + 2 * streams.len(),
            ReConfigParam::Response { next_tsns, .. } => {
                if next_tsns.is_some() {
                    16
                } else {
                    8
                }
            }
            ReConfigParam::Other(t) => t.value.len(),
        }
    }

    fn emit(&self, out: &mut Vec<u8>) {
        let mut v = Vec::with_capacity(self.value_len());
        let ty = match self {
            ReConfigParam::OutgoingReset {
                request_seq,
                response_seq,
                last_tsn,
                streams,
            } => {
                v.extend_from_slice(&request_seq.to_be_bytes());
                v.extend_from_slice(&response_seq.to_be_bytes());
                v.extend_from_slice(&last_tsn.to_be_bytes());
                streams
                    .iter()
                    .for_each(|s| v.extend_from_slice(&s.to_be_bytes()));
                OUTGOING_RESET
            }
            ReConfigParam::IncomingReset {
                request_seq,
                streams,
            } => {
                v.extend_from_slice(&request_seq.to_be_bytes());
                streams
                    .iter()
                    .for_each(|s| v.extend_from_slice(&s.to_be_bytes()));
                INCOMING_RESET
            }
            ReConfigParam::Response {
                response_seq,
                result,
                next_tsns,
            } => {
                v.extend_from_slice(&response_seq.to_be_bytes());
                v.extend_from_slice(&result.to_be_bytes());
                if let Some((a, b)) = next_tsns {
                    v.extend_from_slice(&a.to_be_bytes());
                    v.extend_from_slice(&b.to_be_bytes());
                }
                RECONFIG_RESPONSE
            }
            ReConfigParam::Other(t) => {
                v.extend_from_slice(t.value);
                t.ty
            }
        };
        emit_tlv(out, ty, &v);
    }
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
mod tests {
    use super::*;

    fn round_trip(c: &Chunk<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        c.emit(&mut out);
        assert_eq!(out.len(), c.buffer_len());
        assert_eq!(out.len() % 4, 0);
        let len = be16(&out, 2) as usize;
        let raw = RawChunk {
            ty: ChunkType(out[0]),
            flags: out[1],
            value: &out[4..len],
        };
        assert_eq!(&Chunk::parse(raw).unwrap(), c);
        out
    }

    #[test]
    fn data_chunk_layout_matches_rfc9260_3_3_1() {
        let c = Chunk::Data(DataChunk {
            tsn: 0x0102_0304,
            stream_id: 5,
            ssn: 6,
            ppid: 51,
            unordered: true,
            beginning: true,
            ending: false,
            immediate: false,
            payload: b"hi!",
        });
        let out = round_trip(&c);
        assert_eq!(
            out,
            [0, 0b110, 0, 19, 1, 2, 3, 4, 0, 5, 0, 6, 0, 0, 0, 51, b'h', b'i', b'!', 0]
        );
    }

    #[test]
    fn init_with_cookie_and_extensions_round_trips() {
        let c = Chunk::InitAck(InitChunk {
            initiate_tag: 0xdead_beef,
            a_rwnd: 131072,
            outbound_streams: 1024,
            inbound_streams: 1024,
            initial_tsn: 77,
            params: vec![
                Param::StateCookie(&[9; 37]),
                Param::ForwardTsnSupported,
                Param::SupportedExtensions(&[0xC0, 0x82]),
            ],
            unrecognized: vec![],
        });
        let out = round_trip(&c);
        assert_eq!(&out[..4], &[2, 0, 0, (4 + 16 + 44 + 4 + 8) as u8]);
        let Chunk::InitAck(i) = c else { unreachable!() };
        assert_eq!(i.state_cookie(), Some(&[9u8; 37][..]));
        assert!(i.forward_tsn_supported());
        assert!(i.supports(ChunkType::RE_CONFIG));
    }

    #[test]
    fn init_parameters_stop_or_skip_by_their_upper_bits() {
        let mut v = vec![0u8; 16];
        emit_tlv(&mut v, 0x8123, &[1]); // skip silently
        emit_tlv(&mut v, 0xC124, &[2]); // skip and report
        emit_tlv(&mut v, 0xC000, &[]); // known
        emit_tlv(&mut v, 0x4125, &[3]); // stop and report
        emit_tlv(&mut v, 0x8008, &[0x82]); // never reached
        let i = InitChunk::parse("INIT", &v).unwrap();
        let types: Vec<u16> = i.params.iter().map(|p| p.param_type().0).collect();
        assert_eq!(types, [0x8123, 0xC124, 0xC000, 0x4125]);
        assert_eq!(
            i.unrecognized,
            vec![
                Tlv {
                    ty: 0xC124,
                    value: &[2]
                },
                Tlv {
                    ty: 0x4125,
                    value: &[3]
                }
            ]
        );
    }

    #[test]
    fn sack_with_gaps_and_duplicates_round_trips() {
        let c = Chunk::Sack(SackChunk {
            cum_tsn_ack: 100,
            a_rwnd: 5000,
            gap_blocks: vec![(2, 3), (5, 9)],
            duplicate_tsns: vec![99, 98],
        });
        let out = round_trip(&c);
        assert_eq!(&out[..4], &[3, 0, 0, 32]);
        assert_eq!(&out[12..16], &[0, 2, 0, 2]);
    }

    #[test]
    fn sack_whose_counts_overrun_the_chunk_is_malformed() {
        let v = [0, 0, 0, 1, 0, 0, 0, 1, 0, 3, 0, 0, 0, 1, 0, 2];
        let raw = RawChunk {
            ty: ChunkType::SACK,
            flags: 0,
            value: &v,
        };
        assert_eq!(Chunk::parse(raw), Err(Error::MalformedChunk("SACK")));
    }

    #[test]
    fn control_chunks_round_trip() {
        for c in [
            Chunk::Heartbeat(&[1, 2, 3, 4, 5, 6]),
            Chunk::HeartbeatAck(&[1, 2, 3]),
            Chunk::Abort {
                reflected: true,
                causes: &[0, 12, 0, 4],
            },
            Chunk::Shutdown { cum_tsn_ack: 42 },
            Chunk::ShutdownAck,
            Chunk::Error(&[0, 6, 0, 8, 0x41, 0, 0, 4]),
            Chunk::CookieEcho(&[7; 13]),
            Chunk::CookieAck,
            Chunk::ShutdownComplete { reflected: false },
            Chunk::ForwardTsn {
                new_cum_tsn: 9,
                streams: vec![(1, 2), (3, 4)],
            },
            Chunk::ReConfig(vec![
                ReConfigParam::OutgoingReset {
                    request_seq: 1,
                    response_seq: 2,
                    last_tsn: 3,
                    streams: vec![4, 5, 6],
                },
                ReConfigParam::IncomingReset {
                    request_seq: 7,
                    streams: vec![],
                },
            ]),
            Chunk::ReConfig(vec![ReConfigParam::Response {
                response_seq: 1,
                result: reconfig_result::PERFORMED,
                next_tsns: None,
            }]),
            Chunk::IData(IDataChunk {
                tsn: 1,
                stream_id: 2,
                mid: 3,
                ppid_or_fsn: 53,
                unordered: false,
                beginning: true,
                ending: true,
                immediate: true,
                payload: &[1, 2, 3, 4, 5],
            }),
            Chunk::Unknown(RawChunk {
                ty: ChunkType(0x85),
                flags: 3,
                value: &[1, 2],
            }),
        ] {
            round_trip(&c);
        }
    }

    #[test]
    fn forward_tsn_layout_matches_rfc3758_3_2() {
        let out = round_trip(&Chunk::ForwardTsn {
            new_cum_tsn: 0x10,
            streams: vec![(7, 8)],
        });
        assert_eq!(out, [192, 0, 0, 12, 0, 0, 0, 0x10, 0, 7, 0, 8]);
    }

    #[test]
    fn i_data_layout_matches_rfc8260_2_1() {
        // A middle fragment: FSN in place of the PPID, no B or E.
        let out = round_trip(&Chunk::IData(IDataChunk {
            tsn: 0x0A0B_0C0D,
            stream_id: 3,
            mid: 0x0102_0304,
            ppid_or_fsn: 7,
            unordered: true,
            beginning: false,
            ending: false,
            immediate: false,
            payload: b"xyz",
        }));
        assert_eq!(
            out,
            [
                64, 0b100, 0, 23, 0x0A, 0x0B, 0x0C, 0x0D, 0, 3, 0, 0, 1, 2, 3, 4, 0, 0, 0, 7, b'x',
                b'y', b'z', 0
            ]
        );
        assert_eq!(I_DATA_HEADER_LEN, 20);
    }

    #[test]
    fn i_forward_tsn_layout_matches_rfc8260_2_3_1() {
        let out = round_trip(&Chunk::IForwardTsn {
            new_cum_tsn: 0x20,
            entries: vec![
                IForwardEntry {
                    stream_id: 5,
                    unordered: false,
                    mid: 9,
                },
                IForwardEntry {
                    stream_id: 6,
                    unordered: true,
                    mid: 0x0100_0000,
                },
            ],
        });
        assert_eq!(
            out,
            [194, 0, 0, 24, 0, 0, 0, 0x20, 0, 5, 0, 0, 0, 0, 0, 9, 0, 6, 0, 1, 1, 0, 0, 0]
        );
    }

    #[test]
    fn i_forward_tsn_with_a_partial_entry_is_malformed() {
        for len in [0usize, 3, 8, 11] {
            let v = vec![0u8; len];
            let raw = RawChunk {
                ty: ChunkType::I_FORWARD_TSN,
                flags: 0,
                value: &v,
            };
            assert_eq!(
                Chunk::parse(raw),
                Err(Error::MalformedChunk("I-FORWARD-TSN")),
                "{len}"
            );
        }
        let raw = RawChunk {
            ty: ChunkType::I_DATA,
            flags: 3,
            value: &[0; 15],
        };
        assert_eq!(Chunk::parse(raw), Err(Error::MalformedChunk("I-DATA")));
    }

    #[test]
    fn outgoing_reset_layout_matches_rfc6525_4_1() {
        let out = round_trip(&Chunk::ReConfig(vec![ReConfigParam::OutgoingReset {
            request_seq: 1,
            response_seq: 2,
            last_tsn: 3,
            streams: vec![4],
        }]));
        assert_eq!(
            out,
            [130, 0, 0, 24, 0, 13, 0, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 4, 0, 0]
        );
    }

    #[test]
    fn unknown_chunk_actions_follow_the_upper_two_bits() {
        assert_eq!(
            ChunkType(0x3f).unrecognized_action(),
            UnrecognizedAction::Stop
        );
        assert_eq!(
            ChunkType(0x7f).unrecognized_action(),
            UnrecognizedAction::StopAndReport
        );
        assert_eq!(
            ChunkType(0xbf).unrecognized_action(),
            UnrecognizedAction::Skip
        );
        assert_eq!(
            ChunkType(0xff).unrecognized_action(),
            UnrecognizedAction::SkipAndReport
        );
    }

    #[test]
    fn truncated_fixed_fields_are_errors_not_panics() {
        for ty in [0u8, 1, 2, 3, 4, 5, 7, 64, 130, 192, 194] {
            for n in 0..16 {
                let v = vec![0u8; n];
                let _ = Chunk::parse(RawChunk {
                    ty: ChunkType(ty),
                    flags: 0xff,
                    value: &v,
                });
            }
        }
        let raw = RawChunk {
            ty: ChunkType::DATA,
            flags: 0,
            value: &[0; 11],
        };
        assert_eq!(Chunk::parse(raw), Err(Error::MalformedChunk("DATA")));
    }
}

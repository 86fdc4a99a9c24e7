//! The crate's error type.

use thiserror::Error;

/// What went wrong: malformed input from the network, or misuse by the
/// caller (the `Not*`/`Invalid*` variants at the end).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than a header or a declared length needs.
    #[error("truncated: needed {needed} bytes, got {got}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The CRC32c in the common header is wrong (RFC 9260 §6.8).
    #[error("bad checksum: packet says {got:#010x}, computed {computed:#010x}")]
    BadChecksum {
        /// The value in the packet.
        got: u32,
        /// The value computed over it.
        computed: u32,
    },
    /// A chunk or parameter length below its header size (RFC 9260 §3.2).
    #[error("chunk or parameter length {0} is below its minimum")]
    BadLength(usize),
    /// A chunk whose fixed fields do not fit its declared length, or whose
    /// contents contradict themselves (counts that overrun the chunk).
    #[error("malformed {0} chunk")]
    MalformedChunk(&'static str),
    /// A packet without chunks.
    #[error("packet has no chunks")]
    NoChunks,
    /// INIT, INIT ACK or SHUTDOWN COMPLETE bundled with other chunks
    /// (RFC 9260 §6.10).
    #[error("chunk that must be alone is bundled")]
    IllegalBundling,
    /// The verification tag does not match the association (§8.5).
    #[error("wrong verification tag {0:#010x}")]
    BadVerificationTag(u32),
    /// The ports are not the association's.
    #[error("wrong ports {src} -> {dst}")]
    BadPorts {
        /// Source port in the packet.
        src: u16,
        /// Destination port in the packet.
        dst: u16,
    },
    /// A state cookie that fails its MAC, is stale or belongs to other tags.
    #[error("invalid state cookie")]
    BadCookie,
    /// A chunk stopped processing of the packet (unknown type with upper
    /// bits 00 or 01, RFC 9260 §3.2).
    #[error("unknown chunk type {0} stops processing")]
    UnknownChunkStop(u8),
    /// A DCEP message that does not parse (RFC 8832 §5).
    #[error("malformed DCEP message")]
    MalformedDcep,
    /// The association is not established (caller misuse).
    #[error("association not established")]
    NotEstablished,
    /// A stream id outside what the association negotiated.
    #[error("stream {0} outside the negotiated streams")]
    InvalidStream(u16),
    /// A message larger than the configured maximum message size.
    #[error("message of {size} bytes exceeds the maximum {max}")]
    MessageTooLarge {
        /// Message size.
        size: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The send buffer is full (caller should wait for buffered amount to fall).
    #[error("send buffer full")]
    BufferFull,
    /// No data channel with this id, or not open.
    #[error("no open data channel on stream {0}")]
    NoSuchChannel(u16),
    /// No free stream id of our parity is left.
    #[error("no stream id left")]
    NoStreamLeft,
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

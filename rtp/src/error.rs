//! The one error type of the crate.

/// What went wrong while parsing or writing RTP, RTCP, VP8 or Opus data.
///
/// Variants named after a wire structure describe bad input from the network;
/// the `Invalid*`, `TooMany*` and `*TooLong` variants describe a value the
/// caller asked us to write that the wire format cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    // ----- RTP (RFC 3550 §5.1, RFC 8285) -----
    /// The packet is shorter than its fixed header, CSRC list or extension
    /// header.
    #[error("truncated RTP header: needed {needed} bytes, got {got}")]
    TruncatedHeader {
        /// Bytes required.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The version field is not 2.
    #[error("not RTP/RTCP version 2 (version {0})")]
    BadVersion(u8),
    /// The padding count (last byte) is zero or larger than what follows
    /// the header (RFC 3550 §5.1, P bit).
    #[error("padding of {padding} bytes where {available} follow the header")]
    BadPadding {
        /// The padding count from the last byte.
        padding: usize,
        /// Bytes after the header (payload + padding).
        available: usize,
    },
    /// The header extension length runs past the end of the packet
    /// (RFC 3550 §5.3.1).
    #[error("header extension declares {declared} bytes but only {available} remain")]
    ExtensionOverflow {
        /// Bytes of extension body declared.
        declared: usize,
        /// Bytes left after the extension header.
        available: usize,
    },
    /// An RFC 8285 element runs past the end of the extension body.
    #[error("extension element id {id} at offset {offset} runs past the extension body")]
    ExtensionElementOverflow {
        /// The element id.
        id: u8,
        /// Offset of the element in the extension body.
        offset: usize,
    },
    /// A typed extension value has a length its type does not allow.
    #[error("extension value of {got} bytes where {expected} are expected")]
    BadExtensionLength {
        /// Length expected.
        expected: usize,
        /// Length present.
        got: usize,
    },
    /// A sdes:mid value that is empty or not UTF-8 (RFC 8843 §15).
    #[error("invalid MID header extension value")]
    InvalidMid,
    /// Writing: extension id 0 (RFC 8285 reserves it for padding).
    #[error("invalid header extension id {0}")]
    InvalidExtensionId(u8),
    /// Writing: an extension element longer than 255 bytes (RFC 8285 §4.3).
    #[error("header extension element of {0} bytes (at most 255)")]
    ExtensionTooLong(usize),
    /// Writing: a raw extension body that is not a multiple of 4 bytes or
    /// longer than the 16-bit length allows.
    #[error("raw header extension body of {0} bytes is not a multiple of 4 below 262141")]
    BadRawExtension(usize),
    /// Writing: more than 15 CSRCs (RFC 3550 §5.1, CC is 4 bits).
    #[error("{0} CSRCs (at most 15)")]
    TooManyCsrcs(usize),
    /// Writing: a payload type above 127.
    #[error("payload type {0} does not fit in 7 bits")]
    InvalidPayloadType(u8),
    /// Writing: a padding length of 0 where padding was requested.
    #[error("padding length must be between 1 and 255")]
    InvalidPadding,

    // ----- RTCP (RFC 3550 §6, RFC 4585, RFC 5104) -----
    /// Fewer than 4 bytes left for an RTCP header, or an empty compound.
    #[error("truncated RTCP header at offset {offset}: {got} bytes left")]
    RtcpTruncatedHeader {
        /// Offset of the packet in the compound.
        offset: usize,
        /// Bytes left.
        got: usize,
    },
    /// An RTCP packet's length field runs past the end of the compound.
    #[error("RTCP packet at offset {offset} declares {declared} bytes but {available} remain")]
    RtcpLengthOverflow {
        /// Offset of the packet in the compound.
        offset: usize,
        /// Bytes declared by the length field (header included).
        declared: usize,
        /// Bytes left from the packet start.
        available: usize,
    },
    /// The P bit is set on a packet that is not the last of the compound
    /// (RFC 3550 §6.4.1).
    #[error("RTCP packet at offset {offset} is padded but not last in the compound")]
    RtcpPaddingNotLast {
        /// Offset of the packet in the compound.
        offset: usize,
    },
    /// The RTCP padding count is zero or larger than the packet body.
    #[error("RTCP padding of {padding} bytes in a body of {available}")]
    RtcpBadPadding {
        /// The padding count from the last byte.
        padding: usize,
        /// Bytes after the RTCP header.
        available: usize,
    },
    /// A packet body shorter than its type and count require.
    #[error("RTCP packet type {pt} needs {needed} bytes of body, got {got}")]
    RtcpBodyTooShort {
        /// The packet type.
        pt: u8,
        /// Bytes required.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// An SDES chunk whose items run past the packet or lack the null
    /// terminator (RFC 3550 §6.5).
    #[error("SDES chunk {chunk} is truncated or unterminated")]
    SdesTruncated {
        /// Index of the chunk.
        chunk: usize,
    },
    /// A BYE reason whose length runs past the packet (RFC 3550 §6.6).
    #[error("BYE reason declares {declared} bytes but {available} remain")]
    ByeReasonOverflow {
        /// The length octet.
        declared: usize,
        /// Bytes after the length octet.
        available: usize,
    },
    /// A transport-cc feedback whose chunks or deltas run past the packet.
    #[error("transport-cc feedback truncated: {what}")]
    TwccTruncated {
        /// `"packet chunks"` or `"receive deltas"`.
        what: &'static str,
    },
    /// A transport-cc status symbol 3 (reserved, draft-holmer-…-01 §3.1.1).
    #[error("transport-cc feedback uses the reserved status symbol")]
    TwccReservedSymbol,
    /// `validate_compound`: the first packet is not SR or RR and reduced-size
    /// RTCP was not negotiated (RFC 3550 §6.1).
    #[error("compound RTCP starts with packet type {0}, not SR or RR")]
    RtcpFirstNotReport(u8),
    /// `validate_compound`: no SDES packet with a CNAME item (RFC 3550 §6.1).
    #[error("compound RTCP has no SDES CNAME")]
    RtcpMissingCname,
    /// Writing: more items than a count field holds.
    #[error("{count} {what} where at most {max} fit")]
    TooManyItems {
        /// What was counted.
        what: &'static str,
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Writing: a body that is not a multiple of 4 bytes where RTCP needs
    /// 32-bit alignment (APP data, report extensions, unknown bodies).
    #[error("RTCP body of {0} bytes is not 32-bit aligned")]
    RtcpUnaligned(usize),
    /// Writing: the packet would exceed the 16-bit length field.
    #[error("RTCP packet of {0} bytes exceeds the 16-bit length field")]
    RtcpTooLong(usize),
    /// Writing: an SDES item value or BYE reason longer than 255 bytes.
    #[error("text of {0} bytes (at most 255)")]
    TextTooLong(usize),
    /// Writing: a field value outside its wire range (e.g. a 5-bit FMT
    /// above 31, a REMB exponent above 63).
    #[error("{what} value {value} out of range")]
    ValueOutOfRange {
        /// The field.
        what: &'static str,
        /// The value given.
        value: u64,
    },
    /// Writing: transport-cc arrivals not in increasing sequence order, or
    /// spanning more than 65535 sequence numbers.
    #[error("transport-cc arrivals are not in increasing sequence order")]
    TwccUnsorted,
    /// Writing: a transport-cc receive delta that does not fit 16 bits of
    /// 250 µs (±8.192 s).
    #[error("transport-cc receive delta of {0} × 250 µs does not fit 16 bits")]
    TwccDeltaTooLarge(i64),
    /// Writing: a transport-cc feedback with no packets.
    #[error("transport-cc feedback with no packets")]
    TwccEmpty,

    // ----- VP8 (RFC 7741) -----
    /// A VP8 payload descriptor shorter than its flags announce.
    #[error("VP8 payload descriptor truncated: needed {needed} bytes, got {got}")]
    Vp8DescriptorTruncated {
        /// Bytes required.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// A VP8 RTP payload with a descriptor but no VP8 data.
    #[error("VP8 RTP payload carries no data after the descriptor")]
    Vp8EmptyPayload,
    /// An empty frame given to the packetizer.
    #[error("empty frame")]
    EmptyFrame,
    /// The packetizer's payload budget cannot hold a descriptor and one byte.
    #[error("payload budget of {max} bytes is below the minimum of {min}")]
    PayloadBudgetTooSmall {
        /// The budget given.
        max: usize,
        /// The smallest budget that works.
        min: usize,
    },
    /// A payload larger than the assembler accepts.
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
        /// The configured limit.
        max: usize,
    },

    // ----- Opus (RFC 6716, RFC 7587) -----
    /// An Opus packet that breaks the framing rules of RFC 6716 §3.4.
    #[error("malformed Opus packet: {0}")]
    MalformedOpus(&'static str),
}

//! Errors of the STUN codec.

use super::AttrType;

/// What went wrong while parsing, verifying or writing a STUN message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StunError {
    /// Fewer bytes than a STUN header (20) or than the header says.
    #[error("truncated STUN message: needed {needed} bytes, got {got}")]
    Truncated {
        /// Bytes required.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The two most significant bits are not zero (RFC 8489 §6.3): not STUN.
    #[error("not a STUN message: first byte {0:#04x} has its top two bits set")]
    NotStun(u8),
    /// The magic cookie is not 0x2112A442 (an RFC 3489 message, or not STUN).
    #[error("bad magic cookie {0:#010x} (expected 0x2112a442)")]
    BadMagicCookie(u32),
    /// The header length is not a multiple of 4 (RFC 8489 §5).
    #[error("message length {0} is not a multiple of 4")]
    UnalignedLength(u16),
    /// The datagram holds more bytes than the header length announces.
    #[error(
        "message length field says {declared} bytes of attributes but {actual} follow the header"
    )]
    LengthMismatch {
        /// The header's length field.
        declared: u16,
        /// Bytes after the header.
        actual: usize,
    },
    /// An attribute's value runs past the end of the message.
    #[error(
        "attribute {attr} at offset {offset} declares {declared} bytes but only {available} remain"
    )]
    TruncatedAttribute {
        /// The attribute type.
        attr: AttrType,
        /// Offset of the attribute header in the message.
        offset: usize,
        /// Declared value length.
        declared: u16,
        /// Bytes left after the attribute header.
        available: usize,
    },
    /// An attribute follows FINGERPRINT, which must be last (RFC 8489 §14.7).
    #[error("attribute {attr} at offset {offset} follows FINGERPRINT, which must be last")]
    AttributeAfterFingerprint {
        /// The attribute type.
        attr: AttrType,
        /// Offset of the attribute header.
        offset: usize,
    },
    /// An attribute value has a length its type does not allow.
    #[error("attribute {attr} has invalid length {len}")]
    BadAttributeLength {
        /// The attribute type.
        attr: AttrType,
        /// Its value length.
        len: usize,
    },
    /// An address attribute with a family other than IPv4 (1) or IPv6 (2).
    #[error("attribute {attr} has unknown address family {family:#04x}")]
    UnknownAddressFamily {
        /// The attribute type.
        attr: AttrType,
        /// The family byte.
        family: u8,
    },
    /// A text attribute that is not UTF-8.
    #[error("attribute {0} is not valid UTF-8")]
    InvalidUtf8(AttrType),
    /// An ERROR-CODE whose class is outside 3..=6 or number outside 0..=99
    /// (RFC 8489 §14.8).
    #[error("ERROR-CODE has invalid class {class} / number {number}")]
    BadErrorCode {
        /// The class (hundreds digit).
        class: u8,
        /// The number (0..99 expected).
        number: u8,
    },
    /// The message has no MESSAGE-INTEGRITY (or -SHA256) to verify.
    #[error("message has no {0} attribute")]
    MissingAttribute(AttrType),
    /// MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256 does not match the key.
    #[error("{0} does not match: wrong password or altered message")]
    IntegrityMismatch(AttrType),
    /// FINGERPRINT does not match the CRC-32 of the message.
    #[error("FINGERPRINT mismatch: message says {got:#010x}, computed {computed:#010x}")]
    FingerprintMismatch {
        /// The value in the message.
        got: u32,
        /// The value computed over the message.
        computed: u32,
    },
    /// Writing: the message would exceed 65535 bytes of attributes, or an
    /// attribute value 65535 bytes.
    #[error("message too long to encode")]
    TooLong,
    /// Writing: an attribute added after FINGERPRINT, or a second integrity
    /// attribute in an order RFC 8489 does not allow.
    #[error("attribute {0} cannot be added at this point of the message")]
    OutOfOrder(AttrType),
}

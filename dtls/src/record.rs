//! The DTLS record layer's framing (RFC 6347 §4.1): a checked view of each
//! record in a datagram, and the writer.
//!
//! ```text
//! struct {
//!     ContentType type;            // 1 byte
//!     ProtocolVersion version;     // 2 bytes, {254, 253} for DTLS 1.2
//!     uint16 epoch;
//!     uint48 sequence_number;
//!     uint16 length;
//!     opaque fragment[length];
//! } DTLSPlaintext;
//! ```
//!
//! A datagram may carry several records (§4.1.1). Invalid records are
//! discarded silently (§4.1.2.7): the iterator stops at the first one that
//! does not frame, since nothing after it can be trusted to start a record.

/// The record header's length.
pub const HEADER_LEN: usize = 13;

/// DTLS 1.2's wire version (RFC 6347 §4.1: `{254, 253}`).
pub const DTLS1_2: u16 = 0xfefd;
/// DTLS 1.3's version number in supported_versions (RFC 9147 §5.3).
pub const DTLS1_3: u16 = 0xfefc;
/// DTLS 1.0's wire version, which ClientHello records may carry.
pub const DTLS1_0: u16 = 0xfeff;

/// Record content types (RFC 5246 §6.2.1, RFC 6347 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// 20.
    ChangeCipherSpec,
    /// 21.
    Alert,
    /// 22.
    Handshake,
    /// 23.
    ApplicationData,
    /// Anything else (e.g. DTLS 1.3's ack, 26); such records are dropped.
    Other(u8),
}

impl ContentType {
    /// From the wire byte.
    pub fn from_u8(b: u8) -> ContentType {
        match b {
            20 => ContentType::ChangeCipherSpec,
            21 => ContentType::Alert,
            22 => ContentType::Handshake,
            23 => ContentType::ApplicationData,
            o => ContentType::Other(o),
        }
    }

    /// The wire byte.
    pub fn as_u8(self) -> u8 {
        match self {
            ContentType::ChangeCipherSpec => 20,
            ContentType::Alert => 21,
            ContentType::Handshake => 22,
            ContentType::ApplicationData => 23,
            ContentType::Other(o) => o,
        }
    }
}

/// Why a record could not be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Fewer than 13 bytes left.
    #[error("truncated record header ({0} bytes)")]
    TruncatedHeader(usize),
    /// The length field runs past the datagram.
    #[error("record length {length} exceeds the {available} bytes left")]
    TruncatedFragment {
        /// The header's length field.
        length: usize,
        /// Bytes after the header.
        available: usize,
    },
    /// Not a DTLS 1.x record: the first byte is a DTLS 1.3 unified header
    /// (`001xxxxx`, RFC 9147 §4) or the version is not 0xfeXX.
    #[error("not a DTLS 1.0/1.2 record (first byte {first:#04x}, version {version:#06x})")]
    NotDtls12 {
        /// The first byte.
        first: u8,
        /// The version field.
        version: u16,
    },
    /// A fragment longer than 2^14 + 2048 bytes (RFC 6347 §4.1, RFC 5246
    /// §6.2.3: the largest protected fragment).
    #[error("record fragment of {0} bytes is over 2^14 + 2048")]
    TooLong(usize),
}

/// One record of a datagram, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The content type.
    pub content_type: ContentType,
    /// The version field.
    pub version: u16,
    /// The epoch (0 before ChangeCipherSpec).
    pub epoch: u16,
    /// The 48-bit sequence number.
    pub sequence: u64,
    /// The fragment (ciphertext in epochs above 0).
    pub fragment: &'a [u8],
    /// The 13 header bytes (the AEAD additional data is built from them).
    pub header: &'a [u8],
}

impl<'a> Record<'a> {
    /// Frames the first record of `data`; returns it and what follows.
    pub fn parse(data: &'a [u8]) -> Result<(Record<'a>, &'a [u8]), RecordError> {
        if data.len() < HEADER_LEN {
            return Err(RecordError::TruncatedHeader(data.len()));
        }
        let version = u16::from_be_bytes([data[1], data[2]]);
        if data[0] & 0xe0 == 0x20 || version >> 8 != 0xfe {
            return Err(RecordError::NotDtls12 {
                first: data[0],
                version,
            });
        }
        let epoch = u16::from_be_bytes([data[3], data[4]]);
        let sequence = data[5..11]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let length = usize::from(u16::from_be_bytes([data[11], data[12]]));
        if length > (1 << 14) + 2048 {
            return Err(RecordError::TooLong(length));
        }
        let available = data.len() - HEADER_LEN;
        if length > available {
            return Err(RecordError::TruncatedFragment { length, available });
        }
        let record = Record {
            content_type: ContentType::from_u8(data[0]),
            version,
            epoch,
            sequence,
            fragment: &data[HEADER_LEN..HEADER_LEN + length],
            header: &data[..HEADER_LEN],
        };
        Ok((record, &data[HEADER_LEN + length..]))
    }
}

/// The records of a datagram in order. After an error it yields nothing
/// more (the caller counts the error and drops the rest).
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
}

/// Iterates the records of `datagram`.
pub fn records(datagram: &[u8]) -> Records<'_> {
    Records { rest: datagram }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Record::parse(self.rest) {
            Ok((r, rest)) => {
                self.rest = rest;
                Some(Ok(r))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Appends a record header for a fragment of `length` bytes; the caller
/// appends the fragment (or seals it in place after the header).
pub fn write_header(
    out: &mut Vec<u8>,
    content_type: ContentType,
    version: u16,
    epoch: u16,
    sequence: u64,
    length: u16,
) {
    out.push(content_type.as_u8());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes()[2..]);
    out.extend_from_slice(&length.to_be_bytes());
}

/// Appends a whole plaintext record.
pub fn write_record(
    out: &mut Vec<u8>,
    content_type: ContentType,
    version: u16,
    epoch: u16,
    sequence: u64,
    fragment: &[u8],
) {
    let len = u16::try_from(fragment.len()).unwrap_or(u16::MAX);
    write_header(out, content_type, version, epoch, sequence, len);
    out.extend_from_slice(&fragment[..usize::from(len)]);
}

//! The DNS message format as multicast DNS uses it (RFC 1035 §4.1, with the
//! mDNS changes of RFC 6762 §18): a 12-byte header, questions, and resource
//! records. Only what ICE's mDNS candidates need is given meaning (A and
//! AAAA records, RFC 1035 §3.4.1 and RFC 3596 §2.2); every other record is
//! kept as its type and length so a packet full of them still parses.
//!
//! ```text
//!  0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                      ID                       |
//! |QR|   Opcode  |AA|TC|RD|RA|   Z    |   RCODE   |
//! |                    QDCOUNT                    |
//! |                    ANCOUNT                    |
//! |                    NSCOUNT                    |
//! |                    ARCOUNT                    |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! ```
//!
//! Names may be compressed (RFC 1035 §4.1.4): a label length with its two
//! top bits set is a pointer to an earlier name. A pointer must point
//! before itself, so a hostile packet cannot make the reader loop.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The header length.
pub const HEADER_LEN: usize = 12;
/// The longest name (RFC 1035 §2.3.4), in wire bytes.
pub const MAX_NAME_LEN: usize = 255;
/// The longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Most questions plus records read from one message: an mDNS answer to
/// an ICE query has one or two; a packet announcing more is cut off here
/// (what was read before is kept).
pub const MAX_ENTRIES: usize = 64;

/// Field offsets of the header.
mod field {
    use std::ops::Range;
    pub const ID: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const QDCOUNT: Range<usize> = 4..6;
    pub const ANCOUNT: Range<usize> = 6..8;
    pub const NSCOUNT: Range<usize> = 8..10;
    pub const ARCOUNT: Range<usize> = 10..12;
}

/// The QR bit: a response.
const FLAG_RESPONSE: u16 = 0x8000;
/// The AA bit: an authoritative answer (set on every mDNS response,
/// RFC 6762 §18.4).
const FLAG_AUTHORITATIVE: u16 = 0x0400;
/// The top bit of a question's class: the querier would take a unicast
/// response ("QU", RFC 6762 §5.4); of a record's class: cache-flush
/// (RFC 6762 §10.2).
const CLASS_TOP_BIT: u16 = 0x8000;
/// The Internet class.
pub const CLASS_IN: u16 = 1;

/// A record type (RFC 1035 §3.2.2); unknown ones keep their number.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordType(pub u16);

impl RecordType {
    /// An IPv4 address (RFC 1035 §3.4.1).
    pub const A: RecordType = RecordType(1);
    /// An IPv6 address (RFC 3596 §2.1).
    pub const AAAA: RecordType = RecordType(28);
    /// Any type (a question only, RFC 1035 §3.2.3).
    pub const ANY: RecordType = RecordType(255);
}

impl std::fmt::Debug for RecordType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            RecordType::A => f.write_str("A"),
            RecordType::AAAA => f.write_str("AAAA"),
            RecordType::ANY => f.write_str("ANY"),
            RecordType(n) => write!(f, "RecordType({n:#06x})"),
        }
    }
}

/// Why a message does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MdnsError {
    /// The message ends inside a field.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// A label longer than 63 bytes, or of the reserved kinds `01`/`10`.
    #[error("bad label length byte {0:#04x}")]
    BadLabel(u8),
    /// A compression pointer that does not point before itself.
    #[error("compression pointer to {0} does not point backwards")]
    BadPointer(usize),
    /// A name longer than 255 bytes.
    #[error("name longer than 255 bytes")]
    NameTooLong,
    /// A label that is not UTF-8 (mDNS names are UTF-8, RFC 6762 §16).
    #[error("label is not UTF-8")]
    NotUtf8,
    /// An A or AAAA record whose data is not 4 or 16 bytes.
    #[error("{0:?} record with {1} bytes of data")]
    BadRecordData(RecordType, usize),
    /// A name we were asked to write that cannot be written.
    #[error("name {0:?} cannot be written (empty or over-long label)")]
    BadName(String),
}

/// One question (RFC 1035 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name, labels joined by dots, without the trailing dot.
    pub name: String,
    /// The type asked for.
    pub qtype: RecordType,
    /// The "QU" bit (RFC 6762 §5.4).
    pub unicast_response: bool,
}

/// A record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    /// An A record.
    A(Ipv4Addr),
    /// An AAAA record.
    Aaaa(Ipv6Addr),
    /// Any other type, kept as its type and data length.
    Other(RecordType, usize),
}

impl RecordData {
    /// The record's type.
    pub fn record_type(&self) -> RecordType {
        match self {
            RecordData::A(_) => RecordType::A,
            RecordData::Aaaa(_) => RecordType::AAAA,
            RecordData::Other(t, _) => *t,
        }
    }
}

/// One resource record (RFC 1035 §4.1.3) in the Internet class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The owner name, without the trailing dot.
    pub name: String,
    /// What the record says.
    pub data: RecordData,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// The cache-flush bit (RFC 6762 §10.2).
    pub cache_flush: bool,
    /// The class without the cache-flush bit (1: Internet).
    pub class: u16,
}

/// A whole message: header fields, questions, and the records of the
/// answer, authority and additional sections together (mDNS responders put
/// address records in any of them, RFC 6762 §6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The query ID (0 in multicast queries, RFC 6762 §18.1).
    pub id: u16,
    /// A response (QR set) rather than a query.
    pub response: bool,
    /// The questions.
    pub questions: Vec<Question>,
    /// The records.
    pub records: Vec<Record>,
}

/// Reads the message bytes with bounds checks; every accessor returns
/// [`MdnsError::Truncated`] rather than panicking.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MdnsError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or(MdnsError::Truncated(self.buf.len()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, MdnsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, MdnsError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A possibly compressed name starting at the current position; the
    /// position moves past its in-line part.
    fn name(&mut self) -> Result<String, MdnsError> {
        let mut out = String::new();
        let mut wire_len = 0usize;
        let mut at = self.pos;
        // Where reading resumes: after the first pointer, or after the end.
        let mut resume = None;
        loop {
            let len = *self.buf.get(at).ok_or(MdnsError::Truncated(at))?;
            match len & 0xC0 {
                0x00 => {
                    if len == 0 {
                        at += 1;
                        break;
                    }
                    let len = usize::from(len);
                    let label = self
                        .buf
                        .get(at + 1..at + 1 + len)
                        .ok_or(MdnsError::Truncated(self.buf.len()))?;
                    wire_len += len + 1;
                    if wire_len + 1 > MAX_NAME_LEN {
                        return Err(MdnsError::NameTooLong);
                    }
                    let label = std::str::from_utf8(label).map_err(|_| MdnsError::NotUtf8)?;
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(label);
                    at += 1 + len;
                }
                0xC0 => {
                    let lo = *self.buf.get(at + 1).ok_or(MdnsError::Truncated(at + 1))?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3F, lo]));
                    // Strictly backwards: each jump lowers `at`, so the
                    // walk ends.
                    if target >= at {
                        return Err(MdnsError::BadPointer(target));
                    }
                    resume.get_or_insert(at + 2);
                    at = target;
                }
                _ => return Err(MdnsError::BadLabel(len)),
            }
        }
        self.pos = resume.unwrap_or(at);
        Ok(out)
    }
}

impl Message {
    /// Parses a message. Sections beyond [`MAX_ENTRIES`] entries in all
    /// are not read.
    pub fn parse(buf: &[u8]) -> Result<Message, MdnsError> {
        if buf.len() < HEADER_LEN {
            return Err(MdnsError::Truncated(buf.len()));
        }
        let be = |r: std::ops::Range<usize>| u16::from_be_bytes([buf[r.start], buf[r.start + 1]]);
        let flags = be(field::FLAGS);
        let qd = usize::from(be(field::QDCOUNT));
        let records = usize::from(be(field::ANCOUNT))
            + usize::from(be(field::NSCOUNT))
            + usize::from(be(field::ARCOUNT));
        let mut r = Reader {
            buf,
            pos: HEADER_LEN,
        };
        let mut m = Message {
            id: be(field::ID),
            response: flags & FLAG_RESPONSE != 0,
            questions: Vec::new(),
            records: Vec::new(),
        };
        for _ in 0..qd.min(MAX_ENTRIES) {
            let name = r.name()?;
            let qtype = RecordType(r.u16()?);
            let class = r.u16()?;
            m.questions.push(Question {
                name,
                qtype,
                unicast_response: class & CLASS_TOP_BIT != 0,
            });
        }
        if qd > MAX_ENTRIES {
            return Ok(m);
        }
        for _ in 0..records.min(MAX_ENTRIES - qd) {
            let name = r.name()?;
            let rtype = RecordType(r.u16()?);
            let class = r.u16()?;
            let ttl = r.u32()?;
            let len = usize::from(r.u16()?);
            let rdata = r.take(len)?;
            let data = match rtype {
                RecordType::A => RecordData::A(Ipv4Addr::from(
                    <[u8; 4]>::try_from(rdata).map_err(|_| MdnsError::BadRecordData(rtype, len))?,
                )),
                RecordType::AAAA => RecordData::Aaaa(Ipv6Addr::from(
                    <[u8; 16]>::try_from(rdata)
                        .map_err(|_| MdnsError::BadRecordData(rtype, len))?,
                )),
                other => RecordData::Other(other, len),
            };
            m.records.push(Record {
                name,
                data,
                ttl,
                cache_flush: class & CLASS_TOP_BIT != 0,
                class: class & !CLASS_TOP_BIT,
            });
        }
        Ok(m)
    }

    /// Writes the message (names uncompressed; records of type
    /// [`RecordData::Other`] cannot be written and are left out).
    pub fn emit(&self) -> Result<Vec<u8>, MdnsError> {
        let records: Vec<&Record> = self
            .records
            .iter()
            .filter(|r| !matches!(r.data, RecordData::Other(..)))
            .collect();
        let count = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&self.id.to_be_bytes());
        let flags = if self.response {
            FLAG_RESPONSE | FLAG_AUTHORITATIVE
        } else {
            0
        };
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&count(self.questions.len()).to_be_bytes());
        out.extend_from_slice(&count(records.len()).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        for q in &self.questions {
            write_name(&mut out, &q.name)?;
            out.extend_from_slice(&q.qtype.0.to_be_bytes());
            let class = CLASS_IN | if q.unicast_response { CLASS_TOP_BIT } else { 0 };
            out.extend_from_slice(&class.to_be_bytes());
        }
        for r in records {
            write_name(&mut out, &r.name)?;
            out.extend_from_slice(&r.data.record_type().0.to_be_bytes());
            let class = r.class | if r.cache_flush { CLASS_TOP_BIT } else { 0 };
            out.extend_from_slice(&class.to_be_bytes());
            out.extend_from_slice(&r.ttl.to_be_bytes());
            match r.data {
                RecordData::A(a) => {
                    out.extend_from_slice(&4u16.to_be_bytes());
                    out.extend_from_slice(&a.octets());
                }
                RecordData::Aaaa(a) => {
                    out.extend_from_slice(&16u16.to_be_bytes());
                    out.extend_from_slice(&a.octets());
                }
                RecordData::Other(..) => {}
            }
        }
        Ok(out)
    }
}

/// Writes `name` (labels joined by dots, no trailing dot) as labels
/// (RFC 1035 §3.1), uncompressed.
fn write_name(out: &mut Vec<u8>, name: &str) -> Result<(), MdnsError> {
    let bad = || MdnsError::BadName(name.to_string());
    if name.len() + 2 > MAX_NAME_LEN {
        return Err(bad());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err(bad());
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An mDNS response as Chromium's responder sends it for an ICE
    /// candidate's name (header, one A answer with cache-flush, TTL 120).
    fn chromium_style_answer() -> Vec<u8> {
        let mut b = vec![
            0x00, 0x00, 0x84, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        ];
        b.push(36);
        b.extend_from_slice(b"2c1e4f2a-8d0b-4b5e-9a61-3f0c5b7d9e11");
        b.push(5);
        b.extend_from_slice(b"local");
        b.push(0);
        b.extend_from_slice(&[0x00, 0x01, 0x80, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x04]);
        b.extend_from_slice(&[10, 9, 0, 2]);
        b
    }

    #[test]
    fn an_a_answer_parses_and_writes_back_to_the_same_bytes() {
        let bytes = chromium_style_answer();
        let m = Message::parse(&bytes).unwrap();
        assert!(m.response);
        assert!(m.questions.is_empty());
        assert_eq!(
            m.records,
            [Record {
                name: "2c1e4f2a-8d0b-4b5e-9a61-3f0c5b7d9e11.local".into(),
                data: RecordData::A(Ipv4Addr::new(10, 9, 0, 2)),
                ttl: 120,
                cache_flush: true,
                class: CLASS_IN,
            }]
        );
        assert_eq!(m.emit().unwrap(), bytes);
    }

    #[test]
    fn a_query_for_a_and_aaaa_round_trips() {
        let name = "5d3c1b7e-0000-4000-8000-123456789abc.local";
        let m = Message {
            id: 0,
            response: false,
            questions: vec![
                Question {
                    name: name.into(),
                    qtype: RecordType::A,
                    unicast_response: false,
                },
                Question {
                    name: name.into(),
                    qtype: RecordType::AAAA,
                    unicast_response: true,
                },
            ],
            records: vec![],
        };
        let b = m.emit().unwrap();
        assert_eq!(&b[..12], &[0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
        // Type A, class IN; then type AAAA, class IN with the QU bit.
        let q1 = 12 + 1 + 36 + 1 + 5 + 1;
        assert_eq!(&b[q1..q1 + 4], &[0, 1, 0, 1]);
        assert_eq!(&b[b.len() - 4..], &[0, 28, 0x80, 1]);
        assert_eq!(Message::parse(&b).unwrap(), m);
    }

    #[test]
    fn compressed_names_are_followed_backwards_only() {
        // A question for "x.local", then an AAAA answer whose name is a
        // pointer to offset 12.
        let mut b = vec![0, 0, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0];
        b.extend_from_slice(&[1, b'x', 5, b'l', b'o', b'c', b'a', b'l', 0, 0, 28, 0, 1]);
        b.extend_from_slice(&[0xC0, 12, 0, 28, 0, 1, 0, 0, 0, 10, 0, 16]);
        b.extend_from_slice(&"fd00::9".parse::<Ipv6Addr>().unwrap().octets());
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.records[0].name, "x.local");
        assert_eq!(
            m.records[0].data,
            RecordData::Aaaa("fd00::9".parse().unwrap())
        );
        // A pointer to itself is refused, not followed forever.
        let mut looped = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        looped.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        assert_eq!(Message::parse(&looped), Err(MdnsError::BadPointer(12)));
    }

    #[test]
    fn hostile_messages_are_errors() {
        assert_eq!(Message::parse(&[0; 11]), Err(MdnsError::Truncated(11)));
        // One question announced, none there.
        assert!(matches!(
            Message::parse(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
            Err(MdnsError::Truncated(_))
        ));
        // Label kind 01.
        let mut b = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41];
        b.extend_from_slice(&[0; 8]);
        assert_eq!(Message::parse(&b), Err(MdnsError::BadLabel(0x41)));
        // An A record with 5 bytes of data.
        let mut a = chromium_style_answer();
        let n = a.len();
        a[n - 5] = 5;
        a.push(0);
        assert_eq!(
            Message::parse(&a),
            Err(MdnsError::BadRecordData(RecordType::A, 5))
        );
        // A name of 300 bytes.
        let mut long = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for _ in 0..5 {
            long.push(60);
            long.extend_from_slice(&[b'a'; 60]);
        }
        long.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(Message::parse(&long), Err(MdnsError::NameTooLong));
        assert!(matches!(
            Message {
                questions: vec![Question {
                    name: "a..local".into(),
                    qtype: RecordType::A,
                    unicast_response: false
                }],
                ..Message::default()
            }
            .emit(),
            Err(MdnsError::BadName(_))
        ));
    }

    #[test]
    fn unknown_records_are_kept_as_type_and_length() {
        let mut b = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        b.extend_from_slice(&[1, b'x', 0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 3, 2, b'h', b'i']);
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.records[0].data, RecordData::Other(RecordType(16), 3));
        assert_eq!(format!("{:?}", RecordType(16)), "RecordType(0x0010)");
    }
}

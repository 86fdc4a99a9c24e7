//! The zero-copy checked view over a received STUN message (RFC 8489 §5,
//! §6.3, §14).
//!
//! [`Message::parse`] validates the header and walks the attribute list once;
//! afterwards no accessor can panic or read out of bounds. Attributes are
//! decoded lazily, so a malformed value in one attribute does not hide the
//! others. Parsing allocates nothing.

use super::attr::{Attribute, ErrorCode};
use super::integrity::{self, ShortTermKey};
use super::types::{split_message_type, AttrType, Class, Method, TransactionId};
use super::types::{HEADER_LEN, MAGIC_COOKIE};
use super::StunError;
use std::net::SocketAddr;

/// At most this many unknown comprehension-required attribute types are
/// remembered for a 420 answer (RFC 8489 §14.9); more are still rejected.
pub const MAX_UNKNOWN_REPORTED: usize = 8;

/// Field offsets of the STUN header (RFC 8489 §5, figure 2).
mod field {
    use std::ops::Range;
    pub const TYPE: Range<usize> = 0..2;
    pub const LENGTH: Range<usize> = 2..4;
    pub const COOKIE: Range<usize> = 4..8;
    pub const TRANSACTION_ID: Range<usize> = 8..20;
}

/// Quick test of whether a datagram looks like STUN: first byte 0..=3
/// (RFC 7983 §7), a full header and the magic cookie. It does not validate
/// the attribute list; use [`Message::parse`] for that.
pub fn looks_like_stun(buf: &[u8]) -> bool {
    buf.len() >= HEADER_LEN
        && buf[0] < 4
        && u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) == MAGIC_COOKIE
}

/// A validated STUN message borrowed from a receive buffer.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    buf: &'a [u8],
    class: Class,
    method: Method,
    /// Offset of the first MESSAGE-INTEGRITY attribute header.
    integrity: Option<u32>,
    /// Offset of the first MESSAGE-INTEGRITY-SHA256 attribute header.
    integrity_sha256: Option<u32>,
    /// Offset of the FINGERPRINT attribute header.
    fingerprint: Option<u32>,
    unknown_required: [u16; MAX_UNKNOWN_REPORTED],
    unknown_required_len: u8,
    unknown_required_total: u16,
}

impl<'a> Message<'a> {
    /// Validates `buf` as one whole STUN message: header checks of RFC 8489
    /// §6.3, length consistency, attribute TLV bounds, and FINGERPRINT last.
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, StunError> {
        if buf.len() < HEADER_LEN {
            return Err(StunError::Truncated {
                needed: HEADER_LEN,
                got: buf.len(),
            });
        }
        if buf[0] & 0xC0 != 0 {
            return Err(StunError::NotStun(buf[0]));
        }
        let cookie = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        if cookie != MAGIC_COOKIE {
            return Err(StunError::BadMagicCookie(cookie));
        }
        let declared = u16::from_be_bytes([buf[field::LENGTH.start], buf[field::LENGTH.start + 1]]);
        if declared % 4 != 0 {
            return Err(StunError::UnalignedLength(declared));
        }
        let total = HEADER_LEN + declared as usize;
        if buf.len() < total {
            return Err(StunError::Truncated {
                needed: total,
                got: buf.len(),
            });
        }
        if buf.len() > total {
            return Err(StunError::LengthMismatch {
                declared,
                actual: buf.len() - HEADER_LEN,
            });
        }
        let ty = u16::from_be_bytes([buf[field::TYPE.start], buf[field::TYPE.start + 1]]);
        let (class, method) = split_message_type(ty);

        let mut msg = Message {
            buf,
            class,
            method,
            integrity: None,
            integrity_sha256: None,
            fingerprint: None,
            unknown_required: [0; MAX_UNKNOWN_REPORTED],
            unknown_required_len: 0,
            unknown_required_total: 0,
        };

        let mut off = HEADER_LEN;
        while off < total {
            // `total - off` is a positive multiple of 4, so at least 4 bytes.
            let attr = AttrType(u16::from_be_bytes([buf[off], buf[off + 1]]));
            let len = u16::from_be_bytes([buf[off + 2], buf[off + 3]]);
            let padded = (len as usize + 3) & !3;
            let available = total - off - 4;
            if padded > available {
                return Err(StunError::TruncatedAttribute {
                    attr,
                    offset: off,
                    declared: len,
                    available,
                });
            }
            if msg.fingerprint.is_some() {
                return Err(StunError::AttributeAfterFingerprint { attr, offset: off });
            }
            // Offsets fit in u32: total <= 20 + 65535.
            let off32 = off as u32;
            let ignored = msg.filter().ignores(attr, off);
            match attr {
                AttrType::FINGERPRINT => msg.fingerprint = Some(off32),
                _ if ignored => {}
                AttrType::MESSAGE_INTEGRITY => msg.integrity = Some(off32),
                AttrType::MESSAGE_INTEGRITY_SHA256 => msg.integrity_sha256 = Some(off32),
                a if a.is_comprehension_required() && !a.is_known() => {
                    if (msg.unknown_required_len as usize) < MAX_UNKNOWN_REPORTED {
                        msg.unknown_required[msg.unknown_required_len as usize] = a.0;
                        msg.unknown_required_len += 1;
                    }
                    msg.unknown_required_total = msg.unknown_required_total.saturating_add(1);
                }
                _ => {}
            }
            off += 4 + padded;
        }
        Ok(msg)
    }

    /// [`Message::parse`], then FINGERPRINT verified when the message has
    /// one (RFC 8489 §14.7).
    pub fn parse_verified(buf: &'a [u8]) -> Result<Message<'a>, StunError> {
        let msg = Message::parse(buf)?;
        if msg.has_fingerprint() {
            msg.verify_fingerprint()?;
        }
        Ok(msg)
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The message class.
    pub fn class(&self) -> Class {
        self.class
    }

    /// The message method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The transaction id.
    pub fn transaction_id(&self) -> TransactionId {
        let mut id = [0u8; 12];
        id.copy_from_slice(&self.buf[field::TRANSACTION_ID]);
        TransactionId(id)
    }

    /// The magic cookie bytes (always 0x2112A442 after a successful parse).
    pub fn cookie(&self) -> [u8; 4] {
        let mut c = [0u8; 4];
        c.copy_from_slice(&self.buf[field::COOKIE]);
        c
    }

    /// The attributes in wire order. Attributes that follow
    /// MESSAGE-INTEGRITY(-SHA256) and that RFC 8489 §14.5/§14.6 says to ignore
    /// are not yielded; see [`Message::all_attributes`] for the raw list.
    pub fn attributes(&self) -> RawAttributes<'a> {
        RawAttributes {
            buf: self.buf,
            off: HEADER_LEN,
            filter: Some(self.filter()),
        }
    }

    /// Every attribute in wire order, including those the RFC says to ignore
    /// (for inspection tools).
    pub fn all_attributes(&self) -> RawAttributes<'a> {
        RawAttributes {
            buf: self.buf,
            off: HEADER_LEN,
            filter: None,
        }
    }

    /// Whether RFC 8489 says to ignore this attribute (it follows an
    /// integrity attribute). [`Message::attributes`] leaves these out.
    pub fn is_ignored(&self, raw: &RawAttribute<'a>) -> bool {
        self.filter().ignores(raw.attr, raw.offset)
    }

    fn filter(&self) -> IgnoreFilter {
        IgnoreFilter {
            integrity: self.integrity.map_or(usize::MAX, |o| o as usize),
            integrity_sha256: self.integrity_sha256.map_or(usize::MAX, |o| o as usize),
        }
    }

    /// The first (non-ignored) attribute of type `attr`, raw.
    pub fn raw(&self, attr: AttrType) -> Option<RawAttribute<'a>> {
        match attr {
            AttrType::MESSAGE_INTEGRITY => self.integrity.map(|o| self.raw_at(o as usize)),
            AttrType::MESSAGE_INTEGRITY_SHA256 => {
                self.integrity_sha256.map(|o| self.raw_at(o as usize))
            }
            AttrType::FINGERPRINT => self.fingerprint.map(|o| self.raw_at(o as usize)),
            _ => self.attributes().find(|a| a.attr == attr),
        }
    }

    fn raw_at(&self, off: usize) -> RawAttribute<'a> {
        let len = u16::from_be_bytes([self.buf[off + 2], self.buf[off + 3]]) as usize;
        RawAttribute {
            attr: AttrType(u16::from_be_bytes([self.buf[off], self.buf[off + 1]])),
            value: &self.buf[off + 4..off + 4 + len],
            offset: off,
        }
    }

    /// The first attribute of type `attr`, decoded.
    pub fn get(&self, attr: AttrType) -> Option<Result<Attribute<'a>, StunError>> {
        self.raw(attr).map(|raw| raw.decode(&self.transaction_id()))
    }

    /// Unknown comprehension-required attribute types, as a server lists them
    /// in UNKNOWN-ATTRIBUTES of a 420 response (RFC 8489 §6.3.1.1). At most
    /// [`MAX_UNKNOWN_REPORTED`] are listed; see
    /// [`Message::has_unknown_required`].
    pub fn unknown_required(&self) -> impl Iterator<Item = AttrType> + '_ {
        self.unknown_required[..self.unknown_required_len as usize]
            .iter()
            .map(|&t| AttrType(t))
    }

    /// Whether any unknown comprehension-required attribute is present.
    pub fn has_unknown_required(&self) -> bool {
        self.unknown_required_total > 0
    }

    /// USERNAME, if present and valid.
    pub fn username(&self) -> Result<Option<&'a str>, StunError> {
        match self.get(AttrType::USERNAME).transpose()? {
            Some(Attribute::Username(u)) => Ok(Some(u)),
            _ => Ok(None),
        }
    }

    /// PRIORITY (RFC 8445 §7.1.1), if present and valid.
    pub fn priority(&self) -> Result<Option<u32>, StunError> {
        match self.get(AttrType::PRIORITY).transpose()? {
            Some(Attribute::Priority(p)) => Ok(Some(p)),
            _ => Ok(None),
        }
    }

    /// ICE-CONTROLLING's tie-breaker, if present and valid.
    pub fn ice_controlling(&self) -> Result<Option<u64>, StunError> {
        match self.get(AttrType::ICE_CONTROLLING).transpose()? {
            Some(Attribute::IceControlling(t)) => Ok(Some(t)),
            _ => Ok(None),
        }
    }

    /// ICE-CONTROLLED's tie-breaker, if present and valid.
    pub fn ice_controlled(&self) -> Result<Option<u64>, StunError> {
        match self.get(AttrType::ICE_CONTROLLED).transpose()? {
            Some(Attribute::IceControlled(t)) => Ok(Some(t)),
            _ => Ok(None),
        }
    }

    /// Whether USE-CANDIDATE is present.
    pub fn use_candidate(&self) -> bool {
        self.raw(AttrType::USE_CANDIDATE).is_some()
    }

    /// XOR-MAPPED-ADDRESS, or failing that MAPPED-ADDRESS (RFC 8489 §14.1
    /// keeps the latter for old servers).
    pub fn mapped_address(&self) -> Result<Option<SocketAddr>, StunError> {
        for t in [AttrType::XOR_MAPPED_ADDRESS, AttrType::MAPPED_ADDRESS] {
            match self.get(t).transpose()? {
                Some(Attribute::XorMappedAddress(a)) | Some(Attribute::MappedAddress(a)) => {
                    return Ok(Some(a))
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// An address attribute XOR-ed like XOR-MAPPED-ADDRESS (TURN's
    /// XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS; RFC 8656 §18.3, §18.5), if
    /// present; an error if malformed.
    pub fn xor_address(&self, attr: AttrType) -> Result<Option<SocketAddr>, StunError> {
        match self.raw(attr) {
            Some(raw) => {
                super::attr::decode_address(attr, raw.value, Some(&self.transaction_id())).map(Some)
            }
            None => Ok(None),
        }
    }

    /// ERROR-CODE, if present and valid.
    pub fn error_code(&self) -> Result<Option<ErrorCode<'a>>, StunError> {
        match self.get(AttrType::ERROR_CODE).transpose()? {
            Some(Attribute::ErrorCode(e)) => Ok(Some(e)),
            _ => Ok(None),
        }
    }

    /// Verifies MESSAGE-INTEGRITY (HMAC-SHA1) with a short-term key
    /// (RFC 8489 §14.5), in constant time. The HMAC covers the message up to
    /// the attribute, with the header length counting up to its end.
    pub fn verify_integrity(&self, key: &ShortTermKey) -> Result<(), StunError> {
        let off = self
            .integrity
            .ok_or(StunError::MissingAttribute(AttrType::MESSAGE_INTEGRITY))?
            as usize;
        let raw = self.raw_at(off);
        if raw.value.len() != integrity::SHA1_LEN {
            return Err(StunError::BadAttributeLength {
                attr: AttrType::MESSAGE_INTEGRITY,
                len: raw.value.len(),
            });
        }
        let tag = key.sha1_over(self.buf, off, off + 4 + integrity::SHA1_LEN);
        if integrity::ct_eq(&tag, raw.value) {
            Ok(())
        } else {
            Err(StunError::IntegrityMismatch(AttrType::MESSAGE_INTEGRITY))
        }
    }

    /// Verifies MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6), which may be
    /// truncated to 16..=32 bytes in steps of 4.
    pub fn verify_integrity_sha256(&self, key: &ShortTermKey) -> Result<(), StunError> {
        let off = self.integrity_sha256.ok_or(StunError::MissingAttribute(
            AttrType::MESSAGE_INTEGRITY_SHA256,
        ))? as usize;
        let raw = self.raw_at(off);
        let n = raw.value.len();
        if !(16..=32).contains(&n) || n % 4 != 0 {
            return Err(StunError::BadAttributeLength {
                attr: AttrType::MESSAGE_INTEGRITY_SHA256,
                len: n,
            });
        }
        let tag = key.sha256_over(self.buf, off, off + 4 + n);
        if integrity::ct_eq(&tag[..n], raw.value) {
            Ok(())
        } else {
            Err(StunError::IntegrityMismatch(
                AttrType::MESSAGE_INTEGRITY_SHA256,
            ))
        }
    }

    /// Whether the message carries MESSAGE-INTEGRITY (SHA-1).
    pub fn has_integrity(&self) -> bool {
        self.integrity.is_some()
    }

    /// Whether the message carries MESSAGE-INTEGRITY-SHA256.
    pub fn has_integrity_sha256(&self) -> bool {
        self.integrity_sha256.is_some()
    }

    /// Whether the message carries FINGERPRINT.
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint.is_some()
    }

    /// Verifies FINGERPRINT: CRC-32 of the message before it, XOR
    /// 0x5354554E (RFC 8489 §14.7).
    pub fn verify_fingerprint(&self) -> Result<(), StunError> {
        let off = self
            .fingerprint
            .ok_or(StunError::MissingAttribute(AttrType::FINGERPRINT))? as usize;
        let raw = self.raw_at(off);
        let Ok(bytes) = <[u8; 4]>::try_from(raw.value) else {
            return Err(StunError::BadAttributeLength {
                attr: AttrType::FINGERPRINT,
                len: raw.value.len(),
            });
        };
        let got = u32::from_be_bytes(bytes);
        // FINGERPRINT is the last attribute, so the header length already
        // counts up to its end and needs no adjustment.
        let computed = integrity::fingerprint(&self.buf[..off]);
        if got == computed {
            Ok(())
        } else {
            Err(StunError::FingerprintMismatch { got, computed })
        }
    }
}

impl std::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tid = self.transaction_id();
        let mut d = f.debug_struct("Message");
        d.field("class", &self.class)
            .field("method", &self.method)
            .field("tid", &tid);
        let attrs: Vec<_> = self.attributes().map(|a| a.decode(&tid)).collect();
        d.field("attributes", &attrs).finish()
    }
}

/// One attribute as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// Its type.
    pub attr: AttrType,
    /// Its value, without padding.
    pub value: &'a [u8],
    /// Offset of its 4-byte header within the message.
    pub offset: usize,
}

impl<'a> RawAttribute<'a> {
    /// Decodes the value according to the type. `tid` is needed for
    /// XOR-MAPPED-ADDRESS with IPv6.
    pub fn decode(&self, tid: &TransactionId) -> Result<Attribute<'a>, StunError> {
        Attribute::decode(self.attr, self.value, tid)
    }
}

/// RFC 8489 §14.5: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and
/// FINGERPRINT count; §14.6: after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT.
/// Everything else that follows them is ignored.
#[derive(Debug, Clone, Copy)]
struct IgnoreFilter {
    integrity: usize,
    integrity_sha256: usize,
}

impl IgnoreFilter {
    fn ignores(&self, attr: AttrType, offset: usize) -> bool {
        (offset > self.integrity
            && !matches!(
                attr,
                AttrType::MESSAGE_INTEGRITY_SHA256 | AttrType::FINGERPRINT
            ))
            || (offset > self.integrity_sha256 && attr != AttrType::FINGERPRINT)
    }
}

/// Iterator over the attributes of a validated message.
#[derive(Debug, Clone)]
pub struct RawAttributes<'a> {
    buf: &'a [u8],
    off: usize,
    filter: Option<IgnoreFilter>,
}

impl<'a> Iterator for RawAttributes<'a> {
    type Item = RawAttribute<'a>;

    fn next(&mut self) -> Option<RawAttribute<'a>> {
        loop {
            // The message was validated: every TLV lies within `buf`. Use
            // `get` anyway so that even a logic slip cannot panic.
            let hdr = self.buf.get(self.off..self.off + 4)?;
            let attr = AttrType(u16::from_be_bytes([hdr[0], hdr[1]]));
            let len = u16::from_be_bytes([hdr[2], hdr[3]]) as usize;
            let value = self.buf.get(self.off + 4..self.off + 4 + len)?;
            let offset = self.off;
            self.off += 4 + ((len + 3) & !3);
            if !self.filter.is_some_and(|f| f.ignores(attr, offset)) {
                return Some(RawAttribute {
                    attr,
                    value,
                    offset,
                });
            }
        }
    }
}

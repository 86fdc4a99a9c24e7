//! Writing STUN messages into a caller-owned buffer (RFC 8489 §5, §14).
//!
//! The header length is kept current after every attribute, so
//! MESSAGE-INTEGRITY and FINGERPRINT are computed over exactly the bytes
//! RFC 8489 §14.5–§14.7 prescribe.

use super::attr::Attribute;
use super::integrity::{self, ShortTermKey};
use super::types::{message_type, AttrType, Class, Method, TransactionId};
use super::types::{HEADER_LEN, MAGIC_COOKIE};
use super::StunError;
use std::net::SocketAddr;

/// Where the message is in the order RFC 8489 imposes at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Attributes,
    AfterIntegrity,
    AfterIntegritySha256,
    AfterFingerprint,
}

/// Builds one STUN message at the end of a `Vec<u8>` the caller owns (and
/// can reuse, so steady-state sending does not allocate).
///
/// ```
/// use meshrtc_ice::stun::{Attribute, Class, Message, MessageBuilder, Method, ShortTermKey, TransactionId};
/// let key = ShortTermKey::new(b"pass");
/// let mut buf = Vec::new();
/// let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, TransactionId([7; 12]));
/// b.add(&Attribute::Username("them:us"))?;
/// b.add(&Attribute::Priority(1_853_824_767))?;
/// b.add_message_integrity(&key)?;
/// b.add_fingerprint()?;
/// let msg = Message::parse(&buf)?;
/// msg.verify_integrity(&key)?;
/// msg.verify_fingerprint()?;
/// # Ok::<(), meshrtc_ice::stun::StunError>(())
/// ```
#[derive(Debug)]
pub struct MessageBuilder<'b> {
    buf: &'b mut Vec<u8>,
    start: usize,
    tid: TransactionId,
    stage: Stage,
}

impl<'b> MessageBuilder<'b> {
    /// Starts a message at the end of `buf`.
    pub fn new(
        buf: &'b mut Vec<u8>,
        class: Class,
        method: Method,
        tid: TransactionId,
    ) -> MessageBuilder<'b> {
        let start = buf.len();
        buf.extend_from_slice(&message_type(class, method).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(&tid.0);
        MessageBuilder {
            buf,
            start,
            tid,
            stage: Stage::Attributes,
        }
    }

    /// The transaction id of the message being built.
    pub fn transaction_id(&self) -> TransactionId {
        self.tid
    }

    fn check_stage(&self, attr: AttrType) -> Result<(), StunError> {
        let allowed = match attr {
            AttrType::FINGERPRINT => self.stage < Stage::AfterFingerprint,
            AttrType::MESSAGE_INTEGRITY_SHA256 => self.stage < Stage::AfterIntegritySha256,
            _ => self.stage == Stage::Attributes,
        };
        if allowed {
            Ok(())
        } else {
            Err(StunError::OutOfOrder(attr))
        }
    }

    /// Appends the TLV header, lets `value` write the value, pads, and
    /// updates the header length. Returns the attribute's offset.
    fn push(
        &mut self,
        attr: AttrType,
        value: impl FnOnce(&mut Vec<u8>) -> Result<(), StunError>,
    ) -> Result<usize, StunError> {
        let off = self.buf.len();
        self.buf.extend_from_slice(&attr.0.to_be_bytes());
        self.buf.extend_from_slice(&[0, 0]);
        let res = value(&mut *self.buf);
        let len = self.buf.len() - off - 4;
        let msg_len = ((len + 3) & !3) + off + 4 - self.start - HEADER_LEN;
        if res.is_err() || len > u16::MAX as usize || msg_len > u16::MAX as usize {
            self.buf.truncate(off);
            return res.and(Err(StunError::TooLong));
        }
        self.buf[off + 2..off + 4].copy_from_slice(&(len as u16).to_be_bytes());
        // RFC 8489 §14: padding bytes are ignored by receivers; we send zeros.
        self.buf.resize(self.buf.len() + ((4 - len % 4) % 4), 0);
        self.set_length();
        Ok(off)
    }

    fn set_length(&mut self) {
        let len = (self.buf.len() - self.start - HEADER_LEN) as u16;
        self.buf[self.start + 2..self.start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Adds a typed attribute. MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT
    /// given this way are written verbatim (for relaying and round trips);
    /// use the `add_message_integrity*` and `add_fingerprint` methods to
    /// compute them.
    pub fn add(&mut self, attr: &Attribute<'_>) -> Result<(), StunError> {
        let t = attr.attr_type();
        self.check_stage(t)?;
        let tid = self.tid;
        self.push(t, |out| attr.encode_value(out, &tid))?;
        self.advance(t);
        Ok(())
    }

    /// Adds an attribute from its type and raw value.
    pub fn add_raw(&mut self, attr: AttrType, value: &[u8]) -> Result<(), StunError> {
        self.check_stage(attr)?;
        self.push(attr, |out| {
            out.extend_from_slice(value);
            Ok(())
        })?;
        self.advance(attr);
        Ok(())
    }

    /// Adds an address attribute XOR-ed like XOR-MAPPED-ADDRESS (RFC 8489
    /// §14.2), as TURN's XOR-PEER-ADDRESS and XOR-RELAYED-ADDRESS are
    /// (RFC 8656 §18.3, §18.5).
    pub fn add_xor_address(&mut self, attr: AttrType, addr: SocketAddr) -> Result<(), StunError> {
        self.check_stage(attr)?;
        let tid = self.tid;
        self.push(attr, |out| {
            super::attr::encode_address(out, addr, Some(&tid));
            Ok(())
        })?;
        Ok(())
    }

    /// Adds UNKNOWN-ATTRIBUTES listing `types` (RFC 8489 §14.9).
    pub fn add_unknown_attributes(
        &mut self,
        types: impl IntoIterator<Item = AttrType>,
    ) -> Result<(), StunError> {
        self.check_stage(AttrType::UNKNOWN_ATTRIBUTES)?;
        self.push(AttrType::UNKNOWN_ATTRIBUTES, |out| {
            for t in types {
                out.extend_from_slice(&t.0.to_be_bytes());
            }
            Ok(())
        })?;
        Ok(())
    }

    fn advance(&mut self, t: AttrType) {
        self.stage = match t {
            AttrType::MESSAGE_INTEGRITY => Stage::AfterIntegrity,
            AttrType::MESSAGE_INTEGRITY_SHA256 => Stage::AfterIntegritySha256,
            AttrType::FINGERPRINT => Stage::AfterFingerprint,
            _ => self.stage,
        };
    }

    /// Computes and adds MESSAGE-INTEGRITY (RFC 8489 §14.5).
    pub fn add_message_integrity(&mut self, key: &ShortTermKey) -> Result<(), StunError> {
        self.check_stage(AttrType::MESSAGE_INTEGRITY)?;
        let off = self.push(AttrType::MESSAGE_INTEGRITY, |out| {
            out.extend_from_slice(&[0; integrity::SHA1_LEN]);
            Ok(())
        })?;
        let msg = &self.buf[self.start..];
        let rel = off - self.start;
        let tag = key.sha1_over(msg, rel, rel + 4 + integrity::SHA1_LEN);
        self.buf[off + 4..off + 4 + integrity::SHA1_LEN].copy_from_slice(&tag);
        self.stage = Stage::AfterIntegrity;
        Ok(())
    }

    /// Computes and adds MESSAGE-INTEGRITY-SHA256 with the full 32 bytes
    /// (RFC 8489 §14.6).
    pub fn add_message_integrity_sha256(&mut self, key: &ShortTermKey) -> Result<(), StunError> {
        self.check_stage(AttrType::MESSAGE_INTEGRITY_SHA256)?;
        let off = self.push(AttrType::MESSAGE_INTEGRITY_SHA256, |out| {
            out.extend_from_slice(&[0; 32]);
            Ok(())
        })?;
        let msg = &self.buf[self.start..];
        let rel = off - self.start;
        let tag = key.sha256_over(msg, rel, rel + 4 + 32);
        self.buf[off + 4..off + 4 + 32].copy_from_slice(&tag);
        self.stage = Stage::AfterIntegritySha256;
        Ok(())
    }

    /// Computes and adds FINGERPRINT, which ends the message (RFC 8489 §14.7).
    pub fn add_fingerprint(&mut self) -> Result<(), StunError> {
        self.check_stage(AttrType::FINGERPRINT)?;
        let off = self.push(AttrType::FINGERPRINT, |out| {
            out.extend_from_slice(&[0; 4]);
            Ok(())
        })?;
        let crc = integrity::fingerprint(&self.buf[self.start..off]);
        self.buf[off + 4..off + 8].copy_from_slice(&crc.to_be_bytes());
        self.stage = Stage::AfterFingerprint;
        Ok(())
    }

    /// The length of the message written so far.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Always false: a message has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Ends the message and returns its bytes.
    pub fn finish(self) -> &'b [u8] {
        let start = self.start;
        &self.buf[start..]
    }
}

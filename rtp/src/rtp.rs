//! The RTP packet (RFC 3550 §5.1, §5.3.1) with RFC 8285 header extensions:
//! a checked view for received packets and an owned header for sending.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers  (CC × 32)  |
//! |      defined by profile       |           length              |  (if X)
//! |                        header extension                       |
//! |                        payload ...    | padding | pad count   |  (if P)
//! ```

use crate::ext::{self, ExtensionElement, ExtensionElements, ExtensionForm, HeaderExtension};
use crate::RtpError;
use std::fmt;

/// The RTP version this crate speaks (RFC 3550 §5.1).
pub const RTP_VERSION: u8 = 2;

/// Length of the fixed RTP header.
pub const FIXED_HEADER_LEN: usize = 12;

/// Field offsets of the fixed header (RFC 3550 §5.1).
mod field {
    use std::ops::Range;
    pub const FLAGS: usize = 0;
    pub const MARKER_PT: usize = 1;
    pub const SEQUENCE: Range<usize> = 2..4;
    pub const TIMESTAMP: Range<usize> = 4..8;
    pub const SSRC: Range<usize> = 8..12;
    pub const CSRCS: usize = 12;
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A validated RTP packet borrowed from a receive buffer.
///
/// [`RtpPacket::parse`] checks the version, the CSRC list, the extension
/// length and every RFC 8285 element, and the padding count; afterwards no
/// accessor can panic. Parsing does not allocate.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    /// Fixed header + CSRCs + extension.
    header_len: usize,
    /// Offset of the extension body and its length, when X is set.
    ext: Option<(usize, usize)>,
    /// End of the payload (start of padding).
    payload_end: usize,
}

impl<'a> RtpPacket<'a> {
    /// Validates `buf` as one RTP packet.
    pub fn parse(buf: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        if buf.len() < FIXED_HEADER_LEN {
            return Err(RtpError::TruncatedHeader {
                needed: FIXED_HEADER_LEN,
                got: buf.len(),
            });
        }
        let flags = buf[field::FLAGS];
        let version = flags >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let cc = usize::from(flags & 0x0F);
        let mut header_len = field::CSRCS + 4 * cc;
        if buf.len() < header_len {
            return Err(RtpError::TruncatedHeader {
                needed: header_len,
                got: buf.len(),
            });
        }
        let mut ext = None;
        if flags & 0x10 != 0 {
            if buf.len() < header_len + 4 {
                return Err(RtpError::TruncatedHeader {
                    needed: header_len + 4,
                    got: buf.len(),
                });
            }
            let profile = be16(buf, header_len);
            let declared = 4 * usize::from(be16(buf, header_len + 2));
            let start = header_len + 4;
            let available = buf.len() - start;
            if declared > available {
                return Err(RtpError::ExtensionOverflow {
                    declared,
                    available,
                });
            }
            if let Some(form) = ExtensionForm::from_profile(profile) {
                ext::validate(form, &buf[start..start + declared])?;
            }
            ext = Some((start, declared));
            header_len = start + declared;
        }
        let mut payload_end = buf.len();
        if flags & 0x20 != 0 {
            // RFC 3550 §5.1: the last octet counts the padding, itself
            // included; it cannot reach into the header.
            let padding = usize::from(buf[buf.len() - 1]);
            let available = buf.len() - header_len;
            if padding == 0 || padding > available {
                return Err(RtpError::BadPadding { padding, available });
            }
            payload_end -= padding;
        }
        Ok(RtpPacket {
            buf,
            header_len,
            ext,
            payload_end,
        })
    }

    /// The whole packet as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The version field (always 2 after a successful parse).
    pub fn version(&self) -> u8 {
        self.buf[field::FLAGS] >> 6
    }

    /// The P bit.
    pub fn has_padding(&self) -> bool {
        self.buf[field::FLAGS] & 0x20 != 0
    }

    /// Padding bytes at the end, count byte included (0 without P).
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.payload_end
    }

    /// The M bit.
    pub fn marker(&self) -> bool {
        self.buf[field::MARKER_PT] & 0x80 != 0
    }

    /// The 7-bit payload type.
    pub fn payload_type(&self) -> u8 {
        self.buf[field::MARKER_PT] & 0x7F
    }

    /// The 16-bit sequence number.
    pub fn sequence_number(&self) -> u16 {
        be16(self.buf, field::SEQUENCE.start)
    }

    /// The 32-bit RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        be32(self.buf, field::TIMESTAMP.start)
    }

    /// The synchronization source.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, field::SSRC.start)
    }

    /// The number of CSRCs (the CC field).
    pub fn csrc_count(&self) -> usize {
        usize::from(self.buf[field::FLAGS] & 0x0F)
    }

    /// The contributing sources.
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = u32> + Clone + 'a {
        let buf = self.buf;
        (0..self.csrc_count()).map(move |i| be32(buf, field::CSRCS + 4 * i))
    }

    /// The header extension, when the X bit is set.
    pub fn extension(&self) -> Option<HeaderExtension<'a>> {
        self.ext.map(|(start, len)| HeaderExtension {
            profile: be16(self.buf, start - 4),
            body: &self.buf[start..start + len],
        })
    }

    /// The RFC 8285 extension elements (none without an extension or with a
    /// profile other than `0xBEDE` / `0x100x`).
    pub fn extensions(&self) -> ExtensionElements<'a> {
        self.extension()
            .unwrap_or(HeaderExtension {
                profile: 0,
                body: &[],
            })
            .elements()
    }

    /// The data of the first extension element with this id.
    pub fn extension_by_id(&self, id: u8) -> Option<&'a [u8]> {
        self.extensions().find(|e| e.id == id).map(|e| e.data)
    }

    /// Where the data of the extension element `id` sits in the packet's
    /// bytes, so that a sender can rewrite a value of fixed size in place
    /// (the transport-wide sequence number is given when the packet leaves
    /// the pacer, not when it was written).
    pub fn extension_range(&self, id: u8) -> Option<std::ops::Range<usize>> {
        let data = self.extension_by_id(id)?;
        // `data` borrows from `self.buf`: its offset is the distance between
        // the two starts.
        let start = (data.as_ptr() as usize).checked_sub(self.buf.as_ptr() as usize)?;
        let end = start + data.len();
        (end <= self.buf.len()).then_some(start..end)
    }

    /// Length of the header: fixed part, CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The payload, padding excluded.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..self.payload_end]
    }
}

impl fmt::Debug for RtpPacket<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RtpPacket");
        d.field("pt", &self.payload_type())
            .field("seq", &self.sequence_number())
            .field("ts", &self.timestamp())
            .field("ssrc", &format_args!("{:#010x}", self.ssrc()))
            .field("marker", &self.marker());
        if self.csrc_count() > 0 {
            d.field("csrcs", &self.csrcs().collect::<Vec<_>>());
        }
        if let Some(e) = self.extension() {
            d.field("extension_profile", &format_args!("{:#06x}", e.profile));
            if e.form().is_some() {
                d.field("extensions", &self.extensions().collect::<Vec<_>>());
            }
        }
        d.field("payload_len", &self.payload().len())
            .field("padding", &self.padding_len())
            .finish()
    }
}

/// What [`HeaderExtensions`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum ExtKind {
    /// RFC 8285 elements, stored as `id, len, data…` records.
    #[default]
    Elements,
    /// A raw body under another profile.
    Raw(u16),
}

/// The header extensions of an [`RtpHeader`]: RFC 8285 elements by id, or
/// a raw body under another profile. One buffer, reused: updating a value
/// of the same length does not allocate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderExtensions {
    kind: ExtKind,
    /// `id, len, data…` records, or a raw body.
    buf: Vec<u8>,
}

impl HeaderExtensions {
    fn push_record(&mut self, id: u8, data: &[u8]) {
        self.buf.push(id);
        self.buf.push(data.len() as u8);
        self.buf.extend_from_slice(data);
    }

    /// Record offsets: (record start, id, data range).
    fn records(&self) -> impl Iterator<Item = (usize, u8, std::ops::Range<usize>)> + '_ {
        let mut pos = 0;
        let elements = self.kind == ExtKind::Elements;
        std::iter::from_fn(move || {
            if !elements || pos + 2 > self.buf.len() {
                return None;
            }
            let start = pos;
            let id = self.buf[pos];
            let len = usize::from(self.buf[pos + 1]);
            pos += 2 + len;
            Some((start, id, start + 2..pos))
        })
    }

    /// Sets the value of element `id`, replacing an existing value (in
    /// place when the length is unchanged, so per-packet updates of a
    /// sequence number or send time do not allocate). Clears a raw
    /// extension set by [`HeaderExtensions::set_raw`].
    pub fn set(&mut self, id: u8, data: &[u8]) -> Result<(), RtpError> {
        if id == 0 {
            return Err(RtpError::InvalidExtensionId(id));
        }
        if data.len() > 255 {
            return Err(RtpError::ExtensionTooLong(data.len()));
        }
        if self.kind != ExtKind::Elements {
            self.kind = ExtKind::Elements;
            self.buf.clear();
        }
        let found = self.records().find(|r| r.1 == id);
        if let Some((start, _, range)) = found {
            if range.len() == data.len() {
                self.buf[range].copy_from_slice(data);
                return Ok(());
            }
            self.buf.drain(start..range.end);
        }
        self.push_record(id, data);
        Ok(())
    }

    /// The value of element `id`, if set.
    pub fn get(&self, id: u8) -> Option<&[u8]> {
        self.records()
            .find(|r| r.1 == id)
            .map(|(_, _, range)| &self.buf[range])
    }

    /// Removes element `id`; returns whether it was set.
    pub fn remove(&mut self, id: u8) -> bool {
        let found = self.records().find(|r| r.1 == id);
        match found {
            Some((start, _, range)) => {
                self.buf.drain(start..range.end);
                true
            }
            None => false,
        }
    }

    /// Removes everything (keeping the storage for reuse).
    pub fn clear(&mut self) {
        self.kind = ExtKind::Elements;
        self.buf.clear();
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.kind == ExtKind::Elements && self.buf.is_empty()
    }

    /// The RFC 8285 elements in the order they will be written.
    pub fn iter(&self) -> impl Iterator<Item = ExtensionElement<'_>> + '_ {
        self.records().map(|(_, id, range)| ExtensionElement {
            id,
            data: &self.buf[range],
        })
    }

    /// Replaces all elements with a raw body under a non-RFC 8285 profile.
    /// The body must be a multiple of 4 bytes.
    pub fn set_raw(&mut self, profile: u16, body: &[u8]) -> Result<(), RtpError> {
        if body.len() % 4 != 0 || body.len() / 4 > usize::from(u16::MAX) {
            return Err(RtpError::BadRawExtension(body.len()));
        }
        self.kind = ExtKind::Raw(profile);
        self.buf.clear();
        self.buf.extend_from_slice(body);
        Ok(())
    }

    /// The raw extension (profile, body), if one is set.
    pub fn raw(&self) -> Option<(u16, &[u8])> {
        match self.kind {
            ExtKind::Raw(profile) => Some((profile, &self.buf)),
            ExtKind::Elements => None,
        }
    }

    /// The RFC 8285 form the elements will be written in (`None` when
    /// there are none or the extension is raw): one-byte when every id is
    /// 1..=14 and every value 1..=16 bytes.
    pub fn form(&self) -> Option<ExtensionForm> {
        if self.kind != ExtKind::Elements || self.buf.is_empty() {
            return None;
        }
        if self
            .records()
            .all(|(_, id, range)| ext::fits_one_byte(id, range.len()))
        {
            Some(ExtensionForm::OneByte)
        } else {
            Some(ExtensionForm::TwoByte { appbits: 0 })
        }
    }

    /// The form to write in (`None` for raw or nothing) and the bytes
    /// written after the CSRCs (4-byte extension header and padded body),
    /// from one walk over the records.
    fn layout(&self) -> (Option<ExtensionForm>, usize) {
        match self.kind {
            ExtKind::Raw(_) => (None, 4 + self.buf.len()),
            ExtKind::Elements if self.buf.is_empty() => (None, 0),
            ExtKind::Elements => {
                let (mut count, mut one_byte) = (0, true);
                for (_, id, range) in self.records() {
                    count += 1;
                    one_byte &= ext::fits_one_byte(id, range.len());
                }
                if one_byte {
                    // One header byte instead of two per record.
                    let body = self.buf.len() - count;
                    (Some(ExtensionForm::OneByte), 4 + body.next_multiple_of(4))
                } else {
                    let form = ExtensionForm::TwoByte { appbits: 0 };
                    (Some(form), 4 + self.buf.len().next_multiple_of(4))
                }
            }
        }
    }

    /// Writes what [`HeaderExtensions::layout`] laid out.
    fn write(&self, (form, len): (Option<ExtensionForm>, usize), out: &mut Vec<u8>) {
        if let ExtKind::Raw(profile) = self.kind {
            out.extend_from_slice(&profile.to_be_bytes());
            out.extend_from_slice(&((self.buf.len() / 4) as u16).to_be_bytes());
            out.extend_from_slice(&self.buf);
            return;
        }
        let Some(form) = form else { return };
        let start = out.len();
        // At most 255 records of 257 bytes: the word count fits 16 bits.
        let words = ((len - 4) / 4) as u16;
        out.extend_from_slice(&form.profile().to_be_bytes());
        out.extend_from_slice(&words.to_be_bytes());
        for (_, id, range) in self.records() {
            let data = &self.buf[range];
            match form {
                // fits_one_byte held for every record, so len is 1..=16.
                ExtensionForm::OneByte => out.push((id << 4) | (data.len() - 1) as u8),
                ExtensionForm::TwoByte { .. } => {
                    out.push(id);
                    out.push(data.len() as u8);
                }
            }
            out.extend_from_slice(data);
        }
        out.resize(start + len, 0);
    }
}

/// An RTP header to send: the fixed fields, CSRCs and header extensions,
/// written in front of a payload into a caller-owned buffer.
///
/// Meant to be kept per stream and per connection and updated per packet
/// (sequence number, timestamp, the values of some extensions), so the
/// extension storage is allocated once and reused. Extensions are written in
/// the RFC 8285 one-byte form when every id is 1..=14 and every value 1..=16
/// bytes, else in the two-byte form, zero-padded to 32 bits.
///
/// ```
/// use meshrtc_rtp::{ext::TransportSeq, RtpHeader, RtpPacket};
/// let mut h = RtpHeader { payload_type: 96, ssrc: 0x1234_5678, ..RtpHeader::default() };
/// h.extensions.set(4, b"0")?; // sdes:mid "0"
/// let mut buf = Vec::new();
/// for seq in 0..3u16 {
///     h.sequence_number = seq;
///     h.extensions.set(3, &TransportSeq(seq).to_bytes())?;
///     buf.clear();
///     h.write_packet(b"payload", 0, &mut buf)?;
///     let p = RtpPacket::parse(&buf)?;
///     assert_eq!(p.extension_by_id(3), Some(&seq.to_be_bytes()[..]));
///     assert_eq!(p.payload(), b"payload");
/// }
/// # Ok::<(), meshrtc_rtp::RtpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// The M bit.
    pub marker: bool,
    /// The payload type, 0..=127.
    pub payload_type: u8,
    /// The sequence number.
    pub sequence_number: u16,
    /// The RTP timestamp.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
    /// Contributing sources, at most 15 (an empty `Vec` does not allocate).
    pub csrcs: Vec<u32>,
    /// The header extensions.
    pub extensions: HeaderExtensions,
}

impl RtpHeader {
    /// The header of a received packet: fields, CSRCs and extension
    /// elements (kept in wire order, duplicates included), or the raw
    /// extension body for a profile other than RFC 8285's. The two-byte
    /// form's application bits are not kept.
    pub fn from_packet(p: &RtpPacket<'_>) -> RtpHeader {
        let mut h = RtpHeader {
            marker: p.marker(),
            payload_type: p.payload_type(),
            sequence_number: p.sequence_number(),
            timestamp: p.timestamp(),
            ssrc: p.ssrc(),
            csrcs: p.csrcs().collect(),
            extensions: HeaderExtensions::default(),
        };
        if let Some(e) = p.extension() {
            if e.form().is_some() {
                for el in e.elements() {
                    // Elements of a parsed packet are at most 255 bytes.
                    h.extensions.push_record(el.id, el.data);
                }
            } else {
                h.extensions.kind = ExtKind::Raw(e.profile);
                h.extensions.buf.extend_from_slice(e.body);
            }
        }
        h
    }

    /// Bytes [`RtpHeader::write`] will append.
    pub fn header_len(&self) -> usize {
        FIXED_HEADER_LEN + 4 * self.csrcs.len() + self.extensions.layout().1
    }

    fn check(&self) -> Result<(), RtpError> {
        if self.payload_type > 127 {
            return Err(RtpError::InvalidPayloadType(self.payload_type));
        }
        if self.csrcs.len() > 15 {
            return Err(RtpError::TooManyCsrcs(self.csrcs.len()));
        }
        Ok(())
    }

    fn write_with_padding_bit(
        &self,
        padding: bool,
        extra: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), RtpError> {
        self.check()?;
        let layout = self.extensions.layout();
        let flags = (RTP_VERSION << 6)
            | (u8::from(padding) << 5)
            | (u8::from(!self.extensions.is_empty()) << 4)
            | self.csrcs.len() as u8;
        out.reserve(FIXED_HEADER_LEN + 4 * self.csrcs.len() + layout.1 + extra);
        let seq = self.sequence_number.to_be_bytes();
        let ts = self.timestamp.to_be_bytes();
        let ssrc = self.ssrc.to_be_bytes();
        out.extend_from_slice(&[
            flags,
            (u8::from(self.marker) << 7) | self.payload_type,
            seq[0],
            seq[1],
            ts[0],
            ts[1],
            ts[2],
            ts[3],
            ssrc[0],
            ssrc[1],
            ssrc[2],
            ssrc[3],
        ]);
        for c in &self.csrcs {
            out.extend_from_slice(&c.to_be_bytes());
        }
        self.extensions.write(layout, out);
        Ok(())
    }

    /// Appends the header (P bit clear) to `out`; the caller appends the
    /// payload.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        self.write_with_padding_bit(false, 0, out)
    }

    /// Appends a whole packet: header, payload, and `padding` bytes of RTP
    /// padding (0 for none; else 1..=255, the P bit is set and the last
    /// byte holds the count, RFC 3550 §5.1).
    pub fn write_packet(
        &self,
        payload: &[u8],
        padding: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), RtpError> {
        self.write_parts(&[payload], padding, out)
    }

    /// Like [`RtpHeader::write_packet`] with a payload in several parts (a
    /// payload descriptor and a slice of a shared frame, for instance).
    pub fn write_parts(
        &self,
        parts: &[&[u8]],
        padding: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), RtpError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.write_with_padding_bit(padding > 0, len + usize::from(padding), out)?;
        for p in parts {
            out.extend_from_slice(p);
        }
        if padding > 0 {
            out.resize(out.len() + usize::from(padding) - 1, 0);
            out.push(padding);
        }
        Ok(())
    }
}

//! RTP header extensions: the RFC 8285 one-byte and two-byte element forms,
//! and typed values for the extensions WebRTC negotiates.
//!
//! The general mechanism is RFC 3550 §5.3.1: a 16-bit "defined by profile"
//! value, a 16-bit length in 32-bit words, and a body. RFC 8285 §4.2 reads
//! the body as one-byte headers (`0xBEDE`: 4-bit id 1..=14, 4-bit length − 1)
//! and §4.3 as two-byte headers (`0x100` + 4 application bits: 8-bit id,
//! 8-bit length). Zero bytes between elements are padding in both forms; an
//! id of 15 in the one-byte form ends the list.
//!
//! Typed values: [`Mid`] (RFC 8843 §15), [`AbsSendTime`] (webrtc.org
//! abs-send-time), [`TransportSeq`] (draft-holmer-rmcat-transport-wide-cc-
//! extensions-01 §2) and [`AudioLevel`] (RFC 6464 §3). Which id carries which
//! extension is negotiated in SDP (`a=extmap`, RFC 8285 §5); the URIs are in
//! [`uri`].

use crate::RtpError;
use std::time::Duration;

/// The "defined by profile" value of the one-byte form (RFC 8285 §4.2).
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// The "defined by profile" value of the two-byte form with application
/// bits 0 (RFC 8285 §4.3: `0x100` followed by 4 application bits).
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// The `a=extmap` URIs of the typed extensions.
pub mod uri {
    /// sdes:mid, RFC 8843 §15.
    pub const MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
    /// Absolute send time (webrtc.org experiment, used by Chromium).
    pub const ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
    /// Transport-wide sequence number, draft-holmer-rmcat-transport-wide-cc-extensions-01.
    pub const TRANSPORT_CC: &str =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    /// Client-to-mixer audio level, RFC 6464.
    pub const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
}

/// Which RFC 8285 element form an extension body uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionForm {
    /// One-byte headers (`0xBEDE`).
    OneByte,
    /// Two-byte headers (`0x100x`), with the 4 application bits.
    TwoByte {
        /// The low 4 bits of the profile value.
        appbits: u8,
    },
}

impl ExtensionForm {
    /// The form a "defined by profile" value announces, if it is RFC 8285.
    pub fn from_profile(profile: u16) -> Option<ExtensionForm> {
        if profile == ONE_BYTE_PROFILE {
            Some(ExtensionForm::OneByte)
        } else if profile & 0xFFF0 == TWO_BYTE_PROFILE {
            Some(ExtensionForm::TwoByte {
                appbits: (profile & 0x0F) as u8,
            })
        } else {
            None
        }
    }

    /// The "defined by profile" value of this form.
    pub fn profile(self) -> u16 {
        match self {
            ExtensionForm::OneByte => ONE_BYTE_PROFILE,
            ExtensionForm::TwoByte { appbits } => TWO_BYTE_PROFILE | u16::from(appbits & 0x0F),
        }
    }
}

/// The header extension of a packet as RFC 3550 §5.3.1 frames it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    /// The 16-bit "defined by profile" value.
    pub profile: u16,
    /// The body (length × 4 bytes).
    pub body: &'a [u8],
}

impl<'a> HeaderExtension<'a> {
    /// The RFC 8285 form, or `None` for another profile.
    pub fn form(&self) -> Option<ExtensionForm> {
        ExtensionForm::from_profile(self.profile)
    }

    /// The RFC 8285 elements in wire order (none for another profile).
    /// Iteration stops at a one-byte id 15 and, for a body that was not
    /// validated by [`crate::RtpPacket::parse`], at the first malformed
    /// element.
    pub fn elements(&self) -> ExtensionElements<'a> {
        ExtensionElements {
            body: self.body,
            pos: 0,
            form: self.form(),
        }
    }
}

/// One RFC 8285 extension element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionElement<'a> {
    /// The local identifier (1..=14 one-byte, 1..=255 two-byte).
    pub id: u8,
    /// The element data.
    pub data: &'a [u8],
}

/// Iterator over the elements of an RFC 8285 extension body.
#[derive(Debug, Clone)]
pub struct ExtensionElements<'a> {
    body: &'a [u8],
    pos: usize,
    form: Option<ExtensionForm>,
}

/// One step of the element walk.
enum Step {
    Element { id: u8, start: usize, end: usize },
    Padding,
    End,
    Overflow { id: u8 },
}

/// Reads the element at `pos` (which is `< body.len()`).
fn step(form: ExtensionForm, body: &[u8], pos: usize) -> Step {
    let b = body[pos];
    match form {
        ExtensionForm::OneByte => {
            let id = b >> 4;
            if id == 0 {
                // RFC 8285 §4.2: a zero id is a padding byte; its length
                // nibble is not read.
                return Step::Padding;
            }
            if id == 15 {
                // RFC 8285 §4.2: id 15 stops processing, length ignored.
                return Step::End;
            }
            let len = usize::from(b & 0x0F) + 1;
            let start = pos + 1;
            if start + len > body.len() {
                return Step::Overflow { id };
            }
            Step::Element {
                id,
                start,
                end: start + len,
            }
        }
        ExtensionForm::TwoByte { .. } => {
            if b == 0 {
                return Step::Padding;
            }
            let Some(&len) = body.get(pos + 1) else {
                return Step::Overflow { id: b };
            };
            let start = pos + 2;
            let end = start + usize::from(len);
            if end > body.len() {
                return Step::Overflow { id: b };
            }
            Step::Element { id: b, start, end }
        }
    }
}

/// Checks that every element of an RFC 8285 body lies within it.
pub(crate) fn validate(form: ExtensionForm, body: &[u8]) -> Result<(), RtpError> {
    let mut pos = 0;
    while pos < body.len() {
        match step(form, body, pos) {
            Step::Element { end, .. } => pos = end,
            Step::Padding => pos += 1,
            Step::End => return Ok(()),
            Step::Overflow { id } => {
                return Err(RtpError::ExtensionElementOverflow { id, offset: pos })
            }
        }
    }
    Ok(())
}

impl<'a> Iterator for ExtensionElements<'a> {
    type Item = ExtensionElement<'a>;

    fn next(&mut self) -> Option<ExtensionElement<'a>> {
        let form = self.form?;
        while self.pos < self.body.len() {
            match step(form, self.body, self.pos) {
                Step::Element { id, start, end } => {
                    self.pos = end;
                    return Some(ExtensionElement {
                        id,
                        data: &self.body[start..end],
                    });
                }
                Step::Padding => self.pos += 1,
                Step::End | Step::Overflow { .. } => break,
            }
        }
        self.pos = self.body.len();
        None
    }
}

/// Whether a set of elements fits the one-byte form: ids 1..=14 and
/// lengths 1..=16 (RFC 8285 §4.2).
pub(crate) fn fits_one_byte(id: u8, len: usize) -> bool {
    (1..=14).contains(&id) && (1..=16).contains(&len)
}

/// The sdes:mid value (RFC 8843 §15): the media identification tag of the
/// m-line this packet belongs to, as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mid<'a>(pub &'a str);

impl<'a> Mid<'a> {
    /// Reads a MID element: non-empty UTF-8 text.
    pub fn parse(data: &'a [u8]) -> Result<Mid<'a>, RtpError> {
        if data.is_empty() {
            return Err(RtpError::InvalidMid);
        }
        std::str::from_utf8(data)
            .map(Mid)
            .map_err(|_| RtpError::InvalidMid)
    }

    /// The element data.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0.as_bytes()
    }
}

/// The abs-send-time value: send time in seconds as 6.18 fixed point,
/// 24 bits, wrapping every 64 s (resolution ≈ 3.8 µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbsSendTime(u32);

impl AbsSendTime {
    /// From a raw 24-bit value (higher bits dropped).
    pub fn from_raw(raw: u32) -> AbsSendTime {
        AbsSendTime(raw & 0x00FF_FFFF)
    }

    /// The raw 24-bit value.
    pub fn raw(self) -> u32 {
        self.0
    }

    /// From a time since any epoch, rounded to the nearest 2^-18 s; only the
    /// time modulo 64 s survives.
    pub fn from_duration(since_epoch: Duration) -> AbsSendTime {
        Self::from_nanos(since_epoch.as_nanos())
    }

    /// From nanoseconds since any epoch (see [`AbsSendTime::from_duration`]).
    pub fn from_nanos(nanos: u128) -> AbsSendTime {
        // Only the time modulo 64 s is carried (6 bits of seconds); the
        // rest is 2^-18 s units, rounded (the mask folds 64 s back to 0).
        let nanos = nanos % 64_000_000_000;
        let units = ((nanos << 18) + 500_000_000) / 1_000_000_000;
        AbsSendTime((units & 0x00FF_FFFF) as u32)
    }

    /// The value as a time within its 64 s period.
    pub fn to_duration(self) -> Duration {
        Duration::from_nanos((u64::from(self.0) * 1_000_000_000) >> 18)
    }

    /// Reads the 3-byte element.
    pub fn parse(data: &[u8]) -> Result<AbsSendTime, RtpError> {
        match *data {
            [a, b, c] => Ok(AbsSendTime(u32::from_be_bytes([0, a, b, c]))),
            _ => Err(RtpError::BadExtensionLength {
                expected: 3,
                got: data.len(),
            }),
        }
    }

    /// The 3-byte element.
    pub fn to_bytes(self) -> [u8; 3] {
        let b = self.0.to_be_bytes();
        [b[1], b[2], b[3]]
    }
}

/// The transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-
/// extensions-01 §2): one 16-bit counter across all media streams of the
/// transport, echoed in transport-cc feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransportSeq(pub u16);

impl TransportSeq {
    /// Reads the 2-byte element.
    pub fn parse(data: &[u8]) -> Result<TransportSeq, RtpError> {
        match *data {
            [a, b] => Ok(TransportSeq(u16::from_be_bytes([a, b]))),
            _ => Err(RtpError::BadExtensionLength {
                expected: 2,
                got: data.len(),
            }),
        }
    }

    /// The 2-byte element.
    pub fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }
}

/// The client-to-mixer audio level (RFC 6464 §3): a voice-activity flag and
/// the level in −dBov, 0 (loudest) to 127 (silence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioLevel {
    /// The V bit: the sender's voice activity detection says voice.
    pub voice: bool,
    /// The level in −dBov, 0..=127.
    pub level: u8,
}

impl AudioLevel {
    /// Reads the 1-byte element.
    pub fn parse(data: &[u8]) -> Result<AudioLevel, RtpError> {
        match *data {
            [b] => Ok(AudioLevel {
                voice: b & 0x80 != 0,
                level: b & 0x7F,
            }),
            _ => Err(RtpError::BadExtensionLength {
                expected: 1,
                got: data.len(),
            }),
        }
    }

    /// The 1-byte element (a level above 127 is clamped to 127, silence).
    pub fn to_bytes(self) -> [u8; 1] {
        [u8::from(self.voice) << 7 | self.level.min(127)]
    }
}

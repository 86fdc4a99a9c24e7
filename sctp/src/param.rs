//! Variable-length parameters of INIT and INIT ACK (RFC 9260 §3.3.2,
//! §3.3.3), the RFC 3758 and RFC 5061 extension parameters, RFC 9653's
//! Zero Checksum Acceptable, and error causes (§3.3.10).
//!
//! All share the TLV layout: type (u16), length (u16, header included,
//! padding excluded), value, padding to a multiple of 4.

use crate::error::{Error, Result};

/// A parameter type (RFC 9260 §3.2.1; unknown values kept as numbers).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParamType(pub u16);

impl ParamType {
    /// IPv4 address (§3.3.2.1).
    pub const IPV4_ADDRESS: ParamType = ParamType(5);
    /// IPv6 address.
    pub const IPV6_ADDRESS: ParamType = ParamType(6);
    /// State cookie (§3.3.3.1).
    pub const STATE_COOKIE: ParamType = ParamType(7);
    /// Unrecognized parameter (§3.3.3.1).
    pub const UNRECOGNIZED_PARAMETER: ParamType = ParamType(8);
    /// Cookie preservative.
    pub const COOKIE_PRESERVATIVE: ParamType = ParamType(9);
    /// Host name address (deprecated).
    pub const HOST_NAME_ADDRESS: ParamType = ParamType(11);
    /// Supported address types.
    pub const SUPPORTED_ADDRESS_TYPES: ParamType = ParamType(12);
    /// ECN capable (RFC 9260 Appendix A of earlier drafts; reserved).
    pub const ECN_CAPABLE: ParamType = ParamType(0x8000);
    /// Zero Checksum Acceptable (RFC 9653 §3).
    pub const ZERO_CHECKSUM_ACCEPTABLE: ParamType = ParamType(0x8001);
    /// Supported Extensions (RFC 5061 §4.2.7).
    pub const SUPPORTED_EXTENSIONS: ParamType = ParamType(0x8008);
    /// Forward-TSN-Supported (RFC 3758 §3.1).
    pub const FORWARD_TSN_SUPPORTED: ParamType = ParamType(0xC000);
    /// Adaptation Layer Indication (RFC 5061 §4.2.6).
    pub const ADAPTATION_LAYER_INDICATION: ParamType = ParamType(0xC006);

    /// What to do with an unrecognized parameter, from its two upper bits
    /// (RFC 9260 §3.2.1).
    pub fn unrecognized_action(self) -> UnrecognizedAction {
        UnrecognizedAction::from_bits((self.0 >> 14) as u8)
    }

    /// Types this implementation understands or deliberately ignores (so
    /// they never trigger the unrecognized-parameter rules).
    pub fn is_recognized(self) -> bool {
        matches!(
            self.0,
            5 | 6 | 7 | 8 | 9 | 11 | 12 | 0x8000 | 0x8001 | 0x8008 | 0xC000 | 0xC006
        )
    }
}

impl std::fmt::Debug for ParamType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0 {
            5 => "Ipv4Address",
            6 => "Ipv6Address",
            7 => "StateCookie",
            8 => "UnrecognizedParameter",
            9 => "CookiePreservative",
            11 => "HostNameAddress",
            12 => "SupportedAddressTypes",
            0x8000 => "EcnCapable",
            0x8001 => "ZeroChecksumAcceptable",
            0x8008 => "SupportedExtensions",
            0xC000 => "ForwardTsnSupported",
            0xC006 => "AdaptationLayerIndication",
            _ => return write!(f, "ParamType({:#06x})", self.0),
        };
        f.write_str(name)
    }
}

/// The action for an unrecognized chunk or parameter type, from the two
/// upper bits of its type (RFC 9260 §3.2 and §3.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnrecognizedAction {
    /// 00: stop processing (the packet, or the remaining parameters).
    Stop,
    /// 01: stop processing and report it.
    StopAndReport,
    /// 10: skip it and continue.
    Skip,
    /// 11: skip it, continue, and report it.
    SkipAndReport,
}

impl UnrecognizedAction {
    pub(crate) fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => UnrecognizedAction::Stop,
            1 => UnrecognizedAction::StopAndReport,
            2 => UnrecognizedAction::Skip,
            _ => UnrecognizedAction::SkipAndReport,
        }
    }

    /// Whether processing continues after the unrecognized item.
    pub fn continues(self) -> bool {
        matches!(
            self,
            UnrecognizedAction::Skip | UnrecognizedAction::SkipAndReport
        )
    }

    /// Whether the item is reported to the peer.
    pub fn reports(self) -> bool {
        matches!(
            self,
            UnrecognizedAction::StopAndReport | UnrecognizedAction::SkipAndReport
        )
    }
}

/// One raw TLV (a parameter or an error cause).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// Type (or cause code).
    pub ty: u16,
    /// Value, padding excluded.
    pub value: &'a [u8],
}

impl Tlv<'_> {
    /// Bytes this TLV occupies on the wire, padding included.
    pub fn buffer_len(&self) -> usize {
        padded(4 + self.value.len())
    }

    /// Appends it (with padding) to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_tlv(out, self.ty, self.value);
    }
}

/// Rounds up to a multiple of 4.
pub(crate) fn padded(n: usize) -> usize {
    (n + 3) & !3
}

/// Appends one TLV with its padding.
pub(crate) fn emit_tlv(out: &mut Vec<u8>, ty: u16, value: &[u8]) {
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&((4 + value.len()) as u16).to_be_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + (padded(value.len()) - value.len()), 0);
}

/// Iterates over TLVs in `buf`; lengths are validated, and the last TLV may
/// omit its padding.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    buf: &'a [u8],
}

impl<'a> TlvIter<'a> {
    /// Over a parameter or cause list.
    pub fn new(buf: &'a [u8]) -> Self {
        TlvIter { buf }
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        if self.buf.len() < 4 {
            let got = self.buf.len();
            self.buf = &[];
            return Some(Err(Error::Truncated { needed: 4, got }));
        }
        let ty = u16::from_be_bytes([self.buf[0], self.buf[1]]);
        let len = u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize;
        if len < 4 {
            self.buf = &[];
            return Some(Err(Error::BadLength(len)));
        }
        if len > self.buf.len() {
            let got = self.buf.len();
            self.buf = &[];
            return Some(Err(Error::Truncated { needed: len, got }));
        }
        let value = &self.buf[4..len];
        let next = padded(len).min(self.buf.len());
        self.buf = &self.buf[next..];
        Some(Ok(Tlv { ty, value }))
    }
}

/// A parameter of INIT or INIT ACK, decoded where this implementation
/// uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param<'a> {
    /// State cookie (INIT ACK only), opaque to the receiver.
    StateCookie(&'a [u8]),
    /// RFC 3758 §3.1: the sender understands FORWARD TSN.
    ForwardTsnSupported,
    /// RFC 5061 §4.2.7: chunk types the sender understands.
    SupportedExtensions(&'a [u8]),
    /// RFC 9653 §3: the sender accepts packets with a zero checksum when
    /// the lower layer is the given Error Detection Method (1 = DTLS).
    ZeroChecksumAcceptable(u32),
    /// Any other parameter, kept as it came (including the address
    /// parameters, which WebRTC does not use).
    Other(Tlv<'a>),
}

impl<'a> Param<'a> {
    /// Decodes one TLV.
    pub fn parse(tlv: Tlv<'a>) -> Result<Self> {
        Ok(match ParamType(tlv.ty) {
            ParamType::STATE_COOKIE => Param::StateCookie(tlv.value),
            ParamType::FORWARD_TSN_SUPPORTED => Param::ForwardTsnSupported,
            ParamType::SUPPORTED_EXTENSIONS => Param::SupportedExtensions(tlv.value),
            ParamType::ZERO_CHECKSUM_ACCEPTABLE => {
                let v: [u8; 4] = tlv
                    .value
                    .try_into()
                    .map_err(|_| Error::MalformedChunk("zero checksum parameter"))?;
                Param::ZeroChecksumAcceptable(u32::from_be_bytes(v))
            }
            _ => Param::Other(tlv),
        })
    }

    /// The parameter type.
    pub fn param_type(&self) -> ParamType {
        match self {
            Param::StateCookie(_) => ParamType::STATE_COOKIE,
            Param::ForwardTsnSupported => ParamType::FORWARD_TSN_SUPPORTED,
            Param::SupportedExtensions(_) => ParamType::SUPPORTED_EXTENSIONS,
            Param::ZeroChecksumAcceptable(_) => ParamType::ZERO_CHECKSUM_ACCEPTABLE,
            Param::Other(t) => ParamType(t.ty),
        }
    }

    /// Bytes on the wire, padding included.
    pub fn buffer_len(&self) -> usize {
        padded(
            4 + match self {
                Param::StateCookie(v) | Param::SupportedExtensions(v) => v.len(),
                Param::ForwardTsnSupported => 0,
                Param::ZeroChecksumAcceptable(_) => 4,
                Param::Other(t) => t.value.len(),
            },
        )
    }

    /// Appends it to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let ty = self.param_type().0;
        match self {
            Param::StateCookie(v) | Param::SupportedExtensions(v) => emit_tlv(out, ty, v),
            Param::ForwardTsnSupported => emit_tlv(out, ty, &[]),
            Param::ZeroChecksumAcceptable(e) => emit_tlv(out, ty, &e.to_be_bytes()),
            Param::Other(t) => emit_tlv(out, ty, t.value),
        }
    }
}

/// Error cause codes (RFC 9260 §3.3.10) that this implementation sends or
/// reads.
pub mod cause {
    /// Invalid stream identifier.
    pub const INVALID_STREAM_IDENTIFIER: u16 = 1;
    /// Missing mandatory parameter.
    pub const MISSING_MANDATORY_PARAMETER: u16 = 2;
    /// Stale cookie.
    pub const STALE_COOKIE: u16 = 3;
    /// Out of resource.
    pub const OUT_OF_RESOURCE: u16 = 4;
    /// Unrecognized chunk type (the value is the chunk).
    pub const UNRECOGNIZED_CHUNK_TYPE: u16 = 6;
    /// Unrecognized parameters.
    pub const UNRECOGNIZED_PARAMETERS: u16 = 8;
    /// No user data (a DATA chunk without payload).
    pub const NO_USER_DATA: u16 = 9;
    /// User-initiated abort.
    pub const USER_INITIATED_ABORT: u16 = 12;
    /// Protocol violation.
    pub const PROTOCOL_VIOLATION: u16 = 13;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_iter_reads_padded_values_and_an_unpadded_last_one() {
        // type 7 len 5 (1 byte + 3 padding), then type 0xC000 len 4, then
        // type 0x8008 len 6 without trailing padding.
        let buf = [
            0, 7, 0, 5, 0xAA, 0, 0, 0, 0xC0, 0, 0, 4, 0x80, 8, 0, 6, 0xC0, 0x82,
        ];
        let v: Vec<_> = TlvIter::new(&buf).collect::<Result<_>>().unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(
            v[0],
            Tlv {
                ty: 7,
                value: &[0xAA]
            }
        );
        assert_eq!(
            v[1],
            Tlv {
                ty: 0xC000,
                value: &[]
            }
        );
        assert_eq!(
            v[2],
            Tlv {
                ty: 0x8008,
                value: &[0xC0, 0x82]
            }
        );
    }

    #[test]
    fn tlv_iter_rejects_lengths_that_lie() {
        assert_eq!(
            TlvIter::new(&[0, 7, 0, 3]).next(),
            Some(Err(Error::BadLength(3)))
        );
        assert_eq!(
            TlvIter::new(&[0, 7, 0, 9, 1, 2]).next(),
            Some(Err(Error::Truncated { needed: 9, got: 6 }))
        );
        assert_eq!(
            TlvIter::new(&[0, 7]).next(),
            Some(Err(Error::Truncated { needed: 4, got: 2 }))
        );
    }

    #[test]
    fn params_round_trip() {
        let ps = [
            Param::StateCookie(&[1, 2, 3, 4, 5]),
            Param::ForwardTsnSupported,
            Param::SupportedExtensions(&[0xC0, 0x82]),
            Param::ZeroChecksumAcceptable(1),
            Param::Other(Tlv {
                ty: 0x8000,
                value: &[],
            }),
        ];
        let mut out = Vec::new();
        for p in &ps {
            p.emit(&mut out);
        }
        assert_eq!(out.len(), ps.iter().map(|p| p.buffer_len()).sum::<usize>());
        let back: Vec<_> = TlvIter::new(&out)
            .map(|t| Param::parse(t.unwrap()).unwrap())
            .collect();
        assert_eq!(back, ps);
    }

    #[test]
    fn unrecognized_actions_follow_the_upper_two_bits() {
        assert_eq!(
            ParamType(0x0123).unrecognized_action(),
            UnrecognizedAction::Stop
        );
        assert_eq!(
            ParamType(0x4123).unrecognized_action(),
            UnrecognizedAction::StopAndReport
        );
        assert_eq!(
            ParamType(0x8123).unrecognized_action(),
            UnrecognizedAction::Skip
        );
        assert_eq!(
            ParamType(0xC123).unrecognized_action(),
            UnrecognizedAction::SkipAndReport
        );
    }
}

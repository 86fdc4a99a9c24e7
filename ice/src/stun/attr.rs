//! Typed STUN attributes (RFC 8489 §14, RFC 8445 §16.1): decoding from a raw
//! value and encoding into a message being built.

use super::types::{AttrType, TransactionId, MAGIC_COOKIE};
use super::StunError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const FAMILY_IPV4: u8 = 0x01;
const FAMILY_IPV6: u8 = 0x02;

/// ERROR-CODE (RFC 8489 §14.8): a code 300..=699 and a reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode<'a> {
    /// The code, class × 100 + number.
    pub code: u16,
    /// The reason phrase (UTF-8).
    pub reason: &'a str,
}

impl ErrorCode<'_> {
    /// 400 Bad Request.
    pub const BAD_REQUEST: u16 = 400;
    /// 401 Unauthorized.
    pub const UNAUTHORIZED: u16 = 401;
    /// 420 Unknown Attribute.
    pub const UNKNOWN_ATTRIBUTE: u16 = 420;
    /// 487 Role Conflict (RFC 8445 §7.3.1.1).
    pub const ROLE_CONFLICT: u16 = 487;
    /// 500 Server Error.
    pub const SERVER_ERROR: u16 = 500;
    /// 300 Try Alternate (RFC 8489 §10): ALTERNATE-SERVER says where.
    pub const TRY_ALTERNATE: u16 = 300;
    /// 403 Forbidden (RFC 8656 §19).
    pub const FORBIDDEN: u16 = 403;
    /// 437 Allocation Mismatch (RFC 8656 §19).
    pub const ALLOCATION_MISMATCH: u16 = 437;
    /// 438 Stale Nonce (RFC 8489 §9.2.5).
    pub const STALE_NONCE: u16 = 438;

    /// The reason phrase RFC 8489 §14.8 / RFC 8445 suggest for a code.
    pub fn default_reason(code: u16) -> &'static str {
        match code {
            300 => "Try Alternate",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            420 => "Unknown Attribute",
            437 => "Allocation Mismatch",
            438 => "Stale Nonce",
            441 => "Wrong Credentials",
            442 => "Unsupported Transport Protocol",
            486 => "Allocation Quota Reached",
            508 => "Insufficient Capacity",
            487 => "Role Conflict",
            500 => "Server Error",
            _ => "",
        }
    }
}

/// A decoded attribute. Values borrow from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attribute<'a> {
    /// MAPPED-ADDRESS (§14.1).
    MappedAddress(SocketAddr),
    /// XOR-MAPPED-ADDRESS (§14.2), already un-XORed.
    XorMappedAddress(SocketAddr),
    /// USERNAME (§14.3); for ICE `remote-ufrag:local-ufrag`.
    Username(&'a str),
    /// MESSAGE-INTEGRITY (§14.5): the 20-byte HMAC-SHA1 as received.
    MessageIntegrity(&'a [u8]),
    /// MESSAGE-INTEGRITY-SHA256 (§14.6): 16 to 32 bytes.
    MessageIntegritySha256(&'a [u8]),
    /// FINGERPRINT (§14.7) as received.
    Fingerprint(u32),
    /// ERROR-CODE (§14.8).
    ErrorCode(ErrorCode<'a>),
    /// UNKNOWN-ATTRIBUTES (§14.9): the list of 16-bit types, raw.
    UnknownAttributes(UnknownAttributes<'a>),
    /// REALM (§14.9).
    Realm(&'a str),
    /// NONCE (§14.10).
    Nonce(&'a str),
    /// SOFTWARE (§14.14).
    Software(&'a str),
    /// ALTERNATE-SERVER (§14.15).
    AlternateServer(SocketAddr),
    /// PRIORITY (RFC 8445 §16.1).
    Priority(u32),
    /// USE-CANDIDATE (RFC 8445 §16.1), no value.
    UseCandidate,
    /// ICE-CONTROLLED with its tie-breaker (RFC 8445 §16.1).
    IceControlled(u64),
    /// ICE-CONTROLLING with its tie-breaker (RFC 8445 §16.1).
    IceControlling(u64),
    /// Any other attribute, kept as it was (e.g. GOOG-NETWORK-INFO).
    Other {
        /// Its type.
        attr: AttrType,
        /// Its value without padding.
        value: &'a [u8],
    },
}

/// The value of UNKNOWN-ATTRIBUTES: a list of 16-bit attribute types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownAttributes<'a>(&'a [u8]);

impl<'a> UnknownAttributes<'a> {
    /// The listed types.
    pub fn iter(&self) -> impl Iterator<Item = AttrType> + 'a {
        self.0
            .chunks_exact(2)
            .map(|c| AttrType(u16::from_be_bytes([c[0], c[1]])))
    }

    /// The raw value.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

fn utf8(attr: AttrType, v: &[u8]) -> Result<&str, StunError> {
    std::str::from_utf8(v).map_err(|_| StunError::InvalidUtf8(attr))
}

fn fixed<const N: usize>(attr: AttrType, v: &[u8]) -> Result<[u8; N], StunError> {
    v.try_into()
        .map_err(|_| StunError::BadAttributeLength { attr, len: v.len() })
}

/// The 16 bytes IPv6 addresses are XORed with: cookie then transaction id
/// (RFC 8489 §14.2).
fn xor_pad(tid: &TransactionId) -> [u8; 16] {
    let mut pad = [0u8; 16];
    pad[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    pad[4..].copy_from_slice(&tid.0);
    pad
}

pub(crate) fn decode_address(
    attr: AttrType,
    v: &[u8],
    xor: Option<&TransactionId>,
) -> Result<SocketAddr, StunError> {
    if v.len() < 4 {
        return Err(StunError::BadAttributeLength { attr, len: v.len() });
    }
    let family = v[1];
    let mut port = u16::from_be_bytes([v[2], v[3]]);
    let pad = xor.map(xor_pad);
    if pad.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match family {
        FAMILY_IPV4 => {
            let mut a: [u8; 4] = fixed::<4>(attr, &v[4..])
                .map_err(|_| StunError::BadAttributeLength { attr, len: v.len() })?;
            if let Some(p) = pad {
                a.iter_mut().zip(p).for_each(|(b, k)| *b ^= k);
            }
            IpAddr::V4(Ipv4Addr::from(a))
        }
        FAMILY_IPV6 => {
            let mut a: [u8; 16] = fixed::<16>(attr, &v[4..])
                .map_err(|_| StunError::BadAttributeLength { attr, len: v.len() })?;
            if let Some(p) = pad {
                a.iter_mut().zip(p).for_each(|(b, k)| *b ^= k);
            }
            IpAddr::V6(Ipv6Addr::from(a))
        }
        family => return Err(StunError::UnknownAddressFamily { attr, family }),
    };
    Ok(SocketAddr::new(ip, port))
}

/// Writes an address value (8 or 20 bytes) into `out`.
pub(crate) fn encode_address(out: &mut Vec<u8>, addr: SocketAddr, xor: Option<&TransactionId>) {
    let pad = xor.map(xor_pad);
    let mut port = addr.port();
    if pad.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.extend_from_slice(&[0, FAMILY_IPV4]);
            out.extend_from_slice(&port.to_be_bytes());
            let mut a = ip.octets();
            if let Some(p) = pad {
                a.iter_mut().zip(p).for_each(|(b, k)| *b ^= k);
            }
            out.extend_from_slice(&a);
        }
        IpAddr::V6(ip) => {
            out.extend_from_slice(&[0, FAMILY_IPV6]);
            out.extend_from_slice(&port.to_be_bytes());
            let mut a = ip.octets();
            if let Some(p) = pad {
                a.iter_mut().zip(p).for_each(|(b, k)| *b ^= k);
            }
            out.extend_from_slice(&a);
        }
    }
}

impl<'a> Attribute<'a> {
    /// Decodes a raw attribute value.
    pub fn decode(attr: AttrType, v: &'a [u8], tid: &TransactionId) -> Result<Self, StunError> {
        Ok(match attr {
            AttrType::MAPPED_ADDRESS => Attribute::MappedAddress(decode_address(attr, v, None)?),
            AttrType::XOR_MAPPED_ADDRESS => {
                Attribute::XorMappedAddress(decode_address(attr, v, Some(tid))?)
            }
            AttrType::ALTERNATE_SERVER => {
                Attribute::AlternateServer(decode_address(attr, v, None)?)
            }
            AttrType::USERNAME => Attribute::Username(utf8(attr, v)?),
            AttrType::REALM => Attribute::Realm(utf8(attr, v)?),
            AttrType::NONCE => Attribute::Nonce(utf8(attr, v)?),
            AttrType::SOFTWARE => Attribute::Software(utf8(attr, v)?),
            AttrType::MESSAGE_INTEGRITY => {
                fixed::<20>(attr, v)?;
                Attribute::MessageIntegrity(v)
            }
            AttrType::MESSAGE_INTEGRITY_SHA256 => {
                if !(16..=32).contains(&v.len()) || v.len() % 4 != 0 {
                    return Err(StunError::BadAttributeLength { attr, len: v.len() });
                }
                Attribute::MessageIntegritySha256(v)
            }
            AttrType::FINGERPRINT => Attribute::Fingerprint(u32::from_be_bytes(fixed(attr, v)?)),
            AttrType::PRIORITY => Attribute::Priority(u32::from_be_bytes(fixed(attr, v)?)),
            AttrType::ICE_CONTROLLED => {
                Attribute::IceControlled(u64::from_be_bytes(fixed(attr, v)?))
            }
            AttrType::ICE_CONTROLLING => {
                Attribute::IceControlling(u64::from_be_bytes(fixed(attr, v)?))
            }
            AttrType::USE_CANDIDATE => {
                fixed::<0>(attr, v)?;
                Attribute::UseCandidate
            }
            AttrType::ERROR_CODE => {
                if v.len() < 4 {
                    return Err(StunError::BadAttributeLength { attr, len: v.len() });
                }
                // 21 reserved bits, 3-bit class, 8-bit number (§14.8).
                let class = v[2] & 0x07;
                let number = v[3];
                if !(3..=6).contains(&class) || number > 99 {
                    return Err(StunError::BadErrorCode { class, number });
                }
                Attribute::ErrorCode(ErrorCode {
                    code: class as u16 * 100 + number as u16,
                    reason: utf8(attr, &v[4..])?,
                })
            }
            AttrType::UNKNOWN_ATTRIBUTES => {
                if v.len() % 2 != 0 {
                    return Err(StunError::BadAttributeLength { attr, len: v.len() });
                }
                Attribute::UnknownAttributes(UnknownAttributes(v))
            }
            attr => Attribute::Other { attr, value: v },
        })
    }

    /// The attribute's type.
    pub fn attr_type(&self) -> AttrType {
        match self {
            Attribute::MappedAddress(_) => AttrType::MAPPED_ADDRESS,
            Attribute::XorMappedAddress(_) => AttrType::XOR_MAPPED_ADDRESS,
            Attribute::Username(_) => AttrType::USERNAME,
            Attribute::MessageIntegrity(_) => AttrType::MESSAGE_INTEGRITY,
            Attribute::MessageIntegritySha256(_) => AttrType::MESSAGE_INTEGRITY_SHA256,
            Attribute::Fingerprint(_) => AttrType::FINGERPRINT,
            Attribute::ErrorCode(_) => AttrType::ERROR_CODE,
            Attribute::UnknownAttributes(_) => AttrType::UNKNOWN_ATTRIBUTES,
            Attribute::Realm(_) => AttrType::REALM,
            Attribute::Nonce(_) => AttrType::NONCE,
            Attribute::Software(_) => AttrType::SOFTWARE,
            Attribute::AlternateServer(_) => AttrType::ALTERNATE_SERVER,
            Attribute::Priority(_) => AttrType::PRIORITY,
            Attribute::UseCandidate => AttrType::USE_CANDIDATE,
            Attribute::IceControlled(_) => AttrType::ICE_CONTROLLED,
            Attribute::IceControlling(_) => AttrType::ICE_CONTROLLING,
            Attribute::Other { attr, .. } => *attr,
        }
    }

    /// Appends the value (without the TLV header and padding) to `out`.
    /// Returns an error for an ERROR-CODE outside 300..=699.
    pub(crate) fn encode_value(
        &self,
        out: &mut Vec<u8>,
        tid: &TransactionId,
    ) -> Result<(), StunError> {
        match *self {
            Attribute::MappedAddress(a) | Attribute::AlternateServer(a) => {
                encode_address(out, a, None)
            }
            Attribute::XorMappedAddress(a) => encode_address(out, a, Some(tid)),
            Attribute::Username(s)
            | Attribute::Realm(s)
            | Attribute::Nonce(s)
            | Attribute::Software(s) => out.extend_from_slice(s.as_bytes()),
            Attribute::MessageIntegrity(v) | Attribute::MessageIntegritySha256(v) => {
                out.extend_from_slice(v)
            }
            Attribute::Fingerprint(f) => out.extend_from_slice(&f.to_be_bytes()),
            Attribute::ErrorCode(e) => {
                if !(300..700).contains(&e.code) {
                    return Err(StunError::BadErrorCode {
                        class: (e.code / 100).min(255) as u8,
                        number: (e.code % 100) as u8,
                    });
                }
                out.extend_from_slice(&[0, 0, (e.code / 100) as u8, (e.code % 100) as u8]);
                out.extend_from_slice(e.reason.as_bytes());
            }
            Attribute::UnknownAttributes(u) => out.extend_from_slice(u.0),
            Attribute::Priority(p) => out.extend_from_slice(&p.to_be_bytes()),
            Attribute::UseCandidate => {}
            Attribute::IceControlled(t) | Attribute::IceControlling(t) => {
                out.extend_from_slice(&t.to_be_bytes())
            }
            Attribute::Other { value, .. } => out.extend_from_slice(value),
        }
        Ok(())
    }
}

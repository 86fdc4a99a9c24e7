//! STUN header field types: class, method, transaction id and attribute
//! type (RFC 8489 §5, §18.3).

use std::fmt;

/// The magic cookie every RFC 5389/8489 message carries (RFC 8489 §5).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// Length of the fixed STUN header (RFC 8489 §5).
pub const HEADER_LEN: usize = 20;

/// The class of a STUN message: the two C bits of the message type
/// (RFC 8489 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// 0b00: a request, answered by a success or error response.
    Request,
    /// 0b01: an indication, never answered.
    Indication,
    /// 0b10: a success response.
    Success,
    /// 0b11: an error response.
    Error,
}

impl Class {
    fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::Success => 0b10,
            Class::Error => 0b11,
        }
    }

    fn from_bits(bits: u16) -> Class {
        match bits & 0b11 {
            0b00 => Class::Request,
            0b01 => Class::Indication,
            0b10 => Class::Success,
            _ => Class::Error,
        }
    }

    /// A short lowercase name ("request", "success response", ...).
    pub fn name(self) -> &'static str {
        match self {
            Class::Request => "request",
            Class::Indication => "indication",
            Class::Success => "success response",
            Class::Error => "error response",
        }
    }
}

/// A STUN method: 12 bits interleaved with the class bits in the message
/// type (RFC 8489 §5). Unknown methods are kept as their number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Method(pub u16);

impl Method {
    /// Binding (RFC 8489 §18.2), the only method ICE uses.
    pub const BINDING: Method = Method(0x001);
    /// Allocate (RFC 8656 §7, §18), a TURN request.
    pub const ALLOCATE: Method = Method(0x003);
    /// Refresh (RFC 8656 §8), a TURN request.
    pub const REFRESH: Method = Method(0x004);
    /// Send (RFC 8656 §11.1), a TURN indication from the client.
    pub const SEND: Method = Method(0x006);
    /// Data (RFC 8656 §11.4), a TURN indication from the server.
    pub const DATA: Method = Method(0x007);
    /// CreatePermission (RFC 8656 §10), a TURN request.
    pub const CREATE_PERMISSION: Method = Method(0x008);
    /// ChannelBind (RFC 8656 §12.1), a TURN request.
    pub const CHANNEL_BIND: Method = Method(0x009);

    /// The method's registered name, if it is one meshrtc knows.
    pub fn name(self) -> Option<&'static str> {
        match self.0 {
            0x001 => Some("Binding"),
            0x003 => Some("Allocate"),
            0x004 => Some("Refresh"),
            0x006 => Some("Send"),
            0x007 => Some("Data"),
            0x008 => Some("CreatePermission"),
            0x009 => Some("ChannelBind"),
            _ => None,
        }
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Method({:#05x})", self.0),
        }
    }
}

/// Packs a method and class into the 14-bit message type (RFC 8489 §5,
/// figure 3): `M11..M7 C1 M6..M4 C0 M3..M0`.
pub fn message_type(class: Class, method: Method) -> u16 {
    let m = method.0 & 0x0FFF;
    let c = class.bits();
    (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
}

/// Splits a message type into class and method (the inverse of
/// [`message_type`]). The two most significant bits must already have been
/// checked to be zero.
pub fn split_message_type(t: u16) -> (Class, Method) {
    let class = Class::from_bits(((t >> 4) & 1) | ((t >> 7) & 2));
    let method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80);
    (class, Method(method))
}

/// The 96-bit transaction id (RFC 8489 §5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub [u8; 12]);

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A STUN attribute type (RFC 8489 §18.3). Unknown types are kept as their
/// number, so nothing is lost in a round trip.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrType(pub u16);

impl AttrType {
    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    pub const MAPPED_ADDRESS: AttrType = AttrType(0x0001);
    /// USERNAME (RFC 8489 §14.3).
    pub const USERNAME: AttrType = AttrType(0x0006);
    /// MESSAGE-INTEGRITY, HMAC-SHA1 (RFC 8489 §14.5).
    pub const MESSAGE_INTEGRITY: AttrType = AttrType(0x0008);
    /// ERROR-CODE (RFC 8489 §14.8).
    pub const ERROR_CODE: AttrType = AttrType(0x0009);
    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.9).
    pub const UNKNOWN_ATTRIBUTES: AttrType = AttrType(0x000A);
    /// CHANNEL-NUMBER (RFC 8656 §18.1).
    pub const CHANNEL_NUMBER: AttrType = AttrType(0x000C);
    /// LIFETIME in seconds (RFC 8656 §18.2).
    pub const LIFETIME: AttrType = AttrType(0x000D);
    /// XOR-PEER-ADDRESS (RFC 8656 §18.3).
    pub const XOR_PEER_ADDRESS: AttrType = AttrType(0x0012);
    /// DATA (RFC 8656 §18.4).
    pub const DATA: AttrType = AttrType(0x0013);
    /// XOR-RELAYED-ADDRESS (RFC 8656 §18.5).
    pub const XOR_RELAYED_ADDRESS: AttrType = AttrType(0x0016);
    /// REQUESTED-ADDRESS-FAMILY (RFC 8656 §18.6).
    pub const REQUESTED_ADDRESS_FAMILY: AttrType = AttrType(0x0017);
    /// REQUESTED-TRANSPORT (RFC 8656 §18.7).
    pub const REQUESTED_TRANSPORT: AttrType = AttrType(0x0019);
    /// DONT-FRAGMENT (RFC 8656 §18.8).
    pub const DONT_FRAGMENT: AttrType = AttrType(0x001A);
    /// REALM (RFC 8489 §14.9).
    pub const REALM: AttrType = AttrType(0x0014);
    /// NONCE (RFC 8489 §14.10).
    pub const NONCE: AttrType = AttrType(0x0015);
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6).
    pub const MESSAGE_INTEGRITY_SHA256: AttrType = AttrType(0x001C);
    /// PASSWORD-ALGORITHM (RFC 8489 §14.12).
    pub const PASSWORD_ALGORITHM: AttrType = AttrType(0x001D);
    /// USERHASH (RFC 8489 §14.4).
    pub const USERHASH: AttrType = AttrType(0x001E);
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2).
    pub const XOR_MAPPED_ADDRESS: AttrType = AttrType(0x0020);
    /// PRIORITY (RFC 8445 §16.1).
    pub const PRIORITY: AttrType = AttrType(0x0024);
    /// USE-CANDIDATE (RFC 8445 §16.1).
    pub const USE_CANDIDATE: AttrType = AttrType(0x0025);
    /// PASSWORD-ALGORITHMS (RFC 8489 §14.11).
    pub const PASSWORD_ALGORITHMS: AttrType = AttrType(0x8002);
    /// ALTERNATE-DOMAIN (RFC 8489 §14.16).
    pub const ALTERNATE_DOMAIN: AttrType = AttrType(0x8003);
    /// SOFTWARE (RFC 8489 §14.14).
    pub const SOFTWARE: AttrType = AttrType(0x8022);
    /// ALTERNATE-SERVER (RFC 8489 §14.15).
    pub const ALTERNATE_SERVER: AttrType = AttrType(0x8023);
    /// FINGERPRINT (RFC 8489 §14.7).
    pub const FINGERPRINT: AttrType = AttrType(0x8028);
    /// ICE-CONTROLLED (RFC 8445 §16.1).
    pub const ICE_CONTROLLED: AttrType = AttrType(0x8029);
    /// ICE-CONTROLLING (RFC 8445 §16.1).
    pub const ICE_CONTROLLING: AttrType = AttrType(0x802A);
    /// RESPONSE-ORIGIN (RFC 5780 §7.3).
    pub const RESPONSE_ORIGIN: AttrType = AttrType(0x802B);
    /// OTHER-ADDRESS (RFC 5780 §7.4).
    pub const OTHER_ADDRESS: AttrType = AttrType(0x802C);
    /// GOOG-NETWORK-INFO: Chromium's network id and cost (not in any RFC).
    pub const GOOG_NETWORK_INFO: AttrType = AttrType(0xC057);

    /// Types 0x0000–0x7FFF are comprehension-required: a receiver that does
    /// not understand one must reject a request with 420 (RFC 8489 §14).
    pub fn is_comprehension_required(self) -> bool {
        self.0 < 0x8000
    }

    /// Whether meshrtc's codec understands this attribute.
    pub fn is_known(self) -> bool {
        matches!(
            self,
            AttrType::MAPPED_ADDRESS
                | AttrType::USERNAME
                | AttrType::MESSAGE_INTEGRITY
                | AttrType::ERROR_CODE
                | AttrType::UNKNOWN_ATTRIBUTES
                | AttrType::REALM
                | AttrType::NONCE
                | AttrType::MESSAGE_INTEGRITY_SHA256
                | AttrType::XOR_MAPPED_ADDRESS
                | AttrType::PRIORITY
                | AttrType::USE_CANDIDATE
                | AttrType::SOFTWARE
                | AttrType::ALTERNATE_SERVER
                | AttrType::FINGERPRINT
                | AttrType::ICE_CONTROLLED
                | AttrType::ICE_CONTROLLING
        )
    }

    /// The registered name, for display.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            AttrType::MAPPED_ADDRESS => "MAPPED-ADDRESS",
            AttrType::USERNAME => "USERNAME",
            AttrType::MESSAGE_INTEGRITY => "MESSAGE-INTEGRITY",
            AttrType::ERROR_CODE => "ERROR-CODE",
            AttrType::UNKNOWN_ATTRIBUTES => "UNKNOWN-ATTRIBUTES",
            AttrType::CHANNEL_NUMBER => "CHANNEL-NUMBER",
            AttrType::LIFETIME => "LIFETIME",
            AttrType::XOR_PEER_ADDRESS => "XOR-PEER-ADDRESS",
            AttrType::DATA => "DATA",
            AttrType::XOR_RELAYED_ADDRESS => "XOR-RELAYED-ADDRESS",
            AttrType::REQUESTED_ADDRESS_FAMILY => "REQUESTED-ADDRESS-FAMILY",
            AttrType::REQUESTED_TRANSPORT => "REQUESTED-TRANSPORT",
            AttrType::DONT_FRAGMENT => "DONT-FRAGMENT",
            AttrType::REALM => "REALM",
            AttrType::NONCE => "NONCE",
            AttrType::MESSAGE_INTEGRITY_SHA256 => "MESSAGE-INTEGRITY-SHA256",
            AttrType::PASSWORD_ALGORITHM => "PASSWORD-ALGORITHM",
            AttrType::USERHASH => "USERHASH",
            AttrType::XOR_MAPPED_ADDRESS => "XOR-MAPPED-ADDRESS",
            AttrType::PRIORITY => "PRIORITY",
            AttrType::USE_CANDIDATE => "USE-CANDIDATE",
            AttrType::PASSWORD_ALGORITHMS => "PASSWORD-ALGORITHMS",
            AttrType::ALTERNATE_DOMAIN => "ALTERNATE-DOMAIN",
            AttrType::SOFTWARE => "SOFTWARE",
            AttrType::ALTERNATE_SERVER => "ALTERNATE-SERVER",
            AttrType::FINGERPRINT => "FINGERPRINT",
            AttrType::ICE_CONTROLLED => "ICE-CONTROLLED",
            AttrType::ICE_CONTROLLING => "ICE-CONTROLLING",
            AttrType::RESPONSE_ORIGIN => "RESPONSE-ORIGIN",
            AttrType::OTHER_ADDRESS => "OTHER-ADDRESS",
            AttrType::GOOG_NETWORK_INFO => "GOOG-NETWORK-INFO",
            _ => return None,
        })
    }
}

impl fmt::Debug for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "AttrType({:#06x})", self.0),
        }
    }
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{:#06x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_message_types_match_rfc_8489_table() {
        // RFC 8489 §5: Binding request 0x0001, indication 0x0011,
        // success 0x0101, error 0x0111.
        assert_eq!(message_type(Class::Request, Method::BINDING), 0x0001);
        assert_eq!(message_type(Class::Indication, Method::BINDING), 0x0011);
        assert_eq!(message_type(Class::Success, Method::BINDING), 0x0101);
        assert_eq!(message_type(Class::Error, Method::BINDING), 0x0111);
    }

    #[test]
    fn every_method_and_class_survives_packing() {
        for m in 0..0x1000u16 {
            for c in [
                Class::Request,
                Class::Indication,
                Class::Success,
                Class::Error,
            ] {
                let t = message_type(c, Method(m));
                assert_eq!(t & 0xC000, 0);
                assert_eq!(split_message_type(t), (c, Method(m)));
            }
        }
    }

    #[test]
    fn unknown_attribute_types_print_in_hex() {
        assert_eq!(format!("{:?}", AttrType(0xC0DE)), "AttrType(0xc0de)");
        assert_eq!(
            format!("{:?}", AttrType::GOOG_NETWORK_INFO),
            "GOOG-NETWORK-INFO"
        );
        assert!(AttrType(0x7FFF).is_comprehension_required());
        assert!(!AttrType(0x8000).is_comprehension_required());
    }
}

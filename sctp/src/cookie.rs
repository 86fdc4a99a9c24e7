//! The state cookie (RFC 9260 §5.1.3): what the INIT ACK sender needs to
//! build the association when the COOKIE ECHO comes back, with an
//! HMAC-SHA256 over it under a secret from the configuration and a
//! creation time checked against a lifetime (§5.1.5).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

const BODY_LEN: usize = 4 + 4 + 4 + 4 + 4 + 2 + 2 + 1 + 8;
const MAC_LEN: usize = 32;
/// Cookie length on the wire.
pub const COOKIE_LEN: usize = BODY_LEN + MAC_LEN;

/// The cookie's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCookie {
    /// Our verification tag (the initiate tag of our INIT ACK).
    pub local_tag: u32,
    /// The peer's tag (the initiate tag of its INIT).
    pub peer_tag: u32,
    /// Our initial TSN.
    pub local_initial_tsn: u32,
    /// The peer's initial TSN.
    pub peer_initial_tsn: u32,
    /// The peer's a_rwnd.
    pub peer_a_rwnd: u32,
    /// Streams the peer sends on (its outbound).
    pub peer_outbound_streams: u16,
    /// Streams the peer receives on (its inbound).
    pub peer_inbound_streams: u16,
    /// Peer capabilities: bit 0 FORWARD TSN, bit 1 RE-CONFIG, bit 2 zero checksum.
    pub peer_features: u8,
    /// When it was made, in milliseconds of the association's clock.
    pub created_ms: u64,
}

impl StateCookie {
    /// Serializes and MACs it.
    pub fn seal(&self, secret: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(COOKIE_LEN);
        out.extend_from_slice(&self.local_tag.to_be_bytes());
        out.extend_from_slice(&self.peer_tag.to_be_bytes());
        out.extend_from_slice(&self.local_initial_tsn.to_be_bytes());
        out.extend_from_slice(&self.peer_initial_tsn.to_be_bytes());
        out.extend_from_slice(&self.peer_a_rwnd.to_be_bytes());
        out.extend_from_slice(&self.peer_outbound_streams.to_be_bytes());
        out.extend_from_slice(&self.peer_inbound_streams.to_be_bytes());
        out.push(self.peer_features);
        out.extend_from_slice(&self.created_ms.to_be_bytes());
        let mut mac = HmacSha256::new_from_slice(secret).expect("any key length");
        mac.update(&out);
        out.extend_from_slice(&mac.finalize().into_bytes());
        out
    }

    /// Checks the MAC (in constant time) and decodes.
    pub fn open(bytes: &[u8], secret: &[u8; 32]) -> Result<Self> {
        if bytes.len() != COOKIE_LEN {
            return Err(Error::BadCookie);
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        let mut mac = HmacSha256::new_from_slice(secret).expect("any key length");
        mac.update(body);
        mac.verify_slice(tag).map_err(|_| Error::BadCookie)?;
        let u32_at =
            |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
        let u16_at = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
        let mut ms = [0u8; 8];
        ms.copy_from_slice(&body[25..33]);
        Ok(StateCookie {
            local_tag: u32_at(0),
            peer_tag: u32_at(4),
            local_initial_tsn: u32_at(8),
            peer_initial_tsn: u32_at(12),
            peer_a_rwnd: u32_at(16),
            peer_outbound_streams: u16_at(20),
            peer_inbound_streams: u16_at(22),
            peer_features: body[24],
            created_ms: u64::from_be_bytes(ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie() -> StateCookie {
        StateCookie {
            local_tag: 1,
            peer_tag: 2,
            local_initial_tsn: 3,
            peer_initial_tsn: 4,
            peer_a_rwnd: 5,
            peer_outbound_streams: 6,
            peer_inbound_streams: 7,
            peer_features: 3,
            created_ms: 9,
        }
    }

    #[test]
    fn cookie_opens_under_its_secret_only() {
        let sealed = cookie().seal(&[7; 32]);
        assert_eq!(sealed.len(), COOKIE_LEN);
        assert_eq!(StateCookie::open(&sealed, &[7; 32]).unwrap(), cookie());
        assert_eq!(StateCookie::open(&sealed, &[8; 32]), Err(Error::BadCookie));
    }

    #[test]
    fn any_altered_byte_fails_the_mac() {
        let sealed = cookie().seal(&[7; 32]);
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(
                StateCookie::open(&bad, &[7; 32]),
                Err(Error::BadCookie),
                "byte {i}"
            );
        }
        assert_eq!(
            StateCookie::open(&sealed[1..], &[7; 32]),
            Err(Error::BadCookie)
        );
    }
}

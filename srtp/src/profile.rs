//! SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2) and master
//! keys, including the DTLS-SRTP keying material layout (RFC 5764 §4.2).

use crate::SrtpError;

/// An SRTP protection profile, named as in DTLS-SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// SRTP_AES128_CM_HMAC_SHA1_80 (0x0001): AES-128 counter mode,
    /// HMAC-SHA1 with an 80-bit tag. What two Chromiums settle on.
    Aes128CmHmacSha1_80,
    /// SRTP_AES128_CM_HMAC_SHA1_32 (0x0002): the same with a 32-bit RTP tag
    /// (SRTCP keeps 80 bits, RFC 5764 §4.1.2).
    Aes128CmHmacSha1_32,
    /// SRTP_AEAD_AES_128_GCM (0x0007, RFC 7714): AES-128-GCM, 16-byte tag.
    AeadAes128Gcm,
    /// SRTP_AEAD_AES_256_GCM (0x0008, RFC 7714): AES-256-GCM, 16-byte tag.
    AeadAes256Gcm,
}

impl Profile {
    /// Every profile, in meshrtc's order of preference as a DTLS server
    /// (AEAD first: authenticated encryption in one pass).
    pub const ALL: [Profile; 4] = [
        Profile::AeadAes128Gcm,
        Profile::AeadAes256Gcm,
        Profile::Aes128CmHmacSha1_80,
        Profile::Aes128CmHmacSha1_32,
    ];

    /// The profile for a DTLS-SRTP `use_srtp` id.
    pub fn from_dtls_id(id: u16) -> Option<Profile> {
        Some(match id {
            0x0001 => Profile::Aes128CmHmacSha1_80,
            0x0002 => Profile::Aes128CmHmacSha1_32,
            0x0007 => Profile::AeadAes128Gcm,
            0x0008 => Profile::AeadAes256Gcm,
            _ => return None,
        })
    }

    /// The DTLS-SRTP `use_srtp` id.
    pub fn dtls_id(self) -> u16 {
        match self {
            Profile::Aes128CmHmacSha1_80 => 0x0001,
            Profile::Aes128CmHmacSha1_32 => 0x0002,
            Profile::AeadAes128Gcm => 0x0007,
            Profile::AeadAes256Gcm => 0x0008,
        }
    }

    /// The profile's registered name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Aes128CmHmacSha1_80 => "SRTP_AES128_CM_HMAC_SHA1_80",
            Profile::Aes128CmHmacSha1_32 => "SRTP_AES128_CM_HMAC_SHA1_32",
            Profile::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
            Profile::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
        }
    }

    /// The profile for a name as [`Profile::name`] gives it, or the SDES
    /// crypto-suite name (RFC 4568 / RFC 7714 §14.1).
    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| {
            p.name().eq_ignore_ascii_case(name) || p.sdes_name().eq_ignore_ascii_case(name)
        })
    }

    /// The SDES crypto-suite name.
    pub fn sdes_name(self) -> &'static str {
        match self {
            Profile::Aes128CmHmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Profile::Aes128CmHmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Profile::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Profile::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Whether this is an AEAD (GCM) profile.
    pub fn is_aead(self) -> bool {
        matches!(self, Profile::AeadAes128Gcm | Profile::AeadAes256Gcm)
    }

    /// Master key length in bytes.
    pub fn master_key_len(self) -> usize {
        match self {
            Profile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master salt length in bytes (112 bits for AES-CM, 96 for GCM).
    pub fn master_salt_len(self) -> usize {
        if self.is_aead() {
            12
        } else {
            14
        }
    }

    /// Authentication tag length of SRTP packets.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_80 => 10,
            Profile::Aes128CmHmacSha1_32 => 4,
            _ => 16,
        }
    }

    /// Authentication tag length of SRTCP packets.
    pub fn rtcp_tag_len(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_80 | Profile::Aes128CmHmacSha1_32 => 10,
            _ => 16,
        }
    }

    /// Length of the DTLS-SRTP keying material (RFC 5764 §4.2): two keys
    /// and two salts. 60 bytes for AES-CM, 56 for AES-128-GCM, 88 for
    /// AES-256-GCM.
    pub fn keying_material_len(self) -> usize {
        2 * (self.master_key_len() + self.master_salt_len())
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A master key and master salt for one direction.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    profile: Profile,
    key: [u8; 32],
    salt: [u8; 14],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, ..)", self.profile)
    }
}

impl MasterKey {
    /// A master key from its parts, checked against the profile's lengths.
    pub fn new(profile: Profile, key: &[u8], salt: &[u8]) -> Result<MasterKey, SrtpError> {
        if key.len() != profile.master_key_len() {
            return Err(SrtpError::BadKeyLength {
                expected: profile.master_key_len(),
                got: key.len(),
            });
        }
        if salt.len() != profile.master_salt_len() {
            return Err(SrtpError::BadKeyLength {
                expected: profile.master_salt_len(),
                got: salt.len(),
            });
        }
        let mut k = [0u8; 32];
        k[..key.len()].copy_from_slice(key);
        let mut s = [0u8; 14];
        s[..salt.len()].copy_from_slice(salt);
        Ok(MasterKey {
            profile,
            key: k,
            salt: s,
        })
    }

    /// A master key from key and salt concatenated, as SDES inline keys
    /// and libsrtp carry them.
    pub fn from_concatenated(
        profile: Profile,
        key_and_salt: &[u8],
    ) -> Result<MasterKey, SrtpError> {
        let k = profile.master_key_len();
        let expected = k + profile.master_salt_len();
        if key_and_salt.len() != expected {
            return Err(SrtpError::BadKeyLength {
                expected,
                got: key_and_salt.len(),
            });
        }
        MasterKey::new(profile, &key_and_salt[..k], &key_and_salt[k..])
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The master key.
    pub fn key(&self) -> &[u8] {
        &self.key[..self.profile.master_key_len()]
    }

    /// The master salt.
    pub fn salt(&self) -> &[u8] {
        &self.salt[..self.profile.master_salt_len()]
    }
}

/// Splits DTLS-SRTP keying material (RFC 5764 §4.2: client write key,
/// server write key, client write salt, server write salt) into the
/// client's and the server's master keys. The DTLS client protects with the
/// client's and unprotects with the server's; the server the other way.
pub fn split_keying_material(
    profile: Profile,
    material: &[u8],
) -> Result<(MasterKey, MasterKey), SrtpError> {
    if material.len() != profile.keying_material_len() {
        return Err(SrtpError::BadKeyLength {
            expected: profile.keying_material_len(),
            got: material.len(),
        });
    }
    let (k, s) = (profile.master_key_len(), profile.master_salt_len());
    let client = MasterKey::new(profile, &material[..k], &material[2 * k..2 * k + s])?;
    let server = MasterKey::new(profile, &material[k..2 * k], &material[2 * k + s..])?;
    Ok((client, server))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keying_material_lengths_match_rfc_5764_and_7714() {
        assert_eq!(Profile::Aes128CmHmacSha1_80.keying_material_len(), 60);
        assert_eq!(Profile::AeadAes128Gcm.keying_material_len(), 56);
        assert_eq!(Profile::AeadAes256Gcm.keying_material_len(), 88);
        for p in Profile::ALL {
            assert_eq!(Profile::from_dtls_id(p.dtls_id()), Some(p));
            assert_eq!(Profile::from_name(p.name()), Some(p));
            assert_eq!(Profile::from_name(p.sdes_name()), Some(p));
        }
        assert_eq!(Profile::from_dtls_id(0x0005), None);
    }

    #[test]
    fn split_follows_the_rfc_5764_layout() {
        let m: Vec<u8> = (0..60).collect();
        let (c, s) = split_keying_material(Profile::Aes128CmHmacSha1_80, &m).unwrap();
        assert_eq!(c.key(), &m[0..16]);
        assert_eq!(s.key(), &m[16..32]);
        assert_eq!(c.salt(), &m[32..46]);
        assert_eq!(s.salt(), &m[46..60]);
        assert!(split_keying_material(Profile::AeadAes128Gcm, &m).is_err());
        let m: Vec<u8> = (0..56).collect();
        let (c, s) = split_keying_material(Profile::AeadAes128Gcm, &m).unwrap();
        assert_eq!(
            (c.key(), s.key(), c.salt(), s.salt()),
            (&m[0..16], &m[16..32], &m[32..44], &m[44..56])
        );
    }
}

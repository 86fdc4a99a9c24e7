//! The handshake's public-key parts through ring: ephemeral ECDHE on
//! x25519 or secp256r1 (RFC 8422 §5.4, §5.10) and ECDSA P-256 / SHA-256
//! signatures in DER (RFC 8422 §5.10, RFC 5246 §4.7). Certificates and the
//! long-term key come from the caller (rcgen in meshrtc).

use ring::{agreement, rand, signature};

/// Named groups meshrtc offers (IANA values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// x25519 (29).
    X25519,
    /// secp256r1 (23): OpenSSL only picks an ECDSA P-256 certificate when
    /// the client lists it.
    Secp256r1,
}

impl Group {
    /// The IANA code point.
    pub fn id(self) -> u16 {
        match self {
            Group::X25519 => 29,
            Group::Secp256r1 => 23,
        }
    }

    /// From a code point.
    pub fn from_id(id: u16) -> Option<Group> {
        match id {
            29 => Some(Group::X25519),
            23 => Some(Group::Secp256r1),
            _ => None,
        }
    }

    fn algorithm(self) -> &'static agreement::Algorithm {
        match self {
            Group::X25519 => &agreement::X25519,
            Group::Secp256r1 => &agreement::ECDH_P256,
        }
    }
}

/// Why a key exchange or signature step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KxError {
    /// The system random generator failed.
    #[error("random generator failed")]
    Random,
    /// The peer's public key is malformed or not on the curve.
    #[error("invalid peer public key")]
    BadPeerKey,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The signing key is not a PKCS#8 ECDSA P-256 key.
    #[error("invalid signing key")]
    BadSigningKey,
}

/// One side's ephemeral key, used once.
pub struct Ephemeral {
    group: Group,
    private: agreement::EphemeralPrivateKey,
    public: Vec<u8>,
}

impl std::fmt::Debug for Ephemeral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ephemeral")
            .field("group", &self.group)
            .finish()
    }
}

impl Ephemeral {
    /// A fresh key on `group`.
    pub fn generate(group: Group) -> Result<Ephemeral, KxError> {
        let rng = rand::SystemRandom::new();
        let private = agreement::EphemeralPrivateKey::generate(group.algorithm(), &rng)
            .map_err(|_| KxError::Random)?;
        let public = private
            .compute_public_key()
            .map_err(|_| KxError::Random)?
            .as_ref()
            .to_vec();
        Ok(Ephemeral {
            group,
            private,
            public,
        })
    }

    /// The public key as it goes on the wire (32 bytes for x25519, an
    /// uncompressed 65-byte point for P-256).
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The group.
    pub fn group(&self) -> Group {
        self.group
    }

    /// The shared secret with the peer's public key (the pre-master
    /// secret, RFC 8422 §5.10).
    pub fn agree(self, peer_public: &[u8]) -> Result<Vec<u8>, KxError> {
        let peer = agreement::UnparsedPublicKey::new(self.group.algorithm(), peer_public);
        agreement::agree_ephemeral(self.private, &peer, |secret| secret.to_vec())
            .map_err(|_| KxError::BadPeerKey)
    }
}

/// Signs `message` with an ECDSA P-256 key in PKCS#8 DER; the signature is
/// DER (`ecdsa_secp256r1_sha256`, 0x0403).
pub fn sign_p256(pkcs8: &[u8], message: &[u8]) -> Result<Vec<u8>, KxError> {
    let rng = rand::SystemRandom::new();
    let key = signature::EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        pkcs8,
        &rng,
    )
    .map_err(|_| KxError::BadSigningKey)?;
    crate::cert::full_length_signature(|| {
        key.sign(&rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| KxError::Random)
    })
}

/// Checks a DER ECDSA P-256 / SHA-256 signature against an uncompressed
/// public point (from the peer's certificate).
pub fn verify_p256(public_point: &[u8], message: &[u8], sig: &[u8]) -> Result<(), KxError> {
    signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, public_point)
        .verify(message, sig)
        .map_err(|_| KxError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::KeyPair;

    #[test]
    fn both_sides_agree_on_each_group_and_bad_keys_are_refused() {
        for group in [Group::X25519, Group::Secp256r1] {
            let a = Ephemeral::generate(group).unwrap();
            let b = Ephemeral::generate(group).unwrap();
            let (pa, pb) = (a.public_key().to_vec(), b.public_key().to_vec());
            assert_eq!(pa.len(), if group == Group::X25519 { 32 } else { 65 });
            let sa = a.agree(&pb).unwrap();
            let sb = b.agree(&pa).unwrap();
            assert_eq!(sa, sb);
            assert_eq!(sa.len(), 32);
            let c = Ephemeral::generate(group).unwrap();
            assert_eq!(c.agree(&[4; 10]), Err(KxError::BadPeerKey));
            assert_eq!(Group::from_id(group.id()), Some(group));
        }
    }

    #[test]
    fn p256_signatures_verify_and_tampering_fails() {
        let rng = rand::SystemRandom::new();
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .unwrap();
        let pair = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .unwrap();
        let public = pair.public_key().as_ref().to_vec();
        let sig = sign_p256(pkcs8.as_ref(), b"client_random||server_random||params").unwrap();
        assert_eq!(
            verify_p256(&public, b"client_random||server_random||params", &sig),
            Ok(())
        );
        assert_eq!(
            verify_p256(&public, b"client_random||server_random||paramz", &sig),
            Err(KxError::BadSignature)
        );
        assert_eq!(sign_p256(b"not a key", b"m"), Err(KxError::BadSigningKey));
    }
}

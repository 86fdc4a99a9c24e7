//! DTLS 1.3 key shares (RFC 8446 §4.2.8): X25519 and P-256 through ring
//! ([`crate::kx`]), and the X25519MLKEM768 hybrid of
//! draft-ietf-tls-ecdhe-mlkem §3 (code point 0x11EC), ML-KEM-768 from the
//! RustCrypto `ml-kem` crate (FIPS 203):
//!
//! - client share: ML-KEM-768 encapsulation key (1184 bytes) || X25519
//!   public key (32 bytes);
//! - server share: ML-KEM-768 ciphertext (1088 bytes) || X25519 public key;
//! - shared secret: ML-KEM shared secret (32 bytes) || X25519 shared secret.
//!
//! ML-KEM's randomness is ChaCha20 keyed from the association's seeded
//! random source; X25519 and P-256 keys come from ring as in DTLS 1.2.

use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{Ciphertext, Encoded, EncodedSizeUser, KemCore, MlKem768};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::kx::{Ephemeral, Group, KxError};

/// ML-KEM-768 encapsulation key length.
pub const MLKEM768_ENCAPSULATION_KEY_LEN: usize = 1184;
/// ML-KEM-768 ciphertext length.
pub const MLKEM768_CIPHERTEXT_LEN: usize = 1088;
const X25519_LEN: usize = 32;

type EncapsulationKey = <MlKem768 as KemCore>::EncapsulationKey;
type DecapsulationKey = <MlKem768 as KemCore>::DecapsulationKey;

/// The groups a DTLS 1.3 key share can be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamedGroup13 {
    /// x25519 (29).
    X25519,
    /// secp256r1 (23).
    Secp256r1,
    /// X25519MLKEM768 (0x11EC, draft-ietf-tls-ecdhe-mlkem).
    X25519MlKem768,
}

impl NamedGroup13 {
    /// The IANA code point.
    pub fn id(self) -> u16 {
        match self {
            NamedGroup13::X25519 => 29,
            NamedGroup13::Secp256r1 => 23,
            NamedGroup13::X25519MlKem768 => 0x11ec,
        }
    }

    /// From a code point we speak.
    pub fn from_id(id: u16) -> Option<NamedGroup13> {
        match id {
            0x11ec => Some(NamedGroup13::X25519MlKem768),
            other => Group::from_id(other).map(NamedGroup13::from),
        }
    }
}

impl From<Group> for NamedGroup13 {
    fn from(g: Group) -> NamedGroup13 {
        match g {
            Group::X25519 => NamedGroup13::X25519,
            Group::Secp256r1 => NamedGroup13::Secp256r1,
        }
    }
}

/// Our half of a key exchange, used once.
pub enum KeyShare {
    /// X25519 or P-256.
    Classic(Ephemeral),
    /// X25519MLKEM768.
    Hybrid {
        /// The ML-KEM decapsulation key.
        decapsulation: Box<DecapsulationKey>,
        /// The X25519 half.
        x25519: Ephemeral,
        /// encapsulation key || X25519 public key.
        public: Vec<u8>,
    },
}

impl std::fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("KeyShare").field(&self.group()).finish()
    }
}

impl KeyShare {
    /// A fresh share on `group`; `seed` keys ML-KEM's randomness.
    pub fn generate(group: NamedGroup13, seed: [u8; 32]) -> Result<KeyShare, KxError> {
        Ok(match group {
            NamedGroup13::X25519 => KeyShare::Classic(Ephemeral::generate(Group::X25519)?),
            NamedGroup13::Secp256r1 => KeyShare::Classic(Ephemeral::generate(Group::Secp256r1)?),
            NamedGroup13::X25519MlKem768 => {
                let (dk, ek) = MlKem768::generate(&mut ChaCha20Rng::from_seed(seed));
                let x25519 = Ephemeral::generate(Group::X25519)?;
                let mut public = ek.as_bytes().to_vec();
                public.extend_from_slice(x25519.public_key());
                KeyShare::Hybrid {
                    decapsulation: Box::new(dk),
                    x25519,
                    public,
                }
            }
        })
    }

    /// The group.
    pub fn group(&self) -> NamedGroup13 {
        match self {
            KeyShare::Classic(e) => e.group().into(),
            KeyShare::Hybrid { .. } => NamedGroup13::X25519MlKem768,
        }
    }

    /// The key_exchange bytes we send.
    pub fn public_key(&self) -> &[u8] {
        match self {
            KeyShare::Classic(e) => e.public_key(),
            KeyShare::Hybrid { public, .. } => public,
        }
    }

    /// Client side: the shared secret from the server's key_exchange.
    pub fn agree(self, server_share: &[u8]) -> Result<Vec<u8>, KxError> {
        match self {
            KeyShare::Classic(e) => e.agree(server_share),
            KeyShare::Hybrid {
                decapsulation,
                x25519,
                ..
            } => {
                if server_share.len() != MLKEM768_CIPHERTEXT_LEN + X25519_LEN {
                    return Err(KxError::BadPeerKey);
                }
                let (ct, x) = server_share.split_at(MLKEM768_CIPHERTEXT_LEN);
                let ct = Ciphertext::<MlKem768>::try_from(ct).map_err(|_| KxError::BadPeerKey)?;
                let ss = decapsulation
                    .decapsulate(&ct)
                    .map_err(|_| KxError::BadPeerKey)?;
                let mut secret = ss.to_vec();
                secret.extend_from_slice(&x25519.agree(x)?);
                Ok(secret)
            }
        }
    }
}

/// Server side: our key_exchange and the shared secret for the client's
/// share on `group`.
pub fn respond(
    group: NamedGroup13,
    client_share: &[u8],
    seed: [u8; 32],
) -> Result<(Vec<u8>, Vec<u8>), KxError> {
    match group {
        NamedGroup13::X25519 | NamedGroup13::Secp256r1 => {
            let KeyShare::Classic(e) = KeyShare::generate(group, seed)? else {
                return Err(KxError::Random);
            };
            let public = e.public_key().to_vec();
            Ok((public, e.agree(client_share)?))
        }
        NamedGroup13::X25519MlKem768 => {
            if client_share.len() != MLKEM768_ENCAPSULATION_KEY_LEN + X25519_LEN {
                return Err(KxError::BadPeerKey);
            }
            let (ek, x) = client_share.split_at(MLKEM768_ENCAPSULATION_KEY_LEN);
            let ek = Encoded::<EncapsulationKey>::try_from(ek).map_err(|_| KxError::BadPeerKey)?;
            let ek = EncapsulationKey::from_bytes(&ek);
            let (ct, ss) = ek
                .encapsulate(&mut ChaCha20Rng::from_seed(seed))
                .map_err(|_| KxError::BadPeerKey)?;
            let eph = Ephemeral::generate(Group::X25519)?;
            let mut public = ct.to_vec();
            public.extend_from_slice(eph.public_key());
            let mut secret = ss.to_vec();
            secret.extend_from_slice(&eph.agree(x)?);
            Ok((public, secret))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_shares_have_the_draft_sizes_and_agree() {
        let client = KeyShare::generate(NamedGroup13::X25519MlKem768, [1; 32]).unwrap();
        assert_eq!(client.public_key().len(), 1184 + 32);
        let (server_public, server_secret) =
            respond(NamedGroup13::X25519MlKem768, client.public_key(), [2; 32]).unwrap();
        assert_eq!(server_public.len(), 1088 + 32);
        assert_eq!(server_secret.len(), 64);
        let client_secret = client.agree(&server_public).unwrap();
        assert_eq!(client_secret, server_secret);
    }

    #[test]
    fn hybrid_secret_is_mlkem_then_x25519() {
        // The X25519 half alone, agreed from the two public halves, is the
        // last 32 bytes; the first 32 come from ML-KEM.
        let client = KeyShare::generate(NamedGroup13::X25519MlKem768, [3; 32]).unwrap();
        let ek = client.public_key()[..1184].to_vec();
        let (server_public, secret) =
            respond(NamedGroup13::X25519MlKem768, client.public_key(), [4; 32]).unwrap();
        let KeyShare::Hybrid { decapsulation, .. } = &client else {
            panic!()
        };
        let ct = Ciphertext::<MlKem768>::try_from(&server_public[..1088]).unwrap();
        let ss = decapsulation.decapsulate(&ct).unwrap();
        assert_eq!(&secret[..32], ss.as_slice());
        assert_ne!(&secret[..32], &secret[32..]);
        assert_eq!(client.agree(&server_public).unwrap(), secret);
        assert_eq!(ek.len(), 1184);
    }

    #[test]
    fn malformed_hybrid_shares_are_refused() {
        let client = KeyShare::generate(NamedGroup13::X25519MlKem768, [5; 32]).unwrap();
        assert_eq!(
            respond(
                NamedGroup13::X25519MlKem768,
                &client.public_key()[..1000],
                [6; 32]
            ),
            Err(KxError::BadPeerKey)
        );
        assert_eq!(client.agree(&[0; 100]), Err(KxError::BadPeerKey));
        assert_eq!(
            NamedGroup13::from_id(0x11ec),
            Some(NamedGroup13::X25519MlKem768)
        );
        assert_eq!(NamedGroup13::from_id(29), Some(NamedGroup13::X25519));
        assert_eq!(NamedGroup13::from_id(0x6399), None);
    }
}

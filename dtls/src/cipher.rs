//! Record protection for the AEAD suites (RFC 5246 §6.2.3.3, RFC 5288 §3,
//! RFC 6347 §4.1.2.1) and the anti-replay window (RFC 6347 §4.1.2.6).
//!
//! A protected record's fragment is `explicit_nonce (8) || ciphertext ||
//! tag (16)`. The nonce is the 4-byte implicit salt from the key block
//! followed by the explicit part, which meshrtc sets to the record's epoch
//! and sequence number (unique per key, as RFC 5288 requires). The
//! additional data is `epoch (2) || sequence (6) || type || version ||
//! plaintext length (2)`.

use crate::prf::PrfHash;
use crate::record::{write_header, ContentType, Record};
use ring::aead;

/// The cipher suites meshrtc negotiates (IANA values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256` (0xc02b), required.
    EcdheEcdsaAes128GcmSha256,
    /// `TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384` (0xc02c).
    EcdheEcdsaAes256GcmSha384,
}

impl Suite {
    /// The IANA code point.
    pub fn id(self) -> u16 {
        match self {
            Suite::EcdheEcdsaAes128GcmSha256 => 0xc02b,
            Suite::EcdheEcdsaAes256GcmSha384 => 0xc02c,
        }
    }

    /// From a code point.
    pub fn from_id(id: u16) -> Option<Suite> {
        match id {
            0xc02b => Some(Suite::EcdheEcdsaAes128GcmSha256),
            0xc02c => Some(Suite::EcdheEcdsaAes256GcmSha384),
            _ => None,
        }
    }

    /// The PRF hash.
    pub fn prf_hash(self) -> PrfHash {
        match self {
            Suite::EcdheEcdsaAes128GcmSha256 => PrfHash::Sha256,
            Suite::EcdheEcdsaAes256GcmSha384 => PrfHash::Sha384,
        }
    }

    /// AES key length.
    pub fn key_len(self) -> usize {
        match self {
            Suite::EcdheEcdsaAes128GcmSha256 => 16,
            Suite::EcdheEcdsaAes256GcmSha384 => 32,
        }
    }

    /// Key block length: two keys and two 4-byte salts.
    pub fn key_block_len(self) -> usize {
        2 * (self.key_len() + SALT_LEN)
    }

    fn algorithm(self) -> &'static aead::Algorithm {
        match self {
            Suite::EcdheEcdsaAes128GcmSha256 => &aead::AES_128_GCM,
            Suite::EcdheEcdsaAes256GcmSha384 => &aead::AES_256_GCM,
        }
    }
}

const SALT_LEN: usize = 4;
const EXPLICIT_LEN: usize = 8;
const TAG_LEN: usize = 16;

/// Bytes a protected record adds to its plaintext.
pub const OVERHEAD: usize = EXPLICIT_LEN + TAG_LEN;

/// Why a protected record was refused (the caller drops it silently,
/// RFC 6347 §4.1.2.7, and counts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CipherError {
    /// Shorter than the explicit nonce and tag.
    #[error("protected record too short ({0} bytes)")]
    TooShort(usize),
    /// The tag did not verify: tampered, wrong key, or wrong epoch.
    #[error("record authentication failed")]
    BadRecordMac,
    /// The key material has the wrong length.
    #[error("key block of {got} bytes, the suite needs {need}")]
    KeyBlock {
        /// Given.
        got: usize,
        /// Needed.
        need: usize,
    },
}

/// One direction's record protection.
pub struct RecordCipher {
    key: aead::LessSafeKey,
    salt: [u8; SALT_LEN],
}

impl std::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordCipher { .. }")
    }
}

/// Both directions, from the key block (RFC 5246 §6.3: client write key,
/// server write key, client write IV, server write IV).
#[derive(Debug)]
pub struct CipherPair {
    /// What the client sends with (and the server opens with).
    pub client_write: RecordCipher,
    /// What the server sends with.
    pub server_write: RecordCipher,
}

impl CipherPair {
    /// Splits a key block.
    pub fn from_key_block(suite: Suite, block: &[u8]) -> Result<CipherPair, CipherError> {
        let need = suite.key_block_len();
        if block.len() != need {
            return Err(CipherError::KeyBlock {
                got: block.len(),
                need,
            });
        }
        let k = suite.key_len();
        let make = |key: &[u8], salt: &[u8]| -> Result<RecordCipher, CipherError> {
            let unbound = aead::UnboundKey::new(suite.algorithm(), key).map_err(|_| {
                CipherError::KeyBlock {
                    got: key.len(),
                    need: k,
                }
            })?;
            let mut s = [0u8; SALT_LEN];
            s.copy_from_slice(salt);
            Ok(RecordCipher {
                key: aead::LessSafeKey::new(unbound),
                salt: s,
            })
        };
        Ok(CipherPair {
            client_write: make(&block[..k], &block[2 * k..2 * k + SALT_LEN])?,
            server_write: make(&block[k..2 * k], &block[2 * k + SALT_LEN..])?,
        })
    }
}

fn seq_bytes(epoch: u16, sequence: u64) -> [u8; 8] {
    let mut b = (sequence & 0xffff_ffff_ffff).to_be_bytes();
    b[..2].copy_from_slice(&epoch.to_be_bytes());
    b
}

fn aad(
    epoch: u16,
    sequence: u64,
    ct: ContentType,
    version: u16,
    len: usize,
) -> aead::Aad<[u8; 13]> {
    let mut a = [0u8; 13];
    a[..8].copy_from_slice(&seq_bytes(epoch, sequence));
    a[8] = ct.as_u8();
    a[9..11].copy_from_slice(&version.to_be_bytes());
    a[11..13].copy_from_slice(&(len as u16).to_be_bytes());
    aead::Aad::from(a)
}

impl RecordCipher {
    fn nonce(&self, explicit: [u8; 8]) -> aead::Nonce {
        let mut n = [0u8; 12];
        n[..SALT_LEN].copy_from_slice(&self.salt);
        n[SALT_LEN..].copy_from_slice(&explicit);
        aead::Nonce::assume_unique_for_key(n)
    }

    /// Appends a whole protected record (header included) to `out`. The
    /// plaintext must fit a record (at most 2^14 bytes).
    pub fn seal(
        &self,
        ct: ContentType,
        version: u16,
        epoch: u16,
        sequence: u64,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) {
        let plaintext = &plaintext[..plaintext.len().min(1 << 14)];
        let explicit = seq_bytes(epoch, sequence);
        write_header(
            out,
            ct,
            version,
            epoch,
            sequence,
            (plaintext.len() + OVERHEAD) as u16,
        );
        out.extend_from_slice(&explicit);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let aad = aad(epoch, sequence, ct, version, plaintext.len());
        // Sealing cannot fail for lengths below the AES-GCM limit.
        if let Ok(tag) =
            self.key
                .seal_in_place_separate_tag(self.nonce(explicit), aad, &mut out[start..])
        {
            out.extend_from_slice(tag.as_ref());
        }
    }

    /// Decrypts a protected record's fragment into `out` (replacing its
    /// contents).
    pub fn open(&self, record: &Record<'_>, out: &mut Vec<u8>) -> Result<(), CipherError> {
        let f = record.fragment;
        if f.len() < OVERHEAD {
            return Err(CipherError::TooShort(f.len()));
        }
        let mut explicit = [0u8; 8];
        explicit.copy_from_slice(&f[..EXPLICIT_LEN]);
        let len = f.len() - OVERHEAD;
        let aad = aad(
            record.epoch,
            record.sequence,
            record.content_type,
            record.version,
            len,
        );
        out.clear();
        out.extend_from_slice(&f[EXPLICIT_LEN..]);
        match self.key.open_in_place(self.nonce(explicit), aad, out) {
            Ok(_) => {
                out.truncate(len);
                Ok(())
            }
            Err(_) => {
                out.clear();
                Err(CipherError::BadRecordMac)
            }
        }
    }
}

/// The anti-replay window of one epoch (RFC 6347 §4.1.2.6): 64 records
/// behind the highest sequence number seen. Check before decrypting,
/// record after the record authenticated.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    highest: Option<u64>,
    bits: u64,
}

impl ReplayWindow {
    /// Whether `seq` is new (not seen, not too old).
    pub fn check(&self, seq: u64) -> bool {
        match self.highest {
            None => true,
            Some(h) if seq > h => true,
            Some(h) => {
                let back = h - seq;
                back < 64 && self.bits & (1 << back) == 0
            }
        }
    }

    /// Marks `seq` as received.
    pub fn record(&mut self, seq: u64) {
        match self.highest {
            None => {
                self.highest = Some(seq);
                self.bits = 1;
            }
            Some(h) if seq > h => {
                let shift = seq - h;
                self.bits = if shift >= 64 { 0 } else { self.bits << shift };
                self.bits |= 1;
                self.highest = Some(seq);
            }
            Some(h) => {
                let back = h - seq;
                if back < 64 {
                    self.bits |= 1 << back;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Record, DTLS1_2};

    fn pair(suite: Suite) -> CipherPair {
        let block: Vec<u8> = (0..suite.key_block_len() as u8).collect();
        CipherPair::from_key_block(suite, &block).unwrap()
    }

    #[test]
    fn sealed_records_open_and_tampering_fails() {
        for suite in [
            Suite::EcdheEcdsaAes128GcmSha256,
            Suite::EcdheEcdsaAes256GcmSha384,
        ] {
            let p = pair(suite);
            let mut wire = Vec::new();
            p.client_write.seal(
                ContentType::ApplicationData,
                DTLS1_2,
                1,
                5,
                b"hello",
                &mut wire,
            );
            assert_eq!(wire.len(), 13 + 5 + OVERHEAD);
            let (r, rest) = Record::parse(&wire).unwrap();
            assert!(rest.is_empty());
            assert_eq!((r.epoch, r.sequence), (1, 5));
            let mut out = Vec::new();
            p.client_write.open(&r, &mut out).unwrap();
            assert_eq!(out, b"hello");
            // The other direction's key does not open it.
            assert_eq!(
                p.server_write.open(&r, &mut out),
                Err(CipherError::BadRecordMac)
            );
            // Every byte of the record is covered: header fields via the
            // AAD, the rest by the tag.
            for i in 0..wire.len() {
                if (11..13).contains(&i) {
                    continue; // the length field frames the record itself
                }
                let mut bad = wire.clone();
                bad[i] ^= 0x01;
                let Ok((r, _)) = Record::parse(&bad) else {
                    continue;
                };
                assert_eq!(
                    p.client_write.open(&r, &mut out),
                    Err(CipherError::BadRecordMac),
                    "byte {i}"
                );
            }
            let short = Record {
                fragment: &wire[13..13 + 20],
                ..r
            };
            assert_eq!(
                p.client_write.open(&short, &mut out),
                Err(CipherError::TooShort(20))
            );
        }
        assert!(matches!(
            CipherPair::from_key_block(Suite::EcdheEcdsaAes128GcmSha256, &[0; 10]),
            Err(CipherError::KeyBlock { got: 10, need: 40 })
        ));
    }

    #[test]
    fn replay_window_accepts_new_and_late_refuses_repeats_and_old() {
        let mut w = ReplayWindow::default();
        for s in [10, 12, 11, 100, 40, 37] {
            assert!(w.check(s), "{s}");
            w.record(s);
        }
        for s in [10, 12, 11, 100, 40, 37, 36, 5] {
            assert!(!w.check(s), "{s}");
        }
        assert!(w.check(99) && w.check(101) && w.check(38));
        w.record(1000);
        assert!(!w.check(100) && w.check(999));
    }
}

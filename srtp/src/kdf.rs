//! SRTP key derivation (RFC 3711 §4.3) with the AES-CM PRF (§4.3.3), and
//! its AES-256 form (RFC 6188 §7). The key derivation rate is 0, as in
//! DTLS-SRTP: session keys are derived once.

use crate::profile::MasterKey;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Aes256};

/// Labels of RFC 3711 §4.3.1.
pub(crate) const LABEL_RTP_ENCRYPTION: u8 = 0x00;
pub(crate) const LABEL_RTP_AUTH: u8 = 0x01;
pub(crate) const LABEL_RTP_SALT: u8 = 0x02;
pub(crate) const LABEL_RTCP_ENCRYPTION: u8 = 0x03;
pub(crate) const LABEL_RTCP_AUTH: u8 = 0x04;
pub(crate) const LABEL_RTCP_SALT: u8 = 0x05;

/// Fills `out` with the PRF output for `label`: AES in counter mode under
/// the master key, starting from `x || 0x0000` where `x` is the master salt
/// XOR the label placed in the 7th-last byte (key_id = label || r, r = 0).
/// A 96-bit (GCM) master salt is multiplied by 2^16 first (RFC 7714
/// erratum 4938), i.e. two zero bytes are appended.
pub(crate) fn derive(master: &MasterKey, label: u8, out: &mut [u8]) {
    let mut salt = [0u8; 14];
    salt[..master.salt().len()].copy_from_slice(master.salt());
    prf(master.key(), &salt, label, out);
}

/// The AES-CM PRF (RFC 3711 §4.3.3; AES-256 per RFC 6188) for a 112-bit
/// salt: AES-CTR under `key` from IV `(salt XOR label·2^48) · 2^16`.
pub(crate) fn prf(key: &[u8], salt: &[u8; 14], label: u8, out: &mut [u8]) {
    let mut x = [0u8; 16];
    x[..14].copy_from_slice(salt);
    x[7] ^= label;
    for (i, chunk) in out.chunks_mut(16).enumerate() {
        let mut block = x;
        // The counter occupies the low 16 bits.
        block[14..16].copy_from_slice(&(i as u16).to_be_bytes());
        let mut b = aes::Block::from(block);
        if key.len() == 32 {
            Aes256::new(key.into()).encrypt_block(&mut b);
        } else {
            Aes128::new(key.into()).encrypt_block(&mut b);
        }
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
}

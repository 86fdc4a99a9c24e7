//! The TLS 1.2 pseudo-random function and what DTLS-SRTP derives with it
//! (RFC 5246 §5, §6.3, §7.4.9, §8.1; RFC 7627 §4; RFC 5705 §4; RFC 5764
//! §4.2).
//!
//! `PRF(secret, label, seed) = P_hash(secret, label + seed)`, where
//! `P_hash` chains HMAC: `A(0) = seed`, `A(i) = HMAC(secret, A(i-1))`,
//! output `HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + …`.
//! The hash is the cipher suite's: SHA-256 for the `_SHA256` suites, SHA-384
//! for `_SHA384`.

use ring::hmac;

/// The PRF's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrfHash {
    /// HMAC-SHA256 (`TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`).
    Sha256,
    /// HMAC-SHA384 (`TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384`).
    Sha384,
}

impl PrfHash {
    fn algorithm(self) -> hmac::Algorithm {
        match self {
            PrfHash::Sha256 => hmac::HMAC_SHA256,
            PrfHash::Sha384 => hmac::HMAC_SHA384,
        }
    }
}

/// Fills `out` with `PRF(secret, label, seed_parts...)` (the seed is the
/// concatenation of `seed_parts`, so randoms need not be copied together).
pub fn prf(hash: PrfHash, secret: &[u8], label: &[u8], seed_parts: &[&[u8]], out: &mut [u8]) {
    let key = hmac::Key::new(hash.algorithm(), secret);
    let seeded = |ctx: &mut hmac::Context| {
        ctx.update(label);
        for p in seed_parts {
            ctx.update(p);
        }
    };
    // A(1) = HMAC(secret, label + seed).
    let mut ctx = hmac::Context::with_key(&key);
    seeded(&mut ctx);
    let mut a = ctx.sign();
    let mut filled = 0;
    while filled < out.len() {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        seeded(&mut ctx);
        let block = ctx.sign();
        let n = block.as_ref().len().min(out.len() - filled);
        out[filled..filled + n].copy_from_slice(&block.as_ref()[..n]);
        filled += n;
        a = hmac::sign(&key, a.as_ref());
    }
}

/// The extended master secret (RFC 7627 §4): `PRF(pre_master_secret,
/// "extended master secret", session_hash)[0..48]`, where the session hash
/// covers the handshake up to and including ClientKeyExchange.
pub fn extended_master_secret(hash: PrfHash, pre_master: &[u8], session_hash: &[u8]) -> [u8; 48] {
    let mut ms = [0u8; 48];
    prf(
        hash,
        pre_master,
        b"extended master secret",
        &[session_hash],
        &mut ms,
    );
    ms
}

/// The key block (RFC 5246 §6.3): `PRF(master_secret, "key expansion",
/// server_random + client_random)` of `out.len()` bytes. For an AEAD suite
/// it is client key, server key, client IV (salt), server IV.
pub fn key_block(
    hash: PrfHash,
    master: &[u8; 48],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    out: &mut [u8],
) {
    prf(
        hash,
        master,
        b"key expansion",
        &[server_random, client_random],
        out,
    );
}

/// `verify_data` of a Finished message (RFC 5246 §7.4.9): 12 bytes of
/// `PRF(master_secret, finished_label, Hash(handshake_messages))`, with
/// `"client finished"` or `"server finished"`.
pub fn verify_data(
    hash: PrfHash,
    master: &[u8; 48],
    client: bool,
    handshake_hash: &[u8],
) -> [u8; 12] {
    let label: &[u8] = if client {
        b"client finished"
    } else {
        b"server finished"
    };
    let mut v = [0u8; 12];
    prf(hash, master, label, &[handshake_hash], &mut v);
    v
}

/// The keying material exporter without context (RFC 5705 §4):
/// `PRF(master_secret, label, client_random + server_random)`. DTLS-SRTP
/// uses the label `EXTRACTOR-dtls_srtp` (RFC 5764 §4.2) and the profile's
/// `2 * (key + salt)` bytes.
pub fn export_keying_material(
    hash: PrfHash,
    master: &[u8; 48],
    label: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    out: &mut [u8],
) {
    prf(hash, master, label, &[client_random, server_random], out);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Outputs of OpenSSL 3.0's TLS1-PRF for the same inputs:
    // openssl kdf -keylen 100 -kdfopt digest:SHA256 \
    //   -kdfopt hexsecret:9bbe436ba940f017b17652849a71db35 \
    //   -kdfopt seed:"test label" \
    //   -kdfopt hexseed:a0ba9f936cda311827a6f796ffd5198c TLS1-PRF
    const SECRET: &str = "9bbe436ba940f017b17652849a71db35";
    const SEED: &str = "a0ba9f936cda311827a6f796ffd5198c";
    const SHA256_OUT: &str = "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66";
    const SHA384_OUT: &str = "dd88775cd827187b67a3f7652b5c13f715791cc46e0274a6d3fb16651103defc544cd8afb68369a219bb918b8b21ddb1764af0a70339e6dec085e574f655851ba692513203536bdfc3675e53768210f0a2389dd324311a440c7c30ef44b391d914c3b0c7";

    #[test]
    fn prf_matches_openssl_for_sha256_and_sha384() {
        let secret = hex::decode(SECRET).unwrap();
        let seed = hex::decode(SEED).unwrap();
        for (hash, want) in [(PrfHash::Sha256, SHA256_OUT), (PrfHash::Sha384, SHA384_OUT)] {
            let mut out = [0u8; 100];
            prf(hash, &secret, b"test label", &[&seed], &mut out);
            assert_eq!(hex::encode(out), want, "{hash:?}");
            // The seed may come in parts; a shorter output is a prefix.
            let mut short = [0u8; 33];
            prf(
                hash,
                &secret,
                b"test label",
                &[&seed[..5], &seed[5..]],
                &mut short,
            );
            assert_eq!(&out[..33], &short);
        }
    }
}

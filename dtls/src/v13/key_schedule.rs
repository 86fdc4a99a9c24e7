//! The TLS 1.3 key schedule as DTLS 1.3 uses it (RFC 8446 §7.1, §7.3,
//! §7.5; RFC 9147 §5.9): HKDF-Extract/Expand over HMAC (ring's HMAC is the
//! primitive), `HKDF-Expand-Label` with the label prefix as a parameter
//! (`"tls13 "` for TLS 1.3 so RFC 8448's traces test the code, `"dtls13"`
//! for DTLS 1.3), `Derive-Secret`, the early → handshake → master secret
//! chain as three types, traffic keys (key, iv and RFC 9147 §4.2.3's
//! `sn` key), Finished (§4.4.4), KeyUpdate (§7.2) and the exporter (§7.5).

use ring::{digest, hmac};

/// The label prefix of TLS 1.3 (RFC 8446 §7.1).
pub const TLS13_PREFIX: &[u8] = b"tls13 ";
/// The label prefix of DTLS 1.3 (RFC 9147 §5.9).
pub const DTLS13_PREFIX: &[u8] = b"dtls13";

/// The hash of a TLS 1.3 cipher suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256 (TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256).
    Sha256,
    /// SHA-384 (TLS_AES_256_GCM_SHA384).
    Sha384,
}

impl HashAlg {
    /// The output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            HashAlg::Sha256 => hmac::HMAC_SHA256,
            HashAlg::Sha384 => hmac::HMAC_SHA384,
        }
    }

    /// ring's digest algorithm.
    pub fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
        }
    }

    /// `Hash(data)`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest_alg(), data).as_ref().to_vec()
    }
}

/// HKDF-Extract (RFC 5869 §2.2): `HMAC(salt, ikm)`; an empty salt is a
/// string of `HashLen` zeros.
pub fn hkdf_extract(hash: HashAlg, salt: &[u8], ikm: &[u8]) -> Vec<u8> {
    let zeros = [0u8; 48];
    let salt = if salt.is_empty() {
        &zeros[..hash.output_len()]
    } else {
        salt
    };
    let key = hmac::Key::new(hash.hmac(), salt);
    hmac::sign(&key, ikm).as_ref().to_vec()
}

/// HKDF-Expand (RFC 5869 §2.3) into `out` (at most 255 × HashLen bytes;
/// TLS never asks for more than a hash length).
pub fn hkdf_expand(hash: HashAlg, prk: &[u8], info: &[u8], out: &mut [u8]) {
    let key = hmac::Key::new(hash.hmac(), prk);
    let mut previous: Vec<u8> = Vec::new();
    let mut counter = 1u8;
    let mut filled = 0;
    while filled < out.len() {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(&previous);
        ctx.update(info);
        ctx.update(&[counter]);
        previous = ctx.sign().as_ref().to_vec();
        let n = previous.len().min(out.len() - filled);
        out[filled..filled + n].copy_from_slice(&previous[..n]);
        filled += n;
        counter = counter.wrapping_add(1);
    }
}

/// `HKDF-Expand-Label(Secret, Label, Context, Length)` (RFC 8446 §7.1)
/// with the label prefix `prefix` (`"tls13 "` or `"dtls13"`).
pub fn hkdf_expand_label(
    hash: HashAlg,
    prefix: &[u8],
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    length: usize,
) -> Vec<u8> {
    // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel;
    let mut info = Vec::with_capacity(4 + prefix.len() + label.len() + context.len());
    info.extend_from_slice(&(length as u16).to_be_bytes());
    info.push((prefix.len() + label.len()) as u8);
    info.extend_from_slice(prefix);
    info.extend_from_slice(label);
    info.push(context.len() as u8);
    info.extend_from_slice(context);
    let mut out = vec![0u8; length];
    hkdf_expand(hash, secret, &info, &mut out);
    out
}

/// `Derive-Secret(Secret, Label, Messages)` (RFC 8446 §7.1), given the
/// transcript hash of `Messages`.
pub fn derive_secret(
    hash: HashAlg,
    prefix: &[u8],
    secret: &[u8],
    label: &[u8],
    transcript_hash: &[u8],
) -> Vec<u8> {
    hkdf_expand_label(
        hash,
        prefix,
        secret,
        label,
        transcript_hash,
        hash.output_len(),
    )
}

/// The parameters every step of one schedule shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The suite's hash.
    pub hash: HashAlg,
    /// The label prefix.
    pub prefix: &'static [u8],
}

impl Schedule {
    /// DTLS 1.3 with `hash`.
    pub fn dtls13(hash: HashAlg) -> Schedule {
        Schedule {
            hash,
            prefix: DTLS13_PREFIX,
        }
    }

    /// `HKDF-Expand-Label` with this schedule's hash and prefix.
    pub fn expand_label(&self, secret: &[u8], label: &[u8], context: &[u8], len: usize) -> Vec<u8> {
        hkdf_expand_label(self.hash, self.prefix, secret, label, context, len)
    }

    /// `Derive-Secret` with this schedule's hash and prefix.
    pub fn derive_secret(&self, secret: &[u8], label: &[u8], transcript_hash: &[u8]) -> Vec<u8> {
        derive_secret(self.hash, self.prefix, secret, label, transcript_hash)
    }

    /// The early secret without a PSK: `HKDF-Extract(0, 0)`.
    pub fn early_secret(self) -> EarlySecret {
        let zeros = vec![0u8; self.hash.output_len()];
        EarlySecret {
            schedule: self,
            secret: hkdf_extract(self.hash, &[], &zeros),
        }
    }

    /// Traffic keys from a traffic secret (RFC 8446 §7.3, RFC 9147
    /// §4.2.3): `key_len`-byte key (and sn key), 12-byte iv.
    pub fn traffic_keys(&self, secret: &[u8], key_len: usize) -> TrafficKeys {
        TrafficKeys {
            key: self.expand_label(secret, b"key", b"", key_len),
            iv: self.expand_label(secret, b"iv", b"", 12),
            sn_key: self.expand_label(secret, b"sn", b"", key_len),
        }
    }

    /// Finished `verify_data` (RFC 8446 §4.4.4):
    /// `HMAC(finished_key, transcript_hash)` with `finished_key =
    /// HKDF-Expand-Label(base_key, "finished", "", HashLen)`.
    pub fn finished_verify_data(&self, base_key: &[u8], transcript_hash: &[u8]) -> Vec<u8> {
        let finished_key = self.expand_label(base_key, b"finished", b"", self.hash.output_len());
        let key = hmac::Key::new(self.hash.hmac(), &finished_key);
        hmac::sign(&key, transcript_hash).as_ref().to_vec()
    }

    /// The next traffic secret after a KeyUpdate (RFC 8446 §7.2).
    pub fn next_traffic_secret(&self, secret: &[u8]) -> Vec<u8> {
        self.expand_label(secret, b"traffic upd", b"", self.hash.output_len())
    }

    /// The exporter (RFC 8446 §7.5): `HKDF-Expand-Label(Derive-Secret(
    /// exporter_master_secret, label, ""), "exporter", Hash(context), len)`.
    /// DTLS-SRTP (RFC 5764 §4.2) uses the label "EXTRACTOR-dtls_srtp" and
    /// no context (hashed as the empty string).
    pub fn export(
        &self,
        exporter_master: &[u8],
        label: &[u8],
        context: &[u8],
        len: usize,
    ) -> Vec<u8> {
        let empty_hash = self.hash.hash(b"");
        let secret = self.derive_secret(exporter_master, label, &empty_hash);
        self.expand_label(&secret, b"exporter", &self.hash.hash(context), len)
    }
}

/// The record protection keys of one direction and epoch.
#[derive(Clone, PartialEq, Eq)]
pub struct TrafficKeys {
    /// The AEAD key.
    pub key: Vec<u8>,
    /// The 12-byte static iv.
    pub iv: Vec<u8>,
    /// The record number encryption key (RFC 9147 §4.2.3).
    pub sn_key: Vec<u8>,
}

impl std::fmt::Debug for TrafficKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrafficKeys").finish_non_exhaustive()
    }
}

/// The early secret (RFC 8446 §7.1, no PSK).
#[derive(Clone)]
pub struct EarlySecret {
    schedule: Schedule,
    secret: Vec<u8>,
}

impl EarlySecret {
    /// The secret's bytes.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// Mixes in the (EC)DHE shared secret: the handshake secret.
    pub fn into_handshake(self, shared: &[u8]) -> HandshakeSecret {
        let s = self.schedule;
        let derived = s.derive_secret(&self.secret, b"derived", &s.hash.hash(b""));
        HandshakeSecret {
            schedule: s,
            secret: hkdf_extract(s.hash, &derived, shared),
        }
    }
}

/// The handshake secret.
#[derive(Clone)]
pub struct HandshakeSecret {
    schedule: Schedule,
    secret: Vec<u8>,
}

impl HandshakeSecret {
    /// The secret's bytes.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// `(client, server)` handshake traffic secrets over ClientHello..ServerHello.
    pub fn traffic_secrets(&self, transcript_hash: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let s = &self.schedule;
        (
            s.derive_secret(&self.secret, b"c hs traffic", transcript_hash),
            s.derive_secret(&self.secret, b"s hs traffic", transcript_hash),
        )
    }

    /// The master secret.
    pub fn into_master(self) -> MasterSecret {
        let s = self.schedule;
        let derived = s.derive_secret(&self.secret, b"derived", &s.hash.hash(b""));
        let zeros = vec![0u8; s.hash.output_len()];
        MasterSecret {
            schedule: s,
            secret: hkdf_extract(s.hash, &derived, &zeros),
        }
    }
}

/// The master secret.
#[derive(Clone)]
pub struct MasterSecret {
    schedule: Schedule,
    secret: Vec<u8>,
}

/// What the master secret gives over ClientHello..server Finished.
#[derive(Clone)]
pub struct ApplicationSecrets {
    /// client_application_traffic_secret_0.
    pub client: Vec<u8>,
    /// server_application_traffic_secret_0.
    pub server: Vec<u8>,
    /// exporter_master_secret.
    pub exporter: Vec<u8>,
}

impl MasterSecret {
    /// The secret's bytes.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// Application traffic secrets and the exporter master secret.
    pub fn application(&self, transcript_hash: &[u8]) -> ApplicationSecrets {
        let s = &self.schedule;
        ApplicationSecrets {
            client: s.derive_secret(&self.secret, b"c ap traffic", transcript_hash),
            server: s.derive_secret(&self.secret, b"s ap traffic", transcript_hash),
            exporter: s.derive_secret(&self.secret, b"exp master", transcript_hash),
        }
    }
}

#[cfg(test)]
mod tests {
    //! RFC 8448 §3 (simple 1-RTT handshake, TLS_AES_128_GCM_SHA256) with
    //! the `"tls13 "` prefix; then the DTLS prefix changes every output.
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    const SHARED: &str = "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d";
    const TH_SH: &str = "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8";
    const TH_SF: &str = "9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13";

    fn tls() -> Schedule {
        Schedule {
            hash: HashAlg::Sha256,
            prefix: TLS13_PREFIX,
        }
    }

    #[test]
    fn rfc8448_secrets_chain() {
        let early = tls().early_secret();
        assert_eq!(
            early.secret(),
            h("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
        );
        let derived = tls().derive_secret(early.secret(), b"derived", &HashAlg::Sha256.hash(b""));
        assert_eq!(
            derived,
            h("6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba")
        );
        let hs = early.into_handshake(&h(SHARED));
        assert_eq!(
            hs.secret(),
            h("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac")
        );
        let (c, s) = hs.traffic_secrets(&h(TH_SH));
        assert_eq!(
            c,
            h("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
        );
        assert_eq!(
            s,
            h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
        );
        let master = hs.into_master();
        assert_eq!(
            master.secret(),
            h("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919")
        );
        let app = master.application(&h(TH_SF));
        assert_eq!(
            app.client,
            h("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
        );
        assert_eq!(
            app.server,
            h("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")
        );
        assert_eq!(
            app.exporter,
            h("fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50")
        );
    }

    #[test]
    fn rfc8448_traffic_keys_and_finished_keys() {
        let c_hs = h("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21");
        let s_hs = h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let c = tls().traffic_keys(&c_hs, 16);
        assert_eq!(c.key, h("dbfaa693d1762c5b666af5d950258d01"));
        assert_eq!(c.iv, h("5bd3c71b836e0b76bb73265f"));
        let s = tls().traffic_keys(&s_hs, 16);
        assert_eq!(s.key, h("3fce516009c21727d0f2e4e86ee403bc"));
        assert_eq!(s.iv, h("5d313eb2671276ee13000b30"));
        let s_ap = h("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
        let ap = tls().traffic_keys(&s_ap, 16);
        assert_eq!(ap.key, h("9f02283b6c9c07efc26bb9f2ac92e356"));
        assert_eq!(ap.iv, h("cf782b88dd83549aadf1e984"));
        assert_eq!(
            tls().expand_label(&c_hs, b"finished", b"", 32),
            h("b80ad01015fb2f0bd65ff7d4da5d6bf83f84821d1f87fdc7d3c75b5a7b42d9c4")
        );
        assert_eq!(
            tls().expand_label(&s_hs, b"finished", b"", 32),
            h("008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8")
        );
    }

    #[test]
    fn finished_verify_data_is_hmac_of_transcript_under_finished_key() {
        let s_hs = h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let fk = h("008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8");
        let th = HashAlg::Sha256.hash(b"transcript");
        let want = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &fk), &th);
        assert_eq!(tls().finished_verify_data(&s_hs, &th), want.as_ref());
    }

    #[test]
    fn hkdf_rfc5869_case_1() {
        // RFC 5869 A.1.
        let prk = hkdf_extract(
            HashAlg::Sha256,
            &h("000102030405060708090a0b0c"),
            &h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
        );
        assert_eq!(
            prk,
            h("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        );
        let mut okm = [0u8; 42];
        hkdf_expand(HashAlg::Sha256, &prk, &h("f0f1f2f3f4f5f6f7f8f9"), &mut okm);
        assert_eq!(
            okm.to_vec(),
            h("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        );
    }

    #[test]
    fn dtls_prefix_changes_every_secret_and_sha384_has_48_bytes() {
        let d = Schedule::dtls13(HashAlg::Sha256);
        let hs = d.early_secret().into_handshake(&h(SHARED));
        let (c, _) = hs.traffic_secrets(&h(TH_SH));
        assert_ne!(
            c,
            h("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
        );
        // The label on the wire is "dtls13" || label, 6 + label bytes.
        let direct = hkdf_expand_label(HashAlg::Sha256, b"dtls13", &c, b"key", b"", 16);
        assert_eq!(d.traffic_keys(&c, 16).key, direct);
        let d384 = Schedule::dtls13(HashAlg::Sha384);
        let e = d384.early_secret();
        assert_eq!(e.secret().len(), 48);
        let m = e.into_handshake(&[7; 32]).into_master();
        assert_eq!(m.application(&[0; 48]).client.len(), 48);
    }

    #[test]
    fn exporter_follows_rfc8446_7_5() {
        let s = tls();
        let ems = h("fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50");
        let out = s.export(&ems, b"EXTRACTOR-dtls_srtp", b"", 60);
        let inner = s.derive_secret(&ems, b"EXTRACTOR-dtls_srtp", &HashAlg::Sha256.hash(b""));
        let want = s.expand_label(&inner, b"exporter", &HashAlg::Sha256.hash(b""), 60);
        assert_eq!(out, want);
        assert_eq!(out.len(), 60);
        assert_ne!(s.export(&ems, b"EXPORTER-other", b"", 60), out);
    }

    #[test]
    fn key_update_secret_is_expand_label_traffic_upd() {
        let s = Schedule::dtls13(HashAlg::Sha256);
        let a = s.next_traffic_secret(&[1; 32]);
        assert_eq!(a, s.expand_label(&[1; 32], b"traffic upd", b"", 32));
        assert_ne!(a, vec![1; 32]);
    }
}

//! Certificates and fingerprints: the local identity and the peer's key.
//!
//! WebRTC does not trust certificates through a CA: each side makes a
//! self-signed certificate and announces its hash in SDP as
//! `a=fingerprint:sha-256 AB:CD:...` (RFC 8122 §5, RFC 8827 §6.5). After the
//! handshake the peer's certificate must hash to that fingerprint; its
//! public key then checks the `ServerKeyExchange` or `CertificateVerify`
//! signature (RFC 5246 §4.7, §7.4.3, §7.4.8).
//!
//! - [`Certificate`]: our identity, a self-signed X.509 v3 certificate
//!   (RFC 5280) over an ECDSA P-256 key (RFC 8422 §5.10 and RFC 5480), the
//!   kind browsers make, generated with rcgen or loaded from DER and PKCS#8.
//!   Signatures go through ring with the key parsed once.
//! - [`Fingerprint`]: the SHA-256 of a certificate's DER, parsed from and
//!   printed in the SDP form.
//! - [`peer_key`]: the public key out of the peer's certificate (untrusted
//!   input, parsed with `x509-cert`); only ECDSA P-256 is accepted, the only
//!   key WebRTC endpoints use with DTLS 1.2 here.
//!
//! Validity dates are neither checked nor relied on: the fingerprint is the
//! trust anchor (RFC 8122 §5), as in browsers.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ring::{digest, rand, signature};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::Decode;

use crate::kx;

/// The TLS signature scheme `ecdsa_secp256r1_sha256` (RFC 8446 §4.2.3;
/// the TLS 1.2 pair hash sha256(4) / ecdsa(3) of RFC 5246 §7.4.1.4.1).
pub const ECDSA_SECP256R1_SHA256: u16 = 0x0403;

/// `id-ecPublicKey` (RFC 5480 §2.1.1).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1` / `prime256v1` (RFC 5480 §2.1.1.1).
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Length of an uncompressed P-256 point: `0x04 || x || y`.
const P256_POINT_LEN: usize = 65;

/// Lifetime of a generated certificate after its `notBefore`, as
/// Chromium's default (30 days).
const VALIDITY_DAYS: i64 = 30;

/// What went wrong with a certificate, a key, a fingerprint or a signature.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum CertError {
    /// rcgen could not make the certificate.
    #[error("certificate generation failed: {0}")]
    Generate(String),
    /// The certificate is not well-formed DER X.509 (RFC 5280), or its
    /// public key is malformed.
    #[error("bad certificate: {0}")]
    BadCertificate(String),
    /// The certificate's key is not ECDSA P-256: the key algorithm's OID
    /// (and, for another elliptic curve, the curve's OID).
    #[error("unsupported public key algorithm {0}")]
    UnsupportedKey(String),
    /// The PKCS#8 private key is malformed or not an ECDSA P-256 key.
    #[error("private key is not a valid PKCS#8 ECDSA P-256 key")]
    BadPrivateKey,
    /// The private key does not belong to the certificate's public key.
    #[error("private key does not match the certificate")]
    KeyMismatch,
    /// An SDP fingerprint could not be parsed.
    #[error("bad fingerprint: {0}")]
    BadFingerprint(#[from] FingerprintError),
    /// A signature scheme other than `ecdsa_secp256r1_sha256` (0x0403).
    #[error("unsupported signature scheme {0:#06x}")]
    UnsupportedScheme(u16),
    /// The signature does not verify (or the peer's point is not on the
    /// curve).
    #[error("signature verification failed")]
    BadSignature,
    /// ring could not sign (its random source failed).
    #[error("signing failed")]
    SigningFailed,
}

/// Why an SDP fingerprint was refused ([`Fingerprint::parse_sdp`]).
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum FingerprintError {
    /// The string is empty (after trimming whitespace).
    #[error("empty fingerprint")]
    Empty,
    /// Not 32 colon-separated bytes: the number of groups found.
    #[error("expected 32 bytes, found {groups} groups")]
    WrongLength {
        /// Colon-separated groups in the input.
        groups: usize,
    },
    /// A group is not two characters long: a missing, doubled or stray
    /// colon, or a stray character (0-based group index).
    #[error("group {index} is not two hex digits (missing or extra colon?)")]
    BadGroup {
        /// 0-based index of the group.
        index: usize,
    },
    /// A group has a character that is not a hex digit (0-based index).
    #[error("group {index} is not hex")]
    BadHex {
        /// 0-based index of the group.
        index: usize,
    },
}

/// SHA-256 certificate fingerprint (RFC 8122 §5): 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The SHA-256 of a certificate's DER encoding.
    pub fn of_der(der: &[u8]) -> Fingerprint {
        let d = digest::digest(&digest::SHA256, der);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Fingerprint(out)
    }

    /// Parses the SDP form `AB:CD:...` (32 hex pairs, colon-separated,
    /// case-insensitive; surrounding whitespace ignored), the value after
    /// `a=fingerprint:sha-256 ` (RFC 8122 §5). The hash-function token is
    /// the caller's to check and strip.
    pub fn parse_sdp(s: &str) -> Result<Fingerprint, CertError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(FingerprintError::Empty.into());
        }
        let mut out = [0u8; 32];
        let mut groups = 0usize;
        for (index, group) in s.split(':').enumerate() {
            groups = index + 1;
            let &[hi, lo] = group.as_bytes() else {
                return Err(FingerprintError::BadGroup { index }.into());
            };
            let (Some(hi), Some(lo)) = (hex_digit(hi), hex_digit(lo)) else {
                return Err(FingerprintError::BadHex { index }.into());
            };
            if let Some(byte) = out.get_mut(index) {
                *byte = hi << 4 | lo;
            }
        }
        if groups != out.len() {
            return Err(FingerprintError::WrongLength { groups }.into());
        }
        Ok(Fingerprint(out))
    }

    /// Whether `der` (a certificate's DER) hashes to this fingerprint.
    /// Fingerprints are public, so the comparison need not be constant-time.
    pub fn matches(&self, der: &[u8]) -> bool {
        Fingerprint::of_der(der) == *self
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Fingerprint {
    /// Uppercase `AB:CD:...`, the form browsers write in SDP.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = CertError;

    fn from_str(s: &str) -> Result<Fingerprint, CertError> {
        Fingerprint::parse_sdp(s)
    }
}

/// A local identity: self-signed ECDSA P-256 certificate + PKCS#8 key.
///
/// Cloning is cheap (one reference count): the DER, the key and the key
/// parsed by ring are shared.
#[derive(Clone)]
pub struct Certificate {
    inner: Arc<Inner>,
}

struct Inner {
    der: Vec<u8>,
    pkcs8: Vec<u8>,
    fingerprint: Fingerprint,
    key: signature::EcdsaKeyPair,
}

impl fmt::Debug for Certificate {
    /// The fingerprint only: the private key is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.inner.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// A fresh self-signed ECDSA P-256 / SHA-256 certificate like the ones
    /// browsers make: subject and issuer `CN=<common_name>` (e.g.
    /// `"meshrtc"`), a random positive 128-bit serial, and, as Chromium,
    /// valid from one day before now (so a peer whose clock is a little
    /// behind still sees it as valid) for 30 days. No WebRTC endpoint
    /// checks the dates; the fingerprint is what is trusted.
    pub fn generate(common_name: &str) -> Result<Certificate, CertError> {
        let gen_err = |e: rcgen::Error| CertError::Generate(e.to_string());
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;

        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, common_name);
        params.distinguished_name = dn;

        let mut serial = [0u8; 16];
        rand::SecureRandom::fill(&rand::SystemRandom::new(), &mut serial)
            .map_err(|_| CertError::Generate("random source failed".into()))?;
        // Positive (RFC 5280 §4.1.2.2) and a full 16 bytes long.
        serial[0] = (serial[0] & 0x7f) | 0x40;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2))
            .unwrap_or(0);
        let day = 24 * 60 * 60;
        let date = |secs: i64| {
            time::OffsetDateTime::from_unix_timestamp(secs)
                .map_err(|e| CertError::Generate(format!("validity date: {e}")))
        };
        params.not_before = date(now - day)?;
        params.not_after = date(now + VALIDITY_DAYS * day)?;

        // The certificate's own signature at its full length too (see
        // `full_length_signature`): the DER then ends with a BIT STRING of
        // 73 bytes, a 0 and the ECDSA-Sig-Value SEQUENCE of 70.
        let mut der = params.self_signed(&key).map_err(gen_err)?.der().to_vec();
        for _ in 1..64 {
            let n = der.len();
            if n > 75 && der[n - 75..n - 70] == [0x03, 0x49, 0x00, 0x30, 0x46] {
                break;
            }
            der = params.self_signed(&key).map_err(gen_err)?.der().to_vec();
        }
        Certificate::from_der(der, key.serialize_der())
    }

    /// From an existing DER certificate and its PKCS#8 private key; checks
    /// that the certificate's key is ECDSA P-256 and that the private key
    /// is that key's.
    pub fn from_der(cert_der: Vec<u8>, pkcs8: Vec<u8>) -> Result<Certificate, CertError> {
        let PeerKey::EcdsaP256(point) = peer_key(&cert_der)?;
        let key = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &pkcs8,
            &rand::SystemRandom::new(),
        )
        .map_err(|_| CertError::BadPrivateKey)?;
        if signature::KeyPair::public_key(&key).as_ref() != point.as_slice() {
            return Err(CertError::KeyMismatch);
        }
        let fingerprint = Fingerprint::of_der(&cert_der);
        Ok(Certificate {
            inner: Arc::new(Inner {
                der: cert_der,
                pkcs8,
                fingerprint,
                key,
            }),
        })
    }

    /// The certificate's DER encoding (what the `Certificate` message
    /// carries).
    pub fn der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The private key, PKCS#8 DER.
    pub fn pkcs8(&self) -> &[u8] {
        &self.inner.pkcs8
    }

    /// The SHA-256 fingerprint to announce in SDP.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.inner.fingerprint
    }

    /// The certificate as PEM (`CERTIFICATE`), e.g. for OpenSSL.
    pub fn cert_pem(&self) -> String {
        to_pem("CERTIFICATE", &self.inner.der)
    }

    /// The private key as PEM (`PRIVATE KEY`, PKCS#8), e.g. for OpenSSL.
    pub fn key_pem(&self) -> String {
        to_pem("PRIVATE KEY", &self.inner.pkcs8)
    }

    /// Signs `message` with ECDSA P-256 / SHA-256; the signature is DER
    /// (`ecdsa_secp256r1_sha256`, 0x0403), as [`kx::sign_p256`] makes, but
    /// with the key parsed once at construction.
    ///
    /// The signature is always [`FULL_SIGNATURE_LEN`] bytes long (see
    /// there), so a handshake's flights have the same sizes in every run.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CertError> {
        let rng = rand::SystemRandom::new();
        full_length_signature(|| {
            self.inner
                .key
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CertError::SigningFailed)
        })
    }
}

/// The DER length of an ECDSA P-256 signature whose `r` and `s` both have
/// their top bit set (each INTEGER 33 bytes): the longest, about one
/// signature in four.
pub const FULL_SIGNATURE_LEN: usize = 72;

/// Signs again (a fresh random nonce each time) until the DER signature is
/// [`FULL_SIGNATURE_LEN`] bytes, at most 64 times (all 64 shorter: about
/// one chance in 10^8; the last is kept). DER makes a signature 70-72
/// bytes at random, and those few bytes move every later packet of a
/// simulated call: with fixed sizes, a simulation with seeded randomness
/// repeats exactly. Each try is an independent signature with its own
/// nonce; only public values (`r`, `s`) choose among them.
pub(crate) fn full_length_signature<E>(
    mut sign: impl FnMut() -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, E> {
    let mut sig = sign()?;
    for _ in 1..64 {
        if sig.len() == FULL_SIGNATURE_LEN {
            break;
        }
        sig = sign()?;
    }
    Ok(sig)
}

fn to_pem(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// The peer's public key taken from its certificate: ECDSA P-256 only, the
/// key WebRTC endpoints use with DTLS 1.2 here (RSA and other curves give
/// [`CertError::UnsupportedKey`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerKey {
    /// An uncompressed P-256 point, 65 bytes (`0x04 || x || y`).
    EcdsaP256(Vec<u8>),
}

impl PeerKey {
    /// Verifies a TLS 1.2 digitally-signed value (RFC 5246 §4.7) made with
    /// signature scheme `scheme`: only `ecdsa_secp256r1_sha256` (0x0403) is
    /// supported, others give [`CertError::UnsupportedScheme`].
    pub fn verify(&self, scheme: u16, message: &[u8], signature: &[u8]) -> Result<(), CertError> {
        match self {
            PeerKey::EcdsaP256(point) if scheme == ECDSA_SECP256R1_SHA256 => {
                kx::verify_p256(point, message, signature).map_err(|_| CertError::BadSignature)
            }
            PeerKey::EcdsaP256(_) => Err(CertError::UnsupportedScheme(scheme)),
        }
    }
}

/// Parses a peer's DER certificate (untrusted network input: never panics)
/// and returns its public key. The certificate must be a single,
/// well-formed DER X.509 certificate (RFC 5280 §4.1) with nothing after
/// it; neither its signature nor its dates are checked (the fingerprint
/// is, by the caller).
pub fn peer_key(cert_der: &[u8]) -> Result<PeerKey, CertError> {
    let cert = x509_cert::Certificate::from_der(cert_der)
        .map_err(|e| CertError::BadCertificate(e.to_string()))?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    let alg = &spki.algorithm;
    if alg.oid != ID_EC_PUBLIC_KEY {
        return Err(CertError::UnsupportedKey(alg.oid.to_string()));
    }
    // RFC 5480 §2.1.1: ECParameters must be a namedCurve.
    let curve = alg
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| CertError::BadCertificate("EC key without a named curve".into()))?;
    if curve != SECP256R1 {
        return Err(CertError::UnsupportedKey(format!(
            "{} (curve {curve})",
            alg.oid
        )));
    }
    match spki.subject_public_key.as_bytes() {
        Some(point) if point.len() == P256_POINT_LEN && point[0] == 0x04 => {
            Ok(PeerKey::EcdsaP256(point.to_vec()))
        }
        _ => Err(CertError::BadCertificate(
            "P-256 public key is not an uncompressed point".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_text(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/../fixtures/chromium-156/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn generated_certificate_signs_and_verifies() {
        let c = Certificate::generate("meshrtc").unwrap();
        let key = peer_key(c.der()).unwrap();
        let PeerKey::EcdsaP256(point) = &key;
        assert_eq!(point.len(), 65);
        assert_eq!(point[0], 4);

        let msg = b"client_random || server_random || params";
        let mut sig = c.sign(msg).unwrap();
        key.verify(ECDSA_SECP256R1_SHA256, msg, &sig).unwrap();
        // The shared kx helpers agree with the cached key.
        kx::verify_p256(point, msg, &sig).unwrap();
        let sig2 = kx::sign_p256(c.pkcs8(), msg).unwrap();
        key.verify(ECDSA_SECP256R1_SHA256, msg, &sig2).unwrap();

        assert_eq!(
            key.verify(ECDSA_SECP256R1_SHA256, b"other message", &sig),
            Err(CertError::BadSignature)
        );
        assert_eq!(
            key.verify(0x0804, msg, &sig),
            Err(CertError::UnsupportedScheme(0x0804))
        );
        let last = sig.len() - 1;
        sig[last] ^= 1;
        assert_eq!(
            key.verify(ECDSA_SECP256R1_SHA256, msg, &sig),
            Err(CertError::BadSignature)
        );
        sig[last] ^= 1;
        sig[10] ^= 0x80;
        assert_eq!(
            key.verify(ECDSA_SECP256R1_SHA256, msg, &sig),
            Err(CertError::BadSignature)
        );
    }

    /// Signatures and certificates have one size, whatever the nonce: DER
    /// would make them 70-72 bytes at random, and a simulated call would
    /// not repeat (see `full_length_signature`).
    #[test]
    fn signatures_and_certificates_are_always_full_length() {
        let c = Certificate::generate("meshrtc").unwrap();
        let key = peer_key(c.der()).unwrap();
        for i in 0..40u8 {
            let msg = [i; 50];
            let sig = c.sign(&msg).unwrap();
            assert_eq!(sig.len(), FULL_SIGNATURE_LEN);
            key.verify(ECDSA_SECP256R1_SHA256, &msg, &sig).unwrap();
            let sig2 = kx::sign_p256(c.pkcs8(), &msg).unwrap();
            assert_eq!(sig2.len(), FULL_SIGNATURE_LEN);
            key.verify(ECDSA_SECP256R1_SHA256, &msg, &sig2).unwrap();
        }
        let lens: Vec<usize> = (0..12)
            .map(|_| Certificate::generate("meshrtc").unwrap().der().len())
            .collect();
        assert!(lens.iter().all(|&n| n == c.der().len()), "{lens:?}");
        // The certificate's signature is the full 72 bytes, checked by
        // x509-cert's parser.
        let x = x509_cert::Certificate::from_der(c.der()).unwrap();
        assert_eq!(x.signature().raw_bytes().len(), FULL_SIGNATURE_LEN);
    }

    #[test]
    fn generated_certificates_differ_and_clone_shares() {
        let a = Certificate::generate("meshrtc").unwrap();
        let b = Certificate::generate("meshrtc").unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.der(), b.der());
        let a2 = a.clone();
        assert_eq!(a2.der().as_ptr(), a.der().as_ptr());
        assert_eq!(a2.fingerprint(), a.fingerprint());
        // Debug shows the fingerprint, never the key.
        let dbg = format!("{a:?}");
        assert!(dbg.contains(&a.fingerprint().to_string()), "{dbg}");
    }

    #[test]
    fn generated_certificate_contents() {
        let c = Certificate::generate("meshrtc").unwrap();
        let x = x509_cert::Certificate::from_der(c.der()).unwrap();
        let tbs = x.tbs_certificate();
        assert_eq!(tbs.subject().to_string(), "CN=meshrtc");
        assert_eq!(tbs.issuer().to_string(), "CN=meshrtc");
        // ecdsa-with-SHA256 (RFC 5758 §3.2).
        assert_eq!(
            x.signature_algorithm().oid,
            ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2")
        );
        let serial = tbs.serial_number().as_bytes();
        assert_eq!(serial.len(), 16);
        assert_eq!(serial[0] & 0xc0, 0x40);
        let validity = tbs.validity();
        let nb = validity.not_before.to_unix_duration().as_secs();
        let na = validity.not_after.to_unix_duration().as_secs();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(nb < now && now - nb <= 86_400 + 60, "{nb} {now}");
        assert_eq!(na - nb, 31 * 86_400);
    }

    #[test]
    fn pem_forms() {
        let c = Certificate::generate("meshrtc").unwrap();
        let cert = c.cert_pem();
        let key = c.key_pem();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----\n"), "{cert}");
        assert!(cert.ends_with("-----END CERTIFICATE-----\n"), "{cert}");
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{key}");
        assert!(!cert.contains('\r'));
        assert_eq!(pem::parse(&cert).unwrap().contents(), c.der());
        assert_eq!(pem::parse(&key).unwrap().contents(), c.pkcs8());
    }

    #[test]
    fn fingerprint_is_sha256_of_der_and_round_trips() {
        let c = Certificate::generate("meshrtc").unwrap();
        let expected = digest::digest(&digest::SHA256, c.der());
        assert_eq!(&c.fingerprint().0[..], expected.as_ref());
        assert!(c.fingerprint().matches(c.der()));
        assert!(!c.fingerprint().matches(&c.der()[1..]));

        let text = c.fingerprint().to_string();
        assert_eq!(text.len(), 32 * 3 - 1);
        assert_eq!(text, text.to_uppercase());
        assert_eq!(format!("{:?}", c.fingerprint()), text);
        assert_eq!(Fingerprint::parse_sdp(&text).unwrap(), *c.fingerprint());
        assert_eq!(text.parse::<Fingerprint>().unwrap(), *c.fingerprint());
        let lower = text.to_lowercase();
        assert_eq!(Fingerprint::parse_sdp(&lower).unwrap(), *c.fingerprint());
        let spaced = format!(" {text}\r\n");
        assert_eq!(Fingerprint::parse_sdp(&spaced).unwrap(), *c.fingerprint());
    }

    #[test]
    fn fingerprint_parse_errors() {
        let good = Fingerprint([0xab; 32]).to_string();
        let err = |s: &str| match Fingerprint::parse_sdp(s) {
            Err(CertError::BadFingerprint(e)) => e,
            other => panic!("{s:?}: {other:?}"),
        };
        assert_eq!(err(""), FingerprintError::Empty);
        assert_eq!(err("   "), FingerprintError::Empty);
        // Too short and too long.
        assert_eq!(
            err(&good[..good.len() - 3]),
            FingerprintError::WrongLength { groups: 31 }
        );
        assert_eq!(
            err(&format!("{good}:AB")),
            FingerprintError::WrongLength { groups: 33 }
        );
        assert_eq!(err("AB"), FingerprintError::WrongLength { groups: 1 });
        // Missing colons: all 64 digits in one group, or one pair joined.
        assert_eq!(
            err(&"AB".repeat(32)),
            FingerprintError::BadGroup { index: 0 }
        );
        let joined = good.replacen(':', "", 1);
        assert_eq!(err(&joined), FingerprintError::BadGroup { index: 0 });
        // Doubled colon, trailing colon, odd digit.
        assert_eq!(
            err(&good.replacen(':', "::", 1)),
            FingerprintError::BadGroup { index: 1 }
        );
        assert_eq!(
            err(&format!("{good}:")),
            FingerprintError::BadGroup { index: 32 }
        );
        assert_eq!(err("A:BC"), FingerprintError::BadGroup { index: 0 });
        // Bad hex, including non-ASCII (two bytes of UTF-8) and a sign.
        let mut bad = good.clone();
        bad.replace_range(3..5, "G1");
        assert_eq!(err(&bad), FingerprintError::BadHex { index: 1 });
        let mut bad = good.clone();
        bad.replace_range(0..2, "é");
        assert_eq!(err(&bad), FingerprintError::BadHex { index: 0 });
        let mut bad = good.clone();
        bad.replace_range(0..2, "+1");
        assert_eq!(err(&bad), FingerprintError::BadHex { index: 0 });
        // With the SDP attribute's hash token left in.
        assert!(Fingerprint::parse_sdp(&format!("sha-256 {good}")).is_err());
        // Arbitrary junk never panics.
        for s in ["::::", "é:é", "\u{0}\u{0}", ":", "ZZ:"] {
            assert!(Fingerprint::parse_sdp(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn from_der_round_trip_and_mismatch() {
        let a = Certificate::generate("a").unwrap();
        let b = Certificate::generate("b").unwrap();
        let a2 = Certificate::from_der(a.der().to_vec(), a.pkcs8().to_vec()).unwrap();
        assert_eq!(a2.fingerprint(), a.fingerprint());
        let msg = b"m";
        peer_key(a.der())
            .unwrap()
            .verify(ECDSA_SECP256R1_SHA256, msg, &a2.sign(msg).unwrap())
            .unwrap();

        assert_eq!(
            Certificate::from_der(a.der().to_vec(), b.pkcs8().to_vec()).unwrap_err(),
            CertError::KeyMismatch
        );
        assert_eq!(
            Certificate::from_der(b.der().to_vec(), a.pkcs8().to_vec()).unwrap_err(),
            CertError::KeyMismatch
        );
        assert_eq!(
            Certificate::from_der(a.der().to_vec(), b"not a key".to_vec()).unwrap_err(),
            CertError::BadPrivateKey
        );
        assert!(matches!(
            Certificate::from_der(b"not a cert".to_vec(), a.pkcs8().to_vec()),
            Err(CertError::BadCertificate(_))
        ));
    }

    #[test]
    fn peer_key_never_panics_on_truncated_or_garbage() {
        let c = Certificate::generate("meshrtc").unwrap();
        let der = c.der();
        for n in 0..der.len() {
            assert!(
                matches!(peer_key(&der[..n]), Err(CertError::BadCertificate(_))),
                "prefix {n}"
            );
        }
        // Trailing data after the certificate is refused.
        let mut long = der.to_vec();
        long.push(0);
        assert!(peer_key(&long).is_err());
        // Every single-byte corruption: an error or a key, never a panic.
        for i in 0..der.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut d = der.to_vec();
                d[i] ^= x;
                let _ = peer_key(&d);
            }
        }
        // Deterministic pseudo-random garbage, some of it DER-looking.
        let mut s = 0x1234_5678_9abc_def0u64;
        for len in 0..600 {
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                buf.push(s as u8);
            }
            if len >= 4 {
                buf[0] = 0x30;
                buf[1] = 0x82;
                buf[2] = ((len - 4) >> 8) as u8;
                buf[3] = (len - 4) as u8;
            }
            assert!(peer_key(&buf).is_err());
        }
    }

    /// Certificates rcgen did not make: OpenSSL 3.0 ones (see
    /// fixtures/README.md), its PKCS#8 keys, and the key types refused.
    #[test]
    fn openssl_certificates() {
        let hex = |name: &str| {
            let text = std::fs::read_to_string(format!(
                "{}/../fixtures/openssl/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            hex::decode(text.trim()).unwrap()
        };
        let der = hex("openssl_p256_cert.hex");
        let pkcs8 = hex("openssl_p256_pkcs8.hex");
        // `openssl x509 -noout -fingerprint -sha256`.
        let fp: Fingerprint = "52:BB:45:45:A7:60:35:EC:B5:E8:38:15:ED:42:58:1E:\
                               84:53:D9:C1:23:0B:78:8E:08:32:BA:22:A5:BA:6C:6C"
            .parse()
            .unwrap();
        assert!(fp.matches(&der));
        // The same key as a bare SEC1 ECPrivateKey (RFC 5915), not PKCS#8.
        assert_eq!(
            Certificate::from_der(der.clone(), pkcs8[29..].to_vec()).unwrap_err(),
            CertError::BadPrivateKey
        );
        let c = Certificate::from_der(der.clone(), pkcs8).unwrap();
        assert_eq!(*c.fingerprint(), fp);
        let key = peer_key(&der).unwrap();
        key.verify(ECDSA_SECP256R1_SHA256, b"m", &c.sign(b"m").unwrap())
            .unwrap();

        // A P-384 certificate, and a P-384 key against the P-256 one.
        assert_eq!(
            peer_key(&hex("openssl_p384_cert.hex")),
            Err(CertError::UnsupportedKey(
                "1.2.840.10045.2.1 (curve 1.3.132.0.34)".into()
            ))
        );
        assert_eq!(
            Certificate::from_der(der, hex("openssl_p384_pkcs8.hex")).unwrap_err(),
            CertError::BadPrivateKey
        );
        // rsaEncryption.
        assert_eq!(
            peer_key(&hex("openssl_rsa2048_cert.hex")),
            Err(CertError::UnsupportedKey("1.2.840.113549.1.1.1".into()))
        );
    }

    /// Curve and algorithm OIDs edited in a generated certificate.
    #[test]
    fn other_curves_and_algorithms_are_unsupported() {
        let c = Certificate::generate("meshrtc").unwrap();
        let der = c.der().to_vec();
        // prime256v1 OID content bytes; secp256k1 (1.3.132.0.10) would
        // change the length, so swap in another 8-byte OID:
        // 1.2.840.10045.3.1.1 (prime192v1).
        let p256 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        let at = der.windows(8).position(|w| w == p256).unwrap();
        let mut other = der.clone();
        other[at + 7] = 0x01;
        assert_eq!(
            peer_key(&other),
            Err(CertError::UnsupportedKey(
                "1.2.840.10045.2.1 (curve 1.2.840.10045.3.1.1)".into()
            ))
        );
        // id-ecPublicKey (2a 86 48 ce 3d 02 01) -> a 7-byte OID of the same
        // length: 1.2.840.10045.2.2 (not a key algorithm anyone uses).
        let ec = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
        let at = der.windows(7).position(|w| w == ec).unwrap();
        let mut other = der.clone();
        other[at + 6] = 0x02;
        assert_eq!(
            peer_key(&other),
            Err(CertError::UnsupportedKey("1.2.840.10045.2.2".into()))
        );
    }

    #[test]
    fn chromium_sdp_fingerprints_parse() {
        for name in [
            "chromium_offer.sdp",
            "chromium_answer.sdp",
            "chromium_session_offer.sdp",
            "chromium_session_answer.sdp",
        ] {
            let text = fixture_text(name);
            let mut n = 0;
            for line in text.lines() {
                if let Some(v) = line.trim().strip_prefix("a=fingerprint:sha-256 ") {
                    let fp = Fingerprint::parse_sdp(v).unwrap();
                    assert_eq!(fp.to_string(), v.trim());
                    n += 1;
                }
            }
            assert!(n > 0, "{name}");
        }
    }
}

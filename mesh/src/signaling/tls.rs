//! TLS for signaling: the server's certificate (made at start, or read from
//! PEM files) and what a client trusts (a certificate's SHA-256 fingerprint,
//! or CA certificates from a PEM file).
//!
//! A browser refuses the camera on a page that is not a secure context
//! (W3C Secure Contexts §3), so a room opened from another machine on the
//! LAN must come over HTTPS. On a LAN there is usually no certificate a
//! public CA signed: `meshrtc serve --tls` makes a self-signed one and
//! prints its SHA-256 fingerprint, which a person compares with what the
//! browser shows and a `meshrtc join` pins (`--server-fingerprint`). The
//! fingerprint is over the whole certificate (DER), as browsers show it
//! and as SDP's `a=fingerprint` is (RFC 8122 §5).
//!
//! TLS itself is rustls with the ring provider; the server speaks TLS 1.2
//! and 1.3 and offers ALPN `http/1.1` (RFC 7301), which the WebSocket
//! upgrade needs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

/// What can go wrong setting TLS up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or holds no usable item.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong (unreadable, no certificate, no private key).
        what: String,
    },
    /// rustls refused the configuration (a key that does not match the
    /// certificate, an unsupported key type).
    #[error("TLS configuration refused: {0}")]
    Config(#[from] rustls::Error),
    /// The self-signed certificate could not be made.
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A fingerprint that is not 32 bytes of hex.
    #[error("not a SHA-256 fingerprint: {0:?} (64 hex digits, colons between bytes allowed)")]
    BadFingerprint(String),
}

/// The certificate's SHA-256 over its DER bytes (RFC 8122 §5).
pub fn fingerprint(cert_der: &[u8]) -> [u8; 32] {
    Sha256::digest(cert_der).into()
}

/// A fingerprint as browsers and `a=fingerprint` show it: upper-case hex
/// bytes separated by colons.
pub fn format_fingerprint(fp: &[u8; 32]) -> String {
    let hex: Vec<String> = fp.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// Reads a fingerprint in either case, with or without colons (and with an
/// optional `sha-256 ` prefix, as `a=fingerprint` writes it).
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], TlsError> {
    let bad = || TlsError::BadFingerprint(text.chars().take(120).collect());
    let trimmed = text.trim();
    let body = trimmed
        .strip_prefix("sha-256 ")
        .or_else(|| trimmed.strip_prefix("SHA-256 "))
        .unwrap_or(trimmed);
    let digits: String = body.chars().filter(|&c| c != ':').collect();
    if digits.len() != 64 || !digits.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server's TLS: the rustls configuration and the fingerprint of its
/// certificate, to print and to give clients.
#[derive(Clone)]
pub struct ServerTls {
    /// What the accept loop hands rustls.
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the end-entity certificate.
    pub fingerprint: [u8; 32],
    /// The end-entity certificate (DER), for clients that trust it as a CA
    /// (a self-signed certificate is its own).
    pub certificate: CertificateDer<'static>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("fingerprint", &format_fingerprint(&self.fingerprint))
            .finish_non_exhaustive()
    }
}

impl PartialEq for ServerTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
    }
}

impl ServerTls {
    /// A server configuration for a certificate chain (end-entity first)
    /// and its private key.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ServerTls, TlsError> {
        let Some(certificate) = chain.first().cloned() else {
            return Err(TlsError::Config(rustls::Error::NoCertificatesPresented));
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        // The page, the WebSocket upgrade and the SSE stream are HTTP/1.1.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
            fingerprint: fingerprint(&certificate),
            certificate,
        })
    }

    /// Reads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1
    /// or SEC1), as `--cert` and `--key` name them.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<ServerTls, TlsError> {
        let chain = read_certificates(cert)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
            path: key.to_owned(),
            what: format!("no private key: {e}"),
        })?;
        ServerTls::new(chain, key)
    }

    /// A self-signed certificate (ECDSA P-256) for `names`: DNS names and
    /// IP addresses, each becoming a subjectAltName. Valid from a day ago
    /// for 397 days (browsers refuse longer lifetimes).
    pub fn self_signed(names: &[String]) -> Result<ServerTls, TlsError> {
        let mut params = rcgen::CertificateParams::new(names.to_vec())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "meshrtc serve");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(397);
        let key = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let der = PrivatePkcs8KeyDer::from(key.serialize_der());
        ServerTls::new(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(der))
    }

    /// The end-entity certificate as PEM (RFC 7468 §5), for a client's
    /// CA file.
    pub fn certificate_pem(&self) -> String {
        let b64 = base64_std(&self.certificate);
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// The SHA-256 of the certificate's public key (its SubjectPublicKeyInfo),
    /// base64: what Chromium's `--ignore-certificate-errors-spki-list`
    /// takes.
    pub fn spki_sha256_base64(&self) -> Option<String> {
        let spki = spki_of(&self.certificate)?;
        Some(base64_std(&Sha256::digest(spki)))
    }
}

/// Reads every certificate of a PEM file.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |what: String| TlsError::Pem {
        path: path.to_owned(),
        what,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(format!("cannot read: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(format!("bad PEM: {e}")))?;
    if chain.is_empty() {
        return Err(pem_error("no certificate in the file".into()));
    }
    Ok(chain)
}

/// Whom a `wss://` or `https://` client trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTrust {
    /// Exactly the certificate with this SHA-256 (names and dates are not
    /// checked: the fingerprint pins one certificate).
    Fingerprint([u8; 32]),
    /// Certificates these CAs signed, for the name in the URL (the usual
    /// web PKI checks, by rustls-webpki).
    Roots(Vec<CertificateDer<'static>>),
}

impl ServerTrust {
    /// The rustls client configuration for this trust (ALPN `http/1.1`).
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let mut config = match self {
            ServerTrust::Fingerprint(fp) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(FingerprintVerifier {
                    expected: *fp,
                    provider: provider(),
                }))
                .with_no_client_auth(),
            ServerTrust::Roots(certs) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in certs {
                    roots.add(cert.clone())?;
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The server presented a certificate other than the pinned one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the server's certificate has SHA-256 fingerprint {presented}, not the expected {expected} \
     (a different server, or a certificate made anew: check the fingerprint `meshrtc serve` printed)"
)]
pub struct FingerprintMismatch {
    /// What the client was told to trust.
    pub expected: String,
    /// What the server sent.
    pub presented: String,
}

/// Accepts exactly one certificate, by its SHA-256; the handshake's
/// signatures are still verified with that certificate's key, so only the
/// holder of the private key passes.
#[derive(Debug)]
struct FingerprintVerifier {
    expected: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for FingerprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = fingerprint(end_entity);
        if presented == self.expected {
            return Ok(ServerCertVerified::assertion());
        }
        let mismatch = FingerprintMismatch {
            expected: format_fingerprint(&self.expected),
            presented: format_fingerprint(&presented),
        };
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Other(rustls::OtherError(Arc::new(mismatch))),
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 §4.1): the
/// seventh element of tbsCertificate, counting the explicit version.
/// Only our own certificates come here; `None` for anything unexpected.
fn spki_of(cert: &[u8]) -> Option<&[u8]> {
    let (_, cert_body) = der_element(cert, 0x30)?;
    let (tbs, _) = der_split(cert_body)?;
    let (_, mut rest) = der_element(tbs, 0x30)?;
    // version [0] (optional), serialNumber, signature, issuer, validity,
    // subject, then subjectPublicKeyInfo.
    if rest.first() == Some(&0xa0) {
        rest = der_split(rest)?.1;
    }
    for _ in 0..5 {
        rest = der_split(rest)?.1;
    }
    der_split(rest).map(|(spki, _)| spki)
}

/// One DER element of the given tag at the start of `bytes`: (the whole
/// element, its contents).
fn der_element(bytes: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if *bytes.first()? != tag {
        return None;
    }
    let (whole, _) = der_split(bytes)?;
    let header = der_header_len(whole)?;
    Some((whole, &whole[header..]))
}

/// Splits the first DER element (tag, length, contents) off `bytes`.
fn der_split(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let header = der_header_len(bytes)?;
    let first = *bytes.get(1)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        bytes
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    let end = header.checked_add(len)?;
    (end <= bytes.len()).then(|| bytes.split_at(end))
}

fn der_header_len(bytes: &[u8]) -> Option<usize> {
    let first = *bytes.get(1)?;
    if first < 0x80 {
        Some(2)
    } else {
        let n = usize::from(first & 0x7f);
        (1..=4).contains(&n).then_some(2 + n)
    }
}

fn base64_std(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_round_trips_through_its_text_forms() {
        let fp = fingerprint(b"not really a certificate");
        let text = format_fingerprint(&fp);
        assert_eq!(text.len(), 32 * 3 - 1);
        assert_eq!(parse_fingerprint(&text).unwrap(), fp);
        assert_eq!(
            parse_fingerprint(&text.replace(':', "").to_lowercase()).unwrap(),
            fp
        );
        assert_eq!(parse_fingerprint(&format!("sha-256 {text}")).unwrap(), fp);
        assert!(matches!(
            parse_fingerprint("AB:CD"),
            Err(TlsError::BadFingerprint(_))
        ));
        assert!(matches!(
            parse_fingerprint(&"zz".repeat(32)),
            Err(TlsError::BadFingerprint(_))
        ));
    }

    #[test]
    fn self_signed_certificate_spki_matches_its_key() {
        let tls = ServerTls::self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert_eq!(tls.fingerprint, fingerprint(&tls.certificate));
        // The SPKI of a P-256 key: SEQUENCE { SEQUENCE { ecPublicKey,
        // prime256v1 }, BIT STRING of 66 bytes (0 unused bits, 0x04, X, Y) }.
        let spki = spki_of(&tls.certificate).unwrap();
        assert_eq!(spki.len(), 91, "{spki:02x?}");
        assert_eq!(&spki[..4], &[0x30, 0x59, 0x30, 0x13]);
        assert_eq!(&spki[23..27], &[0x03, 0x42, 0x00, 0x04]);
        let b64 = tls.spki_sha256_base64().unwrap();
        assert_eq!(b64.len(), 44);
        assert!(b64.ends_with('='));
    }

    #[test]
    fn certificate_pem_reads_back_as_the_same_certificate() {
        let tls = ServerTls::self_signed(&["localhost".into()]).unwrap();
        let pem = tls.certificate_pem();
        assert!(pem.lines().all(|l| l.len() <= 64));
        let path = std::env::temp_dir().join(format!("meshrtc-pem-{}.pem", std::process::id()));
        std::fs::write(&path, &pem).unwrap();
        let back = read_certificates(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(back, vec![tls.certificate.clone()]);
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        // RFC 4648 §10.
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_std(input.as_bytes()), want);
        }
    }
}

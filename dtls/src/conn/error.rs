//! [`Error`]: why a handshake failed, each with the alert it sends.

use super::alert::alert_level_name;
use super::*;

/// A fatal handshake or association error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer's certificate does not match the SDP fingerprint.
    #[error("peer certificate fingerprint {got} does not match the expected {expected}")]
    FingerprintMismatch {
        /// From the SDP.
        expected: Fingerprint,
        /// Of the certificate received.
        got: Fingerprint,
    },
    /// The peer's certificate could not be used.
    #[error("peer certificate: {0}")]
    BadCertificate(cert::CertError),
    /// The peer sent no certificate (WebRTC authenticates both sides).
    #[error("the peer sent no certificate")]
    NoPeerCertificate,
    /// No cipher suite in common.
    #[error("no cipher suite in common (peer offered {0:04x?})")]
    NoCommonCipherSuite(Vec<u16>),
    /// No ECDHE group in common.
    #[error("no ECDHE group in common (peer offered {0:?})")]
    NoCommonGroup(Vec<u16>),
    /// The peer cannot verify ECDSA P-256 / SHA-256 signatures.
    #[error("the peer does not accept ecdsa_secp256r1_sha256 signatures")]
    NoCommonSignatureScheme,
    /// The peer did not offer or accept the extended master secret
    /// (RFC 7627), which browsers and meshrtc require.
    #[error("the peer did not negotiate the extended master secret (RFC 7627)")]
    ExtendedMasterSecretRequired,
    /// The peer offers only DTLS 1.0, or the server chose something else
    /// than DTLS 1.2.
    #[error("unsupported protocol version {0:#06x}")]
    UnsupportedVersion(u16),
    /// The ClientHello's supported_versions (RFC 8446 §4.2.1) lists DTLS
    /// 1.3 (0xfefc) and no DTLS 1.2, and DTLS 1.3 is not implemented.
    #[error("the peer offers only DTLS 1.3 (0xfefc; supported_versions {0:04x?}), and only DTLS 1.2 is implemented")]
    Dtls13Only(Vec<u16>),
    /// A value the peer may not choose (a suite, group or profile we did
    /// not offer, a non-null compression, a non-empty renegotiation_info).
    #[error("illegal parameter: {0}")]
    IllegalParameter(&'static str),
    /// The server answered an extension we did not offer.
    #[error("unsolicited extension {0} in ServerHello")]
    UnsolicitedExtension(u16),
    /// A message that does not belong at this point of the handshake.
    #[error("unexpected {got:?} while expecting {expected}")]
    UnexpectedMessage {
        /// What came.
        got: HandshakeType,
        /// What the state expected.
        expected: &'static str,
    },
    /// A handshake message body that does not parse.
    #[error("malformed {what}: {detail}")]
    Decode {
        /// The message.
        what: &'static str,
        /// The reader's complaint.
        detail: String,
    },
    /// A signature (ServerKeyExchange or CertificateVerify) that does not
    /// verify.
    #[error("{0} signature does not verify")]
    BadSignature(&'static str),
    /// The peer's Finished does not match the transcript.
    #[error("the peer's Finished verify_data does not match")]
    BadFinished,
    /// The ECDHE computation failed (a bad peer public key).
    #[error("key exchange failed: {0}")]
    KeyExchange(String),
    /// Our own signing or key setup failed.
    #[error("internal error: {0}")]
    Internal(String),
    /// The peer sent a fatal alert.
    #[error("peer sent fatal alert {0}")]
    PeerAlert(u8),
    /// The handshake did not finish within [`Config::handshake_timeout`].
    #[error("handshake timed out after {0:?}")]
    HandshakeTimeout(Duration),
    /// The handshake failed (`cause`) after the peer had sent an
    /// unauthenticated (epoch 0) alert. Such an alert is not acted on when
    /// it comes, since anyone can forge one (RFC 6347 §4.1.2.7), but it
    /// most likely says why: a real peer rejects our certificate's
    /// fingerprint this way, then goes silent.
    #[error(
        "{cause}, after the peer's unauthenticated {} alert {}",
        alert_level_name(*level),
        AlertDescription(*alert)
    )]
    AfterPlaintextAlert {
        /// The alert level (1 warning, 2 fatal).
        level: u8,
        /// The alert description (RFC 5246 §7.2).
        alert: u8,
        /// What ended the handshake.
        cause: Box<Error>,
    },
    /// Caller misuse: sending before the association is up or after it is
    /// closed.
    #[error("not connected")]
    NotConnected,
    /// Caller misuse: application data over 2^14 bytes.
    #[error("application data of {0} bytes does not fit one record (2^14)")]
    TooLarge(usize),
}

impl Error {
    pub(super) fn alert(&self) -> AlertDescription {
        match self {
            Error::FingerprintMismatch { .. } | Error::BadCertificate(_) => {
                AlertDescription::BAD_CERTIFICATE
            }
            Error::NoPeerCertificate
            | Error::NoCommonCipherSuite(_)
            | Error::NoCommonGroup(_)
            | Error::NoCommonSignatureScheme
            | Error::ExtendedMasterSecretRequired => AlertDescription::HANDSHAKE_FAILURE,
            Error::UnsupportedVersion(_) | Error::Dtls13Only(_) => {
                AlertDescription::PROTOCOL_VERSION
            }
            Error::IllegalParameter(_) | Error::KeyExchange(_) => {
                AlertDescription::ILLEGAL_PARAMETER
            }
            Error::UnsolicitedExtension(_) => AlertDescription::UNSUPPORTED_EXTENSION,
            Error::UnexpectedMessage { .. } => AlertDescription::UNEXPECTED_MESSAGE,
            Error::Decode { .. } => AlertDescription::DECODE_ERROR,
            Error::BadSignature(_) | Error::BadFinished => AlertDescription::DECRYPT_ERROR,
            Error::AfterPlaintextAlert { cause, .. } => cause.alert(),
            _ => AlertDescription::INTERNAL_ERROR,
        }
    }
}

//! [`Error13`]: why a DTLS 1.3 handshake or association failed, each
//! with the alert it sends (RFC 8446 §6.2).

use crate::cert::{CertError, Fingerprint};
use crate::kx::KxError;
use crate::messages::MessageError;

/// A fatal DTLS 1.3 error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error13 {
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
    BadCertificate(CertError),
    /// The peer sent no certificate (WebRTC authenticates both sides).
    #[error("the peer sent no certificate")]
    NoPeerCertificate,
    /// No TLS 1.3 cipher suite in common.
    #[error("no cipher suite in common (peer offered {0:04x?})")]
    NoCommonCipherSuite(Vec<u16>),
    /// No key exchange group in common.
    #[error("no key exchange group in common (peer offered {0:?})")]
    NoCommonGroup(Vec<u16>),
    /// The peer cannot verify ecdsa_secp256r1_sha256.
    #[error("the peer does not accept ecdsa_secp256r1_sha256 signatures")]
    NoCommonSignatureScheme,
    /// The server chose a version we did not offer, or the client offers
    /// none we speak.
    #[error("no common protocol version ({0:04x?})")]
    UnsupportedVersion(Vec<u16>),
    /// A DTLS 1.2 ServerHello whose random carries the RFC 8446 §4.1.3
    /// downgrade sentinel, to a client that offered DTLS 1.3.
    #[error("downgrade to DTLS 1.2 detected (ServerHello.random sentinel)")]
    DowngradeDetected,
    /// A value the peer may not choose.
    #[error("illegal parameter: {0}")]
    IllegalParameter(&'static str),
    /// A required extension is missing.
    #[error("missing extension: {0}")]
    MissingExtension(&'static str),
    /// An authenticated message that does not belong here.
    #[error("unexpected handshake message {got} while expecting {expected}")]
    UnexpectedMessage {
        /// Its type.
        got: u8,
        /// What the state expected.
        expected: &'static str,
    },
    /// An authenticated message that does not decode.
    #[error("undecodable {what}: {error}")]
    Decode {
        /// Which message.
        what: &'static str,
        /// Why.
        error: MessageError,
    },
    /// CertificateVerify does not verify.
    #[error("CertificateVerify signature does not verify")]
    BadSignature,
    /// Finished does not verify.
    #[error("Finished verify_data mismatch")]
    BadFinished,
    /// The key exchange failed (e.g. an invalid peer share).
    #[error("key exchange: {0}")]
    KeyExchange(KxError),
    /// The peer sent a fatal alert.
    #[error("peer sent alert {description} (level {level})")]
    AlertReceived {
        /// The level.
        level: u8,
        /// The description.
        description: u8,
    },
    /// The handshake did not finish in time.
    #[error("handshake timed out")]
    Timeout,
    /// No random source (the OS failed and no seed was configured).
    #[error("no random source")]
    NoRandomness,
    /// Caller misuse: sending before the handshake finished.
    #[error("not connected")]
    NotConnected,
    /// Caller misuse: the association is closed.
    #[error("closed")]
    Closed,
}

impl Error13 {
    /// The alert description this error sends (RFC 8446 §6.2).
    pub fn alert(&self) -> u8 {
        match self {
            Error13::FingerprintMismatch { .. } | Error13::BadCertificate(_) => 42,
            Error13::NoPeerCertificate => 116, // certificate_required
            Error13::NoCommonCipherSuite(_)
            | Error13::NoCommonGroup(_)
            | Error13::NoCommonSignatureScheme => 40,
            Error13::UnsupportedVersion(_) => 70,
            Error13::DowngradeDetected | Error13::IllegalParameter(_) => 47,
            Error13::MissingExtension(_) => 109,
            Error13::UnexpectedMessage { .. } => 10,
            Error13::Decode { .. } => 50,
            Error13::BadSignature | Error13::BadFinished => 51,
            Error13::KeyExchange(_) => 47,
            _ => 80,
        }
    }
}

//! [`Config`]: the settings of a [`Dtls`].

use super::*;

/// Settings of one association.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our certificate and key.
    pub certificate: Certificate,
    /// Cipher suites in preference order (the server's order decides).
    pub suites: Vec<Suite>,
    /// DTLS 1.3 cipher suites in preference order (RFC 8446 §B.4).
    pub suites13: Vec<crate::v13::record::CipherSuite13>,
    /// DTLS 1.3: offer (client) and prefer (server) the X25519MLKEM768
    /// hybrid key share (draft-ietf-tls-ecdhe-mlkem) before `groups`.
    pub x25519mlkem768: bool,
    /// Which DTLS versions to speak (through [`crate::v13::AnyDtls`]).
    pub versions: crate::v13::Versions,
    /// ECDHE groups in preference order. secp256r1 should stay listed:
    /// OpenSSL only picks an ECDSA P-256 certificate when the client
    /// lists it.
    pub groups: Vec<Group>,
    /// SRTP profiles in preference order (the server's order decides);
    /// empty to leave `use_srtp` out.
    pub srtp_profiles: Vec<SrtpProfileId>,
    /// The largest datagram we send.
    pub mtu: usize,
    /// The first retransmission timeout (RFC 6347 §4.2.4.1: 1 s).
    pub initial_rto: Duration,
    /// The retransmission timeout stops doubling here.
    pub max_rto: Duration,
    /// The handshake fails if not finished this long after it started.
    pub handshake_timeout: Duration,
    /// Server: demand a cookie (HelloVerifyRequest) before keeping state.
    pub cookie_exchange: bool,
    /// The peer's certificate fingerprint from its SDP, if known yet.
    pub remote_fingerprint: Option<Fingerprint>,
    /// Hand out NSS key log lines as [`Event::KeyLog`].
    pub key_log: bool,
    /// Seed of the random source; `None` draws one from the OS.
    pub rng_seed: Option<[u8; 32]>,
    /// The largest handshake message accepted from the peer.
    pub max_handshake_message: usize,
}

impl Config {
    /// WebRTC defaults around a certificate: both AES-GCM suites, x25519
    /// then secp256r1, AEAD_AES_128_GCM then AES128_CM_SHA1_80 (then
    /// AEAD_AES_256_GCM), MTU 1200, 1 s initial timer up to 60 s, a 30 s
    /// handshake deadline, no cookie exchange, no key log.
    pub fn new(certificate: Certificate) -> Config {
        Config {
            certificate,
            suites: vec![
                Suite::EcdheEcdsaAes128GcmSha256,
                Suite::EcdheEcdsaAes256GcmSha384,
            ],
            suites13: vec![
                crate::v13::record::CipherSuite13::Aes128GcmSha256,
                crate::v13::record::CipherSuite13::Aes256GcmSha384,
                crate::v13::record::CipherSuite13::Chacha20Poly1305Sha256,
            ],
            versions: crate::v13::Versions::Both,
            x25519mlkem768: false,
            groups: vec![Group::X25519, Group::Secp256r1],
            srtp_profiles: vec![
                SrtpProfileId::AEAD_AES_128_GCM,
                SrtpProfileId::AES128_CM_SHA1_80,
                SrtpProfileId::AEAD_AES_256_GCM,
            ],
            mtu: 1200,
            initial_rto: Duration::from_secs(1),
            max_rto: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(30),
            cookie_exchange: false,
            remote_fingerprint: None,
            key_log: false,
            rng_seed: None,
            max_handshake_message: 32 * 1024,
        }
    }
}

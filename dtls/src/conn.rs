//! The DTLS 1.2 client and server (RFC 6347, RFC 5246 §7, RFC 8422,
//! RFC 7627, RFC 5764), sans-IO.
//!
//! One [`Dtls`] is one side of one association. Datagrams come in through
//! [`Dtls::handle_datagram`], time through [`Dtls::handle_timeout`]; what
//! to send, what happened and when to wake up come out of
//! [`Dtls::poll_transmit`], [`Dtls::poll_event`] and [`Dtls::poll_timeout`].
//! Drain all three after every `handle_*` call.
//!
//! The handshake is the one WebRTC uses: ECDHE on x25519 or secp256r1,
//! ECDSA P-256 certificates on both sides, AES-GCM, the extended master
//! secret (required), `use_srtp`. Flights are retransmitted whole on a
//! doubling timer and when the peer repeats its previous flight (§4.2.4),
//! and fragmented to the configured MTU. The server can make the client
//! prove its address with a cookie (§4.2.1, off by default: ICE already
//! did), keeping no state before a valid cookie. A ClientHello that also
//! offers DTLS 1.3 gets a plain DTLS 1.2 answer; one that offers only
//! DTLS 1.3 a `protocol_version` alert.
//!
//! Hostile datagrams are dropped and counted in [`DtlsStats`], never
//! fatal (RFC 6347 §4.1.2.7): fragments with a `message_seq` we do not
//! expect, fragments that disagree with what is held for their message
//! (the newer replaces an incomplete one), fragments beyond the
//! reassembly caps ([`handshake::MAX_RANGES`] ranges per message,
//! [`handshake::MAX_PARTIALS`] incomplete messages), messages that do not
//! decode (the retransmission is awaited), handshake input after the
//! handshake (except the peer's repeated final flight, which makes us
//! resend ours) and unauthenticated (epoch 0) alerts. Such an alert is
//! remembered: if the handshake then fails, the error names it
//! ([`Error::AfterPlaintextAlert`]).
//!
//! [`handshake::MAX_RANGES`]: crate::handshake::MAX_RANGES
//! [`handshake::MAX_PARTIALS`]: crate::handshake::MAX_PARTIALS
//!
//! The peer's certificate is accepted only if its SHA-256 fingerprint
//! matches the one from the remote SDP (RFC 8122 §5, RFC 8827 §6.5). When
//! the fingerprint is not known yet the handshake may finish, but
//! [`Event::Connected`] waits for [`Dtls::set_remote_fingerprint`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ring::{digest, hmac};

use crate::cert::{self, Certificate, Fingerprint, PeerKey};
use crate::cipher::{CipherPair, RecordCipher, ReplayWindow, Suite, OVERHEAD};
use crate::handshake::{
    Fragment, HandshakeError, HandshakeType, Message, Pushed, Reassembler, HEADER_LEN as HS_HEADER,
};
use crate::hello::{ext, ClientHello};
use crate::kx::{Ephemeral, Group};
use crate::messages::{
    self, CertificateRequest, HelloVerifyRequest, ServerHello, ServerKeyExchange,
};
use crate::prf::{self, PrfHash};
use crate::record::{
    self, ContentType, Record, DTLS1_0, DTLS1_2, DTLS1_3, HEADER_LEN as REC_HEADER,
};
use crate::rng::Rng;

/// `ecdsa_secp256r1_sha256` (RFC 8446 §4.2.3; in TLS 1.2 terms hash 4,
/// signature 3).
pub const ECDSA_P256_SHA256: u16 = 0x0403;
/// The `ecdsa_sign` client certificate type (RFC 8422 §5.5).
const ECDSA_SIGN: u8 = 64;
/// The signaling cipher suite value for secure renegotiation (RFC 5746 §3.3).
const RENEGOTIATION_SCSV: u16 = 0x00ff;
/// The exporter label of DTLS-SRTP (RFC 5764 §4.2).
pub const SRTP_EXPORTER_LABEL: &[u8] = b"EXTRACTOR-dtls_srtp";

/// Which side of the handshake we are (WebRTC: `a=setup:active` is the
/// client, RFC 5763 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends the ClientHello.
    Client,
    /// Answers it.
    Server,
}

/// SRTP protection profiles of `use_srtp` (RFC 5764 §4.1.2, RFC 7714
/// §14.2) and their key and salt lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SrtpProfileId(pub u16);

impl SrtpProfileId {
    /// SRTP_AES128_CM_HMAC_SHA1_80.
    pub const AES128_CM_SHA1_80: SrtpProfileId = SrtpProfileId(0x0001);
    /// SRTP_AES128_CM_HMAC_SHA1_32.
    pub const AES128_CM_SHA1_32: SrtpProfileId = SrtpProfileId(0x0002);
    /// SRTP_AEAD_AES_128_GCM.
    pub const AEAD_AES_128_GCM: SrtpProfileId = SrtpProfileId(0x0007);
    /// SRTP_AEAD_AES_256_GCM.
    pub const AEAD_AES_256_GCM: SrtpProfileId = SrtpProfileId(0x0008);

    /// (master key, master salt) lengths, for profiles we know.
    pub fn key_salt_len(self) -> Option<(usize, usize)> {
        match self.0 {
            1 | 2 => Some((16, 14)),
            7 => Some((16, 12)),
            8 => Some((32, 12)),
            _ => None,
        }
    }
}

/// DTLS-SRTP keys, split per RFC 5764 §4.2. The client protects what it
/// sends with the client key and salt, the server with the server's.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeyingMaterial {
    /// The negotiated profile.
    pub profile: SrtpProfileId,
    /// client_write_SRTP_master_key.
    pub client_key: Vec<u8>,
    /// server_write_SRTP_master_key.
    pub server_key: Vec<u8>,
    /// client_write_SRTP_master_salt.
    pub client_salt: Vec<u8>,
    /// server_write_SRTP_master_salt.
    pub server_salt: Vec<u8>,
    /// The exporter output as one block (key, key, salt, salt).
    pub exported: Vec<u8>,
}

impl std::fmt::Debug for SrtpKeyingMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpKeyingMaterial")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// What both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// Always DTLS 1.2 (0xfefd).
    pub version: u16,
    /// The cipher suite.
    pub suite: Suite,
    /// The ECDHE group.
    pub group: Group,
    /// The SRTP keys, when `use_srtp` was agreed.
    pub srtp: Option<SrtpKeyingMaterial>,
    /// The peer's certificate (DER), fingerprint checked.
    pub peer_certificate: Vec<u8>,
}

/// Why an association ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer sent close_notify.
    PeerClosed,
    /// We called [`Dtls::close`].
    LocalClose,
    /// A fatal error (ours or a fatal alert from the peer).
    Error(Error),
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake finished and the peer's fingerprint matched.
    Connected(Box<Connected>),
    /// An application data record (data channels).
    ApplicationData(Vec<u8>),
    /// An NSS key log line (`CLIENT_RANDOM <random> <master secret>`),
    /// when [`Config::key_log`] is on: append it to an `SSLKEYLOGFILE` so
    /// Wireshark can decrypt a capture.
    KeyLog(String),
    /// The association is over; nothing more will be sent or received.
    Closed(CloseReason),
}

/// The TLS alert descriptions we send or name (RFC 5246 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertDescription(pub u8);

impl AlertDescription {
    /// The name RFC 5246 §7.2 (and RFC 8446 §6 for later ones) gives it.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            22 => "record_overflow",
            40 => "handshake_failure",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            100 => "no_renegotiation",
            109 => "missing_extension",
            110 => "unsupported_extension",
            _ => return None,
        })
    }
}

impl std::fmt::Display for AlertDescription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{} ({n})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

fn alert_level_name(level: u8) -> &'static str {
    match level {
        1 => "warning",
        2 => "fatal",
        _ => "unknown-level",
    }
}

#[allow(missing_docs)]
impl AlertDescription {
    pub const CLOSE_NOTIFY: AlertDescription = AlertDescription(0);
    pub const UNEXPECTED_MESSAGE: AlertDescription = AlertDescription(10);
    pub const BAD_RECORD_MAC: AlertDescription = AlertDescription(20);
    pub const HANDSHAKE_FAILURE: AlertDescription = AlertDescription(40);
    pub const BAD_CERTIFICATE: AlertDescription = AlertDescription(42);
    pub const UNSUPPORTED_CERTIFICATE: AlertDescription = AlertDescription(43);
    pub const ILLEGAL_PARAMETER: AlertDescription = AlertDescription(47);
    pub const DECODE_ERROR: AlertDescription = AlertDescription(50);
    pub const DECRYPT_ERROR: AlertDescription = AlertDescription(51);
    pub const PROTOCOL_VERSION: AlertDescription = AlertDescription(70);
    pub const INSUFFICIENT_SECURITY: AlertDescription = AlertDescription(71);
    pub const INTERNAL_ERROR: AlertDescription = AlertDescription(80);
    pub const UNSUPPORTED_EXTENSION: AlertDescription = AlertDescription(110);
}

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
    fn alert(&self) -> AlertDescription {
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

/// Settings of one association.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our certificate and key.
    pub certificate: Certificate,
    /// Cipher suites in preference order (the server's order decides).
    pub suites: Vec<Suite>,
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

/// Counters of what was received and sent, for stats and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DtlsStats {
    /// Datagrams handed to [`Dtls::handle_datagram`].
    pub datagrams_received: u64,
    /// Records accepted (authenticated when protected).
    pub records_received: u64,
    /// Datagrams or their tails dropped because the record framing broke.
    pub malformed: u64,
    /// Protected records that failed authentication (dropped, §4.1.2.7).
    pub bad_mac: u64,
    /// Records dropped as replays (§4.1.2.6).
    pub replayed: u64,
    /// Records dropped for their epoch (stale, or too far ahead).
    pub wrong_epoch: u64,
    /// Handshake fragments dropped as malformed, too long, of a type not
    /// expected, or in the wrong epoch.
    pub bad_fragments: u64,
    /// Handshake fragments dropped for their `message_seq`: too far ahead,
    /// or a ClientHello number the server did not ask for (RFC 6347
    /// §4.2.2: 0, or 1 after a HelloVerifyRequest).
    pub unexpected_seq: u64,
    /// Handshake fragments whose type or length disagreed with what was
    /// held for their `message_seq`: dropped when that message was
    /// complete, replacing it when it was not.
    pub conflicting_fragments: u64,
    /// Fragments dropped at the reassembly caps
    /// ([`crate::handshake::MAX_RANGES`] ranges per message,
    /// [`crate::handshake::MAX_PARTIALS`] incomplete messages).
    pub fragments_over_cap: u64,
    /// Incomplete messages discarded to make room for one nearer the
    /// message expected next.
    pub partials_evicted: u64,
    /// Reassembled handshake messages dropped because their body did not
    /// decode; the peer's retransmission is awaited instead.
    pub undecodable_messages: u64,
    /// Handshake fragments after the handshake ended, ignored (a repeat
    /// of the peer's final flight still makes us resend ours, §4.2.4).
    pub late_handshake: u64,
    /// Unauthenticated (epoch 0) alerts, ignored; the last one before the
    /// handshake ends is named if it then fails.
    pub plaintext_alerts: u64,
    /// Reassembly work: held messages scanned plus byte ranges visited,
    /// a constant per fragment at most (linear in input).
    pub reassembly_work: u64,
    /// The most byte ranges one message was held in at once.
    pub reassembly_peak_ranges: u64,
    /// The most incomplete messages held at once.
    pub reassembly_peak_partials: u64,
    /// Flights sent, first transmissions.
    pub flights_sent: u64,
    /// Flight retransmissions (timer and peer-triggered).
    pub retransmissions: u64,
    /// Datagrams handed out by [`Dtls::poll_transmit`].
    pub datagrams_sent: u64,
    /// Bytes of those datagrams.
    pub bytes_sent: u64,
    /// HelloVerifyRequests sent (server) or received (client).
    pub hello_verify_requests: u64,
}

/// Where the handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    // Client.
    ServerHello,
    Certificate,
    ServerKeyExchange,
    CertificateRequestOrDone,
    ServerHelloDone,
    // Server.
    ClientHello,
    ClientCertificate,
    ClientKeyExchange,
    CertificateVerify,
    // Both.
    Finished,
    /// The handshake is over (Connected may still wait for the
    /// fingerprint).
    Done,
    /// Closed or failed.
    Closed,
}

enum FlightItem {
    Handshake { msg: Message, epoch: u16 },
    ChangeCipherSpec,
}

/// One side of a DTLS 1.2 association. See the module documentation.
pub struct Dtls {
    role: Role,
    config: Config,
    rng: Rng,
    expect: Expect,
    started: Instant,

    // Handshake state.
    client_random: [u8; 32],
    server_random: [u8; 32],
    suite: Option<Suite>,
    group: Option<Group>,
    ephemeral: Option<Ephemeral>,
    /// Client: our ECDHE public key and the premaster secret, between
    /// ServerKeyExchange and ServerHelloDone.
    pending_kx: Option<(Vec<u8>, Vec<u8>)>,
    peer_key: Option<PeerKey>,
    peer_certificate: Option<Vec<u8>>,
    srtp_profile: Option<SrtpProfileId>,
    offered_extensions: Vec<u16>,
    cert_requested: bool,
    transcript: Vec<u8>,
    master: Option<[u8; 48]>,
    next_send_seq: u16,
    reassembler: Reassembler,
    cookie_secret: [u8; 32],
    hello_verify_seen: u32,
    /// Server: the ClientHello's message_seq accepted so far, to restart
    /// reassembly when the client moves on to a later hello.
    client_hello_seq: Option<u16>,
    /// Server: the highest ClientHello message_seq accepted: 0, or one
    /// past the hello our last HelloVerifyRequest answered (§4.2.2).
    hello_seq_limit: u16,
    /// The peer's last unauthenticated alert (level, description) before
    /// the handshake ended, fatal ones preferred.
    plaintext_alert: Option<(u8, u8)>,

    // Records.
    read_epoch: u16,
    read_cipher: Option<RecordCipher>,
    pending_read_cipher: Option<RecordCipher>,
    write_cipher: Option<RecordCipher>,
    replay: ReplayWindow,
    send_seq: [u64; 2],
    early_records: Vec<Vec<u8>>,

    // Flights.
    flight: Vec<FlightItem>,
    flight_needs_reply: bool,
    rto: Duration,
    retransmit_at: Option<Instant>,
    last_peer_triggered: Option<Instant>,

    // Output.
    outbox: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    handshake_done: bool,
    connected_sent: bool,
    stats: DtlsStats,
}

impl std::fmt::Debug for Dtls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dtls")
            .field("role", &self.role)
            .field("expect", &self.expect)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Up to this many protected records are kept while their keys are not
/// derived yet (a Finished that overtook its flight).
const MAX_EARLY_RECORDS: usize = 8;
/// Handshake messages buffered ahead of the next expected one.
const REASSEMBLY_WINDOW: u16 = 8;

impl Dtls {
    /// A client; its first flight (the ClientHello) is ready at once.
    pub fn client(config: Config, now: Instant) -> Dtls {
        let mut d = Dtls::new(Role::Client, config, now);
        d.client_random = d.rng.bytes32();
        d.expect = Expect::ServerHello;
        d.send_client_hello(&[], now);
        d
    }

    /// A server waiting for a ClientHello.
    pub fn server(config: Config, now: Instant) -> Dtls {
        let mut d = Dtls::new(Role::Server, config, now);
        d.expect = Expect::ClientHello;
        d
    }

    fn new(role: Role, config: Config, now: Instant) -> Dtls {
        let mut rng = match config.rng_seed {
            Some(s) => Rng::from_seed(s),
            None => Rng::from_os(),
        };
        let cookie_secret = rng.bytes32();
        let rto = config.initial_rto;
        let max = config.max_handshake_message;
        Dtls {
            role,
            config,
            rng,
            expect: Expect::Closed,
            started: now,
            client_random: [0; 32],
            server_random: [0; 32],
            suite: None,
            group: None,
            ephemeral: None,
            pending_kx: None,
            peer_key: None,
            peer_certificate: None,
            srtp_profile: None,
            offered_extensions: Vec::new(),
            cert_requested: false,
            transcript: Vec::new(),
            master: None,
            next_send_seq: 0,
            reassembler: Reassembler::new(0, max, REASSEMBLY_WINDOW),
            cookie_secret,
            hello_verify_seen: 0,
            client_hello_seq: None,
            hello_seq_limit: 0,
            plaintext_alert: None,
            read_epoch: 0,
            read_cipher: None,
            pending_read_cipher: None,
            write_cipher: None,
            replay: ReplayWindow::default(),
            send_seq: [0; 2],
            early_records: Vec::new(),
            flight: Vec::new(),
            flight_needs_reply: false,
            rto,
            retransmit_at: None,
            last_peer_triggered: None,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            handshake_done: false,
            connected_sent: false,
            stats: DtlsStats::default(),
        }
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether [`Event::Connected`] has been handed out and the
    /// association is not closed.
    pub fn is_connected(&self) -> bool {
        self.connected_sent && self.expect != Expect::Closed
    }

    /// Whether the association is over (closed or failed).
    pub fn is_closed(&self) -> bool {
        self.expect == Expect::Closed
    }

    /// The counters.
    pub fn stats(&self) -> &DtlsStats {
        &self.stats
    }

    /// The peer's certificate, once received.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.peer_certificate.as_deref()
    }

    /// Sets (or learns late) the fingerprint the peer's certificate must
    /// have. If the certificate is already known it is checked now: a
    /// mismatch fails the association with a fatal alert.
    pub fn set_remote_fingerprint(&mut self, fingerprint: Fingerprint) -> Result<(), Error> {
        self.config.remote_fingerprint = Some(fingerprint);
        if self.expect == Expect::Closed {
            return Ok(());
        }
        if let Some(der) = &self.peer_certificate {
            if !fingerprint.matches(der) {
                let e = Error::FingerprintMismatch {
                    expected: fingerprint,
                    got: Fingerprint::of_der(der),
                };
                return Err(self.fail(e));
            }
        }
        self.maybe_connected();
        Ok(())
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let d = self.outbox.pop_front()?;
        self.stats.datagrams_sent += 1;
        self.stats.bytes_sent += d.len() as u64;
        Some(d)
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Dtls::handle_timeout`] should be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.expect == Expect::Closed {
            return None;
        }
        let deadline = (!self.handshake_done).then(|| self.started + self.config.handshake_timeout);
        match (self.retransmit_at, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Retransmits the last flight when its timer expired (doubling the
    /// timer), and fails the handshake past its deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.expect == Expect::Closed {
            return;
        }
        if !self.handshake_done && now >= self.started + self.config.handshake_timeout {
            let _ = self.fail(Error::HandshakeTimeout(self.config.handshake_timeout));
            return;
        }
        if let Some(at) = self.retransmit_at {
            if now >= at {
                self.rto = (self.rto * 2).min(self.config.max_rto);
                self.stats.retransmissions += 1;
                self.transmit_flight();
                self.retransmit_at = Some(now + self.rto);
            }
        }
    }

    /// Sends application data in one record (data channels; the
    /// association must be connected).
    pub fn send_application_data(&mut self, data: &[u8]) -> Result<(), Error> {
        if !self.is_connected() {
            return Err(Error::NotConnected);
        }
        if data.len() > 1 << 14 {
            return Err(Error::TooLarge(data.len()));
        }
        let mut out = Vec::with_capacity(REC_HEADER + OVERHEAD + data.len());
        self.seal_into(ContentType::ApplicationData, data, &mut out);
        self.outbox.push_back(out);
        Ok(())
    }

    /// Sends close_notify and ends the association.
    pub fn close(&mut self) {
        if self.expect == Expect::Closed {
            return;
        }
        self.send_alert(1, AlertDescription::CLOSE_NOTIFY);
        self.expect = Expect::Closed;
        self.retransmit_at = None;
        self.events
            .push_back(Event::Closed(CloseReason::LocalClose));
    }

    /// Handles one datagram from the peer. Malformed records, records that
    /// fail authentication and replays are dropped and counted (RFC 6347
    /// §4.1.2.7); an `Err` means the association failed (a fatal alert is
    /// queued and [`Event::Closed`] follows).
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Error> {
        self.stats.datagrams_received += 1;
        if self.expect == Expect::Closed {
            return Ok(());
        }
        self.handle_datagram_inner(now, datagram)
            .map_err(|e| self.fail(e))
    }

    fn handle_datagram_inner(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Error> {
        for rec in record::records(datagram) {
            let rec = match rec {
                Ok(r) => r,
                Err(_) => {
                    self.stats.malformed += 1;
                    break;
                }
            };
            self.handle_record(now, &rec)?;
            if self.expect == Expect::Closed {
                return Ok(());
            }
        }
        self.process_messages(now)?;
        // Keys derived while processing may open records that came early.
        let have_keys = self.read_cipher.is_some() || self.pending_read_cipher.is_some();
        if have_keys && !self.early_records.is_empty() {
            for raw in std::mem::take(&mut self.early_records) {
                if let Ok((rec, _)) = Record::parse(&raw) {
                    self.handle_record(now, &rec)?;
                }
            }
            self.process_messages(now)?;
        }
        Ok(())
    }

    fn handle_record(&mut self, now: Instant, rec: &Record<'_>) -> Result<(), Error> {
        match rec.epoch {
            0 => {
                if rec.version != DTLS1_2 && rec.version != DTLS1_0 {
                    self.stats.malformed += 1;
                    return Ok(());
                }
                self.stats.records_received += 1;
                let fragment = rec.fragment.to_vec();
                self.handle_plaintext(now, rec.content_type, &fragment, 0, rec.sequence)
            }
            1 => {
                if self.read_cipher.is_none() {
                    self.switch_read_epoch_if_ready();
                }
                let Some(cipher) = &self.read_cipher else {
                    if self.early_records.len() < MAX_EARLY_RECORDS && !self.handshake_done {
                        let mut raw = rec.header.to_vec();
                        raw.extend_from_slice(rec.fragment);
                        self.early_records.push(raw);
                    } else {
                        self.stats.wrong_epoch += 1;
                    }
                    return Ok(());
                };
                if !self.replay.check(rec.sequence) {
                    self.stats.replayed += 1;
                    return Ok(());
                }
                let mut plain = Vec::new();
                if cipher.open(rec, &mut plain).is_err() {
                    self.stats.bad_mac += 1;
                    return Ok(());
                }
                self.replay.record(rec.sequence);
                self.stats.records_received += 1;
                self.handle_plaintext(now, rec.content_type, &plain, 1, rec.sequence)
            }
            _ => {
                self.stats.wrong_epoch += 1;
                Ok(())
            }
        }
    }

    /// The read side moves to epoch 1 as soon as its keys exist: a
    /// protected record that authenticates proves the peer has them, and
    /// the Finished must come protected (checked per fragment).
    fn switch_read_epoch_if_ready(&mut self) {
        if let Some(c) = self.pending_read_cipher.take() {
            self.read_cipher = Some(c);
            self.read_epoch = 1;
        }
    }

    fn handle_plaintext(
        &mut self,
        now: Instant,
        ct: ContentType,
        data: &[u8],
        epoch: u16,
        record_seq: u64,
    ) -> Result<(), Error> {
        match ct {
            ContentType::Handshake => self.handle_handshake_record(now, data, epoch, record_seq),
            ContentType::ChangeCipherSpec => {
                if data != [1] {
                    self.stats.bad_fragments += 1;
                }
                Ok(())
            }
            ContentType::Alert => self.handle_alert(data, epoch),
            ContentType::ApplicationData => {
                if epoch == 1 && self.connected_sent {
                    self.events.push_back(Event::ApplicationData(data.to_vec()));
                } else {
                    // Plaintext application data, or data before we
                    // declared the association up, is dropped.
                    self.stats.wrong_epoch += 1;
                }
                Ok(())
            }
            ContentType::Other(_) => {
                self.stats.malformed += 1;
                Ok(())
            }
        }
    }

    fn handle_alert(&mut self, data: &[u8], epoch: u16) -> Result<(), Error> {
        let &[level, desc] = data else {
            self.stats.malformed += 1;
            return Ok(());
        };
        if epoch == 0 {
            // An unauthenticated alert could be anyone's (RFC 6347
            // §4.1.2.7 drops what cannot be trusted): it ends nothing, but
            // is kept to explain a handshake that fails later.
            self.stats.plaintext_alerts += 1;
            let keep = level == 2 || self.plaintext_alert.is_none_or(|(l, _)| l != 2);
            if !self.handshake_done && keep {
                self.plaintext_alert = Some((level, desc));
            }
            return Ok(());
        }
        if desc == AlertDescription::CLOSE_NOTIFY.0 {
            self.expect = Expect::Closed;
            self.retransmit_at = None;
            self.events
                .push_back(Event::Closed(CloseReason::PeerClosed));
            return Ok(());
        }
        if level == 2 {
            return Err(Error::PeerAlert(desc));
        }
        Ok(())
    }

    fn handle_handshake_record(
        &mut self,
        now: Instant,
        data: &[u8],
        epoch: u16,
        record_seq: u64,
    ) -> Result<(), Error> {
        let mut rest = data;
        while !rest.is_empty() {
            let (f, r) = match Fragment::parse(rest) {
                Ok(x) => x,
                Err(_) => {
                    self.stats.bad_fragments += 1;
                    return Ok(());
                }
            };
            rest = r;
            // Finished travels protected; everything else in epoch 0.
            if (f.msg_type == HandshakeType::Finished) != (epoch == 1) {
                self.stats.bad_fragments += 1;
                continue;
            }
            if self.handshake_done {
                // No renegotiation: only a repeat of the peer's final
                // flight means anything now (ours was lost, §4.2.4).
                self.stats.late_handshake += 1;
                if f.message_seq < self.reassembler.next_seq() {
                    self.peer_repeated(now);
                }
                continue;
            }
            if self.role == Role::Server && self.expect == Expect::ClientHello {
                self.push_client_hello_fragment(now, &f, record_seq)?;
                continue;
            }
            if self.push_fragment(&f) == Some(Pushed::Old) {
                self.peer_repeated(now);
            }
        }
        Ok(())
    }

    /// Hands a fragment to the reassembler and counts what it dropped;
    /// returns what it kept it as, `None` when refused.
    fn push_fragment(&mut self, f: &Fragment<'_>) -> Option<Pushed> {
        let work = self.reassembler.work();
        let r = self.reassembler.push(f);
        self.stats.reassembly_work += self.reassembler.work() - work;
        let peak = &mut self.stats.reassembly_peak_ranges;
        *peak = (*peak).max(self.reassembler.max_ranges() as u64);
        let peak = &mut self.stats.reassembly_peak_partials;
        *peak = (*peak).max(self.reassembler.partials() as u64);
        match r {
            Ok(p) => {
                match p {
                    Pushed::AheadOfWindow => self.stats.unexpected_seq += 1,
                    Pushed::Replaced => self.stats.conflicting_fragments += 1,
                    Pushed::Evicted => self.stats.partials_evicted += 1,
                    Pushed::Kept | Pushed::Old => {}
                }
                Some(p)
            }
            Err(HandshakeError::Inconsistent(_)) => {
                self.stats.conflicting_fragments += 1;
                None
            }
            Err(HandshakeError::TooManyRanges { .. } | HandshakeError::TooManyPartials { .. }) => {
                self.stats.fragments_over_cap += 1;
                None
            }
            Err(_) => {
                self.stats.bad_fragments += 1;
                None
            }
        }
    }

    /// The peer repeated a flight we already have: our reply was lost, so
    /// send our last flight again (§4.2.4), at most once per quarter of
    /// the initial timer.
    fn peer_repeated(&mut self, now: Instant) {
        if self.flight.is_empty() {
            return;
        }
        let gap = self.config.initial_rto / 4;
        if self.last_peer_triggered.is_some_and(|t| now < t + gap) {
            return;
        }
        self.last_peer_triggered = Some(now);
        self.stats.retransmissions += 1;
        self.transmit_flight();
        if self.flight_needs_reply {
            self.retransmit_at = Some(now + self.rto);
        }
    }

    /// Server, before any state: ClientHello fragments, possibly of a
    /// later hello (after a HelloVerifyRequest).
    fn push_client_hello_fragment(
        &mut self,
        now: Instant,
        f: &Fragment<'_>,
        record_seq: u64,
    ) -> Result<(), Error> {
        if f.msg_type != HandshakeType::ClientHello {
            self.stats.bad_fragments += 1;
            return Ok(());
        }
        // RFC 6347 §4.2.2: the first hello is message 0; only a hello
        // answering our HelloVerifyRequest may be numbered higher. Anything
        // else is forged and must not displace the real hello.
        if f.message_seq > self.hello_seq_limit {
            self.stats.unexpected_seq += 1;
            return Ok(());
        }
        match self.client_hello_seq {
            Some(s) if s == f.message_seq => {}
            Some(s) if f.message_seq < s => {
                self.stats.unexpected_seq += 1;
                return Ok(());
            }
            _ => {
                self.client_hello_seq = Some(f.message_seq);
                self.reassembler =
                    Reassembler::new(f.message_seq, self.config.max_handshake_message, 1);
            }
        }
        self.push_fragment(f);
        if let Some(msg) = self.reassembler.pop() {
            match self.server_on_client_hello(now, msg, record_seq) {
                Err(Error::Decode { .. }) => {
                    // Forged or corrupted: wait for the real one.
                    self.stats.undecodable_messages += 1;
                    self.client_hello_seq = None;
                }
                r => r?,
            }
        }
        Ok(())
    }

    fn process_messages(&mut self, now: Instant) -> Result<(), Error> {
        while self.expect != Expect::Closed {
            let Some(msg) = self.reassembler.pop() else {
                break;
            };
            if self.handshake_done {
                // No renegotiation: a handshake message after the end is
                // dropped, never fatal (it may be an off-path injection).
                self.stats.late_handshake += 1;
                continue;
            }
            let seq = msg.message_seq;
            match self.handle_message(now, msg) {
                Err(Error::Decode { .. }) => {
                    // Every handler decodes before it changes any state, so
                    // the message can be dropped (it may be forged) and the
                    // peer's retransmission awaited.
                    self.stats.undecodable_messages += 1;
                    self.reassembler.expect_again(seq);
                    break;
                }
                r => r?,
            }
        }
        Ok(())
    }

    fn handle_message(&mut self, now: Instant, msg: Message) -> Result<(), Error> {
        use HandshakeType as T;
        match (self.expect, msg.msg_type) {
            (Expect::ServerHello, T::HelloVerifyRequest) => self.client_on_hvr(now, &msg),
            (Expect::ServerHello, T::ServerHello) => self.client_on_server_hello(msg),
            (Expect::Certificate, T::Certificate) => {
                self.on_certificate(msg, Expect::ServerKeyExchange)
            }
            (Expect::ServerKeyExchange, T::ServerKeyExchange) => self.client_on_ske(msg),
            (Expect::CertificateRequestOrDone, T::CertificateRequest) => self.client_on_cr(msg),
            (Expect::CertificateRequestOrDone | Expect::ServerHelloDone, T::ServerHelloDone) => {
                self.client_on_done(now, msg)
            }
            (Expect::ClientCertificate, T::Certificate) => {
                self.on_certificate(msg, Expect::ClientKeyExchange)
            }
            (Expect::ClientKeyExchange, T::ClientKeyExchange) => self.server_on_cke(msg),
            (Expect::CertificateVerify, T::CertificateVerify) => self.server_on_cv(msg),
            (Expect::Finished, T::Finished) => self.on_finished(now, msg),
            (_, got) => Err(Error::UnexpectedMessage {
                got,
                expected: self.expect_name(),
            }),
        }
    }

    fn expect_name(&self) -> &'static str {
        match self.expect {
            Expect::ServerHello => "ServerHello",
            Expect::Certificate => "Certificate",
            Expect::ServerKeyExchange => "ServerKeyExchange",
            Expect::CertificateRequestOrDone => "CertificateRequest or ServerHelloDone",
            Expect::ServerHelloDone => "ServerHelloDone",
            Expect::ClientHello => "ClientHello",
            Expect::ClientCertificate => "client Certificate",
            Expect::ClientKeyExchange => "ClientKeyExchange",
            Expect::CertificateVerify => "CertificateVerify",
            Expect::Finished => "Finished",
            Expect::Done => "nothing (handshake done)",
            Expect::Closed => "nothing (closed)",
        }
    }

    // ----- client -----

    fn send_client_hello(&mut self, cookie: &[u8], now: Instant) {
        let suites: Vec<u16> = self
            .config
            .suites
            .iter()
            .map(|s| s.id())
            .chain([RENEGOTIATION_SCSV])
            .collect();
        let mut groups = Vec::new();
        for g in &self.config.groups {
            groups.extend_from_slice(&g.id().to_be_bytes());
        }
        let groups = [&(groups.len() as u16).to_be_bytes()[..], &groups].concat();
        let sigs = [0, 2, 0x04, 0x03];
        let srtp_ids: Vec<u16> = self.config.srtp_profiles.iter().map(|p| p.0).collect();
        let srtp = messages::use_srtp_extension(&srtp_ids);
        let mut extensions: Vec<(u16, &[u8])> = vec![
            (ext::EXTENDED_MASTER_SECRET, &[]),
            (ext::SUPPORTED_GROUPS, &groups),
            (ext::EC_POINT_FORMATS, &[1, 0]),
            (ext::SIGNATURE_ALGORITHMS, &sigs),
        ];
        if !srtp_ids.is_empty() {
            extensions.push((ext::USE_SRTP, &srtp));
        }
        self.offered_extensions = extensions.iter().map(|e| e.0).collect();
        self.offered_extensions.push(ext::RENEGOTIATION_INFO);
        let mut body = Vec::new();
        messages::write_client_hello(&mut body, &self.client_random, cookie, &suites, &extensions);
        self.transcript.clear();
        let msg = self.next_message(HandshakeType::ClientHello, body);
        self.start_flight(vec![FlightItem::Handshake { msg, epoch: 0 }], true, now);
    }

    fn client_on_hvr(&mut self, now: Instant, msg: &Message) -> Result<(), Error> {
        let hvr =
            HelloVerifyRequest::parse(&msg.body).map_err(|e| decode("HelloVerifyRequest", e))?;
        self.stats.hello_verify_requests += 1;
        self.hello_verify_seen += 1;
        if self.hello_verify_seen > 4 {
            return Err(Error::UnexpectedMessage {
                got: HandshakeType::HelloVerifyRequest,
                expected: "ServerHello (too many HelloVerifyRequests)",
            });
        }
        let cookie = hvr.cookie.to_vec();
        self.send_client_hello(&cookie, now);
        Ok(())
    }

    fn client_on_server_hello(&mut self, msg: Message) -> Result<(), Error> {
        let sh = ServerHello::parse(&msg.body).map_err(|e| decode("ServerHello", e))?;
        if sh.version != DTLS1_2 {
            return Err(Error::UnsupportedVersion(sh.version));
        }
        let suite = Suite::from_id(sh.cipher_suite)
            .filter(|s| self.config.suites.contains(s))
            .ok_or(Error::IllegalParameter("cipher suite we did not offer"))?;
        if sh.compression != 0 {
            return Err(Error::IllegalParameter("compression method"));
        }
        for &(t, d) in &sh.extensions {
            if !self.offered_extensions.contains(&t) {
                return Err(Error::UnsolicitedExtension(t));
            }
            if t == ext::RENEGOTIATION_INFO && d != [0] {
                return Err(Error::IllegalParameter("renegotiation_info not empty"));
            }
        }
        if sh.extension(ext::EXTENDED_MASTER_SECRET).is_none() {
            return Err(Error::ExtendedMasterSecretRequired);
        }
        if let Some(d) = sh.extension(ext::USE_SRTP) {
            let (p, _mki) =
                messages::parse_use_srtp_answer(d).map_err(|e| decode("use_srtp", e))?;
            let p = SrtpProfileId(p);
            if !self.config.srtp_profiles.contains(&p) {
                return Err(Error::IllegalParameter("SRTP profile we did not offer"));
            }
            self.srtp_profile = Some(p);
        }
        self.server_random = sh.random;
        self.suite = Some(suite);
        self.add_to_transcript(&msg);
        // The ClientHello stays on its timer until the whole flight 4 is
        // here: a lost Certificate is recovered by resending the hello.
        self.expect = Expect::Certificate;
        Ok(())
    }

    fn read_peer_certificate(&mut self, msg: &Message) -> Result<(), Error> {
        let c = messages::Certificate::parse(&msg.body).map_err(|e| decode("Certificate", e))?;
        let Some(first) = c.chain.first() else {
            return Err(Error::NoPeerCertificate);
        };
        let der = first.to_vec();
        if let Some(fp) = self.config.remote_fingerprint {
            if !fp.matches(&der) {
                return Err(Error::FingerprintMismatch {
                    expected: fp,
                    got: Fingerprint::of_der(&der),
                });
            }
        }
        self.peer_key = Some(cert::peer_key(&der).map_err(Error::BadCertificate)?);
        self.peer_certificate = Some(der);
        Ok(())
    }

    /// The peer's Certificate (either role): checked, hashed, and what
    /// comes next.
    fn on_certificate(&mut self, msg: Message, next: Expect) -> Result<(), Error> {
        self.read_peer_certificate(&msg)?;
        self.add_to_transcript(&msg);
        self.expect = next;
        Ok(())
    }

    fn client_on_ske(&mut self, msg: Message) -> Result<(), Error> {
        let ske =
            ServerKeyExchange::parse(&msg.body).map_err(|e| decode("ServerKeyExchange", e))?;
        let group = Group::from_id(ske.group)
            .filter(|g| self.config.groups.contains(g))
            .ok_or(Error::IllegalParameter("ECDHE group we did not offer"))?;
        if ske.scheme != ECDSA_P256_SHA256 {
            return Err(Error::IllegalParameter(
                "ServerKeyExchange signature scheme",
            ));
        }
        let signed = self.ske_signed(&ske);
        let key = self.peer_key.as_ref().ok_or(Error::NoPeerCertificate)?;
        key.verify(ske.scheme, &signed, ske.signature)
            .map_err(|_| Error::BadSignature("ServerKeyExchange"))?;
        let eph = Ephemeral::generate(group).map_err(|e| Error::Internal(e.to_string()))?;
        let public = eph.public_key().to_vec();
        let pre_master = eph
            .agree(ske.public)
            .map_err(|e| Error::KeyExchange(e.to_string()))?;
        self.group = Some(group);
        // Keep the public key and the premaster until the flight is built.
        self.ephemeral = None;
        self.pending_kx = Some((public, pre_master));
        self.add_to_transcript(&msg);
        self.expect = Expect::CertificateRequestOrDone;
        Ok(())
    }

    fn client_on_cr(&mut self, msg: Message) -> Result<(), Error> {
        let cr =
            CertificateRequest::parse(&msg.body).map_err(|e| decode("CertificateRequest", e))?;
        if !cr.schemes.contains(&ECDSA_P256_SHA256) || !cr.types.contains(&ECDSA_SIGN) {
            return Err(Error::NoCommonSignatureScheme);
        }
        self.cert_requested = true;
        self.add_to_transcript(&msg);
        self.expect = Expect::ServerHelloDone;
        Ok(())
    }

    fn client_on_done(&mut self, now: Instant, msg: Message) -> Result<(), Error> {
        if !msg.body.is_empty() {
            return Err(Error::Decode {
                what: "ServerHelloDone",
                detail: format!("{} bytes of body", msg.body.len()),
            });
        }
        self.add_to_transcript(&msg);
        let suite = self.suite.ok_or(Error::Internal("no suite".into()))?;
        let (public, pre_master) = self
            .pending_kx
            .take()
            .ok_or(Error::Internal("no key exchange".into()))?;
        let mut items = Vec::new();
        if self.cert_requested {
            let mut body = Vec::new();
            messages::Certificate {
                chain: vec![self.config.certificate.der()],
            }
            .write(&mut body);
            let m = self.next_message(HandshakeType::Certificate, body);
            items.push(FlightItem::Handshake { msg: m, epoch: 0 });
        }
        let mut body = Vec::new();
        messages::write_client_key_exchange(&mut body, &public);
        let m = self.next_message(HandshakeType::ClientKeyExchange, body);
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });
        // RFC 7627 §3: the session hash covers up to ClientKeyExchange.
        let session_hash = self.transcript_hash(suite.prf_hash());
        let master = prf::extended_master_secret(suite.prf_hash(), &pre_master, &session_hash);
        self.install_keys(suite, &master)?;
        if self.cert_requested {
            let sig = self
                .config
                .certificate
                .sign(&self.transcript)
                .map_err(|e| Error::Internal(e.to_string()))?;
            let mut body = Vec::new();
            messages::write_certificate_verify(&mut body, ECDSA_P256_SHA256, &sig);
            let m = self.next_message(HandshakeType::CertificateVerify, body);
            items.push(FlightItem::Handshake { msg: m, epoch: 0 });
        }
        items.push(FlightItem::ChangeCipherSpec);
        let vd = prf::verify_data(
            suite.prf_hash(),
            &master,
            true,
            &self.transcript_hash(suite.prf_hash()),
        );
        let m = self.next_message(HandshakeType::Finished, vd.to_vec());
        items.push(FlightItem::Handshake { msg: m, epoch: 1 });
        self.expect = Expect::Finished;
        self.start_flight(items, true, now);
        Ok(())
    }

    // ----- server -----

    fn cookie_for(&self, hello: &ClientHello<'_>) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.cookie_secret);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(hello.random);
        ctx.update(&hello.version.to_be_bytes());
        for s in hello.cipher_suites() {
            ctx.update(&s.to_be_bytes());
        }
        let mut c = [0u8; 32];
        c.copy_from_slice(ctx.sign().as_ref());
        c
    }

    fn server_on_client_hello(
        &mut self,
        now: Instant,
        msg: Message,
        record_seq: u64,
    ) -> Result<(), Error> {
        let hello = ClientHello::parse(&msg.body).map_err(|e| decode("ClientHello", e))?;
        if self.config.cookie_exchange {
            let want = self.cookie_for(&hello);
            if !constant_time_eq(hello.cookie, &want) {
                // Stateless answer (§4.2.1): same message_seq and record
                // sequence as the hello; expect the next hello.
                let mut body = Vec::new();
                HelloVerifyRequest {
                    version: DTLS1_0,
                    cookie: &want,
                }
                .write(&mut body);
                let hvr = Message {
                    msg_type: HandshakeType::HelloVerifyRequest,
                    message_seq: msg.message_seq,
                    body,
                };
                let mut frag = Vec::new();
                hvr.write_unfragmented(&mut frag);
                let mut dg = Vec::new();
                record::write_record(
                    &mut dg,
                    ContentType::Handshake,
                    DTLS1_2,
                    0,
                    record_seq,
                    &frag,
                );
                self.outbox.push_back(dg);
                // Our next records must not reuse that sequence number: the
                // client's replay window would drop the ServerHello.
                self.send_seq[0] = self.send_seq[0].max(record_seq + 1);
                self.stats.hello_verify_requests += 1;
                self.client_hello_seq = None;
                self.hello_seq_limit = self.hello_seq_limit.max(msg.message_seq.saturating_add(1));
                self.reassembler = Reassembler::new(
                    msg.message_seq.wrapping_add(1),
                    self.config.max_handshake_message,
                    1,
                );
                return Ok(());
            }
        }
        // Version: DTLS 1.2 (0xfefd) or later (numerically lower); a DTLS
        // 1.3 client still writes 1.2 here and gets a 1.2 answer.
        if hello.version > DTLS1_2 {
            return Err(Error::UnsupportedVersion(hello.version));
        }
        // RFC 8446 §4.2.1: a client that sends supported_versions offers
        // exactly what it lists there. 1.3 alone cannot be answered yet.
        let versions = hello.supported_versions();
        if !versions.is_empty() && !versions.contains(&DTLS1_2) {
            return Err(if versions.contains(&DTLS1_3) {
                Error::Dtls13Only(versions)
            } else {
                Error::UnsupportedVersion(versions[0])
            });
        }
        let offered: Vec<u16> = hello.cipher_suites().collect();
        let suite = self
            .config
            .suites
            .iter()
            .copied()
            .find(|s| offered.contains(&s.id()))
            .ok_or_else(|| Error::NoCommonCipherSuite(offered.clone()))?;
        let groups = hello.supported_groups();
        let group = if hello.extension(ext::SUPPORTED_GROUPS).is_none() {
            self.config.groups.first().copied()
        } else {
            self.config
                .groups
                .iter()
                .copied()
                .find(|g| groups.contains(&g.id()))
        }
        .ok_or_else(|| Error::NoCommonGroup(groups.clone()))?;
        if !hello.signature_algorithms().contains(&ECDSA_P256_SHA256) {
            return Err(Error::NoCommonSignatureScheme);
        }
        if !hello.extended_master_secret() {
            return Err(Error::ExtendedMasterSecretRequired);
        }
        if !hello.compression_methods.contains(&0) {
            return Err(Error::IllegalParameter("no null compression"));
        }
        if let Some(d) = hello.extension(ext::RENEGOTIATION_INFO) {
            if d != [0] {
                return Err(Error::IllegalParameter("renegotiation_info not empty"));
            }
        }
        let srtp = hello.use_srtp().and_then(|(offered, _)| {
            self.config
                .srtp_profiles
                .iter()
                .copied()
                .find(|p| offered.contains(&p.0))
        });
        let secure_reneg = hello.extension(ext::RENEGOTIATION_INFO).is_some()
            || offered.contains(&RENEGOTIATION_SCSV);
        let point_formats = hello.extension(ext::EC_POINT_FORMATS).is_some();

        self.client_random.copy_from_slice(hello.random);
        self.server_random = self.rng.bytes32();
        // Continue from the hello's record sequence number (RFC 6347
        // §4.2.1), never below what we already used.
        self.send_seq[0] = self.send_seq[0].max(record_seq);
        self.suite = Some(suite);
        self.group = Some(group);
        self.srtp_profile = srtp;
        self.next_send_seq = msg.message_seq;
        self.reassembler = Reassembler::new(
            msg.message_seq.wrapping_add(1),
            self.config.max_handshake_message,
            REASSEMBLY_WINDOW,
        );
        self.transcript.clear();
        self.add_to_transcript(&msg);

        // Flight 4: ServerHello, Certificate, ServerKeyExchange,
        // CertificateRequest, ServerHelloDone.
        let srtp_ext = srtp.map(|p| {
            let mut d = Vec::new();
            d.extend_from_slice(&2u16.to_be_bytes());
            d.extend_from_slice(&p.0.to_be_bytes());
            d.push(0);
            d
        });
        let mut extensions: Vec<(u16, &[u8])> = Vec::new();
        if secure_reneg {
            extensions.push((ext::RENEGOTIATION_INFO, &[0]));
        }
        extensions.push((ext::EXTENDED_MASTER_SECRET, &[]));
        if point_formats {
            extensions.push((ext::EC_POINT_FORMATS, &[1, 0]));
        }
        if let Some(d) = &srtp_ext {
            extensions.push((ext::USE_SRTP, d));
        }
        let mut body = Vec::new();
        ServerHello {
            version: DTLS1_2,
            random: self.server_random,
            session_id: &[],
            cipher_suite: suite.id(),
            compression: 0,
            extensions,
            extensions_block: true,
        }
        .write(&mut body);
        let mut items = Vec::new();
        let m = self.next_message(HandshakeType::ServerHello, body);
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });

        let mut body = Vec::new();
        messages::Certificate {
            chain: vec![self.config.certificate.der()],
        }
        .write(&mut body);
        let m = self.next_message(HandshakeType::Certificate, body);
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });

        let eph = Ephemeral::generate(group).map_err(|e| Error::Internal(e.to_string()))?;
        let public = eph.public_key().to_vec();
        let unsigned = ServerKeyExchange {
            group: group.id(),
            public: &public,
            scheme: ECDSA_P256_SHA256,
            signature: &[],
        };
        let signed = self.ske_signed(&unsigned);
        let sig = self
            .config
            .certificate
            .sign(&signed)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut body = Vec::new();
        ServerKeyExchange {
            signature: &sig,
            ..unsigned
        }
        .write(&mut body);
        let m = self.next_message(HandshakeType::ServerKeyExchange, body);
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });
        self.ephemeral = Some(eph);

        let mut body = Vec::new();
        CertificateRequest {
            types: &[ECDSA_SIGN],
            schemes: vec![ECDSA_P256_SHA256],
            authorities: &[],
        }
        .write(&mut body);
        let m = self.next_message(HandshakeType::CertificateRequest, body);
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });
        let m = self.next_message(HandshakeType::ServerHelloDone, Vec::new());
        items.push(FlightItem::Handshake { msg: m, epoch: 0 });

        self.cert_requested = true;
        self.expect = Expect::ClientCertificate;
        self.start_flight(items, true, now);
        Ok(())
    }

    fn server_on_cke(&mut self, msg: Message) -> Result<(), Error> {
        let public = messages::parse_client_key_exchange(&msg.body)
            .map_err(|e| decode("ClientKeyExchange", e))?;
        let eph = self
            .ephemeral
            .take()
            .ok_or(Error::Internal("no ephemeral key".into()))?;
        let pre_master = eph
            .agree(public)
            .map_err(|e| Error::KeyExchange(e.to_string()))?;
        self.add_to_transcript(&msg);
        let suite = self.suite.ok_or(Error::Internal("no suite".into()))?;
        let session_hash = self.transcript_hash(suite.prf_hash());
        let master = prf::extended_master_secret(suite.prf_hash(), &pre_master, &session_hash);
        self.install_keys(suite, &master)?;
        self.expect = Expect::CertificateVerify;
        Ok(())
    }

    fn server_on_cv(&mut self, msg: Message) -> Result<(), Error> {
        let (scheme, sig) = messages::parse_certificate_verify(&msg.body)
            .map_err(|e| decode("CertificateVerify", e))?;
        if scheme != ECDSA_P256_SHA256 {
            return Err(Error::IllegalParameter(
                "CertificateVerify signature scheme",
            ));
        }
        let key = self.peer_key.as_ref().ok_or(Error::NoPeerCertificate)?;
        key.verify(scheme, &self.transcript, sig)
            .map_err(|_| Error::BadSignature("CertificateVerify"))?;
        self.add_to_transcript(&msg);
        self.expect = Expect::Finished;
        Ok(())
    }

    // ----- both -----

    fn on_finished(&mut self, now: Instant, msg: Message) -> Result<(), Error> {
        let suite = self.suite.ok_or(Error::Internal("no suite".into()))?;
        let master = self
            .master
            .ok_or(Error::Internal("no master secret".into()))?;
        let peer_is_client = self.role == Role::Server;
        let want = prf::verify_data(
            suite.prf_hash(),
            &master,
            peer_is_client,
            &self.transcript_hash(suite.prf_hash()),
        );
        if !constant_time_eq(&msg.body, &want) {
            return Err(Error::BadFinished);
        }
        self.add_to_transcript(&msg);
        if self.role == Role::Server {
            // Flight 6: ChangeCipherSpec, Finished. It is kept to answer
            // a repeated flight 5, but needs no timer (§4.2.4).
            let vd = prf::verify_data(
                suite.prf_hash(),
                &master,
                false,
                &self.transcript_hash(suite.prf_hash()),
            );
            let m = self.next_message(HandshakeType::Finished, vd.to_vec());
            self.start_flight(
                vec![
                    FlightItem::ChangeCipherSpec,
                    FlightItem::Handshake { msg: m, epoch: 1 },
                ],
                false,
                now,
            );
        } else {
            // The server's flight ends the handshake; ours needs no more
            // retransmission.
            self.flight.clear();
            self.retransmit_at = None;
        }
        self.expect = Expect::Done;
        self.handshake_done = true;
        if self.config.key_log {
            self.events.push_back(Event::KeyLog(format!(
                "CLIENT_RANDOM {} {}",
                to_hex(&self.client_random),
                to_hex(&master)
            )));
        }
        self.maybe_connected();
        Ok(())
    }

    fn maybe_connected(&mut self) {
        if !self.handshake_done || self.connected_sent || self.expect == Expect::Closed {
            return;
        }
        let (Some(der), Some(fp)) = (&self.peer_certificate, self.config.remote_fingerprint) else {
            return;
        };
        if !fp.matches(der) {
            return;
        }
        let (Some(suite), Some(group), Some(master)) = (self.suite, self.group, self.master) else {
            return;
        };
        let srtp = self.srtp_profile.and_then(|p| {
            let (k, s) = p.key_salt_len()?;
            let mut block = vec![0u8; 2 * (k + s)];
            prf::export_keying_material(
                suite.prf_hash(),
                &master,
                SRTP_EXPORTER_LABEL,
                &self.client_random,
                &self.server_random,
                &mut block,
            );
            Some(SrtpKeyingMaterial {
                profile: p,
                client_key: block[..k].to_vec(),
                server_key: block[k..2 * k].to_vec(),
                client_salt: block[2 * k..2 * k + s].to_vec(),
                server_salt: block[2 * k + s..].to_vec(),
                exported: block,
            })
        });
        self.connected_sent = true;
        self.events.push_back(Event::Connected(Box::new(Connected {
            version: DTLS1_2,
            suite,
            group,
            srtp,
            peer_certificate: der.clone(),
        })));
    }

    /// RFC 5705 keying material from this association's master secret
    /// (after the handshake), e.g. `EXTRACTOR-dtls_srtp`.
    pub fn export_keying_material(&self, label: &[u8], out: &mut [u8]) -> Result<(), Error> {
        let (Some(suite), Some(master)) = (self.suite, self.master) else {
            return Err(Error::NotConnected);
        };
        if !self.handshake_done {
            return Err(Error::NotConnected);
        }
        prf::export_keying_material(
            suite.prf_hash(),
            &master,
            label,
            &self.client_random,
            &self.server_random,
            out,
        );
        Ok(())
    }

    fn install_keys(&mut self, suite: Suite, master: &[u8; 48]) -> Result<(), Error> {
        let mut block = vec![0u8; suite.key_block_len()];
        prf::key_block(
            suite.prf_hash(),
            master,
            &self.client_random,
            &self.server_random,
            &mut block,
        );
        let pair = CipherPair::from_key_block(suite, &block)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let (write, read) = match self.role {
            Role::Client => (pair.client_write, pair.server_write),
            Role::Server => (pair.server_write, pair.client_write),
        };
        self.write_cipher = Some(write);
        self.pending_read_cipher = Some(read);
        self.master = Some(*master);
        Ok(())
    }

    fn next_message(&mut self, msg_type: HandshakeType, body: Vec<u8>) -> Message {
        let msg = Message {
            msg_type,
            message_seq: self.next_send_seq,
            body,
        };
        self.next_send_seq = self.next_send_seq.wrapping_add(1);
        self.add_to_transcript(&msg);
        msg
    }

    /// What a ServerKeyExchange signs (RFC 8422 §5.4): both randoms, then
    /// the curve parameters and public key.
    fn ske_signed(&self, ske: &ServerKeyExchange<'_>) -> Vec<u8> {
        let params = ske.params();
        let mut signed = Vec::with_capacity(64 + params.len());
        signed.extend_from_slice(&self.client_random);
        signed.extend_from_slice(&self.server_random);
        signed.extend_from_slice(&params);
        signed
    }

    fn add_to_transcript(&mut self, msg: &Message) {
        msg.write_unfragmented(&mut self.transcript);
    }

    fn transcript_hash(&self, hash: PrfHash) -> Vec<u8> {
        let alg = match hash {
            PrfHash::Sha256 => &digest::SHA256,
            PrfHash::Sha384 => &digest::SHA384,
        };
        digest::digest(alg, &self.transcript).as_ref().to_vec()
    }

    fn start_flight(&mut self, items: Vec<FlightItem>, needs_reply: bool, now: Instant) {
        // A new flight means the exchange progressed: the timer starts
        // over from its initial value.
        self.rto = self.config.initial_rto;
        self.flight = items;
        self.flight_needs_reply = needs_reply;
        self.stats.flights_sent += 1;
        self.transmit_flight();
        self.retransmit_at = needs_reply.then(|| now + self.rto);
    }

    /// Packs the flight into datagrams of at most `mtu` bytes, several
    /// records per datagram and messages fragmented where they do not fit
    /// (§4.2.3). Every transmission uses fresh record sequence numbers.
    fn transmit_flight(&mut self) {
        let mtu = self.config.mtu.max(256);
        let mut dg: Vec<u8> = Vec::with_capacity(mtu);
        let items = std::mem::take(&mut self.flight);
        for item in &items {
            match item {
                FlightItem::ChangeCipherSpec => {
                    if dg.len() + REC_HEADER + 1 > mtu {
                        self.outbox.push_back(std::mem::take(&mut dg));
                    }
                    let seq = self.take_seq(0);
                    record::write_record(
                        &mut dg,
                        ContentType::ChangeCipherSpec,
                        DTLS1_2,
                        0,
                        seq,
                        &[1],
                    );
                }
                FlightItem::Handshake { msg, epoch } => {
                    let overhead = REC_HEADER + HS_HEADER + if *epoch == 1 { OVERHEAD } else { 0 };
                    let mut offset = 0;
                    loop {
                        let mut room = mtu.saturating_sub(dg.len() + overhead);
                        let left = msg.body.len() - offset;
                        // Start a new datagram rather than send a sliver.
                        if room < left.min(64) || (room == 0 && left == 0 && !dg.is_empty()) {
                            if !dg.is_empty() {
                                self.outbox.push_back(std::mem::take(&mut dg));
                            }
                            room = mtu - overhead;
                        }
                        let n = room.min(left);
                        let mut frag = Vec::with_capacity(HS_HEADER + n);
                        frag.push(msg.msg_type.as_u8());
                        frag.extend_from_slice(&(msg.body.len() as u32).to_be_bytes()[1..]);
                        frag.extend_from_slice(&msg.message_seq.to_be_bytes());
                        frag.extend_from_slice(&(offset as u32).to_be_bytes()[1..]);
                        frag.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
                        frag.extend_from_slice(&msg.body[offset..offset + n]);
                        if *epoch == 1 {
                            self.seal_into(ContentType::Handshake, &frag, &mut dg);
                        } else {
                            let seq = self.take_seq(0);
                            record::write_record(
                                &mut dg,
                                ContentType::Handshake,
                                DTLS1_2,
                                0,
                                seq,
                                &frag,
                            );
                        }
                        offset += n;
                        if offset >= msg.body.len() {
                            break;
                        }
                    }
                }
            }
        }
        if !dg.is_empty() {
            self.outbox.push_back(dg);
        }
        self.flight = items;
    }

    fn take_seq(&mut self, epoch: usize) -> u64 {
        let s = self.send_seq[epoch];
        self.send_seq[epoch] += 1;
        s
    }

    fn seal_into(&mut self, ct: ContentType, plaintext: &[u8], out: &mut Vec<u8>) {
        let seq = self.take_seq(1);
        if let Some(c) = &self.write_cipher {
            c.seal(ct, DTLS1_2, 1, seq, plaintext, out);
        }
    }

    fn send_alert(&mut self, level: u8, desc: AlertDescription) {
        let body = [level, desc.0];
        let mut out = Vec::new();
        // Protected once we have switched our write side (after sending our
        // ChangeCipherSpec); the server switches when it sends flight 6.
        let protected = self.write_cipher.is_some()
            && (self.role == Role::Client
                && matches!(self.expect, Expect::Finished | Expect::Done)
                || self.role == Role::Server && self.handshake_done);
        if protected {
            self.seal_into(ContentType::Alert, &body, &mut out);
        } else {
            let seq = self.take_seq(0);
            record::write_record(&mut out, ContentType::Alert, DTLS1_2, 0, seq, &body);
        }
        self.outbox.push_back(out);
    }

    /// Ends the association on `e` (with a fatal alert unless the peer's
    /// alert or silence ended it) and returns the error as reported: named
    /// after the peer's unauthenticated alert if one came during the
    /// handshake.
    fn fail(&mut self, e: Error) -> Error {
        if self.expect == Expect::Closed {
            return e;
        }
        if !matches!(e, Error::PeerAlert(_) | Error::HandshakeTimeout(_)) {
            self.send_alert(2, e.alert());
        }
        let e = match self.plaintext_alert {
            Some((level, alert)) if !self.handshake_done && !matches!(e, Error::PeerAlert(_)) => {
                Error::AfterPlaintextAlert {
                    level,
                    alert,
                    cause: Box::new(e),
                }
            }
            _ => e,
        };
        self.expect = Expect::Closed;
        self.retransmit_at = None;
        self.flight.clear();
        self.events
            .push_back(Event::Closed(CloseReason::Error(e.clone())));
        e
    }
}

fn decode(what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Decode {
        what,
        detail: e.to_string(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Finished whose verify_data is wrong but whose record is properly
    /// protected (as only a holder of the keys could make it) fails the
    /// handshake with `BadFinished` and a decrypt_error alert.
    #[test]
    fn a_finished_with_wrong_verify_data_fails_with_decrypt_error() {
        let c = Certificate::generate("c").unwrap();
        let s = Certificate::generate("s").unwrap();
        let mut cc = Config::new(c.clone());
        cc.remote_fingerprint = Some(*s.fingerprint());
        let mut sc = Config::new(s);
        sc.remote_fingerprint = Some(*c.fingerprint());
        let now = Instant::now();
        let mut client = Dtls::client(cc, now);
        let mut server = Dtls::server(sc, now);
        let hello = client.poll_transmit().unwrap();
        server.handle_datagram(now, &hello).unwrap();
        while let Some(d) = server.poll_transmit() {
            client.handle_datagram(now, &d).unwrap();
        }
        let mut flight5: Vec<Vec<u8>> = std::iter::from_fn(|| client.poll_transmit()).collect();
        // Re-seal the last record (Finished) with one verify_data bit flipped.
        let last = flight5.pop().unwrap();
        let mut rebuilt = Vec::new();
        let cipher = client.write_cipher.as_ref().unwrap();
        for rec in record::records(&last) {
            let rec = rec.unwrap();
            if rec.epoch == 1 {
                let mut plain = Vec::new();
                cipher.open(&rec, &mut plain).unwrap();
                assert_eq!(plain[0], HandshakeType::Finished.as_u8());
                plain[HS_HEADER] ^= 1;
                cipher.seal(
                    rec.content_type,
                    DTLS1_2,
                    1,
                    rec.sequence,
                    &plain,
                    &mut rebuilt,
                );
            } else {
                rebuilt.extend_from_slice(rec.header);
                rebuilt.extend_from_slice(rec.fragment);
            }
        }
        flight5.push(rebuilt);
        let mut result = Ok(());
        for d in &flight5 {
            result = result.and(server.handle_datagram(now, d));
        }
        assert_eq!(result, Err(Error::BadFinished));
        let alert = server.poll_transmit().unwrap();
        assert_eq!(alert[0], 21);
        assert_eq!(&alert[13..], [2, 51], "plaintext fatal decrypt_error");
        assert!(server.is_closed());
        // Plaintext, so the client only notes it; its handshake then
        // times out, and the error names the alert.
        client.handle_datagram(now, &alert).unwrap();
        assert_eq!(client.stats().plaintext_alerts, 1);
        assert!(!client.is_closed());
        client.handle_timeout(now + client.config.handshake_timeout);
        assert_eq!(
            client.poll_event(),
            Some(Event::Closed(CloseReason::Error(
                Error::AfterPlaintextAlert {
                    level: 2,
                    alert: 51,
                    cause: Box::new(Error::HandshakeTimeout(Duration::from_secs(30))),
                }
            )))
        );
    }
}

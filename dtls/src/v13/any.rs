//! [`AnyDtls`]: version negotiation between the DTLS 1.2 implementation
//! ([`crate::Dtls`]) and the DTLS 1.3 one ([`Dtls13`]), per
//! [`Config::versions`].
//!
//! A server configured for both holds the first datagrams until the
//! first ClientHello is whole (browsers' post-quantum hellos span two
//! datagrams), then answers a hello whose supported_versions lists DTLS
//! 1.3 (0xfefc) with 1.3 and any other with 1.2, replaying the held
//! datagrams into the chosen implementation. Its 1.2 ServerHello then
//! carries the downgrade sentinel (RFC 8446 §4.1.3), which a 1.3 client
//! that sees it refuses ([`Error13::DowngradeDetected`]).
//!
//! A client for 1.2 only is a 1.2 client, for 1.3 only a 1.3 client. A
//! client for both sends ONE ClientHello that either kind of server
//! accepts (RFC 8446 §4.2.1, RFC 9147 §5.3): supported_versions lists
//! DTLS 1.3 then 1.2, legacy_version says 1.2, the 1.2 suites and
//! extensions (extended_master_secret, ec_point_formats,
//! renegotiation_info) ride along with the 1.3 ones and the key shares.
//! A HelloVerifyRequest, or a ServerHello that selects no 1.3, answering
//! that first hello turns it into a 1.2 client
//! ([`Dtls::client_after_hello13`]) whose transcript starts with that
//! very hello (RFC 6347 §4.2.1: after a HelloVerifyRequest, with the
//! hello resent with its cookie); a 1.2 ServerHello with the downgrade
//! sentinel is refused by either. The switch needs the answer's first
//! message whole in one datagram, as every server sends it.

use std::time::Instant;

use super::conn::{CloseReason13, Connected13, Dtls13, Dtls13Stats, Event13};
use super::error::Error13;
use super::key_share::NamedGroup13;
use super::messages::{ServerHello13, DOWNGRADE_TLS12};
use super::record::CipherSuite13;
use super::Versions;
use crate::cert::Fingerprint;
use crate::cipher::Suite;
use crate::conn::{
    CloseReason, Config, Connected, Dtls, DtlsStats, Error, Event, Role, SrtpKeyingMaterial,
};
use crate::handshake::{self, HandshakeType, Pushed, Reassembler};
use crate::hello::ClientHello;
use crate::messages::HelloVerifyRequest;
use crate::record::{records, ContentType, DTLS1_2, DTLS1_3};

/// The most datagrams a deciding server holds (a hello in 8 pieces).
const MAX_HELD: usize = 8;

/// An event of whichever version runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyEvent {
    /// From the DTLS 1.2 implementation.
    V12(Event),
    /// From the DTLS 1.3 implementation.
    V13(Event13),
}

/// An error of whichever version runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnyError {
    /// DTLS 1.2.
    #[error(transparent)]
    V12(Error),
    /// DTLS 1.3.
    #[error(transparent)]
    V13(Error13),
}

/// What the handshake agreed, in terms both versions share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// 0xfefd (DTLS 1.2) or 0xfefc (DTLS 1.3).
    pub version: u16,
    /// The cipher suite's IANA name.
    pub cipher: &'static str,
    /// The key exchange group's IANA name.
    pub group: &'static str,
    /// The SRTP keys, when `use_srtp` was agreed (RFC 5764 §4.2; in 1.3
    /// from the exporter of RFC 8446 §7.5).
    pub srtp: Option<SrtpKeyingMaterial>,
    /// The peer's certificate (DER), fingerprint checked.
    pub peer_certificate: Vec<u8>,
}

/// An event of either version, in shared terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommonEvent {
    /// The handshake finished and the peer's fingerprint matched.
    Connected(Box<Negotiated>),
    /// An application data record (data channels).
    ApplicationData(Vec<u8>),
    /// An NSS key log line: `CLIENT_RANDOM` (1.2) or the 1.3 traffic
    /// secrets (`CLIENT_HANDSHAKE_TRAFFIC_SECRET` ...).
    KeyLog(String),
    /// The peer sent close_notify.
    PeerClosed,
    /// We closed.
    LocalClose,
    /// A fatal error, ours or the peer's alert.
    Failed(AnyError),
}

/// The counters of whichever version runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyStats {
    /// DTLS 1.2.
    V12(DtlsStats),
    /// DTLS 1.3.
    V13(Dtls13Stats),
    /// A server for both before the first whole ClientHello: datagrams
    /// dropped so far (not a hello, or too many).
    Deciding {
        /// Dropped datagrams.
        dropped: u64,
    },
}

/// The IANA name of a DTLS 1.2 suite.
pub fn suite_name(s: Suite) -> &'static str {
    match s {
        Suite::EcdheEcdsaAes128GcmSha256 => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        Suite::EcdheEcdsaAes256GcmSha384 => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    }
}

/// The IANA name of a DTLS 1.3 suite (RFC 8446 §B.4).
pub fn suite13_name(s: CipherSuite13) -> &'static str {
    match s {
        CipherSuite13::Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite13::Aes256GcmSha384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite13::Chacha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
    }
}

/// The IANA name of a key exchange group.
pub fn group_name(g: NamedGroup13) -> &'static str {
    match g {
        NamedGroup13::X25519 => "x25519",
        NamedGroup13::Secp256r1 => "secp256r1",
        NamedGroup13::X25519MlKem768 => "X25519MLKEM768",
    }
}

impl From<Connected> for Negotiated {
    fn from(c: Connected) -> Negotiated {
        Negotiated {
            version: c.version,
            cipher: suite_name(c.suite),
            group: group_name(NamedGroup13::from(c.group)),
            srtp: c.srtp,
            peer_certificate: c.peer_certificate,
        }
    }
}

impl From<Connected13> for Negotiated {
    fn from(c: Connected13) -> Negotiated {
        Negotiated {
            version: c.version,
            cipher: suite13_name(c.suite),
            group: group_name(c.group),
            srtp: c.srtp,
            peer_certificate: c.peer_certificate,
        }
    }
}

impl AnyEvent {
    /// The event in terms both versions share.
    pub fn common(self) -> CommonEvent {
        match self {
            AnyEvent::V12(e) => match e {
                Event::Connected(c) => CommonEvent::Connected(Box::new((*c).into())),
                Event::ApplicationData(d) => CommonEvent::ApplicationData(d),
                Event::KeyLog(l) => CommonEvent::KeyLog(l),
                Event::Closed(CloseReason::PeerClosed) => CommonEvent::PeerClosed,
                Event::Closed(CloseReason::LocalClose) => CommonEvent::LocalClose,
                Event::Closed(CloseReason::Error(e)) => CommonEvent::Failed(AnyError::V12(e)),
            },
            AnyEvent::V13(e) => match e {
                Event13::Connected(c) => CommonEvent::Connected(Box::new((*c).into())),
                Event13::ApplicationData(d) => CommonEvent::ApplicationData(d),
                Event13::KeyLog(l) => CommonEvent::KeyLog(l),
                Event13::Closed(CloseReason13::PeerClosed) => CommonEvent::PeerClosed,
                Event13::Closed(CloseReason13::LocalClose) => CommonEvent::LocalClose,
                Event13::Closed(CloseReason13::Error(e)) => CommonEvent::Failed(AnyError::V13(e)),
            },
        }
    }
}

/// A server that has not seen a whole ClientHello yet.
#[derive(Debug)]
pub struct Deciding {
    config: Config,
    started: Instant,
    reassembler: Reassembler,
    held: Vec<Vec<u8>>,
    /// Datagrams dropped while deciding (not a hello, or over the cap).
    pub dropped: u64,
}

/// One side of an association of either DTLS version.
#[derive(Debug)]
pub enum AnyDtls {
    /// DTLS 1.2.
    V12(Box<Dtls>),
    /// DTLS 1.3.
    V13(Box<Dtls13>),
    /// A server for both versions before the first ClientHello.
    Deciding(Box<Deciding>),
}

impl AnyDtls {
    /// A client of the configured version (1.3 when both).
    pub fn client(config: Config, now: Instant) -> AnyDtls {
        match config.versions {
            Versions::Dtls12Only => AnyDtls::V12(Box::new(Dtls::client(config, now))),
            Versions::Dtls13Only => AnyDtls::V13(Box::new(Dtls13::client(config, now))),
            Versions::Both => AnyDtls::V13(Box::new(Dtls13::client_offering_both(config, now))),
        }
    }

    /// A server of the configured version(s).
    pub fn server(config: Config, now: Instant) -> AnyDtls {
        match config.versions {
            Versions::Dtls12Only => AnyDtls::V12(Box::new(Dtls::server(config, now))),
            Versions::Dtls13Only => AnyDtls::V13(Box::new(Dtls13::server(config, now))),
            Versions::Both => {
                let max = config.max_handshake_message;
                AnyDtls::Deciding(Box::new(Deciding {
                    config,
                    started: now,
                    reassembler: Reassembler::new(0, max, 1),
                    held: Vec::new(),
                    dropped: 0,
                }))
            }
        }
    }

    /// The negotiated version once known: 0xfefd or 0xfefc.
    pub fn version(&self) -> Option<u16> {
        match self {
            AnyDtls::V12(_) => Some(DTLS1_2),
            AnyDtls::V13(_) => Some(DTLS1_3),
            AnyDtls::Deciding(_) => None,
        }
    }

    /// Our role.
    pub fn role(&self) -> Role {
        match self {
            AnyDtls::V12(d) => d.role(),
            AnyDtls::V13(d) => d.role(),
            AnyDtls::Deciding(_) => Role::Server,
        }
    }

    /// Feeds one datagram.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), AnyError> {
        match self {
            AnyDtls::V12(d) => d.handle_datagram(now, datagram).map_err(AnyError::V12),
            AnyDtls::V13(d) => {
                if let Some((random, hello, seq)) = d.fallback_hello() {
                    if answers_with_dtls12(datagram) {
                        let v12 = Dtls::client_after_hello13(
                            d.config().clone(),
                            now,
                            random,
                            hello.to_vec(),
                            seq,
                        );
                        tracing::debug!("the server answered DTLS 1.2: continuing as a 1.2 client");
                        *self = AnyDtls::V12(Box::new(v12));
                        return self.handle_datagram(now, datagram);
                    }
                }
                d.handle_datagram(now, datagram).map_err(AnyError::V13)
            }
            AnyDtls::Deciding(s) => {
                let Some(offers_13) = s.take(datagram) else {
                    return Ok(());
                };
                let (config, started) = (s.config.clone(), s.started);
                let held = std::mem::take(&mut s.held);
                *self = if offers_13 {
                    AnyDtls::V13(Box::new(Dtls13::server(config, started)))
                } else {
                    let mut d = Dtls::server(config, started);
                    d.set_downgrade_sentinel();
                    AnyDtls::V12(Box::new(d))
                };
                for d in held {
                    self.handle_datagram(now, &d)?;
                }
                Ok(())
            }
        }
    }

    /// Retransmission and handshake timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self {
            AnyDtls::V12(d) => d.handle_timeout(now),
            AnyDtls::V13(d) => d.handle_timeout(now),
            AnyDtls::Deciding(_) => {}
        }
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        match self {
            AnyDtls::V12(d) => d.poll_transmit(),
            AnyDtls::V13(d) => d.poll_transmit(),
            AnyDtls::Deciding(_) => None,
        }
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<AnyEvent> {
        match self {
            AnyDtls::V12(d) => d.poll_event().map(AnyEvent::V12),
            AnyDtls::V13(d) => d.poll_event().map(AnyEvent::V13),
            AnyDtls::Deciding(_) => None,
        }
    }

    /// When to call [`AnyDtls::handle_timeout`].
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            AnyDtls::V12(d) => d.poll_timeout(),
            AnyDtls::V13(d) => d.poll_timeout(),
            AnyDtls::Deciding(_) => None,
        }
    }

    /// Whether the association is over (closed or failed).
    pub fn is_closed(&self) -> bool {
        match self {
            AnyDtls::V12(d) => d.is_closed(),
            AnyDtls::V13(d) => d.is_closed(),
            AnyDtls::Deciding(_) => false,
        }
    }

    /// The counters of the version that runs.
    pub fn stats(&self) -> AnyStats {
        match self {
            AnyDtls::V12(d) => AnyStats::V12(d.stats().clone()),
            AnyDtls::V13(d) => AnyStats::V13(d.stats()),
            AnyDtls::Deciding(s) => AnyStats::Deciding { dropped: s.dropped },
        }
    }

    /// The peer's certificate, once received.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        match self {
            AnyDtls::V12(d) => d.peer_certificate(),
            AnyDtls::V13(d) => d.peer_certificate(),
            AnyDtls::Deciding(_) => None,
        }
    }

    /// Sets the peer's SDP fingerprint (see [`Dtls::set_remote_fingerprint`]).
    pub fn set_remote_fingerprint(&mut self, fingerprint: Fingerprint) -> Result<(), AnyError> {
        match self {
            AnyDtls::V12(d) => d.set_remote_fingerprint(fingerprint).map_err(AnyError::V12),
            AnyDtls::V13(d) => d.set_remote_fingerprint(fingerprint).map_err(AnyError::V13),
            AnyDtls::Deciding(s) => {
                s.config.remote_fingerprint = Some(fingerprint);
                Ok(())
            }
        }
    }

    /// Sends application data (data channels).
    pub fn send_application_data(&mut self, data: &[u8]) -> Result<(), AnyError> {
        match self {
            AnyDtls::V12(d) => d.send_application_data(data).map_err(AnyError::V12),
            AnyDtls::V13(d) => d.send_application_data(data).map_err(AnyError::V13),
            AnyDtls::Deciding(_) => Err(AnyError::V13(Error13::NotConnected)),
        }
    }

    /// Sends close_notify and closes.
    pub fn close(&mut self) {
        match self {
            AnyDtls::V12(d) => d.close(),
            AnyDtls::V13(d) => d.close(),
            AnyDtls::Deciding(s) => s.held.clear(),
        }
    }

    /// Whether the handshake finished.
    pub fn is_connected(&self) -> bool {
        match self {
            AnyDtls::V12(d) => d.is_connected(),
            AnyDtls::V13(d) => d.is_connected(),
            AnyDtls::Deciding(_) => false,
        }
    }
}

/// Whether `datagram` is a DTLS 1.2 server's answer to a hello that
/// offered both versions: a HelloVerifyRequest (RFC 6347 §4.2.1), or a
/// ServerHello whole in one fragment that selects no DTLS 1.3 and has no
/// downgrade sentinel (that one the 1.3 client refuses itself).
fn answers_with_dtls12(datagram: &[u8]) -> bool {
    for r in records(datagram) {
        let Ok(r) = r else { return false };
        if r.content_type != ContentType::Handshake || r.epoch != 0 {
            continue;
        }
        for f in handshake::fragments(r.fragment) {
            let Ok(f) = f else { break };
            let whole = f.offset == 0 && f.body.len() == f.length;
            if !whole {
                continue;
            }
            match f.msg_type {
                HandshakeType::HelloVerifyRequest if HelloVerifyRequest::parse(f.body).is_ok() => {
                    return true;
                }
                HandshakeType::ServerHello => {
                    if let Ok(sh) = ServerHello13::parse(f.body) {
                        return sh.selected_version().is_none()
                            && sh.legacy_version == DTLS1_2
                            && sh.random[24..] != DOWNGRADE_TLS12;
                    }
                }
                _ => {}
            }
        }
    }
    false
}

impl Deciding {
    /// Holds `datagram` and reads the ClientHello fragments in it; once
    /// the hello is whole, whether it offers DTLS 1.3.
    fn take(&mut self, datagram: &[u8]) -> Option<bool> {
        if self.held.len() >= MAX_HELD {
            self.dropped += 1;
            return None;
        }
        let mut useful = false;
        for r in records(datagram) {
            let Ok(r) = r else { break };
            if r.content_type != ContentType::Handshake || r.epoch != 0 {
                continue;
            }
            for f in handshake::fragments(r.fragment) {
                let Ok(f) = f else { break };
                if f.msg_type == HandshakeType::ClientHello
                    && matches!(
                        self.reassembler.push(&f),
                        Ok(Pushed::Kept | Pushed::Replaced | Pushed::Evicted)
                    )
                {
                    useful = true;
                }
            }
        }
        if !useful {
            self.dropped += 1;
            return None;
        }
        self.held.push(datagram.to_vec());
        let hello = self.reassembler.pop()?;
        match ClientHello::parse(&hello.body) {
            Ok(ch) => Some(ch.supported_versions().contains(&DTLS1_3)),
            // Let the 1.2 server refuse it as it always did.
            Err(_) => Some(false),
        }
    }
}

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

mod alert;
mod client;
mod config;
mod error;
mod finish;
mod flight;
mod input;
mod server;
mod stats;
#[cfg(test)]
mod tests;
mod types;

pub use alert::AlertDescription;
pub use config::Config;
pub use error::Error;
pub use stats::DtlsStats;
pub use types::{CloseReason, Connected, Event, Role, SrtpKeyingMaterial, SrtpProfileId};

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

    /// Server: we also speak DTLS 1.3, so a 1.2 ServerHello carries the
    /// RFC 8446 §4.1.3 downgrade sentinel (set by [`crate::v13::AnyDtls`]).
    downgrade_sentinel: bool,
    /// Client: the ClientHello body a DTLS 1.3 client offering both
    /// versions sent before the server answered 1.2 (set by
    /// [`crate::v13::AnyDtls`]): resent with the cookie after a
    /// HelloVerifyRequest, and a ServerHello carrying the downgrade
    /// sentinel is refused (RFC 8446 §4.1.3).
    hello13: Option<Vec<u8>>,

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
        let rng = Dtls::rng_for(&config);
        Dtls::client_with_rng(config, now, rng)
    }

    /// A server waiting for a ClientHello.
    pub fn server(config: Config, now: Instant) -> Dtls {
        let rng = Dtls::rng_for(&config);
        Dtls::server_with_rng(config, now, rng)
    }

    /// The configured seed, or the OS's randomness (`None` if it has none).
    fn rng_for(config: &Config) -> Option<Rng> {
        match config.rng_seed {
            Some(s) => Some(Rng::from_seed(s)),
            None => Rng::from_os(),
        }
    }

    fn client_with_rng(config: Config, now: Instant, rng: Option<Rng>) -> Dtls {
        let no_rng = rng.is_none();
        let mut d = Dtls::new(Role::Client, config, now, rng);
        d.expect = Expect::ServerHello;
        if no_rng {
            d.fail_without_randomness();
            return d;
        }
        d.client_random = d.rng.bytes32();
        d.send_client_hello(&[], now);
        d
    }

    fn server_with_rng(config: Config, now: Instant, rng: Option<Rng>) -> Dtls {
        let no_rng = rng.is_none();
        let mut d = Dtls::new(Role::Server, config, now, rng);
        d.expect = Expect::ClientHello;
        if no_rng {
            d.fail_without_randomness();
        }
        d
    }

    /// Without randomness from the OS nothing this connection would send
    /// (randoms, cookies, and ring's ephemeral keys) could be trusted: it
    /// ends before its first datagram.
    fn fail_without_randomness(&mut self) {
        self.expect = Expect::Closed;
        self.retransmit_at = None;
        self.flight.clear();
        self.outbox.clear();
        self.events
            .push_back(Event::Closed(CloseReason::Error(Error::Internal(
                "no randomness from the operating system".into(),
            ))));
    }

    fn new(role: Role, config: Config, now: Instant, rng: Option<Rng>) -> Dtls {
        // Without one (see `fail_without_randomness`) the zero seed is
        // never used: the connection is closed before it sends anything.
        let mut rng = rng.unwrap_or_else(|| Rng::from_seed([0; 32]));
        let cookie_secret = rng.bytes32();
        let rto = config.initial_rto;
        let max = config.max_handshake_message;
        Dtls {
            role,
            config,
            rng,
            expect: Expect::Closed,
            started: now,
            downgrade_sentinel: false,
            hello13: None,
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

    /// A client taking over from a DTLS 1.3 client that offered both
    /// versions in one ClientHello (`hello`, random `client_random`) and
    /// got a 1.2 answer: the hello is in the transcript as sent, the
    /// next plaintext record number is `record_seq`, nothing is resent
    /// until the timer or a HelloVerifyRequest asks for it.
    pub(crate) fn client_after_hello13(
        config: Config,
        now: Instant,
        client_random: [u8; 32],
        hello: Vec<u8>,
        record_seq: u64,
    ) -> Dtls {
        let rng = Dtls::rng_for(&config);
        let mut d = Dtls::new(Role::Client, config, now, rng);
        d.expect = Expect::ServerHello;
        d.client_random = client_random;
        d.hello13 = Some(hello);
        d.send_seq[0] = record_seq;
        d.send_client_hello(&[], now);
        // The 1.3 client sent it already.
        d.outbox.clear();
        d.stats.flights_sent = 0;
        d
    }

    /// Marks a server that also speaks DTLS 1.3: its ServerHello.random
    /// ends in `DOWNGRD\x01` (RFC 8446 §4.1.3).
    pub(crate) fn set_downgrade_sentinel(&mut self) {
        self.downgrade_sentinel = true;
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
                // RFC 6347 §4.2.4: the timer expired, the whole flight goes again.
                tracing::debug!(
                    role = ?self.role,
                    flight = self.stats.flights_sent,
                    timer_ms = self.rto.as_millis() as u64,
                    waiting_for = ?self.expect,
                    "DTLS flight resent: timer {:?} expired",
                    self.rto
                );
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

    /// Ends the association on `e` (with a fatal alert unless the peer's
    /// alert or silence ended it) and returns the error as reported: named
    /// after the peer's unauthenticated alert if one came during the
    /// handshake.
    fn fail(&mut self, e: Error) -> Error {
        if self.expect == Expect::Closed {
            return e;
        }
        tracing::debug!(role = ?self.role, waiting_for = ?self.expect, "DTLS failed: {e}");
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

//! [`Dtls13`]: one side of a DTLS 1.3 association (RFC 9147), sans-IO.
//! Datagrams and `now` in; datagrams, [`Event13`]s and a timeout out.
//!
//! The handshake is in `v13/client.rs` and `v13/server.rs`, each
//! state owning only the data it has (the `State` enum); this file holds what
//! both share: the record layer ([`RecordLayer13`]), reassembly (the 1.2
//! [`Reassembler`], since the fragment header did not change), the
//! transcript, our current [`Flight`] and the ACKs, alerts, application
//! data and the counters.
//!
//! Unauthenticated input never ends the association (RFC 9147 §4.5.2):
//! records that do not frame or do not deprotect, replays, plaintext
//! handshake fragments once the hellos are done, plaintext alerts and
//! plaintext ACKs are dropped and counted in [`Dtls13Stats`].

use std::collections::VecDeque;
use std::time::Instant;

use super::error::Error13;
use super::flight::Flight;
use super::key_schedule::{HashAlg, Schedule};
use super::key_share::NamedGroup13;
use super::messages::{msg, parse_ack, transcript_form, write_ack};
use super::record::{
    CipherSuite13, EpochKeys, Opened, Record13Stats, RecordLayer13, UnifiedRecord, CONTENT_ACK,
    CONTENT_ALERT, CONTENT_APPLICATION_DATA, CONTENT_HANDSHAKE,
};
use super::{client, server};
use crate::cert::Fingerprint;
use crate::conn::{
    CloseReason, Config, Role, SrtpKeyingMaterial, SrtpProfileId, SRTP_EXPORTER_LABEL,
};
use crate::handshake::{self, Message, Pushed, Reassembler};
use crate::record::{ContentType, Record};
use crate::rng::Rng;

/// The most record numbers of the peer's flight remembered for an ACK.
const MAX_ACK_RECORDS: usize = 64;
/// The most records of the next epoch held until its keys exist.
pub const MAX_FUTURE_RECORDS: usize = 32;
/// And their most bytes.
pub const MAX_FUTURE_BYTES: usize = 64 * 1024;

/// What both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected13 {
    /// 0xfefc.
    pub version: u16,
    /// The cipher suite.
    pub suite: CipherSuite13,
    /// The key exchange group.
    pub group: NamedGroup13,
    /// The SRTP keys, when `use_srtp` was agreed.
    pub srtp: Option<SrtpKeyingMaterial>,
    /// The peer's certificate (DER), fingerprint checked.
    pub peer_certificate: Vec<u8>,
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event13 {
    /// The handshake finished and the peer's fingerprint matched.
    Connected(Box<Connected13>),
    /// An application data record.
    ApplicationData(Vec<u8>),
    /// An NSS key log line (`CLIENT_HANDSHAKE_TRAFFIC_SECRET <client
    /// random> <secret>` and the like) when [`Config::key_log`] is on.
    KeyLog(String),
    /// The association is over.
    Closed(CloseReason13),
}

/// Why a 1.3 association ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason13 {
    /// The peer sent close_notify.
    PeerClosed,
    /// We called [`Dtls13::close`].
    LocalClose,
    /// A fatal error.
    Error(Error13),
}

impl From<CloseReason13> for Option<CloseReason> {
    fn from(r: CloseReason13) -> Option<CloseReason> {
        match r {
            CloseReason13::PeerClosed => Some(CloseReason::PeerClosed),
            CloseReason13::LocalClose => Some(CloseReason::LocalClose),
            CloseReason13::Error(_) => None,
        }
    }
}

/// Counters of one 1.3 association: what was refused, each once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dtls13Stats {
    /// The record layer's counters (malformed, unknown epoch,
    /// authentication failures = tampering, replays).
    pub records: Record13Stats,
    /// DTLSPlaintext records that did not frame.
    pub malformed_plaintext: u64,
    /// Plaintext handshake fragments outside the hello exchange, or of a
    /// type that may not be plaintext.
    pub plaintext_handshake_refused: u64,
    /// Encrypted handshake fragments of a hello type.
    pub encrypted_hello_refused: u64,
    /// Plaintext alerts (ignored).
    pub plaintext_alerts: u64,
    /// Plaintext ACKs (ignored: an ACK must be authenticated, or anyone
    /// could stop our retransmissions).
    pub plaintext_acks: u64,
    /// ACKs received under protection.
    pub acks_received: u64,
    /// ACK record numbers naming nothing we sent (forged or stale).
    pub ack_unknown_records: u64,
    /// ACKs that did not decode.
    pub undecodable_acks: u64,
    /// Handshake fragments refused by the reassembler or undecodable.
    pub bad_fragments: u64,
    /// Hello messages that did not decode (awaiting the retransmission).
    pub undecodable_hellos: u64,
    /// Hellos of the wrong kind for our role.
    pub unexpected_hellos: u64,
    /// Downgrade sentinels found in a DTLS 1.2 ServerHello.
    pub downgrades_refused: u64,
    /// Flight retransmissions (timer or peer's repeat).
    pub retransmissions: u64,
    /// ACKs we sent.
    pub acks_sent: u64,
    /// Application data or alerts arriving before the keys for them.
    pub early_records_dropped: u64,
    /// KeyUpdates received.
    pub key_updates: u64,
    /// Records of the next epoch held until its keys were installed
    /// (RFC 6347 §4.1): the client's first application data that
    /// overtook its Finished, or the server's encrypted flight that
    /// overtook (or outlived the loss of) its ServerHello.
    pub future_records_held: u64,
    /// Records of the next epoch dropped: over [`MAX_FUTURE_RECORDS`] /
    /// [`MAX_FUTURE_BYTES`], or still unreadable when their epoch came.
    pub future_records_dropped: u64,
}

/// Handshake traffic state both roles reach after the hellos.
pub(super) struct HandshakeKeys {
    pub suite: CipherSuite13,
    pub group: NamedGroup13,
    pub schedule: Schedule,
    pub handshake: super::key_schedule::HandshakeSecret,
    pub client_hs: Vec<u8>,
    pub server_hs: Vec<u8>,
    pub srtp: Option<SrtpProfileId>,
}

/// After the handshake: the application traffic secrets.
pub(super) struct Traffic {
    pub suite: CipherSuite13,
    pub group: NamedGroup13,
    pub schedule: Schedule,
    pub client_ap: Vec<u8>,
    pub server_ap: Vec<u8>,
    pub exporter: Vec<u8>,
    pub srtp: Option<SrtpProfileId>,
    /// Our write epoch (3, then +1 per KeyUpdate).
    pub write_epoch: u64,
    /// The peer's read epoch.
    pub read_epoch: u64,
}

/// The handshake's states; each owns only what it has.
pub(super) enum State {
    /// Client: ClientHello sent.
    ClientExpectServerHello(Box<client::HelloSent>),
    /// Client: ServerHello done, handshake keys installed.
    ClientExpectEncryptedExtensions(Box<HandshakeKeys>),
    /// Client: EncryptedExtensions read.
    ClientExpectCertificateRequest(Box<HandshakeKeys>),
    /// Client: CertificateRequest read.
    ClientExpectCertificate(Box<client::Requested>),
    /// Client: the server's certificate read.
    ClientExpectCertificateVerify(Box<client::WithServerCert>),
    /// Client: the server's CertificateVerify checked.
    ClientExpectFinished(Box<client::WithServerCert>),
    /// Server: waiting for a (second) ClientHello.
    ServerExpectClientHello(Box<server::Start>),
    /// Server: our flight sent, waiting for the client's certificate.
    ServerExpectCertificate(Box<server::FlightSent>),
    /// Server: the client's certificate read.
    ServerExpectCertificateVerify(Box<server::WithClientCert>),
    /// Server: the client's CertificateVerify checked.
    ServerExpectFinished(Box<server::WithClientCert>),
    /// Handshake over.
    Connected(Box<Traffic>),
    /// Taken out while a message is handled (never seen outside).
    Busy,
    /// Closed.
    Closed,
}

impl State {
    fn expects_hello(&self) -> bool {
        matches!(
            self,
            State::ClientExpectServerHello(_) | State::ServerExpectClientHello(_)
        )
    }
}

/// One side of a DTLS 1.3 association.
pub struct Dtls13 {
    pub(super) role: Role,
    pub(super) config: Config,
    pub(super) rng: Rng,
    pub(super) state: State,
    pub(super) records: RecordLayer13,
    pub(super) reassembler: Reassembler,
    /// Handshake messages in transcript form (RFC 9147 §5.2).
    pub(super) transcript: Vec<u8>,
    pub(super) next_message_seq: u16,
    pub(super) flight: Option<Flight>,
    /// Records of the peer's current flight (epoch ≥ 2), for our ACK.
    pub(super) peer_records: Vec<(u64, u64)>,
    /// When a repeat of the peer's flight last made us resend ours.
    last_peer_triggered: Option<Instant>,
    /// Send an ACK of `peer_records` after this datagram.
    pub(super) ack_due: bool,
    /// Our next write epoch and its keys, waiting for the ACK of our
    /// KeyUpdate (RFC 9147 §8).
    pub(super) pending_write_epoch: Option<(u64, EpochKeys)>,
    /// The peer asked for a KeyUpdate in return.
    pub(super) pending_key_update: bool,
    pub(super) client_random: [u8; 32],
    /// Client: the ClientHello also offers DTLS 1.2 (its suites and
    /// extensions), so a 1.2-only server can answer it.
    pub(super) offer12: bool,
    /// Client offering both: the first ClientHello's body, which a DTLS
    /// 1.2 client takes over when the server answers 1.2.
    pub(super) first_hello: Option<Vec<u8>>,
    pub(super) peer_certificate: Option<Vec<u8>>,
    /// Connected, waiting for the fingerprint.
    pub(super) pending_connected: Option<Connected13>,
    pub(super) outgoing: VecDeque<Vec<u8>>,
    pub(super) events: VecDeque<Event13>,
    pub(super) started: Instant,
    pub(super) stats: Dtls13Stats,
    /// Protected records of the next read epoch, held (bounded) until its
    /// keys are installed.
    pub(super) future_records: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Dtls13 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dtls13")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Dtls13 {
    /// A client; its ClientHello is ready to send at once.
    pub fn client(config: Config, now: Instant) -> Dtls13 {
        let mut d = Dtls13::new(Role::Client, config, now);
        if let Err(e) = client::start(&mut d, now) {
            d.fail(e);
        }
        d
    }

    /// A client whose ClientHello offers DTLS 1.3 and 1.2 (RFC 8446
    /// §4.2.1: supported_versions lists both, the 1.2 suites and
    /// extensions ride along); [`Dtls13::fallback_hello`] hands it to a
    /// 1.2 client when the server answers 1.2.
    pub(crate) fn client_offering_both(config: Config, now: Instant) -> Dtls13 {
        let mut d = Dtls13::new(Role::Client, config, now);
        d.offer12 = true;
        if let Err(e) = client::start(&mut d, now) {
            d.fail(e);
        }
        d
    }

    /// A client offering both versions that is still waiting for the
    /// answer to its first ClientHello: (its random, its body, the next
    /// plaintext record number).
    pub(crate) fn fallback_hello(&self) -> Option<([u8; 32], &[u8], u64)> {
        if !client::awaits_first_server_hello(&self.state) {
            return None;
        }
        let hello = self.first_hello.as_deref()?;
        Some((self.client_random, hello, self.records.plaintext_seq))
    }

    /// A server waiting for a ClientHello.
    pub fn server(config: Config, now: Instant) -> Dtls13 {
        let mut d = Dtls13::new(Role::Server, config, now);
        d.state = State::ServerExpectClientHello(Box::default());
        d
    }

    fn new(role: Role, config: Config, now: Instant) -> Dtls13 {
        let rng = match config.rng_seed {
            Some(seed) => Some(Rng::from_seed(seed)),
            None => Rng::from_os(),
        };
        let failed = rng.is_none();
        let max = config.max_handshake_message;
        let mut d = Dtls13 {
            role,
            config,
            rng: rng.unwrap_or_else(|| Rng::from_seed([0; 32])),
            state: State::Closed,
            records: RecordLayer13::new(),
            reassembler: Reassembler::new(0, max, 8),
            transcript: Vec::new(),
            next_message_seq: 0,
            flight: None,
            peer_records: Vec::new(),
            last_peer_triggered: None,
            ack_due: false,
            pending_key_update: false,
            pending_write_epoch: None,
            client_random: [0; 32],
            offer12: false,
            first_hello: None,
            peer_certificate: None,
            pending_connected: None,
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
            started: now,
            stats: Dtls13Stats::default(),
            future_records: Vec::new(),
        };
        if failed {
            d.fail(Error13::NoRandomness);
        }
        d
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the handshake finished (and the fingerprint matched).
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected(_)) && self.pending_connected.is_none()
    }

    /// Whether the association is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The counters.
    pub fn stats(&self) -> Dtls13Stats {
        let mut s = self.stats.clone();
        s.records = self.records.stats.clone();
        s
    }

    /// The peer's certificate, once received.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.peer_certificate.as_deref()
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sets the peer's SDP fingerprint; a finished handshake waiting for
    /// it then reports [`Event13::Connected`] (or fails on a mismatch).
    pub fn set_remote_fingerprint(&mut self, fingerprint: Fingerprint) -> Result<(), Error13> {
        self.config.remote_fingerprint = Some(fingerprint);
        if let Some(c) = self.pending_connected.take() {
            if !fingerprint.matches(&c.peer_certificate) {
                let e = Error13::FingerprintMismatch {
                    expected: fingerprint,
                    got: Fingerprint::of_der(&c.peer_certificate),
                };
                return Err(self.fail(e));
            }
            self.events.push_back(Event13::Connected(Box::new(c)));
        }
        Ok(())
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.outgoing.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event13> {
        self.events.pop_front()
    }

    /// When to call [`Dtls13::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let flight = self.flight.as_ref().and_then(Flight::deadline);
        let deadline = (!matches!(self.state, State::Connected(_)))
            .then(|| self.started + self.config.handshake_timeout);
        match (flight, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Retransmits on the timer (RFC 9147 §5.8); fails the handshake at
    /// its deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if !matches!(self.state, State::Connected(_))
            && now >= self.started + self.config.handshake_timeout
        {
            self.fail(Error13::Timeout);
            return;
        }
        if self
            .flight
            .as_ref()
            .and_then(Flight::deadline)
            .is_some_and(|d| now >= d)
        {
            self.retransmit(now);
        }
    }

    /// Feeds one datagram. `Err` is a fatal error (also reported as
    /// [`Event13::Closed`]); refused input is only counted.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Error13> {
        if self.is_closed() {
            return Ok(());
        }
        let mut rest = datagram;
        while let Some(&first) = rest.first() {
            if UnifiedRecord::is_unified(first) {
                let Ok((rec, next)) = UnifiedRecord::parse(rest) else {
                    self.records.stats.malformed += 1;
                    break;
                };
                let whole = &rest[..rest.len() - next.len()];
                rest = next;
                if self.records.is_next_epoch(rec.epoch_bits()) {
                    self.hold_future_record(whole);
                } else if let Ok(opened) = self.records.open(&rec) {
                    self.on_protected(now, opened)?;
                }
            } else {
                let Ok((rec, next)) = Record::parse(rest) else {
                    self.stats.malformed_plaintext += 1;
                    break;
                };
                rest = next;
                self.on_plaintext(now, &rec)?;
            }
            if self.is_closed() {
                return Ok(());
            }
        }
        self.replay_future_records(now)?;
        if self.is_closed() {
            return Ok(());
        }
        if self.ack_due {
            self.ack_due = false;
            self.send_ack();
        }
        Ok(())
    }

    /// Holds a protected record of the epoch whose keys come next
    /// (RFC 6347 §4.1 lets a receiver buffer records of a future
    /// epoch): bounded by [`MAX_FUTURE_RECORDS`] and [`MAX_FUTURE_BYTES`],
    /// the excess counted and dropped (the peer's retransmission, or its
    /// SCTP, repeats it). The peer's address was checked by the caller
    /// (ICE) before any of it reached us.
    fn hold_future_record(&mut self, record: &[u8]) {
        let held: usize = self.future_records.iter().map(Vec::len).sum();
        if self.future_records.len() < MAX_FUTURE_RECORDS && held + record.len() <= MAX_FUTURE_BYTES
        {
            self.future_records.push(record.to_vec());
            self.stats.future_records_held += 1;
        } else {
            self.stats.future_records_dropped += 1;
        }
    }

    /// Opens the held records whose epoch now has keys, in arrival order;
    /// those of an epoch still to come stay held, the rest are dropped.
    fn replay_future_records(&mut self, now: Instant) -> Result<(), Error13> {
        loop {
            if self.future_records.is_empty() || self.is_closed() {
                return Ok(());
            }
            let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.future_records)
                .into_iter()
                .partition(|r| {
                    UnifiedRecord::parse(r)
                        .is_ok_and(|(rec, _)| !self.records.is_next_epoch(rec.epoch_bits()))
                });
            self.future_records = waiting;
            if ready.is_empty() {
                return Ok(());
            }
            for r in ready {
                let Ok((rec, _)) = UnifiedRecord::parse(&r) else {
                    continue;
                };
                match self.records.open(&rec) {
                    Ok(opened) => self.on_protected(now, opened)?,
                    Err(_) => self.stats.future_records_dropped += 1,
                }
                if self.is_closed() {
                    return Ok(());
                }
            }
        }
    }

    /// Sends application data (RFC 9147 §4, epoch 3 or later).
    pub fn send_application_data(&mut self, data: &[u8]) -> Result<(), Error13> {
        let epoch = match &self.state {
            State::Connected(t) => t.write_epoch,
            State::Closed => return Err(Error13::Closed),
            _ => return Err(Error13::NotConnected),
        };
        for chunk in data.chunks(self.config.mtu.saturating_sub(32).max(64)) {
            let mut out = Vec::new();
            if self
                .records
                .seal(epoch, CONTENT_APPLICATION_DATA, chunk, &mut out)
                .is_ok()
            {
                self.outgoing.push_back(out);
            }
        }
        Ok(())
    }

    /// Sends close_notify and closes (RFC 8446 §6.1).
    pub fn close(&mut self) {
        if self.is_closed() {
            return;
        }
        self.send_alert(1, 0);
        self.state = State::Closed;
        self.flight = None;
        self.events
            .push_back(Event13::Closed(CloseReason13::LocalClose));
    }

    /// Starts a KeyUpdate (RFC 8446 §4.6.3, RFC 9147 §8): sends it under
    /// the current epoch; our writes move to the next epoch when the peer
    /// has ACKed it. A second call before that does nothing.
    pub fn update_keys(&mut self, now: Instant) -> Result<(), Error13> {
        let State::Connected(t) = &mut self.state else {
            return Err(Error13::NotConnected);
        };
        if self.pending_write_epoch.is_some() {
            // One update at a time: the last is not acknowledged yet.
            return Ok(());
        }
        let epoch = t.write_epoch;
        let seq = self.next_message_seq;
        self.next_message_seq += 1;
        let mut f = Flight::new(
            self.config.mtu,
            self.config.initial_rto,
            self.config.max_rto,
        );
        f.push(epoch, msg::KEY_UPDATE, seq, vec![0]);
        let (secret, suite, schedule) = match self.role {
            Role::Client => (&mut t.client_ap, t.suite, t.schedule),
            Role::Server => (&mut t.server_ap, t.suite, t.schedule),
        };
        *secret = schedule.next_traffic_secret(secret);
        let keys = EpochKeys::new(suite, &schedule.traffic_keys(secret, suite.key_len()));
        let new_epoch = t.write_epoch + 1;
        let datagrams = f.transmit(now, self.config.mtu, &mut self.records);
        self.outgoing.extend(datagrams);
        self.flight = Some(f);
        // RFC 9147 §8: the new keys are used once the KeyUpdate is ACKed.
        self.pending_write_epoch = Some((new_epoch, keys));
        Ok(())
    }

    fn activate_pending_write_epoch(&mut self) {
        if let State::Connected(t) = &mut self.state {
            if let Some((epoch, keys)) = self.pending_write_epoch.take() {
                self.records.install_write(epoch, keys);
                t.write_epoch = epoch;
            }
        }
    }

    /// RFC 8446 §7.5 keying material (after the handshake).
    pub fn export_keying_material(
        &self,
        label: &[u8],
        context: &[u8],
        len: usize,
    ) -> Option<Vec<u8>> {
        match &self.state {
            State::Connected(t) => Some(t.schedule.export(&t.exporter, label, context, len)),
            _ => None,
        }
    }

    // ---- shared machinery used by the client and server modules ----

    pub(super) fn transcript_hash(&self, hash: HashAlg) -> Vec<u8> {
        hash.hash(&self.transcript)
    }

    pub(super) fn add_to_transcript(&mut self, msg_type: u8, body: &[u8]) {
        self.transcript
            .extend_from_slice(&transcript_form(msg_type, body));
    }

    /// RFC 8446 §4.4.1: after a HelloRetryRequest the first ClientHello
    /// is replaced by `message_hash(Hash(ClientHello1))`.
    pub(super) fn replace_transcript_with_message_hash(&mut self, hash: HashAlg) {
        let h = hash.hash(&self.transcript);
        self.transcript = transcript_form(msg::MESSAGE_HASH, &h);
    }

    /// Our groups in preference order: the hybrid first when enabled.
    pub(super) fn groups13(&self) -> Vec<NamedGroup13> {
        let hybrid = self
            .config
            .x25519mlkem768
            .then_some(NamedGroup13::X25519MlKem768);
        hybrid
            .into_iter()
            .chain(self.config.groups.iter().map(|g| NamedGroup13::from(*g)))
            .collect()
    }

    pub(super) fn take_message_seq(&mut self) -> u16 {
        let s = self.next_message_seq;
        self.next_message_seq = s.wrapping_add(1);
        s
    }

    pub(super) fn new_flight(&self) -> Flight {
        Flight::new(
            self.config.mtu,
            self.config.initial_rto,
            self.config.max_rto,
        )
    }

    /// Sends `flight` and keeps it for retransmission; the peer's
    /// records gathered so far belong to the flight this one answers.
    pub(super) fn send_flight(&mut self, now: Instant, mut flight: Flight) {
        let datagrams = flight.transmit(now, self.config.mtu, &mut self.records);
        self.outgoing.extend(datagrams);
        self.flight = Some(flight);
        self.peer_records.clear();
    }

    fn retransmit(&mut self, now: Instant) {
        if let Some(f) = self.flight.as_mut() {
            if f.fully_acked() {
                f.stop();
                return;
            }
            let datagrams = f.transmit(now, self.config.mtu, &mut self.records);
            self.outgoing.extend(datagrams);
            self.stats.retransmissions += 1;
        }
    }

    pub(super) fn key_log(&mut self, label: &str, secret: &[u8]) {
        if self.config.key_log {
            let line = format!("{label} {} {}", hex(&self.client_random), hex(secret));
            self.events.push_back(Event13::KeyLog(line));
        }
    }

    pub(super) fn install_handshake_keys(&mut self, hs: &HandshakeKeys) {
        let s = hs.schedule;
        let k = hs.suite.key_len();
        let client = EpochKeys::new(hs.suite, &s.traffic_keys(&hs.client_hs, k));
        let server = EpochKeys::new(hs.suite, &s.traffic_keys(&hs.server_hs, k));
        let (write, read) = match self.role {
            Role::Client => (client, server),
            Role::Server => (server, client),
        };
        self.records.install_write(2, write);
        self.records.install_read(2, read);
        let (c, sv) = (hs.client_hs.clone(), hs.server_hs.clone());
        self.key_log("CLIENT_HANDSHAKE_TRAFFIC_SECRET", &c);
        self.key_log("SERVER_HANDSHAKE_TRAFFIC_SECRET", &sv);
    }

    /// Installs one direction of epoch 3.
    pub(super) fn install_application_keys(&mut self, t: &Traffic, write: bool) {
        let k = t.suite.key_len();
        let (ours, theirs) = match self.role {
            Role::Client => (&t.client_ap, &t.server_ap),
            Role::Server => (&t.server_ap, &t.client_ap),
        };
        if write {
            self.records.install_write(
                3,
                EpochKeys::new(t.suite, &t.schedule.traffic_keys(ours, k)),
            );
        } else {
            self.records.install_read(
                3,
                EpochKeys::new(t.suite, &t.schedule.traffic_keys(theirs, k)),
            );
        }
    }

    /// The handshake is over: report it (once the fingerprint is known
    /// and matches); returns the state to move to.
    pub(super) fn connected(&mut self, t: Box<Traffic>) -> Result<State, Error13> {
        tracing::debug!(
            role = ?self.role,
            version = "DTLS 1.3",
            suite = ?t.suite,
            group = ?t.group,
            srtp_profile = ?t.srtp,
            retransmissions = self.stats.retransmissions,
            "DTLS handshake complete"
        );
        let (c, s, e) = (t.client_ap.clone(), t.server_ap.clone(), t.exporter.clone());
        self.key_log("CLIENT_TRAFFIC_SECRET_0", &c);
        self.key_log("SERVER_TRAFFIC_SECRET_0", &s);
        self.key_log("EXPORTER_SECRET", &e);
        let srtp = t.srtp.and_then(|p| {
            let (k, s) = p.key_salt_len()?;
            let block = t
                .schedule
                .export(&t.exporter, SRTP_EXPORTER_LABEL, b"", 2 * (k + s));
            Some(SrtpKeyingMaterial {
                profile: p,
                client_key: block[..k].to_vec(),
                server_key: block[k..2 * k].to_vec(),
                client_salt: block[2 * k..2 * k + s].to_vec(),
                server_salt: block[2 * k + s..].to_vec(),
                exported: block,
            })
        });
        let peer = self
            .peer_certificate
            .clone()
            .ok_or(Error13::NoPeerCertificate)?;
        let info = Connected13 {
            version: crate::record::DTLS1_3,
            suite: t.suite,
            group: t.group,
            srtp,
            peer_certificate: peer,
        };
        match self.config.remote_fingerprint {
            Some(fp) if fp.matches(&info.peer_certificate) => {
                self.events.push_back(Event13::Connected(Box::new(info)));
            }
            Some(fp) => {
                return Err(Error13::FingerprintMismatch {
                    expected: fp,
                    got: Fingerprint::of_der(&info.peer_certificate),
                })
            }
            None => self.pending_connected = Some(info),
        }
        Ok(State::Connected(t))
    }

    /// Checks the peer's certificate against the fingerprint as soon as
    /// it arrives (when known).
    pub(super) fn check_fingerprint(&self, der: &[u8]) -> Result<(), Error13> {
        match self.config.remote_fingerprint {
            Some(fp) if !fp.matches(der) => Err(Error13::FingerprintMismatch {
                expected: fp,
                got: Fingerprint::of_der(der),
            }),
            _ => Ok(()),
        }
    }

    pub(super) fn fail(&mut self, e: Error13) -> Error13 {
        if !self.is_closed() {
            // Only once keys exist can the alert be protected; a
            // plaintext alert is sent in the hello phase.
            self.send_alert(2, e.alert());
            self.state = State::Closed;
            self.flight = None;
            self.future_records.clear();
            self.events
                .push_back(Event13::Closed(CloseReason13::Error(e.clone())));
        }
        e
    }

    fn send_alert(&mut self, level: u8, description: u8) {
        let epoch = match &self.state {
            State::Connected(t) => Some(t.write_epoch),
            _ if self.records.can_write(2) => Some(2),
            _ => None,
        };
        let mut out = Vec::new();
        match epoch {
            Some(e) => {
                if self
                    .records
                    .seal(e, CONTENT_ALERT, &[level, description], &mut out)
                    .is_err()
                {
                    return;
                }
            }
            None => {
                let seq = self.records.plaintext_seq;
                self.records.plaintext_seq += 1;
                crate::record::write_record(
                    &mut out,
                    ContentType::Alert,
                    crate::record::DTLS1_2,
                    0,
                    seq,
                    &[level, description],
                );
            }
        }
        self.outgoing.push_back(out);
    }

    fn send_ack(&mut self) {
        if self.peer_records.is_empty() {
            return;
        }
        let epoch = match &self.state {
            State::Connected(t) => t.write_epoch,
            _ => 2,
        };
        // The newest record numbers that fit one datagram.
        let fit = (self.config.mtu.saturating_sub(32) / 16).max(1);
        let from = self.peer_records.len().saturating_sub(fit);
        let mut content = Vec::new();
        write_ack(&mut content, &self.peer_records[from..]);
        let mut out = Vec::new();
        if self
            .records
            .seal(epoch, CONTENT_ACK, &content, &mut out)
            .is_ok()
        {
            self.outgoing.push_back(out);
            self.stats.acks_sent += 1;
        }
    }

    fn on_plaintext(&mut self, now: Instant, rec: &Record<'_>) -> Result<(), Error13> {
        if rec.epoch != 0 {
            self.stats.malformed_plaintext += 1;
            return Ok(());
        }
        match rec.content_type {
            ContentType::Handshake => {
                if !self.state.expects_hello() {
                    // A retransmitted hello of the peer after we answered
                    // it: it lost our flight. Anything else is refused.
                    if self.is_old_hello(rec.fragment) {
                        self.retransmit_on_repeat(now);
                    } else {
                        self.stats.plaintext_handshake_refused += 1;
                    }
                    return Ok(());
                }
                self.on_handshake(now, 0, rec.sequence, rec.fragment)
            }
            ContentType::Alert => {
                self.stats.plaintext_alerts += 1;
                Ok(())
            }
            ContentType::Other(CONTENT_ACK) => {
                self.stats.plaintext_acks += 1;
                Ok(())
            }
            _ => {
                self.stats.malformed_plaintext += 1;
                Ok(())
            }
        }
    }

    fn is_old_hello(&self, fragment: &[u8]) -> bool {
        handshake::fragments(fragment).all(|f| {
            f.is_ok_and(|f| {
                matches!(f.msg_type.as_u8(), msg::CLIENT_HELLO | msg::SERVER_HELLO)
                    && f.message_seq < self.reassembler.next_seq()
            })
        })
    }

    /// The peer repeated a flight we already have: ours was lost, so send
    /// it again (RFC 9147 §5.8.1, RFC 6347 §4.2.4), once for the whole
    /// repeated flight: its records come together, so at most once per
    /// quarter of the initial timer (as the DTLS 1.2 side does), not once
    /// per record.
    fn retransmit_on_repeat(&mut self, now: Instant) {
        if self.flight.as_ref().is_some_and(|f| !f.fully_acked()) {
            let gap = self.config.initial_rto / 4;
            if self.last_peer_triggered.is_some_and(|t| now < t + gap) {
                return;
            }
            self.last_peer_triggered = Some(now);
            self.retransmit(now);
        }
    }

    fn on_protected(&mut self, now: Instant, rec: Opened) -> Result<(), Error13> {
        match rec.content_type {
            CONTENT_HANDSHAKE => self.on_handshake(now, rec.epoch, rec.sequence, &rec.content),
            CONTENT_ACK => {
                match parse_ack(&rec.content) {
                    Ok(numbers) => {
                        self.stats.acks_received += 1;
                        if let Some(f) = self.flight.as_mut() {
                            let out = f.on_ack(&numbers);
                            self.stats.ack_unknown_records += out.unknown as u64;
                            if f.fully_acked() {
                                self.activate_pending_write_epoch();
                            }
                        } else {
                            self.stats.ack_unknown_records += numbers.len() as u64;
                        }
                    }
                    Err(_) => self.stats.undecodable_acks += 1,
                }
                Ok(())
            }
            CONTENT_ALERT => {
                let (level, description) = match rec.content[..] {
                    [l, d] => (l, d),
                    _ => return Ok(()),
                };
                self.flight = None;
                let reason = if description == 0 {
                    CloseReason13::PeerClosed
                } else {
                    CloseReason13::Error(Error13::AlertReceived { level, description })
                };
                if description == 0 {
                    // RFC 8446 §6.1: answer close_notify with ours.
                    self.send_alert(1, 0);
                }
                self.state = State::Closed;
                self.events.push_back(Event13::Closed(reason));
                Ok(())
            }
            CONTENT_APPLICATION_DATA => {
                match &self.state {
                    State::Connected(_) if rec.epoch >= 3 => {
                        // Application data from the peer acknowledges our
                        // last flight implicitly (RFC 9147 §7.1).
                        if let Some(f) = self.flight.as_mut() {
                            f.stop();
                        }
                        self.events.push_back(Event13::ApplicationData(rec.content));
                    }
                    _ => self.stats.early_records_dropped += 1,
                }
                Ok(())
            }
            _ => {
                self.stats.early_records_dropped += 1;
                Ok(())
            }
        }
    }

    fn on_handshake(
        &mut self,
        now: Instant,
        epoch: u64,
        sequence: u64,
        data: &[u8],
    ) -> Result<(), Error13> {
        let mut any_new = false;
        let mut any_old = false;
        for f in handshake::fragments(data) {
            let Ok(f) = f else {
                self.stats.bad_fragments += 1;
                break;
            };
            let t = f.msg_type.as_u8();
            let hello = matches!(t, msg::CLIENT_HELLO | msg::SERVER_HELLO);
            if epoch == 0 && !hello {
                self.stats.plaintext_handshake_refused += 1;
                continue;
            }
            if epoch > 0 && hello {
                self.stats.encrypted_hello_refused += 1;
                continue;
            }
            match self.reassembler.push(&f) {
                Ok(Pushed::Old) => any_old = true,
                Ok(Pushed::AheadOfWindow) => self.stats.bad_fragments += 1,
                Ok(_) => any_new = true,
                Err(_) => self.stats.bad_fragments += 1,
            }
        }
        // Records of the peer's flight we may ACK: protected ones, and the
        // client's view of the ServerHello (so a gap ACK spares it too).
        let ackable = epoch >= 2 || (epoch == 0 && self.role == Role::Client);
        if ackable && (any_new || any_old) && !self.peer_records.contains(&(epoch, sequence)) {
            if self.peer_records.len() >= MAX_ACK_RECORDS {
                self.peer_records.remove(0);
            }
            self.peer_records.push((epoch, sequence));
        }
        if any_old && !any_new {
            match &self.state {
                // The peer repeats the flight we ACKed: our ACK was lost.
                State::Connected(_) if self.role == Role::Server && epoch == 2 => {
                    self.ack_due = true
                }
                _ => self.retransmit_on_repeat(now),
            }
        }
        while let Some(m) = self.reassembler.pop() {
            self.on_message(now, m)?;
            if self.is_closed() {
                break;
            }
        }
        // RFC 9147 §7.1: a flight that arrived with a gap (a message held
        // incomplete or out of order) is ACKed as far as it came, so the
        // peer resends only what is missing.
        let gap = self.reassembler.buffered() > 0 || self.reassembler.partials() > 0;
        if epoch >= 2 && any_new && gap && !self.is_closed() {
            self.ack_due = true;
        }
        Ok(())
    }

    fn on_message(&mut self, now: Instant, m: Message) -> Result<(), Error13> {
        let state = std::mem::replace(&mut self.state, State::Busy);
        let result = match self.role {
            Role::Client => client::on_message(self, now, state, &m),
            Role::Server => server::on_message(self, now, state, &m),
        };
        match result {
            Ok(next) => {
                self.state = next;
                if std::mem::take(&mut self.pending_key_update) {
                    self.update_keys(now)?;
                }
                Ok(())
            }
            Err(Step::Drop(state, reason)) => {
                // Unauthenticated hello that did not decode or does not
                // belong to our role: wait for the retransmission.
                match reason {
                    DropReason::Undecodable => self.stats.undecodable_hellos += 1,
                    DropReason::Unexpected => self.stats.unexpected_hellos += 1,
                }
                self.reassembler.expect_again(m.message_seq);
                self.state = state;
                Ok(())
            }
            Err(Step::Fatal(e)) => Err(self.fail(e)),
        }
    }

    /// Handles a KeyUpdate from the peer (RFC 8446 §4.6.3).
    pub(super) fn on_key_update(&mut self, t: &mut Traffic, body: &[u8]) -> Result<(), Error13> {
        let request = match body {
            [0] => false,
            [1] => true,
            _ => return Err(Error13::IllegalParameter("KeyUpdate request_update")),
        };
        self.stats.key_updates += 1;
        let (secret, suite, schedule) = match self.role {
            Role::Client => (&mut t.server_ap, t.suite, t.schedule),
            Role::Server => (&mut t.client_ap, t.suite, t.schedule),
        };
        *secret = schedule.next_traffic_secret(secret);
        t.read_epoch += 1;
        let keys = EpochKeys::new(suite, &schedule.traffic_keys(secret, suite.key_len()));
        self.records.install_read(t.read_epoch, keys);
        self.ack_due = true;
        // Answer with our own update after the state is back in place.
        self.pending_key_update = request;
        Ok(())
    }
}

/// A state transition: the next state, or why not.
pub(super) type Transition = Result<State, Step>;

/// What a state transition did instead of moving on.
pub(super) enum Step {
    /// Drop the message (unauthenticated), keep this state.
    Drop(State, DropReason),
    /// A fatal error.
    Fatal(Error13),
}

/// Why a hello was dropped.
pub(super) enum DropReason {
    Undecodable,
    Unexpected,
}

impl From<Error13> for Step {
    fn from(e: Error13) -> Step {
        Step::Fatal(e)
    }
}

/// Refuses an authenticated message of another type than `t`.
pub(super) fn expect(m: &Message, t: u8, what: &'static str) -> Result<(), Step> {
    if m.msg_type.as_u8() == t {
        Ok(())
    } else {
        Err(Step::Fatal(Error13::UnexpectedMessage {
            got: m.msg_type.as_u8(),
            expected: what,
        }))
    }
}

/// Maps an authenticated message's decode error to a fatal step.
pub(super) fn decode(what: &'static str) -> impl Fn(crate::messages::MessageError) -> Step {
    move |error| Step::Fatal(Error13::Decode { what, error })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

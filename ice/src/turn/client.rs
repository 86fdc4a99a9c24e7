//! The TURN client of one allocation (RFC 8656), sans-IO.
//!
//! One [`TurnClient`] holds one allocation on one TURN server, reached from
//! one local transport address. It is fed what the server sends
//! ([`TurnClient::handle_input`]) and timeouts, and hands out what to send
//! to the server ([`TurnClient::poll_transmit`]) and events. Data for peers
//! goes through [`TurnClient::send`], which returns the bytes to send to the
//! server: a ChannelData message once a channel is bound (§12), a Send
//! indication before (§11.1).
//!
//! - Allocate (§7) first without credentials; the 401 names the realm and
//!   nonce, and the request is sent again with USERNAME, REALM, NONCE and
//!   MESSAGE-INTEGRITY under the long-term key (RFC 8489 §9.2). A 438 Stale
//!   Nonce is answered with the new nonce (a bounded number of times).
//! - 300 Try Alternate (RFC 8489 §10) moves to ALTERNATE-SERVER, a bounded
//!   number of times. 437 Allocation Mismatch (§7.3: an allocation already
//!   holds this 5-tuple, as after a restart that kept the socket) deletes it
//!   with a Refresh of lifetime 0 and allocates once more.
//! - The allocation is refreshed a minute before it expires (half-way for
//!   lifetimes under two minutes, §8); permissions (§9, 300 s) and channel
//!   bindings (§12, 600 s) are refreshed a minute before they lapse.
//! - [`TurnClient::close`] deletes the allocation with a Refresh of
//!   lifetime 0 (§8).
//! - Every response must match a request in flight, and a success response
//!   to an authenticated request must carry a valid MESSAGE-INTEGRITY; an
//!   error response with an invalid one is dropped too. ChannelData on a
//!   channel we did not bind, and Data indications from peers without a
//!   permission, are dropped. Each is counted in [`TurnStats`].

use super::channel_data::{emit_channel_data, ChannelData, MAX_CHANNEL, MIN_CHANNEL};
use super::credentials::{LongTermAuth, TurnCredentials};
use super::TurnError;
use crate::stun::{
    AttrType, Attribute, Class, ErrorCode, Message, MessageBuilder, Method, ShortTermKey,
    TransactionId,
};
use crate::transaction::{due, Fire, Retransmit};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// REQUESTED-TRANSPORT's protocol number for UDP (RFC 8656 §18.7).
const PROTOCOL_UDP: u8 = 17;
/// The allocation lifetime the server uses when the response has none
/// (RFC 8656 §7.2: the default is 10 minutes).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);

/// Ti of RFC 8489 §6.2.2: a request over TCP or TLS is not retransmitted
/// and fails after this long without a response.
const STREAM_TRANSACTION_TIMEOUT: Duration = Duration::from_millis(39_500);
/// How often a 438 Stale Nonce is answered for one request.
const MAX_NONCE_RETRIES: u8 = 3;
/// After a refused or unanswered ChannelBind, data goes in Send
/// indications and the binding is tried again (same number) this much later.
const CHANNEL_RETRY: Duration = Duration::from_secs(30);
/// A refused refresh of an installed permission is tried again this much
/// later.
const REFRESH_RETRY: Duration = Duration::from_secs(30);

/// Configuration of a [`TurnClient`].
#[derive(Debug, Clone)]
pub struct TurnConfig {
    /// The TURN server.
    pub server: SocketAddr,
    /// Long-term credentials.
    pub credentials: TurnCredentials,
    /// The allocation lifetime asked for (LIFETIME, §7.1); the server may
    /// grant less. Zero leaves the choice to the server.
    pub lifetime: Duration,
    /// Initial RTO of requests (RFC 8489 §6.2.1).
    pub rto: Duration,
    /// Requests sent before a transaction times out (Rc).
    pub max_sends: u32,
    /// A permission lasts 300 s (§9); it is refreshed after this long.
    pub permission_refresh: Duration,
    /// A channel binding lasts 600 s (§12); it is rebound after this long.
    pub channel_refresh: Duration,
    /// 300 Try Alternate redirections followed at most.
    pub max_redirects: u8,
    /// The server is reached over TCP or TLS: ChannelData is padded to
    /// four bytes (§12.5), and requests are not retransmitted (the stream
    /// does it) but time out after [`TurnConfig::stream_timeout`]
    /// (RFC 8489 §6.2.2).
    pub stream: bool,
    /// Ti, the transaction timeout over a stream (RFC 8489 §6.2.2: 39.5 s
    /// by default, covering TCP's own retransmissions).
    pub stream_timeout: Duration,
    /// SOFTWARE in our requests, if any.
    pub software: Option<String>,
}

impl TurnConfig {
    /// Defaults (RFC 8656's timers) for a server and credentials.
    pub fn new(server: SocketAddr, username: &str, password: &str) -> TurnConfig {
        TurnConfig {
            server,
            credentials: TurnCredentials {
                username: username.to_string(),
                password: password.to_string(),
            },
            lifetime: DEFAULT_LIFETIME,
            rto: Duration::from_millis(500),
            max_sends: 7,
            permission_refresh: Duration::from_secs(240),
            channel_refresh: Duration::from_secs(540),
            max_redirects: 2,
            stream: false,
            stream_timeout: STREAM_TRANSACTION_TIMEOUT,
            software: None,
        }
    }
}

/// Where the allocation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnState {
    /// [`TurnClient::allocate`] not called yet.
    Idle,
    /// Allocate in flight (authenticating, redirected, ...).
    Allocating,
    /// The relayed address is ours.
    Allocated,
    /// Deleting the allocation (Refresh with lifetime 0 in flight).
    Closing,
    /// Closed by the owner.
    Closed,
    /// The allocation failed or was lost; see the [`TurnEvent::Failed`].
    Failed,
}

/// What the client tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEvent {
    /// The allocation exists.
    Allocated {
        /// The relayed transport address, where peers send to us.
        relayed: SocketAddr,
        /// Our address as the server saw it (XOR-MAPPED-ADDRESS): a
        /// server-reflexive candidate.
        mapped: Option<SocketAddr>,
        /// The lifetime granted.
        lifetime: Duration,
    },
    /// A Refresh succeeded.
    Refreshed {
        /// The lifetime granted.
        lifetime: Duration,
    },
    /// A permission for this peer IP was installed (first time only).
    PermissionCreated(IpAddr),
    /// The server refused a permission (e.g. 403 for a forbidden peer).
    PermissionFailed {
        /// The peer IP.
        ip: IpAddr,
        /// The error code, or `None` on a timeout.
        code: Option<u16>,
    },
    /// A channel is bound: data to and from this peer uses ChannelData.
    ChannelBound {
        /// The peer.
        peer: SocketAddr,
        /// The channel number.
        channel: u16,
    },
    /// A 300 Try Alternate moved us to another server.
    Redirected {
        /// The new server.
        server: SocketAddr,
        /// Its ALTERNATE-DOMAIN (RFC 8489 §14.16), when the response over
        /// a stream carried a well-formed one: the name TLS to the
        /// alternate is checked for (§10). `None`: the first server's
        /// name applies.
        domain: Option<String>,
    },
    /// The allocation failed, or was lost.
    Failed(TurnError),
    /// The allocation is deleted after [`TurnClient::close`].
    Closed,
}

/// A message to send to the TURN server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnTransmit {
    /// The server's address.
    pub dst: SocketAddr,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// Data a peer sent us through the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// The peer's transport address (XOR-PEER-ADDRESS, or the channel's
    /// peer).
    pub peer: SocketAddr,
    /// The data as the peer sent it.
    pub data: &'a [u8],
    /// The channel it came on, if it was ChannelData.
    pub channel: Option<u16>,
}

/// Counters of a [`TurnClient`]: what it sent, and every message it
/// dropped and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TurnStats {
    /// Requests sent (first transmissions).
    pub requests_sent: u64,
    /// Retransmissions.
    pub retransmits: u64,
    /// Refresh requests sent (lifetime 0 included).
    pub refreshes_sent: u64,
    /// CreatePermission requests sent (first ones and refreshes, §9).
    pub permissions_sent: u64,
    /// ChannelBind requests sent (first ones and rebinds, §12).
    pub channel_binds_sent: u64,
    /// Allocation refreshes sent early because the server refused the
    /// refresh of a permission or channel it had granted.
    pub allocation_probes: u64,
    /// 438 Stale Nonce answered.
    pub stale_nonces: u64,
    /// 401 to a request signed under the server's realm: the credentials
    /// were refused (wrong, or TURN REST ones past their expiry).
    pub unauthorized: u64,
    /// 300 Try Alternate followed.
    pub redirects: u64,
    /// ALTERNATE-DOMAIN attributes ignored as malformed (empty, over 255
    /// bytes, or not a host name); the first server's name applies.
    pub bad_alternate_domains: u64,
    /// 437 Allocation Mismatch received.
    pub allocation_mismatches: u64,
    /// Send indications sent.
    pub send_indications: u64,
    /// ChannelData messages sent.
    pub channel_data_sent: u64,
    /// Data indications received and accepted.
    pub data_indications: u64,
    /// ChannelData messages received and accepted.
    pub channel_data_received: u64,
    /// Dropped: not STUN or ChannelData, or malformed.
    pub malformed: u64,
    /// Dropped: from an address other than the server.
    pub unexpected_source: u64,
    /// Dropped: a response to no request in flight (wrong transaction id,
    /// or a method other than the request's).
    pub unmatched_responses: u64,
    /// Dropped: a response with a wrong or missing MESSAGE-INTEGRITY.
    pub bad_integrity: u64,
    /// Dropped: ChannelData on a channel we did not bind.
    pub unknown_channel: u64,
    /// Dropped: a Data indication from a peer without a permission.
    pub no_permission: u64,
    /// Dropped: requests, other indications.
    pub unexpected: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Allocate,
    Refresh { lifetime: u32 },
    CreatePermission { peer: SocketAddr },
    ChannelBind { peer: SocketAddr, channel: u16 },
}

impl Request {
    fn method(self) -> Method {
        match self {
            Request::Allocate => Method::ALLOCATE,
            Request::Refresh { .. } => Method::REFRESH,
            Request::CreatePermission { .. } => Method::CREATE_PERMISSION,
            Request::ChannelBind { .. } => Method::CHANNEL_BIND,
        }
    }
}

#[derive(Debug, Clone)]
struct Txn {
    req: Request,
    /// The key the request was signed with, which the response must be
    /// signed with too.
    key: Option<ShortTermKey>,
    payload: Vec<u8>,
    timer: Retransmit,
    nonce_retries: u8,
}

#[derive(Debug, Clone)]
struct Permission {
    /// A CreatePermission or ChannelBind for this IP is in flight.
    pending: bool,
    /// Installed: when to refresh it.
    refresh_at: Option<Instant>,
    /// A peer port to name in the refresh (any port of the IP will do).
    peer: SocketAddr,
}

#[derive(Debug, Clone)]
struct Channel {
    number: u16,
    pending: bool,
    /// Bound: when to bind it again.
    refresh_at: Option<Instant>,
    /// Refused: when to try again.
    retry_at: Option<Instant>,
}

/// One TURN allocation. See the module documentation.
pub struct TurnClient {
    config: TurnConfig,
    rng: ChaCha20Rng,
    server: SocketAddr,
    state: TurnState,
    auth: Option<LongTermAuth>,
    relayed: Option<SocketAddr>,
    mapped: Option<SocketAddr>,
    refresh_at: Option<Instant>,
    expires_at: Option<Instant>,
    txns: BTreeMap<TransactionId, Txn>,
    permissions: BTreeMap<IpAddr, Permission>,
    channels: BTreeMap<SocketAddr, Channel>,
    by_channel: BTreeMap<u16, SocketAddr>,
    next_channel: u16,
    redirects: u8,
    mismatch_retried: bool,
    transmits: VecDeque<TurnTransmit>,
    events: VecDeque<TurnEvent>,
    stats: TurnStats,
}

impl std::fmt::Debug for TurnClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnClient")
            .field("server", &self.server)
            .field("state", &self.state)
            .field("relayed", &self.relayed)
            .field("channels", &self.channels.len())
            .finish()
    }
}

impl TurnClient {
    /// A client; `seed` seeds its transaction ids.
    pub fn new(config: TurnConfig, seed: [u8; 32]) -> TurnClient {
        TurnClient {
            server: config.server,
            config,
            rng: ChaCha20Rng::from_seed(seed),
            state: TurnState::Idle,
            auth: None,
            relayed: None,
            mapped: None,
            refresh_at: None,
            expires_at: None,
            txns: BTreeMap::new(),
            permissions: BTreeMap::new(),
            channels: BTreeMap::new(),
            by_channel: BTreeMap::new(),
            next_channel: MIN_CHANNEL,
            redirects: 0,
            mismatch_retried: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: TurnStats::default(),
        }
    }

    // ----- accessors -------------------------------------------------------

    /// The server we talk to now (it changes after a 300 Try Alternate).
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// How many more 300 Try Alternate redirections this client follows.
    pub fn redirects_left(&self) -> u8 {
        self.config.max_redirects.saturating_sub(self.redirects)
    }

    /// The allocation's state.
    pub fn state(&self) -> TurnState {
        self.state
    }

    /// The relayed transport address, once allocated.
    pub fn relayed_address(&self) -> Option<SocketAddr> {
        self.relayed.filter(|_| self.state == TurnState::Allocated)
    }

    /// Our address as the server saw it, once allocated.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        self.mapped
    }

    /// The channel bound to `peer`, if the binding succeeded.
    pub fn channel(&self, peer: SocketAddr) -> Option<u16> {
        self.channels
            .get(&peer)
            .filter(|c| c.refresh_at.is_some())
            .map(|c| c.number)
    }

    /// Whether a permission for `ip` is installed.
    pub fn has_permission(&self, ip: IpAddr) -> bool {
        self.permissions
            .get(&ip)
            .is_some_and(|p| p.refresh_at.is_some())
    }

    /// Counters.
    pub fn stats(&self) -> TurnStats {
        self.stats
    }

    // ----- owner input -----------------------------------------------------

    /// Starts the allocation (§7.1).
    pub fn allocate(&mut self, now: Instant) {
        if self.state != TurnState::Idle {
            return;
        }
        self.state = TurnState::Allocating;
        self.start(now, Request::Allocate, 0);
    }

    /// Asks for a permission for `peer`'s IP address (§9), unless one is
    /// installed or on its way. Before the allocation exists, the request
    /// waits for it.
    pub fn create_permission(&mut self, now: Instant, peer: SocketAddr) {
        if matches!(
            self.state,
            TurnState::Closing | TurnState::Closed | TurnState::Failed
        ) || self.permissions.contains_key(&peer.ip())
        {
            return;
        }
        let send = self.state == TurnState::Allocated;
        self.permissions.insert(
            peer.ip(),
            Permission {
                pending: send,
                refresh_at: None,
                peer,
            },
        );
        if send {
            self.start(now, Request::CreatePermission { peer }, 0);
        }
    }

    /// Binds a channel to `peer` (§12.1), unless one is bound or on its
    /// way. Needs the allocation; a no-op without it or when the 4096
    /// channel numbers are used up (data then goes in Send indications).
    pub fn bind_channel(&mut self, now: Instant, peer: SocketAddr) {
        if self.state != TurnState::Allocated {
            return;
        }
        if let Some(c) = self.channels.get_mut(&peer) {
            if c.retry_at.is_some_and(|t| now >= t) {
                c.retry_at = None;
                c.pending = true;
                let channel = c.number;
                self.start(now, Request::ChannelBind { peer, channel }, 0);
            }
            return;
        }
        if self.next_channel > MAX_CHANNEL {
            return;
        }
        let channel = self.next_channel;
        self.next_channel += 1;
        self.channels.insert(
            peer,
            Channel {
                number: channel,
                pending: true,
                refresh_at: None,
                retry_at: None,
            },
        );
        self.by_channel.insert(channel, peer);
        self.start(now, Request::ChannelBind { peer, channel }, 0);
    }

    /// Wraps `data` for `peer`: ChannelData on a bound channel, a Send
    /// indication otherwise (§11.1, §12). The returned bytes go to
    /// [`TurnClient::server`]. The first data for a peer also asks for its
    /// permission and channel, which leave through `poll_transmit`: send
    /// those first, so the server has the permission when the data arrives.
    pub fn send(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        data: &[u8],
    ) -> Result<Vec<u8>, TurnError> {
        if self.state != TurnState::Allocated {
            return Err(TurnError::NotAllocated);
        }
        self.create_permission(now, peer);
        self.bind_channel(now, peer);
        let mut out = Vec::with_capacity(data.len() + 36);
        if let Some(ch) = self.channel(peer) {
            emit_channel_data(&mut out, ch, data, self.config.stream)?;
            self.stats.channel_data_sent += 1;
            return Ok(out);
        }
        // XOR-PEER-ADDRESS (up to 24 bytes) and the DATA header take room.
        if data.len() > usize::from(u16::MAX) - 32 {
            return Err(TurnError::DataTooLong(data.len()));
        }
        let tid = self.new_tid();
        let mut b = MessageBuilder::new(&mut out, Class::Indication, Method::SEND, tid);
        b.add_xor_address(AttrType::XOR_PEER_ADDRESS, peer)?;
        b.add_raw(AttrType::DATA, data)?;
        self.stats.send_indications += 1;
        Ok(out)
    }

    /// Deletes the allocation (a Refresh with lifetime 0, §8): the client
    /// is `Closed` once the server answers or the request times out.
    pub fn close(&mut self, now: Instant) {
        let allocated = self.state == TurnState::Allocated;
        self.txns.clear();
        self.permissions.clear();
        self.channels.clear();
        self.by_channel.clear();
        if allocated {
            self.state = TurnState::Closing;
            self.start(now, Request::Refresh { lifetime: 0 }, 0);
        } else if self.state != TurnState::Closed {
            self.state = TurnState::Closed;
            self.events.push_back(TurnEvent::Closed);
        }
    }

    // ----- input -----------------------------------------------------------

    /// A datagram (or a frame of the stream) from `from`. Data from a peer
    /// is returned; everything else is handled here. Bad input is counted
    /// and returned as the error; it changes nothing.
    pub fn handle_input<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &'a [u8],
    ) -> Result<Option<Received<'a>>, TurnError> {
        if from != self.server {
            self.stats.unexpected_source += 1;
            return Err(TurnError::UnexpectedSource(from));
        }
        if matches!(data.first(), Some(64..=79)) {
            return self.handle_channel_data(data).map(Some);
        }
        let msg = Message::parse_verified(data).inspect_err(|_| self.stats.malformed += 1)?;
        match (msg.class(), msg.method()) {
            (Class::Indication, Method::DATA) => self.handle_data_indication(&msg).map(Some),
            (Class::Success | Class::Error, _) => self.handle_response(now, &msg).map(|()| None),
            (class, _) => {
                self.stats.unexpected += 1;
                Err(TurnError::Unexpected(class.name()))
            }
        }
    }

    fn handle_channel_data<'a>(&mut self, data: &'a [u8]) -> Result<Received<'a>, TurnError> {
        let cd = ChannelData::parse(data).inspect_err(|_| self.stats.malformed += 1)?;
        let Some(&peer) = self.by_channel.get(&cd.channel()) else {
            self.stats.unknown_channel += 1;
            return Err(TurnError::UnknownChannel(cd.channel()));
        };
        self.stats.channel_data_received += 1;
        Ok(Received {
            peer,
            data: cd.data(),
            channel: Some(cd.channel()),
        })
    }

    fn handle_data_indication<'a>(&mut self, msg: &Message<'a>) -> Result<Received<'a>, TurnError> {
        let peer = msg.xor_address(AttrType::XOR_PEER_ADDRESS).ok().flatten();
        let data = msg.raw(AttrType::DATA).map(|r| r.value);
        let (Some(peer), Some(data)) = (peer, data) else {
            self.stats.malformed += 1;
            return Err(TurnError::BadDataIndication);
        };
        if !self.permissions.contains_key(&peer.ip()) {
            self.stats.no_permission += 1;
            return Err(TurnError::NoPermission(peer));
        }
        self.stats.data_indications += 1;
        Ok(Received {
            peer,
            data,
            channel: None,
        })
    }

    fn handle_response(&mut self, now: Instant, msg: &Message<'_>) -> Result<(), TurnError> {
        let tid = msg.transaction_id();
        let Some(txn) = self.txns.get(&tid) else {
            self.stats.unmatched_responses += 1;
            return Err(TurnError::UnmatchedTransaction);
        };
        if txn.req.method() != msg.method() {
            self.stats.unmatched_responses += 1;
            return Err(TurnError::UnmatchedTransaction);
        }
        // RFC 8489 §9.2.4: a response to an authenticated request is signed
        // with the same key. Error responses may come unsigned (a 401 or 438
        // cannot be signed by a server that rejects the nonce), but a
        // signature that is there must be right.
        if let Some(key) = &txn.key {
            let must = msg.class() == Class::Success || msg.has_integrity();
            if must && msg.verify_integrity(key).is_err() {
                self.stats.bad_integrity += 1;
                return Err(TurnError::BadIntegrity);
            }
        }
        let Some(txn) = self.txns.remove(&tid) else {
            return Err(TurnError::UnmatchedTransaction);
        };
        if msg.class() == Class::Success {
            self.on_success(now, txn.req, msg)
        } else {
            let code = msg.error_code().ok().flatten().map(|e| e.code);
            self.on_error(now, &txn, code, msg);
        }
        Ok(())
    }

    fn lifetime_of(msg: &Message<'_>) -> Option<Duration> {
        let raw = msg.raw(AttrType::LIFETIME)?;
        let secs = u32::from_be_bytes(raw.value.try_into().ok()?);
        Some(Duration::from_secs(secs.into()))
    }

    fn schedule_refresh(&mut self, now: Instant, lifetime: Duration) {
        // §8: refresh before expiry; a minute ahead, or half-way for short
        // lifetimes.
        let ahead = Duration::from_secs(60).min(lifetime / 2);
        self.refresh_at = Some(now + (lifetime - ahead));
        self.expires_at = Some(now + lifetime);
    }

    fn on_success(&mut self, now: Instant, req: Request, msg: &Message<'_>) {
        match req {
            Request::Allocate => {
                if self.state != TurnState::Allocating {
                    return;
                }
                let Ok(Some(relayed)) = msg.xor_address(AttrType::XOR_RELAYED_ADDRESS) else {
                    self.fail(TurnError::MissingRelayedAddress);
                    return;
                };
                self.mapped = match msg.get(AttrType::XOR_MAPPED_ADDRESS) {
                    Some(Ok(Attribute::XorMappedAddress(a))) => Some(a),
                    _ => None,
                };
                let lifetime = Self::lifetime_of(msg).unwrap_or(DEFAULT_LIFETIME);
                self.relayed = Some(relayed);
                self.state = TurnState::Allocated;
                self.schedule_refresh(now, lifetime);
                self.events.push_back(TurnEvent::Allocated {
                    relayed,
                    mapped: self.mapped,
                    lifetime,
                });
                // Permissions asked for before the allocation existed.
                let waiting: Vec<SocketAddr> = self
                    .permissions
                    .values()
                    .filter(|p| !p.pending && p.refresh_at.is_none())
                    .map(|p| p.peer)
                    .collect();
                for peer in waiting {
                    if let Some(p) = self.permissions.get_mut(&peer.ip()) {
                        p.pending = true;
                    }
                    self.start(now, Request::CreatePermission { peer }, 0);
                }
            }
            Request::Refresh { lifetime: 0 } => {
                if self.state == TurnState::Closing {
                    self.closed();
                }
            }
            Request::Refresh { lifetime } => {
                if self.state != TurnState::Allocated {
                    return;
                }
                let granted =
                    Self::lifetime_of(msg).unwrap_or(Duration::from_secs(lifetime.into()));
                if granted.is_zero() {
                    self.fail(TurnError::AllocationLost);
                    return;
                }
                self.schedule_refresh(now, granted);
                self.events
                    .push_back(TurnEvent::Refreshed { lifetime: granted });
            }
            Request::CreatePermission { peer } => self.permission_installed(now, peer),
            Request::ChannelBind { peer, channel } => {
                // §12.2: a binding also installs or refreshes the permission.
                self.permission_installed(now, peer);
                let refresh = now + self.config.channel_refresh;
                if let Some(c) = self.channels.get_mut(&peer) {
                    let first = c.refresh_at.is_none();
                    c.pending = false;
                    c.refresh_at = Some(refresh);
                    if first {
                        self.events
                            .push_back(TurnEvent::ChannelBound { peer, channel });
                    }
                }
            }
        }
    }

    fn permission_installed(&mut self, now: Instant, peer: SocketAddr) {
        let refresh = now + self.config.permission_refresh;
        let p = self.permissions.entry(peer.ip()).or_insert(Permission {
            pending: false,
            refresh_at: None,
            peer,
        });
        let first = p.refresh_at.is_none();
        p.pending = false;
        p.refresh_at = Some(refresh);
        if first {
            self.events
                .push_back(TurnEvent::PermissionCreated(peer.ip()));
        }
    }

    fn on_error(&mut self, now: Instant, txn: &Txn, code: Option<u16>, msg: &Message<'_>) {
        let realm = match msg.get(AttrType::REALM) {
            Some(Ok(Attribute::Realm(r))) => Some(r),
            _ => None,
        };
        let nonce = match msg.get(AttrType::NONCE) {
            Some(Ok(Attribute::Nonce(n))) => Some(n),
            _ => None,
        };
        match code {
            Some(ErrorCode::UNAUTHORIZED) => {
                let (Some(realm), Some(nonce)) = (realm, nonce) else {
                    self.request_failed(now, txn.req, TurnError::MissingRealmOrNonce(401), code);
                    return;
                };
                // A 401 to a signed request under the same realm: the
                // credentials are wrong (RFC 8489 §9.2.5).
                let same_realm = self.auth.as_ref().is_some_and(|a| a.realm == realm);
                if txn.key.is_some() && same_realm {
                    self.stats.unauthorized += 1;
                    self.request_failed(now, txn.req, TurnError::Unauthorized, code);
                    return;
                }
                self.auth = Some(LongTermAuth::new(&self.config.credentials, realm, nonce));
                self.start(now, txn.req, txn.nonce_retries);
            }
            Some(ErrorCode::STALE_NONCE) => {
                self.stats.stale_nonces += 1;
                let Some(nonce) = nonce else {
                    self.request_failed(now, txn.req, TurnError::MissingRealmOrNonce(438), code);
                    return;
                };
                if txn.nonce_retries >= MAX_NONCE_RETRIES {
                    self.request_failed(now, txn.req, TurnError::StaleNonceLoop, code);
                    return;
                }
                match (&mut self.auth, realm) {
                    (Some(a), Some(r)) if a.realm != r => {
                        *a = LongTermAuth::new(&self.config.credentials, r, nonce)
                    }
                    (Some(a), _) => a.nonce = nonce.to_string(),
                    (None, Some(r)) => {
                        self.auth = Some(LongTermAuth::new(&self.config.credentials, r, nonce))
                    }
                    (None, None) => {
                        self.request_failed(
                            now,
                            txn.req,
                            TurnError::MissingRealmOrNonce(438),
                            code,
                        );
                        return;
                    }
                }
                self.start(now, txn.req, txn.nonce_retries + 1);
            }
            Some(ErrorCode::TRY_ALTERNATE) if txn.req == Request::Allocate => {
                let alt = match msg.get(AttrType::ALTERNATE_SERVER) {
                    Some(Ok(Attribute::AlternateServer(a))) => Some(a),
                    _ => None,
                };
                // Only a stream can be TLS; over UDP the name checks nothing.
                let domain = match msg.get(AttrType::ALTERNATE_DOMAIN) {
                    Some(Ok(Attribute::Other { value, .. })) if self.config.stream => {
                        let name = alternate_domain(value);
                        if name.is_none() {
                            self.stats.bad_alternate_domains += 1;
                        }
                        name
                    }
                    _ => None,
                };
                match alt {
                    Some(alt) if self.redirects < self.config.max_redirects => {
                        self.redirects += 1;
                        self.stats.redirects += 1;
                        self.server = alt;
                        // A new server has its own realm and nonces.
                        self.auth = None;
                        self.txns.clear();
                        self.events.push_back(TurnEvent::Redirected {
                            server: alt,
                            domain,
                        });
                        self.start(now, Request::Allocate, 0);
                    }
                    _ => self.fail(TurnError::BadRedirect),
                }
            }
            Some(ErrorCode::ALLOCATION_MISMATCH) => {
                self.stats.allocation_mismatches += 1;
                match txn.req {
                    Request::Allocate if !self.mismatch_retried && self.auth.is_some() => {
                        // §7.3: this 5-tuple holds an allocation already
                        // (ours, from before a restart): delete it, then
                        // allocate again.
                        self.mismatch_retried = true;
                        self.start(now, Request::Refresh { lifetime: 0 }, 0);
                        self.start(now, Request::Allocate, 0);
                    }
                    Request::Allocate => self.fail(TurnError::AllocationMismatch),
                    Request::Refresh { lifetime: 0 } if self.state == TurnState::Closing => {
                        self.closed()
                    }
                    Request::Refresh { lifetime: 0 } => {}
                    // §8: a 437 to a Refresh, CreatePermission or
                    // ChannelBind means the server has no allocation.
                    _ => self.fail(TurnError::AllocationLost),
                }
            }
            _ => self.request_failed(
                now,
                txn.req,
                TurnError::ErrorResponse(code.unwrap_or(0)),
                code,
            ),
        }
    }

    /// A request ended without success.
    fn request_failed(&mut self, now: Instant, req: Request, err: TurnError, code: Option<u16>) {
        match req {
            Request::Allocate => {
                if self.state == TurnState::Allocating {
                    self.fail(err)
                }
            }
            Request::Refresh { lifetime: 0 } => {
                if self.state == TurnState::Closing {
                    self.closed();
                }
            }
            Request::Refresh { .. } => {
                if self.state == TurnState::Allocated {
                    self.fail(err)
                }
            }
            Request::CreatePermission { peer } => {
                // Installed earlier: keep it until it lapses, and try the
                // refresh again later (not at once: a server that keeps
                // refusing would get a request per answer); otherwise gone.
                let installed = self.permissions.get_mut(&peer.ip()).map(|p| {
                    p.pending = false;
                    if p.refresh_at.is_some() {
                        p.refresh_at = Some(now + REFRESH_RETRY);
                    }
                    p.refresh_at.is_some()
                });
                match installed {
                    Some(false) => {
                        self.permissions.remove(&peer.ip());
                        self.events.push_back(TurnEvent::PermissionFailed {
                            ip: peer.ip(),
                            code,
                        });
                    }
                    Some(true) => self.probe_allocation(now),
                    None => {}
                }
            }
            Request::ChannelBind { peer, .. } => {
                // Data goes in Send indications until a later try binds the
                // same number (a server may have bound it after all, and
                // refuses a peer a second number, RFC 8656 §12.2).
                let mut was_bound = false;
                if let Some(c) = self.channels.get_mut(&peer) {
                    was_bound = c.refresh_at.is_some();
                    c.pending = false;
                    c.refresh_at = None;
                    c.retry_at = Some(now + CHANNEL_RETRY);
                }
                if was_bound {
                    self.probe_allocation(now);
                }
            }
        }
    }

    /// A refresh of a permission or channel the server had granted was
    /// refused: the allocation itself may be gone (coturn answers such
    /// requests on a 5-tuple without an allocation with 400, and only a
    /// Refresh with 437, §8), so the allocation is refreshed now; a 437
    /// to that ends it as lost.
    fn probe_allocation(&mut self, now: Instant) {
        if self.state == TurnState::Allocated {
            self.stats.allocation_probes += 1;
            self.refresh_at = Some(now);
        }
    }

    fn fail(&mut self, err: TurnError) {
        self.state = TurnState::Failed;
        self.txns.clear();
        self.permissions.clear();
        self.channels.clear();
        self.by_channel.clear();
        self.refresh_at = None;
        self.expires_at = None;
        self.events.push_back(TurnEvent::Failed(err));
    }

    fn closed(&mut self) {
        self.state = TurnState::Closed;
        self.txns.clear();
        self.refresh_at = None;
        self.expires_at = None;
        self.events.push_back(TurnEvent::Closed);
    }

    // ----- requests --------------------------------------------------------

    fn new_tid(&mut self) -> TransactionId {
        let mut id = [0u8; 12];
        self.rng.fill_bytes(&mut id);
        TransactionId(id)
    }

    fn start(&mut self, now: Instant, req: Request, nonce_retries: u8) {
        let tid = self.new_tid();
        let payload = self.build(req, tid);
        self.stats.requests_sent += 1;
        match req {
            Request::Refresh { .. } => self.stats.refreshes_sent += 1,
            Request::CreatePermission { .. } => self.stats.permissions_sent += 1,
            Request::ChannelBind { .. } => self.stats.channel_binds_sent += 1,
            Request::Allocate => {}
        }
        self.transmits.push_back(TurnTransmit {
            dst: self.server,
            payload: payload.clone(),
        });
        // Over TCP or TLS the transport retransmits: one request, and the
        // transaction times out after Ti (RFC 8489 §6.2.2).
        let timer = if self.config.stream {
            Retransmit::start(now, self.config.stream_timeout, 1, 1)
        } else {
            Retransmit::start(now, self.config.rto, self.config.max_sends, 16)
        };
        self.txns.insert(
            tid,
            Txn {
                req,
                key: self.auth.as_ref().map(|a| a.key.clone()),
                payload,
                timer,
                nonce_retries,
            },
        );
    }

    fn build(&self, req: Request, tid: TransactionId) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        let mut b = MessageBuilder::new(&mut out, Class::Request, req.method(), tid);
        // Every value below fits its attribute, so the builder cannot fail;
        // a failure would only leave the attribute out.
        let lifetime = |secs: u32| secs.to_be_bytes();
        match req {
            Request::Allocate => {
                let _ = b.add_raw(AttrType::REQUESTED_TRANSPORT, &[PROTOCOL_UDP, 0, 0, 0]);
                let secs = u32::try_from(self.config.lifetime.as_secs()).unwrap_or(u32::MAX);
                if secs > 0 {
                    let _ = b.add_raw(AttrType::LIFETIME, &lifetime(secs));
                }
            }
            Request::Refresh { lifetime: secs } => {
                let _ = b.add_raw(AttrType::LIFETIME, &lifetime(secs));
            }
            Request::CreatePermission { peer } => {
                let _ = b.add_xor_address(AttrType::XOR_PEER_ADDRESS, peer);
            }
            Request::ChannelBind { peer, channel } => {
                let c = channel.to_be_bytes();
                let _ = b.add_raw(AttrType::CHANNEL_NUMBER, &[c[0], c[1], 0, 0]);
                let _ = b.add_xor_address(AttrType::XOR_PEER_ADDRESS, peer);
            }
        }
        if let Some(s) = &self.config.software {
            let _ = b.add(&Attribute::Software(s));
        }
        if let Some(a) = &self.auth {
            let _ = b.add(&Attribute::Username(&self.config.credentials.username));
            let _ = b.add(&Attribute::Realm(&a.realm));
            let _ = b.add(&Attribute::Nonce(&a.nonce));
            let _ = b.add_message_integrity(&a.key);
        }
        let _ = b.add_fingerprint();
        out
    }

    // ----- time ------------------------------------------------------------

    /// Retransmissions, refreshes of the allocation, permissions and
    /// channels, and expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        for tid in due(&self.txns, now, |t| &t.timer) {
            let Some(txn) = self.txns.get_mut(&tid) else {
                continue;
            };
            match txn.timer.fire(now) {
                Fire::Resend => {
                    self.stats.retransmits += 1;
                    let payload = txn.payload.clone();
                    self.transmits.push_back(TurnTransmit {
                        dst: self.server,
                        payload,
                    });
                }
                Fire::GiveUp => {
                    if let Some(txn) = self.txns.remove(&tid) {
                        match txn.req {
                            // A lost refresh is tried again while the
                            // allocation lives; expiry below ends it.
                            Request::Refresh { lifetime } if lifetime > 0 => {
                                self.refresh_at = Some(now);
                            }
                            req => self.request_failed(now, req, TurnError::Timeout, None),
                        }
                    }
                }
            }
        }
        if self.state != TurnState::Allocated {
            return;
        }
        if self.expires_at.is_some_and(|t| now >= t) {
            self.fail(TurnError::AllocationLost);
            return;
        }
        let refreshing = self
            .txns
            .values()
            .any(|t| matches!(t.req, Request::Refresh { .. }));
        if !refreshing && self.refresh_at.is_some_and(|t| now >= t) {
            self.refresh_at = None;
            let secs = u32::try_from(self.config.lifetime.as_secs()).unwrap_or(u32::MAX);
            self.start(
                now,
                Request::Refresh {
                    lifetime: secs.max(1),
                },
                0,
            );
        }
        let perms: Vec<SocketAddr> = self
            .permissions
            .values()
            .filter(|p| !p.pending && p.refresh_at.is_some_and(|t| now >= t))
            .map(|p| p.peer)
            .collect();
        for peer in perms {
            if let Some(p) = self.permissions.get_mut(&peer.ip()) {
                p.pending = true;
            }
            self.start(now, Request::CreatePermission { peer }, 0);
        }
        let chans: Vec<(SocketAddr, u16)> = self
            .channels
            .iter()
            .filter(|(_, c)| !c.pending && c.refresh_at.is_some_and(|t| now >= t))
            .map(|(p, c)| (*p, c.number))
            .collect();
        for (peer, channel) in chans {
            if let Some(c) = self.channels.get_mut(&peer) {
                c.pending = true;
            }
            self.start(now, Request::ChannelBind { peer, channel }, 0);
        }
    }

    /// When [`TurnClient::handle_timeout`] should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.txns.values().map(|x| x.timer.deadline).min();
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |y| y.min(x)));
            }
        };
        if self.state == TurnState::Allocated {
            consider(self.expires_at);
            // A due refresh waits for a Refresh already in flight (its
            // own timer counts): reporting it would be a deadline that
            // `handle_timeout` cannot move (found by the turn_client
            // fuzz target).
            let refreshing = self
                .txns
                .values()
                .any(|t| matches!(t.req, Request::Refresh { .. }));
            if !refreshing {
                consider(self.refresh_at);
            }
            for p in self.permissions.values().filter(|p| !p.pending) {
                consider(p.refresh_at);
            }
            for c in self.channels.values().filter(|c| !c.pending) {
                consider(c.refresh_at);
            }
        }
        t
    }

    /// The next message to send to the server.
    pub fn poll_transmit(&mut self) -> Option<TurnTransmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<TurnEvent> {
        self.events.pop_front()
    }
}

/// An ALTERNATE-DOMAIN value (RFC 8489 §14.16) as a host name: 1 to 255
/// bytes (RFC 1035 §2.3.4) of letters, digits, hyphens and dots, with no
/// empty label. Anything else is `None`: the name is handed to TLS as the
/// identity to check (RFC 6125), so only what can name a host passes.
fn alternate_domain(value: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(value).ok()?;
    let host_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let labels_ok = name.split('.').all(|l| !l.is_empty() && l.len() <= 63);
    ((1..=255).contains(&name.len()) && name.chars().all(host_char) && labels_ok)
        .then(|| name.to_ascii_lowercase())
}

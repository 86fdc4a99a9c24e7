//! The ICE agent (RFC 8445, full implementation, one component), with
//! trickle (RFC 8838) and consent freshness (RFC 7675). Sans-IO.
//!
//! The agent is fed local addresses, remote credentials and candidates by
//! its owner, datagrams (STUN only: demultiplexing is the owner's job) and
//! timeouts; it hands out datagrams to send, events and the next timeout:
//!
//! ```
//! use meshrtc_ice::{IceAgent, IceConfig, IceEvent};
//! use std::time::Instant;
//! let now = Instant::now();
//! let mut agent = IceAgent::new(IceConfig::controlling(1), now);
//! agent.add_local_host("127.0.0.1:5000".parse().unwrap()).unwrap();
//! agent.start_gathering(now);
//! // The owner's loop: drain transmits and events, sleep until poll_timeout,
//! // feed datagrams with handle_datagram and timers with handle_timeout.
//! while let Some(t) = agent.poll_transmit() { /* socket.send_to(&t.payload, t.dst) */ let _ = t; }
//! let mut saw_candidate = false;
//! while let Some(e) = agent.poll_event() {
//!     saw_candidate |= matches!(e, IceEvent::LocalCandidate(_));
//! }
//! assert!(saw_candidate);
//! ```

use crate::candidate::{foundation, pair_priority, priority, Candidate, CandidateKind};
use crate::stun::{
    Attribute, Class, ErrorCode, Message, MessageBuilder, Method, ShortTermKey, StunError,
    TransactionId,
};
use crate::transaction::{Fire, Retransmit};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod local_removal;
mod relay;
mod relay_redirect;
pub use relay::{RelayTransportRequest, RelayedData, TurnServer, TurnTransport};
pub use relay_redirect::TurnStreamRedirect;

/// Configuration of an [`IceAgent`].
#[derive(Debug, Clone)]
pub struct IceConfig {
    /// Start as the controlling agent (the offerer is, RFC 8445 §6.1.1).
    pub controlling: bool,
    /// Seed of the agent's CSPRNG (transaction ids, tie-breaker,
    /// credentials, consent jitter). The driver seeds it from the OS; tests
    /// use fixed seeds.
    pub seed: [u8; 32],
    /// Local ufrag; generated (8 ice-chars) when `None`.
    pub local_ufrag: Option<String>,
    /// Local password; generated (24 ice-chars) when `None`.
    pub local_pwd: Option<String>,
    /// STUN servers for server-reflexive candidates.
    pub stun_servers: Vec<SocketAddr>,
    /// Gathering ends at this deadline even if a STUN server never answers.
    pub gather_timeout: Duration,
    /// Initial RTO of requests to STUN servers (RFC 8489 §6.2.1).
    pub stun_rto: Duration,
    /// Requests sent to a STUN server before giving up (Rc).
    pub stun_max_sends: u32,
    /// Pacing of connectivity checks (RFC 8445 §14.2).
    pub ta: Duration,
    /// Lower bound of the RTO of connectivity checks (RFC 8445 §14.3).
    pub check_rto: Duration,
    /// Requests sent per connectivity check before the pair fails.
    pub check_max_sends: u32,
    /// How long the controlling agent waits for higher-priority pairs once
    /// a pair is valid before nominating the best valid one.
    pub nomination_wait: Duration,
    /// Mean interval of consent checks (RFC 7675 §5.1: 5 s, ±20% jitter).
    pub consent_interval: Duration,
    /// Without a consent response for this long the agent is disconnected.
    pub disconnected_timeout: Duration,
    /// Without a consent response for this long consent is lost for good
    /// (RFC 7675 §5.1: 30 s); only an ICE restart recovers.
    pub consent_timeout: Duration,
    /// Most remote candidates kept (peer-reflexive included).
    pub max_remote_candidates: usize,
    /// SOFTWARE attribute in our messages, if any.
    pub software: Option<String>,
    /// TURN servers: one allocation per server and host base of its address
    /// family, each a relay candidate (RFC 8445 §5.1.1.2).
    pub turn_servers: Vec<TurnServer>,
    /// Use relay candidates only (the W3C `iceTransportPolicy: "relay"`):
    /// host and server-reflexive candidates are neither signalled nor
    /// paired; host addresses serve only to reach the TURN servers.
    pub relay_only: bool,
    /// TURN permissions are refreshed after this long (RFC 8656 §9: they
    /// last 300 s; the default is 240 s). Shorter only to test a server
    /// whose permissions were shortened (coturn `--permission-lifetime`).
    pub turn_permission_refresh: Duration,
    /// TURN channel bindings are refreshed after this long (§12: they last
    /// 600 s; the default is 540 s).
    pub turn_channel_refresh: Duration,
    /// On an ICE restart, ask the owner for a new local transport per
    /// allocation ([`IceAgent::poll_relay_transport_request`]) and allocate
    /// on it with the current `turn_servers` credentials, while the old
    /// allocation carries media until the restart selects a pair; then the
    /// old one is deleted (RFC 8656 §7.3: one allocation per 5-tuple, so a
    /// new one needs a new local port or connection). Off, a restart keeps
    /// the allocations and their relayed candidates.
    pub new_relays_on_restart: bool,
}

impl IceConfig {
    /// Defaults for the controlling role with a seed derived from `seed`.
    pub fn controlling(seed: u64) -> IceConfig {
        IceConfig {
            controlling: true,
            ..IceConfig::controlled(seed)
        }
    }

    /// Defaults for the controlled role with a seed derived from `seed`.
    pub fn controlled(seed: u64) -> IceConfig {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        IceConfig {
            controlling: false,
            seed: s,
            local_ufrag: None,
            local_pwd: None,
            stun_servers: Vec::new(),
            gather_timeout: Duration::from_secs(3),
            stun_rto: Duration::from_millis(500),
            stun_max_sends: 7,
            ta: Duration::from_millis(50),
            check_rto: Duration::from_millis(500),
            check_max_sends: 7,
            nomination_wait: Duration::from_millis(500),
            consent_interval: Duration::from_secs(5),
            disconnected_timeout: Duration::from_secs(8),
            consent_timeout: Duration::from_secs(30),
            max_remote_candidates: 64,
            software: None,
            turn_servers: Vec::new(),
            relay_only: false,
            turn_permission_refresh: Duration::from_secs(240),
            turn_channel_refresh: Duration::from_secs(540),
            new_relays_on_restart: false,
        }
    }
}

/// The agent's connection state (the W3C `RTCIceConnectionState` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IceState {
    /// Waiting for remote candidates.
    New,
    /// Checks are running; no pair works yet.
    Checking,
    /// A pair works; nomination is not finished.
    Connected,
    /// A nominated pair is selected.
    Completed,
    /// Consent was lost (final until an ICE restart), or every pair failed
    /// after the remote side signalled end-of-candidates.
    Failed,
    /// The selected pair stopped answering consent checks for a while.
    Disconnected,
    /// [`IceAgent::close`] was called.
    Closed,
}

/// What the agent tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IceEvent {
    /// A local candidate to signal to the peer (trickle).
    LocalCandidate(Candidate),
    /// No more local candidates (signal end-of-candidates).
    GatheringComplete,
    /// The connection state changed.
    StateChanged(IceState),
    /// Media now goes from `local` to `remote`.
    SelectedPair {
        /// Our base address.
        local: SocketAddr,
        /// The peer's address.
        remote: SocketAddr,
        /// Whether the pair is nominated (else provisional).
        nominated: bool,
    },
    /// A role conflict (RFC 8445 §7.3.1.1) changed our role.
    RoleChanged {
        /// The new role.
        controlling: bool,
    },
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Our local address to send from.
    pub src: SocketAddr,
    /// The destination.
    pub dst: SocketAddr,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// Errors of the agent's API and of received datagrams (each also counted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IceError {
    /// The datagram is not a valid STUN message.
    #[error("malformed STUN: {0}")]
    Stun(#[from] StunError),
    /// A local address the agent cannot advertise (unspecified or port 0).
    #[error("{0} cannot be a local candidate")]
    UnusableLocalAddress(SocketAddr),
    /// A remote candidate without a usable address (unspecified or port 0).
    #[error("{0} cannot be a remote candidate")]
    UnusableRemoteAddress(SocketAddr),
    /// Too many remote candidates already.
    #[error("remote candidate limit ({0}) reached")]
    TooManyCandidates(usize),
    /// A datagram from a TURN server that the TURN client dropped.
    #[error("TURN: {0}")]
    Turn(#[from] crate::turn::TurnError),
    /// Credentials outside RFC 8839 §5.4 (ufrag 4–256, pwd 22–256 ice-chars).
    #[error("invalid ICE credentials: {0}")]
    InvalidCredentials(&'static str),
    /// The agent was closed.
    #[error("the agent is closed")]
    Closed,
    /// [`IceAgent::add_turn_stream`] for a server not configured with a
    /// stream transport.
    #[error("{0} is no TCP or TLS TURN server of the configuration")]
    UnknownTurnServer(SocketAddr),
}

/// Counters of everything the agent received and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IceStats {
    /// Binding requests received (any outcome).
    pub requests_received: u64,
    /// Success responses we sent.
    pub responses_sent: u64,
    /// 400 Bad Request sent (no USERNAME/MESSAGE-INTEGRITY/PRIORITY/role).
    pub bad_requests: u64,
    /// 401 Unauthorized sent (wrong ufrag or integrity).
    pub unauthorized: u64,
    /// 420 Unknown Attribute sent.
    pub unknown_attributes: u64,
    /// 487 Role Conflict sent.
    pub role_conflicts_sent: u64,
    /// Role switches after a conflict.
    pub role_switches: u64,
    /// Datagrams dropped as malformed STUN or with a bad FINGERPRINT.
    pub malformed: u64,
    /// Responses that matched no transaction, or failed integrity.
    pub unmatched_responses: u64,
    /// Indications and other messages ignored.
    pub ignored: u64,
    /// Connectivity checks sent (first transmissions).
    pub checks_sent: u64,
    /// Retransmissions of checks and STUN server requests.
    pub retransmits: u64,
    /// Consent checks sent.
    pub consent_checks_sent: u64,
    /// Peer-reflexive remote candidates learnt.
    pub prflx_remote: u64,
    /// Remote candidates refused (limit, unusable address).
    pub candidates_refused: u64,
    /// Local candidates removed because their address went
    /// ([`IceAgent::remove_local_address`]).
    pub local_candidates_removed: u64,
    /// TURN allocations made anew after the server lost one (a 437 to a
    /// refresh, e.g. after the server restarted; RFC 8656 §8).
    pub relays_reallocated: u64,
    /// Datagrams the owner sent from a relayed address whose allocation
    /// is gone (on a pair the loss failed, before a new one is selected):
    /// dropped, as there is no relay to carry them.
    pub relay_lost_dropped: u64,
    /// 300 Try Alternate on a TURN server reached over TCP or TLS: a
    /// stream to the alternate asked of the owner (RFC 8489 §10).
    pub turn_stream_redirects: u64,
    /// Allocations made on a new local transport after an ICE restart
    /// ([`IceConfig::new_relays_on_restart`]).
    pub relays_renewed: u64,
    /// Allocations an ICE restart replaced, deleted once the restart
    /// selected a pair.
    pub relays_retired: u64,
    /// New local transports for relays (after a restart) the owner could
    /// not open ([`IceAgent::relay_transport_failed`]).
    pub relay_transports_failed: u64,
}

/// Pair states (RFC 8445 §6.1.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PairState {
    /// Waiting for a pair of its foundation to succeed.
    Frozen,
    /// Ready to be checked.
    Waiting,
    /// A check is in flight.
    InProgress,
    /// A check succeeded: the pair is valid.
    Succeeded,
    /// Checks failed.
    Failed,
}

/// What ICE knows of a 5-tuple, for its owner's other protocols (RFC 8445
/// §12: media and DTLS are accepted only on pairs ICE validated; RFC 7675
/// §5.1: consent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStatus {
    /// The selected pair, or a pair whose check succeeded.
    Validated,
    /// A pair with this local base and remote address exists and its checks
    /// have not failed yet: it may validate soon.
    Checking,
    /// No live pair: the address is no peer's ICE has heard of (a spoofed
    /// source), or every check on it failed.
    Unknown,
}

#[derive(Debug, Clone)]
struct Pair {
    local: usize,
    remote: usize,
    priority: u64,
    state: PairState,
    nominated: bool,
    /// The controlled side received USE-CANDIDATE on this pair.
    remote_nominated: bool,
}

#[derive(Debug, Clone)]
enum TxnKind {
    Check {
        pair: usize,
        nominate: bool,
        controlling: bool,
        /// Superseded by a triggered check (RFC 8445 §7.3.1.4): no more
        /// retransmissions, and no failure if it goes unanswered.
        cancelled: bool,
    },
    Gather {
        server: SocketAddr,
        base: SocketAddr,
    },
    Consent {
        pair: usize,
    },
}

#[derive(Debug, Clone)]
struct Txn {
    kind: TxnKind,
    src: SocketAddr,
    dst: SocketAddr,
    payload: Vec<u8>,
    timer: Retransmit,
}

#[derive(Debug, Clone)]
struct Local {
    cand: Candidate,
    base: SocketAddr,
}

impl Local {
    /// Checks are sent from host candidates and from relayed ones (whose
    /// base is the relayed address itself, RFC 8445 §5.1.1.2); reflexive
    /// candidates share their host's base and so its pairs (§6.1.2.4).
    fn pairable(&self) -> bool {
        matches!(self.cand.kind, CandidateKind::Host | CandidateKind::Relayed)
    }
}

struct Credentials {
    ufrag: String,
    pwd: String,
    key: ShortTermKey,
}

const ICE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn is_ice_chars(s: &str) -> bool {
    s.bytes().all(|b| ICE_CHARS.contains(&b))
}

/// `t + d`, saturating: a timeout configured as `Duration::MAX` (to switch
/// it off) must not overflow `Instant`.
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(t)
}

/// Largest number of candidate pairs (RFC 8445 §6.1.2.5 asks for a limit).
const MAX_PAIRS: usize = 100;

/// The ICE agent. See the module documentation.
pub struct IceAgent {
    config: IceConfig,
    rng: ChaCha20Rng,
    controlling: bool,
    tie_breaker: u64,
    local_creds: Credentials,
    remote_creds: Option<Credentials>,
    locals: Vec<Local>,
    remotes: Vec<Candidate>,
    pairs: Vec<Pair>,
    triggered: VecDeque<(usize, bool)>,
    txns: BTreeMap<TransactionId, Txn>,
    state: IceState,
    gathering: Option<Instant>,
    gathering_done: bool,
    remote_end_of_candidates: bool,
    last_check_at: Option<Instant>,
    first_valid_at: Option<Instant>,
    selected: Option<usize>,
    /// The pair selected before an ICE restart: its datagrams stay
    /// accepted until the restart selects a pair (RFC 8445 §9: media goes
    /// on over the old pair meanwhile).
    previous_path: Option<(SocketAddr, SocketAddr)>,
    nominated: Option<usize>,
    next_consent: Option<Instant>,
    last_consent: Option<Instant>,
    consent_lost: bool,
    /// The latest `now` the owner gave us (pacing can fire at once).
    last_now: Instant,
    transmits: VecDeque<Transmit>,
    events: VecDeque<IceEvent>,
    stats: IceStats,
    scratch: Vec<u8>,
    /// TURN allocations (relay.rs).
    relays: Vec<relay::Relay>,
    /// Streams to open after a 300 Try Alternate (relay_redirect.rs).
    turn_redirects: relay_redirect::Redirects,
    /// Transmits ready for the owner, relayed ones already wrapped.
    out: VecDeque<Transmit>,
    /// Relay transports (relay/restart.rs) to open and to close.
    relay_transports: relay::TransportQueues,
}

impl std::fmt::Debug for IceAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceAgent")
            .field("controlling", &self.controlling)
            .field("state", &self.state)
            .field("locals", &self.locals.len())
            .field("remotes", &self.remotes.len())
            .field("pairs", &self.pairs.len())
            .finish()
    }
}

impl IceAgent {
    /// A new agent. Credentials not given in `config` are generated.
    pub fn new(config: IceConfig, now: Instant) -> IceAgent {
        let mut rng = ChaCha20Rng::from_seed(config.seed);
        let mut gen = |n: usize| -> String {
            (0..n)
                .map(|_| ICE_CHARS[(rng.next_u32() % 64) as usize] as char)
                .collect()
        };
        let ufrag = config.local_ufrag.clone().unwrap_or_else(|| gen(8));
        let pwd = config.local_pwd.clone().unwrap_or_else(|| gen(24));
        let tie_breaker = rng.next_u64();
        IceAgent {
            controlling: config.controlling,
            tie_breaker,
            local_creds: Credentials {
                key: ShortTermKey::new(pwd.as_bytes()),
                ufrag,
                pwd,
            },
            remote_creds: None,
            rng,
            config,
            locals: Vec::new(),
            remotes: Vec::new(),
            pairs: Vec::new(),
            triggered: VecDeque::new(),
            txns: BTreeMap::new(),
            state: IceState::New,
            gathering: None,
            gathering_done: false,
            remote_end_of_candidates: false,
            last_check_at: None,
            first_valid_at: None,
            selected: None,
            previous_path: None,
            nominated: None,
            next_consent: None,
            last_consent: None,
            consent_lost: false,
            last_now: now,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: IceStats::default(),
            scratch: Vec::with_capacity(256),
            relays: Vec::new(),
            turn_redirects: relay_redirect::Redirects::default(),
            out: VecDeque::new(),
            relay_transports: relay::TransportQueues::default(),
        }
    }

    // ----- accessors -------------------------------------------------------

    /// Our ufrag.
    pub fn local_ufrag(&self) -> &str {
        &self.local_creds.ufrag
    }

    /// Our password.
    pub fn local_pwd(&self) -> &str {
        &self.local_creds.pwd
    }

    /// Whether we are the controlling agent now.
    pub fn is_controlling(&self) -> bool {
        self.controlling
    }

    /// Takes the role the offer/answer exchange gives (RFC 8445 §6.1.1):
    /// for a connection whose first offer was rolled back and that answers
    /// the peer's offer instead. Pair priorities follow (§6.1.2.3); a
    /// [`IceEvent::RoleChanged`] is raised when the role changes.
    /// Not a role conflict: `role_switches` does not count it.
    pub fn set_controlling(&mut self, controlling: bool) {
        if self.controlling != controlling {
            self.switch_role(controlling);
            self.stats.role_switches -= 1;
        }
    }

    /// Our tie-breaker.
    pub fn tie_breaker(&self) -> u64 {
        self.tie_breaker
    }

    /// The connection state.
    pub fn state(&self) -> IceState {
        self.state
    }

    /// Counters.
    pub fn stats(&self) -> IceStats {
        self.stats
    }

    /// Our candidates (host, server-reflexive, relayed and peer-reflexive);
    /// with `relay_only`, the relayed ones only.
    pub fn local_candidates(&self) -> impl Iterator<Item = &Candidate> {
        let relay_only = self.config.relay_only;
        self.locals
            .iter()
            .filter(move |l| !relay_only || l.cand.kind == CandidateKind::Relayed)
            .map(|l| &l.cand)
    }

    /// The peer's candidates, peer-reflexive ones included.
    pub fn remote_candidates(&self) -> &[Candidate] {
        &self.remotes
    }

    /// The pair media goes on: (our base, the peer's address).
    pub fn selected_pair(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.selected.map(|p| self.pair_addrs(p))
    }

    /// Whether datagrams from `remote` arriving at our `local` address come
    /// over a path ICE validated (see [`PathStatus`]).
    pub fn path_status(&self, local: SocketAddr, remote: SocketAddr) -> PathStatus {
        if self.selected_pair() == Some((local, remote))
            || self.previous_path == Some((local, remote))
        {
            return PathStatus::Validated;
        }
        let mut status = PathStatus::Unknown;
        for (i, p) in self.pairs.iter().enumerate() {
            if self.pair_addrs(i) != (local, remote) {
                continue;
            }
            match p.state {
                PairState::Succeeded => return PathStatus::Validated,
                PairState::Failed => {}
                _ => status = PathStatus::Checking,
            }
        }
        status
    }

    /// Every pair with its state, highest priority first (for stats).
    pub fn pairs(&self) -> Vec<(SocketAddr, SocketAddr, PairState, bool)> {
        self.sorted_pairs()
            .into_iter()
            .map(|i| {
                let (l, r) = self.pair_addrs(i);
                (l, r, self.pairs[i].state, self.pairs[i].nominated)
            })
            .collect()
    }

    fn pair_addrs(&self, p: usize) -> (SocketAddr, SocketAddr) {
        let pair = &self.pairs[p];
        (self.locals[pair.local].base, self.remotes[pair.remote].addr)
    }

    // ----- owner input -----------------------------------------------------

    /// Adds a local interface address (and port the owner bound). Unspecified
    /// addresses and port 0 are refused: they are no address a peer can use.
    pub fn add_local_host(&mut self, addr: SocketAddr) -> Result<(), IceError> {
        if addr.ip().is_unspecified() || addr.port() == 0 {
            return Err(IceError::UnusableLocalAddress(addr));
        }
        if self
            .locals
            .iter()
            .any(|l| l.base == addr && l.cand.kind == CandidateKind::Host)
        {
            return Ok(());
        }
        let hosts = self
            .locals
            .iter()
            .filter(|l| l.cand.kind == CandidateKind::Host)
            .count();
        let cand = Candidate::host(addr, 65535u16.saturating_sub(hosts as u16));
        self.locals.push(Local {
            cand: cand.clone(),
            base: addr,
        });
        let li = self.locals.len() - 1;
        if self.gathering.is_some() && !self.config.relay_only {
            self.events.push_back(IceEvent::LocalCandidate(cand));
        }
        for ri in 0..self.remotes.len() {
            self.add_pair(li, ri);
        }
        Ok(())
    }

    /// Starts gathering: host candidates are announced, and each STUN server
    /// is asked for our server-reflexive address from every base of its
    /// address family. Gathering completes when every server answered or
    /// failed, or at `gather_timeout`.
    pub fn start_gathering(&mut self, now: Instant) {
        if self.gathering.is_some() || self.state == IceState::Closed {
            return;
        }
        self.last_now = self.last_now.max(now);
        self.gathering = Some(now);
        for l in &self.locals {
            if !self.config.relay_only {
                self.events
                    .push_back(IceEvent::LocalCandidate(l.cand.clone()));
            }
        }
        self.start_relays(now);
        let bases = self.host_bases();
        for server in self.config.stun_servers.clone() {
            for &base in bases.iter().filter(|b| b.is_ipv4() == server.is_ipv4()) {
                self.scratch.clear();
                let tid = self.new_tid();
                let mut b =
                    MessageBuilder::new(&mut self.scratch, Class::Request, Method::BINDING, tid);
                let _ = b.add_fingerprint();
                let payload = self.scratch.clone();
                let timer =
                    Retransmit::start(now, self.config.stun_rto, self.config.stun_max_sends, 16);
                self.transmits.push_back(Transmit {
                    src: base,
                    dst: server,
                    payload: payload.clone(),
                });
                self.txns.insert(
                    tid,
                    Txn {
                        kind: TxnKind::Gather { server, base },
                        src: base,
                        dst: server,
                        payload,
                        timer,
                    },
                );
            }
        }
        self.check_gathering_done();
    }

    /// Sets the peer's ufrag and password (from its SDP). New credentials
    /// after earlier ones mean the peer restarted ICE: its candidates and
    /// all pairs are dropped.
    pub fn set_remote_credentials(
        &mut self,
        now: Instant,
        ufrag: &str,
        pwd: &str,
    ) -> Result<(), IceError> {
        if !(4..=256).contains(&ufrag.len()) || !is_ice_chars(ufrag) {
            return Err(IceError::InvalidCredentials(
                "ufrag must be 4 to 256 ice-chars",
            ));
        }
        if !(22..=256).contains(&pwd.len()) || !is_ice_chars(pwd) {
            return Err(IceError::InvalidCredentials(
                "pwd must be 22 to 256 ice-chars",
            ));
        }
        if let Some(c) = &self.remote_creds {
            if c.ufrag == ufrag && c.pwd == pwd {
                return Ok(());
            }
            self.reset_remote();
        }
        self.remote_creds = Some(Credentials {
            ufrag: ufrag.to_string(),
            pwd: pwd.to_string(),
            key: ShortTermKey::new(pwd.as_bytes()),
        });
        self.pace(now);
        Ok(())
    }

    /// Adds a remote candidate (from the SDP or trickled). Candidates are
    /// accepted before the credentials too; checks start once both exist.
    pub fn add_remote_candidate(&mut self, now: Instant, c: Candidate) -> Result<(), IceError> {
        if self.state == IceState::Closed {
            return Err(IceError::Closed);
        }
        if c.addr.ip().is_unspecified() || c.addr.port() == 0 {
            self.stats.candidates_refused += 1;
            return Err(IceError::UnusableRemoteAddress(c.addr));
        }
        if let Some(i) = self.remotes.iter().position(|r| r.addr == c.addr) {
            // Known (perhaps as peer-reflexive): take the signalled details.
            if self.remotes[i].kind == CandidateKind::PeerReflexive {
                self.remotes[i] = c;
                for p in 0..self.pairs.len() {
                    if self.pairs[p].remote == i {
                        self.pairs[p].priority = self.compute_pair_priority(self.pairs[p].local, i);
                    }
                }
            }
            return Ok(());
        }
        if self.remotes.len() >= self.config.max_remote_candidates {
            self.stats.candidates_refused += 1;
            return Err(IceError::TooManyCandidates(
                self.config.max_remote_candidates,
            ));
        }
        self.remotes.push(c);
        let ri = self.remotes.len() - 1;
        for li in 0..self.locals.len() {
            self.add_pair(li, ri);
        }
        self.pace(now);
        Ok(())
    }

    /// The peer will send no more candidates.
    pub fn end_of_remote_candidates(&mut self, now: Instant) {
        self.remote_end_of_candidates = true;
        self.update_failed(now);
    }

    /// ICE restart (RFC 8445 §9): new local credentials, the peer's
    /// candidates and all pairs forgotten, consent state cleared. Local
    /// candidates are kept, but with [`IceConfig::new_relays_on_restart`]
    /// each allocation is replaced by one on a new local transport the
    /// owner opens (see [`IceAgent::poll_relay_transport_request`]). Call
    /// `set_remote_credentials` with the peer's new credentials afterwards.
    /// The pair selected until now stays [`PathStatus::Validated`] until the
    /// restart selects one, so media goes on over it meanwhile (also after
    /// a restart by the peer).
    pub fn restart(&mut self, now: Instant) {
        let mut gen = |n: usize| -> String {
            (0..n)
                .map(|_| ICE_CHARS[(self.rng.next_u32() % 64) as usize] as char)
                .collect::<String>()
        };
        let ufrag = gen(8);
        let pwd = gen(24);
        self.local_creds = Credentials {
            key: ShortTermKey::new(pwd.as_bytes()),
            ufrag,
            pwd,
        };
        self.remote_creds = None;
        self.reset_remote();
        self.consent_lost = false;
        self.set_state(IceState::New);
        self.renew_relays(now);
    }

    /// Closes the agent: no more timers and no transmits but those of the
    /// deletion of each TURN allocation (RFC 8656 §8), a Refresh with
    /// lifetime 0 retransmitted on the RFC 8489 §6.2.1 schedule until the
    /// server answers it or it times out; keep feeding the servers' answers
    /// to [`IceAgent::handle_relay_datagram`] and running the timers until
    /// `poll_timeout` returns `None`.
    pub fn close(&mut self) {
        self.txns.clear();
        self.triggered.clear();
        self.transmits.clear();
        self.out.clear();
        self.close_relays();
        self.set_state(IceState::Closed);
    }

    fn reset_remote(&mut self) {
        self.previous_path = self.selected_pair().or(self.previous_path);
        self.remotes.clear();
        self.pairs.clear();
        self.triggered.clear();
        self.txns
            .retain(|_, t| matches!(t.kind, TxnKind::Gather { .. }));
        self.selected = None;
        self.nominated = None;
        self.first_valid_at = None;
        self.next_consent = None;
        self.last_consent = None;
        self.remote_end_of_candidates = false;
        // New remote credentials are an ICE restart by the peer: consent
        // starts over (RFC 7675 §5.1), and so do the states.
        self.consent_lost = false;
        self.last_check_at = None;
        if self.state != IceState::Closed {
            self.set_state(IceState::New);
        }
        // Peer-reflexive local candidates belong to the old session.
        self.locals
            .retain(|l| l.cand.kind != CandidateKind::PeerReflexive);
    }

    // ----- datagrams -------------------------------------------------------

    /// A STUN datagram arrived from `from` at our local address `to`.
    /// Malformed input returns an error after being counted; it never
    /// changes the agent's state.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), IceError> {
        if self.state == IceState::Closed {
            return Err(IceError::Closed);
        }
        self.last_now = self.last_now.max(now);
        if self.is_relay_server(to, from) {
            // A TURN server's own messages; relayed non-STUN data is for
            // the owner, who should call `handle_relay_datagram` instead.
            return self.handle_relay_datagram(now, from, to, data).map(|_| ());
        }
        let msg = match Message::parse(data) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e.into());
            }
        };
        if msg.has_fingerprint() {
            if let Err(e) = msg.verify_fingerprint() {
                self.stats.malformed += 1;
                return Err(e.into());
            }
        }
        match (msg.class(), msg.method()) {
            // Relay only: our host addresses are no candidates, so checks
            // reaching them get no answer (which would reveal them).
            (Class::Request, Method::BINDING)
                if self.config.relay_only && !self.is_relayed_address(to) =>
            {
                self.stats.ignored += 1;
                Ok(())
            }
            (Class::Request, Method::BINDING) => self.handle_request(now, from, to, &msg),
            (Class::Success | Class::Error, Method::BINDING) => {
                self.handle_response(now, from, to, &msg)
            }
            _ => {
                self.stats.ignored += 1;
                Ok(())
            }
        }
    }

    fn respond_error(&mut self, msg: &Message<'_>, from: SocketAddr, to: SocketAddr, code: u16) {
        let tid = msg.transaction_id();
        let mut out = Vec::with_capacity(64);
        let mut b = MessageBuilder::new(&mut out, Class::Error, Method::BINDING, tid);
        let reason = ErrorCode::default_reason(code);
        let _ = b.add(&Attribute::ErrorCode(ErrorCode { code, reason }));
        if code == ErrorCode::UNKNOWN_ATTRIBUTE {
            let _ = b.add_unknown_attributes(msg.unknown_required());
        }
        // 487 answers an authenticated request, so it is signed (§7.3.1.1).
        if code == ErrorCode::ROLE_CONFLICT {
            let _ = b.add_message_integrity(&self.local_creds.key);
        }
        let _ = b.add_fingerprint();
        self.transmits.push_back(Transmit {
            src: to,
            dst: from,
            payload: out,
        });
    }

    /// RFC 8445 §7.3: an incoming connectivity check.
    fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<(), IceError> {
        self.stats.requests_received += 1;
        if msg.has_unknown_required() {
            self.stats.unknown_attributes += 1;
            self.respond_error(msg, from, to, ErrorCode::UNKNOWN_ATTRIBUTE);
            return Ok(());
        }
        // RFC 8489 §9.1.3: no USERNAME or no MESSAGE-INTEGRITY is a 400.
        let username = msg.username().ok().flatten();
        let (Some(username), true) = (username, msg.has_integrity()) else {
            self.stats.bad_requests += 1;
            self.respond_error(msg, from, to, ErrorCode::BAD_REQUEST);
            return Ok(());
        };
        // USERNAME is "our ufrag:their ufrag" (§7.2.2); then the integrity
        // with our password.
        let ours = username.split(':').next() == Some(self.local_creds.ufrag.as_str());
        if !ours || msg.verify_integrity(&self.local_creds.key).is_err() {
            self.stats.unauthorized += 1;
            self.respond_error(msg, from, to, ErrorCode::UNAUTHORIZED);
            return Ok(());
        }
        let prio = msg.priority().ok().flatten();
        let their_controlling = msg.ice_controlling().ok().flatten();
        let their_controlled = msg.ice_controlled().ok().flatten();
        let Some(prio) = prio.filter(|_| their_controlling.is_some() || their_controlled.is_some())
        else {
            self.stats.bad_requests += 1;
            self.respond_error(msg, from, to, ErrorCode::BAD_REQUEST);
            return Ok(());
        };
        // Role conflict (§7.3.1.1).
        if self.controlling {
            if let Some(theirs) = their_controlling {
                if self.tie_breaker >= theirs {
                    self.stats.role_conflicts_sent += 1;
                    self.respond_error(msg, from, to, ErrorCode::ROLE_CONFLICT);
                    return Ok(());
                }
                self.switch_role(false);
            }
        } else if let Some(theirs) = their_controlled {
            if self.tie_breaker >= theirs {
                self.switch_role(true);
            } else {
                self.stats.role_conflicts_sent += 1;
                self.respond_error(msg, from, to, ErrorCode::ROLE_CONFLICT);
                return Ok(());
            }
        }

        // The success response (§7.3.1.3).
        let tid = msg.transaction_id();
        let mut out = Vec::with_capacity(80);
        let mut b = MessageBuilder::new(&mut out, Class::Success, Method::BINDING, tid);
        let _ = b.add(&Attribute::XorMappedAddress(from));
        let _ = b.add_message_integrity(&self.local_creds.key);
        let _ = b.add_fingerprint();
        self.transmits.push_back(Transmit {
            src: to,
            dst: from,
            payload: out,
        });
        self.stats.responses_sent += 1;

        // Learn the source as a peer-reflexive candidate (§7.3.1.3).
        let ri = match self.remotes.iter().position(|r| r.addr == from) {
            Some(i) => i,
            None => {
                if self.remotes.len() >= self.config.max_remote_candidates {
                    self.stats.candidates_refused += 1;
                    return Ok(());
                }
                self.stats.prflx_remote += 1;
                self.remotes.push(Candidate {
                    foundation: foundation(CandidateKind::PeerReflexive, from, None),
                    component: 1,
                    priority: prio,
                    addr: from,
                    kind: CandidateKind::PeerReflexive,
                    related: None,
                });
                let ri = self.remotes.len() - 1;
                for li in 0..self.locals.len() {
                    self.add_pair(li, ri);
                }
                ri
            }
        };
        // The pair the check came in on, and the triggered check (§7.3.1.4).
        let Some(li) = self
            .locals
            .iter()
            .position(|l| l.base == to && l.pairable())
        else {
            return Ok(());
        };
        let Some(p) = self.add_pair(li, ri) else {
            return Ok(());
        };
        if msg.use_candidate() && !self.controlling {
            self.pairs[p].remote_nominated = true;
        }
        match self.pairs[p].state {
            PairState::Succeeded => {
                if self.pairs[p].remote_nominated && !self.controlling {
                    self.nominate(now, p);
                }
            }
            PairState::InProgress => {
                // §7.3.1.4: cancel the in-flight check (no more
                // retransmissions; a late answer still counts) and check
                // again at once, as the peer's check may just have opened
                // its NAT for us.
                let quiet = Retransmit::start(now, self.config.check_rto, 1, 16);
                for t in self.txns.values_mut() {
                    if let TxnKind::Check {
                        pair,
                        nominate: false,
                        cancelled,
                        ..
                    } = &mut t.kind
                    {
                        if *pair == p && !*cancelled {
                            *cancelled = true;
                            t.timer = quiet.clone();
                        }
                    }
                }
                self.pairs[p].state = PairState::Waiting;
                if !self.triggered.iter().any(|&(q, _)| q == p) {
                    self.triggered.push_back((p, false));
                }
            }
            _ => {
                self.pairs[p].state = PairState::Waiting;
                if !self.triggered.iter().any(|&(q, _)| q == p) {
                    self.triggered.push_back((p, false));
                }
            }
        }
        if self.state == IceState::New {
            self.set_state(IceState::Checking);
        }
        self.pace(now);
        Ok(())
    }

    fn handle_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<(), IceError> {
        let tid = msg.transaction_id();
        let Some(txn) = self.txns.get(&tid) else {
            self.stats.unmatched_responses += 1;
            return Ok(());
        };
        // Responses to checks and consent are signed with the peer's password.
        if !matches!(txn.kind, TxnKind::Gather { .. }) {
            let ok = self
                .remote_creds
                .as_ref()
                .is_some_and(|c| msg.verify_integrity(&c.key).is_ok());
            if !ok {
                self.stats.unmatched_responses += 1;
                return Ok(());
            }
        }
        let Some(txn) = self.txns.remove(&tid) else {
            return Ok(());
        };
        let success = msg.class() == Class::Success;
        match txn.kind {
            TxnKind::Gather { server, base } => {
                if success {
                    if let Ok(Some(mapped)) = msg.mapped_address() {
                        self.add_srflx(base, server, mapped);
                    }
                }
                self.check_gathering_done();
            }
            TxnKind::Consent { pair } => {
                if success && self.selected == Some(pair) && !self.consent_lost {
                    self.refresh_consent(now);
                }
            }
            TxnKind::Check {
                pair,
                nominate,
                controlling,
                ..
            } => {
                if pair >= self.pairs.len() {
                    return Ok(());
                }
                if !success {
                    let code = msg.error_code().ok().flatten().map(|e| e.code);
                    if code == Some(ErrorCode::ROLE_CONFLICT) {
                        // §7.2.5.1: switch to the role opposite the one the
                        // request claimed, and check the pair again.
                        if self.controlling == controlling {
                            self.switch_role(!controlling);
                        }
                        self.pairs[pair].state = PairState::Waiting;
                        self.triggered.push_back((pair, false));
                    } else {
                        self.pairs[pair].state = PairState::Failed;
                        self.update_failed(now);
                    }
                } else if from != txn.dst || to != txn.src {
                    // §7.2.5.2.1: the addresses must be symmetric.
                    self.pairs[pair].state = PairState::Failed;
                    self.update_failed(now);
                } else {
                    if let Ok(Some(mapped)) = msg.mapped_address() {
                        self.learn_local_prflx(txn.src, mapped);
                    }
                    self.on_check_success(now, pair, nominate);
                }
            }
        }
        self.pace(now);
        Ok(())
    }

    fn add_srflx(&mut self, base: SocketAddr, server: SocketAddr, mapped: SocketAddr) {
        // §5.1.3: a reflexive address equal to a candidate we have is redundant.
        if self.config.relay_only || self.locals.iter().any(|l| l.cand.addr == mapped) {
            return;
        }
        let hosts = self
            .locals
            .iter()
            .filter(|l| l.cand.kind == CandidateKind::Host)
            .count();
        let cand = Candidate {
            foundation: foundation(CandidateKind::ServerReflexive, base, Some(server)),
            component: 1,
            priority: priority(
                CandidateKind::ServerReflexive,
                65535u16.saturating_sub(hosts as u16),
                1,
            ),
            addr: mapped,
            kind: CandidateKind::ServerReflexive,
            related: Some(base),
        };
        self.locals.push(Local {
            cand: cand.clone(),
            base,
        });
        // Not paired: a server-reflexive candidate is checked from its base,
        // so its pairs would duplicate the host pairs (§6.1.2.4).
        self.events.push_back(IceEvent::LocalCandidate(cand));
    }

    fn learn_local_prflx(&mut self, base: SocketAddr, mapped: SocketAddr) {
        if self.locals.iter().any(|l| l.cand.addr == mapped) {
            return;
        }
        // §7.2.5.3.1: a new local peer-reflexive candidate; not signalled.
        self.locals.push(Local {
            cand: Candidate {
                foundation: foundation(CandidateKind::PeerReflexive, base, None),
                component: 1,
                priority: self.prflx_priority(),
                addr: mapped,
                kind: CandidateKind::PeerReflexive,
                related: Some(base),
            },
            base,
        });
    }

    fn on_check_success(&mut self, now: Instant, p: usize, nominate: bool) {
        let pair = &mut self.pairs[p];
        pair.state = PairState::Succeeded;
        // §7.2.5.3.3: unfreeze pairs of the same foundation.
        let (lf, rf) = self.pair_foundation(p);
        let fnd = (lf.to_string(), rf.to_string());
        for q in 0..self.pairs.len() {
            let same = {
                let (a, b) = self.pair_foundation(q);
                (a, b) == (fnd.0.as_str(), fnd.1.as_str())
            };
            if self.pairs[q].state == PairState::Frozen && same {
                self.pairs[q].state = PairState::Waiting;
            }
        }
        if self.first_valid_at.is_none() {
            self.first_valid_at = Some(now);
        }
        if Some(p) == self.selected {
            self.refresh_consent(now);
        }
        // The controlling side's USE-CANDIDATE check succeeded, or the
        // controlled side's check succeeded on a pair the peer nominated.
        let nominated_here = if self.controlling {
            nominate
        } else {
            self.pairs[p].remote_nominated
        };
        if nominated_here {
            self.nominate(now, p);
        }
        if self.nominated.is_none() {
            self.select_best_valid(now);
        }
    }

    fn nominate(&mut self, now: Instant, p: usize) {
        if self.nominated == Some(p) {
            return;
        }
        self.pairs[p].nominated = true;
        // RFC 8445 §8.1.1: with several nominated pairs, the highest
        // priority one is used (one that failed, e.g. its relay was lost,
        // is no longer one).
        if let Some(q) = self.nominated {
            if self.pairs[q].state != PairState::Failed
                && self.pairs[q].priority >= self.pairs[p].priority
            {
                return;
            }
        }
        self.nominated = Some(p);
        let (local, remote) = self.pair_addrs(p);
        // RFC 8445 §8.1.1: the controlling agent nominates the best valid
        // pair with USE-CANDIDATE; the controlled one follows its flag.
        tracing::debug!(
            %local,
            %remote,
            priority = self.pairs[p].priority,
            controlling = self.controlling,
            reason = if self.controlling {
                "our USE-CANDIDATE check succeeded on the highest priority valid pair"
            } else {
                "the peer nominated it (USE-CANDIDATE) and our check succeeded"
            },
            "ICE pair {local} <-> {remote} nominated"
        );
        self.select(now, p, true);
        self.set_state(IceState::Completed);
    }

    /// Makes `p` the selected pair and says so. Consent freshness runs on
    /// whatever pair is selected, however it got selected (RFC 7675 §5.1).
    fn select(&mut self, now: Instant, p: usize, nominated: bool) {
        self.selected = Some(p);
        // A restart's old path on a relay it replaced stays accepted until
        // nomination, when that relay is deleted: the peer may still send
        // on it until its side selects the new pair too.
        let keep_old = !nominated
            && self
                .previous_path
                .is_some_and(|(local, _)| self.on_retiring_relay(local));
        if !keep_old {
            self.previous_path = None;
        }
        self.refresh_consent(now);
        if nominated {
            self.retire_renewed_relays(now);
        }
        let (local, remote) = self.pair_addrs(p);
        tracing::debug!(%local, %remote, nominated, "ICE pair {local} <-> {remote} selected");
        self.events.push_back(IceEvent::SelectedPair {
            local,
            remote,
            nominated,
        });
    }

    fn select_best_valid(&mut self, now: Instant) {
        let best = self
            .sorted_pairs()
            .into_iter()
            .find(|&i| self.pairs[i].state == PairState::Succeeded);
        if let Some(b) = best {
            if self.selected != Some(b) {
                self.select(now, b, false);
            }
            if matches!(self.state, IceState::New | IceState::Checking) {
                self.set_state(IceState::Connected);
            }
        }
    }

    fn refresh_consent(&mut self, now: Instant) {
        self.last_consent = Some(now);
        if self.next_consent.is_none() {
            self.next_consent = Some(later(now, self.consent_jitter()));
        }
        if self.state == IceState::Disconnected {
            let s = if self.nominated.is_some() {
                IceState::Completed
            } else {
                IceState::Connected
            };
            self.set_state(s);
        }
    }

    fn consent_jitter(&mut self) -> Duration {
        // RFC 7675 §5.1: uniformly random in [0.8, 1.2] × interval.
        let f = 0.8 + 0.4 * (self.rng.next_u32() as f64 / u32::MAX as f64);
        Duration::try_from_secs_f64(self.config.consent_interval.as_secs_f64() * f)
            .unwrap_or(Duration::MAX)
    }

    fn switch_role(&mut self, controlling: bool) {
        if self.controlling == controlling {
            return;
        }
        self.controlling = controlling;
        self.stats.role_switches += 1;
        for p in 0..self.pairs.len() {
            self.pairs[p].priority =
                self.compute_pair_priority(self.pairs[p].local, self.pairs[p].remote);
        }
        self.events.push_back(IceEvent::RoleChanged { controlling });
    }

    fn set_state(&mut self, s: IceState) {
        if self.state != s {
            tracing::debug!("ICE state {:?} -> {:?}", self.state, s);
            self.state = s;
            self.events.push_back(IceEvent::StateChanged(s));
        }
    }

    // ----- pairs -----------------------------------------------------------

    fn compute_pair_priority(&self, li: usize, ri: usize) -> u64 {
        let l = self.locals[li].cand.priority;
        let r = self.remotes[ri].priority;
        if self.controlling {
            pair_priority(l, r)
        } else {
            pair_priority(r, l)
        }
    }

    fn pair_foundation(&self, p: usize) -> (&str, &str) {
        let pair = &self.pairs[p];
        (
            &self.locals[pair.local].cand.foundation,
            &self.remotes[pair.remote].foundation,
        )
    }

    /// Adds (or finds) the pair of a local host or relayed candidate and a
    /// remote one.
    fn add_pair(&mut self, li: usize, ri: usize) -> Option<usize> {
        let local = &self.locals[li];
        let relayed = local.cand.kind == CandidateKind::Relayed;
        if !local.pairable() || (self.config.relay_only && !relayed) {
            return None;
        }
        if local.base.is_ipv4() != self.remotes[ri].addr.is_ipv4() {
            return None;
        }
        if let Some(p) = self
            .pairs
            .iter()
            .position(|p| p.local == li && p.remote == ri)
        {
            return Some(p);
        }
        if self.pairs.len() >= MAX_PAIRS {
            return None;
        }
        let priority = self.compute_pair_priority(li, ri);
        self.pairs.push(Pair {
            local: li,
            remote: ri,
            priority,
            state: PairState::Frozen,
            nominated: false,
            remote_nominated: false,
        });
        let p = self.pairs.len() - 1;
        // §6.1.2.6: the first pair of a foundation starts Waiting.
        let fnd = self.pair_foundation(p);
        let active = (0..p)
            .any(|q| self.pair_foundation(q) == fnd && self.pairs[q].state != PairState::Frozen);
        if !active {
            self.pairs[p].state = PairState::Waiting;
        }
        if self.state == IceState::New && self.remote_creds.is_some() {
            self.set_state(IceState::Checking);
        }
        if relayed {
            // RFC 8445 §6.1.2.6 / RFC 8656 §9: the relay must let the
            // peer's checks in before they arrive.
            self.relay_permission(li, ri);
        }
        Some(p)
    }

    fn sorted_pairs(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.pairs.len()).collect();
        v.sort_by(|&a, &b| {
            self.pairs[b]
                .priority
                .cmp(&self.pairs[a].priority)
                .then(a.cmp(&b))
        });
        v
    }

    /// The first pair in `state` in the order of [`Self::sorted_pairs`]
    /// (highest priority, then lowest index), without building that order.
    fn best_pair_in(&self, state: PairState) -> Option<usize> {
        (0..self.pairs.len())
            .filter(|&i| self.pairs[i].state == state)
            .min_by(|&a, &b| {
                self.pairs[b]
                    .priority
                    .cmp(&self.pairs[a].priority)
                    .then(a.cmp(&b))
            })
    }

    fn prflx_priority(&self) -> u32 {
        priority(CandidateKind::PeerReflexive, 65535, 1)
    }

    // ----- sending checks --------------------------------------------------

    /// Sends at most one check if pacing allows (§6.1.4.2): a triggered
    /// check first, then the best Waiting pair, then the best Frozen one.
    fn pace(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        if self.remote_creds.is_none() || matches!(self.state, IceState::Closed | IceState::Failed)
        {
            return;
        }
        if self
            .last_check_at
            .is_some_and(|t| now < later(t, self.config.ta))
        {
            return;
        }
        self.maybe_nominate(now);
        let next = loop {
            match self.triggered.pop_front() {
                Some((p, nom)) if p < self.pairs.len() => {
                    if nom || self.pairs[p].state == PairState::Waiting {
                        break Some((p, nom));
                    }
                }
                Some(_) => {}
                None => break None,
            }
        };
        // Without allocating: this runs on every timer of a connected
        // agent, which a paced sender wakes every few milliseconds.
        let next = next.or_else(|| {
            self.best_pair_in(PairState::Waiting)
                .or_else(|| self.best_pair_in(PairState::Frozen))
                .map(|p| (p, false))
        });
        if let Some((p, nominate)) = next {
            self.send_check(now, p, nominate);
        }
    }

    /// The controlling agent's regular nomination: once the best valid pair
    /// cannot be beaten by a pending one (or `nomination_wait` has passed
    /// since the first valid pair), check it again with USE-CANDIDATE.
    fn maybe_nominate(&mut self, now: Instant) {
        if let Some((best, at)) = self.nomination_due() {
            if now >= at {
                self.triggered.push_front((best, true));
            }
        }
    }

    /// The pair to nominate and the earliest time to do it, if the
    /// controlling agent has one to nominate.
    fn nomination_due(&self) -> Option<(usize, Instant)> {
        if !self.controlling || self.nominated.is_some() {
            return None;
        }
        let nominating = self
            .txns
            .values()
            .any(|t| matches!(t.kind, TxnKind::Check { nominate: true, .. }))
            || self.triggered.iter().any(|&(_, n)| n);
        if nominating {
            return None;
        }
        let order = self.sorted_pairs();
        let best = order
            .iter()
            .copied()
            .find(|&i| self.pairs[i].state == PairState::Succeeded)?;
        let better_pending = order.iter().take_while(|&&i| i != best).any(|&i| {
            matches!(
                self.pairs[i].state,
                PairState::Frozen | PairState::Waiting | PairState::InProgress
            )
        });
        let first = self.first_valid_at?;
        Some((
            best,
            if better_pending {
                later(first, self.config.nomination_wait)
            } else {
                first
            },
        ))
    }

    /// When pacing next has something to send: a triggered or waiting
    /// check, a frozen pair to unfreeze, or a nomination. `None` when there
    /// is nothing.
    fn next_pace_time(&self) -> Option<Instant> {
        if self.remote_creds.is_none() || matches!(self.state, IceState::Closed | IceState::Failed)
        {
            return None;
        }
        // Nothing sent yet: go at once (the owner's clock is at least
        // `last_now`); otherwise one check per Ta.
        let ready = match self.last_check_at {
            Some(t) => later(t, self.config.ta),
            None => self.last_now,
        };
        let checks = !self.triggered.is_empty()
            || self
                .pairs
                .iter()
                .any(|p| matches!(p.state, PairState::Waiting | PairState::Frozen));
        let nomination = self.nomination_due().map(|(_, at)| at.max(ready));
        match (checks, nomination) {
            (true, _) => Some(ready),
            (false, n) => n,
        }
    }

    /// A connectivity check (or consent check) on pair `p` (RFC 8445
    /// §7.2.2): USERNAME, PRIORITY, our role with the tie-breaker,
    /// USE-CANDIDATE when nominating, MESSAGE-INTEGRITY with the peer's
    /// password, FINGERPRINT. `None` without the peer's credentials.
    fn request(
        &mut self,
        p: usize,
        nominate: bool,
    ) -> Option<(TransactionId, SocketAddr, SocketAddr, Vec<u8>)> {
        let tid = self.new_tid();
        let creds = self.remote_creds.as_ref()?;
        let (src, dst) = self.pair_addrs(p);
        let mut out = Vec::with_capacity(120);
        let mut b = MessageBuilder::new(&mut out, Class::Request, Method::BINDING, tid);
        let username = format!("{}:{}", creds.ufrag, self.local_creds.ufrag);
        let _ = b.add(&Attribute::Username(&username));
        let _ = b.add(&Attribute::Priority(self.prflx_priority()));
        let _ = b.add(&if self.controlling {
            Attribute::IceControlling(self.tie_breaker)
        } else {
            Attribute::IceControlled(self.tie_breaker)
        });
        if nominate {
            let _ = b.add(&Attribute::UseCandidate);
        }
        if let Some(s) = &self.config.software {
            let _ = b.add(&Attribute::Software(s));
        }
        let _ = b.add_message_integrity(&creds.key);
        let _ = b.add_fingerprint();
        Some((tid, src, dst, out))
    }

    fn send_check(&mut self, now: Instant, p: usize, nominate: bool) {
        let Some((tid, src, dst, out)) = self.request(p, nominate) else {
            return;
        };
        // §14.3: RTO = max(500 ms, Ta × (waiting + in-progress pairs)).
        let busy = self
            .pairs
            .iter()
            .filter(|q| matches!(q.state, PairState::Waiting | PairState::InProgress))
            .count() as u32;
        let rto = self.config.check_rto.max(self.config.ta * busy.max(1));
        let timer = Retransmit::start(now, rto, self.config.check_max_sends, 16);
        if self.pairs[p].state != PairState::Succeeded {
            self.pairs[p].state = PairState::InProgress;
        }
        self.transmits.push_back(Transmit {
            src,
            dst,
            payload: out.clone(),
        });
        self.txns.insert(
            tid,
            Txn {
                kind: TxnKind::Check {
                    pair: p,
                    nominate,
                    controlling: self.controlling,
                    cancelled: false,
                },
                src,
                dst,
                payload: out,
                timer,
            },
        );
        self.stats.checks_sent += 1;
        self.last_check_at = Some(now);
        if self.state == IceState::New {
            self.set_state(IceState::Checking);
        }
    }

    fn send_consent(&mut self, now: Instant, p: usize) {
        let Some((tid, src, dst, out)) = self.request(p, false) else {
            return;
        };
        // One request per interval: the next consent check replaces it.
        let timer = Retransmit::start(now, self.config.consent_interval, 1, 2);
        self.transmits.push_back(Transmit {
            src,
            dst,
            payload: out,
        });
        self.txns.insert(
            tid,
            Txn {
                kind: TxnKind::Consent { pair: p },
                src,
                dst,
                payload: Vec::new(),
                timer,
            },
        );
        self.stats.consent_checks_sent += 1;
    }

    fn new_tid(&mut self) -> TransactionId {
        let mut id = [0u8; 12];
        self.rng.fill_bytes(&mut id);
        TransactionId(id)
    }

    fn check_gathering_done(&mut self) {
        if self.gathering_done || self.gathering.is_none() {
            return;
        }
        // Allocations in progress hold gathering open until its deadline.
        let deadline = self.gathering.map(|s| later(s, self.config.gather_timeout));
        if self.relays_gathering() && deadline.is_some_and(|d| self.last_now < d) {
            return;
        }
        if !self
            .txns
            .values()
            .any(|t| matches!(t.kind, TxnKind::Gather { .. }))
        {
            self.gathering_done = true;
            self.events.push_back(IceEvent::GatheringComplete);
        }
    }

    fn update_failed(&mut self, now: Instant) {
        let _ = now;
        if self.remote_end_of_candidates
            && !self.pairs.is_empty()
            && self.pairs.iter().all(|p| p.state == PairState::Failed)
            && self.selected.is_none()
        {
            self.set_state(IceState::Failed);
        }
    }

    // ----- time ------------------------------------------------------------

    /// Processes timers due at `now`: retransmissions, pacing, the
    /// gathering deadline, nomination, consent checks and expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == IceState::Closed {
            // Only the deallocations (RFC 8656 §8) still have timers.
            self.last_now = self.last_now.max(now);
            self.closed_relays_timeout(now);
            return;
        }
        self.last_now = self.last_now.max(now);
        // Retransmissions and give-ups.
        let due: Vec<TransactionId> = self
            .txns
            .iter()
            .filter(|(_, t)| t.timer.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for tid in due {
            let Some(txn) = self.txns.get_mut(&tid) else {
                continue;
            };
            match txn.timer.fire(now) {
                Fire::Resend => {
                    self.stats.retransmits += 1;
                    let t = Transmit {
                        src: txn.src,
                        dst: txn.dst,
                        payload: txn.payload.clone(),
                    };
                    self.transmits.push_back(t);
                }
                Fire::GiveUp => {
                    if let Some(txn) = self.txns.remove(&tid) {
                        match txn.kind {
                            TxnKind::Check {
                                pair,
                                cancelled: false,
                                ..
                            } if pair < self.pairs.len() => {
                                if self.pairs[pair].state == PairState::InProgress {
                                    self.pairs[pair].state = PairState::Failed;
                                }
                                self.update_failed(now);
                            }
                            TxnKind::Gather { .. } => self.check_gathering_done(),
                            _ => {}
                        }
                    }
                }
            }
        }
        self.relays_timeout(now);
        // Gathering deadline.
        if let Some(start) = self.gathering {
            if !self.gathering_done && now >= later(start, self.config.gather_timeout) {
                self.txns
                    .retain(|_, t| !matches!(t.kind, TxnKind::Gather { .. }));
                self.check_gathering_done();
            }
        }
        // Consent freshness on the selected pair (RFC 7675).
        if let (Some(p), false) = (self.selected, self.consent_lost) {
            if let Some(last) = self.last_consent {
                if now >= later(last, self.config.consent_timeout) {
                    self.consent_lost = true;
                    self.txns
                        .retain(|_, t| matches!(t.kind, TxnKind::Gather { .. }));
                    self.triggered.clear();
                    self.set_state(IceState::Failed);
                } else if now >= later(last, self.config.disconnected_timeout) {
                    self.set_state(IceState::Disconnected);
                }
            }
            if !self.consent_lost && self.next_consent.is_some_and(|t| now >= t) {
                self.send_consent(now, p);
                self.next_consent = Some(later(now, self.consent_jitter()));
            }
        }
        self.pace(now);
    }

    /// When `handle_timeout` should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == IceState::Closed {
            return self.relays_poll_timeout();
        }
        let mut t: Option<Instant> = self.txns.values().map(|x| x.timer.deadline).min();
        let mut consider = |x: Instant| t = Some(t.map_or(x, |y| y.min(x)));
        if let (Some(start), false) = (self.gathering, self.gathering_done) {
            consider(later(start, self.config.gather_timeout));
        }
        if let Some(at) = self.next_pace_time() {
            consider(at);
        }
        if let Some(at) = self.relays_poll_timeout() {
            consider(at);
        }
        if self.selected.is_some() && !self.consent_lost {
            if let Some(n) = self.next_consent {
                consider(n);
            }
            if let Some(l) = self.last_consent {
                if self.state != IceState::Disconnected {
                    consider(later(l, self.config.disconnected_timeout));
                }
                consider(later(l, self.config.consent_timeout));
            }
        }
        t
    }

    /// The next datagram to send. Messages on relayed pairs come out
    /// already wrapped for their TURN server, and are sent from the
    /// relay's host base.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.out.is_empty() {
            self.flush_transmits();
        }
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }
}

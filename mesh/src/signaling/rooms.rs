//! The signaling server's logic, sans-IO: rooms, the roster, relaying and
//! the limits that keep one hostile client from hurting anyone else.
//!
//! The caller owns the connections. It calls [`Rooms::connect`] when one
//! opens, [`Rooms::handle_text`] / [`Rooms::handle_binary`] for each frame,
//! and [`Rooms::disconnect`] when one drops, and carries out every
//! [`Output`] returned, in order. After an [`Output::Close`] the client is
//! already gone from the rooms: the caller sends what was queued for it,
//! closes the connection, and need not call `disconnect` (it does no harm).
//!
//! No clock is read here: every call that can spend rate budget takes `now`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use serde::Serialize;

use super::protocol::{
    ClientMessage, ErrorCode, IceCandidateInit, IceServer, PeerInfo, ServerMessage,
};
use super::turn_rest::TurnRest;

/// Limits of a signaling server.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomsConfig {
    /// Members a room can hold; the next `join` gets `room-full`.
    pub max_members: usize,
    /// Largest message, in bytes; a bigger one gets `too-large` and a close.
    pub max_message_bytes: usize,
    /// Messages a client may send per second, sustained.
    pub rate_per_second: f64,
    /// Messages a client may send at once above the sustained rate (the
    /// token bucket's depth; a client starts with a full bucket).
    pub rate_burst: f64,
    /// Protocol errors (all codes but `room-full` and `unknown-peer`,
    /// which a well-behaved client can run into) after which the server
    /// closes the connection.
    pub max_errors_before_close: u32,
    /// Rooms that require a password in `join`; none by default.
    pub passwords: RoomPasswords,
    /// The ICE servers every `welcome` carries; none by default (a LAN
    /// needs none, and there may be no internet to reach a public one).
    pub ice_servers: Vec<IceServer>,
    /// How long a member whose connection dropped keeps its id and place
    /// ([`Rooms::suspend`]), so that a `resume` on a new connection takes
    /// it back without the others hearing `peer-left`. Zero: no resume
    /// tokens, a drop is a departure.
    pub resume_window: Duration,
    /// TURN servers sharing a secret with this server: every `welcome`
    /// adds an entry with the member's own time-limited credentials, and
    /// an `ice-servers` message renews them half-way through their
    /// lifetime ([`TurnRest`]).
    pub turn_rest: Option<TurnRest>,
}

/// Which rooms require a password. A `join` to such a room without the
/// right `password` gets `bad-password` (a protocol error: enough of them
/// close the connection, which with the rate limit bounds guessing).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RoomPasswords {
    /// The password of every room not in `rooms`; `None`: such rooms are
    /// open.
    pub all: Option<String>,
    /// Passwords of single rooms, by room name; these take precedence over
    /// `all`.
    pub rooms: HashMap<String, String>,
}

impl RoomPasswords {
    /// The password `room` requires, if any.
    pub fn required(&self, room: &str) -> Option<&str> {
        self.rooms
            .get(room)
            .map(String::as_str)
            .or(self.all.as_deref())
    }

    /// Whether `given` lets a client into `room`.
    pub fn admits(&self, room: &str, given: Option<&str>) -> bool {
        match (self.required(room), given) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(want), Some(given)) => same_secret(want.as_bytes(), given.as_bytes()),
        }
    }
}

// The secrets stay out of logs and panics.
impl fmt::Debug for RoomPasswords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rooms: Vec<&str> = self.rooms.keys().map(String::as_str).collect();
        rooms.sort_unstable();
        f.debug_struct("RoomPasswords")
            .field("all", &self.all.as_ref().map(|_| "<redacted>"))
            .field("rooms", &rooms)
            .finish()
    }
}

/// Compares two secrets in time that depends on their lengths only, not on
/// where they first differ, so timing does not reveal a prefix.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Default for RoomsConfig {
    fn default() -> Self {
        RoomsConfig {
            max_members: 6,
            max_message_bytes: 64 * 1024,
            rate_per_second: 50.0,
            rate_burst: 200.0,
            max_errors_before_close: 20,
            passwords: RoomPasswords::default(),
            ice_servers: Vec::new(),
            resume_window: Duration::from_secs(30),
            turn_rest: None,
        }
    }
}

/// A connection, as the server numbers them. Its wire id is `p<number>`
/// ([`ClientId::peer_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(u64);

impl ClientId {
    /// The id other members see in the roster and in `from`/`to`.
    pub fn peer_id(self) -> String {
        format!("p{}", self.0)
    }

    /// Reads a wire id back; `None` for anything this server cannot have
    /// given out.
    pub fn from_peer_id(id: &str) -> Option<ClientId> {
        let digits = id.strip_prefix('p')?;
        if digits.is_empty()
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        digits.parse().ok().map(ClientId)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// Why the server closes a connection. The room logic decides the first
/// two itself; the others are the transport's (timeouts, a client that
/// does not read, a frame that is not UTF-8), reported through
/// [`Rooms::close_client`] so that the room and the counters follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CloseReason {
    /// A message over [`RoomsConfig::max_message_bytes`].
    TooLarge,
    /// [`RoomsConfig::max_errors_before_close`] protocol errors.
    TooManyErrors,
    /// A text frame that is not valid UTF-8 (RFC 6455 §8.1).
    InvalidUtf8,
    /// No `join` within the join deadline after the WebSocket opened.
    JoinTimeout,
    /// Nothing received, not even a pong, within the idle timeout.
    IdleTimeout,
    /// The client does not read: its outgoing queue went over its byte
    /// limit, or a write did not finish within the write timeout.
    NotReading,
    /// A `resume` on a new connection took this connection's place.
    Replaced,
}

impl CloseReason {
    /// Every reason, in the order `docs/signaling.md` lists them.
    pub const ALL: [CloseReason; 7] = [
        CloseReason::TooLarge,
        CloseReason::TooManyErrors,
        CloseReason::InvalidUtf8,
        CloseReason::JoinTimeout,
        CloseReason::IdleTimeout,
        CloseReason::NotReading,
        CloseReason::Replaced,
    ];

    /// The WebSocket close code sent with it (RFC 6455 §7.4.1; 4000 and
    /// up are the range §7.4.2 leaves to applications).
    pub fn close_code(self) -> u16 {
        match self {
            CloseReason::InvalidUtf8 => 1007,
            CloseReason::TooManyErrors => 1008,
            CloseReason::TooLarge => 1009,
            CloseReason::IdleTimeout => 4000,
            CloseReason::JoinTimeout => 4001,
            CloseReason::NotReading => 4002,
            CloseReason::Replaced => 4003,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::TooLarge => "message too large",
            CloseReason::TooManyErrors => "too many errors",
            CloseReason::InvalidUtf8 => "text frame is not UTF-8",
            CloseReason::JoinTimeout => "no join in time",
            CloseReason::IdleTimeout => "idle",
            CloseReason::NotReading => "not reading",
            CloseReason::Replaced => "replaced by a resumed connection",
        })
    }
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this text frame to a client.
    Send {
        /// The connection.
        to: ClientId,
        /// A serialised [`ServerMessage`].
        text: String,
    },
    /// Close a client's connection (after sending what came before for it).
    Close {
        /// The connection.
        client: ClientId,
        /// Why.
        reason: CloseReason,
    },
}

/// Counters of a [`Rooms`], for `/stats` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoomsStats {
    /// Open connections now.
    pub connections: usize,
    /// Connections ever opened.
    pub connections_total: u64,
    /// Rooms with at least one member now.
    pub rooms: usize,
    /// Members over all rooms now.
    pub members: usize,
    /// Successful joins.
    pub joins: u64,
    /// Frames received.
    pub messages_received: u64,
    /// Offers, answers and candidates relayed.
    pub messages_relayed: u64,
    /// Error messages sent, by code (every code present, zeros included).
    pub errors: BTreeMap<ErrorCode, u64>,
    /// Connections the server closed.
    pub closes: u64,
    /// Connections the server closed, by reason (every reason present,
    /// zeros included).
    pub closed: BTreeMap<CloseReason, u64>,
    /// Members whose connection dropped, kept for the resume window now.
    pub suspended: usize,
    /// Members that took their place back with `resume`.
    pub resumed: u64,
    /// Suspended members whose place expired (or whose held messages
    /// overflowed); the others got `peer-left` then.
    pub resume_expired: u64,
    /// TURN credentials handed out (in `welcome` and in renewals).
    pub turn_credentials_issued: u64,
}

impl RoomsStats {
    /// Error messages sent with this code.
    pub fn errors_with(&self, code: ErrorCode) -> u64 {
        self.errors.get(&code).copied().unwrap_or(0)
    }

    /// Connections the server closed for this reason.
    pub fn closed_for(&self, reason: CloseReason) -> u64 {
        self.closed.get(&reason).copied().unwrap_or(0)
    }
}

#[derive(Debug)]
struct Client {
    /// The identity the others see (`p<n>`): its own id, or, after a
    /// `resume`, the id of the connection whose place it took.
    wire: ClientId,
    joined: Option<Joined>,
    tokens: f64,
    refilled: Instant,
    errors: u32,
    /// Whether a join ever succeeded on this connection.
    ever_joined: bool,
}

#[derive(Debug)]
struct Joined {
    room: String,
    name: String,
    /// The token that takes this place back (none without a resume window).
    resume: Option<String>,
}

#[derive(Debug, Default)]
struct Room {
    /// In joining order.
    members: Vec<ClientId>,
}

/// Every room of a signaling server and every connection to it.
#[derive(Debug)]
pub struct Rooms {
    config: RoomsConfig,
    next_id: u64,
    clients: HashMap<ClientId, Client>,
    rooms: HashMap<String, Room>,
    stats: RoomsStats,
    /// Members whose connection dropped, kept for the resume window.
    suspended: HashMap<ClientId, resume::Suspended>,
    /// Resume tokens of suspended members.
    resume_tokens: HashMap<String, ClientId>,
    /// Makes resume tokens.
    rng: ChaCha20Rng,
    /// When each member's TURN credentials are renewed.
    turn_renewals: HashMap<ClientId, Instant>,
}

impl Rooms {
    /// No connections, no rooms. Resume tokens come from a fixed seed, so
    /// they are predictable: a server uses [`Rooms::with_seed`].
    pub fn new(config: RoomsConfig) -> Rooms {
        Rooms::with_seed(config, [0; 32])
    }

    /// No connections, no rooms; resume tokens from a ChaCha20 stream with
    /// this seed (32 bytes from the OS, for a server).
    pub fn with_seed(config: RoomsConfig, seed: [u8; 32]) -> Rooms {
        let mut stats = RoomsStats::default();
        for code in ErrorCode::ALL {
            stats.errors.insert(code, 0);
        }
        for reason in CloseReason::ALL {
            stats.closed.insert(reason, 0);
        }
        Rooms {
            config,
            next_id: 1,
            clients: HashMap::new(),
            rooms: HashMap::new(),
            stats,
            suspended: HashMap::new(),
            resume_tokens: HashMap::new(),
            rng: ChaCha20Rng::from_seed(seed),
            turn_renewals: HashMap::new(),
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &RoomsConfig {
        &self.config
    }

    /// A connection opened; it must `join` before anything else.
    pub fn connect(&mut self, now: Instant) -> ClientId {
        let id = ClientId(self.next_id);
        self.next_id += 1;
        self.clients.insert(
            id,
            Client {
                wire: id,
                joined: None,
                tokens: self.config.rate_burst,
                refilled: now,
                errors: 0,
                ever_joined: false,
            },
        );
        self.stats.connections_total += 1;
        id
    }

    /// Whether a connection is open (connected and not closed by us).
    pub fn is_connected(&self, client: ClientId) -> bool {
        self.clients.contains_key(&client)
    }

    /// Whether a client has ever joined a room (it may have left since).
    /// The server closes a connection that has not by its join deadline.
    pub fn has_joined(&self, client: ClientId) -> bool {
        self.clients.get(&client).is_some_and(|c| c.ever_joined)
    }

    /// The transport closes a connection for `reason`: the client leaves
    /// its room (which gets `peer-left`) and the close is counted. The
    /// outputs start with the [`Output::Close`] for the client itself.
    /// Unknown (or already closed) clients are ignored.
    #[must_use]
    pub fn close_client(&mut self, client: ClientId, reason: CloseReason) -> Vec<Output> {
        let mut out = Vec::new();
        if self.clients.contains_key(&client) && !self.suspended.contains_key(&client) {
            self.close(client, reason, &mut out);
        }
        self.hold_for_suspended(out)
    }

    /// Every non-empty room with its members in joining order.
    pub fn rooms(&self) -> impl Iterator<Item = (&str, &[ClientId])> {
        self.rooms
            .iter()
            .map(|(name, room)| (name.as_str(), room.members.as_slice()))
    }

    /// The room a client is in.
    pub fn room_of(&self, client: ClientId) -> Option<&str> {
        let joined = self.clients.get(&client)?.joined.as_ref()?;
        Some(joined.room.as_str())
    }

    /// The counters now.
    pub fn stats(&self) -> RoomsStats {
        let mut stats = self.stats.clone();
        stats.connections = self.clients.len() - self.suspended.len();
        stats.suspended = self.suspended.len();
        stats.rooms = self.rooms.len();
        stats.members = self.rooms.values().map(|r| r.members.len()).sum();
        stats
    }

    /// A connection dropped: its room, if any, gets `peer-left`. Unknown
    /// (or already closed) clients are ignored.
    #[must_use]
    pub fn disconnect(&mut self, client: ClientId) -> Vec<Output> {
        let mut out = Vec::new();
        if self.clients.contains_key(&client) && !self.suspended.contains_key(&client) {
            self.leave_room(client, &mut out);
            self.clients.remove(&client);
        }
        self.hold_for_suspended(out)
    }

    /// A binary frame: the protocol is text only, so `bad-json` (or
    /// `too-large` and a close, for one over the limit).
    #[must_use]
    pub fn handle_binary(&mut self, now: Instant, client: ClientId, bytes: &[u8]) -> Vec<Output> {
        let mut out = Vec::new();
        if self.admit(now, client, bytes.len(), &mut out) {
            self.refuse(
                client,
                ErrorCode::BadJson,
                "binary frames are not part of the protocol: send JSON text",
                &mut out,
            );
        }
        self.hold_for_suspended(out)
    }

    /// A text frame from a client.
    #[must_use]
    pub fn handle_text(&mut self, now: Instant, client: ClientId, text: &str) -> Vec<Output> {
        let out = self.handle_message(now, client, text);
        self.hold_for_suspended(out)
    }

    fn handle_message(&mut self, now: Instant, client: ClientId, text: &str) -> Vec<Output> {
        let mut out = Vec::new();
        if !self.admit(now, client, text.len(), &mut out) {
            return out;
        }
        let message = match ClientMessage::parse(text) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(%client, code = %e.code, "signaling message refused: {}", e.message);
                self.refuse(client, e.code, e.message, &mut out);
                return out;
            }
        };
        match message {
            ClientMessage::Join {
                room,
                name,
                password,
            } => self.join(now, client, room, name, password.as_deref(), &mut out),
            ClientMessage::Leave => {
                if self.room_of(client).is_some() {
                    self.leave_room(client, &mut out);
                } else {
                    self.refuse(client, ErrorCode::NotJoined, "leave before join", &mut out);
                }
            }
            ClientMessage::Offer { to, sdp } => self.relay(
                client,
                &to,
                |from| ServerMessage::Offer { from, sdp },
                &mut out,
            ),
            ClientMessage::Answer { to, sdp } => self.relay(
                client,
                &to,
                |from| ServerMessage::Answer { from, sdp },
                &mut out,
            ),
            ClientMessage::Candidate { to, candidate } => {
                let relayed = |from| candidate_message(from, candidate);
                self.relay(client, &to, relayed, &mut out)
            }
            ClientMessage::Resume { token } => self.resume(now, client, &token, &mut out),
        }
        out
    }

    /// Counts the frame, then checks size and rate. False when the frame
    /// must go no further (the error or close is already in `out`).
    fn admit(&mut self, now: Instant, client: ClientId, len: usize, out: &mut Vec<Output>) -> bool {
        let (max_bytes, rate, burst) = (
            self.config.max_message_bytes,
            self.config.rate_per_second,
            self.config.rate_burst,
        );
        if self.suspended.contains_key(&client) {
            return false;
        }
        let Some(c) = self.clients.get_mut(&client) else {
            return false;
        };
        self.stats.messages_received += 1;
        if len > max_bytes {
            let message = format!("{len} bytes is over the limit of {max_bytes} bytes");
            self.send_error(client, ErrorCode::TooLarge, message, out);
            self.close(client, CloseReason::TooLarge, out);
            return false;
        }
        let elapsed = now.saturating_duration_since(c.refilled).as_secs_f64();
        c.refilled = c.refilled.max(now);
        c.tokens = (c.tokens + elapsed * rate).min(burst);
        if c.tokens < 1.0 {
            let message = format!("over {rate} messages per second: slow down");
            self.refuse(client, ErrorCode::RateLimited, message, out);
            return false;
        }
        c.tokens -= 1.0;
        true
    }

    fn join(
        &mut self,
        now: Instant,
        client: ClientId,
        room: String,
        name: String,
        password: Option<&str>,
        out: &mut Vec<Output>,
    ) {
        if let Some(current) = self.room_of(client) {
            let message = format!("already in room {current:?}: leave first");
            self.refuse(client, ErrorCode::AlreadyJoined, message, out);
            return;
        }
        // Before room-full, so that a client without the password learns
        // nothing about who is inside.
        if !self.config.passwords.admits(&room, password) {
            let message = match password {
                None => format!("room {room:?} requires a password"),
                Some(_) => format!("wrong password for room {room:?}"),
            };
            self.refuse(client, ErrorCode::BadPassword, message, out);
            return;
        }
        let members = self
            .rooms
            .get(&room)
            .map(|r| r.members.clone())
            .unwrap_or_default();
        if members.len() >= self.config.max_members {
            let message = format!(
                "room {room:?} holds its maximum of {} members",
                self.config.max_members
            );
            self.refuse(client, ErrorCode::RoomFull, message, out);
            return;
        }
        let peers: Vec<PeerInfo> = members.iter().filter_map(|&m| self.peer_info(m)).collect();
        let newcomer = PeerInfo {
            id: client.peer_id(),
            name: name.clone(),
        };
        let resume = self.new_token();
        let welcome = ServerMessage::Welcome {
            id: client.peer_id(),
            room: room.clone(),
            peers,
            max_members: self.config.max_members,
            ice_servers: self.member_ice_servers(now, client, client),
            resume: resume.clone(),
        };
        out.push(Output::Send {
            to: client,
            text: welcome.to_json(),
        });
        let joined = ServerMessage::PeerJoined { peer: newcomer }.to_json();
        for &m in &members {
            out.push(Output::Send {
                to: m,
                text: joined.clone(),
            });
        }
        self.rooms
            .entry(room.clone())
            .or_default()
            .members
            .push(client);
        if let Some(token) = &resume {
            self.resume_tokens.insert(token.clone(), client);
        }
        if let Some(c) = self.clients.get_mut(&client) {
            c.joined = Some(Joined { room, name, resume });
            c.ever_joined = true;
        }
        self.stats.joins += 1;
    }

    fn relay(
        &mut self,
        client: ClientId,
        to: &str,
        message: impl FnOnce(String) -> ServerMessage,
        out: &mut Vec<Output>,
    ) {
        let Some(room) = self.room_of(client) else {
            let text = "join a room before sending offers, answers or candidates";
            self.refuse(client, ErrorCode::NotJoined, text, out);
            return;
        };
        let target = self.rooms.get(room).and_then(|r| {
            r.members
                .iter()
                .copied()
                .find(|&m| m != client && self.wire_id(m) == to)
        });
        let Some(target) = target else {
            let shown: String = to.chars().take(32).collect();
            let text = format!("{shown:?} is not another member of your room");
            self.refuse(client, ErrorCode::UnknownPeer, text, out);
            return;
        };
        out.push(Output::Send {
            to: target,
            text: message(self.wire_id(client)).to_json(),
        });
        self.stats.messages_relayed += 1;
    }

    fn peer_info(&self, client: ClientId) -> Option<PeerInfo> {
        let c = self.clients.get(&client)?;
        let joined = c.joined.as_ref()?;
        Some(PeerInfo {
            id: c.wire.peer_id(),
            name: joined.name.clone(),
        })
    }

    /// The id the others know a client by.
    fn wire_id(&self, client: ClientId) -> String {
        self.clients
            .get(&client)
            .map_or(client, |c| c.wire)
            .peer_id()
    }

    /// Takes a client out of its room; the others get `peer-left` and an
    /// empty room is removed.
    fn leave_room(&mut self, client: ClientId, out: &mut Vec<Output>) {
        self.turn_renewals.remove(&client);
        let wire = self.wire_id(client);
        let Some(joined) = self.clients.get_mut(&client).and_then(|c| c.joined.take()) else {
            return;
        };
        if let Some(token) = &joined.resume {
            self.resume_tokens.remove(token);
        }
        let Some(room) = self.rooms.get_mut(&joined.room) else {
            return;
        };
        room.members.retain(|&m| m != client);
        let left = ServerMessage::PeerLeft { id: wire }.to_json();
        for &m in &room.members {
            out.push(Output::Send {
                to: m,
                text: left.clone(),
            });
        }
        if room.members.is_empty() {
            self.rooms.remove(&joined.room);
        }
    }

    /// Answers with an error; protocol errors count towards closing.
    fn refuse(
        &mut self,
        client: ClientId,
        code: ErrorCode,
        message: impl Into<String>,
        out: &mut Vec<Output>,
    ) {
        self.send_error(client, code, message, out);
        // A member can target a peer that left a moment ago, find a room
        // full or its place expired: those are not misbehaviour.
        if matches!(
            code,
            ErrorCode::RoomFull | ErrorCode::UnknownPeer | ErrorCode::ResumeFailed
        ) {
            return;
        }
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        c.errors += 1;
        if c.errors >= self.config.max_errors_before_close {
            self.close(client, CloseReason::TooManyErrors, out);
        }
    }

    fn send_error(
        &mut self,
        client: ClientId,
        code: ErrorCode,
        message: impl Into<String>,
        out: &mut Vec<Output>,
    ) {
        *self.stats.errors.entry(code).or_insert(0) += 1;
        out.push(Output::Send {
            to: client,
            text: ServerMessage::error(code, message).to_json(),
        });
    }

    fn close(&mut self, client: ClientId, reason: CloseReason, out: &mut Vec<Output>) {
        tracing::debug!(%client, %reason, "signaling server closes a connection");
        out.push(Output::Close { client, reason });
        self.stats.closes += 1;
        *self.stats.closed.entry(reason).or_insert(0) += 1;
        self.leave_room(client, out);
        self.clients.remove(&client);
    }
}

fn candidate_message(from: String, candidate: Option<IceCandidateInit>) -> ServerMessage {
    ServerMessage::Candidate { from, candidate }
}

mod resume;
#[cfg(test)]
mod tests;
mod turn_renewal;

//! The signaling server: HTTP and WebSocket on one port (axum on hyper).
//!
//! `GET /` is a short page about the server, `GET /protocol` the protocol
//! description, `GET /stats` the counters as JSON, `GET /room` (and
//! `/room/NAME`) the room app, `GET /ws` the WebSocket, and `GET /sse` with
//! `POST /sse/send` the same protocol without a WebSocket (module `sse`).
//! With [`ServerConfig::tls`] all of it is HTTPS. Each connection runs in a task that hands its frames to the
//! shared [`Rooms`] and writes out what the rooms send it.
//!
//! What one client can cost the server is bounded from the accept on: the
//! accept loop refuses connections over a total and a per-address cap, a
//! connection that has not become a WebSocket by the handshake deadline is
//! closed, so is a WebSocket that has not joined by the join deadline or
//! has been silent (not even a pong) for the idle timeout, and the queue of
//! messages for a client is bounded in bytes, with a timeout on each write:
//! a client that stops reading is closed and its queue freed. Every limit
//! is a field of [`ServerConfig`]; `docs/signaling.md` lists them.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State as AxumState;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use super::rooms::{ClientId, CloseReason, Output, Rooms, RoomsConfig, RoomsStats};
use super::sse::{self, ConnectionLife, Session};
use super::tls::ServerTls;

/// The address `meshrtc serve` listens on by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// What a queued message costs beyond its text, for the byte limit of a
/// client's queue: the queue entry and the string's allocation, roughly,
/// so that a flood of tiny messages is bounded too.
const QUEUED_MESSAGE_OVERHEAD: usize = 64;

/// The HTTP layer's read buffer, which bounds a request head.
const HTTP_MAX_BUFFER: usize = 16 * 1024;

/// Sent, without waiting, to a connection refused for a cap.
const REFUSAL: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

const PROTOCOL_DOC: &str = include_str!("../../../docs/signaling.md");

/// How a signaling server behaves. `docs/signaling.md` describes each
/// limit as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Room size, message size, rate limits and room passwords.
    pub rooms: RoomsConfig,
    /// Open TCP connections, WebSocket or not, over all clients; the next
    /// one is refused (an HTTP 503, then closed). Keep it below the
    /// process's descriptor limit.
    pub max_connections: usize,
    /// Open TCP connections from one IP address. Offices and homes share
    /// one address behind NAT, so not too low.
    pub max_connections_per_ip: usize,
    /// From accept to a completed WebSocket upgrade. A connection that is
    /// still HTTP then (slow or no request, or a keep-alive connection
    /// after its requests) is closed.
    pub handshake_timeout: Duration,
    /// From the upgrade to the first successful `join`; a WebSocket that
    /// has not joined by then is closed (close code 4001).
    pub join_timeout: Duration,
    /// How often the server pings each WebSocket.
    pub ping_interval: Duration,
    /// A WebSocket from which nothing arrived for this long (no message,
    /// no pong) is closed (close code 4000). Longer than `ping_interval`.
    pub idle_timeout: Duration,
    /// Bytes of messages queued for one client (with a small overhead per
    /// message); over it the client counts as not reading and is closed
    /// (close code 4002, if the socket still takes it).
    pub max_queued_bytes: usize,
    /// The longest one write to a client may take; then the client counts
    /// as not reading and is closed.
    pub write_timeout: Duration,
    /// How long a close may take: sending the close frame, then reading
    /// and dropping what the client still sends until its close frame
    /// arrives, so that the client sees the close code rather than a reset.
    pub close_timeout: Duration,
    /// Serve HTTPS and `wss://` with this certificate instead of plain
    /// HTTP. The TLS handshake counts against `handshake_timeout`.
    pub tls: Option<ServerTls>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            rooms: RoomsConfig::default(),
            max_connections: 1000,
            max_connections_per_ip: 64,
            handshake_timeout: Duration::from_secs(10),
            join_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            max_queued_bytes: 1024 * 1024,
            write_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(2),
            tls: None,
        }
    }
}

impl ServerConfig {
    /// The largest frame the WebSocket layer accepts at all: twice the
    /// protocol limit, so a message somewhat over it still gets a polite
    /// `too-large`, and anything bigger is cut off unread.
    pub fn ws_frame_limit(&self) -> usize {
        self.rooms.max_message_bytes.saturating_mul(2).max(1024)
    }
}

/// The counters `/stats` serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerStats {
    /// The room logic's counters.
    #[serde(flatten)]
    pub rooms: RoomsStats,
    /// Open TCP connections now (HTTP and WebSocket).
    pub open_connections: usize,
    /// Connections refused because [`ServerConfig::max_connections`] were
    /// open.
    pub refused_connections: u64,
    /// Connections refused because their address had
    /// [`ServerConfig::max_connections_per_ip`] open.
    pub refused_per_ip: u64,
    /// Connections closed for not completing the WebSocket upgrade within
    /// [`ServerConfig::handshake_timeout`].
    pub handshake_timeouts: u64,
    /// TLS handshakes that failed (with `--tls`): among them each time a
    /// browser refuses the certificate it has not been told to trust.
    pub tls_failures: u64,
    /// Connections dropped because they did not read what was sent to them
    /// (also counted under `closed`, `not-reading`).
    pub dropped_slow: u64,
    /// Connections that ended with a WebSocket error (a frame over the
    /// WebSocket layer's limit among them), or sessions of the HTTP
    /// transport that posted a body over that limit.
    pub transport_errors: u64,
    /// Sessions of the HTTP transport (`GET /sse`) opened so far.
    pub sse_sessions: u64,
    /// Members whose connection went silent past the idle timeout and who
    /// were kept for a `resume` (also counted under `closed`,
    /// `idle-timeout`).
    pub idle_suspended: u64,
}

pub(super) enum Outbound {
    Text(String),
    /// The rooms closed the client: send what came before, then close.
    Close(CloseReason),
}

pub(super) fn queued_cost(text: &str) -> usize {
    text.len() + QUEUED_MESSAGE_OVERHEAD
}

/// What the rooms side and a connection's task share.
pub(super) struct Link {
    /// Bytes queued (by [`queued_cost`]) and not yet taken by the task.
    pub(super) queued_bytes: AtomicUsize,
    /// Set once when the client must go at once, whatever is queued.
    pub(super) abort: OnceLock<CloseReason>,
    pub(super) wake: Notify,
}

impl Link {
    pub(super) fn new() -> Link {
        Link {
            queued_bytes: AtomicUsize::new(0),
            abort: OnceLock::new(),
            wake: Notify::new(),
        }
    }

    pub(super) fn abort(&self, reason: CloseReason) {
        let _ = self.abort.set(reason);
        self.wake.notify_one();
    }
}

pub(super) struct Connection {
    pub(super) tx: mpsc::UnboundedSender<Outbound>,
    pub(super) link: Arc<Link>,
}

pub(super) struct State {
    pub(super) rooms: Rooms,
    pub(super) connections: HashMap<ClientId, Connection>,
    /// The sessions of the HTTP transport, by token.
    pub(super) sessions: HashMap<String, Session>,
    max_queued_bytes: usize,
    dropped_slow: u64,
    pub(super) transport_errors: u64,
    /// Sessions of the HTTP transport opened so far.
    pub(super) sse_sessions: u64,
    /// Members whose connection went idle and who were suspended rather
    /// than removed.
    idle_suspended: u64,
    pub(super) closing: bool,
}

impl State {
    /// Carries out the rooms' outputs. A client whose queue would go over
    /// its byte limit is closed as not reading, and what that causes
    /// (peer-left) is carried out as well.
    pub(super) fn dispatch(&mut self, outputs: Vec<Output>) {
        let mut queue = VecDeque::from(outputs);
        while let Some(output) = queue.pop_front() {
            match output {
                Output::Send { to, text } => {
                    let Some(conn) = self.connections.get(&to) else {
                        continue;
                    };
                    let cost = queued_cost(&text);
                    // Only this function adds, under the state lock; the
                    // task only takes away. One message always fits, so a
                    // big offer to an idle client is never a reason.
                    let queued = conn.link.queued_bytes.load(Ordering::Acquire);
                    if queued > 0 && queued + cost > self.max_queued_bytes {
                        tracing::debug!(client = %to, queued, "signaling client not reading: closed");
                        if let Some(conn) = self.connections.remove(&to) {
                            conn.link.abort(CloseReason::NotReading);
                        }
                        self.dropped_slow += 1;
                        queue.extend(self.rooms.close_client(to, CloseReason::NotReading));
                        continue;
                    }
                    conn.link.queued_bytes.fetch_add(cost, Ordering::AcqRel);
                    if conn.tx.send(Outbound::Text(text)).is_err() {
                        // The task has ended; its own clean-up is on the way.
                        self.connections.remove(&to);
                        queue.extend(self.rooms.disconnect(to));
                    }
                }
                Output::Close { client, reason } => {
                    if let Some(conn) = self.connections.remove(&client) {
                        let _ = conn.tx.send(Outbound::Close(reason));
                    }
                }
            }
        }
    }
}

impl State {
    /// Takes a client's connection away when its task ends, tells the
    /// rooms (a close for a reason, or a plain disconnect), and carries out
    /// what that causes (`peer-left` to the others). A connection that
    /// vanished (no close frame, or silent past the idle timeout) leaves
    /// its member suspended, for a `resume` within the resume window.
    pub(super) fn finish(&mut self, client: ClientId, end: End) {
        self.connections.remove(&client);
        let outputs = match end {
            End::Gone => self.rooms.suspend(Instant::now(), client, None),
            End::Close(reason @ CloseReason::IdleTimeout) => {
                let outputs = self.rooms.suspend(Instant::now(), client, Some(reason));
                if self.rooms.is_suspended(client) {
                    self.idle_suspended += 1;
                }
                outputs
            }
            End::Close(reason) => {
                let outputs = self.rooms.close_client(client, reason);
                // A write that timed out; a queue over its limit was
                // counted where it was found.
                if reason == CloseReason::NotReading && !outputs.is_empty() {
                    self.dropped_slow += 1;
                }
                outputs
            }
            End::Shutdown | End::ClosedByClient => self.rooms.disconnect(client),
        };
        self.dispatch(outputs);
    }
}

/// The rooms, with resume tokens from a seed the OS gives; without one,
/// no resume tokens at all (they must not be guessable).
fn rooms_with_os_seed(mut config: RoomsConfig) -> Rooms {
    let mut seed = [0u8; 32];
    if getrandom::getrandom(&mut seed).is_err() {
        tracing::warn!("no randomness from the OS: signaling without resume");
        config.resume_window = Duration::ZERO;
    }
    Rooms::with_seed(config, seed)
}

/// Open connections by address, and what the accept loop refused.
#[derive(Default)]
struct Gate {
    open: usize,
    per_ip: HashMap<IpAddr, usize>,
    refused_total: u64,
    refused_per_ip: u64,
    handshake_timeouts: u64,
    tls_failures: u64,
}

pub(super) struct Shared {
    state: Mutex<State>,
    gate: Mutex<Gate>,
    pub(super) config: ServerConfig,
}

impl Shared {
    fn new(config: ServerConfig) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                rooms: rooms_with_os_seed(config.rooms.clone()),
                connections: HashMap::new(),
                sessions: HashMap::new(),
                max_queued_bytes: config.max_queued_bytes,
                dropped_slow: 0,
                transport_errors: 0,
                sse_sessions: 0,
                idle_suspended: 0,
                closing: false,
            }),
            gate: Mutex::new(Gate::default()),
            config,
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between calls: a panic elsewhere must
        // not take the whole server down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn gate(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a place for a new connection from `ip`, or counts a refusal.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut gate = self.gate();
        if gate.open >= self.config.max_connections {
            gate.refused_total += 1;
            return None;
        }
        let from_ip = gate.per_ip.entry(ip).or_insert(0);
        if *from_ip >= self.config.max_connections_per_ip {
            gate.refused_per_ip += 1;
            return None;
        }
        *from_ip += 1;
        gate.open += 1;
        Some(Slot {
            shared: self.clone(),
            ip,
        })
    }

    fn stats(&self) -> ServerStats {
        let (open, refused_total, refused_per_ip, handshake_timeouts, tls_failures) = {
            let gate = self.gate();
            (
                gate.open,
                gate.refused_total,
                gate.refused_per_ip,
                gate.handshake_timeouts,
                gate.tls_failures,
            )
        };
        let state = self.lock();
        ServerStats {
            rooms: state.rooms.stats(),
            open_connections: open,
            refused_connections: refused_total,
            refused_per_ip,
            handshake_timeouts,
            tls_failures,
            dropped_slow: state.dropped_slow,
            sse_sessions: state.sse_sessions,
            idle_suspended: state.idle_suspended,
            transport_errors: state.transport_errors,
        }
    }

    fn shut_down_connections(&self) {
        let mut state = self.lock();
        state.closing = true;
        state.connections.clear();
        state.sessions.clear();
    }
}

/// A connection's place under the caps, given back when the socket is
/// dropped, whether it ended as HTTP or as a WebSocket.
struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut gate = self.shared.gate();
        gate.open = gate.open.saturating_sub(1);
        if let Some(n) = gate.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                gate.per_ip.remove(&self.ip);
            }
        }
    }
}

/// The bytes of a connection: plain TCP, or TLS over it.
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// A connection's stream that holds its [`Slot`]: hyper, and after the
/// upgrade the WebSocket, own it, so the slot lives exactly as long as the
/// socket.
struct SlotStream {
    io: Io,
    _slot: Slot,
}

/// Forwards an I/O call to whichever stream the connection has.
macro_rules! on_io {
    ($self:ident, $s:ident => $call:expr) => {
        match &mut $self.io {
            Io::Plain($s) => {
                let $s = Pin::new($s);
                $call
            }
            Io::Tls($s) => {
                let $s = Pin::new(&mut **$s);
                $call
            }
        }
    };
}

impl AsyncRead for SlotStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        on_io!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for SlotStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        on_io!(self, s => s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        on_io!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_io!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_io!(self, s => s.poll_shutdown(cx))
    }
}

/// A server running in the background, as [`bind`] or [`spawn`] start it.
/// Dropping the handle stops the server too.
pub struct ServerHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The address the server listens on (with the real port if bound to 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The WebSocket URL, `ws://ADDR/ws` (`wss://` with TLS).
    pub fn ws_url(&self) -> String {
        self.url("ws", "/ws")
    }

    /// The page's base URL, `http://ADDR` (`https://` with TLS).
    pub fn http_url(&self) -> String {
        self.url("http", "")
    }

    /// `scheme://ADDR/path`, the scheme with an `s` when TLS is on.
    fn url(&self, scheme: &str, path: &str) -> String {
        let secure = if self.shared.config.tls.is_some() {
            "s"
        } else {
            ""
        };
        format!("{scheme}{secure}://{}{path}", self.local_addr)
    }

    /// The counters now.
    pub fn stats(&self) -> ServerStats {
        self.shared.stats()
    }

    /// Stops accepting, closes every WebSocket (close code 1001) and every
    /// connection still in HTTP, and waits for the accept loop to end.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.stop_now();
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }

    fn stop_now(&mut self) {
        self.stop.send_replace(true);
        self.shared.shut_down_connections();
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Binds `addr` and runs a server in the background on the current tokio
/// runtime.
pub async fn bind(addr: impl ToSocketAddrs, config: ServerConfig) -> io::Result<ServerHandle> {
    spawn(TcpListener::bind(addr).await?, config)
}

/// Runs a server on a bound listener in the background on the current
/// tokio runtime.
pub fn spawn(listener: TcpListener, config: ServerConfig) -> io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    let shared = Shared::new(config);
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, shared.clone(), stopped));
    Ok(ServerHandle {
        local_addr,
        shared,
        stop,
        task: Some(task),
    })
}

/// Runs a server on a bound listener for as long as the future is polled.
pub async fn serve(listener: TcpListener, config: ServerConfig) -> io::Result<()> {
    let (_stop, stopped) = watch::channel(false);
    accept_loop(listener, Shared::new(config), stopped).await
}

/// Resolves once the server stops (or its handle is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|&stopped| stopped).await;
}

/// Accepts connections under the caps and gives each to hyper in a task of
/// its own.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let app = router(shared.clone());
    // Ends the suspensions that are due (resume window); a second is fine
    // against a window of tens of seconds.
    let mut expiry = tokio::time::interval(Duration::from_secs(1));
    expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let accepted = tokio::select! {
            () = stopped(&mut stop) => return Ok(()),
            accepted = listener.accept() => accepted,
            _ = expiry.tick() => {
                let mut state = shared.lock();
                let outputs = state.rooms.handle_timeout(Instant::now());
                state.dispatch(outputs);
                continue;
            }
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, or a connection reset before it was
                // accepted: wait a moment rather than spin.
                tracing::debug!("signaling accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = shared.admit(peer.ip()) else {
            tracing::debug!(%peer, "signaling connection refused: over a connection cap");
            // Never wait on a refused peer: what fits in the socket now.
            let _ = tcp.try_write(REFUSAL);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(http_connection(
            tcp,
            slot,
            app.clone(),
            shared.clone(),
            stop.clone(),
        ));
    }
}

/// One connection while it is HTTP: done when it has become a WebSocket
/// (whose task then owns the socket), has ended, or at the handshake
/// deadline, which closes it. With TLS, the TLS handshake comes first,
/// within the same deadline.
async fn http_connection(
    tcp: TcpStream,
    slot: Slot,
    app: Router,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let deadline = tokio::time::Instant::now() + shared.config.handshake_timeout;
    let io = match &shared.config.tls {
        None => Io::Plain(tcp),
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
            let handshake = tokio::time::timeout_at(deadline, acceptor.accept(tcp));
            tokio::select! {
                result = handshake => match result {
                    Ok(Ok(stream)) => Io::Tls(Box::new(stream)),
                    Ok(Err(e)) => {
                        // A browser that has not accepted the certificate
                        // yet ends here, each time it asks the person.
                        tracing::debug!("signaling TLS handshake failed: {e}");
                        shared.gate().tls_failures += 1;
                        return;
                    }
                    Err(_) => {
                        shared.gate().handshake_timeouts += 1;
                        return;
                    }
                },
                () = stopped(&mut stop) => return,
            }
        }
    };
    let io = SlotStream { io, _slot: slot };
    let life = Arc::new(ConnectionLife::default());
    let app = app.layer(axum::Extension(life.clone()));
    let service = hyper_util::service::TowerToHyperService::new(app);
    let connection = hyper::server::conn::http1::Builder::new()
        .max_buf_size(HTTP_MAX_BUFFER)
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    // The deadline holds while the connection is plain HTTP; an event
    // stream (the HTTP transport) lifts it until the stream ends, and each
    // POST of a live session starts it over.
    let expiry = tokio::time::sleep_until(deadline);
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            result = &mut connection => {
                if let Err(e) = result {
                    tracing::debug!("signaling HTTP connection failed: {e}");
                }
                break;
            }
            () = &mut expiry, if !life.is_streaming() => {
                tracing::debug!("signaling connection closed at the handshake deadline");
                shared.gate().handshake_timeouts += 1;
                break;
            }
            () = life.changed() => {
                expiry
                    .as_mut()
                    .reset(tokio::time::Instant::now() + shared.config.handshake_timeout);
            }
            () = stopped(&mut stop) => {
                // An event stream still sends its close event: let the
                // response end, within the close timeout.
                connection.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(shared.config.close_timeout, &mut connection).await;
                break;
            }
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/protocol", get(protocol))
        .route("/room", get(room_page))
        .route("/room/{name}", get(room_page))
        .route("/stats", get(stats))
        .route("/ws", get(upgrade))
        .route("/sse", get(sse::open))
        .route("/sse/send", post(sse::send))
        .with_state(shared)
}

/// The room app, a browser member of a room (`docs/room.html`), served at
/// `/room` and `/room/NAME` (the room in the path, for a shareable link).
const ROOM_PAGE: &str = include_str!("../../../docs/room.html");

async fn room_page() -> Html<&'static str> {
    Html(ROOM_PAGE)
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>meshrtc signaling</title></head>\n\
         <body><h1>meshrtc signaling server</h1>\n\
         <p>This server relays the offers, answers and ICE candidates of mesh calls between \
         the members of a room. It carries no media.</p>\n\
         <p>WebSocket endpoint: <code>/ws</code> (JSON text frames). \
         Protocol: <a href=\"/protocol\">/protocol</a>. Counters: <a href=\"/stats\">/stats</a>.</p>\n\
         <p>Join a room from this browser: <a href=\"/room\">/room</a> \
         or <code>/room/NAME</code> (<code>/room?room=NAME&amp;name=YOU&amp;join=1</code> joins at once).</p>\n\
         </body></html>\n",
    )
}

async fn protocol() -> Response {
    (
        [(CONTENT_TYPE, "text/markdown; charset=utf-8")],
        PROTOCOL_DOC,
    )
        .into_response()
}

async fn stats(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let body = serde_json::to_string_pretty(&shared.stats()).unwrap_or_default();
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

async fn upgrade(ws: WebSocketUpgrade, AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let limit = shared.config.ws_frame_limit();
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection(socket, shared))
}

/// The timers of one client's loop: the keep-alive, the idle timeout and
/// the join deadline, from now.
pub(super) struct ClientTimers {
    pub(super) ping: tokio::time::Interval,
    pub(super) idle: Pin<Box<tokio::time::Sleep>>,
    pub(super) join_deadline: Pin<Box<tokio::time::Sleep>>,
}

impl ClientTimers {
    pub(super) fn new(config: &ServerConfig) -> ClientTimers {
        let opened = tokio::time::Instant::now();
        let mut ping =
            tokio::time::interval_at(opened + config.ping_interval, config.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ClientTimers {
            ping,
            idle: Box::pin(tokio::time::sleep_until(opened + config.idle_timeout)),
            join_deadline: Box::pin(tokio::time::sleep_until(opened + config.join_timeout)),
        }
    }
}

/// How a WebSocket's (or an event stream's) loop ended.
#[derive(Clone, Copy)]
pub(super) enum End {
    /// The server closes it, for this reason. The rooms may know already
    /// (closing a client twice does nothing).
    Close(CloseReason),
    /// The server shuts down (close code 1001).
    Shutdown,
    /// The client sent its close frame; ours is the reply.
    ClosedByClient,
    /// The connection failed or ended without a close.
    Gone,
}

/// How a bounded write ended.
enum Write {
    Sent,
    Failed,
    TimedOut,
    Aborted(CloseReason),
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// Sends one frame within `limit`, unless the client is aborted meanwhile.
async fn send_bounded(sink: &mut Sink, link: &Link, message: Message, limit: Duration) -> Write {
    tokio::select! {
        biased;
        () = link.wake.notified() => {
            Write::Aborted(link.abort.get().copied().unwrap_or(CloseReason::NotReading))
        }
        sent = tokio::time::timeout(limit, sink.send(message)) => match sent {
            Ok(Ok(())) => Write::Sent,
            Ok(Err(_)) => Write::Failed,
            Err(_) => Write::TimedOut,
        },
    }
}

/// Whether a WebSocket error is a text frame (or close reason) that is not
/// UTF-8.
fn is_invalid_utf8(e: axum::Error) -> bool {
    // axum passes the WebSocket library's error through as its source.
    matches!(
        e.into_inner().downcast::<tungstenite::Error>().as_deref(),
        Ok(tungstenite::Error::Utf8(_))
    )
}

/// One WebSocket, from upgrade to close.
async fn connection(socket: WebSocket, shared: Arc<Shared>) {
    let config = shared.config.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let link = Arc::new(Link::new());
    let client = {
        let mut state = shared.lock();
        if state.closing {
            return;
        }
        let client = state.rooms.connect(Instant::now());
        let conn = Connection {
            tx,
            link: link.clone(),
        };
        state.connections.insert(client, conn);
        client
    };
    tracing::debug!(%client, "signaling connection opened");
    let (mut sink, mut stream) = socket.split();
    let ClientTimers {
        mut ping,
        mut idle,
        mut join_deadline,
    } = ClientTimers::new(&config);
    let mut join_checked = false;
    let end = loop {
        tokio::select! {
            () = link.wake.notified() => {
                if let Some(&reason) = link.abort.get() {
                    break End::Close(reason);
                }
            }
            out = rx.recv() => match out {
                Some(Outbound::Text(text)) => {
                    link.queued_bytes.fetch_sub(queued_cost(&text), Ordering::AcqRel);
                    let message = Message::Text(text.into());
                    match send_bounded(&mut sink, &link, message, config.write_timeout).await {
                        Write::Sent => {}
                        Write::Failed => break End::Gone,
                        Write::TimedOut => break End::Close(CloseReason::NotReading),
                        Write::Aborted(reason) => break End::Close(reason),
                    }
                }
                Some(Outbound::Close(reason)) => break End::Close(reason),
                // Shut down (or closed by the rooms, whose close is queued
                // before the sender goes).
                None => break End::Shutdown,
            },
            _ = ping.tick() => {
                let ping = Message::Ping(Default::default());
                match send_bounded(&mut sink, &link, ping, config.write_timeout).await {
                    Write::Sent => {}
                    Write::Failed => break End::Gone,
                    Write::TimedOut => break End::Close(CloseReason::NotReading),
                    Write::Aborted(reason) => break End::Close(reason),
                }
            }
            () = &mut idle => break End::Close(CloseReason::IdleTimeout),
            () = &mut join_deadline, if !join_checked => {
                join_checked = true;
                if !shared.lock().rooms.has_joined(client) {
                    break End::Close(CloseReason::JoinTimeout);
                }
            }
            frame = stream.next() => {
                // Anything at all, a pong included, shows the client is there.
                idle.as_mut().reset(tokio::time::Instant::now() + config.idle_timeout);
                let now = Instant::now();
                // One lock for the call and its outputs, so every client
                // sees events in the order the rooms produced them.
                let mut state = shared.lock();
                let outputs = match frame {
                    Some(Ok(Message::Text(text))) => {
                        state.rooms.handle_text(now, client, text.as_str())
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        state.rooms.handle_binary(now, client, &bytes)
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) => break End::ClosedByClient,
                    None => break End::Gone,
                    Some(Err(e)) => {
                        if is_invalid_utf8(e) {
                            break End::Close(CloseReason::InvalidUtf8);
                        }
                        tracing::debug!(%client, "signaling connection failed");
                        state.transport_errors += 1;
                        break End::Gone;
                    }
                };
                state.dispatch(outputs);
            }
        }
    };
    shared.lock().finish(client, end);
    // Whatever was still queued goes now, not when the socket closes.
    drop(rx);
    match end {
        End::Close(reason) => {
            let frame = CloseFrame {
                code: reason.close_code(),
                reason: reason.to_string().into(),
            };
            close_politely(sink, stream, frame, config.close_timeout).await;
        }
        End::Shutdown => {
            let frame = CloseFrame {
                code: 1001,
                reason: "going away".into(),
            };
            close_politely(sink, stream, frame, config.close_timeout).await;
        }
        End::ClosedByClient => {
            // Sends the reply the WebSocket layer queued.
            let _ = tokio::time::timeout(config.close_timeout, sink.close()).await;
        }
        End::Gone => {}
    }
    tracing::debug!(%client, "signaling connection closed");
}

/// Sends our close frame, then reads (and drops) what the client still
/// sends until its close frame, all within `limit`. The server closes the
/// TCP connection after the closing handshake (RFC 6455 §7.1.1), and data
/// left unread in our socket would make the kernel answer the close with
/// a reset, which can destroy the close frame before the client reads it.
async fn close_politely(
    mut sink: Sink,
    mut stream: SplitStream<WebSocket>,
    frame: CloseFrame,
    limit: Duration,
) {
    let deadline = tokio::time::Instant::now() + limit;
    let sent = tokio::time::timeout_at(deadline, sink.send(Message::Close(Some(frame)))).await;
    if !matches!(sent, Ok(Ok(()))) {
        return;
    }
    let _ = tokio::time::timeout_at(deadline, async {
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

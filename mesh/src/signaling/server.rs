//! The signaling server: HTTP and WebSocket on one port (axum).
//!
//! `GET /` is a short page about the server, `GET /protocol` the protocol
//! description, `GET /stats` the counters as JSON, and `GET /ws` the
//! WebSocket. Each connection runs in a task that hands its frames to the
//! shared [`Rooms`] and writes out what the rooms send it; the rooms reach
//! a connection through a bounded queue, so a client that stops reading is
//! dropped instead of growing the server's memory.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State as AxumState;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::rooms::{ClientId, CloseReason, Output, Rooms, RoomsConfig, RoomsStats};

/// The address `meshrtc serve` listens on by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Messages queued for one connection before it counts as not reading.
const OUTBOUND_QUEUE: usize = 1024;

const PROTOCOL_DOC: &str = include_str!("../../../docs/signaling.md");

/// How a signaling server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ServerConfig {
    /// Room size, message size and rate limits.
    pub rooms: RoomsConfig,
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
    /// Connections dropped because they did not read what was sent to them.
    pub dropped_slow: u64,
    /// Connections that ended with a WebSocket error (a frame over the
    /// WebSocket layer's limit among them).
    pub transport_errors: u64,
}

enum Outbound {
    Text(String),
    Close(CloseReason),
}

struct State {
    rooms: Rooms,
    connections: HashMap<ClientId, mpsc::Sender<Outbound>>,
    dropped_slow: u64,
    transport_errors: u64,
    closing: bool,
}

impl State {
    /// Carries out the rooms' outputs; a connection whose queue is full is
    /// dropped, and what that causes (peer-left) is carried out as well.
    fn dispatch(&mut self, outputs: Vec<Output>) {
        let mut queue = VecDeque::from(outputs);
        while let Some(output) = queue.pop_front() {
            match output {
                Output::Send { to, text } => {
                    let Some(tx) = self.connections.get(&to) else {
                        continue;
                    };
                    if let Err(e) = tx.try_send(Outbound::Text(text)) {
                        if matches!(e, mpsc::error::TrySendError::Full(_)) {
                            tracing::debug!(client = %to, "signaling client not reading: dropped");
                            self.dropped_slow += 1;
                        }
                        // Dropping the sender ends the connection's task.
                        self.connections.remove(&to);
                        queue.extend(self.rooms.disconnect(to));
                    }
                }
                Output::Close { client, reason } => {
                    if let Some(tx) = self.connections.remove(&client) {
                        // If the queue is full the dropped sender closes it.
                        let _ = tx.try_send(Outbound::Close(reason));
                    }
                }
            }
        }
    }

    fn stats(&self) -> ServerStats {
        ServerStats {
            rooms: self.rooms.stats(),
            dropped_slow: self.dropped_slow,
            transport_errors: self.transport_errors,
        }
    }
}

struct Shared {
    state: Mutex<State>,
    ws_frame_limit: usize,
}

impl Shared {
    fn new(config: ServerConfig) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                rooms: Rooms::new(config.rooms),
                connections: HashMap::new(),
                dropped_slow: 0,
                transport_errors: 0,
                closing: false,
            }),
            ws_frame_limit: config.ws_frame_limit(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between calls: a panic elsewhere must
        // not take the whole server down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn shut_down_connections(&self) {
        let mut state = self.lock();
        state.closing = true;
        state.connections.clear();
    }
}

/// A server running in the background, as [`bind`] or [`spawn`] start it.
/// Dropping the handle stops the server too.
pub struct ServerHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
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

    /// The WebSocket URL, `ws://ADDR/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.local_addr)
    }

    /// The counters now.
    pub fn stats(&self) -> ServerStats {
        self.shared.lock().stats()
    }

    /// Stops accepting, closes every WebSocket (close code 1001) and waits
    /// for the HTTP server to end.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.stop_now();
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
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
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(shared.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(ServerHandle {
        local_addr,
        shared,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Runs a server on a bound listener until the listener fails.
pub async fn serve(listener: TcpListener, config: ServerConfig) -> io::Result<()> {
    axum::serve(listener, router(Shared::new(config))).await
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/protocol", get(protocol))
        .route("/room", get(room_page))
        .route("/stats", get(stats))
        .route("/ws", get(upgrade))
        .with_state(shared)
}

/// The browser member of a room (`docs/room.html`), served at `/room`.
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
         (<code>/room?room=NAME&amp;name=YOU&amp;join=1</code> joins at once).</p>\n\
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
    let body = serde_json::to_string_pretty(&shared.lock().stats()).unwrap_or_default();
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

async fn upgrade(ws: WebSocketUpgrade, AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let limit = shared.ws_frame_limit;
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection(socket, shared))
}

/// One WebSocket, from upgrade to close.
async fn connection(socket: WebSocket, shared: Arc<Shared>) {
    let (tx, mut rx) = mpsc::channel(OUTBOUND_QUEUE);
    let client = {
        let mut state = shared.lock();
        if state.closing {
            return;
        }
        let client = state.rooms.connect(Instant::now());
        state.connections.insert(client, tx);
        client
    };
    tracing::debug!(%client, "signaling connection opened");
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Outbound::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Close(reason)) => {
                    let code = match reason {
                        CloseReason::TooLarge => 1009,
                        CloseReason::TooManyErrors => 1008,
                    };
                    let frame = CloseFrame { code, reason: reason.to_string().into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
                None => {
                    // Shut down, or dropped for not reading.
                    let frame = CloseFrame { code: 1001, reason: "going away".into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
            },
            frame = stream.next() => {
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
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(e)) => {
                        tracing::debug!(%client, "signaling connection failed: {e}");
                        state.transport_errors += 1;
                        break;
                    }
                };
                state.dispatch(outputs);
            }
        }
    }
    let mut state = shared.lock();
    state.connections.remove(&client);
    let outputs = state.rooms.disconnect(client);
    state.dispatch(outputs);
    tracing::debug!(%client, "signaling connection closed");
}

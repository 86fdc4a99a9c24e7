//! The signaling protocol over plain HTTP requests, for browsers that
//! cannot open the WebSocket: WebKit on iPhones refuses a `wss://`
//! connection to a self-signed certificate even after the person accepted
//! that certificate for the page, but same-origin `fetch` and
//! `EventSource` go through.
//!
//! `GET /sse` opens a session: a server-sent event stream (WHATWG HTML
//! §9.2, `text/event-stream`) whose first event, `session`, carries the
//! session token; then each server message is one `message` event with the
//! JSON as its data, exactly as a WebSocket text frame would carry it.
//! `POST /sse/send` with the header `x-meshrtc-session: TOKEN` carries one
//! client message as its body (an empty body only shows the client is
//! there). A custom header makes a cross-origin POST need a CORS preflight,
//! which this server never grants, so other sites cannot post into a
//! session.
//!
//! A session is a client of the same [`Rooms`](super::Rooms) as a
//! WebSocket, with the same limits: message size, rate, errors, room
//! passwords, the join deadline, the idle timeout (counted from the last
//! POST: the page posts an empty keep-alive more often than that), the
//! byte bound of its queue and the write timeout. Closes that a WebSocket
//! gets as a close frame come as a last `close` event
//! (`{"code":4002,"reason":"not reading"}`), then the stream ends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State as AxumState};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use tokio::sync::{mpsc, Notify};

use super::rooms::{ClientId, CloseReason};
use super::server::{queued_cost, ClientTimers, Connection, End, Link, Outbound, Shared};

/// The header that names the session in a POST.
pub const SESSION_HEADER: &str = "x-meshrtc-session";

/// How long one session token is: 128 bits from the OS, in hex.
const TOKEN_BYTES: usize = 16;

/// The events of the stream that have been made but not taken by the HTTP
/// layer: one, so a stream that is not read shows at once (the write
/// timeout then counts).
const STREAM_BUFFER: usize = 1;

/// What the connection's task and the request handlers know of one HTTP
/// connection: whether it carries an event stream (which has no handshake
/// deadline), and a wake-up when that changes or a request used it.
#[derive(Debug, Default)]
pub(super) struct ConnectionLife {
    streaming: AtomicBool,
    changed: Notify,
}

impl ConnectionLife {
    /// Whether the connection carries an open event stream.
    pub(super) fn is_streaming(&self) -> bool {
        self.streaming.load(Ordering::Acquire)
    }

    /// Wakes when the connection starts or ends a stream, or was used.
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }

    fn set_streaming(&self, on: bool) {
        self.streaming.store(on, Ordering::Release);
        self.changed.notify_one();
    }

    /// A request used the connection: its deadline starts over.
    fn touch(&self) {
        self.changed.notify_one();
    }
}

/// A session as the POST handler finds it.
pub(super) struct Session {
    pub(super) client: ClientId,
    /// Woken by every POST, for the idle timeout.
    pub(super) activity: Arc<Notify>,
}

fn new_token() -> Option<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::getrandom(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One event of the stream: `event:` (if not the default `message`) and
/// one `data:` line. Every text here is single-line JSON: serde_json
/// escapes line breaks inside strings.
fn event(name: Option<&str>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 24);
    if let Some(name) = name {
        out.push_str("event: ");
        out.push_str(name);
        out.push('\n');
    }
    out.push_str("data: ");
    out.push_str(data);
    out.push_str("\n\n");
    Bytes::from(out)
}

/// `GET /sse`: a new session and its event stream.
pub(super) async fn open(
    AxumState(shared): AxumState<Arc<Shared>>,
    Extension(life): Extension<Arc<ConnectionLife>>,
) -> Response {
    let Some(token) = new_token() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "no randomness for a session",
        )
            .into_response();
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let link = Arc::new(Link::new());
    let activity = Arc::new(Notify::new());
    let client = {
        let mut state = shared.lock();
        if state.closing {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        let client = state.rooms.connect(Instant::now());
        state.connections.insert(
            client,
            Connection {
                tx,
                link: link.clone(),
            },
        );
        state.sessions.insert(
            token.clone(),
            Session {
                client,
                activity: activity.clone(),
            },
        );
        state.sse_sessions += 1;
        client
    };
    tracing::debug!(%client, "signaling event stream opened");
    let (body_tx, body_rx) =
        mpsc::channel::<Result<Bytes, std::convert::Infallible>>(STREAM_BUFFER);
    let first = event(
        Some("session"),
        &serde_json::json!({ "session": token, "id_header": SESSION_HEADER }).to_string(),
    );
    // The first event fits the buffer: the receiver is new and empty.
    let _ = body_tx.try_send(Ok(first));
    life.set_streaming(true);
    tokio::spawn(async move {
        run_session(&shared, client, &token, rx, &link, &activity, body_tx).await;
        life.set_streaming(false);
    });
    let stream = futures_util::stream::unfold(body_rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

type BodySender = mpsc::Sender<Result<Bytes, std::convert::Infallible>>;

/// How handing one event to the HTTP layer ended.
enum Push {
    Sent,
    Gone,
    TimedOut,
    Aborted(CloseReason),
}

/// Hands one event to the HTTP layer within `limit`, unless the client is
/// aborted meanwhile.
async fn push(body: &BodySender, link: &Link, bytes: Bytes, limit: Duration) -> Push {
    tokio::select! {
        biased;
        () = link.wake.notified() => {
            Push::Aborted(link.abort.get().copied().unwrap_or(CloseReason::NotReading))
        }
        sent = tokio::time::timeout(limit, body.send(Ok(bytes))) => match sent {
            Ok(Ok(())) => Push::Sent,
            Ok(Err(_)) => Push::Gone,
            Err(_) => Push::TimedOut,
        },
    }
}

/// One session, from its stream's start to its end: what the rooms queue
/// for it goes out as events, with a comment line as a keep-alive every
/// ping interval, until a close, the join deadline, the idle timeout, the
/// client going away or the server shutting down.
async fn run_session(
    shared: &Arc<Shared>,
    client: ClientId,
    token: &str,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
    link: &Link,
    activity: &Notify,
    body: BodySender,
) {
    let config = shared.config.clone();
    let ClientTimers {
        mut ping,
        mut idle,
        mut join_deadline,
    } = ClientTimers::new(&config);
    let mut join_checked = false;
    let end = loop {
        let sent = tokio::select! {
            () = link.wake.notified() => match link.abort.get() {
                Some(&reason) => break End::Close(reason),
                None => continue,
            },
            () = activity.notified() => {
                idle.as_mut().reset(tokio::time::Instant::now() + config.idle_timeout);
                continue;
            }
            out = rx.recv() => match out {
                Some(Outbound::Text(text)) => {
                    link.queued_bytes.fetch_sub(queued_cost(&text), Ordering::AcqRel);
                    push(&body, link, event(None, &text), config.write_timeout).await
                }
                Some(Outbound::Close(reason)) => break End::Close(reason),
                None => break End::Shutdown,
            },
            _ = ping.tick() => {
                push(&body, link, Bytes::from_static(b": ping\n\n"), config.write_timeout).await
            }
            () = body.closed() => break End::Gone,
            () = &mut idle => break End::Close(CloseReason::IdleTimeout),
            () = &mut join_deadline, if !join_checked => {
                join_checked = true;
                if !shared.lock().rooms.has_joined(client) {
                    break End::Close(CloseReason::JoinTimeout);
                }
                continue;
            }
        };
        match sent {
            Push::Sent => {}
            Push::Gone => break End::Gone,
            Push::TimedOut => break End::Close(CloseReason::NotReading),
            Push::Aborted(reason) => break End::Close(reason),
        }
    };
    {
        let mut state = shared.lock();
        state.sessions.remove(token);
        state.finish(client, end);
    }
    drop(rx);
    let last = match end {
        End::Close(reason) => Some((reason.close_code(), reason.to_string())),
        End::Shutdown => Some((1001, "going away".to_owned())),
        End::ClosedByClient | End::Gone => None,
    };
    if let Some((code, reason)) = last {
        let data = serde_json::json!({ "code": code, "reason": reason }).to_string();
        let _ = tokio::time::timeout(
            config.close_timeout,
            body.send(Ok(event(Some("close"), &data))),
        )
        .await;
    }
    tracing::debug!(%client, "signaling event stream closed");
}

/// `POST /sse/send`: one client message (or an empty keep-alive) for the
/// session the header names.
pub(super) async fn send(
    AxumState(shared): AxumState<Arc<Shared>>,
    Extension(life): Extension<Arc<ConnectionLife>>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let token = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let session = {
        let state = shared.lock();
        state
            .sessions
            .get(&token)
            .map(|s| (s.client, s.activity.clone()))
    };
    let Some((client, activity)) = session else {
        return (StatusCode::NOT_FOUND, "no such signaling session").into_response();
    };
    life.touch();
    activity.notify_one();
    let limit = shared.config.ws_frame_limit();
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(body) => body,
        Err(_) => {
            // Over the transport's limit, as a WebSocket frame would be:
            // the session ends (a body cut off mid-way lands here too).
            let mut state = shared.lock();
            state.transport_errors += 1;
            abort(&mut state, client, CloseReason::TooLarge);
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        }
    };
    if body.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut state = shared.lock();
    let Ok(text) = std::str::from_utf8(&body) else {
        abort(&mut state, client, CloseReason::InvalidUtf8);
        return (StatusCode::BAD_REQUEST, "body is not UTF-8").into_response();
    };
    let outputs = state.rooms.handle_text(Instant::now(), client, text);
    state.dispatch(outputs);
    StatusCode::NO_CONTENT.into_response()
}

/// Ends a session from a request handler: its task sends the close event.
fn abort(state: &mut super::server::State, client: ClientId, reason: CloseReason) {
    if let Some(conn) = state.connections.get(&client) {
        conn.link.abort(reason);
    }
}

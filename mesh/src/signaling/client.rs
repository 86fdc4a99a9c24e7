//! The signaling client a mesh node uses: one WebSocket to the server,
//! driven by a background task (tokio-tungstenite).
//!
//! [`SignalingClient::connect`] returns the client, for sending, and a
//! receiver of every [`ServerMessage`] in arrival order. The receiver ends
//! (`recv()` gives `None`) when the connection closes, whoever closed it.
//!
//! Everything is bounded, whatever the server does: at most
//! [`EVENT_QUEUE`] messages wait for the caller (when they are not read the
//! client stops reading the socket, and TCP pushes back on the server), a
//! message from the server is at most [`MAX_MESSAGE`] bytes (a larger one
//! ends the connection), and at most [`COMMAND_QUEUE`] of our own messages
//! wait to be written ([`SignalingError::Backlog`] beyond).

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::protocol::{ClientMessage, ServerMessage};

/// What can go wrong with the signaling connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignalingError {
    /// The WebSocket could not be opened (bad URL, refused, not a
    /// WebSocket endpoint).
    #[error("cannot open the signaling WebSocket {url}: {source}")]
    Connect {
        /// The URL given.
        url: String,
        /// What the WebSocket library said.
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    /// The connection is closed; nothing more can be sent.
    #[error("the signaling connection is closed")]
    Closed,
    /// [`COMMAND_QUEUE`] messages already wait to be written (the server or
    /// the network is not taking them).
    #[error("{COMMAND_QUEUE} signaling messages already wait to be sent")]
    Backlog,
}

/// Server messages that wait for the caller before the client stops reading.
pub const EVENT_QUEUE: usize = 256;
/// Our messages that wait to be written.
pub const COMMAND_QUEUE: usize = 256;
/// Largest message (and frame) taken from the server: its own messages are
/// at most 64 KiB of relayed JSON (`docs/signaling.md`).
pub const MAX_MESSAGE: usize = 256 * 1024;

enum Command {
    Send(String),
    Close,
}

/// A connection to a signaling server. Cheap to share behind an `Arc`;
/// dropping it closes the connection.
#[derive(Debug)]
pub struct SignalingClient {
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Send(text) => write!(f, "Send({text})"),
            Command::Close => f.write_str("Close"),
        }
    }
}

impl SignalingClient {
    /// Opens the WebSocket at `url` (`ws://host:port/ws`) and starts the
    /// task that drives it on the current tokio runtime.
    pub async fn connect(
        url: &str,
    ) -> Result<(SignalingClient, mpsc::Receiver<ServerMessage>), SignalingError> {
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let (ws, _response) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .map_err(|e| SignalingError::Connect {
                url: url.to_owned(),
                source: Box::new(e),
            })?;
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (event_tx, events) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(drive(ws, command_rx, event_tx));
        Ok((SignalingClient { commands }, events))
    }

    /// Queues a message for the server.
    pub fn send(&self, message: ClientMessage) -> Result<(), SignalingError> {
        self.commands
            .try_send(Command::Send(message.to_json()))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SignalingError::Backlog,
                mpsc::error::TrySendError::Closed(_) => SignalingError::Closed,
            })
    }

    /// Sends what is queued, then closes the connection (at once if the
    /// queue is full: the closing is what matters then).
    pub fn close(&self) {
        if self.commands.try_send(Command::Close).is_err() {
            // A full queue: the task ends when this, its last sender, goes;
            // until then nothing more is queued behind the backlog.
            tracing::debug!("signaling: close with a full send queue");
        }
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn drive(ws: Ws, mut commands: mpsc::Receiver<Command>, events: mpsc::Sender<ServerMessage>) {
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Send(text)) => {
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                Some(Command::Close) | None => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            },
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => match ServerMessage::parse(text.as_str()) {
                    // A receiver the caller dropped just means nobody listens.
                    // Waiting here stops reading the socket while the
                    // caller is behind: at most EVENT_QUEUE messages held.
                    Ok(message) => {
                        let _ = events.send(message).await;
                    }
                    Err(e) => tracing::debug!("signaling: unreadable server message: {e}"),
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    // Ends the caller's `send` with `Closed` from now on.
    commands.close();
}

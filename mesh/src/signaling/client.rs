//! The signaling client a mesh node uses: one WebSocket to the server,
//! driven by a background task (tokio-tungstenite).
//!
//! [`SignalingClient::connect`] returns the client, for sending, and a
//! receiver of every [`ServerMessage`] in arrival order. The receiver ends
//! (`recv()` gives `None`) when the connection closes, whoever closed it.

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
}

enum Command {
    Send(String),
    Close,
}

/// A connection to a signaling server. Cheap to share behind an `Arc`;
/// dropping it closes the connection.
#[derive(Debug)]
pub struct SignalingClient {
    commands: mpsc::UnboundedSender<Command>,
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
    ) -> Result<(SignalingClient, mpsc::UnboundedReceiver<ServerMessage>), SignalingError> {
        let (ws, _response) =
            tokio_tungstenite::connect_async(url)
                .await
                .map_err(|e| SignalingError::Connect {
                    url: url.to_owned(),
                    source: Box::new(e),
                })?;
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        tokio::spawn(drive(ws, command_rx, event_tx));
        Ok((SignalingClient { commands }, events))
    }

    /// Queues a message for the server.
    pub fn send(&self, message: ClientMessage) -> Result<(), SignalingError> {
        self.commands
            .send(Command::Send(message.to_json()))
            .map_err(|_| SignalingError::Closed)
    }

    /// Sends what is queued, then closes the connection.
    pub fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn drive(
    ws: Ws,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<ServerMessage>,
) {
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
                    Ok(message) => {
                        let _ = events.send(message);
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

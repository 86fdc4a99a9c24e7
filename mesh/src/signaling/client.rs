//! The signaling client a mesh node uses: one WebSocket to the server,
//! driven by a background task (tokio-tungstenite); `wss://` over rustls,
//! trusting a certificate fingerprint or CA certificates
//! ([`ServerTrust`]).
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
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::protocol::{ClientMessage, ServerMessage};
use super::tls::{FingerprintMismatch, ServerTrust, TlsError};

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
    /// A `wss://` URL without a [`ServerTrust`]: the client does not guess
    /// whom to trust.
    #[error(
        "{url} is TLS: give the server's certificate fingerprint (--server-fingerprint) or a CA file (--server-ca)"
    )]
    NoTrust {
        /// The URL given.
        url: String,
    },
    /// The trust given cannot be used (a CA certificate rustls refuses).
    #[error("cannot set TLS up: {0}")]
    TlsSetup(#[from] TlsError),
    /// The server's certificate is not the one whose fingerprint the
    /// client was given.
    #[error("refused the TLS server at {url}: {mismatch}")]
    FingerprintMismatch {
        /// The URL given.
        url: String,
        /// Both fingerprints.
        mismatch: FingerprintMismatch,
    },
    /// The TCP connection or the TLS handshake with the server failed (a
    /// certificate that no given CA signed among the reasons).
    #[error("TLS connection to {url} failed: {source}")]
    Tls {
        /// The URL given.
        url: String,
        /// What the connection or rustls said.
        source: std::io::Error,
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
    /// task that drives it on the current tokio runtime. A `wss://` URL
    /// needs [`SignalingClient::connect_with_trust`].
    pub async fn connect(
        url: &str,
    ) -> Result<(SignalingClient, mpsc::Receiver<ServerMessage>), SignalingError> {
        SignalingClient::connect_with_trust(url, None).await
    }

    /// Opens the WebSocket at `url`; for `wss://`, over TLS trusting
    /// `trust` (required then, ignored for `ws://`).
    pub async fn connect_with_trust(
        url: &str,
        trust: Option<&ServerTrust>,
    ) -> Result<(SignalingClient, mpsc::Receiver<ServerMessage>), SignalingError> {
        let connect_error = |e| SignalingError::Connect {
            url: url.to_owned(),
            source: Box::new(e),
        };
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let request = url.into_client_request().map_err(connect_error)?;
        if request.uri().scheme_str() != Some("wss") {
            let (ws, _response) =
                tokio_tungstenite::connect_async_with_config(request, Some(config), true)
                    .await
                    .map_err(connect_error)?;
            return Ok(start(ws));
        }
        let Some(trust) = trust else {
            return Err(SignalingError::NoTrust {
                url: url.to_owned(),
            });
        };
        let tls = tls_connect(url, request.uri(), trust).await?;
        let (ws, _response) =
            tokio_tungstenite::client_async_with_config(request, tls, Some(config))
                .await
                .map_err(connect_error)?;
        Ok(start(ws))
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

/// TCP to the URL's host and port (443 by default), then TLS trusting
/// `trust`, offering ALPN `http/1.1`.
async fn tls_connect(
    url: &str,
    uri: &tokio_tungstenite::tungstenite::http::Uri,
    trust: &ServerTrust,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, SignalingError> {
    let tls_error = |source| SignalingError::Tls {
        url: url.to_owned(),
        source,
    };
    let host = uri.host().unwrap_or_default();
    // An IPv6 literal comes bracketed in a URI.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(443);
    let name = rustls_pki_types::ServerName::try_from(host.to_owned()).map_err(|e| {
        tls_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a host name: {e}"),
        ))
    })?;
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(tls_error)?;
    let _ = tcp.set_nodelay(true);
    let connector = tokio_rustls::TlsConnector::from(trust.client_config()?);
    connector
        .connect(name, tcp)
        .await
        .map_err(|e| match fingerprint_mismatch(&e) {
            Some(mismatch) => SignalingError::FingerprintMismatch {
                url: url.to_owned(),
                mismatch,
            },
            None => tls_error(e),
        })
}

/// The fingerprint verifier's refusal inside a handshake error, if that is
/// what ended the handshake.
fn fingerprint_mismatch(e: &std::io::Error) -> Option<FingerprintMismatch> {
    let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) =
        e.get_ref()?.downcast_ref::<rustls::Error>()?
    else {
        return None;
    };
    other.0.downcast_ref::<FingerprintMismatch>().cloned()
}

/// Starts the task that drives an open WebSocket.
fn start<S>(ws: WebSocketStream<S>) -> (SignalingClient, mpsc::Receiver<ServerMessage>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let (event_tx, events) = mpsc::channel(EVENT_QUEUE);
    tokio::spawn(drive(ws, command_rx, event_tx));
    (SignalingClient { commands }, events)
}

async fn drive<S>(
    ws: WebSocketStream<S>,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<ServerMessage>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
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

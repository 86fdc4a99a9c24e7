//! TURN over a stream (RFC 8656 §3.1) for the tokio drivers: a TCP
//! connection to the server whose messages, delimited by their own length
//! fields (STUN: 20 bytes + length; ChannelData: 4 bytes + length, padded
//! to four, §12.5), are split by [`StreamFramer`] and handed to the
//! PeerConnection as datagrams from the server to the stream's local
//! address; what the connection sends "from" that address is written to
//! the stream; `turns:` runs TLS (rustls) on the connection first. The
//! sans-IO side is [`PeerConnection::add_turn_stream`]. A `turns:` server
//! named by host name has its certificate checked for that name (SNI
//! set); one named by IP address, for the address.
//!
//! [`PeerConnection::add_turn_stream`]: crate::PeerConnection::add_turn_stream

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use meshrtc_ice::turn::StreamFramer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::driver::Received;
use meshrtc_ice::TurnTransport;

/// Why a stream to a TURN server could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TurnStreamError {
    /// The TCP connection failed.
    #[error("TURN server {server}: TCP connection failed: {source}")]
    Connect {
        /// The server.
        server: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// Connecting (and the TLS handshake) took too long.
    #[error("TURN server {server}: no connection within the timeout")]
    TimedOut {
        /// The server.
        server: SocketAddr,
    },
    /// The TLS handshake failed: most often the certificate, not valid for
    /// the name checked or not signed by a trusted root.
    #[error(
        "TURN server {server}: TLS handshake checking the certificate for {name} failed: {source}"
    )]
    Tls {
        /// The server.
        server: SocketAddr,
        /// The name (or IP address) the certificate was checked for.
        name: String,
        /// rustls' error, as an I/O error.
        source: io::Error,
    },
    /// The URL's host is no valid DNS name for TLS.
    #[error("TURN server {server}: {name:?} is not a name TLS can check")]
    BadName {
        /// The server.
        server: SocketAddr,
        /// The name.
        name: String,
    },
    /// A `turns:` server without a TLS trust configuration.
    #[error("TURN server {server}: TLS without a trust configuration (--turn-ca)")]
    NoTrust {
        /// The server.
        server: SocketAddr,
    },
}

/// Messages waiting to be written to one stream; past that a transmit is
/// dropped (as a full UDP socket buffer would drop it).
const WRITE_QUEUE: usize = 256;

/// One open stream to a TURN server.
#[derive(Debug)]
pub struct TurnStream {
    /// The server's address.
    pub server: SocketAddr,
    /// Our end of the connection: the "local address" the PeerConnection
    /// knows the stream by.
    pub local: SocketAddr,
    tx: mpsc::Sender<Vec<u8>>,
    /// Set when either direction ended (the server closed, an error).
    closed: Arc<AtomicBool>,
}

impl TurnStream {
    /// Connects over TCP to `server` (within `timeout`) and starts the
    /// reader and writer tasks; each message read goes to `input` as
    /// `(server, local, bytes)`.
    pub async fn connect_tcp(
        server: SocketAddr,
        timeout: Duration,
        input: mpsc::Sender<Received>,
    ) -> Result<TurnStream, TurnStreamError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(server))
            .await
            .map_err(|_| TurnStreamError::TimedOut { server })?
            .map_err(|source| TurnStreamError::Connect { server, source })?;
        let local = stream
            .local_addr()
            .map_err(|source| TurnStreamError::Connect { server, source })?;
        let _ = stream.set_nodelay(true);
        Ok(TurnStream::start(stream, server, local, input))
    }

    /// Connects over TCP to `server` and runs TLS on it (`turns:`, RFC 8656
    /// §3.1) with `tls` (its roots decide whom to trust), within `timeout`
    /// for both. The certificate is checked for `host`, the URL's host
    /// name, which also goes out as SNI (RFC 6066 §3); without one (an IP
    /// literal URL) for the server's IP address (RFC 6125 §6, RFC 5280
    /// iPAddress).
    pub async fn connect_tls(
        server: SocketAddr,
        host: Option<&str>,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
        input: mpsc::Sender<Received>,
    ) -> Result<TurnStream, TurnStreamError> {
        let name = match host {
            Some(h) => {
                ServerName::try_from(h.to_owned()).map_err(|_| TurnStreamError::BadName {
                    server,
                    name: h.to_owned(),
                })?
            }
            None => ServerName::IpAddress(server.ip().into()),
        };
        let shown = host.map_or_else(|| server.ip().to_string(), str::to_owned);
        let connect = async {
            let tcp = TcpStream::connect(server)
                .await
                .map_err(|source| TurnStreamError::Connect { server, source })?;
            let _ = tcp.set_nodelay(true);
            let local = tcp
                .local_addr()
                .map_err(|source| TurnStreamError::Connect { server, source })?;
            let stream = TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(|source| TurnStreamError::Tls {
                    server,
                    name: shown.clone(),
                    source,
                })?;
            Ok::<_, TurnStreamError>((stream, local))
        };
        let (stream, local) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| TurnStreamError::TimedOut { server })??;
        Ok(TurnStream::start(stream, server, local, input))
    }

    /// Opens a stream to `server` over `transport` (TCP, or TLS with
    /// `tls` checked for `host`, see [`TurnStream::connect_tls`]).
    pub async fn connect(
        server: SocketAddr,
        transport: TurnTransport,
        host: Option<&str>,
        tls: Option<Arc<rustls::ClientConfig>>,
        timeout: Duration,
        input: mpsc::Sender<Received>,
    ) -> Result<TurnStream, TurnStreamError> {
        match (transport, tls) {
            (TurnTransport::Tls, Some(tls)) => {
                TurnStream::connect_tls(server, host, tls, timeout, input).await
            }
            (TurnTransport::Tls, None) => Err(TurnStreamError::NoTrust { server }),
            _ => TurnStream::connect_tcp(server, timeout, input).await,
        }
    }

    /// Starts the tasks on an open stream (TCP, or TLS over it).
    pub fn start<S>(
        stream: S,
        server: SocketAddr,
        local: SocketAddr,
        input: mpsc::Sender<Received>,
    ) -> TurnStream
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
        let closed = Arc::new(AtomicBool::new(false));
        let writer_closed = closed.clone();
        tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                if writer.write_all(&message).await.is_err() {
                    break;
                }
            }
            writer_closed.store(true, Ordering::Relaxed);
            let _ = writer.shutdown().await;
        });
        let reader_closed = closed.clone();
        tokio::spawn(async move {
            let _closed = SetOnDrop(reader_closed);
            let mut framer = StreamFramer::new();
            let mut buf = vec![0u8; 4096];
            loop {
                let n = tokio::select! {
                    r = reader.read(&mut buf) => match r {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    },
                    _ = input.closed() => return,
                };
                framer.push(&buf[..n]);
                loop {
                    match framer.next_frame() {
                        Ok(Some(frame)) => {
                            if input.send((server, local, frame)).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        // Not TURN: nothing more on this stream can be
                        // trusted to be framed; the allocation times out.
                        Err(_) => return,
                    }
                }
            }
        });
        TurnStream {
            server,
            local,
            tx,
            closed,
        }
    }

    /// Whether the connection ended; its allocation is gone with it.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Queues one message (a whole STUN or padded ChannelData message, as
    /// the PeerConnection's transmits are); false when it was dropped.
    pub fn send(&self, message: Vec<u8>) -> bool {
        self.tx.try_send(message).is_ok()
    }
}

/// Sends one transmit of a connection (or a mesh node): on the stream it
/// names as its source, or from the UDP socket bound there.
pub async fn send_transmit(
    src: SocketAddr,
    dst: SocketAddr,
    payload: Vec<u8>,
    udp: &[(SocketAddr, Arc<UdpSocket>)],
    streams: &[TurnStream],
) {
    if let Some(s) = streams.iter().find(|s| s.local == src) {
        s.send(payload);
    } else if let Some((_, s)) = udp.iter().find(|(a, _)| *a == src) {
        let _ = s.send_to(&payload, dst).await;
    }
}

/// Marks the stream closed when the reader task ends, however it ends.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

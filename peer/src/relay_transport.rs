//! New local transports for TURN allocations across an ICE restart, for
//! the tokio drivers (RFC 8656 §7.3: a TURN server keeps one allocation
//! per 5-tuple, so an allocation made with a restart's fresh credentials,
//! while the old one still carries media, needs a new UDP socket or a new
//! TCP/TLS connection). The sans-IO side asks
//! ([`PeerConnection::poll_relay_transport_request`]) and hands each back
//! once its allocation is deleted
//! ([`PeerConnection::poll_relay_transport_release`]); this opens and
//! closes them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshrtc_ice::{RelayTransportRequest, TurnTransport};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::driver::{spawn_reader_until, Received};
use crate::turn_stream::TurnStream;
use crate::PeerConnection;

/// A UDP socket bound for a relay, and the switch that stops its reader
/// (dropped: the reader ends and the socket closes).
pub type RelaySocket = (SocketAddr, Arc<UdpSocket>, oneshot::Sender<()>);

/// [`bind_relay_socket`] on `ip`, or, when no interface holds `ip` any
/// more, on another current address of its family that is not loopback.
/// A peer's ICE restart can ask for a new relay transport before our own
/// address watch has seen a network change: the agent then still names
/// the gone address (RFC 8445 §9; the agent's own choice,
/// `RelayTransportRequest::bind`, covers the change once seen).
pub fn bind_relay_socket_near(ip: IpAddr, input: &mpsc::Sender<Received>) -> Option<RelaySocket> {
    bind_relay_socket(ip, input).or_else(|| {
        let current = crate::driver::interface_addresses();
        if current.contains(&ip) {
            return None;
        }
        (current.into_iter())
            .filter(|a| a.is_ipv4() == ip.is_ipv4() && !a.is_loopback())
            .find_map(|a| bind_relay_socket(a, input))
    })
}

/// Binds a UDP socket on `ip` (any port) whose datagrams go to `input`.
pub fn bind_relay_socket(ip: IpAddr, input: &mpsc::Sender<Received>) -> Option<RelaySocket> {
    let std_socket = std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).ok()?;
    std_socket.set_nonblocking(true).ok()?;
    let socket = Arc::new(UdpSocket::from_std(std_socket).ok()?);
    let local = socket.local_addr().ok()?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    spawn_reader_until(socket.clone(), input.clone(), async move {
        let _ = stop_rx.await;
    });
    Some((local, socket, stop_tx))
}

/// Opens a TCP or TLS connection to a TURN server for `req` (TLS needs
/// `tls`); `None` when it cannot be opened.
pub async fn open_relay_stream(
    req: RelayTransportRequest,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    input: &mpsc::Sender<Received>,
) -> Option<TurnStream> {
    let stream = match (req.transport, tls) {
        (TurnTransport::Tls, Some(tls)) => {
            TurnStream::connect_tls(req.server, req.host.as_deref(), tls, timeout, input.clone())
                .await
        }
        (TurnTransport::Tls, None) => return None,
        _ => TurnStream::connect_tcp(req.server, timeout, input.clone()).await,
    };
    stream.ok()
}

/// The UDP sockets one connection's relays were given (its TCP/TLS
/// connections join the driver's others).
#[derive(Debug, Default)]
pub struct RelayTransports {
    /// UDP sockets.
    pub sockets: Vec<RelaySocket>,
    /// UDP sockets that could not be bound (no usable address).
    pub sockets_failed: u64,
    /// TCP or TLS connections that could not be opened.
    pub streams_failed: u64,
}

impl RelayTransports {
    /// Opens what `pc` asks for and closes what it hands back; true when
    /// the UDP sockets changed. A stream is opened in line (within
    /// `timeout`), as the driver opens its first ones.
    pub async fn serve(
        &mut self,
        pc: &mut PeerConnection,
        streams: &mut Vec<TurnStream>,
        input: &mpsc::Sender<Received>,
        tls: Option<&Arc<rustls::ClientConfig>>,
        timeout: Duration,
    ) -> bool {
        let mut changed = false;
        while let Some(req) = pc.poll_relay_transport_request() {
            tracing::debug!(?req, "opening a new transport for a TURN allocation");
            let transport = req.transport;
            if transport.is_stream() {
                let server = req.server;
                if let Some(s) = open_relay_stream(req, tls.cloned(), timeout, input).await {
                    let (server, local) = (s.server, s.local);
                    if pc
                        .add_relay_transport(Instant::now(), server, transport, local)
                        .is_ok()
                    {
                        streams.push(s);
                    }
                } else {
                    self.streams_failed += 1;
                    pc.relay_transport_failed(Instant::now(), server, transport);
                }
            } else if let Some(s) = bind_relay_socket_near(req.bind, input) {
                if pc
                    .add_relay_transport(Instant::now(), req.server, req.transport, s.0)
                    .is_ok()
                {
                    self.sockets.push(s);
                    changed = true;
                }
            } else {
                tracing::debug!(bind = %req.bind, "no UDP socket for a TURN allocation");
                self.sockets_failed += 1;
                pc.relay_transport_failed(Instant::now(), req.server, req.transport);
            }
        }
        while let Some(local) = pc.poll_relay_transport_release() {
            tracing::debug!(%local, "closing the transport of a deleted TURN allocation");
            let before = self.sockets.len();
            self.sockets.retain(|s| s.0 != local);
            changed |= self.sockets.len() != before;
            streams.retain(|s| s.local != local);
        }
        changed
    }
}

//! The tokio driver (feature `tokio`): sockets, timers and a task around a
//! sans-IO [`PeerConnection`], as quinn wraps quinn-proto.
//!
//! [`spawn`] binds one UDP socket per local interface address (IPv4 and
//! usable IPv6, see [`local_addresses`]; loopback included, so two peers
//! on one machine always find each other), resolves the STUN servers (a name that does not
//! resolve is skipped: gathering then ends at its deadline), and runs the
//! connection in a task. The returned [`PeerHandle`] sends commands;
//! events arrive on its channel.
//!
//! Two things about the local network happen here rather than in the
//! sans-IO connection: remote mDNS `.local` candidates are resolved by
//! multicast ([`crate::mdns_service`]) and handed in again with the
//! address, and, when the addresses were gathered (`bind` empty), the
//! interface list is watched ([`crate::address_watch`]): a new address is
//! bound and gathered and ICE restarts ([`PeerConnection::restart_ice`]:
//! the owner answers the [`PeerEvent::NegotiationNeeded`] that follows
//! with a new offer), a gone one's socket is dropped.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::address_watch::{AddressWatch, ADDRESS_POLL};
use crate::connection::{PeerConfig, PeerConnection, PeerError, PeerEvent, PeerStats, SdpType};
use crate::frame::PacketizedFrame;
use crate::mdns_service::MdnsService;
use crate::tap::{DatagramTap, TapDirection, TapSecret};
use crate::turn_redirect::TurnDialer;
use crate::turn_stream::TurnStream;
use crate::Transmit;
use meshrtc_ice::TurnTransport;
use meshrtc_sdp::negotiate::MediaKind;

/// The STUN server browsers are given by default (unreachable without
/// internet: gathering then ends at its deadline).
pub const DEFAULT_STUN: &str = "stun:stun.l.google.com:19302";

/// How the driver binds and gathers.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// The connection's settings.
    pub peer: PeerConfig,
    /// Addresses to bind (port 0 = any); empty: [`local_addresses`].
    pub bind: Vec<IpAddr>,
    /// STUN servers as `stun:host:port` URLs.
    pub stun_urls: Vec<String>,
    /// How long a STUN server name may take to resolve, and a TCP or TLS
    /// connection to a TURN server to open.
    pub resolve_timeout: Duration,
    /// Sees every datagram sent and received (a capture), if set.
    pub tap: Option<Arc<dyn DatagramTap>>,
    /// Whom to trust for TURN over TLS (`turns:` servers in
    /// `peer.ice.turn_servers`); without it those servers are left out.
    pub turn_tls: Option<Arc<rustls::ClientConfig>>,
    /// Resolve remote `.local` candidates by multicast DNS
    /// (draft-ietf-mmusic-mdns-ice-candidates §3.2).
    pub mdns: bool,
    /// With `bind` empty: watch the interfaces and restart ICE when an
    /// address comes or goes ([`crate::address_watch`]).
    pub watch_addresses: bool,
    /// With `bind` empty: gather loopback addresses too.
    pub loopback: bool,
    /// Hide our host addresses behind random `.local` names in our
    /// candidates, answering mDNS queries for them, as browsers do
    /// (draft-ietf-mmusic-mdns-ice-candidates §3.1.1). Needs `mdns`.
    pub mdns_hide: bool,
}

impl DriverConfig {
    /// Every interface ([`local_addresses`]), Google's STUN server.
    pub fn new(peer: PeerConfig) -> DriverConfig {
        DriverConfig {
            peer,
            bind: Vec::new(),
            stun_urls: vec![DEFAULT_STUN.to_string()],
            resolve_timeout: Duration::from_secs(2),
            tap: None,
            turn_tls: None,
            mdns: true,
            watch_addresses: true,
            loopback: true,
            mdns_hide: false,
        }
    }
}

/// A random `<uuid>.local` name for `ip`, published on `mdns` (the OS
/// gives the randomness; `None` without it).
pub fn publish_hidden_name(mdns: &MdnsService, ip: IpAddr) -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).ok()?;
    let name = meshrtc_ice::mdns::random_local_name(bytes);
    mdns.publish(&name, ip);
    Some(name)
}

/// What the driver itself did about the local network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Remote `.local` candidates seen (trickled or in a description).
    pub mdns_candidates: u64,
    /// Of those, resolved and handed to the connection.
    pub mdns_resolved: u64,
    /// Of those, not resolved (no answer, or mDNS unavailable).
    pub mdns_unresolved: u64,
    /// Interface address changes seen (each restarts ICE).
    pub address_changes: u64,
    /// Addresses bound after the start.
    pub addresses_added: u64,
    /// Addresses whose socket was dropped because they went.
    pub addresses_removed: u64,
    /// mDNS queries for our hidden names that our responder answered
    /// (with `mdns_hide`: a peer resolving our `.local` candidates).
    pub mdns_queries_answered: u64,
    /// TCP or TLS connections to TURN servers that could not be opened
    /// (refused, timed out, or a TLS certificate not valid for the
    /// server's name): their allocations are left out. The reason is
    /// logged.
    pub turn_streams_failed: u64,
    /// UDP sockets for new TURN allocations (after an ICE restart) that
    /// could not be bound: no interface holds a usable address.
    pub relay_sockets_failed: u64,
}

/// Why the driver could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// Binding a socket failed.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// No address to bind.
    #[error("no local address to bind")]
    NoAddress,
    /// A STUN URL that does not parse.
    #[error("bad STUN URL {0:?} (expected stun:host[:port])")]
    BadStunUrl(String),
    /// The connection could not be made.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The task is gone.
    #[error("the connection task has stopped")]
    Stopped,
    /// The OS gave no randomness (for the seed or the certificate's key).
    #[error("no randomness from the OS: {0}")]
    Entropy(String),
}

/// 256 bits from the operating system (`getrandom`): the seed every
/// shipped entry point gives [`PeerConfig::new`].
pub fn os_seed() -> Result<[u8; 32], DriverError> {
    let mut s = [0u8; 32];
    getrandom::getrandom(&mut s).map_err(|e| DriverError::Entropy(e.to_string()))?;
    Ok(s)
}

/// A [`PeerConfig`] whose secrets come from the OS: a seed from
/// [`os_seed`] and a fresh ECDSA P-256 certificate (its key from ring's
/// system generator).
pub fn os_peer_config() -> Result<PeerConfig, DriverError> {
    let certificate = meshrtc_dtls::Certificate::generate("meshrtc")
        .map_err(|e| DriverError::Entropy(e.to_string()))?;
    Ok(PeerConfig::new(os_seed()?, certificate))
}

/// Parses `stun:host[:port]` (RFC 7064) into host and port (3478 default).
pub fn parse_stun_url(url: &str) -> Result<(String, u16), DriverError> {
    let rest = url
        .strip_prefix("stun:")
        .ok_or_else(|| DriverError::BadStunUrl(url.into()))?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => (
            h.trim_matches(['[', ']']),
            p.parse().map_err(|_| DriverError::BadStunUrl(url.into()))?,
        ),
        _ => (rest, 3478),
    };
    if host.is_empty() {
        return Err(DriverError::BadStunUrl(url.into()));
    }
    Ok((host.to_string(), port))
}

/// A datagram read by [`spawn_reader`]: (from, our local address, bytes).
pub type Received = (SocketAddr, SocketAddr, Vec<u8>);

/// Reads `socket` in a task and forwards each datagram with its local
/// address to `tx`. The task, and with it its hold on the socket, ends when
/// the receiving side of `tx` is dropped.
pub fn spawn_reader(socket: Arc<UdpSocket>, tx: mpsc::Sender<Received>) {
    spawn_reader_until(socket, tx, std::future::pending());
}

/// [`spawn_reader`] that also ends when `stop` completes (the address the
/// socket is bound to went away).
pub fn spawn_reader_until(
    socket: Arc<UdpSocket>,
    tx: mpsc::Sender<Received>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    tokio::spawn(async move {
        let stop = stop;
        tokio::pin!(stop);
        let Ok(local) = socket.local_addr() else {
            return;
        };
        let mut buf = vec![0u8; 2048];
        loop {
            let r = tokio::select! {
                r = socket.recv_from(&mut buf) => r,
                _ = tx.closed() => return,
                () = &mut stop => return,
            };
            match r {
                Ok((n, from)) => {
                    if tx.send((from, local, buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
                // ICMP errors (port unreachable) surface here on Linux;
                // they are not fatal to the socket.
                Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    });
}

/// Local IPv4 addresses of every interface that is up, loopback included.
pub fn local_ipv4_addresses() -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = local_addresses()
        .into_iter()
        .filter(IpAddr::is_ipv4)
        .collect();
    if v.is_empty() {
        v.push(IpAddr::from([127, 0, 0, 1]));
    }
    v
}

/// The addresses host candidates are gathered on (RFC 8445 §5.1.1.1):
/// every IPv4 address of an interface that is up, loopback included, and
/// every usable IPv6 one ([`usable_ipv6`]: not link-local, not
/// deprecated, tentative or failed, per `/proc/net/if_inet6`). IPv4 first;
/// `127.0.0.1` when there is nothing else.
pub fn local_addresses() -> Vec<IpAddr> {
    let mut v = interface_addresses();
    if v.is_empty() {
        v.push(IpAddr::from([127, 0, 0, 1]));
    }
    v
}

/// [`local_addresses`] without the `127.0.0.1` stand-in when there is none
/// (what [`crate::address_watch`] compares).
pub fn interface_addresses() -> Vec<IpAddr> {
    let flags = ipv6_flags(&std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default());
    let mut v: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|list| {
            list.into_iter()
                .map(|i| i.ip())
                .filter(|ip| match ip {
                    IpAddr::V4(_) => true,
                    IpAddr::V6(a) => usable_ipv6(*a, flags.get(a).copied().unwrap_or(0)),
                })
                .collect()
        })
        .unwrap_or_default();
    // IPv4 sorts before IPv6.
    v.sort();
    v.dedup();
    v
}

/// `IFA_F_DADFAILED`, `IFA_F_DEPRECATED` and `IFA_F_TENTATIVE`
/// (`linux/if_addr.h`): an address in any of these states is not used.
const IFA_UNUSABLE: u32 = 0x08 | 0x20 | 0x40;

/// Whether an IPv6 address with these kernel flags makes a host
/// candidate: not link-local (`fe80::/10`, which needs a scope a
/// candidate cannot carry; browsers leave it out too), not unspecified,
/// and not deprecated, tentative or failed duplicate detection (an
/// address on its way out, or not yet usable).
pub fn usable_ipv6(addr: std::net::Ipv6Addr, flags: u32) -> bool {
    let link_local = addr.segments()[0] & 0xffc0 == 0xfe80;
    !link_local && !addr.is_unspecified() && flags & IFA_UNUSABLE == 0
}

/// The flags of each address in `/proc/net/if_inet6` (lines of address,
/// interface index, prefix length, scope, flags, name; all hex but the
/// name). Lines that do not read are skipped.
pub fn ipv6_flags(if_inet6: &str) -> std::collections::HashMap<std::net::Ipv6Addr, u32> {
    if_inet6
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let hex = f.next()?;
            let flags = f.nth(3)?;
            if hex.len() != 32 {
                return None;
            }
            let raw = u128::from_str_radix(hex, 16).ok()?;
            Some((
                std::net::Ipv6Addr::from(raw),
                u32::from_str_radix(flags, 16).ok()?,
            ))
        })
        .collect()
}

/// What [`PeerConnection::turn_stats`] returns.
pub type TurnStatsSnapshot = (
    Vec<(SocketAddr, meshrtc_ice::turn::TurnStats)>,
    Option<meshrtc_ice::IceStats>,
);

enum Command {
    AddTransceiver(MediaKind, bool, bool, oneshot::Sender<String>),
    AddAnswerTrack(MediaKind),
    CreateOffer(oneshot::Sender<Result<String, PeerError>>),
    CreateAnswer(oneshot::Sender<Result<String, PeerError>>),
    SetRemote(SdpType, String, oneshot::Sender<Result<(), PeerError>>),
    AddCandidate(Option<String>, oneshot::Sender<Result<(), PeerError>>),
    SendFrame(String, Arc<PacketizedFrame>),
    RequestKeyframe(String),
    Stats(oneshot::Sender<PeerStats>),
    TurnStats(oneshot::Sender<TurnStatsSnapshot>),
    NetworkStats(oneshot::Sender<NetworkStats>),
    SendingMids(oneshot::Sender<Vec<(String, MediaKind)>>),
    LocalDescription(oneshot::Sender<Option<String>>),
    RestartIce,
    Close,
}

/// Talks to a connection running in its task.
#[derive(Debug, Clone)]
pub struct PeerHandle {
    tx: mpsc::UnboundedSender<Command>,
    /// The addresses bound.
    pub local_addrs: Vec<SocketAddr>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl PeerHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// See [`PeerConnection::add_transceiver`].
    pub async fn add_transceiver(
        &self,
        kind: MediaKind,
        send: bool,
        receive: bool,
    ) -> Result<String, DriverError> {
        self.ask(|tx| Command::AddTransceiver(kind, send, receive, tx))
            .await
    }

    /// See [`PeerConnection::add_answer_track`].
    pub fn add_answer_track(&self, kind: MediaKind) -> Result<(), DriverError> {
        self.tx
            .send(Command::AddAnswerTrack(kind))
            .map_err(|_| DriverError::Stopped)
    }

    /// See [`PeerConnection::create_offer`].
    pub async fn create_offer(&self) -> Result<String, DriverError> {
        Ok(self.ask(Command::CreateOffer).await??)
    }

    /// See [`PeerConnection::create_answer`].
    pub async fn create_answer(&self) -> Result<String, DriverError> {
        Ok(self.ask(Command::CreateAnswer).await??)
    }

    /// See [`PeerConnection::set_remote_description`].
    pub async fn set_remote_description(
        &self,
        kind: SdpType,
        sdp: String,
    ) -> Result<(), DriverError> {
        Ok(self.ask(|tx| Command::SetRemote(kind, sdp, tx)).await??)
    }

    /// See [`PeerConnection::add_remote_candidate`].
    pub async fn add_remote_candidate(&self, candidate: Option<String>) -> Result<(), DriverError> {
        Ok(self
            .ask(|tx| Command::AddCandidate(candidate, tx))
            .await??)
    }

    /// Sends a shared frame on `mid` (dropped while not connected).
    pub fn send_frame(&self, mid: &str, frame: Arc<PacketizedFrame>) -> Result<(), DriverError> {
        self.tx
            .send(Command::SendFrame(mid.to_string(), frame))
            .map_err(|_| DriverError::Stopped)
    }

    /// Asks the peer for a key frame on `mid`.
    pub fn request_keyframe(&self, mid: &str) -> Result<(), DriverError> {
        self.tx
            .send(Command::RequestKeyframe(mid.to_string()))
            .map_err(|_| DriverError::Stopped)
    }

    /// A stats snapshot.
    pub async fn stats(&self) -> Result<PeerStats, DriverError> {
        self.ask(Command::Stats).await
    }

    /// What the driver did about the local network (mDNS, address
    /// changes).
    pub async fn network_stats(&self) -> Result<NetworkStats, DriverError> {
        self.ask(Command::NetworkStats).await
    }

    /// See [`PeerConnection::turn_stats`]: each TURN allocation's
    /// counters and the ICE agent's.
    pub async fn turn_stats(&self) -> Result<TurnStatsSnapshot, DriverError> {
        self.ask(Command::TurnStats).await
    }

    /// The mids we send on.
    pub async fn sending_mids(&self) -> Result<Vec<(String, MediaKind)>, DriverError> {
        self.ask(Command::SendingMids).await
    }

    /// See [`PeerConnection::local_description`].
    pub async fn local_description(&self) -> Result<Option<String>, DriverError> {
        self.ask(Command::LocalDescription).await
    }

    /// See [`PeerConnection::restart_ice`]: answer the
    /// [`PeerEvent::NegotiationNeeded`] that follows with an offer. The
    /// restart's TURN allocations are made on new sockets or connections
    /// the driver opens, with the credentials configured.
    pub fn restart_ice(&self) -> Result<(), DriverError> {
        self.tx
            .send(Command::RestartIce)
            .map_err(|_| DriverError::Stopped)
    }

    /// Closes the connection and ends the task.
    pub fn close(&self) {
        let _ = self.tx.send(Command::Close);
    }
}

async fn resolve_stun(urls: &[String], timeout: Duration) -> Result<Vec<SocketAddr>, DriverError> {
    let mut out = Vec::new();
    for url in urls {
        let (host, port) = parse_stun_url(url)?;
        let target = format!("{host}:{port}");
        let lookup = tokio::net::lookup_host(target);
        if let Ok(Ok(addrs)) = tokio::time::timeout(timeout, lookup).await {
            out.extend(addrs.filter(SocketAddr::is_ipv4).take(1));
        }
    }
    Ok(out)
}

/// Binds, gathers and starts the connection's task. Events come out of
/// the receiver; the task ends when the handle's [`PeerHandle::close`] is
/// called or every handle is dropped.
pub async fn spawn(
    mut config: DriverConfig,
) -> Result<(PeerHandle, mpsc::UnboundedReceiver<PeerEvent>), DriverError> {
    let gathered = config.bind.is_empty();
    let ips = if gathered {
        let all = local_addresses();
        let chosen: Vec<IpAddr> = all
            .iter()
            .copied()
            .filter(|a| config.loopback || !a.is_loopback())
            .collect();
        if chosen.is_empty() {
            all
        } else {
            chosen
        }
    } else {
        config.bind.clone()
    };
    let watch =
        (gathered && config.watch_addresses).then(|| AddressWatch::new(&ips, config.loopback));
    let mdns = config.mdns.then(MdnsService::start_on_interfaces).flatten();
    let mut sockets = Vec::new();
    for ip in ips {
        let addr = SocketAddr::new(ip, 0);
        match UdpSocket::bind(addr).await {
            Ok(s) => sockets.push(Arc::new(s)),
            // A gathered IPv6 address can go between the listing and the
            // bind (an address that expires): left out.
            Err(_) if gathered && ip.is_ipv6() => {}
            Err(source) => return Err(DriverError::Bind { addr, source }),
        }
    }
    if sockets.is_empty() {
        return Err(DriverError::NoAddress);
    }
    let local_addrs: Vec<SocketAddr> = sockets.iter().filter_map(|s| s.local_addr().ok()).collect();
    let hide = config.mdns_hide && mdns.is_some();
    if let (true, Some(mdns)) = (hide, &mdns) {
        for a in &local_addrs {
            if config.peer.host_names.iter().any(|(ip, _)| *ip == a.ip()) {
                continue;
            }
            if let Some(name) = publish_hidden_name(mdns, a.ip()) {
                config.peer.host_names.push((a.ip(), name));
            }
        }
    }
    config.peer.ice.stun_servers = resolve_stun(&config.stun_urls, config.resolve_timeout).await?;
    let stream_servers: Vec<(SocketAddr, TurnTransport, Option<String>)> = config
        .peer
        .ice
        .turn_servers
        .iter()
        .filter(|t| t.transport.is_stream())
        .map(|t| (t.addr, t.transport, t.host.clone()))
        .collect();
    // An ICE restart allocates on new sockets and connections, opened
    // here (`crate::relay_transport`).
    config.peer.ice.new_relays_on_restart = true;
    let now = Instant::now();
    let mut pc = PeerConnection::new(config.peer, now)?;
    for a in &local_addrs {
        pc.add_local_address(*a);
    }
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let (in_tx, in_rx) = mpsc::channel::<(SocketAddr, SocketAddr, Vec<u8>)>(1024);
    for s in &sockets {
        spawn_reader(s.clone(), in_tx.clone());
    }
    // TURN over TCP and TLS (RFC 8656 §3.1): one connection per server,
    // made before gathering so that gathering waits for its allocation. A
    // server that cannot be reached is left out, as an unanswered UDP
    // one would be.
    let mut streams = Vec::new();
    let mut stats = NetworkStats::default();
    for (server, transport, host) in stream_servers {
        let (timeout, tls) = (config.resolve_timeout, config.turn_tls.clone());
        if transport == TurnTransport::Tls && tls.is_none() {
            continue;
        }
        let connected = TurnStream::connect(
            server,
            transport,
            host.as_deref(),
            tls,
            timeout,
            in_tx.clone(),
        );
        match connected.await {
            Ok(s) => {
                if pc
                    .add_turn_stream(Instant::now(), s.server, s.local)
                    .is_ok()
                {
                    streams.push(s);
                }
            }
            Err(e) => {
                tracing::warn!("{e}");
                stats.turn_streams_failed += 1;
            }
        }
    }
    let dialer = TurnDialer::new(
        config.turn_tls.clone(),
        config.resolve_timeout,
        in_tx.clone(),
    );
    // Every event of this connection carries its local addresses (issue 21).
    let span = tracing::debug_span!("connection", local = ?local_addrs);
    tokio::spawn(tracing::Instrument::instrument(
        run(
            pc,
            sockets,
            (streams, dialer),
            cmd_rx,
            (in_rx, in_tx),
            ev_tx,
            config.tap,
            LocalNetwork {
                mdns,
                watch,
                hide,
                stats,
                turn_tls: config.turn_tls,
                resolve_timeout: config.resolve_timeout,
            },
        ),
        span,
    ));
    Ok((
        PeerHandle {
            tx: cmd_tx,
            local_addrs,
        },
        ev_rx,
    ))
}

async fn send_out(t: Transmit, udp: &[(SocketAddr, Arc<UdpSocket>)], streams: &[TurnStream]) {
    crate::turn_stream::send_transmit(t.src, t.dst, t.payload, udp, streams).await;
}

/// The driver's view of the local network: mDNS, and the interface watch.
struct LocalNetwork {
    mdns: Option<MdnsService>,
    watch: Option<AddressWatch>,
    /// Hide new addresses behind names too.
    hide: bool,
    stats: NetworkStats,
    /// For new TURN connections after an ICE restart.
    turn_tls: Option<Arc<rustls::ClientConfig>>,
    resolve_timeout: Duration,
}

impl LocalNetwork {
    /// Resolves the `.local` candidate `line` in a task; the candidate
    /// with the address comes back on `resolved` (`None`: not resolved).
    fn resolve(&mut self, line: &str, resolved: &mpsc::UnboundedSender<Option<String>>) {
        let Some(name) = crate::candidate::mdns_name(line) else {
            return;
        };
        self.stats.mdns_candidates += 1;
        let Some(mdns) = self.mdns.clone() else {
            self.stats.mdns_unresolved += 1;
            return;
        };
        let (line, resolved) = (line.to_string(), resolved.clone());
        tokio::spawn(async move {
            let ip = mdns.resolve(&name).await;
            tracing::debug!(%name, ?ip, "mDNS candidate name");
            let _ = resolved.send(ip.and_then(|ip| crate::candidate::with_address(&line, ip)));
        });
    }
}

/// A socket bound to a local address, and the switch that stops its reader.
type Bound = (SocketAddr, Arc<UdpSocket>, Option<oneshot::Sender<()>>);

/// The interfaces changed: binds and gathers the new addresses, drops the
/// gone ones' sockets, and restarts ICE.
fn apply_address_change(
    pc: &mut PeerConnection,
    net: &mut LocalNetwork,
    bound: &mut Vec<Bound>,
    input: &mpsc::Sender<Received>,
) {
    let Some(watch) = &mut net.watch else {
        return;
    };
    let Some(change) = watch.update(&interface_addresses()) else {
        return;
    };
    tracing::debug!(?change, "local addresses changed: ICE restart");
    net.stats.address_changes += 1;
    bound.retain(|(a, _, _)| {
        let gone = change.removed.contains(&a.ip());
        net.stats.addresses_removed += u64::from(gone);
        !gone
    });
    // The gone addresses' candidates leave ICE: the restart's offer and
    // trickle name only the addresses left.
    for ip in &change.removed {
        pc.remove_local_address(Instant::now(), *ip);
    }
    for ip in &change.added {
        let Ok(std_socket) = std::net::UdpSocket::bind(SocketAddr::new(*ip, 0)) else {
            continue;
        };
        let socket = std_socket
            .set_nonblocking(true)
            .and_then(|()| UdpSocket::from_std(std_socket));
        let Ok(socket) = socket else {
            continue;
        };
        let Ok(addr) = socket.local_addr() else {
            continue;
        };
        let socket = Arc::new(socket);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        spawn_reader_until(socket.clone(), input.clone(), async move {
            let _ = stop_rx.await;
        });
        if let (true, Some(mdns)) = (net.hide, &net.mdns) {
            if let Some(name) = publish_hidden_name(mdns, addr.ip()) {
                pc.hide_host_address(addr.ip(), &name);
            }
        }
        pc.add_local_address(addr);
        bound.push((addr, socket, Some(stop_tx)));
        net.stats.addresses_added += 1;
    }
    pc.restart_ice();
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mut pc: PeerConnection,
    sockets: Vec<Arc<UdpSocket>>,
    (mut streams, mut dialer): (Vec<TurnStream>, TurnDialer),
    mut cmds: mpsc::UnboundedReceiver<Command>,
    (mut input, input_tx): (mpsc::Receiver<Received>, mpsc::Sender<Received>),
    events: mpsc::UnboundedSender<PeerEvent>,
    tap: Option<Arc<dyn DatagramTap>>,
    mut net: LocalNetwork,
) {
    let mut bound: Vec<Bound> = sockets
        .iter()
        .filter_map(|s| Some((s.local_addr().ok()?, s.clone(), None)))
        .collect();
    let mut local: Vec<(SocketAddr, Arc<UdpSocket>)> =
        bound.iter().map(|(a, s, _)| (*a, s.clone())).collect();
    let (resolved_tx, mut resolved_rx) = mpsc::unbounded_channel::<Option<String>>();
    let mut poll = tokio::time::interval(ADDRESS_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let watching = net.watch.is_some();
    let mut relays = crate::relay_transport::RelayTransports::default();
    loop {
        // New sockets and connections for TURN allocations (an ICE
        // restart), and those of deleted ones closed.
        let tls = net.turn_tls.clone();
        let timeout = net.resolve_timeout;
        if relays
            .serve(&mut pc, &mut streams, &input_tx, tls.as_ref(), timeout)
            .await
        {
            local = bound.iter().map(|(a, s, _)| (*a, s.clone())).collect();
            local.extend(relays.sockets.iter().map(|(a, s, _)| (*a, s.clone())));
        }
        // Drain what the connection has for us.
        while let Some(t) = pc.poll_transmit() {
            if let Some(tap) = &tap {
                tap.datagram(TapDirection::Sent, t.src, t.dst, &t.payload);
            }
            send_out(t, &local, &streams).await;
        }
        while let Some(e) = pc.poll_event() {
            if let (Some(tap), Some(s)) = (&tap, TapSecret::of_event(&e)) {
                tap.secret(s);
            }
            let _ = events.send(e);
        }
        dialer.follow(&mut pc, &mut streams);
        let deadline = pc
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        let sleep = tokio::time::sleep_until(deadline.into());
        tokio::select! {
            cmd = cmds.recv() => {
                let now = Instant::now();
                match cmd {
                    None | Some(Command::Close) => {
                        pc.close();
                        while let Some(t) = pc.poll_transmit() {
                            if let Some(tap) = &tap {
                                tap.datagram(TapDirection::Sent, t.src, t.dst, &t.payload);
                            }
                            send_out(t, &local, &streams).await;
                        }
                        while let Some(e) = pc.poll_event() {
                            let _ = events.send(e);
                        }
                        return;
                    }
                    Some(Command::AddTransceiver(k, s, r, tx)) => {
                        let _ = tx.send(pc.add_transceiver(k, s, r));
                    }
                    Some(Command::AddAnswerTrack(k)) => pc.add_answer_track(k),
                    Some(Command::CreateOffer(tx)) => {
                        let _ = tx.send(pc.create_offer(now));
                    }
                    Some(Command::CreateAnswer(tx)) => {
                        let _ = tx.send(pc.create_answer(now));
                    }
                    Some(Command::SetRemote(kind, sdp, tx)) => {
                        let r = pc.set_remote_description(now, kind, &sdp);
                        if r.is_ok() {
                            for (_, line) in crate::candidate::mdns_candidates(&sdp) {
                                net.resolve(&line, &resolved_tx);
                            }
                        }
                        let _ = tx.send(r);
                    }
                    Some(Command::AddCandidate(c, tx)) => {
                        // A `.local` name goes to the connection (which
                        // skips it) and, once resolved, again with its
                        // address.
                        let r = pc.add_remote_candidate(now, c.as_deref());
                        if let (Ok(()), Some(line)) = (&r, &c) {
                            net.resolve(line, &resolved_tx);
                        }
                        let _ = tx.send(r);
                    }
                    Some(Command::NetworkStats(tx)) => {
                        let answered = net.mdns.as_ref().map_or(0, |m| m.stats().queries_answered);
                        let _ = tx.send(NetworkStats {
                            mdns_queries_answered: answered,
                            relay_sockets_failed: relays.sockets_failed,
                            turn_streams_failed: net.stats.turn_streams_failed + relays.streams_failed,
                            ..net.stats
                        });
                    }
                    Some(Command::SendFrame(mid, f)) => {
                        let _ = pc.send_frame(now, &mid, &f);
                    }
                    Some(Command::RequestKeyframe(mid)) => pc.request_keyframe(now, &mid),
                    Some(Command::Stats(tx)) => {
                        let _ = tx.send(pc.stats());
                    }
                    Some(Command::TurnStats(tx)) => {
                        let _ = tx.send(pc.turn_stats());
                    }
                    Some(Command::SendingMids(tx)) => {
                        let _ = tx.send(pc.sending_mids());
                    }
                    Some(Command::LocalDescription(tx)) => {
                        let _ = tx.send(pc.local_description());
                    }
                    Some(Command::RestartIce) => pc.restart_ice(),
                }
            }
            d = input.recv() => {
                let Some((from, to, data)) = d else { return };
                if let Some(tap) = &tap {
                    tap.datagram(TapDirection::Received, from, to, &data);
                }
                pc.handle_datagram(Instant::now(), from, to, &data);
            }
            Some(d) = dialer.done.recv() => {
                TurnDialer::dialed(&mut pc, &mut streams, &mut net.stats.turn_streams_failed, d);
            }
            Some(line) = resolved_rx.recv() => match line {
                Some(line) => {
                    net.stats.mdns_resolved += 1;
                    let _ = pc.add_remote_candidate(Instant::now(), Some(&line));
                }
                None => net.stats.mdns_unresolved += 1,
            },
            _ = poll.tick(), if watching => {
                apply_address_change(&mut pc, &mut net, &mut bound, &input_tx);
                local = bound.iter().map(|(a, s, _)| (*a, s.clone())).collect();
                local.extend(relays.sockets.iter().map(|(a, s, _)| (*a, s.clone())));
            }
            _ = sleep => {
                pc.handle_timeout(Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_link_local_deprecated_tentative_and_failed_addresses_are_left_out() {
        // Lines as the kernel writes them: address, index, prefix, scope,
        // flags, name.
        let table = "\
00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000002 02 40 00 80       d0
fe800000000000000000000000000003 02 40 20 80       d0
20010db8000000000000000000000004 03 40 00 20     eth0
20010db8000000000000000000000005 03 40 00 40     eth0
20010db8000000000000000000000006 03 40 00 08     eth0
20010db8000000000000000000000007 03 40 00 01     eth0
garbage
";
        let flags = ipv6_flags(table);
        assert_eq!(flags.len(), 7);
        let usable: Vec<String> = flags
            .iter()
            .filter(|(a, f)| usable_ipv6(**a, **f))
            .map(|(a, _)| a.to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        // Loopback, the ULA, and the temporary (privacy) address: usable.
        // Link-local, deprecated, tentative and DAD-failed: not.
        assert_eq!(usable, ["2001:db8::7", "::1", "fd00::2"]);
        assert!(!usable_ipv6("fe80::1".parse().unwrap(), 0));
        assert!(!usable_ipv6("febf::1".parse().unwrap(), 0));
        assert!(usable_ipv6("fec0::1".parse().unwrap(), 0));
        assert!(!usable_ipv6(std::net::Ipv6Addr::UNSPECIFIED, 0));
    }

    #[test]
    fn gathered_addresses_list_ipv4_first_and_never_a_link_local_one() {
        let v = local_addresses();
        assert!(v.contains(&IpAddr::from([127, 0, 0, 1])));
        let first_v6 = v.iter().position(IpAddr::is_ipv6).unwrap_or(v.len());
        assert!(v[..first_v6].iter().all(IpAddr::is_ipv4));
        assert!(v[first_v6..].iter().all(|a| match a {
            IpAddr::V6(a) => a.segments()[0] & 0xffc0 != 0xfe80,
            IpAddr::V4(_) => false,
        }));
    }

    #[test]
    fn stun_urls_parse_with_and_without_port() {
        assert_eq!(
            parse_stun_url("stun:stun.l.google.com:19302").unwrap(),
            ("stun.l.google.com".to_string(), 19302)
        );
        assert_eq!(
            parse_stun_url("stun:127.0.0.1").unwrap(),
            ("127.0.0.1".to_string(), 3478)
        );
        assert_eq!(
            parse_stun_url("stun:[::1]:3479").unwrap(),
            ("::1".to_string(), 3479)
        );
        assert!(parse_stun_url("turn:x").is_err());
        assert!(parse_stun_url("stun:").is_err());
        assert!(parse_stun_url("stun:host:notaport").is_err());
    }

    #[test]
    fn interfaces_include_loopback() {
        assert!(local_ipv4_addresses().contains(&IpAddr::from([127, 0, 0, 1])));
    }
}

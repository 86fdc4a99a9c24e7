//! A mesh member on real sockets (feature `net`): the sans-IO [`MeshNode`]
//! with its signaling client, one UDP socket per connection slot, and its
//! timers, in one tokio task.
//!
//! This is what lets a program embed a mesh member in a few lines:
//!
//! ```no_run
//! # async fn f() -> Result<(), meshrtc_mesh::driver::DriverError> {
//! use meshrtc_mesh::driver::{join, MemberConfig};
//! use meshrtc_mesh::MeshEvent;
//!
//! let (member, mut events) = join(MemberConfig::new("ws://127.0.0.1:8080/ws", "standup", "Ada")?).await?;
//! // Send frames encoded and packetized once: `member.send_frame(Arc::new(frame))`.
//! while let Some(event) = events.recv().await {
//!     if let MeshEvent::Frame { from, frame } = event {
//!         // decode frame.data (VP8 or Opus) from member `from`
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Media stays outside: the caller encodes (asking
//! [`MemberHandle::take_keyframe_request`] before each video frame and
//! following [`MemberHandle::target_bitrate`]; with several layers,
//! [`MemberHandle::take_keyframe_requests`], [`MemberHandle::layer_targets`]
//! and [`MemberHandle::send_layers`]) and decodes.
//!
//! Every queue is bounded:
//!
//! - datagrams from the sockets: [`DATAGRAM_QUEUE`] shared out as one queue
//!   per connection slot, read in turn ([`crate::fair_input`]), so one
//!   member flooding its sockets cannot delay another's packets; when a
//!   slot's queue is full its socket reader waits, and the kernel's socket
//!   buffer drops what does not fit (as a slow reader of any UDP socket
//!   would);
//! - commands ([`MemberHandle::send_frame`]): [`COMMAND_QUEUE`]; a frame
//!   that finds it full is dropped and counted
//!   ([`DriverCounters::frames_dropped`]): the node is behind, and a late
//!   frame is worth less than the next one. Leaving does not queue;
//! - events: [`EVENT_QUEUE`]; when the caller does not keep up, frames
//!   that find it full are dropped and counted
//!   ([`DriverCounters::events_dropped`]), and the other events (joins,
//!   departures, tracks) wait in order in the task, up to
//!   [`EVENT_QUEUE`] of them, beyond which the oldest is dropped and
//!   counted too.
//!
//! The local network, as the peer driver does it
//! ([`meshrtc_peer::driver`]): a member's `.local` candidates (trickled or
//! in its description) are resolved by multicast DNS and handed to the
//! node again with the address ([`MemberConfig::mdns`]); with gathered
//! addresses the interfaces are watched, and a change binds the new
//! addresses on every slot, drops the gone ones, and restarts ICE on every
//! connection ([`MeshNode::local_addresses_changed`],
//! [`MemberConfig::watch_addresses`]).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fair_input::FairInput;
use meshrtc_peer::address_watch::{AddressWatch, ADDRESS_POLL};
use meshrtc_peer::driver::{interface_addresses, spawn_reader, spawn_reader_until};
use meshrtc_peer::mdns_service::MdnsService;
use meshrtc_peer::tap::{DatagramTap, TapDirection, TapSecret};
use meshrtc_peer::{PacketizedFrame, PeerConfig};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Notify};

use crate::node::{
    LayerFrame, MeshConfig, MeshEvent, MeshNode, MeshStats, SlotRelayTransportRequest,
    TurnStreamRequest,
};
use crate::signaling::client::{SignalingClient, SignalingError};
use crate::signaling::protocol::{ClientMessage, ErrorCode, IceCandidateInit, ServerMessage};
use crate::signaling::reconnect::reconnect;
use crate::signaling::tls::ServerTrust;
use meshrtc_ice::TurnTransport;
use meshrtc_peer::relay_transport::{bind_relay_socket_near, open_relay_stream};
use meshrtc_peer::turn_stream::{send_transmit, TurnStream, TurnStreamError};

/// How a member connects.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// The signaling server's WebSocket URL (`ws://` or `wss://`).
    pub server: String,
    /// Whom to trust for a `wss://` server (required then).
    pub server_trust: Option<ServerTrust>,
    /// The room.
    pub room: String,
    /// Display name.
    pub name: String,
    /// The room's password, for a server that requires one.
    pub password: Option<String>,
    /// Local addresses to bind, one socket per slot and address; empty:
    /// every interface's IPv4 and usable IPv6 addresses (loopback included;
    /// `meshrtc_peer::driver::local_addresses`).
    pub bind: Vec<IpAddr>,
    /// Connection slots (sockets bound up front): the room size minus one,
    /// plus spares for members who reconnect.
    pub slots: usize,
    /// Template of every connection.
    pub peer: PeerConfig,
    /// Send audio and video.
    pub send_video: bool,
    /// See `send_video`.
    pub send_audio: bool,
    /// Video layers (simulcast), see [`MeshConfig::layer_min_bitrates`];
    /// `[0]`: one layer.
    pub layer_min_bitrates: Vec<u32>,
    /// Sees every datagram sent and received (a capture) and, with
    /// `peer.key_log` on, every connection's secrets.
    pub tap: Option<Arc<dyn DatagramTap>>,
    /// Whom to trust for TURN over TLS (the room's `turns:` servers);
    /// without it those servers are left out. TURN over TCP needs nothing.
    pub turn_tls: Option<Arc<rustls::ClientConfig>>,
    /// The room chat ([`MeshConfig::chat`], [`MemberHandle::send_chat`]).
    pub chat: bool,
    /// Resolve members' `.local` candidates by multicast DNS
    /// (draft-ietf-mmusic-mdns-ice-candidates §3.2).
    pub mdns: bool,
    /// With `bind` empty: watch the interfaces and restart ICE when an
    /// address comes or goes.
    pub watch_addresses: bool,
    /// With `bind` empty: gather loopback addresses too.
    pub loopback: bool,
    /// Hide our host addresses behind random `.local` names in our
    /// candidates, answering mDNS queries for them, as browsers do
    /// (draft-ietf-mmusic-mdns-ice-candidates §3.1.1). Needs `mdns`.
    pub mdns_hide: bool,
    /// [`MeshConfig::measured_video_budget`]. Off by default: with libvpx
    /// on a real 300 kbit/s `tc tbf` uplink, filling the estimate let the
    /// queue the estimator tolerates stand (median latency under 12 ms in
    /// none of six calls, against three of six with the fixed share;
    /// BENCHMARKS.md, "The encoder fills its estimate").
    pub measured_video_budget: bool,
}

/// Hands a secret a mesh event carries to the tap.
fn tap_secret(tap: &dyn DatagramTap, e: &MeshEvent) {
    match e {
        MeshEvent::KeyLog { line, .. } => tap.secret(TapSecret::KeyLog(line)),
        MeshEvent::SrtpKeys { keys, .. } => tap.secret(TapSecret::Srtp(keys)),
        _ => {}
    }
}

impl MemberConfig {
    /// Every interface (IPv4 and usable IPv6), 8 slots, audio and video, no STUN server, a
    /// 256-bit seed and a certificate from the OS (one certificate for all
    /// the member's connections).
    pub fn new(server: &str, room: &str, name: &str) -> Result<MemberConfig, DriverError> {
        let mut peer = meshrtc_peer::driver::os_peer_config()?;
        peer.ice.stun_servers.clear();
        Ok(MemberConfig {
            server: server.into(),
            server_trust: None,
            room: room.into(),
            name: name.into(),
            password: None,
            bind: Vec::new(),
            slots: 8,
            peer,
            send_video: true,
            send_audio: true,
            layer_min_bitrates: vec![0],
            tap: None,
            turn_tls: None,
            chat: false,
            mdns: true,
            watch_addresses: true,
            loopback: true,
            mdns_hide: false,
            measured_video_budget: false,
        })
    }
}

/// Why a member could not start.
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
    /// The signaling server could not be reached.
    #[error(transparent)]
    Signaling(#[from] SignalingError),
    /// No randomness from the OS for the seed or the certificate.
    #[error(transparent)]
    Peer(#[from] meshrtc_peer::driver::DriverError),
}

/// Datagrams waiting for the node (all sockets together).
pub const DATAGRAM_QUEUE: usize = 4096;
/// Frames waiting to be sent (about a second of audio and video).
pub const COMMAND_QUEUE: usize = 64;
/// Events waiting for the caller.
pub const EVENT_QUEUE: usize = 1024;

enum Command {
    SendFrame(Arc<PacketizedFrame>),
    /// One capture's layers, smallest first.
    SendLayers(Vec<Arc<PacketizedFrame>>),
    /// [`MeshNode::start_screen`] (`true`) or [`MeshNode::stop_screen`].
    Screen(bool),
    SendScreenFrame(Arc<PacketizedFrame>),
    /// A chat line for every member.
    Chat(String),
}

/// What the driver's bounded queues dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverCounters {
    /// Frames given to [`MemberHandle::send_frame`] while its queue was
    /// full.
    pub frames_dropped: u64,
    /// Events (frames, or the oldest waiting other events) the caller did
    /// not take in time.
    pub events_dropped: u64,
    /// Signaling messages the node made while the connection was being
    /// opened again, beyond [`HELD_SIGNALS`].
    pub signals_dropped: u64,
    /// Members' `.local` candidates seen.
    pub mdns_candidates: u64,
    /// Of those, resolved and handed to the node.
    pub mdns_resolved: u64,
    /// Of those, not resolved (no answer, or mDNS unavailable).
    pub mdns_unresolved: u64,
    /// Changes of our interface addresses seen (each restarts ICE).
    pub address_changes: u64,
    /// TCP or TLS connections to TURN servers that could not be opened
    /// (refused, timed out, a TLS certificate not valid for the server's
    /// name); the reason is logged.
    pub turn_streams_failed: u64,
    /// UDP sockets for new TURN allocations (after an ICE restart) that
    /// could not be bound: no interface holds a usable address.
    pub relay_sockets_failed: u64,
    /// Host names in the room's ICE server URLs that did not resolve
    /// (their servers are left out).
    pub ice_hosts_unresolved: u64,
}

/// Signaling messages held while the connection is being opened again.
pub const HELD_SIGNALS: usize = 256;

type Reconnecting = dyn std::future::Future<Output = Result<(SignalingClient, mpsc::Receiver<ServerMessage>), String>>
    + Send;

struct Shared {
    /// Per layer.
    keyframe: Vec<bool>,
    /// [`MeshNode::screen_keyframe_wanted`].
    screen_keyframe: bool,
    target_bitrate: u32,
    layer_targets: Vec<u32>,
    stats: Option<MeshStats>,
    stopped: Option<String>,
    counters: DriverCounters,
}

/// Talks to a running member. Dropping every handle makes it leave.
#[derive(Clone)]
pub struct MemberHandle {
    tx: mpsc::Sender<Command>,
    leave: Arc<Notify>,
    shared: Arc<Mutex<Shared>>,
    /// The addresses bound.
    pub local_addrs: Vec<SocketAddr>,
}

impl std::fmt::Debug for MemberHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberHandle").finish_non_exhaustive()
    }
}

impl MemberHandle {
    /// Sends a frame, encoded and packetized once, to every connected
    /// member. When [`COMMAND_QUEUE`] frames are already waiting the frame
    /// is dropped and counted ([`DriverCounters::frames_dropped`]).
    pub fn send_frame(&self, frame: Arc<PacketizedFrame>) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(Command::SendFrame(frame))
        {
            if let Ok(mut s) = self.shared.lock() {
                s.counters.frames_dropped += 1;
            }
        }
    }

    /// Sends one captured video frame encoded and packetized once per
    /// layer (`layers[i]` is layer `i`, smallest first): each member gets
    /// the layer it is on ([`MeshNode::send_layers`]). Queued and dropped
    /// like [`MemberHandle::send_frame`].
    pub fn send_layers(&self, layers: Vec<Arc<PacketizedFrame>>) {
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.tx.try_send(Command::SendLayers(layers))
        {
            if let Ok(mut s) = self.shared.lock() {
                s.counters.frames_dropped += 1;
            }
        }
    }

    /// Starts a second video track (a "screen" source) to every member, by
    /// renegotiation ([`MeshNode::start_screen`]); its frames go with
    /// [`MemberHandle::send_screen_frame`].
    pub fn start_screen(&self) {
        let _ = self.tx.try_send(Command::Screen(true));
    }

    /// Stops the screen track ([`MeshNode::stop_screen`]).
    pub fn stop_screen(&self) {
        let _ = self.tx.try_send(Command::Screen(false));
    }

    /// Sends a frame of the screen track to every member that negotiated
    /// it. Queued and dropped like [`MemberHandle::send_frame`].
    pub fn send_screen_frame(&self, frame: Arc<PacketizedFrame>) {
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.tx.try_send(Command::SendScreenFrame(frame))
        {
            if let Ok(mut s) = self.shared.lock() {
                s.counters.frames_dropped += 1;
            }
        }
    }

    /// Whether the screen track's next frame should be a key frame (a
    /// member asked, or its stream just started).
    pub fn screen_keyframe_wanted(&self) -> bool {
        self.shared.lock().is_ok_and(|s| s.screen_keyframe)
    }

    /// Sends a chat line to every member ([`MeshNode::send_chat`]; the
    /// chat must be on in [`MemberConfig::chat`]). Waits for room in the
    /// command queue: a typed line is never dropped.
    pub async fn send_chat(&self, text: String) {
        let _ = self.tx.send(Command::Chat(text)).await;
    }

    /// The layers whose next frame should be a key frame
    /// ([`MeshNode::take_keyframe_requests`]). Clears them.
    pub fn take_keyframe_requests(&self) -> Vec<usize> {
        self.shared
            .lock()
            .map(|mut s| {
                s.keyframe
                    .iter_mut()
                    .enumerate()
                    .filter_map(|(i, k)| std::mem::take(k).then_some(i))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Each layer's encoder target ([`MeshNode::layer_targets`]).
    pub fn layer_targets(&self) -> Vec<u32> {
        self.shared
            .lock()
            .map(|s| s.layer_targets.clone())
            .unwrap_or_default()
    }

    /// What the bounded queues dropped so far.
    pub fn counters(&self) -> DriverCounters {
        self.shared.lock().map(|s| s.counters).unwrap_or_default()
    }

    /// Whether the next video frame should be a key frame (a member asked,
    /// rate-limited, or a member just connected). Clears the request (of
    /// every layer).
    pub fn take_keyframe_request(&self) -> bool {
        !self.take_keyframe_requests().is_empty()
    }

    /// The bitrate the encoder should aim at.
    pub fn target_bitrate(&self) -> u32 {
        self.shared
            .lock()
            .map(|s| s.target_bitrate)
            .unwrap_or(300_000)
    }

    /// The latest statistics (refreshed twice a second).
    pub fn stats(&self) -> Option<MeshStats> {
        self.shared.lock().ok().and_then(|s| s.stats.clone())
    }

    /// Why the member stopped, once it has.
    pub fn stopped(&self) -> Option<String> {
        self.shared.lock().ok().and_then(|s| s.stopped.clone())
    }

    /// Leaves the room (closing every connection) and ends the task.
    /// Does not wait behind queued frames.
    pub fn leave(&self) {
        // A permit is stored if the task is not waiting right now.
        self.leave.notify_one();
    }
}

/// Binds the slots, connects to the signaling server, joins the room and
/// runs the member in a task. Events (joined, members, frames) come out of
/// the receiver, which closes when the member stops.
pub async fn join(
    config: MemberConfig,
) -> Result<(MemberHandle, mpsc::Receiver<MeshEvent>), DriverError> {
    let gathered = config.bind.is_empty();
    let ips = if gathered {
        let all = meshrtc_peer::driver::local_addresses();
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
    let mut sockets: Vec<(SocketAddr, Arc<UdpSocket>)> = Vec::new();
    // The slot of each socket, for its reader's queue.
    let mut socket_slots: Vec<usize> = Vec::new();
    let mut slots = Vec::new();
    for slot_index in 0..config.slots.max(1) {
        let mut slot = Vec::new();
        for ip in &ips {
            let addr = SocketAddr::new(*ip, 0);
            let s = match UdpSocket::bind(addr).await {
                Ok(s) => s,
                // A gathered IPv6 address can go between the listing and
                // the bind (an address that expires): left out.
                Err(e) if gathered && ip.is_ipv6() => {
                    tracing::debug!(%addr, error = %e, "IPv6 address not bound, left out");
                    continue;
                }
                Err(source) => return Err(DriverError::Bind { addr, source }),
            };
            let a = s
                .local_addr()
                .map_err(|source| DriverError::Bind { addr, source })?;
            slot.push(a);
            sockets.push((a, Arc::new(s)));
            socket_slots.push(slot_index);
        }
        slots.push(slot);
    }
    let mut peer = config.peer.clone();
    // An ICE restart allocates on new sockets and connections, opened in
    // `run` (`MeshNode::poll_relay_transport_request`).
    peer.ice.new_relays_on_restart = true;
    let hide = config.mdns_hide && mdns.is_some();
    if let (true, Some(mdns)) = (hide, &mdns) {
        for ip in sockets.iter().map(|(a, _)| a.ip()) {
            if peer.host_names.iter().any(|(a, _)| *a == ip) {
                continue;
            }
            if let Some(name) = meshrtc_peer::driver::publish_hidden_name(mdns, ip) {
                peer.host_names.push((ip, name));
            }
        }
    }
    let peer_hidden: Vec<IpAddr> = peer.host_names.iter().map(|(a, _)| *a).collect();
    let mut mesh = MeshConfig::new(&config.room, &config.name, peer, slots);
    mesh.password = config.password.clone();
    mesh.send_video = config.send_video;
    mesh.send_audio = config.send_audio;
    mesh.layer_min_bitrates = config.layer_min_bitrates.clone();
    mesh.chat = config.chat;
    mesh.measured_video_budget = config.measured_video_budget;
    let node = MeshNode::new(mesh);
    let (sig, sig_rx) =
        SignalingClient::connect_with_trust(&config.server, config.server_trust.as_ref()).await?;
    // One queue per slot (one member's connection), read in turn.
    let slot_count = config.slots.max(1);
    let (in_rx, in_tx) = FairInput::new(slot_count, DATAGRAM_QUEUE / slot_count);
    for ((_, s), slot) in sockets.iter().zip(&socket_slots) {
        spawn_reader(s.clone(), in_tx[*slot].clone());
    }
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
    let leave = Arc::new(Notify::new());
    let shared = Arc::new(Mutex::new(Shared {
        keyframe: vec![false; config.layer_min_bitrates.len().max(1)],
        screen_keyframe: false,
        target_bitrate: node.target_bitrate(),
        layer_targets: node.layer_targets(),
        stats: None,
        stopped: None,
        counters: DriverCounters::default(),
    }));
    let local_addrs = sockets.iter().map(|(a, _)| *a).collect();
    let reconnect_to = (config.server.clone(), config.server_trust.clone());
    let turn = TurnStreamOpener {
        inputs: in_tx,
        tls: config.turn_tls.clone(),
    };
    let net = LocalNetwork {
        mdns,
        watch,
        slots: socket_slots
            .into_iter()
            .zip(sockets.iter().map(|(a, _)| *a))
            .collect(),
        hide,
        hidden: peer_hidden,
        stops: Vec::new(),
        slot_count,
    };
    tokio::spawn(run(
        node,
        sockets,
        net,
        turn,
        (sig, sig_rx, reconnect_to),
        in_rx,
        cmd_rx,
        leave.clone(),
        ev_tx,
        shared.clone(),
        config.tap.clone(),
    ));
    Ok((
        MemberHandle {
            tx: cmd_tx,
            leave,
            shared,
            local_addrs,
        },
        ev_rx,
    ))
}

#[allow(clippy::too_many_arguments)]
/// The member's view of the local network: mDNS, and the interface watch.
struct LocalNetwork {
    mdns: Option<MdnsService>,
    watch: Option<AddressWatch>,
    /// The slot of each bound address.
    slots: Vec<(usize, SocketAddr)>,
    /// Hide new addresses behind names too.
    hide: bool,
    /// The addresses hidden so far.
    hidden: Vec<IpAddr>,
    /// The stop switches of readers of sockets bound after the start.
    stops: Vec<(SocketAddr, tokio::sync::oneshot::Sender<()>)>,
    slot_count: usize,
}

/// A member's candidate resolved: (member, candidate with the address).
type Resolved = (String, Option<IceCandidateInit>);

impl LocalNetwork {
    /// Names for bound addresses not hidden yet, published (when hiding).
    fn hide_new_addresses(&mut self) -> Vec<(IpAddr, String)> {
        let Some(mdns) = self.mdns.as_ref().filter(|_| self.hide) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (_, a) in &self.slots {
            if self.hidden.contains(&a.ip()) {
                continue;
            }
            if let Some(name) = meshrtc_peer::driver::publish_hidden_name(mdns, a.ip()) {
                self.hidden.push(a.ip());
                out.push((a.ip(), name));
            }
        }
        out
    }

    /// Starts resolving the `.local` candidates a signaling message
    /// carries (trickled, or in a description).
    fn resolve_in(
        &self,
        m: &ServerMessage,
        counters: &mut DriverCounters,
        resolved: &mpsc::UnboundedSender<Resolved>,
    ) {
        let (from, found): (&str, Vec<IceCandidateInit>) = match m {
            ServerMessage::Candidate {
                from,
                candidate: Some(c),
            } if meshrtc_peer::candidate::mdns_name(&c.candidate).is_some() => {
                (from.as_str(), vec![c.clone()])
            }
            ServerMessage::Offer { from, sdp } | ServerMessage::Answer { from, sdp } => (
                from.as_str(),
                meshrtc_peer::candidate::mdns_candidates(sdp)
                    .into_iter()
                    .map(|(_, line)| IceCandidateInit {
                        candidate: line,
                        sdp_mid: None,
                        sdp_m_line_index: Some(0),
                        username_fragment: None,
                    })
                    .collect(),
            ),
            _ => return,
        };
        for c in found {
            counters.mdns_candidates += 1;
            let Some(mdns) = self.mdns.clone() else {
                counters.mdns_unresolved += 1;
                continue;
            };
            let Some(name) = meshrtc_peer::candidate::mdns_name(&c.candidate) else {
                continue;
            };
            let (from, resolved) = (from.to_string(), resolved.clone());
            tokio::spawn(async move {
                let ip = mdns.resolve(&name).await;
                tracing::debug!(%name, ?ip, "mDNS candidate name");
                let line =
                    ip.and_then(|ip| meshrtc_peer::candidate::with_address(&c.candidate, ip));
                let _ = resolved.send((
                    from,
                    line.map(|candidate| IceCandidateInit { candidate, ..c }),
                ));
            });
        }
    }

    /// Lists the interfaces; on a change binds the new addresses on every
    /// slot, drops the gone ones, and returns the addresses per slot now.
    async fn poll_addresses(
        &mut self,
        sockets: &mut Vec<(SocketAddr, Arc<UdpSocket>)>,
        inputs: &[mpsc::Sender<crate::fair_input::Datagram>],
    ) -> Option<Vec<Vec<SocketAddr>>> {
        let change = self.watch.as_mut()?.update(&interface_addresses())?;
        tracing::debug!(?change, "local addresses changed: ICE restart");
        sockets.retain(|(a, _)| !change.removed.contains(&a.ip()));
        self.slots
            .retain(|(_, a)| !change.removed.contains(&a.ip()));
        self.stops
            .retain(|(a, _)| !change.removed.contains(&a.ip()));
        for slot in 0..self.slot_count {
            for ip in &change.added {
                let Ok(s) = UdpSocket::bind(SocketAddr::new(*ip, 0)).await else {
                    continue;
                };
                let (Ok(a), Some(input)) = (s.local_addr(), inputs.get(slot)) else {
                    continue;
                };
                let s = Arc::new(s);
                let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
                spawn_reader_until(s.clone(), input.clone(), async move {
                    let _ = stop_rx.await;
                });
                sockets.push((a, s));
                self.slots.push((slot, a));
                self.stops.push((a, stop_tx));
            }
        }
        Some(
            (0..self.slot_count)
                .map(|slot| {
                    self.slots
                        .iter()
                        .filter(|(s, _)| *s == slot)
                        .map(|(_, a)| *a)
                        .collect()
                })
                .collect(),
        )
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mut node: MeshNode,
    mut sockets: Vec<(SocketAddr, Arc<UdpSocket>)>,
    mut net: LocalNetwork,
    turn: TurnStreamOpener,
    (mut sig, mut sig_rx, (server, trust)): (
        SignalingClient,
        mpsc::Receiver<ServerMessage>,
        (String, Option<ServerTrust>),
    ),
    mut input: FairInput,
    mut cmds: mpsc::Receiver<Command>,
    leave: Arc<Notify>,
    events: mpsc::Sender<MeshEvent>,
    shared: Arc<Mutex<Shared>>,
    tap: Option<Arc<dyn DatagramTap>>,
) {
    let mut next_stats = Instant::now();
    let mut out = EventOut::new(events);
    // While the signaling connection is being opened again: the attempt,
    // and what the node wanted to send meanwhile.
    let mut reconnecting: Option<Pin<Box<Reconnecting>>> = None;
    let mut held: VecDeque<ClientMessage> = VecDeque::new();
    // TURN over TCP/TLS: streams the node asked for, opened in tasks.
    let (opened_tx, mut opened_rx) = mpsc::channel::<Opened>(16);
    let mut streams: Vec<TurnStream> = Vec::new();
    // New transports for TURN allocations after an ICE restart: UDP
    // sockets (with their readers' stop switches) and streams.
    let mut relay_stops: Vec<(SocketAddr, tokio::sync::oneshot::Sender<()>)> = Vec::new();
    let (relay_opened_tx, mut relay_opened_rx) =
        mpsc::channel::<(SlotRelayTransportRequest, Option<TurnStream>)>(16);
    let (resolved_tx, mut resolved_rx) = mpsc::unbounded_channel::<Resolved>();
    let mut poll = tokio::time::interval(ADDRESS_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let watching = net.watch.is_some();
    let stopped = loop {
        while let Some(m) = node.poll_signal() {
            if reconnecting.is_some() {
                if held.len() < HELD_SIGNALS {
                    held.push_back(m);
                } else if let Ok(mut s) = shared.lock() {
                    s.counters.signals_dropped += 1;
                }
                continue;
            }
            if sig.send(m).is_err() {
                break;
            }
        }
        while let Some(req) = node.poll_turn_stream_request() {
            turn.open(req, opened_tx.clone());
        }
        while let Some(r) = node.poll_relay_transport_request() {
            let Some(input) = turn.inputs.get(r.slot) else {
                continue;
            };
            if r.request.transport.is_stream() {
                turn.open_relay(r, relay_opened_tx.clone());
            } else if let Some((local, socket, stop)) =
                bind_relay_socket_near(r.request.bind, input)
            {
                let (server, transport) = (r.request.server, r.request.transport);
                node.add_relay_transport(Instant::now(), r.slot, server, transport, local);
                sockets.push((local, socket));
                relay_stops.push((local, stop));
            } else {
                tracing::debug!(bind = %r.request.bind, "no UDP socket for a TURN allocation");
                if let Ok(mut s) = shared.lock() {
                    s.counters.relay_sockets_failed += 1;
                }
                let (server, transport) = (r.request.server, r.request.transport);
                node.relay_transport_failed(Instant::now(), r.slot, server, transport);
            }
        }
        while let Some(local) = node.poll_relay_transport_release() {
            sockets.retain(|(a, _)| *a != local);
            relay_stops.retain(|(a, _)| *a != local);
            streams.retain(|s| s.local != local);
        }
        while let Some(t) = node.poll_transmit() {
            if let Some(tap) = &tap {
                tap.datagram(TapDirection::Sent, t.src, t.dst, &t.payload);
            }
            send_transmit(t.src, t.dst, t.payload, &sockets, &streams).await;
        }
        while let Some(e) = node.poll_event() {
            if let Some(tap) = &tap {
                tap_secret(tap.as_ref(), &e);
            }
            out.push(e);
        }
        out.flush();
        let now = Instant::now();
        if let Ok(mut s) = shared.lock() {
            s.counters.events_dropped = out.dropped;
            for l in node.take_keyframe_requests(now) {
                if let Some(k) = s.keyframe.get_mut(l) {
                    *k = true;
                }
            }
            s.target_bitrate = node.target_bitrate();
            s.layer_targets = node.layer_targets();
            s.screen_keyframe = node.screen_keyframe_wanted();
            if now >= next_stats {
                s.stats = Some(node.stats());
                next_stats = now + Duration::from_millis(500);
            }
        }
        streams.retain(|s| {
            if s.is_closed() {
                node.remove_turn_stream(s.local);
            }
            !s.is_closed()
        });
        let wake = node
            .poll_timeout()
            .unwrap_or(now + Duration::from_millis(100))
            .min(now + Duration::from_millis(100));
        let is_reconnecting = reconnecting.is_some();
        tokio::select! {
            Some((req, stream)) = opened_rx.recv() => match stream {
                Ok(stream) => {
                    node.add_turn_stream(Instant::now(), req.slot, req.server, stream.local);
                    streams.push(stream);
                }
                Err(e) => {
                    tracing::warn!("{e}");
                    if let Ok(mut s) = shared.lock() {
                        s.counters.turn_streams_failed += 1;
                    }
                    node.turn_stream_failed(Instant::now(), req.slot, req.server);
                }
            },
            Some((r, stream)) = relay_opened_rx.recv() => {
                let (server, transport) = (r.request.server, r.request.transport);
                match stream {
                    Some(stream) => {
                        node.add_relay_transport(Instant::now(), r.slot, server, transport, stream.local);
                        streams.push(stream);
                    }
                    None => {
                        if let Ok(mut s) = shared.lock() {
                            s.counters.turn_streams_failed += 1;
                        }
                        node.relay_transport_failed(Instant::now(), r.slot, server, transport);
                    }
                }
            }
            m = sig_rx.recv(), if !is_reconnecting => match m {
                Some(ServerMessage::Error { code: ErrorCode::ResumeFailed, message }) => {
                    break format!("the room did not keep our place: {message}");
                }
                Some(m) => {
                    let unresolved = crate::ice_host_resolver::resolve_ice_hosts(&mut node, &m).await;
                    if let Ok(mut s) = shared.lock() {
                        s.counters.ice_hosts_unresolved += unresolved;
                        net.resolve_in(&m, &mut s.counters, &resolved_tx);
                    }
                    node.handle_signal(Instant::now(), m)
                }
                // Media goes on without the server; take the place back on
                // a new connection if the room keeps places.
                None if node.resume_request().is_some() => {
                    tracing::debug!("signaling connection lost: reconnecting to resume");
                    reconnecting = Some(Box::pin(reconnect(server.clone(), trust.clone())));
                }
                None => break "the signaling server closed the connection".to_string(),
            },
            r = async {
                match reconnecting.as_mut() {
                    Some(f) => f.await,
                    None => std::future::pending().await,
                }
            }, if is_reconnecting => {
                reconnecting = None;
                match r {
                    Ok((client, rx)) => {
                        (sig, sig_rx) = (client, rx);
                        if let Some(m) = node.resume_request() {
                            let _ = sig.send(m);
                        }
                        for m in held.drain(..) {
                            let _ = sig.send(m);
                        }
                    }
                    Err(e) => break format!("the signaling server is gone: {e}"),
                }
            },
            d = input.recv() => match d {
                Some((from, to, data)) => {
                    if let Some(tap) = &tap {
                        tap.datagram(TapDirection::Received, from, to, &data);
                    }
                    node.handle_datagram(Instant::now(), from, to, &data)
                }
                None => break "the sockets closed".to_string(),
            },
            c = cmds.recv() => match c {
                Some(Command::SendFrame(f)) => {
                    node.send_frame(Instant::now(), &f);
                }
                Some(Command::Screen(true)) => node.start_screen(Instant::now()),
                Some(Command::Screen(false)) => node.stop_screen(Instant::now()),
                Some(Command::SendScreenFrame(f)) => {
                    node.send_screen_frame(Instant::now(), &f);
                }
                Some(Command::SendLayers(layers)) => {
                    let layered: Vec<LayerFrame<'_>> = layers
                        .iter()
                        .enumerate()
                        .map(|(index, f)| LayerFrame { index, frame: f })
                        .collect();
                    node.send_layers(Instant::now(), &layered);
                }
                Some(Command::Chat(text)) => {
                    node.send_chat(Instant::now(), &text);
                }
                None => break "left".to_string(),
            },
            Some((from, candidate)) = resolved_rx.recv() => {
                if let Ok(mut s) = shared.lock() {
                    if candidate.is_some() {
                        s.counters.mdns_resolved += 1;
                    } else {
                        s.counters.mdns_unresolved += 1;
                    }
                }
                if let Some(c) = candidate {
                    let m = ServerMessage::Candidate { from, candidate: Some(c) };
                    node.handle_signal(Instant::now(), m);
                }
            }
            _ = poll.tick(), if watching => {
                if let Some(slots) = net.poll_addresses(&mut sockets, &turn.inputs).await {
                    if let Ok(mut s) = shared.lock() {
                        s.counters.address_changes += 1;
                    }
                    for (ip, name) in net.hide_new_addresses() {
                        node.hide_host_address(ip, &name);
                    }
                    node.local_addresses_changed(Instant::now(), slots);
                }
            }
            // Events that wait for room are retried on the next turn (at
            // most 100 ms away).
            () = leave.notified() => break "left".to_string(),
            _ = tokio::time::sleep_until(wake.into()) => node.handle_timeout(Instant::now()),
        }
    };
    if let Ok(mut s) = shared.lock() {
        s.stats = Some(node.stats());
    }
    node.leave();
    while let Some(m) = node.poll_signal() {
        let _ = sig.send(m);
    }
    while let Some(t) = node.poll_transmit() {
        if let Some(tap) = &tap {
            tap.datagram(TapDirection::Sent, t.src, t.dst, &t.payload);
        }
        send_transmit(t.src, t.dst, t.payload, &sockets, &streams).await;
    }
    while let Some(e) = node.poll_event() {
        out.push(e);
    }
    out.flush();
    if let Ok(mut s) = shared.lock() {
        s.stopped = Some(stopped);
        s.counters.events_dropped = out.dropped;
    }
    // Let the leave message go out before the socket closes.
    tokio::time::sleep(Duration::from_millis(50)).await;
    sig.close();
}

/// A stream opened for a request, or why it could not be.
type Opened = (TurnStreamRequest, Result<TurnStream, TurnStreamError>);

/// How long opening a TCP or TLS connection to a TURN server may take.
const TURN_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens the streams to TCP/TLS TURN servers a node asks for (RFC 8656
/// §3.1); what one carries goes to its slot's input queue.
struct TurnStreamOpener {
    inputs: Vec<mpsc::Sender<crate::fair_input::Datagram>>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl TurnStreamOpener {
    /// Opens the stream in a task (TLS checked for the request's host
    /// name, or the server's IP address); sends it, or why it could not be
    /// opened, to `opened`. TLS without a trust configuration is left out
    /// silently, as an unanswered UDP server would be.
    fn open(&self, req: TurnStreamRequest, opened: mpsc::Sender<Opened>) {
        let Some(input) = self.inputs.get(req.slot).cloned() else {
            return;
        };
        let tls = self.tls.clone();
        if req.transport == TurnTransport::Tls && tls.is_none() {
            return;
        }
        tokio::spawn(async move {
            let (server, transport, host) = (req.server, req.transport, req.host.as_deref());
            let stream =
                TurnStream::connect(server, transport, host, tls, TURN_CONNECT_TIMEOUT, input);
            let stream = stream.await;
            let _ = opened.send((req, stream)).await;
        });
    }

    /// Opens a stream for a relay of an ICE restart in a task (see
    /// [`TurnStreamOpener::open`]).
    fn open_relay(
        &self,
        r: SlotRelayTransportRequest,
        opened: mpsc::Sender<(SlotRelayTransportRequest, Option<TurnStream>)>,
    ) {
        let Some(input) = self.inputs.get(r.slot).cloned() else {
            return;
        };
        let tls = self.tls.clone();
        tokio::spawn(async move {
            // `None`: it could not be opened, which the node is told.
            let s = open_relay_stream(r.request.clone(), tls, TURN_CONNECT_TIMEOUT, &input).await;
            let _ = opened.send((r, s)).await;
        });
    }
}

/// The event channel with its policy when the caller falls behind: frames
/// that do not fit are dropped, other events wait (bounded, oldest dropped).
struct EventOut {
    tx: mpsc::Sender<MeshEvent>,
    held: VecDeque<MeshEvent>,
    dropped: u64,
}

impl EventOut {
    fn new(tx: mpsc::Sender<MeshEvent>) -> EventOut {
        EventOut {
            tx,
            held: VecDeque::new(),
            dropped: 0,
        }
    }

    fn push(&mut self, e: MeshEvent) {
        self.flush();
        let is_frame = matches!(e, MeshEvent::Frame { .. });
        if self.held.is_empty() {
            match self.tx.try_send(e) {
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(e)) if !is_frame => self.hold(e),
                Err(mpsc::error::TrySendError::Full(_)) => self.dropped += 1,
            }
        } else if is_frame {
            // Behind other events that wait: a frame does not wait.
            self.dropped += 1;
        } else {
            self.hold(e);
        }
    }

    fn hold(&mut self, e: MeshEvent) {
        if self.held.len() >= EVENT_QUEUE {
            self.held.pop_front();
            self.dropped += 1;
        }
        self.held.push_back(e);
    }

    /// Sends what waits, as far as there is room.
    fn flush(&mut self) {
        while let Some(e) = self.held.pop_front() {
            match self.tx.try_send(e) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(e)) => {
                    self.held.push_front(e);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.held.clear();
                    return;
                }
            }
        }
    }
}

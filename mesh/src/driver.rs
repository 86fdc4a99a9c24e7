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
//! following [`MemberHandle::target_bitrate`]) and decodes.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meshrtc_peer::driver::spawn_reader;
use meshrtc_peer::{PacketizedFrame, PeerConfig};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::node::{MeshConfig, MeshEvent, MeshNode, MeshStats};
use crate::signaling::client::{SignalingClient, SignalingError};

/// How a member connects.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// The signaling server's WebSocket URL.
    pub server: String,
    /// The room.
    pub room: String,
    /// Display name.
    pub name: String,
    /// The room's password, for a server that requires one.
    pub password: Option<String>,
    /// Local addresses to bind, one socket per slot and address; empty:
    /// every IPv4 interface (loopback included).
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
}

impl MemberConfig {
    /// Every IPv4 interface, 8 slots, audio and video, no STUN server, a
    /// 256-bit seed and a certificate from the OS (one certificate for all
    /// the member's connections).
    pub fn new(server: &str, room: &str, name: &str) -> Result<MemberConfig, DriverError> {
        let mut peer = meshrtc_peer::driver::os_peer_config()?;
        peer.ice.stun_servers.clear();
        Ok(MemberConfig {
            server: server.into(),
            room: room.into(),
            name: name.into(),
            password: None,
            bind: Vec::new(),
            slots: 8,
            peer,
            send_video: true,
            send_audio: true,
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

enum Command {
    SendFrame(Arc<PacketizedFrame>),
    Leave,
}

struct Shared {
    keyframe: bool,
    target_bitrate: u32,
    stats: Option<MeshStats>,
    stopped: Option<String>,
}

/// Talks to a running member. Dropping every handle makes it leave.
#[derive(Clone)]
pub struct MemberHandle {
    tx: mpsc::UnboundedSender<Command>,
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
    /// member.
    pub fn send_frame(&self, frame: Arc<PacketizedFrame>) {
        let _ = self.tx.send(Command::SendFrame(frame));
    }

    /// Whether the next video frame should be a key frame (a member asked,
    /// rate-limited, or a member just connected). Clears the request.
    pub fn take_keyframe_request(&self) -> bool {
        self.shared
            .lock()
            .map(|mut s| std::mem::take(&mut s.keyframe))
            .unwrap_or(false)
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
    pub fn leave(&self) {
        let _ = self.tx.send(Command::Leave);
    }
}

/// Binds the slots, connects to the signaling server, joins the room and
/// runs the member in a task. Events (joined, members, frames) come out of
/// the receiver, which closes when the member stops.
pub async fn join(
    config: MemberConfig,
) -> Result<(MemberHandle, mpsc::UnboundedReceiver<MeshEvent>), DriverError> {
    let ips = if config.bind.is_empty() {
        meshrtc_peer::driver::local_ipv4_addresses()
    } else {
        config.bind.clone()
    };
    let mut sockets: Vec<(SocketAddr, Arc<UdpSocket>)> = Vec::new();
    let mut slots = Vec::new();
    for _ in 0..config.slots.max(1) {
        let mut slot = Vec::new();
        for ip in &ips {
            let addr = SocketAddr::new(*ip, 0);
            let s = UdpSocket::bind(addr)
                .await
                .map_err(|source| DriverError::Bind { addr, source })?;
            let a = s
                .local_addr()
                .map_err(|source| DriverError::Bind { addr, source })?;
            slot.push(a);
            sockets.push((a, Arc::new(s)));
        }
        slots.push(slot);
    }
    let mut mesh = MeshConfig::new(&config.room, &config.name, config.peer.clone(), slots);
    mesh.password = config.password.clone();
    mesh.send_video = config.send_video;
    mesh.send_audio = config.send_audio;
    let node = MeshNode::new(mesh);
    let (sig, sig_rx) = SignalingClient::connect(&config.server).await?;
    let (in_tx, in_rx) = mpsc::channel::<(SocketAddr, SocketAddr, Vec<u8>)>(4096);
    for (_, s) in &sockets {
        spawn_reader(s.clone(), in_tx.clone());
    }
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Mutex::new(Shared {
        keyframe: false,
        target_bitrate: node.target_bitrate(),
        stats: None,
        stopped: None,
    }));
    let local_addrs = sockets.iter().map(|(a, _)| *a).collect();
    tokio::spawn(run(
        node,
        sockets,
        sig,
        sig_rx,
        in_rx,
        cmd_rx,
        ev_tx,
        shared.clone(),
    ));
    Ok((
        MemberHandle {
            tx: cmd_tx,
            shared,
            local_addrs,
        },
        ev_rx,
    ))
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mut node: MeshNode,
    sockets: Vec<(SocketAddr, Arc<UdpSocket>)>,
    sig: SignalingClient,
    mut sig_rx: mpsc::UnboundedReceiver<crate::signaling::protocol::ServerMessage>,
    mut input: mpsc::Receiver<(SocketAddr, SocketAddr, Vec<u8>)>,
    mut cmds: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<MeshEvent>,
    shared: Arc<Mutex<Shared>>,
) {
    let mut next_stats = Instant::now();
    let stopped = loop {
        while let Some(m) = node.poll_signal() {
            if sig.send(m).is_err() {
                break;
            }
        }
        while let Some(t) = node.poll_transmit() {
            if let Some((_, s)) = sockets.iter().find(|(a, _)| *a == t.src) {
                let _ = s.send_to(&t.payload, t.dst).await;
            }
        }
        while let Some(e) = node.poll_event() {
            let _ = events.send(e);
        }
        let now = Instant::now();
        if let Ok(mut s) = shared.lock() {
            if node.take_keyframe_request(now) {
                s.keyframe = true;
            }
            s.target_bitrate = node.target_bitrate();
            if now >= next_stats {
                s.stats = Some(node.stats());
                next_stats = now + Duration::from_millis(500);
            }
        }
        let wake = node
            .poll_timeout()
            .unwrap_or(now + Duration::from_millis(100))
            .min(now + Duration::from_millis(100));
        tokio::select! {
            m = sig_rx.recv() => match m {
                Some(m) => node.handle_signal(Instant::now(), m),
                None => break "the signaling server closed the connection".to_string(),
            },
            d = input.recv() => match d {
                Some((from, to, data)) => node.handle_datagram(Instant::now(), from, to, &data),
                None => break "the sockets closed".to_string(),
            },
            c = cmds.recv() => match c {
                Some(Command::SendFrame(f)) => {
                    node.send_frame(Instant::now(), &f);
                }
                Some(Command::Leave) | None => break "left".to_string(),
            },
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
        if let Some((_, s)) = sockets.iter().find(|(a, _)| *a == t.src) {
            let _ = s.send_to(&t.payload, t.dst).await;
        }
    }
    while let Some(e) = node.poll_event() {
        let _ = events.send(e);
    }
    if let Ok(mut s) = shared.lock() {
        s.stopped = Some(stopped);
    }
    // Let the leave message go out before the socket closes.
    tokio::time::sleep(Duration::from_millis(50)).await;
    sig.close();
}

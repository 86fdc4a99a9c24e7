//! The drivers' multicast DNS (feature `tokio`): the sans-IO
//! [`meshrtc_ice::mdns::Mdns`] on real sockets, in a task.
//!
//! [`MdnsService::start`] binds UDP port 5353 on every address
//! (`SO_REUSEADDR` and `SO_REUSEPORT`, so a browser's or the system's
//! responder on the same machine keeps working, as RFC 6762 §15.1 asks),
//! joins 224.0.0.251 on each IPv4 interface and ff02::fb on the default
//! IPv6 one, and sends each query out of every IPv4 interface. The
//! returned [`MdnsService`] resolves names (a remote `<uuid>.local`
//! candidate) and publishes ours (a host address hidden behind a random
//! name). The task ends when every handle is dropped.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meshrtc_ice::mdns::{Mdns, MdnsConfig, MdnsEvent, MdnsStats, MDNS_PORT, MDNS_V4};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

enum MdnsCommand {
    Resolve(String, oneshot::Sender<Option<IpAddr>>),
    Publish(String, IpAddr),
}

/// A handle on the mDNS task.
#[derive(Clone)]
pub struct MdnsService {
    tx: mpsc::UnboundedSender<MdnsCommand>,
    stats: Arc<Mutex<MdnsStats>>,
}

impl std::fmt::Debug for MdnsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MdnsService")
            .field("stats", &self.stats())
            .finish()
    }
}

fn multicast_socket(domain: Domain, bind: SocketAddr) -> std::io::Result<Socket> {
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    if domain == Domain::IPV6 {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&bind.into())?;
    Ok(s)
}

impl MdnsService {
    /// [`MdnsService::start`] on every IPv4 address of the machine's
    /// interfaces; `None` (logged) if it cannot start, for a driver to run
    /// without mDNS.
    pub fn start_on_interfaces() -> Option<MdnsService> {
        let v4: Vec<Ipv4Addr> = crate::driver::interface_addresses()
            .into_iter()
            .filter_map(|a| match a {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
            .collect();
        MdnsService::start(&v4)
            .map_err(|e| tracing::debug!(error = %e, "mDNS unavailable"))
            .ok()
    }

    /// Binds the mDNS sockets on the interfaces `ipv4` (their addresses;
    /// loopback is left out) and starts the task. Fails only when no IPv4
    /// socket can be bound; IPv6 is used when it can be.
    pub fn start(ipv4: &[Ipv4Addr]) -> std::io::Result<MdnsService> {
        let v4 = multicast_socket(
            Domain::IPV4,
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), MDNS_PORT),
        )?;
        let group = Ipv4Addr::new(224, 0, 0, 251);
        let interfaces: Vec<Ipv4Addr> = ipv4.iter().copied().filter(|a| !a.is_loopback()).collect();
        let mut joined = 0;
        for iface in &interfaces {
            joined += usize::from(v4.join_multicast_v4(&group, iface).is_ok());
        }
        if joined == 0 {
            v4.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)?;
        }
        v4.set_multicast_ttl_v4(255)?;
        v4.set_multicast_loop_v4(true)?;
        let v4 = UdpSocket::from_std(v4.into())?;
        let v6 = multicast_socket(
            Domain::IPV6,
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), MDNS_PORT),
        )
        .and_then(|s| {
            s.join_multicast_v6(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb), 0)?;
            s.set_multicast_hops_v6(255)?;
            Ok(s)
        })
        .and_then(|s| UdpSocket::from_std(s.into()))
        .ok();
        let mdns = Mdns::new(MdnsConfig {
            ipv6: v6.is_some(),
            ..MdnsConfig::default()
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Mutex::new(MdnsStats::default()));
        tokio::spawn(run(mdns, v4, v6, interfaces, rx, stats.clone()));
        Ok(MdnsService { tx, stats })
    }

    /// Resolves a `.local` name: its first address, or `None` when no
    /// answer came (after about 3 s) or the name cannot be asked for.
    pub async fn resolve(&self, name: &str) -> Option<IpAddr> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(MdnsCommand::Resolve(name.to_string(), tx))
            .ok()?;
        rx.await.ok().flatten()
    }

    /// Answers queries for `name` with `addr` from now on.
    pub fn publish(&self, name: &str, addr: IpAddr) {
        let _ = self.tx.send(MdnsCommand::Publish(name.to_string(), addr));
    }

    /// The resolver's counters.
    pub fn stats(&self) -> MdnsStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }
}

async fn recv(socket: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn run(
    mut mdns: Mdns,
    v4: UdpSocket,
    v6: Option<UdpSocket>,
    interfaces: Vec<Ipv4Addr>,
    mut commands: mpsc::UnboundedReceiver<MdnsCommand>,
    stats: Arc<Mutex<MdnsStats>>,
) {
    let mut waiting: HashMap<String, Vec<oneshot::Sender<Option<IpAddr>>>> = HashMap::new();
    let mut buf = vec![0u8; 9000];
    let mut buf6 = vec![0u8; 9000];
    loop {
        while let Some(t) = mdns.poll_transmit() {
            match (t.dst == MDNS_V4, t.dst.ip(), &v6) {
                // A query or multicast answer leaves by every interface
                // (no route to 224.0.0.0/4 is needed).
                (true, _, _) if !interfaces.is_empty() => {
                    for iface in &interfaces {
                        if SockRef::from(&v4).set_multicast_if_v4(iface).is_ok() {
                            let _ = v4.send_to(&t.payload, MDNS_V4).await;
                        }
                    }
                }
                (_, IpAddr::V4(_), _) => {
                    let _ = v4.send_to(&t.payload, t.dst).await;
                }
                (_, IpAddr::V6(_), Some(s)) => {
                    let _ = s.send_to(&t.payload, t.dst).await;
                }
                (_, IpAddr::V6(_), None) => {}
            }
        }
        while let Some(e) = mdns.poll_event() {
            let (name, addr) = match e {
                MdnsEvent::Resolved { name, addr } => (name, Some(addr)),
                MdnsEvent::Failed { name } => (name, None),
            };
            for w in waiting
                .remove(&name.to_ascii_lowercase())
                .unwrap_or_default()
            {
                let _ = w.send(addr);
            }
        }
        if let Ok(mut s) = stats.lock() {
            *s = mdns.stats();
        }
        let wake = mdns
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(60));
        tokio::select! {
            c = commands.recv() => match c {
                Some(MdnsCommand::Resolve(name, tx)) => {
                    if mdns.resolve(Instant::now(), &name).is_ok() {
                        waiting.entry(name.to_ascii_lowercase()).or_default().push(tx);
                    } else {
                        let _ = tx.send(None);
                    }
                }
                Some(MdnsCommand::Publish(name, addr)) => mdns.publish(&name, addr),
                None => return,
            },
            r = v4.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    mdns.handle_datagram(from, &buf[..n]);
                }
            }
            r = recv(v6.as_ref(), &mut buf6) => {
                if let Ok((n, from)) = r {
                    mdns.handle_datagram(from, &buf6[..n]);
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => mdns.handle_timeout(Instant::now()),
        }
    }
}

//! A minimal real-socket loop for a sans-IO ICE agent: one UDP socket, the
//! wall clock, and a `pump` to call repeatedly. The production tokio driver
//! comes with PeerConnection; this is what tests need until then.

use meshrtc_ice::{IceAgent, IceEvent};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// An agent bound to a UDP socket.
pub struct UdpAgent {
    /// The agent.
    pub agent: IceAgent,
    /// Its socket (non-blocking).
    pub socket: UdpSocket,
    /// Every event so far, with when it happened.
    pub events: Vec<(Instant, IceEvent)>,
    /// Datagrams that were not STUN for the agent (e.g. a browser's DTLS).
    pub other_datagrams: u64,
    buf: Vec<u8>,
}

impl UdpAgent {
    /// Binds `addr` (port 0 for any), adds it as the host candidate.
    pub fn bind(mut agent: IceAgent, addr: SocketAddr) -> std::io::Result<UdpAgent> {
        let socket = UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        let local = socket.local_addr()?;
        agent
            .add_local_host(local)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        Ok(UdpAgent {
            agent,
            socket,
            events: Vec::new(),
            other_datagrams: 0,
            buf: vec![0; 2048],
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .expect("bound socket has an address")
    }

    /// Sends what the agent wants sent, feeds what arrived, fires due timers.
    pub fn pump(&mut self) {
        let now = Instant::now();
        let local = self.local_addr();
        while let Ok((n, from)) = self.socket.recv_from(&mut self.buf) {
            // RFC 7983: only STUN (first byte 0..=3) goes to the agent.
            if self.buf[..n].first().is_some_and(|&b| b < 4) {
                let _ = self.agent.handle_datagram(now, from, local, &self.buf[..n]);
            } else {
                self.other_datagrams += 1;
            }
        }
        if self.agent.poll_timeout().is_some_and(|t| t <= now) {
            self.agent.handle_timeout(now);
        }
        while let Some(t) = self.agent.poll_transmit() {
            let _ = self.socket.send_to(&t.payload, t.dst);
        }
        while let Some(e) = self.agent.poll_event() {
            self.events.push((now, e));
        }
    }

    /// Pumps until `done` or `limit`, sleeping 1 ms between rounds.
    pub fn pump_until(&mut self, limit: Duration, mut done: impl FnMut(&UdpAgent) -> bool) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            self.pump();
            if done(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }
}

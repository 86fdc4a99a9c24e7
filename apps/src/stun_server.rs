//! `meshrtc stun-server`: the sans-IO [`StunServer`] behind a UDP socket.

use meshrtc_ice::StunServer;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Arguments of `meshrtc stun-server`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port; the bound address is
    /// printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3478")]
    listen: SocketAddr,
    /// Print the counters on stderr every this many seconds (0: never).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    stats_every: u64,
}

/// Runs until killed.
pub fn run(args: Args) -> ExitCode {
    let socket = match UdpSocket::bind(args.listen) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("meshrtc stun-server: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let local = socket.local_addr().map_or(args.listen, |a| a);
    eprintln!("meshrtc stun-server: listening on {local}");
    answer(
        &socket,
        Duration::from_secs(args.stats_every),
        "meshrtc stun-server",
    )
}

/// Answers Binding requests on `socket` until the process ends, printing
/// the counters every `every` (never if zero), each line starting with
/// `label`.
pub fn answer(socket: &UdpSocket, every: Duration, label: &str) -> ! {
    if !every.is_zero() {
        let _ = socket.set_read_timeout(Some(every));
    }
    let mut server = StunServer::new(Some(concat!("meshrtc ", env!("CARGO_PKG_VERSION")).into()));
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::with_capacity(128);
    let mut last_stats = Instant::now();
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                // Malformed datagrams are counted by the server and dropped.
                if let Ok(true) = server.handle(from, &buf[..n], &mut out) {
                    if let Err(e) = socket.send_to(&out, from) {
                        eprintln!("{label}: send to {from} failed: {e}");
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => eprintln!("{label}: receive failed: {e}"),
        }
        if !every.is_zero() && last_stats.elapsed() >= every {
            last_stats = Instant::now();
            let s = server.stats();
            eprintln!(
                "{label}: answered {} | 420 {} | malformed {} | ignored {}",
                s.answered, s.unknown_attribute, s.malformed, s.ignored
            );
        }
    }
}

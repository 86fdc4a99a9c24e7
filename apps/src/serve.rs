//! `meshrtc serve`: the signaling server (HTTP and WebSocket on one port).
//! The protocol is `docs/signaling.md`; the server logic lives in
//! `meshrtc_mesh::signaling`.

use std::net::SocketAddr;
use std::process::ExitCode;

use meshrtc_mesh::signaling::{self, RoomsConfig, ServerConfig};

/// Arguments of `meshrtc serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free one (printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = signaling::server::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Members a room can hold; the next join gets `room-full`.
    #[arg(long, value_name = "N", default_value_t = 6,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    max_members: u16,
}

/// Runs the server until the process is killed.
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meshrtc serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = ServerConfig {
        rooms: RoomsConfig {
            max_members: usize::from(args.max_members),
            ..RoomsConfig::default()
        },
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("no local address: {e}"))?;
        eprintln!("meshrtc serve: listening on http://{addr} (ws://{addr}/ws)");
        signaling::serve(listener, config)
            .await
            .map_err(|e| format!("server failed: {e}"))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meshrtc serve: {e}");
            ExitCode::FAILURE
        }
    }
}

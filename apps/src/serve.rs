//! `meshrtc serve`: the signaling server (HTTP and WebSocket on one port).
//! The protocol is `docs/signaling.md`; the server logic lives in
//! `meshrtc_mesh::signaling`.

use std::net::SocketAddr;
use std::process::ExitCode;

use meshrtc_mesh::signaling::{self, RoomPasswords, RoomsConfig, ServerConfig};

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
    /// Open TCP connections over all clients; more are refused (HTTP 503).
    /// Keep it below the process's descriptor limit (`ulimit -n`).
    #[arg(long, value_name = "N", default_value_t = ServerConfig::default().max_connections)]
    max_connections: usize,
    /// Open TCP connections from one IP address (offices share one
    /// address behind NAT).
    #[arg(long, value_name = "N", default_value_t = ServerConfig::default().max_connections_per_ip)]
    max_connections_per_ip: usize,
    /// A password for every room: a join must carry it (`"password"`), or
    /// gets `bad-password`. A `--room-password` takes precedence for its
    /// room.
    #[arg(long, value_name = "SECRET")]
    password: Option<String>,
    /// A password for one room, as NAME=SECRET; repeatable.
    #[arg(long, value_name = "NAME=SECRET", value_parser = room_password)]
    room_password: Vec<(String, String)>,
}

fn room_password(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((room, secret)) if !room.is_empty() && !secret.is_empty() => {
            Ok((room.to_owned(), secret.to_owned()))
        }
        _ => Err("expected NAME=SECRET, both non-empty".to_owned()),
    }
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
    let protected = match (args.room_password.len(), args.password.is_some()) {
        (0, false) => None,
        (0, true) => Some("every room needs the password".to_owned()),
        (n, true) => Some(format!(
            "{n} room(s) have their own password, the rest the common one"
        )),
        (n, false) => Some(format!("{n} room(s) need a password")),
    };
    let config = ServerConfig {
        rooms: RoomsConfig {
            max_members: usize::from(args.max_members),
            passwords: RoomPasswords {
                all: args.password,
                rooms: args.room_password.into_iter().collect(),
            },
            ..RoomsConfig::default()
        },
        max_connections: args.max_connections,
        max_connections_per_ip: args.max_connections_per_ip,
        ..ServerConfig::default()
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("no local address: {e}"))?;
        eprintln!("meshrtc serve: listening on http://{addr} (ws://{addr}/ws)");
        if let Some(protected) = &protected {
            eprintln!("meshrtc serve: {protected}");
        }
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

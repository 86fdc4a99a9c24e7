//! `meshrtc serve`: the signaling server (HTTP and WebSocket on one port,
//! HTTPS and `wss://` with `--tls`) and the room page.
//! The protocol is `docs/signaling.md`; the server logic lives in
//! `meshrtc_mesh::signaling`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use meshrtc_mesh::signaling::tls::format_fingerprint;
use meshrtc_mesh::signaling::{
    self, IceServer, RoomPasswords, RoomsConfig, ServerConfig, ServerTls, TurnRest,
};

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
    /// Serve HTTPS and `wss://` (browsers give the camera only to a secure
    /// page): with `--cert`/`--key`, or a self-signed certificate made now
    /// for this machine's names and addresses, whose SHA-256 fingerprint is
    /// printed.
    #[arg(long)]
    tls: bool,
    /// The certificate chain (PEM) for `--tls`; with `--key`.
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<PathBuf>,
    /// The certificate's private key (PEM) for `--tls`; with `--cert`.
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// With `--tls`: write the certificate (PEM) to this file, for
    /// `meshrtc join --server-ca`.
    #[arg(long, value_name = "FILE", requires = "tls")]
    cert_out: Option<PathBuf>,
    /// Print no QR codes of the URLs.
    #[arg(long)]
    no_qr: bool,
    /// An ICE server for every member, sent in `welcome`
    /// (`stun:host[:port]`, `turn:host[:port]`); repeatable. Without any
    /// (nor `--stun`, `--turn-url`), Google's public STUN server
    /// ([`PUBLIC_STUN`]), so browsers behind NATs learn their public
    /// address; `--no-public-stun` leaves it out.
    #[arg(long, value_name = "URL", value_parser = ice_url)]
    ice_server: Vec<String>,
    /// Offer no ICE server by default (a LAN, or a machine without
    /// internet: host candidates connect).
    #[arg(long)]
    no_public_stun: bool,
    /// Also answer STUN Binding requests on this UDP port, on the listening
    /// address, and offer it to members as `stun:ADDRESS:PORT` for each
    /// address the room page is offered at.
    #[arg(long, value_name = "PORT")]
    stun: Option<u16>,
    /// A TURN server that shares `--turn-secret` with this server
    /// (`turn:HOST:PORT`, `turn:HOST:PORT?transport=tcp`, `turns:`);
    /// repeatable. Every member gets its own time-limited credentials for
    /// it in `welcome` (TURN REST: coturn's `use-auth-secret`).
    #[arg(long, value_name = "URL", value_parser = turn_url, requires = "turn_secret")]
    turn_url: Vec<String>,
    /// The secret shared with the TURN servers (coturn's
    /// `static-auth-secret`).
    #[arg(long, value_name = "SECRET", requires = "turn_url")]
    turn_secret: Option<String>,
    /// How long members' TURN credentials stay valid; they get fresh ones
    /// (an `ice-servers` message) half-way through.
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(10..))]
    turn_ttl: u64,
}

/// The ICE server `meshrtc serve` offers when given none: Google's public
/// STUN server, as the original call app used.
pub const PUBLIC_STUN: &str = "stun:stun.l.google.com:19302";

fn turn_url(arg: &str) -> Result<String, String> {
    match arg.split_once(':') {
        Some(("turn" | "turns", rest)) if !rest.is_empty() => Ok(arg.to_owned()),
        _ => Err("expected turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT]".to_owned()),
    }
}

fn ice_url(arg: &str) -> Result<String, String> {
    let scheme = arg.split_once(':').map(|(s, _)| s);
    match scheme {
        Some("stun" | "stuns" | "turn" | "turns") if arg.len() > 5 => Ok(arg.to_owned()),
        _ => Err("expected stun:HOST[:PORT], stuns:, turn: or turns: URL".to_owned()),
    }
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
    let tls = match tls_config(&args) {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("meshrtc serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    let https = tls.is_some();
    if let (Some(path), Some(tls)) = (&args.cert_out, &tls) {
        if let Err(e) = std::fs::write(path, tls.certificate_pem()) {
            eprintln!("meshrtc serve: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let mut ice_servers: Vec<IceServer> = args.ice_server.iter().map(IceServer::url).collect();
    if ice_servers.is_empty()
        && args.stun.is_none()
        && args.turn_url.is_empty()
        && !args.no_public_stun
    {
        ice_servers.push(IceServer::url(PUBLIC_STUN));
    }
    if let Some(port) = args.stun {
        match start_stun(args.listen, port) {
            Ok(urls) => ice_servers.extend(urls.into_iter().map(IceServer::url)),
            Err(e) => {
                eprintln!("meshrtc serve: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // Printed after the address (the first line, which scripts read).
    let ice_lines: Vec<String> = ice_servers
        .iter()
        .map(|server| {
            format!(
                "meshrtc serve: ICE server for members: {}",
                server.urls.join(" ")
            )
        })
        .collect();
    let turn_rest = args.turn_secret.as_ref().map(|secret| {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        eprintln!(
            "meshrtc serve: TURN for members, credentials valid {} s: {}",
            args.turn_ttl,
            args.turn_url.join(" ")
        );
        TurnRest::new(
            args.turn_url.clone(),
            secret.clone(),
            std::time::Duration::from_secs(args.turn_ttl),
            std::time::Instant::now(),
            unix,
        )
    });
    let fingerprint = tls.as_ref().map(|t| format_fingerprint(&t.fingerprint));
    let show_qr = !args.no_qr;
    let config = ServerConfig {
        tls,
        rooms: RoomsConfig {
            max_members: usize::from(args.max_members),
            passwords: RoomPasswords {
                all: args.password,
                rooms: args.room_password.into_iter().collect(),
            },
            ice_servers,
            turn_rest,
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
        let (http, ws) = if https {
            ("https", "wss")
        } else {
            ("http", "ws")
        };
        eprintln!("meshrtc serve: listening on {http}://{addr} ({ws}://{addr}/ws)");
        print_urls(addr, https, show_qr);
        if let Some(fp) = &fingerprint {
            eprintln!("meshrtc serve: certificate SHA-256 fingerprint {fp}");
            // On this machine, loopback reaches a server on every address.
            let here = if addr.ip().is_unspecified() {
                SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
            } else {
                addr
            };
            eprintln!(
                "meshrtc serve: a meshrtc member joins with --server {ws}://{here}/ws --server-fingerprint {fp}"
            );
        }
        if let Some(protected) = &protected {
            eprintln!("meshrtc serve: {protected}");
        }
        for line in &ice_lines {
            // Not `eprintln!`: a reader that kept only the first line
            // (and closed the pipe) must not end the server.
            let _ = writeln!(std::io::stderr(), "{line}");
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

/// The certificate `--tls` asks for: the files given, or one made now.
fn tls_config(args: &Args) -> Result<Option<ServerTls>, String> {
    if !args.tls {
        if args.cert.is_some() {
            return Err("--cert and --key go with --tls".into());
        }
        return Ok(None);
    }
    let tls = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => ServerTls::from_pem_files(cert, key),
        _ => crate::tls_setup::self_signed_for(&[args.listen.ip()]),
    };
    tls.map(Some).map_err(|e| e.to_string())
}

/// The room page's URLs, each with a QR code, on stdout (the addresses a
/// phone on the same network can use).
fn print_urls(addr: SocketAddr, https: bool, show_qr: bool) {
    let urls = crate::lan::room_urls(addr, https);
    println!("Open the room page at:");
    for url in &urls {
        println!("  {url}");
    }
    if !https
        && urls
            .iter()
            .any(|u| !u.contains("//127.") && !u.contains("//[::1]"))
    {
        println!(
            "  (from another machine a browser gives the camera only over HTTPS: start with --tls)"
        );
    }
    if !show_qr {
        return;
    }
    for url in urls
        .iter()
        .filter(|u| !u.contains("//127.") && !u.contains("//[::1]"))
    {
        if let Some(qr) = crate::lan::qr_for_terminal(url) {
            println!("\n{url}\n{qr}");
        }
    }
}

/// Binds the STUN port on the listening address and answers there in a
/// thread of its own; the `stun:` URLs members are offered, one per
/// address the page is offered at.
fn start_stun(listen: SocketAddr, port: u16) -> Result<Vec<String>, String> {
    let addr = SocketAddr::new(listen.ip(), port);
    let socket =
        std::net::UdpSocket::bind(addr).map_err(|e| format!("cannot bind STUN on {addr}: {e}"))?;
    let port = socket.local_addr().map_or(port, |a| a.port());
    eprintln!(
        "meshrtc serve: STUN on udp {}",
        SocketAddr::new(listen.ip(), port)
    );
    std::thread::spawn(move || {
        crate::stun_server::answer(&socket, std::time::Duration::ZERO, "meshrtc serve: STUN")
    });
    Ok(crate::lan::reachable_ips(listen)
        .into_iter()
        .map(|ip| format!("stun:{}", SocketAddr::new(ip, port)))
        .collect())
}

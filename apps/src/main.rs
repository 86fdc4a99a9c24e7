//! `meshrtc`: the command-line entry point.
//!
//! Subcommands today: `decode` (the packet inspector) and `stun-server`.
//! The copy-paste call, the signaling server, the mesh member and the demo
//! come with their issues.
#![forbid(unsafe_code)]

mod decode;
mod hexin;
mod stun_server;

use clap::{Parser, Subcommand};
use std::io::Read;
use std::process::ExitCode;

/// meshrtc: a WebRTC stack written from scratch, for mesh calls.
#[derive(Debug, Parser)]
#[command(name = "meshrtc", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode datagrams given in hex: classify each one by its first byte
    /// (RFC 7983) and print its structure.
    ///
    /// Each non-empty input line is one datagram; spaces and colons inside a
    /// line are ignored, and `#` starts a comment.
    Decode(DecodeArgs),
    /// Run a STUN binding server (RFC 8489): answers Binding requests with
    /// the address they came from, so clients learn their server-reflexive
    /// address. For tests and local setups; users default to Google's
    /// `stun:stun.l.google.com:19302`.
    StunServer(stun_server::Args),
}

#[derive(Debug, clap::Args)]
struct DecodeArgs {
    /// An ICE password (the receiving side's ice-pwd) to verify STUN
    /// MESSAGE-INTEGRITY with. Give it more than once for a capture with
    /// both directions: each message is checked against every password.
    #[arg(long, value_name = "PWD")]
    ice_pwd: Vec<String>,
    /// Print JSON (one object per datagram, one per line) instead of text.
    #[arg(long)]
    json: bool,
    /// The datagram in hex, or `-` to read lines of hex from stdin.
    #[arg(value_name = "HEX | -")]
    input: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Decode(args) => run_decode(args),
        Command::StunServer(args) => stun_server::run(args),
    }
}

fn run_decode(args: DecodeArgs) -> ExitCode {
    let text = if args.input == "-" {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("meshrtc decode: cannot read stdin: {e}");
            return ExitCode::FAILURE;
        }
        s
    } else {
        args.input.clone()
    };
    let datagrams = match hexin::parse_lines(&text) {
        Ok(d) if d.is_empty() => {
            eprintln!("meshrtc decode: no datagram in the input");
            return ExitCode::FAILURE;
        }
        Ok(d) => d,
        Err(e) => {
            eprintln!("meshrtc decode: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts = decode::Options::new(&args.ice_pwd);
    let mut failed = false;
    for (i, dgram) in datagrams.iter().enumerate() {
        let report = decode::decode(dgram, &opts);
        failed |= report.is_error();
        if args.json {
            println!("{}", report.to_json());
        } else {
            if datagrams.len() > 1 {
                println!("── datagram {} of {} ──", i + 1, datagrams.len());
            }
            print!("{}", report.to_text());
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

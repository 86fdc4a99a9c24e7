//! `meshrtc decode FILE.pcap|FILE.pcapng` (issue 21): every UDP datagram
//! of a capture through the packet inspector, with the keys the file
//! carries.
//!
//! Each direction of each 5-tuple (on each interface) gets its own decoder state (the DTLS
//! handshake reassembly, the SRTP replay window and rollover counter). Its
//! SRTP key comes from the `meshrtc-srtp` packet comments our captures
//! write ([`crate::capture::srtp_comment`]), the half of the keying
//! material that direction's sender protects with. For a connection
//! without such a comment, the keys are derived from the DTLS key log
//! (Decryption Secrets Blocks, or `--keylog`) and the hellos in the capture
//! ([`crate::capture::keylog_srtp`]). The DTLS records themselves are shown
//! as the single-datagram decoder shows them.

use std::collections::HashMap;
use std::fmt::Write;
use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::capture::dtls13_keys::{dtls13_keys, srtp_keys13, traffic_secrets, Dtls13Keys};
use crate::capture::dtls_keys::{dtls_keys, DtlsKeys};
use crate::capture::ipframe::{Datagram, FrameError};
use crate::capture::keylog_srtp::{master_secrets, HelloScan};
use crate::capture::read::{CaptureFile, Packet};
use crate::capture::srtp_comment::{self, ConnectionKeys};
use crate::decode::{self, Options, Report};
use crate::rtpview::ExtKind;

/// What the user gave besides the file.
pub struct CaptureOptions<'a> {
    /// ICE passwords for MESSAGE-INTEGRITY.
    pub ice_pwds: &'a [String],
    /// RTP header extension names.
    pub extmap: Vec<(u8, ExtKind)>,
    /// More NSS key log lines (`--keylog`).
    pub extra_key_log: Option<String>,
    /// JSON lines instead of text.
    pub json: bool,
}

/// What decoding a capture found, for the exit status and a summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Packets in the file.
    pub packets: usize,
    /// Packets that are not UDP over IP (or on a link type we do not know).
    pub not_udp: usize,
    /// Datagrams the inspector reported an error for.
    pub errors: usize,
    /// Connections whose SRTP keys the file carries.
    pub srtp_connections: usize,
    /// Key log lines (the file's and `--keylog`'s).
    pub key_log_lines: usize,
}

/// Decodes every packet of `file`, appending the output to `out`.
pub fn decode_capture(file: &CaptureFile, o: &CaptureOptions<'_>, out: &mut String) -> Summary {
    let all = connection_keys(file, o);
    let (keys, derived_count) = (&all.srtp, all.derived);
    // Our captures hold each line twice (where it came, and up front).
    let key_log_lines = file
        .key_log
        .lines()
        .chain(o.extra_key_log.as_deref().unwrap_or("").lines())
        .filter(|l| {
            // 1.2's master secret, or one of 1.3's traffic secrets.
            [
                "CLIENT_RANDOM ",
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET ",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET ",
                "CLIENT_TRAFFIC_SECRET_0 ",
                "SERVER_TRAFFIC_SECRET_0 ",
                "EXPORTER_SECRET ",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .collect::<std::collections::HashSet<_>>()
        .len();
    let mut summary = Summary {
        packets: file.packets.len(),
        srtp_connections: keys.len(),
        key_log_lines,
        ..Summary::default()
    };
    if !o.json {
        let _ = writeln!(
            out,
            "{} packets; {} DTLS key log line(s); SRTP keys for {} connection(s){}",
            file.packets.len(),
            key_log_lines,
            keys.len(),
            if derived_count > 0 {
                format!(" ({derived_count} derived from the key log and the hellos)")
            } else {
                String::new()
            }
        );
    }
    for_each_datagram(file, &all, o, |n, t, p, iface, dgram, report| {
        match (dgram, report) {
            (Ok(dgram), Some(report)) => {
                if report.is_error() {
                    summary.errors += 1;
                }
                if o.json {
                    let mut v = report.to_json();
                    if let Value::Object(m) = &mut v {
                        m.insert("packet".into(), json!(n + 1));
                        m.insert("time".into(), json!(t));
                        m.insert("src".into(), json!(dgram.src.to_string()));
                        m.insert("dst".into(), json!(dgram.dst.to_string()));
                        m.insert("direction".into(), json!(direction(p)));
                        m.insert("interface".into(), json!(iface));
                    }
                    let _ = writeln!(out, "{v}");
                } else {
                    let _ = writeln!(out, "{}", packet_heading(n, t, p, iface, dgram));
                    out.push_str(&report.to_text());
                }
            }
            (dgram, _) => {
                summary.not_udp += 1;
                let e = dgram.err().map(|e| e.to_string()).unwrap_or_default();
                if o.json {
                    let _ = writeln!(out, "{}", json!({"packet": n + 1, "time": t, "skipped": e}));
                } else {
                    let _ = writeln!(
                        out,
                        "── packet {} at {t:.6} s: not a UDP datagram ({e}) ──",
                        n + 1
                    );
                }
            }
        }
    });
    summary
}

/// The keys a capture's connections can be read with.
pub struct Keys {
    /// SRTP keys: those the comments carry, then those derived.
    pub srtp: Vec<ConnectionKeys>,
    /// How many of `srtp` were derived from the key log and the hellos.
    pub derived: usize,
    /// DTLS 1.2 record keys, from the key log and the hellos.
    pub dtls: Vec<DtlsKeys>,
    /// DTLS 1.3 record keys, from the key log's traffic secrets and the
    /// hellos.
    pub dtls13: Vec<Dtls13Keys>,
}

/// The keys of every connection in `file`: the SRTP keys its comments
/// carry, then those derived from the key log and the hellos for the
/// others, and the DTLS record keys.
pub fn connection_keys(file: &CaptureFile, o: &CaptureOptions<'_>) -> Keys {
    let mut keys: Vec<ConnectionKeys> = file
        .packets
        .iter()
        .flat_map(|p| p.comments.iter())
        .filter_map(|c| srtp_comment::parse(c))
        .collect();
    // Connections without a comment: keys derived from the key log and
    // the hellos in the capture.
    let mut scan = HelloScan::default();
    for p in &file.packets {
        if let Ok(d) = p.datagram() {
            scan.datagram(d.src, d.dst, d.payload);
        }
    }
    let mut key_log = file.key_log.clone();
    key_log.push_str(o.extra_key_log.as_deref().unwrap_or(""));
    let masters = master_secrets(&key_log);
    let dtls13 = dtls13_keys(&scan, &traffic_secrets(&key_log));
    // 1.3: the exporter secret and the profile in the server's
    // EncryptedExtensions.
    let derived13 = dtls13.iter().filter_map(|k| {
        let from_server = file
            .packets
            .iter()
            .filter_map(|p| p.datagram().ok())
            .filter(|d| (d.src, d.dst) == (k.server, k.client))
            .map(|d| d.payload);
        srtp_keys13(k, from_server)
    });
    let derived: Vec<ConnectionKeys> = scan
        .keys(&masters)
        .into_iter()
        .chain(derived13)
        .filter(|d| {
            !keys
                .iter()
                .any(|k| k.for_packet(d.local, d.remote).is_some())
        })
        .collect();
    let derived_count = derived.len();
    keys.extend(derived);
    Keys {
        srtp: keys,
        derived: derived_count,
        dtls: dtls_keys(&scan, &masters),
        dtls13,
    }
}

/// Runs every packet of `file` through the inspector, in file order, and
/// hands `f` its index, its time from the first packet (seconds), the
/// packet, its interface's name, its datagram (or why it is none) and the
/// report (`None` when it is not a UDP datagram).
///
/// Each direction of each 5-tuple on each interface gets its own decoder
/// state; a demo's capture holds each datagram twice (its sender's copy
/// and its receiver's), and one SRTP replay window would refuse the second.
pub fn for_each_datagram<'f>(
    file: &'f CaptureFile,
    keys: &Keys,
    o: &CaptureOptions<'_>,
    mut f: impl FnMut(
        usize,
        f64,
        &'f Packet,
        &'f str,
        Result<&Datagram<'f>, &FrameError>,
        Option<&Report>,
    ),
) {
    let first = file.packets.first().map(|p| p.time).unwrap_or((0, 0));
    let mut states: HashMap<(u32, SocketAddr, SocketAddr), Options> = HashMap::new();
    for (n, p) in file.packets.iter().enumerate() {
        let t = elapsed(first, p.time);
        let iface = file
            .interfaces
            .get(p.interface as usize)
            .map_or("", String::as_str);
        let dgram = match p.datagram() {
            Ok(d) => d,
            Err(e) => {
                f(n, t, p, iface, Err(&e), None);
                continue;
            }
        };
        let state = states
            .entry((p.interface, dgram.src, dgram.dst))
            .or_insert_with(|| {
                let srtp = keys
                    .srtp
                    .iter()
                    .find_map(|k| k.for_packet(dgram.src, dgram.dst))
                    .map(|k| meshrtc_srtp::Context::new(k, meshrtc_srtp::Config::default()));
                let dtls = keys
                    .dtls
                    .iter()
                    .find_map(|k| k.for_packet(dgram.src, dgram.dst));
                let dtls13 = keys
                    .dtls13
                    .iter()
                    .find_map(|k| k.for_packet(dgram.src, dgram.dst));
                Options::new(o.ice_pwds, srtp, o.extmap.clone())
                    .with_dtls(dtls)
                    .with_dtls13(dtls13)
            });
        let report = decode::decode(dgram.payload, state);
        f(n, t, p, iface, Ok(&dgram), Some(&report));
    }
}

/// The line above a packet's explanation: its number, time, interface,
/// direction and addresses.
pub fn packet_heading(n: usize, t: f64, p: &Packet, iface: &str, dgram: &Datagram<'_>) -> String {
    format!(
        "── packet {} at {t:.6} s{}{}: {} → {} ──",
        n + 1,
        if iface.is_empty() {
            String::new()
        } else {
            format!(" on {iface}")
        },
        match p.outbound {
            Some(true) => " (sent)",
            Some(false) => " (received)",
            None => "",
        },
        dgram.src,
        dgram.dst
    )
}

fn direction(p: &Packet) -> &'static str {
    match p.outbound {
        Some(true) => "sent",
        Some(false) => "received",
        None => "unknown",
    }
}

/// Seconds from `first` to `t` (negative when a capture goes back in time).
fn elapsed(first: (u64, u32), t: (u64, u32)) -> f64 {
    let a = first.0 as f64 + f64::from(first.1) / 1e9;
    let b = t.0 as f64 + f64::from(t.1) / 1e9;
    b - a
}

/// `meshrtc decode FILE`: reads the capture (and `--keylog`), prints every
/// datagram; fails when the file cannot be read or a datagram is broken.
pub fn run_file(
    path: &std::path::Path,
    keylog: Option<&std::path::Path>,
    ice_pwds: &[String],
    extmap: Vec<(u8, ExtKind)>,
    json: bool,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("meshrtc decode: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let file = match crate::capture::read::read(&bytes) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("meshrtc decode: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let extra_key_log = match keylog.map(std::fs::read_to_string) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("meshrtc decode: --keylog: {e}");
            return ExitCode::FAILURE;
        }
    };
    let o = CaptureOptions {
        ice_pwds,
        extmap,
        extra_key_log,
        json,
    };
    let mut out = String::new();
    let summary = decode_capture(&file, &o, &mut out);
    print!("{out}");
    if summary.errors > 0 {
        eprintln!(
            "meshrtc decode: {} of {} datagrams could not be decoded",
            summary.errors, summary.packets
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

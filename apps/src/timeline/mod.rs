//! `meshrtc timeline` (issue 21): a call drawn as one self-contained HTML
//! page from its captures (`--capture`) and traces (`--trace`).
//!
//! [`model`] reads the packets through the `decode` inspector and folds
//! them into a ladder of lanes and rows; [`trace`] reads the JSON-lines
//! traces; [`html`] writes the page.

pub mod html;
pub mod model;
pub mod trace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::decode_capture::CaptureOptions;

/// `meshrtc timeline`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Capture files (pcap or pcapng, as `--capture` writes them) and
    /// trace files (JSON lines, as `--trace` writes them), in any number
    /// and order; a file is a trace if it is not a capture. Two captures
    /// of one call (the offer's and the answer's) make one diagram: a
    /// datagram both hold is one arrow.
    #[arg(value_name = "FILE.pcapng | FILE.jsonl", required = true)]
    inputs: Vec<PathBuf>,
    /// Where to write the page (default: the first input with `.html`).
    #[arg(long, short, value_name = "FILE.html")]
    output: Option<PathBuf>,
    /// ICE passwords to check STUN integrity with (as `decode --ice-pwd`).
    #[arg(long, value_name = "PWD")]
    ice_pwd: Vec<String>,
    /// More NSS key log lines (as `decode --keylog`).
    #[arg(long, value_name = "FILE")]
    keylog: Option<PathBuf>,
}

/// Whether `bytes` start like a pcap or pcapng file.
fn is_capture(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(..4),
        Some([0x0a, 0x0d, 0x0d, 0x0a])
            | Some([0xd4, 0xc3, 0xb2, 0xa1])
            | Some([0xa1, 0xb2, 0xc3, 0xd4])
            | Some([0x4d, 0x3c, 0xb2, 0xa1])
            | Some([0xa1, 0xb2, 0x3c, 0x4d])
    )
}

/// Reads the inputs, draws the page and writes it.
pub fn run(a: Args) -> ExitCode {
    match build_page(&a) {
        Ok((path, summary)) => {
            eprintln!("meshrtc timeline: {} ({summary})", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("meshrtc timeline: {e}");
            ExitCode::FAILURE
        }
    }
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn build_page(a: &Args) -> Result<(PathBuf, String), String> {
    let mut captures = Vec::new();
    let mut records = Vec::new();
    let mut skipped = 0;
    for p in &a.inputs {
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if is_capture(&bytes) {
            let f =
                crate::capture::read::read(&bytes).map_err(|e| format!("{}: {e}", p.display()))?;
            captures.push((stem(p), f));
        } else {
            let text = String::from_utf8_lossy(&bytes);
            let (r, errors) = trace::parse(&text);
            if r.is_empty() && !errors.is_empty() {
                return Err(format!(
                    "{}: neither a capture nor a trace ({})",
                    p.display(),
                    errors[0]
                ));
            }
            for e in &errors {
                eprintln!("meshrtc timeline: {}: skipped {e}", p.display());
            }
            skipped += errors.len();
            records.extend(r);
        }
    }
    let extra_key_log = match &a.keylog {
        None => None,
        Some(k) => Some(std::fs::read_to_string(k).map_err(|e| format!("--keylog: {e}"))?),
    };
    let o = CaptureOptions {
        ice_pwds: &a.ice_pwd,
        extmap: Vec::new(),
        extra_key_log,
        json: false,
    };
    let tl = model::build(&captures, &records, &o);
    let title = a
        .inputs
        .iter()
        .map(|p| {
            p.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(", ");
    let page = html::render(&tl, &title);
    let out = a
        .output
        .clone()
        .unwrap_or_else(|| a.inputs[0].with_extension("html"));
    std::fs::write(&out, page).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok((
        out,
        format!(
            "{} packets, {} rows, {} lanes, {} trace events{}",
            tl.packets,
            tl.rows.len(),
            tl.lanes.len(),
            records.len(),
            if skipped > 0 {
                format!(", {skipped} trace lines skipped")
            } else {
                String::new()
            }
        ),
    ))
}

//! `--capture FILE.pcapng` (issue 21): every datagram a command sends and
//! receives, with its real addresses in IP/UDP framing, the DTLS key log in
//! a Decryption Secrets Block that Wireshark and tshark decrypt DTLS 1.2
//! with, and the SRTP keys in a packet comment `meshrtc decode` reads.
//!
//! The drivers hand datagrams and secrets to a
//! [`meshrtc_peer::tap::DatagramTap`]; each tap here is one pcapng
//! interface (one per member in the demo), all writing into one file.

pub mod dtls13_keys;
pub mod dtls_keys;
pub mod ipframe;
pub mod keylog_srtp;
pub mod pcapng;
pub mod read;
pub mod srtp_comment;

use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use meshrtc_peer::tap::{DatagramTap, TapDirection, TapSecret};

struct Inner {
    out: BufWriter<std::fs::File>,
    interfaces: u32,
    /// Comments for the next packet written (the SRTP keys).
    pending_comments: Vec<String>,
    /// Key log lines already written, in order (each connection reports
    /// its own once; a line twice would be harmless but noisy).
    lines: Vec<String>,
    /// Where the file is, to put the secrets up front when it is finished.
    path: PathBuf,
    /// After [`Capture::finish`]: late datagrams are not written.
    closed: bool,
    /// The first write error; later writes are skipped.
    error: Option<std::io::Error>,
    packets: u64,
}

impl Inner {
    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(bytes) {
                self.error = Some(e);
            }
        }
    }
}

/// One pcapng file being written.
pub struct Capture {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Capture")
    }
}

/// Microseconds since the Unix epoch, now.
fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Capture {
    /// Creates `path` and writes the section header.
    pub fn create(path: &Path) -> Result<Arc<Capture>, String> {
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut inner = Inner {
            out: BufWriter::new(file),
            interfaces: 0,
            pending_comments: Vec::new(),
            lines: Vec::new(),
            path: path.to_path_buf(),
            closed: false,
            error: None,
            packets: 0,
        };
        inner.write(&pcapng::section_header(concat!(
            "meshrtc ",
            env!("CARGO_PKG_VERSION")
        )));
        Ok(Arc::new(Capture {
            inner: Mutex::new(inner),
        }))
    }

    /// A new interface named `name` (an endpoint: `offer`, a member) and
    /// the tap that writes its datagrams.
    pub fn interface(self: &Arc<Self>, name: &str) -> Arc<dyn DatagramTap> {
        let id = match self.inner.lock() {
            Ok(mut i) => {
                i.write(&pcapng::interface(name));
                i.interfaces += 1;
                i.interfaces - 1
            }
            Err(_) => 0,
        };
        Arc::new(CaptureTap {
            capture: self.clone(),
            id,
        })
    }

    /// Ends the capture (later datagrams are not written) and returns the
    /// number of packets written, or the first write error.
    ///
    /// A key log line is known only once its handshake is over, after the
    /// packets it decrypts; Wireshark applies a Decryption Secrets Block
    /// to the packets after it, so the file is then rewritten with every
    /// line in one block right after the section header (the blocks where
    /// they came stay: a capture cut short still has them).
    pub fn finish(&self) -> Result<u64, String> {
        let mut i = self.inner.lock().map_err(|_| "capture lock poisoned")?;
        if i.closed {
            return Ok(i.packets);
        }
        i.closed = true;
        if let Some(e) = i.error.take() {
            return Err(e.to_string());
        }
        i.out.flush().map_err(|e| e.to_string())?;
        if !i.lines.is_empty() {
            let mut all = i.lines.join("\n");
            all.push('\n');
            secrets_first(&i.path, &pcapng::tls_key_log(&all))
                .map_err(|e| format!("{}: {e}", i.path.display()))?;
        }
        Ok(i.packets)
    }

    fn datagram(
        &self,
        id: u32,
        direction: TapDirection,
        src: SocketAddr,
        dst: SocketAddr,
        data: &[u8],
    ) {
        let framed = ipframe::frame(src, dst, data);
        let Ok(mut i) = self.inner.lock() else { return };
        if i.closed {
            return;
        }
        let comments = std::mem::take(&mut i.pending_comments);
        let block = pcapng::packet(
            id,
            now_micros(),
            direction == TapDirection::Sent,
            &framed,
            &comments,
        );
        i.write(&block);
        i.packets += 1;
    }

    fn secret(&self, s: TapSecret<'_>) {
        let Ok(mut i) = self.inner.lock() else { return };
        match s {
            TapSecret::KeyLog(line) => {
                let line = line.trim_end().to_string();
                if !i.closed && !i.lines.contains(&line) {
                    i.lines.push(line.clone());
                    i.write(&pcapng::tls_key_log(&format!("{line}\n")));
                    // Reaches the disk with the packets before it: a
                    // capture cut short still decrypts.
                    if let Err(e) = i.out.flush() {
                        i.error.get_or_insert(e);
                    }
                }
            }
            TapSecret::Srtp(k) => i.pending_comments.push(srtp_comment::format(k)),
        }
    }
}

/// Opens the capture `path` names (if any) with one interface `name`, and
/// sets `tap` to it.
pub fn attach(
    path: Option<&Path>,
    name: &str,
    tap: &mut Option<Arc<dyn DatagramTap>>,
) -> Result<Option<Arc<Capture>>, String> {
    let Some(path) = path else { return Ok(None) };
    let c = Capture::create(path)?;
    *tap = Some(c.interface(name));
    Ok(Some(c))
}

/// Flushes a capture [`attach`] opened and says how many packets it holds.
pub fn close(capture: Option<Arc<Capture>>, who: &str) -> Result<(), String> {
    if let Some(c) = capture {
        let n = c.finish().map_err(|e| format!("capture: {e}"))?;
        eprintln!("meshrtc {who}: capture: {n} packets written");
    }
    Ok(())
}

/// Rewrites the pcapng file at `path` with `dsb` right after its section
/// header (copied through a temporary file next to it, then renamed).
fn secrets_first(path: &Path, dsb: &[u8]) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut src = std::fs::File::open(path)?;
    let mut head = [0u8; 8];
    src.read_exact(&mut head)?;
    let shb_len = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    let mut shb = vec![0u8; shb_len as usize];
    src.seek(SeekFrom::Start(0))?;
    src.read_exact(&mut shb)?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut out = BufWriter::new(std::fs::File::create(&tmp)?);
        out.write_all(&shb)?;
        out.write_all(dsb)?;
        std::io::copy(&mut src, &mut out)?;
        out.flush()?;
    }
    std::fs::rename(&tmp, path)
}

/// One interface's tap.
#[derive(Debug)]
struct CaptureTap {
    capture: Arc<Capture>,
    id: u32,
}

impl DatagramTap for CaptureTap {
    fn datagram(&self, direction: TapDirection, src: SocketAddr, dst: SocketAddr, data: &[u8]) {
        self.capture.datagram(self.id, direction, src, dst, data);
    }

    fn secret(&self, secret: TapSecret<'_>) {
        self.capture.secret(secret);
    }
}

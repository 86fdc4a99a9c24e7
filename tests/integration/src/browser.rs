//! Headless Chromium for interop tests, driven over the DevTools protocol.
//!
//! - [`run_in_private_netns`] re-runs a test inside its own network
//!   namespace (`unshare -n`, loopback only), so no packet can leave the
//!   machine, as INTEROP.md requires. The browser, the page server and the
//!   meshrtc side all live in that namespace.
//! - [`Browser::launch`] starts Chromium with the flags INTEROP.md lists
//!   (fake media, loopback candidates, no mDNS hiding) and a fresh profile.
//! - [`Browser::eval`] runs JavaScript in the page and returns its value
//!   (`Runtime.evaluate` with `awaitPromise` and `returnByValue`).
//! - [`PageServer`] serves one HTML page on 127.0.0.1 (a secure context, so
//!   `getUserMedia` and `RTCPeerConnection` behave as on a real site).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable that marks the re-run inside the namespace.
const NETNS_ENV: &str = "MESHRTC_IN_PRIVATE_NETNS";

/// Returns `true` when the caller is already inside a private network
/// namespace and should run the test body. Otherwise re-runs this test
/// binary, filtered to `test_name` (its path as libtest lists it, e.g.
/// `ice_chromium::chromium_offers`), under `unshare -n` with loopback up,
/// panics if that run failed, and returns `false`: the caller returns.
pub fn run_in_private_netns(test_name: &str) -> bool {
    run_in_netns_holding(test_name, "--shared")
}

/// [`run_in_private_netns`] for a test that measures real time (frame
/// rates, jitter-buffer delay, set-up time over a shaped link): it waits
/// until no other namespaced test runs and keeps the others out while it
/// runs. Every namespaced test holds a shared `flock(1)` on
/// [`LIVE_TESTS_LOCK`] for its whole run and this one an exclusive lock, so
/// a browser launched by a neighbouring test cannot steal the CPU in the
/// middle of its measurement (two cores). Simulator tests, which use no
/// wall clock, still run beside it.
pub fn run_in_private_netns_alone(test_name: &str) -> bool {
    run_in_netns_holding(test_name, "--exclusive")
}

/// The lock file namespaced tests share (see [`run_in_private_netns_alone`]).
pub const LIVE_TESTS_LOCK: &str = "/tmp/meshrtc-live-tests.lock";

fn run_in_netns_holding(test_name: &str, lock_mode: &str) -> bool {
    if std::env::var_os(NETNS_ENV).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("test binary path");
    // As root, a plain network namespace; otherwise a user namespace too.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    let mut cmd = Command::new("flock");
    cmd.args([lock_mode, LIVE_TESTS_LOCK, "unshare"]);
    cmd.arg(if root { "-n" } else { "-rn" });
    cmd.args(["sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""]);
    cmd.arg(exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"]);
    cmd.env(NETNS_ENV, "1");
    let out = cmd
        .output()
        .expect("flock and unshare (util-linux) and ip (iproute2) must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The inner run's own summary stays out of this run's output (it would
    // count the test twice); its stderr (the test's notes) always shows.
    eprint!("{stderr}");
    if !out.status.success() {
        print!("{stdout}");
    }
    assert!(
        out.status.success(),
        "{test_name} failed inside the private network namespace"
    );
    assert!(
        stdout.contains("1 passed"),
        "{test_name} did not run inside the namespace (wrong test name?)"
    );
    false
}

/// How the test talks DevTools with the browser.
enum Devtools {
    /// The WebSocket of `--remote-debugging-port`.
    Port(Box<tungstenite::WebSocket<TcpStream>>),
    /// `--remote-debugging-pipe` (a browser in its own network namespace).
    Pipe(crate::devtools_pipe::DevtoolsPipe),
}

/// A running headless Chromium with one page attached over DevTools.
pub struct Browser {
    child: Child,
    profile: PathBuf,
    devtools: Devtools,
    next_id: u64,
    /// Chromium's version string.
    pub version: String,
}

/// Something went wrong with the browser.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// Chromium is not installed.
    #[error("chromium not found: install it with `scripts/setup` (Debian package `chromium`)")]
    NotInstalled,
    /// Firefox is not installed.
    #[error("firefox not found: install it with `scripts/setup` (Debian package `firefox-esr`)")]
    FirefoxNotInstalled,
    /// It did not open its DevTools port in time.
    #[error("chromium did not start: {0}")]
    Start(String),
    /// The DevTools protocol answered with an error.
    #[error("DevTools: {0}")]
    Protocol(String),
    /// The page's JavaScript threw.
    #[error("JavaScript exception: {0}")]
    Js(String),
    /// I/O.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

fn chromium_path() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Chromium's flags for the tests (INTEROP.md): headless, fake media,
/// loopback candidates, no mDNS hiding, DevTools on a port of 127.0.0.1.
const DEFAULT_FLAGS: [&str; 14] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
];

/// A fresh profile directory for one launch.
fn new_profile() -> Result<PathBuf, BrowserError> {
    static LAUNCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = LAUNCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let profile = std::env::temp_dir().join(format!("meshrtc-chromium-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&profile)?;
    Ok(profile)
}

/// A minimal HTTP GET on 127.0.0.1 (DevTools' JSON endpoints).
fn http_get(port: u16, path: &str) -> Result<String, BrowserError> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    // Chromium keeps the connection open: read the head, then exactly
    // Content-Length bytes.
    let mut reader = BufReader::new(s);
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Waits for Chromium's DevTools port and connects to its page target.
fn attach(
    child: &mut Child,
    profile: &std::path::Path,
) -> Result<(tungstenite::WebSocket<TcpStream>, String), BrowserError> {
    // Chromium writes the port it picked to DevToolsActivePort.
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(30);
    let port: u16 = loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Some(p) = text.lines().next().and_then(|l| l.trim().parse().ok()) {
                break p;
            }
        }
        if let Ok(Some(st)) = child.try_wait() {
            return Err(BrowserError::Start(format!("exited with {st}")));
        }
        if Instant::now() > deadline {
            return Err(BrowserError::Start(
                "no DevToolsActivePort after 30 s".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let version: Value = serde_json::from_str(&http_get(port, "/json/version")?)
        .map_err(|e| BrowserError::Protocol(e.to_string()))?;
    let targets: Value = serde_json::from_str(&http_get(port, "/json/list")?)
        .map_err(|e| BrowserError::Protocol(e.to_string()))?;
    let url = targets
        .as_array()
        .and_then(|a| a.iter().find(|t| t["type"] == "page"))
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .ok_or_else(|| BrowserError::Protocol("no page target".into()))?
        .to_string();
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let (ws, _) = tungstenite::client(url.as_str(), stream)
        .map_err(|e| BrowserError::Protocol(e.to_string()))?;
    Ok((ws, version["Browser"].as_str().unwrap_or("?").to_string()))
}

impl Browser {
    /// Starts Chromium (fresh profile, headless) and attaches to its page.
    pub fn launch() -> Result<Browser, BrowserError> {
        Browser::launch_with(&[])
    }

    /// [`Browser::launch`] with more command-line flags, such as
    /// `--ignore-certificate-errors-spki-list=<base64 SHA-256 of the SPKI>`
    /// to trust exactly one test certificate.
    pub fn launch_with(extra_flags: &[String]) -> Result<Browser, BrowserError> {
        Browser::launch_without(&[], extra_flags)
    }

    /// Chromium as a real user's browser hides its host addresses: without
    /// the flags that grant media permission and turn off mDNS hiding, its
    /// host candidates are random `<uuid>.local` names that its own mDNS
    /// responder answers for (draft-ietf-mmusic-mdns-ice-candidates).
    pub fn launch_hiding_host_addresses() -> Result<Browser, BrowserError> {
        Browser::launch_without(
            &[
                "--use-fake-ui-for-media-stream",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
            ],
            &[],
        )
    }

    /// [`Browser::launch_hiding_host_addresses`] in a network namespace of
    /// its own (`unshare -n`, loopback up, nothing else): the caller moves
    /// an interface into it ([`Browser::pid`] names it, e.g.
    /// `ip link add a type veth peer name b netns <pid>`) and configures it
    /// with `nsenter --net=/proc/<pid>/ns/net ip …`. DevTools goes over a
    /// pipe, which no namespace separates ([`crate::devtools_pipe`]).
    pub fn launch_hiding_host_addresses_in_own_netns() -> Result<Browser, BrowserError> {
        let exe = chromium_path().ok_or(BrowserError::NotInstalled)?;
        let profile = new_profile()?;
        let left_out = [
            "--use-fake-ui-for-media-stream",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
        ];
        // `unshare` execs the shell, which execs Chromium: one process id,
        // whose namespace is the browser's. The shell hands Chromium our
        // pipes as its descriptors 3 (commands) and 4 (answers).
        let mut child = Command::new("unshare")
            .args(["-n", "sh", "-c"])
            .arg("ip link set lo up && exec \"$0\" \"$@\" 3<&0 4>&1 </dev/null >/dev/null")
            .arg(exe)
            .args(DEFAULT_FLAGS.iter().filter(|f| !left_out.contains(f)))
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let (Some(commands), Some(answers)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(BrowserError::Start("no pipes".into()));
        };
        match crate::devtools_pipe::DevtoolsPipe::attach(commands, answers) {
            Ok((pipe, version)) => Ok(Browser {
                child,
                profile,
                devtools: Devtools::Pipe(pipe),
                next_id: 1,
                version,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&profile);
                Err(e)
            }
        }
    }

    /// The browser's process id (its network namespace is
    /// `/proc/<pid>/ns/net`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// [`Browser::launch_with`] leaving out some of the default flags.
    fn launch_without(left_out: &[&str], extra_flags: &[String]) -> Result<Browser, BrowserError> {
        let exe = chromium_path().ok_or(BrowserError::NotInstalled)?;
        let profile = new_profile()?;
        let child = Command::new(exe)
            .args(DEFAULT_FLAGS.iter().filter(|f| !left_out.contains(f)))
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra_flags)
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut child = child;
        match attach(&mut child, &profile) {
            Ok((ws, version)) => Ok(Browser {
                child,
                profile,
                devtools: Devtools::Port(Box::new(ws)),
                next_id: 1,
                version,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&profile);
                Err(e)
            }
        }
    }

    /// Sends a DevTools command and waits for its result (events that
    /// arrive meanwhile are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, BrowserError> {
        let ws = match &mut self.devtools {
            Devtools::Port(ws) => ws,
            Devtools::Pipe(pipe) => return pipe.call(method, params),
        };
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({ "id": id, "method": method, "params": params });
        ws.send(tungstenite::Message::text(msg.to_string()))
            .map_err(|e| BrowserError::Protocol(e.to_string()))?;
        loop {
            let m = ws
                .read()
                .map_err(|e| BrowserError::Protocol(e.to_string()))?;
            let tungstenite::Message::Text(t) = m else {
                continue;
            };
            let v: Value = serde_json::from_str(t.as_str())
                .map_err(|e| BrowserError::Protocol(e.to_string()))?;
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    return Err(BrowserError::Protocol(e.to_string()));
                }
                return Ok(v["result"].clone());
            }
        }
    }

    /// Loads `url` and waits until the page's `load` event.
    pub fn navigate(&mut self, url: &str) -> Result<(), BrowserError> {
        self.call("Page.navigate", json!({ "url": url }))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.eval("document.readyState")? == "complete" {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(BrowserError::Protocol(format!("{url} did not load")))
    }

    /// Sets the page's viewport (CSS pixels), as a phone (`mobile`: touch,
    /// device scale 3) or a desktop window.
    pub fn set_viewport(
        &mut self,
        width: u32,
        height: u32,
        mobile: bool,
    ) -> Result<(), BrowserError> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "mobile": mobile,
                    "deviceScaleFactor": if mobile { 3 } else { 1 } }),
        )?;
        Ok(())
    }

    /// A PNG of what the page shows now.
    pub fn screenshot(&mut self) -> Result<Vec<u8>, BrowserError> {
        let r = self.call("Page.captureScreenshot", json!({ "format": "png" }))?;
        let data = r["data"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol("no screenshot data".into()))?;
        base64_decode(data).ok_or_else(|| BrowserError::Protocol("screenshot is not base64".into()))
    }

    /// Evaluates `js` (an expression; a promise is awaited) in the page and
    /// returns its value as JSON.
    pub fn eval(&mut self, js: &str) -> Result<Value, BrowserError> {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": js, "awaitPromise": true, "returnByValue": true }),
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex["exception"]["description"]
                .as_str()
                .or(ex["text"].as_str())
                .unwrap_or("?")
                .to_string();
            return Err(BrowserError::Js(text));
        }
        Ok(r["result"]["value"].clone())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Serves one HTML page at every path of `http://127.0.0.1:<port>/`, until
/// dropped.
pub struct PageServer {
    /// The page's URL.
    pub url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PageServer {
    /// Starts serving `html`.
    pub fn start(html: &str) -> std::io::Result<PageServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}/", listener.local_addr()?);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let body = html.to_string();
        let thread = std::thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let _ = serve_one(s, &body);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(PageServer {
            url,
            stop,
            thread: Some(thread),
        })
    }
}

fn serve_one(s: TcpStream, body: &str) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    // Read the request head.
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let mut s = s;
    write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    )
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Standard base64 (RFC 4648 §4) to bytes; `None` on a character outside
/// the alphabet.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
    {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

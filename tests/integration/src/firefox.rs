//! Headless Firefox ESR for interop tests, driven over Marionette.
//!
//! - [`Firefox::launch`] starts `firefox-esr --headless --no-remote
//!   --marionette` with a fresh profile holding only `user.js`
//!   (`tests/integration/firefox/user.js`: loopback ICE candidates, fake
//!   camera and microphone granted without a prompt, no background
//!   networking; FIREFOX.md says why each WebRTC pref is needed) plus
//!   `marionette.port = 0`, so Firefox picks a free port and writes it to
//!   `MarionetteActivePort` in the profile.
//! - [`Firefox::eval`] runs JavaScript in the page and returns its value,
//!   with the meaning [`crate::browser::Browser::eval`] has for Chromium:
//!   the value of the last statement, a promise awaited.
//!
//! Like Chromium, it must run inside the test's private network namespace
//! ([`crate::browser::run_in_private_netns`]) with the page server and the
//! meshrtc side.
//!
//! Marionette's protocol: each message is `<length>:<JSON>`; the server
//! first sends `{"applicationType":"gecko","marionetteProtocol":3}`; a
//! command is `[0, id, name, params]` and its answer `[1, id, error,
//! result]`.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::browser::BrowserError;

/// The prefs every test profile gets (FIREFOX.md explains them).
const USER_JS: &str = include_str!("../firefox/user.js");

/// A running headless Firefox with a Marionette session on its one tab.
pub struct Firefox {
    child: Child,
    dir: PathBuf,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_id: u64,
    /// `Firefox <browserVersion>`, e.g. `Firefox 153.8.0`.
    pub version: String,
}

fn firefox_path() -> Option<PathBuf> {
    ["/usr/bin/firefox-esr", "/usr/bin/firefox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Waits for the port Firefox writes to `MarionetteActivePort`.
fn marionette_port(child: &mut Child, profile: &Path) -> Result<u16, BrowserError> {
    let file = profile.join("MarionetteActivePort");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Ok(p) = text.trim().parse() {
                return Ok(p);
            }
        }
        if let Ok(Some(st)) = child.try_wait() {
            return Err(BrowserError::Start(format!("firefox exited with {st}")));
        }
        if Instant::now() > deadline {
            return Err(BrowserError::Start(
                "no MarionetteActivePort after 30 s".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Makes the profile's NSS database and adds `pem` to it as a trust
/// anchor for TLS servers.
fn trust_certificate(profile: &Path, pem: &str) -> Result<(), BrowserError> {
    let file = profile.join("trusted-server.pem");
    std::fs::write(&file, pem)?;
    let db = format!("sql:{}", profile.display());
    let steps: [&[&str]; 2] = [
        &["-N", "--empty-password", "-d", &db],
        &[
            "-A",
            "-n",
            "meshrtc-test-server",
            "-t",
            "C,,",
            "-d",
            &db,
            "-i",
        ],
    ];
    for args in steps {
        let out = Command::new("certutil")
            .args(args)
            .args(if args[0] == "-A" { vec![&file] } else { vec![] })
            .output()
            .map_err(|e| {
                BrowserError::Start(format!("certutil (Debian package libnss3-tools): {e}"))
            })?;
        if !out.status.success() {
            return Err(BrowserError::Start(format!(
                "certutil {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
    }
    Ok(())
}

/// Reads one `<length>:<JSON>` message.
fn read_message(reader: &mut BufReader<TcpStream>) -> Result<Value, BrowserError> {
    let mut len = Vec::new();
    reader.read_until(b':', &mut len)?;
    let len: usize = std::str::from_utf8(&len)
        .ok()
        .and_then(|l| l.trim_end_matches(':').parse().ok())
        .ok_or_else(|| BrowserError::Protocol("bad Marionette message length".into()))?;
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(|e| BrowserError::Protocol(e.to_string()))
}

impl Firefox {
    /// Starts Firefox (fresh profile, headless) and opens a Marionette
    /// session.
    pub fn launch() -> Result<Firefox, BrowserError> {
        Firefox::launch_trusting(None)
    }

    /// [`Firefox::launch`] with one self-signed server certificate (PEM)
    /// trusted: it goes into the profile's NSS database as a trust anchor
    /// for TLS servers (`certutil -t C,,`, Debian's `libnss3-tools`). Being
    /// self-signed and not a CA, it anchors only itself, so Firefox accepts
    /// exactly that certificate, as Chromium's
    /// `--ignore-certificate-errors-spki-list` does; nothing else about
    /// certificate checks changes. (The trusted-peer flag `P` is not
    /// honoured by Firefox's verifier: the page fails with `nssBadCert`.)
    pub fn launch_trusting(certificate_pem: Option<&str>) -> Result<Firefox, BrowserError> {
        Firefox::launch_with(certificate_pem, "")
    }

    /// [`Firefox::launch`] with more `user_pref(...)` lines after the
    /// test profile's own, e.g. DTLS 1.3 only:
    /// `user_pref("media.peerconnection.dtls.version.min", 772);`.
    pub fn launch_with_prefs(extra_prefs: &str) -> Result<Firefox, BrowserError> {
        Firefox::launch_with(None, extra_prefs)
    }

    fn launch_with(
        certificate_pem: Option<&str>,
        extra_prefs: &str,
    ) -> Result<Firefox, BrowserError> {
        let exe = firefox_path().ok_or(BrowserError::FirefoxNotInstalled)?;
        static LAUNCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = LAUNCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("meshrtc-firefox-{}-{n}", std::process::id()));
        let profile = dir.join("profile");
        let home = dir.join("home");
        std::fs::create_dir_all(&profile)?;
        std::fs::create_dir_all(&home)?;
        std::fs::write(
            profile.join("user.js"),
            format!("{USER_JS}\nuser_pref(\"marionette.port\", 0);\n{extra_prefs}\n"),
        )?;
        if let Some(pem) = certificate_pem {
            trust_certificate(&profile, pem)?;
        }
        let mut child = Command::new(exe)
            .args(["--headless", "--no-remote", "--marionette", "--profile"])
            .arg(&profile)
            .arg("about:blank")
            .env("HOME", &home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let attached = (|| {
            let port = marionette_port(&mut child, &profile)?;
            let stream = TcpStream::connect(("127.0.0.1", port))?;
            stream.set_read_timeout(Some(Duration::from_secs(60)))?;
            let writer = stream.try_clone()?;
            let mut reader = BufReader::new(stream);
            let hello = read_message(&mut reader)?;
            if hello["marionetteProtocol"] != 3 {
                return Err(BrowserError::Protocol(format!("Marionette said {hello}")));
            }
            Ok((reader, writer))
        })();
        let (reader, writer) = match attached {
            Ok(rw) => rw,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let mut ff = Firefox {
            child,
            dir,
            reader,
            writer,
            next_id: 1,
            version: String::new(),
        };
        let session = ff.call("WebDriver:NewSession", json!({}))?;
        ff.version = format!(
            "Firefox {}",
            session["capabilities"]["browserVersion"]
                .as_str()
                .unwrap_or("?")
        );
        Ok(ff)
    }

    /// Sends a Marionette command and waits for its answer.
    pub fn call(&mut self, name: &str, params: Value) -> Result<Value, BrowserError> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!([0, id, name, params]).to_string();
        write!(self.writer, "{}:{msg}", msg.len())?;
        loop {
            let v = read_message(&mut self.reader)?;
            if v[0] != 1 || v[1] != id {
                continue;
            }
            if !v[2].is_null() {
                let e = &v[2];
                let text = e["message"].as_str().unwrap_or("?").to_string();
                return Err(if e["error"] == "javascript error" {
                    BrowserError::Js(text)
                } else {
                    BrowserError::Protocol(format!("{}: {text}", e["error"]))
                });
            }
            return Ok(v[3].clone());
        }
    }

    /// Loads `url` and waits until the page has loaded.
    pub fn navigate(&mut self, url: &str) -> Result<(), BrowserError> {
        self.call("WebDriver:Navigate", json!({ "url": url }))?;
        Ok(())
    }

    /// Evaluates `js` in the page's global scope and returns the value of
    /// its last statement as JSON (a promise is awaited), like Chromium's
    /// `Runtime.evaluate`.
    ///
    /// `WebDriver:ExecuteScript` runs a script as a function in a scope of
    /// its own: a bare global that a callback assigns (`gathered = true`)
    /// would land in that scope and never be seen by the next script.
    /// `window.eval` (an indirect eval) runs `js` in the page's real global
    /// instead, so our globals and the page's own (the room page's
    /// `roomStats`) are one, as in Chromium.
    pub fn eval(&mut self, js: &str) -> Result<Value, BrowserError> {
        let r = self.call(
            "WebDriver:ExecuteScript",
            json!({ "script": "return window.eval(arguments[0]);", "args": [js] }),
        )?;
        Ok(r["value"].clone())
    }
}

impl Drop for Firefox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

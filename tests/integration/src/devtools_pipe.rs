//! Chromium's DevTools protocol over a pipe (`--remote-debugging-pipe`)
//! instead of a TCP port, so that a browser in a network namespace of its
//! own (where the test's `127.0.0.1` is not its `127.0.0.1`) can still be
//! driven: Chromium reads commands from its file descriptor 3 and writes
//! answers and events to its descriptor 4, each message JSON ended by a
//! NUL byte. Commands go to the page through a flattened session
//! (`Target.attachToTarget` with `flatten`, then `sessionId` on each).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout};
use std::sync::mpsc;
use std::time::Duration;

use crate::browser::BrowserError;

/// The longest a command may take to answer (`Runtime.evaluate` of a
/// page's promise included).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// One DevTools connection over Chromium's pipe, attached to its page.
pub struct DevtoolsPipe {
    commands: ChildStdin,
    messages: mpsc::Receiver<Value>,
    next_id: u64,
    session: Option<String>,
}

impl DevtoolsPipe {
    /// Reads Chromium's messages from `answers` (its descriptor 4) in a
    /// thread, and attaches to its first page target. Returns the pipe and
    /// the browser's version string.
    pub fn attach(
        commands: ChildStdin,
        answers: ChildStdout,
    ) -> Result<(DevtoolsPipe, String), BrowserError> {
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(answers);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        let mut pipe = DevtoolsPipe {
            commands,
            messages,
            next_id: 1,
            session: None,
        };
        let version = pipe.call("Browser.getVersion", json!({}))?;
        let version = version["product"].as_str().unwrap_or("?").to_string();
        let targets = pipe.call("Target.getTargets", json!({}))?;
        let target = targets["targetInfos"]
            .as_array()
            .and_then(|a| a.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["targetId"].as_str())
            .ok_or_else(|| BrowserError::Protocol("no page target".into()))?
            .to_string();
        let attached = pipe.call(
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
        )?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol("no session".into()))?;
        pipe.session = Some(session.to_string());
        Ok((pipe, version))
    }

    /// Sends a command (to the page once attached) and waits for its
    /// result; events that arrive meanwhile are skipped.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, BrowserError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        self.commands.write_all(&bytes)?;
        self.commands.flush()?;
        loop {
            let v = self
                .messages
                .recv_timeout(ANSWER_TIMEOUT)
                .map_err(|e| BrowserError::Protocol(format!("no answer to {method}: {e}")))?;
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    return Err(BrowserError::Protocol(e.to_string()));
                }
                return Ok(v["result"].clone());
            }
        }
    }
}

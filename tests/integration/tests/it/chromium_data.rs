//! Data channels between our PeerConnection and headless Chromium (issue
//! 20), live, inside a private network namespace, in data-only sessions,
//! both offer directions (so both DTLS roles). Each side opens channels to
//! the other: messages of 0 B, 1 B, 64 KiB and 256 KiB and a text message
//! are echoed back and compared byte for byte, 10 MB go each way on a bulk
//! channel and their SHA-256 is compared with what the sender hashed, and
//! a channel closed on one side closes on the other, after which each
//! side opens a new channel and a message goes through it and back.
//! Firefox runs the same steps (`firefox_data`): the page and our side
//! are generic over [`JsPage`].

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use meshrtc_integration::browser::{run_in_private_netns, Browser, PageServer};
use meshrtc_integration::page::JsPage;
use meshrtc_peer::{
    ConnectionState, DataChannelId, DataChannelOptions, DataPayload, PeerConfig, PeerConnection,
    PeerEvent, SdpType,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Echo sizes, both ways.
const SIZES: [usize; 4] = [0, 1, 64 * 1024, 256 * 1024];
/// Bulk transfer, each way.
const BULK: usize = 10 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// The page: channel handlers, the sender of Chromium's echo and bulk
/// messages, and what it saw, in `window.r`.
pub(crate) const PAGE: &str = r#"<!doctype html><meta charset=utf-8><title>meshrtc data interop</title>
<script>
const SIZES = [0, 1, 65536, 262144];
const BULK = 10 * 1024 * 1024, CHUNK = 65536;
function pat(n, seed) { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = (i * 31 + seed) & 255; return a; }
function same(a, b) { if (a.length !== b.length) return false; for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false; return true; }
async function hex(buf) { const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf)); return Array.from(d).map(x => x.toString(16).padStart(2, '0')).join(''); }
window.r = { opened: [], closed: [], echoOk: [], bulkIn: 0, bulkHash: null, sentHash: null, bulkSentAt: null, bulkDoneAt: null };
window.pc = new RTCPeerConnection();
pc.ondatachannel = e => { hook(e.channel); r.opened.push(e.channel.label); };
const sent = [];
const bulkParts = [];
window.chans = {};
function hook(ch) {
  ch.binaryType = 'arraybuffer';
  chans[ch.label] = ch;
  ch.onclose = () => r.closed.push(ch.label);
  ch.onmessage = async ev => {
    if (ch.label === 'm2c' || ch.label === 'm2c-again') { ch.send(ev.data); return; }
    if (ch.label === 'c2m-again') { r.againEcho = ev.data; return; }
    if (ch.label === 'pr-m2c') { r.prIn++; return; }
    if (ch.label.startsWith('n')) { r.nIn.push(ev.data); return; }
    if (ch.label === 'c2m') {
      const i = r.echoOk.length;
      const got = typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data);
      r.echoOk.push(typeof got === 'string' ? got === sent[i] : same(got, sent[i]));
      return;
    }
    if (ch.label === 'bulk-m2c') {
      bulkParts.push(new Uint8Array(ev.data)); r.bulkIn += ev.data.byteLength;
      if (r.bulkIn === BULK) { const all = new Uint8Array(BULK); let o = 0;
        for (const p of bulkParts) { all.set(p, o); o += p.length; } r.bulkHash = await hex(all); }
    }
  };
}
// Close and reopen: a new channel after c2m closed.
function reopen() { const c = pc.createDataChannel('c2m-again'); hook(c);
  c.onopen = () => { r.opened.push('c2m-again'); c.send('again from the browser'); }; }
// Under loss (our driver drops SCTP packets): an unordered channel without
// retransmissions sends PR_COUNT messages, and 64 reliable channels open
// at once, each sending its name.
const PR_COUNT = 200;
function lossy() { r.prIn = 0; r.nIn = []; r.nOpen = 0;
  const pr = pc.createDataChannel('pr-c2m', { ordered: false, maxRetransmits: 0 }); hook(pr);
  pr.onopen = () => { for (let i = 0; i < PR_COUNT; i++) pr.send(pat(1000, i)); r.prSent = true; };
  for (let i = 0; i < 64; i++) { const c = pc.createDataChannel('n' + i); hook(c);
    c.onopen = () => { r.nOpen++; c.send('n' + i); }; } }
function openOurs() {
  const c = pc.createDataChannel('c2m'); hook(c);
  c.onopen = () => { r.opened.push('c2m');
    for (const n of SIZES) { const m = pat(n, n & 255); sent.push(m); c.send(m); }
    const t = 'héllo, meshrtc'; sent.push(t); c.send(t); };
  const b = pc.createDataChannel('bulk-c2m'); hook(b);
  b.bufferedAmountLowThreshold = 1 << 20;
  b.onopen = async () => { r.opened.push('bulk-c2m');
    const all = pat(BULK, 7); r.sentHash = await hex(all); r.bulkSentAt = performance.now(); let o = 0;
    const pump = () => { while (o < BULK && b.bufferedAmount < (4 << 20)) { b.send(all.subarray(o, o + CHUNK)); o += CHUNK; } };
    b.onbufferedamountlow = pump; pump(); };
}
// Chromium to Chromium in the same page, for comparison: BULK bytes on one
// ordered reliable channel; resolves to the milliseconds from the first
// send to the last byte received, -1 when it is not done in 20 s (a
// loaded machine: the DevTools call must not outlive its read timeout).
function c2c() { return Promise.race([c2cRun(), new Promise(res => setTimeout(() => res(-1), 20000))]); }
async function c2cRun() {
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = e => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = e => e.candidate && a.addIceCandidate(e.candidate);
  const ch = a.createDataChannel('c2c'); ch.binaryType = 'arraybuffer';
  const done = new Promise(res => { b.ondatachannel = e => { let n = 0;
    e.channel.onmessage = ev => { n += ev.data.byteLength; if (n === BULK) res(performance.now()); }; }; });
  await a.setLocalDescription(await a.createOffer()); await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer()); await a.setRemoteDescription(b.localDescription);
  await new Promise(res => ch.onopen = res);
  const all = pat(BULK, 3); let o = 0; const t0 = performance.now();
  ch.bufferedAmountLowThreshold = 1 << 20;
  const pump = () => { while (o < BULK && ch.bufferedAmount < (4 << 20)) { ch.send(all.subarray(o, o + CHUNK)); o += CHUNK; } };
  ch.onbufferedamountlow = pump; pump();
  // At most 15 s (a loaded machine): -1 then.
  const t1 = await Promise.race([done, new Promise(res => setTimeout(() => res(null), 15000))]);
  a.close(); b.close(); return t1 === null ? -1 : t1 - t0;
}
function gathered() { return new Promise(res => { const done = () => pc.iceGatheringState === 'complete';
  if (done()) res(pc.localDescription.sdp);
  pc.addEventListener('icegatheringstatechange', () => { if (done()) res(pc.localDescription.sdp); });
  setTimeout(() => res(pc.localDescription.sdp), 3000); }); }
</script>"#;

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn pattern(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 31 + seed) & 255) as u8).collect()
}

/// Our side on a UDP socket: echoes `c2m`, checks the echoes of `m2c`,
/// hashes `bulk-c2m` and sends `bulk-m2c`.
pub(crate) struct Ours {
    pub(crate) pc: PeerConnection,
    socket: UdpSocket,
    addr: SocketAddr,
    by_label: BTreeMap<String, DataChannelId>,
    label_of: BTreeMap<DataChannelId, String>,
    closed: Vec<String>,
    /// Echoes of what we sent on m2c, in order.
    echoes: Vec<DataPayload>,
    /// The echo on the channel opened after the close.
    again_echo: Option<DataPayload>,
    /// Messages on the unordered, unretransmitted channel under loss.
    pr_in: usize,
    /// Messages on the 64 channels opened at once under loss.
    n_in: Vec<DataPayload>,
    bulk_in: Sha256,
    bulk_in_len: usize,
    bulk_in_first: Option<Instant>,
    bulk_in_done: Option<Instant>,
    bulk_out: Vec<u8>,
    bulk_out_offset: usize,
    errors: Vec<String>,
}

impl Ours {
    fn new(seed: u64) -> Ours {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let mut pc =
            PeerConnection::new(PeerConfig::with_fixed_seed(seed), Instant::now()).unwrap();
        pc.add_local_address(addr);
        Ours {
            pc,
            socket,
            addr,
            by_label: BTreeMap::new(),
            label_of: BTreeMap::new(),
            closed: Vec::new(),
            echoes: Vec::new(),
            again_echo: None,
            pr_in: 0,
            n_in: Vec::new(),
            bulk_in: Sha256::new(),
            bulk_in_len: 0,
            bulk_in_first: None,
            bulk_in_done: None,
            bulk_out: pattern(BULK, 9),
            bulk_out_offset: 0,
            errors: Vec::new(),
        }
    }

    fn open(&mut self, label: &str) {
        let id = self
            .pc
            .create_data_channel(Instant::now(), label, DataChannelOptions::default())
            .unwrap();
        self.label_of.insert(id, label.to_string());
    }

    fn id(&self, label: &str) -> Option<DataChannelId> {
        self.by_label.get(label).copied()
    }

    /// Socket, timers, events for `ms` milliseconds.
    fn pump(&mut self, ms: u64) {
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_millis(ms);
        loop {
            while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
                let now = Instant::now();
                self.pc.handle_datagram(now, from, self.addr, &buf[..n]);
                self.flush();
                self.events(now);
            }
            let now = Instant::now();
            if self.pc.poll_timeout().is_some_and(|t| t <= now) {
                self.pc.handle_timeout(now);
            }
            self.feed_bulk(now);
            self.flush();
            self.events(now);
            if Instant::now() >= deadline {
                break;
            }
        }
    }

    fn flush(&mut self) {
        while let Some(t) = self.pc.poll_transmit() {
            let _ = self.socket.send_to(&t.payload, t.dst);
        }
    }

    fn feed_bulk(&mut self, now: Instant) {
        let Some(id) = self.id("bulk-m2c") else {
            return;
        };
        while self.bulk_out_offset < BULK && self.pc.buffered_amount(id) < 1 << 20 {
            let end = (self.bulk_out_offset + CHUNK).min(BULK);
            let chunk = DataPayload::Binary(self.bulk_out[self.bulk_out_offset..end].to_vec());
            if let Err(e) = self.pc.send_data(now, id, &chunk) {
                self.errors.push(e.to_string());
                return;
            }
            self.bulk_out_offset = end;
        }
    }

    fn events(&mut self, now: Instant) {
        while let Some(e) = self.pc.poll_event() {
            match e {
                PeerEvent::DataChannelOpen { id, label, .. } => {
                    self.label_of.insert(id, label.clone());
                    self.by_label.insert(label, id);
                }
                PeerEvent::DataChannelMessage { id, payload } => {
                    let label = self.label_of.get(&id).cloned().unwrap_or_default();
                    match label.as_str() {
                        "c2m" | "c2m-again" => {
                            if let Err(e) = self.pc.send_data(now, id, &payload) {
                                self.errors.push(format!("echo: {e}"));
                            }
                        }
                        "m2c" => self.echoes.push(payload),
                        "m2c-again" => self.again_echo = Some(payload),
                        "pr-c2m" => self.pr_in += 1,
                        n if n.starts_with('n') => {
                            if let Err(e) = self.pc.send_data(now, id, &payload) {
                                self.errors.push(format!("echo on {n}: {e}"));
                            }
                            self.n_in.push(payload);
                        }
                        "bulk-c2m" => {
                            if let DataPayload::Binary(b) = &payload {
                                self.bulk_in_first.get_or_insert(now);
                                self.bulk_in.update(b);
                                self.bulk_in_len += b.len();
                                if self.bulk_in_len == BULK {
                                    self.bulk_in_done = Some(now);
                                }
                            }
                        }
                        other => self.errors.push(format!("message on {other:?}")),
                    }
                }
                PeerEvent::DataChannelClosed { id } => {
                    if let Some(l) = self.label_of.get(&id) {
                        self.closed.push(l.clone());
                    }
                }
                PeerEvent::Closed(why) => self.errors.push(why),
                _ => {}
            }
        }
    }

    /// Sends the echo set on m2c.
    fn send_sizes(&mut self) {
        let id = self.id("m2c").expect("m2c open");
        for n in SIZES {
            self.pc
                .send_data(
                    Instant::now(),
                    id,
                    &DataPayload::Binary(pattern(n, n & 255)),
                )
                .unwrap();
        }
        self.pc
            .send_data(
                Instant::now(),
                id,
                &DataPayload::Text("héllo, chromium".into()),
            )
            .unwrap();
    }
}

fn eval<B: JsPage>(b: &mut B, ours: &mut Ours, js: &str) -> Value {
    let v = b.eval(js).unwrap();
    ours.pump(2);
    v
}

/// Pumps until `done` (checked every 50 ms) or panics after `secs`.
fn until<B: JsPage>(
    b: &mut B,
    ours: &mut Ours,
    secs: u64,
    what: &str,
    mut done: impl FnMut(&mut B, &mut Ours) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        ours.pump(50);
        if done(b, ours) {
            return;
        }
        let r = b.eval("JSON.stringify(r)").unwrap();
        assert!(
            Instant::now() < deadline,
            "{what}: not done after {secs} s; ours: open {:?}, closed {:?}, echoes {}, bulk in {}, out {}, errors {:?}; {}: {r}",
            ours.by_label.keys().collect::<Vec<_>>(),
            ours.closed,
            ours.echoes.len(),
            ours.bulk_in_len,
            ours.bulk_out_offset,
            ours.errors,
            b.version(),
        );
    }
}

fn run(chromium_offers: bool) {
    let started = Instant::now();
    let page = PageServer::start(PAGE).unwrap();
    let mut b = Browser::launch().unwrap();
    b.navigate(&page.url).unwrap();
    let ours = run_with(&mut b, chromium_offers, started);
    let role = if chromium_offers { "client" } else { "server" };
    assert_eq!(ours.pc.stats().dtls_role, Some(role));
    // The same transfer between two Chromium connections in the page (a
    // figure for BENCHMARKS.md; -1 when it took over 15 s).
    let c2c_ms = b.eval("c2c()").unwrap().as_f64().unwrap();
    eprintln!(
        "chromium_data ({}): Chromium to Chromium {c2c_ms:.0} ms; whole test {:?}",
        if chromium_offers {
            "Chromium offers"
        } else {
            "meshrtc offers"
        },
        started.elapsed(),
    );
}

/// The steps on a loaded page: negotiation (the browser offers, or we
/// do), echoes, 10 MB each way, close, reopen. Returns our side.
pub(crate) fn run_with<B: JsPage>(b: &mut B, chromium_offers: bool, started: Instant) -> Ours {
    let mut ours = Ours::new(if chromium_offers { 31 } else { 32 });
    ours.open("m2c");
    ours.open("bulk-m2c");
    let now = Instant::now();
    if chromium_offers {
        // A data-only offer: Chromium's channels exist before it.
        let offer = eval(
            b,
            &mut ours,
            "(async () => { openOurs(); await pc.setLocalDescription(await pc.createOffer()); return await gathered(); })()",
        );
        let offer = offer.as_str().unwrap().to_string();
        assert!(offer.contains("m=application"), "{offer}");
        assert!(!offer.contains("m=audio") && !offer.contains("m=video"));
        ours.pc
            .set_remote_description(now, SdpType::Offer, &offer)
            .unwrap();
        let answer = ours.pc.create_answer(now).unwrap();
        assert!(answer.contains("a=setup:active"), "{answer}");
        eval(
            b,
            &mut ours,
            &format!(
                "pc.setRemoteDescription({{type: 'answer', sdp: {}}}).then(() => true)",
                js(&answer)
            ),
        );
    } else {
        let offer = ours.pc.create_offer(now).unwrap();
        assert!(offer.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel"));
        let answer = eval(
            b,
            &mut ours,
            &format!(
                "(async () => {{ await pc.setRemoteDescription({{type: 'offer', sdp: {}}}); \
                 await pc.setLocalDescription(await pc.createAnswer()); openOurs(); return await gathered(); }})()",
                js(&offer)
            ),
        );
        let answer = answer.as_str().unwrap().to_string();
        assert!(answer.contains("a=setup:active"), "{answer}");
        assert!(answer.contains("a=max-message-size:"), "{answer}");
        ours.pc
            .set_remote_description(Instant::now(), SdpType::Answer, &answer)
            .unwrap();
    }
    until(b, &mut ours, 20, "connected", |b, o| {
        o.pc.state() == ConnectionState::Connected
            && b.eval("pc.connectionState").unwrap() == "connected"
    });
    let role = ours.pc.stats().dtls_role.unwrap();
    let connected_in = started.elapsed();
    assert_eq!(role, if chromium_offers { "client" } else { "server" });
    // Every channel open on both sides.
    until(b, &mut ours, 10, "channels open", |b, o| {
        let opened = b.eval("r.opened.length").unwrap();
        o.by_label.len() == 4 && opened == 4
    });
    ours.send_sizes();
    let connected_at = Instant::now();
    // 10 s is plenty alone; other tests may share the two cores.
    until(b, &mut ours, 60, "echoes and bulk", |b, o| {
        let theirs = b
            .eval("r.echoOk.length === 5 && r.bulkHash !== null")
            .unwrap();
        o.echoes.len() == 5 && o.bulk_in_done.is_some() && theirs == true
    });
    // The echoes of what we sent, byte for byte.
    let mut want: Vec<DataPayload> = SIZES
        .iter()
        .map(|&n| DataPayload::Binary(pattern(n, n & 255)))
        .collect();
    want.push(DataPayload::Text("héllo, chromium".into()));
    assert_eq!(ours.echoes, want);
    // Chromium's checks of our echoes of its messages.
    assert_eq!(
        b.eval("r.echoOk").unwrap(),
        serde_json::json!([true, true, true, true, true])
    );
    // 10 MB each way, hashed on both ends.
    let sent_hash = b.eval("r.sentHash").unwrap();
    let got = hex(&ours.bulk_in.clone().finalize());
    assert_eq!(Value::String(got), sent_hash, "browser -> meshrtc bulk");
    let theirs = b.eval("r.bulkHash").unwrap();
    assert_eq!(
        Value::String(hex(&Sha256::digest(&ours.bulk_out))),
        theirs,
        "meshrtc -> browser bulk"
    );
    let bulk_in_time = ours.bulk_in_done.unwrap() - ours.bulk_in_first.unwrap();
    // Close: ours closes m2c, Chromium closes c2m; each side sees both.
    let m2c = ours.id("m2c").unwrap();
    ours.pc.close_data_channel(Instant::now(), m2c).unwrap();
    eval(
        b,
        &mut ours,
        "(() => { chans['c2m'].close(); return true; })()",
    );
    until(b, &mut ours, 10, "m2c and c2m closed", |b, o| {
        let theirs = b
            .eval("r.closed.includes('m2c') && r.closed.includes('c2m')")
            .unwrap();
        o.closed.iter().any(|l| l == "m2c") && o.closed.iter().any(|l| l == "c2m") && theirs == true
    });
    // Reopen: a new channel each way after the close, a message through
    // each and back.
    ours.open("m2c-again");
    eval(b, &mut ours, "(() => { reopen(); return true; })()");
    until(b, &mut ours, 10, "reopened", |b, o| {
        let theirs = b.eval("r.opened.includes('c2m-again')").unwrap();
        o.id("m2c-again").is_some() && o.id("c2m-again").is_some() && theirs == true
    });
    let again = ours.id("m2c-again").unwrap();
    let hello = DataPayload::Text("again from meshrtc".into());
    ours.pc.send_data(Instant::now(), again, &hello).unwrap();
    until(
        b,
        &mut ours,
        10,
        "messages on the reopened channels",
        |b, o| {
            let theirs = b.eval("r.againEcho === 'again from the browser'").unwrap();
            o.again_echo.is_some() && theirs == true
        },
    );
    assert_eq!(ours.again_echo.as_ref(), Some(&hello));
    lossy_phase(b, &mut ours);
    // The per-channel stats saw the bulk channel's 10 MB each way.
    let stats = ours.pc.stats().data_channels;
    let bulk_out = stats.iter().find(|c| c.label == "bulk-m2c").unwrap();
    assert_eq!(bulk_out.bytes_sent, BULK as u64);
    let bulk_in = stats.iter().find(|c| c.label == "bulk-c2m").unwrap();
    assert_eq!(bulk_in.bytes_received, BULK as u64);
    assert!(ours.errors.is_empty(), "{:?}", ours.errors);
    let ua = b.eval("navigator.userAgent").unwrap();
    // Which SCTP stack: dcsctp offers zero checksum (RFC 9653), usrsctp
    // cannot.
    let (forward_tsn, reconfig, zero_checksum) = ours
        .pc
        .sctp_association()
        .and_then(|a| a.peer_features())
        .unwrap();
    assert!(
        forward_tsn && reconfig,
        "the browser announces FORWARD-TSN and RE-CONFIG"
    );
    let init = ours.pc.sctp_association().and_then(|a| a.peer_init());
    eprintln!(
        "data channels with {} ({}): DTLS {role}, connected in {connected_in:?}; its INIT: {init:?}; zero checksum: {zero_checksum}; echoes + 2 x 10 MB in {:?}; 10 MB to us in {:?}; steps done in {:?}; {ua}",
        b.version(),
        if chromium_offers { "browser offers" } else { "meshrtc offers" },
        connected_at.elapsed(),
        bulk_in_time,
        started.elapsed(),
    );
    ours
}

/// Messages each way on the unordered channel without retransmissions.
const PR_COUNT: usize = 200;

/// Loss from our driver's test hook (every 4th SCTP packet each way): an
/// unordered channel with `maxRetransmits: 0` opened each way loses some
/// messages and delivers the rest, and 64 reliable channels the browser
/// opens at once all open and carry their message (echoed back) despite it.
fn lossy_phase<B: JsPage>(b: &mut B, ours: &mut Ours) {
    ours.pc.set_sctp_test_drop(4, 4);
    let id = ours
        .pc
        .create_data_channel(
            Instant::now(),
            "pr-m2c",
            DataChannelOptions {
                ordered: false,
                max_retransmits: Some(0),
                ..DataChannelOptions::default()
            },
        )
        .unwrap();
    ours.label_of.insert(id, "pr-m2c".into());
    eval(b, ours, "(() => { lossy(); return true; })()");
    until(b, ours, 30, "pr-m2c open", |_, o| o.id("pr-m2c").is_some());
    for i in 0..PR_COUNT {
        ours.pc
            .send_data(Instant::now(), id, &DataPayload::Binary(pattern(1000, i)))
            .unwrap();
    }
    until(b, ours, 30, "64 channels under loss", |b, o| {
        let theirs = b.eval("r.nIn.length === 64 && r.prSent === true").unwrap();
        o.n_in.len() == 64 && theirs == true
    });
    // What is lost stays lost; give the rest time to arrive.
    ours.pump(1000);
    let theirs_in = b.eval("r.prIn").unwrap().as_u64().unwrap() as usize;
    eprintln!(
        "under loss ({} SCTP packets dropped by us): unordered maxRetransmits 0: {} of {PR_COUNT} to us, {theirs_in} of {PR_COUNT} to the browser",
        ours.pc.sctp_test_dropped(),
        ours.pr_in
    );
    assert!(ours.pr_in > 0 && ours.pr_in < PR_COUNT, "{}", ours.pr_in);
    assert!(theirs_in > 0 && theirs_in < PR_COUNT, "{theirs_in}");
    let mut names: Vec<String> = ours
        .n_in
        .iter()
        .map(|p| match p {
            DataPayload::Text(t) => t.clone(),
            DataPayload::Binary(_) => "binary".into(),
        })
        .collect();
    names.sort();
    let mut want: Vec<String> = (0..64).map(|i| format!("n{i}")).collect();
    want.sort();
    assert_eq!(names, want);
    let echoed = b.eval("JSON.stringify(r.nIn.slice().sort())").unwrap();
    assert_eq!(echoed, Value::String(serde_json::to_string(&want).unwrap()));
    ours.pc.set_sctp_test_drop(0, 0);
    assert!(ours.errors.is_empty(), "{:?}", ours.errors);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn chromium_offers_data_only_and_channels_work_both_ways() {
    if !run_in_private_netns("chromium_data::chromium_offers_data_only_and_channels_work_both_ways")
    {
        return;
    }
    run(true);
}

#[test]
fn meshrtc_offers_data_only_and_channels_work_both_ways() {
    if !run_in_private_netns("chromium_data::meshrtc_offers_data_only_and_channels_work_both_ways")
    {
        return;
    }
    run(false);
}

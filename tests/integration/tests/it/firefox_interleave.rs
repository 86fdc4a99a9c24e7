//! Message interleaving (RFC 8260 I-DATA) with headless Firefox ESR, live,
//! in a private network namespace (issue 20). Firefox's usrsctp offers
//! I-DATA, so our association uses it: the test asserts it was negotiated
//! and that I-DATA chunks arrived from Firefox. Then we send a 1 MiB
//! message on one channel and, right after, 10 bytes on another; the page
//! records the order in which they arrive, and the small one must come
//! first (with DATA it would wait for all 1 MiB, RFC 9260 §6.9). The page
//! sends 256 KiB (our max-message-size) and 10 bytes towards us and the test prints the order we saw (what
//! usrsctp's stream scheduler does is its own choice).

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use meshrtc_integration::browser::{run_in_private_netns, PageServer};
use meshrtc_integration::firefox::Firefox;
use meshrtc_integration::page::JsPage;
use meshrtc_peer::{
    ConnectionState, DataChannelId, DataChannelOptions, DataPayload, PeerConfig, PeerConnection,
    PeerEvent, SdpType,
};
use serde_json::Value;

const LARGE: usize = 1024 * 1024;

/// The page: records which channel each message arrived on, in order,
/// with its size; `large_then_small()` sends 256 KiB (our
/// `a=max-message-size`) and then 10 bytes towards us.
const PAGE: &str = r#"<!doctype html><meta charset=utf-8><title>meshrtc interleaving</title>
<script>
window.r = { opened: [], order: [] };
window.pc = new RTCPeerConnection();
window.chans = {};
pc.ondatachannel = e => { const ch = e.channel; ch.binaryType = 'arraybuffer'; chans[ch.label] = ch;
  r.opened.push(ch.label);
  ch.onmessage = ev => r.order.push([ch.label, ev.data.byteLength]); };
function large_then_small() {
  chans['large'].send(new Uint8Array(262144).fill(7));
  chans['small'].send(new Uint8Array(10).fill(1));
  return true;
}
function gathered() { return new Promise(res => { const done = () => pc.iceGatheringState === 'complete';
  if (done()) res(pc.localDescription.sdp);
  pc.addEventListener('icegatheringstatechange', () => { if (done()) res(pc.localDescription.sdp); });
  setTimeout(() => res(pc.localDescription.sdp), 3000); }); }
</script>"#;

struct Side {
    pc: PeerConnection,
    socket: UdpSocket,
    addr: SocketAddr,
    channels: Vec<(DataChannelId, String)>,
    /// (label, bytes) of each message from the browser, in arrival order.
    order: Vec<(String, usize)>,
}

impl Side {
    fn new() -> Side {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let mut pc = PeerConnection::new(PeerConfig::with_fixed_seed(61), Instant::now()).unwrap();
        pc.add_local_address(addr);
        Side {
            pc,
            socket,
            addr,
            channels: Vec::new(),
            order: Vec::new(),
        }
    }

    fn open(&mut self, label: &str) -> DataChannelId {
        let id = self
            .pc
            .create_data_channel(Instant::now(), label, DataChannelOptions::default())
            .unwrap();
        self.channels.push((id, label.to_string()));
        id
    }

    fn pump(&mut self, ms: u64) {
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_millis(ms);
        loop {
            while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
                self.pc
                    .handle_datagram(Instant::now(), from, self.addr, &buf[..n]);
                self.flush();
            }
            let now = Instant::now();
            if self.pc.poll_timeout().is_some_and(|t| t <= now) {
                self.pc.handle_timeout(now);
            }
            self.flush();
            if Instant::now() >= deadline {
                return;
            }
        }
    }

    fn flush(&mut self) {
        while let Some(t) = self.pc.poll_transmit() {
            let _ = self.socket.send_to(&t.payload, t.dst);
        }
        while let Some(e) = self.pc.poll_event() {
            if let PeerEvent::DataChannelMessage { id, payload } = e {
                let label = self
                    .channels
                    .iter()
                    .find(|c| c.0 == id)
                    .map_or("?".to_string(), |c| c.1.clone());
                let n = match payload {
                    DataPayload::Binary(b) => b.len(),
                    DataPayload::Text(t) => t.len(),
                };
                self.order.push((label, n));
            }
        }
    }

    fn until(
        &mut self,
        b: &mut Firefox,
        secs: u64,
        what: &str,
        mut done: impl FnMut(&mut Firefox, &mut Side) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            self.pump(20);
            if done(b, self) {
                return;
            }
            let r = b.eval("JSON.stringify(r)").unwrap();
            assert!(
                Instant::now() < deadline,
                "{what}: not done after {secs} s; page {r}; ours {:?}",
                self.order
            );
        }
    }
}

#[test]
fn firefox_negotiates_i_data_and_a_small_message_overtakes_a_large_one() {
    if !run_in_private_netns(
        "firefox_interleave::firefox_negotiates_i_data_and_a_small_message_overtakes_a_large_one",
    ) {
        return;
    }
    let started = Instant::now();
    let page = PageServer::start(PAGE).unwrap();
    let mut b = Firefox::launch().unwrap();
    b.navigate(&page.url).unwrap();
    let mut ours = Side::new();
    let large = ours.open("large");
    let small = ours.open("small");
    let offer = ours.pc.create_offer(Instant::now()).unwrap();
    let answer = b
        .eval(&format!(
            "(async () => {{ await pc.setRemoteDescription({{type: 'offer', sdp: {}}}); \
             await pc.setLocalDescription(await pc.createAnswer()); return await gathered(); }})()",
            serde_json::to_string(&offer).unwrap()
        ))
        .unwrap();
    let answer = answer.as_str().unwrap().to_string();
    ours.pc
        .set_remote_description(Instant::now(), SdpType::Answer, &answer)
        .unwrap();
    ours.until(&mut b, 20, "connected and both channels open", |b, o| {
        o.pc.state() == ConnectionState::Connected && b.eval("r.opened.length").unwrap() == 2
    });
    // Firefox's usrsctp offered I-DATA and we use it.
    let assoc = ours.pc.sctp_association().unwrap();
    assert!(
        assoc.peer_init().is_some_and(|i| i.i_data),
        "{:?}",
        assoc.peer_init()
    );
    assert!(assoc.interleaving());
    // Ours towards the browser: 1 MiB on `large`, then 10 bytes on `small`.
    let now = Instant::now();
    ours.pc
        .send_data(now, large, &DataPayload::Binary(vec![3; LARGE]))
        .unwrap();
    ours.pc
        .send_data(now, small, &DataPayload::Binary(vec![4; 10]))
        .unwrap();
    ours.until(&mut b, 20, "both messages at the browser", |b, _| {
        b.eval("r.order.length").unwrap() == 2
    });
    let order = b.eval("r.order").unwrap();
    assert_eq!(
        order,
        serde_json::json!([["small", 10], ["large", LARGE]]),
        "the small message arrives before the large one ends"
    );
    // The browser's pair towards us: printed, not asserted (usrsctp's
    // scheduler decides).
    assert_eq!(b.eval("large_then_small()").unwrap(), Value::Bool(true));
    ours.until(&mut b, 20, "both messages at meshrtc", |_, o| {
        o.order.len() == 2
    });
    let stats = ours.pc.stats();
    let sctp = stats.sctp.clone().unwrap();
    assert!(sctp.interleaving, "{sctp:?}");
    assert!(sctp.i_data_chunks_received > 0, "{sctp:?}");
    assert!(sctp.i_data_chunks_sent > LARGE as u64 / 1200, "{sctp:?}");
    assert_eq!(sctp.protocol_violations, 0);
    eprintln!(
        "firefox_interleave: I-DATA negotiated with {}; to the browser: {order}; from it: {:?}; I-DATA chunks in {}, out {}; {:?}",
        b.version(),
        ours.order,
        sctp.i_data_chunks_received,
        sctp.i_data_chunks_sent,
        started.elapsed()
    );
}

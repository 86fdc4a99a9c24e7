//! Interop with usrsctp, the SCTP stack inside Chromium and Firefox
//! (Debian `libusrsctp-dev`, installed by `scripts/setup`). A small C
//! program (`tests/usrsctp/peer.c`) runs usrsctp over AF_CONN and speaks
//! framed packets and commands on stdin/stdout; these tests relay its
//! packets to and from our association in real time (usrsctp keeps its own
//! clock), with optional seeded loss.
#![allow(missing_docs)]

mod pair;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use meshrtc_sctp::{Association, CloseReason, Event, Reliability};
use pair::{config, TestRng};

/// Builds the peer once per test binary.
fn peer_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/usrsctp/peer.c");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("usrsctp_peer");
        let flags = Command::new("pkg-config")
            .args(["--cflags", "--libs", "usrsctp"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .expect("usrsctp not found: install libusrsctp-dev (scripts/setup)");
        let flags = String::from_utf8(flags.stdout).expect("pkg-config output");
        let status = Command::new("cc")
            .arg("-O1")
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .args(flags.split_whitespace())
            .arg("-lpthread")
            .status()
            .expect("a C compiler (cc)");
        assert!(status.success(), "compiling {src:?} failed");
        out
    })
    .clone()
}

struct Usrsctp {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<(u8, Vec<u8>)>,
}

impl Usrsctp {
    /// `idata`: usrsctp offers I-DATA (RFC 8260), as in Firefox.
    fn spawn(idata: bool) -> Usrsctp {
        let mut child = Command::new(peer_binary())
            .args(idata.then_some("idata"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("usrsctp peer starts");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut hdr = [0u8; 5];
            if stdout.read_exact(&mut hdr).is_err() {
                return;
            }
            let n = u32::from_be_bytes([hdr[1], hdr[2], hdr[3], hdr[4]]) as usize;
            let mut body = vec![0u8; n];
            if stdout.read_exact(&mut body).is_err() || tx.send((hdr[0], body)).is_err() {
                return;
            }
        });
        Usrsctp { child, stdin, rx }
    }

    fn frame(&mut self, ty: u8, payload: &[u8]) {
        let mut f = vec![ty];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        self.stdin.write_all(&f).expect("peer alive");
        self.stdin.flush().expect("peer alive");
    }

    fn send(&mut self, sid: u16, ppid: u32, unordered: bool, data: &[u8]) {
        let mut p = sid.to_be_bytes().to_vec();
        p.extend_from_slice(&ppid.to_be_bytes());
        p.push(unordered as u8);
        p.extend_from_slice(data);
        self.frame(b'S', &p);
    }
}

impl Drop for Usrsctp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our association and the usrsctp peer, relayed in real time.
struct Interop {
    us: Association,
    them: Usrsctp,
    rng: TestRng,
    loss: f64,
    events: Vec<Event>,
    /// Frames from usrsctp other than packets: (type, payload).
    frames: Vec<(u8, Vec<u8>)>,
}

impl Interop {
    fn new(loss: f64, seed: u64) -> Interop {
        Interop::with_idata(loss, seed, false)
    }

    fn with_idata(loss: f64, seed: u64, idata: bool) -> Interop {
        let mut i = Interop {
            us: Association::new(config(9)),
            them: Usrsctp::spawn(idata),
            rng: TestRng::new(seed),
            loss,
            events: Vec::new(),
            frames: Vec::new(),
        };
        i.us.connect(Instant::now());
        assert!(
            i.run(Duration::from_secs(20), |i| i.us.is_established()
                && i.has(b'U')),
            "no association with usrsctp: {:?}, frames {:?}",
            i.us.state(),
            i.frames
        );
        i
    }

    fn has(&self, ty: u8) -> bool {
        self.frames.iter().any(|f| f.0 == ty)
    }

    /// Messages usrsctp received: (sid, ppid, data).
    fn theirs(&self) -> Vec<(u16, u32, &[u8])> {
        self.frames
            .iter()
            .filter(|f| f.0 == b'M')
            .map(|f| {
                let p = &f.1;
                (
                    u16::from_be_bytes([p[0], p[1]]),
                    u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
                    &p[6..],
                )
            })
            .collect()
    }

    fn ours(&self) -> Vec<&meshrtc_sctp::Message> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn run(&mut self, limit: Duration, mut done: impl FnMut(&Interop) -> bool) -> bool {
        let start = Instant::now();
        let mut buf = Vec::new();
        loop {
            let now = Instant::now();
            if self.us.poll_timeout().is_some_and(|t| t <= now) {
                self.us.handle_timeout(now);
            }
            while self.us.poll_transmit(now, &mut buf) {
                if !self.rng.chance(self.loss) {
                    self.them.frame(b'P', &buf);
                }
            }
            while let Some(e) = self.us.poll_event() {
                self.events.push(e);
            }
            if done(self) {
                return true;
            }
            if start.elapsed() > limit {
                return false;
            }
            let wait = self
                .us
                .poll_timeout()
                .map_or(Duration::from_millis(20), |t| {
                    t.saturating_duration_since(now)
                })
                .min(Duration::from_millis(20));
            match self.them.rx.recv_timeout(wait) {
                Ok((b'P', packet)) => {
                    if !self.rng.chance(self.loss) {
                        if let Err(e) = self.us.handle_input(Instant::now(), &packet) {
                            panic!("usrsctp's packet refused: {e}: {packet:02x?}");
                        }
                    }
                }
                Ok(frame) => self.frames.push(frame),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!("usrsctp peer exited"),
            }
        }
    }
}

fn payload(i: u32, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len)
        .map(|k| (k as u32 ^ i.wrapping_mul(7)) as u8)
        .collect();
    v[..4].copy_from_slice(&i.to_be_bytes());
    v
}

#[test]
fn usrsctp_and_meshrtc_exchange_ordered_messages_both_ways() {
    let mut t = Interop::new(0.0, 1);
    let sizes = [4usize, 100, 1172, 1173, 5000, 65_536, 262_144];
    for (i, &n) in sizes.iter().enumerate() {
        t.us.send(
            Instant::now(),
            1,
            53,
            &payload(i as u32, n),
            true,
            Reliability::Reliable,
        )
        .unwrap();
        t.them.send(2, 51, false, &payload(100 + i as u32, n));
    }
    let n = sizes.len();
    assert!(
        t.run(Duration::from_secs(20), |t| t.theirs().len() == n
            && t.ours().len() == n),
        "theirs {} ours {}",
        t.theirs().len(),
        t.ours().len()
    );
    for (i, (sid, ppid, data)) in t.theirs().into_iter().enumerate() {
        assert_eq!((sid, ppid), (1, 53));
        assert!(
            data == payload(i as u32, sizes[i]),
            "message {i} to usrsctp"
        );
    }
    for (i, m) in t.ours().into_iter().enumerate() {
        assert_eq!((m.stream_id, m.ppid, m.ordered), (2, 51, true));
        assert!(
            m.data == payload(100 + i as u32, sizes[i]),
            "message {i} from usrsctp"
        );
    }
}

#[test]
fn usrsctp_interop_survives_loss() {
    let mut t = Interop::new(0.05, 2);
    let n = 120u32;
    for i in 0..n {
        t.us.send(
            Instant::now(),
            3,
            53,
            &payload(i, 900 + (i as usize * 53) % 3000),
            true,
            Reliability::Reliable,
        )
        .unwrap();
        t.them.send(
            4,
            53,
            i % 2 == 0,
            &payload(1000 + i, 700 + (i as usize * 31) % 2500),
        );
    }
    assert!(
        t.run(Duration::from_secs(60), |t| t.theirs().len() == n as usize
            && t.ours().len() == n as usize),
        "theirs {} ours {}",
        t.theirs().len(),
        t.ours().len()
    );
    let got: Vec<u32> = t
        .theirs()
        .iter()
        .map(|m| u32::from_be_bytes(m.2[..4].try_into().unwrap()))
        .collect();
    assert_eq!(got, (0..n).collect::<Vec<_>>(), "ordered at usrsctp");
    let mut ours: Vec<u32> = t
        .ours()
        .iter()
        .map(|m| u32::from_be_bytes(m.data[..4].try_into().unwrap()))
        .collect();
    ours.sort();
    assert_eq!(
        ours,
        (1000..1000 + n).collect::<Vec<_>>(),
        "each once at ours"
    );
}

#[test]
fn stream_resets_are_understood_both_ways() {
    let mut t = Interop::new(0.0, 3);
    t.us.send(
        Instant::now(),
        6,
        53,
        b"\0\0\0\x01before",
        true,
        Reliability::Reliable,
    )
    .unwrap();
    t.us.reset_streams(&[6]);
    t.them.frame(b'R', &8u16.to_be_bytes());
    assert!(
        t.run(Duration::from_secs(10), |t| {
            t.frames.iter().any(|f| f.0 == b'I' && f.1 == [0, 6])
                && t.events.contains(&Event::OutgoingStreamsReset(vec![6]))
                && t.events.contains(&Event::IncomingStreamsReset(vec![8]))
        }),
        "frames {:?} events {:?}",
        t.frames,
        t.events
    );
    assert_eq!(t.theirs().len(), 1, "the message before the reset arrived");
}

#[test]
fn forward_tsn_is_accepted_by_usrsctp() {
    let mut t = Interop::new(0.3, 4);
    for i in 0..60u32 {
        t.us.send(
            Instant::now(),
            7,
            53,
            &payload(i, 800),
            false,
            Reliability::MaxRetransmits(0),
        )
        .unwrap();
    }
    t.us.send(
        Instant::now(),
        9,
        53,
        &payload(999, 50),
        true,
        Reliability::Reliable,
    )
    .unwrap();
    assert!(
        t.run(Duration::from_secs(30), |t| t
            .theirs()
            .iter()
            .any(|m| m.0 == 9)
            && t.us.flight_size() == 0),
        "{:?}",
        t.us.stats()
    );
    let s = t.us.stats();
    assert!(s.forward_tsns_sent > 0 && s.abandoned_messages > 0, "{s:?}");
    assert!(t.theirs().iter().filter(|m| m.0 == 7).count() < 60);
}

#[test]
fn graceful_shutdown_with_usrsctp() {
    let mut t = Interop::new(0.0, 5);
    t.us.send(
        Instant::now(),
        1,
        53,
        b"\0\0\0\0bye",
        true,
        Reliability::Reliable,
    )
    .unwrap();
    t.us.close(Instant::now());
    assert!(
        t.run(Duration::from_secs(10), |t| t.has(b'D')
            && !t.events.is_empty()
            && t.events.last()
                == Some(&Event::Closed(CloseReason::Shutdown))),
        "frames {:?} events {:?} state {:?}",
        t.frames,
        t.events,
        t.us.state()
    );
    assert_eq!(t.theirs().len(), 1);
}

/// usrsctp with I-DATA switched on (socket options
/// SCTP_FRAGMENT_INTERLEAVE = 2 and SCTP_INTERLEAVING_SUPPORTED, as
/// Firefox sets them): both sides use I-DATA, and messages of several
/// sizes on several streams arrive whole both ways, under 5% loss.
#[test]
fn i_data_with_usrsctp_both_ways_under_loss() {
    let mut t = Interop::with_idata(0.05, 6, true);
    assert!(
        t.us.peer_init().is_some_and(|i| i.i_data),
        "usrsctp did not offer I-DATA: {:?}",
        t.us.peer_init()
    );
    assert!(t.us.interleaving());
    let sizes = [1usize, 100, 5000, 65_536, 200_000, 10];
    for (i, &n) in sizes.iter().enumerate() {
        let sid = 10 + i as u16;
        t.us.send(
            Instant::now(),
            sid,
            53,
            &payload(i as u32, n.max(4)),
            true,
            Reliability::Reliable,
        )
        .unwrap();
        t.them
            .send(sid, 51, i % 2 == 1, &payload(100 + i as u32, n.max(4)));
    }
    let n = sizes.len();
    assert!(
        t.run(Duration::from_secs(30), |t| t.theirs().len() == n
            && t.ours().len() == n),
        "theirs {} ours {} stats {:?}",
        t.theirs().len(),
        t.ours().len(),
        t.us.stats()
    );
    for (sid, _, data) in t.theirs() {
        let i = (sid - 10) as usize;
        assert!(data == payload(i as u32, sizes[i].max(4)), "to usrsctp {i}");
    }
    for m in t.ours() {
        let i = (m.stream_id - 10) as usize;
        assert!(
            m.data == payload(100 + i as u32, sizes[i].max(4)),
            "from usrsctp {i}"
        );
    }
    let s = t.us.stats();
    assert!(
        s.interleaving && s.i_data_chunks_received > 0 && s.i_data_chunks_sent > 0,
        "{s:?}"
    );
    assert_eq!(s.protocol_violations, 0);
}

/// With I-DATA, abandoned messages are skipped by I-FORWARD-TSN (RFC 8260
/// §2.3), which usrsctp accepts: a reliable message after them arrives,
/// and nothing stays in flight.
#[test]
fn i_forward_tsn_is_accepted_by_usrsctp() {
    let mut t = Interop::with_idata(0.3, 7, true);
    assert!(t.us.interleaving());
    for i in 0..60u32 {
        let ordered = i % 2 == 0;
        t.us.send(
            Instant::now(),
            7 + (i % 2) as u16,
            53,
            &payload(i, 2000),
            ordered,
            Reliability::MaxRetransmits(0),
        )
        .unwrap();
    }
    t.us.send(
        Instant::now(),
        9,
        53,
        &payload(999, 50),
        true,
        Reliability::Reliable,
    )
    .unwrap();
    assert!(
        t.run(Duration::from_secs(30), |t| t
            .theirs()
            .iter()
            .any(|m| m.0 == 9)
            && t.us.flight_size() == 0),
        "{:?}",
        t.us.stats()
    );
    let s = t.us.stats();
    assert!(s.forward_tsns_sent > 0 && s.abandoned_messages > 0, "{s:?}");
    assert!(t.theirs().iter().filter(|m| m.0 != 9).count() < 60);
    assert!(t.us.is_established(), "usrsctp did not abort");
}

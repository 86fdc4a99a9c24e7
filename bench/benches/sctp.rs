//! SCTP: a reliable ordered bulk transfer between two associations in one
//! process, datagrams handed across in memory (no DTLS, no sockets, no
//! loss). meshrtc-sctp, webrtc-rs's sans-IO `rtc-sctp` and `sctp-proto`
//! (the stack str0m uses), in the same run, each through its public API:
//! 10 MiB in 64 KiB messages and 10 MiB in 1 KiB messages on one ordered
//! reliable stream, packets of at most 1200 bytes (SCTP common header
//! included), a 1 MiB receive window on every side, the sender's queue
//! kept topped up to 1 MiB of unsent user data. Ours runs twice: as
//! configured by default, both ends offering I-DATA (RFC 8260), so its
//! chunks are I-DATA ("meshrtc"), and with I-DATA off, so DATA
//! ("meshrtc-data", what a peer without I-DATA such as Chromium gets);
//! the first message read checks which was used. The other two send DATA.
//!
//! `cargo bench --bench sctp`
//!
//! Timed: creating both ends, the four-way handshake, and the transfer
//! until the receiver has read every message (each is checked: its length
//! and its sequence number, written in its first four bytes, so a lost,
//! repeated or reordered message fails the bench). What is measured is
//! the CPU time of the bench's thread (`CLOCK_THREAD_CPUTIME_ID`), not
//! wall time: the loop is one thread that never sleeps or waits, so the
//! two agree on an idle machine, and CPU time stays meaningful on a
//! loaded one. Time per MiB is the median divided by 10; the throughput
//! criterion prints is 10 MiB over that CPU time. The clock the stacks
//! see is virtual: it stands still while packets move and jumps to the
//! next timer when both ends are idle (a delayed SACK, say); that virtual
//! time and the packet counts are printed once per case, since a stack
//! that waits on timers in memory would wait on them over a network too.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nix::time::{clock_gettime, ClockId};

/// Largest SCTP packet, common header included, for all three.
const MTU: usize = 1200;
/// Bytes moved per transfer.
const TOTAL: usize = 10 * 1024 * 1024;
/// User data the sender keeps queued (written, not yet sent).
const TOP_UP: usize = 1024 * 1024;
/// Receive window every side advertises (the defaults of all three).
const WINDOW: usize = 1024 * 1024;
/// Largest message every side accepts.
const MAX_MESSAGE: usize = 256 * 1024;
/// Binary PPID (RFC 8831 §8).
const PPID_BINARY: u32 = 53;

/// What one transfer looked like, printed once per stack and case.
#[derive(Debug, Default)]
struct Outcome {
    /// Virtual time from the first INIT to the last message read.
    virtual_time: Duration,
    /// Packets from the sender to the receiver.
    forward_packets: u64,
    /// Packets back (SACKs, handshake).
    reverse_packets: u64,
}

/// The `count` messages of one case, each `size` bytes, numbered.
fn messages(size: usize) -> Vec<Bytes> {
    (0..TOTAL / size)
        .map(|i| {
            let mut m: Vec<u8> = (0..size).map(|j| (j * 7 + i) as u8).collect();
            m[..4].copy_from_slice(&(i as u32).to_be_bytes());
            Bytes::from(m)
        })
        .collect()
}

/// Checks the next message read against what was sent.
fn check(got: &[u8], expected: &mut usize, msgs: &[Bytes]) {
    let want = &msgs[*expected];
    assert_eq!(got.len(), want.len(), "message {expected} length");
    assert_eq!(got[..4], want[..4], "message {expected} out of order");
    *expected += 1;
}

/// Two ends of one stack, driven the same way.
trait Pair {
    /// Whether both ends report the association established.
    fn connected(&self) -> bool;
    /// Queues messages from `next` on while less than [`TOP_UP`] is
    /// waiting to be sent; returns whether it queued any.
    fn top_up(&mut self, now: Instant, msgs: &[Bytes], next: &mut usize) -> bool;
    /// Hands every pending packet across, both ways, once; returns
    /// whether any moved.
    fn exchange(&mut self, now: Instant, out: &mut Outcome) -> bool;
    /// Reads every complete message at the receiver.
    fn read(&mut self, now: Instant, expected: &mut usize, msgs: &[Bytes]);
    /// The earlier of the two ends' next timers.
    fn next_timer(&self) -> Option<Instant>;
    /// Runs both ends' due timers.
    fn fire(&mut self, now: Instant);
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One whole transfer: handshake, then `msgs` from one end to the other.
fn run<P: Pair>(make: impl FnOnce(Instant) -> P, msgs: &[Bytes]) -> Outcome {
    let start = Instant::now();
    let mut now = start;
    let mut pair = make(now);
    let mut out = Outcome::default();
    let (mut next, mut expected) = (0, 0);
    let mut rounds = 0u64;
    while expected < msgs.len() {
        rounds += 1;
        assert!(rounds < 10_000_000, "no progress: {expected} read");
        let moved = pair.exchange(now, &mut out);
        pair.read(now, &mut expected, msgs);
        let wrote = pair.connected() && pair.top_up(now, msgs, &mut next);
        if !wrote && !moved {
            // Idle: let time pass to the next timer.
            let t = pair.next_timer().unwrap_or_else(|| {
                panic!(
                    "idle with no timer: connected {}, {next} written, {expected} read, {out:?}",
                    pair.connected()
                )
            });
            now = now.max(t);
            pair.fire(now);
        }
    }
    out.virtual_time = now - start;
    out
}

mod ours {
    use super::*;
    use meshrtc_sctp::{Association, Config, Event, Reliability};

    pub struct Ours {
        a: Association,
        b: Association,
        buf: Vec<u8>,
        /// I-DATA (RFC 8260) offered by both ends, so used.
        interleaving: bool,
        /// Whether the chunk type in use was checked.
        checked: bool,
    }

    fn config(seed: u8, interleaving: bool) -> Config {
        let mut c = Config::new([seed; 32], [seed + 1; 32]);
        c.interleaving = interleaving;
        c.mtu = MTU;
        c.receive_window = WINDOW;
        c.max_message_size = MAX_MESSAGE;
        c.max_receive_message_size = MAX_MESSAGE;
        c
    }

    /// Our default: I-DATA chunks (both ends offer them).
    pub fn pair(now: Instant) -> Ours {
        pair_with(now, true)
    }

    /// DATA chunks (I-DATA not offered, as with Chromium's dcSCTP).
    pub fn pair_data(now: Instant) -> Ours {
        pair_with(now, false)
    }

    fn pair_with(now: Instant, interleaving: bool) -> Ours {
        let mut a = Association::new(config(1, interleaving));
        let b = Association::new(config(3, interleaving));
        a.connect(now);
        Ours {
            a,
            b,
            buf: Vec::with_capacity(MTU),
            interleaving,
            checked: false,
        }
    }

    impl Pair for Ours {
        fn connected(&self) -> bool {
            self.a.is_established() && self.b.is_established()
        }

        fn top_up(&mut self, now: Instant, msgs: &[Bytes], next: &mut usize) -> bool {
            let mut wrote = false;
            while *next < msgs.len() && self.a.buffered_amount(0) < TOP_UP {
                self.a
                    .send(
                        now,
                        0,
                        PPID_BINARY,
                        &msgs[*next],
                        true,
                        Reliability::Reliable,
                    )
                    .unwrap();
                *next += 1;
                wrote = true;
            }
            wrote
        }

        fn exchange(&mut self, now: Instant, out: &mut Outcome) -> bool {
            let mut moved = false;
            while self.a.poll_transmit(now, &mut self.buf) {
                self.b.handle_input(now, &self.buf).unwrap();
                out.forward_packets += 1;
                moved = true;
            }
            while self.b.poll_transmit(now, &mut self.buf) {
                self.a.handle_input(now, &self.buf).unwrap();
                out.reverse_packets += 1;
                moved = true;
            }
            while self.a.poll_event().is_some() {}
            moved
        }

        fn read(&mut self, _now: Instant, expected: &mut usize, msgs: &[Bytes]) {
            while let Some(e) = self.b.poll_event() {
                if let Event::Message(m) = e {
                    check(&m.data, expected, msgs);
                    if !self.checked {
                        // The case measures the chunk type it names.
                        let i_data = self.b.stats().i_data_chunks_received > 0;
                        assert_eq!(i_data, self.interleaving, "I-DATA in use");
                        self.checked = true;
                    }
                }
            }
        }

        fn next_timer(&self) -> Option<Instant> {
            earliest(self.a.poll_timeout(), self.b.poll_timeout())
        }

        fn fire(&mut self, now: Instant) {
            self.a.handle_timeout(now);
            self.b.handle_timeout(now);
        }
    }
}

/// webrtc-rs's rtc-sctp and sctp-proto share their API's shape (one
/// descends from the other); each gets its own module.
mod rtc {
    use super::*;
    use rtc_sctp::{
        Association, AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig,
        Event, Payload, PayloadProtocolIdentifier, ServerConfig, TransportConfig,
    };
    use rtc_shared::TransportProtocol;

    pub struct End {
        endpoint: Endpoint,
        peer: SocketAddr,
        handle: Option<AssociationHandle>,
        assoc: Option<Association>,
        connected: bool,
        inbox: VecDeque<Bytes>,
    }

    pub struct Rtc {
        a: End,
        b: End,
        stream_open: bool,
        accepted: bool,
        read_buf: Vec<u8>,
    }

    fn transport() -> TransportConfig {
        TransportConfig::default()
            .with_max_receive_buffer_size(WINDOW as u32)
            .with_max_message_size(MAX_MESSAGE as u32)
    }

    fn endpoint_config() -> Arc<EndpointConfig> {
        let mut c = EndpointConfig::new();
        c.max_payload_size(rtc_sctp::max_payload_size_for_mtu(MTU as u32));
        Arc::new(c)
    }

    pub fn pair(now: Instant) -> Rtc {
        let a_addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let b_addr: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        let mut a = End {
            endpoint: Endpoint::new(a_addr, TransportProtocol::UDP, endpoint_config(), None),
            peer: b_addr,
            handle: None,
            assoc: None,
            connected: false,
            inbox: VecDeque::new(),
        };
        let b = End {
            endpoint: Endpoint::new(
                b_addr,
                TransportProtocol::UDP,
                endpoint_config(),
                Some(Arc::new(ServerConfig::new(transport()))),
            ),
            peer: a_addr,
            handle: None,
            assoc: None,
            connected: false,
            inbox: VecDeque::new(),
        };
        let (h, assoc) = a
            .endpoint
            .connect(now, ClientConfig::new(transport()), b_addr)
            .unwrap();
        a.handle = Some(h);
        a.assoc = Some(assoc);
        Rtc {
            a,
            b,
            stream_open: false,
            accepted: false,
            read_buf: vec![0; MAX_MESSAGE],
        }
    }

    impl End {
        /// Feeds the inbox, then moves what this end sends to `to`.
        fn step(&mut self, now: Instant, to: &mut VecDeque<Bytes>) -> u64 {
            while let Some(d) = self.inbox.pop_front() {
                match self.endpoint.handle(now, self.peer, None, d) {
                    Some((h, DatagramEvent::NewAssociation(a))) => {
                        self.handle = Some(h);
                        self.assoc = Some(a);
                    }
                    Some((_, DatagramEvent::AssociationEvent(e))) => {
                        if let Some(a) = self.assoc.as_mut() {
                            a.handle_event(e);
                        }
                    }
                    _ => {}
                }
            }
            let Some(assoc) = self.assoc.as_mut() else {
                return 0;
            };
            while let Some(e) = assoc.poll() {
                if matches!(e, Event::Connected) {
                    self.connected = true;
                }
            }
            while let Some(e) = assoc.poll_endpoint_event() {
                if let Some(h) = self.handle {
                    self.endpoint.handle_event(h, e);
                }
            }
            let mut sent = 0;
            while let Some(t) = assoc.poll_transmit(now) {
                if let Payload::RawEncode(packets) = t.message {
                    sent += packets.len() as u64;
                    to.extend(packets);
                }
            }
            sent
        }
    }

    impl Pair for Rtc {
        fn connected(&self) -> bool {
            self.a.connected && self.b.connected
        }

        fn top_up(&mut self, now: Instant, msgs: &[Bytes], next: &mut usize) -> bool {
            let assoc = self.a.assoc.as_mut().unwrap();
            if !self.stream_open {
                assoc
                    .open_stream(0, PayloadProtocolIdentifier::Binary)
                    .unwrap();
                self.stream_open = true;
            }
            let mut stream = assoc.stream(0).unwrap();
            let mut wrote = false;
            while *next < msgs.len() && stream.buffered_amount().unwrap() < TOP_UP {
                stream
                    .write_sctp(now, &msgs[*next], PayloadProtocolIdentifier::Binary)
                    .unwrap();
                *next += 1;
                wrote = true;
            }
            wrote
        }

        fn exchange(&mut self, now: Instant, out: &mut Outcome) -> bool {
            let f = self.a.step(now, &mut self.b.inbox);
            let r = self.b.step(now, &mut self.a.inbox);
            out.forward_packets += f;
            out.reverse_packets += r;
            f + r > 0 || !self.a.inbox.is_empty() || !self.b.inbox.is_empty()
        }

        fn read(&mut self, _now: Instant, expected: &mut usize, msgs: &[Bytes]) {
            let Some(assoc) = self.b.assoc.as_mut() else {
                return;
            };
            if !self.accepted {
                self.accepted = assoc.accept_stream().is_some();
                if !self.accepted {
                    return;
                }
            }
            let mut stream = assoc.stream(0).unwrap();
            while let Some(chunks) = stream.read_sctp().unwrap() {
                let n = chunks.read(&mut self.read_buf).unwrap();
                check(&self.read_buf[..n], expected, msgs);
            }
        }

        fn next_timer(&self) -> Option<Instant> {
            earliest(
                self.a.assoc.as_ref().and_then(|a| a.poll_timeout()),
                self.b.assoc.as_ref().and_then(|a| a.poll_timeout()),
            )
        }

        fn fire(&mut self, now: Instant) {
            for end in [&mut self.a, &mut self.b] {
                if let Some(a) = end.assoc.as_mut() {
                    if a.poll_timeout().is_some_and(|t| t <= now) {
                        a.handle_timeout(now);
                    }
                }
            }
        }
    }
}

mod proto {
    use super::*;
    use sctp_proto::{
        Association, AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig,
        Event, Payload, PayloadProtocolIdentifier, ServerConfig, TransportConfig,
    };

    pub struct End {
        endpoint: Endpoint,
        peer: SocketAddr,
        handle: Option<AssociationHandle>,
        assoc: Option<Association>,
        connected: bool,
        inbox: VecDeque<Bytes>,
    }

    pub struct Proto {
        a: End,
        b: End,
        stream_open: bool,
        accepted: bool,
        read_buf: Vec<u8>,
    }

    fn transport() -> Arc<TransportConfig> {
        Arc::new(
            TransportConfig::default()
                .with_max_receive_buffer_size(WINDOW as u32)
                .with_max_send_message_size(MAX_MESSAGE as u32)
                .with_max_receive_message_size(MAX_MESSAGE as u32),
        )
    }

    fn endpoint_config() -> Arc<EndpointConfig> {
        let mut c = EndpointConfig::new();
        // Its packet budget is this plus the common and DATA chunk headers.
        c.max_payload_size((MTU - 12 - 16) as u32);
        Arc::new(c)
    }

    pub fn pair(now: Instant) -> Proto {
        let _ = now;
        let a_addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let b_addr: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        let mut server = ServerConfig::new();
        server.transport = transport();
        let mut a = End {
            endpoint: Endpoint::new(endpoint_config(), None),
            peer: b_addr,
            handle: None,
            assoc: None,
            connected: false,
            inbox: VecDeque::new(),
        };
        let b = End {
            endpoint: Endpoint::new(endpoint_config(), Some(Arc::new(server))),
            peer: a_addr,
            handle: None,
            assoc: None,
            connected: false,
            inbox: VecDeque::new(),
        };
        let mut client = ClientConfig::new();
        client.transport = transport();
        let (h, assoc) = a.endpoint.connect(client, b_addr).unwrap();
        a.handle = Some(h);
        a.assoc = Some(assoc);
        Proto {
            a,
            b,
            stream_open: false,
            accepted: false,
            read_buf: vec![0; MAX_MESSAGE],
        }
    }

    impl End {
        fn step(&mut self, now: Instant, to: &mut VecDeque<Bytes>) -> u64 {
            while let Some(d) = self.inbox.pop_front() {
                match self.endpoint.handle(now, self.peer, None, None, d) {
                    Some((h, DatagramEvent::NewAssociation(a))) => {
                        self.handle = Some(h);
                        self.assoc = Some(a);
                    }
                    Some((_, DatagramEvent::AssociationEvent(e))) => {
                        if let Some(a) = self.assoc.as_mut() {
                            a.handle_event(e);
                        }
                    }
                    _ => {}
                }
            }
            let mut sent = 0;
            while let Some(t) = self.endpoint.poll_transmit() {
                if let Payload::RawEncode(packets) = t.payload {
                    sent += packets.len() as u64;
                    to.extend(packets);
                }
            }
            let Some(assoc) = self.assoc.as_mut() else {
                return sent;
            };
            while let Some(e) = assoc.poll() {
                if matches!(e, Event::Connected) {
                    self.connected = true;
                }
            }
            while let Some(e) = assoc.poll_endpoint_event() {
                if let Some(h) = self.handle {
                    if let Some(back) = self.endpoint.handle_event(h, e) {
                        assoc.handle_event(back);
                    }
                }
            }
            while let Some(t) = assoc.poll_transmit(now) {
                if let Payload::RawEncode(packets) = t.payload {
                    sent += packets.len() as u64;
                    to.extend(packets);
                }
            }
            sent
        }
    }

    impl Pair for Proto {
        fn connected(&self) -> bool {
            self.a.connected && self.b.connected
        }

        fn top_up(&mut self, _now: Instant, msgs: &[Bytes], next: &mut usize) -> bool {
            let assoc = self.a.assoc.as_mut().unwrap();
            if !self.stream_open {
                assoc
                    .open_stream(0, PayloadProtocolIdentifier::Binary)
                    .unwrap();
                self.stream_open = true;
            }
            let mut stream = assoc.stream(0).unwrap();
            let mut wrote = false;
            while *next < msgs.len() && stream.buffered_amount().unwrap() < TOP_UP {
                stream
                    .write_sctp(&msgs[*next], PayloadProtocolIdentifier::Binary)
                    .unwrap();
                *next += 1;
                wrote = true;
            }
            wrote
        }

        fn exchange(&mut self, now: Instant, out: &mut Outcome) -> bool {
            let f = self.a.step(now, &mut self.b.inbox);
            let r = self.b.step(now, &mut self.a.inbox);
            out.forward_packets += f;
            out.reverse_packets += r;
            f + r > 0 || !self.a.inbox.is_empty() || !self.b.inbox.is_empty()
        }

        fn read(&mut self, _now: Instant, expected: &mut usize, msgs: &[Bytes]) {
            let Some(assoc) = self.b.assoc.as_mut() else {
                return;
            };
            if !self.accepted {
                self.accepted = assoc.accept_stream().is_some();
                if !self.accepted {
                    return;
                }
            }
            let mut stream = assoc.stream(0).unwrap();
            while let Some(chunks) = stream.read_sctp().unwrap() {
                let n = chunks.read(&mut self.read_buf).unwrap();
                check(&self.read_buf[..n], expected, msgs);
            }
        }

        fn next_timer(&self) -> Option<Instant> {
            earliest(
                self.a.assoc.as_ref().and_then(|a| a.poll_timeout()),
                self.b.assoc.as_ref().and_then(|a| a.poll_timeout()),
            )
        }

        fn fire(&mut self, now: Instant) {
            for end in [&mut self.a, &mut self.b] {
                if let Some(a) = end.assoc.as_mut() {
                    if a.poll_timeout().is_some_and(|t| t <= now) {
                        a.handle_timeout(now);
                    }
                }
            }
        }
    }
}

/// The CPU time of the calling thread, in nanoseconds.
struct ThreadCpu;

fn thread_cpu_ns() -> u64 {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Nanoseconds of CPU shown as criterion shows wall time.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical < 1e3 {
            (1.0, "ns")
        } else if typical < 1e6 {
            (1e3, "µs")
        } else if typical < 1e9 {
            (1e6, "ms")
        } else {
            (1e9, "s")
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iter = match throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) | Throughput::Elements(n) => *n,
        } as f64;
        // Values are ns of CPU per iteration: MiB (or elements) per CPU second.
        let scale = match throughput {
            Throughput::Elements(_) => 1.0,
            _ => 1024.0 * 1024.0,
        };
        values
            .iter_mut()
            .for_each(|v| *v = per_iter * 1e9 / *v / scale);
        match throughput {
            Throughput::Elements(_) => "elem/cpu-s",
            _ => "MiB/cpu-s",
        }
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn transfer(c: &mut Criterion<ThreadCpu>) {
    for (name, size) in [("64KiB", 64 * 1024), ("1KiB", 1024)] {
        let msgs = messages(size);
        for (stack, o) in [
            ("meshrtc", run(ours::pair, &msgs)),
            ("meshrtc-data", run(ours::pair_data, &msgs)),
            ("rtc-sctp", run(rtc::pair, &msgs)),
            ("sctp-proto", run(proto::pair, &msgs)),
        ] {
            eprintln!(
                "{name} {stack}: virtual time {:?}, {} packets forward, {} back",
                o.virtual_time, o.forward_packets, o.reverse_packets
            );
        }
        let mut g = c.benchmark_group(format!("sctp_10MiB_{name}"));
        g.throughput(Throughput::Bytes(TOTAL as u64));
        g.sample_size(10);
        g.bench_function("meshrtc", |b| b.iter(|| black_box(run(ours::pair, &msgs))));
        g.bench_function("meshrtc-data", |b| {
            b.iter(|| black_box(run(ours::pair_data, &msgs)))
        });
        g.bench_function("rtc-sctp", |b| b.iter(|| black_box(run(rtc::pair, &msgs))));
        g.bench_function("sctp-proto", |b| {
            b.iter(|| black_box(run(proto::pair, &msgs)))
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = transfer
}
criterion_main!(benches);

//! A whole PeerConnection, meshrtc (`meshrtc-peer` and its tokio driver)
//! and webrtc-rs (`webrtc` 0.21, async layer over the sans-IO `rtc` core),
//! in the same run:
//!
//! 1. `peer_ttff`: time to first frame on loopback. Both peers in one
//!    process on 127.0.0.1, real UDP sockets, host candidates only, no STUN,
//!    complete SDP (gathering finished) exchanged in memory. Timed from the
//!    offerer's `create_offer` until the *answerer* has decoded the first VP8
//!    frame sent by the offerer. The offerer starts sending as soon as its
//!    connection is up: the same 320x240 key frame (meshrtc-media's
//!    `Vp8Encoder`, encoded once up front) every 33 ms until the answerer
//!    has decoded one. Both answerers decode with meshrtc-media's
//!    `Vp8Decoder`, so only the transport differs. Not timed: building the
//!    two peers (certificates, sockets), the decoder, closing.
//! 2. `idle_heap` (printed, not timed: criterion cannot time memory): live
//!    heap held by one idle connected PeerConnection, with a counting
//!    global allocator. One video and one audio transceiver each way, no
//!    media sent, no codec state.
//!
//! `cargo bench --bench peer`

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use tokio::sync::{mpsc, oneshot};

use meshrtc_media::source::TestPattern;
use meshrtc_media::vp8::{Vp8Decoder, Vp8Encoder, Vp8EncoderConfig};
use meshrtc_peer::driver::{spawn, DriverConfig, PeerHandle};
use meshrtc_peer::{
    ConnectionState, PacketizedFrame, PeerConfig, PeerConnection, PeerEvent, SdpType, Transmit,
};
use meshrtc_rtp::vp8::{AssemblerConfig, Vp8Assembler, Vp8Packetizer};
use meshrtc_rtp::{NackGenerator, SendBuffer};
use meshrtc_sdp::negotiate::MediaKind;

use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::media_stream::{MediaStreamTrack, Track as _};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection as _, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceGatheringState,
    RTCPeerConnectionState, Registry, SettingEngineBuilder,
};

// ---------------------------------------------------------------------------
// Counting allocator: process-wide live bytes (webrtc-rs works on several
// runtime threads, so per-thread counters would miss most of it).

struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

#[allow(unsafe_code)]
// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counters are atomics, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as given.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as given.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded as given.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as given.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

fn kib(b: i64) -> f64 {
    b as f64 / 1024.0
}

// ---------------------------------------------------------------------------
// The media: one 320x240 VP8 key frame, encoded once.

fn key_frame() -> Arc<[u8]> {
    let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(320, 240, 30, 500_000)).expect("encoder");
    let mut pattern = TestPattern::new(320, 240, 30);
    let key = enc
        .encode(&pattern.next_frame(0), 0, true)
        .expect("encode")
        .expect("a frame");
    assert!(key.keyframe);
    // Check once that it decodes on its own, as both answerers will.
    let mut dec = Vp8Decoder::new().expect("decoder");
    let img = dec.decode(&key.data).expect("decode").expect("a picture");
    assert_eq!((img.width, img.height), (320, 240));
    key.data.into()
}

const FRAME_INTERVAL: Duration = Duration::from_millis(33);
const GIVE_UP: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// meshrtc: two tokio-driven peers on 127.0.0.1.

fn driver_config(seed: u64) -> DriverConfig {
    let mut c = DriverConfig::new(PeerConfig::with_fixed_seed(seed));
    c.bind = vec!["127.0.0.1".parse().unwrap()];
    c.stun_urls.clear();
    c
}

async fn gathered(rx: &mut mpsc::UnboundedReceiver<PeerEvent>) {
    while let Some(e) = rx.recv().await {
        if e == PeerEvent::GatheringComplete {
            return;
        }
    }
    panic!("events ended before gathering completed");
}

/// One fresh meshrtc pair: the timed part (create_offer to first decoded
/// frame), and when the offerer saw itself connected.
async fn meshrtc_once(seed: u64, key: Arc<[u8]>) -> (Duration, Duration) {
    let (a, mut ea) = spawn(driver_config(seed)).await.expect("offerer");
    let (b, mut eb) = spawn(driver_config(seed + 1)).await.expect("answerer");
    let video = a
        .add_transceiver(MediaKind::Video, true, true)
        .await
        .unwrap();
    let mut decoder = Vp8Decoder::new().expect("decoder");

    let t0 = Instant::now();
    a.create_offer().await.expect("offer");
    gathered(&mut ea).await;
    let offer = a.local_description().await.unwrap().expect("offer");

    // The offerer sends once its connection is up.
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let sender: PeerHandle = a.clone();
    let send_task = tokio::spawn(async move {
        loop {
            match ea.recv().await {
                Some(PeerEvent::ConnectionStateChanged(ConnectionState::Connected)) => break,
                Some(PeerEvent::ConnectionStateChanged(ConnectionState::Failed)) | None => {
                    panic!("meshrtc offerer failed")
                }
                _ => {}
            }
        }
        let connected = Instant::now();
        let mut pk = Vp8Packetizer::new(1);
        let mut ts = 0u32;
        loop {
            let f = PacketizedFrame::vp8(&mut pk, key.clone(), ts, 1100).unwrap();
            let _ = sender.send_frame(&video, Arc::new(f));
            ts = ts.wrapping_add(2970);
            tokio::select! {
                _ = tokio::time::sleep(FRAME_INTERVAL) => {}
                _ = &mut stop_rx => return connected,
            }
        }
    });

    b.set_remote_description(SdpType::Offer, offer)
        .await
        .expect("offer applied");
    b.create_answer().await.expect("answer");
    gathered(&mut eb).await;
    let answer = b.local_description().await.unwrap().expect("answer");
    a.set_remote_description(SdpType::Answer, answer)
        .await
        .expect("answer applied");

    let decoded = tokio::time::timeout(GIVE_UP, async {
        while let Some(e) = eb.recv().await {
            match e {
                PeerEvent::Frame(f) if f.kind == MediaKind::Video => {
                    if let Ok(Some(_)) = decoder.decode(&f.data) {
                        return;
                    }
                }
                PeerEvent::ConnectionStateChanged(ConnectionState::Failed) => {
                    panic!("meshrtc answerer failed")
                }
                _ => {}
            }
        }
        panic!("meshrtc answerer events ended");
    })
    .await;
    let elapsed = t0.elapsed();
    decoded.expect("meshrtc: no frame decoded in time");
    let _ = stop_tx.send(());
    let connected = send_task.await.expect("sender") - t0;
    a.close();
    b.close();
    (elapsed, connected)
}

// ---------------------------------------------------------------------------
// webrtc-rs: two RTCPeerConnections (webrtc 0.21) on 127.0.0.1.

/// Events the benchmark waits for, from either side.
struct Handler {
    gathered: mpsc::UnboundedSender<()>,
    connected: mpsc::UnboundedSender<()>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(());
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if state == RTCPeerConnectionState::Connected {
            let _ = self.connected.send(());
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tracks.send(track);
    }
}

struct HandlerRx {
    gathered: mpsc::UnboundedReceiver<()>,
    connected: mpsc::UnboundedReceiver<()>,
    tracks: mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
}

fn handler() -> (Arc<Handler>, HandlerRx) {
    let (g, gr) = mpsc::unbounded_channel();
    let (c, cr) = mpsc::unbounded_channel();
    let (t, tr) = mpsc::unbounded_channel();
    (
        Arc::new(Handler {
            gathered: g,
            connected: c,
            tracks: t,
        }),
        HandlerRx {
            gathered: gr,
            connected: cr,
            tracks: tr,
        },
    )
}

/// Default codecs and interceptors (NACK, reports, TWCC receiver), one
/// UDP socket on 127.0.0.1, UDP4 only, loopback candidates allowed, mDNS
/// off, no ICE servers.
async fn webrtc_pc(h: Arc<Handler>) -> impl webrtc::peer_connection::PeerConnection {
    let mut media = MediaEngine::default();
    media.register_default_codecs().expect("codecs");
    let registry = register_default_interceptors(Registry::new(), &mut media).expect("registry");
    let settings = SettingEngineBuilder::new()
        .with_network_types(vec![rtc::ice::network_type::NetworkType::Udp4])
        .with_include_loopback_candidate(true)
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .build();
    PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .with_handler(h)
        .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
        .build()
        .await
        .expect("webrtc-rs peer connection")
}

fn webrtc_track(
    kind: rtc::rtp_transceiver::rtp_sender::RtpCodecKind,
) -> Arc<TrackLocalStaticSample> {
    use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
    use rtc::rtp_transceiver::rtp_sender::{
        RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
    };
    let video = kind == RtpCodecKind::Video;
    let codec = if video {
        RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        }
    } else {
        RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48000,
            channels: 2,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        }
    };
    let name = if video { "video" } else { "audio" };
    Arc::new(
        TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                "bench-stream".to_owned(),
                format!("bench-{name}"),
                format!("bench-{name}-label"),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(rand_u32()),
                        ..Default::default()
                    },
                    codec,
                    ..Default::default()
                }],
            ),
        )
        .expect("track"),
    )
}

fn rand_u32() -> u32 {
    // Good enough for SSRCs of a benchmark: time-seeded, mixed.
    static N: AtomicU64 = AtomicU64::new(0);
    let t = Instant::now().elapsed().as_nanos() as u64;
    let mut x = N.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed) ^ t;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x as u32
}

async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>, what: &str) -> T {
    tokio::time::timeout(GIVE_UP, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("webrtc-rs: timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("webrtc-rs: {what} channel closed"))
}

/// One fresh webrtc-rs pair: the timed part (create_offer to first
/// decoded frame), and when the offerer saw itself connected.
async fn webrtc_once(key: Arc<[u8]>) -> (Duration, Duration) {
    use rtc::media::io::sample_builder::SampleBuilder;
    use rtc::media::Sample;
    use rtc::rtp::codec::vp8::Vp8Packet;
    use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;

    let (ha, mut ra) = handler();
    let (hb, mut rb) = handler();
    let a = Arc::new(webrtc_pc(ha).await);
    let b = webrtc_pc(hb).await;
    let track = webrtc_track(RtpCodecKind::Video);
    let rtp_sender = a
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await
        .expect("add_track");
    let mut decoder = Vp8Decoder::new().expect("decoder");

    let t0 = Instant::now();
    let offer = a.create_offer(None).await.expect("offer");
    a.set_local_description(offer).await.expect("local offer");
    recv(&mut ra.gathered, "offerer gathering").await;
    let offer = a.local_description().await.expect("offer");

    // The offerer sends once its connection is up.
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let mut connected = ra.connected;
    let send_task = tokio::spawn(async move {
        recv(&mut connected, "offerer connected").await;
        let connected = Instant::now();
        let pt = rtp_sender
            .get_parameters()
            .await
            .expect("parameters")
            .rtp_parameters
            .codecs
            .first()
            .expect("a codec")
            .payload_type;
        let ssrc = *track.ssrcs().await.first().expect("ssrc");
        let data = bytes::Bytes::copy_from_slice(&key);
        loop {
            let sample = Sample {
                data: data.clone(),
                duration: FRAME_INTERVAL,
                ..Sample::new(Instant::now())
            };
            let _ = track.sample_writer(ssrc, pt).write_sample(&sample).await;
            tokio::select! {
                _ = tokio::time::sleep(FRAME_INTERVAL) => {}
                _ = &mut stop_rx => return connected,
            }
        }
    });

    b.set_remote_description(offer)
        .await
        .expect("offer applied");
    let answer = b.create_answer(None).await.expect("answer");
    b.set_local_description(answer).await.expect("local answer");
    recv(&mut rb.gathered, "answerer gathering").await;
    let answer = b.local_description().await.expect("answer");
    a.set_remote_description(answer)
        .await
        .expect("answer applied");

    let decoded = tokio::time::timeout(GIVE_UP, async {
        let remote = rb.tracks.recv().await.expect("a remote track");
        let mut builder = SampleBuilder::new(64, Vp8Packet::default(), 90000);
        while let Some(ev) = remote.poll().await {
            if let TrackRemoteEvent::OnRtpPacket(p) = ev {
                builder.push(Instant::now(), p);
                while let Some(s) = builder.pop(Instant::now()) {
                    if let Ok(Some(_)) = decoder.decode(&s.data) {
                        return;
                    }
                }
            }
        }
        panic!("webrtc-rs remote track ended");
    })
    .await;
    let elapsed = t0.elapsed();
    decoded.expect("webrtc-rs: no frame decoded in time");
    let _ = stop_tx.send(());
    let connected = send_task.await.expect("sender") - t0;
    let _ = a.close().await;
    let _ = b.close().await;
    (elapsed, connected)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn peer_ttff(c: &mut Criterion) {
    let key = key_frame();
    // Check both a few times, untimed, on one runtime, and show where the
    // time goes and whether closing a pair releases its sockets.
    let rt = runtime();
    let fds = open_fds();
    for i in 0..3 {
        let (t, c) = rt.block_on(meshrtc_once(1_000 + 2 * i, key.clone()));
        println!(
            "ttff check meshrtc:   offerer connected after {c:?}, first frame decoded after {t:?}"
        );
    }
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    let ours_fds = open_fds() - fds;
    for _ in 0..3 {
        let (t, c) = rt.block_on(webrtc_once(key.clone()));
        println!(
            "ttff check webrtc-rs: offerer connected after {c:?}, first frame decoded after {t:?}"
        );
    }
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    let theirs_fds = open_fds() - fds - ours_fds;
    println!(
        "file descriptors still open after 3 closed pairs: meshrtc {ours_fds}, webrtc-rs {theirs_fds}"
    );
    drop(rt);

    // Timed: a fresh runtime per pair (built and dropped untimed), so that
    // nothing a closed pair leaves behind carries into the next one.
    let mut g = c.benchmark_group("peer_ttff");
    let mut seed = 2_000u64;
    g.bench_function("ttff/meshrtc", |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                seed += 2;
                let rt = runtime();
                total += rt.block_on(meshrtc_once(seed, key.clone())).0;
            }
            total
        })
    });
    g.bench_function("ttff/webrtc-rs", |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let rt = runtime();
                total += rt.block_on(webrtc_once(key.clone())).0;
            }
            total
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// Idle heap, meshrtc: two sans-IO PeerConnections joined in memory.

struct Side {
    pc: Box<PeerConnection>,
    addr: SocketAddr,
}

fn deliver(now: Instant, from: &mut Side, to: &mut Side) -> usize {
    let mut n = 0;
    while let Some(Transmit { src, dst, payload }) = from.pc.poll_transmit() {
        if dst == to.addr {
            to.pc.handle_datagram(now, src, dst, &payload);
            n += 1;
        }
    }
    n
}

fn step(now: &mut Instant, a: &mut Side, b: &mut Side) {
    for _ in 0..10 {
        let n = deliver(*now, a, b) + deliver(*now, b, a);
        while a.pc.poll_event().is_some() {}
        while b.pc.poll_event().is_some() {}
        if n == 0 {
            break;
        }
    }
    let next = [a.pc.poll_timeout(), b.pc.poll_timeout()]
        .into_iter()
        .flatten()
        .min();
    *now = match next {
        Some(t) => (*now).max(t).min(*now + Duration::from_millis(20)),
        None => *now + Duration::from_millis(20),
    };
    a.pc.handle_timeout(*now);
    b.pc.handle_timeout(*now);
}

/// Live heap after each stage, for the pair, relative to before.
struct Stages {
    rows: Vec<(&'static str, i64)>,
}

fn meshrtc_idle_pair() -> (Stages, (Side, Side)) {
    let base = live();
    let mut rows = Vec::new();
    let mut now = Instant::now();
    let mut a = Side {
        pc: Box::new(PeerConnection::new(PeerConfig::with_fixed_seed(1), now).unwrap()),
        addr: "127.0.0.1:4001".parse().unwrap(),
    };
    let mut b = Side {
        pc: Box::new(PeerConnection::new(PeerConfig::with_fixed_seed(2), now).unwrap()),
        addr: "127.0.0.1:4002".parse().unwrap(),
    };
    rows.push(("PeerConnection::new (boxed, certificate)", live() - base));
    a.pc.add_local_address(a.addr);
    b.pc.add_local_address(b.addr);
    a.pc.add_transceiver(MediaKind::Video, true, true);
    a.pc.add_transceiver(MediaKind::Audio, true, true);
    b.pc.add_answer_track(MediaKind::Video);
    b.pc.add_answer_track(MediaKind::Audio);
    rows.push(("+ local address, transceivers", live() - base));
    let offer = a.pc.create_offer(now).unwrap();
    rows.push((
        "+ a.create_offer (ICE agent, local SDP)",
        live() - base - offer.capacity() as i64,
    ));
    b.pc.set_remote_description(now, SdpType::Offer, &offer)
        .unwrap();
    rows.push((
        "+ b.set_remote_description(offer)",
        live() - base - offer.capacity() as i64,
    ));
    let answer = b.pc.create_answer(now).unwrap();
    let texts = (offer.capacity() + answer.capacity()) as i64;
    rows.push((
        "+ b.create_answer (b's senders made)",
        live() - base - texts,
    ));
    a.pc.set_remote_description(now, SdpType::Answer, &answer)
        .unwrap();
    rows.push((
        "+ a.set_remote_description(answer) (a's senders)",
        live() - base - texts,
    ));
    drop((offer, answer));
    for _ in 0..500 {
        step(&mut now, &mut a, &mut b);
        if a.pc.state() == ConnectionState::Connected && b.pc.state() == ConnectionState::Connected
        {
            break;
        }
    }
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    assert_eq!(b.pc.state(), ConnectionState::Connected);
    rows.push(("+ connected", live() - base));
    // A few simulated seconds of timers (consent checks, RTCP) to settle.
    let until = now + Duration::from_secs(5);
    while now < until {
        step(&mut now, &mut a, &mut b);
    }
    assert_eq!(a.pc.state(), ConnectionState::Connected);
    rows.push(("+ 5 s idle (ICE consent, RTCP)", live() - base));
    (Stages { rows }, (a, b))
}

/// Heap of the pieces a connection holds, built alone with the
/// connection's settings (`peer/src/connection/config.rs`).
fn meshrtc_components() -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    let mut measure = |name: &'static str, f: &mut dyn FnMut() -> Box<dyn std::any::Any>| {
        let before = live();
        let kept = f();
        out.push((name, live() - before));
        drop(kept);
    };
    measure(
        "SendBuffer (video sender; 1000 slots, RTX, MTU 1200)",
        &mut || {
            Box::new(SendBuffer::new(
                1,
                96,
                meshrtc_rtp::session::SendBufferConfig {
                    rtx: Some(meshrtc_rtp::session::RtxConfig {
                        ssrc: 2,
                        payload_type: 97,
                        first_seq: 0,
                    }),
                    max_payload: 1200,
                    ..Default::default()
                },
            ))
        },
    );
    measure(
        "srtp::Context (AEAD_AES_128_GCM, one direction)",
        &mut || {
            let p = meshrtc_srtp::Profile::AeadAes128Gcm;
            let key = vec![7u8; p.master_key_len()];
            let salt = vec![9u8; p.master_salt_len()];
            let m = meshrtc_srtp::MasterKey::new(p, &key, &salt).unwrap();
            Box::new(meshrtc_srtp::Context::new(
                &m,
                meshrtc_srtp::Config::default(),
            ))
        },
    );
    measure("dtls Certificate::generate", &mut || {
        Box::new(meshrtc_dtls::Certificate::generate("bench").unwrap())
    });
    measure(
        "Vp8Assembler (default: 1024 packets; made on first video packet)",
        &mut || Box::new(Vp8Assembler::new(AssemblerConfig::default())),
    );
    measure(
        "NackGenerator (default; made on first video packet)",
        &mut || {
            Box::new(NackGenerator::new(
                meshrtc_rtp::session::NackConfig::default(),
            ))
        },
    );
    out
}

// ---------------------------------------------------------------------------
// Idle heap, webrtc-rs: two RTCPeerConnections in one runtime.

async fn webrtc_idle_pair(base: i64) -> (i64, i64) {
    use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
    let (ha, mut ra) = handler();
    let (hb, mut rb) = handler();
    let a = webrtc_pc(ha).await;
    let b = webrtc_pc(hb).await;
    let mut tracks = Vec::new();
    for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
        let t = webrtc_track(kind);
        a.add_track(Arc::clone(&t) as Arc<dyn TrackLocal>)
            .await
            .unwrap();
        tracks.push(t);
    }
    let offer = a.create_offer(None).await.unwrap();
    a.set_local_description(offer).await.unwrap();
    recv(&mut ra.gathered, "offerer gathering").await;
    let offer = a.local_description().await.unwrap();
    b.set_remote_description(offer).await.unwrap();
    for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
        let t = webrtc_track(kind);
        b.add_track(Arc::clone(&t) as Arc<dyn TrackLocal>)
            .await
            .unwrap();
        tracks.push(t);
    }
    let answer = b.create_answer(None).await.unwrap();
    b.set_local_description(answer).await.unwrap();
    recv(&mut rb.gathered, "answerer gathering").await;
    let answer = b.local_description().await.unwrap();
    a.set_remote_description(answer).await.unwrap();
    recv(&mut ra.connected, "offerer connected").await;
    recv(&mut rb.connected, "answerer connected").await;
    let connected = live() - base;
    let allocs = ALLOCS.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = live() - base;
    println!(
        "  webrtc-rs pair: {} allocations during the idle second",
        ALLOCS.load(Ordering::Relaxed) - allocs
    );
    let _ = a.close().await;
    let _ = b.close().await;
    drop(tracks);
    (connected, idle)
}

/// The same idle pair through the tokio driver (sockets, tasks, channels
/// included), for comparison with webrtc-rs, which always has its driver.
async fn meshrtc_driver_idle_pair(base: i64) -> i64 {
    let (a, mut ea) = spawn(driver_config(21)).await.expect("offerer");
    let (b, mut eb) = spawn(driver_config(22)).await.expect("answerer");
    a.add_transceiver(MediaKind::Video, true, true)
        .await
        .unwrap();
    a.add_transceiver(MediaKind::Audio, true, true)
        .await
        .unwrap();
    b.add_answer_track(MediaKind::Video).unwrap();
    b.add_answer_track(MediaKind::Audio).unwrap();
    a.create_offer().await.unwrap();
    gathered(&mut ea).await;
    let offer = a.local_description().await.unwrap().unwrap();
    b.set_remote_description(SdpType::Offer, offer)
        .await
        .unwrap();
    b.create_answer().await.unwrap();
    gathered(&mut eb).await;
    let answer = b.local_description().await.unwrap().unwrap();
    a.set_remote_description(SdpType::Answer, answer)
        .await
        .unwrap();
    for rx in [&mut ea, &mut eb] {
        loop {
            match rx.recv().await.expect("events") {
                PeerEvent::ConnectionStateChanged(ConnectionState::Connected) => break,
                PeerEvent::ConnectionStateChanged(ConnectionState::Failed) => panic!("failed"),
                _ => {}
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Events that arrived meanwhile sit in the channels; drain them so
    // that only the connections are counted.
    while ea.try_recv().is_ok() {}
    while eb.try_recv().is_ok() {}
    let idle = live() - base;
    a.close();
    b.close();
    idle
}

fn idle_heap() {
    println!("idle_heap: live heap of one idle connected PeerConnection (pair / 2)");
    let before = live();
    let (stages, pair) = meshrtc_idle_pair();
    let ours = stages.rows.last().unwrap().1 / 2;
    for (name, bytes) in &stages.rows {
        println!(
            "  meshrtc pair {name:<45} {:>9} bytes ({:>7.1} KiB per connection)",
            bytes,
            kib(*bytes / 2)
        );
    }
    drop(pair);
    println!(
        "  meshrtc left after dropping the pair: {} bytes",
        live() - before
    );
    println!(
        "  size_of::<PeerConnection>() = {} bytes (inline, counted above: boxed)",
        std::mem::size_of::<PeerConnection>()
    );
    println!(
        "  inline sizes: IceAgent {} B, Dtls {} B, srtp::Context {} B, SendBuffer {} B, Vp8Assembler {} B",
        std::mem::size_of::<meshrtc_ice::IceAgent>(),
        std::mem::size_of::<meshrtc_dtls::Dtls>(),
        std::mem::size_of::<meshrtc_srtp::Context>(),
        std::mem::size_of::<SendBuffer>(),
        std::mem::size_of::<Vp8Assembler>(),
    );
    println!("  meshrtc pieces, built alone with the connection's settings:");
    for (name, bytes) in meshrtc_components() {
        println!("    {name:<64} {bytes:>9} bytes ({:>7.1} KiB)", kib(bytes));
    }

    let rt = runtime();
    // Warm the runtime (timer wheel, worker state) before the baseline.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(10)).await });
    let base = live();
    let driven = rt.block_on(meshrtc_driver_idle_pair(base)) / 2;
    drop(rt);
    println!(
        "  meshrtc through its tokio driver (sockets, tasks, channels): {driven} bytes per connection ({:.1} KiB)",
        kib(driven)
    );

    let rt = runtime();
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(10)).await });
    let base = live();
    let (connected, idle) = rt.block_on(webrtc_idle_pair(base));
    let theirs = idle / 2;
    println!(
        "  webrtc-rs pair connected {connected} bytes, after 1 s idle {idle} bytes \
         (API, media engine, interceptors, sockets and driver tasks of each pc included)"
    );
    drop(rt);

    println!(
        "idle_heap/meshrtc: {ours} bytes per connection ({:.1} KiB)",
        kib(ours)
    );
    println!(
        "idle_heap/webrtc-rs: {theirs} bytes per connection ({:.1} KiB)",
        kib(theirs)
    );
    println!(
        "idle_heap/meshrtc+driver: {driven} bytes per connection ({:.1} KiB)",
        kib(driven)
    );
    println!(
        "idle_heap ratio webrtc-rs / meshrtc: {:.2}x (webrtc-rs / meshrtc+driver: {:.2}x); target meshrtc <= 64 KiB: {}",
        theirs as f64 / ours as f64,
        theirs as f64 / driven as f64,
        if ours <= 64 * 1024 { "met" } else { "NOT met" }
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = peer_ttff
}

fn main() {
    idle_heap();
    benches();
    Criterion::default().configure_from_args().final_summary();
}

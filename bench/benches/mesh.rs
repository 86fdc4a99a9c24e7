//! Time to a full six-member mesh on loopback (issue 15).
//!
//! Six members started together, each with the tokio driver
//! (`meshrtc_mesh::driver::join`) on 127.0.0.1, a signaling server on
//! loopback, host candidates only. Timed from the first member's `join`
//! call (sockets bound, WebSocket connected, join message sent) until every
//! one of the 30 directed streams has given its receiver a video frame that
//! the fake codec's decoder accepts. Each member sends a small key frame of
//! the fake codec every 10 ms from the start, so the time measured is the
//! mesh's set-up (signaling, offer/answer, ICE, DTLS, SRTP), not a frame
//! interval. Certificates and seeds are made before the timer starts (as a
//! node makes its one certificate when it starts, not per join).
//!
//!     cd bench && cargo bench --bench mesh -- --warm-up-time 1 --measurement-time 20

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use meshrtc_media::fake::{FakeConfig, FakeDecoder, FakeEncoder};
use meshrtc_mesh::driver::{self, MemberConfig};
use meshrtc_mesh::signaling::{self, ServerConfig};
use meshrtc_mesh::MeshEvent;
use meshrtc_peer::PacketizedFrame;
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;
use tokio::sync::mpsc;

const MEMBERS: usize = 6;

/// One member's run: join, send a key frame every 10 ms, report each
/// sender whose video decodes, until told to stop.
async fn member(
    config: MemberConfig,
    seed: u64,
    decoded: mpsc::UnboundedSender<(u64, String)>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let (handle, mut events) = driver::join(config).await.expect("join");
    let mut encoder = FakeEncoder::new(FakeConfig::new(200_000, 30), seed);
    let mut packetizer = Vp8Packetizer::new(seed as u16);
    let mut decoders: BTreeMap<String, FakeDecoder> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut n = 0u32;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let f = encoder.encode(n, u64::from(n) * 10_000, true);
                let frame = PacketizedFrame::vp8(&mut packetizer, f.data.into(), n * 900, 1100)
                    .expect("packetize");
                handle.send_frame(Arc::new(frame));
                n += 1;
            }
            e = events.recv() => match e {
                Some(MeshEvent::Frame { from, frame }) if frame.kind == MediaKind::Video => {
                    let d = decoders.entry(from.clone()).or_insert_with(FakeDecoder::new);
                    if d.decode(&frame.data).is_ok() {
                        let _ = decoded.send((seed, from));
                    }
                }
                Some(_) => {}
                None => panic!("member {seed} stopped: {:?}", handle.stopped()),
            },
            _ = stop.changed() => break,
        }
    }
    handle.leave();
}

/// One full mesh: returns the time from the first join to the 30th
/// directed stream decoded.
fn time_to_mesh(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let server = signaling::bind("127.0.0.1:0", ServerConfig::default())
            .await
            .expect("signaling server");
        let url = server.ws_url();
        let configs: Vec<MemberConfig> = (0..MEMBERS)
            .map(|i| {
                let mut c = MemberConfig::new(&url, "bench", &format!("m{i}")).expect("config");
                c.bind = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
                c.slots = MEMBERS - 1;
                c.send_audio = false;
                c
            })
            .collect();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let start = Instant::now();
        let tasks: Vec<_> = configs
            .into_iter()
            .enumerate()
            .map(|(i, c)| tokio::spawn(member(c, i as u64, tx.clone(), stop_rx.clone())))
            .collect();
        let mut streams = BTreeSet::new();
        let elapsed = tokio::time::timeout(Duration::from_secs(10), async {
            while streams.len() < MEMBERS * (MEMBERS - 1) {
                let s = rx.recv().await.expect("members run");
                streams.insert(s);
            }
            start.elapsed()
        })
        .await
        .unwrap_or_else(|_| panic!("only {} of 30 streams in 10 s", streams.len()));
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        drop(server);
        elapsed
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let first = time_to_mesh(&rt);
    eprintln!("time_to_mesh: first run {first:?}");
    let mut g = c.benchmark_group("time_to_mesh");
    g.sample_size(10);
    g.bench_function("six_members_loopback", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_to_mesh(&rt)).sum())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

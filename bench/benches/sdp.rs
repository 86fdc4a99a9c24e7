//! SDP: parse Chromium's full offer (6220 bytes, 3 m-lines), meshrtc vs
//! sdp-types vs rtc-sdp (webrtc-rs) vs webrtc-sdp (Firefox's), in one run.
//!
//! `cargo bench --bench sdp && python3 report.py sdp`

use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn sdp(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/chromium-156/chromium_offer.sdp"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut g = c.benchmark_group("sdp");
    g.bench_function("meshrtc/parse", |b| {
        b.iter(|| meshrtc_sdp::SessionDescription::parse(black_box(&text)).unwrap())
    });
    g.bench_function("meshrtc/write", |b| {
        let d = meshrtc_sdp::SessionDescription::parse(&text).unwrap();
        b.iter(|| black_box(&d).to_string())
    });
    g.bench_function("sdp-types/parse", |b| {
        b.iter(|| sdp_types::Session::parse(black_box(text.as_bytes())).unwrap())
    });
    g.bench_function("rtc-sdp/parse", |b| {
        b.iter(|| {
            let mut r = std::io::Cursor::new(black_box(text.as_bytes()));
            rtc_sdp::description::session::SessionDescription::unmarshal(&mut r).unwrap()
        })
    });
    g.bench_function("webrtc-sdp/parse", |b| {
        b.iter(|| webrtc_sdp::parse_sdp(black_box(&text), false).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = sdp
}
criterion_main!(benches);

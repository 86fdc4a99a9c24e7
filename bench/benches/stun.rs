//! STUN: parse + verify MESSAGE-INTEGRITY + FINGERPRINT of Chromium's binding
//! request, meshrtc vs stun_codec vs rtc-stun (webrtc-rs), in one run.
//!
//! `cargo bench --bench stun` then `python3 report.py stun` prints the ratios.

use bytecodec::DecodeExt;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use meshrtc_bench::hex_fixture;
use meshrtc_ice::stun::{Message, ShortTermKey};

const PWD: &str = "dPR+zd3QMw7rwvBB3GOuedwM";

fn stun(c: &mut Criterion) {
    let bytes = hex_fixture("chromium-156/chromium_stun_binding_request.hex");
    let mut g = c.benchmark_group("stun");

    // meshrtc: the key's HMAC pads are prepared once per ICE session, as the
    // agent does; the second row prepares them per message for comparison.
    let key = ShortTermKey::new(PWD.as_bytes());
    g.bench_function("meshrtc/decode", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(&bytes)).unwrap();
            black_box(m.username().unwrap());
        })
    });
    g.bench_function("meshrtc/decode+integrity+fingerprint", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(&bytes)).unwrap();
            m.verify_integrity(&key).unwrap();
            m.verify_fingerprint().unwrap();
            black_box(m.username().unwrap());
        })
    });
    g.bench_function(
        "meshrtc/decode+integrity+fingerprint, key per message",
        |b| {
            b.iter(|| {
                let m = Message::parse(black_box(&bytes)).unwrap();
                m.verify_integrity(&ShortTermKey::new(PWD.as_bytes()))
                    .unwrap();
                m.verify_fingerprint().unwrap();
                black_box(m.username().unwrap());
            })
        },
    );

    // stun_codec 0.4: FINGERPRINT is checked inside decoding.
    type Attr = stun_codec::rfc5389::Attribute;
    g.bench_function("stun_codec/decode+integrity+fingerprint", |b| {
        let mut dec = stun_codec::MessageDecoder::<Attr>::new();
        b.iter(|| {
            let m = dec.decode_from_bytes(black_box(&bytes)).unwrap().unwrap();
            let mi = m
                .get_attribute::<stun_codec::rfc5389::attributes::MessageIntegrity>()
                .unwrap();
            mi.check_short_term_credential(PWD).unwrap();
            black_box(&m);
        })
    });

    // rtc-stun 0.21 (webrtc-rs), message reused as its own benchmarks do.
    let provider = rtc_stun::crypto::default_provider().unwrap();
    let fp = rtc_stun::fingerprint::FINGERPRINT;
    g.bench_function("rtc-stun/decode", |b| {
        let mut m = rtc_stun::message::Message::new();
        b.iter(|| {
            m.raw.clear();
            m.raw.extend_from_slice(black_box(&bytes));
            m.decode().unwrap();
            black_box(&m);
        })
    });
    g.bench_function("rtc-stun/decode+integrity+fingerprint", |b| {
        let mut m = rtc_stun::message::Message::new();
        b.iter(|| {
            m.raw.clear();
            m.raw.extend_from_slice(black_box(&bytes));
            m.decode().unwrap();
            rtc_stun::integrity::MessageIntegrity::check(&mut m, PWD.as_bytes(), provider.crypto())
                .unwrap();
            fp.check(&m).unwrap();
            black_box(&m);
        })
    });
    g.finish();

    // The pieces, to choose implementations by measurement: HMAC-SHA1 over
    // the 76 bytes MESSAGE-INTEGRITY covers in this request, CRC-32 over the
    // 92 bytes FINGERPRINT covers, and the 20-byte tag comparison.
    let mut g = c.benchmark_group("stun-primitives");
    let covered = &bytes[..76];
    {
        use hmac::Mac;
        let prekeyed = hmac::Hmac::<sha1::Sha1>::new_from_slice(PWD.as_bytes()).unwrap();
        g.bench_function("rustcrypto hmac-sha1 76B, pre-keyed", |b| {
            b.iter(|| {
                let mut m = prekeyed.clone();
                m.update(black_box(covered));
                black_box(m.finalize().into_bytes())
            })
        });
        g.bench_function("rustcrypto hmac-sha1 76B, keyed per call", |b| {
            b.iter(|| {
                let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(PWD.as_bytes()).unwrap();
                m.update(black_box(covered));
                black_box(m.finalize().into_bytes())
            })
        });
    }
    let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, PWD.as_bytes());
    g.bench_function("ring hmac-sha1 76B, pre-keyed", |b| {
        b.iter(|| black_box(ring::hmac::sign(&ring_key, black_box(covered))))
    });
    g.bench_function("crc32fast 92B", |b| {
        b.iter(|| black_box(crc32fast::hash(black_box(&bytes[..92]))))
    });
    let tag = [0x5au8; 20];
    g.bench_function("subtle ct_eq 20B", |b| {
        use subtle::ConstantTimeEq;
        b.iter(|| black_box(bool::from(black_box(&tag[..]).ct_eq(black_box(&tag[..])))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = stun
}
criterion_main!(benches);

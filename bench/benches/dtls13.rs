//! DTLS 1.3: one full handshake, both endpoints in one process, datagrams
//! passed in memory (no sockets): TLS_AES_128_GCM_SHA256, X25519, mutual
//! ECDSA P-256 certificates, use_srtp (AEAD_AES_256_GCM, dimpl's choice), no
//! cookie exchange, then the DTLS-SRTP keying material on both sides. meshrtc-dtls on both ends,
//! then `dimpl` (RustCrypto provider) on both ends, in the same run; and
//! meshrtc with the X25519MLKEM768 hybrid share (dimpl has none), whose
//! extra bytes on the wire are printed once.
//!
//! `cargo bench --bench dtls13`
//!
//! Timed: building the two endpoints (ours send their ClientHello and
//! generate key shares on creation) and the handshake until both report
//! their keys and are quiet. Not timed: certificate generation and
//! dimpl's `Config` (once; our `Config` is built inside).

use std::sync::Arc;
use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use meshrtc_dtls::kx::Group;
use meshrtc_dtls::v13::record::CipherSuite13;
use meshrtc_dtls::v13::{Dtls13, Event13};
use meshrtc_dtls::{Certificate, Config, SrtpProfileId};

/// One handshake between two meshrtc ends; returns the bytes both sent.
fn ours(a: &Certificate, b: &Certificate, group: Group, hybrid: bool) -> usize {
    let now = Instant::now();
    let config = |own: &Certificate, peer: &Certificate, seed: u8| {
        let mut c = Config::new(own.clone());
        c.remote_fingerprint = Some(*peer.fingerprint());
        c.rng_seed = Some([seed; 32]);
        c.suites13 = vec![CipherSuite13::Aes128GcmSha256];
        c.groups = vec![group];
        c.x25519mlkem768 = hybrid;
        // dimpl prefers AEAD_AES_256_GCM: the same 88-byte export.
        c.srtp_profiles = vec![SrtpProfileId::AEAD_AES_256_GCM];
        c
    };
    let mut client = Dtls13::client(config(a, b, 1), now);
    let mut server = Dtls13::server(config(b, a, 2), now);
    let (mut keys, mut wire) = (0, 0);
    for _ in 0..8 {
        let mut moved = false;
        while let Some(d) = client.poll_transmit() {
            moved = true;
            wire += d.len();
            server.handle_datagram(now, &d).unwrap();
        }
        while let Some(d) = server.poll_transmit() {
            moved = true;
            wire += d.len();
            client.handle_datagram(now, &d).unwrap();
        }
        for e in std::iter::from_fn(|| client.poll_event())
            .chain(std::iter::from_fn(|| server.poll_event()))
        {
            if let Event13::Connected(c) = e {
                keys += c.srtp.map_or(0, |s| s.exported.len());
            }
        }
        if !moved {
            break;
        }
    }
    assert_eq!(keys, 2 * 88);
    wire
}

/// dimpl's configuration, built once outside the timed part (building
/// one runs its crypto provider's validation).
fn dimpl_config(group: dimpl::crypto::NamedGroup) -> Arc<dimpl::Config> {
    Arc::new(
        dimpl::Config::builder()
            .dtls13_cipher_suites(&[dimpl::crypto::Dtls13CipherSuite::AES_128_GCM_SHA256])
            .kx_groups(&[group])
            .use_server_cookie(false)
            .dangerously_set_rng_seed(9)
            .build()
            .unwrap(),
    )
}

fn dimpl_pair(a: &Certificate, b: &Certificate, config: &Arc<dimpl::Config>) -> usize {
    let now = Instant::now();
    let cert = |c: &Certificate| dimpl::DtlsCertificate {
        certificate: c.der().to_vec(),
        private_key: c.pkcs8().to_vec(),
    };
    let mut client = dimpl::Dtls::new_13(config.clone(), cert(a), now);
    client.set_active(true);
    let mut server = dimpl::Dtls::new_13(config.clone(), cert(b), now);
    server.set_active(false);
    client.handle_timeout(now).unwrap();
    server.handle_timeout(now).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut keys = 0;
    for _ in 0..8 {
        let a = pump(&mut client, &mut server, &mut buf, &mut keys);
        let b = pump(&mut server, &mut client, &mut buf, &mut keys);
        if !a && !b {
            break;
        }
    }
    assert_eq!(keys, 2 * 88);
    keys
}

/// Drains `from` into `to`; whether anything was sent.
fn pump(from: &mut dimpl::Dtls, to: &mut dimpl::Dtls, buf: &mut [u8], keys: &mut usize) -> bool {
    let mut out = Vec::new();
    loop {
        match from.poll_output(buf) {
            dimpl::Output::Packet(p) => out.push(p.to_vec()),
            dimpl::Output::KeyingMaterial(k, _) => *keys += k.len(),
            dimpl::Output::Timeout(_) => break,
            _ => {}
        }
    }
    for p in &out {
        to.handle_packet(p).unwrap();
    }
    !out.is_empty()
}

fn handshake(c: &mut Criterion) {
    let (a, b) = (
        Certificate::generate("a").unwrap(),
        Certificate::generate("b").unwrap(),
    );
    let dx = dimpl_config(dimpl::crypto::NamedGroup::X25519);
    let dp = dimpl_config(dimpl::crypto::NamedGroup::Secp256r1);
    let mut g = c.benchmark_group("dtls13_handshake");
    eprintln!(
        "bytes on the wire, whole handshake both ways: x25519 {}, x25519mlkem768 {}",
        ours(&a, &b, Group::X25519, false),
        ours(&a, &b, Group::X25519, true)
    );
    g.bench_function("meshrtc/x25519", |bench| {
        bench.iter(|| black_box(ours(&a, &b, Group::X25519, false)))
    });
    g.bench_function("meshrtc/x25519mlkem768", |bench| {
        bench.iter(|| black_box(ours(&a, &b, Group::X25519, true)))
    });
    g.bench_function("dimpl/x25519", |bench| {
        bench.iter(|| black_box(dimpl_pair(&a, &b, &dx)))
    });
    g.bench_function("meshrtc/p256", |bench| {
        bench.iter(|| black_box(ours(&a, &b, Group::Secp256r1, false)))
    });
    g.bench_function("dimpl/p256", |bench| {
        bench.iter(|| black_box(dimpl_pair(&a, &b, &dp)))
    });
    g.finish();
}

criterion_group!(benches, handshake);
criterion_main!(benches);

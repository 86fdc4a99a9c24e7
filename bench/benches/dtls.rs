//! DTLS 1.2: one full handshake, both endpoints in one process, datagrams
//! passed in memory (no sockets): ECDHE-ECDSA-AES128-GCM-SHA256, mutual
//! ECDSA P-256 certificates, use_srtp, then the SRTP keying-material export on
//! both sides. OpenSSL 3.0 on both ends, then
//! meshrtc-dtls on both ends, in the same run.
//!
//! `cargo bench --bench dtls`
//!
//! Also `dtls_fragment_flood`: a meshrtc server fed 1,000 and 100,000
//! one-byte handshake fragments of one ClientHello (every other byte, so
//! none merge), 1,000 to a record. Reassembly caps the ranges held per
//! message, so the time per fragment should not grow with the count
//! (linear total). Timed: only the `handle_datagram` calls.
//!
//! Timed: the handshake (client's first flight until both ends are
//! established and quiet) plus both exports. Not timed: certificate
//! generation and the OpenSSL contexts (once), building the two endpoints
//! (per iteration, in criterion's batched setup) and freeing them.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::Instant;

use meshrtc_dtls::kx::Group;
use meshrtc_dtls::record::{write_record, ContentType};
use meshrtc_dtls::{Certificate, Config, Dtls, Event};
use meshrtc_integration::openssl_dtls::{
    handshake, self_signed_p256, OpensslDtls, OpensslDtlsConfig, Role, SslContext,
};

/// SRTP_AEAD_AES_128_GCM keying material: 2 * (16-byte key + 12-byte salt).
const SRTP_KEYING_LEN: usize = 56;

struct Certs {
    client: (String, String),
    server: (String, String),
}

/// OpenSSL configuration for one end. `groups` are the ECDHE groups offered.
fn openssl_config(certs: &Certs, role: Role, groups: &str) -> OpensslDtlsConfig {
    let (cert, key) = match role {
        Role::Client => certs.client.clone(),
        Role::Server => certs.server.clone(),
    };
    OpensslDtlsConfig {
        groups: groups.into(),
        ..OpensslDtlsConfig::webrtc(role, cert, key)
    }
}

/// The two OpenSSL contexts (`SSL_CTX`) of a run, built once: OpenSSL 3
/// takes ~1 ms to build one, more than the handshake, and an application
/// builds it once per process too.
struct OpensslSide {
    client: OpensslDtlsConfig,
    server: OpensslDtlsConfig,
    client_ctx: SslContext,
    server_ctx: SslContext,
}

impl OpensslSide {
    fn new(certs: &Certs, groups: &str) -> Self {
        let client = openssl_config(certs, Role::Client, groups);
        let server = openssl_config(certs, Role::Server, groups);
        Self {
            client_ctx: OpensslDtls::context(&client).expect("client config"),
            server_ctx: OpensslDtls::context(&server).expect("server config"),
            client,
            server,
        }
    }

    /// Two fresh endpoints (about 5 µs).
    fn pair(&self) -> (OpensslDtls, OpensslDtls) {
        (
            OpensslDtls::with_context(&self.client_ctx, &self.client).expect("client"),
            OpensslDtls::with_context(&self.server_ctx, &self.server).expect("server"),
        )
    }
}

/// The timed part: handshake plus both keying-material exports. The
/// endpoints are handed back so that freeing them is not timed either.
type Done = (OpensslDtls, OpensslDtls, Vec<u8>, Vec<u8>);

fn openssl_handshake((mut c, mut s): (OpensslDtls, OpensslDtls)) -> Done {
    handshake(&mut c, &mut s).expect("handshake");
    let kc = c.export_srtp_keying_material(SRTP_KEYING_LEN);
    let ks = s.export_srtp_keying_material(SRTP_KEYING_LEN);
    (c, s, kc, ks)
}

/// meshrtc client and server, built and run to completion in memory; both
/// SRTP keying materials returned.
fn our_handshake(client: &Config, server: &Config) -> (Dtls, Dtls, Vec<u8>, Vec<u8>) {
    let now = Instant::now();
    let mut c = Dtls::client(client.clone(), now);
    let mut s = Dtls::server(server.clone(), now);
    let (mut kc, mut ks) = (None, None);
    for _ in 0..16 {
        let mut moved = 0;
        while let Some(d) = c.poll_transmit() {
            let _ = s.handle_datagram(now, &d);
            moved += 1;
        }
        while let Some(d) = s.poll_transmit() {
            let _ = c.handle_datagram(now, &d);
            moved += 1;
        }
        while let Some(e) = c.poll_event() {
            if let Event::Connected(x) = e {
                kc = x.srtp.map(|k| k.exported);
            }
        }
        while let Some(e) = s.poll_event() {
            if let Event::Connected(x) = e {
                ks = x.srtp.map(|k| k.exported);
            }
        }
        if moved == 0 {
            break;
        }
    }
    (
        c,
        s,
        kc.expect("client connected"),
        ks.expect("server connected"),
    )
}

fn dtls_handshake(c: &mut Criterion) {
    let certs = Certs {
        client: self_signed_p256("bench-client").expect("client certificate"),
        server: self_signed_p256("bench-server").expect("server certificate"),
    };
    let mut g = c.benchmark_group("dtls_handshake");

    // "X25519:P-256", not "X25519": in TLS 1.2 OpenSSL only uses an ECDSA
    // P-256 certificate when the client lists P-256 in supported_groups
    // (RFC 8422); X25519 comes first and is what gets negotiated.
    for (id, groups, expected) in [
        ("openssl/x25519", "X25519:P-256", "X25519"),
        ("openssl/p256", "P-256", "prime256v1"),
    ] {
        let side = OpensslSide::new(&certs, groups);

        // Check once, untimed, that the run is what its name says.
        let (mut a, mut b) = side.pair();
        handshake(&mut a, &mut b).expect("handshake");
        assert_eq!(a.key_exchange_group().as_deref(), Some(expected), "{id}");
        assert_eq!(b.key_exchange_group().as_deref(), Some(expected), "{id}");
        assert_eq!(a.srtp_profile(), Some(7), "{id}");
        assert_eq!(
            a.export_srtp_keying_material(SRTP_KEYING_LEN),
            b.export_srtp_keying_material(SRTP_KEYING_LEN),
            "{id}"
        );

        g.bench_function(id, |bench| {
            bench.iter_batched(
                || side.pair(),
                |pair| black_box(openssl_handshake(pair)),
                BatchSize::SmallInput,
            )
        });
    }

    // meshrtc-dtls, same suite, SRTP profile and exports. Its certificates
    // come from rcgen (ECDSA P-256 too), made once. Both endpoints are
    // built inside the timed part (our client writes its ClientHello when
    // built), which only counts against us.
    let ours_client = Certificate::generate("bench-client").expect("certificate");
    let ours_server = Certificate::generate("bench-server").expect("certificate");
    for (id, group) in [
        ("meshrtc/x25519", Group::X25519),
        ("meshrtc/p256", Group::Secp256r1),
    ] {
        let mut client = Config::new(ours_client.clone());
        client.remote_fingerprint = Some(*ours_server.fingerprint());
        client.groups = vec![group];
        let mut server = Config::new(ours_server.clone());
        server.remote_fingerprint = Some(*ours_client.fingerprint());
        server.groups = vec![group];
        let (c, s, kc, ks) = our_handshake(&client, &server);
        assert_eq!(kc, ks, "{id}");
        assert_eq!(kc.len(), SRTP_KEYING_LEN, "{id}: AEAD_AES_128_GCM");
        drop((c, s));
        g.bench_function(id, |bench| {
            bench.iter_batched(
                || (client.clone(), server.clone()),
                |(cc, sc)| black_box(our_handshake(&cc, &sc)),
                BatchSize::SmallInput,
            )
        });
    }

    g.finish();
}

/// `count` one-byte ClientHello fragments (message 0 of 30,000 bytes, at
/// every other offset), 1,000 per plaintext record, one record a datagram.
fn one_byte_fragments(count: usize) -> Vec<Vec<u8>> {
    const LEN: u32 = 30_000;
    let mut datagrams = Vec::new();
    let mut rec = Vec::new();
    for i in 0..count {
        let offset = (2 * i as u32) % LEN;
        rec.push(1); // ClientHello
        rec.extend_from_slice(&LEN.to_be_bytes()[1..]);
        rec.extend_from_slice(&0u16.to_be_bytes());
        rec.extend_from_slice(&offset.to_be_bytes()[1..]);
        rec.extend_from_slice(&1u32.to_be_bytes()[1..]);
        rec.push(0x55);
        if (i + 1) % 1000 == 0 || i + 1 == count {
            let mut d = Vec::new();
            write_record(&mut d, ContentType::Handshake, 0xfefd, 0, i as u64, &rec);
            datagrams.push(d);
            rec.clear();
        }
    }
    datagrams
}

fn dtls_fragment_flood(c: &mut Criterion) {
    let mut config = Config::new(Certificate::generate("bench-server").expect("certificate"));
    config.rng_seed = Some([3; 32]);
    let mut g = c.benchmark_group("dtls_fragment_flood");
    for count in [1_000usize, 100_000] {
        let datagrams = one_byte_fragments(count);
        let now = Instant::now();
        // Check once, untimed: all but the capped ranges were dropped.
        let mut server = Dtls::server(config.clone(), now);
        for d in &datagrams {
            server.handle_datagram(now, d).expect("dropped, not fatal");
        }
        let s = server.stats();
        assert!(s.reassembly_peak_ranges <= 64 && s.fragments_over_cap as usize >= count - 64 * 7);
        g.throughput(Throughput::Elements(count as u64));
        g.bench_function(format!("meshrtc/{count}"), |bench| {
            bench.iter_batched(
                || Dtls::server(config.clone(), now),
                |mut server| {
                    for d in &datagrams {
                        let _ = server.handle_datagram(now, d);
                    }
                    server
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = dtls_handshake, dtls_fragment_flood
}
criterion_main!(benches);

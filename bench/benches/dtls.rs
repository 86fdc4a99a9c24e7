//! DTLS 1.2: one full handshake, both endpoints in one process, datagrams
//! passed in memory (no sockets): ECDHE-ECDSA-AES128-GCM-SHA256, mutual
//! ECDSA P-256 certificates, use_srtp, then the SRTP keying-material export on
//! both sides. OpenSSL 3.0 on both ends today; meshrtc-dtls joins it below.
//!
//! `cargo bench --bench dtls`
//!
//! Timed: the handshake (client's first flight until both ends are
//! established and quiet) plus both exports. Not timed: certificate
//! generation and the OpenSSL contexts (once), building the two endpoints
//! (per iteration, in criterion's batched setup) and freeing them.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
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

    // ------------------------------------------------------------------
    // TODO(meshrtc-dtls): add `meshrtc/x25519` and `meshrtc/p256` here, with
    // the same shape as above: per-process configuration built once, the two
    // endpoints built in the batched setup (same certificates, `certs`),
    // handshake + both 56-byte SRTP exports timed, endpoints returned so that
    // dropping them is untimed, and the negotiated group / SRTP profile
    // checked once before timing.
    // ------------------------------------------------------------------

    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = dtls_handshake
}
criterion_main!(benches);

//! SRTP: protect and unprotect of 1200- and 200-byte RTP packets, meshrtc vs
//! libsrtp2 (the `srtp` crate, libsrtp built from source with OpenSSL), for
//! AES-CM-128/HMAC-SHA1-80 and AEAD-AES-128-GCM, in one run; plus the
//! primitives that bound them.
//!
//! `cargo bench --bench srtp && python3 report.py srtp && python3 report.py srtp-primitives`

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use meshrtc_srtp::{Config, Context, MasterKey, Profile};
use srtp::session::{Session, StreamPolicy};
use srtp::CryptoPolicy;

fn rtp(seq: u16, size: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(size + 32);
    p.extend_from_slice(&[0x80, 96]);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x10, 0, 0xca, 0xfe, 0xba, 0xbe]);
    p.resize(size, 0x5a);
    p
}

fn key_salt(p: Profile) -> Vec<u8> {
    (0..p.master_key_len() + p.master_salt_len())
        .map(|i| i as u8 * 7)
        .collect()
}

fn lib_session(p: Profile, ks: &[u8], inbound: bool) -> Session {
    let c = match p {
        Profile::AeadAes128Gcm => CryptoPolicy::aes_gcm_128_16_auth(),
        _ => CryptoPolicy::aes_cm_128_hmac_sha1_80(),
    };
    let policy = StreamPolicy {
        rtp: c,
        rtcp: c,
        key: ks,
        window_size: 1024,
        allow_repeat_tx: false,
        encrypt_extension_headers: &[],
    };
    if inbound {
        Session::with_inbound_template(policy).unwrap()
    } else {
        Session::with_outbound_template(policy).unwrap()
    }
}

fn srtp_bench(c: &mut Criterion) {
    // Only the protect/unprotect call is timed: each input (a fresh packet
    // with the next sequence number, protected by the other side for the
    // unprotect rows) is prepared outside the timing, 256 at a time, so
    // buffers stay cache-resident as in a real send loop.
    let batch = BatchSize::NumIterations(256);
    let mut g = c.benchmark_group("srtp");
    for profile in [Profile::Aes128CmHmacSha1_80, Profile::AeadAes128Gcm] {
        let short = if profile.is_aead() { "gcm128" } else { "cm80" };
        let ks = key_salt(profile);
        let master = MasterKey::from_concatenated(profile, &ks).unwrap();
        for size in [1200usize, 200] {
            let template = rtp(0, size);
            let fresh = |seq: &mut u16| {
                *seq = seq.wrapping_add(1);
                let mut p = Vec::with_capacity(size + 32);
                p.extend_from_slice(&template);
                p[2..4].copy_from_slice(&seq.to_be_bytes());
                p
            };

            g.bench_function(format!("meshrtc/protect {short} {size}B"), |b| {
                let mut tx = Context::new(&master, Config::default());
                let mut seq = 0u16;
                b.iter_batched(
                    || fresh(&mut seq),
                    |mut p| {
                        tx.protect_rtp(&mut p).unwrap();
                        p
                    },
                    batch,
                )
            });
            g.bench_function(format!("libsrtp2/protect {short} {size}B"), |b| {
                let mut tx = lib_session(profile, &ks, false);
                let mut seq = 0u16;
                b.iter_batched(
                    || fresh(&mut seq),
                    |mut p| {
                        tx.protect(&mut p).unwrap();
                        p
                    },
                    batch,
                )
            });
            g.bench_function(format!("meshrtc/unprotect {short} {size}B"), |b| {
                let mut tx = Context::new(&master, Config::default());
                let mut rx = Context::new(&master, Config::default());
                let mut seq = 0u16;
                b.iter_batched(
                    || {
                        let mut p = fresh(&mut seq);
                        tx.protect_rtp(&mut p).unwrap();
                        p
                    },
                    |mut p| {
                        rx.unprotect_rtp(&mut p).unwrap();
                        p
                    },
                    batch,
                )
            });
            g.bench_function(format!("libsrtp2/unprotect {short} {size}B"), |b| {
                let mut tx = Context::new(&master, Config::default());
                let mut rx = lib_session(profile, &ks, true);
                let mut seq = 0u16;
                b.iter_batched(
                    || {
                        let mut p = fresh(&mut seq);
                        tx.protect_rtp(&mut p).unwrap();
                        p
                    },
                    |mut p| {
                        rx.unprotect(&mut p).unwrap();
                        p
                    },
                    batch,
                )
            });
        }
    }
    g.finish();

    // The primitives: the physical limit of each row above, measured the
    // same way (a fresh buffer per operation, 256 per batch).
    let mut g = c.benchmark_group("srtp-primitives");
    for size in [1200usize, 200] {
        let data = vec![0x5au8; size];
        let fresh = || {
            let mut v = Vec::with_capacity(size + 32);
            v.extend_from_slice(&data);
            v
        };
        {
            use aes::cipher::{InnerIvInit, KeyInit, StreamCipher};
            let aes = aes::Aes128::new(&[7u8; 16].into());
            g.bench_function(
                format!("rustcrypto aes-128-ctr {size}B, key expanded"),
                |b| {
                    b.iter_batched(
                        fresh,
                        |mut buf| {
                            let mut c = ctr::Ctr128BE::<aes::Aes128>::from_core(
                                ctr::CtrCore::inner_iv_init(aes.clone(), &[1u8; 16].into()),
                            );
                            c.apply_keystream(&mut buf);
                            buf
                        },
                        batch,
                    )
                },
            );
        }
        {
            use hmac::Mac;
            let k = hmac::Hmac::<sha1::Sha1>::new_from_slice(&[3u8; 20]).unwrap();
            g.bench_function(format!("rustcrypto hmac-sha1 {size}B, pre-keyed"), |b| {
                b.iter_batched(
                    fresh,
                    |buf| {
                        let mut m = k.clone();
                        m.update(&buf);
                        (buf, m.finalize().into_bytes())
                    },
                    batch,
                )
            });
        }
        {
            use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
            let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[9u8; 16]).unwrap());
            g.bench_function(format!("ring aes-128-gcm seal {size}B, in place"), |b| {
                b.iter_batched(
                    fresh,
                    |mut buf| {
                        let n = Nonce::assume_unique_for_key([1; 12]);
                        let tag =
                            key.seal_in_place_separate_tag(n, Aad::from(&[0u8; 12]), &mut buf);
                        (buf, tag.map(|t| black_box(t.as_ref()[0])))
                    },
                    batch,
                )
            });
        }
        {
            // The same seal on an RTP packet's layout: a 12-byte header as
            // AAD and the payload from offset 12, as SRTP really does it.
            use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
            let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[9u8; 16]).unwrap());
            g.bench_function(format!("ring aes-128-gcm seal {size}B, RTP layout"), |b| {
                b.iter_batched(
                    fresh,
                    |mut buf| {
                        let n = Nonce::assume_unique_for_key([1; 12]);
                        let (head, payload) = buf.split_at_mut(12);
                        let tag = key.seal_in_place_separate_tag(n, Aad::from(&*head), payload);
                        (buf.len(), tag.map(|t| black_box(t.as_ref()[0])))
                    },
                    batch,
                )
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = srtp_bench
}
criterion_main!(benches);

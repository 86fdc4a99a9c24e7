//! RFC test vectors: RFC 3711 B.2 (AES-CM keystream) and B.3 (key
//! derivation), RFC 6188 §7.2 (AES-256 PRF), RFC 7714 §16–17 (AES-GCM for
//! SRTP and SRTCP).

use crate::kdf::{derive, prf};
use crate::{Context, MasterKey, Profile, SrtpError};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let key: [u8; 16] = h("2B7E151628AED2A6ABF7158809CF4F3C").try_into().unwrap();
    // "F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000 (already shifted)": the 14-byte salt.
    let salt: [u8; 14] = h("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap();
    let mut ks = vec![0u8; 65_282 * 16];
    Context::cm_keystream(key, salt, 0, 0, &mut ks);
    let block = |i: usize| hex::encode_upper(&ks[i * 16..i * 16 + 16]);
    assert_eq!(block(0), "E03EAD0935C95E80E166B16DD92B4EB4");
    assert_eq!(block(1), "D23513162B02D0F72A43A2FE4A5F97AB");
    assert_eq!(block(2), "41E95B3BB0A2E8DD477901E4FCA894C0");
    assert_eq!(block(0xFEFF), "EC8CDF7398607CB0F2D21675EA9EA1E4");
    assert_eq!(block(0xFF00), "362B7C3C6773516318A077D7FC5073AE");
    assert_eq!(block(0xFF01), "6A2CC3787889374FBEB4C81B17BA6C44");
}

#[test]
fn rfc3711_b3_key_derivation() {
    let mk = MasterKey::new(
        Profile::Aes128CmHmacSha1_80,
        &h("E1F97A0D3E018BE0D64FA32C06DE4139"),
        &h("0EC675AD498AFEEBB6960B3AABE6"),
    )
    .unwrap();
    let mut key = [0u8; 16];
    derive(&mk, 0x00, &mut key);
    assert_eq!(hex::encode_upper(key), "C61E7A93744F39EE10734AFE3FF7A087");
    let mut salt = [0u8; 14];
    derive(&mk, 0x02, &mut salt);
    assert_eq!(hex::encode_upper(salt), "30CBBC08863D8C85D49DB34A9AE1");
    let mut auth = [0u8; 94];
    derive(&mk, 0x01, &mut auth);
    assert_eq!(
        hex::encode_upper(auth),
        "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE\
         E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25\
         6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"
    );
}

#[test]
fn rfc6188_aes_256_cm_prf() {
    let key = h("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6");
    let salt: [u8; 14] = h("3b04803de51ee7c96423ab5b78d2").try_into().unwrap();
    let mut k = [0u8; 32];
    prf(&key, &salt, 0x00, &mut k);
    assert_eq!(
        hex::encode(k),
        "5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4"
    );
    let mut s = [0u8; 14];
    prf(&key, &salt, 0x02, &mut s);
    assert_eq!(hex::encode(s), "fa31791685ca444a9e07c6c64e93");
    let mut a = [0u8; 20];
    prf(&key, &salt, 0x01, &mut a);
    assert_eq!(hex::encode(a), "fd9c32d39ed5fbb5a9dc96b30818454d1313dc05");
}

fn quid_pro_quo() -> [u8; 12] {
    h("517569642070726f2071756f").try_into().unwrap()
}

const RTP_PLAIN: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976
                         69736120 696e2070 61727465 73207472 6573";

#[test]
fn rfc7714_16_1_aes_128_gcm_rtp() {
    let key = h("000102030405060708090a0b0c0d0e0f");
    let mut c = Context::from_gcm_session_keys(Profile::AeadAes128Gcm, &key, quid_pro_quo());
    let mut pkt = h(RTP_PLAIN);
    c.protect_rtp(&mut pkt).unwrap();
    assert_eq!(
        pkt,
        h(
            "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5
           0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce"
        )
    );
    let mut r = Context::from_gcm_session_keys(Profile::AeadAes128Gcm, &key, quid_pro_quo());
    r.unprotect_rtp(&mut pkt).unwrap();
    assert_eq!(pkt, h(RTP_PLAIN));
}

#[test]
fn rfc7714_16_2_aes_256_gcm_rtp() {
    let key: Vec<u8> = (0u8..32).collect();
    let mut c = Context::from_gcm_session_keys(Profile::AeadAes256Gcm, &key, quid_pro_quo());
    let mut pkt = h(RTP_PLAIN);
    c.protect_rtp(&mut pkt).unwrap();
    assert_eq!(
        pkt,
        h(
            "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238
           9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13"
        )
    );
}

const RTCP_PLAIN: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61
                          deadbeef deadbeef deadbeef deadbeef deadbeef";

#[test]
fn rfc7714_17_1_aes_128_gcm_srtcp_encrypted() {
    let key = h("000102030405060708090a0b0c0d0e0f");
    let mut c = Context::from_gcm_session_keys(Profile::AeadAes128Gcm, &key, quid_pro_quo());
    c.set_srtcp_index(0x4d617273, 0x5d4);
    let mut pkt = h(RTCP_PLAIN);
    c.protect_rtcp(&mut pkt).unwrap();
    let expected = h(
        "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d
                      c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872
                      45d9eade 800005d4",
    );
    assert_eq!(pkt, expected);
    let mut r = Context::from_gcm_session_keys(Profile::AeadAes128Gcm, &key, quid_pro_quo());
    r.unprotect_rtcp(&mut pkt).unwrap();
    assert_eq!(pkt, h(RTCP_PLAIN));
}

#[test]
fn rfc7714_17_2_to_17_4_srtcp_verification() {
    let k128 = h("000102030405060708090a0b0c0d0e0f");
    let k256: Vec<u8> = (0u8..32).collect();
    // 17.2: AES-256, encrypted.
    let mut r = Context::from_gcm_session_keys(Profile::AeadAes256Gcm, &k256, quid_pro_quo());
    let mut pkt = h(
        "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50
                     a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c
                     b26ac3be 800005d4",
    );
    r.unprotect_rtcp(&mut pkt).unwrap();
    assert_eq!(pkt, h(RTCP_PLAIN));
    // 17.3 and 17.4: tagging only (E = 0).
    for (key, profile, tag) in [
        (
            &k128,
            Profile::AeadAes128Gcm,
            "841dd968 3dd78ec9 2ae58790 125f62b3",
        ),
        (
            &k256,
            Profile::AeadAes256Gcm,
            "91db4afb feee5a97 8fab4393 ed2615fe",
        ),
    ] {
        let mut r = Context::from_gcm_session_keys(profile, key, quid_pro_quo());
        let mut pkt = h(RTCP_PLAIN);
        pkt.extend_from_slice(&h(tag));
        pkt.extend_from_slice(&h("000005d4"));
        let mut forged = pkt.clone();
        forged[12] ^= 1;
        assert_eq!(r.unprotect_rtcp(&mut forged), Err(SrtpError::AuthFailed));
        r.unprotect_rtcp(&mut pkt).unwrap();
        assert_eq!(pkt, h(RTCP_PLAIN));
    }
}

fn cm_pair() -> (Context, Context) {
    let ks: Vec<u8> = (0u8..30).collect();
    let key = MasterKey::from_concatenated(Profile::Aes128CmHmacSha1_80, &ks).unwrap();
    (
        Context::new(&key, crate::Config::default()),
        Context::new(&key, crate::Config::default()),
    )
}

#[test]
fn truncated_and_malformed_packets_get_specific_errors_and_change_nothing() {
    let (mut tx, mut rx) = cm_pair();
    let mut good = h("80600001 00000001 cafebabe 01020304");
    tx.protect_rtp(&mut good).unwrap();
    for n in [0, 5, 11, 21] {
        let mut p = good[..n].to_vec();
        assert!(
            matches!(rx.unprotect_rtp(&mut p), Err(SrtpError::TooShort { .. })),
            "{n} bytes"
        );
    }
    let mut v1 = good.clone();
    v1[0] = 0x40;
    assert_eq!(rx.unprotect_rtp(&mut v1), Err(SrtpError::BadVersion(1)));
    // An extension header that claims more than the packet holds.
    let mut ext = good.clone();
    ext[0] |= 0x10;
    assert!(matches!(
        rx.unprotect_rtp(&mut ext),
        Err(SrtpError::TooShort { .. })
    ));
    assert_eq!(rx.roc(0xcafebabe), None, "no stream from bad packets");
    // The good packet still opens afterwards, exactly once.
    let mut p = good.clone();
    rx.unprotect_rtp(&mut p).unwrap();
    assert_eq!(p, h("80600001 00000001 cafebabe 01020304"));
    let mut again = good.clone();
    assert_eq!(rx.unprotect_rtp(&mut again), Err(SrtpError::Replayed(1)));

    // SRTCP: truncated below header + index + tag.
    let mut rtcp = h("80c90001 cafebabe");
    tx.protect_rtcp(&mut rtcp).unwrap();
    let mut short = rtcp[..21].to_vec();
    assert!(matches!(
        rx.unprotect_rtcp(&mut short),
        Err(SrtpError::TooShort { .. })
    ));
    let mut flipped = rtcp.clone();
    flipped[9] ^= 1;
    assert_eq!(rx.unprotect_rtcp(&mut flipped), Err(SrtpError::AuthFailed));
    let mut ok = rtcp.clone();
    rx.unprotect_rtcp(&mut ok).unwrap();
    assert_eq!(ok, h("80c90001 cafebabe"));
}

#[test]
fn each_direction_needs_its_own_key() {
    // RFC 5764 §4.2: the client's and the server's halves differ; a packet
    // protected with one does not open with the other.
    let m: Vec<u8> = (0u8..60).collect();
    let (client, server) = crate::split_keying_material(Profile::Aes128CmHmacSha1_80, &m).unwrap();
    let mut tx = Context::new(&client, crate::Config::default());
    let mut wrong = Context::new(&server, crate::Config::default());
    let mut right = Context::new(&client, crate::Config::default());
    let mut p = h("80600001 00000001 cafebabe 01020304");
    tx.protect_rtp(&mut p).unwrap();
    let mut q = p.clone();
    assert_eq!(wrong.unprotect_rtp(&mut q), Err(SrtpError::AuthFailed));
    right.unprotect_rtp(&mut p).unwrap();
}

#[test]
fn streams_are_limited_and_created_only_by_authentic_packets() {
    let ks: Vec<u8> = (0u8..30).collect();
    let key = MasterKey::from_concatenated(Profile::Aes128CmHmacSha1_80, &ks).unwrap();
    let cfg = crate::Config {
        max_streams: 2,
        ..Default::default()
    };
    let (mut tx, mut rx) = (
        Context::new(&key, crate::Config::default()),
        Context::new(&key, cfg),
    );
    for ssrc in [1u32, 2, 3] {
        let mut p = h("80600001 00000001 00000000 aa");
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        tx.protect_rtp(&mut p).unwrap();
        let r = rx.unprotect_rtp(&mut p);
        if ssrc < 3 {
            r.unwrap();
        } else {
            assert_eq!(r, Err(SrtpError::TooManyStreams(2)));
        }
    }
}

#[test]
fn the_sender_refuses_to_reuse_an_index() {
    for profile in Profile::ALL {
        let ks: Vec<u8> = (0..profile.master_key_len() + profile.master_salt_len())
            .map(|i| i as u8)
            .collect();
        let key = MasterKey::from_concatenated(profile, &ks).unwrap();
        let mut tx = Context::new(&key, crate::Config::default());
        let pkt = h("80600005 00000001 cafebabe 01020304");
        let mut a = pkt.clone();
        tx.protect_rtp(&mut a).unwrap();
        // The same sequence number with other bytes: refused, untouched.
        let mut b = h("80600005 00000001 cafebabe 09090909");
        assert_eq!(
            tx.protect_rtp(&mut b),
            Err(SrtpError::Replayed(5)),
            "{profile}"
        );
        assert_eq!(b, h("80600005 00000001 cafebabe 09090909"));
        // Older but unused inside the window: fine (packets sent out of order).
        let mut c = h("80600003 00000001 cafebabe 01020304");
        tx.protect_rtp(&mut c).unwrap();
        // With repeats allowed, an identical resend protects to the same bytes.
        let cfg = crate::Config {
            allow_repeat_tx: true,
            ..Default::default()
        };
        let mut tx = Context::new(&key, cfg);
        let (mut x, mut y) = (pkt.clone(), pkt.clone());
        tx.protect_rtp(&mut x).unwrap();
        tx.protect_rtp(&mut y).unwrap();
        assert_eq!(x, y);
    }
}

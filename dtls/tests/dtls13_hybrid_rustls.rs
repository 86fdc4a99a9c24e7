//! The X25519MLKEM768 hybrid key share (draft-ietf-tls-ecdhe-mlkem,
//! 0x11EC) against an independent implementation in memory: rustls with
//! its aws-lc-rs provider. Our client share completed by rustls's server
//! side, and rustls's client share answered by our server side: each
//! accepts the other's encoding (client: ML-KEM-768 encapsulation key ||
//! X25519 public key, 1216 bytes; server: ML-KEM ciphertext || X25519
//! public key, 1120 bytes) and both derive the same 64-byte secret
//! (ML-KEM shared secret || X25519 shared secret).

use meshrtc_dtls::v13::key_share::{respond, KeyShare, NamedGroup13};
use rustls::crypto::aws_lc_rs::kx_group::X25519MLKEM768;
use rustls::NamedGroup;

#[test]
fn rustls_and_we_name_the_same_code_point() {
    assert_eq!(X25519MLKEM768.name(), NamedGroup::X25519MLKEM768);
    assert_eq!(
        u16::from(X25519MLKEM768.name()),
        NamedGroup13::X25519MlKem768.id()
    );
}

#[test]
fn our_client_share_completed_by_rustls_gives_the_same_secret() {
    for seed in 0..4u8 {
        let ours = KeyShare::generate(NamedGroup13::X25519MlKem768, [seed; 32]).unwrap();
        assert_eq!(ours.public_key().len(), 1184 + 32);
        let theirs = X25519MLKEM768
            .start_and_complete(ours.public_key())
            .expect("rustls accepts our client share");
        assert_eq!(theirs.pub_key.len(), 1088 + 32);
        let secret = ours
            .agree(&theirs.pub_key)
            .expect("we accept rustls's answer");
        assert_eq!(secret.len(), 64);
        assert_eq!(secret, theirs.secret.secret_bytes(), "seed {seed}");
    }
}

#[test]
fn rustls_client_share_answered_by_us_gives_the_same_secret() {
    for seed in 0..4u8 {
        let theirs = X25519MLKEM768.start().unwrap();
        assert_eq!(theirs.pub_key().len(), 1184 + 32);
        let (public, secret) = respond(NamedGroup13::X25519MlKem768, theirs.pub_key(), [seed; 32])
            .expect("we accept rustls's client share");
        assert_eq!(public.len(), 1088 + 32);
        let their_secret = theirs
            .complete(&public)
            .expect("rustls accepts our server share");
        assert_eq!(secret, their_secret.secret_bytes(), "seed {seed}");
    }
}

#[test]
fn a_tampered_ciphertext_gives_rustls_another_secret() {
    // ML-KEM's implicit rejection (FIPS 203 §6.3): no error, a different
    // secret, so the handshake fails at Finished.
    let theirs = X25519MLKEM768.start().unwrap();
    let (mut public, secret) =
        respond(NamedGroup13::X25519MlKem768, theirs.pub_key(), [7; 32]).unwrap();
    public[10] ^= 1;
    if let Ok(their_secret) = theirs.complete(&public) {
        assert_ne!(secret, their_secret.secret_bytes());
    }
}

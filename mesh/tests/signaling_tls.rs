//! The signaling server over TLS (`wss://`), on loopback: a client that
//! pins the certificate's fingerprint or trusts it as a CA joins; one with
//! a wrong fingerprint, without any trust, or speaking plain WebSocket to
//! the TLS port does not, each with an error that says why.

use std::time::Duration;

use meshrtc_mesh::signaling::tls::format_fingerprint;
use meshrtc_mesh::signaling::{
    bind, ClientMessage, ServerConfig, ServerHandle, ServerMessage, ServerTls, ServerTrust,
    SignalingClient, SignalingError,
};

async fn tls_server() -> (ServerHandle, ServerTls) {
    let tls = ServerTls::self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
    let config = ServerConfig {
        tls: Some(tls.clone()),
        ..ServerConfig::default()
    };
    (bind("127.0.0.1:0", config).await.unwrap(), tls)
}

async fn join_and_welcome(url: &str, trust: &ServerTrust, name: &str) -> ServerMessage {
    let (client, mut events) = SignalingClient::connect_with_trust(url, Some(trust))
        .await
        .unwrap();
    client
        .send(ClientMessage::Join {
            room: "tls".into(),
            name: name.into(),
            password: None,
        })
        .unwrap();
    let welcome = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    client.close();
    welcome
}

#[tokio::test]
async fn a_client_pinning_the_fingerprint_joins_over_wss() {
    let (server, tls) = tls_server().await;
    assert!(server.ws_url().starts_with("wss://127.0.0.1:"));
    let welcome = join_and_welcome(
        &server.ws_url(),
        &ServerTrust::Fingerprint(tls.fingerprint),
        "pinned",
    )
    .await;
    assert!(
        matches!(&welcome, ServerMessage::Welcome { room, .. } if room == "tls"),
        "{welcome:?}"
    );
    assert_eq!(server.stats().rooms.joins, 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_trusting_the_certificate_as_a_ca_joins_by_ip_and_name() {
    let (server, tls) = tls_server().await;
    let trust = ServerTrust::Roots(vec![tls.certificate.clone()]);
    let port = server.local_addr().port();
    for url in [
        format!("wss://127.0.0.1:{port}/ws"),
        format!("wss://localhost:{port}/ws"),
    ] {
        let welcome = join_and_welcome(&url, &trust, "ca").await;
        assert!(matches!(welcome, ServerMessage::Welcome { .. }), "{url}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_wrong_fingerprint_is_refused_with_both_fingerprints_named() {
    let (server, tls) = tls_server().await;
    let mut wrong = tls.fingerprint;
    wrong[0] ^= 0xff;
    let err = SignalingClient::connect_with_trust(
        &server.ws_url(),
        Some(&ServerTrust::Fingerprint(wrong)),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, SignalingError::FingerprintMismatch { .. }),
        "{err:?}"
    );
    assert!(text.contains(&format_fingerprint(&wrong)), "{text}");
    assert!(
        text.contains(&format_fingerprint(&tls.fingerprint)),
        "{text}"
    );
    assert!(text.contains("not the expected"), "{text}");
    // The server saw the handshake fail and counted it; nobody joined.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while server.stats().tls_failures == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.stats().tls_failures, 1);
    assert_eq!(server.stats().rooms.joins, 0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_ca_that_did_not_sign_the_certificate_is_refused() {
    let (server, _tls) = tls_server().await;
    let other = ServerTls::self_signed(&["127.0.0.1".into()]).unwrap();
    let err = SignalingClient::connect_with_trust(
        &server.ws_url(),
        Some(&ServerTrust::Roots(vec![other.certificate.clone()])),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SignalingError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn wss_without_a_trust_and_plain_ws_to_a_tls_port_both_fail() {
    let (server, _tls) = tls_server().await;
    let err = SignalingClient::connect(&server.ws_url())
        .await
        .unwrap_err();
    assert!(matches!(err, SignalingError::NoTrust { .. }), "{err:?}");
    assert!(err.to_string().contains("--server-fingerprint"), "{err}");
    let plain = format!("ws://{}/ws", server.local_addr());
    let err = SignalingClient::connect(&plain).await.unwrap_err();
    assert!(matches!(err, SignalingError::Connect { .. }), "{err:?}");
    server.shutdown().await.unwrap();
}

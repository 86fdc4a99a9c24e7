//! The signaling server on a real socket, with real WebSocket clients.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use meshrtc_mesh::signaling::{
    self, ClientMessage, ErrorCode, PeerInfo, ServerConfig, ServerMessage, SignalingClient,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::Receiver;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);

async fn next(events: &mut Receiver<ServerMessage>) -> ServerMessage {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("no server message within 5 s")
        .expect("signaling connection closed")
}

async fn joined(
    url: &str,
    room: &str,
    name: &str,
) -> (
    SignalingClient,
    Receiver<ServerMessage>,
    String,
    Vec<PeerInfo>,
) {
    let (client, mut events) = SignalingClient::connect(url).await.unwrap();
    client
        .send(ClientMessage::Join {
            room: room.into(),
            name: name.into(),
            password: None,
        })
        .unwrap();
    match next(&mut events).await {
        ServerMessage::Welcome {
            id,
            room: r,
            peers,
            max_members,
            ..
        } => {
            assert_eq!((r.as_str(), max_members), (room, 6));
            (client, events, id, peers)
        }
        other => panic!("expected welcome, got {other:?}"),
    }
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(WAIT, tcp.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap()
}

#[tokio::test]
async fn two_rooms_relay_refuse_and_survive_a_hostile_client() {
    let server = signaling::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let url = server.ws_url();

    let (a1, mut a1_events, a1_id, peers) = joined(&url, "A", "ada").await;
    assert!(peers.is_empty());
    let (a2, mut a2_events, a2_id, peers) = joined(&url, "A", "grace").await;
    assert_eq!(
        peers,
        vec![PeerInfo {
            id: a1_id.clone(),
            name: "ada".into()
        }]
    );
    assert_eq!(
        next(&mut a1_events).await,
        ServerMessage::PeerJoined {
            peer: PeerInfo {
                id: a2_id.clone(),
                name: "grace".into()
            }
        }
    );
    let (b1, mut b1_events, b1_id, peers) = joined(&url, "B", "linus").await;
    assert!(peers.is_empty());

    // The newcomer offers and trickles to the member already there.
    a2.send(ClientMessage::Offer {
        to: a1_id.clone(),
        sdp: "v=0\r\n".into(),
    })
    .unwrap();
    a2.send(ClientMessage::Candidate {
        to: a1_id.clone(),
        candidate: None,
    })
    .unwrap();
    assert_eq!(
        next(&mut a1_events).await,
        ServerMessage::Offer {
            from: a2_id.clone(),
            sdp: "v=0\r\n".into()
        }
    );
    assert_eq!(
        next(&mut a1_events).await,
        ServerMessage::Candidate {
            from: a2_id.clone(),
            candidate: None
        }
    );

    // Room A cannot reach into room B.
    a1.send(ClientMessage::Offer {
        to: b1_id.clone(),
        sdp: "v=0\r\n".into(),
    })
    .unwrap();
    match next(&mut a1_events).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::UnknownPeer),
        other => panic!("expected unknown-peer, got {other:?}"),
    }

    // A raw client: garbage, a binary frame, then 100 KB.
    let (mut raw, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let error_code = |frame: Option<Result<Message, _>>| match frame {
        Some(Ok(Message::Text(t))) => match ServerMessage::parse(t.as_str()).unwrap() {
            ServerMessage::Error { code, .. } => code,
            other => panic!("expected an error, got {other:?}"),
        },
        other => panic!("expected a text frame, got {other:?}"),
    };
    raw.send(Message::text("{\"type\": nonsense"))
        .await
        .unwrap();
    let frame = read_skipping_pings(&mut raw).await;
    assert_eq!(error_code(frame), ErrorCode::BadJson);
    raw.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(
        error_code(read_skipping_pings(&mut raw).await),
        ErrorCode::BadJson
    );
    let huge = format!(
        r#"{{"type":"join","room":"A","name":"{}"}}"#,
        "x".repeat(100_000)
    );
    raw.send(Message::text(huge)).await.unwrap();
    assert_eq!(
        error_code(read_skipping_pings(&mut raw).await),
        ErrorCode::TooLarge
    );
    match read_skipping_pings(&mut raw).await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a close frame, got {other:?}"),
    }

    // Everyone else keeps working.
    a1.send(ClientMessage::Answer {
        to: a2_id.clone(),
        sdp: "v=0 answer\r\n".into(),
    })
    .unwrap();
    assert_eq!(
        next(&mut a2_events).await,
        ServerMessage::Answer {
            from: a1_id.clone(),
            sdp: "v=0 answer\r\n".into()
        }
    );

    // Dropping a member's client tells the rest of its room, and only them.
    drop(a2);
    drop(a2_events);
    assert_eq!(
        next(&mut a1_events).await,
        ServerMessage::PeerLeft { id: a2_id.clone() }
    );
    // b1 leaves; the not-joined answer to its next offer shows the leave
    // was handled before the counters are read.
    b1.send(ClientMessage::Leave).unwrap();
    b1.send(ClientMessage::Offer {
        to: a1_id.clone(),
        sdp: "v=0\r\n".into(),
    })
    .unwrap();
    match next(&mut b1_events).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::NotJoined),
        other => panic!("expected not-joined, got {other:?}"),
    }

    let stats: serde_json::Value =
        serde_json::from_str(&http_get(server.local_addr(), "/stats").await).unwrap();
    assert_eq!(stats["joins"], 3);
    assert_eq!(stats["messages_relayed"], 3);
    assert_eq!(stats["errors"]["unknown-peer"], 1);
    assert_eq!(stats["errors"]["bad-json"], 2);
    assert_eq!(stats["errors"]["too-large"], 1);
    assert_eq!(stats["errors"]["not-joined"], 1);
    assert_eq!(stats["closes"], 1);
    assert_eq!(stats["members"], 1, "{stats}");
    assert_eq!(stats["rooms"], 1, "{stats}");
    let s = server.stats();
    assert_eq!(s.rooms.errors_with(ErrorCode::TooLarge), 1);
    assert!(http_get(server.local_addr(), "/")
        .await
        .contains("meshrtc signaling"));
    assert!(http_get(server.local_addr(), "/protocol")
        .await
        .contains("never glare"));

    // Nothing from room A ever reached room B.
    assert!(b1_events.try_recv().is_err());
    server.shutdown().await.unwrap();
    // Shutting down closes every WebSocket: the event streams end.
    let end = tokio::time::timeout(WAIT, async { while a1_events.recv().await.is_some() {} });
    end.await.unwrap();
    assert!(matches!(
        a1.send(ClientMessage::Leave),
        Err(signaling::SignalingError::Closed)
    ));
}

async fn read_skipping_pings(
    raw: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    loop {
        let frame = tokio::time::timeout(WAIT, raw.next()).await.unwrap();
        match frame {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn a_frame_far_over_the_limit_is_cut_off_at_the_websocket_layer() {
    let server = signaling::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let (mut raw, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    let _ = raw.send(Message::binary(vec![0u8; 1 << 20])).await;
    // The server stops reading and drops the connection.
    let ended = tokio::time::timeout(WAIT, async { while let Some(Ok(_)) = raw.next().await {} });
    ended.await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.stats().transport_errors == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            server.stats()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.stats().rooms.connections, 0);
}

/// The client's own queue is bounded: a caller that sends faster than the
/// socket takes gets `Backlog` at `COMMAND_QUEUE`, not a growing queue; once
/// the task has written them, the backlog is gone. (On this single-threaded
/// runtime the task cannot run between the synchronous sends.)
#[tokio::test]
async fn the_client_refuses_to_queue_more_than_its_bound() {
    use meshrtc_mesh::signaling::client::{SignalingError, COMMAND_QUEUE};
    let server = signaling::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let (client, mut events, id, _) = joined(&server.ws_url(), "q", "a").await;
    let candidate = || ClientMessage::Candidate {
        to: id.clone(),
        candidate: None,
    };
    let mut queued = 0;
    let refused = loop {
        match client.send(candidate()) {
            Ok(()) => queued += 1,
            Err(e) => break e,
        }
        assert!(queued <= COMMAND_QUEUE, "queued past the bound");
    };
    assert!(matches!(refused, SignalingError::Backlog), "{refused:?}");
    assert_eq!(queued, COMMAND_QUEUE);
    // Let the task write them (the server answers each with an error: the
    // candidate is for ourselves), then the queue takes messages again.
    let _ = tokio::time::timeout(Duration::from_millis(500), next(&mut events)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // (The server may have closed us for the errors: `Closed` then.)
    assert!(!matches!(
        client.send(ClientMessage::Leave),
        Err(SignalingError::Backlog)
    ));
    server.shutdown().await.unwrap();
}

/// A hostile server: a message over the client's `MAX_MESSAGE` ends the
/// connection instead of being buffered (tungstenite's own default would
/// take 64 MiB), and one the caller does not read waits in a queue of at
/// most `EVENT_QUEUE` while the client stops reading the socket.
#[tokio::test]
async fn a_hostile_server_cannot_make_the_client_hold_more_than_its_bounds() {
    use futures_util::SinkExt;
    use meshrtc_mesh::signaling::client::{EVENT_QUEUE, MAX_MESSAGE};
    use tokio_tungstenite::tungstenite::Message;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        // First client: small messages as fast as it takes them.
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        // 16 KiB each: 20,000 of them are 320 MiB, far over what socket
        // buffers hold.
        let big = format!(r#"{{"type":"peer-left","id":"{}"}}"#, "p".repeat(16 * 1024));
        for n in 1..=20_000u32 {
            let write = ws.send(Message::text(big.clone()));
            if tokio::time::timeout(Duration::from_millis(300), write)
                .await
                .map_or(true, |r| r.is_err())
            {
                break;
            }
            let _ = sent_tx.send(n);
        }
        drop(ws);
        // Second client: one small message, then one over the bound.
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        ws.send(Message::text(r#"{"type":"peer-left","id":"p9"}"#))
            .await
            .unwrap();
        let _ = ws.send(Message::text("x".repeat(MAX_MESSAGE + 1))).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    });

    // The caller reads nothing: the server's writes stall once the client's
    // queue and the socket buffers are full, far short of 100,000.
    let (_c, mut events) = SignalingClient::connect(&url).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut sent = 0;
    while let Ok(n) = sent_rx.try_recv() {
        sent = n;
    }
    eprintln!("the server wrote {sent} messages of 16 KiB before it stalled");
    assert!(sent < 2_000, "the server wrote {sent} messages of 16 KiB");
    let mut queued = 0;
    while events.try_recv().is_ok() {
        queued += 1;
    }
    assert!(
        queued <= EVENT_QUEUE,
        "{queued} messages queued for the caller"
    );
    drop(_c);
    drop(events);

    let (_c, mut events) = SignalingClient::connect(&url).await.unwrap();
    let first = tokio::time::timeout(WAIT, events.recv()).await.unwrap();
    assert_eq!(first, Some(ServerMessage::PeerLeft { id: "p9".into() }));
    let end = tokio::time::timeout(WAIT, events.recv()).await.unwrap();
    assert_eq!(end, None, "the oversized message ended the connection");
    server.abort();
}

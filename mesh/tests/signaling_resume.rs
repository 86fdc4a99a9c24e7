//! Resuming a member's place after its connection dropped, on a real
//! server: the others hear nothing, what was relayed meanwhile arrives
//! after the new `welcome`, and a place not taken back within the resume
//! window ends with `peer-left`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use meshrtc_mesh::signaling::{
    bind, ClientMessage, ErrorCode, ServerConfig, ServerHandle, ServerMessage, SignalingClient,
};
use tokio::sync::mpsc::Receiver;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);

type RawWs =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw WebSocket that sends `message` and returns the first server
/// message.
async fn raw_send(server: &ServerHandle, message: &ClientMessage) -> (RawWs, ServerMessage) {
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    ws.send(Message::text(message.to_json())).await.unwrap();
    let first = raw_next(&mut ws).await;
    (ws, first)
}

async fn raw_next(ws: &mut RawWs) -> ServerMessage {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Text(t))) => return ServerMessage::parse(t.as_str()).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

async fn next(events: &mut Receiver<ServerMessage>) -> ServerMessage {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap()
        .unwrap()
}

fn join(name: &str) -> ClientMessage {
    ClientMessage::Join {
        room: "r".into(),
        name: name.into(),
        password: None,
    }
}

/// A phone (raw WebSocket) and a laptop (the library's client) in one room.
struct Room {
    phone: RawWs,
    phone_id: String,
    token: String,
    laptop: SignalingClient,
    laptop_events: Receiver<ServerMessage>,
}

async fn room(server: &ServerHandle) -> Room {
    let (phone, welcome) = raw_send(server, &join("phone")).await;
    let ServerMessage::Welcome {
        id: phone_id,
        resume: Some(token),
        ..
    } = welcome
    else {
        panic!("{welcome:?}");
    };
    let (laptop, mut laptop_events) = SignalingClient::connect(&server.ws_url()).await.unwrap();
    laptop.send(join("laptop")).unwrap();
    assert!(matches!(
        next(&mut laptop_events).await,
        ServerMessage::Welcome { .. }
    ));
    Room {
        phone,
        phone_id,
        token,
        laptop,
        laptop_events,
    }
}

#[tokio::test]
async fn a_dropped_member_resumes_its_place_and_gets_what_was_relayed_meanwhile() {
    let config = ServerConfig::default();
    let server = bind("127.0.0.1:0", config).await.unwrap();
    let Room {
        phone,
        phone_id,
        token,
        laptop,
        mut laptop_events,
    } = room(&server).await;
    // The phone's connection vanishes: TCP ends without a close frame.
    drop(phone);
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.stats().rooms.suspended == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            server.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The laptop offers to it (a renegotiation, say): held for it.
    laptop
        .send(ClientMessage::Offer {
            to: phone_id.clone(),
            sdp: "v=0\r\n".into(),
        })
        .unwrap();
    // The phone comes back on a new connection.
    let (mut back, welcome) = raw_send(&server, &ClientMessage::Resume { token }).await;
    let ServerMessage::Welcome { id, peers, .. } = welcome else {
        panic!("{welcome:?}");
    };
    assert_eq!(id, phone_id);
    assert_eq!(peers.len(), 1);
    assert!(
        matches!(raw_next(&mut back).await, ServerMessage::Offer { from, .. } if from == peers[0].id)
    );
    // It answers under its old id; the laptop never heard it leave.
    back.send(Message::text(
        ClientMessage::Answer {
            to: peers[0].id.clone(),
            sdp: "v=0\r\n".into(),
        }
        .to_json(),
    ))
    .await
    .unwrap();
    match next(&mut laptop_events).await {
        ServerMessage::Answer { from, .. } => assert_eq!(from, phone_id),
        other => panic!("the laptop got {other:?} first"),
    }
    let stats = server.stats();
    assert_eq!((stats.rooms.resumed, stats.rooms.members), (1, 2));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_place_not_taken_back_in_time_ends_with_peer_left_and_resume_fails() {
    let mut config = ServerConfig::default();
    config.rooms.resume_window = Duration::from_millis(200);
    let server = bind("127.0.0.1:0", config).await.unwrap();
    let mut r = room(&server).await;
    drop(r.phone);
    // The server's expiry runs every second: peer-left within 1.2 s.
    match next(&mut r.laptop_events).await {
        ServerMessage::PeerLeft { id } => assert_eq!(id, r.phone_id),
        other => panic!("{other:?}"),
    }
    let (_late, answer) = raw_send(&server, &ClientMessage::Resume { token: r.token }).await;
    assert!(
        matches!(
            answer,
            ServerMessage::Error {
                code: ErrorCode::ResumeFailed,
                ..
            }
        ),
        "{answer:?}"
    );
    assert_eq!(server.stats().rooms.resume_expired, 1);
    server.shutdown().await.unwrap();
}

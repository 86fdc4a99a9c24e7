//! The signaling server's limits, measured from outside on 127.0.0.1: caps
//! on connections, deadlines, a client that stops reading, a flooding
//! client, a frame that is not UTF-8, room passwords. Deadlines are short
//! here so that every test ends in a second or two.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use meshrtc_mesh::signaling::{
    self, ClientMessage, CloseReason, ErrorCode, PeerInfo, RoomPasswords, RoomsConfig,
    ServerConfig, ServerHandle, ServerMessage, ServerStats, SignalingClient,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

type RawWs = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// The bound on any one wait in these tests.
const WAIT: Duration = Duration::from_secs(5);

fn fast_config() -> ServerConfig {
    ServerConfig {
        handshake_timeout: Duration::from_millis(400),
        join_timeout: Duration::from_millis(300),
        close_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    }
}

async fn start(config: ServerConfig) -> ServerHandle {
    signaling::bind("127.0.0.1:0", config).await.unwrap()
}

/// Polls the server's counters until `done` holds; fails after `WAIT`.
async fn wait_for(server: &ServerHandle, what: &str, done: impl Fn(&ServerStats) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = server.stats();
        if done(&stats) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn next(events: &mut Receiver<ServerMessage>) -> ServerMessage {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("no server message within 5 s")
        .expect("signaling connection closed")
}

fn join(room: &str, name: &str, password: Option<&str>) -> ClientMessage {
    ClientMessage::Join {
        room: room.into(),
        name: name.into(),
        password: password.map(String::from),
    }
}

/// A `SignalingClient` in `room`, with its id.
async fn member(
    server: &ServerHandle,
    room: &str,
    name: &str,
) -> (SignalingClient, Receiver<ServerMessage>, String) {
    let (client, mut events) = SignalingClient::connect(&server.ws_url()).await.unwrap();
    client.send(join(room, name, None)).unwrap();
    match next(&mut events).await {
        ServerMessage::Welcome { id, .. } => (client, events, id),
        other => panic!("expected welcome, got {other:?}"),
    }
}

/// A WebSocket the test drives frame by frame.
async fn raw(server: &ServerHandle) -> RawWs {
    tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap()
        .0
}

/// The next frame that is not a ping or pong; `None` when the stream ends.
async fn read_frame(ws: &mut RawWs) -> Option<Result<Message, String>> {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no frame within 5 s");
        match frame {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(m)) => return Some(Ok(m)),
            Some(Err(e)) => return Some(Err(e.to_string())),
            None => return None,
        }
    }
}

/// Reads until the close frame and returns its code; fails on anything
/// else (a reset included).
async fn close_code(ws: &mut RawWs) -> u16 {
    match read_frame(ws).await {
        Some(Ok(Message::Close(Some(frame)))) => u16::from(frame.code),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

fn server_message(frame: Option<Result<Message, String>>) -> ServerMessage {
    match frame {
        Some(Ok(Message::Text(t))) => ServerMessage::parse(t.as_str()).unwrap(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// Whether a plain TCP connection was closed by the server, and what it
/// sent before; `None` if it is still open after `within`.
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Floods `slow` (who does not read) with offers from `from` until the
/// server closes it as not reading; returns how long that took.
async fn flood_until_closed(
    server: &ServerHandle,
    from: &SignalingClient,
    slow_id: &str,
) -> Duration {
    let sdp = "a".repeat(48 * 1024);
    let started = Instant::now();
    // At most 4,000 offers of 48 KiB (190 MB), far more than the socket
    // buffers of a loopback connection hold.
    for _ in 0..200 {
        for _ in 0..20 {
            from.send(ClientMessage::Offer {
                to: slow_id.into(),
                sdp: sdp.clone(),
            })
            .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        if server.stats().rooms.closed_for(CloseReason::NotReading) > 0 {
            return started.elapsed();
        }
        assert!(started.elapsed() < WAIT, "{:?}", server.stats());
    }
    panic!("never closed as not reading: {:?}", server.stats());
}

fn flood_config(max_queued_bytes: usize, write_timeout: Duration) -> ServerConfig {
    ServerConfig {
        max_queued_bytes,
        write_timeout,
        rooms: RoomsConfig {
            rate_per_second: 100_000.0,
            rate_burst: 100_000.0,
            ..RoomsConfig::default()
        },
        ..fast_config()
    }
}

/// The slow member joins last; `a` floods it. Afterwards it must be gone
/// everywhere, its socket closed, and `a` and `b` must still route exactly.
async fn slow_reader_scenario(config: ServerConfig) -> (Duration, ServerStats) {
    let server = start(config).await;
    let (a, mut a_events, a_id) = member(&server, "r", "a").await;
    let (b, mut b_events, b_id) = member(&server, "r", "b").await;
    let mut slow = raw(&server).await;
    slow.send(Message::text(join("r", "slow", None).to_json()))
        .await
        .unwrap();
    let slow_id = match server_message(read_frame(&mut slow).await) {
        ServerMessage::Welcome { id, .. } => id,
        other => panic!("expected welcome, got {other:?}"),
    };
    // From here on nobody polls `slow`: it reads nothing.
    let took = flood_until_closed(&server, &a, &slow_id).await;
    wait_for(&server, "slow socket closed", |s| {
        s.open_connections == 2 && s.rooms.connections == 2 && s.rooms.members == 2
    })
    .await;

    let slow_peer = PeerInfo {
        id: slow_id.clone(),
        name: "slow".into(),
    };
    assert_eq!(
        next(&mut b_events).await,
        ServerMessage::PeerJoined {
            peer: slow_peer.clone()
        }
    );
    assert_eq!(
        next(&mut b_events).await,
        ServerMessage::PeerLeft {
            id: slow_id.clone()
        }
    );
    for i in 0..50 {
        a.send(ClientMessage::Offer {
            to: b_id.clone(),
            sdp: format!("v=0 #{i}"),
        })
        .unwrap();
    }
    for i in 0..50 {
        assert_eq!(
            next(&mut b_events).await,
            ServerMessage::Offer {
                from: a_id.clone(),
                sdp: format!("v=0 #{i}")
            }
        );
    }
    b.send(ClientMessage::Answer {
        to: a_id.clone(),
        sdp: "v=0 answer".into(),
    })
    .unwrap();
    // `a` saw b and slow come, slow go, maybe unknown-peer for offers
    // sent after that, then the answer.
    match next(&mut a_events).await {
        ServerMessage::PeerJoined { peer } => assert_eq!(peer.id, b_id),
        other => panic!("expected peer-joined, got {other:?}"),
    }
    assert_eq!(
        next(&mut a_events).await,
        ServerMessage::PeerJoined { peer: slow_peer }
    );
    loop {
        match next(&mut a_events).await {
            ServerMessage::PeerLeft { id } => assert_eq!(id, slow_id),
            ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::UnknownPeer),
            ServerMessage::Answer { from, sdp } => {
                assert_eq!((from, sdp.as_str()), (b_id.clone(), "v=0 answer"));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(b_events.try_recv().is_err());
    let stats = server.stats();
    assert_eq!(stats.dropped_slow, 1, "{stats:?}");
    assert_eq!(stats.rooms.closed_for(CloseReason::NotReading), 1);
    drop(slow);
    (took, stats)
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_at_the_write_timeout_and_the_room_routes_on() {
    // A queue limit far above what the flood can reach, so the write
    // timeout is what closes the client.
    let write_timeout = Duration::from_millis(300);
    let (took, stats) = slow_reader_scenario(flood_config(1 << 30, write_timeout)).await;
    assert!(took >= write_timeout, "closed after {took:?}: {stats:?}");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
}

#[tokio::test]
async fn a_client_whose_queue_goes_over_its_byte_limit_is_closed_at_once() {
    // A write timeout longer than the test, so the byte limit is what
    // closes the client.
    let config = flood_config(256 * 1024, Duration::from_secs(60));
    let (took, _) = slow_reader_scenario(config).await;
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
}

#[tokio::test]
async fn connections_over_the_per_ip_cap_are_refused_and_idle_ones_end_at_the_handshake_deadline() {
    let config = ServerConfig {
        max_connections_per_ip: 8,
        handshake_timeout: Duration::from_secs(1),
        ..fast_config()
    };
    let server = start(config).await;
    let addr = server.local_addr();
    let mut holders = Vec::new();
    for _ in 0..8 {
        holders.push(TcpStream::connect(addr).await.unwrap());
    }
    wait_for(&server, "8 open", |s| s.open_connections == 8).await;
    let opened = Instant::now();
    // Twelve more, never sending a byte: each gets a 503 and is closed.
    for _ in 0..12 {
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let sent = closed_within(&mut extra, Duration::from_secs(2)).await;
        let sent = sent.expect("an extra connection stayed open");
        assert!(sent.starts_with("HTTP/1.1 503"), "{sent:?}");
    }
    // So is a real client while the cap is full.
    assert!(SignalingClient::connect(&server.ws_url()).await.is_err());
    let stats = server.stats();
    assert_eq!((stats.refused_per_ip, stats.refused_connections), (13, 0));
    assert_eq!(stats.open_connections, 8);

    // The holders never sent a request: closed at the handshake deadline.
    for tcp in &mut holders {
        let left = Duration::from_secs(3).saturating_sub(opened.elapsed());
        let sent = closed_within(tcp, left).await;
        assert_eq!(sent.as_deref(), Some(""), "a holder outlived the deadline");
    }
    assert!(opened.elapsed() >= Duration::from_millis(900));
    wait_for(&server, "holders freed", |s| {
        s.open_connections == 0 && s.handshake_timeouts == 8
    })
    .await;
    // A request that never finishes is cut off the same way.
    let mut slowloris = TcpStream::connect(addr).await.unwrap();
    slowloris
        .write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let sent = closed_within(&mut slowloris, Duration::from_secs(2)).await;
    assert_eq!(sent.as_deref(), Some(""));

    // Now a real join succeeds, and outlives the handshake deadline.
    let (a, mut events, _) = member(&server, "r", "a").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    a.send(ClientMessage::Leave).unwrap();
    a.send(ClientMessage::Leave).unwrap();
    match next(&mut events).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::NotJoined),
        other => panic!("expected not-joined, got {other:?}"),
    }
    assert_eq!(server.stats().handshake_timeouts, 9);
}

#[tokio::test]
async fn the_total_connection_cap_is_honoured_for_http_and_websockets_alike() {
    let config = ServerConfig {
        max_connections: 5,
        // Long enough that only the test closes the idle connections.
        handshake_timeout: Duration::from_secs(10),
        ..fast_config()
    };
    let server = start(config).await;
    let addr = server.local_addr();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let (a, mut a_events, _) = member(&server, "r", "a").await;
    wait_for(&server, "5 open", |s| s.open_connections == 5).await;
    for _ in 0..3 {
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let sent = closed_within(&mut extra, Duration::from_secs(2)).await;
        assert!(sent.expect("stayed open").starts_with("HTTP/1.1 503"));
    }
    let stats = server.stats();
    assert_eq!((stats.refused_connections, stats.refused_per_ip), (3, 0));
    assert_eq!(stats.open_connections, 5);
    // Closing two idle connections from our side makes room for two.
    idle.truncate(2);
    wait_for(&server, "3 open", |s| s.open_connections == 3).await;
    let (_b, _b_events, b_id) = member(&server, "r", "b").await;
    let (_c, _c_events, _) = member(&server, "r", "c").await;
    match next(&mut a_events).await {
        ServerMessage::PeerJoined { peer } => assert_eq!(peer.id, b_id),
        other => panic!("expected peer-joined, got {other:?}"),
    }
    assert!(SignalingClient::connect(&server.ws_url()).await.is_err());
    assert_eq!(server.stats().refused_connections, 4);
    assert!(server.stats().open_connections <= 5);
    drop(a);
}

#[tokio::test]
async fn a_websocket_that_never_joins_is_closed_at_the_join_deadline() {
    let server = start(fast_config()).await;
    let opened = Instant::now();
    let mut lurker = raw(&server).await;
    let (a, mut a_events, _) = member(&server, "r", "a").await;
    assert_eq!(close_code(&mut lurker).await, 4001);
    let took = opened.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // The member that joined in time is still there well after it.
    tokio::time::sleep(Duration::from_millis(400)).await;
    a.send(ClientMessage::Offer {
        to: "p999".into(),
        sdp: String::new(),
    })
    .unwrap();
    match next(&mut a_events).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::UnknownPeer),
        other => panic!("expected unknown-peer, got {other:?}"),
    }
    let stats = server.stats();
    assert_eq!(stats.rooms.closed_for(CloseReason::JoinTimeout), 1);
    assert_eq!((stats.rooms.connections, stats.rooms.members), (1, 1));
}

#[tokio::test]
async fn a_silent_websocket_is_closed_at_the_idle_timeout_and_one_that_answers_pings_is_not() {
    let config = ServerConfig {
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(400),
        // The silent client reads its close only after the test has
        // watched the lively one for a while: the server must still be
        // waiting for its close reply then, or the pongs the client owes
        // would meet a closed socket first.
        close_timeout: Duration::from_secs(3),
        ..fast_config()
    };
    let server = start(config).await;
    let mut silent = raw(&server).await;
    silent
        .send(Message::text(join("r", "silent", None).to_json()))
        .await
        .unwrap();
    // A client that reads answers pings: the client library sends the pong.
    let mut lively = raw(&server).await;
    lively
        .send(Message::text(join("r", "lively", None).to_json()))
        .await
        .unwrap();
    let pings = tokio::time::timeout(Duration::from_millis(900), async {
        let mut pings = 0;
        while let Some(Ok(frame)) = lively.next().await {
            if matches!(frame, Message::Ping(_)) {
                pings += 1;
            }
        }
        pings
    })
    .await;
    assert!(pings.is_err(), "the lively client was closed");
    // `silent` read nothing all this time: its socket holds welcome,
    // peer-joined (lively), pings, then the close.
    assert!(matches!(
        server_message(read_frame(&mut silent).await),
        ServerMessage::Welcome { .. }
    ));
    assert!(matches!(
        server_message(read_frame(&mut silent).await),
        ServerMessage::PeerJoined { .. }
    ));
    assert_eq!(close_code(&mut silent).await, 4000);
    let stats = server.stats();
    assert_eq!(stats.rooms.closed_for(CloseReason::IdleTimeout), 1);
    // The silent member keeps its place for the resume window (it may be a
    // phone that lost its network): one connection, two members, one of
    // them suspended.
    assert_eq!((stats.rooms.connections, stats.rooms.members), (1, 2));
    assert_eq!((stats.rooms.suspended, stats.idle_suspended), (1, 1));
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_gets_close_code_1007() {
    let server = start(fast_config()).await;
    let (_a, mut a_events, _) = member(&server, "r", "a").await;
    let mut bad = raw(&server).await;
    bad.send(Message::text(join("r", "bad", None).to_json()))
        .await
        .unwrap();
    assert!(matches!(
        server_message(read_frame(&mut bad).await),
        ServerMessage::Welcome { .. }
    ));
    // "{\"type\":\"leave\"}" with its quote mark replaced by a lone 0xff.
    let mut payload = br#"{"type":"leave"}"#.to_vec();
    payload[1] = 0xff;
    let frame = Frame::message(payload, OpCode::Data(Data::Text), true);
    bad.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(close_code(&mut bad).await, 1007);
    assert!(matches!(
        next(&mut a_events).await,
        ServerMessage::PeerJoined { .. }
    ));
    assert!(matches!(
        next(&mut a_events).await,
        ServerMessage::PeerLeft { .. }
    ));
    let stats = server.stats();
    assert_eq!(stats.rooms.closed_for(CloseReason::InvalidUtf8), 1);
    assert_eq!(stats.transport_errors, 0);
}

#[tokio::test]
async fn a_flooding_client_receives_close_code_1008_rather_than_a_reset() {
    // Default limits: a burst of 200, 50/s, closed after 20 protocol
    // errors. 1,500 messages of 2 KB are far more than that, and most are
    // still on their way when the server decides to close.
    let server = start(fast_config()).await;
    let mut ws = raw(&server).await;
    ws.send(Message::text(join("r", "flood", None).to_json()))
        .await
        .unwrap();
    assert!(matches!(
        server_message(read_frame(&mut ws).await),
        ServerMessage::Welcome { .. }
    ));
    let offer = ClientMessage::Offer {
        to: "p999".into(),
        sdp: "x".repeat(2000),
    }
    .to_json();
    let (mut sink, mut stream) = ws.split();
    let writer = tokio::spawn(async move {
        for _ in 0..1500 {
            if sink.feed(Message::text(offer.clone())).await.is_err() {
                break;
            }
        }
        let _ = sink.flush().await;
        sink
    });
    let (mut unknown_peer, mut rate_limited) = (0, 0);
    let code = loop {
        let frame = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("no frame within 5 s");
        match frame {
            Some(Ok(Message::Text(t))) => match ServerMessage::parse(t.as_str()).unwrap() {
                ServerMessage::Error {
                    code: ErrorCode::UnknownPeer,
                    ..
                } => {
                    unknown_peer += 1;
                }
                ServerMessage::Error {
                    code: ErrorCode::RateLimited,
                    ..
                } => {
                    rate_limited += 1;
                }
                other => panic!("unexpected {other:?}"),
            },
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!(
                "expected the close frame after {unknown_peer} + {rate_limited} errors, got {other:?}"
            ),
        }
    };
    assert_eq!(code, 1008);
    assert_eq!(rate_limited, 20);
    // The bucket starts with 200 tokens, one spent on the join; a few
    // more trickle in while the flood lasts.
    assert!((199..260).contains(&unknown_peer), "{unknown_peer}");
    // Reading on sends our close reply; then the server closes cleanly.
    let end = tokio::time::timeout(WAIT, async {
        while let Some(Ok(_)) = stream.next().await {}
    });
    end.await.unwrap();
    drop(writer.await.unwrap());
    let stats = server.stats();
    assert_eq!(stats.rooms.closed_for(CloseReason::TooManyErrors), 1);
    assert_eq!(stats.rooms.errors_with(ErrorCode::RateLimited), 20);
}

#[tokio::test]
async fn a_room_with_a_password_refuses_wrong_ones_and_admits_the_right_one() {
    let config = ServerConfig {
        rooms: RoomsConfig {
            passwords: RoomPasswords {
                all: None,
                rooms: [("board".to_owned(), "s3cret".to_owned())].into(),
            },
            ..RoomsConfig::default()
        },
        ..fast_config()
    };
    let server = start(config).await;
    let (client, mut events) = SignalingClient::connect(&server.ws_url()).await.unwrap();
    for password in [None, Some("guess"), Some("S3CRET")] {
        client.send(join("board", "eve", password)).unwrap();
        match next(&mut events).await {
            ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::BadPassword),
            other => panic!("expected bad-password, got {other:?}"),
        }
    }
    client.send(join("board", "ada", Some("s3cret"))).unwrap();
    match next(&mut events).await {
        ServerMessage::Welcome { room, peers, .. } => {
            assert_eq!(room, "board");
            assert!(peers.is_empty());
        }
        other => panic!("expected welcome, got {other:?}"),
    }
    // Another room needs none.
    let (_b, _b_events, _) = member(&server, "lobby", "bob").await;
    let stats = server.stats();
    assert_eq!(stats.rooms.errors_with(ErrorCode::BadPassword), 3);
    assert_eq!(stats.rooms.joins, 2);
    // /stats carries the counter under its wire name.
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let body = closed_within(&mut tcp, WAIT).await.unwrap();
    assert!(body.contains("\"bad-password\": 3"), "{body}");
    assert!(body.contains("\"refused_per_ip\": 0"), "{body}");
}

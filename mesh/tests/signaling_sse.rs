//! The HTTP transport of the signaling protocol (server-sent events down,
//! POST up), as an iPhone uses it when its WebSocket cannot connect:
//! tested with a raw HTTP/1.1 client over rustls, next to WebSocket
//! members, with the same messages, room passwords and limits.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use meshrtc_mesh::signaling::{
    bind, ClientMessage, ErrorCode, RoomPasswords, RoomsConfig, ServerConfig, ServerHandle,
    ServerMessage, ServerTls, ServerTrust, SignalingClient, SESSION_HEADER,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const WAIT: Duration = Duration::from_secs(5);

struct Tls {
    connector: tokio_rustls::TlsConnector,
    addr: SocketAddr,
    trust: ServerTrust,
}

impl Tls {
    async fn connect(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
        self.connector.connect(name, tcp).await.unwrap()
    }
}

async fn tls_server(mut config: ServerConfig) -> (ServerHandle, Arc<Tls>) {
    let tls = ServerTls::self_signed(&["127.0.0.1".into()]).unwrap();
    let trust = ServerTrust::Fingerprint(tls.fingerprint);
    config.tls = Some(tls);
    let client_config = trust.client_config().unwrap();
    let server = bind("127.0.0.1:0", config).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(client_config);
    let addr = server.local_addr();
    (
        server,
        Arc::new(Tls {
            connector,
            addr,
            trust,
        }),
    )
}

/// One event of the stream: its name (`message` by default) and data.
#[derive(Debug)]
struct Event {
    name: String,
    data: String,
}

/// An open `GET /sse`: reads the chunked body and splits it into events.
struct EventStream {
    reader: BufReader<TlsStream<TcpStream>>,
    pending: String,
    events: VecDeque<Event>,
    session: String,
}

impl EventStream {
    async fn open(tls: &Tls) -> EventStream {
        let mut stream = tls.connect().await;
        let request = format!(
            "GET /sse HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
            tls.addr
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            head.push(line.trim_end().to_ascii_lowercase());
        }
        assert!(head[0].starts_with("http/1.1 200"), "{head:?}");
        assert!(
            head.contains(&"content-type: text/event-stream".to_owned()),
            "{head:?}"
        );
        assert!(
            head.contains(&"transfer-encoding: chunked".to_owned()),
            "{head:?}"
        );
        let mut es = EventStream {
            reader,
            pending: String::new(),
            events: VecDeque::new(),
            session: String::new(),
        };
        let first = es.next().await.expect("a session event");
        assert_eq!(first.name, "session");
        let v: Value = serde_json::from_str(&first.data).unwrap();
        es.session = v["session"].as_str().unwrap().to_owned();
        assert_eq!(es.session.len(), 32, "128 bits in hex");
        assert_eq!(v["id_header"], SESSION_HEADER);
        es
    }

    /// The next event, comments skipped; `None` when the stream ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            // One chunk: its size in hex, the bytes, CRLF.
            let mut size = String::new();
            let n = tokio::time::timeout(WAIT, self.reader.read_line(&mut size))
                .await
                .expect("no event within 5 s")
                .unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || size == 0 {
                return None;
            }
            let mut chunk = vec![0u8; size + 2];
            self.reader.read_exact(&mut chunk).await.unwrap();
            self.pending
                .push_str(std::str::from_utf8(&chunk[..size]).unwrap());
            while let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                let mut name = "message".to_owned();
                let mut data = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        name = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(v.to_owned());
                    }
                }
                if let Some(data) = data {
                    self.events.push_back(Event { name, data });
                }
            }
        }
    }

    async fn message(&mut self) -> ServerMessage {
        let e = self.next().await.expect("the stream ended");
        assert_eq!(e.name, "message", "{e:?}");
        ServerMessage::parse(&e.data).unwrap()
    }
}

/// `POST /sse/send` on a connection of its own; the status code.
async fn post(tls: &Tls, session: &str, body: &[u8]) -> u16 {
    let mut stream = tls.connect().await;
    let head = format!(
        "POST /sse/send HTTP/1.1\r\nHost: {}\r\n{SESSION_HEADER}: {session}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        tls.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response);
    text.get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

async fn post_message(tls: &Tls, session: &str, message: &ClientMessage) -> u16 {
    post(tls, session, message.to_json().as_bytes()).await
}

fn join(room: &str, name: &str, password: Option<&str>) -> ClientMessage {
    ClientMessage::Join {
        room: room.into(),
        name: name.into(),
        password: password.map(str::to_owned),
    }
}

#[tokio::test]
async fn an_sse_member_and_a_websocket_member_exchange_offer_answer_and_candidates() {
    let (server, tls) = tls_server(ServerConfig::default()).await;
    let mut sse = EventStream::open(&tls).await;
    assert_eq!(
        post_message(&tls, &sse.session, &join("r", "iphone", None)).await,
        204
    );
    let sse_id = match sse.message().await {
        ServerMessage::Welcome { id, peers, .. } => {
            assert!(peers.is_empty());
            id
        }
        other => panic!("{other:?}"),
    };

    let (ws, mut ws_events) =
        SignalingClient::connect_with_trust(&server.ws_url(), Some(&tls.trust))
            .await
            .unwrap();
    ws.send(join("r", "laptop", None)).unwrap();
    let ws_id = match tokio::time::timeout(WAIT, ws_events.recv()).await.unwrap() {
        Some(ServerMessage::Welcome { id, peers, .. }) => {
            assert_eq!(peers.len(), 1);
            assert_eq!(
                (peers[0].id.as_str(), peers[0].name.as_str()),
                (sse_id.as_str(), "iphone")
            );
            id
        }
        other => panic!("{other:?}"),
    };
    match sse.message().await {
        ServerMessage::PeerJoined { peer } => assert_eq!(peer.id, ws_id),
        other => panic!("{other:?}"),
    }
    // The newcomer (WebSocket) offers; the SSE member answers by POST.
    let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
    ws.send(ClientMessage::Offer {
        to: sse_id.clone(),
        sdp: sdp.into(),
    })
    .unwrap();
    match sse.message().await {
        ServerMessage::Offer { from, sdp: got } => {
            assert_eq!(from, ws_id);
            assert_eq!(got, sdp, "line breaks survive the event stream");
        }
        other => panic!("{other:?}"),
    }
    let answer = ClientMessage::Answer {
        to: ws_id.clone(),
        sdp: "v=0\r\n".into(),
    };
    assert_eq!(post_message(&tls, &sse.session, &answer).await, 204);
    let end = ClientMessage::Candidate {
        to: ws_id.clone(),
        candidate: None,
    };
    assert_eq!(post_message(&tls, &sse.session, &end).await, 204);
    for want in ["answer", "candidate"] {
        let got = tokio::time::timeout(WAIT, ws_events.recv())
            .await
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(&got.to_json()).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["from"].as_str()),
            (Some(want), Some(sse_id.as_str())),
            "{v}"
        );
    }
    // Errors come back as messages, as over a WebSocket.
    let stray = ClientMessage::Offer {
        to: "p999".into(),
        sdp: "v=0\r\n".into(),
    };
    assert_eq!(post_message(&tls, &sse.session, &stray).await, 204);
    match sse.message().await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::UnknownPeer),
        other => panic!("{other:?}"),
    }
    ws.close();
    match sse.message().await {
        ServerMessage::PeerLeft { id } => assert_eq!(id, ws_id),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.stats().sse_sessions, 1);
    server.shutdown().await.unwrap();
    // The server going away ends the stream with a close event.
    let e = sse.next().await.expect("a close event");
    assert_eq!(e.name, "close");
    assert!(e.data.contains("1001"), "{e:?}");
}

#[tokio::test]
async fn room_passwords_hold_over_sse() {
    let mut config = ServerConfig {
        rooms: RoomsConfig {
            passwords: RoomPasswords {
                all: None,
                rooms: [("locked".to_owned(), "s3cret".to_owned())].into(),
            },
            ..RoomsConfig::default()
        },
        ..ServerConfig::default()
    };
    config.join_timeout = Duration::from_secs(5);
    let (server, tls) = tls_server(config).await;
    let mut sse = EventStream::open(&tls).await;
    post_message(&tls, &sse.session, &join("locked", "guess", Some("wrong"))).await;
    match sse.message().await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::BadPassword),
        other => panic!("{other:?}"),
    }
    post_message(
        &tls,
        &sse.session,
        &join("locked", "friend", Some("s3cret")),
    )
    .await;
    assert!(matches!(sse.message().await, ServerMessage::Welcome { .. }));
    assert_eq!(server.stats().rooms.joins, 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_sessions_oversize_bodies_and_bad_json_get_their_answers() {
    let (server, tls) = tls_server(ServerConfig::default()).await;
    assert_eq!(
        post(&tls, "0123456789abcdef0123456789abcdef", b"{}").await,
        404
    );
    let mut sse = EventStream::open(&tls).await;
    // An empty body is a keep-alive; bad JSON is a protocol error message.
    assert_eq!(post(&tls, &sse.session, b"").await, 204);
    assert_eq!(post(&tls, &sse.session, b"{not json").await, 204);
    match sse.message().await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::BadJson),
        other => panic!("{other:?}"),
    }
    // Over the protocol limit (64 KiB) but within the transport's (twice
    // that): `too-large`, then the close.
    let big = format!(
        "{{\"type\":\"offer\",\"to\":\"p1\",\"sdp\":\"{}\"}}",
        "a".repeat(70 * 1024)
    );
    assert_eq!(post(&tls, &sse.session, big.as_bytes()).await, 204);
    match sse.message().await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::TooLarge),
        other => panic!("{other:?}"),
    }
    let e = sse.next().await.expect("a close event");
    assert_eq!(e.name, "close");
    let v: Value = serde_json::from_str(&e.data).unwrap();
    assert_eq!(v["code"], 1009, "{v}");
    assert!(
        sse.next().await.is_none(),
        "the stream ends after the close"
    );
    assert_eq!(
        post(&tls, &sse.session, b"").await,
        404,
        "the session is gone"
    );

    // Over the transport's limit: refused unread, the session closed.
    let mut sse = EventStream::open(&tls).await;
    let huge = vec![b' '; 200 * 1024];
    assert_eq!(post(&tls, &sse.session, &huge).await, 413);
    let e = sse.next().await.expect("a close event");
    assert_eq!(e.name, "close");
    assert_eq!(server.stats().transport_errors, 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stream_outlives_the_handshake_deadline_but_not_the_join_or_idle_deadlines() {
    let mut config = ServerConfig {
        handshake_timeout: Duration::from_millis(300),
        join_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(600),
        ..ServerConfig::default()
    };
    // An idle member keeps its place this long before the others hear it
    // left.
    config.rooms.resume_window = Duration::from_millis(300);
    let (server, tls) = tls_server(config).await;
    // A session that never joins is closed at the join deadline (4001).
    let mut idle = EventStream::open(&tls).await;
    let e = idle.next().await.expect("a close event");
    assert_eq!(
        (e.name.as_str(), e.data.contains("4001")),
        ("close", true),
        "{e:?}"
    );
    // Its client goes, so its connection is not left to the deadline.
    drop(idle);

    // One that joins and keeps posting stays past the handshake deadline.
    let mut sse = EventStream::open(&tls).await;
    post_message(&tls, &sse.session, &join("r", "kept", None)).await;
    assert!(matches!(sse.message().await, ServerMessage::Welcome { .. }));
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(post(&tls, &sse.session, b"").await, 204);
    }
    // 1.2 s after it opened, past both deadlines: a newcomer still reaches it.
    let mut other = EventStream::open(&tls).await;
    post_message(&tls, &other.session, &join("r", "late", None)).await;
    assert!(matches!(
        other.message().await,
        ServerMessage::Welcome { .. }
    ));
    // The newcomer keeps posting keep-alives, so only the first goes idle.
    let keep_alive = {
        let (tls, session) = (tls.clone(), other.session.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(150)).await;
                post(&tls, &session, b"").await;
            }
        })
    };
    assert!(matches!(
        sse.message().await,
        ServerMessage::PeerJoined { .. }
    ));
    // Then silence: the idle timeout (4000) ends it, and once its resume
    // window has passed the other member hears that it left.
    let e = sse.next().await.expect("a close event");
    assert_eq!(
        (e.name.as_str(), e.data.contains("4000")),
        ("close", true),
        "{e:?}"
    );
    drop(sse);
    assert!(matches!(
        other.message().await,
        ServerMessage::PeerLeft { .. }
    ));
    keep_alive.abort();
    assert_eq!(server.stats().handshake_timeouts, 0);
    server.shutdown().await.unwrap();
}

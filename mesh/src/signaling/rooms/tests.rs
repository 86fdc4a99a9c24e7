use super::*;
use crate::signaling::protocol::ErrorCode as E;
use std::time::Duration;

struct Server {
    rooms: Rooms,
    now: Instant,
}

/// What one call produced, decoded.
#[derive(Debug, Default)]
struct Outs {
    sent: Vec<(ClientId, ServerMessage)>,
    closed: Vec<(ClientId, CloseReason)>,
}

impl Outs {
    fn to(&self, c: ClientId) -> Vec<&ServerMessage> {
        self.sent
            .iter()
            .filter(|(t, _)| *t == c)
            .map(|(_, m)| m)
            .collect()
    }
    fn only_error(&self, c: ClientId) -> ErrorCode {
        assert_eq!(self.sent.len(), 1, "{self:?}");
        match &self.sent[0] {
            (t, ServerMessage::Error { code, .. }) if *t == c => *code,
            other => panic!("expected one error for {c}, got {other:?}"),
        }
    }
}

fn decode(out: Vec<Output>) -> Outs {
    let mut o = Outs::default();
    for x in out {
        match x {
            Output::Send { to, text } => o.sent.push((to, ServerMessage::parse(&text).unwrap())),
            Output::Close { client, reason } => o.closed.push((client, reason)),
        }
    }
    o
}

impl Server {
    fn new() -> Server {
        Server::with(RoomsConfig::default())
    }
    fn with(config: RoomsConfig) -> Server {
        Server {
            rooms: Rooms::new(config),
            now: Instant::now(),
        }
    }
    fn connect(&mut self) -> ClientId {
        self.rooms.connect(self.now)
    }
    fn text(&mut self, c: ClientId, text: &str) -> Outs {
        decode(self.rooms.handle_text(self.now, c, text))
    }
    fn send(&mut self, c: ClientId, m: &ClientMessage) -> Outs {
        self.text(c, &m.to_json())
    }
    fn join(&mut self, c: ClientId, room: &str, name: &str) -> Outs {
        self.join_with(c, room, name, None)
    }
    fn join_with(&mut self, c: ClientId, room: &str, name: &str, password: Option<&str>) -> Outs {
        self.send(
            c,
            &ClientMessage::Join {
                room: room.into(),
                name: name.into(),
                password: password.map(String::from),
            },
        )
    }
    fn joined(&mut self, room: &str, name: &str) -> ClientId {
        let c = self.connect();
        let o = self.join(c, room, name);
        assert!(
            matches!(o.to(c)[..], [ServerMessage::Welcome { .. }]),
            "{o:?}"
        );
        c
    }
    fn offer(&mut self, from: ClientId, to: &str) -> Outs {
        self.send(
            from,
            &ClientMessage::Offer {
                to: to.into(),
                sdp: "v=0\r\n".into(),
            },
        )
    }
}

#[test]
fn newcomer_gets_the_roster_and_every_member_gets_peer_joined() {
    let mut s = Server::new();
    let a = s.joined("standup", "Ada");
    let b = s.joined("standup", "Grace");
    let c = s.connect();
    let o = s.join(c, "standup", "Linus");
    // A resume token: 128 bits in hex.
    let resume = match o.to(c)[..] {
        [ServerMessage::Welcome { resume, .. }] => resume.clone(),
        _ => None,
    };
    assert!(
        resume
            .as_ref()
            .is_some_and(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit())),
        "{resume:?}"
    );
    let welcome = ServerMessage::Welcome {
        id: c.peer_id(),
        room: "standup".into(),
        peers: vec![
            PeerInfo {
                id: a.peer_id(),
                name: "Ada".into(),
            },
            PeerInfo {
                id: b.peer_id(),
                name: "Grace".into(),
            },
        ],
        max_members: 6,
        ice_servers: Vec::new(),
        resume,
    };
    assert_eq!(o.to(c), vec![&welcome]);
    let joined = ServerMessage::PeerJoined {
        peer: PeerInfo {
            id: c.peer_id(),
            name: "Linus".into(),
        },
    };
    assert_eq!(o.to(a), vec![&joined]);
    assert_eq!(o.to(b), vec![&joined]);
    assert_eq!(o.sent.len(), 3);
    // Ids are p1, p2, ... in connection order.
    assert_eq!(
        (a.peer_id(), b.peer_id(), c.peer_id()),
        ("p1".into(), "p2".into(), "p3".into())
    );
    let st = s.rooms.stats();
    assert_eq!(
        (st.connections, st.rooms, st.members, st.joins),
        (3, 1, 3, 3)
    );
}

#[test]
fn seventh_join_gets_room_full_and_may_join_another_room() {
    let mut s = Server::new();
    for i in 0..6 {
        s.joined("big", &format!("m{i}"));
    }
    let late = s.connect();
    assert_eq!(s.join(late, "big", "late").only_error(late), E::RoomFull);
    assert!(s.rooms.is_connected(late));
    assert_eq!(s.rooms.room_of(late), None);
    let o = s.join(late, "small", "late");
    assert!(matches!(o.to(late)[..], [ServerMessage::Welcome { .. }]));
    let st = s.rooms.stats();
    assert_eq!(
        (st.rooms, st.members, st.errors_with(E::RoomFull)),
        (2, 7, 1)
    );
    assert!(s.rooms.rooms().all(|(_, m)| m.len() <= 6));
}

#[test]
fn relay_reaches_only_the_target_with_from_set() {
    let mut s = Server::new();
    let a = s.joined("r", "a");
    let b = s.joined("r", "b");
    let c = s.joined("r", "c");
    let o = s.offer(c, &a.peer_id());
    assert_eq!(
        o.sent,
        vec![(
            a,
            ServerMessage::Offer {
                from: c.peer_id(),
                sdp: "v=0\r\n".into()
            }
        )]
    );
    let o = s.send(
        a,
        &ClientMessage::Answer {
            to: c.peer_id(),
            sdp: "v=0 answer".into(),
        },
    );
    assert_eq!(o.to(c).len(), 1);
    assert!(o.to(b).is_empty());
    let o = s.text(
        a,
        &format!(r#"{{"type":"candidate","to":"{c}","candidate":null}}"#),
    );
    assert_eq!(
        o.sent,
        vec![(
            c,
            ServerMessage::Candidate {
                from: a.peer_id(),
                candidate: None
            }
        )]
    );
    let cand = r#"{"candidate":"candidate:1 1 udp 2122260223 10.0.0.2 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"u1"}"#;
    let o = s.text(
        b,
        &format!(r#"{{"type":"candidate","to":"{a}","candidate":{cand}}}"#),
    );
    let ServerMessage::Candidate { from, candidate } = o.to(a)[0] else {
        panic!("{o:?}")
    };
    assert_eq!(from, &b.peer_id());
    let expected: IceCandidateInit = serde_json::from_str(cand).unwrap();
    assert_eq!(candidate.as_ref(), Some(&expected));
    assert_eq!(s.rooms.stats().messages_relayed, 4);
}

#[test]
fn ids_from_another_room_and_made_up_ids_are_unknown_peers() {
    let mut s = Server::new();
    let a1 = s.joined("a", "a1");
    let _a2 = s.joined("a", "a2");
    let b1 = s.joined("b", "b1");
    let loner = s.connect();
    for target in [
        b1.peer_id(),
        loner.peer_id(),
        a1.peer_id(),
        "p99".into(),
        "p01".into(),
        "x".into(),
        String::new(),
    ] {
        assert_eq!(
            s.offer(a1, &target).only_error(a1),
            E::UnknownPeer,
            "{target}"
        );
    }
    // And the other way: b1 cannot reach into room a.
    assert_eq!(s.offer(b1, &a1.peer_id()).only_error(b1), E::UnknownPeer);
    let st = s.rooms.stats();
    assert_eq!(
        (st.messages_relayed, st.errors_with(E::UnknownPeer)),
        (0, 8)
    );
    // unknown-peer is no misbehaviour: the connection stays open.
    for _ in 0..30 {
        s.offer(a1, "p99");
    }
    assert!(s.rooms.is_connected(a1));
}

#[test]
fn messages_before_join_are_refused_with_not_joined() {
    let mut s = Server::new();
    let a = s.joined("r", "a");
    let c = s.connect();
    assert_eq!(s.offer(c, &a.peer_id()).only_error(c), E::NotJoined);
    let o = s.text(c, r#"{"type":"candidate","to":"p1","candidate":null}"#);
    assert_eq!(o.only_error(c), E::NotJoined);
    assert_eq!(s.send(c, &ClientMessage::Leave).only_error(c), E::NotJoined);
    assert_eq!(s.rooms.stats().errors_with(E::NotJoined), 3);
}

#[test]
fn second_join_is_already_joined_and_leave_allows_another() {
    let mut s = Server::new();
    let a = s.joined("r", "a");
    let b = s.joined("r", "b");
    assert_eq!(s.join(a, "other", "a").only_error(a), E::AlreadyJoined);
    assert_eq!(s.join(a, "r", "a").only_error(a), E::AlreadyJoined);
    let o = s.send(a, &ClientMessage::Leave);
    assert_eq!(
        o.sent,
        vec![(b, ServerMessage::PeerLeft { id: a.peer_id() })]
    );
    assert_eq!(s.rooms.room_of(a), None);
    let o = s.join(a, "other", "a");
    assert!(matches!(o.to(a)[..], [ServerMessage::Welcome { .. }]));
    assert_eq!(s.rooms.stats().errors_with(E::AlreadyJoined), 2);
}

#[test]
fn disconnect_sends_peer_left_and_an_empty_room_is_removed() {
    let mut s = Server::new();
    let a = s.joined("r", "a");
    let b = s.joined("r", "b");
    let c = s.joined("r", "c");
    let o = decode(s.rooms.disconnect(b));
    let left = ServerMessage::PeerLeft { id: b.peer_id() };
    assert_eq!(o.sent, vec![(a, left.clone()), (c, left)]);
    // The roster a newcomer sees no longer has b.
    let d = s.connect();
    let o = s.join(d, "r", "d");
    let ServerMessage::Welcome { peers, .. } = o.to(d)[0] else {
        panic!("{o:?}")
    };
    let ids: Vec<&str> = peers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, [a.peer_id(), c.peer_id()]);
    for x in [a, c, d] {
        let _ = s.rooms.disconnect(x);
    }
    let st = s.rooms.stats();
    assert_eq!((st.connections, st.rooms, st.members), (0, 0, 0));
    assert_eq!(s.rooms.rooms().count(), 0);
    // A second disconnect, or one of a stranger, does nothing.
    assert!(s.rooms.disconnect(a).is_empty());
    assert!(s
        .rooms
        .handle_text(s.now, a, r#"{"type":"leave"}"#)
        .is_empty());
}

#[test]
fn bad_json_unknown_type_bad_field_and_binary_are_answered_and_counted() {
    let mut s = Server::new();
    let a = s.joined("r", "a");
    let b = s.joined("r", "b");
    assert_eq!(s.text(a, "{\"type\":").only_error(a), E::BadJson);
    assert_eq!(s.text(a, "\"join\"").only_error(a), E::BadJson);
    assert_eq!(
        s.text(a, r#"{"type":"hello"}"#).only_error(a),
        E::UnknownType
    );
    assert_eq!(
        s.text(a, r#"{"type":"offer","to":"p2"}"#).only_error(a),
        E::BadField
    );
    let c = s.connect();
    let long = "x".repeat(65);
    assert_eq!(s.join(c, &long, "c").only_error(c), E::BadField);
    assert_eq!(s.join(c, "r", "").only_error(c), E::BadField);
    let o = decode(s.rooms.handle_binary(s.now, a, b"\x00\x01"));
    assert_eq!(o.only_error(a), E::BadJson);
    let st = s.rooms.stats();
    assert_eq!(st.errors_with(E::BadJson), 3);
    assert_eq!(st.errors_with(E::UnknownType), 1);
    assert_eq!(st.errors_with(E::BadField), 3);
    assert_eq!(st.closes, 0);
    // The room goes on.
    assert_eq!(s.offer(b, &a.peer_id()).to(a).len(), 1);
}

#[test]
fn oversize_message_gets_too_large_then_a_close_and_the_room_sees_peer_left() {
    let mut s = Server::new();
    let a = s.joined("r", "a");
    let b = s.joined("r", "b");
    let sdp = "a".repeat(64 * 1024);
    let o = s.offer(a, &b.peer_id());
    assert_eq!(o.to(b).len(), 1);
    let big = ClientMessage::Offer {
        to: b.peer_id(),
        sdp,
    };
    let o = s.send(a, &big);
    assert!(matches!(
        o.to(a)[..],
        [ServerMessage::Error {
            code: E::TooLarge,
            ..
        }]
    ));
    assert_eq!(o.closed, vec![(a, CloseReason::TooLarge)]);
    assert_eq!(o.to(b), vec![&ServerMessage::PeerLeft { id: a.peer_id() }]);
    assert_eq!(s.rooms.stats().closes, 1);
    assert!(!s.rooms.is_connected(a));
    // Binary frames over the limit too.
    let c = s.connect();
    let o = decode(s.rooms.handle_binary(s.now, c, &vec![0; 64 * 1024 + 1]));
    assert_eq!(o.closed, vec![(c, CloseReason::TooLarge)]);
    let st = s.rooms.stats();
    assert_eq!(
        (st.errors_with(E::TooLarge), st.closes, st.connections),
        (2, 2, 1)
    );
}

#[test]
fn flood_is_rate_limited_then_closed_and_other_members_are_unaffected() {
    let mut s = Server::new();
    let hostile = s.joined("r", "hostile");
    let calm = s.joined("r", "calm");
    let other_room = s.joined("elsewhere", "x");
    let mut relayed = 0;
    let mut limited = 0;
    let mut closed = None;
    for i in 0..1000 {
        let o = s.offer(hostile, &calm.peer_id());
        relayed += o
            .to(calm)
            .iter()
            .filter(|m| matches!(m, ServerMessage::Offer { .. }))
            .count();
        limited += o
            .to(hostile)
            .iter()
            .filter(|m| {
                matches!(
                    m,
                    ServerMessage::Error {
                        code: E::RateLimited,
                        ..
                    }
                )
            })
            .count();
        assert!(o.to(other_room).is_empty());
        if let Some(&(c, reason)) = o.closed.first() {
            closed = Some((i, c, reason));
            assert_eq!(
                o.to(calm),
                vec![&ServerMessage::PeerLeft {
                    id: hostile.peer_id()
                }]
            );
            break;
        }
    }
    // The whole burst (200, the joins took one) went through, then 20
    // refusals, then the close.
    assert_eq!(relayed, 199);
    assert_eq!(limited, 20);
    assert_eq!(closed, Some((218, hostile, CloseReason::TooManyErrors)));
    let st = s.rooms.stats();
    assert_eq!((st.errors_with(E::RateLimited), st.closes), (20, 1));
    // The calm member still talks to a newcomer.
    let late = s.joined("r", "late");
    assert_eq!(s.offer(late, &calm.peer_id()).to(calm).len(), 1);
}

#[test]
fn sustained_rate_within_the_limit_is_never_refused() {
    let mut s = Server::new();
    let a = s.joined("r", "a");
    let b = s.joined("r", "b");
    // 10 s at 50 messages per second after spending the whole burst.
    for _ in 0..199 {
        assert_eq!(s.offer(a, &b.peer_id()).to(b).len(), 1);
    }
    for _ in 0..500 {
        s.now += Duration::from_millis(20);
        assert_eq!(s.offer(a, &b.peer_id()).to(b).len(), 1);
    }
    assert_eq!(s.rooms.stats().errors_with(E::RateLimited), 0);
}

#[test]
fn repeated_protocol_errors_close_only_the_offender() {
    let mut s = Server::new();
    let bad = s.joined("r", "bad");
    let good = s.joined("r", "good");
    for i in 1..=20 {
        let o = s.text(bad, "garbage");
        assert_eq!(o.closed.is_empty(), i < 20, "after {i} errors");
    }
    assert!(!s.rooms.is_connected(bad));
    assert!(s.rooms.is_connected(good));
    assert_eq!(s.rooms.stats().members, 1);
    // room-full does not count towards the close either.
    let mut s = Server::with(RoomsConfig {
        max_members: 1,
        ..RoomsConfig::default()
    });
    s.joined("r", "only");
    let c = s.connect();
    for _ in 0..30 {
        assert_eq!(s.join(c, "r", "c").only_error(c), E::RoomFull);
    }
    assert!(s.rooms.is_connected(c));
}

#[test]
fn peer_ids_round_trip_and_reject_what_the_server_never_gives_out() {
    let id = ClientId(42);
    assert_eq!(id.peer_id(), "p42");
    assert_eq!(ClientId::from_peer_id("p42"), Some(id));
    for bad in [
        "",
        "p",
        "42",
        "p-1",
        "p+1",
        "p042",
        "P42",
        "p4 2",
        "p99999999999999999999",
    ] {
        assert_eq!(ClientId::from_peer_id(bad), None, "{bad:?}");
    }
}

fn with_passwords(all: Option<&str>, rooms: &[(&str, &str)]) -> Server {
    Server::with(RoomsConfig {
        passwords: RoomPasswords {
            all: all.map(String::from),
            rooms: rooms
                .iter()
                .map(|&(r, p)| (r.to_owned(), p.to_owned()))
                .collect(),
        },
        ..RoomsConfig::default()
    })
}

#[test]
fn room_with_a_password_refuses_a_missing_or_wrong_one_and_admits_the_right_one() {
    let mut s = with_passwords(None, &[("board", "s3cret")]);
    let member = s.connect();
    assert_eq!(
        s.join_with(member, "board", "ada", Some("s3cret"))
            .to(member)
            .len(),
        1
    );
    let c = s.connect();
    assert_eq!(s.join(c, "board", "eve").only_error(c), E::BadPassword);
    // Same length, last byte differs; a prefix; the right one plus more.
    for wrong in ["s3creT", "s3cre", "s3cret!", ""] {
        let o = s.join_with(c, "board", "eve", Some(wrong));
        assert_eq!(o.only_error(c), E::BadPassword, "{wrong:?}");
    }
    // Nobody in the room heard of the attempts, and the client is in no room.
    assert_eq!(s.rooms.room_of(c), None);
    assert!(!s.rooms.has_joined(c));
    let stats = s.rooms.stats();
    assert_eq!(stats.errors_with(E::BadPassword), 5);
    assert_eq!((stats.members, stats.joins), (1, 1));
    // Other rooms stay open, with or without a password in the join.
    assert!(matches!(
        s.join_with(c, "lobby", "eve", Some("anything")).to(c)[..],
        [ServerMessage::Welcome { .. }]
    ));
    // The right password gets the roster and the member hears of it.
    let d = s.connect();
    let o = s.join_with(d, "board", "grace", Some("s3cret"));
    match o.to(d)[..] {
        [ServerMessage::Welcome { peers, .. }] => assert_eq!(peers.len(), 1),
        ref other => panic!("expected welcome, got {other:?}"),
    }
    assert!(matches!(
        o.to(member)[..],
        [ServerMessage::PeerJoined { .. }]
    ));
}

#[test]
fn global_password_covers_every_room_and_a_room_password_overrides_it() {
    let mut s = with_passwords(Some("house"), &[("vip", "gold")]);
    let c = s.connect();
    assert_eq!(s.join(c, "any", "x").only_error(c), E::BadPassword);
    assert_eq!(
        s.join_with(c, "vip", "x", Some("house")).only_error(c),
        E::BadPassword
    );
    assert!(matches!(
        s.join_with(c, "vip", "x", Some("gold")).to(c)[..],
        [ServerMessage::Welcome { .. }]
    ));
    let d = s.connect();
    assert!(matches!(
        s.join_with(d, "any", "y", Some("house")).to(d)[..],
        [ServerMessage::Welcome { .. }]
    ));
    // The password is checked before the room size: a full room does not
    // tell a stranger it is full (or that it exists).
    let mut s = Server::with(RoomsConfig {
        max_members: 1,
        ..with_passwords(Some("pw"), &[]).rooms.config().clone()
    });
    let a = s.connect();
    let _ = s.join_with(a, "r", "a", Some("pw"));
    let b = s.connect();
    assert_eq!(s.join(b, "r", "b").only_error(b), E::BadPassword);
    assert_eq!(
        s.join_with(b, "r", "b", Some("pw")).only_error(b),
        E::RoomFull
    );
}

#[test]
fn password_guessing_is_a_protocol_error_that_ends_in_a_close() {
    let mut s = with_passwords(Some("right"), &[]);
    let c = s.connect();
    for i in 1..=20 {
        let o = s.join_with(c, "r", "guesser", Some(&format!("guess{i}")));
        assert_eq!(o.closed.is_empty(), i < 20, "after {i} guesses");
    }
    assert!(!s.rooms.is_connected(c));
    assert_eq!(s.rooms.stats().closed_for(CloseReason::TooManyErrors), 1);
}

#[test]
fn passwords_never_show_in_debug_output() {
    let s = with_passwords(Some("topsecret"), &[("board", "hunter2")]);
    let shown = format!("{:?}", s.rooms.config());
    assert!(!shown.contains("topsecret") && !shown.contains("hunter2"));
    assert!(shown.contains("board"), "{shown}");
}

#[test]
fn transport_close_takes_the_client_out_of_its_room_and_is_counted() {
    let mut s = Server::new();
    let a = s.joined("r", "a");
    let b = s.joined("r", "b");
    let idle = s.connect();
    assert!(s.rooms.has_joined(a) && !s.rooms.has_joined(idle));
    let o = decode(s.rooms.close_client(a, CloseReason::NotReading));
    assert_eq!(o.closed, vec![(a, CloseReason::NotReading)]);
    assert_eq!(o.to(b), vec![&ServerMessage::PeerLeft { id: a.peer_id() }]);
    let o = decode(s.rooms.close_client(idle, CloseReason::JoinTimeout));
    assert_eq!(o.closed, vec![(idle, CloseReason::JoinTimeout)]);
    assert!(o.sent.is_empty());
    // A second close of the same client does nothing.
    assert!(s.rooms.close_client(a, CloseReason::IdleTimeout).is_empty());
    let stats = s.rooms.stats();
    assert_eq!(stats.closed_for(CloseReason::NotReading), 1);
    assert_eq!(stats.closed_for(CloseReason::JoinTimeout), 1);
    assert_eq!(stats.closed_for(CloseReason::IdleTimeout), 0);
    assert_eq!((stats.closes, stats.connections, stats.members), (2, 1, 1));
    let codes: Vec<u16> = CloseReason::ALL.iter().map(|r| r.close_code()).collect();
    assert_eq!(codes, [1009, 1008, 1007, 4001, 4000, 4002, 4003]);
}

/// The resume token of the welcome in `o` for `c`.
fn resume_token(o: &Outs, c: ClientId) -> String {
    match o.to(c).first() {
        Some(ServerMessage::Welcome {
            resume: Some(token),
            ..
        }) => token.clone(),
        other => panic!("no welcome with a token for {c}: {other:?}"),
    }
}

#[test]
fn a_suspended_member_keeps_its_place_and_resumes_with_what_was_held() {
    let mut s = Server::new();
    let a = s.connect();
    let token = resume_token(&s.join(a, "r", "phone"), a);
    let b = s.joined("r", "laptop");
    // The phone's connection vanishes: nobody hears of it.
    let o = decode(s.rooms.suspend(s.now, a, None));
    assert!(o.sent.is_empty() && o.closed.is_empty(), "{o:?}");
    assert!(s.rooms.is_suspended(a));
    assert_eq!(s.rooms.stats().suspended, 1);
    assert_eq!(s.rooms.stats().members, 2);
    assert_eq!(s.rooms.stats().connections, 1);
    // What is relayed to it meanwhile is held, and a newcomer's
    // peer-joined too.
    let o = s.offer(b, &a.peer_id());
    assert!(o.sent.is_empty(), "held, not sent: {o:?}");
    let c = s.joined("r", "late");
    // A new connection resumes: same id, the roster, a new token, then
    // the held messages in order; the others hear nothing.
    let fresh = s.connect();
    let o = s.send(
        fresh,
        &ClientMessage::Resume {
            token: token.clone(),
        },
    );
    assert!(o.to(b).is_empty() && o.to(c).is_empty(), "{o:?}");
    let to_fresh = o.to(fresh);
    assert_eq!(to_fresh.len(), 3, "{o:?}");
    let ServerMessage::Welcome {
        id, peers, resume, ..
    } = to_fresh[0]
    else {
        panic!("{o:?}");
    };
    assert_eq!(id, &a.peer_id());
    let ids: Vec<&str> = peers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, vec![b.peer_id().as_str(), c.peer_id().as_str()]);
    assert!(resume.as_ref().is_some_and(|t| *t != token));
    assert!(matches!(to_fresh[1], ServerMessage::Offer { from, .. } if *from == b.peer_id()));
    assert!(matches!(to_fresh[2], ServerMessage::PeerJoined { peer } if peer.id == c.peer_id()));
    // Messages for the old id now reach the new connection, and its own go
    // out under the old id.
    let o = s.offer(b, &a.peer_id());
    assert_eq!(o.sent.len(), 1);
    assert_eq!(o.sent[0].0, fresh);
    let o = s.send(
        fresh,
        &ClientMessage::Answer {
            to: b.peer_id(),
            sdp: "v=0\r\n".into(),
        },
    );
    assert!(matches!(o.to(b)[..], [ServerMessage::Answer { from, .. }] if *from == a.peer_id()));
    // The new token works in turn (a second drop), the old one is spent.
    let new_token = match to_fresh[0] {
        ServerMessage::Welcome {
            resume: Some(t), ..
        } => t.clone(),
        _ => unreachable!(),
    };
    assert!(s.rooms.suspend(s.now, fresh, None).is_empty());
    let fresher = s.connect();
    let o = s.send(fresher, &ClientMessage::Resume { token: new_token });
    assert!(
        matches!(o.to(fresher)[..], [ServerMessage::Welcome { ref id, .. }] if *id == a.peer_id())
    );
    let fresh = fresher;
    let again = s.connect();
    assert_eq!(
        s.send(again, &ClientMessage::Resume { token })
            .only_error(again),
        E::ResumeFailed
    );
    let stats = s.rooms.stats();
    assert_eq!((stats.resumed, stats.suspended, stats.members), (2, 0, 3));
    // Leaving announces the old id.
    let o = s.send(fresh, &ClientMessage::Leave);
    assert_eq!(o.to(b), vec![&ServerMessage::PeerLeft { id: a.peer_id() }]);
}

#[test]
fn a_suspension_ends_at_its_deadline_with_peer_left() {
    let mut s = Server::with(RoomsConfig {
        resume_window: Duration::from_secs(30),
        ..RoomsConfig::default()
    });
    let a = s.connect();
    let token = resume_token(&s.join(a, "r", "phone"), a);
    let b = s.joined("r", "laptop");
    assert!(s.rooms.suspend(s.now, a, None).is_empty());
    assert_eq!(
        s.rooms.poll_timeout(),
        Some(s.now + Duration::from_secs(30))
    );
    assert!(s
        .rooms
        .handle_timeout(s.now + Duration::from_secs(29))
        .is_empty());
    let o = decode(s.rooms.handle_timeout(s.now + Duration::from_secs(30)));
    assert_eq!(o.to(b), vec![&ServerMessage::PeerLeft { id: a.peer_id() }]);
    assert_eq!(s.rooms.poll_timeout(), None);
    let fresh = s.connect();
    assert_eq!(
        s.send(fresh, &ClientMessage::Resume { token })
            .only_error(fresh),
        E::ResumeFailed
    );
    let stats = s.rooms.stats();
    assert_eq!(
        (stats.resume_expired, stats.members, stats.suspended),
        (1, 1, 0)
    );
}

#[test]
fn resuming_a_connection_the_server_still_holds_closes_the_old_one() {
    let mut s = Server::new();
    let a = s.connect();
    let token = resume_token(&s.join(a, "r", "phone"), a);
    let b = s.joined("r", "laptop");
    let fresh = s.connect();
    let o = s.send(fresh, &ClientMessage::Resume { token });
    assert_eq!(o.closed, vec![(a, CloseReason::Replaced)]);
    assert!(o.to(b).is_empty(), "{o:?}");
    assert!(matches!(o.to(fresh)[..], [ServerMessage::Welcome { id, .. }] if *id == a.peer_id()));
    assert!(!s.rooms.is_connected(a));
    assert_eq!(s.rooms.stats().closed_for(CloseReason::Replaced), 1);
}

#[test]
fn without_a_resume_window_a_drop_is_a_departure() {
    let mut s = Server::with(RoomsConfig {
        resume_window: Duration::ZERO,
        ..RoomsConfig::default()
    });
    let a = s.connect();
    let o = s.join(a, "r", "phone");
    assert!(matches!(
        o.to(a)[..],
        [ServerMessage::Welcome { resume: None, .. }]
    ));
    let b = s.joined("r", "laptop");
    let o = decode(s.rooms.suspend(s.now, a, None));
    assert_eq!(o.to(b), vec![&ServerMessage::PeerLeft { id: a.peer_id() }]);
    // A client in no room is disconnected, and a transport close counted.
    let idle = s.connect();
    let o = decode(s.rooms.suspend(s.now, idle, Some(CloseReason::IdleTimeout)));
    assert_eq!(o.closed, vec![(idle, CloseReason::IdleTimeout)]);
}

#[test]
fn held_messages_past_the_bound_give_the_place_up() {
    let mut s = Server::with(RoomsConfig {
        rate_burst: 1000.0,
        ..RoomsConfig::default()
    });
    let a = s.connect();
    let token = resume_token(&s.join(a, "r", "phone"), a);
    let b = s.joined("r", "laptop");
    assert!(s.rooms.suspend(s.now, a, None).is_empty());
    for _ in 0..resume::MAX_HELD_MESSAGES {
        assert!(s.offer(b, &a.peer_id()).sent.is_empty());
    }
    let o = s.offer(b, &a.peer_id());
    assert_eq!(o.to(b), vec![&ServerMessage::PeerLeft { id: a.peer_id() }]);
    let fresh = s.connect();
    assert_eq!(
        s.send(fresh, &ClientMessage::Resume { token })
            .only_error(fresh),
        E::ResumeFailed
    );
}

#[test]
fn two_suspensions_due_together_send_nothing_to_either() {
    let mut s = Server::new();
    let a = s.joined("r", "a");
    let b = s.joined("r", "b");
    let c = s.joined("r", "c");
    assert!(s.rooms.suspend(s.now, a, None).is_empty());
    assert!(s.rooms.suspend(s.now, b, None).is_empty());
    let o = decode(s.rooms.handle_timeout(s.now + Duration::from_secs(60)));
    // Only c hears, once for each; nothing goes to a or b, whose
    // connections are gone.
    assert!(o.sent.iter().all(|(to, _)| *to == c), "{o:?}");
    assert_eq!(o.sent.len(), 2, "{o:?}");
    assert_eq!(s.rooms.stats().members, 1);
}

// ----- TURN REST credentials (turn_renewal.rs) -----

fn with_turn_rest(lifetime_secs: u64) -> Server {
    let now = Instant::now();
    let config = RoomsConfig {
        ice_servers: vec![IceServer::url("stun:192.0.2.1")],
        turn_rest: Some(TurnRest::new(
            vec!["turn:192.0.2.1:3478".into()],
            "north",
            Duration::from_secs(lifetime_secs),
            now,
            1_700_000_000,
        )),
        ..RoomsConfig::default()
    };
    Server {
        rooms: Rooms::new(config),
        now,
    }
}

/// The TURN entry of a `welcome` or `ice-servers` message.
fn turn_entry(m: &ServerMessage) -> IceServer {
    let servers = match m {
        ServerMessage::Welcome { ice_servers, .. } | ServerMessage::IceServers { ice_servers } => {
            ice_servers
        }
        other => panic!("no ICE servers in {other:?}"),
    };
    assert_eq!(servers[0], IceServer::url("stun:192.0.2.1"));
    servers[1].clone()
}

#[test]
fn welcome_carries_each_member_its_own_time_limited_turn_credentials() {
    let mut s = with_turn_rest(600);
    let a = s.connect();
    let o = s.join(a, "r", "ada");
    let turn = turn_entry(o.to(a)[0]);
    assert_eq!(turn.urls, vec!["turn:192.0.2.1:3478".to_string()]);
    let user = format!("1700000600:{}", a.peer_id());
    assert_eq!(turn.username.as_deref(), Some(user.as_str()));
    let want = meshrtc_ice::turn::rest_credentials(b"north", &a.peer_id(), 1_700_000_600);
    assert_eq!(turn.credential, Some(want.password));
    s.now += Duration::from_secs(7);
    let b = s.connect();
    let o = s.join(b, "r", "grace");
    let turn_b = turn_entry(o.to(b)[0]);
    let user_b = format!("1700000607:{}", b.peer_id());
    assert_eq!(turn_b.username.as_deref(), Some(user_b.as_str()));
    assert_eq!(s.rooms.stats().turn_credentials_issued, 2);
    // The first renewal is due half-way through the first member's lifetime.
    assert_eq!(
        s.rooms.poll_timeout(),
        Some(s.now - Duration::from_secs(7) + Duration::from_secs(300))
    );
}

#[test]
fn credentials_are_renewed_half_way_and_not_for_members_who_left() {
    let mut s = with_turn_rest(60);
    let a = s.joined("r", "ada");
    let b = s.joined("r", "grace");
    s.now += Duration::from_secs(29);
    assert!(decode(s.rooms.handle_timeout(s.now)).sent.is_empty());
    s.now += Duration::from_secs(1);
    let o = decode(s.rooms.handle_timeout(s.now));
    assert_eq!(o.sent.len(), 2, "{o:?}");
    for c in [a, b] {
        let m = o.to(c);
        assert!(matches!(m[..], [ServerMessage::IceServers { .. }]), "{o:?}");
        let user = format!("1700000090:{}", c.peer_id());
        assert_eq!(turn_entry(m[0]).username.as_deref(), Some(user.as_str()));
    }
    // The next renewal 30 s later; ada leaves before it.
    assert_eq!(
        s.rooms.poll_timeout(),
        Some(s.now + Duration::from_secs(30))
    );
    s.send(a, &ClientMessage::Leave);
    s.now += Duration::from_secs(30);
    let o = decode(s.rooms.handle_timeout(s.now));
    assert_eq!(o.sent.len(), 1, "{o:?}");
    assert!(matches!(o.to(b)[..], [ServerMessage::IceServers { .. }]));
    assert_eq!(s.rooms.stats().turn_credentials_issued, 5);
}

#[test]
fn without_turn_rest_welcome_has_only_the_configured_servers_and_no_renewals() {
    let mut s = Server::new();
    let a = s.connect();
    let o = s.join(a, "r", "ada");
    assert!(
        matches!(o.to(a)[..], [ServerMessage::Welcome { ice_servers, .. }] if ice_servers.is_empty())
    );
    assert_eq!(s.rooms.poll_timeout(), None);
    assert_eq!(s.rooms.stats().turn_credentials_issued, 0);
}

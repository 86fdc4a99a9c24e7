//! The signaling server's room logic driven by a byte script: three client
//! slots send joins, offers, candidates, leaves, garbage, binary and
//! oversize frames, disconnect and reconnect, drop (suspend) and resume
//! with tokens the server gave or made up, while time moves on and
//! suspensions expire. Limits are small so the script reaches full rooms,
//! rate limits and closes. Invariants after every step: no panic, no room
//! over `max_members` or empty, every member connected or suspended, every
//! `Send` goes to a connection that is open at that point (never to a
//! suspended member) and holds a valid server message, and the counters
//! agree with the rooms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_mesh::signaling::{
    ClientId, CloseReason, Output, RoomPasswords, Rooms, RoomsConfig, ServerMessage, TurnRest,
};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const MAX_MEMBERS: usize = 2;

struct Input<'a>(&'a [u8]);
impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

/// What the harness knows: open connections, suspended members and the
/// resume tokens seen in welcomes.
#[derive(Default)]
struct Known {
    connected: HashSet<ClientId>,
    suspended: HashSet<ClientId>,
    tokens: Vec<String>,
}

fn check(rooms: &Rooms, known: &mut Known, outputs: Vec<Output>) {
    let connected = &mut known.connected;
    for output in outputs {
        match output {
            Output::Send { to, text } => {
                assert!(connected.contains(&to), "send to {to}, not connected");
                let message = ServerMessage::parse(&text);
                assert!(message.is_ok(), "{text}");
                // Renewed TURN credentials go to members only.
                if let Ok(ServerMessage::IceServers { .. }) = message {
                    assert!(
                        rooms.room_of(to).is_some(),
                        "ice-servers to {to}, in no room"
                    );
                }
                if let Ok(ServerMessage::Welcome {
                    resume: Some(token),
                    ..
                }) = message
                {
                    known.tokens.push(token);
                }
            }
            Output::Close { client, .. } => {
                assert!(
                    connected.remove(&client),
                    "close of {client}, not connected"
                );
            }
        }
    }
    let mut seen = HashSet::new();
    let mut members = 0;
    for (name, list) in rooms.rooms() {
        assert!(!list.is_empty(), "empty room {name:?} kept");
        assert!(
            list.len() <= MAX_MEMBERS,
            "room {name:?} has {}",
            list.len()
        );
        for m in list {
            assert!(
                connected.contains(m) || known.suspended.contains(m),
                "{m} neither connected nor suspended"
            );
            assert!(seen.insert(*m), "{m} in two rooms");
            assert_eq!(rooms.room_of(*m), Some(name));
        }
        members += list.len();
    }
    known.suspended.retain(|c| rooms.is_suspended(*c));
    let stats = rooms.stats();
    assert_eq!(stats.members, members);
    assert_eq!(stats.connections, connected.len());
    assert_eq!(stats.suspended, known.suspended.len());
    for c in connected.iter() {
        assert!(rooms.is_connected(*c) && !rooms.is_suspended(*c));
    }
}

/// A slot's new connection.
fn reconnect(rooms: &mut Rooms, known: &mut Known, now: Instant) -> ClientId {
    let c = rooms.connect(now);
    known.connected.insert(c);
    check(rooms, known, Vec::new());
    c
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut now = Instant::now();
    let mut rooms = Rooms::new(RoomsConfig {
        max_members: MAX_MEMBERS,
        max_message_bytes: 300,
        rate_per_second: 5.0,
        rate_burst: 10.0,
        max_errors_before_close: 4,
        // Room "b" needs a password, so the script reaches bad-password.
        passwords: RoomPasswords {
            all: None,
            rooms: [("b".to_owned(), "pw".to_owned())].into(),
        },
        ice_servers: Vec::new(),
        // Short, so the script sees suspensions expire.
        resume_window: Duration::from_secs(2),
        // The shortest lifetime, so the script sees credentials renewed.
        turn_rest: Some(TurnRest::new(
            vec!["turn:192.0.2.1:3478".into()],
            "secret",
            Duration::from_secs(10),
            now,
            1_700_000_000,
        )),
    });
    let mut known = Known::default();
    let mut slots = [0; 3].map(|_| {
        let c = rooms.connect(now);
        known.connected.insert(c);
        c
    });
    while let Some(op) = input.byte() {
        let slot = usize::from(op % 3);
        let client = slots[slot];
        let arg = input.byte().unwrap_or(0);
        let peer = format!("p{}", arg % 8);
        let text = match (op / 3) % 13 {
            0 => {
                let raw = input.bytes(usize::from(arg));
                String::from_utf8_lossy(raw).into_owned()
            }
            1 => {
                let room = ["a", "b", ""][usize::from(arg % 3)];
                let password =
                    ["", r#","password":"pw""#, r#","password":"no""#][usize::from(arg / 3 % 3)];
                format!(r#"{{"type":"join","room":"{room}","name":"n{slot}"{password}}}"#)
            }
            2 => format!(r#"{{"type":"offer","to":"{peer}","sdp":"v=0"}}"#),
            3 => format!(r#"{{"type":"answer","to":"{peer}","sdp":"v=0"}}"#),
            4 => format!(r#"{{"type":"candidate","to":"{peer}","candidate":null}}"#),
            5 => format!(
                r#"{{"type":"candidate","to":"{peer}","candidate":{{"candidate":"candidate:1 1 udp 1 10.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":{arg}}}}}"#
            ),
            6 => r#"{"type":"leave"}"#.to_owned(),
            7 => {
                let bytes = input.bytes(usize::from(arg)).to_vec();
                let outputs = rooms.handle_binary(now, client, &bytes);
                check(&rooms, &mut known, outputs);
                continue;
            }
            8 => {
                let outputs = rooms.disconnect(client);
                known.connected.remove(&client);
                check(&rooms, &mut known, outputs);
                slots[slot] = reconnect(&mut rooms, &mut known, now);
                continue;
            }
            9 if arg & 1 == 1 => {
                // The transport closes the client (a timeout, not reading),
                // and the slot reconnects.
                let reason = CloseReason::ALL[usize::from(arg >> 1) % CloseReason::ALL.len()];
                let outputs = rooms.close_client(client, reason);
                check(&rooms, &mut known, outputs);
                known.connected.remove(&client);
                slots[slot] = reconnect(&mut rooms, &mut known, now);
                continue;
            }
            9 => {
                now += Duration::from_millis(u64::from(arg) * 200);
                let outputs = rooms.handle_timeout(now);
                check(&rooms, &mut known, outputs);
                continue;
            }
            11 => {
                // The connection vanishes: a member is suspended; the slot
                // reconnects.
                let outputs = rooms.suspend(now, client, None);
                known.connected.remove(&client);
                if rooms.is_suspended(client) {
                    known.suspended.insert(client);
                }
                check(&rooms, &mut known, outputs);
                slots[slot] = reconnect(&mut rooms, &mut known, now);
                continue;
            }
            12 => {
                let token = match known.tokens.len() {
                    0 => format!("{arg:032x}"),
                    n => known.tokens[usize::from(arg) % n].clone(),
                };
                format!(r#"{{"type":"resume","token":"{token}"}}"#)
            }
            _ => format!(
                r#"{{"type":"offer","to":"{peer}","sdp":"{}"}}"#,
                "s".repeat(usize::from(arg) * 2)
            ),
        };
        let outputs = rooms.handle_text(now, client, &text);
        check(&rooms, &mut known, outputs);
    }
});

//! The signaling server's room logic driven by a byte script: three client
//! slots send joins, offers, candidates, leaves, garbage, binary and
//! oversize frames, disconnect and reconnect, while time moves on. Limits
//! are small so the script reaches full rooms, rate limits and closes.
//! Invariants after every step: no panic, no room over `max_members` or
//! empty, every `Send` goes to a connection that is open at that point and
//! holds a valid server message, and the counters agree with the rooms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_mesh::signaling::{
    ClientId, CloseReason, Output, RoomPasswords, Rooms, RoomsConfig, ServerMessage,
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

fn check(rooms: &Rooms, connected: &mut HashSet<ClientId>, outputs: Vec<Output>) {
    for output in outputs {
        match output {
            Output::Send { to, text } => {
                assert!(connected.contains(&to), "send to {to}, not connected");
                assert!(ServerMessage::parse(&text).is_ok(), "{text}");
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
            assert!(connected.contains(m));
            assert!(seen.insert(*m), "{m} in two rooms");
            assert_eq!(rooms.room_of(*m), Some(name));
        }
        members += list.len();
    }
    let stats = rooms.stats();
    assert_eq!(stats.members, members);
    assert_eq!(stats.connections, connected.len());
    for c in connected.iter() {
        assert!(rooms.is_connected(*c));
    }
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
    });
    let mut connected = HashSet::new();
    let mut slots = [0; 3].map(|_| {
        let c = rooms.connect(now);
        connected.insert(c);
        c
    });
    while let Some(op) = input.byte() {
        let slot = usize::from(op % 3);
        let client = slots[slot];
        let arg = input.byte().unwrap_or(0);
        let peer = format!("p{}", arg % 8);
        let text = match (op / 3) % 11 {
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
                check(&rooms, &mut connected, outputs);
                continue;
            }
            8 => {
                let outputs = rooms.disconnect(client);
                connected.remove(&client);
                check(&rooms, &mut connected, outputs);
                let c = rooms.connect(now);
                connected.insert(c);
                slots[slot] = c;
                check(&rooms, &mut connected, Vec::new());
                continue;
            }
            9 if arg & 1 == 1 => {
                // The transport closes the client (a timeout, not reading),
                // and the slot reconnects.
                let reason = CloseReason::ALL[usize::from(arg >> 1) % CloseReason::ALL.len()];
                let outputs = rooms.close_client(client, reason);
                check(&rooms, &mut connected, outputs);
                connected.remove(&client);
                let c = rooms.connect(now);
                connected.insert(c);
                slots[slot] = c;
                continue;
            }
            9 => {
                now += Duration::from_millis(u64::from(arg) * 20);
                continue;
            }
            _ => format!(
                r#"{{"type":"offer","to":"{peer}","sdp":"{}"}}"#,
                "s".repeat(usize::from(arg) * 2)
            ),
        };
        let outputs = rooms.handle_text(now, client, &text);
        check(&rooms, &mut connected, outputs);
    }
});

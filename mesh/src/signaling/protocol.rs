//! The signaling protocol: JSON messages over a WebSocket, one per text frame.
//!
//! The page that describes it for people (every message with an example, the
//! join flow, limits and error codes) is `docs/signaling.md`. Both enums are
//! internally tagged by `"type"` with kebab-case names; fields a receiver
//! does not know are ignored, so either side may add some.
//!
//! Candidates travel as browsers express them (`RTCIceCandidateInit`, as
//! `RTCIceCandidate.toJSON()` returns it), and `null` ends a peer's
//! candidates, so a browser can forward `onicecandidate`'s `event.candidate`
//! unchanged.

use serde::{Deserialize, Serialize};

/// Longest room name, in characters.
pub const MAX_ROOM_CHARS: usize = 64;
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest room password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A message from a client to the signaling server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ClientMessage {
    /// Enter a room under a display name. Answered by `welcome` (or an
    /// error such as `room-full`).
    Join {
        /// The room, 1 to 64 characters.
        room: String,
        /// The display name, 1 to 64 characters; not unique.
        name: String,
        /// The room's password, for a room that requires one (at most 256
        /// characters); absent or `null` otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    /// An SDP offer for one member of the room.
    Offer {
        /// The member's server-assigned id.
        to: String,
        /// The session description.
        sdp: String,
    },
    /// An SDP answer for one member of the room.
    Answer {
        /// The member's server-assigned id.
        to: String,
        /// The session description.
        sdp: String,
    },
    /// A trickled ICE candidate for one member, or `None` (`null` on the
    /// wire) for the end of candidates.
    Candidate {
        /// The member's server-assigned id.
        to: String,
        /// The candidate; the field must be present, `null` included.
        #[serde(deserialize_with = "Option::deserialize")]
        candidate: Option<IceCandidateInit>,
    },
    /// Leave the room; the connection stays open and may join again.
    Leave,
    /// Take back one's place after the connection dropped, instead of
    /// `join`: the server kept the member (id, room, name) for a while and
    /// the others heard nothing. Answered by `welcome` (the same id) and
    /// what was relayed to the member meanwhile, or `resume-failed`.
    Resume {
        /// The `resume` token of the last `welcome`.
        token: String,
    },
}

/// A message from the signaling server to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerMessage {
    /// The answer to a successful `join`: our id and who is already there.
    /// The newcomer sends an offer to each of `peers`.
    Welcome {
        /// Our server-assigned id (`"p1"`, `"p2"`, ...).
        id: String,
        /// The room joined.
        room: String,
        /// The members already in the room, in the order they joined.
        peers: Vec<PeerInfo>,
        /// How many members the room can hold, us included.
        max_members: usize,
        /// The ICE servers (STUN, TURN) the server's operator configured,
        /// for every member's connections; absent when there are none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
        /// A token that takes this place back on a new connection if this
        /// one drops (`resume`); absent when the server keeps no places.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
    },
    /// Fresh ICE servers for a member already in a room: the server's
    /// time-limited TURN credentials (TURN REST form) are renewed before
    /// they expire. They are for allocations made from now on (an ICE
    /// restart, a new member's connection); an existing allocation keeps
    /// the username it was made with (RFC 8656 §7.2).
    IceServers {
        /// The complete list, replacing the one of `welcome`.
        ice_servers: Vec<IceServer>,
    },
    /// Someone joined our room; they will send us an offer.
    PeerJoined {
        /// The newcomer.
        peer: PeerInfo,
    },
    /// A member left our room (or its connection dropped).
    PeerLeft {
        /// The id of the member who left.
        id: String,
    },
    /// An offer relayed from a member of our room.
    Offer {
        /// The sender's id.
        from: String,
        /// The session description.
        sdp: String,
    },
    /// An answer relayed from a member of our room.
    Answer {
        /// The sender's id.
        from: String,
        /// The session description.
        sdp: String,
    },
    /// A candidate relayed from a member of our room; `None` ends them.
    Candidate {
        /// The sender's id.
        from: String,
        /// The candidate, or `None` (`null`) for the end of candidates.
        #[serde(deserialize_with = "Option::deserialize")]
        candidate: Option<IceCandidateInit>,
    },
    /// Our last message was refused.
    Error {
        /// What went wrong, for programs.
        code: ErrorCode,
        /// What went wrong, for people.
        message: String,
    },
}

/// A room member as the roster shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Server-assigned id, unique on this server while connected.
    pub id: String,
    /// Display name as given in `join`.
    pub name: String,
}

/// A STUN or TURN server as a browser's `RTCIceServer` (W3C WebRTC
/// §4.2.4): a page passes the list to `new RTCPeerConnection({iceServers})`
/// unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]` or
    /// `turns:...` URLs (RFC 7064 §3.1, RFC 7065 §3.1); one string or a
    /// list on the wire, always a list when we write it.
    #[serde(deserialize_with = "one_or_many")]
    pub urls: Vec<String>,
    /// The TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The TURN password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl IceServer {
    /// A server without credentials (STUN).
    pub fn url(url: impl Into<String>) -> IceServer {
        IceServer {
            urls: vec![url.into()],
            username: None,
            credential: None,
        }
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(url) => vec![url],
        OneOrMany::Many(urls) => urls,
    })
}

/// An ICE candidate as a browser's `RTCIceCandidateInit` (W3C WebRTC §4.8.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidateInit {
    /// The `candidate:...` attribute value (no `a=`); may be empty, which
    /// browsers use for the end of one generation.
    pub candidate: String,
    /// The media stream identification tag the candidate belongs to.
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// The index of the m-line the candidate belongs to.
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE ufrag the candidate goes with.
    #[serde(
        rename = "usernameFragment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub username_fragment: Option<String>,
}

/// The `code` of an `error` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// Not a JSON object with a string `type`, or a binary frame.
    BadJson,
    /// A `type` the server does not know.
    UnknownType,
    /// A message over the size limit; the server closes the connection.
    TooLarge,
    /// Offer, answer, candidate or leave before `join`.
    NotJoined,
    /// A second `join` on one connection (send `leave` first).
    AlreadyJoined,
    /// The room holds its maximum number of members.
    RoomFull,
    /// The target id is not another member of the sender's room.
    UnknownPeer,
    /// A field is missing, of the wrong type, empty or too long.
    BadField,
    /// More messages than the rate allows; repeated, the server closes.
    RateLimited,
    /// The room requires a password and the `join` carried none or a wrong
    /// one.
    BadPassword,
    /// A `resume` whose place is gone (expired, or an unknown token): join
    /// anew.
    ResumeFailed,
    /// A code this version does not know (a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code a server sends, in protocol order.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::BadJson,
        ErrorCode::UnknownType,
        ErrorCode::TooLarge,
        ErrorCode::NotJoined,
        ErrorCode::AlreadyJoined,
        ErrorCode::RoomFull,
        ErrorCode::UnknownPeer,
        ErrorCode::BadField,
        ErrorCode::RateLimited,
        ErrorCode::BadPassword,
        ErrorCode::ResumeFailed,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad-json",
            ErrorCode::UnknownType => "unknown-type",
            ErrorCode::TooLarge => "too-large",
            ErrorCode::NotJoined => "not-joined",
            ErrorCode::AlreadyJoined => "already-joined",
            ErrorCode::RoomFull => "room-full",
            ErrorCode::UnknownPeer => "unknown-peer",
            ErrorCode::BadField => "bad-field",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::BadPassword => "bad-password",
            ErrorCode::ResumeFailed => "resume-failed",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a client message was refused before it reached the room logic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProtocolError {
    /// The wire code the server answers with.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
}

impl ProtocolError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ProtocolError {
            code,
            message: message.into(),
        }
    }
}

const CLIENT_TYPES: [&str; 6] = ["join", "offer", "answer", "candidate", "leave", "resume"];

/// Longest resume token taken, in characters.
pub const MAX_TOKEN_CHARS: usize = 64;

impl ClientMessage {
    /// Parses one text frame, telling apart what is not JSON (`bad-json`),
    /// an unknown `type` (`unknown-type`) and a known type with missing,
    /// mistyped, empty or oversize fields (`bad-field`).
    pub fn parse(text: &str) -> Result<ClientMessage, ProtocolError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ProtocolError::new(ErrorCode::BadJson, format!("not JSON: {e}")))?;
        let Some(object) = value.as_object() else {
            return Err(ProtocolError::new(ErrorCode::BadJson, "not a JSON object"));
        };
        let kind = match object.get("type") {
            Some(serde_json::Value::String(kind)) => kind,
            Some(_) => {
                return Err(ProtocolError::new(
                    ErrorCode::BadJson,
                    "type is not a string",
                ))
            }
            None => return Err(ProtocolError::new(ErrorCode::BadJson, "no type field")),
        };
        if !CLIENT_TYPES.contains(&kind.as_str()) {
            let shown: String = kind.chars().take(32).collect();
            return Err(ProtocolError::new(
                ErrorCode::UnknownType,
                format!("unknown message type {shown:?}"),
            ));
        }
        let message: ClientMessage = serde_json::from_value(value)
            .map_err(|e| ProtocolError::new(ErrorCode::BadField, e.to_string()))?;
        message.validate()?;
        Ok(message)
    }

    fn validate(&self) -> Result<(), ProtocolError> {
        if let ClientMessage::Resume { token } = self {
            check_label("token", token, MAX_TOKEN_CHARS)?;
        }
        if let ClientMessage::Join {
            room,
            name,
            password,
        } = self
        {
            check_label("room", room, MAX_ROOM_CHARS)?;
            check_label("name", name, MAX_NAME_CHARS)?;
            if let Some(password) = password {
                if password.chars().count() > MAX_PASSWORD_CHARS {
                    return Err(ProtocolError::new(
                        ErrorCode::BadField,
                        format!("password is longer than {MAX_PASSWORD_CHARS} characters"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The message as one JSON text frame.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every key is a string.
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn check_label(field: &str, value: &str, max: usize) -> Result<(), ProtocolError> {
    if value.is_empty() {
        return Err(ProtocolError::new(
            ErrorCode::BadField,
            format!("{field} is empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(ProtocolError::new(
            ErrorCode::BadField,
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(())
}

impl ServerMessage {
    /// Parses one text frame from the server.
    pub fn parse(text: &str) -> Result<ServerMessage, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The message as one JSON text frame.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every key is a string.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// An `error` message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
        ServerMessage::Error {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn client_round_trip(text: &str, expected: ClientMessage) {
        let parsed = ClientMessage::parse(text).unwrap();
        assert_eq!(parsed, expected);
        let back: Value = serde_json::from_str(&parsed.to_json()).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
    }

    fn server_round_trip(text: &str, expected: ServerMessage) {
        let parsed = ServerMessage::parse(text).unwrap();
        assert_eq!(parsed, expected);
        let back: Value = serde_json::from_str(&parsed.to_json()).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn client_messages_round_trip_through_literal_json() {
        client_round_trip(
            r#"{"type":"join","room":"standup","name":"Ada"}"#,
            ClientMessage::Join {
                room: "standup".into(),
                name: "Ada".into(),
                password: None,
            },
        );
        client_round_trip(
            r#"{"type":"join","room":"standup","name":"Ada","password":"s3cret"}"#,
            ClientMessage::Join {
                room: "standup".into(),
                name: "Ada".into(),
                password: Some("s3cret".into()),
            },
        );
        client_round_trip(
            r#"{"type":"offer","to":"p2","sdp":"v=0\r\n"}"#,
            ClientMessage::Offer {
                to: "p2".into(),
                sdp: "v=0\r\n".into(),
            },
        );
        client_round_trip(
            r#"{"type":"answer","to":"p1","sdp":"v=0\r\n"}"#,
            ClientMessage::Answer {
                to: "p1".into(),
                sdp: "v=0\r\n".into(),
            },
        );
        client_round_trip(r#"{"type":"leave"}"#, ClientMessage::Leave);
        client_round_trip(
            r#"{"type":"candidate","to":"p3","candidate":null}"#,
            ClientMessage::Candidate {
                to: "p3".into(),
                candidate: None,
            },
        );
    }

    #[test]
    fn browser_candidate_init_round_trips_with_every_field() {
        // As Chromium's RTCIceCandidate.toJSON() prints it.
        client_round_trip(
            r#"{"type":"candidate","to":"p2","candidate":{
                "candidate":"candidate:842163049 1 udp 1677729535 192.0.2.7 61235 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag gAt7 network-cost 999",
                "sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"gAt7"}}"#,
            ClientMessage::Candidate {
                to: "p2".into(),
                candidate: Some(IceCandidateInit {
                    candidate: "candidate:842163049 1 udp 1677729535 192.0.2.7 61235 typ srflx \
                                raddr 0.0.0.0 rport 0 generation 0 ufrag gAt7 network-cost 999"
                        .into(),
                    sdp_mid: Some("0".into()),
                    sdp_m_line_index: Some(0),
                    username_fragment: Some("gAt7".into()),
                }),
            },
        );
    }

    #[test]
    fn candidate_optional_fields_may_be_null_or_absent() {
        let expected = ClientMessage::Candidate {
            to: "p2".into(),
            candidate: Some(IceCandidateInit {
                candidate: "candidate:1 1 udp 2122260223 10.0.0.2 5000 typ host".into(),
                sdp_mid: None,
                sdp_m_line_index: None,
                username_fragment: None,
            }),
        };
        let with_nulls = r#"{"type":"candidate","to":"p2","candidate":{"candidate":"candidate:1 1 udp 2122260223 10.0.0.2 5000 typ host","sdpMid":null,"sdpMLineIndex":null,"usernameFragment":null}}"#;
        assert_eq!(ClientMessage::parse(with_nulls).unwrap(), expected);
        client_round_trip(
            r#"{"type":"candidate","to":"p2","candidate":{"candidate":"candidate:1 1 udp 2122260223 10.0.0.2 5000 typ host"}}"#,
            expected,
        );
    }

    #[test]
    fn welcome_carries_ice_servers_as_rtc_ice_server_objects() {
        server_round_trip(
            r#"{"type":"welcome","id":"p1","room":"r","peers":[],"max_members":6,
                "ice_servers":[{"urls":["stun:192.0.2.1:3478"]},
                {"urls":["turn:192.0.2.1:3478?transport=udp"],"username":"u","credential":"c"}]}"#,
            ServerMessage::Welcome {
                id: "p1".into(),
                room: "r".into(),
                peers: Vec::new(),
                max_members: 6,
                ice_servers: vec![
                    IceServer::url("stun:192.0.2.1:3478"),
                    IceServer {
                        urls: vec!["turn:192.0.2.1:3478?transport=udp".into()],
                        username: Some("u".into()),
                        credential: Some("c".into()),
                    },
                ],
                resume: None,
            },
        );
        // A single URL as a string, as browsers also accept it.
        let one = ServerMessage::parse(
            r#"{"type":"welcome","id":"p1","room":"r","peers":[],"max_members":6,"ice_servers":[{"urls":"stun:h"}]}"#,
        )
        .unwrap();
        let ServerMessage::Welcome { ice_servers, .. } = one else {
            panic!("{one:?}");
        };
        assert_eq!(ice_servers, vec![IceServer::url("stun:h")]);
    }

    #[test]
    fn server_messages_round_trip_through_literal_json() {
        server_round_trip(
            r#"{"type":"welcome","id":"p3","room":"standup","peers":[{"id":"p1","name":"Ada"},{"id":"p2","name":"Grace"}],"max_members":6}"#,
            ServerMessage::Welcome {
                id: "p3".into(),
                room: "standup".into(),
                peers: vec![
                    PeerInfo {
                        id: "p1".into(),
                        name: "Ada".into(),
                    },
                    PeerInfo {
                        id: "p2".into(),
                        name: "Grace".into(),
                    },
                ],
                max_members: 6,
                ice_servers: Vec::new(),
                resume: None,
            },
        );
        server_round_trip(
            r#"{"type":"peer-joined","peer":{"id":"p4","name":"Linus"}}"#,
            ServerMessage::PeerJoined {
                peer: PeerInfo {
                    id: "p4".into(),
                    name: "Linus".into(),
                },
            },
        );
        server_round_trip(
            r#"{"type":"peer-left","id":"p4"}"#,
            ServerMessage::PeerLeft { id: "p4".into() },
        );
        server_round_trip(
            r#"{"type":"offer","from":"p1","sdp":"v=0\r\n"}"#,
            ServerMessage::Offer {
                from: "p1".into(),
                sdp: "v=0\r\n".into(),
            },
        );
        server_round_trip(
            r#"{"type":"answer","from":"p2","sdp":"v=0\r\n"}"#,
            ServerMessage::Answer {
                from: "p2".into(),
                sdp: "v=0\r\n".into(),
            },
        );
        server_round_trip(
            r#"{"type":"candidate","from":"p2","candidate":null}"#,
            ServerMessage::Candidate {
                from: "p2".into(),
                candidate: None,
            },
        );
        server_round_trip(
            r#"{"type":"error","code":"room-full","message":"room standup holds 6 members"}"#,
            ServerMessage::error(ErrorCode::RoomFull, "room standup holds 6 members"),
        );
    }

    #[test]
    fn every_error_code_has_its_wire_name() {
        for code in ErrorCode::ALL {
            assert_eq!(json!(code), json!(code.as_str()));
            let back: ErrorCode = serde_json::from_value(json!(code.as_str())).unwrap();
            assert_eq!(back, code);
        }
        let newer: ErrorCode = serde_json::from_value(json!("server-on-fire")).unwrap();
        assert_eq!(newer, ErrorCode::Unknown);
    }

    #[test]
    fn unknown_fields_are_ignored_both_ways() {
        let m = ClientMessage::parse(r#"{"type":"join","room":"r","name":"n","token":42}"#);
        assert_eq!(
            m.unwrap(),
            ClientMessage::Join {
                room: "r".into(),
                name: "n".into(),
                password: None,
            }
        );
        let s = ServerMessage::parse(r#"{"type":"peer-left","id":"p1","reason":"timeout"}"#);
        assert_eq!(s.unwrap(), ServerMessage::PeerLeft { id: "p1".into() });
    }

    #[test]
    fn parse_errors_carry_the_code_the_server_answers_with() {
        let code = |t: &str| ClientMessage::parse(t).unwrap_err().code;
        assert_eq!(code("{not json"), ErrorCode::BadJson);
        assert_eq!(code("[1,2]"), ErrorCode::BadJson);
        assert_eq!(code(r#"{"room":"r"}"#), ErrorCode::BadJson);
        assert_eq!(code(r#"{"type":7}"#), ErrorCode::BadJson);
        assert_eq!(code(r#"{"type":"welcome"}"#), ErrorCode::UnknownType);
        assert_eq!(
            code(r#"{"type":"Join","room":"r","name":"n"}"#),
            ErrorCode::UnknownType
        );
        assert_eq!(code(r#"{"type":"join","room":"r"}"#), ErrorCode::BadField);
        assert_eq!(
            code(r#"{"type":"offer","to":1,"sdp":""}"#),
            ErrorCode::BadField
        );
        // The end of candidates is an explicit null, not a missing field.
        assert_eq!(
            code(r#"{"type":"candidate","to":"p1"}"#),
            ErrorCode::BadField
        );
        assert_eq!(
            code(r#"{"type":"join","room":"","name":"n"}"#),
            ErrorCode::BadField
        );
        let long = "é".repeat(65);
        let t = format!(r#"{{"type":"join","room":"r","name":"{long}"}}"#);
        assert_eq!(code(&t), ErrorCode::BadField);
        let t = format!(
            r#"{{"type":"join","room":"r","name":"n","password":"{}"}}"#,
            "x".repeat(257)
        );
        assert_eq!(code(&t), ErrorCode::BadField);
        assert_eq!(
            code(r#"{"type":"join","room":"r","name":"n","password":7}"#),
            ErrorCode::BadField
        );
        let null = ClientMessage::parse(r#"{"type":"join","room":"r","name":"n","password":null}"#);
        assert!(matches!(
            null,
            Ok(ClientMessage::Join { password: None, .. })
        ));
        let ok = "é".repeat(64);
        let t = format!(r#"{{"type":"join","room":"{ok}","name":"{ok}"}}"#);
        assert!(ClientMessage::parse(&t).is_ok());
    }
}

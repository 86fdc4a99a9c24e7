//! Signaling for mesh calls: the JSON protocol, the room logic (sans-IO),
//! and, with the `net` feature, the WebSocket server and client.
//!
//! The protocol is described for people in `docs/signaling.md` (at the
//! repository root); a running server also serves that page at `/protocol`.

pub mod protocol;
pub mod rooms;
pub mod turn_rest;

#[cfg(feature = "net")]
pub mod client;
#[cfg(feature = "net")]
pub mod reconnect;
#[cfg(feature = "net")]
pub mod server;
#[cfg(feature = "net")]
mod sse;
#[cfg(feature = "net")]
pub mod tls;

pub use protocol::{
    ClientMessage, ErrorCode, IceCandidateInit, IceServer, PeerInfo, ServerMessage,
};
pub use rooms::{ClientId, CloseReason, Output, RoomPasswords, Rooms, RoomsConfig, RoomsStats};
pub use turn_rest::TurnRest;

#[cfg(feature = "net")]
pub use client::{SignalingClient, SignalingError};
#[cfg(feature = "net")]
pub use server::{bind, serve, spawn, ServerConfig, ServerHandle, ServerStats};
#[cfg(feature = "net")]
pub use sse::SESSION_HEADER;
#[cfg(feature = "net")]
pub use tls::{ServerTls, ServerTrust, TlsError};

//! Mesh calls: one PeerConnection to each of the other N-1 members of a room.
//!
//! This crate holds the signaling ([`signaling`]): the JSON protocol that
//! `docs/signaling.md` describes (join, welcome with the roster,
//! peer-joined/peer-left, relayed offer/answer/candidate, errors), the room
//! logic as a sans-IO state machine, and behind the `net` feature (on by
//! default) a WebSocket server (`meshrtc serve`) and the client a mesh node
//! uses; the mesh node ([`MeshNode`], sans-IO: roster from signaling,
//! newcomer offers to every existing member, frames packetized once and
//! stamped and protected per member, rate-limited key frames, the encoder
//! target from the members' send-side estimates, kept within one budget
//! for the shared uplink: [`uplink_budget`]); and behind `net` a
//! member on real sockets ([`driver`]).
//!
//! Running a server in-process and talking to it:
//!
//! ```no_run
//! # #[cfg(feature = "net")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use meshrtc_mesh::signaling::{self, ClientMessage, ServerConfig, ServerMessage};
//!
//! let server = signaling::bind("127.0.0.1:0", ServerConfig::default()).await?;
//! let (client, mut events) = signaling::SignalingClient::connect(&server.ws_url()).await?;
//! client.send(ClientMessage::Join { room: "standup".into(), name: "Ada".into(), password: None })?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         // The newcomer offers to everyone already there: joins never glare.
//!         ServerMessage::Welcome { peers, .. } => { /* one offer per peer */ }
//!         ServerMessage::PeerJoined { .. } => { /* wait for their offer */ }
//!         _ => {}
//!     }
//! }
//! server.shutdown().await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "net")]
pub mod driver;
#[cfg(feature = "net")]
pub mod fair_input;
#[cfg(feature = "net")]
mod ice_host_resolver;
pub mod ice_servers;
pub mod node;
pub mod signaling;
pub mod uplink_budget;

pub use node::{
    LayerFrame, MeshConfig, MeshEvent, MeshNode, MeshStats, SlotRelayTransportRequest,
    TurnStreamRequest, CHAT_LABEL, CHAT_STREAM,
};
pub use uplink_budget::{BudgetConfig, UplinkBudget};

//! Mesh calls: one PeerConnection to each of the other N-1 members of a room.
//!
//! This crate will hold the mesh node (roster from signaling, newcomer offers
//! to every existing member, encode once and packetize once per frame, stamp
//! and protect per peer) and the signaling client. It is not written yet.
#![forbid(unsafe_code)]

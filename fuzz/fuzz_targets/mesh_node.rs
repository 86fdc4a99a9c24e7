//! A sans-IO `MeshNode` driven by a byte script of hostile signaling
//! (welcome, peer-joined, peer-left, offer, answer, candidate and error
//! messages with fuzzed ids and text, plus offers and answers made by a
//! real `PeerConnection` so negotiation gets past the SDP parser),
//! hostile datagrams on its slot addresses, frames to fan out, and a
//! virtual clock.
//!
//! Invariants after every step: no panic; never more members than slots
//! (the room size this node can hold); every datagram leaves from one of
//! the slot addresses; handling the timeout at `now` moves the next
//! timeout past `now` within a few rounds (no timer livelock).
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use meshrtc_dtls::Certificate;
use meshrtc_mesh::node::{MeshConfig, MeshNode};
use meshrtc_mesh::signaling::protocol::{
    ClientMessage, ErrorCode, IceCandidateInit, PeerInfo, ServerMessage,
};
use meshrtc_peer::{PacketizedFrame, PeerConfig, PeerConnection, SdpType};
use meshrtc_rtp::vp8::Vp8Packetizer;
use meshrtc_sdp::negotiate::MediaKind;

const SLOTS: usize = 2;

fn setup() -> &'static (Certificate, Instant) {
    static S: OnceLock<(Certificate, Instant)> = OnceLock::new();
    S.get_or_init(|| {
        (
            Certificate::generate("fuzz").expect("certificate"),
            Instant::now(),
        )
    })
}

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
    /// `[len][bytes]` as text.
    fn text(&mut self) -> String {
        let n = usize::from(self.byte().unwrap_or(0));
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }
    /// `[len: u16 BE][bytes]` as text.
    fn long_text(&mut self) -> String {
        let hi = usize::from(self.byte().unwrap_or(0));
        let lo = usize::from(self.byte().unwrap_or(0));
        String::from_utf8_lossy(self.bytes(hi << 8 | lo)).into_owned()
    }
    /// An id: mostly one of a few so that messages meet the same member,
    /// sometimes fuzzed text.
    fn id(&mut self) -> String {
        match self.byte().unwrap_or(0) {
            b @ 0..=239 => format!("p{}", b % 5),
            _ => self.text(),
        }
    }
    fn peer(&mut self) -> PeerInfo {
        PeerInfo {
            id: self.id(),
            name: self.text(),
        }
    }
}

fn slot_addr(slot: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5000 + slot as u16))
}

/// An offer (or, given the node's offer, an answer) from a real peer.
fn genuine(cert: &Certificate, now: Instant, offer: Option<&str>) -> Option<String> {
    let mut pc = PeerConnection::new(PeerConfig::new([7; 32], cert.clone()), now).ok()?;
    pc.add_local_address("127.0.0.1:6000".parse().ok()?);
    match offer {
        None => {
            pc.add_transceiver(MediaKind::Video, true, true);
            pc.add_transceiver(MediaKind::Audio, true, true);
            pc.create_offer(now).ok()
        }
        Some(sdp) => {
            pc.add_answer_track(MediaKind::Video);
            pc.add_answer_track(MediaKind::Audio);
            pc.set_remote_description(now, SdpType::Offer, sdp).ok()?;
            pc.create_answer(now).ok()
        }
    }
}

fn drain(node: &mut MeshNode, offers: &mut Vec<(String, String)>) {
    let slots: Vec<SocketAddr> = (0..SLOTS).map(slot_addr).collect();
    while let Some(t) = node.poll_transmit() {
        assert!(slots.contains(&t.src), "sent from {}", t.src);
    }
    while node.poll_event().is_some() {}
    while let Some(m) = node.poll_signal() {
        if let ClientMessage::Offer { to, sdp } = m {
            if offers.len() < 4 {
                offers.push((to, sdp));
            }
        }
    }
    assert!(
        node.members().len() <= SLOTS,
        "{} members",
        node.members().len()
    );
}

fuzz_target!(|data: &[u8]| {
    let (cert, base) = setup();
    let mut now = *base;
    let mut input = Input(data);
    let slots = (0..SLOTS).map(|s| vec![slot_addr(s)]).collect();
    let mut node = MeshNode::new(MeshConfig::new(
        "room",
        "fuzz",
        PeerConfig::new([3; 32], cert.clone()),
        slots,
    ));
    let mut offers: Vec<(String, String)> = Vec::new();
    let mut packetizer = Vp8Packetizer::new(1);
    let mut steps: u32 = 0;
    while let Some(op) = input.byte() {
        steps += 1;
        if steps > 64 {
            break;
        }
        match op % 13 {
            0 => {
                let id = input.id();
                let room = input.text();
                let n = usize::from(input.byte().unwrap_or(0) % 4);
                let peers = (0..n).map(|_| input.peer()).collect();
                let max_members = usize::from(input.byte().unwrap_or(0));
                node.handle_signal(
                    now,
                    ServerMessage::Welcome {
                        id,
                        room,
                        peers,
                        max_members,
                        ice_servers: Vec::new(),
                        resume: None,
                    },
                );
            }
            1 => {
                let peer = input.peer();
                node.handle_signal(now, ServerMessage::PeerJoined { peer });
            }
            2 => {
                let id = input.id();
                node.handle_signal(now, ServerMessage::PeerLeft { id });
            }
            3 => {
                let from = input.id();
                let sdp = input.long_text();
                node.handle_signal(now, ServerMessage::Offer { from, sdp });
            }
            4 => {
                let from = input.id();
                let sdp = input.long_text();
                node.handle_signal(now, ServerMessage::Answer { from, sdp });
            }
            5 => {
                let from = input.id();
                let candidate = match input.byte().unwrap_or(0) % 3 {
                    0 => None,
                    1 => Some(IceCandidateInit {
                        candidate: input.text(),
                        sdp_mid: Some(input.text()),
                        sdp_m_line_index: input.byte().map(u16::from),
                        username_fragment: Some(input.text()),
                    }),
                    _ => {
                        // A well-formed host candidate with fuzzed fields.
                        let port = 6000 + u16::from(input.byte().unwrap_or(0) % 4);
                        let prio = u32::from(input.byte().unwrap_or(1)) << 16;
                        Some(IceCandidateInit {
                            candidate: format!(
                                "candidate:1 1 udp {prio} 127.0.0.1 {port} typ host"
                            ),
                            sdp_mid: Some("0".into()),
                            sdp_m_line_index: Some(0),
                            username_fragment: None,
                        })
                    }
                };
                node.handle_signal(now, ServerMessage::Candidate { from, candidate });
            }
            6 => {
                let code =
                    ErrorCode::ALL[usize::from(input.byte().unwrap_or(0)) % ErrorCode::ALL.len()];
                let message = input.text();
                node.handle_signal(now, ServerMessage::Error { code, message });
            }
            7 => {
                // A genuine offer from a real peer, under a fuzzed id.
                let from = input.id();
                if let Some(sdp) = genuine(cert, now, None) {
                    node.handle_signal(now, ServerMessage::Offer { from, sdp });
                }
            }
            8 => {
                // A genuine answer to one of the node's own offers.
                let i = usize::from(input.byte().unwrap_or(0));
                if !offers.is_empty() {
                    let (to, offer) = offers[i % offers.len()].clone();
                    if let Some(sdp) = genuine(cert, now, Some(&offer)) {
                        node.handle_signal(now, ServerMessage::Answer { from: to, sdp });
                    }
                }
            }
            9 => {
                // A datagram on a slot address (or a stranger's).
                let to = usize::from(input.byte().unwrap_or(0) % (SLOTS as u8 + 1));
                let port = 6000 + u16::from(input.byte().unwrap_or(0) % 4);
                let from = SocketAddr::from(([127, 0, 0, 1], port));
                let n = usize::from(input.byte().unwrap_or(0)) * 4;
                let payload = input.bytes(n);
                node.handle_datagram(now, from, slot_addr(to), payload);
            }
            10 => {
                // The clock moves; every due timer is handled.
                let hi = u64::from(input.byte().unwrap_or(0));
                let lo = u64::from(input.byte().unwrap_or(0));
                now += Duration::from_millis(hi << 8 | lo);
                let mut rounds = 0;
                while node.poll_timeout().is_some_and(|t| t <= now) {
                    rounds += 1;
                    assert!(rounds <= 8, "timeout stuck at or before now");
                    node.handle_timeout(now);
                    drain(&mut node, &mut offers);
                }
                if let Some(t) = node.poll_timeout() {
                    assert!(t > now);
                }
            }
            11 => {
                // A frame to fan out.
                let n = usize::from(input.byte().unwrap_or(0)) * 8;
                let bytes: Arc<[u8]> = input.bytes(n).into();
                let kind = input.byte().unwrap_or(0);
                let frame = if kind & 1 == 0 {
                    PacketizedFrame::vp8(&mut packetizer, bytes, 3000 * steps, 1200).ok()
                } else {
                    Some(PacketizedFrame::opus(bytes, 960 * steps))
                };
                if let Some(frame) = frame {
                    node.send_frame(now, &frame);
                }
                let _ = node.take_keyframe_request(now);
            }
            _ => {
                if input.byte().unwrap_or(0) == 0 {
                    node.leave();
                }
                let _ = node.stats();
                let _ = node.target_bitrate();
            }
        }
        drain(&mut node, &mut offers);
    }
});

//! Data channels between two PeerConnections on the network simulator
//! (issue 20): a 2 MB ordered reliable transfer through 10% loss,
//! reordering and duplication arrives whole and in order (SHA-256
//! compared), SCTP never puts more in flight than its congestion window
//! allows (the association's own counter, RFC 9260 §6.1 B), and when the
//! peer vanishes the association ends and its channels close.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_integration::sim::{offer_answer, peer_transmit};
use meshrtc_netsim::{Datagram, LinkConfig, Node, NodeId, Sim};
use meshrtc_peer::{
    DataChannelId, DataChannelOptions, DataChannelState, DataPayload, PeerConfig, PeerConnection,
    PeerEvent,
};
use sha2::{Digest, Sha256};

const TOTAL: usize = 2 * 1024 * 1024;
const CHUNK: usize = 16 * 1024;
/// The sender keeps at most this much queued (as an application using
/// `bufferedAmountLowThreshold` does).
const HIGH_WATER: usize = 256 * 1024;

struct DataNode {
    pc: PeerConnection,
    /// The channel we send on, once open.
    out: Option<DataChannelId>,
    sent: usize,
    sent_hash: Sha256,
    received: usize,
    received_hash: Sha256,
    /// Sequence numbers out of order (each message starts with its index).
    out_of_order: u64,
    next_index: u32,
    closed: Vec<DataChannelId>,
    sctp_closed: bool,
    /// Whether this side sends the transfer.
    sending: bool,
}

impl DataNode {
    fn new(seed: u64, epoch: Instant, addr: SocketAddr, sending: bool) -> Self {
        let mut pc = PeerConnection::new(PeerConfig::with_fixed_seed(seed), epoch).unwrap();
        pc.add_local_address(addr);
        DataNode {
            pc,
            out: None,
            sent: 0,
            sent_hash: Sha256::new(),
            received: 0,
            received_hash: Sha256::new(),
            out_of_order: 0,
            next_index: 0,
            closed: Vec::new(),
            sctp_closed: false,
            sending,
        }
    }

    fn events(&mut self, now: Instant) {
        while let Some(e) = self.pc.poll_event() {
            match e {
                PeerEvent::DataChannelOpen { id, by_peer, .. } if !by_peer => {
                    self.out = Some(id);
                    self.pc
                        .set_buffered_amount_low_threshold(id, HIGH_WATER / 2);
                }
                PeerEvent::DataChannelMessage {
                    payload: DataPayload::Binary(b),
                    ..
                } => {
                    let index = u32::from_be_bytes(b[..4].try_into().unwrap());
                    self.out_of_order += u64::from(index != self.next_index);
                    self.next_index = index + 1;
                    self.received += b.len();
                    self.received_hash.update(&b);
                }
                PeerEvent::DataChannelClosed { id } => {
                    self.closed.push(id);
                    self.out = self.out.filter(|o| *o != id);
                }
                PeerEvent::SctpClosed(_) => self.sctp_closed = true,
                _ => {}
            }
        }
        self.send_more(now);
    }

    fn send_more(&mut self, now: Instant) {
        let Some(id) = self.out.filter(|_| self.sending) else {
            return;
        };
        while self.sent < TOTAL && self.pc.buffered_amount(id) < HIGH_WATER {
            let index = (self.sent / CHUNK) as u32;
            let mut chunk: Vec<u8> = (0..CHUNK)
                .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[1] ^ index as u8)
                .collect();
            chunk[..4].copy_from_slice(&index.to_be_bytes());
            self.pc
                .send_data(now, id, &DataPayload::Binary(chunk.clone()))
                .unwrap();
            self.sent_hash.update(&chunk);
            self.sent += CHUNK;
        }
    }
}

impl Node for DataNode {
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.pc.poll_timeout()
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        peer_transmit(&mut self.pc)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
        self.events(now);
    }

    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        self.pc.handle_datagram(now, d.src, d.dst, &d.payload);
        self.events(now);
    }
}

/// A data-only session, `a` sending: `a` offers with its channel made
/// first, `b` answers.
fn session(seed: u64, link: LinkConfig) -> (Sim<DataNode>, NodeId, NodeId) {
    let mut sim: Sim<DataNode> = Sim::new(seed);
    sim.set_default_link(link);
    let epoch = sim.epoch();
    let (aa, ba): (SocketAddr, SocketAddr) = (
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:40000".parse().unwrap(),
    );
    let mut a = DataNode::new(seed * 2 + 1, epoch, aa, true);
    let mut b = DataNode::new(seed * 2 + 2, epoch, ba, false);
    a.pc.create_data_channel(epoch, "bulk", DataChannelOptions::default())
        .unwrap();
    offer_answer(&mut a.pc, &mut b.pc, epoch);
    let na = sim.add_node(a, &[aa.ip()]);
    let nb = sim.add_node(b, &[ba.ip()]);
    (sim, na, nb)
}

#[test]
fn two_megabytes_arrive_whole_and_in_order_through_loss_reordering_and_duplication() {
    let link = LinkConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
        loss: 0.10,
        duplicate: 0.05,
        reorder: 0.10,
        reorder_delay: Duration::from_millis(30),
        mtu: 1500,
        ..LinkConfig::default()
    };
    let (mut sim, a, b) = session(21, link);
    sim.run_until(|s| s.node(b).received == TOTAL, Duration::from_secs(600))
        .expect("the transfer completes");
    let (na, nb) = (sim.node(a), sim.node(b));
    assert_eq!(na.sent, TOTAL);
    assert_eq!(
        nb.received_hash.clone().finalize(),
        na.sent_hash.clone().finalize(),
        "the bytes match"
    );
    assert_eq!(nb.out_of_order, 0, "ordered channel delivered in order");
    // The link did what it was asked to.
    let link = sim.link_stats(a, b);
    assert!(
        link.lost > 0 && link.duplicated > 0 && link.reordered > 0,
        "{link:?}"
    );
    let sa = na.pc.stats().sctp.unwrap();
    let sb = nb.pc.stats().sctp.unwrap();
    assert!(
        sa.retransmissions > 0,
        "loss forced retransmissions: {sa:?}"
    );
    assert!(sb.duplicate_tsns > 0, "duplicates were seen: {sb:?}");
    assert_eq!(sa.cwnd_overruns, 0, "never more in flight than cwnd");
    assert_eq!(sb.cwnd_overruns, 0);
    // The channel's stats agree with the transfer.
    let ch = na.pc.stats().data_channels;
    assert_eq!(ch.len(), 1);
    assert_eq!(
        (ch[0].state, ch[0].bytes_sent, ch[0].messages_sent),
        (DataChannelState::Open, TOTAL as u64, (TOTAL / CHUNK) as u64)
    );
    let ch = nb.pc.stats().data_channels;
    assert_eq!(ch[0].bytes_received, TOTAL as u64);
}

#[test]
fn when_the_peer_vanishes_the_association_ends_and_its_channels_close() {
    let link = LinkConfig {
        latency: Duration::from_millis(20),
        mtu: 1500,
        ..LinkConfig::default()
    };
    let (mut sim, a, b) = session(22, link);
    sim.run_until(|s| s.node(b).received > 0, Duration::from_secs(20))
        .expect("data flows");
    // The peer is gone for good in the middle of the transfer. ICE gives
    // up first (consent, 30 s); SCTP on its own: the sender after
    // Association.Max.Retrans (10) unanswered retransmissions, the idle
    // side after as many unanswered heartbeats (RFC 9260 §8.1, §8.3).
    sim.cut(a, b);
    sim.run_until(
        |s| s.node(a).sctp_closed && s.node(b).sctp_closed,
        Duration::from_secs(1800),
    )
    .expect("both associations end");
    for id in [a, b] {
        let n = sim.node(id);
        eprintln!(
            "peer vanished: {:?} at {:?}, sctp {:?}",
            n.pc.state(),
            sim.elapsed(),
            n.pc.stats().sctp
        );
        assert_eq!(n.closed.len(), 1, "the channel closed with it");
        assert!(n.pc.data_channels().is_empty(), "no channel is left");
        let stats = n.pc.stats().data_channels;
        assert!(stats.iter().all(|c| c.state == DataChannelState::Closed));
    }
    assert!(sim.node(b).received < TOTAL, "cut before the end");
}

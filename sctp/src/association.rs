//! One SCTP association as WebRTC uses it (RFC 8831 §6, RFC 8261): a
//! single path over one DTLS connection, no multihoming, ports from SDP.
//!
//! The state machine of RFC 9260 §4 and §5 (INIT, INIT ACK with a state
//! cookie, COOKIE ECHO, COOKIE ACK, the INIT collision of §5.2.1), data
//! transfer (§6) through [`crate::send`] and [`crate::receive`], the
//! retransmission timers (§6.3), heartbeats (§8.3), the verification tag
//! rules (§8.5), ABORT (§9.1) and graceful SHUTDOWN (§9.2), FORWARD TSN
//! (RFC 3758) and stream reset (RFC 6525 §5). DATA or I-DATA (RFC 8260)
//! as negotiated: [`user_data`].
//!
//! This file holds the association's state, its constructor and the
//! dispatch of input, timers and output; each concern has its own file:
//! `handshake`, `user_data` (receiving), `sack` (the SACKs we send),
//! `sending` (SACKs received, T3-rtx, congestion control), `heartbeat`,
//! `stream_reset`, `shutdown` (and abort), `event` and `stats`.
//!
//! Sans-IO: [`Association::handle_input`] and
//! [`Association::handle_timeout`] change state; [`Association::poll_transmit`],
//! [`Association::poll_event`] and [`Association::poll_timeout`] hand the
//! consequences out and must be drained after each change.

use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use crate::chunk::{reconfig_result, Chunk, ChunkType, RawChunk};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::packet::{emit_header, finish_packet, ChecksumPolicy, Packet, PacketRepr, HEADER_LEN};
use crate::param::{cause, emit_tlv};
use crate::receive::Receiver;
use crate::rng::Rng;
use crate::rto::RtoEstimator;
use crate::send::Sender;
use crate::tsn::initial;

mod event;
mod handshake;
mod heartbeat;
mod sack;
mod sending;
mod shutdown;
mod stats;
mod stream_reset;
mod user_data;

pub use event::{CloseReason, Event};
pub use handshake::PeerInit;
pub use stats::Stats;
use stream_reset::ReconfigRequest;

/// Association state (RFC 9260 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not started (or, for the passive side, waiting for an INIT).
    Closed,
    /// INIT sent.
    CookieWait,
    /// COOKIE ECHO sent.
    CookieEchoed,
    /// Data flows.
    Established,
    /// `close` called; waiting for outstanding data before SHUTDOWN.
    ShutdownPending,
    /// SHUTDOWN sent.
    ShutdownSent,
    /// SHUTDOWN received; finishing outstanding data.
    ShutdownReceived,
    /// SHUTDOWN ACK sent.
    ShutdownAckSent,
    /// Over (shut down, aborted or timed out); nothing more happens.
    Terminated,
}

#[derive(Debug, Clone, Copy)]
struct PeerInfo {
    tag: u32,
    /// Our outbound streams after negotiation.
    outbound_streams: u16,
    forward_tsn: bool,
    reconfig: bool,
    zero_checksum: bool,
    /// I-DATA in use: both sides listed it (RFC 8260 §2.2).
    i_data: bool,
    /// The peer offered zero checksum over DTLS, whether we use it or not.
    zero_checksum_offered: bool,
    /// What its INIT or INIT ACK said, for [`Association::peer_init`].
    init: PeerInit,
}

/// One SCTP association.
#[derive(Debug)]
pub struct Association {
    config: Config,
    state: State,
    local_tag: u32,
    local_initial_tsn: u32,
    peer: Option<PeerInfo>,
    rng: Rng,
    epoch: Option<Instant>,
    rto: RtoEstimator,
    sender: Sender,
    receiver: Option<Receiver>,
    events: VecDeque<Event>,
    /// Packets with one chunk that stands alone: (verification tag, chunk bytes, CRC required).
    solo: VecDeque<(u32, Vec<u8>)>,
    /// Encoded control chunks for the next packet.
    control: VecDeque<Vec<u8>>,
    /// The INIT or COOKIE ECHO being retransmitted by T1.
    t1_chunk: Option<Vec<u8>>,
    t1: Option<Instant>,
    init_retransmits: u32,
    t3: Option<Instant>,
    t2: Option<Instant>,
    ack_pending: bool,
    ack_now: bool,
    ack_deadline: Option<Instant>,
    data_packets_unacked: u32,
    /// The a_rwnd of our last SACK.
    advertised_rwnd: u32,
    heartbeat_at: Option<Instant>,
    heartbeat_outstanding: Option<(u64, Instant)>,
    error_count: u32,
    // RFC 6525.
    next_reconfig_seq: u32,
    peer_next_reconfig_seq: u32,
    last_reconfig_result: u32,
    reset_wanted: BTreeSet<u16>,
    reconfig_in_flight: Option<ReconfigRequest>,
    reconfig_timer: Option<Instant>,
    stats: Stats,
}

impl Association {
    /// A new association; nothing is sent until [`Association::connect`]
    /// (or an INIT from the peer, which a closed association answers).
    pub fn new(config: Config) -> Self {
        let mut rng = Rng::from_seed(config.seed);
        let local_tag = rng.nonzero_u32();
        let local_initial_tsn = rng.next_u64() as u32;
        let rto = RtoEstimator::new(config.rto_initial, config.rto_min, config.rto_max);
        let sender = Sender::new(
            initial(local_initial_tsn),
            config.mtu,
            config.receive_window,
        );
        Association {
            state: State::Closed,
            local_tag,
            local_initial_tsn,
            peer: None,
            rng,
            epoch: None,
            rto,
            sender,
            receiver: None,
            events: VecDeque::new(),
            solo: VecDeque::new(),
            control: VecDeque::new(),
            t1_chunk: None,
            t1: None,
            init_retransmits: 0,
            t3: None,
            t2: None,
            ack_pending: false,
            ack_now: false,
            ack_deadline: None,
            data_packets_unacked: 0,
            advertised_rwnd: config.receive_window.min(u32::MAX as usize) as u32,
            heartbeat_at: None,
            heartbeat_outstanding: None,
            error_count: 0,
            next_reconfig_seq: local_initial_tsn,
            peer_next_reconfig_seq: 0,
            last_reconfig_result: reconfig_result::PERFORMED,
            reset_wanted: BTreeSet::new(),
            reconfig_in_flight: None,
            reconfig_timer: None,
            stats: Stats::default(),
            config,
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether data can be sent and received.
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    fn ms(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        now.saturating_duration_since(epoch).as_millis() as u64
    }

    /// The next event. Taking a message frees receive window and may
    /// queue a window update: drain [`Association::poll_transmit`] after.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        let rx = self.receiver.as_mut()?;
        let m = rx.poll_message()?;
        // §6.2: once the window we last advertised as (nearly) closed has
        // reopened to half its size, tell the sender at once (a window
        // update) instead of waiting for its next probe or timeout.
        if (self.advertised_rwnd as usize) < 2 * self.config.mtu
            && rx.a_rwnd() as usize >= self.config.receive_window / 2
        {
            self.ack_pending = true;
            self.ack_now = true;
        }
        Some(Event::Message(m))
    }

    /// When [`Association::handle_timeout`] should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.t1,
            self.t2,
            self.t3,
            self.ack_deadline,
            self.heartbeat_at,
            self.reconfig_timer,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn count_error(&mut self) -> bool {
        self.error_count += 1;
        if self.error_count > self.config.max_retransmits {
            self.terminate(CloseReason::PeerUnreachable);
            return true;
        }
        false
    }

    /// Runs the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.t1.is_some_and(|t| now >= t) && self.on_t1_expired(now) {
            return;
        }
        if self.t3.is_some_and(|t| now >= t) && self.on_t3_expired(now) {
            return;
        }
        if self.t2.is_some_and(|t| now >= t) && self.on_t2_expired(now) {
            return;
        }
        if self.ack_deadline.is_some_and(|t| now >= t) {
            self.ack_now = true;
            self.ack_deadline = None;
        }
        if self.heartbeat_at.is_some_and(|t| now >= t) && self.on_heartbeat_timer(now) {
            return;
        }
        if self.reconfig_timer.is_some_and(|t| now >= t) {
            self.on_reconfig_timer(now);
        }
    }

    /// Handles one SCTP packet (the payload of one DTLS record). Bad input
    /// is dropped, counted in [`Stats`] and reported as an `Err`; it never
    /// panics.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) -> Result<()> {
        self.stats.packets_received += 1;
        self.ms(now);
        if self.state == State::Terminated {
            self.answer_after_termination(bytes);
            return Ok(());
        }
        let view = match Packet::new_checked(bytes) {
            Ok(v) => v,
            Err(e) => {
                self.stats.dropped_malformed += 1;
                return Err(e);
            }
        };
        let policy = if self.config.zero_checksum {
            ChecksumPolicy::AllowZero
        } else {
            ChecksumPolicy::Required
        };
        let repr = match PacketRepr::parse(&view, policy) {
            Ok(r) => r,
            Err(e) => {
                match e {
                    Error::BadChecksum { .. } => self.stats.dropped_bad_checksum += 1,
                    _ => self.stats.dropped_malformed += 1,
                }
                return Err(e);
            }
        };
        if repr.dst_port != self.config.local_port || repr.src_port != self.config.remote_port {
            self.stats.dropped_bad_ports += 1;
            return Err(Error::BadPorts {
                src: repr.src_port,
                dst: repr.dst_port,
            });
        }
        // RFC 9653 §5.3: a zero checksum only after the association is up
        // and only where it was negotiated; INITs always carry a CRC.
        if view.checksum() == 0 && view.verify_checksum().is_err() {
            let ok = self.peer.is_some_and(|p| p.zero_checksum)
                && !matches!(
                    repr.chunks[0],
                    Chunk::Init(_) | Chunk::InitAck(_) | Chunk::CookieEcho(_)
                );
            if !ok {
                self.stats.dropped_bad_checksum += 1;
                return Err(Error::BadChecksum {
                    got: 0,
                    computed: view.checksum(),
                });
            }
        }
        self.check_tag(&repr)?;
        let mut data_in_packet = false;
        for chunk in &repr.chunks {
            if self.state == State::Terminated {
                break;
            }
            match chunk {
                Chunk::Data(_) | Chunk::IData(_) => data_in_packet = true,
                Chunk::Unknown(raw) => {
                    self.stats.unknown_chunks += 1;
                    self.on_unknown(raw);
                    continue;
                }
                _ => {}
            }
            self.on_chunk(now, chunk);
        }
        if data_in_packet {
            self.schedule_sack(now);
        }
        if self.state == State::Established && self.heartbeat_outstanding.is_none() {
            self.heartbeat_at = Some(now + self.rto.rto() + self.config.heartbeat_interval);
        }
        Ok(())
    }

    /// §8.5 and §8.5.1.
    fn check_tag(&mut self, repr: &PacketRepr<'_>) -> Result<()> {
        let tag = repr.verification_tag;
        let ok = match &repr.chunks[0] {
            Chunk::Init(_) => tag == 0,
            Chunk::Abort {
                reflected: true, ..
            }
            | Chunk::ShutdownComplete { reflected: true } => {
                self.peer.is_some_and(|p| p.tag == tag)
            }
            // §8.5.1 E: a SHUTDOWN ACK in COOKIE-WAIT/ECHOED may carry the
            // peer's tag; we only accept ours.
            _ => tag == self.local_tag,
        };
        if ok {
            Ok(())
        } else {
            self.stats.dropped_bad_tag += 1;
            Err(Error::BadVerificationTag(tag))
        }
    }

    fn on_unknown(&mut self, raw: &RawChunk<'_>) {
        if raw.ty.unrecognized_action().reports() && self.peer.is_some() {
            // §3.2: report in an ERROR with cause "Unrecognized Chunk Type",
            // whose value is the chunk (header included).
            let mut whole = Vec::new();
            Chunk::Unknown(*raw).emit(&mut whole);
            let len = (4 + raw.value.len()).min(self.config.mtu - HEADER_LEN - 16);
            let mut causes = Vec::new();
            emit_tlv(&mut causes, cause::UNRECOGNIZED_CHUNK_TYPE, &whole[..len]);
            let mut c = Vec::new();
            Chunk::Error(&causes).emit(&mut c);
            self.control.push_back(c);
        }
    }

    fn on_chunk(&mut self, now: Instant, chunk: &Chunk<'_>) {
        match chunk {
            Chunk::Init(init) => self.on_init(now, init),
            Chunk::InitAck(ack) => self.on_init_ack(now, ack),
            Chunk::CookieEcho(c) => self.on_cookie_echo(now, c),
            Chunk::CookieAck => self.on_cookie_ack(now),
            Chunk::Data(_)
            | Chunk::IData(_)
            | Chunk::ForwardTsn { .. }
            | Chunk::IForwardTsn { .. } => self.on_user_data_chunk(chunk),
            Chunk::Sack(s) => self.on_sack(now, s),
            Chunk::Heartbeat(info) => self.on_heartbeat(info),
            Chunk::HeartbeatAck(info) => self.on_heartbeat_ack(now, info),
            Chunk::Abort { .. } => {
                self.terminate(CloseReason::AbortedByPeer);
            }
            Chunk::Shutdown { cum_tsn_ack } => self.on_shutdown(now, *cum_tsn_ack),
            Chunk::ShutdownAck => self.on_shutdown_ack(),
            Chunk::ShutdownComplete { .. } => self.on_shutdown_complete(),
            Chunk::Error(_) => {}
            Chunk::ReConfig(params) => {
                for p in params {
                    self.on_reconfig_param(now, p);
                }
            }
            Chunk::Unknown(_) => {}
        }
    }

    /// Writes the next packet to send into `buf` (cleared first) and
    /// returns true, or returns false when there is nothing to send. Drain
    /// it after every `handle_*`, `send`, `close` and `connect`.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        if let Some((tag, chunk)) = self.solo.pop_front() {
            emit_header(buf, self.config.local_port, self.config.remote_port, tag);
            buf.extend_from_slice(&chunk);
            finish_packet(buf, false);
            self.stats.packets_sent += 1;
            return true;
        }
        let Some(peer) = self.peer else { return false };
        if self.state == State::Terminated {
            return false;
        }
        if self.state == State::Established {
            self.maybe_send_reconfig(now);
        }
        let mtu = self.config.mtu;
        emit_header(
            buf,
            self.config.local_port,
            self.config.remote_port,
            peer.tag,
        );
        let mut has_chunks = false;
        let mut must_send = false;
        let mut crc_required = false;
        // A pending SACK rides along with anything we send (§6.2), and goes
        // alone when due.
        let sending_data = self.sender.wants_to_send() && self.can_send_data();
        if self.ack_pending && (self.ack_now || sending_data || !self.control.is_empty()) {
            if let Some(c) = self.sack_chunk() {
                buf.extend_from_slice(&c);
                has_chunks = true;
                must_send = true;
                self.stats.sacks_sent += 1;
            }
            self.ack_pending = false;
            self.ack_now = false;
            self.ack_deadline = None;
            self.data_packets_unacked = 0;
        } else if !self.ack_pending {
            self.ack_now = false;
        }
        while let Some(c) = self.control.front() {
            if buf.len() + c.len() > mtu && has_chunks {
                break;
            }
            if c.first() == Some(&ChunkType::COOKIE_ECHO.0) {
                crc_required = true;
            }
            if let Some(c) = self.control.pop_front() {
                buf.extend_from_slice(&c);
            }
            has_chunks = true;
            must_send = true;
        }
        if self.can_send_data() {
            if self.sender.forward_tsn_due {
                self.sender.forward_tsn_due = false;
                if let Some(f) = self.sender.forward_tsn() {
                    if buf.len() + f.buffer_len() <= mtu {
                        f.emit(buf);
                        has_chunks = true;
                        must_send = true;
                        self.stats.forward_tsns_sent += 1;
                    } else {
                        self.sender.forward_tsn_due = true;
                    }
                }
            }
            let room = mtu.saturating_sub(buf.len());
            let (flight, cwnd) = (self.sender.flight_size(), self.sender.cwnd);
            let fast_rtx = self.sender.fast_rtx_bypass;
            let (wrote, _) = self.sender.fill(now, buf, room);
            if self.sender.flight_size() > flight && flight >= cwnd && !fast_rtx {
                self.stats.cwnd_overruns += 1;
            }
            if wrote {
                has_chunks = true;
                must_send = true;
                if self.t3.is_none() {
                    self.t3 = Some(now + self.rto.rto());
                }
            }
        }
        if !has_chunks || !must_send {
            buf.clear();
            return false;
        }
        finish_packet(buf, peer.zero_checksum && !crc_required);
        self.stats.packets_sent += 1;
        true
    }
}

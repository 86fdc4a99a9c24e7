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
//! Sans-IO: [`Association::handle_input`] and
//! [`Association::handle_timeout`] change state; [`Association::poll_transmit`],
//! [`Association::poll_event`] and [`Association::poll_timeout`] hand the
//! consequences out and must be drained after each change.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::chunk::{
    reconfig_result, Chunk, ChunkType, InitChunk, RawChunk, ReConfigParam, SackChunk,
};
use crate::config::Config;
use crate::cookie::StateCookie;
use crate::error::{Error, Result};
use crate::packet::{emit_header, finish_packet, ChecksumPolicy, Packet, PacketRepr, HEADER_LEN};
use crate::param::{cause, emit_tlv, Param};
use crate::receive::{Message, Receiver};
use crate::rng::Rng;
use crate::rto::RtoEstimator;
use crate::send::{Reliability, Sender};
use crate::tsn::{initial, unwrap_tsn};

mod user_data;

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

/// Why the association ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Graceful shutdown completed (§9.2).
    Shutdown,
    /// The peer sent ABORT.
    AbortedByPeer,
    /// We aborted (`abort`).
    AbortedLocally,
    /// INIT or COOKIE ECHO went unanswered Max.Init.Retransmits times.
    InitTimeout,
    /// Association.Max.Retrans retransmissions or heartbeats unanswered.
    PeerUnreachable,
    /// The peer broke the protocol (DATA where I-DATA was negotiated or
    /// the reverse, RFC 8260 §2.2): we aborted with a Protocol Violation.
    ProtocolViolation,
}

/// What the association tells its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The association is established.
    Connected,
    /// A complete user message.
    Message(Message),
    /// The peer reset these outgoing streams of its own (our incoming):
    /// RFC 6525 §5.2.2. Empty means all.
    IncomingStreamsReset(Vec<u16>),
    /// Our request to reset these outgoing streams was performed.
    OutgoingStreamsReset(Vec<u16>),
    /// The association ended.
    Closed(CloseReason),
}

/// Counters of what the association saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets handed to `handle_input`.
    pub packets_received: u64,
    /// Packets produced by `poll_transmit`.
    pub packets_sent: u64,
    /// Dropped: shorter than the header, chunk lengths that lie, malformed chunks.
    pub dropped_malformed: u64,
    /// Dropped: wrong CRC32c.
    pub dropped_bad_checksum: u64,
    /// Dropped: verification tag mismatch (§8.5).
    pub dropped_bad_tag: u64,
    /// Dropped: ports not the association's.
    pub dropped_bad_ports: u64,
    /// COOKIE ECHOs with a bad MAC, wrong tags or past their lifetime.
    pub bad_cookies: u64,
    /// Chunks that do not belong in the current state.
    pub unexpected_chunks: u64,
    /// Unknown chunk types seen.
    pub unknown_chunks: u64,
    /// DATA and I-DATA chunks received (including duplicates).
    pub data_chunks_received: u64,
    /// Whether I-DATA (RFC 8260 message interleaving) is in use: both
    /// INITs listed it.
    pub interleaving: bool,
    /// I-DATA chunks received (including duplicates and any that broke
    /// the negotiation).
    pub i_data_chunks_received: u64,
    /// I-DATA chunks sent (first transmissions and retransmissions).
    pub i_data_chunks_sent: u64,
    /// I-DATA fragments dropped for contradicting their message (an FSN
    /// past its last fragment, a second last fragment, a reused FSN).
    pub inconsistent_fragments: u64,
    /// Peers aborted for a protocol violation (the wrong one of DATA and
    /// I-DATA, or of FORWARD TSN and I-FORWARD-TSN, RFC 8260 §2.2).
    pub protocol_violations: u64,
    /// DATA chunks already received.
    pub duplicate_tsns: u64,
    /// DATA chunks dropped for a TSN out of the window, a full window or no data.
    pub data_dropped: u64,
    /// SACKs that acknowledged TSNs never sent.
    pub invalid_sacks: u64,
    /// DATA chunks retransmitted (T3 or fast).
    pub retransmissions: u64,
    /// Fast retransmit events (§7.2.4).
    pub fast_retransmits: u64,
    /// T3-rtx expiries.
    pub t3_expiries: u64,
    /// Messages abandoned by partial reliability.
    pub abandoned_messages: u64,
    /// FORWARD TSN (or, with I-DATA, I-FORWARD-TSN) chunks sent.
    pub forward_tsns_sent: u64,
    /// SACKs sent.
    pub sacks_sent: u64,
    /// Incoming messages dropped for exceeding
    /// [`Config::max_receive_message_size`] (RFC 8841 §6.1).
    pub oversized_messages: u64,
    /// Packets that added data to the flight while it already filled the
    /// congestion window (§6.1 rule B forbids it, §7.2.4 excepts the one
    /// fast retransmission: not counted; stays 0).
    pub cwnd_overruns: u64,
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

/// What the peer's INIT or INIT ACK announced (RFC 9260 §3.3.2, §3.3.3):
/// its window, stream counts and extensions. SCTP stacks differ here,
/// which tells them apart on the wire (README: usrsctp in Firefox,
/// dcSCTP in Chromium).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInit {
    /// Advertised receiver window credit.
    pub a_rwnd: u32,
    /// Number of outbound streams it asked for.
    pub outbound_streams: u16,
    /// Maximum inbound streams it takes.
    pub inbound_streams: u16,
    /// FORWARD-TSN (RFC 3758).
    pub forward_tsn: bool,
    /// RE-CONFIG (RFC 6525).
    pub reconfig: bool,
    /// I-DATA (RFC 8260) in its Supported Extensions.
    pub i_data: bool,
    /// Zero checksum over DTLS (RFC 9653).
    pub zero_checksum: bool,
}

const FEATURE_FORWARD_TSN: u8 = 1;
const FEATURE_RECONFIG: u8 = 2;
const FEATURE_ZERO_CHECKSUM: u8 = 4;
const FEATURE_I_DATA: u8 = 8;
const FEATURE_I_FORWARD_TSN: u8 = 16;
/// RFC 9653 §4: Error Detection Method Identifier of DTLS.
const EDMID_DTLS: u32 = 1;

#[derive(Debug)]
struct ReconfigRequest {
    seq: u32,
    streams: Vec<u16>,
    last_tsn: u32,
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

    /// Counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.retransmissions = self.sender.retransmissions;
        s.abandoned_messages = self.sender.abandoned_messages;
        s.oversized_messages = self.receiver.as_ref().map_or(0, |r| {
            r.oversized_messages + r.interleaved.oversized_messages
        });
        s.interleaving = self.interleaving();
        s.inconsistent_fragments = self
            .receiver
            .as_ref()
            .map_or(0, |r| r.interleaved.inconsistent_fragments);
        s.i_data_chunks_sent = self.sender.i_data_chunks_sent;
        s
    }

    /// The congestion window in bytes (§7.2).
    pub fn cwnd(&self) -> usize {
        self.sender.cwnd
    }

    /// Bytes sent and not yet acknowledged (§6.1 flightsize).
    pub fn flight_size(&self) -> usize {
        self.sender.flight_size()
    }

    /// The current retransmission timeout.
    pub fn rto(&self) -> Duration {
        self.rto.rto()
    }

    /// Bytes queued on `stream` and not yet sent.
    pub fn buffered_amount(&self, stream: u16) -> usize {
        self.sender.buffered(stream)
    }

    /// What the peer's INIT or INIT ACK announced, once seen: FORWARD-TSN
    /// (RFC 3758), RE-CONFIG (RFC 6525) and zero checksum over DTLS
    /// (RFC 9653), in that order. Tells SCTP stacks apart: usrsctp does not
    /// implement RFC 9653, dcsctp does.
    pub fn peer_features(&self) -> Option<(bool, bool, bool)> {
        self.peer
            .map(|p| (p.forward_tsn, p.reconfig, p.zero_checksum_offered))
    }

    /// What the peer's INIT or INIT ACK announced, once seen.
    pub fn peer_init(&self) -> Option<PeerInit> {
        self.peer.map(|p| p.init)
    }

    /// Streams we may send on (after negotiation: the smaller of our
    /// outbound and the peer's inbound count).
    pub fn outbound_streams(&self) -> u16 {
        self.peer
            .map_or(self.config.streams, |p| p.outbound_streams)
    }

    fn ms(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        now.saturating_duration_since(epoch).as_millis() as u64
    }

    fn our_init<'a>(&self, cookie: Option<&'a [u8]>) -> InitChunk<'a> {
        let mut params = Vec::new();
        if let Some(c) = cookie {
            params.push(Param::StateCookie(c));
        }
        params.push(Param::ForwardTsnSupported);
        params.push(self.supported_extensions());
        if self.config.zero_checksum {
            params.push(Param::ZeroChecksumAcceptable(EDMID_DTLS));
        }
        InitChunk {
            initiate_tag: self.local_tag,
            a_rwnd: self.config.receive_window.min(u32::MAX as usize) as u32,
            outbound_streams: self.config.streams,
            inbound_streams: self.config.streams,
            initial_tsn: self.local_initial_tsn,
            params,
            unrecognized: Vec::new(),
        }
    }

    /// Starts the association: sends INIT (§5.1 A). Both sides of a WebRTC
    /// connection may call it; the INIT collision is resolved by §5.2.1.
    pub fn connect(&mut self, now: Instant) {
        if self.state != State::Closed {
            return;
        }
        self.ms(now);
        let mut init = Vec::new();
        Chunk::Init(self.our_init(None)).emit(&mut init);
        self.solo.push_back((0, init.clone()));
        self.t1_chunk = Some(init);
        self.t1 = Some(now + self.rto.rto());
        self.state = State::CookieWait;
    }

    /// Queues a user message on `stream` (RFC 8831 §6.6). `ordered`
    /// selects SSN-ordered delivery; `reliability` partial reliability
    /// (ignored, i.e. reliable, when the peer lacks FORWARD TSN).
    pub fn send(
        &mut self,
        now: Instant,
        stream: u16,
        ppid: u32,
        data: &[u8],
        ordered: bool,
        reliability: Reliability,
    ) -> Result<()> {
        match self.state {
            State::Closed | State::CookieWait | State::CookieEchoed | State::Established => {}
            _ => return Err(Error::NotEstablished),
        }
        if stream >= self.outbound_streams() {
            return Err(Error::InvalidStream(stream));
        }
        if data.len() > self.config.max_message_size {
            return Err(Error::MessageTooLarge {
                size: data.len(),
                max: self.config.max_message_size,
            });
        }
        if self.sender.buffered_total() + data.len() > self.config.send_buffer {
            return Err(Error::BufferFull);
        }
        self.sender
            .enqueue(now, stream, ppid, data, ordered, reliability);
        Ok(())
    }

    /// Resets our outgoing `streams` (RFC 6525 §5.1.2), as closing a data
    /// channel does (RFC 8831 §6.7). The request goes out once the data
    /// queued on them has been sent.
    pub fn reset_streams(&mut self, streams: &[u16]) {
        self.reset_wanted.extend(streams.iter().copied());
    }

    /// Graceful shutdown (§9.2): SHUTDOWN once all data is acknowledged.
    pub fn close(&mut self, now: Instant) {
        match self.state {
            State::Established => {
                self.state = State::ShutdownPending;
                self.try_shutdown(now);
            }
            State::Closed | State::CookieWait | State::CookieEchoed => {
                self.terminate(CloseReason::AbortedLocally);
            }
            _ => {}
        }
    }

    /// Sends ABORT (§9.1) and ends the association at once.
    pub fn abort(&mut self) {
        if let Some(p) = self.peer {
            if self.state != State::Terminated {
                let mut c = Vec::new();
                let mut causes = Vec::new();
                emit_tlv(&mut causes, cause::USER_INITIATED_ABORT, &[]);
                Chunk::Abort {
                    reflected: false,
                    causes: &causes,
                }
                .emit(&mut c);
                self.solo.push_back((p.tag, c));
            }
        }
        self.terminate(CloseReason::AbortedLocally);
    }

    fn terminate(&mut self, reason: CloseReason) {
        if self.state == State::Terminated {
            return;
        }
        self.state = State::Terminated;
        self.t1 = None;
        self.t2 = None;
        self.t3 = None;
        self.ack_deadline = None;
        self.heartbeat_at = None;
        self.reconfig_timer = None;
        self.control.clear();
        self.events.push_back(Event::Closed(reason));
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
        if self.t1.is_some_and(|t| now >= t) {
            self.init_retransmits += 1;
            if self.init_retransmits > self.config.max_init_retransmits {
                self.terminate(CloseReason::InitTimeout);
                return;
            }
            self.rto.back_off();
            if let Some(c) = &self.t1_chunk {
                let tag = if self.state == State::CookieWait {
                    0
                } else {
                    self.peer.map_or(0, |p| p.tag)
                };
                if self.state == State::CookieWait {
                    self.solo.push_back((tag, c.clone()));
                } else {
                    self.control.push_back(c.clone());
                }
            }
            self.t1 = Some(now + self.rto.rto());
        }
        if self.t3.is_some_and(|t| now >= t) {
            self.stats.t3_expiries += 1;
            self.t3 = None;
            if self.count_error() {
                return;
            }
            self.rto.back_off();
            self.sender.on_t3_expired();
            if self.sender.has_outstanding() {
                self.t3 = Some(now + self.rto.rto());
            }
        }
        if self.t2.is_some_and(|t| now >= t) {
            if self.count_error() {
                return;
            }
            self.rto.back_off();
            self.send_shutdown_chunk();
            self.t2 = Some(now + self.rto.rto());
        }
        if self.ack_deadline.is_some_and(|t| now >= t) {
            self.ack_now = true;
            self.ack_deadline = None;
        }
        if self.heartbeat_at.is_some_and(|t| now >= t) {
            if self.heartbeat_outstanding.is_some() && self.count_error() {
                return;
            }
            if self.heartbeat_outstanding.is_some() {
                self.rto.back_off();
            }
            let nonce = self.rng.next_u64();
            let mut info = [0u8; 16];
            info[..8].copy_from_slice(&nonce.to_be_bytes());
            let ms = self.ms(now);
            info[8..].copy_from_slice(&ms.to_be_bytes());
            let mut c = Vec::new();
            Chunk::Heartbeat(&info).emit(&mut c);
            self.control.push_back(c);
            self.heartbeat_outstanding = Some((nonce, now));
            self.heartbeat_at = Some(now + self.rto.rto() + self.config.heartbeat_interval);
        }
        if self.reconfig_timer.is_some_and(|t| now >= t) {
            self.reconfig_timer = None;
            if let Some(r) = &self.reconfig_in_flight {
                let c = self.reconfig_chunk(r);
                self.control.push_back(c);
                self.reconfig_timer = Some(now + self.rto.rto());
            }
        }
    }

    fn reconfig_chunk(&self, r: &ReconfigRequest) -> Vec<u8> {
        let mut c = Vec::new();
        Chunk::ReConfig(vec![ReConfigParam::OutgoingReset {
            request_seq: r.seq,
            response_seq: self.peer_next_reconfig_seq.wrapping_sub(1),
            last_tsn: r.last_tsn,
            streams: r.streams.clone(),
        }])
        .emit(&mut c);
        c
    }

    fn send_shutdown_chunk(&mut self) {
        let mut c = Vec::new();
        match self.state {
            State::ShutdownSent => {
                let cum = self.receiver.as_ref().map_or(0, |r| r.cum_tsn() as u32);
                Chunk::Shutdown { cum_tsn_ack: cum }.emit(&mut c);
            }
            State::ShutdownAckSent => Chunk::ShutdownAck.emit(&mut c),
            _ => return,
        }
        self.control.push_back(c);
    }

    fn try_shutdown(&mut self, now: Instant) {
        if !self.sender.is_idle() {
            return;
        }
        match self.state {
            State::ShutdownPending => self.state = State::ShutdownSent,
            State::ShutdownReceived => self.state = State::ShutdownAckSent,
            _ => return,
        }
        self.send_shutdown_chunk();
        self.t3 = None;
        self.heartbeat_at = None;
        self.t2 = Some(now + self.rto.rto());
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
            self.data_packets_unacked += 1;
            // §6.2: SACK at least every second packet with DATA.
            if self.data_packets_unacked >= 2 {
                self.ack_now = true;
            }
            if self.ack_deadline.is_none() && !self.ack_now {
                self.ack_deadline = Some(now + self.config.delayed_ack);
            }
        }
        if self.state == State::Established && self.heartbeat_outstanding.is_none() {
            self.heartbeat_at = Some(now + self.rto.rto() + self.config.heartbeat_interval);
        }
        Ok(())
    }

    /// §8.4 item 5: a SHUTDOWN ACK after we terminated (our SHUTDOWN
    /// COMPLETE was lost) is answered with SHUTDOWN COMPLETE, T bit set,
    /// so the peer need not time out.
    fn answer_after_termination(&mut self, bytes: &[u8]) {
        let Some(peer) = self.peer else { return };
        let Ok(view) = Packet::new_checked(bytes) else {
            return;
        };
        let Ok(repr) = PacketRepr::parse(&view, ChecksumPolicy::AllowZero) else {
            return;
        };
        if repr.verification_tag == self.local_tag
            && peer.tag != 0
            && matches!(repr.chunks.first(), Some(Chunk::ShutdownAck))
        {
            let mut c = Vec::new();
            Chunk::ShutdownComplete { reflected: true }.emit(&mut c);
            self.solo.push_back((self.local_tag, c));
        }
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
            Chunk::CookieAck => {
                if self.state == State::CookieEchoed {
                    self.t1 = None;
                    self.t1_chunk = None;
                    self.establish(now);
                } else {
                    self.stats.unexpected_chunks += 1;
                }
            }
            Chunk::Data(_)
            | Chunk::IData(_)
            | Chunk::ForwardTsn { .. }
            | Chunk::IForwardTsn { .. } => self.on_user_data_chunk(chunk),
            Chunk::Sack(s) => self.on_sack(now, s),
            Chunk::Heartbeat(info) => {
                if self.peer.is_some() {
                    let mut c = Vec::new();
                    Chunk::HeartbeatAck(info).emit(&mut c);
                    self.control.push_back(c);
                }
            }
            Chunk::HeartbeatAck(info) => {
                if let Some((nonce, sent)) = self.heartbeat_outstanding {
                    if info.len() == 16 && info[..8] == nonce.to_be_bytes() {
                        self.rto.measure(now.saturating_duration_since(sent));
                        self.heartbeat_outstanding = None;
                        self.error_count = 0;
                    }
                }
            }
            Chunk::Abort { .. } => {
                self.terminate(CloseReason::AbortedByPeer);
            }
            Chunk::Shutdown { cum_tsn_ack } => self.on_shutdown(now, *cum_tsn_ack),
            Chunk::ShutdownAck => {
                if matches!(self.state, State::ShutdownSent | State::ShutdownAckSent) {
                    if let Some(p) = self.peer {
                        let mut c = Vec::new();
                        Chunk::ShutdownComplete { reflected: false }.emit(&mut c);
                        self.solo.push_back((p.tag, c));
                    }
                    self.terminate(CloseReason::Shutdown);
                } else {
                    self.stats.unexpected_chunks += 1;
                }
            }
            Chunk::ShutdownComplete { .. } => {
                if self.state == State::ShutdownAckSent {
                    self.terminate(CloseReason::Shutdown);
                } else {
                    self.stats.unexpected_chunks += 1;
                }
            }
            Chunk::Error(_) => {}
            Chunk::ReConfig(params) => {
                for p in params {
                    self.on_reconfig_param(now, p);
                }
            }
            Chunk::Unknown(_) => {}
        }
    }

    fn validate_init(init: &InitChunk<'_>) -> bool {
        // §3.3.2: a zero initiate tag or zero stream counts are invalid.
        init.initiate_tag != 0 && init.outbound_streams != 0 && init.inbound_streams != 0
    }

    fn features(init: &InitChunk<'_>) -> u8 {
        let mut f = 0;
        if init.forward_tsn_supported() {
            f |= FEATURE_FORWARD_TSN;
        }
        if init.supports(ChunkType::RE_CONFIG) {
            f |= FEATURE_RECONFIG;
        }
        if init.zero_checksum_edmid() == Some(EDMID_DTLS) {
            f |= FEATURE_ZERO_CHECKSUM;
        }
        if init.supports(ChunkType::I_DATA) {
            f |= FEATURE_I_DATA;
        }
        if init.supports(ChunkType::I_FORWARD_TSN) {
            f |= FEATURE_I_FORWARD_TSN;
        }
        f
    }

    /// §5.1 B and §5.2.1/§5.2.2: INIT is answered with an INIT ACK carrying
    /// a cookie, without creating state. In COOKIE-WAIT/ECHOED (INIT
    /// collision) our tag is reused.
    fn on_init(&mut self, now: Instant, init: &InitChunk<'_>) {
        if !Self::validate_init(init) {
            self.stats.dropped_malformed += 1;
            return;
        }
        if !matches!(
            self.state,
            State::Closed | State::CookieWait | State::CookieEchoed | State::Established
        ) {
            self.stats.unexpected_chunks += 1;
            return;
        }
        let cookie = StateCookie {
            local_tag: self.local_tag,
            peer_tag: init.initiate_tag,
            local_initial_tsn: self.local_initial_tsn,
            peer_initial_tsn: init.initial_tsn,
            peer_a_rwnd: init.a_rwnd,
            peer_outbound_streams: init.outbound_streams,
            peer_inbound_streams: init.inbound_streams,
            peer_features: Self::features(init),
            created_ms: self.ms(now),
        }
        .seal(&self.config.cookie_secret);
        let mut c = Vec::new();
        Chunk::InitAck(self.our_init(Some(&cookie))).emit(&mut c);
        self.solo.push_back((init.initiate_tag, c));
    }

    fn on_init_ack(&mut self, now: Instant, ack: &InitChunk<'_>) {
        if self.state != State::CookieWait {
            self.stats.unexpected_chunks += 1;
            return;
        }
        let Some(cookie) = ack.state_cookie() else {
            self.stats.dropped_malformed += 1;
            return;
        };
        if !Self::validate_init(ack) {
            self.stats.dropped_malformed += 1;
            return;
        }
        self.set_peer(
            ack.initiate_tag,
            ack.initial_tsn,
            ack.a_rwnd,
            ack.inbound_streams,
            ack.outbound_streams,
            Self::features(ack),
        );
        let mut c = Vec::new();
        Chunk::CookieEcho(cookie).emit(&mut c);
        self.control.push_back(c.clone());
        self.t1_chunk = Some(c);
        self.init_retransmits = 0;
        self.t1 = Some(now + self.rto.rto());
        self.state = State::CookieEchoed;
    }

    fn set_peer(
        &mut self,
        tag: u32,
        initial_tsn: u32,
        a_rwnd: u32,
        peer_inbound: u16,
        peer_outbound: u16,
        features: u8,
    ) {
        let info = PeerInfo {
            tag,
            outbound_streams: self.config.streams.min(peer_inbound),
            forward_tsn: features & FEATURE_FORWARD_TSN != 0,
            reconfig: features & FEATURE_RECONFIG != 0,
            zero_checksum: features & FEATURE_ZERO_CHECKSUM != 0 && self.config.zero_checksum,
            i_data: features & FEATURE_I_DATA != 0 && self.config.interleaving,
            zero_checksum_offered: features & FEATURE_ZERO_CHECKSUM != 0,
            init: PeerInit {
                a_rwnd,
                outbound_streams: peer_outbound,
                inbound_streams: peer_inbound,
                forward_tsn: features & FEATURE_FORWARD_TSN != 0,
                reconfig: features & FEATURE_RECONFIG != 0,
                i_data: features & FEATURE_I_DATA != 0,
                zero_checksum: features & FEATURE_ZERO_CHECKSUM != 0,
            },
        };
        self.peer = Some(info);
        self.sender.set_peer_rwnd(a_rwnd as usize);
        // RFC 8260 §2.3: with I-DATA, partial reliability needs
        // I-FORWARD-TSN; without it every message is reliable.
        self.sender.pr_supported = if info.i_data {
            features & FEATURE_I_FORWARD_TSN != 0
        } else {
            info.forward_tsn
        };
        self.sender.set_interleaving(info.i_data);
        self.receiver = Some(Receiver::new(
            initial(initial_tsn),
            self.config.receive_window,
            self.config.max_receive_message_size,
        ));
        self.peer_next_reconfig_seq = initial_tsn;
    }

    fn on_cookie_echo(&mut self, now: Instant, bytes: &[u8]) {
        let cookie = match StateCookie::open(bytes, &self.config.cookie_secret) {
            Ok(c) if c.local_tag == self.local_tag => c,
            _ => {
                self.stats.bad_cookies += 1;
                return;
            }
        };
        let duplicate = self.state != State::CookieWait
            && self.state != State::CookieEchoed
            && self.peer.is_some_and(|p| p.tag == cookie.peer_tag);
        let age = self.ms(now).saturating_sub(cookie.created_ms);
        // §5.1.5: a stale cookie cannot open an association; a duplicate
        // of the one that opened ours (§5.2.4 D) is acknowledged anyway.
        if !duplicate && age > self.config.cookie_lifetime.as_millis() as u64 {
            self.stats.bad_cookies += 1;
            return;
        }
        match self.state {
            State::Closed | State::CookieWait | State::CookieEchoed => {
                if self.peer.is_some_and(|p| p.tag != cookie.peer_tag) || self.peer.is_none() {
                    self.set_peer(
                        cookie.peer_tag,
                        cookie.peer_initial_tsn,
                        cookie.peer_a_rwnd,
                        cookie.peer_inbound_streams,
                        cookie.peer_outbound_streams,
                        cookie.peer_features,
                    );
                }
                self.t1 = None;
                self.t1_chunk = None;
                self.establish(now);
            }
            // §5.2.4 D: a duplicate COOKIE ECHO; just acknowledge again.
            _ if self.peer.is_some_and(|p| p.tag == cookie.peer_tag) => {}
            _ => {
                // A restart (§5.2.4 A) is not supported: WebRTC opens a
                // new DTLS connection instead.
                self.stats.bad_cookies += 1;
                return;
            }
        }
        let mut c = Vec::new();
        Chunk::CookieAck.emit(&mut c);
        self.control.push_front(c);
    }

    fn establish(&mut self, now: Instant) {
        if self.state == State::Established {
            return;
        }
        self.state = State::Established;
        self.error_count = 0;
        self.heartbeat_at = Some(now + self.rto.rto() + self.config.heartbeat_interval);
        self.events.push_back(Event::Connected);
    }

    fn on_sack(&mut self, now: Instant, s: &SackChunk) {
        if !matches!(
            self.state,
            State::Established
                | State::ShutdownPending
                | State::ShutdownReceived
                | State::ShutdownSent
        ) {
            self.stats.unexpected_chunks += 1;
            return;
        }
        let out = self
            .sender
            .on_sack(now, s.cum_tsn_ack, s.a_rwnd, &s.gap_blocks);
        if out.invalid {
            self.stats.invalid_sacks += 1;
            return;
        }
        if let Some(rtt) = out.rtt {
            self.rto.measure(rtt);
        }
        if out.newly_acked {
            self.error_count = 0;
        }
        if out.fast_retransmit > 0 {
            self.stats.fast_retransmits += 1;
        }
        // §6.3.2 R2, R3.
        if !self.sender.has_outstanding() {
            self.t3 = None;
        } else if out.cum_advanced {
            self.t3 = Some(now + self.rto.rto());
        }
        self.after_ack(now);
    }

    fn after_ack(&mut self, now: Instant) {
        if self.reconfig_in_flight.is_none() && self.reconfig_timer.is_none() {
            self.maybe_send_reconfig(now);
        }
        self.try_shutdown(now);
    }

    fn on_shutdown(&mut self, now: Instant, cum_tsn_ack: u32) {
        match self.state {
            State::Established | State::ShutdownPending | State::ShutdownReceived => {
                let rwnd = self.sender.peer_rwnd as u32;
                let out = self.sender.on_sack(
                    now,
                    cum_tsn_ack,
                    rwnd + self.sender.flight_size() as u32,
                    &[],
                );
                if !self.sender.has_outstanding() {
                    self.t3 = None;
                } else if out.cum_advanced {
                    self.t3 = Some(now + self.rto.rto());
                }
                self.state = State::ShutdownReceived;
                self.try_shutdown(now);
            }
            State::ShutdownSent => {
                // §9.2: both sides shut down at once.
                self.state = State::ShutdownAckSent;
                self.send_shutdown_chunk();
                self.t2 = Some(now + self.rto.rto());
            }
            State::ShutdownAckSent => self.send_shutdown_chunk(),
            _ => self.stats.unexpected_chunks += 1,
        }
    }

    /// Queues a RE-CONFIG chunk with one Re-configuration Response
    /// Parameter (RFC 6525 §4.4).
    fn queue_reconfig_response(&mut self, response_seq: u32, result: u32) {
        let mut c = Vec::new();
        Chunk::ReConfig(vec![ReConfigParam::Response {
            response_seq,
            result,
            next_tsns: None,
        }])
        .emit(&mut c);
        self.control.push_back(c);
    }

    fn maybe_send_reconfig(&mut self, now: Instant) {
        if self.reconfig_in_flight.is_some()
            || self.reset_wanted.is_empty()
            || self.state != State::Established
        {
            return;
        }
        let Some(peer) = self.peer else { return };
        let ready: Vec<u16> = self
            .reset_wanted
            .iter()
            .copied()
            .filter(|s| !self.sender.has_pending_on(*s))
            .take(200)
            .collect();
        if ready.is_empty() {
            return;
        }
        for s in &ready {
            self.reset_wanted.remove(s);
        }
        if !peer.reconfig {
            // The peer cannot reset streams; SSNs restart locally only.
            self.sender.reset_ssn(&ready);
            self.events.push_back(Event::OutgoingStreamsReset(ready));
            return;
        }
        let r = ReconfigRequest {
            seq: self.next_reconfig_seq,
            streams: ready,
            last_tsn: (self.sender.next_tsn() - 1) as u32,
        };
        let c = self.reconfig_chunk(&r);
        self.control.push_back(c);
        self.reconfig_in_flight = Some(r);
        self.reconfig_timer = Some(now + self.rto.rto());
    }

    fn on_reconfig_param(&mut self, now: Instant, p: &ReConfigParam<'_>) {
        let Some(peer) = self.peer else {
            self.stats.unexpected_chunks += 1;
            return;
        };
        let _ = peer;
        match p {
            ReConfigParam::OutgoingReset {
                request_seq,
                last_tsn,
                streams,
                ..
            } => {
                let result = if *request_seq == self.peer_next_reconfig_seq {
                    let Some(rx) = self.receiver.as_mut() else {
                        return;
                    };
                    let last = unwrap_tsn(rx.cum_tsn(), *last_tsn);
                    if last <= rx.cum_tsn() {
                        rx.reset_streams(streams);
                        self.events
                            .push_back(Event::IncomingStreamsReset(streams.clone()));
                        self.peer_next_reconfig_seq = self.peer_next_reconfig_seq.wrapping_add(1);
                        self.last_reconfig_result = reconfig_result::PERFORMED;
                        reconfig_result::PERFORMED
                    } else {
                        // RFC 6525 §5.2.2: data before the reset is still
                        // missing; the peer retries the same request.
                        reconfig_result::IN_PROGRESS
                    }
                } else if request_seq.wrapping_add(1) == self.peer_next_reconfig_seq {
                    self.last_reconfig_result
                } else {
                    reconfig_result::BAD_SEQUENCE_NUMBER
                };
                self.queue_reconfig_response(*request_seq, result);
            }
            ReConfigParam::IncomingReset {
                request_seq,
                streams,
            } => {
                let result = if *request_seq == self.peer_next_reconfig_seq {
                    self.peer_next_reconfig_seq = self.peer_next_reconfig_seq.wrapping_add(1);
                    self.reset_wanted.extend(streams.iter().copied());
                    self.last_reconfig_result = reconfig_result::NOTHING_TO_DO;
                    reconfig_result::NOTHING_TO_DO
                } else {
                    reconfig_result::BAD_SEQUENCE_NUMBER
                };
                self.queue_reconfig_response(*request_seq, result);
                self.maybe_send_reconfig(now);
            }
            ReConfigParam::Response {
                response_seq,
                result,
                ..
            } => {
                let Some(r) = &self.reconfig_in_flight else {
                    return;
                };
                if *response_seq != r.seq {
                    return;
                }
                match *result {
                    reconfig_result::PERFORMED | reconfig_result::NOTHING_TO_DO => {
                        let Some(r) = self.reconfig_in_flight.take() else {
                            return;
                        };
                        self.sender.reset_ssn(&r.streams);
                        self.next_reconfig_seq = self.next_reconfig_seq.wrapping_add(1);
                        self.reconfig_timer = None;
                        self.events
                            .push_back(Event::OutgoingStreamsReset(r.streams));
                        self.maybe_send_reconfig(now);
                    }
                    reconfig_result::IN_PROGRESS => {
                        // Retry after an RTO (the timer is running).
                    }
                    _ => {
                        self.reconfig_in_flight = None;
                        self.reconfig_timer = None;
                        self.next_reconfig_seq = self.next_reconfig_seq.wrapping_add(1);
                    }
                }
            }
            ReConfigParam::Other(_) => {}
        }
    }

    fn sack_chunk(&mut self) -> Option<Vec<u8>> {
        let rx = self.receiver.as_mut()?;
        self.advertised_rwnd = rx.a_rwnd();
        let sack = SackChunk {
            cum_tsn_ack: rx.cum_tsn() as u32,
            a_rwnd: self.advertised_rwnd,
            gap_blocks: rx.gap_blocks(),
            duplicate_tsns: rx.take_dups(),
        };
        let mut c = Vec::new();
        Chunk::Sack(sack).emit(&mut c);
        Some(c)
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

    fn can_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownReceived
        )
    }
}

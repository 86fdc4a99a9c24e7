//! [`PeerConnection`]: one WebRTC connection, sans-IO, in the spirit of
//! RTCPeerConnection (W3C webrtc-pc, RFC 8829 JSEP).
//!
//! Everything runs on one BUNDLEd 5-tuple (RFC 8843) with RTCP mux
//! (RFC 5761), demultiplexed by first byte (RFC 7983): STUN goes to the ICE
//! agent, DTLS to the handshake, SRTP and SRTCP to the media streams once
//! DTLS-SRTP keyed them (RFC 5764). The offerer is ICE-controlling
//! (RFC 8445 §6.1.1); the DTLS role follows `a=setup` (RFC 8842).
//!
//! Drive it like the other state machines: `handle_datagram`,
//! `handle_timeout` and the API calls change state; then drain
//! [`PeerConnection::poll_transmit`], [`PeerConnection::poll_event`] and
//! [`PeerConnection::poll_timeout`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use meshrtc_dtls::v13::{AnyDtls, CommonEvent};
use meshrtc_dtls::{self as dtls, Certificate};
use meshrtc_ice::{IceAgent, IceConfig, IceEvent, IceState, PathStatus};
use meshrtc_rtp::rtcp::{
    nack_pairs, Compound, CompoundBuilder, Nack, NackPair, Pli, ReceiverReport, ReportBlock,
    RtcpPacket, Sdes, SdesChunk, SdesItem, SdesItems, SdesType, SenderReport, TransportCc,
    WireList,
};
use meshrtc_rtp::session::{
    classify, rtt_from_report_block, KeyframeRequester, NackConfig, NackGenerator, ReceiveStats,
    Received, RtxConfig, SendBuffer, SendBufferConfig, SendStream, SenderStats, TwccConfig,
    TwccRecorder,
};
use meshrtc_rtp::vp8::{AssemblerConfig, Vp8Assembler};
use meshrtc_rtp::{ext::Mid, RtpHeader, RtpPacket};
use meshrtc_sdp::negotiate::{
    self, ext, DtlsRole, Features, LocalParams, MediaKind, Negotiated, NegotiatedMedia,
    NegotiationError, SendTrack, Transceiver,
};
use meshrtc_sdp::{Attribute, CandidateAttr, SessionDescription};
use meshrtc_srtp as srtp;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::candidate;
use crate::demux::{classify as demux, PacketClass};
use crate::frame::{PacketizedFrame, ReceivedFrame};

mod config;
mod congestion;
mod data_channel_stats;
mod data_channels;
mod data_end;
mod data_share;
mod early;
use congestion::Congestion;
pub use congestion::{video_encoder_target, AUDIO_ALLOWANCE, VIDEO_ENCODER_SHARE};
pub use data_channel_stats::{DataChannelState, DataChannelStats};
pub use data_channels::{DataChannelId, DataChannelInfo, DataChannelOptions, DataPayload};
pub use data_share::DATA_MIN_SHARE;
use early::EarlyPackets;
use meshrtc_cc::PacketClass as PaceClass;
mod events;
mod local_addresses;
mod media_recv;
mod media_send;
mod negotiation;
mod relay_transports;
mod rtcp;
mod stats;
mod transceivers;
mod transport;
mod turn_redirect;

pub use config::PeerConfig;
pub use events::{
    ConnectionState, DtlsState, LocalCandidate, PeerError, PeerEvent, SdpType, SignalingState,
    SrtpKeyLog, Transmit,
};
use media_recv::pump_video;
pub use stats::{InboundStats, OutboundStats, PeerStats};
pub use transceivers::TransceiverInfo;
use transceivers::TransceiverState;

struct SendState {
    mid: String,
    kind: MediaKind,
    ssrc: u32,
    clock: u32,
    stream: SendStream,
    buffer: Option<SendBuffer>,
    has_rtx: bool,
    sender: SenderStats,
    ts_offset: u32,
    stats: OutboundStats,
}

struct RecvState {
    mid: String,
    kind: MediaKind,
    ssrc: u32,
    rtx: Option<(u32, u8)>,
    clock: u32,
    payload_types: Vec<u8>,
    stats: ReceiveStats,
    nack: Option<NackGenerator>,
    assembler: Option<Vp8Assembler>,
    keyframes: Option<KeyframeRequester>,
    frames_dropped_seen: u64,
    /// The picture id of the last frame handed out (VP8).
    last_picture_id: Option<u16>,
    /// Frames are missing: hand out nothing until a key frame.
    waiting_keyframe: bool,
    last_pt: u8,
    out: InboundStats,
}

struct MediaLine {
    mid: String,
    kind: MediaKind,
    send: bool,
    receive: bool,
    payload_types: Vec<u8>,
    rtx_pt: Option<u8>,
    clock: u32,
    remote_ssrcs: Vec<(u32, Option<u32>)>,
}

/// Up to this many datagrams wait for the ICE agent or the DTLS role.
const MAX_EARLY: usize = 64;
/// And up to this many bytes of them, STUN and DTLS together.
const MAX_EARLY_BYTES: usize = 128 * 1024;
/// Up to this many DTLS datagrams, and bytes, wait for their pair to
/// validate.
const MAX_HELD: usize = 32;
/// See [`MAX_HELD`].
const MAX_HELD_BYTES: usize = 64 * 1024;
/// Up to this many SRTP/SRTCP datagrams that came (over a validated path)
/// before our SRTP keys, and as many SCTP packets before our association,
/// wait for them; see [`EarlyPackets`].
const MAX_EARLY_PACKETS: usize = 32;
/// And up to this many bytes of each kind.
const MAX_EARLY_PACKET_BYTES: usize = 64 * 1024;
/// NTP seconds at our clock's origin (any value: only our own echoes use it).
const NTP_ORIGIN: u64 = 0xE800_0000;

/// One peer connection. See the module documentation.
pub struct PeerConnection {
    config: PeerConfig,
    rng: ConnRng,
    certificate: Certificate,
    cname: String,
    origin: Instant,
    signaling: SignalingState,
    state: ConnectionState,
    dtls_state: DtlsState,
    closed: bool,

    local_addrs: Vec<SocketAddr>,
    /// Streams to TCP/TLS TURN servers: (server, our end).
    turn_streams: Vec<(SocketAddr, SocketAddr)>,
    ice: Option<IceAgent>,
    ice_state: IceState,
    selected: Option<(SocketAddr, SocketAddr)>,
    last_remote: Option<(SocketAddr, SocketAddr)>,
    early_stun: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    early_dtls: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// DTLS from a pair ICE is still checking, until it validates.
    held_dtls: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// SRTP/SRTCP that came before our SRTP keys (the DTLS 1.3 client
    /// is done first: its media can overtake its Finished).
    early_srtp: EarlyPackets,
    /// SCTP packets that came before our association existed.
    early_sctp: EarlyPackets,
    unvalidated_dropped: u64,
    remote_candidates_dropped: u64,
    /// Bytes held in `early_stun` and `early_dtls`.
    early_bytes: usize,
    pending_remote_candidates: Vec<Option<String>>,

    /// JSEP (RFC 8829 §3.2, §4.1.8): the transceivers, the descriptions
    /// of the last completed negotiation, the outstanding offer (ours or
    /// the peer's) and what a rollback restores.
    transceivers: Vec<TransceiverState>,
    current_local: Option<SessionDescription<'static>>,
    current_remote: Option<SessionDescription<'static>>,
    pending_local: Option<SessionDescription<'static>>,
    pending_remote: Option<SessionDescription<'static>>,
    snapshot: Option<Vec<transceivers::Snapshot>>,
    negotiation_needed: bool,
    /// `restart_ice` was called and no offer carried it yet.
    ice_restart_pending: bool,
    /// The outstanding local offer restarted ICE.
    offer_restarts_ice: bool,
    /// ICE restarts done, ours and the peer's.
    ice_restarts: u64,
    /// Offers of ours rolled back by the peer's crossing offer
    /// (`set_remote_offer_with_rollback`).
    implicit_rollbacks: u64,
    negotiated: Option<Negotiated>,
    session_id: u64,
    session_version: u64,
    gathering_done: bool,

    /// DTLS 1.2 or 1.3 as negotiated ([`PeerConfig::dtls_versions`]).
    dtls: Option<AnyDtls>,
    pending_dtls_client: Option<dtls::Config>,
    dtls_role: Option<DtlsRole>,
    dtls_connected: Option<Box<dtls::v13::Negotiated>>,
    srtp_tx: Option<srtp::Context>,
    srtp_rx: Option<srtp::Context>,

    lines: Vec<MediaLine>,
    mid_ext: Option<u8>,
    twcc_ext: Option<u8>,
    twcc_rx: Option<TwccRecorder>,
    /// Send-side estimate and pacer, once transport-cc is negotiated.
    cc: Option<Box<Congestion>>,
    transport_feedbacks_sent: u64,
    transport_feedbacks_received: u64,
    remote_remb_bps: Option<u64>,
    transport_seq: u16,
    senders: Vec<SendState>,
    /// Streams that stopped sending (direction changed, transceiver
    /// stopped), kept to resume without repeating an SRTP index.
    parked_senders: Vec<SendState>,
    receivers: Vec<RecvState>,
    local_ssrc: u32,
    next_rtcp: Option<Instant>,

    outbox: VecDeque<Transmit>,
    events: VecDeque<PeerEvent>,
    srtp_errors: u64,
    unroutable: u64,
    malformed: u64,
    early_dropped: u64,
    scratch: Vec<u8>,
    /// Data channels and their SCTP association (RFC 8831).
    data: data_channels::DataState,
}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("state", &self.state)
            .field("signaling", &self.signaling)
            .finish_non_exhaustive()
    }
}

/// The connection's generator for SSRCs, sequence numbers, timestamp
/// offsets and the ICE and DTLS seeds: ChaCha20 from the 256-bit
/// [`PeerConfig::seed`] (keys themselves come from ring or the DTLS RNG).
#[derive(Debug, Clone)]
struct ConnRng(ChaCha20Rng);

impl ConnRng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn seed32(&mut self) -> [u8; 32] {
        let mut s = [0u8; 32];
        self.0.fill_bytes(&mut s);
        s
    }
}

fn kind_name(k: MediaKind) -> String {
    k.as_str().to_string()
}

impl PeerConnection {
    /// A connection with no transceivers yet.
    pub fn new(config: PeerConfig, now: Instant) -> Result<PeerConnection, PeerError> {
        let mut rng = ConnRng(ChaCha20Rng::from_seed(config.seed));
        let certificate = config.certificate.clone();
        let cname = config
            .cname
            .clone()
            .unwrap_or_else(|| format!("{:016x}", rng.next()));
        let session_id = rng.next() >> 1;
        let local_ssrc = rng.u32();
        Ok(PeerConnection {
            config,
            rng,
            certificate,
            cname,
            origin: now,
            signaling: SignalingState::Stable,
            state: ConnectionState::New,
            dtls_state: DtlsState::New,
            closed: false,
            local_addrs: Vec::new(),
            turn_streams: Vec::new(),
            ice: None,
            ice_state: IceState::New,
            selected: None,
            last_remote: None,
            early_stun: Vec::new(),
            early_dtls: Vec::new(),
            held_dtls: Vec::new(),
            early_srtp: EarlyPackets::default(),
            early_sctp: EarlyPackets::default(),
            unvalidated_dropped: 0,
            remote_candidates_dropped: 0,
            early_bytes: 0,
            pending_remote_candidates: Vec::new(),
            transceivers: Vec::new(),
            current_local: None,
            current_remote: None,
            pending_local: None,
            pending_remote: None,
            snapshot: None,
            negotiation_needed: false,
            ice_restart_pending: false,
            offer_restarts_ice: false,
            ice_restarts: 0,
            implicit_rollbacks: 0,
            negotiated: None,
            session_id,
            session_version: 1,
            gathering_done: false,
            dtls: None,
            pending_dtls_client: None,
            dtls_role: None,
            dtls_connected: None,
            srtp_tx: None,
            srtp_rx: None,
            lines: Vec::new(),
            mid_ext: None,
            twcc_ext: None,
            twcc_rx: None,
            cc: None,
            transport_feedbacks_sent: 0,
            transport_feedbacks_received: 0,
            remote_remb_bps: None,
            transport_seq: 0,
            senders: Vec::new(),
            parked_senders: Vec::new(),
            receivers: Vec::new(),
            local_ssrc,
            next_rtcp: None,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            srtp_errors: 0,
            unroutable: 0,
            malformed: 0,
            early_dropped: 0,
            scratch: Vec::new(),
            data: data_channels::DataState::default(),
        })
    }

    /// Our certificate (its fingerprint goes in our descriptions).
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Writes host candidates on `ip` as `name` from now on (see
    /// [`PeerConfig::host_names`]); for an address bound after the start.
    pub fn hide_host_address(&mut self, ip: std::net::IpAddr, name: &str) {
        if !self.config.host_names.iter().any(|(a, _)| *a == ip) {
            self.config.host_names.push((ip, name.to_string()));
        }
    }

    /// Adds a local address the driver bound (a host candidate).
    pub fn add_local_address(&mut self, addr: SocketAddr) {
        if !self.local_addrs.contains(&addr) {
            self.local_addrs.push(addr);
        }
        if let Some(ice) = &mut self.ice {
            let _ = ice.add_local_host(addr);
        }
    }

    fn check_open(&self) -> Result<(), PeerError> {
        if self.closed {
            Err(PeerError::Closed)
        } else {
            Ok(())
        }
    }

    fn set_state(&mut self, s: ConnectionState) {
        if self.state != s && self.state != ConnectionState::Closed {
            tracing::debug!("connection state {:?} -> {s:?}", self.state);
            self.state = s;
            self.events.push_back(PeerEvent::ConnectionStateChanged(s));
        }
    }

    fn set_dtls_state(&mut self, s: DtlsState) {
        if self.dtls_state != s {
            tracing::debug!("DTLS transport state {:?} -> {s:?}", self.dtls_state);
            self.dtls_state = s;
            self.events.push_back(PeerEvent::DtlsStateChanged(s));
        }
    }

    fn update_state(&mut self) {
        if self.closed {
            return;
        }
        let s = match (self.ice_state, self.dtls_state) {
            (_, DtlsState::Failed) | (IceState::Failed, _) => ConnectionState::Failed,
            (IceState::Disconnected, _) => ConnectionState::Disconnected,
            (IceState::Connected | IceState::Completed, DtlsState::Connected) => {
                ConnectionState::Connected
            }
            _ if self.state == ConnectionState::New => ConnectionState::New,
            _ => ConnectionState::Connecting,
        };
        if s == ConnectionState::Failed && self.state != ConnectionState::Failed {
            let why = if self.dtls_state == DtlsState::Failed {
                "DTLS failed"
            } else {
                "ICE failed"
            };
            self.set_state(s);
            // The data channels close with it, not minutes later when
            // SCTP would give up on its own (data_end.rs).
            self.end_data_channels(why);
            self.events.push_back(PeerEvent::Closed(why.into()));
            return;
        }
        self.set_state(s);
    }

    /// The overall state.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// The offer/answer state.
    pub fn signaling_state(&self) -> SignalingState {
        self.signaling
    }

    /// Closes everything: DTLS close_notify, ICE stops.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.end_data_channels("connection closed");
        if let Some(d) = &mut self.dtls {
            d.close();
        }
        self.drain_dtls_transmits();
        if let Some(ice) = &mut self.ice {
            ice.close();
        }
        self.pump_closed_ice(None);
        self.set_state(ConnectionState::Closed);
        self.closed = true;
        self.events
            .push_back(PeerEvent::Closed("closed locally".into()));
    }

    // ----- I/O -----

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.outbox.pop_front()?;
        let t = self.wrap_relayed(t)?;
        // Per packet, at trace level: with the filter off this is one
        // check of the callsite's cached interest; the fields are not
        // computed (issue 21).
        tracing::trace!(
            src = %t.src,
            dst = %t.dst,
            len = t.payload.len(),
            kind = demux(&t.payload).name(),
            "datagram sent"
        );
        Some(t)
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// When [`PeerConnection::handle_timeout`] should be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            // Only the deletion of TURN allocations, if any, is left.
            return self.ice.as_ref().and_then(|i| i.poll_timeout());
        }
        let mut t: Option<Instant> = None;
        let mut add = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        add(self.ice.as_ref().and_then(|i| i.poll_timeout()));
        add(self.dtls.as_ref().and_then(|d| d.poll_timeout()));
        add(self.next_rtcp);
        add(self.twcc_rx.as_ref().and_then(|r| r.poll_timeout()));
        if let Some(cc) = &self.cc {
            add(cc.poll_timeout());
        }
        add(self.sctp_poll_timeout());
        for r in &self.receivers {
            add(r.nack.as_ref().and_then(|n| n.poll_timeout()));
            add(r.keyframes.as_ref().and_then(|k| k.poll_timeout()));
        }
        t
    }

    /// Runs timers: ICE checks and consent, DTLS retransmission, RTCP
    /// reports, NACK and PLI.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            self.pump_closed_ice(Some(now));
            return;
        }
        if let Some(ice) = &mut self.ice {
            ice.handle_timeout(now);
        }
        self.drain_ice(now);
        if let Some(d) = &mut self.dtls {
            d.handle_timeout(now);
        }
        self.drain_dtls(now);
        for r in &mut self.receivers {
            pump_video(r, now, &mut self.events);
        }
        if self.next_rtcp.is_some_and(|t| now >= t) {
            self.send_reports(now);
            self.next_rtcp = Some(now + self.config.rtcp_interval);
        }
        self.send_feedback(now);
        self.send_transport_feedback(now);
        self.run_pacer(now);
        self.sctp_timeout(now);
    }

    /// A datagram from `from` arrived at our local address `to`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        if self.closed {
            self.closed_relay_datagram(now, from, to, data);
            return;
        }
        if self.handle_from_relay_server(now, from, to, data) {
            return;
        }
        self.handle_demuxed(now, from, to, data);
    }

    /// RFC 7983 demultiplexing of a datagram that did not come from one of
    /// our TURN servers (or came out of one, with the relayed 5-tuple).
    fn handle_demuxed(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let class = demux(data);
        tracing::trace!(
            %from,
            %to,
            len = data.len(),
            kind = class.name(),
            "datagram received"
        );
        match class {
            PacketClass::Stun => self.handle_stun(now, from, to, data),
            PacketClass::Dtls => self.handle_dtls(now, from, to, data),
            // SRTP and SRTCP only over a path ICE validated (RFC 8445 §12):
            // a spoofed source is dropped before any work.
            PacketClass::Rtp | PacketClass::Rtcp
                if self.path_status(to, from) != PathStatus::Validated =>
            {
                self.unvalidated_dropped += 1;
            }
            PacketClass::Rtp => self.handle_rtp(now, data),
            PacketClass::Rtcp => self.handle_rtcp(now, data),
            _ => self.malformed += 1,
        }
    }

    /// Whether media can be sent.
    pub fn is_connected(&self) -> bool {
        self.srtp_tx.is_some() && self.route().is_some() && !self.closed
    }
}

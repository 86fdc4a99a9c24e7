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

use meshrtc_dtls::{self as dtls, Certificate, Dtls};
use meshrtc_ice::{IceAgent, IceConfig, IceEvent, IceState};
use meshrtc_rtp::rtcp::{
    nack_pairs, Compound, CompoundBuilder, Nack, NackPair, Pli, ReceiverReport, ReportBlock,
    RtcpPacket, Sdes, SdesChunk, SdesItem, SdesItems, SdesType, SenderReport, WireList,
};
use meshrtc_rtp::session::{
    classify, rtt_from_report_block, KeyframeRequester, NackConfig, NackGenerator, ReceiveStats,
    Received, RtxConfig, SendBuffer, SendBufferConfig, SendStream, SenderStats,
};
use meshrtc_rtp::vp8::{AssemblerConfig, Vp8Assembler};
use meshrtc_rtp::{ext::Mid, RtpHeader, RtpPacket};
use meshrtc_sdp::negotiate::{
    self, ext, DtlsRole, Features, LocalParams, MediaKind, Negotiated, NegotiatedMedia, SendTrack,
    Transceiver,
};
use meshrtc_sdp::{CandidateAttr, SessionDescription};
use meshrtc_srtp as srtp;

use crate::candidate;
use crate::demux::{classify as demux, PacketClass};
use crate::frame::{PacketizedFrame, ReceivedFrame};

/// Settings of a [`PeerConnection`].
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Seed of every random choice (ICE credentials and transaction ids,
    /// SSRCs, first sequence numbers, timestamp offsets, DTLS randoms).
    /// The driver seeds it from the OS; tests use fixed seeds.
    pub seed: u64,
    /// Our DTLS certificate; a fresh one is made when `None`. A mesh node
    /// shares one across its connections.
    pub certificate: Option<Certificate>,
    /// Optional RTP features to negotiate.
    pub features: Features,
    /// ICE settings (STUN servers, timers); `controlling` and `seed` are
    /// set by the connection.
    pub ice: IceConfig,
    /// DTLS first retransmission timeout (RFC 6347 says 1 s; WebRTC stacks
    /// use less on an ICE-checked path).
    pub dtls_initial_rto: Duration,
    /// The DTLS handshake fails after this long.
    pub dtls_timeout: Duration,
    /// Largest datagram we send (DTLS flights, RTP packets).
    pub mtu: usize,
    /// Regular RTCP reports (RFC 3550 §6.2; WebRTC sends about one a
    /// second).
    pub rtcp_interval: Duration,
    /// RTCP CNAME; random when `None`.
    pub cname: Option<String>,
    /// Write NSS key log lines as events ([`PeerEvent::KeyLog`]).
    pub key_log: bool,
}

impl PeerConfig {
    /// Defaults with a seed: RTX on, 500 ms DTLS timer, MTU 1200, RTCP
    /// every second.
    pub fn new(seed: u64) -> PeerConfig {
        PeerConfig {
            seed,
            certificate: None,
            features: Features {
                rtx: true,
                ..Features::default()
            },
            ice: IceConfig::controlled(seed),
            dtls_initial_rto: Duration::from_millis(500),
            dtls_timeout: Duration::from_secs(30),
            mtu: 1200,
            rtcp_interval: Duration::from_secs(1),
            cname: None,
            key_log: false,
        }
    }
}

/// The W3C `RTCPeerConnectionState` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Nothing negotiated yet.
    New,
    /// ICE or DTLS in progress.
    Connecting,
    /// ICE connected and DTLS done: media flows.
    Connected,
    /// ICE lost consent for a while (may recover).
    Disconnected,
    /// ICE or DTLS failed.
    Failed,
    /// [`PeerConnection::close`] was called.
    Closed,
}

/// The W3C `RTCDtlsTransportState` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsState {
    /// Not started.
    New,
    /// Handshaking.
    Connecting,
    /// Keys exported.
    Connected,
    /// Closed by either side.
    Closed,
    /// Failed (error or fatal alert).
    Failed,
}

/// The offer/answer state (RFC 8829 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalingState {
    /// No offer outstanding.
    Stable,
    /// We made an offer and wait for the answer.
    HaveLocalOffer,
    /// We received an offer and owe an answer.
    HaveRemoteOffer,
}

/// Whether a description is an offer or an answer (RFC 8829 §4.1.8; the
/// `type` of an `RTCSessionDescription`). Renegotiation (a second offer)
/// is not supported yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpType {
    /// An offer.
    Offer,
    /// An answer.
    Answer,
}

/// A local candidate to signal, as browsers express it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCandidate {
    /// `sdpMid`: the BUNDLE-tagged m-line.
    pub mid: String,
    /// `sdpMLineIndex`.
    pub mline_index: u32,
    /// `candidate`: `candidate:...` as in `RTCIceCandidate.candidate`.
    pub candidate: String,
    /// `usernameFragment`.
    pub ufrag: String,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerEvent {
    /// The ICE connection state changed.
    IceStateChanged(IceState),
    /// The DTLS transport state changed.
    DtlsStateChanged(DtlsState),
    /// The overall connection state changed.
    ConnectionStateChanged(ConnectionState),
    /// A local candidate (trickle ICE).
    LocalCandidate(LocalCandidate),
    /// No more local candidates.
    GatheringComplete,
    /// A remote stream started arriving on an m-line.
    TrackAdded {
        /// The m-line.
        mid: String,
        /// Audio or video.
        kind: MediaKind,
        /// The sender's SSRC.
        ssrc: u32,
    },
    /// A whole frame arrived.
    Frame(ReceivedFrame),
    /// The peer asked for a key frame on an m-line we send (PLI or FIR).
    KeyframeRequested {
        /// The m-line.
        mid: String,
    },
    /// An NSS key log line (when [`PeerConfig::key_log`] is on).
    KeyLog(String),
    /// The connection is over.
    Closed(String),
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Our local address to send from.
    pub src: SocketAddr,
    /// The destination.
    pub dst: SocketAddr,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// Errors of the API (misuse or a bad description from the peer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The remote description is not valid SDP.
    #[error("remote description is not valid SDP: {0}")]
    Sdp(String),
    /// Offer/answer rules broken (by the peer's description or ours).
    #[error("negotiation failed: {0}")]
    Negotiation(#[from] negotiate::NegotiationError),
    /// An API call that does not fit the signaling state (an answer for an
    /// offer we never made, say).
    #[error("{call} is not allowed in signaling state {state:?}")]
    WrongState {
        /// The call.
        call: &'static str,
        /// The state.
        state: SignalingState,
    },
    /// The remote fingerprint is not a SHA-256 one we can check.
    #[error("remote fingerprint: {0}")]
    Fingerprint(String),
    /// A remote candidate that does not parse.
    #[error("remote candidate: {0}")]
    Candidate(String),
    /// No such m-line, or we do not send on it.
    #[error("no sending transceiver with mid {0:?}")]
    UnknownMid(String),
    /// Media cannot flow yet (or any more).
    #[error("not connected")]
    NotConnected,
    /// Generating our certificate failed.
    #[error("certificate: {0}")]
    Certificate(String),
    /// The connection is closed.
    #[error("closed")]
    Closed,
}

/// Statistics of one outgoing stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboundStats {
    /// The m-line.
    pub mid: String,
    /// `audio` or `video`.
    pub kind: String,
    /// Our SSRC.
    pub ssrc: u32,
    /// Packets sent (retransmissions excluded).
    pub packets_sent: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Frames sent.
    pub frames_sent: u64,
    /// Key frames sent.
    pub keyframes_sent: u64,
    /// Packets retransmitted after NACKs.
    pub retransmitted: u64,
    /// NACK packets received.
    pub nacks_received: u64,
    /// PLI and FIR received.
    pub plis_received: u64,
    /// Round-trip time from the last report block.
    pub rtt_ms: Option<f64>,
    /// Fraction lost from the last report block (0..1).
    pub fraction_lost: f64,
    /// Cumulative loss the peer reported.
    pub packets_lost: i64,
}

/// Statistics of one incoming stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboundStats {
    /// The m-line.
    pub mid: String,
    /// `audio` or `video`.
    pub kind: String,
    /// The sender's SSRC.
    pub ssrc: u32,
    /// Packets received (RTX included).
    pub packets_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Frames handed out.
    pub frames_received: u64,
    /// Key frames handed out.
    pub keyframes_received: u64,
    /// Packets expected but not received (RFC 3550 A.3).
    pub packets_lost: i64,
    /// Interarrival jitter in seconds.
    pub jitter: f64,
    /// NACK packets sent.
    pub nacks_sent: u64,
    /// PLI packets sent.
    pub plis_sent: u64,
    /// Packets that came as RTX.
    pub rtx_received: u64,
    /// Frames the reassembly gave up on.
    pub frames_dropped: u64,
}

/// A getStats-like snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerStats {
    /// Overall state.
    pub state: ConnectionState,
    /// ICE state.
    pub ice_state: IceState,
    /// The selected pair (local, remote).
    pub selected_pair: Option<(SocketAddr, SocketAddr)>,
    /// Our DTLS role, once known.
    pub dtls_role: Option<&'static str>,
    /// "DTLS 1.2" once connected.
    pub dtls_version: Option<&'static str>,
    /// The cipher suite's name.
    pub dtls_cipher: Option<&'static str>,
    /// The SRTP profile's name.
    pub srtp_profile: Option<&'static str>,
    /// Outgoing streams.
    pub outbound: Vec<OutboundStats>,
    /// Incoming streams.
    pub inbound: Vec<InboundStats>,
    /// SRTP or SRTCP packets that failed authentication or replay checks.
    pub srtp_errors: u64,
    /// RTP packets no m-line could take.
    pub unroutable: u64,
    /// Datagrams of no known protocol, or malformed.
    pub malformed: u64,
    /// Datagrams buffered or dropped because they came too early.
    pub early_dropped: u64,
}

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
/// NTP seconds at our clock's origin (any value: only our own echoes use it).
const NTP_ORIGIN: u64 = 0xE800_0000;

/// One peer connection. See the module documentation.
pub struct PeerConnection {
    config: PeerConfig,
    rng: SplitMix,
    certificate: Certificate,
    cname: String,
    origin: Instant,
    signaling: SignalingState,
    state: ConnectionState,
    dtls_state: DtlsState,
    closed: bool,

    local_addrs: Vec<SocketAddr>,
    ice: Option<IceAgent>,
    ice_state: IceState,
    selected: Option<(SocketAddr, SocketAddr)>,
    last_remote: Option<(SocketAddr, SocketAddr)>,
    early_stun: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    early_dtls: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    pending_remote_candidates: Vec<Option<String>>,

    transceivers: Vec<Transceiver>,
    answer_tracks: Vec<(MediaKind, SendTrack)>,
    local_sdp: Option<SessionDescription<'static>>,
    remote_sdp: Option<SessionDescription<'static>>,
    negotiated: Option<Negotiated>,
    session_id: u64,
    session_version: u64,
    gathering_done: bool,
    we_offered: Option<bool>,

    dtls: Option<Dtls>,
    pending_dtls_client: Option<dtls::Config>,
    dtls_role: Option<DtlsRole>,
    dtls_connected: Option<Box<dtls::Connected>>,
    srtp_tx: Option<srtp::Context>,
    srtp_rx: Option<srtp::Context>,

    lines: Vec<MediaLine>,
    mid_ext: Option<u8>,
    twcc_ext: Option<u8>,
    transport_seq: u16,
    senders: Vec<SendState>,
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
}

impl std::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("state", &self.state)
            .field("signaling", &self.signaling)
            .finish_non_exhaustive()
    }
}

/// SplitMix64: the connection's small seeded generator for SSRCs and
/// sequence numbers (not for keys: those come from ring or the DTLS RNG).
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    fn seed32(&mut self) -> [u8; 32] {
        let mut s = [0u8; 32];
        for c in s.chunks_mut(8) {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        s
    }
}

fn suite_name(s: dtls::cipher::Suite) -> &'static str {
    match s {
        dtls::cipher::Suite::EcdheEcdsaAes128GcmSha256 => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        dtls::cipher::Suite::EcdheEcdsaAes256GcmSha384 => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    }
}

fn kind_name(k: MediaKind) -> String {
    k.as_str().to_string()
}

impl PeerConnection {
    /// A connection with no transceivers yet.
    pub fn new(config: PeerConfig, now: Instant) -> Result<PeerConnection, PeerError> {
        let mut rng = SplitMix(config.seed ^ 0x006d_6573_6872_7463);
        let certificate = match &config.certificate {
            Some(c) => c.clone(),
            None => Certificate::generate("meshrtc")
                .map_err(|e| PeerError::Certificate(e.to_string()))?,
        };
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
            ice: None,
            ice_state: IceState::New,
            selected: None,
            last_remote: None,
            early_stun: Vec::new(),
            early_dtls: Vec::new(),
            pending_remote_candidates: Vec::new(),
            transceivers: Vec::new(),
            answer_tracks: Vec::new(),
            local_sdp: None,
            remote_sdp: None,
            negotiated: None,
            session_id,
            session_version: 1,
            gathering_done: false,
            we_offered: None,
            dtls: None,
            pending_dtls_client: None,
            dtls_role: None,
            dtls_connected: None,
            srtp_tx: None,
            srtp_rx: None,
            lines: Vec::new(),
            mid_ext: None,
            twcc_ext: None,
            transport_seq: 0,
            senders: Vec::new(),
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
        })
    }

    /// Our certificate (its fingerprint goes in our descriptions).
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
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

    /// Adds a transceiver for an offer: `send` and `receive` as in its
    /// direction. Returns its mid.
    pub fn add_transceiver(&mut self, kind: MediaKind, send: bool, receive: bool) -> String {
        let mid = self.transceivers.len().to_string();
        let send = send.then(|| self.new_send_track(kind));
        self.transceivers.push(Transceiver {
            mid: mid.clone(),
            kind,
            send,
            receive,
        });
        mid
    }

    /// Declares a track to send when answering: it goes on the first
    /// offered m-line of its kind (RFC 8829 §5.3.1).
    pub fn add_answer_track(&mut self, kind: MediaKind) {
        let t = self.new_send_track(kind);
        self.answer_tracks.push((kind, t));
    }

    fn new_send_track(&mut self, kind: MediaKind) -> SendTrack {
        let ssrc = self.rng.u32();
        let rtx_ssrc =
            (kind == MediaKind::Video && self.config.features.rtx).then(|| self.rng.u32());
        SendTrack {
            stream_id: format!("meshrtc-{}", self.cname),
            track_id: format!("{}-{:08x}", kind.as_str(), ssrc),
            ssrc,
            rtx_ssrc,
        }
    }

    fn ensure_ice(&mut self, controlling: bool, now: Instant) {
        if self.ice.is_some() {
            return;
        }
        let mut cfg = self.config.ice.clone();
        cfg.controlling = controlling;
        cfg.seed = self.rng.seed32();
        let mut ice = IceAgent::new(cfg, now);
        for a in &self.local_addrs {
            let _ = ice.add_local_host(*a);
        }
        ice.start_gathering(now);
        self.ice = Some(ice);
        for (from, to, d) in std::mem::take(&mut self.early_stun) {
            self.handle_stun(now, from, to, &d);
        }
        self.drain_ice(now);
    }

    fn local_params(&self) -> LocalParams {
        let ice = self.ice.as_ref();
        let candidates = ice
            .map(|i| i.local_candidates().map(candidate::to_sdp).collect())
            .unwrap_or_default();
        LocalParams {
            ice_ufrag: ice.map(|i| i.local_ufrag().to_string()).unwrap_or_default(),
            ice_pwd: ice.map(|i| i.local_pwd().to_string()).unwrap_or_default(),
            fingerprint: negotiate::Fingerprint {
                hash: "sha-256".into(),
                value: self.certificate.fingerprint().to_string(),
            },
            cname: self.cname.clone(),
            session_id: self.session_id,
            session_version: self.session_version,
            candidates,
            end_of_candidates: self.gathering_done,
        }
    }

    /// Makes an offer of the transceivers added so far and sets it as the
    /// local description (with every candidate gathered so far; more come
    /// as [`PeerEvent::LocalCandidate`]).
    pub fn create_offer(&mut self, now: Instant) -> Result<String, PeerError> {
        self.check_open()?;
        if self.signaling != SignalingState::Stable || self.local_sdp.is_some() {
            return Err(PeerError::WrongState {
                call: "create_offer",
                state: self.signaling,
            });
        }
        self.ensure_ice(true, now);
        let sdp = negotiate::create_offer(
            &self.local_params(),
            &self.config.features,
            &self.transceivers,
        )?;
        let text = sdp.to_string();
        self.local_sdp = Some(sdp);
        self.we_offered = Some(true);
        self.signaling = SignalingState::HaveLocalOffer;
        self.set_state(ConnectionState::Connecting);
        Ok(text)
    }

    /// Applies the peer's offer or answer (`RTCSessionDescription`'s
    /// `type` and `sdp`). An answer without an offer of ours, or an offer
    /// while ours is outstanding, is a [`PeerError::WrongState`].
    pub fn set_remote_description(
        &mut self,
        now: Instant,
        kind: SdpType,
        sdp: &str,
    ) -> Result<(), PeerError> {
        self.check_open()?;
        let parsed = SessionDescription::parse(sdp)
            .map_err(|e| PeerError::Sdp(e.to_string()))?
            .into_owned();
        match (kind, self.signaling) {
            (SdpType::Answer, SignalingState::HaveLocalOffer) => {
                let local = self.local_sdp.as_ref().ok_or(PeerError::WrongState {
                    call: "set_remote_description",
                    state: self.signaling,
                })?;
                let n = negotiate::negotiate(local, &parsed, true)?;
                self.remote_sdp = Some(parsed);
                self.signaling = SignalingState::Stable;
                self.apply_negotiated(now, n)?;
            }
            (SdpType::Offer, SignalingState::Stable)
                if self.local_sdp.is_none() && self.remote_sdp.is_none() =>
            {
                // An offer: checked when we answer. Its candidates and
                // credentials can be used at once.
                self.remote_sdp = Some(parsed);
                self.signaling = SignalingState::HaveRemoteOffer;
                self.ensure_ice(false, now);
                self.set_state(ConnectionState::Connecting);
            }
            (SdpType::Offer, state) => {
                return Err(PeerError::WrongState {
                    call: "set_remote_description(offer)",
                    state,
                })
            }
            (SdpType::Answer, state) => {
                return Err(PeerError::WrongState {
                    call: "set_remote_description(answer)",
                    state,
                })
            }
        }
        Ok(())
    }

    /// Answers the remote offer and sets the answer as the local
    /// description.
    pub fn create_answer(&mut self, now: Instant) -> Result<String, PeerError> {
        self.check_open()?;
        if self.signaling != SignalingState::HaveRemoteOffer {
            return Err(PeerError::WrongState {
                call: "create_answer",
                state: self.signaling,
            });
        }
        self.ensure_ice(false, now);
        let offer = self.remote_sdp.as_ref().ok_or(PeerError::WrongState {
            call: "create_answer",
            state: self.signaling,
        })?;
        let answer = negotiate::create_answer(
            offer,
            &self.local_params(),
            &self.config.features,
            &self.answer_tracks,
        )?;
        let n = negotiate::negotiate(&answer, offer, false)?;
        let text = answer.to_string();
        self.local_sdp = Some(answer);
        self.we_offered = Some(false);
        self.signaling = SignalingState::Stable;
        self.apply_negotiated(now, n)?;
        Ok(text)
    }

    /// Our description as it stands now: the offer or answer made
    /// earlier, with every candidate gathered since and
    /// `a=end-of-candidates` once gathering is complete (what
    /// `localDescription` gives in a browser). `None` before an offer or
    /// answer was made.
    pub fn local_description(&self) -> Option<String> {
        let sdp = match self.we_offered? {
            true => negotiate::create_offer(
                &self.local_params(),
                &self.config.features,
                &self.transceivers,
            ),
            false => negotiate::create_answer(
                self.remote_sdp.as_ref()?,
                &self.local_params(),
                &self.config.features,
                &self.answer_tracks,
            ),
        };
        sdp.ok().map(|d| d.to_string())
    }

    /// Whether local candidate gathering is complete.
    pub fn gathering_complete(&self) -> bool {
        self.gathering_done
    }

    /// A trickled remote candidate (`candidate:...` or the bare attribute
    /// value); `None` is end-of-candidates. Queued until the remote
    /// description is there.
    pub fn add_remote_candidate(
        &mut self,
        now: Instant,
        candidate: Option<&str>,
    ) -> Result<(), PeerError> {
        self.check_open()?;
        if let Some(c) = candidate {
            let v = normalize_candidate(c);
            CandidateAttr::parse(&v).map_err(|e| PeerError::Candidate(e.to_string()))?;
        }
        if self.negotiated.is_none() && self.remote_sdp.is_none() {
            self.pending_remote_candidates
                .push(candidate.map(str::to_string));
            return Ok(());
        }
        self.apply_remote_candidate(now, candidate);
        Ok(())
    }

    fn apply_remote_candidate(&mut self, now: Instant, candidate: Option<&str>) {
        let Some(ice) = &mut self.ice else {
            self.pending_remote_candidates
                .push(candidate.map(str::to_string));
            return;
        };
        match candidate {
            None => ice.end_of_remote_candidates(now),
            Some(c) => {
                let v = normalize_candidate(c);
                if let Ok(attr) = CandidateAttr::parse(&v) {
                    if let Ok(cand) = candidate::from_sdp(&attr) {
                        let _ = ice.add_remote_candidate(now, cand);
                    }
                }
            }
        }
        self.drain_ice(now);
    }

    fn apply_negotiated(&mut self, now: Instant, n: Negotiated) -> Result<(), PeerError> {
        // ICE: credentials and candidates from the description.
        if let Some(ice) = &mut self.ice {
            ice.set_remote_credentials(now, &n.remote_ufrag, &n.remote_pwd)
                .map_err(|e| PeerError::Candidate(e.to_string()))?;
            for c in &n.remote_candidates {
                if let Ok(cand) = candidate::from_sdp(c) {
                    let _ = ice.add_remote_candidate(now, cand);
                }
            }
            if n.remote_end_of_candidates {
                ice.end_of_remote_candidates(now);
            }
        }
        // Media lines, streams, extension ids.
        self.lines.clear();
        for m in n.media.iter().filter(|m| !m.rejected) {
            let Some(kind) = m.kind else { continue };
            let Some(first) = m.codecs.first() else {
                continue;
            };
            self.lines.push(MediaLine {
                mid: m.mid.clone(),
                kind,
                send: m.send,
                receive: m.receive,
                payload_types: m.codecs.iter().map(|c| c.pt).collect(),
                rtx_pt: first.rtx_pt,
                clock: first.clock,
                remote_ssrcs: m.remote_ssrcs.iter().map(|r| (r.ssrc, r.rtx)).collect(),
            });
            for (id, uri) in &m.extensions {
                let id = u8::try_from(*id).ok();
                if uri == ext::MID {
                    self.mid_ext = self.mid_ext.or(id);
                }
                if uri == ext::TRANSPORT_CC {
                    self.twcc_ext = self.twcc_ext.or(id);
                }
            }
        }
        self.setup_senders(&n);
        // DTLS: role and fingerprint.
        let fp_text = &n.remote_fingerprint.value;
        if !n.remote_fingerprint.hash.eq_ignore_ascii_case("sha-256") {
            return Err(PeerError::Fingerprint(format!(
                "hash {} (only sha-256 is checked)",
                n.remote_fingerprint.hash
            )));
        }
        let fp = dtls::Fingerprint::parse_sdp(fp_text)
            .map_err(|e| PeerError::Fingerprint(e.to_string()))?;
        self.dtls_role = Some(n.dtls_role);
        self.negotiated = Some(n);
        match &mut self.dtls {
            Some(d) => {
                let _ = d.set_remote_fingerprint(fp);
            }
            None => {
                let mut cfg = dtls::Config::new(self.certificate.clone());
                cfg.remote_fingerprint = Some(fp);
                cfg.mtu = self.config.mtu;
                cfg.initial_rto = self.config.dtls_initial_rto;
                cfg.handshake_timeout = self.config.dtls_timeout;
                cfg.key_log = self.config.key_log;
                cfg.rng_seed = Some(self.rng.seed32());
                if self.dtls_role == Some(DtlsRole::Server) {
                    self.dtls = Some(Dtls::server(cfg, now));
                    self.set_dtls_state(DtlsState::Connecting);
                } else {
                    // The client starts once ICE has a pair.
                    self.pending_dtls_client = Some(cfg);
                }
            }
        }
        for c in std::mem::take(&mut self.pending_remote_candidates) {
            self.apply_remote_candidate(now, c.as_deref());
        }
        self.maybe_start_dtls_client(now);
        for (from, to, d) in std::mem::take(&mut self.early_dtls) {
            self.handle_dtls(now, from, to, &d);
        }
        self.drain_ice(now);
        self.drain_dtls(now);
        Ok(())
    }

    fn setup_senders(&mut self, n: &Negotiated) {
        let mut tracks: Vec<(String, MediaKind, SendTrack)> = Vec::new();
        // Which of our tracks went on which m-line: read our own local
        // description's a=ssrc lines back through the transceivers and
        // answer tracks we gave it.
        for t in &self.transceivers {
            if let Some(s) = &t.send {
                tracks.push((t.mid.clone(), t.kind, s.clone()));
            }
        }
        if tracks.is_empty() {
            let mut used = vec![false; self.answer_tracks.len()];
            for m in n.media.iter().filter(|m| !m.rejected && m.send) {
                let Some(kind) = m.kind else { continue };
                if let Some(i) =
                    (0..used.len()).find(|&i| !used[i] && self.answer_tracks[i].0 == kind)
                {
                    used[i] = true;
                    tracks.push((m.mid.clone(), kind, self.answer_tracks[i].1.clone()));
                }
            }
        }
        self.senders.clear();
        for (mid, kind, track) in tracks {
            let Some(line) = self.lines.iter().find(|l| l.mid == mid && l.send) else {
                continue;
            };
            let Some(&pt) = line.payload_types.first() else {
                continue;
            };
            let mid_ext = self.mid_ext.map(|id| (id, mid.as_str()));
            let Ok(stream) = SendStream::new(
                track.ssrc,
                pt,
                self.rng.u32() as u16,
                mid_ext,
                self.twcc_ext,
            ) else {
                continue;
            };
            let has_rtx =
                kind == MediaKind::Video && track.rtx_ssrc.is_some() && line.rtx_pt.is_some();
            let buffer = (kind == MediaKind::Video).then(|| {
                let rtx = match (track.rtx_ssrc, line.rtx_pt) {
                    (Some(ssrc), Some(payload_type)) => Some(RtxConfig {
                        ssrc,
                        payload_type,
                        first_seq: self.rng.u32() as u16,
                    }),
                    _ => None,
                };
                SendBuffer::new(
                    track.ssrc,
                    pt,
                    SendBufferConfig {
                        rtx,
                        max_payload: self.config.mtu,
                        ..SendBufferConfig::default()
                    },
                )
            });
            self.senders.push(SendState {
                mid: mid.clone(),
                kind,
                ssrc: track.ssrc,
                clock: line.clock,
                stream,
                buffer,
                has_rtx,
                sender: SenderStats::new(),
                ts_offset: self.rng.u32(),
                stats: OutboundStats {
                    mid,
                    kind: kind_name(kind),
                    ssrc: track.ssrc,
                    ..OutboundStats::default()
                },
            });
        }
    }

    // ----- state -----

    fn check_open(&self) -> Result<(), PeerError> {
        if self.closed {
            Err(PeerError::Closed)
        } else {
            Ok(())
        }
    }

    fn set_state(&mut self, s: ConnectionState) {
        if self.state != s && self.state != ConnectionState::Closed {
            self.state = s;
            self.events.push_back(PeerEvent::ConnectionStateChanged(s));
        }
    }

    fn set_dtls_state(&mut self, s: DtlsState) {
        if self.dtls_state != s {
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

    /// What was agreed, once both descriptions are set.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The mids we send on, with their kinds.
    pub fn sending_mids(&self) -> Vec<(String, MediaKind)> {
        self.senders
            .iter()
            .map(|s| (s.mid.clone(), s.kind))
            .collect()
    }

    /// Closes everything: DTLS close_notify, ICE stops.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        if let Some(d) = &mut self.dtls {
            d.close();
        }
        self.drain_dtls_transmits();
        if let Some(ice) = &mut self.ice {
            ice.close();
        }
        self.set_state(ConnectionState::Closed);
        self.closed = true;
        self.events
            .push_back(PeerEvent::Closed("closed locally".into()));
    }

    // ----- I/O -----

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
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
            return None;
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
    }

    /// A datagram from `from` arrived at our local address `to`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        if self.closed {
            return;
        }
        match demux(data) {
            PacketClass::Stun => self.handle_stun(now, from, to, data),
            PacketClass::Dtls => self.handle_dtls(now, from, to, data),
            PacketClass::Rtp => self.handle_rtp(now, data),
            PacketClass::Rtcp => self.handle_rtcp(now, data),
            _ => self.malformed += 1,
        }
    }

    fn handle_stun(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let Some(ice) = &mut self.ice else {
            if self.early_stun.len() < MAX_EARLY {
                self.early_stun.push((from, to, data.to_vec()));
            } else {
                self.early_dropped += 1;
            }
            return;
        };
        if ice.handle_datagram(now, from, to, data).is_err() {
            self.malformed += 1;
        }
        self.drain_ice(now);
    }

    fn handle_dtls(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let Some(d) = &mut self.dtls else {
            if self.early_dtls.len() < MAX_EARLY {
                self.early_dtls.push((from, to, data.to_vec()));
            } else {
                self.early_dropped += 1;
            }
            return;
        };
        self.last_remote = Some((to, from));
        let _ = d.handle_datagram(now, data);
        self.drain_dtls(now);
    }

    fn drain_ice(&mut self, now: Instant) {
        let Some(ice) = &mut self.ice else { return };
        while let Some(t) = ice.poll_transmit() {
            self.outbox.push_back(Transmit {
                src: t.src,
                dst: t.dst,
                payload: t.payload,
            });
        }
        let mut changed = false;
        while let Some(e) = ice.poll_event() {
            match e {
                IceEvent::LocalCandidate(c) => {
                    let attr = candidate::to_sdp(&c);
                    let mid = self
                        .transceivers
                        .first()
                        .map(|t| t.mid.clone())
                        .or_else(|| self.negotiated.as_ref().map(|n| n.bundle_mid.clone()))
                        .unwrap_or_else(|| "0".into());
                    self.events
                        .push_back(PeerEvent::LocalCandidate(LocalCandidate {
                            mid,
                            mline_index: 0,
                            candidate: attr.to_string(),
                            ufrag: ice.local_ufrag().to_string(),
                        }));
                }
                IceEvent::GatheringComplete => {
                    self.gathering_done = true;
                    self.events.push_back(PeerEvent::GatheringComplete);
                }
                IceEvent::StateChanged(s) => {
                    self.ice_state = s;
                    changed = true;
                    self.events.push_back(PeerEvent::IceStateChanged(s));
                }
                IceEvent::SelectedPair { local, remote, .. } => {
                    self.selected = Some((local, remote));
                }
                IceEvent::RoleChanged { .. } => {}
            }
        }
        if changed {
            self.update_state();
        }
        self.maybe_start_dtls_client(now);
    }

    fn maybe_start_dtls_client(&mut self, now: Instant) {
        if self.selected.is_none() {
            return;
        }
        if let Some(cfg) = self.pending_dtls_client.take() {
            self.dtls = Some(Dtls::client(cfg, now));
            self.set_dtls_state(DtlsState::Connecting);
            self.drain_dtls(now);
        }
    }

    /// Where DTLS and media go: the selected pair, or where the peer's
    /// DTLS came from before ICE selected one here.
    fn route(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.selected.or(self.last_remote)
    }

    fn drain_dtls_transmits(&mut self) {
        let route = self.route();
        let Some(d) = &mut self.dtls else { return };
        while let Some(p) = d.poll_transmit() {
            if let Some((src, dst)) = route {
                self.outbox.push_back(Transmit {
                    src,
                    dst,
                    payload: p,
                });
            }
        }
    }

    fn drain_dtls(&mut self, now: Instant) {
        self.drain_dtls_transmits();
        let Some(d) = &mut self.dtls else { return };
        let mut events = Vec::new();
        while let Some(e) = d.poll_event() {
            events.push(e);
        }
        for e in events {
            match e {
                dtls::Event::Connected(c) => self.on_dtls_connected(now, c),
                dtls::Event::ApplicationData(_) => {}
                dtls::Event::KeyLog(l) => self.events.push_back(PeerEvent::KeyLog(l)),
                dtls::Event::Closed(reason) => {
                    let failed = matches!(reason, dtls::CloseReason::Error(_));
                    self.set_dtls_state(if failed {
                        DtlsState::Failed
                    } else {
                        DtlsState::Closed
                    });
                    if let dtls::CloseReason::Error(e) = &reason {
                        self.events
                            .push_back(PeerEvent::Closed(format!("DTLS: {e}")));
                        self.state = ConnectionState::Failed;
                        self.events
                            .push_back(PeerEvent::ConnectionStateChanged(ConnectionState::Failed));
                    } else if !self.closed {
                        self.events
                            .push_back(PeerEvent::Closed("the peer closed DTLS".into()));
                        self.set_state(ConnectionState::Closed);
                        self.closed = true;
                    }
                }
                _ => {}
            }
        }
    }

    fn on_dtls_connected(&mut self, now: Instant, c: Box<dtls::Connected>) {
        let Some(keys) = &c.srtp else {
            self.events
                .push_back(PeerEvent::Closed("DTLS agreed no SRTP profile".into()));
            self.set_dtls_state(DtlsState::Failed);
            self.update_state();
            return;
        };
        let Some(profile) = srtp::Profile::from_dtls_id(keys.profile.0) else {
            self.set_dtls_state(DtlsState::Failed);
            self.update_state();
            return;
        };
        let client = self.dtls_role == Some(DtlsRole::Client);
        let (tx_key, tx_salt, rx_key, rx_salt) = if client {
            (
                &keys.client_key,
                &keys.client_salt,
                &keys.server_key,
                &keys.server_salt,
            )
        } else {
            (
                &keys.server_key,
                &keys.server_salt,
                &keys.client_key,
                &keys.client_salt,
            )
        };
        let (Ok(tx), Ok(rx)) = (
            srtp::MasterKey::new(profile, tx_key, tx_salt),
            srtp::MasterKey::new(profile, rx_key, rx_salt),
        ) else {
            self.set_dtls_state(DtlsState::Failed);
            self.update_state();
            return;
        };
        let rtx_everywhere = self
            .senders
            .iter()
            .filter(|s| s.kind == MediaKind::Video)
            .all(|s| s.has_rtx);
        let tx_cfg = srtp::Config {
            allow_repeat_tx: !rtx_everywhere,
            ..srtp::Config::default()
        };
        self.srtp_tx = Some(srtp::Context::new(&tx, tx_cfg));
        self.srtp_rx = Some(srtp::Context::new(&rx, srtp::Config::default()));
        self.dtls_connected = Some(c);
        self.next_rtcp = Some(now + self.config.rtcp_interval / 2);
        self.set_dtls_state(DtlsState::Connected);
        self.update_state();
    }

    /// Whether media can be sent.
    pub fn is_connected(&self) -> bool {
        self.srtp_tx.is_some() && self.route().is_some() && !self.closed
    }

    fn send_protected_rtp(&mut self, mut packet: Vec<u8>) {
        let route = self.route();
        let (Some(tx), Some((src, dst))) = (&mut self.srtp_tx, route) else {
            return;
        };
        if tx.protect_rtp(&mut packet).is_ok() {
            self.outbox.push_back(Transmit {
                src,
                dst,
                payload: packet,
            });
        }
    }

    fn send_protected_rtcp(&mut self, mut packet: Vec<u8>) {
        let route = self.route();
        let (Some(tx), Some((src, dst))) = (&mut self.srtp_tx, route) else {
            return;
        };
        if tx.protect_rtcp(&mut packet).is_ok() {
            self.outbox.push_back(Transmit {
                src,
                dst,
                payload: packet,
            });
        }
    }

    // ----- sending media -----

    /// Sends a frame packetized once (shared by every connection of a mesh
    /// node) on the m-line `mid`: this connection's SSRC, sequence
    /// numbers, payload type, timestamp offset and header extensions are
    /// stamped around the shared payloads, then SRTP-protected.
    pub fn send_frame(
        &mut self,
        now: Instant,
        mid: &str,
        frame: &PacketizedFrame,
    ) -> Result<(), PeerError> {
        self.check_open()?;
        let i = self
            .senders
            .iter()
            .position(|s| s.mid == mid)
            .ok_or_else(|| PeerError::UnknownMid(mid.to_string()))?;
        if !self.is_connected() {
            return Err(PeerError::NotConnected);
        }
        let n = frame.payloads.len();
        for p in 0..n {
            let Some(parts) = frame.parts(p) else {
                continue;
            };
            self.transport_seq = self.transport_seq.wrapping_add(1);
            let s = &mut self.senders[i];
            let ts = frame.rtp_time.wrapping_add(s.ts_offset);
            let marker = s.kind == MediaKind::Video && p + 1 == n;
            let mut out = Vec::with_capacity(64 + parts[0].len() + parts[1].len());
            let Ok(seq) = s
                .stream
                .write(ts, marker, self.transport_seq, &parts, &mut out)
            else {
                continue;
            };
            if let Some(b) = &mut s.buffer {
                let _ = b.on_packet_sent(now, seq, ts, marker, &parts);
            }
            let len = parts[0].len() + parts[1].len();
            s.sender.on_packet_sent(now, ts, len);
            s.stats.packets_sent += 1;
            s.stats.bytes_sent += len as u64;
            self.send_protected_rtp(out);
        }
        let s = &mut self.senders[i];
        s.stats.frames_sent += 1;
        s.stats.keyframes_sent += u64::from(frame.keyframe);
        Ok(())
    }

    /// Convenience: packetizes and sends a whole encoded frame (VP8 frame
    /// or Opus packet) on `mid`.
    pub fn send_encoded(
        &mut self,
        now: Instant,
        mid: &str,
        packetizer: &mut meshrtc_rtp::vp8::Vp8Packetizer,
        data: &[u8],
        rtp_time: u32,
    ) -> Result<(), PeerError> {
        let kind = self
            .senders
            .iter()
            .find(|s| s.mid == mid)
            .map(|s| s.kind)
            .ok_or_else(|| PeerError::UnknownMid(mid.to_string()))?;
        let frame = match kind {
            MediaKind::Video => PacketizedFrame::vp8(
                packetizer,
                data.into(),
                rtp_time,
                self.config.mtu.saturating_sub(100),
            )
            .map_err(|_| PeerError::NotConnected)?,
            MediaKind::Audio => PacketizedFrame::opus(data.into(), rtp_time),
        };
        self.send_frame(now, mid, &frame)
    }

    /// Asks the peer for a key frame on the m-line `mid` (PLI).
    pub fn request_keyframe(&mut self, now: Instant, mid: &str) {
        for r in self.receivers.iter_mut().filter(|r| r.mid == mid) {
            if let Some(k) = &mut r.keyframes {
                k.request(now);
            }
        }
        self.send_feedback(now);
    }

    // ----- receiving -----

    fn handle_rtp(&mut self, now: Instant, data: &[u8]) {
        let Some(rx) = &mut self.srtp_rx else {
            self.early_dropped += 1;
            return;
        };
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(data);
        if rx.unprotect_rtp(&mut buf).is_err() {
            self.srtp_errors += 1;
            self.scratch = buf;
            return;
        }
        match RtpPacket::parse(&buf) {
            Ok(p) => self.route_rtp(now, &p),
            Err(_) => self.malformed += 1,
        }
        self.scratch = buf;
        self.send_feedback(now);
    }

    fn find_line(&self, p: &RtpPacket<'_>) -> Option<usize> {
        // 1. The MID header extension (RFC 8843 §9.2).
        if let Some(id) = self.mid_ext {
            if let Some(m) = p.extension_by_id(id).and_then(|d| Mid::parse(d).ok()) {
                return self.lines.iter().position(|l| l.mid == m.0);
            }
        }
        // 2. a=ssrc lines (and their FID groups).
        let ssrc = p.ssrc();
        if let Some(i) = self.lines.iter().position(|l| {
            l.remote_ssrcs
                .iter()
                .any(|&(s, r)| s == ssrc || r == Some(ssrc))
        }) {
            return Some(i);
        }
        // 3. A payload type only one m-line has.
        let pt = p.payload_type();
        let mut it = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.payload_types.contains(&pt) || l.rtx_pt == Some(pt));
        match (it.next(), it.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    fn route_rtp(&mut self, now: Instant, p: &RtpPacket<'_>) {
        let ssrc = p.ssrc();
        let idx = match self
            .receivers
            .iter()
            .position(|r| r.ssrc == ssrc || r.rtx.is_some_and(|(s, _)| s == ssrc))
        {
            Some(i) => i,
            None => {
                let Some(li) = self.find_line(p) else {
                    self.unroutable += 1;
                    return;
                };
                let line = &self.lines[li];
                if !line.receive {
                    self.unroutable += 1;
                    return;
                }
                let is_rtx = line.rtx_pt == Some(p.payload_type());
                if is_rtx {
                    // An RTX stream: bind it to the m-line's media stream.
                    let from_sdp = line
                        .remote_ssrcs
                        .iter()
                        .find(|&&(_, r)| r == Some(ssrc))
                        .map(|&(s, _)| s);
                    let mid = line.mid.clone();
                    let rtx_pt = p.payload_type();
                    match self.receivers.iter().position(|r| {
                        r.mid == mid && (from_sdp.is_none() || from_sdp == Some(r.ssrc))
                    }) {
                        Some(i) => {
                            self.receivers[i].rtx = Some((ssrc, rtx_pt));
                            i
                        }
                        None => {
                            self.unroutable += 1;
                            return;
                        }
                    }
                } else {
                    if !line.payload_types.contains(&p.payload_type()) {
                        self.unroutable += 1;
                        return;
                    }
                    let rtx_ssrc = line
                        .remote_ssrcs
                        .iter()
                        .find(|&&(s, _)| s == ssrc)
                        .and_then(|&(_, r)| r);
                    let rtx = match (rtx_ssrc, line.rtx_pt) {
                        (Some(s), Some(pt)) => Some((s, pt)),
                        _ => None,
                    };
                    let (mid, kind, clock, pts) = (
                        line.mid.clone(),
                        line.kind,
                        line.clock,
                        line.payload_types.clone(),
                    );
                    // One stream per m-line: a new SSRC replaces the old.
                    self.receivers.retain(|r| r.mid != mid);
                    let video = kind == MediaKind::Video;
                    let mut keyframes =
                        video.then(|| KeyframeRequester::new(Duration::from_millis(300)));
                    if let Some(k) = &mut keyframes {
                        k.request(now);
                    }
                    self.receivers.push(RecvState {
                        mid: mid.clone(),
                        kind,
                        ssrc,
                        rtx,
                        clock,
                        payload_types: pts,
                        stats: ReceiveStats::new(),
                        nack: video.then(|| {
                            // Packets reordered by a few milliseconds are
                            // not asked for: that would only double them.
                            NackGenerator::new(NackConfig {
                                reorder_delay: Duration::from_millis(15),
                                ..NackConfig::default()
                            })
                        }),
                        assembler: video.then(|| Vp8Assembler::new(AssemblerConfig::default())),
                        keyframes,
                        frames_dropped_seen: 0,
                        last_picture_id: None,
                        waiting_keyframe: false,
                        last_pt: 0,
                        out: InboundStats {
                            mid: mid.clone(),
                            kind: kind_name(kind),
                            ssrc,
                            ..InboundStats::default()
                        },
                    });
                    self.events
                        .push_back(PeerEvent::TrackAdded { mid, kind, ssrc });
                    self.receivers.len() - 1
                }
            }
        };
        let r = &mut self.receivers[idx];
        r.out.packets_received += 1;
        r.out.bytes_received += p.payload().len() as u64;
        let Some(received) = classify(p, r.ssrc, r.rtx) else {
            self.unroutable += 1;
            return;
        };
        let (seq, payload, rtx) = match received {
            Received::Media { seq, payload, rtx } => (seq, payload, rtx),
            Received::Padding { .. } => return,
        };
        if rtx {
            r.out.rtx_received += 1;
        } else if !r.payload_types.contains(&p.payload_type()) {
            self.unroutable += 1;
            return;
        } else {
            r.stats.on_packet(now, seq, p.timestamp(), r.clock);
        }
        if let Some(n) = &mut r.nack {
            n.on_packet(now, seq);
        }
        match &mut r.assembler {
            Some(a) => {
                let _ = a.push(seq, p.timestamp(), p.marker(), payload);
                r.last_pt = p.payload_type();
                pump_video(r, now, &mut self.events);
            }
            None => {
                r.out.frames_received += 1;
                self.events.push_back(PeerEvent::Frame(ReceivedFrame {
                    mid: r.mid.clone(),
                    kind: r.kind,
                    ssrc: r.ssrc,
                    payload_type: p.payload_type(),
                    rtp_timestamp: p.timestamp(),
                    keyframe: false,
                    data: payload.to_vec(),
                }));
            }
        }
    }

    fn ntp(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.origin);
        let secs = NTP_ORIGIN + d.as_secs();
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        (secs << 32) | frac
    }

    fn handle_rtcp(&mut self, now: Instant, data: &[u8]) {
        let Some(rx) = &mut self.srtp_rx else {
            self.early_dropped += 1;
            return;
        };
        let mut buf = data.to_vec();
        if rx.unprotect_rtcp(&mut buf).is_err() {
            self.srtp_errors += 1;
            return;
        }
        let now_mid = (self.ntp(now) >> 16) as u32;
        let mut keyframe_mids = Vec::new();
        let mut nacks: Vec<(u32, Vec<u16>)> = Vec::new();
        for pkt in Compound::new(&buf) {
            let Ok(pkt) = pkt else {
                self.malformed += 1;
                break;
            };
            let blocks: Vec<ReportBlock> = match &pkt {
                RtcpPacket::SenderReport(sr) => {
                    if let Some(r) = self.receivers.iter_mut().find(|r| r.ssrc == sr.ssrc) {
                        r.stats.on_sender_report(now, sr.info.ntp_time);
                    }
                    sr.reports.iter().collect()
                }
                RtcpPacket::ReceiverReport(rr) => rr.reports.iter().collect(),
                RtcpPacket::Nack(n) => {
                    nacks.push((n.media_ssrc, n.lost().collect()));
                    Vec::new()
                }
                RtcpPacket::Pli(p) => {
                    if let Some(s) = self.senders.iter_mut().find(|s| s.ssrc == p.media_ssrc) {
                        s.stats.plis_received += 1;
                        keyframe_mids.push(s.mid.clone());
                    }
                    Vec::new()
                }
                RtcpPacket::Fir(f) => {
                    for e in f.entries.iter() {
                        if let Some(s) = self.senders.iter_mut().find(|s| s.ssrc == e.ssrc) {
                            s.stats.plis_received += 1;
                            keyframe_mids.push(s.mid.clone());
                        }
                    }
                    Vec::new()
                }
                _ => Vec::new(),
            };
            for b in blocks {
                if let Some(s) = self.senders.iter_mut().find(|s| s.ssrc == b.ssrc) {
                    s.stats.fraction_lost = f64::from(b.fraction_lost) / 256.0;
                    s.stats.packets_lost = i64::from(b.cumulative_lost);
                    if let Some(rtt) = rtt_from_report_block(now_mid, &b) {
                        s.stats.rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
                        for r in &mut self.receivers {
                            if let Some(n) = &mut r.nack {
                                n.set_rtt(rtt);
                            }
                            if let Some(k) = &mut r.keyframes {
                                k.set_rtt(rtt);
                            }
                        }
                    }
                }
            }
        }
        for mid in keyframe_mids {
            if !self
                .events
                .iter()
                .any(|e| matches!(e, PeerEvent::KeyframeRequested { mid: m } if *m == mid))
            {
                self.events.push_back(PeerEvent::KeyframeRequested { mid });
            }
        }
        for (ssrc, lost) in nacks {
            self.on_nack(now, ssrc, lost);
        }
    }

    fn on_nack(&mut self, now: Instant, ssrc: u32, lost: Vec<u16>) {
        let Some(i) = self.senders.iter().position(|s| s.ssrc == ssrc) else {
            return;
        };
        let mut packets = Vec::new();
        {
            let s = &mut self.senders[i];
            s.stats.nacks_received += 1;
            let Some(b) = &mut s.buffer else { return };
            b.on_nack(now, lost);
            let mut header: RtpHeader = s.stream.header().clone();
            while let Some(r) = b.poll_retransmit() {
                let mut out = Vec::new();
                if r.write(&mut header, &mut out).is_ok() {
                    packets.push(out);
                }
            }
            s.stats.retransmitted += packets.len() as u64;
        }
        for p in packets {
            self.send_protected_rtp(p);
        }
    }

    fn send_feedback(&mut self, now: Instant) {
        if self.srtp_tx.is_none() {
            return;
        }
        let mut packets = Vec::new();
        let sender_ssrc = self.local_ssrc;
        for r in &mut self.receivers {
            let lost = r.nack.as_mut().and_then(|n| n.poll_nack(now));
            let pli = r.keyframes.as_mut().is_some_and(|k| k.poll_pli(now));
            if lost.is_none() && !pli {
                continue;
            }
            let mut buf = Vec::new();
            let mut b = CompoundBuilder::new(&mut buf);
            let rr = RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: sender_ssrc,
                reports: WireList::new(&[]),
                extension: &[],
            });
            let _ = b.push(&rr);
            if let Some(lost) = lost {
                let pairs: Vec<NackPair> = nack_pairs(lost).collect();
                let _ = b.push(&RtcpPacket::Nack(Nack {
                    sender_ssrc,
                    media_ssrc: r.ssrc,
                    pairs: WireList::new(&pairs),
                }));
                r.out.nacks_sent += 1;
            }
            if pli {
                let _ = b.push(&RtcpPacket::Pli(Pli {
                    sender_ssrc,
                    media_ssrc: r.ssrc,
                }));
                r.out.plis_sent += 1;
            }
            packets.push(buf);
        }
        for p in packets {
            self.send_protected_rtcp(p);
        }
    }

    fn send_reports(&mut self, now: Instant) {
        if self.srtp_tx.is_none() {
            return;
        }
        let ntp = self.ntp(now);
        let blocks: Vec<ReportBlock> = self
            .receivers
            .iter_mut()
            .map(|r| r.stats.report_block(now, r.ssrc))
            .take(31)
            .collect();
        let mut buf = Vec::new();
        let mut b = CompoundBuilder::new(&mut buf);
        let mut first = true;
        for s in &self.senders {
            let Some(info) = s.sender.sender_info(now, ntp, s.clock) else {
                continue;
            };
            let info = meshrtc_rtp::rtcp::SenderInfo {
                rtp_time: info.rtp_time,
                ..info
            };
            let reports: &[ReportBlock] = if first { &blocks } else { &[] };
            let _ = b.push(&RtcpPacket::SenderReport(SenderReport {
                ssrc: s.ssrc,
                info,
                reports: WireList::new(reports),
                extension: &[],
            }));
            first = false;
        }
        if first {
            let _ = b.push(&RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: self.local_ssrc,
                reports: WireList::new(&blocks),
                extension: &[],
            }));
        }
        let ssrc = self.senders.first().map_or(self.local_ssrc, |s| s.ssrc);
        let items = [SdesItem {
            kind: SdesType::CNAME,
            value: self.cname.as_bytes(),
        }];
        let chunks = [SdesChunk {
            ssrc,
            items: SdesItems::new(&items),
        }];
        let _ = b.push(&RtcpPacket::Sdes(Sdes {
            chunks: meshrtc_rtp::rtcp::SdesChunks::new(&chunks),
        }));
        self.send_protected_rtcp(buf);
    }

    // ----- stats -----

    /// A getStats-like snapshot.
    pub fn stats(&self) -> PeerStats {
        let c = self.dtls_connected.as_deref();
        PeerStats {
            state: self.state,
            ice_state: self.ice_state,
            selected_pair: self.selected,
            dtls_role: self.dtls_role.map(|r| match r {
                DtlsRole::Client => "client",
                DtlsRole::Server => "server",
            }),
            dtls_version: c.map(|_| "DTLS 1.2"),
            dtls_cipher: c.map(|c| suite_name(c.suite)),
            srtp_profile: c
                .and_then(|c| c.srtp.as_ref())
                .and_then(|k| srtp::Profile::from_dtls_id(k.profile.0))
                .map(|p| p.name()),
            outbound: self.senders.iter().map(|s| s.stats.clone()).collect(),
            inbound: self
                .receivers
                .iter()
                .map(|r| {
                    let mut o = r.out.clone();
                    o.packets_lost =
                        r.stats.packets_expected() as i64 - r.stats.packets_received() as i64;
                    o.jitter = f64::from(r.stats.jitter()) / f64::from(r.clock.max(1));
                    o
                })
                .collect(),
            srtp_errors: self.srtp_errors,
            unroutable: self.unroutable,
            malformed: self.malformed,
            early_dropped: self.early_dropped,
        }
    }

    /// What a negotiated m-line carries (for reports).
    pub fn media(&self) -> Vec<NegotiatedMedia> {
        self.negotiated
            .as_ref()
            .map(|n| n.media.clone())
            .unwrap_or_default()
    }
}

/// Gives up on packets the NACK generator gave up on, then hands out the
/// frames that completes: in order, and after a loss only from the next
/// key frame on (asking for one with PLI).
fn pump_video(r: &mut RecvState, now: Instant, events: &mut VecDeque<PeerEvent>) {
    let (Some(a), Some(n)) = (&mut r.assembler, &r.nack) else {
        return;
    };
    // A number the assembler still waits for but the NACK generator no
    // longer asks for (past its retries or age) will not come: skip it.
    // (Nothing missing, the usual case, costs no allocation.)
    if a.missing().next().is_some() {
        let asked: Vec<u16> = n.missing().collect();
        let mut cut = None;
        for ext in a.missing() {
            if asked.contains(&(ext as u16)) {
                break;
            }
            cut = Some(ext + 1);
        }
        if let Some(c) = cut {
            a.discard_before(c);
        }
    }
    let mut buf = Vec::new();
    let mut dropped_seen = a.stats().frames_dropped;
    while let Some(f) = a.poll_frame(&mut buf) {
        // Frames the assembler gave up on just before this one, or whole
        // frames lost (a burst, a partition, which leave no trace in the
        // assembler: the picture id tells, RFC 7741 §4.2), make a delta
        // frame undecodable: nothing goes out until a key frame.
        let dropped = a.stats().frames_dropped;
        let lost_before = dropped > dropped_seen && r.last_picture_id.is_some();
        dropped_seen = dropped;
        let gap = lost_before
            || match (r.last_picture_id, f.picture_id) {
                (Some(last), Some(pid)) => pid != (last + 1) & 0x7fff,
                _ => false,
            };
        if f.picture_id.is_some() {
            r.last_picture_id = f.picture_id;
        }
        if gap && !f.keyframe {
            r.waiting_keyframe = true;
            if let Some(k) = &mut r.keyframes {
                k.request(now);
            }
        }
        if r.waiting_keyframe && !f.keyframe {
            r.out.frames_dropped += 1;
            buf.clear();
            continue;
        }
        r.waiting_keyframe = false;
        if f.keyframe {
            if let Some(k) = &mut r.keyframes {
                k.on_keyframe();
            }
            r.out.keyframes_received += 1;
        }
        r.out.frames_received += 1;
        events.push_back(PeerEvent::Frame(ReceivedFrame {
            mid: r.mid.clone(),
            kind: r.kind,
            ssrc: r.ssrc,
            payload_type: r.last_pt,
            rtp_timestamp: f.timestamp,
            keyframe: f.keyframe,
            data: std::mem::take(&mut buf),
        }));
    }
    let dropped = a.stats().frames_dropped;
    if dropped > r.frames_dropped_seen {
        r.out.frames_dropped += dropped - r.frames_dropped_seen;
        r.frames_dropped_seen = dropped;
        // Frames given up after the stream started: the next delta frame
        // cannot be decoded, ask for a key frame now. (Before the first
        // key frame the assembler waits for one by itself.)
        if dropped > dropped_seen && r.last_picture_id.is_some() {
            r.waiting_keyframe = true;
            if let Some(k) = &mut r.keyframes {
                k.request(now);
            }
        }
    }
}

/// A trickled candidate as `candidate:...`, however it was written
/// (`a=candidate:...`, `candidate:...`, or the bare value).
fn normalize_candidate(c: &str) -> String {
    let v = c.trim().trim_start_matches("a=");
    if v.starts_with("candidate:") {
        v.to_string()
    } else {
        format!("candidate:{v}")
    }
}

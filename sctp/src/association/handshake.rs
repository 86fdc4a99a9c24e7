//! The association's handshake (RFC 9260 §5): INIT, INIT ACK with a
//! state cookie ([`crate::cookie`], §5.1.3), COOKIE ECHO, COOKIE ACK, the
//! INIT collision (§5.2.1, §5.2.2), duplicate COOKIE ECHOs (§5.2.4 D),
//! T1-init retransmission, and what the peer's INIT or INIT ACK
//! negotiated: stream counts, FORWARD-TSN (RFC 3758), RE-CONFIG
//! (RFC 6525), I-DATA (RFC 8260) and zero checksum (RFC 9653).

use std::time::Instant;

use super::{Association, CloseReason, Event, PeerInfo, State};
use crate::chunk::{Chunk, ChunkType, InitChunk};
use crate::cookie::StateCookie;
use crate::param::Param;
use crate::receive::Receiver;
use crate::tsn::initial;

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

impl Association {
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

    pub(super) fn our_init<'a>(&self, cookie: Option<&'a [u8]>) -> InitChunk<'a> {
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

    /// T1-init expiry (§5.1, §6.3): INIT or COOKIE ECHO again with the
    /// RTO doubled, until Max.Init.Retransmits. True when the association
    /// ended.
    pub(super) fn on_t1_expired(&mut self, now: Instant) -> bool {
        self.init_retransmits += 1;
        if self.init_retransmits > self.config.max_init_retransmits {
            self.terminate(CloseReason::InitTimeout);
            return true;
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
        false
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
    pub(super) fn on_init(&mut self, now: Instant, init: &InitChunk<'_>) {
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

    pub(super) fn on_init_ack(&mut self, now: Instant, ack: &InitChunk<'_>) {
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

    pub(super) fn on_cookie_echo(&mut self, now: Instant, bytes: &[u8]) {
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

    /// COOKIE ACK (§5.1 E): established.
    pub(super) fn on_cookie_ack(&mut self, now: Instant) {
        if self.state == State::CookieEchoed {
            self.t1 = None;
            self.t1_chunk = None;
            self.establish(now);
        } else {
            self.stats.unexpected_chunks += 1;
        }
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
}

//! Association configuration.

use std::time::Duration;

/// Settings of one association. Secrets come from outside (sans-IO): the
/// caller fills [`Config::seed`] and [`Config::cookie_secret`] from the
/// operating system's random source; tests use fixed values.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our SCTP port (RFC 8841 `a=sctp-port`; 5000 by default).
    pub local_port: u16,
    /// The peer's SCTP port.
    pub remote_port: u16,
    /// Largest SCTP packet we send (the DTLS record payload budget).
    pub mtu: usize,
    /// Receive buffer: the a_rwnd we advertise when empty.
    pub receive_window: usize,
    /// Largest user message accepted by `send` (the peer's RFC 8841
    /// max-message-size).
    pub max_message_size: usize,
    /// Largest user message we receive (our own `a=max-message-size`,
    /// RFC 8841 §6.1): larger ones are dropped and counted in
    /// [`crate::Stats::oversized_messages`]; the association goes on.
    pub max_receive_message_size: usize,
    /// Bytes `send` may queue in all before it refuses with `BufferFull`.
    pub send_buffer: usize,
    /// Outbound and inbound streams we announce (65535 in WebRTC).
    pub streams: u16,
    /// RTO.Initial, RTO.Min, RTO.Max (RFC 9260 §16).
    pub rto_initial: Duration,
    /// RTO.Min.
    pub rto_min: Duration,
    /// RTO.Max.
    pub rto_max: Duration,
    /// Max.Init.Retransmits (INIT and COOKIE ECHO).
    pub max_init_retransmits: u32,
    /// Association.Max.Retrans: consecutive unanswered retransmissions or
    /// heartbeats before the peer is declared unreachable.
    pub max_retransmits: u32,
    /// HB.interval (§8.3), added to the RTO.
    pub heartbeat_interval: Duration,
    /// Delayed SACK timer (§6.2: at most 500 ms, 200 ms is usual).
    pub delayed_ack: Duration,
    /// Valid.Cookie.Life.
    pub cookie_lifetime: Duration,
    /// Key of the state cookie's HMAC.
    pub cookie_secret: [u8; 32],
    /// Seed of the verification tag, initial TSN and nonce generator.
    pub seed: [u8; 32],
    /// Offer and use a zero checksum over DTLS (RFC 9653, EDMID 1).
    pub zero_checksum: bool,
    /// Offer I-DATA and I-FORWARD-TSN (RFC 8260 message interleaving) and
    /// use them when the peer offers them too. On by default; DATA is used
    /// with peers that do not (Chromium's dcSCTP).
    pub interleaving: bool,
}

impl Config {
    /// Defaults for WebRTC with the given secrets.
    pub fn new(seed: [u8; 32], cookie_secret: [u8; 32]) -> Self {
        Config {
            local_port: 5000,
            remote_port: 5000,
            mtu: 1200,
            receive_window: 1024 * 1024,
            max_message_size: 256 * 1024,
            max_receive_message_size: 256 * 1024,
            send_buffer: 16 * 1024 * 1024,
            streams: 65535,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(400),
            rto_max: Duration::from_secs(60),
            max_init_retransmits: 8,
            max_retransmits: 10,
            heartbeat_interval: Duration::from_secs(30),
            delayed_ack: Duration::from_millis(200),
            cookie_lifetime: Duration::from_secs(60),
            cookie_secret,
            seed,
            zero_checksum: false,
            interleaving: true,
        }
    }
}

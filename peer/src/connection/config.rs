//! [`PeerConfig`]: the settings of a connection.

use super::*;

/// Settings of a [`PeerConnection`].
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Seed of every random choice (ICE credentials and transaction ids,
    /// SSRCs, first sequence numbers, timestamp offsets, DTLS randoms),
    /// expanded by ChaCha20. 256 bits, so the ICE password keeps the 128
    /// bits RFC 8839 §5.4 asks for. Drivers take it from the OS
    /// (`driver::os_seed`); only tests and the simulator fix it
    /// ([`PeerConfig::with_fixed_seed`]).
    pub seed: [u8; 32],
    /// Our DTLS certificate. The connection never makes one itself (that
    /// would need the OS's randomness inside a sans-IO core); a mesh node
    /// shares one across its connections.
    pub certificate: Certificate,
    /// Optional RTP features to negotiate.
    pub features: Features,
    /// ICE settings (STUN servers, timers); `controlling` and `seed` are
    /// set by the connection.
    pub ice: IceConfig,
    /// DTLS first retransmission timeout (RFC 6347 says 1 s; WebRTC stacks
    /// use less on an ICE-checked path).
    pub dtls_initial_rto: Duration,
    /// The DTLS client's first retransmission timeout (then doubling):
    /// shorter than `dtls_initial_rto` because the client starts the
    /// moment ICE selects a pair, and a peer that sets up its DTLS server
    /// only once its own ICE side connected (Firefox as offerer) drops a
    /// ClientHello that comes first. Waiting `dtls_initial_rto` for the
    /// retransmission cost every call Firefox offered about half a second
    /// (issue 17). 50 ms, what Firefox's own client uses: on a path with
    /// a longer round trip the ClientHello is sent twice, a few hundred
    /// bytes, before the server's flight comes.
    pub dtls_client_initial_rto: Duration,
    /// The DTLS handshake fails after this long.
    pub dtls_timeout: Duration,
    /// Which DTLS versions we speak (RFC 6347 / RFC 9147): both by
    /// default. A client for both offers 1.3 and 1.2 in one ClientHello
    /// and continues in whatever the server answers; a server for both
    /// answers each hello with the best version it offers.
    pub dtls_versions: dtls::v13::Versions,
    /// DTLS 1.3: offer and prefer the X25519MLKEM768 hybrid key share
    /// (draft-ietf-tls-ecdhe-mlkem), as Chromium and Firefox do. On by
    /// default; the share makes the ClientHello two datagrams.
    pub dtls_x25519mlkem768: bool,
    /// Largest datagram we send (DTLS flights, RTP packets).
    pub mtu: usize,
    /// Regular RTCP reports (RFC 3550 §6.2; WebRTC sends about one a
    /// second).
    pub rtcp_interval: Duration,
    /// RTCP CNAME; random when `None`.
    pub cname: Option<String>,
    /// Write NSS key log lines as events ([`PeerEvent::KeyLog`]).
    pub key_log: bool,
    /// Bounds and start of the send-side estimate (used once transport-cc
    /// is negotiated): everything this connection sends, audio included.
    pub bitrate: meshrtc_cc::Config,
    /// The pacer's queue limits and retransmission budget.
    pub pacer: meshrtc_cc::PacerConfig,
    /// SRTP protection profiles we offer in DTLS `use_srtp` (RFC 5764
    /// §4.1.1), in preference order: AEAD_AES_128_GCM, then
    /// AES128_CM_HMAC_SHA1_80, then AEAD_AES_256_GCM by default (the
    /// profiles browsers offer). The DTLS server's order decides.
    pub srtp_profiles: Vec<srtp::Profile>,
    /// Host addresses written as mDNS names in our candidates
    /// (draft-ietf-mmusic-mdns-ice-candidates §3.1.1): each `(address,
    /// name)` here makes host candidates on that address carry the name;
    /// the owner answers mDNS queries for it. With any name set, the
    /// related address of our other candidates is written as unspecified
    /// (§3.1.2.2). Empty: addresses as they are.
    pub host_names: Vec<(std::net::IpAddr, String)>,
}

impl PeerConfig {
    /// Defaults around a seed and a certificate that the caller took from
    /// the OS: RTX and transport-cc on, 500 ms DTLS timer, MTU 1200, RTCP
    /// every second.
    pub fn new(seed: [u8; 32], certificate: Certificate) -> PeerConfig {
        PeerConfig {
            seed,
            certificate,
            features: Features {
                rtx: true,
                transport_cc: true,
                ..Features::default()
            },
            // The connection gives the agent a seed of its own.
            ice: IceConfig::controlled(0),
            dtls_initial_rto: Duration::from_millis(500),
            dtls_client_initial_rto: Duration::from_millis(50),
            dtls_timeout: Duration::from_secs(30),
            dtls_versions: dtls::v13::Versions::Both,
            dtls_x25519mlkem768: true,
            mtu: 1200,
            rtcp_interval: Duration::from_secs(1),
            cname: None,
            key_log: false,
            bitrate: meshrtc_cc::Config {
                start_bitrate: 300_000,
                min_bitrate: 50_000,
                max_bitrate: 2_500_000,
            },
            pacer: meshrtc_cc::PacerConfig::default(),
            srtp_profiles: vec![
                srtp::Profile::AeadAes128Gcm,
                srtp::Profile::Aes128CmHmacSha1_80,
                srtp::Profile::AeadAes256Gcm,
            ],
            host_names: Vec::new(),
        }
    }

    /// A deterministic configuration for tests and the simulator: the
    /// 64-bit `seed` fixes every random choice (it is spread over the
    /// 256-bit seed as it is, so two runs with one seed agree), and a fresh
    /// certificate is made here. Never for a real call: 64 bits can be
    /// searched.
    ///
    /// # Panics
    /// If the OS has no randomness for the certificate's key.
    pub fn with_fixed_seed(seed: u64) -> PeerConfig {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        s[8..16].copy_from_slice(b"fixed-sd");
        let certificate = Certificate::generate("meshrtc").expect("a P-256 key from the OS");
        PeerConfig::new(s, certificate)
    }
}

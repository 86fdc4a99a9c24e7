//! OpenSSL's DTLS 1.2 behind a sans-IO interface: the oracle that
//! `meshrtc-dtls` is tested (and benchmarked) against.
//!
//! [`OpensslDtls`] owns an OpenSSL `SSL` whose BIO is an in-memory datagram
//! pipe: [`OpensslDtls::handle_datagram`] queues one inbound datagram and drives
//! OpenSSL, [`OpensslDtls::poll_transmit`] hands out one datagram OpenSSL wrote.
//! No sockets, no threads; tests step it exactly like meshrtc's own state
//! machine. The only clock is OpenSSL's own retransmission timer (wall clock,
//! 1 s initially), serviced by [`OpensslDtls::handle_timeout`].
//!
//! Every failure (bad configuration aside) is recorded, never panicked on:
//! [`OpensslDtls::failed`] tells why the handshake or connection died.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::time::Duration;

use foreign_types::ForeignTypeRef;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::ssl::{
    ErrorCode, Ssl, SslMethod, SslMode, SslOptions, SslSessionCacheMode, SslStream, SslVerifyMode,
    SslVersion,
};
use openssl::x509::{X509NameBuilder, X509};

/// The OpenSSL context type [`OpensslDtls::context`] returns, re-exported so
/// users need no direct `openssl` dependency.
pub use openssl::ssl::SslContext;

/// `SSL_CTRL_GET_NEGOTIATED_GROUP` from `<openssl/ssl.h>` (OpenSSL 3.0).
const SSL_CTRL_GET_NEGOTIATED_GROUP: libc::c_int = 134;
/// `DTLS_CTRL_GET_TIMEOUT` from `<openssl/ssl.h>` (`DTLSv1_get_timeout` is a macro over it).
const DTLS_CTRL_GET_TIMEOUT: libc::c_int = 73;
/// `DTLS_CTRL_HANDLE_TIMEOUT` from `<openssl/ssl.h>` (`DTLSv1_handle_timeout` is a macro over it).
const DTLS_CTRL_HANDLE_TIMEOUT: libc::c_int = 74;

/// The RFC 5764 exporter label for DTLS-SRTP keying material.
pub const SRTP_EXPORTER_LABEL: &str = "EXTRACTOR-dtls_srtp";

/// Largest datagram handed to OpenSSL in one read; larger ones are truncated
/// like a UDP socket would (OpenSSL then drops the broken record).
const MAX_DATAGRAM: usize = 65_536;

/// Which end of the handshake this endpoint plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends the ClientHello.
    Client,
    /// Answers it (and, with cookie exchange, first sends a HelloVerifyRequest).
    Server,
}

/// Everything an [`OpensslDtls`] endpoint is built from.
#[derive(Debug, Clone)]
pub struct OpensslDtlsConfig {
    /// Client or server.
    pub role: Role,
    /// This endpoint's certificate (PEM), e.g. ECDSA P-256 self-signed.
    pub cert_pem: String,
    /// The certificate's private key (PEM).
    pub key_pem: String,
    /// OpenSSL cipher list, e.g. `"ECDHE-ECDSA-AES128-GCM-SHA256"`.
    pub cipher_list: String,
    /// Key-exchange groups in preference order, e.g. `"X25519:P-256"`.
    pub groups: String,
    /// SRTP protection profiles in preference order (OpenSSL names), e.g.
    /// `"SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"`. Empty: no use_srtp.
    /// The *server's* order decides which common profile is selected.
    pub srtp_profiles: String,
    /// Largest datagram OpenSSL may write (records and handshake fragments are sized to it).
    pub mtu: u32,
    /// Server only: answer the first ClientHello with a HelloVerifyRequest.
    pub cookie_exchange: bool,
}

impl OpensslDtlsConfig {
    /// The WebRTC-typical configuration: AES-128-GCM, X25519 then P-256, both
    /// common SRTP profiles (GCM first), MTU 1200, no cookie exchange.
    pub fn webrtc(role: Role, cert_pem: String, key_pem: String) -> Self {
        Self {
            role,
            cert_pem,
            key_pem,
            cipher_list: "ECDHE-ECDSA-AES128-GCM-SHA256".into(),
            groups: "X25519:P-256".into(),
            srtp_profiles: "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80".into(),
            mtu: 1200,
            cookie_exchange: false,
        }
    }
}

/// Why an [`OpensslDtls`] could not be built or used.
#[derive(Debug, thiserror::Error)]
pub enum OpensslDtlsError {
    /// OpenSSL refused the configuration (bad PEM, unknown cipher, group or profile, ...).
    #[error("OpenSSL setup: {0}")]
    Setup(#[from] ErrorStack),
    /// The handshake or the established connection failed; the text is OpenSSL's.
    #[error("DTLS failed: {0}")]
    Failed(String),
    /// Application data was offered before the handshake completed.
    #[error("DTLS connection not established")]
    NotEstablished,
    /// OpenSSL refused to send application data (e.g. larger than a record).
    #[error("DTLS write: {0}")]
    Write(String),
}

/// The in-memory "socket" under OpenSSL: each `read` yields exactly one
/// queued datagram (or `WouldBlock`), each `write` is exactly one datagram.
#[derive(Debug, Default)]
struct DatagramPipe {
    inbox: VecDeque<Vec<u8>>,
    outbox: VecDeque<Vec<u8>>,
}

impl Read for DatagramPipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inbox.pop_front() {
            Some(d) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                Ok(n)
            }
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for DatagramPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbox.push_back(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One OpenSSL DTLS 1.2 endpoint over in-memory datagrams.
pub struct OpensslDtls {
    stream: SslStream<DatagramPipe>,
    established: bool,
    failed: Option<String>,
    app_inbox: VecDeque<Vec<u8>>,
    /// Scratch for `SSL_read` (a record is at most 16 KiB plus overhead),
    /// allocated on first use after the handshake.
    read_buf: Vec<u8>,
    close_notify_received: bool,
}

impl fmt::Debug for OpensslDtls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpensslDtls")
            .field("established", &self.established)
            .field("failed", &self.failed)
            .field("state", &self.stream.ssl().state_string_long())
            .finish_non_exhaustive()
    }
}

impl OpensslDtls {
    /// Builds an endpoint; nothing is sent until [`drive`](Self::drive) (client) or
    /// the first [`handle_datagram`](Self::handle_datagram) (server).
    ///
    /// Builds a fresh OpenSSL `SSL_CTX` each time, which costs more than the
    /// handshake itself in OpenSSL 3; loops making many endpoints from one
    /// configuration should use [`context`](Self::context) once and
    /// [`with_context`](Self::with_context) per endpoint.
    pub fn new(config: &OpensslDtlsConfig) -> Result<Self, OpensslDtlsError> {
        Self::with_context(&Self::context(config)?, config)
    }

    /// The OpenSSL context (`SSL_CTX`) for `config`: certificate, key,
    /// ciphers, groups, SRTP profiles, verification and cookie callbacks.
    /// Shareable by any number of endpoints built from the same configuration.
    pub fn context(config: &OpensslDtlsConfig) -> Result<SslContext, OpensslDtlsError> {
        let mut ctx = SslContext::builder(SslMethod::dtls())?;
        ctx.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
        ctx.set_max_proto_version(Some(SslVersion::DTLS1_2))?;
        // The BIO answers no datagram ctrls, so the MTU must come from us.
        ctx.set_options(SslOptions::NO_QUERY_MTU);
        ctx.set_cipher_list(&config.cipher_list)?;
        ctx.set_groups_list(&config.groups)?;
        if !config.srtp_profiles.is_empty() {
            ctx.set_tlsext_use_srtp(&config.srtp_profiles)?;
        }
        let cert = X509::from_pem(config.cert_pem.as_bytes())?;
        let key = PKey::private_key_from_pem(config.key_pem.as_bytes())?;
        ctx.set_certificate(&cert)?;
        ctx.set_private_key(&key)?;
        ctx.check_private_key()?;
        // WebRTC authenticates the peer by the certificate fingerprint in the
        // SDP, not by a chain: demand a certificate, accept whatever it is.
        ctx.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            |_preverify_ok, _store| true,
        );
        // A self-signed certificate is its own chain: skip building one
        // (an X509_verify_cert of our own certificate) in every handshake.
        ctx.set_mode(SslMode::NO_AUTO_CHAIN);
        // WebRTC never resumes DTLS sessions: no server-side cache (which a
        // shared context would grow with every handshake) and no
        // NewSessionTicket (OpenSSL 3.0's client deep-copies its session
        // through i2d/d2i on receiving one, re-decoding the peer certificate:
        // about a sixth of the handshake's time).
        ctx.set_session_cache_mode(SslSessionCacheMode::OFF);
        ctx.set_options(SslOptions::NO_TICKET);
        if config.role == Role::Server && config.cookie_exchange {
            ctx.set_options(SslOptions::COOKIE_EXCHANGE);
            // No peer address in memory: the cookie is a per-endpoint secret.
            let mut secret = [0u8; 16];
            openssl::rand::rand_bytes(&mut secret)?;
            ctx.set_cookie_generate_cb(move |_ssl, out| {
                let n = secret.len().min(out.len());
                out[..n].copy_from_slice(&secret[..n]);
                Ok(n)
            });
            ctx.set_cookie_verify_cb(move |_ssl, cookie| {
                cookie.len() == secret.len() && openssl::memcmp::eq(cookie, &secret)
            });
        }
        Ok(ctx.build())
    }

    /// An endpoint on an existing [`context`](Self::context), which must have
    /// been built from this same `config` (only `mtu` may differ: it is set
    /// per endpoint).
    pub fn with_context(
        ctx: &SslContext,
        config: &OpensslDtlsConfig,
    ) -> Result<Self, OpensslDtlsError> {
        let mut ssl = Ssl::new(ctx)?;
        ssl.set_mtu(config.mtu)?;
        match config.role {
            Role::Client => ssl.set_connect_state(),
            Role::Server => ssl.set_accept_state(),
        }
        let stream = SslStream::new(ssl, DatagramPipe::default())?;
        Ok(Self {
            stream,
            established: false,
            failed: None,
            app_inbox: VecDeque::new(),
            read_buf: Vec::new(),
            close_notify_received: false,
        })
    }

    /// Queues one received datagram and drives OpenSSL (handshake or reads).
    /// Datagrams over 64 KiB are truncated, empty ones ignored. Errors are
    /// recorded in [`failed`](Self::failed).
    pub fn handle_datagram(&mut self, datagram: &[u8]) {
        // An empty read is end-of-file to OpenSSL ("unexpected EOF", fatal);
        // an empty datagram carries no record, so drop it here.
        if datagram.is_empty() {
            return;
        }
        let len = datagram.len().min(MAX_DATAGRAM);
        self.stream
            .get_mut()
            .inbox
            .push_back(datagram[..len].to_vec());
        let _ = self.drive();
    }

    /// The next datagram OpenSSL wrote, oldest first.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.stream.get_mut().outbox.pop_front()
    }

    /// Runs OpenSSL on whatever is queued: the handshake until it needs more
    /// input, then reads application records into [`read_app`](Self::read_app)'s
    /// queue. The client's first call produces its ClientHello.
    pub fn drive(&mut self) -> Result<(), OpensslDtlsError> {
        if let Some(why) = &self.failed {
            return Err(OpensslDtlsError::Failed(why.clone()));
        }
        if !self.established {
            match self.stream.do_handshake() {
                Ok(()) => self.established = true,
                Err(e) if is_retry(&e) => return Ok(()),
                Err(e) => return Err(self.fail(e.to_string())),
            }
        }
        // Established (possibly just now): drain any application records.
        if self.read_buf.is_empty() {
            self.read_buf = vec![0u8; MAX_DATAGRAM];
        }
        loop {
            match self.stream.ssl_read(&mut self.read_buf) {
                Ok(n) => self.app_inbox.push_back(self.read_buf[..n].to_vec()),
                Err(e) if is_retry(&e) => return Ok(()),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.close_notify_received = true;
                    // Drop anything after close_notify; nothing more will be read.
                    self.stream.get_mut().inbox.clear();
                    return Ok(());
                }
                Err(e) => return Err(self.fail(e.to_string())),
            }
        }
    }

    fn fail(&mut self, why: String) -> OpensslDtlsError {
        self.failed = Some(why.clone());
        OpensslDtlsError::Failed(why)
    }

    /// `DTLSv1_handle_timeout`: retransmits the last flight if OpenSSL's own
    /// (wall-clock) timer has expired; a no-op otherwise.
    pub fn handle_timeout(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let ssl = self.stream.ssl().as_ptr();
        #[allow(unsafe_code)]
        // SAFETY: `ssl` is the live SSL owned by `self.stream` (borrowed for the
        // call); DTLS_CTRL_HANDLE_TIMEOUT takes no argument (larg 0, parg NULL),
        // exactly what the `DTLSv1_handle_timeout` macro passes. A retransmission
        // writes through the stream's BIO, whose write never fails.
        let r = unsafe {
            openssl_sys::SSL_ctrl(ssl, DTLS_CTRL_HANDLE_TIMEOUT, 0, std::ptr::null_mut())
        };
        if r < 0 {
            let why = ErrorStack::get().to_string();
            self.failed = Some(format!("DTLSv1_handle_timeout failed: {why}"));
        }
    }

    /// `DTLSv1_get_timeout`: how long until OpenSSL's retransmission timer
    /// fires (zero if already expired), or `None` when no timer is running.
    pub fn timeout(&self) -> Option<Duration> {
        let ssl = self.stream.ssl().as_ptr();
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        #[allow(unsafe_code)]
        // SAFETY: `ssl` is the live SSL owned by `self.stream`;
        // DTLS_CTRL_GET_TIMEOUT writes one `struct timeval` through parg, which
        // points at `tv`, a valid, exclusively borrowed local for the call.
        let r = unsafe {
            openssl_sys::SSL_ctrl(
                ssl,
                DTLS_CTRL_GET_TIMEOUT,
                0,
                (&mut tv as *mut libc::timeval).cast(),
            )
        };
        if r <= 0 {
            return None;
        }
        let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
        let micros = u32::try_from(tv.tv_usec).unwrap_or(0);
        Some(Duration::from_secs(secs) + Duration::from_micros(u64::from(micros)))
    }

    /// The OpenSSL connection, for helpers that key from it (the `srtp`
    /// crate's `openssl::session_pair`, for one).
    pub fn ssl(&self) -> &openssl::ssl::SslRef {
        self.stream.ssl()
    }

    /// Whether the handshake has completed (and the connection has not failed).
    pub fn is_established(&self) -> bool {
        self.established && self.failed.is_none()
    }

    /// OpenSSL's error text if the handshake or connection failed.
    pub fn failed(&self) -> Option<String> {
        self.failed.clone()
    }

    /// The negotiated SRTP protection profile as its IANA id (1 =
    /// SRTP_AES128_CM_HMAC_SHA1_80, 7 = AEAD_AES_128_GCM, 8 = AEAD_AES_256_GCM).
    pub fn srtp_profile(&self) -> Option<u16> {
        let p = self.stream.ssl().selected_srtp_profile()?;
        u16::try_from(p.id().as_raw()).ok()
    }

    /// RFC 5764 keying material: `len` bytes exported with label
    /// `EXTRACTOR-dtls_srtp` and no context. Empty before the handshake
    /// completes or if OpenSSL refuses.
    pub fn export_srtp_keying_material(&self, len: usize) -> Vec<u8> {
        if !self.is_established() {
            return Vec::new();
        }
        let mut out = vec![0u8; len];
        match self
            .stream
            .ssl()
            .export_keying_material(&mut out, SRTP_EXPORTER_LABEL, None)
        {
            Ok(()) => out,
            Err(_) => Vec::new(),
        }
    }

    /// The peer's certificate (DER), once it has been received.
    pub fn peer_certificate_der(&self) -> Option<Vec<u8>> {
        self.stream.ssl().peer_certificate()?.to_der().ok()
    }

    /// The negotiated cipher suite (OpenSSL name, e.g. `ECDHE-ECDSA-AES128-GCM-SHA256`).
    pub fn cipher_name(&self) -> Option<String> {
        if !self.established {
            return None;
        }
        self.stream
            .ssl()
            .current_cipher()
            .map(|c| c.name().to_string())
    }

    /// The ECDHE group of the handshake by OpenSSL short name (`"X25519"`,
    /// `"prime256v1"`), once established (`SSL_get_negotiated_group`).
    pub fn key_exchange_group(&self) -> Option<String> {
        if !self.established {
            return None;
        }
        let ssl = self.stream.ssl().as_ptr();
        #[allow(unsafe_code)]
        // SAFETY: `ssl` is the live SSL owned by `self.stream`;
        // SSL_CTRL_GET_NEGOTIATED_GROUP takes no argument (larg 0, parg NULL),
        // exactly what the `SSL_get_negotiated_group` macro passes, and only
        // returns a NID.
        let nid = unsafe {
            openssl_sys::SSL_ctrl(ssl, SSL_CTRL_GET_NEGOTIATED_GROUP, 0, std::ptr::null_mut())
        };
        let nid = libc::c_int::try_from(nid).ok().filter(|&n| n > 0)?;
        Nid::from_raw(nid).short_name().ok().map(str::to_string)
    }

    /// The negotiated protocol version (`"DTLSv1.2"`), once established.
    pub fn version(&self) -> Option<String> {
        self.established
            .then(|| self.stream.ssl().version_str().to_string())
    }

    /// Sends `data` as one application-data record.
    pub fn write_app(&mut self, data: &[u8]) -> Result<(), OpensslDtlsError> {
        if let Some(why) = &self.failed {
            return Err(OpensslDtlsError::Failed(why.clone()));
        }
        if !self.established {
            return Err(OpensslDtlsError::NotEstablished);
        }
        match self.stream.ssl_write(data) {
            Ok(n) if n == data.len() => Ok(()),
            Ok(n) => Err(OpensslDtlsError::Write(format!(
                "short write: {n} of {} bytes",
                data.len()
            ))),
            Err(e) => Err(OpensslDtlsError::Write(e.to_string())),
        }
    }

    /// The next application-data record received, oldest first.
    pub fn read_app(&mut self) -> Option<Vec<u8>> {
        self.app_inbox.pop_front()
    }

    /// Sends a close_notify alert (once; later calls do nothing).
    pub fn close(&mut self) {
        if self.failed.is_some() {
            return;
        }
        if !self
            .stream
            .get_shutdown()
            .contains(openssl::ssl::ShutdownState::SENT)
        {
            let _ = self.stream.shutdown();
        }
    }

    /// Whether the peer's close_notify has been received.
    pub fn received_close_notify(&self) -> bool {
        self.close_notify_received
    }
}

/// WANT_READ / WANT_WRITE: OpenSSL needs another datagram; not an error.
fn is_retry(e: &openssl::ssl::Error) -> bool {
    matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE)
}

/// Moves every pending datagram from `a` to `b` and from `b` to `a` (one
/// round each way); returns how many moved. Repeat until it returns 0.
pub fn exchange(a: &mut OpensslDtls, b: &mut OpensslDtls) -> usize {
    let mut moved = 0;
    while let Some(d) = a.poll_transmit() {
        b.handle_datagram(&d);
        moved += 1;
    }
    while let Some(d) = b.poll_transmit() {
        a.handle_datagram(&d);
        moved += 1;
    }
    moved
}

/// Runs a client/server handshake in memory to completion (no loss): the
/// client's first flight, then [`exchange`] until quiet. Returns the number of
/// datagrams moved, or the first failure.
pub fn handshake(client: &mut OpensslDtls, server: &mut OpensslDtls) -> Result<usize, String> {
    client.drive().map_err(|e| e.to_string())?;
    let mut total = 0;
    for _ in 0..32 {
        let moved = exchange(client, server);
        total += moved;
        if let Some(why) = client.failed().or_else(|| server.failed()) {
            return Err(why);
        }
        if moved == 0 {
            break;
        }
    }
    if client.is_established() && server.is_established() {
        Ok(total)
    } else {
        Err(format!(
            "handshake stalled: client {client:?}, server {server:?}"
        ))
    }
}

/// A fresh self-signed ECDSA P-256 certificate and its key, both PEM.
pub fn self_signed_p256(common_name: &str) -> Result<(String, String), ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, common_name)?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(64, MsbOption::MAYBE_ZERO, false)?;
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    let not_before = Asn1Time::days_from_now(0)?;
    let not_after = Asn1Time::days_from_now(30)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.sign(&key, MessageDigest::sha256())?;
    let cert = b.build().to_pem()?;
    let key = key.private_key_to_pem_pkcs8()?;
    // PEM is ASCII; from_utf8 cannot fail here, but stay panic-free anyway.
    let to_string = |v: Vec<u8>| String::from_utf8_lossy(&v).into_owned();
    Ok((to_string(cert), to_string(key)))
}

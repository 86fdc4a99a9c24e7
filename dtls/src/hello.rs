//! The ClientHello (RFC 6347 §4.2.1, RFC 5246 §7.4.1.2) and the extensions
//! a DTLS-SRTP server reads from it.
//!
//! ```text
//! struct {
//!     ProtocolVersion client_version;
//!     Random random;                          // 32 bytes
//!     SessionID session_id<0..32>;
//!     opaque cookie<0..2^8-1>;                // DTLS only
//!     CipherSuite cipher_suites<2..2^16-2>;
//!     CompressionMethod compression_methods<1..2^8-1>;
//!     Extension extensions<0..2^16-1>;        // optional
//! } ClientHello;
//! ```
//!
//! Chromium 156 offers DTLS 1.3 in the same hello (supported_versions,
//! key_share with an X25519MLKEM768 share, the 0x13xx suites): unknown
//! extensions, groups and suites are read and ignored, never an error.

/// Extension types meshrtc reads (IANA TLS ExtensionType values).
pub mod ext {
    /// supported_groups (RFC 8422 §5.1.1).
    pub const SUPPORTED_GROUPS: u16 = 10;
    /// ec_point_formats (RFC 8422 §5.1.2).
    pub const EC_POINT_FORMATS: u16 = 11;
    /// signature_algorithms (RFC 5246 §7.4.1.4.1).
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    /// use_srtp (RFC 5764 §4.1.1).
    pub const USE_SRTP: u16 = 14;
    /// extended_master_secret (RFC 7627 §5.1).
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    /// supported_versions (RFC 8446 §4.2.1; DTLS 1.3 offers).
    pub const SUPPORTED_VERSIONS: u16 = 43;
    /// key_share (RFC 8446 §4.2.8; DTLS 1.3 offers).
    pub const KEY_SHARE: u16 = 51;
    /// renegotiation_info (RFC 5746 §3.2).
    pub const RENEGOTIATION_INFO: u16 = 0xff01;
}

/// Why a hello could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HelloError {
    /// The body ends inside `field`.
    #[error("ClientHello truncated in {0}")]
    Truncated(&'static str),
    /// A length that breaks a rule of the structure.
    #[error("ClientHello {0} has an invalid length")]
    BadLength(&'static str),
    /// Bytes after the extensions.
    #[error("{0} bytes after the ClientHello's extensions")]
    Trailing(usize),
    /// The same extension twice (RFC 5246 §7.4.1.4).
    #[error("extension {0} appears twice")]
    DuplicateExtension(u16),
}

/// A checked view of a ClientHello body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello<'a> {
    /// client_version (0xfefd for DTLS 1.2; a 1.3 client still says 1.2 here).
    pub version: u16,
    /// The 32-byte random.
    pub random: &'a [u8; 32],
    /// session_id.
    pub session_id: &'a [u8],
    /// The cookie (empty in the first hello).
    pub cookie: &'a [u8],
    /// cipher_suites, raw (2 bytes each).
    cipher_suites: &'a [u8],
    /// compression_methods.
    pub compression_methods: &'a [u8],
    /// (type, data) in order.
    pub extensions: Vec<(u16, &'a [u8])>,
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], HelloError> {
        if self.data.len() < n {
            return Err(HelloError::Truncated(what));
        }
        let (a, b) = self.data.split_at(n);
        self.data = b;
        Ok(a)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, HelloError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, HelloError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], HelloError> {
        let n = self.u8(what)?;
        self.take(usize::from(n), what)
    }

    fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], HelloError> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }
}

fn u16s(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]))
}

impl<'a> ClientHello<'a> {
    /// Reads a ClientHello body (the whole reassembled message body).
    pub fn parse(body: &'a [u8]) -> Result<ClientHello<'a>, HelloError> {
        let mut r = Reader { data: body };
        let version = r.u16("client_version")?;
        let random: &[u8; 32] = r
            .take(32, "random")?
            .try_into()
            .map_err(|_| HelloError::Truncated("random"))?;
        let session_id = r.vec8("session_id")?;
        if session_id.len() > 32 {
            return Err(HelloError::BadLength("session_id"));
        }
        let cookie = r.vec8("cookie")?;
        let cipher_suites = r.vec16("cipher_suites")?;
        if cipher_suites.len() < 2 || cipher_suites.len() % 2 != 0 {
            return Err(HelloError::BadLength("cipher_suites"));
        }
        let compression_methods = r.vec8("compression_methods")?;
        if compression_methods.is_empty() {
            return Err(HelloError::BadLength("compression_methods"));
        }
        let mut extensions = Vec::new();
        if !r.data.is_empty() {
            let mut e = Reader {
                data: r.vec16("extensions")?,
            };
            while !e.data.is_empty() {
                let t = e.u16("extension type")?;
                let d = e.vec16("extension data")?;
                if extensions.iter().any(|&(x, _)| x == t) {
                    return Err(HelloError::DuplicateExtension(t));
                }
                extensions.push((t, d));
            }
            if !r.data.is_empty() {
                return Err(HelloError::Trailing(r.data.len()));
            }
        }
        Ok(ClientHello {
            version,
            random,
            session_id,
            cookie,
            cipher_suites,
            compression_methods,
            extensions,
        })
    }

    /// The offered cipher suites in order.
    pub fn cipher_suites(&self) -> impl Iterator<Item = u16> + '_ {
        u16s(self.cipher_suites)
    }

    /// An extension's data.
    pub fn extension(&self, t: u16) -> Option<&'a [u8]> {
        self.extensions
            .iter()
            .find(|&&(x, _)| x == t)
            .map(|&(_, d)| d)
    }

    /// supported_groups (empty when absent or malformed).
    pub fn supported_groups(&self) -> Vec<u16> {
        self.list16(ext::SUPPORTED_GROUPS)
    }

    /// signature_algorithms as (hash, signature) code points, u16 each.
    pub fn signature_algorithms(&self) -> Vec<u16> {
        self.list16(ext::SIGNATURE_ALGORITHMS)
    }

    /// supported_versions (a u8-length list of u16; DTLS 1.3 offers).
    pub fn supported_versions(&self) -> Vec<u16> {
        let Some(d) = self.extension(ext::SUPPORTED_VERSIONS) else {
            return Vec::new();
        };
        match d.split_first() {
            Some((&n, rest)) if usize::from(n) == rest.len() && n % 2 == 0 => u16s(rest).collect(),
            _ => Vec::new(),
        }
    }

    /// use_srtp (RFC 5764 §4.1.1): the protection profiles and the MKI, or
    /// `None` when absent or malformed.
    pub fn use_srtp(&self) -> Option<(Vec<u16>, &'a [u8])> {
        let mut r = Reader {
            data: self.extension(ext::USE_SRTP)?,
        };
        let profiles = r.vec16("use_srtp").ok()?;
        if profiles.len() % 2 != 0 || profiles.is_empty() {
            return None;
        }
        let mki = r.vec8("use_srtp mki").ok()?;
        r.data.is_empty().then(|| (u16s(profiles).collect(), mki))
    }

    /// Whether extended_master_secret was offered (RFC 7627).
    pub fn extended_master_secret(&self) -> bool {
        self.extension(ext::EXTENDED_MASTER_SECRET).is_some()
    }

    fn list16(&self, t: u16) -> Vec<u16> {
        let Some(d) = self.extension(t) else {
            return Vec::new();
        };
        let mut r = Reader { data: d };
        match r.vec16("list") {
            Ok(l) if l.len() % 2 == 0 && r.data.is_empty() => u16s(l).collect(),
            _ => Vec::new(),
        }
    }
}

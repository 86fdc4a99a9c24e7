//! The DTLS 1.2 handshake message bodies a WebRTC handshake uses, read and
//! written (RFC 5246 §7.4, RFC 6347 §4.2.1, RFC 8422 §5.4 and §5.7,
//! RFC 5764 §4.1.1, RFC 7627, RFC 5746).
//!
//! Each reader is a checked view over a reassembled body; each writer
//! appends a body to a caller-owned `Vec<u8>`. Round trips are exact.

use crate::hello::HelloError;

/// Why a message body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The body ends inside `0`.
    #[error("message truncated in {0}")]
    Truncated(&'static str),
    /// A length or value that breaks the structure.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Bytes after the end of the structure.
    #[error("{0} bytes after the message")]
    Trailing(usize),
}

impl From<HelloError> for MessageError {
    fn from(e: HelloError) -> MessageError {
        match e {
            HelloError::Truncated(w) => MessageError::Truncated(w),
            HelloError::BadLength(w) => MessageError::Invalid(w),
            HelloError::Trailing(n) => MessageError::Trailing(n),
            _ => MessageError::Invalid("hello"),
        }
    }
}

/// A bounds-checked cursor over a message body (shared with DTLS 1.3).
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], MessageError> {
        if self.0.len() < n {
            return Err(MessageError::Truncated(what));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, MessageError> {
        Ok(self.take(1, what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, MessageError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub(crate) fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], MessageError> {
        let n = self.u8(what)?;
        self.take(usize::from(n), what)
    }
    pub(crate) fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], MessageError> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }
    pub(crate) fn vec24(&mut self, what: &'static str) -> Result<&'a [u8], MessageError> {
        let b = self.take(3, what)?;
        let n = (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]);
        self.take(n, what)
    }
    pub(crate) fn end(&self) -> Result<(), MessageError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(MessageError::Trailing(self.0.len()))
        }
    }
}

pub(crate) fn put_vec8(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b.len().min(255) as u8);
    out.extend_from_slice(&b[..b.len().min(255)]);
}

pub(crate) fn put_vec16(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len().min(0xffff);
    out.extend_from_slice(&(n as u16).to_be_bytes());
    out.extend_from_slice(&b[..n]);
}

pub(crate) fn put_vec24(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len().min(0xff_ffff);
    out.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&b[..n]);
}

/// Writes a ClientHello body (the reader is [`crate::hello::ClientHello`]).
pub fn write_client_hello(
    out: &mut Vec<u8>,
    random: &[u8; 32],
    cookie: &[u8],
    cipher_suites: &[u16],
    extensions: &[(u16, &[u8])],
) {
    out.extend_from_slice(&crate::record::DTLS1_2.to_be_bytes());
    out.extend_from_slice(random);
    put_vec8(out, &[]); // session_id: no resumption in WebRTC
    put_vec8(out, cookie);
    let suites: Vec<u8> = cipher_suites.iter().flat_map(|s| s.to_be_bytes()).collect();
    put_vec16(out, &suites);
    put_vec8(out, &[0]); // compression: null only
    write_extensions(out, extensions);
}

fn write_extensions(out: &mut Vec<u8>, extensions: &[(u16, &[u8])]) {
    if extensions.is_empty() {
        return;
    }
    let mut ext = Vec::new();
    for (t, d) in extensions {
        ext.extend_from_slice(&t.to_be_bytes());
        put_vec16(&mut ext, d);
    }
    put_vec16(out, &ext);
}

fn read_extensions<'a>(r: &mut Reader<'a>) -> Result<Vec<(u16, &'a [u8])>, MessageError> {
    let mut list = Vec::new();
    if r.0.is_empty() {
        return Ok(list);
    }
    let mut e = Reader(r.vec16("extensions")?);
    while !e.0.is_empty() {
        let t = e.u16("extension type")?;
        let d = e.vec16("extension data")?;
        if list.iter().any(|&(x, _)| x == t) {
            return Err(MessageError::Invalid("duplicate extension"));
        }
        list.push((t, d));
    }
    Ok(list)
}

/// HelloVerifyRequest (RFC 6347 §4.2.1): the server's cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloVerifyRequest<'a> {
    /// server_version (DTLS 1.0's 0xfeff is what servers send here).
    pub version: u16,
    /// The cookie, up to 255 bytes.
    pub cookie: &'a [u8],
}

impl<'a> HelloVerifyRequest<'a> {
    /// Reads the body.
    pub fn parse(body: &'a [u8]) -> Result<HelloVerifyRequest<'a>, MessageError> {
        let mut r = Reader(body);
        let version = r.u16("server_version")?;
        let cookie = r.vec8("cookie")?;
        r.end()?;
        Ok(HelloVerifyRequest { version, cookie })
    }

    /// Appends the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_be_bytes());
        put_vec8(out, self.cookie);
    }
}

/// ServerHello (RFC 5246 §7.4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello<'a> {
    /// server_version.
    pub version: u16,
    /// The server's random.
    pub random: [u8; 32],
    /// session_id (empty: no resumption).
    pub session_id: &'a [u8],
    /// The chosen suite.
    pub cipher_suite: u16,
    /// The chosen compression (0).
    pub compression: u8,
    /// (type, data) in order.
    pub extensions: Vec<(u16, &'a [u8])>,
    /// Whether the extensions block is there at all (it may be present
    /// and empty); written back as read.
    pub extensions_block: bool,
}

impl<'a> ServerHello<'a> {
    /// Reads the body.
    pub fn parse(body: &'a [u8]) -> Result<ServerHello<'a>, MessageError> {
        let mut r = Reader(body);
        let version = r.u16("server_version")?;
        let mut random = [0u8; 32];
        random.copy_from_slice(r.take(32, "random")?);
        let session_id = r.vec8("session_id")?;
        if session_id.len() > 32 {
            return Err(MessageError::Invalid("session_id length"));
        }
        let cipher_suite = r.u16("cipher_suite")?;
        let compression = r.u8("compression_method")?;
        let extensions_block = !r.0.is_empty();
        let extensions = read_extensions(&mut r)?;
        r.end()?;
        Ok(ServerHello {
            version,
            random,
            session_id,
            cipher_suite,
            compression,
            extensions,
            extensions_block,
        })
    }

    /// An extension's data.
    pub fn extension(&self, t: u16) -> Option<&'a [u8]> {
        self.extensions
            .iter()
            .find(|&&(x, _)| x == t)
            .map(|&(_, d)| d)
    }

    /// Appends the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.random);
        put_vec8(out, self.session_id);
        out.extend_from_slice(&self.cipher_suite.to_be_bytes());
        out.push(self.compression);
        if self.extensions_block && self.extensions.is_empty() {
            out.extend_from_slice(&[0, 0]);
        } else {
            write_extensions(out, &self.extensions);
        }
    }
}

/// Certificate (RFC 5246 §7.4.2): DER certificates, sender's first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate<'a> {
    /// The chain.
    pub chain: Vec<&'a [u8]>,
}

impl<'a> Certificate<'a> {
    /// Reads the body.
    pub fn parse(body: &'a [u8]) -> Result<Certificate<'a>, MessageError> {
        let mut r = Reader(body);
        let mut list = Reader(r.vec24("certificate_list")?);
        r.end()?;
        let mut chain = Vec::new();
        while !list.0.is_empty() {
            let c = list.vec24("certificate")?;
            if c.is_empty() {
                return Err(MessageError::Invalid("empty certificate"));
            }
            chain.push(c);
        }
        Ok(Certificate { chain })
    }

    /// Appends the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut list = Vec::new();
        for c in &self.chain {
            put_vec24(&mut list, c);
        }
        put_vec24(out, &list);
    }
}

/// ServerKeyExchange for ECDHE with a named curve (RFC 8422 §5.4), signed
/// with TLS 1.2's `SignatureAndHashAlgorithm` (RFC 5246 §7.4.1.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerKeyExchange<'a> {
    /// The named group (23 secp256r1, 29 x25519).
    pub group: u16,
    /// The server's ephemeral public key.
    pub public: &'a [u8],
    /// The signature scheme (0x0403 ecdsa_secp256r1_sha256).
    pub scheme: u16,
    /// The signature over client_random + server_random + params.
    pub signature: &'a [u8],
}

impl<'a> ServerKeyExchange<'a> {
    /// Reads the body.
    pub fn parse(body: &'a [u8]) -> Result<ServerKeyExchange<'a>, MessageError> {
        let mut r = Reader(body);
        if r.u8("curve_type")? != 3 {
            return Err(MessageError::Invalid("curve_type (only named_curve, 3)"));
        }
        let group = r.u16("named_curve")?;
        let public = r.vec8("public key")?;
        if public.is_empty() {
            return Err(MessageError::Invalid("empty public key"));
        }
        let scheme = r.u16("signature algorithm")?;
        let signature = r.vec16("signature")?;
        r.end()?;
        Ok(ServerKeyExchange {
            group,
            public,
            scheme,
            signature,
        })
    }

    /// The signed part: `curve_type || named_curve || public` (the
    /// signature covers `client_random || server_random || this`).
    pub fn params(&self) -> Vec<u8> {
        let mut p = vec![3];
        p.extend_from_slice(&self.group.to_be_bytes());
        put_vec8(&mut p, self.public);
        p
    }

    /// Appends the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.params());
        out.extend_from_slice(&self.scheme.to_be_bytes());
        put_vec16(out, self.signature);
    }
}

/// CertificateRequest (RFC 5246 §7.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequest<'a> {
    /// certificate_types (64 = ecdsa_sign).
    pub types: &'a [u8],
    /// supported_signature_algorithms.
    pub schemes: Vec<u16>,
    /// certificate_authorities (DER names), usually empty in WebRTC.
    pub authorities: &'a [u8],
}

impl<'a> CertificateRequest<'a> {
    /// Reads the body.
    pub fn parse(body: &'a [u8]) -> Result<CertificateRequest<'a>, MessageError> {
        let mut r = Reader(body);
        let types = r.vec8("certificate_types")?;
        let schemes_raw = r.vec16("supported_signature_algorithms")?;
        if schemes_raw.len() % 2 != 0 {
            return Err(MessageError::Invalid("signature algorithm list"));
        }
        let authorities = r.vec16("certificate_authorities")?;
        r.end()?;
        Ok(CertificateRequest {
            types,
            schemes: schemes_raw
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect(),
            authorities,
        })
    }

    /// Appends the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        put_vec8(out, self.types);
        let s: Vec<u8> = self.schemes.iter().flat_map(|s| s.to_be_bytes()).collect();
        put_vec16(out, &s);
        put_vec16(out, self.authorities);
    }
}

/// ClientKeyExchange for ECDHE (RFC 8422 §5.7): the client's public key.
pub fn parse_client_key_exchange(body: &[u8]) -> Result<&[u8], MessageError> {
    let mut r = Reader(body);
    let public = r.vec8("public key")?;
    r.end()?;
    if public.is_empty() {
        return Err(MessageError::Invalid("empty public key"));
    }
    Ok(public)
}

/// Appends a ClientKeyExchange body.
pub fn write_client_key_exchange(out: &mut Vec<u8>, public: &[u8]) {
    put_vec8(out, public);
}

/// CertificateVerify (RFC 5246 §7.4.8): the scheme and the signature over
/// the handshake so far.
pub fn parse_certificate_verify(body: &[u8]) -> Result<(u16, &[u8]), MessageError> {
    let mut r = Reader(body);
    let scheme = r.u16("signature algorithm")?;
    let sig = r.vec16("signature")?;
    r.end()?;
    Ok((scheme, sig))
}

/// Appends a CertificateVerify body.
pub fn write_certificate_verify(out: &mut Vec<u8>, scheme: u16, signature: &[u8]) {
    out.extend_from_slice(&scheme.to_be_bytes());
    put_vec16(out, signature);
}

/// The `use_srtp` extension data (RFC 5764 §4.1.1): profiles and an empty
/// MKI.
pub fn use_srtp_extension(profiles: &[u16]) -> Vec<u8> {
    let mut d = Vec::new();
    let p: Vec<u8> = profiles.iter().flat_map(|p| p.to_be_bytes()).collect();
    put_vec16(&mut d, &p);
    put_vec8(&mut d, &[]);
    d
}

/// Reads a server's `use_srtp` answer: exactly one profile (RFC 5764
/// §4.1.1), and the MKI.
pub fn parse_use_srtp_answer(data: &[u8]) -> Result<(u16, &[u8]), MessageError> {
    let mut r = Reader(data);
    let p = r.vec16("use_srtp profiles")?;
    let mki = r.vec8("use_srtp mki")?;
    r.end()?;
    match p {
        [a, b] => Ok((u16::from_be_bytes([*a, *b]), mki)),
        _ => Err(MessageError::Invalid(
            "use_srtp answer must name one profile",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hello::{ext, ClientHello};

    #[test]
    fn every_message_round_trips_exactly() {
        let srtp = use_srtp_extension(&[0x0007, 0x0001]);
        let groups = [0u8, 4, 0, 29, 0, 23];
        let mut ch = Vec::new();
        write_client_hello(
            &mut ch,
            &[7; 32],
            b"cookie",
            &[0xc02b, 0xc02c],
            &[
                (ext::SUPPORTED_GROUPS, &groups),
                (ext::USE_SRTP, &srtp),
                (ext::EXTENDED_MASTER_SECRET, &[]),
            ],
        );
        let h = ClientHello::parse(&ch).unwrap();
        assert_eq!(h.cookie, b"cookie");
        assert_eq!(h.cipher_suites().collect::<Vec<_>>(), [0xc02b, 0xc02c]);
        assert_eq!(h.supported_groups(), [29, 23]);
        assert_eq!(h.use_srtp().unwrap().0, [7, 1]);
        assert!(h.extended_master_secret());

        let hvr = HelloVerifyRequest {
            version: 0xfeff,
            cookie: &[1, 2, 3],
        };
        let mut b = Vec::new();
        hvr.write(&mut b);
        assert_eq!(HelloVerifyRequest::parse(&b), Ok(hvr));

        let answer = [0u8, 2, 0, 7, 0];
        let sh = ServerHello {
            version: 0xfefd,
            random: [9; 32],
            session_id: &[],
            cipher_suite: 0xc02b,
            compression: 0,
            extensions: vec![(ext::USE_SRTP, &answer), (ext::EXTENDED_MASTER_SECRET, &[])],
            extensions_block: true,
        };
        let mut b = Vec::new();
        sh.write(&mut b);
        let back = ServerHello::parse(&b).unwrap();
        assert_eq!(back, sh);
        assert_eq!(
            parse_use_srtp_answer(back.extension(ext::USE_SRTP).unwrap()),
            Ok((7, &[][..]))
        );

        // No extensions, and an empty extensions block: both kept.
        for block in [false, true] {
            let bare = ServerHello {
                extensions: Vec::new(),
                extensions_block: block,
                ..sh.clone()
            };
            let mut b = Vec::new();
            bare.write(&mut b);
            assert_eq!(b.len(), 2 + 32 + 1 + 2 + 1 + if block { 2 } else { 0 });
            assert_eq!(ServerHello::parse(&b).unwrap(), bare);
        }

        let cert = Certificate {
            chain: vec![&[0x30, 1, 2], &[0x30, 3]],
        };
        let mut b = Vec::new();
        cert.write(&mut b);
        assert_eq!(Certificate::parse(&b), Ok(cert));

        let ske = ServerKeyExchange {
            group: 29,
            public: &[5; 32],
            scheme: 0x0403,
            signature: &[6; 70],
        };
        let mut b = Vec::new();
        ske.write(&mut b);
        assert_eq!(ServerKeyExchange::parse(&b), Ok(ske));
        assert_eq!(&b[..ske.params().len()], &ske.params()[..]);

        let cr = CertificateRequest {
            types: &[64],
            schemes: vec![0x0403, 0x0804],
            authorities: &[],
        };
        let mut b = Vec::new();
        cr.write(&mut b);
        assert_eq!(CertificateRequest::parse(&b), Ok(cr));

        let mut b = Vec::new();
        write_client_key_exchange(&mut b, &[4; 65]);
        assert_eq!(parse_client_key_exchange(&b), Ok(&[4u8; 65][..]));
        let mut b = Vec::new();
        write_certificate_verify(&mut b, 0x0403, &[1; 71]);
        assert_eq!(parse_certificate_verify(&b), Ok((0x0403, &[1u8; 71][..])));
    }

    #[test]
    fn broken_bodies_each_give_their_error() {
        assert_eq!(
            HelloVerifyRequest::parse(&[0xfe]),
            Err(MessageError::Truncated("server_version"))
        );
        assert_eq!(
            HelloVerifyRequest::parse(&[0xfe, 0xff, 1, 1, 9]),
            Err(MessageError::Trailing(1))
        );
        assert_eq!(
            ServerKeyExchange::parse(&[1, 0, 29]),
            Err(MessageError::Invalid("curve_type (only named_curve, 3)"))
        );
        assert_eq!(
            Certificate::parse(&[0, 0, 3, 0, 0, 0]),
            Err(MessageError::Invalid("empty certificate"))
        );
        assert_eq!(
            Certificate::parse(&[0, 0, 4, 0, 0, 9, 1]),
            Err(MessageError::Truncated("certificate"))
        );
        assert_eq!(
            parse_use_srtp_answer(&[0, 4, 0, 7, 0, 1, 0]),
            Err(MessageError::Invalid(
                "use_srtp answer must name one profile"
            ))
        );
        assert_eq!(
            parse_client_key_exchange(&[0]),
            Err(MessageError::Invalid("empty public key"))
        );
        assert_eq!(
            CertificateRequest::parse(&[1, 64, 0, 3, 4, 3, 0, 0, 0]),
            Err(MessageError::Invalid("signature algorithm list"))
        );
        let mut sh = Vec::new();
        ServerHello {
            version: 0xfefd,
            random: [0; 32],
            session_id: &[],
            cipher_suite: 0xc02b,
            compression: 0,
            extensions: vec![(23, &[]), (23, &[])],
            extensions_block: true,
        }
        .write(&mut sh);
        assert_eq!(
            ServerHello::parse(&sh),
            Err(MessageError::Invalid("duplicate extension"))
        );
    }
}

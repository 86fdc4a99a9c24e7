//! The DTLS 1.3 handshake message bodies (RFC 8446 §4 as RFC 9147 §5
//! frames them) and the ACK record (RFC 9147 §7), read and written.
//! The ClientHello is read by [`crate::hello::ClientHello`] (its layout
//! is DTLS 1.2's, `legacy_cookie` included); CertificateVerify bodies by
//! [`crate::messages::parse_certificate_verify`].

use crate::hello::ext;
use crate::messages::{put_vec16, put_vec24, put_vec8, MessageError, Reader};
use crate::record::DTLS1_2;

/// cookie (RFC 8446 §4.2.2).
pub const EXT_COOKIE: u16 = 44;
/// signature_algorithms_cert is not sent; ecdsa_secp256r1_sha256 only.
pub const ECDSA_SECP256R1_SHA256: u16 = 0x0403;

/// ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3):
/// SHA-256("HelloRetryRequest").
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// The last 8 bytes of ServerHello.random from a 1.3-capable server that
/// negotiated TLS/DTLS 1.2 (RFC 8446 §4.1.3: "DOWNGRD" 01).
pub const DOWNGRADE_TLS12: [u8; 8] = [0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01];

/// Handshake message types new in 1.3 (RFC 8446 §4).
pub mod msg {
    /// client_hello.
    pub const CLIENT_HELLO: u8 = 1;
    /// server_hello (and HelloRetryRequest).
    pub const SERVER_HELLO: u8 = 2;
    /// encrypted_extensions.
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    /// certificate.
    pub const CERTIFICATE: u8 = 11;
    /// certificate_request.
    pub const CERTIFICATE_REQUEST: u8 = 13;
    /// certificate_verify.
    pub const CERTIFICATE_VERIFY: u8 = 15;
    /// finished.
    pub const FINISHED: u8 = 20;
    /// key_update.
    pub const KEY_UPDATE: u8 = 24;
    /// message_hash (RFC 8446 §4.4.1, HelloRetryRequest transcripts).
    pub const MESSAGE_HASH: u8 = 254;
}

/// Extensions as `(type, data)` pairs, in order.
pub type Extensions<'a> = Vec<(u16, &'a [u8])>;

/// Reads an extension block into `(type, data)` pairs; a type twice is
/// an error (RFC 8446 §4.2).
pub fn parse_extensions(block: &[u8]) -> Result<Vec<(u16, &[u8])>, MessageError> {
    let mut r = Reader(block);
    let mut out: Vec<(u16, &[u8])> = Vec::new();
    while !r.0.is_empty() {
        let t = r.u16("extension type")?;
        let d = r.vec16("extension data")?;
        if out.iter().any(|(o, _)| *o == t) {
            return Err(MessageError::Invalid("duplicate extension"));
        }
        out.push((t, d));
    }
    Ok(out)
}

fn find<'a>(exts: &[(u16, &'a [u8])], t: u16) -> Option<&'a [u8]> {
    exts.iter().find(|(o, _)| *o == t).map(|(_, d)| *d)
}

fn put_ext(out: &mut Vec<u8>, t: u16, data: &[u8]) {
    out.extend_from_slice(&t.to_be_bytes());
    put_vec16(out, data);
}

/// What a 1.3 client offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHelloOffer<'a> {
    /// The random.
    pub random: [u8; 32],
    /// Cipher suite code points, preferred first.
    pub suites: &'a [u16],
    /// supported_groups, preferred first.
    pub groups: &'a [u16],
    /// key_share entries `(group, key_exchange)`.
    pub key_shares: &'a [(u16, Vec<u8>)],
    /// SRTP profiles for use_srtp; empty leaves it out.
    pub srtp_profiles: &'a [u16],
    /// The server's cookie after a HelloRetryRequest.
    pub cookie: Option<&'a [u8]>,
    /// Also offer DTLS 1.2 (supported_versions lists both; the 1.2
    /// extensions are sent too).
    pub offer_dtls12: bool,
}

/// Writes a ClientHello body (RFC 8446 §4.1.2 in DTLS form, RFC 9147
/// §5.3: legacy_version {254,253}, empty session id and legacy_cookie).
pub fn write_client_hello(out: &mut Vec<u8>, o: &ClientHelloOffer<'_>) {
    out.extend_from_slice(&DTLS1_2.to_be_bytes());
    out.extend_from_slice(&o.random);
    put_vec8(out, &[]);
    put_vec8(out, &[]);
    let suites: Vec<u8> = o.suites.iter().flat_map(|s| s.to_be_bytes()).collect();
    put_vec16(out, &suites);
    put_vec8(out, &[0]);
    let mut e = Vec::new();
    let mut versions = vec![0xfe, 0xfc];
    if o.offer_dtls12 {
        versions.extend_from_slice(&[0xfe, 0xfd]);
    }
    let mut v = Vec::new();
    put_vec8(&mut v, &versions);
    put_ext(&mut e, ext::SUPPORTED_VERSIONS, &v);
    let g: Vec<u8> = o.groups.iter().flat_map(|g| g.to_be_bytes()).collect();
    let mut gl = Vec::new();
    put_vec16(&mut gl, &g);
    put_ext(&mut e, ext::SUPPORTED_GROUPS, &gl);
    let mut sa = Vec::new();
    put_vec16(&mut sa, &ECDSA_SECP256R1_SHA256.to_be_bytes());
    put_ext(&mut e, ext::SIGNATURE_ALGORITHMS, &sa);
    let mut ks = Vec::new();
    for (group, key) in o.key_shares {
        ks.extend_from_slice(&group.to_be_bytes());
        put_vec16(&mut ks, key);
    }
    let mut ksl = Vec::new();
    put_vec16(&mut ksl, &ks);
    put_ext(&mut e, ext::KEY_SHARE, &ksl);
    if let Some(c) = o.cookie {
        let mut cl = Vec::new();
        put_vec16(&mut cl, c);
        put_ext(&mut e, EXT_COOKIE, &cl);
    }
    if !o.srtp_profiles.is_empty() {
        put_ext(
            &mut e,
            ext::USE_SRTP,
            &crate::messages::use_srtp_extension(o.srtp_profiles),
        );
    }
    if o.offer_dtls12 {
        put_ext(&mut e, ext::EXTENDED_MASTER_SECRET, &[]);
        put_ext(&mut e, ext::EC_POINT_FORMATS, &[1, 0]);
        put_ext(&mut e, ext::RENEGOTIATION_INFO, &[0]);
    }
    put_vec16(out, &e);
}

/// The key_share entries of a ClientHello's extension data.
pub fn parse_client_key_shares(data: &[u8]) -> Result<Vec<(u16, &[u8])>, MessageError> {
    let mut r = Reader(data);
    let list = r.vec16("key_share list")?;
    r.end()?;
    let mut r = Reader(list);
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let g = r.u16("key_share group")?;
        let k = r.vec16("key_exchange")?;
        if k.is_empty() {
            return Err(MessageError::Invalid("empty key_exchange"));
        }
        out.push((g, k));
    }
    Ok(out)
}

/// A cookie extension's cookie.
pub fn parse_cookie(data: &[u8]) -> Result<&[u8], MessageError> {
    let mut r = Reader(data);
    let c = r.vec16("cookie")?;
    r.end()?;
    if c.is_empty() {
        return Err(MessageError::Invalid("empty cookie"));
    }
    Ok(c)
}

/// A ServerHello or HelloRetryRequest body (RFC 8446 §4.1.3, §4.1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello13<'a> {
    /// legacy_version (must be DTLS 1.2's).
    pub legacy_version: u16,
    /// The random ([`HRR_RANDOM`] for a HelloRetryRequest).
    pub random: [u8; 32],
    /// legacy_session_id_echo.
    pub session_id: &'a [u8],
    /// The cipher suite.
    pub suite: u16,
    /// legacy_compression_method.
    pub compression: u8,
    /// Extensions in order.
    pub extensions: Vec<(u16, &'a [u8])>,
}

impl<'a> ServerHello13<'a> {
    /// Reads a body.
    pub fn parse(body: &'a [u8]) -> Result<ServerHello13<'a>, MessageError> {
        let mut r = Reader(body);
        let legacy_version = r.u16("legacy_version")?;
        let mut random = [0u8; 32];
        random.copy_from_slice(r.take(32, "random")?);
        let session_id = r.vec8("session id")?;
        let suite = r.u16("cipher suite")?;
        let compression = r.u8("compression")?;
        let extensions = if r.0.is_empty() {
            Vec::new()
        } else {
            let block = r.vec16("extensions")?;
            parse_extensions(block)?
        };
        r.end()?;
        Ok(ServerHello13 {
            legacy_version,
            random,
            session_id,
            suite,
            compression,
            extensions,
        })
    }

    /// Whether this is a HelloRetryRequest.
    pub fn is_hello_retry_request(&self) -> bool {
        self.random == HRR_RANDOM
    }

    /// An extension's data.
    pub fn extension(&self, t: u16) -> Option<&'a [u8]> {
        find(&self.extensions, t)
    }

    /// supported_versions' selected version.
    pub fn selected_version(&self) -> Option<u16> {
        match self.extension(ext::SUPPORTED_VERSIONS)? {
            [a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }

    /// The server's key share `(group, key_exchange)`.
    pub fn key_share(&self) -> Result<(u16, &'a [u8]), MessageError> {
        let d = self
            .extension(ext::KEY_SHARE)
            .ok_or(MessageError::Invalid("key_share missing"))?;
        let mut r = Reader(d);
        let g = r.u16("key_share group")?;
        let k = r.vec16("key_exchange")?;
        r.end()?;
        Ok((g, k))
    }

    /// A HelloRetryRequest's selected group.
    pub fn hrr_group(&self) -> Option<u16> {
        match self.extension(ext::KEY_SHARE)? {
            [a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }

    /// Writes the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.legacy_version.to_be_bytes());
        out.extend_from_slice(&self.random);
        put_vec8(out, self.session_id);
        out.extend_from_slice(&self.suite.to_be_bytes());
        out.push(self.compression);
        let mut e = Vec::new();
        for (t, d) in &self.extensions {
            put_ext(&mut e, *t, d);
        }
        put_vec16(out, &e);
    }
}

/// Extension data of a ServerHello's supported_versions.
pub fn selected_version_ext(version: u16) -> [u8; 2] {
    version.to_be_bytes()
}

/// Extension data of a ServerHello's key_share.
pub fn server_key_share_ext(group: u16, key: &[u8]) -> Vec<u8> {
    let mut d = group.to_be_bytes().to_vec();
    put_vec16(&mut d, key);
    d
}

/// Extension data of a cookie extension.
pub fn cookie_ext(cookie: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    put_vec16(&mut d, cookie);
    d
}

/// Writes an extension block alone (EncryptedExtensions' body,
/// RFC 8446 §4.3.1).
pub fn write_extensions(out: &mut Vec<u8>, exts: &[(u16, Vec<u8>)]) {
    let mut e = Vec::new();
    for (t, d) in exts {
        put_ext(&mut e, *t, d);
    }
    put_vec16(out, &e);
}

/// Reads EncryptedExtensions' body.
pub fn parse_encrypted_extensions(body: &[u8]) -> Result<Vec<(u16, &[u8])>, MessageError> {
    let mut r = Reader(body);
    let block = r.vec16("extensions")?;
    r.end()?;
    parse_extensions(block)
}

/// Writes a CertificateRequest (RFC 8446 §4.3.2): empty context,
/// signature_algorithms = ecdsa_secp256r1_sha256.
pub fn write_certificate_request(out: &mut Vec<u8>) {
    put_vec8(out, &[]);
    let mut sa = Vec::new();
    put_vec16(&mut sa, &ECDSA_SECP256R1_SHA256.to_be_bytes());
    write_extensions(out, &[(ext::SIGNATURE_ALGORITHMS, sa)]);
}

/// Reads a CertificateRequest: `(context, extensions)`.
pub fn parse_certificate_request(body: &[u8]) -> Result<(&[u8], Extensions<'_>), MessageError> {
    let mut r = Reader(body);
    let ctx = r.vec8("certificate_request_context")?;
    let block = r.vec16("extensions")?;
    r.end()?;
    Ok((ctx, parse_extensions(block)?))
}

/// Writes a Certificate (RFC 8446 §4.4.2) with one X.509 entry.
pub fn write_certificate(out: &mut Vec<u8>, context: &[u8], der: &[u8]) {
    put_vec8(out, context);
    let mut entry = Vec::new();
    put_vec24(&mut entry, der);
    put_vec16(&mut entry, &[]);
    put_vec24(out, &entry);
}

/// Reads a Certificate: `(context, end-entity certificate DER)`; an empty
/// list gives `None`.
pub fn parse_certificate(body: &[u8]) -> Result<(&[u8], Option<&[u8]>), MessageError> {
    let mut r = Reader(body);
    let ctx = r.vec8("certificate_request_context")?;
    let list = r.vec24("certificate_list")?;
    r.end()?;
    let mut l = Reader(list);
    let mut first = None;
    while !l.0.is_empty() {
        let cert = l.vec24("cert_data")?;
        let _exts = l.vec16("certificate extensions")?;
        if cert.is_empty() {
            return Err(MessageError::Invalid("empty cert_data"));
        }
        first.get_or_insert(cert);
    }
    Ok((ctx, first))
}

/// The content a CertificateVerify signs (RFC 8446 §4.4.3): 64 spaces,
/// the context string, a zero byte, the transcript hash.
pub fn certificate_verify_content(server: bool, transcript_hash: &[u8]) -> Vec<u8> {
    let mut m = vec![0x20u8; 64];
    m.extend_from_slice(if server {
        b"TLS 1.3, server CertificateVerify"
    } else {
        b"TLS 1.3, client CertificateVerify"
    });
    m.push(0);
    m.extend_from_slice(transcript_hash);
    m
}

/// Writes an ACK record's content (RFC 9147 §7): record numbers as
/// `(epoch, sequence)` pairs of 64 bits each.
pub fn write_ack(out: &mut Vec<u8>, records: &[(u64, u64)]) {
    let n = (records.len() * 16).min(0xfff0);
    out.extend_from_slice(&(n as u16).to_be_bytes());
    for (e, s) in records.iter().take(n / 16) {
        out.extend_from_slice(&e.to_be_bytes());
        out.extend_from_slice(&s.to_be_bytes());
    }
}

/// Reads an ACK record's content.
pub fn parse_ack(content: &[u8]) -> Result<Vec<(u64, u64)>, MessageError> {
    let mut r = Reader(content);
    let list = r.vec16("record_numbers")?;
    r.end()?;
    if list.len() % 16 != 0 {
        return Err(MessageError::Invalid("record_numbers length"));
    }
    Ok(list
        .chunks_exact(16)
        .map(|c| {
            let mut e = [0u8; 8];
            let mut s = [0u8; 8];
            e.copy_from_slice(&c[..8]);
            s.copy_from_slice(&c[8..]);
            (u64::from_be_bytes(e), u64::from_be_bytes(s))
        })
        .collect())
}

/// The form a message takes in the 1.3 transcript (RFC 9147 §5.2: TLS
/// 1.3's header, without message_seq and fragment fields).
pub fn transcript_form(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(4 + body.len());
    m.push(msg_type);
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hello::ClientHello;

    #[test]
    fn client_hello_is_read_back_by_the_shared_parser() {
        let shares = vec![(29u16, vec![9u8; 32])];
        let offer = ClientHelloOffer {
            random: [7; 32],
            suites: &[0x1301, 0x1302],
            groups: &[29, 23],
            key_shares: &shares,
            srtp_profiles: &[7, 1],
            cookie: Some(b"cookie!"),
            offer_dtls12: true,
        };
        let mut body = Vec::new();
        write_client_hello(&mut body, &offer);
        let ch = ClientHello::parse(&body).unwrap();
        assert_eq!(ch.version, 0xfefd);
        assert_eq!(ch.random, &[7; 32]);
        assert_eq!(ch.supported_versions(), vec![0xfefc, 0xfefd]);
        assert_eq!(ch.cipher_suites().collect::<Vec<_>>(), vec![0x1301, 0x1302]);
        let ks = parse_client_key_shares(ch.extension(ext::KEY_SHARE).unwrap()).unwrap();
        assert_eq!(ks, vec![(29, &[9u8; 32][..])]);
        assert_eq!(
            parse_cookie(ch.extension(EXT_COOKIE).unwrap()).unwrap(),
            b"cookie!"
        );
        assert_eq!(ch.use_srtp().unwrap().0, vec![7, 1]);
        assert!(ch.extended_master_secret());
    }

    #[test]
    fn server_hello_round_trips_and_reads_its_extensions() {
        let ks = server_key_share_ext(23, &[4; 65]);
        let sh = ServerHello13 {
            legacy_version: 0xfefd,
            random: [1; 32],
            session_id: &[],
            suite: 0x1302,
            compression: 0,
            extensions: vec![
                (ext::SUPPORTED_VERSIONS, &[0xfe, 0xfc][..]),
                (ext::KEY_SHARE, &ks[..]),
            ],
        };
        let mut body = Vec::new();
        sh.write(&mut body);
        let back = ServerHello13::parse(&body).unwrap();
        assert_eq!(back, sh);
        assert_eq!(back.selected_version(), Some(0xfefc));
        assert_eq!(back.key_share().unwrap(), (23, &[4u8; 65][..]));
        assert!(!back.is_hello_retry_request());
        let mut dup = Vec::new();
        ServerHello13 {
            extensions: vec![(43, &[0xfe, 0xfc][..]), (43, &[0xfe, 0xfc][..])],
            ..sh
        }
        .write(&mut dup);
        assert!(ServerHello13::parse(&dup).is_err());
    }

    #[test]
    fn certificate_request_certificate_and_ack_round_trip() {
        let mut cr = Vec::new();
        write_certificate_request(&mut cr);
        let (ctx, exts) = parse_certificate_request(&cr).unwrap();
        assert!(ctx.is_empty());
        assert_eq!(exts, vec![(13, &[0, 2, 4, 3][..])]);
        let mut c = Vec::new();
        write_certificate(&mut c, &[], b"der bytes");
        assert_eq!(
            parse_certificate(&c).unwrap(),
            (&[][..], Some(&b"der bytes"[..]))
        );
        let mut empty = Vec::new();
        put_vec8(&mut empty, &[]);
        put_vec24(&mut empty, &[]);
        assert_eq!(parse_certificate(&empty).unwrap(), (&[][..], None));
        let mut a = Vec::new();
        write_ack(&mut a, &[(2, 5), (3, 0)]);
        assert_eq!(a.len(), 2 + 32);
        assert_eq!(parse_ack(&a).unwrap(), vec![(2, 5), (3, 0)]);
        assert!(parse_ack(&a[..20]).is_err());
    }

    #[test]
    fn certificate_verify_content_has_the_rfc_8446_prefix() {
        let m = certificate_verify_content(true, &[0xaa; 32]);
        assert_eq!(m.len(), 64 + 33 + 1 + 32);
        assert_eq!(&m[64..97], b"TLS 1.3, server CertificateVerify");
        assert_eq!(m[97], 0);
    }
}

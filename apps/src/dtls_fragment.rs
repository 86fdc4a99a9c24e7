//! What a DTLS handshake fragment's bytes contain before its message is
//! whole (issue 21): the fields of the message's first fragment that lie
//! wholly inside it, read by position (RFC 6347 §4.3.2 for the hellos and
//! HelloVerifyRequest, RFC 5246 §7.4 and RFC 8422 §5.4 for the others).
//!
//! A fragment that starts later in the message says which byte range of
//! the body it carries; its fields are only known once the message is
//! reassembled, which [`crate::dtlsview`] does across datagrams.

use serde_json::{json, Value};

/// Reads fields in order from a prefix of a message body.
struct Walk<'a> {
    b: &'a [u8],
    at: usize,
    lines: Vec<String>,
    fields: Vec<Value>,
}

impl<'a> Walk<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn uint(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |a, &x| (a << 8) | u64::from(x)),
        )
    }

    fn note(&mut self, name: &str, start: usize, text: String) {
        self.lines
            .push(format!("bytes {start}..{}: {name} {text}", self.at));
        self.fields
            .push(json!({"field": name, "offset": start, "end": self.at, "value": text}));
    }

    /// A fixed-size field shown in hex.
    fn hex(&mut self, name: &str, n: usize) -> Option<()> {
        let start = self.at;
        let v = self.take(n)?;
        let text = hex_short(v);
        self.note(name, start, text);
        Some(())
    }

    /// An unsigned number of `n` bytes, shown with `show`.
    fn number(&mut self, name: &str, n: usize, show: fn(u64) -> String) -> Option<u64> {
        let start = self.at;
        let v = self.uint(n)?;
        self.note(name, start, show(v));
        Some(v)
    }

    /// A vector with an `n`-byte length: the length, then the contents
    /// if they are all here.
    fn vector(&mut self, name: &str, n: usize) -> Option<&'a [u8]> {
        let start = self.at;
        let len = self.uint(n)? as usize;
        match self.take(len) {
            Some(v) => {
                self.note(name, start, format!("({len} bytes) {}", hex_short(v)));
                Some(v)
            }
            None => {
                let have = self.b.len() - self.at;
                self.at = self.b.len();
                self.note(
                    name,
                    start,
                    format!("length {len}, of which {have} bytes are in this fragment"),
                );
                None
            }
        }
    }
}

fn hex_short(v: &[u8]) -> String {
    let shown: String = v.iter().take(16).map(|b| format!("{b:02x}")).collect();
    if v.len() > 16 {
        format!("{shown}…")
    } else {
        shown
    }
}

fn version(v: u64) -> String {
    match v {
        0xfeff => "DTLS 1.0 (0xfeff)".into(),
        0xfefd => "DTLS 1.2 (0xfefd)".into(),
        0xfefc => "DTLS 1.3 (0xfefc)".into(),
        v => format!("{v:#06x}"),
    }
}

fn plain(v: u64) -> String {
    v.to_string()
}

fn hex16(v: u64) -> String {
    format!("{v:#06x}")
}

/// The fields of the first `body.len()` bytes of a handshake message of
/// type `msg_type`, for a fragment at `offset`: text lines and JSON.
pub fn partial(msg_type: u8, offset: usize, total: usize, body: &[u8]) -> (Vec<String>, Value) {
    if offset != 0 {
        return (
            vec![format!(
                "bytes {offset}..{} of the {total}-byte body: its fields show once the message is reassembled",
                offset + body.len()
            )],
            json!([]),
        );
    }
    let mut w = Walk {
        b: body,
        at: 0,
        lines: Vec::new(),
        fields: Vec::new(),
    };
    let _ = fields(msg_type, &mut w);
    if w.at < body.len() {
        let rest = body.len() - w.at;
        w.lines.push(format!(
            "bytes {}..{}: {rest} bytes of a field that continues in the next fragment",
            w.at,
            body.len()
        ));
    }
    (w.lines, json!(w.fields))
}

/// Walks the fields of each message type we know, as far as the bytes go.
fn fields(msg_type: u8, w: &mut Walk<'_>) -> Option<()> {
    match msg_type {
        // ClientHello (RFC 6347 §4.2.1, RFC 5246 §7.4.1.2).
        1 => {
            w.number("client_version", 2, version)?;
            w.hex("random", 32)?;
            w.vector("session_id", 1)?;
            w.vector("cookie", 1)?;
            w.vector("cipher_suites", 2)?;
            w.vector("compression_methods", 1)?;
            w.vector("extensions", 2)?;
        }
        // ServerHello (RFC 5246 §7.4.1.3).
        2 => {
            w.number("server_version", 2, version)?;
            w.hex("random", 32)?;
            w.vector("session_id", 1)?;
            w.number("cipher_suite", 2, hex16)?;
            w.number("compression_method", 1, plain)?;
            w.vector("extensions", 2)?;
        }
        // HelloVerifyRequest (RFC 6347 §4.2.1).
        3 => {
            w.number("server_version", 2, version)?;
            w.vector("cookie", 1)?;
        }
        // Certificate (RFC 5246 §7.4.2): the list's length, then each
        // DER certificate with a 3-byte length.
        11 => {
            w.number("certificate_list length", 3, plain)?;
            while w.at < w.b.len() {
                w.vector("certificate (DER)", 3)?;
            }
        }
        // ServerKeyExchange, ECDHE (RFC 8422 §5.4).
        12 => {
            w.number("curve_type", 1, plain)?;
            w.number("named_curve", 2, plain)?;
            w.vector("public key", 1)?;
            w.number("signature algorithm", 2, hex16)?;
            w.vector("signature", 2)?;
        }
        // CertificateRequest (RFC 5246 §7.4.4).
        13 => {
            w.vector("certificate_types", 1)?;
            w.vector("signature_algorithms", 2)?;
            w.vector("certificate_authorities", 2)?;
        }
        // CertificateVerify (RFC 5246 §7.4.8).
        15 => {
            w.number("signature algorithm", 2, hex16)?;
            w.vector("signature", 2)?;
        }
        // ClientKeyExchange, ECDHE (RFC 8422 §5.7).
        16 => {
            w.vector("public key", 1)?;
        }
        // Finished (RFC 5246 §7.4.9).
        20 => w.hex("verify_data", 12)?,
        _ => {}
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hello_cut_in_its_cipher_suites_shows_the_fields_before() {
        let mut body = vec![0xfe, 0xfd];
        body.extend([7u8; 32]);
        body.push(0); // session id
        body.push(2);
        body.extend([0xaa, 0xbb]); // cookie
        body.extend([0x00, 0x04, 0xc0, 0x2b]); // 4 bytes of suites, 2 here
        let (lines, v) = partial(1, 0, 200, &body);
        assert_eq!(lines[0], "bytes 0..2: client_version DTLS 1.2 (0xfefd)");
        assert!(lines[1].starts_with("bytes 2..34: random 0707"));
        assert_eq!(lines[2], "bytes 34..35: session_id (0 bytes) ");
        assert_eq!(lines[3], "bytes 35..38: cookie (2 bytes) aabb");
        assert_eq!(
            lines[4],
            "bytes 38..42: cipher_suites length 4, of which 2 bytes are in this fragment"
        );
        assert_eq!(lines.len(), 5);
        assert_eq!(v[3]["field"], "cookie");
    }

    #[test]
    fn a_certificate_fragment_shows_the_list_and_the_first_certificate_length() {
        let body = [0x00, 0x01, 0x10, 0x00, 0x01, 0x0d, 0x30, 0x82];
        let (lines, _) = partial(11, 0, 0x113, &body);
        assert_eq!(lines[0], "bytes 0..3: certificate_list length 272");
        assert_eq!(
            lines[1],
            "bytes 3..8: certificate (DER) length 269, of which 2 bytes are in this fragment"
        );
    }

    #[test]
    fn a_later_fragment_names_its_range_and_a_field_cut_mid_length_is_said() {
        let (lines, _) = partial(11, 100, 300, &[1, 2, 3]);
        assert_eq!(
            lines,
            ["bytes 100..103 of the 300-byte body: its fields show once the message is reassembled"]
        );
        let (lines, _) = partial(2, 0, 70, &[0xfe]);
        assert_eq!(
            lines,
            ["bytes 0..1: 1 bytes of a field that continues in the next fragment"]
        );
    }
}

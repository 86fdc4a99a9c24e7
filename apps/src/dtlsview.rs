//! DTLS for the packet inspector, read with `meshrtc-dtls`: every record of
//! a datagram, and in epoch 0 the handshake fragments, with a whole
//! ClientHello's suites, groups and extensions by name.

use meshrtc_dtls::cipher::RecordCipher;
use meshrtc_dtls::handshake::{fragments, Fragment, HandshakeType, Reassembler};
use meshrtc_dtls::hello::{ext, ClientHello};
use meshrtc_dtls::messages::{
    parse_certificate_verify, parse_client_key_exchange, parse_use_srtp_answer, Certificate,
    CertificateRequest, HelloVerifyRequest, ServerHello, ServerKeyExchange,
};
use meshrtc_dtls::record::{ContentType, Record};
use meshrtc_dtls::Fingerprint;
use serde_json::{json, Value};
use std::fmt::Write;

use crate::capture::dtls13_keys::{any_records, AnyRecord, Dtls13Direction};

fn suite_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0xc02b => "ECDHE_ECDSA_AES_128_GCM_SHA256",
        0xc02c => "ECDHE_ECDSA_AES_256_GCM_SHA384",
        0xc02f => "ECDHE_RSA_AES_128_GCM_SHA256",
        0xc030 => "ECDHE_RSA_AES_256_GCM_SHA384",
        0xcca8 => "ECDHE_RSA_CHACHA20_POLY1305",
        0xcca9 => "ECDHE_ECDSA_CHACHA20_POLY1305",
        0xc009 => "ECDHE_ECDSA_AES_128_CBC_SHA",
        0xc00a => "ECDHE_ECDSA_AES_256_CBC_SHA",
        0xc013 => "ECDHE_RSA_AES_128_CBC_SHA",
        0xc014 => "ECDHE_RSA_AES_256_CBC_SHA",
        0x009c => "RSA_AES_128_GCM_SHA256",
        0x002f => "RSA_AES_128_CBC_SHA",
        0x0035 => "RSA_AES_256_CBC_SHA",
        0x1301 => "TLS13_AES_128_GCM_SHA256",
        0x1302 => "TLS13_AES_256_GCM_SHA384",
        0x1303 => "TLS13_CHACHA20_POLY1305_SHA256",
        _ => return None,
    })
}

fn group_name(id: u16) -> Option<&'static str> {
    Some(match id {
        23 => "secp256r1",
        24 => "secp384r1",
        25 => "secp521r1",
        29 => "x25519",
        30 => "x448",
        0x11ec => "X25519MLKEM768",
        _ => return None,
    })
}

pub(crate) fn extension_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0 => "server_name",
        10 => "supported_groups",
        11 => "ec_point_formats",
        13 => "signature_algorithms",
        14 => "use_srtp",
        16 => "application_layer_protocol_negotiation",
        22 => "encrypt_then_mac",
        23 => "extended_master_secret",
        35 => "session_ticket",
        43 => "supported_versions",
        45 => "psk_key_exchange_modes",
        51 => "key_share",
        0xff01 => "renegotiation_info",
        _ => return None,
    })
}

pub(crate) fn srtp_profile_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0x0001 => "SRTP_AES128_CM_HMAC_SHA1_80",
        0x0002 => "SRTP_AES128_CM_HMAC_SHA1_32",
        0x0007 => "SRTP_AEAD_AES_128_GCM",
        0x0008 => "SRTP_AEAD_AES_256_GCM",
        _ => return None,
    })
}

pub(crate) fn named(list: &[u16], name: fn(u16) -> Option<&'static str>) -> String {
    list.iter()
        .map(|&x| name(x).map_or_else(|| format!("{x:#06x}"), str::to_string))
        .collect::<Vec<_>>()
        .join(", ")
}

fn version_name(v: u16) -> String {
    match v {
        0xfeff => "DTLS 1.0".into(),
        0xfefd => "DTLS 1.2".into(),
        0xfefc => "DTLS 1.3".into(),
        v => format!("{v:#06x}"),
    }
}

fn client_hello(body: &[u8], s: &mut String) -> Value {
    let h = match ClientHello::parse(body) {
        Ok(h) => h,
        Err(e) => {
            let _ = writeln!(s, "      malformed ClientHello: {e}");
            return json!({"error": e.to_string()});
        }
    };
    let suites: Vec<u16> = h.cipher_suites().collect();
    let groups = h.supported_groups();
    let versions = h.supported_versions();
    let exts: Vec<u16> = h.extensions.iter().map(|&(t, _)| t).collect();
    let _ = writeln!(s, "      client_version  {}", version_name(h.version));
    let _ = writeln!(s, "      cookie          {} bytes", h.cookie.len());
    let _ = writeln!(s, "      cipher suites   {}", named(&suites, suite_name));
    let _ = writeln!(s, "      extensions      {}", named(&exts, extension_name));
    if !groups.is_empty() {
        let _ = writeln!(s, "      groups          {}", named(&groups, group_name));
    }
    if !versions.is_empty() {
        let v: Vec<String> = versions.iter().map(|&v| version_name(v)).collect();
        let _ = writeln!(s, "      versions        {}", v.join(", "));
    }
    let srtp = h.use_srtp();
    if let Some((profiles, _)) = &srtp {
        let _ = writeln!(
            s,
            "      use_srtp        {}",
            named(profiles, srtp_profile_name)
        );
    }
    json!({
        "client_version": h.version, "cookie_length": h.cookie.len(), "cipher_suites": suites,
        "extensions": exts, "groups": groups, "versions": versions,
        "srtp_profiles": srtp.map(|(p, _)| p), "extended_master_secret": h.extended_master_secret(),
    })
}

fn server_hello(body: &[u8], s: &mut String) -> Value {
    let h = match ServerHello::parse(body) {
        Ok(h) => h,
        Err(e) => {
            let _ = writeln!(s, "      malformed ServerHello: {e}");
            return json!({"error": e.to_string()});
        }
    };
    let exts: Vec<u16> = h.extensions.iter().map(|&(t, _)| t).collect();
    let _ = writeln!(s, "      server_version  {}", version_name(h.version));
    let _ = writeln!(
        s,
        "      cipher suite    {}",
        named(&[h.cipher_suite], suite_name)
    );
    let _ = writeln!(s, "      extensions      {}", named(&exts, extension_name));
    // DTLS 1.3 (RFC 8446 §4.2.1): supported_versions says which.
    if let Some(&[a, b]) = h.extension(43) {
        let _ = writeln!(
            s,
            "      selected        {}",
            version_name(u16::from_be_bytes([a, b]))
        );
    }
    let srtp = h
        .extension(ext::USE_SRTP)
        .and_then(|d| parse_use_srtp_answer(d).ok())
        .map(|(p, _)| p);
    if let Some(p) = srtp {
        let _ = writeln!(
            s,
            "      use_srtp        {}",
            named(&[p], srtp_profile_name)
        );
    }
    json!({
        "server_version": h.version, "cipher_suite": h.cipher_suite, "extensions": exts,
        "srtp_profile": srtp,
        "extended_master_secret": h.extension(ext::EXTENDED_MASTER_SECRET).is_some(),
    })
}

/// What the inspector shows of one whole handshake message.
fn message(t: HandshakeType, body: &[u8], s: &mut String) -> Option<(&'static str, Value)> {
    let bad = |s: &mut String, what: &str, e: &dyn std::fmt::Display| {
        let _ = writeln!(s, "      malformed {what}: {e}");
        json!({"error": e.to_string()})
    };
    Some(match t {
        HandshakeType::ClientHello => ("client_hello", client_hello(body, s)),
        HandshakeType::ServerHello => ("server_hello", server_hello(body, s)),
        HandshakeType::HelloVerifyRequest => match HelloVerifyRequest::parse(body) {
            Ok(h) => {
                let _ = writeln!(s, "      cookie          {} bytes", h.cookie.len());
                (
                    "hello_verify_request",
                    json!({"cookie_length": h.cookie.len()}),
                )
            }
            Err(e) => ("hello_verify_request", bad(s, "HelloVerifyRequest", &e)),
        },
        HandshakeType::Certificate => match Certificate::parse(body) {
            Ok(c) => {
                let fps: Vec<String> = c
                    .chain
                    .iter()
                    .map(|d| Fingerprint::of_der(d).to_string())
                    .collect();
                for (d, fp) in c.chain.iter().zip(&fps) {
                    let _ = writeln!(s, "      certificate     {} bytes, sha-256 {fp}", d.len());
                }
                ("certificate", json!({"sha256_fingerprints": fps}))
            }
            Err(e) => ("certificate", bad(s, "Certificate", &e)),
        },
        HandshakeType::ServerKeyExchange => match ServerKeyExchange::parse(body) {
            Ok(k) => {
                let _ = writeln!(
                    s,
                    "      ECDHE           {}, {}-byte key, signature {:#06x}",
                    named(&[k.group], group_name),
                    k.public.len(),
                    k.scheme
                );
                let v =
                    json!({"group": k.group, "public_length": k.public.len(), "scheme": k.scheme});
                ("server_key_exchange", v)
            }
            Err(e) => ("server_key_exchange", bad(s, "ServerKeyExchange", &e)),
        },
        HandshakeType::CertificateRequest => match CertificateRequest::parse(body) {
            Ok(r) => {
                let _ = writeln!(
                    s,
                    "      cert types      {:?}, schemes {:04x?}",
                    r.types, r.schemes
                );
                (
                    "certificate_request",
                    json!({"types": r.types, "schemes": r.schemes}),
                )
            }
            Err(e) => ("certificate_request", bad(s, "CertificateRequest", &e)),
        },
        HandshakeType::ClientKeyExchange => match parse_client_key_exchange(body) {
            Ok(k) => {
                let _ = writeln!(s, "      ECDHE public    {} bytes", k.len());
                ("client_key_exchange", json!({"public_length": k.len()}))
            }
            Err(e) => ("client_key_exchange", bad(s, "ClientKeyExchange", &e)),
        },
        HandshakeType::CertificateVerify => match parse_certificate_verify(body) {
            Ok((scheme, sig)) => {
                let _ = writeln!(
                    s,
                    "      signature       {scheme:#06x}, {} bytes",
                    sig.len()
                );
                (
                    "certificate_verify",
                    json!({"scheme": scheme, "signature_length": sig.len()}),
                )
            }
            Err(e) => ("certificate_verify", bad(s, "CertificateVerify", &e)),
        },
        _ => return None,
    })
}

/// A reassembler for the epoch-0 handshake of a capture, carried from
/// datagram to datagram so a fragmented message is shown whole once its
/// last fragment is read.
pub fn reassembler() -> Reassembler {
    Reassembler::new(0, 1 << 16, 16)
}

/// The records of a DTLS datagram. Returns the text, the JSON, and whether
/// anything was malformed.
pub fn dtls(
    dgram: &[u8],
    reasm: &mut Reassembler,
    cipher: Option<&RecordCipher>,
    mut v13: Option<&mut Dtls13Direction>,
) -> (String, Value, bool) {
    let mut s = String::new();
    let mut list = Vec::new();
    let mut bad = false;
    for r in any_records(dgram) {
        let r = match r {
            Ok(AnyRecord::Plain(r)) => r,
            Ok(AnyRecord::Unified(u)) => {
                list.push(crate::dtls13view::protected(&u, v13.as_deref_mut(), &mut s));
                continue;
            }
            Err(e) => {
                let _ = writeln!(s, "  malformed record: {e} (the rest is dropped)");
                list.push(json!({"error": e.to_string()}));
                bad = true;
                break;
            }
        };
        let _ = writeln!(
            s,
            "  record {:?} {} epoch {} seq {} {} bytes",
            r.content_type,
            version_name(r.version),
            r.epoch,
            r.sequence,
            r.fragment.len()
        );
        let mut v = json!({
            "content_type": r.content_type.as_u8(), "version": r.version, "epoch": r.epoch,
            "sequence": r.sequence, "length": r.fragment.len(),
        });
        if r.epoch > 0 {
            match cipher {
                None => {
                    let _ = writeln!(s, "    encrypted");
                }
                Some(c) => v["decrypted"] = opened(c, &r, &mut s),
            }
        } else if r.content_type == ContentType::Handshake {
            let mut frags = Vec::new();
            for f in fragments(r.fragment) {
                match f {
                    Ok(f) => {
                        let _ = writeln!(s, "    {}", fragment_line(&f));
                        let mut fv = json!({
                            "type": f.msg_type.as_u8(), "message_seq": f.message_seq,
                            "offset": f.offset, "fragment_length": f.body.len(), "length": f.length,
                        });
                        // A retransmitted or unrelated message may not fit
                        // the reassembler's order; that is not an error here.
                        let _ = reasm.push(&f);
                        while let Some(m) = reasm.pop() {
                            if !f.is_whole() {
                                let _ = writeln!(
                                    s,
                                    "    reassembled {:?} message_seq {}, {} bytes",
                                    m.msg_type,
                                    m.message_seq,
                                    m.body.len()
                                );
                            }
                            if let Some((key, v)) = message(m.msg_type, &m.body, &mut s) {
                                fv[key] = v;
                                fv["whole"] = json!(true);
                            }
                        }
                        if !f.is_whole() && fv.get("whole").is_none() {
                            let _ =
                                writeln!(s, "      (a fragment: the rest is in another datagram)");
                            let (lines, known) = crate::dtls_fragment::partial(
                                f.msg_type.as_u8(),
                                f.offset,
                                f.length,
                                f.body,
                            );
                            for l in lines {
                                let _ = writeln!(s, "      {l}");
                            }
                            fv["partial"] = known;
                        }
                        frags.push(fv);
                    }
                    Err(e) => {
                        let _ = writeln!(s, "    malformed handshake fragment: {e}");
                        frags.push(json!({"error": e.to_string()}));
                        bad = true;
                        break;
                    }
                }
            }
            v["handshake"] = json!(frags);
        } else if r.content_type == ContentType::Alert && r.fragment.len() == 2 {
            let level = if r.fragment[0] == 2 {
                "fatal"
            } else {
                "warning"
            };
            let _ = writeln!(s, "    alert {level} description {}", r.fragment[1]);
            v["alert"] = json!({"level": r.fragment[0], "description": r.fragment[1]});
        }
        list.push(v);
    }
    (s, json!(list), bad)
}

/// A handshake fragment's type, sequence number and byte range.
pub(crate) fn fragment_line(f: &Fragment<'_>) -> String {
    format!(
        "{:?} message_seq {} bytes {}..{} of {}",
        f.msg_type,
        f.message_seq,
        f.offset,
        f.offset + f.body.len(),
        f.length
    )
}

/// An encrypted DTLS 1.2 record opened with the key log's keys (issue 21):
/// its handshake messages (the Finished, RFC 5246 §7.4.9), alert, or
/// application data (SCTP for data channels, RFC 8261 §3) are printed;
/// returns the JSON.
fn opened(c: &RecordCipher, r: &Record<'_>, s: &mut String) -> Value {
    let mut plain = Vec::new();
    if let Err(e) = c.open(r, &mut plain) {
        let _ = writeln!(s, "    encrypted; the key log's keys do not open it ({e})");
        return json!({"error": e.to_string()});
    }
    let _ = writeln!(s, "    decrypted with the key log: {} bytes", plain.len());
    let mut v = json!({"length": plain.len()});
    match r.content_type {
        ContentType::Handshake => {
            let mut msgs = Vec::new();
            for f in fragments(&plain) {
                let Ok(f) = f else {
                    let _ = writeln!(s, "      malformed handshake fragment");
                    msgs.push(json!({"error": "malformed handshake fragment"}));
                    break;
                };
                let _ = writeln!(s, "      {}", fragment_line(&f));
                let mut m = json!({"type": f.msg_type.as_u8(), "message_seq": f.message_seq});
                if f.msg_type == HandshakeType::Finished && f.is_whole() {
                    let hex: String = f.body.iter().map(|b| format!("{b:02x}")).collect();
                    let _ = writeln!(s, "        verify_data     {hex}");
                    m["verify_data"] = json!(hex);
                }
                msgs.push(m);
            }
            v["handshake"] = json!(msgs);
        }
        ContentType::Alert if plain.len() == 2 => {
            let level = if plain[0] == 2 { "fatal" } else { "warning" };
            let _ = writeln!(s, "      alert {level} description {}", plain[1]);
            v["alert"] = json!({"level": plain[0], "description": plain[1]});
        }
        ContentType::ApplicationData => application_data(&plain, s, &mut v),
        _ => {}
    }
    v
}

/// Decrypted application data: the SCTP common header (RFC 8261 §3:
/// data channels run SCTP over DTLS), into `s` and `v["sctp"]`.
pub(crate) fn application_data(plain: &[u8], s: &mut String, v: &mut Value) {
    if plain.len() >= 12 {
        let port = |i: usize| u16::from_be_bytes([plain[i], plain[i + 1]]);
        let _ = writeln!(
            s,
            "      SCTP packet (RFC 8261): ports {} -> {}, verification tag {:#010x}, {} bytes of chunks",
            port(0),
            port(2),
            u32::from_be_bytes([plain[4], plain[5], plain[6], plain[7]]),
            plain.len() - 12
        );
        v["sctp"] = json!({"source_port": port(0), "destination_port": port(2)});
    } else {
        let _ = writeln!(s, "      application data, {} bytes", plain.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshrtc_dtls::cipher::{CipherPair, Suite};

    fn pair(fill: u8) -> CipherPair {
        let suite = Suite::EcdheEcdsaAes128GcmSha256;
        let block: Vec<u8> = (0..suite.key_block_len() as u8).map(|i| i ^ fill).collect();
        CipherPair::from_key_block(suite, &block).unwrap()
    }

    /// A Finished (handshake type 20, message_seq 5, 12 bytes of
    /// verify_data) sealed in epoch 1 with the client's key.
    fn sealed_finished(p: &CipherPair) -> Vec<u8> {
        let mut msg = vec![20, 0, 0, 12, 0, 5, 0, 0, 0, 0, 0, 12];
        msg.extend(0xa0..0xac);
        let mut out = Vec::new();
        p.client_write
            .seal(ContentType::Handshake, 0xfefd, 1, 0, &msg, &mut out);
        out
    }

    #[test]
    fn an_encrypted_finished_opens_with_the_right_keys_and_says_so_with_wrong_ones() {
        let p = pair(0);
        let dgram = sealed_finished(&p);
        let (text, v, bad) = dtls(&dgram, &mut reassembler(), Some(&p.client_write), None);
        assert!(!bad);
        assert!(
            text.contains("decrypted with the key log: 24 bytes"),
            "{text}"
        );
        assert!(
            text.contains("Finished message_seq 5 bytes 0..12 of 12"),
            "{text}"
        );
        assert!(
            text.contains("verify_data     a0a1a2a3a4a5a6a7a8a9aaab"),
            "{text}"
        );
        assert_eq!(v[0]["decrypted"]["handshake"][0]["type"], 20);

        // The server's key is the other direction's: it does not open it.
        let (text, v, _) = dtls(&dgram, &mut reassembler(), Some(&p.server_write), None);
        assert!(text.contains("the key log's keys do not open it"), "{text}");
        assert!(v[0]["decrypted"]["error"].is_string());
        let (text, _, _) = dtls(&dgram, &mut reassembler(), None, None);
        assert!(text.contains("    encrypted\n"), "{text}");
    }

    #[test]
    fn decrypted_application_data_shows_its_sctp_common_header() {
        let p = pair(7);
        let mut sctp = vec![0x13, 0x88, 0x13, 0x88, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0];
        sctp.extend([1, 0, 0, 4]);
        let mut dgram = Vec::new();
        p.server_write.seal(
            ContentType::ApplicationData,
            0xfefd,
            1,
            3,
            &sctp,
            &mut dgram,
        );
        let (text, v, _) = dtls(&dgram, &mut reassembler(), Some(&p.server_write), None);
        assert!(
            text.contains("ports 5000 -> 5000, verification tag 0xdeadbeef, 4 bytes of chunks"),
            "{text}"
        );
        assert_eq!(v[0]["decrypted"]["sctp"]["source_port"], 5000);
    }
}

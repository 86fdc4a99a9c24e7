//! DTLS 1.3 protected records for the packet inspector (issue 21): the
//! unified header (RFC 9147 §4), and with the key log's keys
//! ([`crate::capture::dtls13_keys`]) the record number decrypted
//! (§4.2.3), the AEAD opened with the per-record nonce (RFC 8446 §5.3) and
//! the inner content by its real type (RFC 8446 §5.2): handshake messages
//! (EncryptedExtensions, Certificate, CertificateVerify, Finished,
//! KeyUpdate), ACKs (RFC 9147 §7), alerts and application data.

use std::fmt::Write;

use meshrtc_dtls::handshake::fragments;
use meshrtc_dtls::messages::{parse_certificate_verify, parse_use_srtp_answer};
use meshrtc_dtls::v13::messages::{
    msg, parse_ack, parse_certificate, parse_certificate_request, parse_encrypted_extensions,
};
use meshrtc_dtls::v13::record::{
    UnifiedRecord, CONTENT_ACK, CONTENT_ALERT, CONTENT_APPLICATION_DATA, CONTENT_HANDSHAKE,
};
use meshrtc_dtls::Fingerprint;
use serde_json::{json, Value};

use crate::capture::dtls13_keys::{Dtls13Direction, Opened13};
use crate::dtlsview::{application_data, extension_name, named, srtp_profile_name};

/// The name of a 1.3 handshake message type (RFC 8446 §4).
fn message_name(t: u8) -> String {
    match t {
        msg::CLIENT_HELLO => "ClientHello".into(),
        msg::SERVER_HELLO => "ServerHello".into(),
        4 => "NewSessionTicket".into(),
        msg::ENCRYPTED_EXTENSIONS => "EncryptedExtensions".into(),
        msg::CERTIFICATE => "Certificate".into(),
        msg::CERTIFICATE_REQUEST => "CertificateRequest".into(),
        msg::CERTIFICATE_VERIFY => "CertificateVerify".into(),
        msg::FINISHED => "Finished".into(),
        msg::KEY_UPDATE => "KeyUpdate".into(),
        t => format!("handshake type {t}"),
    }
}

/// The name of an alert description (RFC 8446 §6).
fn alert_name(d: u8) -> Option<&'static str> {
    Some(match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        80 => "internal_error",
        109 => "missing_extension",
        110 => "unsupported_extension",
        _ => return None,
    })
}

fn content_name(t: u8) -> String {
    match t {
        CONTENT_ALERT => "Alert".into(),
        CONTENT_HANDSHAKE => "Handshake".into(),
        CONTENT_APPLICATION_DATA => "ApplicationData".into(),
        CONTENT_ACK => "Ack".into(),
        t => format!("content type {t}"),
    }
}

/// One protected record: its header, then (with keys) what it carries or
/// a line saying it did not open. Returns the JSON.
pub fn protected(
    u: &UnifiedRecord<'_>,
    keys: Option<&mut Dtls13Direction>,
    s: &mut String,
) -> Value {
    let _ = writeln!(
        s,
        "  record DTLS 1.3 unified header {:#04x}: epoch bits {}, {}-bit encrypted sequence number, {} bytes",
        u.flags,
        u.epoch_bits(),
        8 * u.seq_len(),
        u.ciphertext.len()
    );
    let mut v = json!({
        "unified_header": u.flags, "epoch_bits": u.epoch_bits(), "length": u.ciphertext.len(),
    });
    let Some(keys) = keys else {
        let _ = writeln!(s, "    encrypted");
        return v;
    };
    match keys.open(u) {
        Err(e) => {
            let _ = writeln!(
                s,
                "    DTLS 1.3 DECRYPTION FAILED with the key log's keys: {e}"
            );
            v["decrypted"] = json!({"error": e.to_string()});
        }
        Ok(o) => v["decrypted"] = opened(&o, s),
    }
    v
}

/// What an opened record carries.
fn opened(o: &Opened13, s: &mut String) -> Value {
    let _ = writeln!(
        s,
        "    decrypted with the key log: epoch {} seq {}, {} {} bytes",
        o.epoch,
        o.sequence,
        content_name(o.content_type),
        o.content.len()
    );
    let mut v = json!({
        "epoch": o.epoch, "sequence": o.sequence, "content_type": o.content_type,
        "length": o.content.len(),
    });
    let c = &o.content;
    match o.content_type {
        CONTENT_HANDSHAKE => v["handshake"] = handshake(c, s),
        CONTENT_ACK => match parse_ack(c) {
            Ok(list) => {
                let shown: Vec<String> = list
                    .iter()
                    .map(|(e, q)| format!("epoch {e} seq {q}"))
                    .collect();
                let _ = writeln!(s, "      ACK of records  {}", shown.join(", "));
                v["ack"] = json!(list);
            }
            Err(e) => {
                let _ = writeln!(s, "      malformed ACK: {e}");
                v["ack"] = json!({"error": e.to_string()});
            }
        },
        CONTENT_ALERT if c.len() == 2 => {
            let level = if c[0] == 2 { "fatal" } else { "warning" };
            let _ = writeln!(
                s,
                "      alert {level} description {}{}",
                c[1],
                alert_name(c[1]).map_or_else(String::new, |n| format!(" ({n})"))
            );
            v["alert"] = json!({"level": c[0], "description": c[1]});
        }
        CONTENT_APPLICATION_DATA => application_data(c, s, &mut v),
        _ => {}
    }
    v
}

/// The handshake fragments of an opened record, whole messages shown.
fn handshake(content: &[u8], s: &mut String) -> Value {
    let mut msgs = Vec::new();
    for f in fragments(content) {
        let Ok(f) = f else {
            let _ = writeln!(s, "      malformed handshake fragment");
            msgs.push(json!({"error": "malformed handshake fragment"}));
            break;
        };
        let t = f.msg_type.as_u8();
        let _ = writeln!(
            s,
            "      {} message_seq {} bytes {}..{} of {}",
            message_name(t),
            f.message_seq,
            f.offset,
            f.offset + f.body.len(),
            f.length
        );
        let mut m = json!({"type": t, "name": message_name(t), "message_seq": f.message_seq});
        if f.is_whole() {
            message(t, f.body, s, &mut m);
        } else {
            let _ = writeln!(s, "        (a fragment: the rest is in another record)");
        }
        msgs.push(m);
    }
    json!(msgs)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A whole 1.3 handshake message's content (RFC 8446 §4.3–§4.6).
fn message(t: u8, body: &[u8], s: &mut String, m: &mut Value) {
    let mut bad = |s: &mut String, e: &dyn std::fmt::Display| {
        let _ = writeln!(s, "        malformed {}: {e}", message_name(t));
        m["error"] = json!(e.to_string());
    };
    match t {
        msg::ENCRYPTED_EXTENSIONS => match parse_encrypted_extensions(body) {
            Ok(exts) => {
                let ids: Vec<u16> = exts.iter().map(|&(t, _)| t).collect();
                let _ = writeln!(s, "        extensions      {}", named(&ids, extension_name));
                let srtp = exts
                    .iter()
                    .find(|(t, _)| *t == 14)
                    .and_then(|(_, d)| parse_use_srtp_answer(d).ok())
                    .map(|(p, _)| p);
                if let Some(p) = srtp {
                    let _ = writeln!(
                        s,
                        "        use_srtp        {}",
                        named(&[p], srtp_profile_name)
                    );
                }
                m["extensions"] = json!(ids);
                m["srtp_profile"] = json!(srtp);
            }
            Err(e) => bad(s, &e),
        },
        msg::CERTIFICATE => match parse_certificate(body) {
            Ok((_, Some(der))) => {
                let fp = Fingerprint::of_der(der).to_string();
                let _ = writeln!(
                    s,
                    "        certificate     {} bytes, sha-256 {fp}",
                    der.len()
                );
                m["sha256_fingerprint"] = json!(fp);
            }
            Ok((_, None)) => {
                let _ = writeln!(s, "        no certificate");
            }
            Err(e) => bad(s, &e),
        },
        msg::CERTIFICATE_REQUEST => match parse_certificate_request(body) {
            Ok((_, exts)) => {
                let ids: Vec<u16> = exts.iter().map(|&(t, _)| t).collect();
                let _ = writeln!(s, "        extensions      {}", named(&ids, extension_name));
                m["extensions"] = json!(ids);
            }
            Err(e) => bad(s, &e),
        },
        msg::CERTIFICATE_VERIFY => match parse_certificate_verify(body) {
            Ok((scheme, sig)) => {
                let _ = writeln!(
                    s,
                    "        signature       {scheme:#06x}, {} bytes",
                    sig.len()
                );
                m["scheme"] = json!(scheme);
                m["signature_length"] = json!(sig.len());
            }
            Err(e) => bad(s, &e),
        },
        msg::FINISHED => {
            let _ = writeln!(s, "        verify_data     {}", hex(body));
            m["verify_data"] = json!(hex(body));
        }
        msg::KEY_UPDATE => {
            let requested = body.first() == Some(&1);
            let _ = writeln!(s, "        update_requested {requested}");
            m["update_requested"] = json!(requested);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use meshrtc_dtls::v13::key_schedule::Schedule;
    use meshrtc_dtls::v13::record::{CipherSuite13, EpochKeys};

    use super::*;
    use crate::capture::dtls13_keys::{Dtls13Keys, Secrets13};
    use crate::dtlsview::{dtls, reassembler};

    const SUITE: CipherSuite13 = CipherSuite13::Aes128GcmSha256;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    /// Keys as a key log gives them: the client (port 1) and the server
    /// (port 2), each secret a different filler.
    fn keys() -> Dtls13Keys {
        Dtls13Keys {
            client: addr(1),
            server: addr(2),
            suite: SUITE,
            secrets: Arc::new(Secrets13 {
                client_handshake: Some(vec![1; 32]),
                server_handshake: Some(vec![2; 32]),
                client_application: Some(vec![3; 32]),
                server_application: Some(vec![4; 32]),
                exporter: Some(vec![5; 32]),
            }),
        }
    }

    /// A record sealed as the sender's record layer seals it.
    fn sealed(secret: u8, epoch: u64, seq: u64, content_type: u8, content: &[u8]) -> Vec<u8> {
        let k = Schedule::dtls13(SUITE.hash()).traffic_keys(&[secret; 32], SUITE.key_len());
        let mut out = Vec::new();
        EpochKeys::new(SUITE, &k).seal(epoch, seq, content_type, content, &mut out);
        out
    }

    fn finished() -> Vec<u8> {
        let mut m = vec![20, 0, 0, 32, 0, 4, 0, 0, 0, 0, 0, 32];
        m.extend(0x40..0x60);
        m
    }

    #[test]
    fn a_client_finished_and_an_ack_open_with_the_key_logs_secrets() {
        let mut dir = keys().for_packet(addr(1), addr(2)).unwrap();
        let mut dgram = sealed(1, 2, 0, CONTENT_HANDSHAKE, &finished());
        // An ACK of the server's epoch 2 records 0..=2 (RFC 9147 §7).
        let mut ack = vec![0, 48];
        for q in 0..3u64 {
            ack.extend(2u64.to_be_bytes());
            ack.extend(q.to_be_bytes());
        }
        dgram.extend(sealed(3, 3, 0, CONTENT_ACK, &ack));
        let (text, v, bad) = dtls(&dgram, &mut reassembler(), None, Some(&mut dir));
        assert!(!bad, "{text}");
        assert!(
            text.contains("decrypted with the key log: epoch 2 seq 0, Handshake 44 bytes"),
            "{text}"
        );
        assert!(
            text.contains("Finished message_seq 4 bytes 0..32 of 32"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "verify_data     {}",
                hex(&(0x40..0x60).collect::<Vec<u8>>())
            )),
            "{text}"
        );
        assert!(
            text.contains("ACK of records  epoch 2 seq 0, epoch 2 seq 1, epoch 2 seq 2"),
            "{text}"
        );
        assert_eq!(v[0]["decrypted"]["handshake"][0]["type"], 20);
        assert_eq!(v[1]["decrypted"]["ack"][2][1], 2);
        // Without keys: framed, said to be encrypted, not an error.
        let (text, _, bad) = dtls(&dgram, &mut reassembler(), None, None);
        assert!(!bad);
        assert_eq!(text.matches("    encrypted\n").count(), 2, "{text}");
    }

    #[test]
    fn the_sequence_number_is_reconstructed_past_the_encrypted_low_bits() {
        let mut dir = keys().for_packet(addr(2), addr(1)).unwrap();
        for q in [0u64, 1, 5] {
            let d = sealed(
                4,
                3,
                q,
                CONTENT_APPLICATION_DATA,
                &[0x13, 0x88, 0x13, 0x88, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 4],
            );
            let (text, v, _) = dtls(&d, &mut reassembler(), None, Some(&mut dir));
            assert_eq!(v[0]["decrypted"]["sequence"], q, "{text}");
            assert!(
                text.contains("ports 5000 -> 5000, verification tag 0x01020304, 4 bytes of chunks"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_tampered_record_prints_a_failure_line_and_the_next_still_opens() {
        let mut dir = keys().for_packet(addr(1), addr(2)).unwrap();
        let mut d = sealed(1, 2, 0, CONTENT_HANDSHAKE, &finished());
        let last = d.len() - 1;
        d[last] ^= 0x80;
        let (text, v, bad) = dtls(&d, &mut reassembler(), None, Some(&mut dir));
        assert!(!bad, "a record the keys refuse is shown, not malformed");
        assert!(
            text.contains(
                "DTLS 1.3 DECRYPTION FAILED with the key log's keys: epoch 2 sequence 0: record failed authentication"
            ),
            "{text}"
        );
        assert!(v[0]["decrypted"]["error"].is_string());
        // The other direction's secret does not open it either.
        let mut wrong = keys().for_packet(addr(2), addr(1)).unwrap();
        let good = sealed(1, 2, 1, CONTENT_HANDSHAKE, &finished());
        let (text, _, _) = dtls(&good, &mut reassembler(), None, Some(&mut wrong));
        assert!(text.contains("DECRYPTION FAILED"), "{text}");
        // The untouched next record opens with the right keys.
        let (text, _, _) = dtls(&good, &mut reassembler(), None, Some(&mut dir));
        assert!(text.contains("epoch 2 seq 1, Handshake"), "{text}");
        // A truncated unified header is malformed, not a panic.
        let (text, _, bad) = dtls(&good[..10], &mut reassembler(), None, Some(&mut dir));
        assert!(bad && text.contains("DTLS 1.3 record: truncated"), "{text}");
    }

    #[test]
    fn encrypted_extensions_name_the_srtp_profile_and_give_the_srtp_keys() {
        // EncryptedExtensions { use_srtp: SRTP_AEAD_AES_128_GCM, no MKI }.
        let exts = [0u8, 14, 0, 5, 0, 2, 0, 7, 0];
        let mut body = vec![0, exts.len() as u8];
        body.extend(exts);
        let mut m = vec![
            8,
            0,
            0,
            body.len() as u8,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            body.len() as u8,
        ];
        m.extend(&body);
        let d = sealed(2, 2, 0, CONTENT_HANDSHAKE, &m);
        let mut dir = keys().for_packet(addr(2), addr(1)).unwrap();
        let (text, _, _) = dtls(&d, &mut reassembler(), None, Some(&mut dir));
        assert!(text.contains("EncryptedExtensions message_seq 1"), "{text}");
        assert!(
            text.contains("use_srtp        SRTP_AEAD_AES_128_GCM"),
            "{text}"
        );

        let k = crate::capture::dtls13_keys::srtp_keys13(&keys(), [&d[..]]).unwrap();
        let material =
            Schedule::dtls13(SUITE.hash()).export(&[5; 32], b"EXTRACTOR-dtls_srtp", b"", 56);
        let (c, s) =
            meshrtc_srtp::split_keying_material(meshrtc_srtp::Profile::AeadAes128Gcm, &material)
                .unwrap();
        assert_eq!((k.local, k.remote), (addr(1), addr(2)));
        assert!(k.local_sends == c && k.remote_sends == s);
    }
}

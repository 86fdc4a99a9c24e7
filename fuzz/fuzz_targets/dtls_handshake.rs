//! Handshake fragments from fuzzed datagrams through the reassembler
//! (bounded memory), and every whole message read as a ClientHello: no
//! panic, and what comes out re-fragments and reassembles to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_dtls::handshake::HandshakeType as T;
use meshrtc_dtls::handshake::{fragments, Reassembler};
use meshrtc_dtls::hello::ClientHello;
use meshrtc_dtls::messages::{
    self as msg, Certificate, CertificateRequest, HelloVerifyRequest, ServerHello,
    ServerKeyExchange,
};
use meshrtc_dtls::record::{records, ContentType};

const LIMIT: usize = 1 << 14;
const WINDOW: u16 = 4;

fuzz_target!(|data: &[u8]| {
    let mut r = Reassembler::new(0, LIMIT, WINDOW);
    // The input is a sequence of datagrams, each preceded by its length
    // (u16, big-endian).
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let datagram = &rest[2..2 + n];
        rest = &rest[2 + n..];
        for rec in records(datagram) {
            let Ok(rec) = rec else { break };
            if rec.content_type != ContentType::Handshake {
                continue;
            }
            for f in fragments(rec.fragment) {
                let Ok(f) = f else { break };
                let _ = r.push(&f);
                assert!(r.buffered() <= LIMIT * usize::from(WINDOW));
            }
        }
        while let Some(m) = r.pop() {
            if let Ok(h) = ClientHello::parse(&m.body) {
                let _ = (h.supported_groups(), h.use_srtp(), h.supported_versions());
                let _ = h.cipher_suites().count();
            }
            // Every body a reader accepts is written back byte for byte.
            let mut w = Vec::new();
            let accepted = match m.msg_type {
                T::HelloVerifyRequest => HelloVerifyRequest::parse(&m.body)
                    .map(|x| x.write(&mut w))
                    .is_ok(),
                T::ServerHello => ServerHello::parse(&m.body).map(|x| x.write(&mut w)).is_ok(),
                T::Certificate => Certificate::parse(&m.body).map(|x| x.write(&mut w)).is_ok(),
                T::ServerKeyExchange => ServerKeyExchange::parse(&m.body)
                    .map(|x| x.write(&mut w))
                    .is_ok(),
                T::CertificateRequest => CertificateRequest::parse(&m.body)
                    .map(|x| x.write(&mut w))
                    .is_ok(),
                T::ClientKeyExchange => msg::parse_client_key_exchange(&m.body)
                    .map(|p| msg::write_client_key_exchange(&mut w, p))
                    .is_ok(),
                T::CertificateVerify => msg::parse_certificate_verify(&m.body)
                    .map(|(s, sig)| msg::write_certificate_verify(&mut w, s, sig))
                    .is_ok(),
                _ => false,
            };
            if accepted {
                assert_eq!(w, m.body, "{:?}", m.msg_type);
            }
            let mut again = Reassembler::new(m.message_seq, LIMIT, 1);
            for f in m.fragments(200) {
                for f in fragments(&f) {
                    again.push(&f.unwrap()).unwrap();
                }
            }
            assert_eq!(again.pop().as_ref(), Some(&m));
        }
    }
});

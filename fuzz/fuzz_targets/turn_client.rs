//! A TURN client driven by a byte script: raw datagrams, answers to its
//! requests in flight (right or wrong transaction id, signed with the right
//! key, a wrong one or none, any class, error code and attributes),
//! ChannelData and Data indications, sends, timeouts and close (a 300's
//! ALTERNATE-SERVER may come with an ALTERNATE-DOMAIN of script bytes). Never
//! panics; everything goes to the server; timers move forward.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use meshrtc_ice::stun::{
    AttrType, Attribute, Class, ErrorCode, Message, MessageBuilder, ShortTermKey,
};
use meshrtc_ice::turn::{long_term_key, TurnClient, TurnConfig, TurnState};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn byte(u: &mut Unstructured<'_>) -> Option<u8> {
    if u.is_empty() {
        return None;
    }
    u.arbitrary().ok()
}

/// The peer (or stranger) addresses the script picks from.
fn addr(b: u8) -> SocketAddr {
    match b % 4 {
        0 => "203.0.113.9:6000".parse().unwrap(),
        1 => "203.0.113.10:6001".parse().unwrap(),
        2 => "[2001:db8::9]:6000".parse().unwrap(),
        _ => "192.0.2.2:3478".parse().unwrap(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Unstructured::new(data);
    let t0 = Instant::now();
    let mut now = t0;
    let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let mut cfg = TurnConfig::new(server, "user", "pass");
    cfg.stream = byte(&mut input).is_some_and(|b| b & 1 == 1);
    let mut c = TurnClient::new(cfg, [3; 32]);
    let good = ShortTermKey::new(&long_term_key("user", "realm", "pass"));
    let bad = ShortTermKey::new(b"not the key");
    c.allocate(now);
    let mut last_request: Vec<u8> = Vec::new();
    while let Some(op) = byte(&mut input) {
        match op % 8 {
            0 => {
                let n = byte(&mut input).unwrap_or(0) as usize;
                let from = if byte(&mut input).is_some_and(|b| b & 1 == 0) {
                    c.server()
                } else {
                    addr(op)
                };
                let _ = c.handle_input(
                    now,
                    from,
                    input.bytes(n.min(input.len())).unwrap_or_default(),
                );
            }
            1 | 2 => {
                // An answer to the last request sent.
                let Ok(req) = Message::parse(&last_request) else {
                    continue;
                };
                let sel = byte(&mut input).unwrap_or(0);
                let class = if sel & 1 == 0 {
                    Class::Success
                } else {
                    Class::Error
                };
                let mut tid = req.transaction_id();
                if sel & 2 != 0 {
                    tid.0[0] ^= 1;
                }
                let mut out = Vec::new();
                let mut b = MessageBuilder::new(&mut out, class, req.method(), tid);
                let codes = [300u16, 400, 401, 403, 437, 438, 441, 486, 508];
                let code = codes[(sel as usize >> 2) % codes.len()];
                if class == Class::Error {
                    let _ = b.add(&Attribute::ErrorCode(ErrorCode { code, reason: "" }));
                }
                let attrs = byte(&mut input).unwrap_or(0);
                if attrs & 1 != 0 {
                    let _ = b.add(&Attribute::Realm("realm"));
                }
                if attrs & 2 != 0 {
                    let _ = b.add(&Attribute::Nonce(if attrs & 16 != 0 { "n1" } else { "n2" }));
                }
                if attrs & 4 != 0 {
                    let _ = b.add_xor_address(AttrType::XOR_RELAYED_ADDRESS, addr(attrs));
                    let _ = b.add(&Attribute::XorMappedAddress(addr(attrs >> 2)));
                }
                if attrs & 8 != 0 {
                    let _ = b.add(&Attribute::AlternateServer(addr(attrs >> 4)));
                    // An ALTERNATE-DOMAIN of script bytes (RFC 8489 §14.16).
                    let n = byte(&mut input).unwrap_or(0) as usize;
                    let domain = input.bytes(n.min(input.len())).unwrap_or_default();
                    if !domain.is_empty() {
                        let _ = b.add_raw(AttrType::ALTERNATE_DOMAIN, domain);
                    }
                }
                let lifetime = input.bytes(4.min(input.len())).unwrap_or_default();
                if lifetime.len() == 4 {
                    let _ = b.add_raw(AttrType::LIFETIME, lifetime);
                }
                match attrs >> 5 {
                    0 | 1 | 2 => {
                        let _ = b.add_message_integrity(&good);
                    }
                    3 => {
                        let _ = b.add_message_integrity(&bad);
                    }
                    _ => {}
                }
                let _ = b.add_fingerprint();
                let from = c.server();
                let _ = c.handle_input(now, from, &out);
            }
            3 => {
                let peer = addr(byte(&mut input).unwrap_or(0));
                let n = byte(&mut input).unwrap_or(0) as usize;
                let payload = input.bytes(n.min(input.len())).unwrap_or_default().to_vec();
                match c.send(now, peer, &payload) {
                    Ok(out) => assert!(!out.is_empty()),
                    Err(_) => assert_ne!(c.state(), TurnState::Allocated),
                }
            }
            4 => {
                let peer = addr(byte(&mut input).unwrap_or(0));
                c.create_permission(now, peer);
                c.bind_channel(now, peer);
            }
            5 => {
                let ms = u64::from(byte(&mut input).unwrap_or(0)) * 1000;
                now += Duration::from_millis(ms);
                c.handle_timeout(now);
            }
            6 => {
                if let Some(t) = c.poll_timeout() {
                    now = now.max(t);
                    c.handle_timeout(now);
                }
            }
            _ => c.close(now),
        }
        while let Some(t) = c.poll_transmit() {
            assert_eq!(t.dst, c.server());
            last_request = t.payload;
        }
        while c.poll_event().is_some() {}
        if c.relayed_address().is_some() {
            assert_eq!(c.state(), TurnState::Allocated);
        }
        // After handling its timeout, the next one lies ahead.
        let mut rounds = 0;
        while let Some(t) = c.poll_timeout().filter(|&t| t <= now) {
            c.handle_timeout(now);
            while let Some(x) = c.poll_transmit() {
                last_request = x.payload;
            }
            while c.poll_event().is_some() {}
            rounds += 1;
            assert!(rounds < 8, "timeout at {t:?} does not move past now");
        }
    }
});

//! An ICE agent driven by a byte script: raw datagrams, well-signed checks
//! and responses (so the fuzzer reaches deep states), timeouts, candidates,
//! credentials, restarts, local addresses removed and added again. Never
//! panics; invariants hold after every step.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_ice::stun::{
    Attribute, Class, ErrorCode, Message, MessageBuilder, Method, ShortTermKey, TransactionId,
};
use meshrtc_ice::{Candidate, CandidateKind, IceAgent, IceConfig, IceState};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const REMOTE_UFRAG: &str = "rmtU";
const REMOTE_PWD: &str = "remotepasswordremotepw";

struct Input<'a>(&'a [u8]);
impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

fn addr(b: u8) -> SocketAddr {
    match b % 5 {
        0 => "10.0.0.2:6000".parse().unwrap(),
        1 => "10.0.0.3:6001".parse().unwrap(),
        2 => "[2001:db8::2]:6000".parse().unwrap(),
        3 => "0.0.0.0:9".parse().unwrap(),
        _ => "10.0.0.2:0".parse().unwrap(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let t0 = Instant::now();
    let mut now = t0;
    let controlling = input.byte().is_some_and(|b| b & 1 == 1);
    let mut cfg = if controlling {
        IceConfig::controlling(7)
    } else {
        IceConfig::controlled(7)
    };
    cfg.stun_servers = vec!["192.0.2.1:3478".parse().unwrap()];
    let mut agent = IceAgent::new(cfg, now);
    let locals: [SocketAddr; 2] = [
        "10.0.0.1:5000".parse().unwrap(),
        "[2001:db8::1]:5000".parse().unwrap(),
    ];
    for l in locals {
        agent.add_local_host(l).unwrap();
    }
    let remote_key = ShortTermKey::new(REMOTE_PWD.as_bytes());
    let mut last_sent: Vec<(SocketAddr, SocketAddr, Vec<u8>)> = Vec::new();
    let mut steps = 0;

    while let Some(op) = input.byte() {
        steps += 1;
        if steps > 400 {
            break;
        }
        match op % 12 {
            0 => {
                let n = input.byte().unwrap_or(0) as usize;
                let sel = input.byte().unwrap_or(0);
                let d = input.bytes(n).to_vec();
                let _ = agent.handle_datagram(now, addr(sel), locals[sel as usize % 2], &d);
            }
            1 => {
                let step = input.byte().unwrap_or(0) as u64;
                now += Duration::from_millis(step * step);
            }
            2 => {
                let sel = input.byte().unwrap_or(0);
                let prio = u32::from(input.byte().unwrap_or(0)) << 24;
                let mut c = Candidate::new(CandidateKind::Host, addr(sel), 1);
                c.priority = prio | 1;
                let _ = agent.add_remote_candidate(now, c);
            }
            3 => {
                let good = input.byte().unwrap_or(0) % 4 != 0;
                let _ = if good {
                    agent.set_remote_credentials(now, REMOTE_UFRAG, REMOTE_PWD)
                } else {
                    agent.set_remote_credentials(now, "x", "short")
                };
            }
            4 => agent.restart(now),
            5 => agent.end_of_remote_candidates(now),
            6 => {
                // A correctly signed check from the peer.
                let flags = input.byte().unwrap_or(0);
                let sel = input.byte().unwrap_or(0);
                let tie = u64::from(input.byte().unwrap_or(0)) << 56;
                let mut buf = Vec::new();
                let tid = TransactionId([flags; 12]);
                let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, tid);
                let user = format!("{}:{REMOTE_UFRAG}", agent.local_ufrag());
                let _ = b.add(&Attribute::Username(&user));
                let _ = b.add(&Attribute::Priority(0x6e00_1eff));
                let _ = b.add(&if flags & 1 == 1 {
                    Attribute::IceControlling(tie)
                } else {
                    Attribute::IceControlled(tie)
                });
                if flags & 2 == 2 {
                    let _ = b.add(&Attribute::UseCandidate);
                }
                let _ = b.add_message_integrity(&ShortTermKey::new(agent.local_pwd().as_bytes()));
                let _ = b.add_fingerprint();
                let _ = agent.handle_datagram(now, addr(sel), locals[sel as usize % 2], &buf);
            }
            7 | 8 => {
                // A response to one of the agent's own requests.
                let Some((src, dst, req)) = last_sent.pop() else {
                    continue;
                };
                let Ok(m) = Message::parse(&req) else {
                    continue;
                };
                if m.class() != Class::Request {
                    continue;
                }
                let kind = input.byte().unwrap_or(0);
                let mut buf = Vec::new();
                let class = if kind % 3 == 0 {
                    Class::Error
                } else {
                    Class::Success
                };
                let mut b =
                    MessageBuilder::new(&mut buf, class, Method::BINDING, m.transaction_id());
                if class == Class::Error {
                    let code = if kind % 2 == 0 {
                        ErrorCode::ROLE_CONFLICT
                    } else {
                        400
                    };
                    let _ = b.add(&Attribute::ErrorCode(ErrorCode { code, reason: "" }));
                } else {
                    let _ = b.add(&Attribute::XorMappedAddress(src));
                }
                if kind & 4 == 0 {
                    let _ = b.add_message_integrity(&remote_key);
                }
                let _ = b.add_fingerprint();
                let from = if kind & 8 == 0 { dst } else { addr(kind) };
                let _ = agent.handle_datagram(now, from, src, &buf);
            }
            9 => agent.start_gathering(now),
            10 => {
                // An interface address goes (its candidates, pairs and
                // transactions leave, the rest renumbered) or comes back.
                let sel = input.byte().unwrap_or(0);
                let l = locals[usize::from(sel / 2) % 2];
                if sel % 2 == 0 {
                    agent.remove_local_address(l.ip());
                } else {
                    let _ = agent.add_local_host(l);
                }
            }
            _ => {
                // Run the timers that are due, checking that time moves.
                if let Some(t) = agent.poll_timeout() {
                    if t <= now {
                        agent.handle_timeout(now);
                        if let Some(t2) = agent.poll_timeout() {
                            assert!(t2 > now, "timer stuck at {:?}", now - t0);
                        }
                    }
                }
            }
        }
        while let Some(t) = agent.poll_transmit() {
            assert!(
                locals.contains(&t.src),
                "sent from {} which is no local address",
                t.src
            );
            last_sent.push((t.src, t.dst, t.payload));
            if last_sent.len() > 16 {
                last_sent.remove(0);
            }
        }
        while agent.poll_event().is_some() {}
        if matches!(agent.state(), IceState::Connected | IceState::Completed) {
            assert!(agent.selected_pair().is_some());
        }
    }
});

//! A TURN server's answers, crafted for the unit tests of the client and
//! of the agent's relays.

use crate::stun::{Attribute, Class, ErrorCode, Message, MessageBuilder, ShortTermKey};

/// The server's answer to `req`: `class`, the attributes `attrs` adds, and
/// MESSAGE-INTEGRITY under `key` if given.
pub(crate) fn answer(
    req: &[u8],
    class: Class,
    key: Option<&ShortTermKey>,
    attrs: impl FnOnce(&mut MessageBuilder<'_>),
) -> Vec<u8> {
    let m = Message::parse(req).unwrap();
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, class, m.method(), m.transaction_id());
    attrs(&mut b);
    if let Some(k) = key {
        b.add_message_integrity(k).unwrap();
    }
    b.add_fingerprint().unwrap();
    out
}

/// An error `code` with a REALM and a NONCE (a 401 challenge, a 438, a
/// 437).
pub(crate) fn error_in(
    code: u16,
    realm: &'static str,
    nonce: &'static str,
) -> impl FnOnce(&mut MessageBuilder<'_>) {
    move |b| {
        b.add(&Attribute::ErrorCode(ErrorCode {
            code,
            reason: ErrorCode::default_reason(code),
        }))
        .unwrap();
        b.add(&Attribute::Realm(realm)).unwrap();
        b.add(&Attribute::Nonce(nonce)).unwrap();
    }
}

//! STUN on the hot path allocates nothing.

use meshrtc_ice::stun::{Class, Message, MessageBuilder, Method, ShortTermKey, TransactionId};
use meshrtc_integration::{alloc::measure, fixtures_dir};

fn fixture(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(fixtures_dir().join("chromium-156").join(name)).unwrap();
    hex::decode(text.trim()).unwrap()
}

#[test]
fn parsing_and_verifying_a_chromium_request_allocates_nothing() {
    let bytes = fixture("chromium_stun_binding_request.hex");
    let key = ShortTermKey::new(b"dPR+zd3QMw7rwvBB3GOuedwM");
    let (user, usage) = measure(|| {
        let m = Message::parse(&bytes).unwrap();
        m.verify_integrity(&key).unwrap();
        m.verify_fingerprint().unwrap();
        for raw in m.attributes() {
            raw.decode(&m.transaction_id()).unwrap();
        }
        m.username().unwrap().map(str::len)
    });
    assert_eq!(user, Some(9));
    assert_eq!(usage.allocations, 0, "{usage:?}");
}

#[test]
fn the_counter_sees_allocations() {
    // The allocation-free claim above is only worth something if the counter
    // works in this binary.
    let (_, usage) = measure(|| std::hint::black_box(vec![0u8; 100]));
    assert_eq!(usage.allocations, 1);
}

#[test]
fn writing_into_a_reused_buffer_allocates_nothing() {
    let key = ShortTermKey::new(b"pwd");
    let mut buf = Vec::with_capacity(1500);
    let (len, usage) = measure(|| {
        buf.clear();
        let mut b = MessageBuilder::new(
            &mut buf,
            Class::Request,
            Method::BINDING,
            TransactionId([1; 12]),
        );
        b.add(&meshrtc_ice::stun::Attribute::Username("a:b"))
            .unwrap();
        b.add(&meshrtc_ice::stun::Attribute::Priority(1)).unwrap();
        b.add_message_integrity(&key).unwrap();
        b.add_fingerprint().unwrap();
        b.len()
    });
    assert_eq!(len, 20 + 8 + 8 + 24 + 8);
    assert_eq!(usage.allocations, 0);
}

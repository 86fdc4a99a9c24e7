//! parse → write → parse gives the same message: same header, same
//! attributes (decoded where they decode, raw where they do not).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_ice::stun::{Message, MessageBuilder};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::parse(data) else { return };
    let tid = m.transaction_id();
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, m.class(), m.method(), tid);
    for raw in m.attributes() {
        match raw.decode(&tid) {
            Ok(a) => b.add(&a),
            Err(_) => b.add_raw(raw.attr, raw.value),
        }
        .expect("every attribute of a parsed message can be written back");
    }
    let m2 = Message::parse(&out).expect("our own output parses");
    assert_eq!(
        (m.class(), m.method(), m.transaction_id()),
        (m2.class(), m2.method(), tid)
    );
    let a: Vec<_> = m.attributes().map(|r| (r.attr, r.decode(&tid))).collect();
    let b: Vec<_> = m2.attributes().map(|r| (r.attr, r.decode(&tid))).collect();
    assert_eq!(a, b);
    assert_eq!(
        m.unknown_required().collect::<Vec<_>>(),
        m2.unknown_required().collect::<Vec<_>>()
    );
});

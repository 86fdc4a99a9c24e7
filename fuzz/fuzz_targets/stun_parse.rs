//! STUN parsing never panics, whatever the bytes; every accessor and both
//! integrity checks are exercised on whatever parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_ice::stun::{Message, ShortTermKey};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::parse(data) else { return };
    let tid = m.transaction_id();
    for raw in m.all_attributes() {
        let _ = raw.decode(&tid);
        let _ = m.is_ignored(&raw);
    }
    let _ = m.username();
    let _ = m.priority();
    let _ = m.ice_controlling();
    let _ = m.ice_controlled();
    let _ = m.use_candidate();
    let _ = m.mapped_address();
    let _ = m.error_code();
    let _ = m.unknown_required().count();
    let key = ShortTermKey::new(b"fuzz-password-0123456789");
    let _ = m.verify_integrity(&key);
    let _ = m.verify_integrity_sha256(&key);
    let _ = m.verify_fingerprint();
    let _ = format!("{m:?}");
});

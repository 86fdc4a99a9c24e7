//! parse → write → parse is the identity on the model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(d) = SessionDescription::parse(text) else {
        return;
    };
    let written = d.to_string();
    let again = SessionDescription::parse(&written)
        .unwrap_or_else(|e| panic!("our own output does not parse: {e}\n{written}"));
    assert_eq!(again, d);
});

//! SDP parsing never panics, and every accessor works on whatever parses.
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
    let _ = d.bundle();
    for m in &d.media {
        let _ = (
            m.mid(),
            m.direction(),
            m.setup(),
            m.ice_credentials(),
            m.rtcp_mux(),
        );
    }
    let _ = d.to_string();
});

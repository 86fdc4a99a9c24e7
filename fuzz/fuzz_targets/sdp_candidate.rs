//! The ICE candidate attribute: parsing never panics, and whatever parses
//! writes back to text that parses to the same candidate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_sdp::CandidateAttr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = CandidateAttr::parse(text) else {
        return;
    };
    let written = c.to_string();
    let again = CandidateAttr::parse(&written).expect("our own output parses");
    assert_eq!(again, c);
});

//! Record framing: every record of a fuzzed datagram re-written by our
//! writer gives the same bytes back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_dtls::record::{records, write_record};

fuzz_target!(|data: &[u8]| {
    let mut consumed = 0;
    for r in records(data) {
        let Ok(r) = r else { break };
        let mut out = Vec::new();
        write_record(
            &mut out,
            r.content_type,
            r.version,
            r.epoch,
            r.sequence,
            r.fragment,
        );
        assert_eq!(&out[..], &data[consumed..consumed + out.len()]);
        consumed += out.len();
    }
});

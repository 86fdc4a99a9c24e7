//! `meshrtc timeline` reads `--trace` files someone hands it: the
//! JSON-lines reader never panics, skips each bad line with its number,
//! and every record it reads writes back to a line that reads back to the
//! same record.
//!
//! The apps crate is a binary, so its trace module is compiled in here
//! from its file.
#![no_main]
#![allow(dead_code)]

#[path = "../../apps/src/timeline/trace.rs"]
mod trace;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (records, errors) = trace::parse(&text);
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(records.len() + errors.len(), lines);
    for r in records {
        let line = r.to_line();
        assert!(!line.contains('\n'));
        assert_eq!(trace::TraceRecord::parse_line(&line, 1), Ok(r));
    }
});

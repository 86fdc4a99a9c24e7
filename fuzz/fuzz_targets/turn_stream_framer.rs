//! The stream framer of TURN over TCP/TLS (RFC 8656 §12.5) never panics,
//! and reads the same messages whatever the read sizes: the input is cut
//! into reads by a schedule drawn from its first bytes, and what comes out
//! must equal what one read of everything gives. Every message is whole
//! (STUN: 20 + length; ChannelData: 4 + length, its padding dropped), and
//! the messages are the stream's bytes in order, padding aside.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_ice::turn::StreamFramer;

/// Every frame until the framer needs more bytes or breaks (`true`).
fn drain(f: &mut StreamFramer, out: &mut Vec<Vec<u8>>) -> bool {
    loop {
        match f.next_frame() {
            Ok(Some(frame)) => out.push(frame),
            Ok(None) => return false,
            Err(_) => return true,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&schedule_len, rest)) = data.split_first() else {
        return;
    };
    let cut = (schedule_len as usize % 8).min(rest.len());
    let (schedule, stream) = rest.split_at(cut);

    let mut whole = StreamFramer::new();
    whole.push(stream);
    let mut expected = Vec::new();
    let whole_broke = drain(&mut whole, &mut expected);

    let mut chunked = StreamFramer::new();
    let mut got = Vec::new();
    let mut broke = false;
    let mut at = 0;
    let mut i = 0;
    while at < stream.len() && !broke {
        let n = schedule
            .get(i % schedule.len().max(1))
            .map_or(1, |&b| b as usize % 97 + 1);
        let end = (at + n).min(stream.len());
        chunked.push(&stream[at..end]);
        at = end;
        i += 1;
        broke = drain(&mut chunked, &mut got);
    }
    assert_eq!(got, expected);
    assert_eq!(broke, whole_broke);

    // The frames are the stream's first bytes, each ChannelData message's
    // padding (to four bytes from its own start) skipped, whatever it
    // holds.
    let mut pos = 0;
    for frame in &expected {
        let len = u16::from_be_bytes([frame[2], frame[3]]) as usize;
        let on_stream = match frame[0] {
            0..=3 => {
                assert_eq!(frame.len(), 20 + len);
                frame.len()
            }
            64..=79 => {
                assert_eq!(frame.len(), 4 + len);
                frame.len().next_multiple_of(4)
            }
            b => panic!("a frame starting with {b}"),
        };
        assert_eq!(&stream[pos..pos + frame.len()], &frame[..]);
        pos += on_stream;
        assert!(pos <= stream.len());
    }
});

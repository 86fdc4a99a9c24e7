//! ChannelData parsing and stream framing (RFC 8656 §12.4, §12.5) never
//! panic; what parses re-emits to the same bytes (less padding), and the
//! stream framer yields only whole STUN or ChannelData messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_ice::turn::{emit_channel_data, ChannelData, StreamFramer};

fuzz_target!(|data: &[u8]| {
    if let Ok(cd) = ChannelData::parse(data) {
        assert!((64..=79).contains(&data[0]));
        let mut out = Vec::new();
        emit_channel_data(&mut out, cd.channel(), cd.data(), false).unwrap();
        assert_eq!(out, data[..4 + cd.data().len()]);
        let mut padded = Vec::new();
        emit_channel_data(&mut padded, cd.channel(), cd.data(), true).unwrap();
        assert_eq!(padded.len() % 4, 0);
        assert_eq!(ChannelData::parse(&padded), Ok(cd));
    }
    // The same bytes as a stream, in chunks whose sizes come from the data.
    let mut f = StreamFramer::new();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let n = (n as usize % 64).min(tail.len());
        f.push(&tail[..n]);
        rest = &tail[n..];
        loop {
            match f.next_frame() {
                Ok(Some(frame)) => match frame[0] {
                    0..=3 => assert_eq!(
                        frame.len(),
                        20 + u16::from_be_bytes([frame[2], frame[3]]) as usize
                    ),
                    64..=79 => assert_eq!(
                        frame.len(),
                        4 + u16::from_be_bytes([frame[2], frame[3]]) as usize
                    ),
                    b => panic!("frame starting with {b}"),
                },
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});

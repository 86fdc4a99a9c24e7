//! The VP8 decoder (libvpx behind `meshrtc_media::vp8::Vp8Decoder`) fed a
//! stream of hostile frames under a fuzzed size limit: never a panic or a
//! crash; a key frame over the limit is refused (`PictureTooLarge`) before
//! libvpx sees it; a picture that comes out is within the limit and has
//! planes of the right lengths; the counters add up.
//!
//! Input: `[max_w][max_h]` (the limit is `16 + 4 * byte` on each side, so
//! libvpx never allocates more than about 1036x1036), then frames
//! `[len: u16 BE][bytes]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshrtc_media::vp8::{parse_frame_header, Vp8Decoder};
use meshrtc_media::MediaError;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max_w = 16 + 4 * u32::from(data[0]);
    let max_h = 16 + 4 * u32::from(data[1]);
    let Ok(mut dec) = Vp8Decoder::with_max_size(max_w, max_h) else {
        return;
    };
    let mut rest = &data[2..];
    let (mut frames, mut errors, mut refused) = (0u64, 0u64, 0u64);
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let frame = &rest[2..2 + len];
        rest = &rest[2 + len..];
        let header = parse_frame_header(frame);
        let over = matches!(&header, Ok(Some(h)) if h.width > max_w || h.height > max_h);
        match dec.decode(frame) {
            Ok(pic) => {
                assert!(!over, "over-size key frame decoded");
                assert!(header.is_ok(), "bad header decoded: {header:?}");
                if let Some(pic) = pic {
                    assert!(pic.width <= max_w && pic.height <= max_h);
                    assert!(pic.check_planes().is_ok());
                    frames += 1;
                }
            }
            Err(e) => {
                errors += 1;
                if over {
                    assert!(matches!(e, MediaError::PictureTooLarge { .. }), "{e:?}");
                    refused += 1;
                }
            }
        }
        assert_eq!(dec.frames_decoded, frames);
        assert_eq!(dec.decode_errors, errors);
        assert_eq!(dec.frames_too_large, refused);
    }
});

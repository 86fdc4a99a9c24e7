//! YUV4MPEG2 input: written here byte by byte, read by the crate.

use std::io::Cursor;

use meshrtc_media::vp8::I420Frame;
use meshrtc_media::y4m::{Y4mError, Y4mReader};

/// A picture whose every byte says where it is: plane, frame and position.
fn picture(w: u32, h: u32, n: u8) -> I420Frame {
    let mut f = I420Frame::new_black(w, h);
    for (i, p) in f.y.iter_mut().enumerate() {
        *p = (i as u8).wrapping_mul(3).wrapping_add(n);
    }
    for (i, p) in f.u.iter_mut().enumerate() {
        *p = (i as u8).wrapping_add(n).wrapping_add(100);
    }
    for (i, p) in f.v.iter_mut().enumerate() {
        *p = 255 - (i as u8).wrapping_add(n);
    }
    f
}

/// A y4m file as a writer following the format would make it.
fn y4m(header: &str, frames: &[I420Frame]) -> Vec<u8> {
    y4m_with(header, frames, "FRAME")
}

/// The same with `frame_line` (a `FRAME` line may carry fields) before
/// every picture.
fn y4m_with(header: &str, frames: &[I420Frame], frame_line: &str) -> Vec<u8> {
    let mut out = format!("{header}\n").into_bytes();
    for f in frames {
        out.extend_from_slice(frame_line.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(&f.y);
        out.extend_from_slice(&f.u);
        out.extend_from_slice(&f.v);
    }
    out
}

/// Whether an error is the one a case expects.
type IsExpected = fn(&Y4mError) -> bool;

fn read_all(bytes: &[u8]) -> Result<Vec<I420Frame>, Y4mError> {
    let mut r = Y4mReader::new(Cursor::new(bytes))?;
    let mut v = Vec::new();
    while let Some(f) = r.next_frame()? {
        v.push(f);
    }
    Ok(v)
}

#[test]
fn y4m_pictures_round_trip_in_every_420_flavour() {
    let frames: Vec<I420Frame> = (0..5).map(|n| picture(64, 48, n)).collect();
    for (c, frame_line) in [
        ("", "FRAME"),
        (" C420jpeg", "FRAME Ip XFOO=1"),
        (" C420", "FRAME"),
        (" C420mpeg2", "FRAME"),
        (" C420paldv", "FRAME"),
    ] {
        let file = y4m_with(
            &format!("YUV4MPEG2 W64 H48 F30:1 Ip A1:1{c}"),
            &frames,
            frame_line,
        );
        let mut r = Y4mReader::new(Cursor::new(&file)).unwrap();
        assert_eq!((r.header().width, r.header().height), (64, 48));
        assert_eq!((r.header().fps_num, r.header().fps_den), (30, 1));
        for want in &frames {
            assert_eq!(r.next_frame().unwrap().as_ref(), Some(want), "{c}");
        }
        assert_eq!(r.next_frame().unwrap(), None);
        assert_eq!(r.frames_read(), 5);
        assert_eq!(
            Y4mReader::new(Cursor::new(&file))
                .unwrap()
                .count_frames()
                .unwrap(),
            5
        );
    }
}

#[test]
fn y4m_odd_sizes_round_their_chroma_up() {
    let frames: Vec<I420Frame> = (0..3).map(|n| picture(65, 49, n)).collect();
    let file = y4m("YUV4MPEG2 W65 H49 F25:1", &frames);
    // 65x49 luma, two 33x25 chroma planes, a FRAME line each.
    assert_eq!(file.len(), 24 + 3 * (6 + 65 * 49 + 2 * 33 * 25));
    assert_eq!(read_all(&file).unwrap(), frames);
}

#[test]
fn y4m_malformed_headers_are_named_errors() {
    let frame = [picture(64, 48, 0)];
    let cases: &[(&str, IsExpected)] = &[
        ("DKIF W64 H48 F30:1", |e| matches!(e, Y4mError::BadMagic)),
        ("YUV4MPEG W64 H48 F30:1", |e| {
            matches!(e, Y4mError::BadMagic)
        }),
        ("YUV4MPEG2X W64 H48 F30:1", |e| {
            matches!(e, Y4mError::BadMagic)
        }),
        ("YUV4MPEG2 H48 F30:1", |e| {
            matches!(e, Y4mError::MissingField { field: 'W' })
        }),
        ("YUV4MPEG2 W64 F30:1", |e| {
            matches!(e, Y4mError::MissingField { field: 'H' })
        }),
        ("YUV4MPEG2 W64 H48", |e| {
            matches!(e, Y4mError::MissingField { field: 'F' })
        }),
        ("YUV4MPEG2 W0 H48 F30:1", |e| {
            matches!(e, Y4mError::BadField { field: 'W', .. })
        }),
        ("YUV4MPEG2 W-64 H48 F30:1", |e| {
            matches!(e, Y4mError::BadField { field: 'W', .. })
        }),
        ("YUV4MPEG2 W64 H99999999999 F30:1", |e| {
            matches!(e, Y4mError::BadField { field: 'H', .. })
        }),
        ("YUV4MPEG2 W64 H20000 F30:1", |e| {
            matches!(e, Y4mError::BadField { field: 'H', .. })
        }),
        ("YUV4MPEG2 W64 H48 F30", |e| {
            matches!(e, Y4mError::BadField { field: 'F', .. })
        }),
        ("YUV4MPEG2 W64 H48 F30:0", |e| {
            matches!(e, Y4mError::BadField { field: 'F', .. })
        }),
        (
            "YUV4MPEG2 W64 H48 F30:1 C422",
            |e| matches!(e, Y4mError::UnsupportedChroma(c) if c == "422"),
        ),
        ("YUV4MPEG2 W64 H48 F30:1 C444", |e| {
            matches!(e, Y4mError::UnsupportedChroma(_))
        }),
        ("YUV4MPEG2 W64 H48 F30:1 C420p10", |e| {
            matches!(e, Y4mError::UnsupportedChroma(_))
        }),
        ("YUV4MPEG2 W64 H48 F30:1 Cmono", |e| {
            matches!(e, Y4mError::UnsupportedChroma(_))
        }),
    ];
    for (header, want) in cases {
        let err = read_all(&y4m(header, &frame)).unwrap_err();
        assert!(want(&err), "{header}: {err:?}");
        // The message names the problem for the person who gave the file.
        assert!(!err.to_string().is_empty());
    }
    assert!(matches!(read_all(b""), Err(Y4mError::BadMagic)));
    // A header that never ends, and one cut off at the end of the file.
    let mut endless = b"YUV4MPEG2 W64 H48 F30:1 X".to_vec();
    endless.resize(10_000, b'a');
    assert!(matches!(
        read_all(&endless),
        Err(Y4mError::UnterminatedLine { what: "header" })
    ));
    assert!(matches!(
        read_all(b"YUV4MPEG2 W64 H48 F30:1"),
        Err(Y4mError::UnterminatedLine { what: "header" })
    ));
}

#[test]
fn y4m_missing_frame_markers_and_truncated_pictures_are_errors() {
    let frames: Vec<I420Frame> = (0..3).map(|n| picture(64, 48, n)).collect();
    let good = y4m("YUV4MPEG2 W64 H48 F30:1", &frames);
    let header_len = 24;
    let picture_len = 6 + 64 * 48 * 3 / 2;

    // The second picture's marker misspelt.
    let mut bad = good.clone();
    bad[header_len + picture_len..header_len + picture_len + 5].copy_from_slice(b"FRAMX");
    let mut r = Y4mReader::new(Cursor::new(&bad)).unwrap();
    assert!(r.next_frame().unwrap().is_some());
    assert!(matches!(
        r.next_frame(),
        Err(Y4mError::MissingFrameMarker { index: 1 })
    ));

    // Planes with no FRAME line in front (a raw .yuv with a y4m header).
    let mut raw = b"YUV4MPEG2 W64 H48 F30:1\n".to_vec();
    raw.extend_from_slice(&frames[0].y);
    assert!(matches!(
        read_all(&raw),
        Err(Y4mError::MissingFrameMarker { index: 0 } | Y4mError::UnterminatedLine { .. })
    ));

    // Cut inside the last picture, at every kind of place.
    for cut in [1, 6, 100, 64 * 48, picture_len - 1] {
        let short = &good[..header_len + 2 * picture_len + cut];
        let err = read_all(short).unwrap_err();
        match err {
            Y4mError::TruncatedFrame { index, needed, got } => {
                assert_eq!((index, needed), (2, 64 * 48 * 3 / 2));
                assert_eq!(got, cut.saturating_sub(6));
            }
            Y4mError::UnterminatedLine { what: "FRAME" } => assert!(cut < 6),
            e => panic!("cut {cut}: {e:?}"),
        }
        let counted = Y4mReader::new(Cursor::new(short)).unwrap().count_frames();
        assert!(counted.is_err(), "cut {cut}");
    }
}

/// Random bytes after a valid header, and random headers: errors, never a
/// panic.
#[test]
fn y4m_garbage_never_panics() {
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..300 {
        let len = (rand() % 400) as usize;
        let mut bytes = b"YUV4MPEG2 W8 H6 F30:1\n".to_vec();
        if rand() % 2 == 0 {
            bytes.truncate((rand() % 22) as usize);
        }
        bytes.extend((0..len).map(|_| {
            let b = rand() as u8;
            // Bias towards the format's own characters.
            match b % 4 {
                0 => b"FRAME WHFC:0123456789\n "[(b as usize / 4) % 23],
                _ => b,
            }
        }));
        let _ = read_all(&bytes);
    }
}

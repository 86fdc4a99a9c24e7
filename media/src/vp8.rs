//! VP8 (RFC 6386) encode and decode on the system libvpx.
//!
//! The bindings come from `vpx-sys`, which runs bindgen against the installed
//! libvpx headers at build time, so struct layouts and ABI version numbers
//! match the library that is linked. This module holds all of the crate's
//! `unsafe`; each block says why it is sound.
//!
//! The encoder is set up the way real-time callers use libvpx: one pass, CBR,
//! `g_lag_in_frames = 0` (one frame in, one frame out), error resilient mode,
//! the real-time deadline, one token partition, and no frame dropping (so the
//! frame numbers a receiver sees are exactly those sent).

use std::ffi::CStr;
use std::os::raw::{c_int, c_long, c_uint, c_ulong};
use std::ptr;

use vpx_sys as ffi;

use crate::MediaError;

/// A picture in I420 (YUV 4:2:0, 8 bits), planes tightly packed.
///
/// The luma plane has stride `width`, the two chroma planes stride
/// `(width + 1) / 2` and `(height + 1) / 2` rows. Values are video range
/// (BT.601: luma 16..=235).
#[derive(Clone, PartialEq, Eq)]
pub struct I420Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Luma, `width * height` bytes.
    pub y: Vec<u8>,
    /// Cb, `chroma_width() * chroma_height()` bytes.
    pub u: Vec<u8>,
    /// Cr, `chroma_width() * chroma_height()` bytes.
    pub v: Vec<u8>,
}

impl std::fmt::Debug for I420Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The planes are kilobytes of pixels: show the shape only.
        f.debug_struct("I420Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

/// Box-filters a `w` x `h` plane into `out` (`w2` x `h2`, about half):
/// each output pixel averages the 2x2 source pixels under it, clamped to
/// the source's edge.
fn halve_plane(src: &[u8], w: u32, h: u32, out: &mut [u8], w2: u32, h2: u32) {
    let (w, h) = (w as usize, h as usize);
    for y in 0..h2 as usize {
        let (y0, y1) = ((2 * y).min(h - 1), (2 * y + 1).min(h - 1));
        for x in 0..w2 as usize {
            let (x0, x1) = ((2 * x).min(w - 1), (2 * x + 1).min(w - 1));
            let sum = u32::from(src[y0 * w + x0])
                + u32::from(src[y0 * w + x1])
                + u32::from(src[y1 * w + x0])
                + u32::from(src[y1 * w + x1]);
            out[y * w2 as usize + x] = ((sum + 2) / 4) as u8;
        }
    }
}

impl I420Frame {
    /// A black frame (luma 16, neutral chroma).
    pub fn new_black(width: u32, height: u32) -> Self {
        let (w, h) = (width as usize, height as usize);
        let c = chroma_len(width, height);
        I420Frame {
            width,
            height,
            y: vec![16; w * h],
            u: vec![128; c],
            v: vec![128; c],
        }
    }

    /// The picture at half the width and height (rounded down, at least
    /// 1), each pixel the average of the 2x2 pixels it replaces (a simple
    /// box filter, enough for a simulcast layer). `None` if the planes do
    /// not match the dimensions or a side is under 2 pixels.
    pub fn half_size(&self) -> Option<I420Frame> {
        self.check_planes().ok()?;
        if self.width < 2 || self.height < 2 {
            return None;
        }
        let (w2, h2) = ((self.width / 2).max(1), (self.height / 2).max(1));
        let mut out = I420Frame::new_black(w2, h2);
        halve_plane(&self.y, self.width, self.height, &mut out.y, w2, h2);
        let (cw, ch) = (self.chroma_width(), self.chroma_height());
        let (cw2, ch2) = (out.chroma_width(), out.chroma_height());
        halve_plane(&self.u, cw, ch, &mut out.u, cw2, ch2);
        halve_plane(&self.v, cw, ch, &mut out.v, cw2, ch2);
        Some(out)
    }

    /// Width of the chroma planes.
    pub fn chroma_width(&self) -> u32 {
        self.width.div_ceil(2)
    }

    /// Height of the chroma planes.
    pub fn chroma_height(&self) -> u32 {
        self.height.div_ceil(2)
    }

    /// Checks that the planes have the lengths the dimensions call for.
    pub fn check_planes(&self) -> Result<(), MediaError> {
        let c = chroma_len(self.width, self.height);
        if self.y.len() != self.width as usize * self.height as usize
            || self.u.len() != c
            || self.v.len() != c
        {
            return Err(MediaError::BadPlanes {
                width: self.width,
                height: self.height,
            });
        }
        Ok(())
    }
}

fn chroma_len(width: u32, height: u32) -> usize {
    width.div_ceil(2) as usize * height.div_ceil(2) as usize
}

/// One compressed frame, as it goes into RTP packetization.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The VP8 frame (or fake-codec frame) bytes.
    pub data: Vec<u8>,
    /// Whether this is a key frame (decodable without any earlier frame).
    pub keyframe: bool,
    /// The presentation timestamp given to the encoder.
    pub pts: u64,
}

impl std::fmt::Debug for EncodedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedFrame")
            .field("len", &self.data.len())
            .field("keyframe", &self.keyframe)
            .field("pts", &self.pts)
            .finish()
    }
}

/// Settings for [`Vp8Encoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8EncoderConfig {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Nominal frame rate; rate control assumes this many frames a second.
    pub fps: u32,
    /// Target bitrate in bits per second.
    pub bitrate_bps: u32,
    /// Automatic key frame at least every this many frames; `None` means key
    /// frames only when forced (the usual WebRTC setting: a receiver asks for
    /// one with PLI/FIR).
    pub keyframe_interval: Option<u32>,
    /// Encoder threads (1 is right for 320x240 on a small machine).
    pub threads: u32,
    /// libvpx `VP8E_SET_CPUUSED`: -16..=16; larger magnitude is faster and
    /// worse. Negative values make the speed adapt to the deadline.
    pub cpu_used: i32,
}

impl Vp8EncoderConfig {
    /// Defaults for a real-time call on a 2-core machine: no automatic key
    /// frames, one thread, `cpu_used` -8.
    pub fn new(width: u32, height: u32, fps: u32, bitrate_bps: u32) -> Self {
        Vp8EncoderConfig {
            width,
            height,
            fps,
            bitrate_bps,
            keyframe_interval: None,
            threads: 1,
            cpu_used: -8,
        }
    }
}

/// Microseconds: `pts` values given to [`Vp8Encoder::encode`] are in this
/// timebase.
const TIMEBASE_DEN: c_int = 1_000_000;

/// libvpx's name for an error code.
fn err_string(err: ffi::vpx_codec_err_t) -> String {
    // SAFETY: `vpx_codec_err_to_string` returns a pointer to a static,
    // NUL-terminated string for every error code.
    #[allow(unsafe_code)]
    let s = unsafe { CStr::from_ptr(ffi::vpx_codec_err_to_string(err)) };
    s.to_string_lossy().into_owned()
}

/// The last error libvpx recorded on a live (initialised) context, as text.
fn ctx_error(ctx: &mut ffi::vpx_codec_ctx_t, err: ffi::vpx_codec_err_t) -> String {
    let base = err_string(err);
    // SAFETY: `ctx` is an initialised context (callers never pass one whose
    // init failed: libvpx has freed its private data then); the detail is
    // null or a NUL-terminated string owned by the context, copied before
    // `ctx` is used again.
    #[allow(unsafe_code)]
    let detail = unsafe {
        let p = ffi::vpx_codec_error_detail(ctx);
        if p.is_null() {
            None
        } else {
            Some(CStr::from_ptr(p).to_string_lossy().into_owned())
        }
    };
    match detail {
        Some(d) => format!("{base}: {d}"),
        None => base,
    }
}

fn zeroed_ctx() -> Box<ffi::vpx_codec_ctx_t> {
    // SAFETY: `vpx_codec_ctx_t` is plain C data (pointers, integers, a union
    // of pointers, and an error enum whose value 0 is `VPX_CODEC_OK`); the
    // all-zero pattern is valid for each field, and it is what libvpx's own
    // examples start from before `*_init_ver`.
    #[allow(unsafe_code)]
    Box::new(unsafe { std::mem::zeroed() })
}

/// A real-time VP8 encoder.
pub struct Vp8Encoder {
    // Boxed: libvpx keeps no pointer to the context itself, but the
    // configuration pointer it is given and the context must not move while
    // the library holds them, so both live on the heap.
    ctx: Box<ffi::vpx_codec_ctx_t>,
    cfg: Box<ffi::vpx_codec_enc_cfg_t>,
    config: Vp8EncoderConfig,
    frames_encoded: u64,
}

// SAFETY: a libvpx encoder context has no thread affinity (no thread-local
// state); it only must not be used from two threads at once, which `&mut self`
// on every method guarantees.
#[allow(unsafe_code)]
unsafe impl Send for Vp8Encoder {}

impl std::fmt::Debug for Vp8Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vp8Encoder")
            .field("config", &self.config)
            .field("frames_encoded", &self.frames_encoded)
            .finish_non_exhaustive()
    }
}

impl Vp8Encoder {
    /// Creates an encoder.
    pub fn new(config: Vp8EncoderConfig) -> Result<Self, MediaError> {
        if config.width == 0 || config.height == 0 || config.width > 16383 || config.height > 16383
        {
            return Err(MediaError::InvalidConfig(
                "VP8 dimensions must be 1..=16383",
            ));
        }
        if config.fps == 0 {
            return Err(MediaError::InvalidConfig("fps must be positive"));
        }
        if !(-16..=16).contains(&config.cpu_used) {
            return Err(MediaError::InvalidConfig("cpu_used must be in -16..=16"));
        }
        let mut cfg = Box::new(std::mem::MaybeUninit::<ffi::vpx_codec_enc_cfg_t>::uninit());
        // SAFETY: `vpx_codec_vp8_cx` returns a static interface; `cfg` points
        // to writable memory of the size the header declares, which the call
        // only writes (a whole-struct copy of the built-in defaults).
        #[allow(unsafe_code)]
        let err = unsafe {
            ffi::vpx_codec_enc_config_default(ffi::vpx_codec_vp8_cx(), cfg.as_mut_ptr(), 0)
        };
        if err != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MediaError::VpxInit {
                detail: format!("vpx_codec_enc_config_default: {err:?}"),
            });
        }
        // SAFETY: on success `vpx_codec_enc_config_default` has assigned the
        // whole struct (every field holds a valid value of its type; zeroing
        // it instead would not be valid, as `g_bit_depth` has no 0 variant).
        #[allow(unsafe_code)]
        let mut cfg: Box<ffi::vpx_codec_enc_cfg_t> = unsafe { cfg.assume_init() };
        cfg.g_w = config.width;
        cfg.g_h = config.height;
        cfg.g_threads = config.threads.clamp(1, 16);
        cfg.g_timebase = ffi::vpx_rational {
            num: 1,
            den: TIMEBASE_DEN,
        };
        cfg.g_error_resilient = ffi::VPX_ERROR_RESILIENT_DEFAULT;
        cfg.g_pass = ffi::vpx_enc_pass::VPX_RC_ONE_PASS;
        cfg.g_lag_in_frames = 0;
        cfg.rc_end_usage = ffi::vpx_rc_mode::VPX_CBR;
        cfg.rc_target_bitrate = (config.bitrate_bps / 1000).max(1);
        // No dropped frames: every input produces an output, so frame numbers
        // on the receiving side are the ones sent.
        cfg.rc_dropframe_thresh = 0;
        cfg.rc_resize_allowed = 0;
        cfg.rc_min_quantizer = 2;
        cfg.rc_max_quantizer = 56;
        cfg.rc_undershoot_pct = 100;
        cfg.rc_overshoot_pct = 15;
        cfg.rc_buf_initial_sz = 500;
        cfg.rc_buf_optimal_sz = 600;
        cfg.rc_buf_sz = 1000;
        match config.keyframe_interval {
            Some(n) => {
                cfg.kf_mode = ffi::vpx_kf_mode::VPX_KF_AUTO;
                cfg.kf_min_dist = 0;
                cfg.kf_max_dist = n.max(1);
            }
            None => cfg.kf_mode = ffi::vpx_kf_mode::VPX_KF_DISABLED,
        }

        let mut ctx = zeroed_ctx();
        // SAFETY: `ctx` is a zeroed context on the heap, `cfg` a complete
        // configuration on the heap (libvpx copies it during init), the
        // interface is static, and the ABI version is the one the bindings
        // were generated with from the installed header.
        #[allow(unsafe_code)]
        let err = unsafe {
            ffi::vpx_codec_enc_init_ver(
                &mut *ctx,
                ffi::vpx_codec_vp8_cx(),
                &*cfg,
                0,
                ffi::VPX_ENCODER_ABI_VERSION as c_int,
            )
        };
        if err != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            // A failed init leaves nothing to destroy, and its detail string
            // may point into freed memory: report the code only.
            return Err(MediaError::VpxInit {
                detail: format!("vpx_codec_enc_init_ver: {}", err_string(err)),
            });
        }
        let mut encoder = Vp8Encoder {
            ctx,
            cfg,
            config,
            frames_encoded: 0,
        };
        // Max key frame size relative to the per-frame budget, in percent:
        // half of the optimal buffer (600 ms) spent on one frame.
        let max_intra_pct = (config.fps * 30).max(300) as c_int;
        let controls = [
            (ffi::vp8e_enc_control_id::VP8E_SET_CPUUSED, config.cpu_used),
            (ffi::vp8e_enc_control_id::VP8E_SET_STATIC_THRESHOLD, 1),
            (ffi::vp8e_enc_control_id::VP8E_SET_NOISE_SENSITIVITY, 0),
            (ffi::vp8e_enc_control_id::VP8E_SET_TOKEN_PARTITIONS, 0),
            (
                ffi::vp8e_enc_control_id::VP8E_SET_MAX_INTRA_BITRATE_PCT,
                max_intra_pct,
            ),
        ];
        for (id, value) in controls {
            // SAFETY: the context is initialised; each of these controls takes
            // exactly one `int` vararg (vp8cx.h's VPX_CTRL_USE_TYPE lists them
            // as `int` or `unsigned int`, which share a representation here).
            #[allow(unsafe_code)]
            let err = unsafe { ffi::vpx_codec_control_(&mut *encoder.ctx, id as c_int, value) };
            if err != ffi::vpx_codec_err_t::VPX_CODEC_OK {
                return Err(MediaError::VpxInit {
                    detail: ctx_error(&mut encoder.ctx, err),
                });
            }
        }
        Ok(encoder)
    }

    /// The configuration (with the current bitrate).
    pub fn config(&self) -> &Vp8EncoderConfig {
        &self.config
    }

    /// Frames encoded so far.
    pub fn frames_encoded(&self) -> u64 {
        self.frames_encoded
    }

    /// Encodes one frame. `pts` is in microseconds and should increase.
    ///
    /// Returns `Ok(None)` if the encoder produced no output for this frame
    /// (it does not with this crate's settings, but libvpx may in principle).
    pub fn encode(
        &mut self,
        frame: &I420Frame,
        pts: u64,
        force_keyframe: bool,
    ) -> Result<Option<EncodedFrame>, MediaError> {
        if frame.width != self.config.width || frame.height != self.config.height {
            return Err(MediaError::FrameSizeMismatch {
                width: self.config.width,
                height: self.config.height,
                got_width: frame.width,
                got_height: frame.height,
            });
        }
        frame.check_planes()?;
        let pts = i64::try_from(pts).map_err(|_| MediaError::InvalidConfig("pts over i64"))?;

        // SAFETY: zero is a valid value for every field of `vpx_image_t`
        // (plain integers and pointers; its enums have a 0 variant), and
        // `vpx_img_wrap` fills in the rest.
        #[allow(unsafe_code)]
        let mut img: ffi::vpx_image_t = unsafe { std::mem::zeroed() };
        // SAFETY: `vpx_img_wrap` only records the pointer and computes plane
        // pointers; it neither reads nor writes pixels. The plane pointers
        // and strides are then set to our three separate buffers, whose
        // lengths `check_planes` verified for these dimensions.
        #[allow(unsafe_code)]
        let wrapped = unsafe {
            ffi::vpx_img_wrap(
                &mut img,
                ffi::vpx_img_fmt::VPX_IMG_FMT_I420,
                frame.width as c_uint,
                frame.height as c_uint,
                1,
                frame.y.as_ptr() as *mut u8,
            )
        };
        if wrapped.is_null() {
            return Err(MediaError::VpxEncode {
                detail: "vpx_img_wrap failed".into(),
            });
        }
        let cw = frame.chroma_width() as c_int;
        // libvpx takes `*mut` planes but the encoder only reads its input
        // image (it copies it into its own lookahead buffer).
        img.planes[0] = frame.y.as_ptr() as *mut u8;
        img.planes[1] = frame.u.as_ptr() as *mut u8;
        img.planes[2] = frame.v.as_ptr() as *mut u8;
        img.stride[0] = frame.width as c_int;
        img.stride[1] = cw;
        img.stride[2] = cw;

        let flags: c_long = if force_keyframe {
            ffi::VPX_EFLAG_FORCE_KF as c_long
        } else {
            0
        };
        let duration = (TIMEBASE_DEN as u32 / self.config.fps.max(1)) as c_ulong;
        // SAFETY: the context is initialised; `img` describes buffers that
        // outlive this call and match its dimensions and strides; with
        // `g_lag_in_frames = 0` libvpx does not keep the image after return.
        #[allow(unsafe_code)]
        let err = unsafe {
            ffi::vpx_codec_encode(
                &mut *self.ctx,
                &img,
                pts,
                duration,
                flags,
                ffi::VPX_DL_REALTIME as c_ulong,
            )
        };
        if err != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MediaError::VpxEncode {
                detail: ctx_error(&mut self.ctx, err),
            });
        }

        let mut out: Option<EncodedFrame> = None;
        let mut iter: ffi::vpx_codec_iter_t = ptr::null();
        loop {
            // SAFETY: the context is initialised and `iter` starts null as the
            // API requires; the returned packet stays valid until the next
            // call on this context, and it is copied before that.
            #[allow(unsafe_code)]
            let pkt = unsafe { ffi::vpx_codec_get_cx_data(&mut *self.ctx, &mut iter) };
            if pkt.is_null() {
                break;
            }
            // SAFETY: non-null packets point to a valid `vpx_codec_cx_pkt_t`;
            // for `VPX_CODEC_CX_FRAME_PKT` the `frame` member of the union is
            // the active one, and `buf` holds `sz` bytes.
            #[allow(unsafe_code)]
            let (bytes, key, pkt_pts) = unsafe {
                let pkt = &*pkt;
                if pkt.kind != ffi::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                    continue;
                }
                let f = &pkt.data.frame;
                let bytes = if f.buf.is_null() || f.sz == 0 {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(f.buf as *const u8, f.sz as usize)
                };
                (bytes, f.flags & ffi::VPX_FRAME_IS_KEY != 0, f.pts)
            };
            match &mut out {
                // With one token partition and no partition output flag there
                // is one packet a frame; concatenate anything more.
                Some(o) => o.data.extend_from_slice(bytes),
                None => {
                    out = Some(EncodedFrame {
                        data: bytes.to_vec(),
                        keyframe: key,
                        pts: pkt_pts.max(0) as u64,
                    })
                }
            }
        }
        self.frames_encoded += 1;
        Ok(out)
    }

    /// Changes the target bitrate from the next frame on (congestion control
    /// calls this). Values are clamped to at least 1 kbps.
    pub fn set_bitrate(&mut self, bps: u32) {
        let kbps = (bps / 1000).max(1);
        if kbps == self.cfg.rc_target_bitrate {
            return;
        }
        self.cfg.rc_target_bitrate = kbps;
        // SAFETY: the context is initialised and `cfg` is a complete
        // configuration that libvpx copies.
        #[allow(unsafe_code)]
        let err = unsafe { ffi::vpx_codec_enc_config_set(&mut *self.ctx, &*self.cfg) };
        if err == ffi::vpx_codec_err_t::VPX_CODEC_OK {
            self.config.bitrate_bps = bps;
        } else {
            tracing::warn!(error = %ctx_error(&mut self.ctx, err), bps, "VP8 set_bitrate failed");
        }
    }
}

impl Drop for Vp8Encoder {
    fn drop(&mut self) {
        // SAFETY: the context was successfully initialised in `new` (no
        // `Vp8Encoder` exists otherwise) and is destroyed exactly once.
        #[allow(unsafe_code)]
        unsafe {
            ffi::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

/// Byte ranges of the VP8 frame header (RFC 6386 §9.1).
mod field {
    use std::ops::Range;
    /// The 3-byte frame tag every frame starts with.
    pub const FRAME_TAG: Range<usize> = 0..3;
    /// Key frames only: the start code.
    pub const START_CODE: Range<usize> = 3..6;
    /// Key frames only: 14-bit width, 2-bit horizontal scale (little endian).
    pub const WIDTH: Range<usize> = 6..8;
    /// Key frames only: 14-bit height, 2-bit vertical scale (little endian).
    pub const HEIGHT: Range<usize> = 8..10;
}

/// The start code after a key frame's frame tag (RFC 6386 §9.1).
const START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];

/// What a VP8 key frame header says about the picture (RFC 6386 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8KeyFrameHeader {
    /// Coded width in pixels (14 bits).
    pub width: u32,
    /// Coded height in pixels (14 bits).
    pub height: u32,
    /// Upscaling hint for display (2 bits); the decoder allocates for the
    /// coded size regardless.
    pub horizontal_scale: u8,
    /// See `horizontal_scale`.
    pub vertical_scale: u8,
}

/// Reads a VP8 frame's header: `Ok(None)` for an interframe (which keeps
/// the picture size of the last key frame), the declared picture size for a
/// key frame. Only the first 10 bytes are looked at; the rest of the frame
/// is libvpx's to judge.
pub fn parse_frame_header(data: &[u8]) -> Result<Option<Vp8KeyFrameHeader>, MediaError> {
    let Some(tag) = data.get(field::FRAME_TAG) else {
        return Err(MediaError::Truncated {
            needed: field::FRAME_TAG.end,
            got: data.len(),
        });
    };
    // RFC 6386 §9.1: bit 0 of the frame tag is 0 for a key frame.
    if tag[0] & 1 != 0 {
        return Ok(None);
    }
    let Some(header) = data.get(..field::HEIGHT.end) else {
        return Err(MediaError::Truncated {
            needed: field::HEIGHT.end,
            got: data.len(),
        });
    };
    if header[field::START_CODE] != START_CODE {
        return Err(MediaError::BadVp8Header("key frame without start code"));
    }
    let w = u16::from_le_bytes([header[field::WIDTH.start], header[field::WIDTH.start + 1]]);
    let h = u16::from_le_bytes([header[field::HEIGHT.start], header[field::HEIGHT.start + 1]]);
    let parsed = Vp8KeyFrameHeader {
        width: u32::from(w & 0x3fff),
        height: u32::from(h & 0x3fff),
        horizontal_scale: (w >> 14) as u8,
        vertical_scale: (h >> 14) as u8,
    };
    if parsed.width == 0 || parsed.height == 0 {
        return Err(MediaError::BadVp8Header(
            "key frame with zero width or height",
        ));
    }
    Ok(Some(parsed))
}

/// Settings for [`Vp8Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8DecoderConfig {
    /// Key frames wider than this are refused before libvpx sees them, so a
    /// hostile sender cannot make it allocate for a 16383x16383 picture.
    pub max_width: u32,
    /// Key frames taller than this are refused likewise.
    pub max_height: u32,
}

impl Default for Vp8DecoderConfig {
    /// 3840x2160: room for a 4K screen share.
    fn default() -> Self {
        Vp8DecoderConfig {
            max_width: 3840,
            max_height: 2160,
        }
    }
}

/// A VP8 decoder. Corrupt or undecodable input is an `Err` and counted in
/// [`Vp8Decoder::decode_errors`]; the decoder stays usable and recovers on the
/// next key frame. Key frames larger than the configured maximum
/// ([`Vp8DecoderConfig`]) are refused with [`MediaError::PictureTooLarge`]
/// before they reach libvpx.
pub struct Vp8Decoder {
    ctx: Box<ffi::vpx_codec_ctx_t>,
    config: Vp8DecoderConfig,
    /// Frames that failed to decode (libvpx error, corrupt output, a
    /// malformed header, or a picture over the size limit).
    pub decode_errors: u64,
    /// Frames decoded into a picture.
    pub frames_decoded: u64,
    /// Key frames refused for their size (also counted in `decode_errors`).
    pub frames_too_large: u64,
    /// Calls into `vpx_codec_decode`, so tests can see a frame never got
    /// there.
    #[cfg(test)]
    vpx_decode_calls: u64,
}

// SAFETY: as for `Vp8Encoder`: no thread affinity, and `&mut self` serialises
// every use.
#[allow(unsafe_code)]
unsafe impl Send for Vp8Decoder {}

impl std::fmt::Debug for Vp8Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vp8Decoder")
            .field("config", &self.config)
            .field("decode_errors", &self.decode_errors)
            .field("frames_decoded", &self.frames_decoded)
            .finish_non_exhaustive()
    }
}

impl Vp8Decoder {
    /// Creates a single-threaded decoder with the default size limit
    /// (3840x2160).
    pub fn new() -> Result<Self, MediaError> {
        Self::with_config(Vp8DecoderConfig::default())
    }

    /// Creates a single-threaded decoder that refuses key frames larger than
    /// `max_width` x `max_height`.
    pub fn with_max_size(max_width: u32, max_height: u32) -> Result<Self, MediaError> {
        Self::with_config(Vp8DecoderConfig {
            max_width,
            max_height,
        })
    }

    /// Creates a single-threaded decoder with these settings.
    pub fn with_config(config: Vp8DecoderConfig) -> Result<Self, MediaError> {
        let mut ctx = zeroed_ctx();
        let cfg = ffi::vpx_codec_dec_cfg_t {
            threads: 1,
            w: 0,
            h: 0,
        };
        // SAFETY: `ctx` is a zeroed context on the heap, `cfg` a complete
        // configuration (copied during init), the interface static, and the
        // ABI version the one the bindings were generated with.
        #[allow(unsafe_code)]
        let err = unsafe {
            ffi::vpx_codec_dec_init_ver(
                &mut *ctx,
                ffi::vpx_codec_vp8_dx(),
                &cfg,
                0,
                ffi::VPX_DECODER_ABI_VERSION as c_int,
            )
        };
        if err != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MediaError::VpxInit {
                detail: format!("vpx_codec_dec_init_ver: {}", err_string(err)),
            });
        }
        Ok(Vp8Decoder {
            ctx,
            config,
            decode_errors: 0,
            frames_decoded: 0,
            frames_too_large: 0,
            #[cfg(test)]
            vpx_decode_calls: 0,
        })
    }

    /// The settings.
    pub fn config(&self) -> &Vp8DecoderConfig {
        &self.config
    }

    /// Decodes one complete VP8 frame. `Ok(None)` means the frame decoded but
    /// produced no picture to show (an invisible frame).
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<I420Frame>, MediaError> {
        match self.decode_inner(data) {
            Ok(f) => {
                if f.is_some() {
                    self.frames_decoded += 1;
                }
                Ok(f)
            }
            Err(e) => {
                self.decode_errors += 1;
                tracing::debug!(error = %e, len = data.len(), "VP8 decode error");
                Err(e)
            }
        }
    }

    fn decode_inner(&mut self, data: &[u8]) -> Result<Option<I420Frame>, MediaError> {
        // An empty buffer would mean "flush" to libvpx: not a frame.
        if data.is_empty() {
            return Err(MediaError::VpxDecode {
                detail: "empty frame".into(),
            });
        }
        // The size check comes first: libvpx allocates its frame buffers
        // for whatever a key frame declares (up to 16383x16383, gigabytes)
        // before it finds out whether the rest of the frame is any good.
        if let Some(key) = parse_frame_header(data)? {
            if key.width > self.config.max_width || key.height > self.config.max_height {
                self.frames_too_large += 1;
                return Err(MediaError::PictureTooLarge {
                    width: key.width,
                    height: key.height,
                    max_width: self.config.max_width,
                    max_height: self.config.max_height,
                });
            }
        }
        let len =
            c_uint::try_from(data.len()).map_err(|_| MediaError::TooLarge(data.len() as u64))?;
        #[cfg(test)]
        {
            self.vpx_decode_calls += 1;
        }
        // SAFETY: the context is initialised; `data` is valid for `len`
        // bytes for the duration of the call and libvpx does not keep it
        // (no input-fragments flag).
        #[allow(unsafe_code)]
        let err = unsafe {
            ffi::vpx_codec_decode(&mut *self.ctx, data.as_ptr(), len, ptr::null_mut(), 0)
        };
        if err != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MediaError::VpxDecode {
                detail: ctx_error(&mut self.ctx, err),
            });
        }
        // A frame whose references were missing or damaged decodes "OK" but
        // the library flags it: report it as the error it is.
        let mut corrupted: c_int = 0;
        // SAFETY: the context is initialised; VP8D_GET_FRAME_CORRUPTED takes
        // one `int *` vararg, which points to a live local.
        #[allow(unsafe_code)]
        let err = unsafe {
            ffi::vpx_codec_control_(
                &mut *self.ctx,
                ffi::vp8_dec_control_id::VP8D_GET_FRAME_CORRUPTED as c_int,
                &mut corrupted as *mut c_int,
            )
        };
        if err == ffi::vpx_codec_err_t::VPX_CODEC_OK && corrupted != 0 {
            // Drain the picture so it is not returned later.
            self.take_picture();
            return Err(MediaError::VpxDecode {
                detail: "frame decoded corrupt (truncated, or reference missing or damaged)".into(),
            });
        }
        Ok(self.take_picture())
    }

    /// Copies out the last picture libvpx has ready, if any.
    fn take_picture(&mut self) -> Option<I420Frame> {
        let mut iter: ffi::vpx_codec_iter_t = ptr::null();
        let mut out = None;
        loop {
            // SAFETY: the context is initialised and `iter` starts null; the
            // image stays valid until the next decode call on this context.
            #[allow(unsafe_code)]
            let img = unsafe { ffi::vpx_codec_get_frame(&mut *self.ctx, &mut iter) };
            if img.is_null() {
                break;
            }
            // SAFETY: a non-null image from the decoder is valid, and its
            // planes hold `d_h` rows (chroma: rounded-up half) of `stride`
            // bytes each, of which the first `d_w` (half) are pixels.
            #[allow(unsafe_code)]
            let frame = unsafe { copy_image(&*img) };
            out = frame.or(out);
        }
        out
    }
}

/// Copies a decoded 8-bit I420 `vpx_image_t` into a packed [`I420Frame`].
///
/// # Safety
///
/// `img` must be a valid image from libvpx whose plane pointers and strides
/// describe readable memory for its display size.
#[allow(unsafe_code)]
unsafe fn copy_image(img: &ffi::vpx_image_t) -> Option<I420Frame> {
    if img.fmt != ffi::vpx_img_fmt::VPX_IMG_FMT_I420 || img.d_w == 0 || img.d_h == 0 {
        return None;
    }
    let (w, h) = (img.d_w, img.d_h);
    let mut frame = I420Frame::new_black(w, h);
    let (cw, ch) = (
        frame.chroma_width() as usize,
        frame.chroma_height() as usize,
    );
    let planes: [(&mut Vec<u8>, usize, usize); 3] = [
        (&mut frame.y, w as usize, h as usize),
        (&mut frame.u, cw, ch),
        (&mut frame.v, cw, ch),
    ];
    for (i, (dst, pw, ph)) in planes.into_iter().enumerate() {
        let stride = img.stride[i];
        let src = img.planes[i];
        if src.is_null() || stride < pw as c_int {
            return None;
        }
        for row in 0..ph {
            // SAFETY: per the function contract, row `row` of plane `i`
            // starts `row * stride` bytes after the plane pointer and has at
            // least `pw` readable bytes.
            let line = unsafe { std::slice::from_raw_parts(src.add(row * stride as usize), pw) };
            dst[row * pw..(row + 1) * pw].copy_from_slice(line);
        }
    }
    Some(frame)
}

impl Drop for Vp8Decoder {
    fn drop(&mut self) {
        // SAFETY: the context was successfully initialised in `new` and is
        // destroyed exactly once.
        #[allow(unsafe_code)]
        unsafe {
            ffi::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{read_stamp, TestPattern};

    /// A key frame header (RFC 6386 §9.1) declaring `width` x `height`,
    /// followed by `tail` bytes of filler.
    fn key_header(width: u16, height: u16, tail: usize) -> Vec<u8> {
        // Frame tag: key frame (bit 0 = 0), version 0, shown, first
        // partition 100 bytes: (100 << 5) | (1 << 4).
        let tag: u32 = (100 << 5) | (1 << 4);
        let mut v = tag.to_le_bytes()[..3].to_vec();
        v.extend_from_slice(&START_CODE);
        v.extend_from_slice(&width.to_le_bytes());
        v.extend_from_slice(&height.to_le_bytes());
        v.extend(std::iter::repeat_n(0x55, tail));
        v
    }

    fn encoded_320x240(frames: u32) -> Vec<EncodedFrame> {
        let mut pattern = TestPattern::new(320, 240, 15);
        let mut enc = Vp8Encoder::new(Vp8EncoderConfig::new(320, 240, 15, 300_000)).unwrap();
        (0..frames)
            .map(|n| {
                let pts = u64::from(n) * 66_666;
                let f = pattern.next_frame(pts);
                enc.encode(&f, pts, false).unwrap().unwrap()
            })
            .collect()
    }

    #[test]
    fn header_of_a_real_key_frame_gives_its_size_and_a_delta_frame_none() {
        let frames = encoded_320x240(2);
        assert!(frames[0].keyframe && !frames[1].keyframe);
        assert_eq!(
            parse_frame_header(&frames[0].data).unwrap(),
            Some(Vp8KeyFrameHeader {
                width: 320,
                height: 240,
                horizontal_scale: 0,
                vertical_scale: 0
            })
        );
        assert_eq!(parse_frame_header(&frames[1].data).unwrap(), None);
    }

    #[test]
    fn scale_bits_are_not_part_of_the_size() {
        let h = parse_frame_header(&key_header(0xc000 | 640, 0x4000 | 480, 0))
            .unwrap()
            .unwrap();
        assert_eq!((h.width, h.height), (640, 480));
        assert_eq!((h.horizontal_scale, h.vertical_scale), (3, 1));
    }

    #[test]
    fn a_16383x16383_key_frame_is_refused_without_calling_libvpx() {
        let mut dec = Vp8Decoder::new().unwrap();
        let frame = key_header(0x3fff, 0x3fff, 2000);
        match dec.decode(&frame) {
            Err(MediaError::PictureTooLarge {
                width: 16383,
                height: 16383,
                max_width: 3840,
                max_height: 2160,
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(dec.vpx_decode_calls, 0);
        assert_eq!((dec.frames_too_large, dec.decode_errors), (1, 1));
        // Scale bits set on top of the maximum size change nothing.
        assert!(matches!(
            dec.decode(&key_header(0xffff, 0xffff, 10)),
            Err(MediaError::PictureTooLarge { width: 16383, .. })
        ));
        assert_eq!(dec.vpx_decode_calls, 0);
    }

    #[test]
    fn the_limit_is_per_decoder_and_checked_on_each_dimension() {
        let frames = encoded_320x240(1);
        // 320 wide is one pixel too many here.
        let mut narrow = Vp8Decoder::with_max_size(319, 1000).unwrap();
        assert!(matches!(
            narrow.decode(&frames[0].data),
            Err(MediaError::PictureTooLarge {
                width: 320,
                height: 240,
                ..
            })
        ));
        let mut short = Vp8Decoder::with_max_size(1000, 239).unwrap();
        assert!(matches!(
            short.decode(&frames[0].data),
            Err(MediaError::PictureTooLarge { .. })
        ));
        assert_eq!(narrow.vpx_decode_calls + short.vpx_decode_calls, 0);
        let mut exact = Vp8Decoder::with_max_size(320, 240).unwrap();
        let pic = exact.decode(&frames[0].data).unwrap().unwrap();
        assert_eq!((pic.width, pic.height), (320, 240));
    }

    #[test]
    fn a_real_320x240_stream_decodes_and_survives_a_refused_giant_between_frames() {
        let frames = encoded_320x240(3);
        let mut dec = Vp8Decoder::new().unwrap();
        let pic = dec.decode(&frames[0].data).unwrap().unwrap();
        assert_eq!((pic.width, pic.height), (320, 240));
        assert_eq!(read_stamp(&pic).unwrap().frame_number, 0);
        assert!(matches!(
            dec.decode(&key_header(8000, 8000, 500)),
            Err(MediaError::PictureTooLarge { .. })
        ));
        // libvpx never saw the giant: its references are intact, so the
        // delta frames that follow decode clean.
        for (n, f) in frames.iter().enumerate().skip(1) {
            let pic = dec.decode(&f.data).unwrap().unwrap();
            assert_eq!(read_stamp(&pic).unwrap().frame_number, n as u32);
        }
        assert_eq!(dec.vpx_decode_calls, 3);
        assert_eq!(dec.frames_decoded, 3);
    }

    #[test]
    fn truncated_and_malformed_headers_are_errors() {
        let full = key_header(320, 240, 0);
        for cut in 1..full.len() {
            let mut dec = Vp8Decoder::new().unwrap();
            let err = dec.decode(&full[..cut]).unwrap_err();
            let needed = if cut < 3 { 3 } else { 10 };
            assert!(
                matches!(err, MediaError::Truncated { needed: n, got } if n == needed && got == cut),
                "cut {cut}: {err:?}"
            );
            assert_eq!(dec.vpx_decode_calls, 0);
        }
        let mut bad_start = full.clone();
        bad_start[4] ^= 0xff;
        assert!(matches!(
            parse_frame_header(&bad_start),
            Err(MediaError::BadVp8Header(_))
        ));
        assert!(matches!(
            parse_frame_header(&key_header(0, 240, 0)),
            Err(MediaError::BadVp8Header(_))
        ));
        assert!(matches!(
            parse_frame_header(&key_header(0x4000, 240, 0)),
            Err(MediaError::BadVp8Header(_))
        ));
        // An interframe tag needs only its three bytes here.
        assert_eq!(parse_frame_header(&[0x01, 0, 0]).unwrap(), None);
    }
}

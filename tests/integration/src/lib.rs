//! Workspace-level integration and interop tests for meshrtc.
//!
//! The tests live in `tests/it/` (one binary, `tests/it/main.rs`, with a module
//! per area, so the 2-core build links one executable). Shared helpers
//! (fixtures, process harnesses, the headless Chromium harness) will live in
//! this library.

pub mod alloc;
pub mod browser;
pub mod devtools_pipe;
pub mod firefox;
pub mod openssl_dtls;
pub mod page;
pub mod sdp_template;
pub mod sim;
pub mod turn_server;
pub mod udp;

use std::path::PathBuf;

/// The shared fixtures folder (`../shared/fixtures` beside the checkout), or
/// `MESHRTC_FIXTURES` when set.
pub fn fixtures_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MESHRTC_FIXTURES") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

//! Integration tests for `meshrtc-media`: one binary, so libvpx and libopus
//! are linked once.

mod fake;
mod opus;
mod sink;
mod vp8;

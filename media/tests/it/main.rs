//! Integration tests for `meshrtc-media`: one binary, so libvpx and libopus
//! are linked once.

mod fake;
mod opus;
mod sink;
mod texture;
mod vp8;
mod y4m;

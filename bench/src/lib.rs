//! Shared inputs for the benchmarks.

use std::path::PathBuf;

/// Reads a hex fixture from `fixtures/` at the repository root.
pub fn hex_fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    hex::decode(text.trim()).expect("fixture is hex")
}

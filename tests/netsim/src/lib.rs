//! A deterministic network simulator for sans-IO nodes.
#![forbid(unsafe_code)]

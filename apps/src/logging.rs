//! Logs that explain decisions (issue 21): one `tracing` subscriber for
//! every command, writing to stderr.
//!
//! The protocol crates emit `debug` events where they decide something (a
//! pair nominated, a DTLS flight resent, a key frame requested, the
//! congestion estimator's state changes) and name the connection or the
//! member in a span. Nothing is printed unless a filter asks for it:
//! `--log FILTER` or, failing that, `RUST_LOG`, both in the `EnvFilter`
//! syntax (`debug`, `meshrtc_ice=debug,meshrtc_dtls=trace`, ...). With
//! neither, only warnings and errors are shown.

use tracing_subscriber::EnvFilter;

use crate::trace_layer::TraceLayer;

/// The environment variable read when `--log` is not given.
pub const ENV: &str = "RUST_LOG";

/// Why the filter was refused.
#[derive(Debug, thiserror::Error)]
#[error("bad log filter {filter:?}: {reason}")]
pub struct FilterError {
    filter: String,
    reason: String,
}

/// The filter `--log` names, else `RUST_LOG`'s, else warnings only.
pub fn filter(flag: Option<&str>) -> Result<EnvFilter, FilterError> {
    let text = match flag {
        Some(f) => f.to_string(),
        None => std::env::var(ENV).unwrap_or_default(),
    };
    if text.trim().is_empty() {
        return Ok(EnvFilter::new("warn"));
    }
    EnvFilter::try_new(&text).map_err(|e| FilterError {
        filter: text.clone(),
        reason: e.to_string(),
    })
}

/// Installs the subscriber: events to stderr, one line each, with their
/// spans (connection, member) and fields; no colours, so a log file reads
/// as the terminal did. With `trace` (`--trace FILE`), meshrtc's `debug`
/// events also go to that file as JSON lines, whatever the filter says.
pub fn init(flag: Option<&str>, trace: Option<TraceLayer>) -> Result<(), FilterError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = filter(flag)?;
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(true)
        .with_filter(filter);
    let trace =
        trace.map(|t| t.with_filter(tracing_subscriber::filter::filter_fn(TraceLayer::wants)));
    // A second init (tests calling `main` twice) is not an error worth
    // stopping for: the first subscriber stays.
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(trace)
        .try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_filter_parses_and_a_bad_one_is_an_error() {
        let f = filter(Some("meshrtc_ice=debug,warn")).unwrap();
        assert!(f.to_string().contains("meshrtc_ice=debug"), "{f}");
        let e = filter(Some("meshrtc_ice=loud")).unwrap_err();
        assert!(e.to_string().contains("meshrtc_ice=loud"), "{e}");
    }

    #[test]
    fn an_empty_flag_means_warnings_only() {
        assert_eq!(filter(Some("  ")).unwrap().to_string(), "warn");
    }
}

//! `--trace FILE` (issue 21): a `tracing` layer that writes every meshrtc
//! event at `debug` level or above to a file, one JSON object a line
//! ([`crate::timeline::trace`]), whatever the stderr filter says.
//!
//! The events are the decisions the protocol crates log (state changes,
//! nominations, flights resent, the estimator's moves); the per-packet
//! `trace` events stay out (they are the capture's job). Each line carries
//! the wall-clock time in microseconds, the clock the capture's packets
//! are stamped with, so `meshrtc timeline` can draw both on one axis.

use std::fmt::Debug;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::timeline::trace::TraceRecord;

/// The layer: the file and the endpoint name each line carries.
pub struct TraceLayer {
    out: Mutex<BufWriter<std::fs::File>>,
    endpoint: String,
}

impl TraceLayer {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path, endpoint: &str) -> std::io::Result<TraceLayer> {
        Ok(TraceLayer {
            out: Mutex::new(BufWriter::new(std::fs::File::create(path)?)),
            endpoint: endpoint.to_string(),
        })
    }

    /// Whether an event belongs in the file: meshrtc's own, `debug` or
    /// more severe.
    pub fn wants(meta: &Metadata<'_>) -> bool {
        *meta.level() <= Level::DEBUG && meta.target().starts_with("meshrtc")
    }
}

/// A span's fields, kept in its extensions.
struct SpanFields(Vec<(String, String)>);

/// Collects an event's or a span's fields as text.
#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }
}

impl<S> Layer<S> for TraceLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if let Some(span) = ctx.span(id) {
            let name = span.name();
            let v = f
                .fields
                .into_iter()
                .map(|(k, v)| (format!("{name}.{k}"), v))
                .collect();
            span.extensions_mut().insert(SpanFields(v));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        values.record(&mut f);
        if let Some(span) = ctx.span(id) {
            let name = span.name();
            let mut ext = span.extensions_mut();
            if let Some(SpanFields(v)) = ext.get_mut::<SpanFields>() {
                v.extend(
                    f.fields
                        .into_iter()
                        .map(|(k, x)| (format!("{name}.{k}"), x)),
                );
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let mut spans = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(v)) = span.extensions().get::<SpanFields>() {
                    spans.extend(v.iter().cloned());
                }
            }
        }
        let meta = event.metadata();
        let record = TraceRecord {
            time_us: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_micros() as u64)
                .unwrap_or(0),
            endpoint: self.endpoint.clone(),
            level: meta.level().to_string(),
            target: meta.target().to_string(),
            message: f.message,
            fields: f.fields,
            spans,
        };
        if let Ok(mut out) = self.out.lock() {
            // A full disk loses trace lines, not the call.
            let _ = writeln!(out, "{}", record.to_line());
            let _ = out.flush();
        }
    }
}

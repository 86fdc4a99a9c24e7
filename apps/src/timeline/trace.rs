//! The `--trace FILE` format (issue 21): one JSON object a line, each a
//! `tracing` event a command emitted at `debug` level or above (a state
//! change, an estimator decision), with its wall-clock time so that
//! `meshrtc timeline` can place it among a capture's packets.
//!
//! ```text
//! {"t_us":1764789000123456,"endpoint":"offer","level":"DEBUG",
//!  "target":"meshrtc_ice::agent","message":"pair nominated",
//!  "fields":{"pair":"..."},"spans":{"connection.local":"..."}}
//! ```
//!
//! The reader takes whatever file it is handed: a line that is not such
//! an object is skipped with a typed error, never a panic.

use serde_json::{json, Map, Value};

/// One traced event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRecord {
    /// Microseconds since the Unix epoch (the clock the capture's
    /// timestamps use too).
    pub time_us: u64,
    /// Which command or member wrote it (`offer`, `answer`, a member's
    /// name, `demo`).
    pub endpoint: String,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// The module that emitted it (`meshrtc_ice::agent`).
    pub target: String,
    /// The event's message.
    pub message: String,
    /// The event's other fields, by name.
    pub fields: Vec<(String, String)>,
    /// The fields of the spans it happened in, outermost first, each named
    /// `span.field` (`member.id`, `connection.local`).
    pub spans: Vec<(String, String)>,
}

/// Why a trace line was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceLineError {
    /// Not JSON, or not an object.
    #[error("line {line}: not a JSON object ({reason})")]
    NotObject {
        /// 1-based line number.
        line: usize,
        /// What the JSON parser said.
        reason: String,
    },
    /// A required member is missing or has the wrong type.
    #[error("line {line}: no {field:?} of the right type")]
    Missing {
        /// 1-based line number.
        line: usize,
        /// The member's name.
        field: &'static str,
    },
}

impl TraceRecord {
    /// The record as one JSON line (no newline).
    pub fn to_line(&self) -> String {
        let pairs = |v: &[(String, String)]| {
            let mut m = Map::new();
            for (k, x) in v {
                m.insert(k.clone(), Value::String(x.clone()));
            }
            Value::Object(m)
        };
        json!({
            "t_us": self.time_us,
            "endpoint": self.endpoint,
            "level": self.level,
            "target": self.target,
            "message": self.message,
            "fields": pairs(&self.fields),
            "spans": pairs(&self.spans),
        })
        .to_string()
    }

    /// The record on line `line` (1-based, for the error).
    pub fn parse_line(text: &str, line: usize) -> Result<TraceRecord, TraceLineError> {
        let v: Value = serde_json::from_str(text).map_err(|e| TraceLineError::NotObject {
            line,
            reason: e.to_string(),
        })?;
        let Value::Object(o) = v else {
            return Err(TraceLineError::NotObject {
                line,
                reason: "another JSON value".into(),
            });
        };
        let text_of = |field: &'static str| {
            o.get(field)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or(TraceLineError::Missing { line, field })
        };
        let pairs = |field: &'static str| -> Result<Vec<(String, String)>, TraceLineError> {
            match o.get(field) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Object(m)) => Ok(m
                    .iter()
                    .map(|(k, v)| {
                        let s = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), s)
                    })
                    .collect()),
                Some(_) => Err(TraceLineError::Missing { line, field }),
            }
        };
        Ok(TraceRecord {
            time_us: o
                .get("t_us")
                .and_then(Value::as_u64)
                .ok_or(TraceLineError::Missing {
                    line,
                    field: "t_us",
                })?,
            endpoint: text_of("endpoint")?,
            level: text_of("level")?,
            target: text_of("target")?,
            message: text_of("message")?,
            fields: pairs("fields")?,
            spans: pairs("spans")?,
        })
    }
}

/// Every record of a trace file, and the lines skipped (blank lines are
/// neither).
pub fn parse(text: &str) -> (Vec<TraceRecord>, Vec<TraceLineError>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match TraceRecord::parse_line(l, i + 1) {
            Ok(r) => records.push(r),
            Err(e) => errors.push(e),
        }
    }
    (records, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TraceRecord {
        TraceRecord {
            time_us: 1_764_789_000_123_456,
            endpoint: "offer".into(),
            level: "DEBUG".into(),
            target: "meshrtc_ice::agent".into(),
            message: "pair nominated: \"highest\" <priority>".into(),
            fields: vec![("pair".into(), "a↔b".into())],
            spans: vec![("connection.local".into(), "[127.0.0.1:5]".into())],
        }
    }

    #[test]
    fn a_record_writes_one_line_and_reads_back_the_same() {
        let r = sample();
        let line = r.to_line();
        assert!(!line.contains('\n'));
        assert_eq!(TraceRecord::parse_line(&line, 1), Ok(r));
    }

    #[test]
    fn bad_lines_are_skipped_with_their_number_and_reason() {
        let text = format!(
            "{}\n\nnot json\n[1]\n{{\"t_us\":\"x\",\"endpoint\":\"a\"}}\n{}\n",
            sample().to_line(),
            sample().to_line()
        );
        let (records, errors) = parse(&text);
        assert_eq!(records.len(), 2);
        assert_eq!(errors.len(), 3);
        assert!(matches!(
            errors[0],
            TraceLineError::NotObject { line: 3, .. }
        ));
        assert!(matches!(
            errors[1],
            TraceLineError::NotObject { line: 4, .. }
        ));
        assert_eq!(
            errors[2],
            TraceLineError::Missing {
                line: 5,
                field: "t_us"
            }
        );
    }

    #[test]
    fn non_string_field_values_are_kept_as_their_json() {
        let r = TraceRecord::parse_line(
            r#"{"t_us":5,"endpoint":"e","level":"DEBUG","target":"t","message":"m","fields":{"n":3,"b":true}}"#,
            1,
        )
        .unwrap();
        assert_eq!(
            r.fields,
            vec![("b".into(), "true".into()), ("n".into(), "3".into())]
        );
        assert!(r.spans.is_empty());
    }
}

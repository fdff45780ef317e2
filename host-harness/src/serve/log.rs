//! Structured logs for `serve`, `git-shell` and the hooks: one record per line on stderr,
//! `text` (`forge-authz: EVENT key=value ...`) or `json` (JSON lines for log shippers).
//!
//! Every value is cleaned before it is written: control characters are escaped (a header
//! holding `\n` cannot forge a log line) and long values are truncated. Callers never pass
//! a credential or a query string (`path_only` drops the query).

use std::sync::OnceLock;

/// Log record format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `forge-authz: EVENT key=value ...`
    #[default]
    Text,
    /// One JSON object per line: `{"event": ..., "key": "value", ...}`.
    Json,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Set the format once, at start-up (later calls are ignored).
pub fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

/// Longest value written, in characters.
pub const MAX_VALUE_CHARS: usize = 200;

/// A value as it may appear in a log: control characters escaped, at most
/// [`MAX_VALUE_CHARS`] characters (then `…`).
pub fn clean(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_VALUE_CHARS));
    for (n, c) in value.chars().enumerate() {
        if n >= MAX_VALUE_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The path of a request target, without its query string (tokens must never reach a
/// log, even misplaced ones).
pub fn path_only(target: &str) -> &str {
    target.split('?').next().unwrap_or("")
}

/// One text record (what [`event`] prints in `text` format).
pub fn text_record(event: &str, fields: &[(&str, &str)]) -> String {
    let mut line = format!("forge-authz: {}", clean(event));
    for (k, v) in fields {
        let v = clean(v);
        if v.is_empty() || v.contains([' ', '"', '=']) {
            line.push_str(&format!(" {k}=\"{}\"", v.replace('"', "\\\"")));
        } else {
            line.push_str(&format!(" {k}={v}"));
        }
    }
    line
}

/// One JSON record (what [`event`] prints in `json` format).
pub fn json_record(event: &str, fields: &[(&str, &str)]) -> String {
    let mut m = serde_json::Map::new();
    m.insert("event".into(), clean(event).into());
    for (k, v) in fields {
        m.insert((*k).to_string(), clean(v).into());
    }
    serde_json::Value::Object(m).to_string()
}

/// Write one record.
pub fn event(event: &str, fields: &[(&str, &str)]) {
    let line = match FORMAT.get().copied().unwrap_or_default() {
        LogFormat::Text => text_record(event, fields),
        LogFormat::Json => json_record(event, fields),
    };
    eprintln!("{line}");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn values_cannot_forge_lines_and_are_bounded() {
        let forged = "x\nforge-authz: GET /admin 200 reason=granted";
        let line = text_record("request", &[("agent", forged)]);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.contains("\\n"));
        let v: serde_json::Value =
            serde_json::from_str(&json_record("request", &[("agent", forged)])).unwrap();
        assert_eq!(v["agent"].as_str().unwrap().lines().count(), 1);
        let long = "a".repeat(1000);
        assert_eq!(clean(&long).chars().count(), MAX_VALUE_CHARS + 1);
        assert_eq!(path_only("/a/b?access_token=x"), "/a/b");
    }
}

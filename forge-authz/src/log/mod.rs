//! Structured logs for `serve`, `git-shell` and the hooks: one record per line on stderr,
//! `text` (`forge-authz: EVENT key=value ...`) or `json` (JSON lines for log shippers).
//!
//! Every value is cleaned before it is written: anything token-shaped is redacted (a token
//! pasted into a path, a `;access_token=` parameter, a forward-auth `X-Original-URI` or
//! git's own error output never reaches the log: [`redact_tokens`]), control characters
//! are escaped (a header holding `\n` cannot forge a log line) and long values are
//! truncated. Callers never pass a credential or a query string on purpose (`path_only`
//! drops the query); the redaction is what catches the ones a client put elsewhere.
//!
//! `serve` buffers the records of answered requests and writes them together
//! (`--log-flush`, [`sink`]); every other record, and every record of the other commands,
//! is one write of its own.

use std::sync::OnceLock;

pub mod decision;
mod sink;

pub use sink::{DEFERRED, FLUSH_BYTES, FLUSH_EVERY};

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

/// When records are written (`serve --log-flush`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFlush {
    /// The records of answered requests (`request`, `ref`, `git`) are written together:
    /// at 64 KiB, at most 10 ms after they were logged, before any other record, and when
    /// the server stops or panics. A server killed outright loses at most the last 10 ms.
    #[default]
    Buffered,
    /// One write per record, before the request's answer is sent (auditors: a killed
    /// server loses at most the record being written).
    Line,
}

/// Writes what waits when dropped (at the end of `serve`, however it ends).
#[must_use = "dropping it writes the buffered records"]
pub struct Flushing;

impl Drop for Flushing {
    fn drop(&mut self) {
        flush();
    }
}

/// Set when records are written, once, at start-up. `Line` is every command's default;
/// `Buffered` starts the flusher thread (or, if it cannot start, says so and stays
/// `Line`).
pub fn set_flush(flush: LogFlush) -> Flushing {
    if flush == LogFlush::Buffered
        && let Err(e) = sink::start()
    {
        event(
            "log-flush",
            &[
                ("note", "one write per record: no flusher thread"),
                ("cause", &e.to_string()),
            ],
        );
    }
    Flushing
}

/// Write whatever records wait in the buffer, now.
pub fn flush() {
    sink::flush();
}

/// Longest value written, in characters.
pub const MAX_VALUE_CHARS: usize = 200;

/// What a redacted token looks like in a log.
pub const REDACTED: &str = "fzpat_[redacted]";

/// The token prefix, without its `_`.
const PREFIX: &[u8] = b"fzpat";

/// One logical byte of `s` at `i`: a literal byte, or a `%XX` escape decoded (so a token
/// percent-encoded into a URL is recognised too); with the number of bytes it took.
fn logical_byte(s: &[u8], i: usize) -> Option<(u8, usize)> {
    let b = *s.get(i)?;
    if b == b'%' {
        let hex = s.get(i + 1..i + 3)?;
        let hex = std::str::from_utf8(hex).ok()?;
        if let Ok(v) = u8::from_str_radix(hex, 16) {
            return Some((v, 3));
        }
    }
    Some((b, 1))
}

/// Where a token-shaped run starting at `start` ends: `fzpat` (any case, any byte
/// percent-encoded), `_`, then the token alphabet (`A-Z a-z 0-9 - _ .`). `None` when there
/// is no token prefix at `start`.
fn token_at(s: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    for want in PREFIX.iter().chain(b"_") {
        let (b, n) = logical_byte(s, i)?;
        if !b.eq_ignore_ascii_case(want) {
            return None;
        }
        i += n;
    }
    while let Some((b, n)) = logical_byte(s, i) {
        if !(b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            break;
        }
        i += n;
    }
    Some(i)
}

/// `value` with every token-shaped run (the `fzpat_` prefix and what follows it in the
/// token alphabet, in any case, literal or percent-encoded) replaced by [`REDACTED`].
/// A token is recognised by its prefix alone — no checksum, no key — so a damaged or
/// forged one is redacted as well.
pub fn redact_tokens(value: &str) -> std::borrow::Cow<'_, str> {
    let bytes = value.as_bytes();
    let mut out: Option<String> = None;
    let (mut i, mut copied) = (0, 0);
    while i < bytes.len() {
        // A prefix starts with `f`, `F` or `%` (an encoded `f`).
        if matches!(bytes.get(i), Some(b'f' | b'F' | b'%'))
            && let Some(end) = token_at(bytes, i)
        {
            let o = out.get_or_insert_with(|| String::with_capacity(value.len()));
            o.push_str(value.get(copied..i).unwrap_or_default());
            o.push_str(REDACTED);
            i = end;
            copied = end;
            continue;
        }
        i += 1;
    }
    match out {
        None => std::borrow::Cow::Borrowed(value),
        Some(mut o) => {
            o.push_str(value.get(copied..).unwrap_or_default());
            std::borrow::Cow::Owned(o)
        }
    }
}

/// A value as it may appear in a log: tokens redacted, control characters escaped, at
/// most [`MAX_VALUE_CHARS`] characters (then `…`).
pub fn clean(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_VALUE_CHARS));
    clean_chars(value, |c| out.push(c));
    out
}

/// The characters of [`clean`]`(value)`, one by one, to `put`.
fn clean_chars(value: &str, mut put: impl FnMut(char)) {
    let value = redact_tokens(value);
    for (n, c) in value.chars().enumerate() {
        if n >= MAX_VALUE_CHARS {
            put('…');
            break;
        }
        if c.is_control() {
            c.escape_default().for_each(&mut put);
        } else {
            put(c);
        }
    }
}

/// The path of a request target, without its query string (tokens must never reach a
/// log, even misplaced ones).
pub fn path_only(target: &str) -> &str {
    target.split('?').next().unwrap_or("")
}

/// One text record (what [`event`] prints in `text` format).
pub fn text_record(event: &str, fields: &[(&str, &str)]) -> String {
    let mut line = String::new();
    text_into(&mut line, event, fields);
    line
}

/// Appends one text record, without its newline: `forge-authz: EVENT key=value ...`, a
/// value quoted (its `"` escaped) when empty or holding a space, `"` or `=`.
fn text_into(out: &mut String, event: &str, fields: &[(&str, &str)]) {
    out.push_str("forge-authz: ");
    clean_chars(event, |c| out.push(c));
    for (k, v) in fields {
        out.push(' ');
        out.push_str(k);
        out.push('=');
        let at = out.len();
        clean_chars(v, |c| out.push(c));
        let value = out.get(at..).unwrap_or_default();
        if value.is_empty() || value.contains([' ', '"', '=']) {
            let value = out.split_off(at);
            out.push('"');
            for c in value.chars() {
                if c == '"' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
    }
}

/// One JSON record (what [`event`] prints in `json` format).
pub fn json_record(event: &str, fields: &[(&str, &str)]) -> String {
    let mut line = String::new();
    json_into(&mut line, event, fields);
    line
}

/// Appends one JSON record, without its newline: `{"event": EVENT, key: value, ...}`, the
/// fields in their order; a key given twice (or `event` as a field) keeps its last value,
/// as a JSON map would.
fn json_into(out: &mut String, event: &str, fields: &[(&str, &str)]) {
    let later = |i: usize, k: &str| fields.iter().skip(i + 1).any(|(l, _)| *l == k);
    let event = fields
        .iter()
        .rev()
        .find(|(k, _)| *k == "event")
        .map_or(event, |(_, v)| v);
    out.push_str("{\"event\":\"");
    clean_chars(event, |c| json_char(out, c));
    out.push('"');
    for (i, (k, v)) in fields.iter().enumerate() {
        if *k == "event" || later(i, k) {
            continue;
        }
        out.push_str(",\"");
        k.chars().for_each(|c| json_char(out, c));
        out.push_str("\":\"");
        clean_chars(v, |c| json_char(out, c));
        out.push('"');
    }
    out.push('}');
}

/// One character of a JSON string, escaped as JSON requires.
fn json_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{0}'..='\u{1f}' => {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        }
        _ => out.push(c),
    }
}

thread_local! {
    /// Each thread's record, reused.
    static RECORD: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Write one record (see [`LogFlush`] for when).
pub fn event(event: &str, fields: &[(&str, &str)]) {
    let put = |line: &mut String| {
        line.clear();
        match FORMAT.get().copied().unwrap_or_default() {
            LogFormat::Text => text_into(line, event, fields),
            LogFormat::Json => json_into(line, event, fields),
        }
        line.push('\n');
        sink::put(event, line.as_bytes());
    };
    let reused = RECORD.try_with(|r| r.try_borrow_mut().map(|mut line| put(&mut line)).is_ok());
    if reused != Ok(true) {
        put(&mut String::new());
    }
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

    /// What the records were before they were written into a reused buffer (issue 24):
    /// the same text, the same JSON map.
    fn before(event: &str, fields: &[(&str, &str)]) -> (String, serde_json::Value) {
        let mut line = format!("forge-authz: {}", clean(event));
        let mut m = serde_json::Map::new();
        m.insert("event".into(), clean(event).into());
        for (k, v) in fields {
            let v = clean(v);
            if v.is_empty() || v.contains([' ', '"', '=']) {
                line.push_str(&format!(" {k}=\"{}\"", v.replace('"', "\\\"")));
            } else {
                line.push_str(&format!(" {k}={v}"));
            }
            m.insert((*k).to_string(), v.into());
        }
        (line, serde_json::Value::Object(m))
    }

    #[test]
    fn records_are_what_they_were() {
        let long = format!("{}\"x", "é".repeat(MAX_VALUE_CHARS));
        let values = [
            "",
            "plain",
            "two words",
            "a=b",
            "say \"hi\"",
            "back\\slash \\\"",
            "tab\tnew\nline\r\u{1b}[2K\u{7f}\u{85}",
            "/fzpat_k1.abc/x?y=\"z\"",
            "ünïcödé ☃",
            long.as_str(),
        ];
        for v in values {
            for fields in [
                vec![("path", v)],
                vec![("a", v), ("b", "-"), ("c", v)],
                vec![("k", "first"), ("k", v)],
                vec![("event", v), ("x", "1")],
            ] {
                let (text, json) = before("request", &fields);
                assert_eq!(text_record("request", &fields), text, "{fields:?}");
                let now: serde_json::Value =
                    serde_json::from_str(&json_record("request", &fields)).unwrap();
                assert_eq!(now, json, "{fields:?}");
            }
            let (text, json) = before(v, &[]);
            assert_eq!(text_record(v, &[]), text);
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&json_record(v, &[])).unwrap(),
                json
            );
        }
    }

    #[test]
    fn token_shaped_values_are_redacted() {
        let t = "fzpat_k1.Gx0mW1ZabcdefghABCDEFGH0123456789-_abcdefghABCDEFGH01.3QpXYZ.1c9f04ab";
        for (raw, want) in [
            (
                format!("/{t}/x.git/info/refs"),
                "/fzpat_[redacted]/x.git/info/refs".to_string(),
            ),
            (
                format!("/alice/secret.git/info/refs;access_token={t}"),
                "/alice/secret.git/info/refs;access_token=fzpat_[redacted]".to_string(),
            ),
            (
                format!("a {t} b {t}"),
                "a fzpat_[redacted] b fzpat_[redacted]".to_string(),
            ),
            (
                "/FZPAT_abc.def/x".to_string(),
                "/fzpat_[redacted]/x".to_string(),
            ),
            (
                "/fzpat%5Fk1.abc%2Edef/x".to_string(),
                "/fzpat_[redacted]/x".to_string(),
            ),
            (
                "/%66zpat_k1.abc/x".to_string(),
                "/fzpat_[redacted]/x".to_string(),
            ),
            ("fzpat_".to_string(), "fzpat_[redacted]".to_string()),
            (
                "/fzpa/fzpatx_/%zz/%".to_string(),
                "/fzpa/fzpatx_/%zz/%".to_string(),
            ),
            (
                "héllo fzpat_é".to_string(),
                "héllo fzpat_[redacted]é".to_string(),
            ),
        ] {
            assert_eq!(redact_tokens(&raw), want, "{raw}");
        }
        let line = text_record("request", &[("path", &format!("/{t}/x"))]);
        assert!(!line.contains("Gx0mW1Z"), "{line}");
        // Redaction happens before truncation: a token past the cut is still redacted,
        // and one across it cannot leave its start behind.
        let long = format!("{}{t}", "a".repeat(MAX_VALUE_CHARS - 10));
        assert!(!clean(&long).contains("k1.Gx0"), "{}", clean(&long));
    }
}

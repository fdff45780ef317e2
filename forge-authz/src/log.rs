//! Structured logs for `serve`, `git-shell` and the hooks: one record per line on stderr,
//! `text` (`forge-authz: EVENT key=value ...`) or `json` (JSON lines for log shippers).
//!
//! Every value is cleaned before it is written: anything token-shaped is redacted (a token
//! pasted into a path, a `;access_token=` parameter, a forward-auth `X-Original-URI` or
//! git's own error output never reaches the log: [`redact_tokens`]), control characters
//! are escaped (a header holding `\n` cannot forge a log line) and long values are
//! truncated. Callers never pass a credential or a query string on purpose (`path_only`
//! drops the query); the redaction is what catches the ones a client put elsewhere.

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
    let value = redact_tokens(value);
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

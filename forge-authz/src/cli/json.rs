//! `--json` output: every time in two forms (issue 25).
//!
//! A time is Unix seconds under its field name (what the store and the policy use, and
//! what a script can compare and subtract) and the same instant as ISO 8601 UTC under
//! `<field>_utc` (what the tables show, and what a person reads): `"expires": 1767225600,
//! "expires_utc": "2026-01-01T00:00:00Z"`. An absent time is `null` in both fields.

use serde_json::{Map, Value};

use super::table::utc;

/// The fields that hold a time (Unix seconds) in the commands' JSON, wherever they are.
pub const TIME_FIELDS: &[&str] = &[
    "at",
    "created",
    "expires",
    "revoked",
    "last_used",
    "added_at",
    "retired_at",
    "seen_at",
    "already_revoked",
];

/// Fields whose content is data as written (site data, a change's recorded detail): their
/// insides are never rewritten.
const OPAQUE: &[&str] = &["site", "detail"];

/// `v` with a `<field>_utc` beside every time field of [`TIME_FIELDS`] (an integer or
/// `null`; a field of that name holding anything else is not a time) at any depth,
/// outside [`OPAQUE`] fields.
pub fn with_utc(mut v: Value) -> Value {
    add_utc(&mut v);
    v
}

fn add_utc(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(add_utc),
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                if !OPAQUE.contains(&k.as_str()) {
                    add_utc(child);
                }
            }
            let found: Vec<(String, Value)> = o
                .iter()
                .filter(|(k, t)| TIME_FIELDS.contains(&k.as_str()) && (t.is_i64() || t.is_null()))
                .map(|(k, t)| (format!("{k}_utc"), utc_of(t)))
                .collect();
            for (k, t) in found {
                o.insert(k, t);
            }
        }
        _ => {}
    }
}

/// A time's ISO 8601 form; `null` for anything but an integer.
fn utc_of(t: &Value) -> Value {
    t.as_i64().map_or(Value::Null, |s| Value::String(utc(s)))
}

/// Make sure `o` has every field of `fields` (absent: `null`), so an absent time reads
/// `null` in both forms once [`with_utc`] has run.
pub fn ensure_null(o: &mut Map<String, Value>, fields: &[&str]) {
    for f in fields {
        o.entry(*f).or_insert(Value::Null);
    }
}

/// Print `v` (times in both forms) as one line on stdout.
pub fn print(v: Value) {
    outln!("{}", with_utc(v));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn times_get_their_utc_twin_at_any_depth_but_not_inside_data() {
        let v = with_utc(serde_json::json!({
            "expires": 1767225600,
            "revoked": null,
            "list": [{"at": 0}],
            "site": {"at": 5},
            "name": "at",
            "done": {"revoked": ["a list of ids"]},
        }));
        assert_eq!(v["expires_utc"], "2026-01-01T00:00:00Z");
        assert_eq!(v["revoked_utc"], Value::Null);
        assert_eq!(v["list"][0]["at_utc"], "1970-01-01T00:00:00Z");
        assert!(v["site"].get("at_utc").is_none());
        assert!(v.get("name_utc").is_none());
        assert!(v["done"].get("revoked_utc").is_none(), "not a time");
    }
}

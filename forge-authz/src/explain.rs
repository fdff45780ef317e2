//! `forge-authz decide --explain=text`: a decision and its trace in words, for people.
//!
//! Rendered from the decision as printed (`--explain=json`'s line) and nothing else: no
//! fact is looked up here. What the text says is what the policy's trace says (the
//! facts the deciding rule noted: a role, an expiry, a binding), so the text conceals
//! exactly what the trace conceals — the guest hides a private repository's facts behind
//! a missing one's trace (issue 13, issue 19) before any of this runs.

use std::fmt::Write as _;

use crate::request::{DecisionOutput, TraceStepOutput};

mod reasons;

/// A decision and its trace as lines of text, ending in a newline.
pub fn decision_text(d: &DecisionOutput) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {} {}", d.decision, d.status, d.reason);
    if !d.message.is_empty() {
        let _ = writeln!(out, "  {}", d.message);
    }
    if let Some(detail) = &d.detail {
        let _ = writeln!(out, "  detail: {}", with_times(detail));
    }
    if !d.refs.is_empty() {
        out.push_str("refs:\n");
        for r in &d.refs {
            let _ = write!(out, "  {:<5} {} ({})", r.decision, r.name, r.reason);
            if !r.message.is_empty() {
                let _ = write!(out, ": {}", r.message);
            }
            out.push('\n');
        }
    }
    if d.trace.is_empty() {
        out.push_str("no trace: the policy could not decide, so no rule was consulted\n");
        return out;
    }
    out.push_str("why (each rule the policy consulted, in order):\n");
    let scopes = token_scopes(&d.trace);
    for step in &d.trace {
        let mark = match step.outcome.as_str() {
            "pass" => "ok",
            "skip" => "skip",
            _ => d.decision.as_str(),
        };
        let words = if step.outcome == "decide" {
            decided(step, scopes)
        } else {
            passed(step)
        };
        let _ = writeln!(out, "  {mark:<5} {:<16} {}", step.rule, with_times(&words));
    }
    out
}

/// A batch's decisions, each headed by its repository.
pub fn batch_text(items: &[(String, DecisionOutput)]) -> String {
    let mut out = String::new();
    for (i, (repo, d)) in items.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{repo}");
        out.push_str(&decision_text(d));
    }
    out
}

/// Permissions per ref (the policy's answer carries no trace).
pub fn permissions_text(refs: &[(String, Vec<&str>)]) -> String {
    let mut out = String::from("permissions per ref (this request kind has no trace):\n");
    for (name, perms) in refs {
        let perms = if perms.is_empty() {
            "none".to_string()
        } else {
            perms.join(", ")
        };
        let _ = writeln!(out, "  {name}: {perms}");
    }
    out
}

/// The token's scopes, as the `scopes-known` step recorded them.
fn token_scopes(trace: &[TraceStepOutput]) -> Option<&str> {
    trace
        .iter()
        .find(|s| s.rule == "scopes-known" && s.outcome == "pass")
        .map(|s| s.detail.as_str())
}

/// A rule that passed or did not apply, in words.
fn passed(step: &TraceStepOutput) -> String {
    let d = step.detail.as_str();
    match (step.rule.as_str(), d) {
        ("request", _) => format!("the request: {d}"),
        ("token-signature", _) => format!("the token's signature is valid ({d})"),
        ("token-record", _) => format!("{d}: on record, not revoked, not expired"),
        ("scopes-known", _) => format!("the token's scopes: {d}"),
        ("binding", "unbound") => "the token is not bound to particular repositories".into(),
        ("binding", "inside the binding") => "the token's binding covers this target".into(),
        ("scope", "no token") => "no token: scopes do not apply".into(),
        ("scope", _) => match d.strip_prefix("may ") {
            Some(verb) => format!("the token's scopes allow it to {verb}"),
            None => format!("the token's scopes allow this: {d}"),
        },
        ("existence", _) => format!("`{d}` exists"),
        ("visibility", "readable") => "this credential may read it".into(),
        ("public-only", "public-only: false") => {
            "the token is not limited to public repositories".into()
        }
        ("role", _) => format!("role `{d}`: enough for this"),
        ("credential", _) => format!("credential: {d}"),
        _ => d.to_string(),
    }
}

/// The deciding rule, in words: the facts it noted (after its reason code), then what its
/// reason means and what to do (`reasons`).
fn decided(step: &TraceStepOutput, scopes: Option<&str>) -> String {
    let d = step.detail.as_str();
    // `code`, `code: detail` or `code: detail; facts` (the guest's deciding step).
    let (code, facts) = match d.split_once(": ") {
        Some((code, rest)) => (code, Some(rest)),
        None => (d, None),
    };
    let words = reasons::words(code);
    match (code, facts) {
        ("token-not-bound", Some(f)) => format!("the token is {f}: not valid for this target"),
        ("token-expired", Some(f)) => format!("the token {f}"),
        ("token-revoked", Some(f)) => format!("the token was {f}"),
        ("permission-denied", Some(f)) => f.to_string(),
        ("scope-missing", Some(f)) => match scopes {
            Some(s) => format!("the token's scopes are {s}; this {f}"),
            None => format!("the token's scopes do not allow this: it {f}"),
        },
        // Anonymous: a private repository's 401 is a missing one's (issue 13).
        ("authentication-required", None) if step.rule == "existence" => {
            reasons::words("repository-not-found")
                .unwrap_or(code)
                .to_string()
        }
        ("granted" | "public-read", None) => format!("{code}: every rule above passed"),
        // Facts first, then what they mean (a concealing verdict's facts are only its
        // detail, the same for a missing target).
        (_, Some(f)) => match words {
            Some(w) => format!("{f}: {w}"),
            None => format!("{code}: {f}"),
        },
        (_, None) => words.map_or_else(|| code.to_string(), str::to_string),
    }
}

/// A detail's Unix times (`expired at 1793491200`) as ISO 8601 UTC, as tables show them.
fn with_times(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(" at ") {
        let (before, after) = rest.split_at(i + 4);
        out.push_str(before);
        let digits = after
            .char_indices()
            .take_while(|(j, c)| c.is_ascii_digit() || (*j == 0 && *c == '-'))
            .count();
        let (number, tail) = after.split_at(digits);
        match number.parse::<i64>() {
            Ok(t) => out.push_str(&forge_authz_guest::site::time::utc(t)),
            Err(_) => out.push_str(number),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{decision_text, with_times};
    use crate::request::DecisionOutput;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_site_refusal_reads_as_words_with_the_sites_code() {
        // Issue 25: every refusal reason has words. `site-refused` comes from a site
        // policy only (README "Writing your own policy"), never the shipped module.
        let d: DecisionOutput = serde_json::from_value(serde_json::json!({
            "decision": "deny", "status": 403, "reason": "site-refused",
            "message": "pushes are frozen until Monday", "detail": "change-freeze",
            "trace": [
                {"rule": "grant", "outcome": "pass", "detail": "granted"},
                {"rule": "site", "outcome": "decide", "detail": "site-refused: change-freeze"},
            ],
        }))
        .unwrap();
        let text = decision_text(&d);
        assert!(
            text.contains(
                "deny  site             change-freeze: the site's own policy refused it \
                 (its code is the detail): ask the site's administrators"
            ),
            "{text}"
        );
    }

    #[test]
    fn unix_times_read_as_utc() {
        assert_eq!(
            with_times("expired at 1767225600"),
            "expired at 2026-01-01T00:00:00Z"
        );
        assert_eq!(with_times("look at `x`"), "look at `x`");
        assert_eq!(with_times("at 5"), "at 5");
    }
}

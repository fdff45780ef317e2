//! What a person types where a token id or a scope goes, checked with the policy before
//! anything is done (issue 25):
//!
//! - a token's secret pasted where its id goes is recognised by the policy's `inspect`
//!   (offline: format and checksum, no key) and its id used instead, or, if it is not a
//!   valid token, refused; the secret is never printed;
//! - an unknown scope gets a suggestion computed from the policy's answers: a legacy Gitea
//!   scope (one `scopes migrate` changes) is sent to `scopes migrate`, a near miss gets
//!   "did you mean" with the nearest scope of the guest's vocabulary that the loaded policy
//!   accepts.

use crate::cli::{EXIT_ERROR, fail};
use crate::policy::Policy;
use crate::wit;

/// The token id `arg` names: `arg` itself, or the id inside a token secret pasted in its
/// place (said on stderr, without the secret). A value shaped like a token that is not a
/// valid one is refused without being shown.
pub fn token_id(policy: &mut dyn Policy, arg: &str) -> anyhow::Result<String> {
    match policy.inspect(arg).map_err(anyhow::Error::from)? {
        Ok(info) => {
            eprintln!(
                "forge-authz: that is a token's secret, not its id: using its id `{}` \
                 (the secret is not shown; if it was pasted where others can read it, \
                 rotate the token)",
                info.token_id
            );
            Ok(info.token_id)
        }
        Err(e) if matches!(e.code(), "wrong-prefix" | "empty") => Ok(arg.to_owned()),
        Err(e) => Err(fail(
            EXIT_ERROR,
            format!(
                "that looks like a token's secret but is not a valid one ({}); it is not \
                 shown. Pass the token's id instead: `forge-authz token list` shows them",
                e.code()
            ),
        )),
    }
}

/// Check `scopes` with the policy: an unknown one is an input error ([`EXIT_ERROR`]) with
/// a suggestion ([`unknown_scope`]).
pub fn check_scopes(policy: &mut dyn Policy, scopes: &[String]) -> anyhow::Result<()> {
    match policy
        .normalize_scopes(scopes)
        .map_err(anyhow::Error::from)?
    {
        Ok(_) => Ok(()),
        Err(wit::ScopeError::UnknownScope(s)) => Err(fail(EXIT_ERROR, unknown_scope(policy, &s)?)),
    }
}

/// What to say about the unknown scope `s`: where a legacy scope goes, the nearest known
/// scope, or how to check a list.
pub fn unknown_scope(policy: &mut dyn Policy, s: &str) -> anyhow::Result<String> {
    let shown = crate::log::redact_tokens(s);
    let migrated = policy
        .migrate_legacy_scopes(&[s.to_owned()])
        .map_err(anyhow::Error::from)?;
    if migrated != [s] && accepted(policy, &migrated)? {
        return Ok(format!(
            "unknown scope `{shown}`: it is a legacy Gitea scope; run `forge-authz scopes \
             migrate {shown}` (it becomes `{}`)",
            migrated.join(",")
        ));
    }
    let mut best: Option<(usize, &str)> = None;
    for &candidate in forge_authz_guest::policy::vocabulary::SCOPES.iter() {
        if let Some(d) = distance(s, candidate)
            && best.is_none_or(|(b, _)| d < b)
            && accepted(policy, &[candidate.to_owned()])?
        {
            best = Some((d, candidate));
        }
    }
    Ok(match best {
        Some((_, c)) => format!(
            "unknown scope `{shown}`: did you mean `{c}`? (`forge-authz scopes normalize \
             SCOPE,...` checks a list)"
        ),
        None => format!(
            "unknown scope `{shown}`: scopes are `read:CATEGORY` or `write:CATEGORY` \
             (`forge-authz scopes normalize SCOPE,...` checks a list)"
        ),
    })
}

/// Whether the loaded policy accepts every scope of `scopes`.
fn accepted(policy: &mut dyn Policy, scopes: &[String]) -> anyhow::Result<bool> {
    Ok(policy
        .normalize_scopes(scopes)
        .map_err(anyhow::Error::from)?
        .is_ok())
}

/// How far `typed` is from `scope`, if near enough to suggest: a shortened category
/// (`write:repo` -> `write:repository`) by the letters left out, else an edit distance of
/// at most 2 (a third of the length for long ones).
fn distance(typed: &str, scope: &str) -> Option<usize> {
    let typed = typed.to_ascii_lowercase();
    let (tl, tc) = typed.split_once(':').unwrap_or(("", typed.as_str()));
    let (sl, sc) = scope.split_once(':').unwrap_or(("", scope));
    if tc.len() >= 2 && sc.starts_with(tc) && (tl == sl || tl.is_empty()) {
        return Some(sc.len() - tc.len());
    }
    let d = levenshtein(&typed, scope);
    (d <= 2.max(scope.len() / 3)).then_some(d)
}

/// The edit distance between two strings (in characters).
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = i;
        let mut next = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            let above = row
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let left = next.last().copied().unwrap_or(usize::MAX).saturating_add(1);
            diagonal = row.get(j + 1).copied().unwrap_or(usize::MAX);
            next.push(substitute.min(above).min(left));
        }
        row = next;
    }
    row.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_near_and_others_are_not() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "ab"), 2);
        assert_eq!(distance("write:repo", "write:repository"), Some(6));
        assert_eq!(distance("write:repo", "read:repository"), None);
        assert_eq!(distance("read:isue", "read:issue"), Some(1));
        assert_eq!(distance("zzz", "read:issue"), None);
    }
}

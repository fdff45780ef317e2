//! Ref updates and branch protection: ref-name validity, glob patterns, and who may
//! create, push, force-push or delete a ref (Launchpad `checkRefPermissions`, Gitea
//! protected branches).
#[allow(unused_imports)]
use crate::prelude::*;

use super::decision::{Reason, RefVerdict};
use super::model::{ProtectedRef, RefAccess, RefChange, RefUpdate, RepositoryFacts, Role};
use super::principal::{Principal, Repo, same_name};

const MAX_REF_LEN: usize = 255;

/// A valid full ref name (`git check-ref-format`, restricted to what forges accept):
/// starts with `refs/`, no empty component, no `..`, `@{`, `//`, control characters,
/// spaces or `~^:?*[\`; no component starting with `.` or ending with `.lock`; no
/// trailing `/` or `.`.
pub fn valid_ref_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.len() > MAX_REF_LEN || !b.starts_with(b"refs/") || matches!(b.last(), Some(b'/' | b'.')) {
        return false;
    }
    // One pass (substring searches cost ~1 µs per ref in wasm): forbidden bytes, `..`,
    // `@{`, and each `/`-separated component.
    let component_ok =
        |c: &[u8]| !c.is_empty() && c.first() != Some(&b'.') && !c.ends_with(b".lock");
    let mut prev = 0u8;
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        // (A `match`: `<[u8]>::contains` is a `memchr` call per byte.)
        if c < 0x20
            || matches!(
                c,
                0x7f | b' ' | b'~' | b'^' | b':' | b'?' | b'*' | b'[' | b'\\'
            )
        {
            return false;
        }
        if (prev == b'.' && c == b'.') || (prev == b'@' && c == b'{') {
            return false;
        }
        if c == b'/' {
            if !b.get(start..i).is_some_and(component_ok) {
                return false;
            }
            start = i + 1;
        }
        prev = c;
    }
    b.get(start..).is_some_and(component_ok)
}

/// Whether a protection pattern uses only the supported syntax: printable ASCII with no
/// glob character other than `*` (`?`, `[…]`, `{…}`, `\`, `!`, `^`, `~` and `:` are not
/// supported), at most 255 bytes, not empty.
pub fn valid_pattern(pattern: &str) -> bool {
    !pattern.is_empty()
        && pattern.len() <= MAX_REF_LEN
        && pattern.bytes().all(|b| {
            b > b' '
                && b < 0x7f
                && !matches!(
                    b,
                    b'?' | b'[' | b']' | b'{' | b'}' | b'\\' | b'!' | b'^' | b'~' | b':'
                )
        })
}

/// Match a full ref name against a protection pattern: `*` matches within one path
/// segment, `**` across segments, everything else literally and ASCII case-insensitively
/// (Gitea compares rule names with `EqualFold`; a protection that matches more refs is the
/// safe side). A pattern that does not start with `refs/` names branches (`main` means
/// `refs/heads/main`). A pattern with unsupported syntax ([`valid_pattern`]) matches
/// every ref: a rule the policy cannot read protects everything rather than nothing.
/// Quadratic at worst (both are at most 255 bytes), never exponential.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    if !valid_pattern(pattern) {
        return true;
    }
    let full;
    let pattern = if pattern
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("refs/"))
    {
        pattern
    } else {
        full = format!("refs/heads/{pattern}");
        &full
    };
    if name.len() > MAX_REF_LEN {
        return false;
    }
    let p = pattern.as_bytes();
    let n = name.as_bytes();
    // reach[j]: the pattern prefix consumed so far matches name[..j].
    let mut reach = vec![false; n.len() + 1];
    if let Some(r) = reach.first_mut() {
        *r = true;
    }
    let mut i = 0;
    while let Some(&c) = p.get(i) {
        let double = c == b'*' && p.get(i + 1) == Some(&b'*');
        let mut next = vec![false; n.len() + 1];
        if c == b'*' {
            // Star: from any reached position, extend over allowed characters.
            let mut open = false;
            for j in 0..=n.len() {
                if reach.get(j).copied().unwrap_or(false) {
                    open = true;
                }
                if let Some(slot) = next.get_mut(j) {
                    *slot = open;
                }
                if !double && n.get(j) == Some(&b'/') {
                    open = false;
                }
            }
            i += if double { 2 } else { 1 };
        } else {
            for j in 0..n.len() {
                if reach.get(j).copied().unwrap_or(false)
                    && n.get(j).is_some_and(|b| b.eq_ignore_ascii_case(&c))
                    && let Some(slot) = next.get_mut(j + 1)
                {
                    *slot = true;
                }
            }
            i += 1;
        }
        reach = next;
    }
    reach.last().copied().unwrap_or(false)
}

fn rule_for<'r>(repo: &'r RepositoryFacts, name: &str) -> Option<&'r ProtectedRef> {
    repo.protected_refs
        .iter()
        .find(|r| pattern_matches(&r.pattern, name))
}

fn access_ok(access: &RefAccess, p: &Principal<'_>, role: Role) -> bool {
    match access {
        RefAccess::Writers => role >= Role::Write,
        RefAccess::Admins => role >= Role::Admin,
        RefAccess::Users(users) => {
            role >= Role::Write
                && p.user()
                    .is_some_and(|u| users.iter().any(|x| same_name(x, u.name)))
        }
        RefAccess::Nobody => false,
    }
}

/// The verdict on one ref update, for a principal already allowed to push (`role` is its
/// role on the repository).
pub(crate) fn verdict(
    p: &Principal<'_>,
    repo: Repo<'_>,
    role: Role,
    update: &RefUpdate,
) -> RefVerdict {
    let refuse = |reason: Reason, message: String| RefVerdict {
        reason,
        message: Some(message),
    };
    if !valid_ref_name(&update.name) {
        return refuse(Reason::RefNameInvalid, "not a valid ref update".into());
    }
    let destructive = match update.change {
        RefChange::Delete => true,
        RefChange::Update => update.force,
        RefChange::Create => false,
    };
    if let Some(rule) = rule_for(repo.facts, &update.name) {
        if destructive && !access_ok(&rule.force_push, p, role) {
            return refuse(
                Reason::ForcePushProtected,
                format!(
                    "`{}` is protected: force-push and deletion are not allowed",
                    update.name
                ),
            );
        }
        if !destructive && !access_ok(&rule.push, p, role) {
            return refuse(
                Reason::RefProtected,
                format!("`{}` is protected: you may not push to it", update.name),
            );
        }
    }
    RefVerdict {
        reason: Reason::Granted,
        message: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(pattern_matches("main", "refs/heads/main"));
        assert!(!pattern_matches("main", "refs/heads/main2"));
        assert!(pattern_matches("release/*", "refs/heads/release/1.0"));
        assert!(!pattern_matches(
            "release/*",
            "refs/heads/release/1.0/hotfix"
        ));
        assert!(pattern_matches("refs/tags/**", "refs/tags/v1/rc/2"));
        assert!(pattern_matches("refs/heads/*", "refs/heads/x"));
        assert!(!pattern_matches("refs/heads/*", "refs/tags/x"));
        assert!(pattern_matches("refs/heads/**/x", "refs/heads/a/b/x"));
        assert!(!pattern_matches("refs/heads/*/x", "refs/heads/a/b/x"));
        assert!(pattern_matches("release/**", "refs/heads/release/a/b"));
        assert!(pattern_matches("refs/heads/**x", "refs/heads/a/bx"));
        assert!(!pattern_matches("refs/heads/**x", "refs/heads/a/b"));
        let at_limit = format!("refs/heads/{}", "a".repeat(MAX_REF_LEN - 11));
        assert!(pattern_matches("refs/heads/**", &at_limit));
        assert!(!pattern_matches("refs/heads/**", &format!("{at_limit}a")));
        // A DEL in a pattern is unsupported syntax: it protects everything.
        assert!(!valid_pattern("ma\u{7f}in") && pattern_matches("ma\u{7f}in", "refs/heads/x"));
        // Case-insensitive, as Gitea's EqualFold; unsupported syntax protects everything.
        assert!(pattern_matches("main", "refs/heads/MAIN"));
        assert!(pattern_matches("Release/*", "refs/heads/release/1"));
        for odd in ["ma?n", "[m]ain", "{main,dev}", "", "a b", "x\\y"] {
            assert!(pattern_matches(odd, "refs/heads/anything"), "{odd}");
            assert!(!valid_pattern(odd), "{odd}");
        }
        let long = "a".repeat(200);
        assert!(!pattern_matches(
            &"*a".repeat(100),
            &format!("refs/heads/{long}b")
        ));
    }

    /// The rules `valid_ref_name` checks in one pass, spelled as they read.
    fn valid_ref_name_reference(name: &str) -> bool {
        if name.len() > MAX_REF_LEN || !name.starts_with("refs/") || name.ends_with('/') {
            return false;
        }
        if name.ends_with('.') || name.contains("..") || name.contains("@{") {
            return false;
        }
        if name
            .bytes()
            .any(|b| b < 0x20 || b == 0x7f || b" ~^:?*[\\".contains(&b))
        {
            return false;
        }
        name.split('/')
            .all(|c| !c.is_empty() && !c.starts_with('.') && !c.ends_with(".lock"))
    }

    proptest::proptest! {
        /// The one-pass check is exactly the rules as written, on names built from the
        /// characters that matter (separators, dots, `@{`, `.lock`, forbidden bytes).
        #[test]
        fn one_pass_ref_name_check_is_the_reference(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("refs/".to_string()),
                    "[a-z]{0,4}",
                    proptest::strategy::Just("/".to_string()),
                    proptest::strategy::Just(".".to_string()),
                    proptest::strategy::Just("..".to_string()),
                    proptest::strategy::Just(".lock".to_string()),
                    proptest::strategy::Just("@{".to_string()),
                    proptest::strategy::Just("@".to_string()),
                    "[ ~^:?*\\[\\\\\\x00-\\x1f\\x7f{}é]",
                ],
                0..12,
            )
        ) {
            let name: String = parts.concat();
            proptest::prop_assert_eq!(valid_ref_name(&name), valid_ref_name_reference(&name), "{:?}", name);
        }
    }

    #[test]
    fn ref_names() {
        assert!(valid_ref_name("refs/heads/main"));
        // Only the sequence `@{` is refused: `@` and `{` alone are git's to allow (the
        // mutation run's one non-equivalent survivor, issue 19).
        for good in [
            "refs/heads/a@b",
            "refs/heads/x{y}",
            "refs/tags/v1@",
            "refs/heads/{",
        ] {
            assert!(valid_ref_name(good), "{good}");
        }
        // 255 bytes is the longest name.
        let at_limit = format!("refs/heads/{}", "a".repeat(MAX_REF_LEN - 11));
        assert_eq!(at_limit.len(), MAX_REF_LEN);
        assert!(valid_ref_name(&at_limit));
        assert!(!valid_ref_name(&format!("{at_limit}a")));
        for control in [
            "refs/heads/a\u{1}b",
            "refs/heads/a\u{1f}b",
            "refs/heads/a\u{7f}b",
        ] {
            assert!(!valid_ref_name(control), "{control:?}");
        }
        for bad in [
            "main",
            "refs/heads/",
            "refs/heads/a..b",
            "refs/heads/a b",
            "refs/heads/x.lock",
            "refs/heads/.x",
            "refs//x",
            "refs/heads/a@{1}",
        ] {
            assert!(!valid_ref_name(bad), "{bad}");
        }
    }
}

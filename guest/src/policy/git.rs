//! Git pull and push (reference §1.13, §2.8, §1.19), per-ref verdicts, Launchpad's ref
//! permissions, and the batch form.
#[allow(unused_imports)]
use crate::prelude::*;

use super::decision::{Decision, Reason, Rule, Trace, not_found};
use super::model::{GitAction, Options, RefUpdate, RepositoryFacts, RepositoryKind, Role};
use super::principal::{Principal, Repo, Target, visible_to_anonymous};
use super::refs;
use super::scope::Category;

/// Why a repository can never be written, if it cannot (mirrors, imports, archives:
/// reference §1.13, §2.8). Pushes and API routes that write content alike.
pub(crate) fn write_block(repo: &RepositoryFacts) -> Option<Decision> {
    match repo.kind {
        RepositoryKind::Mirror => Some(Decision::new(
            Reason::RepositoryMirror,
            "this repository is a mirror and cannot be pushed to",
        )),
        RepositoryKind::Import => Some(Decision::new(
            Reason::RepositoryImport,
            "this repository is an import and cannot be pushed to",
        )),
        RepositoryKind::Hosted if repo.archived => Some(Decision::new(
            Reason::RepositoryArchived,
            "this repository is archived and cannot be pushed to",
        )),
        RepositoryKind::Hosted => None,
    }
}

/// The scope a token needs for a git action, if it lacks it.
fn scope_refusal(p: &Principal<'_>, action: GitAction) -> Option<Decision> {
    let token = p.token()?;
    let s = &token.scopes;
    let (ok, verb, needed) = match action {
        GitAction::Pull => (
            s.can_read(Category::Repository) || s.pull,
            "pull",
            "read:repository or repository:pull",
        ),
        GitAction::Push => (
            s.can_write(Category::Repository) || s.push,
            "push",
            "write:repository or repository:push",
        ),
    };
    (!ok).then(|| {
        Decision::new(
            Reason::ScopeMissing,
            format!("this access token may not {verb}: it needs the scope {needed}"),
        )
        .with_detail(format!("needs {needed}"))
    })
}

/// Decide a git request for `path` with `repo` facts (None: no such repository).
pub(crate) fn decide(
    p: &Principal<'_>,
    options: &Options,
    path: &str,
    action: GitAction,
    updates: &[RefUpdate],
    facts: Option<&RepositoryFacts>,
    mut trace: Trace,
) -> Decision {
    let repo = facts.map(|facts| Repo { path, facts });
    if let Some(token) = p.token() {
        if !token.covers(Target::Repository(path)) {
            if options.binding_fallback_to_anonymous {
                trace.pass(Rule::Binding, || {
                    "outside the binding: treated as anonymous".into()
                });
                return decide(
                    &Principal::Anonymous,
                    options,
                    path,
                    action,
                    updates,
                    facts,
                    trace,
                );
            }
            return trace.decide(
                Rule::Binding,
                Decision::new(
                    Reason::TokenNotBound,
                    "this access token is not valid for this repository",
                ),
            );
        }
        trace.pass(Rule::Binding, || {
            if token.bound() {
                "inside the binding".into()
            } else {
                "unbound".into()
            }
        });
        if let Some(d) = scope_refusal(p, action) {
            return trace.decide(Rule::Scope, d);
        }
        trace.pass(Rule::Scope, || format!("may {}", action.name()));
    } else {
        trace.skip(Rule::Scope, || "no token".into());
    }
    if matches!(p, Principal::Anonymous) && action == GitAction::Push {
        return trace.decide(
            Rule::Credential,
            Decision::new(
                Reason::AuthenticationRequired,
                "pushing needs a credential: use an access token",
            ),
        );
    }
    if let Principal::DeployKey { key } = p {
        let ok = key
            .repository
            .as_deref()
            .is_some_and(|r| super::principal::same_name(r, path));
        if !ok {
            // reference §1.19: a deploy key not on this repository -> 404.
            return trace.decide(
                Rule::DeployKey,
                not_found().with_detail("deploy key of another repository"),
            );
        }
        trace.pass(Rule::DeployKey, || "key of this repository".into());
    }
    let anonymous_refusal = || {
        // Private and missing repositories get the same 401, so git prompts for a
        // credential and an anonymous client learns nothing about existence.
        Decision::new(
            Reason::AuthenticationRequired,
            "this repository needs a credential: use an access token",
        )
    };
    let Some(repo) = repo else {
        let d = if matches!(p, Principal::Anonymous) {
            anonymous_refusal()
        } else {
            not_found()
        };
        return trace.decide(Rule::Existence, d);
    };
    trace.pass(Rule::Existence, || repo.path.to_string());
    if !p.can_read(repo) {
        let d = if matches!(p, Principal::Anonymous) {
            anonymous_refusal()
        } else {
            not_found()
        };
        return trace.decide(Rule::Visibility, d);
    }
    trace.pass(Rule::Visibility, || "readable".into());
    if let Some(token) = p.token() {
        if token.scopes.public_only && !visible_to_anonymous(repo.facts) {
            return trace.decide(
                Rule::PublicOnly,
                Decision::new(
                    Reason::TokenPublicOnly,
                    "this access token is limited to public repositories",
                ),
            );
        }
        trace.pass(Rule::PublicOnly, || {
            format!("public-only: {}", token.scopes.public_only)
        });
    }
    if action == GitAction::Pull {
        let d = if matches!(p, Principal::Anonymous) {
            Decision::allowed(Reason::PublicRead)
        } else {
            Decision::allowed(Reason::Granted)
        };
        return trace.decide(Rule::Grant, d);
    }
    if let Some(d) = write_block(repo.facts) {
        return trace.decide(Rule::WriteRules, d);
    }
    let role = p.role_on(repo);
    if role < Role::Write {
        let d = match p {
            Principal::DeployKey { .. } => Decision::new(
                Reason::DeployKeyReadOnly,
                "this deploy key is read-only: it cannot push",
            ),
            _ => Decision::new(
                Reason::PermissionDenied,
                "you may read this repository but not push to it",
            ),
        };
        return trace.decide(Rule::Role, d);
    }
    trace.pass(Rule::Role, || role.name().into());
    let verdicts: Vec<_> = updates
        .iter()
        .map(|u| refs::verdict(p, repo, role, u))
        .collect();
    let refused = verdicts.iter().filter(|v| !v.allow()).count();
    let mut d = if !verdicts.is_empty() && refused == verdicts.len() {
        let first = verdicts.iter().find(|v| !v.allow());
        let (reason, message) = first
            .map(|v| (v.reason, v.message.clone().unwrap_or_default()))
            .unwrap_or((Reason::RefProtected, "no ref update is allowed".into()));
        Decision::new(reason, message).with_detail(format!(
            "{refused} of {} ref updates refused",
            verdicts.len()
        ))
    } else if refused > 0 {
        Decision::new(
            Reason::Granted,
            "push allowed; some ref updates are refused",
        )
        .with_detail(format!(
            "{refused} of {} ref updates refused",
            verdicts.len()
        ))
    } else {
        Decision::allowed(Reason::Granted)
    };
    d.refs = Some(verdicts);
    trace.decide(Rule::Refs, d)
}

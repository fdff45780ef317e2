//! Git pull and push (reference §1.13, §2.8, §1.19), per-ref verdicts, Launchpad's ref
//! permissions, and the batch form.
#[allow(unused_imports)]
use crate::prelude::*;

use super::decision::{Decision, Reason, Rule, Trace, not_found};
use super::ip;
use super::model::{GitAction, RefUpdate, RepositoryFacts, RepositoryKind, Role};
use super::principal::{Principal, Refusal, Repo, Target, visible_to_anonymous};
use super::refs;
use super::scope::Category;
use super::targets::{Context, binding_facts};

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
    ctx: &Context<'_>,
    path: &str,
    action: GitAction,
    updates: &[RefUpdate],
    facts: Option<&RepositoryFacts>,
    mut trace: Trace,
) -> Decision {
    if let Some(token) = p.token()
        && !token.covers(Target::Repository(path))
        && ctx.options.binding_fallback_to_anonymous
    {
        trace.pass(Rule::Binding, || {
            "outside the binding: treated as anonymous".into()
        });
        return decide(
            &Principal::Anonymous,
            ctx,
            path,
            action,
            updates,
            facts,
            trace,
        );
    }
    let repo = match readable(p, ctx.client, path, action, facts, &mut trace) {
        Ok(repo) => repo,
        Err((rule, d)) => return trace.decide(rule, d),
    };
    if action == GitAction::Pull {
        return trace.decide(Rule::Grant, pull_grant(p));
    }
    match writable(p, repo, &mut trace) {
        Ok(role) => trace.decide(Rule::Refs, ref_updates(p, repo, role, updates)),
        Err((rule, d)) => trace.decide(rule, d),
    }
}

/// The rules a pull and a push both pass, in order, up to a repository the principal may
/// read: the token's binding and scope, a credential to push, the deploy key's
/// repository, existence, visibility, the owner's IP allow list, public-only.
fn readable<'a>(
    p: &Principal<'_>,
    client: ip::Client<'_>,
    path: &'a str,
    action: GitAction,
    facts: Option<&'a RepositoryFacts>,
    trace: &mut Trace,
) -> Result<Repo<'a>, Refusal> {
    token_rules(p, path, action, trace)?;
    push_needs_credential(p, action)?;
    deploy_key_rule(p, path, trace)?;
    let repo = visible_repository(p, path, facts, trace)?;
    ip::owner_rule(client, &repo.facts.owner_ip_allow, trace).map_err(|d| (Rule::IpAllow, d))?;
    public_only_rule(p, repo, trace)?;
    Ok(repo)
}

/// A token must be bound to the repository (a token outside its binding was decided as
/// anonymous already, if the option says so) and hold the action's scope.
fn token_rules(
    p: &Principal<'_>,
    path: &str,
    action: GitAction,
    trace: &mut Trace,
) -> Result<(), Refusal> {
    let Some(token) = p.token() else {
        trace.skip(Rule::Scope, || "no token".into());
        return Ok(());
    };
    if !token.covers(Target::Repository(path)) {
        trace.note(Rule::Binding, || binding_facts(token));
        return Err((
            Rule::Binding,
            Decision::new(
                Reason::TokenNotBound,
                "this access token is not valid for this repository",
            ),
        ));
    }
    trace.pass(Rule::Binding, || {
        if token.bound() {
            "inside the binding".into()
        } else {
            "unbound".into()
        }
    });
    if let Some(d) = scope_refusal(p, action) {
        return Err((Rule::Scope, d));
    }
    trace.pass(Rule::Scope, || format!("may {}", action.name()));
    Ok(())
}

/// Anonymous may pull, never push.
fn push_needs_credential(p: &Principal<'_>, action: GitAction) -> Result<(), Refusal> {
    if matches!(p, Principal::Anonymous) && action == GitAction::Push {
        return Err((
            Rule::Credential,
            Decision::new(
                Reason::AuthenticationRequired,
                "pushing needs a credential: use an access token",
            ),
        ));
    }
    Ok(())
}

/// A deploy key reaches its own repository only.
fn deploy_key_rule(p: &Principal<'_>, path: &str, trace: &mut Trace) -> Result<(), Refusal> {
    if let Principal::DeployKey { key } = p {
        let ok = key
            .repository
            .as_deref()
            .is_some_and(|r| super::principal::same_name(r, path));
        if !ok {
            // reference §1.19: a deploy key not on this repository -> 404.
            return Err((
                Rule::DeployKey,
                not_found().with_detail("deploy key of another repository"),
            ));
        }
        trace.pass(Rule::DeployKey, || "key of this repository".into());
    }
    Ok(())
}

/// The refusal for a repository the principal cannot see, missing or private alike.
fn unseen(p: &Principal<'_>) -> Decision {
    if matches!(p, Principal::Anonymous) {
        // Private and missing repositories get the same 401, so git prompts for a
        // credential and an anonymous client learns nothing about existence.
        Decision::new(
            Reason::AuthenticationRequired,
            "this repository needs a credential: use an access token",
        )
    } else {
        not_found()
    }
}

/// The repository must exist and be readable by the principal.
fn visible_repository<'a>(
    p: &Principal<'_>,
    path: &'a str,
    facts: Option<&'a RepositoryFacts>,
    trace: &mut Trace,
) -> Result<Repo<'a>, Refusal> {
    let Some(facts) = facts else {
        return Err((Rule::Existence, unseen(p)));
    };
    let repo = Repo { path, facts };
    trace.pass(Rule::Existence, || repo.path.to_string());
    if !p.can_read(repo) {
        return Err((Rule::Visibility, unseen(p)));
    }
    trace.pass(Rule::Visibility, || "readable".into());
    Ok(repo)
}

/// A public-only token reaches public repositories only.
fn public_only_rule(p: &Principal<'_>, repo: Repo<'_>, trace: &mut Trace) -> Result<(), Refusal> {
    if let Some(token) = p.token() {
        if token.scopes.public_only && !visible_to_anonymous(repo.facts) {
            // The verdict already says the token sees the repository and it is not public.
            trace.note(Rule::PublicOnly, || {
                format!("the token is public-only; `{}` is not public", repo.path)
            });
            return Err((
                Rule::PublicOnly,
                Decision::new(
                    Reason::TokenPublicOnly,
                    "this access token is limited to public repositories",
                ),
            ));
        }
        trace.pass(Rule::PublicOnly, || {
            format!("public-only: {}", token.scopes.public_only)
        });
    }
    Ok(())
}

/// A pull of a readable repository is granted.
fn pull_grant(p: &Principal<'_>) -> Decision {
    if matches!(p, Principal::Anonymous) {
        Decision::allowed(Reason::PublicRead)
    } else {
        Decision::allowed(Reason::Granted)
    }
}

/// The rules a push passes beyond reading: a repository that can be written, and the
/// `write` role on it (which the ref rules then read).
fn writable(p: &Principal<'_>, repo: Repo<'_>, trace: &mut Trace) -> Result<Role, Refusal> {
    if let Some(d) = write_block(repo.facts) {
        return Err((Rule::WriteRules, d));
    }
    let role = p.role_on(repo);
    if role < Role::Write {
        trace.note(Rule::Role, || match p {
            Principal::DeployKey { .. } => "a read-only deploy key; push needs write".into(),
            _ => format!(
                "role `{}` on `{}`; push needs `write`",
                role.name(),
                repo.path
            ),
        });
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
        return Err((Rule::Role, d));
    }
    trace.pass(Rule::Role, || role.name().into());
    Ok(role)
}

/// Each ref update's verdict, and the push's: refused when every update is (for the
/// first refused update's reason), granted otherwise, saying how many were refused.
fn ref_updates(p: &Principal<'_>, repo: Repo<'_>, role: Role, updates: &[RefUpdate]) -> Decision {
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
    d
}

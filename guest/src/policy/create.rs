//! Repository creation by push (Launchpad and Gitea push-to-create): who may create under
//! which owner, and why a token may never confirm or abort a creation (reference §2.10).
#[allow(unused_imports)]
use crate::prelude::*;

use super::decision::{Decision, NAMESPACE_NOT_FOUND_MESSAGE, Reason, Rule, Trace, not_found};
use super::ip;
use super::model::{CreationStep, NamespaceFacts, RepositoryFacts, Role, Visibility};
use super::principal::{Principal, Refusal, Repo, Target, owner_of, same_name};
use super::scope::Category;

/// A user or organisation: the name the policy asked about and the facts the host gave.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Namespace<'a> {
    pub name: &'a str,
    pub facts: &'a NamespaceFacts,
}

/// Whether the principal may see a user or organisation.
pub(crate) fn namespace_visible(p: &Principal<'_>, ns: Namespace<'_>) -> bool {
    match ns.facts.visibility {
        Visibility::Public => true,
        Visibility::Limited => !matches!(p, Principal::Anonymous),
        // The membership fact counts only for a principal with a user: the host gathered
        // it for the credential's owner, and an anonymous fallback (a token outside its
        // binding) must not inherit it.
        Visibility::Private => {
            p.site_admin()
                || p.user().is_some_and(|u| {
                    ns.facts.member_role >= Role::Read || same_name(u.name, ns.name)
                })
        }
    }
}

/// The principal's role in a namespace: `admin` in its own user namespace and for an
/// unrestricted site administrator; in an organisation, its membership role; nothing in
/// another user's namespace. A restricted token is capped at `write`, as on repositories.
pub(crate) fn namespace_role(p: &Principal<'_>, ns: Namespace<'_>) -> Role {
    let own = !ns.facts.organization && p.user().is_some_and(|u| same_name(u.name, ns.name));
    let base = if own || p.site_admin() {
        Role::Admin
    } else if ns.facts.organization && p.user().is_some() {
        ns.facts.member_role
    } else {
        Role::None
    };
    if p.restricted() {
        base.min(Role::Write)
    } else {
        base
    }
}

fn namespace_not_found() -> Decision {
    Decision::new(Reason::NamespaceNotFound, NAMESPACE_NOT_FOUND_MESSAGE)
}

/// Decide a creation step for `path` (`owner/name`, already validated).
///
/// Push-to-create checks the namespace, then the right to create in it, and only then
/// whether the repository exists: a caller who may not create under an owner gets the
/// same answer whether or not a (possibly private) repository of that name exists, and an
/// invisible namespace answers as a missing one.
pub(crate) fn decide(
    p: &Principal<'_>,
    client: ip::Client<'_>,
    path: &str,
    step: CreationStep,
    repo: Option<&RepositoryFacts>,
    namespace: Option<&NamespaceFacts>,
    mut trace: Trace,
) -> Decision {
    let repo = repo.map(|facts| Repo { path, facts });
    let checks = credential_rule(p).and_then(|()| match step {
        CreationStep::Confirm | CreationStep::Abort => {
            confirm_or_abort(p, client, repo, &mut trace)
        }
        CreationStep::PushToCreate => push_to_create(p, client, path, repo, namespace, &mut trace),
    });
    match checks {
        Ok(()) => trace.decide(Rule::Creation, Decision::allowed(Reason::Granted)),
        Err((rule, d)) => trace.decide(rule, d),
    }
}

/// Only a user creates repositories: not anonymous, not a deploy key.
fn credential_rule(p: &Principal<'_>) -> Result<(), Refusal> {
    if matches!(p, Principal::Anonymous) {
        return Err((
            Rule::Credential,
            Decision::new(
                Reason::AuthenticationRequired,
                "creating a repository needs a credential",
            ),
        ));
    }
    if let Principal::DeployKey { .. } = p {
        return Err((
            Rule::Credential,
            Decision::new(
                Reason::CreateDenied,
                "a deploy key cannot create repositories",
            ),
        ));
    }
    Ok(())
}

/// Confirming or aborting a creation: the registrant's own session, on a repository it
/// can see, from an address its owner allows.
fn confirm_or_abort(
    p: &Principal<'_>,
    client: ip::Client<'_>,
    repo: Option<Repo<'_>>,
    trace: &mut Trace,
) -> Result<(), Refusal> {
    // reference §2.10 (seed 000): any token -> Unauthorized.
    if p.token().is_some() {
        return Err((
            Rule::Creation,
            Decision::new(
                Reason::TokenNotAllowed,
                "an access token cannot confirm or abort a repository creation",
            ),
        ));
    }
    let Some(repo) = repo else {
        return Err((Rule::Existence, not_found()));
    };
    if !p.can_read(repo) {
        return Err((Rule::Visibility, not_found()));
    }
    ip::owner_rule(client, &repo.facts.owner_ip_allow, trace).map_err(|d| (Rule::IpAllow, d))?;
    // Launchpad: only the registrant — not the owner's other admins, not a site
    // administrator — confirms or aborts the creation they started.
    let registrant = p.user().is_some_and(|u| {
        repo.facts
            .registrant
            .as_deref()
            .is_some_and(|r| same_name(r, u.name))
    });
    if !registrant {
        return Err((
            Rule::Creation,
            Decision::new(
                Reason::CreateDenied,
                "only the user who started this repository's creation can do this",
            ),
        ));
    }
    Ok(())
}

/// Push-to-create: the token's rules, then the namespace, its IP allow list, the right to
/// create in it, and last whether the repository exists.
fn push_to_create(
    p: &Principal<'_>,
    client: ip::Client<'_>,
    path: &str,
    repo: Option<Repo<'_>>,
    namespace: Option<&NamespaceFacts>,
    trace: &mut Trace,
) -> Result<(), Refusal> {
    token_may_create(p, path, trace)?;
    let ns = visible_namespace(p, owner_of(path), namespace, trace)?;
    ip::owner_rule(client, &ns.facts.ip_allow, trace).map_err(|d| (Rule::IpAllow, d))?;
    // Creating for another owner is an administrator's power (seed 004): only an
    // unrestricted site administrator has it; in an organisation, write membership.
    let role = namespace_role(p, ns);
    if role < Role::Write {
        // The namespace is visible to the requester (else it answered as a missing one).
        trace.note(Rule::Creation, || {
            format!(
                "role `{}` in `{}`; creating a repository there needs `write`",
                role.name(),
                ns.name
            )
        });
        return Err((Rule::Creation, create_denied(ns)));
    }
    if let Some(repo) = repo {
        // Whoever may create under the owner can read its repositories; should
        // the facts say otherwise, the answer still does not reveal the name.
        let d = if p.can_read(repo) {
            Decision::new(
                Reason::RepositoryExists,
                "this repository already exists: push to it",
            )
        } else {
            create_denied(ns)
        };
        return Err((Rule::Existence, d));
    }
    Ok(())
}

fn create_denied(ns: Namespace<'_>) -> Decision {
    Decision::new(
        Reason::CreateDenied,
        format!("you may not create repositories under `{}`", ns.name),
    )
}

/// A token that creates is unrestricted, covers the path and holds a push scope.
fn token_may_create(p: &Principal<'_>, path: &str, trace: &mut Trace) -> Result<(), Refusal> {
    let Some(token) = p.token() else {
        return Ok(());
    };
    if token.restricted() || !token.covers(Target::Repository(path)) {
        trace.note(Rule::Restricted, || {
            super::targets::restriction_facts(token)
        });
        return Err((
            Rule::Restricted,
            Decision::new(
                Reason::RestrictedToken,
                "a restricted access token (bound, public-only or derived) cannot create repositories",
            ),
        ));
    }
    if !(token.scopes.can_write(Category::Repository) || token.scopes.push) {
        return Err((
            Rule::Scope,
            Decision::new(
                Reason::ScopeMissing,
                "this access token may not create repositories: it needs the scope write:repository or repository:push",
            )
            .with_detail("needs write:repository or repository:push"),
        ));
    }
    trace.pass(Rule::Scope, || "may push".into());
    Ok(())
}

/// The owner's namespace must exist and be visible; an invisible one answers as missing.
fn visible_namespace<'a>(
    p: &Principal<'_>,
    owner: &'a str,
    namespace: Option<&'a NamespaceFacts>,
    trace: &mut Trace,
) -> Result<Namespace<'a>, Refusal> {
    let ns = match namespace {
        Some(facts) => Namespace { name: owner, facts },
        None => return Err((Rule::Namespace, namespace_not_found())),
    };
    if !namespace_visible(p, ns) {
        return Err((Rule::Namespace, namespace_not_found()));
    }
    trace.pass(Rule::Namespace, || ns.name.to_string());
    Ok(ns)
}

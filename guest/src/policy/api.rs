//! API routes (reference §1.6-9, §1.16-18, seed 001, seed 004): scopes by method and
//! category, authentication, `sudo`, `/admin`, privileged operations, repository and
//! namespace targets, public-only tokens, and the admin powers restricted tokens lose.
#[allow(unused_imports)]
use crate::prelude::*;

use super::decision::{Decision, NAMESPACE_NOT_FOUND_MESSAGE, Reason, Rule, Trace, not_found};
use super::ip;
use super::model::{
    AccountStatus, ApiRequest, NamespaceFacts, RepositoryFacts, Role, UserFacts, Visibility,
};
use super::principal::{Principal, Refusal, Repo, Target, User, visible_to_anonymous};
use super::scope::Category;
use super::targets::Context;

fn scope_refusal(p: &Principal<'_>, req: &ApiRequest, read: bool) -> Option<Decision> {
    let token = p.token()?;
    if req.categories.is_empty() {
        // Launchpad (reference §2.11): a route that declares no scope is refused to
        // tokens; only a session (the forge's own login) may use it.
        return Some(
            Decision::new(
                Reason::ScopeMissing,
                "this route declares no scope, so access tokens may not use it: sign in instead",
            )
            .with_detail("route declares no scope category"),
        );
    }
    let missing: Vec<String> = req
        .categories
        .iter()
        .filter(|c| {
            if read {
                !token.scopes.can_read_api(*c)
            } else {
                !token.scopes.can_write(*c)
            }
        })
        .map(|c| format!("{}:{}", if read { "read" } else { "write" }, c.name()))
        .collect();
    (!missing.is_empty()).then(|| {
        let list = missing.join(", ");
        Decision::new(
            Reason::ScopeMissing,
            format!("this access token lacks the scope {list}"),
        )
        .with_detail(format!("needs {list}"))
    })
}

fn restricted_refusal(what: &str) -> Decision {
    Decision::new(
        Reason::RestrictedToken,
        format!("a restricted access token (bound, public-only or derived) cannot {what}"),
    )
}

/// Why the acting account has no administrator powers here, for the deciding step's note:
/// not a site administrator, a restricted token, or a token without `write:admin`.
fn admin_facts(p: &Principal<'_>) -> String {
    let name = p.user().map_or("the requester", |u| u.name);
    match p.token() {
        _ if !p.user().is_some_and(|u| u.facts.site_admin) => {
            format!("`{name}` is not a site administrator")
        }
        Some(t) if t.restricted() => super::targets::restriction_facts(t),
        _ => format!("`{name}` is a site administrator, but the token lacks write:admin"),
    }
}

/// Note why the principal's token is restricted (for the refusal `rule` is about to make).
fn note_restriction(p: &Principal<'_>, rule: Rule, trace: &mut Trace) {
    if let Some(t) = p.token() {
        trace.note(rule, || super::targets::restriction_facts(t));
    }
}

fn namespace_not_found() -> Decision {
    Decision::new(Reason::NamespaceNotFound, NAMESPACE_NOT_FOUND_MESSAGE)
}

/// The facts the host answered for an API request. Under `sudo`, `repository` and
/// `namespace` are as the impersonated account sees them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Facts<'a> {
    pub repository: Option<&'a RepositoryFacts>,
    pub namespace: Option<&'a NamespaceFacts>,
    pub sudo: Option<&'a UserFacts>,
}

/// The `sudo` rule (reference §1.16): only a site administrator whose credential is
/// unrestricted (and, for a token, holds `write:admin`) may act as another account, and
/// only as an existing, active user — never an organisation. On success, the principal
/// the rest of the request is decided for: the impersonated user, within the token's
/// scopes.
fn sudo<'a>(
    p: &Principal<'a>,
    target: &'a str,
    facts: Option<&'a UserFacts>,
    trace: &mut Trace,
) -> Result<Principal<'a>, Decision> {
    let holds_admin = p
        .token()
        .is_none_or(|t| t.scopes.can_write(Category::Admin));
    if !(p.site_admin() && holds_admin) {
        trace.note(Rule::Sudo, || admin_facts(p));
        return Err(Decision::new(
            Reason::SudoDenied,
            "sudo needs a site administrator with an unrestricted token holding write:admin",
        ));
    }
    let Some(user) = facts else {
        return Err(namespace_not_found().with_detail("sudo target does not exist"));
    };
    if user.organization || user.status != AccountStatus::Active {
        return Err(Decision::new(
            Reason::SudoDenied,
            "sudo can only act as an active user account",
        )
        .with_detail(if user.organization {
            "sudo target is an organization"
        } else {
            "sudo target is not active"
        }));
    }
    trace.pass(Rule::Sudo, || format!("acting as `{target}`"));
    Ok(p.impersonating(User {
        name: target,
        facts: user,
    }))
}

/// Decide an API request.
pub(crate) fn decide<'a>(
    p: &Principal<'a>,
    ctx: &Context<'_>,
    req: &'a ApiRequest,
    facts: Facts<'a>,
    mut trace: Trace,
) -> Decision {
    match checks(p, ctx, req, facts, &mut trace) {
        Ok(()) => trace.decide(Rule::Grant, Decision::allowed(Reason::Granted)),
        Err((rule, d)) => trace.decide(rule, d),
    }
}

/// The route's rules, in order: authentication and scopes for the credential, then
/// everything else for the account the request acts as.
fn checks<'a>(
    p: &Principal<'a>,
    ctx: &Context<'_>,
    req: &'a ApiRequest,
    facts: Facts<'a>,
    trace: &mut Trace,
) -> Result<(), Refusal> {
    let read = req.method.reads();
    authentication(p, req, read)?;
    scope_rule(p, req, read, trace)?;
    // From here on, everything is decided for the account the request acts as.
    let p = match &req.sudo {
        Some(target) => sudo(p, target, facts.sudo, trace).map_err(|d| (Rule::Sudo, d))?,
        None => *p,
    };
    admin_route(&p, req, trace)?;
    restricted_powers(&p, req, trace)?;
    unbound_write(&p, req, read, trace)?;
    targets(&p, ctx, req, facts, read, trace)
}

/// Anonymous may only read routes that need no authentication, without `/admin`, `sudo`
/// or a privileged operation.
fn authentication(p: &Principal<'_>, req: &ApiRequest, read: bool) -> Result<(), Refusal> {
    if matches!(p, Principal::Anonymous)
        && (req.requires_auth
            || req.admin_only
            || req.sudo.is_some()
            || req.operation.is_some()
            || !read)
    {
        return Err((
            Rule::Authentication,
            Decision::new(
                Reason::AuthenticationRequired,
                "this route needs a credential",
            ),
        ));
    }
    Ok(())
}

/// A token must hold the route's scopes.
fn scope_rule(
    p: &Principal<'_>,
    req: &ApiRequest,
    read: bool,
    trace: &mut Trace,
) -> Result<(), Refusal> {
    // Scopes apply to tokens only: a session or password skips them (reference §1.8).
    if let Some(d) = scope_refusal(p, req, read) {
        return Err((Rule::Scope, d));
    }
    trace.pass(Rule::Scope, || {
        if p.token().is_some() {
            "token scopes cover the route".into()
        } else {
            "no token".into()
        }
    });
    Ok(())
}

/// Administrator routes are for unrestricted site administrators.
fn admin_route(p: &Principal<'_>, req: &ApiRequest, trace: &mut Trace) -> Result<(), Refusal> {
    if req.admin_only {
        if !p.site_admin() {
            trace.note(Rule::Admin, || admin_facts(p));
            let d = if p.user().is_some_and(|u| u.facts.site_admin) {
                restricted_refusal("use administrator routes")
            } else {
                Decision::new(
                    Reason::AdminRequired,
                    "this route is for site administrators",
                )
            };
            return Err((Rule::Admin, d));
        }
        trace.pass(Rule::Admin, || "site administrator".into());
    }
    Ok(())
}

/// The powers a restricted token loses: privileged operations, creating repositories.
fn restricted_powers(
    p: &Principal<'_>,
    req: &ApiRequest,
    trace: &mut Trace,
) -> Result<(), Refusal> {
    if let Some(op) = req.operation
        && p.restricted()
    {
        note_restriction(p, Rule::Operation, trace);
        return Err((Rule::Operation, restricted_refusal(op.words())));
    }
    if req.creates_in_own_namespace {
        // As push-to-create (Forgejo #11736): a restricted token creates nothing.
        if p.restricted() {
            note_restriction(p, Rule::Restricted, trace);
            return Err((Rule::Restricted, restricted_refusal("create repositories")));
        }
        trace.pass(Rule::Creation, || {
            "in the acting account's own namespace".into()
        });
    }
    Ok(())
}

/// A binding covers its targets only: a write that names none is outside it.
fn unbound_write(
    p: &Principal<'_>,
    req: &ApiRequest,
    read: bool,
    trace: &mut Trace,
) -> Result<(), Refusal> {
    if !read
        && req.repository.is_none()
        && req.namespace.is_none()
        && p.token().is_some_and(|t| t.bound())
    {
        note_restriction(p, Rule::Binding, trace);
        return Err((
            Rule::Binding,
            Decision::new(
                Reason::RestrictedToken,
                "a repository- or owner-bound access token cannot use a write route that names no repository or owner",
            ),
        ));
    }
    Ok(())
}

/// Every target the request names passes every target rule: naming one target never
/// switches off the checks on another.
fn targets(
    p: &Principal<'_>,
    ctx: &Context<'_>,
    req: &ApiRequest,
    facts: Facts<'_>,
    read: bool,
    trace: &mut Trace,
) -> Result<(), Refusal> {
    // An IP allow list's refusal is named by its own rule in the trace.
    let rule = |target: Rule, d: &Decision| match d.reason {
        Reason::IpNotAllowed => Rule::IpAllow,
        _ => target,
    };
    if let Some(path) = &req.repository
        && let Some(d) = repository_target(p, ctx, req, path, facts.repository, read, trace)
    {
        return Err((rule(Rule::Repository, &d), d));
    }
    if let Some(name) = &req.namespace
        && let Some(d) = namespace_target(p, ctx, req, name, facts.namespace, read, trace)
    {
        return Err((rule(Rule::Namespace, &d), d));
    }
    Ok(())
}

/// A token outside its binding: refused (`token-not-bound`), or — with the Forgejo
/// option — decided as anonymous for reads that need no authentication. `Ok(false)`:
/// inside the binding (or no token); `Ok(true)`: decide this target as anonymous.
fn binding(
    p: &Principal<'_>,
    ctx: &Context<'_>,
    req: &ApiRequest,
    target: Target<'_>,
    read: bool,
    trace: &mut Trace,
) -> Result<bool, Decision> {
    let Some(token) = p.token() else {
        return Ok(false);
    };
    if token.covers(target) {
        return Ok(false);
    }
    if ctx.options.binding_fallback_to_anonymous {
        trace.pass(Rule::Binding, || {
            "outside the binding: treated as anonymous".into()
        });
        // Anonymous may only read routes that need no authentication. (`/admin`, `sudo`
        // and privileged operations never get here: only a bound token is outside a
        // binding, and a bound token is restricted, refused those before any target.)
        if !read || req.requires_auth {
            return Err(Decision::new(
                Reason::AuthenticationRequired,
                "this route needs a credential valid for this target",
            ));
        }
        return Ok(true);
    }
    let rule = match target {
        Target::Repository(_) => Rule::Repository,
        Target::Namespace(_) => Rule::Namespace,
    };
    trace.note(rule, || super::targets::binding_facts(token));
    Err(Decision::new(
        Reason::TokenNotBound,
        "this access token is not valid for this target",
    ))
}

/// The role an operation or route needs on a target: `admin` for an operation, at least
/// `write` for a content write.
fn needed_role(req: &ApiRequest) -> Role {
    if req.operation.is_some() {
        Role::Admin
    } else if req.writes_content {
        req.required_role.max(Role::Write)
    } else {
        req.required_role
    }
}

fn role_refusal(needed: Role, on: &str) -> Decision {
    Decision::new(
        Reason::PermissionDenied,
        format!("this needs the {} role on the {on}", needed.name()),
    )
}

/// The repository target's rules; `Some` is a refusal.
fn repository_target(
    p: &Principal<'_>,
    ctx: &Context<'_>,
    req: &ApiRequest,
    path: &str,
    repo: Option<&RepositoryFacts>,
    read: bool,
    trace: &mut Trace,
) -> Option<Decision> {
    match binding(p, ctx, req, Target::Repository(path), read, trace) {
        Err(d) => return Some(d),
        Ok(true) => {
            return repository_target(&Principal::Anonymous, ctx, req, path, repo, read, trace);
        }
        Ok(false) => {}
    }
    let Some(facts) = repo else {
        return Some(not_found());
    };
    let repo = Repo { path, facts };
    if !p.can_read(repo) {
        return Some(not_found());
    }
    trace.pass(Rule::Visibility, || "readable".into());
    if let Err(d) = ip::owner_rule(ctx.client, &facts.owner_ip_allow, trace) {
        return Some(d);
    }
    if p.token().is_some_and(|t| t.scopes.public_only) && !visible_to_anonymous(facts) {
        // The verdict already says the repository is visible to the token but not public.
        trace.note(Rule::Repository, || {
            format!("the token is public-only; `{path}` is not public")
        });
        return Some(Decision::new(
            Reason::TokenPublicOnly,
            "this access token is limited to public repositories",
        ));
    }
    if req.writes_content
        && let Some(d) = super::git::write_block(facts)
    {
        return Some(d);
    }
    let role = p.role_on(repo);
    let needed = needed_role(req);
    if role < needed {
        trace.note(Rule::Repository, || {
            format!(
                "role `{}` on `{path}`; this needs `{}`",
                role.name(),
                needed.name()
            )
        });
        return Some(role_refusal(needed, "repository"));
    }
    trace.pass(Rule::Role, || role.name().into());
    None
}

/// The namespace target's rules (a user or organisation the route acts on); `Some` is a
/// refusal. The principal's role in a namespace: `admin` in its own user namespace and
/// for an unrestricted site administrator, otherwise its organisation membership; a
/// restricted token is capped at `write`, as on repositories.
fn namespace_target(
    p: &Principal<'_>,
    ctx: &Context<'_>,
    req: &ApiRequest,
    name: &str,
    namespace: Option<&NamespaceFacts>,
    read: bool,
    trace: &mut Trace,
) -> Option<Decision> {
    match binding(p, ctx, req, Target::Namespace(name), read, trace) {
        Err(d) => return Some(d),
        Ok(true) => {
            return namespace_target(
                &Principal::Anonymous,
                ctx,
                req,
                name,
                namespace,
                read,
                trace,
            );
        }
        Ok(false) => {}
    }
    let Some(facts) = namespace else {
        return Some(namespace_not_found());
    };
    let ns = super::create::Namespace { name, facts };
    if !super::create::namespace_visible(p, ns) {
        return Some(namespace_not_found());
    }
    if let Err(d) = ip::owner_rule(ctx.client, &facts.ip_allow, trace) {
        return Some(d);
    }
    if p.token().is_some_and(|t| t.scopes.public_only) && facts.visibility != Visibility::Public {
        trace.note(Rule::Namespace, || {
            format!(
                "the token is public-only; `{name}` is {}",
                facts.visibility.name()
            )
        });
        let what = if req.package {
            "packages of non-public owners"
        } else {
            "non-public users and organizations"
        };
        return Some(Decision::new(
            Reason::TokenPublicOnly,
            format!("this access token is limited to public resources, not {what}"),
        ));
    }
    let role = super::create::namespace_role(p, ns);
    let needed = needed_role(req);
    if role < needed {
        trace.note(Rule::Namespace, || {
            format!(
                "role `{}` in `{name}`; this needs `{}`",
                role.name(),
                needed.name()
            )
        });
        return Some(role_refusal(needed, &format!("namespace `{}`", ns.name)));
    }
    trace.pass(Rule::Namespace, || ns.name.to_string());
    None
}

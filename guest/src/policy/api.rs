//! API routes (reference §1.6-9, §1.16-18, seed 001, seed 004): scopes by method and
//! category, authentication, `sudo`, `/admin`, privileged operations, repository and
//! namespace targets, public-only tokens, and the admin powers restricted tokens lose.

use super::decision::{Decision, NAMESPACE_NOT_FOUND_MESSAGE, Reason, Trace, not_found};
use super::model::{ApiRequest, NamespaceFacts, Options, RepositoryFacts, Role, Visibility};
use super::principal::{Principal, same_name, visible_to_anonymous};
use super::scope::Category;

/// GET, HEAD and OPTIONS read; everything else writes (reference §1.6).
pub fn is_read_method(method: &str) -> bool {
    ["GET", "HEAD", "OPTIONS"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// A method is an HTTP token: 1 to 20 ASCII letters.
pub fn valid_method(method: &str) -> bool {
    !method.is_empty() && method.len() <= 20 && method.bytes().all(|b| b.is_ascii_alphabetic())
}

fn scope_refusal(p: &Principal<'_>, req: &ApiRequest, read: bool) -> Option<Decision> {
    let token = p.token()?;
    let missing: Vec<String> = req
        .categories
        .iter()
        .filter(|c| {
            if read {
                !token.scopes.can_read_api(**c)
            } else {
                !token.scopes.can_write(**c)
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

/// Decide an API request.
pub(crate) fn decide(
    p: &Principal<'_>,
    options: &Options,
    req: &ApiRequest,
    repo: Option<&RepositoryFacts>,
    namespace: Option<&NamespaceFacts>,
    mut trace: Trace,
) -> Decision {
    if matches!(p, Principal::DeployKey { .. } | Principal::UserKey { .. }) {
        return trace.decide(
            "credential",
            Decision::new(
                Reason::CredentialNotAllowed,
                "SSH keys authenticate git over SSH only: use an access token for the API",
            ),
        );
    }
    let read = is_read_method(&req.method);
    if matches!(p, Principal::Anonymous)
        && (req.requires_auth
            || req.admin_only
            || req.sudo.is_some()
            || req.operation.is_some()
            || !read)
    {
        return trace.decide(
            "authentication",
            Decision::new(
                Reason::AuthenticationRequired,
                "this route needs a credential",
            ),
        );
    }
    // Scopes apply to tokens only: a session or password skips them (reference §1.8).
    if let Some(d) = scope_refusal(p, req, read) {
        return trace.decide("scope", d);
    }
    trace.pass("scope", || {
        if p.token().is_some() {
            "token scopes cover the route".into()
        } else {
            "no token".into()
        }
    });
    if let Some(target) = &req.sudo {
        let holds_admin = p
            .token()
            .is_none_or(|t| t.scopes.can_write(Category::Admin));
        if !(p.site_admin() && holds_admin) {
            return trace.decide(
                "sudo",
                Decision::new(
                    Reason::SudoDenied,
                    "sudo needs a site administrator with an unrestricted token holding write:admin",
                ),
            );
        }
        trace.pass("sudo", || format!("acting as `{target}`"));
    }
    if req.admin_only {
        if !p.site_admin() {
            let d = if p.user().is_some_and(|u| u.site_admin) {
                restricted_refusal("use administrator routes")
            } else {
                Decision::new(
                    Reason::AdminRequired,
                    "this route is for site administrators",
                )
            };
            return trace.decide("admin", d);
        }
        trace.pass("admin", || "site administrator".into());
    }
    if let Some(op) = req.operation
        && p.restricted()
    {
        return trace.decide(
            "operation",
            restricted_refusal(op.name().replace('-', " ").as_str()),
        );
    }
    if let Some(path) = &req.repository {
        let d = repository_target(p, options, req, path, repo, read, &mut trace);
        if let Some(d) = d {
            return trace.decide("repository", d);
        }
    }
    if let Some(name) = &req.namespace {
        let Some(ns) = namespace.filter(|ns| same_name(&ns.name, name)) else {
            let d = if namespace.is_some() {
                super::decision::inconsistent("namespace facts are for another owner")
            } else {
                Decision::new(Reason::NamespaceNotFound, NAMESPACE_NOT_FOUND_MESSAGE)
            };
            return trace.decide("namespace", d);
        };
        if !super::create::namespace_visible(p, ns) {
            return trace.decide(
                "namespace",
                Decision::new(Reason::NamespaceNotFound, NAMESPACE_NOT_FOUND_MESSAGE),
            );
        }
        if p.token().is_some_and(|t| t.scopes.public_only) && ns.visibility != Visibility::Public {
            let what = if req.package {
                "packages of non-public owners"
            } else {
                "non-public users and organizations"
            };
            return trace.decide(
                "public-only",
                Decision::new(
                    Reason::TokenPublicOnly,
                    format!("this access token is limited to public resources, not {what}"),
                ),
            );
        }
        if req.operation.is_some() && req.repository.is_none() {
            let own = p.user().is_some_and(|u| same_name(&u.name, &ns.name));
            if !(own || ns.member_role >= Role::Admin || p.site_admin()) {
                return trace.decide(
                    "operation",
                    Decision::new(
                        Reason::PermissionDenied,
                        format!("you may not do this for `{}`", ns.name),
                    ),
                );
            }
        }
        trace.pass("namespace", || ns.name.clone());
    }
    trace.decide("grant", Decision::new(Reason::Granted, "request allowed"))
}

/// The repository target's rules; `Some` is a refusal.
fn repository_target(
    p: &Principal<'_>,
    options: &Options,
    req: &ApiRequest,
    path: &str,
    repo: Option<&RepositoryFacts>,
    read: bool,
    trace: &mut Trace,
) -> Option<Decision> {
    if let Some(token) = p.token()
        && !token.covers(path)
    {
        if options.binding_fallback_to_anonymous {
            trace.pass("binding", || {
                "outside the binding: treated as anonymous".into()
            });
            if !read || req.requires_auth || req.operation.is_some() {
                return Some(Decision::new(
                    Reason::AuthenticationRequired,
                    "this route needs a credential valid for this repository",
                ));
            }
            return repository_target(&Principal::Anonymous, options, req, path, repo, read, trace);
        }
        return Some(Decision::new(
            Reason::TokenNotBound,
            "this access token is not valid for this repository",
        ));
    }
    let Some(repo) = repo else {
        return Some(not_found());
    };
    if !p.can_read(repo) {
        return Some(not_found());
    }
    trace.pass("visibility", || "readable".into());
    if p.token().is_some_and(|t| t.scopes.public_only) && !visible_to_anonymous(repo) {
        return Some(Decision::new(
            Reason::TokenPublicOnly,
            "this access token is limited to public repositories",
        ));
    }
    let role = p.role_on(repo);
    let needed = if req.operation.is_some() {
        Role::Admin
    } else {
        req.required_role
    };
    if role < needed {
        return Some(Decision::new(
            Reason::PermissionDenied,
            format!(
                "this needs the {} role on the repository",
                format!("{needed:?}").to_lowercase()
            ),
        ));
    }
    trace.pass("role", || format!("{role:?}").to_lowercase());
    None
}

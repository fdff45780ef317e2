//! Repository creation by push (Launchpad and Gitea push-to-create): who may create under
//! which owner, and why a token may never confirm or abort a creation (reference §2.10).

use super::decision::{Decision, NAMESPACE_NOT_FOUND_MESSAGE, Reason, Trace, not_found};
use super::model::{CreationStep, NamespaceFacts, RepositoryFacts, Role, Visibility};
use super::principal::{Principal, same_name};
use super::scope::Category;

/// Whether the principal may see a user or organisation.
pub(crate) fn namespace_visible(p: &Principal<'_>, ns: &NamespaceFacts) -> bool {
    match ns.visibility {
        Visibility::Public => true,
        Visibility::Limited => !matches!(p, Principal::Anonymous),
        Visibility::Private => {
            p.site_admin()
                || ns.member_role >= Role::Read
                || p.user().is_some_and(|u| same_name(&u.name, &ns.name))
        }
    }
}

/// Decide a creation step for `path` (`owner/name`, already validated).
pub(crate) fn decide(
    p: &Principal<'_>,
    path: &str,
    step: CreationStep,
    repo: Option<&RepositoryFacts>,
    namespace: Option<&NamespaceFacts>,
    mut trace: Trace,
) -> Decision {
    if matches!(p, Principal::Anonymous) {
        return trace.decide(
            "credential",
            Decision::new(
                Reason::AuthenticationRequired,
                "creating a repository needs a credential",
            ),
        );
    }
    if let Principal::DeployKey { .. } = p {
        return trace.decide(
            "credential",
            Decision::new(
                Reason::CreateDenied,
                "a deploy key cannot create repositories",
            ),
        );
    }
    match step {
        CreationStep::Confirm | CreationStep::Abort => {
            // reference §2.10 (seed 000): any token -> Unauthorized.
            if p.token().is_some() {
                return trace.decide(
                    "creation",
                    Decision::new(
                        Reason::TokenNotAllowed,
                        "an access token cannot confirm or abort a repository creation",
                    ),
                );
            }
            let Some(repo) = repo else {
                return trace.decide("existence", not_found());
            };
            if !p.can_read(repo) {
                return trace.decide("visibility", not_found());
            }
            if p.role_on(repo) < Role::Admin {
                return trace.decide(
                    "creation",
                    Decision::new(
                        Reason::CreateDenied,
                        "only the repository's owner can do this",
                    ),
                );
            }
            trace.decide(
                "creation",
                Decision::new(Reason::Granted, "creation step allowed"),
            )
        }
        CreationStep::PushToCreate => {
            if let Some(token) = p.token() {
                if token.restricted() {
                    return trace.decide(
                        "restricted",
                        Decision::new(
                            Reason::RestrictedToken,
                            "a restricted access token (bound, public-only or derived) cannot create repositories",
                        ),
                    );
                }
                if !(token.scopes.can_write(Category::Repository) || token.scopes.push) {
                    return trace.decide(
                        "scope",
                        Decision::new(
                            Reason::ScopeMissing,
                            "this access token may not create repositories: it needs the scope write:repository or repository:push",
                        )
                        .with_detail("needs write:repository or repository:push"),
                    );
                }
                trace.pass("scope", || "may push".into());
            }
            if repo.is_some() {
                return trace.decide(
                    "existence",
                    Decision::new(
                        Reason::RepositoryExists,
                        "this repository already exists: push to it",
                    ),
                );
            }
            let owner = path.split_once('/').map(|(o, _)| o).unwrap_or(path);
            let ns = match namespace {
                Some(ns) if same_name(&ns.name, owner) => ns,
                Some(_) => {
                    return trace.decide(
                        "namespace",
                        super::decision::inconsistent("namespace facts are for another owner"),
                    );
                }
                None => {
                    return trace.decide(
                        "namespace",
                        Decision::new(Reason::NamespaceNotFound, NAMESPACE_NOT_FOUND_MESSAGE),
                    );
                }
            };
            if !namespace_visible(p, ns) {
                return trace.decide(
                    "namespace",
                    Decision::new(Reason::NamespaceNotFound, NAMESPACE_NOT_FOUND_MESSAGE),
                );
            }
            let own = !ns.organization && p.user().is_some_and(|u| same_name(&u.name, &ns.name));
            let member = ns.organization && ns.member_role >= Role::Write;
            // Creating for another owner is an administrator's power (seed 004): only an
            // unrestricted site administrator has it.
            if own || member || p.site_admin() {
                trace.decide(
                    "creation",
                    Decision::new(Reason::Granted, "repository creation allowed"),
                )
            } else {
                trace.decide(
                    "creation",
                    Decision::new(
                        Reason::CreateDenied,
                        format!("you may not create repositories under `{}`", ns.name),
                    ),
                )
            }
        }
    }
}

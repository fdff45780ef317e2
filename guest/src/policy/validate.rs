//! What a request must be before its own rules: well-formed (checked first of all, before
//! the credential), and, once the credential is known, sent over a transport its kind
//! authenticates.
#[allow(unused_imports)]
use crate::prelude::*;

use super::decision::{Decision, Reason};
use super::model::{Request, Transport};
use super::principal::{Principal, valid_name, valid_repository_path};

/// A malformed request, saying what is wrong.
fn invalid(detail: &str, message: &str) -> Decision {
    Decision::new(Reason::RequestInvalid, message).with_detail(detail.to_string())
}

/// The refusal of a repository path that is not `owner/name`.
pub(super) fn bad_path() -> Decision {
    invalid(
        "malformed repository path",
        "the repository path must be `owner/name`",
    )
}

/// The shape of a request, before anything else is looked at.
pub(super) fn validate(request: &Request) -> Result<(), Decision> {
    match request {
        Request::Git(g) if !valid_repository_path(&g.repository) => Err(bad_path()),
        Request::Create(c) if !valid_repository_path(&c.repository) => Err(bad_path()),
        Request::Api(a) => {
            if !a.method.valid() {
                return Err(invalid("malformed method", "not a valid HTTP method"));
            }
            if a.repository
                .as_deref()
                .is_some_and(|r| !valid_repository_path(r))
            {
                return Err(bad_path());
            }
            if a.namespace.as_deref().is_some_and(|n| !valid_name(n))
                || a.sudo.as_deref().is_some_and(|n| !valid_name(n))
            {
                return Err(invalid(
                    "malformed user name",
                    "not a valid user or organization name",
                ));
            }
            // A route that writes content or creates is never a read; content belongs to
            // a repository, and a creation in the actor's own namespace names no other.
            if (a.writes_content || a.creates_in_own_namespace) && a.method.reads() {
                return Err(invalid(
                    "a write route with a read method",
                    "a route that writes or creates cannot use a read method",
                ));
            }
            if a.writes_content && a.repository.is_none() {
                return Err(invalid(
                    "content write without a repository",
                    "a route that writes repository content needs a repository target",
                ));
            }
            if a.creates_in_own_namespace && (a.repository.is_some() || a.namespace.is_some()) {
                return Err(invalid(
                    "own-namespace creation with a target",
                    "a creation in your own namespace names no repository or namespace",
                ));
            }
            // A privileged operation is always done to something: without a target there
            // is nothing to check the administrator's role on, so nothing is granted.
            if let Some(op) = a.operation
                && a.repository.is_none()
                && a.namespace.is_none()
            {
                return Err(invalid(
                    &format!("operation `{}` without a target", op.name()),
                    "this operation needs a repository or namespace target",
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// SSH keys (user and deploy keys) authenticate git over SSH, and nothing else: not git
/// over HTTP, not the API, not a creation over HTTP (reference §1.19).
pub(super) fn key_refusal(p: &Principal<'_>, request: &Request) -> Option<Decision> {
    if !p.is_key() {
        return None;
    }
    let ssh = match request {
        Request::Git(g) => g.transport == Transport::Ssh,
        Request::Create(c) => c.transport == Transport::Ssh,
        Request::Api(_) => false,
    };
    (!ssh).then(|| {
        Decision::new(
            Reason::CredentialNotAllowed,
            "SSH keys authenticate git over SSH only: use an access token",
        )
    })
}

//! What a request targets, and what the host is asked about it: the repository and
//! namespace it names, the query for one decision, the facts the host answered, the
//! concealment of a trace that would tell more than its verdict (issue 19), and the facts
//! a refusing rule notes in a trace (a token's binding).
#[allow(unused_imports)]
use crate::prelude::*;

use super::decision::Decision;
use super::ip::Client;
use super::model::{
    CreationRequest, CreationStep, FactQuery, NamespaceFacts, Options, RepositoryFacts, Request,
    UserFacts, Viewer,
};
use super::principal::{Presented, TokenAuth, owner_of};

/// What a request's own rules consult beside the principal and the targets: the policy's
/// options, and the client's address (for IP allow lists).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Context<'a> {
    pub options: &'a Options,
    pub client: Client<'a>,
}

/// The repository path a request targets.
fn target_path(request: &Request) -> Option<&str> {
    match request {
        Request::Git(g) => Some(&g.repository),
        Request::Create(c) => Some(&c.repository),
        Request::Api(a) => a.repository.as_deref(),
    }
}

/// The namespace a request targets: the owner a repository is created under, an API
/// route's namespace.
fn target_namespace(request: &Request) -> Option<&str> {
    match request {
        Request::Git(_) => None,
        Request::Create(c) => Some(owner_of(&c.repository)),
        Request::Api(a) => a.namespace.as_deref(),
    }
}

/// The query for one decision: the token's record (and owner), the account, the targets,
/// as the account the request acts as sees them (the `sudo` target, else the token's
/// owner, else the session's or key's user).
pub(super) fn query<'a>(presented: &Presented<'a>, request: &'a Request) -> FactQuery<'a> {
    let sudo = match request {
        Request::Api(a) => a.sudo.as_deref(),
        _ => None,
    };
    let token = presented.token_id();
    let account = presented.account();
    let viewer = if sudo.is_some() {
        Viewer::Sudo
    } else if token.is_some() {
        Viewer::TokenOwner
    } else if account.is_some() {
        Viewer::Account
    } else {
        Viewer::Anonymous
    };
    FactQuery {
        token,
        account,
        sudo,
        repository: target_path(request),
        namespace: target_namespace(request),
        viewer,
        registrant: matches!(
            request,
            Request::Create(CreationRequest {
                step: CreationStep::Confirm | CreationStep::Abort,
                ..
            })
        ),
    }
}

/// The query of a batch: the credential's facts only (its repositories are asked about
/// together, once the principal is known).
pub(super) fn credential_query<'a>(
    presented: &Presented<'a>,
    request: &'a Request,
) -> FactQuery<'a> {
    FactQuery {
        repository: None,
        ..query(presented, request)
    }
}

/// The facts about a request's targets, as the host answered them.
#[derive(Clone, Copy, Debug)]
pub(super) struct Targets<'a> {
    pub repository: Option<&'a RepositoryFacts>,
    pub namespace: Option<&'a NamespaceFacts>,
    pub sudo: Option<&'a UserFacts>,
}

/// What a token is bound to, for a trace: `bound to `acme/widget` only`. The binding is the
/// token's own record (its owner lists it), not a fact about the request's target.
pub(super) fn binding_facts(token: &TokenAuth<'_>) -> String {
    let Some(b) = token.binding else {
        return "unbound".into();
    };
    let quoted = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !b.repositories.is_empty() {
        parts.push(format!("repositories {}", quoted(&b.repositories)));
    }
    if !b.owners.is_empty() {
        parts.push(format!("owners {}", quoted(&b.owners)));
    }
    if parts.is_empty() {
        return "bound to nothing".into();
    }
    format!("bound to {} only", parts.join(" and "))
}

/// Why a token is restricted (bound, public-only, derived from another token), for the
/// deciding step's note: the token's own record, which its owner sees in their token list.
pub(super) fn restriction_facts(token: &TokenAuth<'_>) -> String {
    let mut why = Vec::new();
    if token.bound() {
        why.push(format!("is {}", binding_facts(token)));
    }
    if token.scopes.public_only {
        why.push("is public-only".into());
    }
    if token.child {
        why.push("is derived from another token".into());
    }
    if why.is_empty() {
        return "the token is not restricted".into();
    }
    format!("the token {}", why.join(", "))
}

/// Whether two decisions tell the requester the same thing (their traces aside).
fn same_verdict(a: &Decision, b: &Decision) -> bool {
    a.reason == b.reason
        && a.message == b.message
        && a.detail == b.detail
        && a.refs == b.refs
        && a.effects == b.effects
}

/// A trace is shown to the requester, so it conceals exactly what the verdict conceals
/// (issue 19): when the verdict is the one a missing target would get, the trace is the
/// missing target's too. Each way the target could be missing is decided again — no such
/// repository; no such namespace (and so no repository under it) — and a decision with
/// the same verdict gives its trace, the most concealing last. Only with `explain`.
pub(super) fn conceal(
    mut d: Decision,
    targets: Targets<'_>,
    redo: impl Fn(Targets<'_>) -> Decision,
) -> Decision {
    let missing = [
        (
            targets.repository.is_some(),
            Targets {
                repository: None,
                ..targets
            },
        ),
        (
            targets.namespace.is_some(),
            Targets {
                repository: None,
                namespace: None,
                ..targets
            },
        ),
    ];
    for (applies, t) in missing {
        if applies {
            let other = redo(t);
            if same_verdict(&other, &d) {
                d.trace = other.trace;
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::super::decision::Reason;
    use super::*;

    #[test]
    fn a_verdict_is_the_same_only_with_the_same_reason_code() {
        // The reason code is part of what the requester is told: a trace is never taken
        // from a decision that differs from the one given in its code alone (issue 19).
        let given = Decision::new(Reason::RepositoryNotFound, "not found");
        let missing = Decision::new(Reason::NamespaceNotFound, "not found");
        assert!(same_verdict(&given, &given.clone()));
        assert!(!same_verdict(&given, &missing));
    }
}

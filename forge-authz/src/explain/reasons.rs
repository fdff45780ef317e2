//! What each refusal's reason code means to the person refused, and what they can do next
//! (`decide --explain=text`, issue 25 "`--explain` for people").
//!
//! One row per refusing reason of the policy (`Reason` in `guest/src/policy/decision.rs`,
//! README "Decision table"); a unit test fails when a reason code has no row. The words
//! name no fact: the facts that decided come from the trace's deciding step, which the
//! policy already trimmed to what the verdict reveals. The two not-found codes read as the
//! missing target's answer, which is all their verdict says (issue 13's concealment).

/// Each refusing reason code and its words: what happened, then what to do.
const WORDS: &[(&str, &str)] = &[
    (
        "request-invalid",
        "the request itself is malformed (checked before any credential): fix what the detail names",
    ),
    (
        "conflicting-credentials",
        "the request carries two different credentials: send one access token, key or session",
    ),
    (
        "ref-name-invalid",
        "a ref name is not one git accepts (see `git check-ref-format`): rename the ref",
    ),
    (
        "repository-exists",
        "a repository of this name already exists: push to it instead of creating it",
    ),
    (
        "authentication-required",
        "this needs a credential and none was sent: send an access token (bearer, or as the password)",
    ),
    (
        "token-invalid",
        "the token is damaged or was not issued by this server (format, checksum or signature): copy it again, or create a new one",
    ),
    (
        "token-unknown",
        "this server has no record of the token (deleted, or issued for another store): create a new one",
    ),
    ("token-expired", "the token has expired: create a new one"),
    ("token-revoked", "the token was revoked: create a new one"),
    (
        "account-inactive",
        "an account that is not active cannot use any credential: a site administrator can reactivate it",
    ),
    (
        "username-mismatch",
        "the username sent with the token is not its owner's: send the owner's username or `x-access-token`",
    ),
    (
        "token-not-bound",
        "the token is bound to other repositories or owners: use a token bound to this one, or an unbound one",
    ),
    (
        "token-not-allowed",
        "access tokens cannot confirm or abort a repository creation: do it signed in to the forge",
    ),
    (
        "credential-not-allowed",
        "SSH keys authenticate git over SSH only: use an access token here",
    ),
    (
        "scope-missing",
        "the token's scopes do not cover this: create a token that holds the scope needed",
    ),
    (
        "scope-unknown",
        "the token holds a scope this server does not know: create a new token (`forge-authz scopes migrate` names today's scopes)",
    ),
    (
        "token-public-only",
        "the token is limited to public repositories and owners: use a token without `public-only`",
    ),
    (
        "permission-denied",
        "the role here is not enough for this: ask the owner for a higher role",
    ),
    (
        "repository-mirror",
        "the repository is a mirror, updated from its source only: push to the source instead",
    ),
    (
        "repository-import",
        "the repository is an import, written by the import only: nobody can push to it",
    ),
    (
        "repository-archived",
        "the repository is archived, read-only for everyone: its owner can unarchive it",
    ),
    (
        "deploy-key-read-only",
        "the deploy key is read-only: add it with write access to push with it",
    ),
    (
        "restricted-token",
        "a restricted token (bound, public-only or derived) has no administrator powers and creates nothing: use an unrestricted token",
    ),
    (
        "admin-required",
        "this is for site administrators only: ask one to do it",
    ),
    (
        "sudo-denied",
        "only a site administrator's unrestricted credential (a token also needs write:admin) acts as another account, and only as an active user: drop `sudo`, or ask a site administrator",
    ),
    (
        "create-denied",
        "creating a repository here needs the `write` role in the owner's namespace (confirming or aborting one: being the user who started it)",
    ),
    (
        "ref-protected",
        "a protected ref refused the update (see the refs above): push to another branch, or ask for push access on its rule",
    ),
    (
        "force-push-protected",
        "a protected ref forbids force-push and deletion (see the refs above): push without rewriting or deleting it",
    ),
    (
        "ip-not-allowed",
        "the request came from an address outside the owner's (or the token's) IP allow list: connect from an allowed network",
    ),
    (
        "site-refused",
        "the site's own policy refused it (its code is the detail): ask the site's administrators",
    ),
    (
        "repository-not-found",
        "no such repository for this credential (a missing repository and one it may not see are answered alike): check the path, or send a credential that may see it",
    ),
    (
        "namespace-not-found",
        "no such user or organization for this credential (a missing one and one it may not see are answered alike): check the name, or send a credential that may see it",
    ),
];

/// What a refusal's reason `code` means and what to do next (`None`: not a refusal code).
pub fn words(code: &str) -> Option<&'static str> {
    WORDS.iter().find(|(c, _)| *c == code).map(|(_, w)| *w)
}

#[cfg(test)]
mod tests {
    use forge_authz_guest::policy::Reason;

    use super::{WORDS, words};

    #[test]
    fn every_refusal_reason_has_words_and_every_row_is_a_refusal_reason() {
        // Issue 25 ("`--explain` for people"): a reason code the policy can return
        // without words here fails this test.
        for r in Reason::ALL {
            assert_eq!(
                words(r.code()).is_some(),
                !r.allows(),
                "`{}`: refusals have words, allows none",
                r.code()
            );
        }
        for (code, w) in WORDS {
            assert!(Reason::from_code(code).is_some(), "`{code}` is no reason");
            assert!(w.contains(": "), "`{code}`: what happened, then what to do");
        }
    }
}

//! Who is asking: the credential resolved into a principal, with every credential rule
//! (token format, record, binding to the secret, revocation, expiry, account, username,
//! stored scopes, conflicting credentials, SSH keys, sessions). Shared by every kind of
//! request.
//!
//! Resolution has two halves. [`present`] needs no fact: it picks the token out of the
//! credential, refuses conflicting credentials, and verifies the token (format, checksum,
//! key, HMAC tag) — so a forged token is refused before the host is asked anything.
//! [`resolve`] then checks what the host answered (the record, the account).
#[allow(unused_imports)]
use crate::prelude::*;

use super::decision::{Decision, INVALID_TOKEN_MESSAGE, Reason, Rule, Trace};
use super::model::{
    AccountStatus, Binding, Credential, FactAnswer, KeyKind, RepositoryFacts, Role, SshKey,
    TokenFacts, UserFacts, Visibility,
};
use super::scope::ScopeSet;
use super::text::split_at_byte;
use super::token::{self, Keyring, TokenCache, TokenError, Verified};

/// Usernames that HTTP Basic clients send with a token instead of the owner's name
/// (reference §6): accepted with any token, compared case-insensitively like every name
/// (`X-Access-Token` is `x-access-token`).
pub const PLACEHOLDER_USERNAMES: [&str; 6] = [
    "",
    "x-access-token",
    "oauth2",
    "x-oauth-basic",
    "git",
    "token",
];

/// Where the token in a credential came from.
pub(crate) enum Picked<'a> {
    /// No token.
    None,
    /// A token, and the Basic username sent beside it when the token was the password.
    Token {
        secret: &'a str,
        username: Option<&'a str>,
    },
}

/// Pick the token out of a credential (reference §1.11): Bearer is the token; Basic's
/// password is the token unless it is empty or `x-oauth-basic`, then the username is.
pub(crate) fn picked(credential: &Credential) -> Picked<'_> {
    match credential {
        Credential::Anonymous | Credential::SshKey(_) | Credential::Session(_) => Picked::None,
        Credential::Bearer(t) => Picked::Token {
            secret: t,
            username: None,
        },
        Credential::Basic { username, password } => {
            if password.is_empty() || password == "x-oauth-basic" {
                Picked::Token {
                    secret: username,
                    username: None,
                }
            } else {
                Picked::Token {
                    secret: password,
                    username: Some(username),
                }
            }
        }
    }
}

/// Whether `path` is a well-formed `owner/name` (letters, digits, `-`, `_`, `.`; not `.`
/// or `..`; each part at most 100 characters; the name never ends in `.git`, which URLs
/// append and strip: `app.git` would be served for `app.git.git` while `app` is decided).
pub fn valid_repository_path(path: &str) -> bool {
    match split_at_byte(path, b'/') {
        Some((owner, name)) => {
            let git_suffix = name.len() >= 4
                && name
                    .get(name.len() - 4..)
                    .is_none_or(|s| s.eq_ignore_ascii_case(".git"));
            valid_name(owner) && valid_name(name) && !git_suffix
        }
        None => false,
    }
}

/// A user, organisation or repository name.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Names compare case-insensitively, as forges treat them.
pub fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The owner part of `owner/name` (the whole string if there is no `/`).
pub fn owner_of(path: &str) -> &str {
    split_at_byte(path, b'/').map(|(o, _)| o).unwrap_or(path)
}

/// Readable by any signed-in user: not private, owner not private.
pub fn visible_to_signed_in(repo: &RepositoryFacts) -> bool {
    !repo.private && repo.owner_visibility != Visibility::Private
}

/// Readable anonymously: not private, owner public (reference §1.12).
pub fn visible_to_anonymous(repo: &RepositoryFacts) -> bool {
    !repo.private && repo.owner_visibility == Visibility::Public
}

/// A named account: a login the policy holds and the facts the host gave for it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct User<'a> {
    pub name: &'a str,
    pub facts: &'a UserFacts,
}

/// A repository: the path the policy asked about and the facts the host gave for it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Repo<'a> {
    pub path: &'a str,
    pub facts: &'a RepositoryFacts,
}

impl Repo<'_> {
    /// The owner part of the path.
    pub fn owner(&self) -> &str {
        owner_of(self.path)
    }
}

/// A verified, live token and what it may do.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokenAuth<'a> {
    pub binding: Option<&'a Binding>,
    pub child: bool,
    pub scopes: ScopeSet,
}

impl<'a> TokenAuth<'a> {
    /// From a stored record's decision facts.
    pub fn of(facts: &'a TokenFacts, scopes: ScopeSet) -> TokenAuth<'a> {
        TokenAuth {
            binding: facts.binding.as_ref(),
            child: facts.child,
            scopes,
        }
    }

    /// Bound to repositories or owners.
    pub fn bound(&self) -> bool {
        self.binding.is_some()
    }

    /// Restricted tokens (bound, public-only, child) never carry admin powers (seed 004,
    /// reference §6).
    pub fn restricted(&self) -> bool {
        self.bound() || self.scopes.public_only || self.child
    }

    /// Whether a target is inside the binding (always, for an unbound token). A
    /// repository is covered when it is listed or its owner is; a namespace (a user or
    /// organisation named by a request) only when the token is bound to that owner — a
    /// token bound to repositories reaches no namespace at all.
    pub fn covers(&self, target: Target<'_>) -> bool {
        let Some(b) = self.binding else {
            return true;
        };
        covers(&b.repositories, &b.owners, target)
    }
}

/// Whether a binding (`repositories`, `owners`) covers `target` (see [`TokenAuth::covers`]).
pub fn covers(repositories: &[String], owners: &[String], target: Target<'_>) -> bool {
    match target {
        Target::Repository(path) => {
            let owner = owner_of(path);
            repositories.iter().any(|r| same_name(r, path))
                || owners.iter().any(|o| same_name(o, owner))
        }
        Target::Namespace(name) => owners.iter().any(|o| same_name(o, name)),
    }
}

/// Something a request acts on. Every target of a request — its repository, the
/// namespace it names, the owner a repository is created under — goes through the same
/// binding, existence and visibility rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// A repository, `owner/name`.
    Repository(&'a str),
    /// A user or organisation.
    Namespace(&'a str),
}

/// Who is asking.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Principal<'a> {
    /// Nobody.
    Anonymous,
    /// A user through a token.
    Token {
        user: User<'a>,
        token: TokenAuth<'a>,
    },
    /// A user through an SSH user key.
    UserKey { user: User<'a> },
    /// A deploy key.
    DeployKey { key: &'a SshKey },
    /// A user the forge authenticated itself (no token: scopes do not apply).
    Session { user: User<'a> },
}

impl<'a> Principal<'a> {
    /// The acting user, if any.
    pub fn user(&self) -> Option<User<'a>> {
        match self {
            Principal::Token { user, .. }
            | Principal::UserKey { user }
            | Principal::Session { user } => Some(*user),
            Principal::Anonymous | Principal::DeployKey { .. } => None,
        }
    }

    /// The token, if the principal came through one.
    pub fn token(&self) -> Option<&TokenAuth<'a>> {
        match self {
            Principal::Token { token, .. } => Some(token),
            _ => None,
        }
    }

    /// The principal acting as `user` (API `sudo`): a token keeps its scopes and its
    /// restrictions, a session becomes the impersonated user's session. Other principals
    /// cannot impersonate (they never pass the sudo rule) and stay as they are.
    pub fn impersonating(&self, user: User<'a>) -> Principal<'a> {
        match self {
            Principal::Token { token, .. } => Principal::Token {
                user,
                token: *token,
            },
            Principal::Session { .. } => Principal::Session { user },
            other => *other,
        }
    }

    /// An SSH key (user or deploy key): valid on git over SSH only.
    pub fn is_key(&self) -> bool {
        matches!(
            self,
            Principal::UserKey { .. } | Principal::DeployKey { .. }
        )
    }

    /// Restricted: a restricted token.
    pub fn restricted(&self) -> bool {
        self.token().is_some_and(TokenAuth::restricted)
    }

    /// A site administrator acting with full powers (never through a restricted token).
    pub fn site_admin(&self) -> bool {
        self.user().is_some_and(|u| u.facts.site_admin) && !self.restricted()
    }

    /// The principal's role on a repository: ownership and site administration make an
    /// admin; a restricted token is capped at write (no repository-admin powers); a deploy
    /// key has read or write on its own repository only.
    pub fn role_on(&self, repo: Repo<'_>) -> Role {
        match self {
            Principal::Anonymous => Role::None,
            Principal::DeployKey { key } => {
                let own = key
                    .repository
                    .as_deref()
                    .is_some_and(|r| same_name(r, repo.path));
                match (own, key.read_only) {
                    (true, true) => Role::Read,
                    (true, false) => Role::Write,
                    (false, _) => Role::None,
                }
            }
            _ => {
                let owner = self.user().is_some_and(|u| same_name(u.name, repo.owner()));
                let base = if owner || self.site_admin() {
                    Role::Admin
                } else {
                    repo.facts.role
                };
                if self.restricted() {
                    base.min(Role::Write)
                } else {
                    base
                }
            }
        }
    }

    /// Whether the principal may see the repository at all.
    pub fn can_read(&self, repo: Repo<'_>) -> bool {
        let visible = match self {
            Principal::Anonymous => visible_to_anonymous(repo.facts),
            // A deploy key reaches its own repository only, public or not.
            Principal::DeployKey { .. } => false,
            _ => visible_to_signed_in(repo.facts),
        };
        visible || self.role_on(repo) >= Role::Read
    }
}

/// The 401 for every bad token.
pub(crate) fn token_invalid(e: TokenError) -> Decision {
    Decision::new(Reason::TokenInvalid, INVALID_TOKEN_MESSAGE).with_detail(e.code())
}

/// A refusal and the rule that made it.
pub(crate) type Refusal = (Rule, Decision);

/// What the credential presents, checked without any fact.
#[derive(Debug)]
pub(crate) enum Presented<'a> {
    /// No credential.
    Anonymous,
    /// A genuine token (format, checksum, key and tag verified), and the Basic username
    /// sent beside it.
    Token {
        secret: &'a str,
        verified: Verified<'a>,
        username: Option<&'a str>,
    },
    /// An SSH key the SSH server verified.
    Key(&'a SshKey),
    /// A session of this login.
    Session(&'a str),
}

impl<'a> Presented<'a> {
    /// The verified token's id.
    pub fn token_id(&self) -> Option<&'a str> {
        match self {
            Presented::Token { verified, .. } => Some(verified.token_id),
            _ => None,
        }
    }

    /// The account behind a session or an SSH user key.
    pub fn account(&self) -> Option<&'a str> {
        match self {
            Presented::Session(name) => Some(name),
            Presented::Key(k) if k.kind == KeyKind::User => Some(&k.owner),
            _ => None,
        }
    }
}

fn conflicting() -> Decision {
    Decision::new(
        Reason::ConflictingCredentials,
        "the request carries two different access tokens: send one",
    )
}

/// The credential half that needs no fact: which credential, no conflicts, and a genuine
/// token (verified with the keys, or found in `cache` as verified before).
pub(crate) fn present<'a>(
    keys: &Keyring,
    cache: Option<&mut TokenCache>,
    credential: &'a Credential,
    also_presented: &'a [String],
    trace: &mut Trace,
) -> Result<Presented<'a>, Refusal> {
    let mut secret: Option<&'a str> = None;
    let mut username: Option<&'a str> = None;
    if let Picked::Token {
        secret: s,
        username: u,
    } = picked(credential)
    {
        secret = Some(s);
        username = u;
        // Basic with a token as the username and another as the password.
        if let (Credential::Basic { username: name, .. }, Some(_)) = (credential, u)
            && name.starts_with(token::PREFIX)
            && name != s
        {
            return Err((Rule::Credential, conflicting()));
        }
    }
    for extra in also_presented.iter().filter(|t| !t.is_empty()) {
        // A key or a session is a credential too: a token beside it is a second one.
        if matches!(credential, Credential::SshKey(_) | Credential::Session(_)) {
            return Err((Rule::Credential, conflicting()));
        }
        match secret {
            Some(s) if s != extra => return Err((Rule::Credential, conflicting())),
            Some(_) => {}
            None => secret = Some(extra),
        }
    }
    match (credential, secret) {
        (_, Some(s)) => {
            let verified = keys
                .verify_cached(cache, s)
                .map_err(|e| (Rule::TokenSignature, token_invalid(e)))?;
            trace.pass(Rule::TokenSignature, || {
                format!("key `{}`", verified.key_id)
            });
            Ok(Presented::Token {
                secret: s,
                verified,
                username,
            })
        }
        (Credential::SshKey(key), None) => Ok(Presented::Key(key)),
        (Credential::Session(name), None) => Ok(Presented::Session(name)),
        _ => Ok(Presented::Anonymous),
    }
}

/// The account facts, which must exist, be active and not be an organisation.
fn active_user<'a>(
    name: &'a str,
    facts: Option<&'a UserFacts>,
    trace: &mut Trace,
) -> Result<User<'a>, Refusal> {
    let inactive = || {
        Decision::new(
            Reason::AccountInactive,
            "the account behind this credential is not active",
        )
    };
    // The account behind the requester's own credential: its state is theirs to know.
    let Some(facts) = facts.filter(|f| f.status == AccountStatus::Active) else {
        trace.note(Rule::Account, || super::notes::account_facts(name, facts));
        return Err((Rule::Account, inactive()));
    };
    if facts.organization {
        // An organisation owns repositories; it never signs in. A token, session or key
        // in its name would act as the admin of all its repositories.
        return Err((
            Rule::Account,
            inactive().with_detail("the account is an organization"),
        ));
    }
    Ok(User { name, facts })
}

/// The half that reads the host's answer: the token's record, the account.
pub(crate) fn resolve<'a>(
    presented: &Presented<'a>,
    answer: &'a FactAnswer,
    now: i64,
    trace: &mut Trace,
) -> Result<Principal<'a>, Refusal> {
    match presented {
        Presented::Anonymous => {
            trace.pass(Rule::Credential, || "anonymous".into());
            Ok(Principal::Anonymous)
        }
        Presented::Session(name) => {
            let user = active_user(name, answer.account.as_ref(), trace)?;
            trace.pass(Rule::Credential, || format!("session of `{}`", user.name));
            Ok(Principal::Session { user })
        }
        Presented::Key(key) => match key.kind {
            KeyKind::User => {
                let user = active_user(&key.owner, answer.account.as_ref(), trace)?;
                trace.pass(Rule::Credential, || {
                    format!("ssh user key `{}` of `{}`", key.id, user.name)
                });
                Ok(Principal::UserKey { user })
            }
            KeyKind::Deploy => {
                trace.pass(Rule::Credential, || format!("deploy key `{}`", key.id));
                Ok(Principal::DeployKey { key })
            }
        },
        Presented::Token {
            secret,
            verified,
            username,
        } => resolve_token(secret, verified, *username, answer, now, trace),
    }
}

fn resolve_token<'a>(
    secret: &str,
    verified: &Verified<'_>,
    username: Option<&str>,
    answer: &'a FactAnswer,
    now: i64,
    trace: &mut Trace,
) -> Result<Principal<'a>, Refusal> {
    let record =
        check_record(answer.token.as_ref(), secret, verified, now).inspect_err(|(rule, d)| {
            // When (Unix seconds): the holder of the secret learns when its own token
            // stopped working, nothing about any other.
            let at = match (d.reason, answer.token.as_ref()) {
                (Reason::TokenRevoked, Some(r)) => r.revoked.map(|t| ("revoked", t)),
                (Reason::TokenExpired, Some(r)) => r.expires.map(|t| ("expired", t)),
                _ => None,
            };
            if let Some((what, t)) = at {
                trace.note(*rule, || format!("{what} at {t}"));
            }
        })?;
    trace.pass(Rule::TokenRecord, || {
        format!("token `{}` of `{}`", verified.token_id, record.owner)
    });
    let user = active_user(&record.owner, answer.owner.as_ref(), trace)?;
    trace.pass(Rule::Account, || format!("`{}` is active", user.name));
    if let Some(name) = username
        && !PLACEHOLDER_USERNAMES.iter().any(|p| same_name(p, name))
        && !same_name(name, &record.owner)
    {
        trace.note(Rule::Username, || {
            // Token-shaped anywhere, in any case (the host's redaction rule): never repeated.
            let plain = valid_name(name) && !name.to_ascii_lowercase().contains(token::PREFIX);
            super::notes::username_facts(&record.owner, plain.then_some(name))
        });
        return Err((
            Rule::Username,
            Decision::new(
                Reason::UsernameMismatch,
                "the username does not own this access token: use your own username or `x-access-token`",
            ),
        ));
    }
    let scopes = ScopeSet::parse_joined(&record.scopes).map_err(|unknown| {
        (
            Rule::ScopesKnown,
            Decision::new(
                Reason::ScopeUnknown,
                "this access token holds a scope this server does not know: create a new token",
            )
            .with_detail(format!("unknown scope `{unknown}`")),
        )
    })?;
    trace.pass(Rule::ScopesKnown, || record.scopes.clone());
    Ok(Principal::Token {
        user,
        token: TokenAuth::of(record, scopes),
    })
}

/// The token's record, checked against the presented secret and the clock.
fn check_record<'r>(
    record: Option<&'r TokenFacts>,
    secret: &str,
    verified: &Verified<'_>,
    now: i64,
) -> Result<&'r TokenFacts, Refusal> {
    let unknown = || {
        (
            Rule::TokenRecord,
            Decision::new(Reason::TokenUnknown, INVALID_TOKEN_MESSAGE),
        )
    };
    let record = record.ok_or_else(unknown)?;
    if !token::digest_matches(secret, verified, &record.secret) {
        return Err(unknown());
    }
    if record.revoked.is_some() {
        let mut d = Decision::new(
            Reason::TokenRevoked,
            "this access token was revoked: create a new one",
        );
        if record.rotated {
            // A rotated-away token presented again has probably leaked: revoke its
            // whole family (GitLab, reference §5.2).
            d.detail = Some("rotated token reused: its family is revoked".into());
            d.effects.revoke_family = true;
        }
        return Err((Rule::TokenRecord, d));
    }
    if let Some(expires) = record.expires
        && expires <= now
    {
        return Err((
            Rule::TokenExpiry,
            Decision::new(
                Reason::TokenExpired,
                "this access token has expired: create a new one",
            ),
        ));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["alice", "a-b", "a_b", "a.b", "A1", "x.git.y"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a b", "a/b", "a@b", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(valid_name(&"a".repeat(100)) && !valid_name(&"a".repeat(101)));
        assert!(valid_repository_path("alice/a-b.c_d"));
        assert!(!valid_repository_path("alice/app.git") && !valid_repository_path("alice/x.GIT"));
        assert!(!valid_repository_path("alice") && !valid_repository_path("a/b/c"));
    }
}

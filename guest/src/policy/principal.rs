//! Who is asking: the credential resolved into a principal, with every credential rule
//! (token format, record, hash, revocation, expiry, account, username, stored scopes,
//! conflicting tokens, SSH keys, sessions). Shared by every kind of request.
#[allow(unused_imports)]
use crate::prelude::*;

use super::decision::{Decision, INVALID_TOKEN_MESSAGE, Reason, Trace};
use super::model::{
    AccountStatus, Credential, Input, KeyKind, RepositoryFacts, Role, SshKey, TokenRecord,
    UserFacts, Visibility,
};
use super::scope::ScopeSet;
use super::token::{self, Keyring, Parsed, TokenError};

/// Usernames that HTTP Basic clients send with a token instead of the owner's name
/// (reference §6): accepted with any token.
pub const PLACEHOLDER_USERNAMES: [&str; 6] = [
    "",
    "x-access-token",
    "oauth2",
    "x-oauth-basic",
    "git",
    "token",
];

/// Where the token in a credential came from.
pub(crate) enum Presented<'a> {
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
pub(crate) fn presented(credential: &Credential) -> Presented<'_> {
    match credential {
        Credential::Anonymous | Credential::SshKey(_) | Credential::Session(_) => Presented::None,
        Credential::Bearer(t) => Presented::Token {
            secret: t,
            username: None,
        },
        Credential::Basic { username, password } => {
            if password.is_empty() || password == "x-oauth-basic" {
                Presented::Token {
                    secret: username,
                    username: None,
                }
            } else {
                Presented::Token {
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
    match path.split_once('/') {
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

/// Whether facts describe the repository at `path`.
pub fn repository_matches(path: &str, repo: &RepositoryFacts) -> bool {
    match path.split_once('/') {
        Some((owner, name)) => same_name(owner, &repo.owner) && same_name(name, &repo.name),
        None => false,
    }
}

/// Readable by any signed-in user: not private, owner not private.
pub fn visible_to_signed_in(repo: &RepositoryFacts) -> bool {
    !repo.private && repo.owner_visibility != Visibility::Private
}

/// Readable anonymously: not private, owner public (reference §1.12).
pub fn visible_to_anonymous(repo: &RepositoryFacts) -> bool {
    !repo.private && repo.owner_visibility == Visibility::Public
}

/// A verified, live token and what it may do.
#[derive(Debug)]
pub(crate) struct TokenAuth<'a> {
    pub record: &'a TokenRecord,
    pub scopes: ScopeSet,
}

impl TokenAuth<'_> {
    /// Bound to repositories or owners.
    pub fn bound(&self) -> bool {
        !self.record.repositories.is_empty() || !self.record.owners.is_empty()
    }

    /// Restricted tokens (bound, public-only, child) never carry admin powers (seed 004,
    /// reference §6).
    pub fn restricted(&self) -> bool {
        self.bound() || self.scopes.public_only || self.record.parent.is_some()
    }

    /// Whether a target is inside the binding (always, for an unbound token). A
    /// repository is covered when it is listed or its owner is; a namespace (a user or
    /// organisation named by a request) only when the token is bound to that owner — a
    /// token bound to repositories reaches no namespace at all.
    pub fn covers(&self, target: Target<'_>) -> bool {
        if !self.bound() {
            return true;
        }
        match target {
            Target::Repository(path) => {
                let owner = path.split_once('/').map(|(o, _)| o).unwrap_or(path);
                self.record.repositories.iter().any(|r| same_name(r, path))
                    || self.record.owners.iter().any(|o| same_name(o, owner))
            }
            Target::Namespace(name) => self.record.owners.iter().any(|o| same_name(o, name)),
        }
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
#[derive(Debug)]
pub(crate) enum Principal<'a> {
    /// Nobody.
    Anonymous,
    /// A user through a token.
    Token {
        user: &'a UserFacts,
        token: TokenAuth<'a>,
    },
    /// A user through an SSH user key.
    UserKey { user: &'a UserFacts },
    /// A deploy key.
    DeployKey { key: &'a SshKey },
    /// A user the forge authenticated itself (no token: scopes do not apply).
    Session { user: &'a UserFacts },
}

impl<'a> Principal<'a> {
    /// The acting user, if any.
    pub fn user(&self) -> Option<&'a UserFacts> {
        match self {
            Principal::Token { user, .. }
            | Principal::UserKey { user }
            | Principal::Session { user } => Some(user),
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
    pub fn impersonating(&self, user: &'a UserFacts) -> Principal<'a> {
        match self {
            Principal::Token { token, .. } => Principal::Token {
                user,
                token: TokenAuth {
                    record: token.record,
                    scopes: token.scopes,
                },
            },
            Principal::Session { .. } => Principal::Session { user },
            Principal::Anonymous => Principal::Anonymous,
            Principal::UserKey { user } => Principal::UserKey { user },
            Principal::DeployKey { key } => Principal::DeployKey { key },
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
        self.user().is_some_and(|u| u.site_admin) && !self.restricted()
    }

    /// The principal's role on a repository: ownership and site administration make an
    /// admin; a restricted token is capped at write (no repository-admin powers); a deploy
    /// key has read or write on its own repository only.
    pub fn role_on(&self, repo: &RepositoryFacts) -> Role {
        match self {
            Principal::Anonymous => Role::None,
            Principal::DeployKey { key } => {
                let path = key.repository.as_deref().unwrap_or_default();
                if repository_matches(path, repo) {
                    if key.read_only {
                        Role::Read
                    } else {
                        Role::Write
                    }
                } else {
                    Role::None
                }
            }
            _ => {
                let owner = self.user().is_some_and(|u| same_name(&u.name, &repo.owner));
                let base = if owner || self.site_admin() {
                    Role::Admin
                } else {
                    repo.role
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
    pub fn can_read(&self, repo: &RepositoryFacts) -> bool {
        let visible = match self {
            Principal::Anonymous => visible_to_anonymous(repo),
            // A deploy key reaches its own repository only, public or not.
            Principal::DeployKey { .. } => false,
            _ => visible_to_signed_in(repo),
        };
        visible || self.role_on(repo) >= Role::Read
    }
}

/// The 401 for every bad token.
pub(crate) fn token_invalid(e: TokenError) -> Decision {
    Decision::new(Reason::TokenInvalid, INVALID_TOKEN_MESSAGE).with_detail(e.code())
}

/// A refusal and the rule that made it.
pub(crate) type Refusal = (&'static str, Decision);

/// Resolve the credential of `input` into a principal.
pub(crate) fn resolve<'a>(
    keys: &Keyring,
    input: &'a Input,
    trace: &mut Trace,
) -> Result<Principal<'a>, Refusal> {
    let primary = presented(&input.credential);
    let mut secret: Option<&'a str> = None;
    let mut username: Option<&'a str> = None;
    if let Presented::Token {
        secret: s,
        username: u,
    } = primary
    {
        secret = Some(s);
        username = u;
        // Basic with a token as the username and another as the password.
        if let (Credential::Basic { username: name, .. }, Some(_)) = (&input.credential, u)
            && name.starts_with(token::PREFIX)
            && name != s
        {
            return Err(("credential", conflicting()));
        }
    }
    for extra in input.also_presented.iter().filter(|t| !t.is_empty()) {
        // A key or a session is a credential too: a token beside it is a second one.
        if matches!(
            input.credential,
            Credential::SshKey(_) | Credential::Session(_)
        ) {
            return Err(("credential", conflicting()));
        }
        match secret {
            Some(s) if s != extra => return Err(("credential", conflicting())),
            Some(_) => {}
            None => secret = Some(extra),
        }
    }
    match (&input.credential, secret) {
        (_, Some(s)) => resolve_token(keys, input, s, username, trace),
        (Credential::SshKey(key), None) => resolve_key(input, key, trace),
        (Credential::Session(name), None) => {
            let user = active_user(input, name)?;
            trace.pass("credential", || format!("session of `{}`", user.name));
            Ok(Principal::Session { user })
        }
        _ => {
            trace.pass("credential", || "anonymous".into());
            Ok(Principal::Anonymous)
        }
    }
}

fn conflicting() -> Decision {
    Decision::new(
        Reason::ConflictingCredentials,
        "the request carries two different access tokens: send one",
    )
}

/// The acting user's facts, which must be for `name` and active.
fn active_user<'a>(input: &'a Input, name: &str) -> Result<&'a UserFacts, Refusal> {
    let inactive = || {
        Decision::new(
            Reason::AccountInactive,
            "the account behind this credential is not active",
        )
    };
    let user = input.user.as_ref().ok_or_else(|| ("account", inactive()))?;
    if !same_name(&user.name, name) {
        return Err((
            "account",
            super::decision::inconsistent("user facts are for another user"),
        ));
    }
    if user.status != AccountStatus::Active {
        return Err(("account", inactive()));
    }
    if user.organization {
        // An organisation owns repositories; it never signs in. A token, session or key
        // in its name would act as the admin of all its repositories.
        return Err((
            "account",
            inactive().with_detail("the account is an organization"),
        ));
    }
    Ok(user)
}

fn resolve_key<'a>(
    input: &'a Input,
    key: &'a SshKey,
    trace: &mut Trace,
) -> Result<Principal<'a>, Refusal> {
    match key.kind {
        KeyKind::User => {
            let user = active_user(input, &key.owner)?;
            trace.pass("credential", || {
                format!("ssh user key `{}` of `{}`", key.id, user.name)
            });
            Ok(Principal::UserKey { user })
        }
        KeyKind::Deploy => {
            trace.pass("credential", || format!("deploy key `{}`", key.id));
            Ok(Principal::DeployKey { key })
        }
    }
}

fn resolve_token<'a>(
    keys: &Keyring,
    input: &'a Input,
    secret: &str,
    username: Option<&str>,
    trace: &mut Trace,
) -> Result<Principal<'a>, Refusal> {
    // With a record, the secret is bound to it by its SHA-256 (checked in constant time
    // below), so the HMAC — already checked by `verify` before the host's lookup — is
    // redone only when that binding fails, to name the refusal exactly. Without a record,
    // the full verification names it.
    let parsed = match input.token {
        Some(_) => keys.parse_listed(secret),
        None => keys.verify(secret),
    }
    .map_err(|e| ("token-signature", token_invalid(e)))?;
    trace.pass("token-signature", || format!("key `{}`", parsed.key_id));
    let record = check_record(input, secret, &parsed).map_err(|refusal| {
        match (refusal.1.reason, keys.verify(secret)) {
            (Reason::TokenUnknown, Err(e)) => ("token-signature", token_invalid(e)),
            _ => refusal,
        }
    })?;
    trace.pass("token-record", || {
        format!("token `{}` of `{}`", record.id, record.owner)
    });
    let user = active_user(input, &record.owner)?;
    trace.pass("account", || format!("`{}` is active", user.name));
    if let Some(name) = username
        && !PLACEHOLDER_USERNAMES.contains(&name)
        && !same_name(name, &record.owner)
    {
        return Err((
            "username",
            Decision::new(
                Reason::UsernameMismatch,
                "the username does not own this access token: use your own username or `x-access-token`",
            ),
        ));
    }
    let scopes = ScopeSet::parse(&record.scopes).map_err(|unknown| {
        (
            "scopes-known",
            Decision::new(
                Reason::ScopeUnknown,
                "this access token holds a scope this server does not know: create a new token",
            )
            .with_detail(format!("unknown scope `{unknown}`")),
        )
    })?;
    trace.pass("scopes-known", || record.scopes.join(","));
    Ok(Principal::Token {
        user,
        token: TokenAuth { record, scopes },
    })
}

/// The token's record, checked against the presented secret and the clock.
fn check_record<'r>(
    input: &'r Input,
    secret: &str,
    parsed: &Parsed<'_>,
) -> Result<&'r TokenRecord, Refusal> {
    let unknown = || {
        (
            "token-record",
            Decision::new(Reason::TokenUnknown, INVALID_TOKEN_MESSAGE),
        )
    };
    let record = input.token.as_ref().ok_or_else(unknown)?;
    if record.id != parsed.token_id {
        return Err((
            "token-record",
            super::decision::inconsistent("token record is for another token id"),
        ));
    }
    if !token::hash_matches(secret, &record.secret_hash) {
        return Err(unknown());
    }
    if record.revoked.is_some() {
        let mut d = Decision::new(
            Reason::TokenRevoked,
            "this access token was revoked: create a new one",
        );
        if record.successor.is_some() {
            // A rotated-away token presented again has probably leaked: revoke its
            // whole family (GitLab, reference §5.2).
            d.detail = Some("rotated token reused: its family is revoked".into());
            d.effects
                .push(super::decision::Effect::RevokeFamily(record.id.clone()));
        }
        return Err(("token-record", d));
    }
    if let Some(expires) = record.expires
        && expires <= input.now
    {
        return Err((
            "token-expiry",
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

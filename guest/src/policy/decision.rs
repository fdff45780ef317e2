//! Decisions: status classes, reason codes and the git rules.

use super::model::{
    AccountStatus, Credential, GitAction, GitInput, RepositoryFacts, RepositoryKind, Role,
    TokenRecord, UserFacts, Visibility,
};
use super::scope::{Category, ScopeSet};
use super::token::{self, Keyring, Parsed, TokenError};

/// Status class of a decision (fixes the HTTP status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 200
    Ok,
    /// 400
    BadRequest,
    /// 401
    Unauthorized,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 503
    Unavailable,
}

impl Status {
    /// The HTTP status code.
    pub fn http(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::Unavailable => 503,
        }
    }

    /// The kebab-case code, as in the WIT.
    pub fn code(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::BadRequest => "bad-request",
            Status::Unauthorized => "unauthorized",
            Status::Forbidden => "forbidden",
            Status::NotFound => "not-found",
            Status::Unavailable => "unavailable",
        }
    }
}

macro_rules! reasons {
    ($($variant:ident = $code:literal => $status:ident,)*) => {
        /// Stable reason code of a decision. See `reason` in the WIT for each case.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Reason {
            $(
                #[doc = $code]
                $variant,
            )*
        }

        impl Reason {
            /// Every reason, in WIT order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The kebab-case code, as in the WIT, JSON, logs and docs.
            pub fn code(self) -> &'static str {
                match self { $(Reason::$variant => $code,)* }
            }

            /// The status class this reason always comes with.
            pub fn status(self) -> Status {
                match self { $(Reason::$variant => Status::$status,)* }
            }
        }
    };
}

reasons! {
    Granted = "granted" => Ok,
    PublicRead = "public-read" => Ok,
    AuthenticationRequired = "authentication-required" => Unauthorized,
    TokenInvalid = "token-invalid" => Unauthorized,
    TokenUnknown = "token-unknown" => Unauthorized,
    TokenExpired = "token-expired" => Unauthorized,
    TokenRevoked = "token-revoked" => Unauthorized,
    AccountInactive = "account-inactive" => Unauthorized,
    UsernameMismatch = "username-mismatch" => Unauthorized,
    TokenNotBound = "token-not-bound" => Unauthorized,
    ScopeMissing = "scope-missing" => Forbidden,
    ScopeUnknown = "scope-unknown" => Forbidden,
    TokenPublicOnly = "token-public-only" => Forbidden,
    PermissionDenied = "permission-denied" => Forbidden,
    RepositoryMirror = "repository-mirror" => Forbidden,
    RepositoryImport = "repository-import" => Forbidden,
    RepositoryArchived = "repository-archived" => Forbidden,
    RepositoryNotFound = "repository-not-found" => NotFound,
    RequestInvalid = "request-invalid" => BadRequest,
    FactsInconsistent = "facts-inconsistent" => Unavailable,
    PolicyFailure = "policy-failure" => Unavailable,
}

/// A decision. Deciding never fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allowed.
    pub allow: bool,
    /// Status class.
    pub status: Status,
    /// Reason code.
    pub reason: Reason,
    /// Message for the user.
    pub message: String,
    /// Detail for operators.
    pub detail: Option<String>,
}

impl Decision {
    /// A decision for `reason`; allow exactly when its status is `ok`.
    pub fn new(reason: Reason, message: impl Into<String>) -> Decision {
        let status = reason.status();
        Decision {
            allow: status == Status::Ok,
            status,
            reason,
            message: message.into(),
            detail: None,
        }
    }

    /// Attach operator detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Decision {
        self.detail = Some(detail.into());
        self
    }
}

/// The uniform message for every bad token: a forger learns nothing (reference §3.4).
pub const INVALID_TOKEN_MESSAGE: &str = "invalid access token";
/// The one answer for a missing repository and for one the principal may not see.
pub const NOT_FOUND_MESSAGE: &str = "repository not found";

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
        Credential::Anonymous => Presented::None,
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
/// or `..`; at most 255 characters).
pub fn valid_repository_path(path: &str) -> bool {
    fn segment(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 100
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    }
    match path.split_once('/') {
        Some((owner, name)) => path.len() <= 255 && segment(owner) && segment(name),
        None => false,
    }
}

fn same_name(a: &str, b: &str) -> bool {
    // Forges treat user and repository names case-insensitively.
    a.eq_ignore_ascii_case(b)
}

fn repository_matches(path: &str, repo: &RepositoryFacts) -> bool {
    match path.split_once('/') {
        Some((owner, name)) => same_name(owner, &repo.owner) && same_name(name, &repo.name),
        None => false,
    }
}

/// Readable by any signed-in user: not private, owner not private.
fn visible_to_signed_in(repo: &RepositoryFacts) -> bool {
    !repo.private && repo.owner_visibility != Visibility::Private
}

/// Readable anonymously: not private, owner public (reference §1.12).
fn visible_to_anonymous(repo: &RepositoryFacts) -> bool {
    !repo.private && repo.owner_visibility == Visibility::Public
}

fn not_found() -> Decision {
    Decision::new(Reason::RepositoryNotFound, NOT_FOUND_MESSAGE)
}

fn write_block(repo: &RepositoryFacts) -> Option<Decision> {
    match repo.kind {
        RepositoryKind::Mirror => {
            return Some(Decision::new(
                Reason::RepositoryMirror,
                "this repository is a mirror and cannot be pushed to",
            ));
        }
        RepositoryKind::Import => {
            return Some(Decision::new(
                Reason::RepositoryImport,
                "this repository is an import and cannot be pushed to",
            ));
        }
        RepositoryKind::Hosted => {}
    }
    if repo.archived {
        return Some(Decision::new(
            Reason::RepositoryArchived,
            "this repository is archived and cannot be pushed to",
        ));
    }
    None
}

/// Decide a git request. Order: request shape, credential, token record, account, scopes,
/// binding, repository existence and visibility, write rules.
pub fn decide_git(keys: &Keyring, input: &GitInput) -> Decision {
    let path = input.request.repository.as_str();
    if !valid_repository_path(path) {
        return Decision::new(
            Reason::RequestInvalid,
            "the repository path must be `owner/name`",
        )
        .with_detail("malformed repository path");
    }
    if let Some(repo) = &input.repository
        && !repository_matches(path, repo)
    {
        return Decision::new(
            Reason::FactsInconsistent,
            "the server could not decide this request; try again later",
        )
        .with_detail("repository facts are for another repository");
    }
    match presented(&input.credential) {
        Presented::None => decide_anonymous(input),
        Presented::Token { secret, username } => match keys.verify(secret) {
            Err(e) => token_invalid(e),
            Ok(parsed) => decide_token(input, secret, &parsed, username),
        },
    }
}

pub(crate) fn token_invalid(e: TokenError) -> Decision {
    Decision::new(Reason::TokenInvalid, INVALID_TOKEN_MESSAGE).with_detail(e.code())
}

fn decide_anonymous(input: &GitInput) -> Decision {
    let repo = input.repository.as_ref();
    match input.request.action {
        GitAction::Push => Decision::new(
            Reason::AuthenticationRequired,
            "pushing needs a credential: use an access token",
        ),
        GitAction::Pull => match repo {
            Some(r) if visible_to_anonymous(r) => {
                Decision::new(Reason::PublicRead, "anonymous read of a public repository")
            }
            // Private and missing repositories get the same 401, so an anonymous client
            // learns nothing about existence, and git prompts for a credential.
            _ => Decision::new(
                Reason::AuthenticationRequired,
                "this repository needs a credential: use an access token",
            ),
        },
    }
}

/// The token's record, checked against the presented secret and the clock.
fn check_record<'r>(
    input: &'r GitInput,
    secret: &str,
    parsed: &Parsed<'_>,
) -> Result<&'r TokenRecord, Decision> {
    let unknown = || Decision::new(Reason::TokenUnknown, INVALID_TOKEN_MESSAGE);
    let record = input.token.as_ref().ok_or_else(unknown)?;
    if record.id != parsed.token_id {
        return Err(Decision::new(
            Reason::FactsInconsistent,
            "the server could not decide this request; try again later",
        )
        .with_detail("token record is for another token id"));
    }
    if !token::hash_matches(secret, &record.secret_hash) {
        return Err(unknown());
    }
    if record.revoked.is_some() {
        return Err(Decision::new(
            Reason::TokenRevoked,
            "this access token was revoked: create a new one",
        ));
    }
    if let Some(expires) = record.expires
        && expires <= input.now
    {
        return Err(Decision::new(
            Reason::TokenExpired,
            "this access token has expired: create a new one",
        ));
    }
    Ok(record)
}

fn check_owner<'i>(input: &'i GitInput, record: &TokenRecord) -> Result<&'i UserFacts, Decision> {
    let inactive = || {
        Decision::new(
            Reason::AccountInactive,
            "the account that owns this access token is not active",
        )
    };
    let owner = input.owner.as_ref().ok_or_else(inactive)?;
    if !same_name(&owner.name, &record.owner) {
        return Err(Decision::new(
            Reason::FactsInconsistent,
            "the server could not decide this request; try again later",
        )
        .with_detail("owner facts are for another user"));
    }
    if owner.status != AccountStatus::Active {
        return Err(inactive());
    }
    Ok(owner)
}

fn decide_token(
    input: &GitInput,
    secret: &str,
    parsed: &Parsed<'_>,
    username: Option<&str>,
) -> Decision {
    let record = match check_record(input, secret, parsed) {
        Ok(r) => r,
        Err(d) => return d,
    };
    let owner = match check_owner(input, record) {
        Ok(o) => o,
        Err(d) => return d,
    };
    if let Some(name) = username
        && !PLACEHOLDER_USERNAMES.contains(&name)
        && !same_name(name, &record.owner)
    {
        return Decision::new(
            Reason::UsernameMismatch,
            "the username does not own this access token: use your own username or `x-access-token`",
        );
    }
    let scopes = match ScopeSet::parse(&record.scopes) {
        Ok(s) => s,
        Err(unknown) => {
            return Decision::new(
                Reason::ScopeUnknown,
                "this access token holds a scope this server does not know: create a new token",
            )
            .with_detail(format!("unknown scope `{unknown}`"));
        }
    };
    let path = input.request.repository.as_str();
    let bound = !record.repositories.is_empty();
    if bound && !record.repositories.iter().any(|r| same_name(r, path)) {
        return Decision::new(
            Reason::TokenNotBound,
            "this access token is not valid for this repository",
        );
    }
    let action = input.request.action;
    let scope_ok = match action {
        GitAction::Pull => scopes.can_read(Category::Repository) || scopes.pull,
        GitAction::Push => scopes.can_write(Category::Repository) || scopes.push,
    };
    if !scope_ok {
        let (verb, needed) = match action {
            GitAction::Pull => ("pull", "read:repository or repository:pull"),
            GitAction::Push => ("push", "write:repository or repository:push"),
        };
        return Decision::new(
            Reason::ScopeMissing,
            format!("this access token may not {verb}: it needs the scope {needed}"),
        )
        .with_detail(format!("needs {needed}"));
    }
    let Some(repo) = input.repository.as_ref() else {
        return not_found();
    };
    // Restricted tokens lose the owner's site-admin powers (seed 004).
    let restricted = bound || scopes.public_only;
    let role = if same_name(&repo.owner, &record.owner) || (owner.site_admin && !restricted) {
        Role::Admin
    } else {
        repo.role
    };
    let can_read = visible_to_signed_in(repo) || role >= Role::Read;
    if !can_read {
        return not_found();
    }
    if scopes.public_only && !visible_to_anonymous(repo) {
        return Decision::new(
            Reason::TokenPublicOnly,
            "this access token is limited to public repositories",
        );
    }
    if action == GitAction::Push {
        if let Some(d) = write_block(repo) {
            return d;
        }
        if role < Role::Write {
            return Decision::new(
                Reason::PermissionDenied,
                "you may read this repository but not push to it",
            );
        }
    }
    let verb = match action {
        GitAction::Pull => "pull",
        GitAction::Push => "push",
    };
    Decision::new(Reason::Granted, format!("{verb} allowed by access token"))
}

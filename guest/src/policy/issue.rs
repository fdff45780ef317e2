//! Minting: what a new token may hold, and its record.

use super::model::{IssueError, IssueRequest, IssuedToken, TokenRecord};
use super::principal::{valid_name, valid_repository_path};
use super::scope::{BOUND_ALLOWED, ScopeSet};
use super::token::{self, ENTROPY_BYTES, Keyring};

/// Longest token name accepted at minting.
pub const MAX_NAME_CHARS: usize = 100;

fn dedup(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for x in list {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(x)) {
            out.push(x.clone());
        }
    }
    out
}

/// Validate a mint request and build the token and its record.
pub fn issue(
    keys: &Keyring,
    request: &IssueRequest,
    entropy: Option<&[u8; ENTROPY_BYTES]>,
) -> Result<IssuedToken, IssueError> {
    if !valid_name(&request.owner) {
        return Err(IssueError::BadOwner);
    }
    let name_chars = request.name.chars().count();
    if name_chars == 0 || name_chars > MAX_NAME_CHARS || request.name.chars().any(char::is_control)
    {
        return Err(IssueError::BadName);
    }
    let scopes = ScopeSet::parse(&request.scopes).map_err(IssueError::UnknownScope)?;
    if !scopes.has_permission() {
        return Err(IssueError::NoPermissionScope);
    }
    if let Some(bad) = request
        .repositories
        .iter()
        .find(|r| !valid_repository_path(r))
    {
        return Err(IssueError::BadRepository(bad.clone()));
    }
    if let Some(bad) = request.owners.iter().find(|o| !valid_name(o)) {
        return Err(IssueError::BadRepository(bad.clone()));
    }
    let bound = !request.repositories.is_empty() || !request.owners.is_empty();
    if bound {
        // Forgejo #11311 (reference §1.14): repository and issue scopes only, and never
        // together with public-only.
        if scopes.public_only {
            return Err(IssueError::BoundAndPublicOnly);
        }
        if let Some(bad) = request
            .scopes
            .iter()
            .find(|s| !s.is_empty() && !BOUND_ALLOWED.contains(&s.as_str()))
        {
            return Err(IssueError::ScopeNotAllowedWhenBound(bad.clone()));
        }
    }
    if let Some(expires) = request.expires
        && expires <= request.now
    {
        return Err(IssueError::ExpiryInPast);
    }
    let entropy = entropy.ok_or(IssueError::EntropyUnavailable)?;
    let (secret, token_id) = keys.mint(entropy);
    let record = TokenRecord {
        id: token_id,
        owner: request.owner.clone(),
        name: request.name.clone(),
        scopes: scopes.normalized(),
        repositories: dedup(&request.repositories),
        owners: dedup(&request.owners),
        parent: None,
        created: request.now,
        expires: request.expires,
        revoked: None,
        secret_hash: token::secret_hash(&secret).to_vec(),
    };
    Ok(IssuedToken { secret, record })
}

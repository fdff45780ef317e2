//! The forge-authz policy core: pure, deterministic Rust. No WIT types, no I/O, no
//! clock (the time is an input), no randomness (entropy is an input). The component
//! (`crate::component`) and the native tests both drive this module, so the same
//! scenarios run natively and through wasm and must agree.
#![forbid(unsafe_code)]

pub mod decision;
pub mod model;
pub mod scope;
pub mod token;

pub use decision::{Decision, Reason, Status};
pub use model::*;
pub use scope::ScopeSet;
pub use token::{TokenError, VerifiedToken};

use decision::{Presented, presented, valid_repository_path};
use token::{ENTROPY_BYTES, Keyring};

/// Longest token name accepted at minting.
pub const MAX_NAME_CHARS: usize = 100;

/// Public fields of a well-formed token, read without any key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// Public token id.
    pub token_id: String,
    /// Key id (unchecked).
    pub key_id: String,
}

/// Format and checksum check with no key and no store (`inspect` in the WIT).
pub fn inspect(secret: &str) -> Result<TokenInfo, TokenError> {
    let p = token::parse(secret)?;
    Ok(TokenInfo {
        token_id: p.token_id.to_string(),
        key_id: p.key_id.to_string(),
    })
}

/// A configured policy: keys with precomputed HMAC state.
#[derive(Clone, Debug)]
pub struct Authorizer {
    keys: Keyring,
}

impl Authorizer {
    /// Validate the configuration and derive key state once.
    pub fn new(config: &Config) -> Result<Authorizer, ConfigError> {
        Ok(Authorizer {
            keys: Keyring::new(config)?,
        })
    }

    /// Find and verify the token in a credential, with no store.
    pub fn verify(&self, credential: &Credential) -> Result<Option<VerifiedToken>, TokenError> {
        match presented(credential) {
            Presented::None => Ok(None),
            Presented::Token { secret, .. } => {
                let p = self.keys.verify(secret)?;
                Ok(Some(VerifiedToken {
                    token_id: p.token_id.to_string(),
                    key_id: p.key_id.to_string(),
                }))
            }
        }
    }

    /// Decide a git request. Never fails.
    pub fn decide_git(&self, input: &GitInput) -> Decision {
        decision::decide_git(&self.keys, input)
    }

    /// Mint a token from `entropy` (36 bytes from a CSPRNG; `None` if the source failed).
    pub fn issue(
        &self,
        request: &IssueRequest,
        entropy: Option<&[u8; ENTROPY_BYTES]>,
    ) -> Result<IssuedToken, IssueError> {
        let owner_ok = !request.owner.is_empty()
            && request.owner.len() <= 100
            && request
                .owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !owner_ok {
            return Err(IssueError::BadOwner);
        }
        let name_chars = request.name.chars().count();
        if name_chars == 0
            || name_chars > MAX_NAME_CHARS
            || request.name.chars().any(char::is_control)
        {
            return Err(IssueError::BadName);
        }
        let scopes = ScopeSet::parse(&request.scopes).map_err(IssueError::UnknownScope)?;
        if !scopes.has_permission() {
            return Err(IssueError::NoPermissionScope);
        }
        let mut repositories: Vec<String> = Vec::with_capacity(request.repositories.len());
        for repo in &request.repositories {
            if !valid_repository_path(repo) {
                return Err(IssueError::BadRepository(repo.clone()));
            }
            if !repositories.iter().any(|r| r.eq_ignore_ascii_case(repo)) {
                repositories.push(repo.clone());
            }
        }
        if let Some(expires) = request.expires
            && expires <= request.now
        {
            return Err(IssueError::ExpiryInPast);
        }
        let entropy = entropy.ok_or(IssueError::EntropyUnavailable)?;
        let (secret, token_id) = self.keys.mint(entropy);
        let record = TokenRecord {
            id: token_id,
            owner: request.owner.clone(),
            name: request.name.clone(),
            scopes: scopes.normalized(),
            repositories,
            created: request.now,
            expires: request.expires,
            revoked: None,
            secret_hash: token::secret_hash(&secret).to_vec(),
        };
        Ok(IssuedToken { secret, record })
    }
}

//! Token lifecycle rules (Gafaelfawr's TokenService, seed 002; GitLab rotation and
//! Launchpad last-used, reference §4-5): minting, child tokens, rotation, revocation,
//! edits. Pure: the host stores what these functions return. Who may do each, and which
//! records may exist, is [`super::authority`]; expiry bookkeeping and audit are
//! [`super::audit`].
//!
//! One module per operation: [`mint`] (tokens and child tokens), [`rotate`], [`revoke`],
//! [`edit`], each an [`Authorizer`](super::Authorizer) method written in its module (no
//! forwarding layer between the API and the rule); here, what they share.
#[allow(unused_imports)]
use crate::prelude::*;

mod edit;
mod mint;
mod revoke;
mod rotate;

use super::model::{IssueError, LifecycleError, SecretDigest, Timestamp, TokenRecord};
use super::records::find;
use super::token::{ENTROPY_BYTES, Keyring};

pub use super::authority::MAX_NAME_CHARS;
pub use super::records::live;

/// Last-used is written at most this often per token (Launchpad, GitLab): seconds.
pub const LAST_USED_INTERVAL: i64 = 600;

/// Whether the host should record a use now, for a token last used at `last_used`.
pub fn last_used_due(last_used: Option<Timestamp>, now: Timestamp) -> bool {
    last_used.is_none_or(|t| now.saturating_sub(t) >= LAST_USED_INTERVAL)
}

/// The placeholder digest of a record template (replaced by the minted token's tag).
const NO_DIGEST: SecretDigest = SecretDigest::HmacTag([0; 32]);

fn new_record(
    keys: &Keyring,
    entropy: &[u8; ENTROPY_BYTES],
    template: TokenRecord,
) -> (String, TokenRecord) {
    let (secret, token_id, tag) = keys.mint(entropy);
    let record = TokenRecord {
        id: token_id,
        secret: SecretDigest::HmacTag(tag),
        ..template
    };
    (secret, record)
}

/// The live parent of a child token (`None` for a token that is not a child). A child
/// whose parent is missing, revoked or expired cannot be changed: it is dead too.
fn live_parent<'a>(
    child: &TokenRecord,
    records: &'a [TokenRecord],
    now: Timestamp,
) -> Result<Option<&'a TokenRecord>, LifecycleError> {
    let Some(pid) = child.parent.as_deref() else {
        return Ok(None);
    };
    match find(records, pid) {
        Some(p) if live(p, now) => Ok(Some(p)),
        _ => Err(LifecycleError::Refused(IssueError::CreatorNotLive)),
    }
}

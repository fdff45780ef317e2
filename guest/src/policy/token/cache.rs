//! The cache of verified tokens an authorizer keeps between decisions.
#[allow(unused_imports)]
use crate::prelude::*;

use super::digest::{Verified, ct_eq};
use super::format::{PREFIX, TOKEN_ID_CHARS, id_offset};

/// How many verified tokens an authorizer remembers.
pub const CACHE_SLOTS: usize = 64;

/// The last tokens an authorizer verified: the exact secret strings and their tags,
/// direct-mapped by token id. A hit needs the whole presented secret to equal a secret
/// that passed [`Keyring::verify`](super::Keyring::verify) with the same keys (compared in
/// constant time), so it stands for exactly what verification would say. It holds nothing
/// a store can change (no record, no expiry, no revocation): those are read on every
/// decision. One cache belongs to one [`Keyring`](super::Keyring) (the component keeps the
/// pair in one resource).
#[derive(Clone, Default)]
pub struct TokenCache {
    slots: Vec<Option<CacheSlot>>,
}

#[derive(Clone)]
struct CacheSlot {
    secret: String,
    tag: [u8; 32],
}

impl core::fmt::Debug for TokenCache {
    // Holds secrets: show only how full it is.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let used = self.slots.iter().filter(|s| s.is_some()).count();
        f.debug_struct("TokenCache").field("used", &used).finish()
    }
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> TokenCache {
        TokenCache::default()
    }

    fn slot_of(secret: &str) -> Option<usize> {
        let at = id_offset(secret)?;
        let id = secret.get(at..at + 4)?.as_bytes();
        let h = id.iter().fold(0usize, |h, &b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        Some(h % CACHE_SLOTS)
    }

    /// The verification of `secret`, if it is remembered.
    pub fn get<'a>(&self, secret: &'a str) -> Option<Verified<'a>> {
        let i = Self::slot_of(secret)?;
        let slot = self.slots.get(i)?.as_ref()?;
        let same = ct_eq(slot.secret.as_bytes(), secret.as_bytes());
        if !same {
            return None;
        }
        let at = id_offset(secret)?;
        Some(Verified {
            key_id: secret.get(PREFIX.len()..at - 1)?,
            token_id: secret.get(at..at + TOKEN_ID_CHARS)?,
            tag: slot.tag,
        })
    }

    /// Remember a verified secret (evicting whatever shared its slot).
    pub(super) fn insert(&mut self, secret: &str, tag: [u8; 32]) {
        let Some(i) = Self::slot_of(secret) else {
            return;
        };
        if self.slots.is_empty() {
            self.slots = vec![None; CACHE_SLOTS];
        }
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = Some(CacheSlot {
                secret: secret.to_string(),
                tag,
            });
        }
    }
}

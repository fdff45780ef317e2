//! Issue 24 experiment (not shipped): the forge-authz core behind the crossing shapes of
//! `../wit/shapes.wit`. The bit packing (`user_bits`, `repo_bits`, `token_bits`) is shared
//! with the host, which compiles this crate natively for it.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![allow(clippy::missing_panics_doc)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use forge_authz_guest::policy::{self as core, Decision, Reason};

/// An account's facts in 8 bits (0: none).
pub fn user_bits(u: Option<&core::UserFacts>) -> u32 {
    let Some(u) = u else { return 0 };
    1 | (u.status as u32) << 1
        | (u.site_admin as u32) << 3
        | (u.visibility as u32) << 4
        | (u.organization as u32) << 6
}

/// `user_bits` read back.
pub fn user_in(b: u32) -> Option<core::UserFacts> {
    use core::{AccountStatus as S, Visibility as V};
    (b & 1 == 1).then(|| core::UserFacts {
        status: [S::Active, S::Inactive, S::Suspended][((b >> 1) & 3).min(2) as usize],
        site_admin: b & 8 != 0,
        visibility: [V::Public, V::Limited, V::Private][((b >> 4) & 3).min(2) as usize],
        organization: b & 64 != 0,
    })
}

/// A repository's scalar facts in 9 bits (0: none); its lists travel beside them.
pub fn repo_bits(r: Option<&core::RepositoryFacts>) -> u32 {
    let Some(r) = r else { return 0 };
    1 | (r.owner_visibility as u32) << 1
        | (r.private as u32) << 3
        | (r.kind as u32) << 4
        | (r.archived as u32) << 6
        | (r.role as u32) << 7
}

/// `repo_bits` read back, with the owner's IP allow list.
pub fn repo_in(b: u32, owner_ip_allow: Vec<String>) -> Option<core::RepositoryFacts> {
    use core::{RepositoryKind as K, Role as R, Visibility as V};
    (b & 1 == 1).then(|| core::RepositoryFacts {
        owner_visibility: [V::Public, V::Limited, V::Private][((b >> 1) & 3).min(2) as usize],
        private: b & 8 != 0,
        kind: [K::Hosted, K::Mirror, K::Import][((b >> 4) & 3).min(2) as usize],
        archived: b & 64 != 0,
        role: [R::None, R::Read, R::Write, R::Admin][((b >> 7) & 3) as usize],
        protected_refs: Vec::new(),
        registrant: None,
        owner_ip_allow,
    })
}

/// A token record's flags and presence bits (see `token-row.bits`).
pub fn token_bits(t: &core::TokenFacts) -> u32 {
    (t.child as u32)
        | (t.rotated as u32) << 1
        | (matches!(t.secret, core::SecretDigest::Sha256(_)) as u32) << 2
        | (t.last_used.is_some() as u32) << 3
        | (t.expires.is_some() as u32) << 4
        | (t.revoked.is_some() as u32) << 5
        | (t.binding.is_some() as u32) << 6
}

/// The scalar parts of a token row read back (lists empty: callers add them).
pub fn token_in(
    owner: String,
    scopes: String,
    bits: u32,
    times: [i64; 3],
    digest: [u8; 32],
) -> core::TokenFacts {
    let [last_used, expires, revoked] = times;
    core::TokenFacts {
        owner,
        scopes,
        binding: (bits & 64 != 0).then(core::Binding::default),
        child: bits & 1 != 0,
        rotated: bits & 2 != 0,
        last_used: (bits & 8 != 0).then_some(last_used),
        expires: (bits & 16 != 0).then_some(expires),
        revoked: (bits & 32 != 0).then_some(revoked),
        secret: if bits & 4 != 0 {
            core::SecretDigest::Sha256(digest)
        } else {
            core::SecretDigest::HmacTag(digest)
        },
        ip_allow: Vec::new(),
    }
}

/// Shape 3's and 4's facts: `bits` packs the token row's bits, has-token << 7, the owner's
/// user bits << 8 and the repository's bits << 16.
pub fn given(
    owner: String,
    scopes: String,
    bits: u32,
    times: [i64; 3],
    digest: [u8; 32],
) -> core::FactAnswer {
    core::FactAnswer {
        token: (bits & 128 != 0).then(|| token_in(owner, scopes, bits & 127, times, digest)),
        owner: user_in((bits >> 8) & 255),
        repository: repo_in(bits >> 16, Vec::new()),
        ..core::FactAnswer::default()
    }
}

/// A git request from shape 2's and 3's `kind`.
pub fn request(
    kind: u32,
    secret: String,
    repository: String,
    client: Option<String>,
    now: i64,
) -> core::AuthorizeRequest {
    core::AuthorizeRequest {
        credential: if kind & 15 == 1 {
            core::Credential::Bearer(secret)
        } else {
            core::Credential::Anonymous
        },
        also_presented: Vec::new(),
        client_address: client,
        request: core::Request::Git(core::GitRequest {
            transport: if kind & 32 != 0 {
                core::Transport::Ssh
            } else {
                core::Transport::Http
            },
            repository,
            action: if kind & 16 != 0 {
                core::GitAction::Push
            } else {
                core::GitAction::Pull
            },
            refs: Vec::new(),
        }),
        now,
        explain: false,
    }
}

/// The packed answer: reason index | effects << 8 | has-message << 10.
pub fn packed(d: &Decision) -> u64 {
    let reason = Reason::ALL
        .iter()
        .position(|r| *r == d.reason)
        .unwrap_or(255) as u64;
    reason
        | (d.effects.touch_last_used as u64) << 8
        | (d.effects.revoke_family as u64) << 9
        | (d.message.is_some() as u64) << 10
}

#[doc(hidden)]
pub use {
    alloc::string::String as __String, alloc::vec::Vec as __Vec,
    forge_authz_guest::policy::RepositoryFacts as __RepositoryFacts,
};

/// `Facts::repositories` for a source that answers no batch (none here asks one).
#[macro_export]
macro_rules! no_batch {
    () => {
        fn repositories(
            &mut self,
            p: &[$crate::__String],
            _v: Option<&str>,
        ) -> $crate::__Vec<Option<$crate::__RepositoryFacts>> {
            p.iter().map(|_| None).collect()
        }
    };
}

/// Facts given in the call (shape 3): answered once, from what the host supplied.
pub struct Given(pub Option<core::FactAnswer>);

impl core::Facts for Given {
    fn lookup(&mut self, _q: &core::FactQuery<'_>) -> core::FactAnswer {
        self.0.take().unwrap_or_default()
    }
    no_batch!();
}

#[cfg(target_arch = "wasm32")]
mod component;

//! Every closed list of names the contract spells, once, in order: what hosts in other
//! languages validate against and print (their copies are generated from these lists and
//! from [`super::Reason::ALL`] by `tests/tests/vocabulary.rs`). Each entry's spelling is
//! its `name()`; `guest/tests/vocabulary.rs` pins the spellings and checks that every list
//! holds every variant.
#[allow(unused_imports)]
use crate::prelude::*;

use super::model::{CreationStep, GitAction, PrivilegedOperation, Role};

pub use super::scope::CATEGORIES;

/// Roles, in their order (`none < read < write < admin`).
pub const ROLES: [Role; 4] = [Role::None, Role::Read, Role::Write, Role::Admin];

/// Repository creation steps.
pub const CREATION_STEPS: [CreationStep; 3] = [
    CreationStep::PushToCreate,
    CreationStep::Confirm,
    CreationStep::Abort,
];

/// Privileged API operations.
pub const OPERATIONS: [PrivilegedOperation; 8] = [
    PrivilegedOperation::RepositorySettings,
    PrivilegedOperation::DeleteRepository,
    PrivilegedOperation::TransferRepository,
    PrivilegedOperation::ConvertMirror,
    PrivilegedOperation::GenerateFromTemplate,
    PrivilegedOperation::CreateForOtherOwner,
    PrivilegedOperation::ViewAdminDetails,
    PrivilegedOperation::Moderate,
];

/// Git actions.
pub const GIT_ACTIONS: [GitAction; 2] = [GitAction::Pull, GitAction::Push];

/// The names of a ref permission set's members, in order (`ref-permissions` answers).
pub const REF_PERMISSIONS: [&str; 3] = ["create", "push", "force-push"];

/// Every scope a token may hold (the grammar is in [`super::scope`]): `read:`/`write:` on
/// each category in [`CATEGORIES`] order, `all`, the `public-only` restriction, Launchpad's
/// three, GitLab's four aliases, and `user:token`. Anything else is `scope-unknown`.
pub const SCOPES: [&str; 28] = [
    "read:activitypub",
    "write:activitypub",
    "read:admin",
    "write:admin",
    "read:issue",
    "write:issue",
    "read:misc",
    "write:misc",
    "read:notification",
    "write:notification",
    "read:organization",
    "write:organization",
    "read:package",
    "write:package",
    "read:repository",
    "write:repository",
    "read:user",
    "write:user",
    "all",
    "public-only",
    "repository:pull",
    "repository:push",
    "repository:build_status",
    "read_repository",
    "write_repository",
    "api",
    "read_api",
    "user:token",
];

//! Every closed list of names the contract spells, once, in order: what hosts in other
//! languages validate against and print (their copies are generated from these lists and
//! from [`super::Reason::ALL`] by `tests/tests/vocabulary.rs`). Each entry's spelling is
//! its `name()`; `guest/tests/vocabulary.rs` pins the spellings and checks that every list
//! holds every variant. The facts' closed sets (account status, visibility, repository
//! kind, role, key kind) are each declared once with their spellings (`named_enum!`), and
//! their lists here are those declarations' `ALL`.
#[allow(unused_imports)]
use crate::prelude::*;

use super::model::{
    AccountStatus, CreationStep, GitAction, KeyKind, PrivilegedOperation, RepositoryKind, Role,
    Visibility,
};
use super::scope::Category;

pub use super::scope::CATEGORIES;

/// A value of one of the closed lists, known by its name: what files, store columns and
/// hosts spell (the WIT case name), and the list it is looked up in. Hosts read and write
/// every such field through this one trait, so no second copy of a spelling exists.
pub trait Named: Copy + 'static {
    /// Every value, in the vocabulary's order.
    const ALL: &'static [Self];
    /// The value's name.
    fn name(self) -> &'static str;
    /// The value named `name`, if any.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }
}

/// [`Named`] for the lists below whose types spell their own names.
macro_rules! named_by_list {
    ($($Type:ty => $list:ident,)*) => {
        $(
            impl Named for $Type {
                const ALL: &'static [Self] = &$list;
                fn name(self) -> &'static str {
                    <$Type>::name(self)
                }
            }
        )*
    };
}

named_by_list! {
    CreationStep => CREATION_STEPS,
    PrivilegedOperation => OPERATIONS,
    GitAction => GIT_ACTIONS,
    Category => CATEGORIES,
}

/// Roles, in their order (`none < read < write < admin`).
pub const ROLES: &[Role] = Role::ALL;

/// Account states.
pub const ACCOUNT_STATUSES: &[AccountStatus] = AccountStatus::ALL;

/// Visibilities of users and organisations.
pub const VISIBILITIES: &[Visibility] = Visibility::ALL;

/// Repository kinds.
pub const REPOSITORY_KINDS: &[RepositoryKind] = RepositoryKind::ALL;

/// SSH key kinds.
pub const KEY_KINDS: &[KeyKind] = KeyKind::ALL;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name of `T`'s list, in order, after checking each reads back as itself.
    fn names<T: Named + PartialEq + core::fmt::Debug>() -> Vec<&'static str> {
        for v in T::ALL {
            assert_eq!(T::from_name(v.name()), Some(*v));
        }
        assert_eq!(T::from_name(""), None);
        T::ALL.iter().map(|v| v.name()).collect()
    }

    #[test]
    fn each_named_list_reads_its_own_names_and_the_facts_keep_their_spellings() {
        // The facts' spellings are what files and store columns hold: pinned here.
        assert_eq!(
            names::<AccountStatus>(),
            ["active", "inactive", "suspended"]
        );
        assert_eq!(names::<Visibility>(), ["public", "limited", "private"]);
        assert_eq!(names::<RepositoryKind>(), ["hosted", "mirror", "import"]);
        assert_eq!(names::<Role>(), ["none", "read", "write", "admin"]);
        assert_eq!(names::<KeyKind>(), ["user", "deploy"]);
        assert!(
            ROLES.windows(2).all(|w| matches!(w, [a, b] if a < b)),
            "roles in order"
        );
        assert_eq!(Role::from_name("Read"), None);
        assert_eq!(names::<CreationStep>().len(), CREATION_STEPS.len());
        assert_eq!(names::<PrivilegedOperation>().len(), OPERATIONS.len());
        assert_eq!(names::<GitAction>(), ["pull", "push"]);
        assert_eq!(names::<Category>().len(), CATEGORIES.len());
    }
}

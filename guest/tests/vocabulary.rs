//! The policy's names and sentences, pinned: every role, step, operation, method, action,
//! audit kind, trace outcome and error sentence a host prints, logs or matches on. They are
//! part of the contract (the WIT's kebab-case names, the README's tables, the messages users
//! act on), so a change to one must be deliberate: it fails here first. Each table lists
//! every variant, so a new one without a name fails to compile or to match.
// Table tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

use forge_authz_guest::policy::{
    Account, AccountStatus, Actor, AuditKind, ConfigError, CreationStep, GitAction, HistoryAction,
    IssueError, LifecycleError, Method, PrivilegedOperation, Role, Rule, TraceOutcome, UserFacts,
    Visibility,
};

#[test]
fn roles_steps_actions_and_outcomes_have_their_wit_names() {
    for (role, name) in [
        (Role::None, "none"),
        (Role::Read, "read"),
        (Role::Write, "write"),
        (Role::Admin, "admin"),
    ] {
        assert_eq!(role.name(), name);
    }
    assert!(Role::None < Role::Read && Role::Read < Role::Write && Role::Write < Role::Admin);
    for (step, name) in [
        (CreationStep::PushToCreate, "push-to-create"),
        (CreationStep::Confirm, "confirm"),
        (CreationStep::Abort, "abort"),
    ] {
        assert_eq!(step.name(), name);
    }
    for (action, name) in [(GitAction::Pull, "pull"), (GitAction::Push, "push")] {
        assert_eq!(action.name(), name);
    }
    for (outcome, name) in [
        (TraceOutcome::Pass, "pass"),
        (TraceOutcome::Decide, "decide"),
        (TraceOutcome::Skip, "skip"),
    ] {
        assert_eq!(outcome.name(), name);
    }
    let rules: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(
        rules,
        [
            "request",
            "credential",
            "token-signature",
            "token-record",
            "token-expiry",
            "account",
            "username",
            "scopes-known",
            "binding",
            "scope",
            "authentication",
            "sudo",
            "admin",
            "operation",
            "deploy-key",
            "existence",
            "visibility",
            "public-only",
            "write-rules",
            "role",
            "refs",
            "repository",
            "namespace",
            "creation",
            "restricted",
            "ip-allow",
            "site",
            "grant",
        ]
    );
    for (kind, name) in [
        (AuditKind::ChildOutlivesParent, "child-outlives-parent"),
        (AuditKind::ChildExceedsParent, "child-exceeds-parent"),
        (AuditKind::ChildOfRevokedParent, "child-of-revoked-parent"),
        (AuditKind::Orphan, "orphan"),
        (AuditKind::UnknownScope, "unknown-scope"),
        (AuditKind::ExpiredNotRecorded, "expired-not-recorded"),
        (AuditKind::RotatedNotRevoked, "rotated-not-revoked"),
    ] {
        assert_eq!(kind.name(), name);
    }
    for (action, name) in [
        (HistoryAction::Create, "create"),
        (HistoryAction::Edit, "edit"),
        (HistoryAction::Rotate, "rotate"),
        (HistoryAction::Revoke, "revoke"),
        (HistoryAction::Expire, "expire"),
    ] {
        assert_eq!(action.name(), name);
    }
}

#[test]
fn privileged_operations_have_names_and_words() {
    use PrivilegedOperation as P;
    for (op, name, words) in [
        (
            P::RepositorySettings,
            "repository-settings",
            "repository settings",
        ),
        (
            P::DeleteRepository,
            "delete-repository",
            "delete repository",
        ),
        (
            P::TransferRepository,
            "transfer-repository",
            "transfer repository",
        ),
        (P::ConvertMirror, "convert-mirror", "convert mirror"),
        (
            P::GenerateFromTemplate,
            "generate-from-template",
            "generate from template",
        ),
        (
            P::CreateForOtherOwner,
            "create-for-other-owner",
            "create for other owner",
        ),
        (
            P::ViewAdminDetails,
            "view-admin-details",
            "view admin details",
        ),
        (P::Moderate, "moderate", "moderate"),
    ] {
        assert_eq!((op.name(), op.words()), (name, words));
    }
}

#[test]
fn methods_are_named_read_and_checked_as_sent() {
    for (m, name, reads) in [
        (Method::Get, "GET", true),
        (Method::Head, "HEAD", true),
        (Method::Options, "OPTIONS", true),
        (Method::Post, "POST", false),
        (Method::Put, "PUT", false),
        (Method::Patch, "PATCH", false),
        (Method::Delete, "DELETE", false),
        (Method::Other("PROPFIND".into()), "PROPFIND", false),
        (Method::Other("get".into()), "get", true),
        (Method::Other("Options".into()), "Options", true),
    ] {
        assert_eq!(
            (m.name(), m.reads(), m.valid()),
            (name, reads, true),
            "{m:?}"
        );
    }
    // A method is an HTTP token of 1 to 20 ASCII letters.
    for bad in ["", "G ET", "GET\r\n", "G-T", "PÖST", &"A".repeat(21)] {
        assert!(!Method::Other(bad.into()).valid(), "{bad:?}");
    }
    assert!(Method::Other("A".repeat(20)).valid());
    assert!(Method::Other("a".into()).valid());
}

#[test]
fn every_refusal_of_a_lifecycle_change_has_its_sentence() {
    use IssueError as E;
    for (e, text) in [
        (
            E::NoPermissionScope,
            "at least one permission scope is required",
        ),
        (E::UnknownScope("x:y".into()), "unknown scope `x:y`"),
        (E::ExpiryInPast, "the expiry must be in the future"),
        (
            E::BadName,
            "the token name must be 1 to 100 printable characters",
        ),
        (
            E::BadRepository("a".into()),
            "repository `a` is not of the form owner/name",
        ),
        (
            E::ScopeNotAllowedWhenBound("write:user".into()),
            "scope `write:user` is not allowed on a bound token (repository and issue scopes only)",
        ),
        (
            E::BoundAndPublicOnly,
            "a bound token cannot also be public-only",
        ),
        (E::ExpiryRequired, "an expiry is required"),
        (
            E::LifetimeTooLong(366 * 86_400),
            "the lifetime exceeds the maximum of 366 days",
        ),
        (
            E::LifetimeTooShort(300),
            "the lifetime is below the minimum of 300 seconds",
        ),
        (
            E::NameTaken,
            "the owner already has a live token with this name",
        ),
        (
            E::RepositoryNotVisible("a/b".into()),
            "repository `a/b` does not exist or is not visible to the owner",
        ),
        (
            E::ScopeNotGrantable("write:admin".into()),
            "you may not grant scope `write:admin`",
        ),
        (
            E::CreatorNotAllowed,
            "this credential may not create tokens for this owner",
        ),
        (
            E::CreatorNotLive,
            "the creating or parent token is revoked or expired",
        ),
        (
            E::ExceedsCreator("write:issue".into()),
            "the token would exceed the token that created it or its parent (write:issue)",
        ),
        (E::BadOwner, "malformed owner name"),
        (
            E::EntropyUnavailable,
            "no randomness available: nothing was minted",
        ),
    ] {
        assert_eq!(e.describe(), text);
    }
    for (e, text) in [
        (LifecycleError::UnknownToken("t1".into()), "no token `t1`".to_string()),
        (
            LifecycleError::TokenNotLive("t1".into()),
            "token `t1` is revoked or expired".to_string(),
        ),
        (
            LifecycleError::Refused(E::NameTaken),
            E::NameTaken.describe(),
        ),
        (
            LifecycleError::NotPermitted,
            "you may not change this token: only its owner (signed in, or with a token holding user:token) or a site administrator may".to_string(),
        ),
    ] {
        assert_eq!(e.describe(), text);
    }
    for (e, text) in [
        (ConfigError::NoKeys, "no signing keys configured"),
        (ConfigError::BadKeyId("K".into()), "malformed key id `K`"),
        (
            ConfigError::DuplicateKeyId("k".into()),
            "duplicate key id `k`",
        ),
        (
            ConfigError::WeakKey("k".into()),
            "key `k` is shorter than 32 bytes",
        ),
        (
            ConfigError::UnknownSigningKey("k".into()),
            "signing key `k` is not configured",
        ),
    ] {
        assert_eq!(e.describe(), text);
    }
}

#[test]
fn an_actor_is_recorded_under_its_login() {
    let facts = UserFacts {
        status: AccountStatus::Active,
        site_admin: false,
        visibility: Visibility::Public,
        organization: false,
    };
    assert_eq!(
        Actor::Session(Account {
            name: "alice".into(),
            facts,
        })
        .name(),
        "alice"
    );
    assert_eq!(Actor::System("audit".into()).name(), "audit");
}

#[test]
fn digests_show_their_kind_only() {
    use forge_authz_guest::policy::SecretDigest;
    assert_eq!(
        format!("{:?}", SecretDigest::HmacTag([7; 32])),
        "HmacTag(..)"
    );
    assert_eq!(format!("{:?}", SecretDigest::Sha256([7; 32])), "Sha256(..)");
}

#[test]
fn category_sets_are_sets() {
    use forge_authz_guest::policy::scope::{CATEGORIES, Categories, Category};
    let repo = Categories::of(&[Category::Repository]);
    assert_eq!(
        Categories::of(&[Category::Repository, Category::Repository]),
        repo
    );
    assert_eq!(Categories::NONE.with(Category::Repository), repo);
    assert_eq!(
        repo.with(Category::Repository),
        repo,
        "adding twice adds once"
    );
    let both = Categories::NONE
        .with(Category::Repository)
        .with(Category::Issue);
    assert_eq!(
        both,
        Categories::of(&[Category::Issue, Category::Repository])
    );
    assert!(both.contains(Category::Issue) && both.contains(Category::Repository));
    assert!(!both.contains(Category::Admin) && !both.is_empty());
    assert!(Categories::NONE.is_empty());
    let all = CATEGORIES.iter().fold(Categories::NONE, |s, c| s.with(*c));
    assert_eq!(all.iter().collect::<Vec<_>>(), CATEGORIES.to_vec());
}

#[test]
fn every_vocabulary_list_holds_every_variant_once_in_order() {
    // The lists the other languages' constants are generated from (issue 21): each entry's
    // position is the one an exhaustive match gives it, so a new variant fails to compile
    // here until it is placed in its list.
    use forge_authz_guest::policy::scope::Category;
    use forge_authz_guest::policy::vocabulary as v;
    let role = |r: Role| match r {
        Role::None => 0,
        Role::Read => 1,
        Role::Write => 2,
        Role::Admin => 3,
    };
    let step = |s: CreationStep| match s {
        CreationStep::PushToCreate => 0,
        CreationStep::Confirm => 1,
        CreationStep::Abort => 2,
    };
    let operation = |o: PrivilegedOperation| match o {
        PrivilegedOperation::RepositorySettings => 0,
        PrivilegedOperation::DeleteRepository => 1,
        PrivilegedOperation::TransferRepository => 2,
        PrivilegedOperation::ConvertMirror => 3,
        PrivilegedOperation::GenerateFromTemplate => 4,
        PrivilegedOperation::CreateForOtherOwner => 5,
        PrivilegedOperation::ViewAdminDetails => 6,
        PrivilegedOperation::Moderate => 7,
    };
    let action = |a: GitAction| match a {
        GitAction::Pull => 0,
        GitAction::Push => 1,
    };
    let category = |c: Category| match c {
        Category::ActivityPub => 0,
        Category::Admin => 1,
        Category::Issue => 2,
        Category::Misc => 3,
        Category::Notification => 4,
        Category::Organization => 5,
        Category::Package => 6,
        Category::Repository => 7,
        Category::User => 8,
    };
    for (i, r) in v::ROLES.iter().enumerate() {
        assert_eq!(role(*r), i, "{r:?}");
    }
    for (i, s) in v::CREATION_STEPS.iter().enumerate() {
        assert_eq!(step(*s), i, "{s:?}");
    }
    for (i, o) in v::OPERATIONS.iter().enumerate() {
        assert_eq!(operation(*o), i, "{o:?}");
    }
    for (i, a) in v::GIT_ACTIONS.iter().enumerate() {
        assert_eq!(action(*a), i, "{a:?}");
    }
    for (i, c) in v::CATEGORIES.iter().enumerate() {
        assert_eq!(category(*c), i, "{c:?}");
        assert_eq!(Category::from_name(c.name()), Some(*c));
    }
    assert!(v::ROLES.windows(2).all(|w| w[0] < w[1]), "roles in order");
    assert_eq!(v::REF_PERMISSIONS, ["create", "push", "force-push"]);
}

#[test]
fn the_scope_list_is_the_grammar_every_scope_and_nothing_else() {
    // Reference §1.1-4, §2.1, §5.2: the list hosts and generators draw from is exactly what
    // `ScopeSet::parse` accepts — each entry parses alone, each category's read and write
    // is listed, and near misses of every entry are `scope-unknown`.
    use forge_authz_guest::policy::scope::ScopeSet;
    use forge_authz_guest::policy::vocabulary as v;
    let mut seen = std::collections::BTreeSet::new();
    for s in v::SCOPES {
        assert!(
            ScopeSet::parse(&[s]).is_ok(),
            "{s} is in the list but refused"
        );
        assert!(seen.insert(s), "{s} listed twice");
        for near in [
            format!("{s}x"),
            format!(" {s}"),
            s.to_uppercase(),
            s.replace(':', "_"),
        ] {
            if !v::SCOPES.contains(&near.as_str()) {
                assert!(ScopeSet::parse(&[&near]).is_err(), "{near} accepted");
            }
        }
    }
    for c in v::CATEGORIES {
        for level in ["read", "write"] {
            let s = format!("{level}:{}", c.name());
            assert!(v::SCOPES.contains(&s.as_str()), "{s} missing from the list");
        }
    }
    for level in ["read", "write", "delete", "admin"] {
        let s = format!("{level}:everything");
        assert!(ScopeSet::parse(&[&s]).is_err(), "{s} accepted");
    }
}

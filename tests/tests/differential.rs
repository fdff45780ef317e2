//! Differential test: the native policy core and the wasm component decide the same
//! generated inputs identically — decisions (with their traces and effects), batch
//! decisions, ref permissions and token verification.
//!
//! The inputs are those of the policy's property tests (`guest/tests/support`: small
//! worlds, tokens minted for real, every credential and request kind, facts gathered as a
//! correct host gathers them), built as core values and converted to WIT values by the
//! `*_out` functions below; each conversion is checked to come back unchanged through the
//! component's own WIT-to-core conversions (`guest/src/convert.rs`). The same WIT input
//! then goes to `forge_authz_tests::native` and `forge_authz_tests::wasm`.
//!
//! Cases: `PROPTEST_CASES`, default 10,000 (about 6 s in the dev profile; 100,000 take
//! about a minute).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test: a broken engine or a difference stops it loudly"
)]

#[path = "../../guest/tests/support/mod.rs"]
mod support;

use std::cell::RefCell;

use forge_authz_guest::policy;
use forge_authz_host::policy::Policy;
use forge_authz_host::wit;
use forge_authz_tests::native::NativePolicy;
use forge_authz_tests::{native, wasm};
use proptest::prelude::*;
use support::{Prepared, proptest_config, scenario};

/// The component's WIT-to-core conversions, to check the core-to-WIT ones against.
mod back {
    use forge_authz_guest::policy;
    use forge_authz_host::wit;
    include!("../../guest/src/convert.rs");

    pub fn input(i: wit::Input) -> policy::Input {
        input_in(i)
    }

    pub fn target(t: wit::BatchTarget) -> policy::BatchTarget {
        batch_in(t)
    }
}

// ---------------------------------------------------------------------------------------
// Core values to WIT values (the inputs the generators make).

fn visibility_out(v: policy::Visibility) -> wit::Visibility {
    match v {
        policy::Visibility::Public => wit::Visibility::Public,
        policy::Visibility::Limited => wit::Visibility::Limited,
        policy::Visibility::Private => wit::Visibility::Private,
    }
}

fn role_out(r: policy::Role) -> wit::Role {
    match r {
        policy::Role::None => wit::Role::None,
        policy::Role::Read => wit::Role::Read,
        policy::Role::Write => wit::Role::Write,
        policy::Role::Admin => wit::Role::Admin,
    }
}

fn config_out(c: policy::Config) -> wit::Config {
    wit::Config {
        keys: c
            .keys
            .into_iter()
            .map(|k| wit::SigningKey {
                id: k.id,
                secret: k.secret,
            })
            .collect(),
        signing_key_id: c.signing_key_id,
        options: wit::Options {
            binding_fallback_to_anonymous: c.options.binding_fallback_to_anonymous,
            require_expiry: c.options.require_expiry,
            max_lifetime: c.options.max_lifetime,
            min_lifetime: c.options.min_lifetime,
        },
    }
}

fn credential_out(c: policy::Credential) -> wit::Credential {
    match c {
        policy::Credential::Anonymous => wit::Credential::Anonymous,
        policy::Credential::Bearer(t) => wit::Credential::Bearer(t),
        policy::Credential::Basic { username, password } => {
            wit::Credential::Basic(wit::BasicCredential { username, password })
        }
        policy::Credential::SshKey(k) => wit::Credential::SshKey(wit::SshKey {
            id: k.id,
            kind: match k.kind {
                policy::KeyKind::User => wit::KeyKind::User,
                policy::KeyKind::Deploy => wit::KeyKind::Deploy,
            },
            owner: k.owner,
            repository: k.repository,
            read_only: k.read_only,
        }),
        policy::Credential::Session(u) => wit::Credential::Session(u),
    }
}

fn record_out(r: policy::TokenRecord) -> wit::TokenRecord {
    wit::TokenRecord {
        id: r.id,
        owner: r.owner,
        name: r.name,
        scopes: r.scopes,
        repositories: r.repositories,
        owners: r.owners,
        parent: r.parent,
        predecessor: r.predecessor,
        successor: r.successor,
        last_used: r.last_used,
        created: r.created,
        expires: r.expires,
        revoked: r.revoked,
        secret_hash: r.secret_hash,
    }
}

fn user_out(u: policy::UserFacts) -> wit::UserFacts {
    wit::UserFacts {
        name: u.name,
        status: match u.status {
            policy::AccountStatus::Active => wit::AccountStatus::Active,
            policy::AccountStatus::Inactive => wit::AccountStatus::Inactive,
            policy::AccountStatus::Suspended => wit::AccountStatus::Suspended,
        },
        site_admin: u.site_admin,
        visibility: visibility_out(u.visibility),
        organization: u.organization,
    }
}

fn access_out(a: policy::RefAccess) -> wit::RefAccess {
    match a {
        policy::RefAccess::Writers => wit::RefAccess::Writers,
        policy::RefAccess::Admins => wit::RefAccess::Admins,
        policy::RefAccess::Users(u) => wit::RefAccess::Users(u),
        policy::RefAccess::Nobody => wit::RefAccess::Nobody,
    }
}

fn repository_out(r: policy::RepositoryFacts) -> wit::RepositoryFacts {
    wit::RepositoryFacts {
        owner: r.owner,
        name: r.name,
        owner_visibility: visibility_out(r.owner_visibility),
        private: r.private,
        kind: match r.kind {
            policy::RepositoryKind::Hosted => wit::RepositoryKind::Hosted,
            policy::RepositoryKind::Mirror => wit::RepositoryKind::Mirror,
            policy::RepositoryKind::Import => wit::RepositoryKind::Import,
        },
        archived: r.archived,
        role: role_out(r.role),
        protected_refs: r
            .protected_refs
            .into_iter()
            .map(|p| wit::ProtectedRef {
                pattern: p.pattern,
                push: access_out(p.push),
                force_push: access_out(p.force_push),
            })
            .collect(),
        registrant: r.registrant,
    }
}

fn namespace_out(n: policy::NamespaceFacts) -> wit::NamespaceFacts {
    wit::NamespaceFacts {
        name: n.name,
        organization: n.organization,
        visibility: visibility_out(n.visibility),
        member_role: role_out(n.member_role),
    }
}

fn transport_out(t: policy::Transport) -> wit::Transport {
    match t {
        policy::Transport::Http => wit::Transport::Http,
        policy::Transport::Ssh => wit::Transport::Ssh,
    }
}

fn category_out(c: policy::scope::Category) -> wit::ScopeCategory {
    use policy::scope::Category as C;
    match c {
        C::ActivityPub => wit::ScopeCategory::Activitypub,
        C::Admin => wit::ScopeCategory::Admin,
        C::Misc => wit::ScopeCategory::Misc,
        C::Notification => wit::ScopeCategory::Notification,
        C::Organization => wit::ScopeCategory::Organization,
        C::Package => wit::ScopeCategory::Package,
        C::Issue => wit::ScopeCategory::Issue,
        C::Repository => wit::ScopeCategory::Repository,
        C::User => wit::ScopeCategory::User,
    }
}

fn operation_out(o: policy::PrivilegedOperation) -> wit::PrivilegedOperation {
    use policy::PrivilegedOperation as P;
    match o {
        P::RepositorySettings => wit::PrivilegedOperation::RepositorySettings,
        P::DeleteRepository => wit::PrivilegedOperation::DeleteRepository,
        P::TransferRepository => wit::PrivilegedOperation::TransferRepository,
        P::ConvertMirror => wit::PrivilegedOperation::ConvertMirror,
        P::GenerateFromTemplate => wit::PrivilegedOperation::GenerateFromTemplate,
        P::CreateForOtherOwner => wit::PrivilegedOperation::CreateForOtherOwner,
        P::ViewAdminDetails => wit::PrivilegedOperation::ViewAdminDetails,
        P::Moderate => wit::PrivilegedOperation::Moderate,
    }
}

fn git_out(g: policy::GitRequest) -> wit::GitRequest {
    wit::GitRequest {
        transport: transport_out(g.transport),
        repository: g.repository,
        action: match g.action {
            policy::GitAction::Pull => wit::GitAction::Pull,
            policy::GitAction::Push => wit::GitAction::Push,
        },
        refs: g
            .refs
            .into_iter()
            .map(|u| wit::RefUpdate {
                name: u.name,
                old: u.old,
                new: u.new,
                force: u.force,
            })
            .collect(),
    }
}

fn request_out(r: policy::Request) -> wit::Request {
    match r {
        policy::Request::Git(g) => wit::Request::Git(git_out(g)),
        policy::Request::Create(c) => wit::Request::Create(wit::CreationRequest {
            transport: transport_out(c.transport),
            repository: c.repository,
            step: match c.step {
                policy::CreationStep::PushToCreate => wit::CreationStep::PushToCreate,
                policy::CreationStep::Confirm => wit::CreationStep::Confirm,
                policy::CreationStep::Abort => wit::CreationStep::Abort,
            },
        }),
        policy::Request::Api(a) => wit::Request::Api(wit::ApiRequest {
            method: a.method,
            categories: a.categories.into_iter().map(category_out).collect(),
            repository: a.repository,
            namespace: a.namespace,
            requires_auth: a.requires_auth,
            admin_only: a.admin_only,
            required_role: role_out(a.required_role),
            operation: a.operation.map(operation_out),
            sudo: a.sudo,
            package: a.package,
        }),
    }
}

fn input_out(i: policy::Input) -> wit::Input {
    wit::Input {
        credential: credential_out(i.credential),
        also_presented: i.also_presented,
        token: i.token.map(record_out),
        user: i.user.map(user_out),
        repository: i.repository.map(repository_out),
        namespace: i.namespace.map(namespace_out),
        sudo: i.sudo.map(user_out),
        request: request_out(i.request),
        now: i.now,
        explain: i.explain,
    }
}

fn target_out(t: policy::BatchTarget) -> wit::BatchTarget {
    wit::BatchTarget {
        repository: t.repository,
        facts: t.facts.map(repository_out),
    }
}

// ---------------------------------------------------------------------------------------

/// One native engine and one wasm instance per policy configuration, kept warm per test
/// thread.
struct Engines {
    native: NativePolicy,
    wasm: forge_authz_host::policy::WasmPolicy,
}

impl Engines {
    fn new(fallback: bool) -> Engines {
        let config = config_out(support::config(fallback));
        Engines {
            native: native(&config).unwrap(),
            wasm: wasm(&config).unwrap(),
        }
    }
}

thread_local! {
    static ENGINES: RefCell<[Engines; 2]> =
        RefCell::new([Engines::new(false), Engines::new(true)]);
}

/// The input as WIT, checked to convert back to exactly the core input.
fn wit_input(i: &policy::Input) -> wit::Input {
    let w = input_out(i.clone());
    assert_eq!(
        back::input(w.clone()),
        *i,
        "core -> WIT -> core changed the input"
    );
    w
}

fn wit_targets(targets: &[policy::BatchTarget]) -> Vec<wit::BatchTarget> {
    targets
        .iter()
        .map(|t| {
            let w = target_out(t.clone());
            assert_eq!(
                back::target(w.clone()),
                *t,
                "core -> WIT -> core changed a target"
            );
            w
        })
        .collect()
}

proptest! {
    #![proptest_config(proptest_config())]

    /// The native core and the wasm component give identical answers — decisions with
    /// their per-ref verdicts, traces and effects; batch decisions; ref permissions; the
    /// token verification — for every generated input.
    #[test]
    fn native_and_wasm_agree(s in scenario()) {
        let case = s.build();
        let prepared = case.prepared();
        ENGINES.with(|engines| -> Result<(), TestCaseError> {
            let mut engines = engines.borrow_mut();
            let e = &mut engines[usize::from(case.fallback)];
            let input = wit_input(prepared.input());
            prop_assert_eq!(
                e.native.verify(&input.credential).unwrap(),
                e.wasm.verify(&input.credential).unwrap(),
                "verify"
            );
            match &prepared {
                Prepared::One(_) => {
                    let n = e.native.decide(&input).unwrap();
                    let w = e.wasm.decide(&input).unwrap();
                    prop_assert_eq!(n, w, "decide {:?}", input);
                    // Every request also as Launchpad's ref permissions (git and creation
                    // name a repository; the API's is optional).
                    let names = vec!["refs/heads/main".to_string(), "refs/tags/v1".to_string()];
                    let n = e.native.ref_permissions(&input, &names).unwrap();
                    let w = e.wasm.ref_permissions(&input, &names).unwrap();
                    prop_assert_eq!(n, w, "ref permissions {:?}", input);
                }
                Prepared::Batch(_, targets) => {
                    let targets = wit_targets(targets);
                    let n = e.native.decide_batch(&input, &targets).unwrap();
                    let w = e.wasm.decide_batch(&input, &targets).unwrap();
                    prop_assert_eq!(n, w, "batch {:?} {:?}", input, targets);
                }
                Prepared::Perms(_, names) => {
                    let n = e.native.ref_permissions(&input, names).unwrap();
                    let w = e.wasm.ref_permissions(&input, names).unwrap();
                    prop_assert_eq!(n, w, "ref permissions {:?}", input);
                }
            }
            Ok(())
        })?;
    }
}

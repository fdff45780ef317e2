//! Edges the corpus cannot reach because a correct host never produces them (facts that
//! contradict each other, requests the host never builds), and details the corpus does
//! not check (trace texts, the absence of a detail). Each pins behaviour a mutation of
//! `guest/src/policy` would otherwise change unnoticed (issue 8, mutation run).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a broken fixture should stop the test loudly"
)]

use forge_authz_guest::policy::{
    self, AccountStatus, ApiRequest, Authorizer, Config, CreationRequest, CreationStep, Credential,
    GitAction, GitRequest, Input, NamespaceFacts, Options, PrivilegedOperation, Reason, RefUpdate,
    RepositoryFacts, RepositoryKind, Request, Role, SigningKey, Transport, UserFacts, Visibility,
};

const NOW: i64 = 1_767_225_600;

fn authorizer() -> Authorizer {
    Authorizer::new(&Config {
        keys: vec![SigningKey {
            id: "k1".into(),
            secret: vec![7; 32],
        }],
        signing_key_id: "k1".into(),
        options: Options::default(),
    })
    .unwrap()
}

fn user(name: &str) -> UserFacts {
    UserFacts {
        name: name.into(),
        status: AccountStatus::Active,
        site_admin: false,
        visibility: Visibility::Public,
        organization: false,
    }
}

fn repo(owner: &str, name: &str, role: Role) -> RepositoryFacts {
    RepositoryFacts {
        owner: owner.into(),
        name: name.into(),
        owner_visibility: Visibility::Public,
        private: false,
        kind: RepositoryKind::Hosted,
        archived: false,
        role,
        protected_refs: vec![],
        registrant: None,
    }
}

fn input(credential: Credential, user: Option<UserFacts>, request: Request) -> Input {
    Input {
        credential,
        also_presented: vec![],
        token: None,
        user,
        repository: None,
        namespace: None,
        sudo: None,
        request,
        now: NOW,
        explain: false,
    }
}

fn api(namespace: Option<&str>, operation: Option<PrivilegedOperation>) -> Request {
    Request::Api(ApiRequest {
        method: "POST".into(),
        categories: vec![policy::scope::Category::Repository],
        repository: None,
        namespace: namespace.map(Into::into),
        requires_auth: false,
        admin_only: false,
        required_role: Role::None,
        operation,
        sudo: None,
        package: false,
    })
}

fn git(action: GitAction, refs: Vec<RefUpdate>) -> Request {
    Request::Git(GitRequest {
        transport: Transport::Http,
        repository: "alice/app".into(),
        action,
        refs,
    })
}

/// A token of alice's with `scopes`, its input prepared for `request`.
fn token_input(a: &Authorizer, scopes: &[&str], request: Request) -> Input {
    let issued = a
        .issue(
            &policy::IssueRequest {
                owner: "alice".into(),
                name: "t".into(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                repositories: vec![],
                owners: vec![],
                expires: Some(NOW + 3600),
                now: NOW,
                creator: policy::Creator::Session(user("alice")),
                existing_names: vec![],
                bound_facts: vec![],
                ip: None,
            },
            Some(&[9; 36]),
        )
        .unwrap();
    Input {
        token: Some(issued.record),
        ..input(
            Credential::Bearer(issued.secret),
            Some(user("alice")),
            request,
        )
    }
}

#[test]
fn a_user_namespace_grants_nothing_to_other_users_whatever_the_facts_say() {
    // The policy derives a user namespace's role from ownership: a host claiming bob is an
    // admin of carol's user namespace does not make him one.
    let a = authorizer();
    let mut i = input(
        Credential::Session("bob".into()),
        Some(user("bob")),
        api(
            Some("carol"),
            Some(PrivilegedOperation::CreateForOtherOwner),
        ),
    );
    i.namespace = Some(NamespaceFacts {
        name: "carol".into(),
        organization: false,
        visibility: Visibility::Public,
        member_role: Role::Admin,
    });
    let d = a.decide(&i);
    assert_eq!(d.reason, Reason::PermissionDenied, "{d:?}");
    // The same facts for an organisation are a membership, and count.
    i.namespace.as_mut().unwrap().organization = true;
    assert!(a.decide(&i).allow);
}

#[test]
fn creation_facts_for_another_owner_are_inconsistent() {
    let a = authorizer();
    let mut i = input(
        Credential::Session("alice".into()),
        Some(user("alice")),
        Request::Create(CreationRequest {
            transport: Transport::Http,
            repository: "alice/new".into(),
            step: CreationStep::PushToCreate,
        }),
    );
    i.namespace = Some(NamespaceFacts {
        name: "bob".into(),
        organization: false,
        visibility: Visibility::Public,
        member_role: Role::None,
    });
    assert_eq!(a.decide(&i).reason, Reason::FactsInconsistent);
}

#[test]
fn ref_permissions_without_a_repository_answer_every_ref_with_nothing() {
    let a = authorizer();
    let i = input(
        Credential::Session("alice".into()),
        Some(user("alice")),
        api(None, None),
    );
    let names = vec!["refs/heads/main".to_string(), "refs/heads/dev".to_string()];
    let p = a.ref_permissions(&i, &names);
    assert_eq!(p.len(), 2);
    assert!(
        p.iter()
            .zip(&names)
            .all(|(r, n)| r.name == *n && r.permissions.is_empty())
    );
}

#[test]
fn the_trace_names_the_action_a_token_may_do() {
    let a = authorizer();
    for (action, verb) in [(GitAction::Pull, "may pull"), (GitAction::Push, "may push")] {
        let mut i = token_input(&a, &["write:repository"], git(action, vec![]));
        i.repository = Some(repo("alice", "app", Role::None));
        i.explain = true;
        let d = a.decide(&i);
        assert!(
            d.trace
                .iter()
                .any(|s| s.rule == "scope" && s.detail == verb),
            "{:?}",
            d.trace
        );
    }
}

#[test]
fn a_push_whose_every_ref_is_allowed_has_no_detail() {
    let a = authorizer();
    let update = |name: &str| RefUpdate {
        name: name.into(),
        old: "1".repeat(40),
        new: "2".repeat(40),
        force: false,
    };
    let mut i = token_input(
        &a,
        &["write:repository"],
        git(
            GitAction::Push,
            vec![update("refs/heads/a"), update("refs/heads/b")],
        ),
    );
    i.repository = Some(repo("alice", "app", Role::None));
    let d = a.decide(&i);
    assert!(d.allow);
    assert_eq!(
        (d.message.as_str(), d.detail.as_deref()),
        ("push allowed", None)
    );
    assert_eq!(d.refs.len(), 2);
}

#[test]
fn repository_facts_for_another_repository_are_inconsistent() {
    let a = authorizer();
    for (owner, name) in [("alice", "other"), ("bob", "app"), ("bob", "other")] {
        let mut i = input(
            Credential::Session("alice".into()),
            Some(user("alice")),
            git(GitAction::Pull, vec![]),
        );
        i.repository = Some(repo(owner, name, Role::None));
        assert_eq!(
            a.decide(&i).reason,
            Reason::FactsInconsistent,
            "{owner}/{name}"
        );
    }
    let mut i = input(
        Credential::Session("alice".into()),
        Some(user("alice")),
        git(GitAction::Pull, vec![]),
    );
    i.repository = Some(repo("ALICE", "App", Role::None));
    assert!(a.decide(&i).allow, "names compare case-insensitively");
}

#[test]
fn a_forged_secret_beside_a_genuine_record_is_named_by_its_signature() {
    // The record binds the secret by its hash; when that fails, the refusal says why the
    // secret is bad (a forged signature), not merely that no record matched.
    let a = authorizer();
    let mut i = token_input(&a, &["read:repository"], git(GitAction::Pull, vec![]));
    i.repository = Some(repo("alice", "app", Role::None));
    let Credential::Bearer(secret) = &i.credential else {
        panic!("bearer expected");
    };
    // Change one character of the secret part (after the 16-char id) and fix the CRC.
    let mut forged: Vec<char> = secret.chars().collect();
    let at = "fzpat_k1.".len() + 20;
    forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
    let body: String = forged[..forged.len() - 9].iter().collect();
    let forged = format!("{body}.{:08x}", crc32(body.as_bytes()));
    i.credential = Credential::Bearer(forged);
    let d = a.decide(&i);
    assert_eq!(
        (d.reason, d.detail.as_deref()),
        (Reason::TokenInvalid, Some("bad-signature"))
    );
}

/// CRC-32 (IEEE), as the token format uses.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn a_ref_update_without_an_old_or_new_id_is_malformed() {
    let a = authorizer();
    for (old, new) in [("", "2222"), ("1111", "")] {
        let update = RefUpdate {
            name: "refs/heads/a".into(),
            old: old.into(),
            new: new.into(),
            force: false,
        };
        let mut i = token_input(
            &a,
            &["write:repository"],
            git(GitAction::Push, vec![update]),
        );
        i.repository = Some(repo("alice", "app", Role::None));
        let d = a.decide(&i);
        assert!(!d.allow);
        assert_eq!(d.refs[0].reason, Reason::RefNameInvalid);
    }
}

#[test]
fn an_api_read_needs_read_on_every_category() {
    let a = authorizer();
    let read = |cats: Vec<policy::scope::Category>| {
        Request::Api(ApiRequest {
            method: "GET".into(),
            categories: cats,
            repository: None,
            namespace: None,
            requires_auth: false,
            admin_only: false,
            required_role: Role::None,
            operation: None,
            sudo: None,
            package: false,
        })
    };
    use policy::scope::Category::{Issue, Repository};
    let d = a.decide(&token_input(&a, &["read:issue"], read(vec![Repository])));
    assert_eq!(d.reason, Reason::ScopeMissing);
    let d = a.decide(&token_input(
        &a,
        &["read:issue"],
        read(vec![Issue, Repository]),
    ));
    assert_eq!(d.reason, Reason::ScopeMissing);
    assert!(
        a.decide(&token_input(&a, &["read:issue"], read(vec![Issue])))
            .allow
    );
}

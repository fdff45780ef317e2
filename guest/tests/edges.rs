//! Edges the corpus cannot reach because a correct host never produces them (facts that
//! contradict each other, requests the host never builds), and details the corpus does
//! not check (trace texts, the absence of a detail or a message, what is asked of the
//! host). Each pins behaviour a mutation of `guest/src/policy` would otherwise change
//! unnoticed (issue 8, mutation run).
//!
//! Contract 0.4 removed two kinds of edge the earlier version of this file pinned, and
//! their tests with them: facts that name another repository, owner or user than the one
//! asked for (answers carry no names: the policy asks by name and knows what it asked,
//! so `facts-inconsistent` is gone), and ref updates without an old or new object id (a
//! ref update carries its change, `create`, `update` or `delete`, not ids).
// Tests: a broken fixture should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

use forge_authz_guest::policy::{
    self, AccountStatus, ApiRequest, AuthorizeRequest, Authorizer, Config, Credential, Decision,
    FactAnswer, FactQuery, Facts, GitAction, GitRequest, NamespaceFacts, Options,
    PrivilegedOperation, ProtectedRef, Reason, RefAccess, RefChange, RefPermissions,
    RefPermissionsRequest, RefUpdate, RepositoryFacts, RepositoryKind, Request, Role, Rule,
    SigningKey, Transport, UserFacts, Visibility,
};

const NOW: i64 = 1_767_225_600;

fn authorizer() -> Authorizer {
    Authorizer::new(&Config {
        site: String::new(),
        keys: vec![SigningKey {
            id: "k1".into(),
            secret: vec![7; 32],
        }],
        signing_key_id: "k1".into(),
        options: Options::default(),
    })
    .unwrap()
}

fn user() -> UserFacts {
    UserFacts {
        status: AccountStatus::Active,
        site_admin: false,
        visibility: Visibility::Public,
        organization: false,
    }
}

fn repo(role: Role) -> RepositoryFacts {
    RepositoryFacts {
        owner_ip_allow: Vec::new(),
        owner_visibility: Visibility::Public,
        private: false,
        kind: RepositoryKind::Hosted,
        archived: false,
        role,
        protected_refs: vec![],
        registrant: None,
    }
}

/// A host that answers every query with the same facts, whatever is asked (so a test can
/// say what a correct host never would), and records the queries.
#[derive(Default)]
struct Fixed {
    answer: FactAnswer,
    queries: Vec<String>,
}

impl Fixed {
    fn new(answer: FactAnswer) -> Fixed {
        Fixed {
            answer,
            queries: vec![],
        }
    }
}

impl Facts for Fixed {
    fn lookup(&mut self, query: &FactQuery<'_>) -> FactAnswer {
        self.queries.push(format!("{query:?}"));
        self.answer.clone()
    }

    fn repositories(
        &mut self,
        paths: &[String],
        _viewer: Option<&str>,
    ) -> Vec<Option<RepositoryFacts>> {
        self.queries.push(format!("repositories {paths:?}"));
        paths
            .iter()
            .map(|_| self.answer.repository.clone())
            .collect()
    }
}

/// A session of `name`, the host answering `facts` beside its account.
fn session(name: &str, facts: FactAnswer) -> (Credential, Fixed) {
    (
        Credential::Session(name.into()),
        Fixed::new(FactAnswer {
            account: Some(user()),
            ..facts
        }),
    )
}

fn request(credential: Credential, request: Request) -> AuthorizeRequest {
    AuthorizeRequest {
        client_address: None,
        credential,
        also_presented: vec![],
        request,
        now: NOW,
        explain: false,
    }
}

fn api(namespace: Option<&str>, operation: Option<PrivilegedOperation>) -> Request {
    Request::Api(ApiRequest {
        method: policy::Method::Post,
        categories: policy::scope::Categories::of(&[policy::scope::Category::Repository]),
        repository: None,
        namespace: namespace.map(Into::into),
        requires_auth: false,
        admin_only: false,
        required_role: Role::None,
        operation,
        sudo: None,
        package: false,
        writes_content: false,
        creates_in_own_namespace: false,
    })
}

fn git(path: &str, action: GitAction, refs: Vec<RefUpdate>) -> Request {
    Request::Git(GitRequest {
        transport: Transport::Http,
        repository: path.into(),
        action,
        refs,
    })
}

/// A token of alice's with `scopes`: the request for `request`, and a host that answers
/// its record, alice's account and `repository`.
fn token_input(
    a: &Authorizer,
    scopes: &[&str],
    request: Request,
    repository: Option<RepositoryFacts>,
) -> (AuthorizeRequest, Fixed) {
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
                creator: policy::Actor::Session(policy::Account {
                    name: "alice".into(),
                    facts: user(),
                }),
                existing_names: vec![],
                bound_facts: vec![],
                ip: None,
            },
            Some(&[9; 36]),
        )
        .unwrap();
    (
        self::request(Credential::Bearer(issued.secret), request),
        Fixed::new(FactAnswer {
            token: Some(issued.record.facts()),
            owner: Some(user()),
            repository,
            ..FactAnswer::default()
        }),
    )
}

#[test]
fn a_user_namespace_grants_nothing_to_other_users_whatever_the_facts_say() {
    // The policy derives a user namespace's role from ownership: a host claiming bob is an
    // admin of carol's user namespace does not make him one.
    let a = authorizer();
    let ns = NamespaceFacts {
        ip_allow: Vec::new(),
        organization: false,
        visibility: Visibility::Public,
        member_role: Role::Admin,
    };
    let i = request(
        Credential::Session("bob".into()),
        api(
            Some("carol"),
            Some(PrivilegedOperation::CreateForOtherOwner),
        ),
    );
    let (_, mut facts) = session(
        "bob",
        FactAnswer {
            namespace: Some(ns.clone()),
            ..FactAnswer::default()
        },
    );
    let d = a.authorize(&i, &mut facts);
    assert_eq!(d.reason, Reason::PermissionDenied, "{d:?}");
    // The same facts for an organisation are a membership, and count.
    let (_, mut facts) = session(
        "bob",
        FactAnswer {
            namespace: Some(NamespaceFacts {
                organization: true,
                ..ns
            }),
            ..FactAnswer::default()
        },
    );
    assert!(a.authorize(&i, &mut facts).allow());
}

#[test]
fn ref_permissions_of_a_malformed_or_missing_repository_answer_every_ref_with_nothing() {
    // (Before contract 0.4 a ref-permissions call could carry a request without a
    // repository; now it always names one: the nearest edges are a malformed path, which
    // is refused before the host is asked anything, and a repository that does not
    // exist.) One empty set per ref, in the order asked.
    let a = authorizer();
    let names = vec!["refs/heads/main".to_string(), "refs/heads/dev".to_string()];
    for (path, asked) in [("alice", false), ("", false), ("alice/missing", true)] {
        let (credential, mut facts) = session("alice", FactAnswer::default());
        let p = a.ref_permissions(
            &RefPermissionsRequest {
                client_address: None,
                credential,
                also_presented: vec![],
                transport: Transport::Http,
                repository: path.into(),
                refs: names.clone(),
                now: NOW,
            },
            &mut facts,
        );
        assert_eq!(p.refs, vec![RefPermissions::default(); 2], "{path}");
        assert_eq!(
            facts.queries.len(),
            usize::from(asked),
            "{path}: {:?}",
            facts.queries
        );
    }
}

#[test]
fn the_trace_names_the_action_a_token_may_do() {
    let a = authorizer();
    for (action, verb) in [(GitAction::Pull, "may pull"), (GitAction::Push, "may push")] {
        let (mut i, mut facts) = token_input(
            &a,
            &["write:repository"],
            git("alice/app", action, vec![]),
            Some(repo(Role::None)),
        );
        i.explain = true;
        let d = a.authorize(&i, &mut facts);
        let trace = d.trace.clone().unwrap_or_default();
        assert!(
            trace
                .iter()
                .any(|s| s.rule == Rule::Scope && s.rule.name() == "scope" && s.detail == verb),
            "{trace:?}"
        );
    }
}

fn update(name: &str) -> RefUpdate {
    RefUpdate {
        name: name.into(),
        change: RefChange::Update,
        force: false,
    }
}

/// A `write:repository` token of alice's pushing `refs/heads/a` and `refs/heads/b` to
/// `alice/app`, a repository with these facts.
fn push_a_and_b(a: &Authorizer, facts: RepositoryFacts) -> Decision {
    let (i, mut facts) = token_input(
        a,
        &["write:repository"],
        git(
            "alice/app",
            GitAction::Push,
            vec![update("refs/heads/a"), update("refs/heads/b")],
        ),
        Some(facts),
    );
    a.authorize(&i, &mut facts)
}

#[test]
fn a_push_whose_every_ref_is_allowed_has_no_message_and_no_detail() {
    // Contract 0.4: an allow carries no message (only a push that refuses some refs does).
    let a = authorizer();
    let d = push_a_and_b(&a, repo(Role::None));
    assert!(d.allow());
    assert_eq!((d.message.as_deref(), d.detail.as_deref()), (None, None));
    let refs = d.refs.unwrap();
    assert_eq!(refs.len(), 2);
    assert!(refs.iter().all(|v| v.allow() && v.message.is_none()));
}

#[test]
fn a_push_that_refuses_some_refs_is_allowed_with_a_message_and_verdicts_in_order() {
    let a = authorizer();
    let protected = RepositoryFacts {
        protected_refs: vec![ProtectedRef {
            pattern: "b".into(),
            push: RefAccess::Nobody,
            force_push: RefAccess::Nobody,
        }],
        ..repo(Role::None)
    };
    let d = push_a_and_b(&a, protected);
    assert_eq!(d.reason, Reason::Granted);
    assert_eq!(
        (d.message.as_deref(), d.detail.as_deref()),
        (
            Some("push allowed; some ref updates are refused"),
            Some("1 of 2 ref updates refused")
        )
    );
    let refs = d.refs.unwrap();
    assert_eq!(
        refs.iter()
            .map(|v| (v.reason, v.message.is_some()))
            .collect::<Vec<_>>(),
        vec![(Reason::Granted, false), (Reason::RefProtected, true)]
    );
}

#[test]
fn names_compare_case_insensitively() {
    // (Before contract 0.4 this also checked that facts naming another repository were
    // inconsistent; facts carry no names now.) The owner part of the requested path is
    // compared with the acting user case-insensitively: alice owns `ALICE/App`, private
    // and with no role, and `Alice` owns `alice/app`.
    let a = authorizer();
    let private = RepositoryFacts {
        private: true,
        ..repo(Role::None)
    };
    for (who, path) in [("alice", "ALICE/App"), ("Alice", "alice/app")] {
        let (credential, mut facts) = session(
            who,
            FactAnswer {
                repository: Some(private.clone()),
                ..FactAnswer::default()
            },
        );
        let d = a.authorize(
            &request(credential, git(path, GitAction::Pull, vec![])),
            &mut facts,
        );
        assert!(d.allow(), "{who} on {path}: {d:?}");
    }
    let (credential, mut facts) = session(
        "bob",
        FactAnswer {
            repository: Some(private),
            ..FactAnswer::default()
        },
    );
    let d = a.authorize(
        &request(credential, git("ALICE/App", GitAction::Pull, vec![])),
        &mut facts,
    );
    assert_eq!(d.reason, Reason::RepositoryNotFound);
}

#[test]
fn a_forged_secret_beside_a_genuine_record_is_named_by_its_signature() {
    // The signature is checked before the host is asked anything: a forged secret is
    // refused as such (not merely as a secret no record matches), and its record is never
    // looked up.
    let a = authorizer();
    let (mut i, mut facts) = token_input(
        &a,
        &["read:repository"],
        git("alice/app", GitAction::Pull, vec![]),
        Some(repo(Role::None)),
    );
    let Credential::Bearer(secret) = &i.credential else {
        panic!("bearer expected");
    };
    // Change one character of the secret part (after the 16-char id) and fix the CRC.
    let mut forged: Vec<char> = secret.chars().collect();
    let at = "fzpat_k1.".len() + 20;
    forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
    let body: String = forged[..forged.len() - 9].iter().collect();
    // The policy's own CRC-32 (checked against its bitwise definition by its unit tests).
    let forged = format!("{body}.{:08x}", policy::token::crc32(body.as_bytes()));
    i.credential = Credential::Bearer(forged);
    let d = a.authorize(&i, &mut facts);
    assert_eq!(
        (d.reason, d.detail.as_deref()),
        (Reason::TokenInvalid, Some("bad-signature"))
    );
    assert!(facts.queries.is_empty(), "{:?}", facts.queries);
}

#[test]
fn a_malformed_ref_update_is_refused_whatever_its_change() {
    // (Before contract 0.4: an update without an old or new id. Updates carry no ids now;
    // a malformed ref name is what is left to refuse.) Each change of a malformed ref is
    // `ref-name-invalid`, and a push of nothing else is refused with it.
    let a = authorizer();
    for change in [RefChange::Create, RefChange::Update, RefChange::Delete] {
        for force in [false, true] {
            let bad = RefUpdate {
                name: "refs/heads/a..b".into(),
                change,
                force,
            };
            let (i, mut facts) = token_input(
                &a,
                &["write:repository"],
                git("alice/app", GitAction::Push, vec![bad]),
                Some(repo(Role::None)),
            );
            let d: Decision = a.authorize(&i, &mut facts);
            assert!(!d.allow());
            assert_eq!(d.reason, Reason::RefNameInvalid, "{change:?}");
            assert_eq!(d.refs.unwrap()[0].reason, Reason::RefNameInvalid);
        }
    }
}

#[test]
fn an_api_read_needs_read_on_every_category() {
    let a = authorizer();
    let read = |cats: &[policy::scope::Category]| {
        Request::Api(ApiRequest {
            method: policy::Method::Get,
            categories: policy::scope::Categories::of(cats),
            repository: None,
            namespace: None,
            requires_auth: false,
            admin_only: false,
            required_role: Role::None,
            operation: None,
            sudo: None,
            package: false,
            writes_content: false,
            creates_in_own_namespace: false,
        })
    };
    use policy::scope::Category::{Issue, Repository};
    let decide = |request: Request| {
        let (i, mut facts) = token_input(&a, &["read:issue"], request, None);
        a.authorize(&i, &mut facts)
    };
    assert_eq!(decide(read(&[Repository])).reason, Reason::ScopeMissing);
    assert_eq!(
        decide(read(&[Issue, Repository])).reason,
        Reason::ScopeMissing
    );
    assert!(decide(read(&[Issue])).allow());
}

/// A deploy key of alice's for `alice/app` (reference §1.19), read-only or not, and a host
/// that answers every repository as public with no role.
fn deploy_key(read_only: bool) -> (Credential, Fixed) {
    let key = policy::SshKey {
        id: "deploy1".into(),
        kind: policy::KeyKind::Deploy,
        owner: "alice".into(),
        repository: Some("alice/app".into()),
        read_only,
    };
    let facts = Fixed::new(FactAnswer {
        repository: Some(repo(Role::None)),
        ..FactAnswer::default()
    });
    (Credential::SshKey(key), facts)
}

/// A git `action` on `path` over SSH, no refs.
fn ssh_git(path: &str, action: GitAction) -> Request {
    Request::Git(GitRequest {
        transport: Transport::Ssh,
        repository: path.into(),
        action,
        refs: vec![],
    })
}

#[test]
fn a_deploy_key_on_another_public_repository_is_refused_by_its_own_rule() {
    // reference §1.19: a deploy key reaches its own repository only. On another one — here
    // public, which anyone could read — it gets the 404 of a missing repository, and the
    // deploy-key rule is what refuses it (its detail says so; no later rule decides).
    let a = authorizer();
    let (key, mut facts) = deploy_key(false);
    for action in [GitAction::Pull, GitAction::Push] {
        let d = a.authorize(
            &request(key.clone(), ssh_git("alice/other", action)),
            &mut facts,
        );
        assert_eq!(d.reason, Reason::RepositoryNotFound, "{action:?}: {d:?}");
        assert_eq!(
            d.detail.as_deref(),
            Some("deploy key of another repository"),
            "{action:?}: {d:?}"
        );
    }
}

#[test]
fn a_deploy_key_asks_for_no_account() {
    // A deploy key belongs to a repository, not an account (reference §1.19): the policy
    // asks for the repository as an anonymous viewer sees it, never for the key's owner's
    // account or view (which would lend the key that user's role).
    let a = authorizer();
    let (key, mut facts) = deploy_key(true);
    let d = a.authorize(
        &request(key, ssh_git("alice/app", GitAction::Pull)),
        &mut facts,
    );
    assert!(d.allow(), "{d:?}");
    assert_eq!(facts.queries.len(), 1);
    let q = &facts.queries[0];
    assert!(
        q.contains("account: None") && q.contains("viewer: Anonymous"),
        "{q}"
    );
}

#[test]
fn a_batch_asks_for_the_credential_without_a_repository_then_for_its_targets_at_once() {
    // Scale (README "Facts"): a batch asks the host once for the credential's facts —
    // naming no repository, so the host has no path to look up — and once for all its
    // targets together.
    let a = authorizer();
    let (credential, mut facts) = session("alice", FactAnswer::default());
    let ds = a.authorize_batch(
        &policy::BatchRequest {
            client_address: None,
            credential,
            also_presented: vec![],
            transport: Transport::Http,
            action: GitAction::Pull,
            repositories: vec!["alice/app".into(), "alice/lib".into()],
            now: NOW,
            explain: false,
        },
        &mut facts,
    );
    assert_eq!(ds.len(), 2);
    assert_eq!(facts.queries.len(), 2, "{:?}", facts.queries);
    assert!(
        facts.queries[0].contains("repository: None"),
        "{:?}",
        facts.queries
    );
    assert_eq!(
        facts.queries[1],
        r#"repositories ["alice/app", "alice/lib"]"#
    );
}

#[test]
fn a_hidden_namespace_is_explained_as_a_missing_one() {
    // Issue 19 (invariant 22, pinned): a private organisation an anonymous viewer cannot see
    // answers — decision and whole trace — exactly as a namespace that does not exist.
    let a = authorizer();
    let explained = |namespace: Option<NamespaceFacts>| {
        let mut i = request(Credential::Anonymous, api(Some("acme"), None));
        i.explain = true;
        let mut facts = Fixed::new(FactAnswer {
            namespace,
            ..FactAnswer::default()
        });
        a.authorize(&i, &mut facts)
    };
    let hidden = explained(Some(NamespaceFacts {
        ip_allow: Vec::new(),
        organization: true,
        visibility: Visibility::Private,
        member_role: Role::None,
    }));
    assert!(!hidden.allow(), "{hidden:?}");
    assert!(hidden.trace.is_some());
    assert_eq!(hidden, explained(None));
}

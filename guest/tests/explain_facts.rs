//! The facts a refusing rule notes in its trace (issue 25, "`--explain` for people"): said
//! in the deciding step's detail, never in the decision itself, and gone with the rest of
//! the trace when the verdict conceals its target (issue 13, issue 19).
// Tests: a broken fixture should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

use forge_authz_guest::policy::{
    AccountStatus, AuthorizeRequest, Authorizer, Config, Credential, Decision, FactAnswer,
    FactQuery, Facts, GitAction, GitRequest, Options, RepositoryFacts, RepositoryKind, Request,
    Role, Rule, SigningKey, Transport, UserFacts, Visibility,
};

const NOW: i64 = 1_767_225_600;

/// A host answering every query with the same facts.
struct Fixed(FactAnswer);

impl Facts for Fixed {
    fn lookup(&mut self, _query: &FactQuery<'_>) -> FactAnswer {
        self.0.clone()
    }

    fn repositories(&mut self, paths: &[String], _: Option<&str>) -> Vec<Option<RepositoryFacts>> {
        paths.iter().map(|_| self.0.repository.clone()).collect()
    }
}

/// bob's session pushing to `path`, whose facts (as bob sees them) are `repository`.
fn push(path: &str, repository: Option<RepositoryFacts>, explain: bool) -> Decision {
    let a = Authorizer::new(&Config {
        site: String::new(),
        keys: vec![SigningKey {
            id: "k1".into(),
            secret: vec![7; 32],
        }],
        signing_key_id: "k1".into(),
        options: Options::default(),
    })
    .unwrap();
    let account = UserFacts {
        status: AccountStatus::Active,
        site_admin: false,
        visibility: Visibility::Public,
        organization: false,
    };
    let request = AuthorizeRequest {
        client_address: None,
        credential: Credential::Session("bob".into()),
        also_presented: vec![],
        request: Request::Git(GitRequest {
            transport: Transport::Http,
            repository: path.into(),
            action: GitAction::Push,
            refs: vec![],
        }),
        now: NOW,
        explain,
    };
    let mut facts = Fixed(FactAnswer {
        account: Some(account),
        repository,
        ..FactAnswer::default()
    });
    a.authorize(&request, &mut facts)
}

fn repo(private: bool, role: Role) -> RepositoryFacts {
    RepositoryFacts {
        owner_ip_allow: Vec::new(),
        owner_visibility: Visibility::Public,
        private,
        kind: RepositoryKind::Hosted,
        archived: false,
        role,
        protected_refs: vec![],
        registrant: None,
    }
}

#[test]
fn a_role_refusal_notes_the_role_and_what_the_action_needs_in_the_trace_only() {
    let explained = push("alice/app", Some(repo(false, Role::Read)), true);
    let last = explained.trace.clone().unwrap().pop().unwrap();
    assert_eq!(last.rule, Rule::Role);
    assert_eq!(
        last.detail,
        "permission-denied: role `read` on `alice/app`; push needs `write`"
    );
    // The decision itself is the one given without `explain`: the note is the trace's.
    let plain = push("alice/app", Some(repo(false, Role::Read)), false);
    assert_eq!(
        Decision {
            trace: None,
            ..explained
        },
        plain
    );
}

#[test]
fn a_hidden_repository_notes_nothing() {
    // bob has no role on the private repository: its refusal and trace are a missing
    // repository's, with no role noted.
    let hidden = push("alice/secret", Some(repo(true, Role::None)), true);
    let missing = push("alice/secret", None, true);
    assert_eq!(hidden, missing);
    let trace = hidden.trace.unwrap();
    assert!(
        trace.iter().all(|s| !s.detail.contains("role")),
        "{trace:?}"
    );
    assert_eq!(trace.last().unwrap().rule, Rule::Existence);
}

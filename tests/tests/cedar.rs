//! The Cedar model of the benchmarked decisions (`benches/cedar/`, issue 11) against our
//! policy: for every case of `cedar_model::CASES`, allows and denies, and every request of
//! each, the expected answer, Cedar's, the native core's and the wasm component's agree,
//! and so does the reason wherever a Cedar refusal stands for one of our reason codes.
//!
//! Our side runs as production does: through the host's `Policy` trait, asking a
//! `FactSource` (the default `lookup` composing per-fact answers) over the model's world.
//! Each model token is a genuine token minted by `Policy::issue`, whose stored record is then
//! given the model's facts (owner, scopes, binding, expiry, revocation, child), keeping the
//! digest the mint produced. Including the model also runs its own tests
//! (`cedar_model::tests`: determining policies, every policy exercised).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "../benches/cedar/cedar_model.rs"]
mod cedar_model;

use std::collections::HashMap;

use cedar_model::{self as cm, Ask, CASES, Case, NOW, What};
use forge_authz_guest::policy;
use forge_authz_host::facts::{FactSource, FoundRepository};
use forge_authz_host::policy::Policy;
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;

fn config() -> wit::Config {
    wit::Config {
        keys: vec![wit::SigningKey {
            id: "k1".into(),
            secret: vec![7; 32],
        }],
        signing_key_id: "k1".into(),
        // Binding fallback off, as the model (token-not-bound).
        options: forge_authz_tests::default_options(),
    }
}

fn visibility(v: cm::Visibility) -> wit::Visibility {
    match v {
        cm::Visibility::Public => wit::Visibility::Public,
        cm::Visibility::Limited => wit::Visibility::Limited,
        cm::Visibility::Private => wit::Visibility::Private,
    }
}

fn role(r: cm::Role) -> wit::Role {
    match r {
        cm::Role::None => wit::Role::None,
        cm::Role::Read => wit::Role::Read,
        cm::Role::Write => wit::Role::Write,
        cm::Role::Admin => wit::Role::Admin,
    }
}

fn access(a: &cm::RefAccess) -> wit::RefAccess {
    match a {
        cm::RefAccess::Writers => wit::RefAccess::Writers,
        cm::RefAccess::Admins => wit::RefAccess::Admins,
        cm::RefAccess::Users(u) => wit::RefAccess::Users(u.clone()),
        cm::RefAccess::Nobody => wit::RefAccess::Nobody,
    }
}

fn user_facts(u: &cm::UserFacts) -> wit::UserFacts {
    wit::UserFacts {
        status: match u.status {
            cm::AccountStatus::Active => wit::AccountStatus::Active,
            cm::AccountStatus::Inactive => wit::AccountStatus::Inactive,
            cm::AccountStatus::Suspended => wit::AccountStatus::Suspended,
        },
        site_admin: u.site_admin,
        visibility: visibility(u.visibility),
        organization: u.organization,
    }
}

fn categories(names: &[&str]) -> wit::ScopeCategories {
    names
        .iter()
        .map(|c| match *c {
            "activitypub" => wit::ScopeCategories::ACTIVITYPUB,
            "admin" => wit::ScopeCategories::ADMIN,
            "issue" => wit::ScopeCategories::ISSUE,
            "misc" => wit::ScopeCategories::MISC,
            "notification" => wit::ScopeCategories::NOTIFICATION,
            "organization" => wit::ScopeCategories::ORGANIZATION,
            "package" => wit::ScopeCategories::PACKAGE,
            "repository" => wit::ScopeCategories::REPOSITORY,
            "user" => wit::ScopeCategories::USER,
            other => panic!("unknown category {other}"),
        })
        .fold(wit::ScopeCategories::empty(), |all, c| all | c)
}

fn method(m: &str) -> wit::HttpMethod {
    match m {
        "GET" => wit::HttpMethod::Get,
        "HEAD" => wit::HttpMethod::Head,
        "OPTIONS" => wit::HttpMethod::Options,
        "POST" => wit::HttpMethod::Post,
        "PUT" => wit::HttpMethod::Put,
        "PATCH" => wit::HttpMethod::Patch,
        "DELETE" => wit::HttpMethod::Delete,
        other => wit::HttpMethod::Other(other.into()),
    }
}

/// The name of the `i`-th ref update of a push; `topic-*` is the pattern of the protection
/// rule a model ref update carries.
fn ref_name(i: usize) -> String {
    format!("refs/heads/topic-{i}")
}

const TOPIC_PATTERN: &str = "topic-*";

/// The model's world as our host sees it: users, repositories and the minted tokens'
/// records. Built once; each request gets a [`Facts`] view of it.
struct ModelWorld {
    world: cm::World,
    /// Model token id -> the minted secret.
    secrets: HashMap<String, String>,
    /// Record id (the token's public id) -> the stored record, with the model's facts.
    records: HashMap<String, wit::TokenRecord>,
}

impl ModelWorld {
    /// Mint a genuine token per model token with `minter`, then give each stored record the
    /// model's facts (keeping its id and the digest the mint produced).
    fn new(minter: &mut dyn Policy) -> ModelWorld {
        let world = cm::World::bench();
        let mut secrets = HashMap::new();
        let mut records = HashMap::new();
        for (i, t) in world.tokens.iter().enumerate() {
            let mut request = forge_authz_tests::session_request("alice", &["all"], NOW - 60);
            request.name = format!("t{i}");
            let issued = minter.issue(&request).unwrap().unwrap();
            let mut record = issued.record;
            record.owner = t.owner.clone();
            record.scopes = t.scopes.clone();
            record.repositories = t.repositories.clone();
            record.owners = t.owners.clone();
            record.parent = t.derived.then(|| "parent".to_string());
            record.revoked = t.revoked.then_some(NOW - 10);
            record.expires = t.expires;
            // Used just now: no touch-last-used effect to tell the engines apart.
            record.last_used = Some(NOW);
            secrets.insert(t.id.clone(), issued.secret);
            records.insert(record.id.clone(), record);
        }
        ModelWorld {
            world,
            secrets,
            records,
        }
    }

    fn user(&self, name: &str) -> Option<&cm::UserFacts> {
        self.world
            .users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// The facts for one request: the world, with the protection rule its ref update
    /// matched (if any) as the pushed repository's rule for every `topic-*` ref.
    fn facts<'a>(&'a self, ask: &Ask) -> Facts<'a> {
        let protected = match &ask.what {
            What::Push(Some(u)) => u
                .protection
                .as_ref()
                .map(|p| vec![protected_ref(TOPIC_PATTERN, p)]),
            _ => None,
        };
        Facts {
            world: self,
            protected,
        }
    }
}

fn protected_ref(pattern: &str, p: &cm::Protection) -> wit::ProtectedRef {
    wit::ProtectedRef {
        pattern: pattern.into(),
        push: access(&p.push),
        force_push: access(&p.force_push),
    }
}

/// The facts of one request: the world, and the protection rules of the repository it
/// pushes to.
struct Facts<'a> {
    world: &'a ModelWorld,
    protected: Option<Vec<wit::ProtectedRef>>,
}

impl FactSource for Facts<'_> {
    fn token(&self, id: &str) -> anyhow::Result<Option<policy::TokenFacts>> {
        Ok(self
            .world
            .records
            .get(id)
            .map(|r| convert::record_in(r.clone()).facts()))
    }

    fn user(&self, name: &str) -> anyhow::Result<Option<policy::UserFacts>> {
        Ok(self
            .world
            .user(name)
            .map(|u| convert::user_in(user_facts(u))))
    }

    fn repository(
        &self,
        path: &str,
        viewer: Option<&str>,
    ) -> anyhow::Result<Option<FoundRepository>> {
        let Some(repo) = self
            .world
            .world
            .repositories
            .iter()
            .find(|r| r.path().eq_ignore_ascii_case(path))
        else {
            return Ok(None);
        };
        let owner = self
            .world
            .user(&repo.owner)
            .ok_or_else(|| anyhow::anyhow!("no owner {}", repo.owner))?;
        let viewer_role = viewer
            .and_then(|v| {
                repo.collaborators
                    .iter()
                    .find(|(u, _)| u.eq_ignore_ascii_case(v))
            })
            .map_or(wit::Role::None, |(_, r)| role(*r));
        let facts = wit::RepositoryFacts {
            owner_visibility: visibility(owner.visibility),
            private: repo.private,
            kind: match repo.kind {
                cm::RepositoryKind::Hosted => wit::RepositoryKind::Hosted,
                cm::RepositoryKind::Mirror => wit::RepositoryKind::Mirror,
                cm::RepositoryKind::Import => wit::RepositoryKind::Import,
            },
            archived: repo.archived,
            role: viewer_role,
            registrant: None,
            protected_refs: self.protected.clone(),
        };
        Ok(Some((repo.path(), convert::repository_in(facts))))
    }

    fn namespace(
        &self,
        _name: &str,
        _viewer: Option<&str>,
    ) -> anyhow::Result<Option<policy::NamespaceFacts>> {
        Ok(None)
    }

    fn ssh_key(&self, _id: &str) -> anyhow::Result<Option<policy::SshKey>> {
        Ok(None)
    }
}

fn ref_update(i: usize, u: &cm::RefFacts) -> wit::RefUpdate {
    wit::RefUpdate {
        name: ref_name(i),
        change: match u.change {
            cm::RefChange::Create => wit::RefChange::Create,
            cm::RefChange::Update => wit::RefChange::Update,
            cm::RefChange::Delete => wit::RefChange::Delete,
        },
        force: u.force,
    }
}

/// Our request for a model request (`i`: the ref update's place in its push).
fn request(w: &ModelWorld, ask: &Ask, i: usize) -> wit::AuthorizeRequest {
    let credential = match ask.token {
        None => wit::Credential::Anonymous,
        Some(id) => wit::Credential::Bearer(w.secrets[id].clone()),
    };
    let git = |action, refs| {
        wit::Request::Git(wit::GitRequest {
            transport: wit::Transport::Http,
            repository: ask.repository.clone(),
            action,
            refs,
        })
    };
    let request = match &ask.what {
        What::Pull => git(wit::GitAction::Pull, None),
        What::Push(update) => git(
            wit::GitAction::Push,
            update.as_ref().map(|u| vec![ref_update(i, u)]),
        ),
        What::Api(route) => wit::Request::Api(wit::ApiRequest {
            method: method(route.method),
            categories: categories(&route.categories),
            repository: Some(ask.repository.clone()),
            namespace: None,
            route: if route.requires_auth {
                wit::RouteFlags::REQUIRES_AUTH
            } else {
                wit::RouteFlags::empty()
            },
            required_role: role(route.required_role),
            operation: None,
            sudo: None,
        }),
    };
    wit::AuthorizeRequest {
        credential,
        also_presented: None,
        request,
        now: NOW,
        explain: false,
    }
}

/// Our reason codes a Cedar policy's refusal stands for.
fn codes_of_policy(id: &str) -> &'static [&'static str] {
    match id {
        "token-revoked" => &["token-revoked"],
        "token-expired" => &["token-expired"],
        "account-inactive" => &["account-inactive"],
        "token-not-bound" => &["token-not-bound"],
        "token-public-only" => &["token-public-only"],
        "scope-missing-pull"
        | "scope-missing-push"
        | "scope-missing-api-read"
        | "scope-missing-api-write" => &["scope-missing"],
        "authentication-required-push" | "authentication-required-api" => {
            &["authentication-required"]
        }
        "repository-read-only" => &[
            "repository-archived",
            "repository-mirror",
            "repository-import",
        ],
        "ref-protected" => &["ref-protected"],
        "force-push-protected" => &["force-push-protected"],
        "role-required" => &["permission-denied"],
        other => panic!("no reason code for Cedar policy {other}"),
    }
}

/// Our reason code for each deny: the refusals no Cedar policy names (no permit applies,
/// Cedar's default deny) and the ones whose policy stands for several codes.
const DENY_CODES: &[(&str, &str)] = &[
    ("private_pull_non_collaborator", "repository-not-found"),
    ("anonymous_pull_private", "authentication-required"),
    ("collaborator_read_push", "permission-denied"),
    ("restricted_site_admin_private", "repository-not-found"),
    ("anonymous_api_requires_auth", "authentication-required"),
    ("archived_push", "repository-archived"),
    ("mirror_push", "repository-mirror"),
];

/// The reason code we must answer for a request of `case`, given the Cedar policies that
/// determined Cedar's answer.
fn expected_code(case: &Case, cedar_reasons: &[String]) -> &'static str {
    if case.allow {
        // Anonymous pull of a public repository is `public-read`; every other allow is
        // `granted` (including anonymous API reads).
        return if cedar_reasons.iter().any(|r| r == "public-read") {
            "public-read"
        } else {
            "granted"
        };
    }
    let listed = DENY_CODES
        .iter()
        .find(|(name, _)| *name == case.name)
        .map(|(_, code)| *code);
    match case.because {
        None => listed.unwrap_or_else(|| {
            panic!(
                "{}: a default deny needs its reason code in DENY_CODES",
                case.name
            )
        }),
        Some(policy) => {
            let codes = codes_of_policy(policy);
            match (listed, codes) {
                (Some(code), _) => {
                    assert!(
                        codes.contains(&code),
                        "{}: {code} is not what {policy} stands for",
                        case.name
                    );
                    code
                }
                (None, [code]) => code,
                (None, _) => panic!("{}: {policy} needs a code in DENY_CODES", case.name),
            }
        }
    }
}

/// One request through both engines: the decisions, which must be identical.
fn decide_both(
    native: &mut dyn Policy,
    wasm: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &wit::AuthorizeRequest,
    what: &str,
) -> wit::Decision {
    let (n, _) = native.authorize(request, facts).unwrap();
    let (w, _) = wasm.authorize(request, facts).unwrap();
    assert_eq!(n, w, "{what}: native and wasm decide differently");
    n
}

#[test]
fn cedar_native_and_wasm_agree_on_every_case() {
    let cedar = cm::CedarEngine::new(&cm::World::bench()).unwrap();
    let mut native = forge_authz_tests::native(&config()).unwrap();
    let mut wasm = forge_authz_tests::wasm(&config()).unwrap();
    // Minted through the component, as a host mints; both engines verify the tokens.
    let w = ModelWorld::new(&mut wasm);
    let mut checked = 0;
    for case in CASES {
        let asks = cm::case_asks(case.name).unwrap();
        assert!(!asks.is_empty(), "{}: no request", case.name);
        for (i, ask) in asks.iter().enumerate() {
            let response = cedar.authorize(&cedar.ask_request(ask).unwrap());
            let cedar_allow = response.decision() == cedar_policy::Decision::Allow;
            let reasons: Vec<String> = response
                .diagnostics()
                .reason()
                .map(ToString::to_string)
                .collect();
            let what = format!("{} #{i}", case.name);
            let facts = w.facts(ask);
            let d = decide_both(&mut native, &mut wasm, &facts, &request(&w, ask, i), &what);
            let code = d.verdict.code();
            println!(
                "{:<32} expected {:<5} cedar {:<5} ours {:<5} {code:<24} {reasons:?}",
                what,
                case.allow,
                cedar_allow,
                d.allow(),
            );
            assert_eq!(cedar_allow, case.allow, "{what}: cedar {response:?}");
            if !case.allow {
                let because: Vec<String> = case.because.iter().map(ToString::to_string).collect();
                assert_eq!(reasons, because, "{what}: the Cedar policy that refuses");
            }
            assert_eq!(d.allow(), case.allow, "{what}: ours {d:?}");
            assert_eq!(code, expected_code(case, &reasons), "{what}: reason {d:?}");
            assert_eq!(d.effects, wit::Effects::empty(), "{what}: effects");
            if let What::Push(update) = &ask.what {
                // A push that reaches its ref update (allowed, or refused by a ref rule)
                // carries that ref's verdict, Cedar's answer; one refused by a
                // repository-level rule, or without a ref update, carries none.
                let per_ref =
                    matches!(case.because, Some("ref-protected" | "force-push-protected"));
                let reached = update.is_some() && (case.allow || per_ref);
                let refs = d.refs.as_deref().unwrap_or_default();
                assert_eq!(
                    refs.len(),
                    usize::from(reached),
                    "{what}: ref verdicts {d:?}"
                );
                if let [v] = refs {
                    assert_eq!(v.allow(), case.allow, "{what}: {v:?}");
                    assert_eq!(v.verdict.code(), code, "{what}: ref verdict");
                }
            }
            checked += 1;
        }
    }
    println!("{checked} requests agree (expected, cedar, native, wasm)");
}

/// A push of many refs is one decision for us and one Cedar request per ref update: every
/// ref update of the model's pushes by the benchmark token to `alice/app` (ten unprotected
/// fast-forwards, protected refs allowed and refused, force-pushes, deletions, creations),
/// each under its own protection rule, pushed at once. Our per-ref verdicts are Cedar's
/// answers, and the push is allowed because some ref is.
#[test]
fn a_push_of_many_refs_is_one_cedar_request_per_ref() {
    let cedar = cm::CedarEngine::new(&cm::World::bench()).unwrap();
    let mut native = forge_authz_tests::native(&config()).unwrap();
    let mut wasm = forge_authz_tests::wasm(&config()).unwrap();
    // Minted natively this time: the component verifies them all the same.
    let w = ModelWorld::new(&mut native);
    let mut updates = Vec::new();
    let mut rules = Vec::new();
    let mut theirs = Vec::new();
    for case in CASES {
        for ask in cm::case_asks(case.name).unwrap() {
            let What::Push(Some(u)) = &ask.what else {
                continue;
            };
            if ask.token != Some(cm::BENCH_TOKEN) || ask.repository != cm::BENCH_REPOSITORY {
                continue;
            }
            let k = updates.len();
            let mut update = ref_update(k, u);
            update.name = format!("refs/heads/case-{k}");
            if let Some(p) = &u.protection {
                rules.push(protected_ref(&update.name, p));
            }
            updates.push(update);
            theirs.push(cedar.decide(&cedar.ask_request(&ask).unwrap()));
        }
    }
    assert!(theirs.len() > cm::PUSH_REFS, "{} ref updates", theirs.len());
    assert!(theirs.iter().any(|a| *a) && theirs.iter().any(|a| !*a));
    let push = wit::AuthorizeRequest {
        credential: wit::Credential::Bearer(w.secrets[cm::BENCH_TOKEN].clone()),
        also_presented: None,
        request: wit::Request::Git(wit::GitRequest {
            transport: wit::Transport::Http,
            repository: cm::BENCH_REPOSITORY.into(),
            action: wit::GitAction::Push,
            refs: Some(updates),
        }),
        now: NOW,
        explain: false,
    };
    let facts = Facts {
        world: &w,
        protected: Some(rules),
    };
    let d = decide_both(&mut native, &mut wasm, &facts, &push, "combined push");
    let ours: Vec<bool> = d
        .refs
        .as_ref()
        .unwrap()
        .iter()
        .map(wit::RefVerdict::allow)
        .collect();
    assert_eq!(ours, theirs, "per-ref verdicts: ours, then Cedar's");
    assert!(d.allow(), "{d:?}");
    assert_eq!(d.verdict.code(), "granted");
}

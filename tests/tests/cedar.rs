//! The Cedar model of the benchmarked decisions (`benches/cedar/`, issue 11) against our
//! policy: for every case of `cedar_model::CASES`, allows and denies, and every request of
//! each, the expected answer, Cedar's, the native core's and the wasm component's agree,
//! and so does the reason wherever a Cedar refusal stands for one of our reason codes.
//!
//! Our side runs as production does: through the host's `Policy` trait, asking a
//! `FactSource` (the default `lookup` composing per-fact answers): the model's world is a
//! fixture `World`, the host's own world type, so it is its own fact source. Each model
//! token is a genuine token minted by `Policy::issue`, whose stored record then keeps the
//! model's facts (owner, scopes, binding, expiry, revocation, child) and the id and digest
//! the mint produced. Including the model also runs its own tests
//! (`cedar_model::tests`: determining policies, every policy exercised).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "../benches/cedar/cedar_model.rs"]
mod cedar_model;

use std::collections::HashMap;

use cedar_model::{self as cm, Ask, CASES, Case, NOW, What};
use forge_authz_fixture::World;
use forge_authz_fixture::defs::{ProtectedRefDef, TokenDef};
use forge_authz_guest::policy::{self, scope::Categories};
use forge_authz_host::facts::FactSource;
use forge_authz_host::policy::{Policy, WasmPolicy};
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;
use forge_authz_tests::native::NativePolicy;

/// The model world's configuration (its signing key; default options: no binding
/// fallback, as the model's `token-not-bound`).
fn config() -> wit::Config {
    convert::config_out(cm::bench_world().config().unwrap())
}

/// The model's world as our host sees it: the fixture world itself, each token record
/// replaced by a genuine minted one that keeps the model's facts. Built once; each request
/// gets [`Minted::facts`].
struct Minted {
    world: World,
    /// Model token id -> the minted secret.
    secrets: HashMap<String, String>,
}

impl Minted {
    /// Mint a genuine token per model token with `minter`, then give each stored record the
    /// model's facts (keeping the id, name, creation and the digest the mint produced).
    fn new(minter: &mut dyn Policy) -> Minted {
        let mut world = cm::bench_world();
        let mut secrets = HashMap::new();
        for (i, t) in world.tokens.iter_mut().enumerate() {
            let mut request = forge_authz_tests::session_request("alice", &["all"], NOW - 60);
            request.name = format!("t{i}");
            let issued = minter.issue(&request).unwrap().unwrap();
            let minted = TokenDef::from_record(&convert::record_in(issued.record));
            secrets.insert(t.id.clone(), issued.secret);
            *t = TokenDef {
                id: minted.id,
                name: minted.name,
                created: minted.created,
                secret_hash: minted.secret_hash,
                digest: minted.digest,
                ..t.clone()
            };
        }
        Minted { world, secrets }
    }

    /// The facts for one request: the world, with the protection rule its ref update
    /// matched (if any) as every repository's rule.
    fn facts(&self, ask: &Ask) -> World {
        let rules = match &ask.what {
            What::Push(Some(u)) => u.protection.iter().cloned().collect(),
            _ => vec![],
        };
        self.with_rules(rules)
    }

    /// The world with `rules` as every repository's protection.
    fn with_rules(&self, rules: Vec<ProtectedRefDef>) -> World {
        let mut world = self.world.clone();
        for r in &mut world.repositories {
            r.protected_refs.clone_from(&rules);
        }
        world
    }

    /// Our request for a model request (`i`: the ref update's place in its push).
    fn request(&self, ask: &Ask, i: usize) -> wit::AuthorizeRequest {
        let credential = match ask.token {
            None => policy::Credential::Anonymous,
            Some(id) => policy::Credential::Bearer(self.secrets[id].clone()),
        };
        let git = |action, refs| {
            policy::Request::Git(policy::GitRequest {
                transport: policy::Transport::Http,
                repository: ask.repository.clone(),
                action,
                refs,
            })
        };
        let request = match &ask.what {
            What::Pull => git(policy::GitAction::Pull, vec![]),
            What::Push(update) => git(
                policy::GitAction::Push,
                update.iter().map(|u| ref_update(i, u)).collect(),
            ),
            What::Api(route) => policy::Request::Api(policy::ApiRequest {
                method: route.method.clone(),
                categories: Categories::of(&route.categories),
                repository: Some(ask.repository.clone()),
                namespace: None,
                requires_auth: route.requires_auth,
                admin_only: false,
                required_role: route.required_role,
                operation: None,
                sudo: None,
                package: false,
                writes_content: false,
                creates_in_own_namespace: false,
            }),
        };
        convert::authorize_out(policy::AuthorizeRequest {
            client_address: None,
            credential,
            also_presented: vec![],
            request,
            now: NOW,
            explain: false,
        })
    }
}

fn ref_update(i: usize, u: &cm::RefFacts) -> policy::RefUpdate {
    policy::RefUpdate {
        name: cm::ref_name(i),
        change: u.change,
        force: u.force,
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

/// The model in Cedar, and our policy natively and through the component, all over the
/// model's world.
fn engines() -> (cm::CedarEngine, NativePolicy, WasmPolicy) {
    (
        cm::CedarEngine::new(&cm::bench_world()).unwrap(),
        forge_authz_tests::native(&config()).unwrap(),
        forge_authz_tests::wasm(&config()).unwrap(),
    )
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
    let (cedar, mut native, mut wasm) = engines();
    // Minted through the component, as a host mints; both engines verify the tokens.
    let w = Minted::new(&mut wasm);
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
            let d = decide_both(&mut native, &mut wasm, &facts, &w.request(ask, i), &what);
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
    let (cedar, mut native, mut wasm) = engines();
    // Minted natively this time: the component verifies them all the same.
    let w = Minted::new(&mut native);
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
                rules.push(ProtectedRefDef {
                    pattern: update.name.clone(),
                    ..p.clone()
                });
            }
            updates.push(update);
            theirs.push(cedar.decide(&cedar.ask_request(&ask).unwrap()));
        }
    }
    assert!(theirs.len() > cm::PUSH_REFS, "{} ref updates", theirs.len());
    assert!(theirs.iter().any(|a| *a) && theirs.iter().any(|a| !*a));
    let push = convert::authorize_out(policy::AuthorizeRequest {
        client_address: None,
        credential: policy::Credential::Bearer(w.secrets[cm::BENCH_TOKEN].clone()),
        also_presented: vec![],
        request: policy::Request::Git(policy::GitRequest {
            transport: policy::Transport::Http,
            repository: cm::BENCH_REPOSITORY.into(),
            action: policy::GitAction::Push,
            refs: updates,
        }),
        now: NOW,
        explain: false,
    });
    let facts = w.with_rules(rules);
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

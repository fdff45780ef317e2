//! The facts a refusing rule notes in its trace (issue 25, "`--explain` for people"): said
//! in the deciding step's detail, never in the decision itself, and gone with the rest of
//! the trace when the verdict conceals its target (issue 13, issue 19).
// Tests: a broken fixture should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

use forge_authz_fixture::World;
use forge_authz_fixture::decided::{Decided, Outcome};
use forge_authz_fixture::native::Native;
use forge_authz_fixture::request::RequestDef;
use forge_authz_fixture::scenario::{Engine as _, Scenario, load_corpus, prepare, resolve};
use forge_authz_guest::policy::{
    AccountStatus, AuthorizeRequest, Authorizer, Config, Credential, Decision, FactAnswer,
    FactQuery, Facts, GitAction, GitRequest, Options, Reason, RepositoryFacts, RepositoryKind,
    Request, Role, Rule, SigningKey, TraceOutcome, TraceStep, Transport, UserFacts, Visibility,
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

/// The note a refusal's deciding step adds after its reason code and the decision's own
/// detail (`code`, `code: detail`, then `: note` or `; note`), if any.
fn note_of(step: &TraceStep, reason: Reason, detail: Option<&str>) -> Option<String> {
    let said = match detail {
        Some(d) => format!("{}: {d}", reason.code()),
        None => reason.code().to_string(),
    };
    let rest = step
        .detail
        .strip_prefix(&said)
        .unwrap_or_else(|| panic!("`{}` does not start with `{said}`", step.detail));
    let note = rest.strip_prefix("; ").or_else(|| rest.strip_prefix(": "));
    assert!(note.is_some() || rest.is_empty(), "{}", step.detail);
    note.map(str::to_string)
}

/// Each refusing reason code and the facts its deciding step notes in the first corpus
/// scenario refused with it (`None`: the reason and the decision's detail say it all, or
/// the verdict conceals its target). `site-refused` is a site policy's (`site.rs`).
const NOTES: &[(&str, Option<&str>)] = &[
    ("request-invalid", None),
    ("conflicting-credentials", None),
    ("ref-name-invalid", None),
    ("repository-exists", None),
    ("authentication-required", None),
    ("token-invalid", None),
    ("token-unknown", None),
    ("token-expired", Some("expired at 1767226200")),
    ("token-revoked", Some("revoked at 1767225540")),
    ("account-inactive", Some("the account `dave` is inactive")),
    (
        "username-mismatch",
        Some("the token belongs to `alice`; the username sent is `x-access-tokens`"),
    ),
    (
        "token-not-bound",
        Some("bound to repositories `alice/app` only"),
    ),
    ("token-not-allowed", None),
    ("credential-not-allowed", None),
    ("scope-missing", None),
    ("scope-unknown", None),
    (
        "token-public-only",
        Some("the token is public-only; `lim` is limited"),
    ),
    (
        "permission-denied",
        Some("role `write` on `alice/app`; this needs `admin`"),
    ),
    ("repository-mirror", None),
    ("repository-import", None),
    ("repository-archived", None),
    (
        "deploy-key-read-only",
        Some("a read-only deploy key; push needs write"),
    ),
    (
        "restricted-token",
        Some("the token is bound to repositories `alice/app` only"),
    ),
    (
        "admin-required",
        Some("`alice` is not a site administrator"),
    ),
    (
        "sudo-denied",
        Some("`root` is a site administrator, but the token lacks write:admin"),
    ),
    (
        "create-denied",
        Some("role `read` in `opensrc`; creating a repository there needs `write`"),
    ),
    ("ref-protected", None),
    ("force-push-protected", None),
    ("ip-not-allowed", None),
    ("repository-not-found", None),
    ("namespace-not-found", None),
];

/// Each corpus scenario refused when explained, decided by the native engine: `each` gets
/// the engine, the scenario's world, the scenario, its request (`explain` set), the
/// decision and its refusing reason.
fn each_explained_refusal(
    mut each: impl FnMut(&mut Native, &World, &Scenario, RequestDef, Decided, Reason),
) {
    for fam in load_corpus().unwrap() {
        let (mut engine, world, minted) = prepare(&fam, &Native::new).unwrap();
        for sc in &fam.scenarios {
            let mut req = resolve(&sc.request, &minted).unwrap();
            req.explain = true;
            let Outcome::Decision(d) = engine.decide(&world, &req, world.now()).unwrap() else {
                continue;
            };
            if let Some(reason) = d.verdict.filter(|r| !r.allows()) {
                each(&mut engine, &world, sc, req, d, reason);
            }
        }
    }
}

#[test]
fn every_refusal_reason_decides_in_the_trace_and_its_facts_stay_there() {
    // Issue 25 ("`--explain` for people"), one case per reason code: the first corpus
    // scenario refused with each code, explained. Its deciding step starts with the
    // reason code (and the decision's detail); the facts it notes are the trace's alone
    // (the decision is the one given without `explain`, and never repeats them); a
    // concealing verdict (a missing repository or namespace) notes nothing (issue 13).
    let mut seen = std::collections::BTreeSet::new();
    each_explained_refusal(|engine, world, sc, mut req, d, reason| {
        if !seen.insert(reason.code()) {
            return;
        }
        let name = &sc.name;
        let last = d.trace.last().unwrap_or_else(|| panic!("{name}: no trace"));
        assert_eq!(last.outcome, TraceOutcome::Decide, "{name}");
        let note = note_of(last, reason, d.detail.as_deref());
        let (_, want) = NOTES
            .iter()
            .find(|(c, _)| *c == reason.code())
            .unwrap_or_else(|| panic!("`{}` has no row in NOTES", reason.code()));
        assert_eq!(note.as_deref(), *want, "{name}");
        if let Some(note) = &note {
            assert!(!d.message.contains(note.as_str()), "{name}: {note}");
            assert!(d.detail.as_ref().is_none_or(|x| !x.contains(note.as_str())));
        }
        if matches!(
            reason,
            Reason::RepositoryNotFound | Reason::NamespaceNotFound
        ) {
            assert_eq!(note, None, "{name}: a concealing verdict notes nothing");
        }
        req.explain = false;
        let Outcome::Decision(plain) = engine.decide(world, &req, world.now()).unwrap() else {
            panic!("{name}: not a decision without explain");
        };
        assert_eq!(Decided { trace: vec![], ..d }, plain, "{name}");
    });
    let missing: Vec<_> = Reason::ALL
        .iter()
        .filter(|r| !r.allows() && **r != Reason::SiteRefused)
        .filter(|r| !seen.contains(r.code()))
        .collect();
    assert!(
        missing.is_empty(),
        "no corpus scenario refuses with {missing:?}"
    );
}

#[test]
fn a_token_sent_as_its_own_username_is_never_echoed_in_the_trace() {
    // House rule (secrets) and README "Who may see a trace": a trace never holds a secret.
    // The username rule notes whose token it is, but a token-shaped username (here the
    // token itself, sent as username and password) is not repeated.
    let fam = load_corpus()
        .unwrap()
        .into_iter()
        .find(|f| f.family == "credentials")
        .unwrap();
    let (mut engine, world, minted) = prepare(&fam, &Native::new).unwrap();
    let secret = minted["a"].clone();
    // The token itself (longer than any name), and a token-shaped name (the host's
    // redaction rule: `fzpat_` anywhere, in any case): a piece of the token upper-cased, or
    // inside a longer name — each a valid name, none repeated.
    let piece = secret.get(..60).unwrap();
    let upper = piece.to_ascii_uppercase();
    let inside = format!("me.{piece}");
    for username in [&secret, &upper, &inside] {
        let req = serde_json::json!({
            "credential": {"basic": {"username": username, "password": secret}},
            "transport": "http", "repository": "alice/app", "action": "pull", "explain": true,
        });
        let req = serde_json::from_value(req).unwrap();
        let Outcome::Decision(d) = engine.decide(&world, &req, world.now()).unwrap() else {
            panic!("not a decision");
        };
        assert_eq!(d.verdict, Some(Reason::UsernameMismatch), "{username}");
        let last = d.trace.last().unwrap();
        assert_eq!(
            last.detail,
            "username-mismatch: the token belongs to `alice`, not to the username sent"
        );
        let body = piece.trim_start_matches("fzpat_").to_ascii_lowercase();
        assert!(
            d.trace
                .iter()
                .all(|s| !s.detail.to_ascii_lowercase().contains(&body)),
            "{d:?}"
        );
    }
}

#[test]
fn a_restricted_tokens_refusal_notes_what_restricts_it() {
    // Issue 25: "a restricted token cannot do this" says why the token is restricted —
    // its binding, public-only, or derived from another token (README "Principals and
    // roles": restricted tokens) — on every corpus refusal for it.
    let mut notes = std::collections::BTreeSet::new();
    each_explained_refusal(|_, _, sc, _, d, reason| {
        if reason == Reason::RestrictedToken {
            let note = note_of(d.trace.last().unwrap(), reason, None);
            notes.insert(note.unwrap_or_else(|| panic!("{}: no note", sc.name)));
        }
    });
    for want in [
        "the token is bound to repositories `alice/app` only",
        "the token is public-only",
        "the token is derived from another token",
    ] {
        assert!(notes.contains(want), "`{want}` not among {notes:?}");
    }
    assert!(
        notes.iter().all(|n| n.starts_with("the token is ")),
        "{notes:?}"
    );
}

//! Token lifecycle rules against the policy core alone (`forge_authz_guest::policy`), so
//! that `cargo mutants` on `guest/src/policy` counts them: minting rules, child tokens,
//! rotation, revocation cascades, edits, last-used hints, family revocation on reuse,
//! audit (the one copy of these tests; the component is held to the same answers by the
//! differential test's lifecycle sequences, and `tests/tests/lifecycle.rs` keeps what needs
//! the host's request kinds). The later tests pin exact records and history events,
//! boundaries (last-used interval, expiry, lifetime window, name length, reuse), ordering
//! of cascades, rotation families, audit findings with their repairs, and termination on
//! cyclic bad data. Each test names its source. Fixed entropy, no clock.
// Tests: a failed expectation stops the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

mod support;

use std::sync::LazyLock;

use forge_authz_guest::policy::lifecycle::{
    LAST_USED_INTERVAL, MAX_NAME_CHARS, last_used_due, live,
};
use forge_authz_guest::policy::records::event as ev;
use forge_authz_guest::policy::token::ENTROPY_BYTES;
use forge_authz_guest::policy::{
    Account, AccountStatus, Actor, AuditEntry, AuditFinding, AuditFix, AuditKind, AuthorizeRequest,
    Authorizer, BoundRepository, ChangeContext, ChangePlan, ChildOutcome, ChildRequest, Config,
    Credential, Decision, Effects, FactAnswer, FactQuery, Facts, GitAction, GitRequest,
    HistoryAction, HistoryEvent, IssueError, IssueRequest, IssuedToken, LifecycleError, Options,
    Reason, RepositoryFacts, RepositoryKind, Request, RevokeScope, Role, RotateRequest, Rotation,
    SecretDigest, Timestamp, TokenEdit, TokenRecord, Transport, UserFacts, Viewer, Visibility,
    inspect,
};
use support::lifecycle::rec;

const NOW: Timestamp = 1_767_225_600;
const DAY: i64 = 86_400;

fn config(options: Options) -> Config {
    support::single_key("k1", 7, options)
}

/// The policy with default options (expiry required, 300 s to 366 days).
static AUTHZ: LazyLock<Authorizer> =
    LazyLock::new(|| Authorizer::new(&config(Options::default())).unwrap());
/// The policy without `require_expiry`.
static LAX: LazyLock<Authorizer> = LazyLock::new(|| {
    Authorizer::new(&config(Options {
        require_expiry: false,
        ..Options::default()
    }))
    .unwrap()
});

/// Fixed entropy: a distinct token id per `n`.
fn entropy(n: u8) -> [u8; ENTROPY_BYTES] {
    let mut e = [n; 36];
    e[35] = n.wrapping_mul(3);
    e
}

/// An active user's facts (a site administrator or not).
fn user_facts(admin: bool) -> UserFacts {
    UserFacts {
        status: AccountStatus::Active,
        site_admin: admin,
        visibility: Visibility::Public,
        organization: false,
    }
}

/// A named account with these facts.
fn account(name: &str, facts: UserFacts) -> Account {
    Account {
        name: name.into(),
        facts,
    }
}

/// An active user (a site administrator or not).
fn user(name: &str, admin: bool) -> Account {
    account(name, user_facts(admin))
}

/// The HMAC-SHA256 tag of a token signed with `k1` (what a record minted since contract
/// 0.4 stores), computed here from the token format — the key's HMAC of
/// `fzpat_<kid>.<payload>` — not by the policy.
fn tag(secret: &str) -> SecretDigest {
    use hmac::{Hmac, Mac};
    let signed = &secret[..secret.match_indices('.').nth(1).unwrap().0];
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&[7; 32]).unwrap();
    mac.update(signed.as_bytes());
    SecretDigest::HmacTag(mac.finalize().into_bytes().into())
}

/// Alice's own session: the owner of the tokens these tests change.
fn ctx(now: Timestamp) -> ChangeContext {
    ChangeContext {
        actor: Actor::Session(user("alice", false)),
        ip: Some("192.0.2.7".into()),
        now,
    }
}

/// The operator's audit job: the actor `audit --fix` repairs as.
fn audit_ctx(now: Timestamp) -> ChangeContext {
    ChangeContext {
        actor: Actor::System("audit".into()),
        ip: Some("192.0.2.7".into()),
        now,
    }
}

/// `derive_child` answering with the minting error of a refusal (the actor here is the
/// owner, who may derive: any other refusal is a bug in the test).
fn child_of(
    r: &ChildRequest,
    entropy: Option<&[u8; ENTROPY_BYTES]>,
) -> Result<ChildOutcome, IssueError> {
    AUTHZ.derive_child(r, entropy).map_err(|e| match e {
        LifecycleError::Refused(i) => i,
        other => panic!("derive_child refused the owner: {other:?}"),
    })
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

/// A mint request from the owner's own session, expiring in an hour (the host tests'
/// `session_request`).
fn session_request(owner: &str, scopes: &[&str], now: Timestamp) -> IssueRequest {
    IssueRequest {
        owner: owner.into(),
        name: "t".into(),
        scopes: strings(scopes),
        repositories: vec![],
        owners: vec![],
        expires: Some(now + 3600),
        now,
        creator: Actor::Session(user(owner, false)),
        existing_names: vec![],
        bound_facts: vec![],
        ip: None,
    }
}

fn issue(r: &IssueRequest, n: u8) -> Result<IssuedToken, IssueError> {
    AUTHZ.issue(r, Some(&entropy(n)))
}

fn mint(scopes: &[&str], lifetime: i64, n: u8) -> IssuedToken {
    let mut r = session_request("alice", scopes, NOW);
    r.expires = Some(NOW + lifetime);
    issue(&r, n).unwrap()
}

fn refused(r: &IssueRequest) -> Option<IssueError> {
    issue(r, 200).err()
}

/// A hosted repository of a public owner, private or not, where the viewer has no role
/// (its path is the one asked for: facts carry no name).
fn facts(private: bool) -> RepositoryFacts {
    RepositoryFacts {
        owner_ip_allow: Vec::new(),
        owner_visibility: Visibility::Public,
        private,
        kind: RepositoryKind::Hosted,
        archived: false,
        role: Role::None,
        protected_refs: vec![],
        registrant: None,
    }
}

fn target(path: &str, f: Option<RepositoryFacts>) -> BoundRepository {
    BoundRepository {
        repository: path.into(),
        facts: f,
    }
}

fn revoked_at(r: &TokenRecord, at: Timestamp) -> TokenRecord {
    TokenRecord {
        revoked: Some(at),
        ..r.clone()
    }
}

fn ids(records: &[TokenRecord]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

fn minted(o: ChildOutcome) -> IssuedToken {
    match o {
        ChildOutcome::Minted(t) => t,
        ChildOutcome::Reuse(r) => panic!("expected a new child, got reuse of {}", r.id),
    }
}

fn entry(r: TokenRecord, recorded: bool) -> AuditEntry {
    AuditEntry {
        record: r,
        expiry_recorded: recorded,
    }
}

// ---------------------------------------------------------------------------------------
// The port of tests/tests/lifecycle.rs.

#[test]
fn minting_rules() {
    // seed 002 (Gafaelfawr create_user_token), reference §4.3, §5.2 (GitLab expiry policy).
    let base = session_request("alice", &["read:repository"], NOW);
    let mut r = base.clone();
    r.expires = None;
    assert_eq!(refused(&r), Some(IssueError::ExpiryRequired));
    r.expires = Some(NOW + 367 * DAY);
    assert_eq!(refused(&r), Some(IssueError::LifetimeTooLong(366 * DAY)));
    r.expires = Some(NOW + 299);
    assert_eq!(refused(&r), Some(IssueError::LifetimeTooShort(300)));
    r.expires = Some(NOW + 366 * DAY);
    assert!(issue(&r, 1).is_ok(), "the maximum itself is allowed");
    let mut r = base.clone();
    r.existing_names = vec!["T".into()];
    assert_eq!(
        refused(&r),
        Some(IssueError::NameTaken),
        "names are unique per owner"
    );
    // A non-admin may not grant admin scopes; `all` is fine (reference §1.2).
    let mut r = base.clone();
    r.scopes = vec!["write:admin".into()];
    assert_eq!(
        refused(&r),
        Some(IssueError::ScopeNotGrantable("write:admin".into()))
    );
    r.scopes = vec!["all".into()];
    assert!(issue(&r, 2).is_ok());
    // Minting for someone else needs a site administrator.
    let mut r = base.clone();
    r.owner = "bob".into();
    assert_eq!(refused(&r), Some(IssueError::CreatorNotAllowed));
    r.creator = Actor::Session(user("root", true));
    assert!(issue(&r, 3).is_ok());
    // The create event records who, what and from where.
    let mut r = base.clone();
    r.ip = Some("203.0.113.5".into());
    let t = issue(&r, 4).unwrap();
    assert_eq!(t.event.action, HistoryAction::Create);
    assert_eq!(
        (t.event.actor.as_str(), t.event.ip.as_deref()),
        ("alice", Some("203.0.113.5"))
    );
    assert_eq!(t.event.scopes, vec!["read:repository"]);
}

#[test]
fn history_events_copy_the_record_and_the_change() {
    // The expected events of these tests are the policy's own `records::event` of the
    // expected record: pinned here once, field by field, from the model's docs (a history
    // event names the token, its owner and what it held, who acted, from where and when;
    // the `old_*` and `related` fields are left for the change that sets them).
    let r = rec("t2", Some("t1"), Some(NOW + DAY), &["read:repository"]);
    let c = ctx(NOW + 5);
    let e = ev(&r, HistoryAction::Revoke, &c);
    assert_eq!(
        (e.token_id.as_str(), e.owner.as_str(), e.name.as_str()),
        ("t2", "alice", "t2")
    );
    assert_eq!(
        (e.action, e.actor.as_str()),
        (HistoryAction::Revoke, "alice")
    );
    assert_eq!((e.ip.as_deref(), e.at), (Some("192.0.2.7"), NOW + 5));
    assert_eq!(e.scopes, vec!["read:repository"]);
    assert_eq!(
        (e.expires, e.parent.as_deref()),
        (Some(NOW + DAY), Some("t1"))
    );
    assert_eq!(
        (e.old_name, e.old_scopes, e.old_expires),
        (None, None, None)
    );
    assert_eq!(e.related, None);
    assert_eq!(
        ev(&r, HistoryAction::Expire, &audit_ctx(NOW)).actor,
        "audit"
    );
}

#[test]
fn bound_repositories_must_be_visible_to_the_owner() {
    // issue 4: repository-bound tokens only for repositories the creator can see, with the
    // same refusal for unseen and missing ones (reference §1.14).
    let mut r = session_request("alice", &["read:repository"], NOW);
    r.repositories = vec!["carol/private".into()];
    r.bound_facts = vec![target("carol/private", Some(facts(true)))];
    let unseen = refused(&r);
    r.repositories = vec!["carol/missing".into()];
    r.bound_facts = vec![target("carol/missing", None)];
    let missing = refused(&r);
    assert_eq!(
        unseen,
        Some(IssueError::RepositoryNotVisible("carol/private".into()))
    );
    assert_eq!(
        missing,
        Some(IssueError::RepositoryNotVisible("carol/missing".into()))
    );
    r.repositories = vec!["alice/secret".into()];
    r.bound_facts = vec![target("alice/secret", Some(facts(true)))];
    assert!(
        issue(&r, 5).is_ok(),
        "the owner sees its own private repository"
    );
}

#[test]
fn a_token_never_mints_a_stronger_token() {
    // seed 002 (scopes a subset of the creator's); issue 4 (tokens mint only with a scope
    // that says so: Gafaelfawr `user:token`).
    let plain = mint(&["write:repository"], 30 * DAY, 6).record;
    let minter = mint(
        &["write:repository", "read:issue", "user:token"],
        30 * DAY,
        7,
    )
    .record;
    let by = |creator: &TokenRecord, scopes: &[&str], expires: i64| {
        let mut r = session_request("alice", scopes, NOW);
        r.creator = Actor::Token(creator.clone());
        r.expires = Some(NOW + expires);
        r
    };
    assert_eq!(
        refused(&by(&plain, &["read:repository"], DAY)),
        Some(IssueError::CreatorNotAllowed)
    );
    assert!(issue(&by(&minter, &["read:repository"], DAY), 8).is_ok());
    assert_eq!(
        refused(&by(&minter, &["write:issue"], DAY)),
        Some(IssueError::ExceedsCreator("write:issue".into()))
    );
    assert_eq!(
        refused(&by(&minter, &["read:repository"], 31 * DAY)),
        Some(IssueError::ExceedsCreator("a later expiry".into()))
    );
    let mut other = by(&minter, &["read:repository"], DAY);
    other.owner = "bob".into();
    assert_eq!(refused(&other), Some(IssueError::CreatorNotAllowed));
    let mut dead = minter.clone();
    dead.revoked = Some(NOW - 1);
    assert_eq!(
        refused(&by(&dead, &["read:repository"], DAY)),
        Some(IssueError::CreatorNotLive)
    );
}

#[test]
fn child_tokens() {
    // seed 002 (notebook/internal tokens), reference §4.4.
    let parent = mint(&["write:repository", "read:issue"], 2 * DAY, 9).record;
    let req = |scopes: &[&str], lifetime: i64, existing: Vec<TokenRecord>, now: i64| ChildRequest {
        parent: parent.clone(),
        scopes: strings(scopes),
        lifetime,
        minimum_lifetime: None,
        existing_children: existing,
        context: ctx(now),
    };
    let child = minted(
        child_of(
            &req(&["read:repository"], DAY, vec![], NOW),
            Some(&entropy(10)),
        )
        .unwrap(),
    );
    assert_eq!(child.record.parent.as_deref(), Some(parent.id.as_str()));
    assert_eq!(child.record.expires, Some(NOW + DAY));
    // Expiry is min(now + lifetime, parent expiry).
    let long = minted(
        child_of(
            &req(&["read:repository"], 10 * DAY, vec![], NOW),
            Some(&entropy(11)),
        )
        .unwrap(),
    );
    assert_eq!(long.record.expires, parent.expires);
    // Scopes must be a subset.
    assert_eq!(
        child_of(&req(&["write:issue"], DAY, vec![], NOW), Some(&entropy(12))).err(),
        Some(IssueError::ExceedsCreator("write:issue".into()))
    );
    // Reuse: same scopes and at least half the lifetime left.
    let reuse = child_of(
        &req(
            &["read:repository"],
            DAY,
            vec![child.record.clone()],
            NOW + 3600,
        ),
        Some(&entropy(13)),
    )
    .unwrap();
    assert_eq!(reuse, ChildOutcome::Reuse(child.record.clone()));
    let late = child_of(
        &req(
            &["read:repository"],
            DAY,
            vec![child.record.clone()],
            NOW + DAY - 3600,
        ),
        Some(&entropy(14)),
    )
    .unwrap();
    assert!(
        matches!(late, ChildOutcome::Minted(_)),
        "too little lifetime left: a new child"
    );
    let other = child_of(
        &req(&["read:issue"], DAY, vec![child.record.clone()], NOW + 3600),
        Some(&entropy(15)),
    )
    .unwrap();
    assert!(
        matches!(other, ChildOutcome::Minted(_)),
        "different scopes: a new child"
    );
    // A dead parent has no children.
    let mut r = req(&["read:repository"], DAY, vec![], NOW + 3 * DAY);
    r.context = ctx(NOW + 3 * DAY);
    assert_eq!(
        child_of(&r, Some(&entropy(16))).err(),
        Some(IssueError::CreatorNotLive)
    );
}

fn rotate_req(
    old: &TokenRecord,
    expires: Option<i64>,
    records: &[TokenRecord],
    now: i64,
) -> RotateRequest {
    RotateRequest {
        old: old.clone(),
        expires,
        records: records.to_vec(),
        context: ctx(now),
    }
}

#[test]
fn rotation() {
    // reference §5.2 (GitLab rotation: old revoked, new linked; reuse revokes the family).
    let mut r = session_request("alice", &["write:repository"], NOW);
    r.repositories = vec!["alice/app".into()];
    r.bound_facts = vec![target("alice/app", Some(facts(false)))];
    r.expires = Some(NOW + 10 * DAY);
    let old = issue(&r, 17).unwrap().record;
    let rot = AUTHZ
        .rotate(&rotate_req(&old, None, &[], NOW + DAY), Some(&entropy(18)))
        .unwrap();
    assert_eq!(rot.new.record.scopes, old.scopes);
    assert_eq!(rot.new.record.repositories, old.repositories);
    assert_eq!(rot.new.record.name, old.name);
    assert_eq!(rot.new.record.predecessor.as_deref(), Some(old.id.as_str()));
    assert_eq!(
        rot.new.record.expires,
        Some(NOW + DAY + 10 * DAY),
        "same lifetime, from now"
    );
    assert_eq!(rot.old.revoked, Some(NOW + DAY));
    assert_eq!(
        rot.old.successor.as_deref(),
        Some(rot.new.record.id.as_str())
    );
    let actions: Vec<_> = rot.events.iter().map(|e| e.action).collect();
    assert_eq!(actions, vec![HistoryAction::Rotate, HistoryAction::Create]);
    // The rotated-away token cannot be rotated again.
    let again = AUTHZ.rotate(
        &rotate_req(&rot.old, None, &[], NOW + DAY),
        Some(&entropy(19)),
    );
    assert_eq!(
        again.err(),
        Some(LifecycleError::TokenNotLive(old.id.clone()))
    );
    // Presenting it again revokes the family: see `effects_last_used_and_family_revocation`.
}

/// The host's facts for a pull of `alice/app` (public) with alice's token: the record as
/// stored, alice's account, the repository as its owner sees it.
struct Store<'a> {
    record: &'a TokenRecord,
}

impl Facts for Store<'_> {
    fn lookup(&mut self, q: &FactQuery<'_>) -> FactAnswer {
        assert_eq!(
            (q.token, q.repository, q.viewer),
            (
                Some(self.record.id.as_str()),
                Some("alice/app"),
                Viewer::TokenOwner
            ),
            "{q:?}"
        );
        FactAnswer {
            token: Some(self.record.facts()),
            owner: Some(user_facts(false)),
            repository: Some(facts(false)),
            ..FactAnswer::default()
        }
    }

    fn repositories(
        &mut self,
        paths: &[String],
        _viewer: Option<&str>,
    ) -> Vec<Option<RepositoryFacts>> {
        panic!("no batch here: {paths:?}")
    }
}

fn decide_with(secret: &str, record: &TokenRecord, now: i64) -> Decision {
    AUTHZ.authorize(
        &AuthorizeRequest {
            client_address: None,
            credential: Credential::Bearer(secret.into()),
            also_presented: vec![],
            request: Request::Git(GitRequest {
                transport: Transport::Http,
                repository: "alice/app".into(),
                action: GitAction::Pull,
                refs: vec![],
            }),
            now,
            explain: false,
        },
        &mut Store { record },
    )
}

/// Record the token's use; nothing else.
const TOUCH: Effects = Effects {
    touch_last_used: true,
    revoke_family: false,
};
/// Revoke the token's rotation family; nothing else.
const REVOKE_FAMILY: Effects = Effects {
    touch_last_used: false,
    revoke_family: true,
};
/// No effect.
const NONE: Effects = Effects {
    touch_last_used: false,
    revoke_family: false,
};

#[test]
fn effects_last_used_and_family_revocation() {
    // reference §2.5, §5.2 (last-used at most every 10 minutes); §5.2 (reuse of a rotated
    // token revokes its family).
    let t = mint(&["read:repository"], 30 * DAY, 20);
    // Contract 0.4: effects are flags for the presented token (they name no token id).
    let d = decide_with(&t.secret, &t.record, NOW);
    assert!(d.allow());
    assert_eq!(d.effects, TOUCH);
    let mut used = t.record.clone();
    used.last_used = Some(NOW);
    assert_eq!(
        decide_with(&t.secret, &used, NOW + 599).effects,
        NONE,
        "within 10 minutes"
    );
    assert_eq!(decide_with(&t.secret, &used, NOW + 600).effects, TOUCH);
    let rot = AUTHZ
        .rotate(
            &rotate_req(&t.record, None, &[], NOW + 60),
            Some(&entropy(21)),
        )
        .unwrap();
    let d = decide_with(&t.secret, &rot.old, NOW + 120);
    assert_eq!(d.reason, Reason::TokenRevoked);
    assert_eq!(d.effects, REVOKE_FAMILY);
    // A plainly revoked token (never rotated) revokes nothing else.
    let mut revoked = t.record.clone();
    revoked.revoked = Some(NOW);
    assert_eq!(decide_with(&t.secret, &revoked, NOW + 1).effects, NONE);
}

#[test]
fn legacy_records_bind_their_secret_by_sha256() {
    // contract 0.4 (`secret-digest`): a record minted since 0.4 stores the token's HMAC
    // tag; one minted before stores SHA-256 of the whole secret string, and keeps working
    // exactly as the tag does — allowed, touched, revoked, rotated and expired alike. A
    // digest of another secret, or of the wrong kind, binds nothing: the token is unknown
    // (the uniform 401), and nothing is touched or revoked.
    use sha2::Digest as _;
    let sha = |s: &str| -> [u8; 32] { sha2::Sha256::digest(s.as_bytes()).into() };
    let t = mint(&["read:repository"], 30 * DAY, 25);
    assert_eq!(
        t.record.secret,
        tag(&t.secret),
        "a new record stores the tag"
    );
    let legacy = |r: &TokenRecord| TokenRecord {
        secret: SecretDigest::Sha256(sha(&t.secret)),
        ..r.clone()
    };
    let rotated = AUTHZ
        .rotate(
            &rotate_req(&t.record, None, &[], NOW + 60),
            Some(&entropy(26)),
        )
        .unwrap()
        .old;
    let used = TokenRecord {
        last_used: Some(NOW),
        ..t.record.clone()
    };
    let revoked = revoked_at(&t.record, NOW);
    let expired = TokenRecord {
        expires: Some(NOW),
        ..t.record.clone()
    };
    for (what, r, now, reason, effects) in [
        ("live", &t.record, NOW, Reason::Granted, TOUCH),
        ("used", &used, NOW + 1, Reason::Granted, NONE),
        ("revoked", &revoked, NOW + 1, Reason::TokenRevoked, NONE),
        (
            "rotated",
            &rotated,
            NOW + 120,
            Reason::TokenRevoked,
            REVOKE_FAMILY,
        ),
        ("expired", &expired, NOW, Reason::TokenExpired, NONE),
    ] {
        let with_tag = decide_with(&t.secret, r, now);
        assert_eq!(
            (with_tag.reason, with_tag.effects),
            (reason, effects),
            "{what}"
        );
        assert_eq!(decide_with(&t.secret, &legacy(r), now), with_tag, "{what}");
    }
    let SecretDigest::HmacTag(tag_bytes) = tag(&t.secret) else {
        unreachable!()
    };
    for wrong in [
        SecretDigest::Sha256(sha("another secret")),
        SecretDigest::Sha256(tag_bytes),
        SecretDigest::HmacTag(sha(&t.secret)),
        SecretDigest::HmacTag([0; 32]),
    ] {
        let r = TokenRecord {
            secret: wrong,
            ..t.record.clone()
        };
        let d = decide_with(&t.secret, &r, NOW);
        assert_eq!(
            (
                d.reason,
                d.message.as_deref(),
                d.detail.as_deref(),
                d.effects
            ),
            (
                Reason::TokenUnknown,
                Some("invalid access token"),
                None,
                NONE
            ),
            "{wrong:?}"
        );
    }
}

#[test]
fn revocation_cascades_deepest_first_and_families() {
    // seed 002 (deleting a token deletes its children, deepest first), reference §4.5.
    let mut records = vec![
        rec("p", None, Some(NOW + DAY), &["write:repository"]),
        rec("c1", Some("p"), Some(NOW + DAY), &["read:repository"]),
        rec("c2", Some("p"), Some(NOW + DAY), &["read:repository"]),
        rec("g1", Some("c1"), Some(NOW + DAY), &["read:repository"]),
        rec("other", None, Some(NOW + DAY), &["read:repository"]),
    ];
    let plan = AUTHZ
        .plan_revoke("p", RevokeScope::Token, &records, &ctx(NOW))
        .unwrap();
    let order: Vec<&str> = ids(&plan.updates);
    assert_eq!(order.len(), 4, "{order:?}");
    assert_eq!(order[0], "g1", "deepest first");
    assert_eq!(order[3], "p", "the token itself last");
    assert!(plan.updates.iter().all(|r| r.revoked == Some(NOW)));
    assert!(
        plan.events
            .iter()
            .all(|e| e.action == HistoryAction::Revoke)
    );
    assert_eq!(
        AUTHZ
            .plan_revoke("nope", RevokeScope::Token, &records, &ctx(NOW))
            .err(),
        Some(LifecycleError::UnknownToken("nope".into()))
    );
    // A family: a -> b -> c by rotation; revoking the family from a reaches c and c's child.
    records.push(TokenRecord {
        successor: Some("b".into()),
        revoked: Some(NOW - 10),
        ..rec("a", None, Some(NOW + DAY), &["read:repository"])
    });
    records.push(TokenRecord {
        predecessor: Some("a".into()),
        successor: Some("c".into()),
        revoked: Some(NOW - 5),
        ..rec("b", None, Some(NOW + DAY), &["read:repository"])
    });
    records.push(TokenRecord {
        predecessor: Some("b".into()),
        ..rec("c", None, Some(NOW + DAY), &["read:repository"])
    });
    records.push(rec("cc", Some("c"), Some(NOW + DAY), &["read:repository"]));
    let plan = AUTHZ
        .plan_revoke("a", RevokeScope::Family, &records, &ctx(NOW))
        .unwrap();
    assert_eq!(
        ids(&plan.updates),
        vec!["cc", "c"],
        "already revoked members are not rewritten"
    );
}

#[test]
fn edits_and_shortening_a_parent_shortens_its_children() {
    // seed 002 (modifying a parent's expiry updates its children), reference §4.5.
    let records = vec![
        rec("p", None, Some(NOW + 10 * DAY), &["write:repository"]),
        rec("c", Some("p"), Some(NOW + 9 * DAY), &["read:repository"]),
        rec("g", Some("c"), None, &["read:repository"]),
        rec("q", None, Some(NOW + DAY), &["read:repository"]),
    ];
    let edit = TokenEdit {
        name: None,
        scopes: None,
        expires: Some(Some(NOW + 2 * DAY)),
    };
    let plan = AUTHZ.plan_edit("p", &edit, &records, &ctx(NOW)).unwrap();
    let got: Vec<(&str, Option<i64>)> = plan
        .updates
        .iter()
        .map(|r| (r.id.as_str(), r.expires))
        .collect();
    assert_eq!(
        got,
        vec![
            ("g", Some(NOW + 2 * DAY)),
            ("c", Some(NOW + 2 * DAY)),
            ("p", Some(NOW + 2 * DAY))
        ]
    );
    let last = plan.events.last().unwrap();
    assert_eq!(last.old_expires, Some(Some(NOW + 10 * DAY)));
    // Names stay unique; scopes stay known; a child cannot be widened past its parent.
    let rename = TokenEdit {
        name: Some("Q".into()),
        scopes: None,
        expires: None,
    };
    assert_eq!(
        AUTHZ.plan_edit("p", &rename, &records, &ctx(NOW)).err(),
        Some(LifecycleError::Refused(IssueError::NameTaken))
    );
    let widen = TokenEdit {
        name: None,
        scopes: Some(vec!["write:issue".into()]),
        expires: None,
    };
    assert_eq!(
        AUTHZ.plan_edit("c", &widen, &records, &ctx(NOW)).err(),
        Some(LifecycleError::Refused(IssueError::ExceedsCreator(
            "write:issue".into()
        )))
    );
    let never = TokenEdit {
        name: None,
        scopes: None,
        expires: Some(None),
    };
    assert_eq!(
        AUTHZ.plan_edit("q", &never, &records, &ctx(NOW)).err(),
        Some(LifecycleError::Refused(IssueError::ExpiryRequired))
    );
}

fn audit_entries() -> Vec<AuditEntry> {
    vec![
        entry(rec("p", None, Some(NOW + DAY), &["read:repository"]), false),
        entry(
            rec(
                "outlives",
                Some("p"),
                Some(NOW + 5 * DAY),
                &["read:repository"],
            ),
            false,
        ),
        entry(
            rec(
                "exceeds",
                Some("p"),
                Some(NOW + DAY),
                &["read:repository", "write:issue"],
            ),
            false,
        ),
        entry(
            rec(
                "orphan",
                Some("gone"),
                Some(NOW + DAY),
                &["read:repository"],
            ),
            false,
        ),
        entry(rec("legacy", None, Some(NOW + DAY), &["repo"]), false),
        entry(
            rec("stale", None, Some(NOW - 1), &["read:repository"]),
            false,
        ),
        entry(rec("done", None, Some(NOW - 1), &["read:repository"]), true),
        entry(
            TokenRecord {
                successor: Some("x".into()),
                ..rec("rotated", None, Some(NOW + DAY), &["read:repository"])
            },
            false,
        ),
        entry(
            TokenRecord {
                revoked: Some(NOW - 1),
                ..rec("dead", None, Some(NOW + DAY), &["read:repository"])
            },
            false,
        ),
        entry(
            rec(
                "child-of-dead",
                Some("dead"),
                Some(NOW + DAY),
                &["read:repository"],
            ),
            false,
        ),
    ]
}

/// Each finding's token id and kind, in order.
fn kinds(findings: &[AuditFinding]) -> Vec<(&str, AuditKind)> {
    findings
        .iter()
        .map(|f| (f.token_id.as_str(), f.kind))
        .collect()
}

#[test]
fn audit_finds_and_repairs() {
    // seed 002 (TokenService.audit(fix)), reference §4.7.
    let entries = audit_entries();
    let findings = AUTHZ.audit(&entries, &audit_ctx(NOW));
    let kinds = kinds(&findings);
    for want in [
        ("outlives", AuditKind::ChildOutlivesParent),
        ("exceeds", AuditKind::ChildExceedsParent),
        ("orphan", AuditKind::Orphan),
        ("legacy", AuditKind::UnknownScope),
        ("stale", AuditKind::ExpiredNotRecorded),
        ("rotated", AuditKind::RotatedNotRevoked),
        ("child-of-dead", AuditKind::ChildOfRevokedParent),
    ] {
        assert!(kinds.contains(&want), "missing {want:?} in {kinds:?}");
    }
    assert_eq!(kinds.len(), 7, "no false positives: {kinds:?}");
    let fix = |id: &str| {
        findings
            .iter()
            .find(|f| f.token_id == id)
            .unwrap()
            .fix
            .clone()
    };
    let Some(AuditFix::Update(r)) = fix("outlives") else {
        panic!()
    };
    assert_eq!(r.expires, Some(NOW + DAY));
    let Some(AuditFix::Update(r)) = fix("exceeds") else {
        panic!()
    };
    assert_eq!(r.scopes, vec!["read:repository"]);
    let Some(AuditFix::Update(r)) = fix("legacy") else {
        panic!()
    };
    assert_eq!(r.scopes, vec!["write:repository"], "legacy scopes migrate");
    assert_eq!(fix("stale"), Some(AuditFix::RecordExpiry("stale".into())));
    // Expiry bookkeeping plans one event per unrecorded expiry.
    let ev = AUTHZ.plan_expire(&entries, &audit_ctx(NOW));
    let ids: Vec<&str> = ev.iter().map(|e| e.token_id.as_str()).collect();
    assert_eq!(ids, vec!["stale"]);
}

fn escape_records() -> Vec<TokenRecord> {
    vec![
        rec(
            "p",
            None,
            Some(NOW + 10 * DAY),
            &["write:repository", "read:issue"],
        ),
        rec(
            "c",
            Some("p"),
            Some(NOW + 5 * DAY),
            &["write:repository", "read:issue"],
        ),
        rec("g", Some("c"), Some(NOW + 4 * DAY), &["read:issue"]),
        rec("h", Some("c"), Some(NOW + 4 * DAY), &["read:repository"]),
    ]
}

fn p_rotate(
    old: &TokenRecord,
    expires: Option<i64>,
    records: &[TokenRecord],
) -> Result<Rotation, LifecycleError> {
    AUTHZ.rotate(&rotate_req(old, expires, records, NOW), Some(&entropy(22)))
}

#[test]
fn children_never_escape_their_parent_after_creation() {
    // issue 8 class 8; seed 002 (child expiry = min(lifetime, parent expiry); modifying a
    // parent updates its children), reference §4.4-5.
    let records = escape_records();
    // Editing a child past its parent's expiry is refused (not cut).
    let later = TokenEdit {
        name: None,
        scopes: None,
        expires: Some(Some(NOW + 300 * DAY)),
    };
    assert_eq!(
        AUTHZ.plan_edit("c", &later, &records, &ctx(NOW)).err(),
        Some(LifecycleError::Refused(IssueError::ExceedsCreator(
            "an expiry after its parent's".into()
        )))
    );
    // Up to the parent's expiry is fine.
    let upto = TokenEdit {
        expires: Some(Some(NOW + 10 * DAY)),
        ..later.clone()
    };
    assert!(AUTHZ.plan_edit("c", &upto, &records, &ctx(NOW)).is_ok());
    // Rotating a child: an explicit later expiry is refused; the default is cut to the
    // parent's; the successor stays a child of the same parent.
    assert_eq!(
        p_rotate(&records[1], Some(NOW + 300 * DAY), &records).err(),
        Some(LifecycleError::Refused(IssueError::ExceedsCreator(
            "an expiry after its parent's".into()
        )))
    );
    let mut long_child = records.clone();
    long_child[1].created = NOW - 9 * DAY; // a 14-day lifetime, renewed from now
    let rot = p_rotate(&long_child[1], None, &long_child).unwrap();
    assert_eq!(rot.new.record.expires, Some(NOW + 10 * DAY));
    assert_eq!(rot.new.record.parent.as_deref(), Some("p"));
    // A child whose parent is gone cannot be edited or rotated.
    let mut orphaned = records.clone();
    orphaned[0].revoked = Some(NOW - 1);
    assert_eq!(
        AUTHZ.plan_edit("c", &upto, &orphaned, &ctx(NOW)).err(),
        Some(LifecycleError::Refused(IssueError::CreatorNotLive))
    );
    assert_eq!(
        p_rotate(&orphaned[1], None, &orphaned).err(),
        Some(LifecycleError::Refused(IssueError::CreatorNotLive))
    );
    // Narrowing a parent cascades: children keep only what the parent keeps, and a
    // child left with no permission is revoked; deepest first, the parent last.
    let narrow = TokenEdit {
        name: None,
        scopes: Some(vec!["read:issue".into()]),
        expires: None,
    };
    let plan = AUTHZ.plan_edit("p", &narrow, &records, &ctx(NOW)).unwrap();
    let got: Vec<(&str, Vec<String>, bool)> = plan
        .updates
        .iter()
        .map(|r| (r.id.as_str(), r.scopes.clone(), r.revoked.is_some()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("h", vec!["read:repository".to_string()], true),
            ("c", vec!["read:issue".to_string()], false),
            ("p", vec!["read:issue".to_string()], false),
        ]
    );
    let actions: Vec<_> = plan.events.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        vec![
            HistoryAction::Revoke,
            HistoryAction::Edit,
            HistoryAction::Edit
        ]
    );
}

#[test]
fn a_child_token_mints_only_children_and_organisations_mint_nothing() {
    // issue 8 class 9; seed 004 (restricted tokens never carry admin powers), seed 002
    // (`user:token` mints nothing stronger than itself).
    let mut child = mint(&["all", "user:token"], 30 * DAY, 23).record;
    child.parent = Some("parent-token".into());
    let mut r = session_request("alice", &["all"], NOW);
    r.creator = Actor::Token(child.clone());
    r.expires = Some(NOW + DAY);
    let minted = issue(&r, 24).unwrap().record;
    assert_eq!(
        minted.parent.as_deref(),
        Some(child.id.as_str()),
        "a token minted by a child is its child, so it stays restricted"
    );
    // An organisation never signs in, so it never mints.
    let mut org = session_request("acme", &["read:repository"], NOW);
    org.creator = Actor::Session(account(
        "acme",
        UserFacts {
            organization: true,
            ..user_facts(false)
        },
    ));
    assert_eq!(refused(&org), Some(IssueError::CreatorNotAllowed));
}

// ---------------------------------------------------------------------------------------
// Beyond the port: what the originals leave loose.

#[test]
fn live_and_last_used_boundaries() {
    // reference §2.5, §5.2 (last-used at most every 10 minutes; `expires <= now` is
    // expired), seed 002 (a revoked token is dead whatever its expiry).
    let r = rec("t", None, Some(NOW + 10), &["read:repository"]);
    assert!(live(&r, NOW + 9));
    assert!(!live(&r, NOW + 10), "expired exactly at its expiry");
    assert!(!live(&r, NOW + 11));
    assert!(live(
        &rec("n", None, None, &["read:repository"]),
        NOW + 100 * DAY
    ));
    assert!(!live(&revoked_at(&rec("n", None, None, &[]), NOW), NOW - 5));
    assert!(!live(&revoked_at(&r, NOW + 1), NOW));
    assert_eq!(LAST_USED_INTERVAL, 600);
    let mut used = r.clone();
    assert!(last_used_due(used.last_used, NOW), "never used: due");
    used.last_used = Some(NOW);
    assert!(!last_used_due(used.last_used, NOW));
    assert!(!last_used_due(used.last_used, NOW + 599));
    assert!(last_used_due(used.last_used, NOW + 600));
    assert!(last_used_due(used.last_used, NOW + 601));
    // Through `authorize`: the same boundary (the touch is for the presented token:
    // contract 0.4 effects name no token).
    let t = mint(&["read:repository"], 30 * DAY, 30);
    let mut used = t.record.clone();
    used.last_used = Some(NOW);
    for (at, due) in [
        (NOW, false),
        (NOW + 599, false),
        (NOW + 600, true),
        (NOW + 601, true),
    ] {
        let d = decide_with(&t.secret, &used, at);
        assert!(d.allow());
        let want = if due { TOUCH } else { NONE };
        assert_eq!(d.effects, want, "at +{}", at - NOW);
    }
}

#[test]
fn minted_record_and_event_are_exact() {
    // seed 002 (create_user_token stores the hash — since contract 0.4 the token's HMAC
    // tag — and writes a `create` history entry with actor and IP), reference §4.3, §5.2;
    // issue 4 (bound repositories dedup, case-blind).
    let mut r = session_request("alice", &["read_repository", "write:repository"], NOW);
    r.name = "deploy".into();
    r.repositories = strings(&["alice/app", "ALICE/APP", "alice/lib"]);
    r.owners = strings(&["acme", "ACME", "corp"]);
    r.bound_facts = vec![
        target("alice/app", Some(facts(false))),
        target("Alice/Lib", Some(facts(true))),
    ];
    r.ip = Some("203.0.113.9".into());
    r.expires = Some(NOW + 7 * DAY);
    let t = issue(&r, 31).unwrap();
    let info = inspect(&t.secret).unwrap();
    assert_eq!(info.key_id, "k1");
    let want = TokenRecord {
        id: info.token_id.clone(),
        owner: "alice".into(),
        name: "deploy".into(),
        scopes: strings(&["write:repository"]),
        repositories: strings(&["alice/app", "alice/lib"]),
        owners: strings(&["acme", "corp"]),
        parent: None,
        predecessor: None,
        successor: None,
        last_used: None,
        created: NOW,
        expires: Some(NOW + 7 * DAY),
        revoked: None,
        secret: tag(&t.secret),
    };
    assert_eq!(t.record, want);
    assert!(!t.record.id.is_empty());
    let c = ChangeContext {
        actor: Actor::Session(user("alice", false)),
        ip: Some("203.0.113.9".into()),
        now: NOW,
    };
    assert_eq!(t.event, ev(&want, HistoryAction::Create, &c));
    // The same entropy gives the same token; another gives another.
    assert_eq!(issue(&r, 31).unwrap().secret, t.secret);
    assert_ne!(issue(&r, 32).unwrap().record.id, t.record.id);
    // No entropy, no token (and nothing else is refused first).
    assert_eq!(
        AUTHZ.issue(&r, None).err(),
        Some(IssueError::EntropyUnavailable)
    );
    // An administrator minting for someone else is the actor; a token creator's owner is.
    let mut r = session_request("bob", &["read:repository"], NOW);
    r.creator = Actor::Session(user("root", true));
    assert_eq!(issue(&r, 33).unwrap().event.actor, "root");
    let minter = mint(&["read:repository", "user:token"], 30 * DAY, 34).record;
    let mut r = session_request("ALICE", &["read:repository"], NOW);
    r.creator = Actor::Token(minter.clone());
    let t = issue(&r, 35).unwrap();
    assert_eq!(t.event.actor, "alice", "the creator token's owner acts");
    assert_eq!(t.record.owner, "ALICE");
    assert_eq!(
        t.record.parent, None,
        "a token minted by a non-child token has no parent"
    );
}

#[test]
fn name_and_owner_rules() {
    // seed 002 (token names: 1 to 100 characters, no control characters; unique per
    // owner, case-blind), reference §4.3.
    assert_eq!(MAX_NAME_CHARS, 100);
    let base = session_request("alice", &["read:repository"], NOW);
    let with = |name: String| IssueRequest {
        name,
        ..base.clone()
    };
    assert!(issue(&with("x".repeat(100)), 40).is_ok());
    assert!(
        issue(&with("é".repeat(100)), 41).is_ok(),
        "characters, not bytes"
    );
    assert!(issue(&with("x".into()), 42).is_ok());
    assert_eq!(refused(&with("x".repeat(101))), Some(IssueError::BadName));
    assert_eq!(refused(&with(String::new())), Some(IssueError::BadName));
    assert_eq!(refused(&with("a\tb".into())), Some(IssueError::BadName));
    assert_eq!(refused(&with("a\u{7f}".into())), Some(IssueError::BadName));
    assert_eq!(refused(&with("line\n".into())), Some(IssueError::BadName));
    assert!(issue(&with("with space & ünïcode".into()), 43).is_ok());
    let mut r = base.clone();
    r.owner = "bad name".into();
    assert_eq!(refused(&r), Some(IssueError::BadOwner));
    r.owner = String::new();
    assert_eq!(refused(&r), Some(IssueError::BadOwner));
    let mut r = base.clone();
    r.existing_names = strings(&["other", "T2"]);
    assert!(issue(&r, 44).is_ok(), "only the same name is taken");
}

#[test]
fn scope_rules_at_minting() {
    // reference §1.1-4, §1.14 (bound tokens: repository and issue scopes only, never
    // public-only), seed 002 (at least one permission).
    let base = session_request("alice", &["read:repository"], NOW);
    let scoped = |scopes: &[&str]| IssueRequest {
        scopes: strings(scopes),
        ..base.clone()
    };
    assert_eq!(
        refused(&scoped(&["read:repository", "bogus"])),
        Some(IssueError::UnknownScope("bogus".into()))
    );
    assert_eq!(
        refused(&scoped(&["user:token"])),
        Some(IssueError::NoPermissionScope)
    );
    assert_eq!(
        refused(&scoped(&["public-only"])),
        Some(IssueError::NoPermissionScope)
    );
    assert!(
        issue(&scoped(&["read:user"]), 50).is_ok(),
        "unbound: any scope"
    );
    assert!(issue(&scoped(&["repository:pull"]), 51).is_ok());
    // Bound by repository or by owner: the bound rules apply either way.
    let mut r = scoped(&["read:user"]);
    r.repositories = vec!["alice/app".into()];
    r.bound_facts = vec![target("alice/app", Some(facts(false)))];
    assert_eq!(
        refused(&r),
        Some(IssueError::ScopeNotAllowedWhenBound("read:user".into()))
    );
    r.scopes = strings(&["read:repository", "public-only"]);
    assert_eq!(refused(&r), Some(IssueError::BoundAndPublicOnly));
    r.scopes = strings(&["read:repository", "write:issue", "repository:push"]);
    assert!(issue(&r, 52).is_ok());
    let mut r = scoped(&["read:user"]);
    r.owners = vec!["acme".into()];
    assert_eq!(
        refused(&r),
        Some(IssueError::ScopeNotAllowedWhenBound("read:user".into()))
    );
    r.scopes = strings(&["read:repository", "public-only"]);
    assert_eq!(refused(&r), Some(IssueError::BoundAndPublicOnly));
    r.scopes = strings(&["write_repository"]);
    assert!(
        issue(&r, 53).is_ok(),
        "bound to an owner, no repository facts needed"
    );
    // Malformed binding targets.
    let mut r = base.clone();
    r.repositories = vec!["alice".into()];
    assert_eq!(refused(&r), Some(IssueError::BadRepository("alice".into())));
    let mut r = base.clone();
    r.owners = vec!["bad name".into()];
    assert_eq!(
        refused(&r),
        Some(IssueError::BadRepository("bad name".into()))
    );
    // Admin scopes: refused to a non-admin (named read or write), granted by an admin.
    let mut r = scoped(&["read:admin"]);
    assert_eq!(
        refused(&r),
        Some(IssueError::ScopeNotGrantable("read:admin".into()))
    );
    r.scopes = strings(&["write:admin", "read:repository"]);
    assert_eq!(
        refused(&r),
        Some(IssueError::ScopeNotGrantable("write:admin".into()))
    );
    r.creator = Actor::Session(user("alice", true));
    assert!(
        issue(&r, 54).is_ok(),
        "a site administrator grants admin scopes"
    );
}

#[test]
fn session_creators() {
    // seed 002 (only the owner, or an administrator, mints; inactive accounts and
    // organisations never), reference §1.2.
    let base = session_request("alice", &["read:repository"], NOW);
    let by = |u: Account| IssueRequest {
        creator: Actor::Session(u),
        ..base.clone()
    };
    assert!(
        issue(&by(user("ALICE", false)), 60).is_ok(),
        "names are case-blind"
    );
    for status in [AccountStatus::Inactive, AccountStatus::Suspended] {
        assert_eq!(
            refused(&by(account(
                "alice",
                UserFacts {
                    status,
                    ..user_facts(false)
                }
            ))),
            Some(IssueError::CreatorNotAllowed)
        );
        assert_eq!(
            refused(&by(account(
                "root",
                UserFacts {
                    status,
                    ..user_facts(true)
                }
            ))),
            Some(IssueError::CreatorNotAllowed)
        );
    }
    assert_eq!(
        refused(&by(account(
            "alice",
            UserFacts {
                organization: true,
                ..user_facts(true)
            }
        ))),
        Some(IssueError::CreatorNotAllowed)
    );
    assert_eq!(
        refused(&by(user("bob", false))),
        Some(IssueError::CreatorNotAllowed)
    );
    assert!(issue(&by(user("root", true)), 61).is_ok());
}

#[test]
fn token_creators() {
    // seed 002 (a token mints only with `user:token`, for its owner, nothing stronger,
    // never longer-lived), issue 4 (a bound token mints only within its binding).
    let minter = TokenRecord {
        expires: Some(NOW + 10 * DAY),
        ..rec("m", None, None, &["write:repository", "user:token"])
    };
    let by = |creator: &TokenRecord, expires: Option<i64>| {
        let mut r = session_request("alice", &["read:repository"], NOW);
        r.creator = Actor::Token(creator.clone());
        r.expires = expires;
        r
    };
    assert!(
        issue(&by(&minter, Some(NOW + 10 * DAY)), 70).is_ok(),
        "up to the creator's expiry"
    );
    assert!(issue(&by(&minter, Some(NOW + DAY)), 71).is_ok());
    assert_eq!(
        refused(&by(&minter, Some(NOW + 10 * DAY + 1))),
        Some(IssueError::ExceedsCreator("a later expiry".into()))
    );
    assert_eq!(
        refused(&by(&minter, None)),
        Some(IssueError::ExceedsCreator("never expires".into()))
    );
    let forever = TokenRecord {
        expires: None,
        ..minter.clone()
    };
    assert!(issue(&by(&forever, Some(NOW + 300 * DAY)), 72).is_ok());
    assert!(LAX.issue(&by(&forever, None), Some(&entropy(73))).is_ok());
    let expired = TokenRecord {
        expires: Some(NOW),
        ..minter.clone()
    };
    assert_eq!(
        refused(&by(&expired, Some(NOW + DAY))),
        Some(IssueError::CreatorNotLive)
    );
    let unknown = TokenRecord {
        scopes: strings(&["user:token", "bogus"]),
        ..minter.clone()
    };
    assert_eq!(
        refused(&by(&unknown, Some(NOW + DAY))),
        Some(IssueError::UnknownScope("bogus".into()))
    );
    let upper = TokenRecord {
        owner: "ALICE".into(),
        ..minter.clone()
    };
    assert!(
        issue(&by(&upper, Some(NOW + DAY)), 74).is_ok(),
        "owners compare case-blind"
    );
    // Bound creators: repositories.
    let bound = TokenRecord {
        repositories: strings(&["alice/app"]),
        ..minter.clone()
    };
    assert_eq!(
        refused(&by(&bound, Some(NOW + DAY))),
        Some(IssueError::ExceedsCreator("unbound".into()))
    );
    let mut r = by(&bound, Some(NOW + DAY));
    r.repositories = strings(&["alice/lib"]);
    r.bound_facts = vec![target("alice/lib", Some(facts(false)))];
    assert_eq!(
        refused(&r),
        Some(IssueError::ExceedsCreator("alice/lib".into()))
    );
    r.repositories = strings(&["Alice/App"]);
    r.bound_facts = vec![target("alice/app", Some(facts(false)))];
    assert!(issue(&r, 75).is_ok());
    // Bound creators: owners.
    let bound = TokenRecord {
        owners: strings(&["acme"]),
        ..minter.clone()
    };
    let mut r = by(&bound, Some(NOW + DAY));
    r.owners = strings(&["corp"]);
    assert_eq!(refused(&r), Some(IssueError::ExceedsCreator("corp".into())));
    r.owners = strings(&["ACME"]);
    assert!(issue(&r, 76).is_ok());
    r.owners = vec![];
    r.repositories = strings(&["acme/app"]);
    r.bound_facts = vec![target("acme/app", Some(facts(false)))];
    assert!(issue(&r, 77).is_ok(), "a repository of a bound owner");
    // Unbound creator, bound request: fine.
    let mut r = by(&minter, Some(NOW + DAY));
    r.owners = strings(&["acme"]);
    assert!(issue(&r, 78).is_ok());
}

#[test]
fn bound_repository_visibility() {
    // issue 4, reference §1.14: the owner must see each bound repository; for the owner's
    // own session the session's rules apply (an administrator sees all), otherwise the
    // repository is public to signed-in users, the owner holds a role, or owns it.
    let private = |role: Role| RepositoryFacts {
        role,
        ..facts(true)
    };
    // The host answers each bound repository by the path asked for (its facts carry no
    // name); the path compares case-blind.
    let bound = |creator: Actor, owner: &str, path: &str, f: RepositoryFacts| {
        let mut r = session_request(owner, &["read:repository"], NOW);
        r.creator = creator;
        r.repositories = vec![path.to_string()];
        r.bound_facts = vec![target(&path.to_uppercase(), Some(f))];
        r
    };
    let root = Actor::Session(user("root", true));
    // An administrator minting for alice: alice's view counts, not the administrator's.
    assert_eq!(
        refused(&bound(
            root.clone(),
            "alice",
            "carol/x",
            private(Role::None)
        )),
        Some(IssueError::RepositoryNotVisible("carol/x".into()))
    );
    assert!(
        issue(
            &bound(root.clone(), "alice", "carol/x", private(Role::Read)),
            80
        )
        .is_ok()
    );
    assert!(
        issue(
            &bound(root.clone(), "alice", "alice/x", private(Role::None)),
            81
        )
        .is_ok()
    );
    assert!(issue(&bound(root.clone(), "alice", "carol/x", facts(false)), 82).is_ok());
    assert_eq!(
        refused(&bound(
            root.clone(),
            "alice",
            "carol/x",
            RepositoryFacts {
                owner_visibility: Visibility::Private,
                ..facts(false)
            }
        )),
        Some(IssueError::RepositoryNotVisible("carol/x".into()))
    );
    // An administrator minting for themselves sees everything.
    assert!(
        issue(
            &bound(root.clone(), "root", "carol/x", private(Role::None)),
            83
        )
        .is_ok()
    );
    // Own session: a role suffices; none does not.
    let alice = Actor::Session(user("alice", false));
    assert!(
        issue(
            &bound(alice.clone(), "alice", "carol/x", private(Role::Read)),
            84
        )
        .is_ok()
    );
    assert_eq!(
        refused(&bound(
            alice.clone(),
            "alice",
            "carol/x",
            private(Role::None)
        )),
        Some(IssueError::RepositoryNotVisible("carol/x".into()))
    );
    // Facts for another repository do not count.
    let mut r = bound(alice, "alice", "carol/x", facts(false));
    r.repositories = vec!["carol/y".into()];
    assert_eq!(
        refused(&r),
        Some(IssueError::RepositoryNotVisible("carol/y".into()))
    );
}

#[test]
fn expiry_window_bounds() {
    // reference §5.2 (GitLab: expiry required, at most 366 days), seed 002 (minimum
    // lifetime 5 minutes): exactly at each bound and one past.
    let base = session_request("alice", &["read:repository"], NOW);
    let at = |expires: Option<i64>| IssueRequest {
        expires,
        ..base.clone()
    };
    assert!(
        issue(&at(Some(NOW + 300)), 90).is_ok(),
        "the minimum itself"
    );
    assert_eq!(
        refused(&at(Some(NOW + 299))),
        Some(IssueError::LifetimeTooShort(300))
    );
    assert!(issue(&at(Some(NOW + 366 * DAY)), 91).is_ok());
    assert_eq!(
        refused(&at(Some(NOW + 366 * DAY + 1))),
        Some(IssueError::LifetimeTooLong(366 * DAY))
    );
    assert_eq!(refused(&at(Some(NOW))), Some(IssueError::ExpiryInPast));
    assert_eq!(refused(&at(Some(NOW - 1))), Some(IssueError::ExpiryInPast));
    assert_eq!(refused(&at(None)), Some(IssueError::ExpiryRequired));
    // Without `require_expiry`, no expiry is fine; the window still holds.
    assert!(LAX.issue(&at(None), Some(&entropy(92))).is_ok());
    assert_eq!(
        LAX.issue(&at(Some(NOW + 299)), Some(&entropy(93))).err(),
        Some(IssueError::LifetimeTooShort(300))
    );
    assert_eq!(
        LAX.issue(&at(Some(NOW)), Some(&entropy(94))).err(),
        Some(IssueError::ExpiryInPast)
    );
}

#[test]
fn child_records_and_reuse_boundaries() {
    // seed 002 (Gafaelfawr internal tokens: reuse a live child with the same scopes and
    // enough lifetime left; expiry min(lifetime, parent's)), reference §4.4.
    let parent = TokenRecord {
        name: "n".repeat(100),
        repositories: strings(&["alice/app"]),
        owners: strings(&["acme"]),
        ..rec(
            "P",
            None,
            Some(NOW + 10 * DAY),
            &["write:repository", "read:issue"],
        )
    };
    let req = |scopes: &[&str],
               lifetime: i64,
               minimum: Option<i64>,
               existing: Vec<TokenRecord>,
               now: i64| {
        ChildRequest {
            parent: parent.clone(),
            scopes: strings(scopes),
            lifetime,
            minimum_lifetime: minimum,
            existing_children: existing,
            context: ctx(now),
        }
    };
    let derive = |r: &ChildRequest, n: u8| child_of(r, Some(&entropy(n)));
    let t = minted(
        derive(
            &req(&["read:issue", "read_repository"], DAY, None, vec![], NOW),
            100,
        )
        .unwrap(),
    );
    let want = TokenRecord {
        id: inspect(&t.secret).unwrap().token_id,
        owner: "alice".into(),
        name: format!("child of {}", "n".repeat(91)),
        scopes: strings(&["read:issue", "read:repository"]),
        repositories: strings(&["alice/app"]),
        owners: strings(&["acme"]),
        parent: Some("P".into()),
        predecessor: None,
        successor: None,
        last_used: None,
        created: NOW,
        expires: Some(NOW + DAY),
        revoked: None,
        secret: tag(&t.secret),
    };
    assert_eq!(t.record, want);
    assert_eq!(t.record.name.chars().count(), MAX_NAME_CHARS);
    assert_eq!(t.event, ev(&want, HistoryAction::Create, &ctx(NOW)));
    // Reuse exactly at the minimum remaining lifetime; one second less mints anew.
    let child = TokenRecord {
        scopes: strings(&["read_repository"]),
        ..rec("c", Some("P"), Some(NOW + DAY), &[])
    };
    let reuse = |now: i64, minimum: Option<i64>, existing: Vec<TokenRecord>| {
        derive(&req(&["read:repository"], DAY, minimum, existing, now), 101).unwrap()
    };
    assert_eq!(
        reuse(NOW + DAY - 1000, Some(1000), vec![child.clone()]),
        ChildOutcome::Reuse(child.clone())
    );
    assert!(matches!(
        reuse(NOW + DAY - 999, Some(1000), vec![child.clone()]),
        ChildOutcome::Minted(_)
    ));
    // Default minimum: half the lifetime asked for.
    assert_eq!(
        reuse(NOW + DAY / 2, None, vec![child.clone()]),
        ChildOutcome::Reuse(child.clone())
    );
    assert!(matches!(
        reuse(NOW + DAY / 2 + 1, None, vec![child.clone()]),
        ChildOutcome::Minted(_)
    ));
    assert_eq!(
        reuse(NOW, Some(0), vec![child.clone()]),
        ChildOutcome::Reuse(child.clone())
    );
    // Not reused: another parent's child, a revoked or expired one, other or unknown
    // scopes. The first fit wins; a child without expiry fits.
    let other_parent = TokenRecord {
        parent: Some("Q".into()),
        ..child.clone()
    };
    let no_parent = TokenRecord {
        parent: None,
        ..child.clone()
    };
    let revoked = revoked_at(&child, NOW);
    let unknown = TokenRecord {
        scopes: strings(&["read:repository", "bogus"]),
        ..child.clone()
    };
    let wider = TokenRecord {
        scopes: strings(&["read:repository", "read:issue"]),
        ..child.clone()
    };
    for c in [&other_parent, &no_parent, &revoked, &unknown, &wider] {
        assert!(
            matches!(
                reuse(NOW + 10, Some(0), vec![c.clone()]),
                ChildOutcome::Minted(_)
            ),
            "{c:?}"
        );
    }
    assert!(
        matches!(
            reuse(NOW + DAY, Some(0), vec![child.clone()]),
            ChildOutcome::Minted(_)
        ),
        "expired"
    );
    let forever = TokenRecord {
        id: "f".into(),
        expires: None,
        ..child.clone()
    };
    assert_eq!(
        reuse(
            NOW,
            None,
            vec![
                other_parent.clone(),
                revoked.clone(),
                forever.clone(),
                child.clone()
            ]
        ),
        ChildOutcome::Reuse(forever.clone())
    );
    // Reuse needs no entropy; minting does.
    let r = req(&["read:repository"], DAY, None, vec![child.clone()], NOW);
    assert_eq!(child_of(&r, None), Ok(ChildOutcome::Reuse(child.clone())));
    let r = req(&["read:repository"], DAY, None, vec![], NOW);
    assert_eq!(
        child_of(&r, None).err(),
        Some(IssueError::EntropyUnavailable)
    );
    // Refusals.
    assert_eq!(
        derive(&req(&["bogus"], DAY, None, vec![], NOW), 102).err(),
        Some(IssueError::UnknownScope("bogus".into()))
    );
    assert_eq!(
        derive(&req(&["user:token"], DAY, None, vec![], NOW), 102).err(),
        Some(IssueError::NoPermissionScope)
    );
    assert_eq!(
        derive(&req(&["read:repository"], 0, None, vec![], NOW), 102).err(),
        Some(IssueError::ExpiryInPast)
    );
    assert_eq!(
        derive(&req(&["read:repository"], -5, None, vec![], NOW), 102).err(),
        Some(IssueError::ExpiryInPast)
    );
    let one = minted(derive(&req(&["read:repository"], 1, None, vec![], NOW), 103).unwrap());
    assert_eq!(
        one.record.expires,
        Some(NOW + 1),
        "a lifetime of one second is a lifetime"
    );
    let mut r = req(&["read:repository"], DAY, None, vec![], NOW);
    r.parent.scopes = strings(&["read:repository", "bogus"]);
    assert_eq!(
        derive(&r, 102).err(),
        Some(IssueError::UnknownScope("bogus".into()))
    );
    r.parent.scopes = strings(&["read:repository"]);
    r.parent.expires = Some(NOW);
    assert_eq!(
        derive(&r, 102).err(),
        Some(IssueError::CreatorNotLive),
        "expired at now"
    );
    r.parent.expires = None;
    r.parent.name = "P".into();
    let t = minted(derive(&r, 104).unwrap());
    assert_eq!(
        t.record.expires,
        Some(NOW + DAY),
        "a parent without expiry: the lifetime"
    );
    assert_eq!(t.record.name, "child of P");
}

#[test]
fn rotation_records_events_and_cascade() {
    // reference §5.2 (GitLab rotation: same lifetime from now, old revoked and linked, the
    // old token's children revoked with it), seed 002 (deepest first).
    let old = TokenRecord {
        created: NOW - DAY,
        last_used: Some(NOW - 5),
        repositories: strings(&["alice/app"]),
        ..rec("old", None, Some(NOW + DAY), &["write:repository"])
    };
    let records = vec![
        old.clone(),
        rec("c", Some("old"), Some(NOW + DAY), &["read:repository"]),
        rec("g", Some("c"), Some(NOW + DAY), &["read:repository"]),
        revoked_at(
            &rec("d", Some("old"), Some(NOW + DAY), &["read:repository"]),
            NOW - 1,
        ),
        rec("u", None, Some(NOW + DAY), &["read:repository"]),
    ];
    let c = ctx(NOW);
    let rot = AUTHZ
        .rotate(&rotate_req(&old, None, &records, NOW), Some(&entropy(110)))
        .unwrap();
    let new = TokenRecord {
        id: inspect(&rot.new.secret).unwrap().token_id,
        predecessor: Some("old".into()),
        successor: None,
        last_used: None,
        created: NOW,
        expires: Some(NOW + 2 * DAY),
        revoked: None,
        secret: tag(&rot.new.secret),
        ..old.clone()
    };
    assert_eq!(rot.new.record, new);
    let gone = TokenRecord {
        revoked: Some(NOW),
        successor: Some(new.id.clone()),
        ..old.clone()
    };
    assert_eq!(rot.old, gone);
    let g = revoked_at(&records[2], NOW);
    let cc = revoked_at(&records[1], NOW);
    assert_eq!(rot.revoked_children, vec![g.clone(), cc.clone()]);
    let create = HistoryEvent {
        related: Some("old".into()),
        ..ev(&new, HistoryAction::Create, &c)
    };
    assert_eq!(rot.new.event, create);
    assert_eq!(
        rot.events,
        vec![
            HistoryEvent {
                related: Some(new.id.clone()),
                ..ev(&gone, HistoryAction::Rotate, &c)
            },
            create,
            ev(&g, HistoryAction::Revoke, &c),
            ev(&cc, HistoryAction::Revoke, &c),
        ]
    );
    // The default lifetime is clamped to the window; an explicit expiry is checked.
    let short = TokenRecord {
        created: NOW - 50,
        expires: Some(NOW + 50),
        ..old.clone()
    };
    let long = TokenRecord {
        created: NOW - 400 * DAY,
        expires: Some(NOW + 1),
        ..old.clone()
    };
    let expiry = |o: &TokenRecord, e: Option<i64>| {
        AUTHZ
            .rotate(&rotate_req(o, e, &[], NOW), Some(&entropy(111)))
            .map(|r| r.new.record.expires)
    };
    assert_eq!(expiry(&short, None), Ok(Some(NOW + 300)));
    assert_eq!(expiry(&long, None), Ok(Some(NOW + 366 * DAY)));
    assert_eq!(expiry(&old, Some(NOW + 5 * DAY)), Ok(Some(NOW + 5 * DAY)));
    assert_eq!(
        expiry(&old, Some(NOW)),
        Err(LifecycleError::Refused(IssueError::ExpiryInPast))
    );
    assert_eq!(
        expiry(&old, Some(NOW + 367 * DAY)),
        Err(LifecycleError::Refused(IssueError::LifetimeTooLong(
            366 * DAY
        )))
    );
    let forever = TokenRecord {
        expires: None,
        ..old.clone()
    };
    assert_eq!(
        expiry(&forever, None),
        Err(LifecycleError::Refused(IssueError::ExpiryRequired))
    );
    assert_eq!(
        LAX.rotate(&rotate_req(&forever, None, &[], NOW), Some(&entropy(112)))
            .map(|r| r.new.record.expires),
        Ok(None)
    );
    // Only a live, never-rotated token rotates; minting needs entropy.
    let expired = TokenRecord {
        expires: Some(NOW),
        ..old.clone()
    };
    assert_eq!(
        expiry(&expired, None),
        Err(LifecycleError::TokenNotLive("old".into()))
    );
    let linked = TokenRecord {
        successor: Some("next".into()),
        ..old.clone()
    };
    assert_eq!(
        expiry(&linked, None),
        Err(LifecycleError::TokenNotLive("old".into()))
    );
    assert_eq!(
        AUTHZ.rotate(&rotate_req(&old, None, &[], NOW), None).err(),
        Some(LifecycleError::Refused(IssueError::EntropyUnavailable))
    );
}

#[test]
fn rotating_a_child_stays_within_its_parent() {
    // issue 8 class 8, seed 002 (a child never outlives its parent), reference §4.4-5.
    let records = escape_records();
    let child = &records[1]; // expires NOW + 5 days; parent NOW + 10 days
    let expiry = |o: &TokenRecord, e: Option<i64>, records: &[TokenRecord], a: &Authorizer| {
        a.rotate(&rotate_req(o, e, records, NOW), Some(&entropy(120)))
            .map(|r| r.new.record.expires)
    };
    assert_eq!(
        expiry(child, Some(NOW + 10 * DAY), &records, &AUTHZ),
        Ok(Some(NOW + 10 * DAY)),
        "up to the parent's"
    );
    assert_eq!(
        expiry(child, Some(NOW + 3 * DAY), &records, &AUTHZ),
        Ok(Some(NOW + 3 * DAY))
    );
    assert_eq!(
        expiry(child, Some(NOW + 10 * DAY + 1), &records, &AUTHZ),
        Err(LifecycleError::Refused(IssueError::ExceedsCreator(
            "an expiry after its parent's".into()
        )))
    );
    assert_eq!(
        expiry(child, None, &records, &AUTHZ),
        Ok(Some(NOW + 5 * DAY)),
        "same lifetime, within"
    );
    // A parent without expiry bounds nothing.
    let mut free = records.clone();
    free[0].expires = None;
    assert_eq!(
        expiry(&free[1], Some(NOW + 300 * DAY), &free, &AUTHZ),
        Ok(Some(NOW + 300 * DAY))
    );
    // A child without expiry under a parent with one: refused, never silently cut.
    let mut open = records.clone();
    open[1].expires = None;
    assert_eq!(
        expiry(&open[1], None, &open, &LAX),
        Err(LifecycleError::Refused(IssueError::ExceedsCreator(
            "never expires, unlike its parent".into()
        )))
    );
    // A parent expired (exactly now) or missing: the child is dead too.
    let mut expired = records.clone();
    expired[0].expires = Some(NOW);
    assert_eq!(
        expiry(&expired[1], None, &expired, &AUTHZ),
        Err(LifecycleError::Refused(IssueError::CreatorNotLive))
    );
    assert_eq!(
        expiry(child, None, &records[1..], &AUTHZ),
        Err(LifecycleError::Refused(IssueError::CreatorNotLive))
    );
    // The successor's children are the old token's children, revoked deepest first.
    let rot = AUTHZ
        .rotate(&rotate_req(child, None, &records, NOW), Some(&entropy(121)))
        .unwrap();
    assert_eq!(ids(&rot.revoked_children), vec!["g", "h"]);
}

fn revoke(id: &str, scope: RevokeScope, records: &[TokenRecord]) -> Vec<String> {
    let c = ctx(NOW);
    let plan = AUTHZ.plan_revoke(id, scope, records, &c).unwrap();
    // Every planned write is a revocation now, with its exact event.
    let want: Vec<HistoryEvent> = plan
        .updates
        .iter()
        .map(|r| ev(r, HistoryAction::Revoke, &c))
        .collect();
    assert_eq!(plan.events, want);
    for u in &plan.updates {
        let before = records.iter().find(|r| r.id == u.id).unwrap();
        assert_eq!(u, &revoked_at(before, NOW));
    }
    plan.updates.into_iter().map(|r| r.id).collect()
}

#[test]
fn revocation_order_with_grandchildren() {
    // seed 002 (children deleted deepest first), reference §4.5.
    let live =
        |id: &str, parent: Option<&str>| rec(id, parent, Some(NOW + DAY), &["read:repository"]);
    let records = vec![
        live("p", None),
        live("c1", Some("p")),
        live("c2", Some("p")),
        live("g1", Some("c1")),
        live("g2", Some("c2")),
        live("h", Some("g1")),
        live("other", None),
        live("oc", Some("other")),
    ];
    assert_eq!(
        revoke("p", RevokeScope::Token, &records),
        vec!["h", "g2", "g1", "c1", "c2", "p"]
    );
    assert_eq!(
        revoke("c1", RevokeScope::Token, &records),
        vec!["h", "g1", "c1"]
    );
    assert_eq!(revoke("h", RevokeScope::Token, &records), vec!["h"]);
    // A revoked child is not rewritten, but its live descendants still go.
    let mut dead_child = records.clone();
    dead_child[1].revoked = Some(NOW - 1);
    assert_eq!(
        revoke("p", RevokeScope::Token, &dead_child),
        vec!["h", "g2", "g1", "c2", "p"]
    );
    // Revoking a revoked token with no live descendants plans nothing.
    let done = vec![revoked_at(&live("x", None), NOW - 1)];
    assert_eq!(
        AUTHZ.plan_revoke("x", RevokeScope::Token, &done, &ctx(NOW)),
        Ok(ChangePlan::default())
    );
    assert_eq!(
        AUTHZ
            .plan_revoke("x", RevokeScope::Family, &[], &ctx(NOW))
            .err(),
        Some(LifecycleError::UnknownToken("x".into()))
    );
}

#[test]
fn family_revocation_follows_links_both_ways() {
    // reference §5.2 (reuse of a rotated token revokes the whole rotation family), seed 002.
    let live = |id: &str| rec(id, None, Some(NOW + DAY), &["read:repository"]);
    let with = |id: &str, pred: Option<&str>, succ: Option<&str>| TokenRecord {
        predecessor: pred.map(Into::into),
        successor: succ.map(Into::into),
        ..live(id)
    };
    // Successor links only.
    let forward = vec![
        with("a", None, Some("b")),
        with("b", None, Some("c")),
        with("c", None, None),
        live("z"),
    ];
    // Predecessor links only.
    let backward = vec![
        with("a", None, None),
        with("b", Some("a"), None),
        with("c", Some("b"), None),
        live("z"),
    ];
    for records in [&forward, &backward] {
        for from in ["a", "b", "c"] {
            let mut got = revoke(from, RevokeScope::Family, records);
            got.sort();
            assert_eq!(got, vec!["a", "b", "c"], "from {from} in {records:?}");
        }
        assert_eq!(revoke("b", RevokeScope::Token, records), vec!["b"]);
        for (from, want) in [("a", ["a", "b", "c"]), ("c", ["c", "b", "a"])] {
            assert_eq!(
                revoke(from, RevokeScope::Family, records),
                want,
                "from {from} in {records:?}"
            );
        }
    }
    // Children of every member first (in family order), then the members.
    let mut kids = forward.clone();
    kids.push(rec("ak", Some("a"), Some(NOW + DAY), &["read:repository"]));
    kids.push(rec("ck", Some("c"), Some(NOW + DAY), &["read:repository"]));
    kids.push(rec(
        "ckk",
        Some("ck"),
        Some(NOW + DAY),
        &["read:repository"],
    ));
    assert_eq!(
        revoke("b", RevokeScope::Family, &kids),
        vec!["ckk", "ck", "ak", "b", "c", "a"]
    );
    // A link to a token not in the store leads nowhere (not to that id's children).
    let dangling = vec![
        with("a", Some("ghost"), Some("ghost2")),
        rec("gk", Some("ghost"), Some(NOW + DAY), &["read:repository"]),
        rec("gk2", Some("ghost2"), Some(NOW + DAY), &["read:repository"]),
    ];
    assert_eq!(revoke("a", RevokeScope::Family, &dangling), vec!["a"]);
}

#[test]
fn cycles_in_bad_data_terminate() {
    // seed 002 (the store may hold anything; the walk is bounded), reference §4.5.
    let live =
        |id: &str, parent: Option<&str>| rec(id, parent, Some(NOW + DAY), &["read:repository"]);
    let loop2 = vec![live("x", Some("y")), live("y", Some("x"))];
    assert_eq!(revoke("x", RevokeScope::Token, &loop2), vec!["y", "x"]);
    let loop3 = vec![
        live("x", Some("z")),
        live("y", Some("x")),
        live("z", Some("y")),
    ];
    assert_eq!(revoke("x", RevokeScope::Token, &loop3), vec!["z", "y", "x"]);
    let selfish = vec![live("s", Some("s"))];
    assert_eq!(revoke("s", RevokeScope::Token, &selfish), vec!["s"]);
    let ring = vec![
        TokenRecord {
            predecessor: Some("b".into()),
            successor: Some("b".into()),
            ..live("a", None)
        },
        TokenRecord {
            predecessor: Some("a".into()),
            successor: Some("a".into()),
            ..live("b", None)
        },
        TokenRecord {
            successor: Some("c".into()),
            ..live("c", Some("c"))
        },
    ];
    assert_eq!(revoke("a", RevokeScope::Family, &ring), vec!["a", "b"]);
    assert_eq!(revoke("c", RevokeScope::Family, &ring), vec!["c"]);
    // Editing a parent in a parent cycle terminates too.
    let edit = TokenEdit {
        name: Some("renamed".into()),
        ..TokenEdit::default()
    };
    let plan = AUTHZ
        .plan_edit(
            "x",
            &edit,
            &[live("x", None), live("y", Some("x")), live("z", Some("y"))],
            &ctx(NOW),
        )
        .unwrap();
    assert_eq!(ids(&plan.updates), vec!["x"]);
}

#[test]
fn edit_cascade_is_exact() {
    // seed 002 (modifying a token updates its children), reference §4.5, issue 8 class 8.
    let records = vec![
        rec(
            "p",
            None,
            Some(NOW + 10 * DAY),
            &["read:issue", "write:repository"],
        ),
        rec(
            "c",
            Some("p"),
            Some(NOW + 9 * DAY),
            &["read:issue", "read:repository"],
        ),
        rec("g", Some("c"), None, &["read:issue"]),
        rec("s", Some("p"), Some(NOW + DAY), &["read:repository"]),
        revoked_at(
            &rec("r", Some("p"), Some(NOW + DAY), &["read:repository"]),
            NOW - 1,
        ),
        rec("rg", Some("r"), Some(NOW + DAY), &["read:repository"]),
        rec("u", Some("p"), Some(NOW + DAY), &["bogus"]),
        rec("e", Some("p"), Some(NOW + 3 * DAY), &["read:repository"]),
    ];
    let c = ctx(NOW);
    let edit = TokenEdit {
        name: Some("renamed".into()),
        scopes: Some(strings(&["read_repository"])),
        expires: Some(Some(NOW + 3 * DAY)),
    };
    let plan = AUTHZ.plan_edit("p", &edit, &records, &c).unwrap();
    let p = TokenRecord {
        name: "renamed".into(),
        scopes: strings(&["read:repository"]),
        expires: Some(NOW + 3 * DAY),
        ..records[0].clone()
    };
    let cc = TokenRecord {
        scopes: strings(&["read:repository"]),
        expires: Some(NOW + 3 * DAY),
        ..records[1].clone()
    };
    let g = TokenRecord {
        expires: Some(NOW + 3 * DAY),
        revoked: Some(NOW),
        ..records[2].clone()
    };
    let rg = revoked_at(&records[5], NOW);
    let u = revoked_at(&records[6], NOW);
    assert_eq!(
        plan.updates,
        vec![rg.clone(), g.clone(), cc.clone(), u.clone(), p.clone()]
    );
    assert_eq!(
        plan.events,
        vec![
            ev(&rg, HistoryAction::Revoke, &c),
            HistoryEvent {
                old_expires: Some(None),
                ..ev(&g, HistoryAction::Revoke, &c)
            },
            HistoryEvent {
                old_scopes: Some(records[1].scopes.clone()),
                old_expires: Some(Some(NOW + 9 * DAY)),
                ..ev(&cc, HistoryAction::Edit, &c)
            },
            ev(&u, HistoryAction::Revoke, &c),
            HistoryEvent {
                old_name: Some("p".into()),
                old_scopes: Some(records[0].scopes.clone()),
                old_expires: Some(Some(NOW + 10 * DAY)),
                ..ev(&p, HistoryAction::Edit, &c)
            },
        ]
    );
    // Any edit of a parent also repairs what was already wrong below it: the live
    // child of a revoked child is revoked, a child outliving its parent is cut, a child
    // with unknown scopes is revoked (fail closed).
    let plan = AUTHZ
        .plan_edit("p", &TokenEdit::default(), &records, &c)
        .unwrap();
    let g9 = TokenRecord {
        expires: Some(NOW + 9 * DAY),
        ..records[2].clone()
    };
    assert_eq!(
        plan.updates,
        vec![rg.clone(), g9.clone(), u.clone(), records[0].clone()]
    );
    assert_eq!(
        plan.events,
        vec![
            ev(&rg, HistoryAction::Revoke, &c),
            HistoryEvent {
                old_expires: Some(None),
                ..ev(&g9, HistoryAction::Edit, &c)
            },
            ev(&u, HistoryAction::Revoke, &c),
            ev(&records[0], HistoryAction::Edit, &c),
        ]
    );
    // On consistent records, an edit that changes nothing writes the token alone, with
    // a bare `edit` event; lengthening a parent leaves its children alone; shortening it
    // exactly to a child's expiry leaves that child alone.
    let clean = vec![
        records[0].clone(),
        records[1].clone(),
        records[3].clone(),
        records[7].clone(),
    ];
    let same = TokenEdit {
        name: Some("p".into()),
        scopes: Some(strings(&["read:issue", "write:repository"])),
        expires: Some(Some(NOW + 10 * DAY)),
    };
    for e in [same, TokenEdit::default()] {
        let plan = AUTHZ.plan_edit("p", &e, &clean, &c).unwrap();
        assert_eq!(plan.updates, vec![records[0].clone()]);
        assert_eq!(plan.events, vec![ev(&records[0], HistoryAction::Edit, &c)]);
    }
    let longer = TokenEdit {
        expires: Some(Some(NOW + 20 * DAY)),
        ..TokenEdit::default()
    };
    assert_eq!(
        AUTHZ.plan_edit("c", &longer, &clean, &c).err(),
        Some(LifecycleError::Refused(IssueError::ExceedsCreator(
            "an expiry after its parent's".into()
        )))
    );
    let plan = AUTHZ.plan_edit("p", &longer, &clean, &c).unwrap();
    assert_eq!(ids(&plan.updates), vec!["p"]);
    let to_e = TokenEdit {
        expires: Some(Some(NOW + 3 * DAY)),
        ..TokenEdit::default()
    };
    let plan = AUTHZ.plan_edit("p", &to_e, &clean, &c).unwrap();
    assert_eq!(ids(&plan.updates), vec!["c", "p"]);
    assert_eq!(plan.updates[0].expires, Some(NOW + 3 * DAY));
}

#[test]
fn edit_rules() {
    // seed 002 (modify_token: name, scopes, expiry checked as at creation; a child
    // never exceeds its parent), reference §4.5, §1.14.
    let records = vec![
        rec(
            "p",
            None,
            Some(NOW + 10 * DAY),
            &["write:repository", "read:issue"],
        ),
        rec("c", Some("p"), Some(NOW + 5 * DAY), &["read:repository"]),
        TokenRecord {
            owner: "bob".into(),
            ..rec("bobs", None, Some(NOW + DAY), &["read:repository"])
        },
        revoked_at(
            &rec("gone", None, Some(NOW + DAY), &["read:repository"]),
            NOW - 1,
        ),
        rec("old", None, Some(NOW), &["read:repository"]),
        TokenRecord {
            repositories: strings(&["alice/app"]),
            ..rec("bound", None, Some(NOW + DAY), &["read:repository"])
        },
        TokenRecord {
            owners: strings(&["acme"]),
            ..rec("obound", None, Some(NOW + DAY), &["read:repository"])
        },
        rec(
            "free",
            Some("nolimit"),
            Some(NOW + DAY),
            &["read:repository"],
        ),
        rec("nolimit", None, None, &["read:repository"]),
        rec("weird", Some("bad"), Some(NOW + DAY), &["read:repository"]),
        rec("bad", None, Some(NOW + DAY), &["read:repository", "bogus"]),
    ];
    let c = ctx(NOW);
    let edit = |id: &str, e: TokenEdit| AUTHZ.plan_edit(id, &e, &records, &c);
    let name = |n: &str| TokenEdit {
        name: Some(n.into()),
        ..TokenEdit::default()
    };
    let scopes = |s: &[&str]| TokenEdit {
        scopes: Some(strings(s)),
        ..TokenEdit::default()
    };
    let expires = |e: Option<i64>| TokenEdit {
        expires: Some(e),
        ..TokenEdit::default()
    };
    assert_eq!(
        edit("nope", name("x")).err(),
        Some(LifecycleError::UnknownToken("nope".into()))
    );
    assert_eq!(
        edit("gone", name("x")).err(),
        Some(LifecycleError::TokenNotLive("gone".into()))
    );
    assert_eq!(
        edit("old", name("x")).err(),
        Some(LifecycleError::TokenNotLive("old".into())),
        "expired at now"
    );
    // Names: the token's own name (any case), another owner's, a dead token's are free.
    let renamed = |id: &str, n: &str| {
        edit(id, name(n)).map(|p| {
            (
                p.updates.last().unwrap().name.clone(),
                p.events.last().unwrap().old_name.clone(),
            )
        })
    };
    assert_eq!(renamed("p", "P"), Ok(("P".into(), Some("p".into()))));
    assert_eq!(renamed("p", "BOBS"), Ok(("BOBS".into(), Some("p".into()))));
    assert_eq!(renamed("p", "gone"), Ok(("gone".into(), Some("p".into()))));
    assert_eq!(renamed("p", "old"), Ok(("old".into(), Some("p".into()))));
    assert_eq!(
        renamed("p", &"x".repeat(100)),
        Ok(("x".repeat(100), Some("p".into())))
    );
    assert_eq!(renamed("p", "C"), no(IssueError::NameTaken));
    assert_eq!(renamed("p", &"x".repeat(101)), no(IssueError::BadName));
    assert_eq!(renamed("p", ""), no(IssueError::BadName));
    assert_eq!(renamed("p", "a\u{1b}b"), no(IssueError::BadName));
    // Scopes.
    let scoped = |id: &str, s: &[&str]| {
        edit(id, scopes(s)).map(|p| p.updates.last().unwrap().scopes.clone())
    };
    assert_eq!(
        scoped("p", &["bogus"]),
        no(IssueError::UnknownScope("bogus".into()))
    );
    assert_eq!(
        scoped("p", &["user:token"]),
        no(IssueError::NoPermissionScope)
    );
    assert_eq!(scoped("p", &["read:user"]), Ok(strings(&["read:user"])));
    for id in ["bound", "obound"] {
        assert_eq!(
            scoped(id, &["read:user"]),
            no(IssueError::ScopeNotAllowedWhenBound("read:user".into()))
        );
        assert_eq!(
            scoped(id, &["read:repository", "public-only"]),
            no(IssueError::BoundAndPublicOnly)
        );
        assert_eq!(scoped(id, &["write:issue"]), Ok(strings(&["write:issue"])));
    }
    assert_eq!(
        scoped("c", &["read:issue", "read:repository"]),
        Ok(strings(&["read:issue", "read:repository"]))
    );
    assert_eq!(
        scoped("c", &["read:user"]),
        no(IssueError::ExceedsCreator("read:user".into()))
    );
    assert_eq!(
        scoped("weird", &["read:repository"]),
        no(IssueError::UnknownScope("bogus".into()))
    );
    // Expiry: the window; a child up to its parent's; a parent without expiry bounds nothing.
    let expiring = |id: &str, e: Option<i64>, a: &Authorizer| {
        a.plan_edit(id, &expires(e), &records, &c)
            .map(|p| p.updates.last().unwrap().expires)
    };
    assert_eq!(
        expiring("p", Some(NOW + 299), &AUTHZ),
        no(IssueError::LifetimeTooShort(300))
    );
    assert_eq!(
        expiring("p", Some(NOW), &AUTHZ),
        no(IssueError::ExpiryInPast)
    );
    assert_eq!(
        expiring("p", Some(NOW + 366 * DAY + 1), &AUTHZ),
        no(IssueError::LifetimeTooLong(366 * DAY))
    );
    assert_eq!(expiring("p", Some(NOW + 300), &AUTHZ), Ok(Some(NOW + 300)));
    assert_eq!(expiring("p", None, &LAX), Ok(None));
    assert_eq!(
        expiring("c", Some(NOW + 10 * DAY), &AUTHZ),
        Ok(Some(NOW + 10 * DAY))
    );
    assert_eq!(
        expiring("c", Some(NOW + 10 * DAY - 1), &AUTHZ),
        Ok(Some(NOW + 10 * DAY - 1))
    );
    assert_eq!(
        expiring("c", Some(NOW + 10 * DAY + 1), &AUTHZ),
        no(IssueError::ExceedsCreator(
            "an expiry after its parent's".into()
        ))
    );
    assert_eq!(
        expiring("c", None, &LAX),
        no(IssueError::ExceedsCreator(
            "an expiry after its parent's".into()
        ))
    );
    assert_eq!(
        expiring("free", Some(NOW + 300 * DAY), &AUTHZ),
        Ok(Some(NOW + 300 * DAY))
    );
    assert_eq!(expiring("free", None, &LAX), Ok(None));
}

#[test]
fn plan_expire_is_exact() {
    // seed 002 (expiry is recorded once, as an `expire` history entry), reference §4.7.
    let entries = vec![
        entry(
            rec("stale", None, Some(NOW - 1), &["read:repository"]),
            false,
        ),
        entry(
            rec("edge", Some("p"), Some(NOW), &["read:repository"]),
            false,
        ),
        entry(
            rec("soon", None, Some(NOW + 1), &["read:repository"]),
            false,
        ),
        entry(rec("never", None, None, &["read:repository"]), false),
        entry(rec("done", None, Some(NOW - 1), &["read:repository"]), true),
        entry(
            revoked_at(
                &rec("gone", None, Some(NOW - 1), &["read:repository"]),
                NOW - 2,
            ),
            false,
        ),
    ];
    let c = ctx(NOW);
    assert_eq!(
        AUTHZ.plan_expire(&entries, &c),
        vec![
            ev(&entries[0].record, HistoryAction::Expire, &c),
            ev(&entries[1].record, HistoryAction::Expire, &c),
        ]
    );
    assert_eq!(
        AUTHZ.plan_expire(&entries, &ctx(NOW - 1)).len(),
        1,
        "only `stale` at its expiry"
    );
    assert!(AUTHZ.plan_expire(&entries[2..], &c).is_empty());
}

/// A lifecycle refusal of any plan.
fn no<T>(e: IssueError) -> Result<T, LifecycleError> {
    Err(LifecycleError::Refused(e))
}

fn finding(
    r: &TokenRecord,
    kind: AuditKind,
    message: &str,
    fix: Option<AuditFix>,
    event: Option<HistoryEvent>,
) -> AuditFinding {
    AuditFinding {
        token_id: r.id.clone(),
        kind,
        message: message.into(),
        fix,
        event,
    }
}

/// A finding on `r` repaired by revoking it now, with the revocation's event.
fn revoke_finding(
    r: &TokenRecord,
    kind: AuditKind,
    message: &str,
    c: &ChangeContext,
) -> AuditFinding {
    let fixed = revoked_at(r, NOW);
    let event = ev(&fixed, HistoryAction::Revoke, c);
    finding(r, kind, message, Some(AuditFix::Update(fixed)), Some(event))
}

/// A finding on `r` repaired by storing `fixed`, recorded as an edit whose event `old`
/// completes with what the edit changed.
fn edit_finding(
    r: &TokenRecord,
    kind: AuditKind,
    message: &str,
    fixed: TokenRecord,
    old: impl FnOnce(&mut HistoryEvent),
    c: &ChangeContext,
) -> AuditFinding {
    let mut event = ev(&fixed, HistoryAction::Edit, c);
    old(&mut event);
    finding(r, kind, message, Some(AuditFix::Update(fixed)), Some(event))
}

#[test]
fn audit_findings_are_exact() {
    // seed 002 (TokenService.audit(fix): each problem with its repair), reference §4.7.
    let entries = audit_entries();
    let c = audit_ctx(NOW);
    let r = |i: usize| entries[i].record.clone();
    let expires_at = |i: usize, e: i64| TokenRecord {
        expires: Some(e),
        ..r(i)
    };
    let scoped = |i: usize, s: &[&str]| TokenRecord {
        scopes: strings(s),
        ..r(i)
    };
    assert_eq!(
        AUTHZ.audit(&entries, &c),
        vec![
            edit_finding(
                &r(1),
                AuditKind::ChildOutlivesParent,
                "expires after parent `p`",
                expires_at(1, NOW + DAY),
                |e| e.old_expires = Some(Some(NOW + 5 * DAY)),
                &c,
            ),
            edit_finding(
                &r(2),
                AuditKind::ChildExceedsParent,
                "holds `write:issue`, which parent `p` lacks",
                scoped(2, &["read:repository"]),
                |e| e.old_scopes = Some(strings(&["read:repository", "write:issue"])),
                &c,
            ),
            revoke_finding(
                &r(3),
                AuditKind::Orphan,
                "parent `gone` is not in the store",
                &c,
            ),
            edit_finding(
                &r(4),
                AuditKind::UnknownScope,
                "unknown scope `repo`",
                scoped(4, &["write:repository"]),
                |e| e.old_scopes = Some(strings(&["repo"])),
                &c,
            ),
            finding(
                &r(5),
                AuditKind::ExpiredNotRecorded,
                "past its expiry; the expiry was never recorded",
                Some(AuditFix::RecordExpiry("stale".into())),
                Some(ev(&r(5), HistoryAction::Expire, &c)),
            ),
            revoke_finding(
                &r(7),
                AuditKind::RotatedNotRevoked,
                "rotated but still live",
                &c,
            ),
            revoke_finding(
                &r(9),
                AuditKind::ChildOfRevokedParent,
                "parent `dead` is revoked",
                &c,
            ),
        ]
    );
}

#[test]
fn audit_edge_cases() {
    // seed 002 (audit), reference §4.7: repairs only where one is safe; dead tokens are
    // not reported for what no longer matters; boundaries are exact.
    let c = audit_ctx(NOW);
    let dead = |r: TokenRecord| revoked_at(&r, NOW - 1);
    let p = rec("p", None, Some(NOW + DAY), &["read:repository"]);
    let entries = vec![
        entry(p.clone(), false),
        entry(rec("bogus", None, Some(NOW + DAY), &["bogus"]), false),
        entry(
            dead(rec(
                "dead-orphan",
                Some("gone"),
                Some(NOW + DAY),
                &["read:repository"],
            )),
            false,
        ),
        entry(
            dead(TokenRecord {
                successor: Some("n".into()),
                ..rec("rotated", None, Some(NOW + DAY), &["read:repository"])
            }),
            false,
        ),
        entry(
            dead(rec(
                "dead-expired",
                None,
                Some(NOW - 5),
                &["read:repository"],
            )),
            false,
        ),
        entry(rec("edge", None, Some(NOW), &["read:repository"]), false),
        entry(
            rec("same", Some("p"), Some(NOW + DAY), &["read:repository"]),
            false,
        ),
        entry(
            rec("shorter", Some("p"), Some(NOW + 1), &["repository:pull"]),
            false,
        ),
        entry(rec("forever", Some("p"), None, &["read:repository"]), false),
        entry(
            rec("nothing-kept", Some("p"), Some(NOW + DAY), &["write:issue"]),
            false,
        ),
        entry(
            rec(
                "unknown-child",
                Some("p"),
                Some(NOW + DAY),
                &["write:issue", "bogus"],
            ),
            false,
        ),
        entry(
            dead(rec("dead-parent", None, None, &["write:repository"])),
            false,
        ),
        entry(
            dead(rec(
                "dead-child",
                Some("dead-parent"),
                Some(NOW + DAY),
                &["read:repository"],
            )),
            false,
        ),
        entry(
            rec("bad-parent", None, Some(NOW + 2 * DAY), &["bogus"]),
            false,
        ),
        entry(
            rec(
                "child-of-bad",
                Some("bad-parent"),
                Some(NOW + DAY),
                &["write:issue"],
            ),
            false,
        ),
    ];
    let findings = AUTHZ.audit(&entries, &c);
    let by =
        |id: &str| -> Vec<&AuditFinding> { findings.iter().filter(|f| f.token_id == id).collect() };
    let kinds = kinds(&findings);
    assert_eq!(
        kinds,
        vec![
            ("bogus", AuditKind::UnknownScope),
            ("dead-orphan", AuditKind::Orphan),
            ("edge", AuditKind::ExpiredNotRecorded),
            ("shorter", AuditKind::ChildExceedsParent),
            ("forever", AuditKind::ChildOutlivesParent),
            ("nothing-kept", AuditKind::ChildExceedsParent),
            ("unknown-child", AuditKind::UnknownScope),
            ("bad-parent", AuditKind::UnknownScope),
        ]
    );
    // No safe repair: no fix, no event.
    for id in [
        "bogus",
        "dead-orphan",
        "nothing-kept",
        "unknown-child",
        "bad-parent",
    ] {
        let f = by(id)[0];
        assert_eq!((&f.fix, &f.event), (&None, &None), "{id}");
    }
    assert_eq!(by("bogus")[0].message, "unknown scope `bogus`");
    assert_eq!(
        by("nothing-kept")[0].message,
        "holds `write:issue`, which parent `p` lacks"
    );
    assert_eq!(
        by("shorter")[0].message,
        "holds `repository:pull`, which parent `p` lacks"
    );
    assert_eq!(by("shorter")[0].fix, None);
    assert_eq!(
        by("edge")[0].fix,
        Some(AuditFix::RecordExpiry("edge".into()))
    );
    let forever = TokenRecord {
        expires: Some(NOW + DAY),
        ..entries[8].record.clone()
    };
    assert_eq!(
        by("forever")[0].fix,
        Some(AuditFix::Update(forever.clone()))
    );
    assert_eq!(
        by("forever")[0].event,
        Some(HistoryEvent {
            old_expires: Some(None),
            ..ev(&forever, HistoryAction::Edit, &c)
        })
    );
    // A revoked child outliving its parent is repaired by an edit, not a revocation; a
    // live child of a revoked parent that also outlives it gets both findings.
    let q = TokenRecord {
        revoked: Some(NOW - 1),
        ..rec("q", None, Some(NOW + DAY), &["read:repository"])
    };
    let entries = vec![
        entry(q.clone(), true),
        entry(
            dead(rec(
                "late",
                Some("q"),
                Some(NOW + 2 * DAY),
                &["read:repository"],
            )),
            false,
        ),
        entry(rec("both", Some("q"), None, &["read:repository"]), false),
    ];
    let findings = AUTHZ.audit(&entries, &c);
    let late = TokenRecord {
        expires: Some(NOW + DAY),
        ..entries[1].record.clone()
    };
    let both = entries[2].record.clone();
    // Repairs build on each other (issue 19): the expiry cut keeps the revocation before
    // it, so applying both in order leaves the child revoked and within its parent.
    let both_cut = TokenRecord {
        expires: Some(NOW + DAY),
        ..revoked_at(&both, NOW)
    };
    assert_eq!(
        findings,
        vec![
            edit_finding(
                &late,
                AuditKind::ChildOutlivesParent,
                "expires after parent `q`",
                late.clone(),
                |e| e.old_expires = Some(Some(NOW + 2 * DAY)),
                &c,
            ),
            revoke_finding(
                &both,
                AuditKind::ChildOfRevokedParent,
                "parent `q` is revoked",
                &c,
            ),
            edit_finding(
                &both,
                AuditKind::ChildOutlivesParent,
                "expires after parent `q`",
                both_cut,
                |e| e.old_expires = Some(None),
                &c,
            ),
        ]
    );
    assert!(AUTHZ.audit(&[], &c).is_empty());
    assert!(AUTHZ.audit(&[entry(p, false)], &c).is_empty());
}

//! Token lifecycle rules, each run through the wasm component and the native core (both
//! must agree): minting rules, child tokens, rotation, revocation cascades, edits,
//! last-used hints, family revocation on reuse, audit. Each test names its source.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use forge_authz_host::policy::Policy;
use forge_authz_host::wit::core as convert;
use forge_authz_host::wit::{self, IssueError, LifecycleError};
use forge_authz_host::world::World;
use forge_authz_tests::{default_options, native, session_request, wasm};

const NOW: i64 = 1_767_225_600;
const DAY: i64 = 86_400;

fn config() -> wit::Config {
    wit::Config {
        keys: vec![wit::SigningKey {
            id: "k1".into(),
            secret: vec![7; 32],
        }],
        signing_key_id: "k1".into(),
        options: default_options(),
    }
}

fn both(f: impl Fn(&str, &mut dyn Policy)) {
    f("native", &mut native(&config()).unwrap());
    f("wasm", &mut wasm(&config()).unwrap());
}

fn user(name: &str, admin: bool) -> wit::Account {
    wit::Account {
        name: name.into(),
        facts: wit::UserFacts {
            status: wit::AccountStatus::Active,
            site_admin: admin,
            visibility: wit::Visibility::Public,
            organization: false,
        },
    }
}

/// Alice's own session: the owner of the tokens these tests change.
fn ctx(now: i64) -> wit::ChangeContext {
    wit::ChangeContext {
        actor: wit::Actor::Session(user("alice", false)),
        ip: Some("192.0.2.7".into()),
        now,
    }
}

/// The operator's audit job: the actor `audit --fix` repairs as.
fn audit_ctx(now: i64) -> wit::ChangeContext {
    wit::ChangeContext {
        actor: wit::Actor::System("audit".into()),
        ip: Some("192.0.2.7".into()),
        now,
    }
}

fn mint(p: &mut dyn Policy, scopes: &[&str], lifetime: i64) -> wit::IssuedToken {
    let mut r = session_request("alice", scopes, NOW);
    r.expires = Some(NOW + lifetime);
    p.issue(&r).unwrap().unwrap()
}

fn refused(p: &mut dyn Policy, r: &wit::IssueRequest) -> Option<IssueError> {
    p.issue(r).unwrap().err()
}

fn facts(private: bool) -> wit::RepositoryFacts {
    wit::RepositoryFacts {
        owner_visibility: wit::Visibility::Public,
        private,
        kind: wit::RepositoryKind::Hosted,
        archived: false,
        role: wit::Role::None,
        protected_refs: None,
        registrant: None,
    }
}

#[test]
fn minting_rules() {
    // seed 002 (Gafaelfawr create_user_token), reference §4.3, §5.2 (GitLab expiry policy).
    both(|engine, p| {
        let base = session_request("alice", &["read:repository"], NOW);
        let mut r = base.clone();
        r.expires = None;
        assert_eq!(refused(p, &r), Some(IssueError::ExpiryRequired), "{engine}");
        r.expires = Some(NOW + 367 * DAY);
        assert_eq!(refused(p, &r), Some(IssueError::LifetimeTooLong(366 * DAY)));
        r.expires = Some(NOW + 299);
        assert_eq!(refused(p, &r), Some(IssueError::LifetimeTooShort(300)));
        r.expires = Some(NOW + 366 * DAY);
        assert!(
            p.issue(&r).unwrap().is_ok(),
            "the maximum itself is allowed"
        );
        let mut r = base.clone();
        r.existing_names = vec!["T".into()];
        assert_eq!(
            refused(p, &r),
            Some(IssueError::NameTaken),
            "names are unique per owner"
        );
        // A non-admin may not grant admin scopes; `all` is fine (reference §1.2).
        let mut r = base.clone();
        r.scopes = vec!["write:admin".into()];
        assert_eq!(
            refused(p, &r),
            Some(IssueError::ScopeNotGrantable("write:admin".into()))
        );
        r.scopes = vec!["all".into()];
        assert!(p.issue(&r).unwrap().is_ok());
        // Minting for someone else needs a site administrator.
        let mut r = base.clone();
        r.owner = "bob".into();
        assert_eq!(refused(p, &r), Some(IssueError::CreatorNotAllowed));
        r.creator = wit::Actor::Session(user("root", true));
        assert!(p.issue(&r).unwrap().is_ok());
        // The create event records who, what and from where.
        let mut r = base.clone();
        r.ip = Some("203.0.113.5".into());
        let t = p.issue(&r).unwrap().unwrap();
        assert_eq!(t.event.action, wit::HistoryAction::Create);
        assert_eq!(
            (t.event.actor.as_str(), t.event.ip.as_deref()),
            ("alice", Some("203.0.113.5"))
        );
        assert_eq!(t.event.scopes, vec!["read:repository"]);
    });
}

#[test]
fn bound_repositories_must_be_visible_to_the_owner() {
    // issue 4: repository-bound tokens only for repositories the creator can see, with the
    // same refusal for unseen and missing ones (reference §1.14).
    both(|engine, p| {
        let mut r = session_request("alice", &["read:repository"], NOW);
        r.repositories = vec!["carol/private".into()];
        r.bound_facts = vec![wit::BoundRepository {
            repository: "carol/private".into(),
            facts: Some(facts(true)),
        }];
        let unseen = refused(p, &r);
        r.repositories = vec!["carol/missing".into()];
        r.bound_facts = vec![wit::BoundRepository {
            repository: "carol/missing".into(),
            facts: None,
        }];
        let missing = refused(p, &r);
        assert_eq!(
            unseen,
            Some(IssueError::RepositoryNotVisible("carol/private".into())),
            "{engine}"
        );
        assert_eq!(
            missing,
            Some(IssueError::RepositoryNotVisible("carol/missing".into()))
        );
        r.repositories = vec!["alice/secret".into()];
        r.bound_facts = vec![wit::BoundRepository {
            repository: "alice/secret".into(),
            facts: Some(facts(true)),
        }];
        assert!(
            p.issue(&r).unwrap().is_ok(),
            "the owner sees its own private repository"
        );
    });
}

#[test]
fn a_token_never_mints_a_stronger_token() {
    // seed 002 (scopes a subset of the creator's); issue 4 (tokens mint only with a scope
    // that says so: Gafaelfawr `user:token`).
    both(|engine, p| {
        let plain = mint(p, &["write:repository"], 30 * DAY).record;
        let minter = mint(
            p,
            &["write:repository", "read:issue", "user:token"],
            30 * DAY,
        )
        .record;
        let by = |creator: &wit::TokenRecord, scopes: &[&str], expires: i64| {
            let mut r = session_request("alice", scopes, NOW);
            r.creator = wit::Actor::Token(creator.clone());
            r.expires = Some(NOW + expires);
            r
        };
        assert_eq!(
            refused(p, &by(&plain, &["read:repository"], DAY)),
            Some(IssueError::CreatorNotAllowed),
            "{engine}"
        );
        assert!(
            p.issue(&by(&minter, &["read:repository"], DAY))
                .unwrap()
                .is_ok()
        );
        assert_eq!(
            refused(p, &by(&minter, &["write:issue"], DAY)),
            Some(IssueError::ExceedsCreator("write:issue".into()))
        );
        assert_eq!(
            refused(p, &by(&minter, &["read:repository"], 31 * DAY)),
            Some(IssueError::ExceedsCreator("a later expiry".into()))
        );
        let mut other = by(&minter, &["read:repository"], DAY);
        other.owner = "bob".into();
        assert_eq!(refused(p, &other), Some(IssueError::CreatorNotAllowed));
        let mut dead = minter.clone();
        dead.revoked = Some(NOW - 1);
        assert_eq!(
            refused(p, &by(&dead, &["read:repository"], DAY)),
            Some(IssueError::CreatorNotLive)
        );
    });
}

#[test]
fn child_tokens() {
    // seed 002 (notebook/internal tokens), reference §4.4.
    both(|engine, p| {
        let parent = mint(p, &["write:repository", "read:issue"], 2 * DAY).record;
        let req = |scopes: &[&str], lifetime: i64, existing: Vec<wit::TokenRecord>, now: i64| {
            wit::ChildRequest {
                parent: parent.clone(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                lifetime,
                minimum_lifetime: None,
                existing_children: existing,
                context: ctx(now),
            }
        };
        let child = match p
            .derive_child(&req(&["read:repository"], DAY, vec![], NOW))
            .unwrap()
            .unwrap()
        {
            wit::ChildOutcome::Minted(t) => t,
            wit::ChildOutcome::Reuse(_) => panic!("{engine}: nothing to reuse"),
        };
        assert_eq!(child.record.parent.as_deref(), Some(parent.id.as_str()));
        assert_eq!(child.record.expires, Some(NOW + DAY));
        // Expiry is min(now + lifetime, parent expiry).
        let long = p
            .derive_child(&req(&["read:repository"], 10 * DAY, vec![], NOW))
            .unwrap()
            .unwrap();
        let wit::ChildOutcome::Minted(long) = long else {
            panic!()
        };
        assert_eq!(long.record.expires, parent.expires);
        // Scopes must be a subset.
        assert_eq!(
            p.derive_child(&req(&["write:issue"], DAY, vec![], NOW))
                .unwrap()
                .err(),
            Some(LifecycleError::Refused(IssueError::ExceedsCreator(
                "write:issue".into()
            )))
        );
        // Reuse: same scopes and at least half the lifetime left.
        let reuse = p
            .derive_child(&req(
                &["read:repository"],
                DAY,
                vec![child.record.clone()],
                NOW + 3600,
            ))
            .unwrap()
            .unwrap();
        assert_eq!(
            reuse,
            wit::ChildOutcome::Reuse(child.record.clone()),
            "{engine}"
        );
        let late = p
            .derive_child(&req(
                &["read:repository"],
                DAY,
                vec![child.record.clone()],
                NOW + DAY - 3600,
            ))
            .unwrap()
            .unwrap();
        assert!(
            matches!(late, wit::ChildOutcome::Minted(_)),
            "too little lifetime left: a new child"
        );
        let other = p
            .derive_child(&req(
                &["read:issue"],
                DAY,
                vec![child.record.clone()],
                NOW + 3600,
            ))
            .unwrap()
            .unwrap();
        assert!(
            matches!(other, wit::ChildOutcome::Minted(_)),
            "different scopes: a new child"
        );
        // A dead parent has no children.
        let mut r = req(&["read:repository"], DAY, vec![], NOW + 3 * DAY);
        r.context = ctx(NOW + 3 * DAY);
        assert_eq!(
            p.derive_child(&r).unwrap().err(),
            Some(LifecycleError::Refused(IssueError::CreatorNotLive))
        );
    });
}

#[test]
fn rotation() {
    // reference §5.2 (GitLab rotation: old revoked, new linked; reuse revokes the family).
    both(|engine, p| {
        let mut r = session_request("alice", &["write:repository"], NOW);
        r.repositories = vec!["alice/app".into()];
        r.bound_facts = vec![wit::BoundRepository {
            repository: "alice/app".into(),
            facts: Some(facts(false)),
        }];
        r.expires = Some(NOW + 10 * DAY);
        let old = p.issue(&r).unwrap().unwrap().record;
        let rot = p
            .rotate(&wit::RotateRequest {
                old: old.clone(),
                expires: None,
                records: vec![],
                context: ctx(NOW + DAY),
            })
            .unwrap()
            .unwrap();
        assert_eq!(rot.new.record.scopes, old.scopes, "{engine}");
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
        assert_eq!(
            actions,
            vec![wit::HistoryAction::Rotate, wit::HistoryAction::Create]
        );
        // The rotated-away token cannot be rotated again.
        let again = p
            .rotate(&wit::RotateRequest {
                old: rot.old.clone(),
                expires: None,
                records: vec![],
                context: ctx(NOW + DAY),
            })
            .unwrap();
        assert_eq!(
            again.err(),
            Some(LifecycleError::TokenNotLive(old.id.clone()))
        );
        // Presenting it again revokes the family: see `effects_last_used_and_family_revocation`.
    });
}

/// A pull of public `alice/app` with `secret`, the store holding `record`.
fn decide_with(
    p: &mut dyn Policy,
    secret: &str,
    record: &wit::TokenRecord,
    now: i64,
) -> wit::Decision {
    let mut world: World = serde_json::from_value(serde_json::json!({
        "keys": [{"id": "k1", "secret": "07".repeat(32)}],
        "signing_key": "k1",
        "users": [{"name": "alice", "status": "active", "site_admin": false,
                   "visibility": "public"}],
        "repositories": [{"owner": "alice", "name": "app", "private": false,
                          "kind": "hosted", "archived": false, "collaborators": {}}],
    }))
    .unwrap();
    world.add_token(&convert::record_in(record.clone()));
    p.authorize(
        &wit::AuthorizeRequest {
            credential: wit::Credential::Bearer(secret.into()),
            also_presented: None,
            request: wit::Request::Git(wit::GitRequest {
                transport: wit::Transport::Http,
                repository: "alice/app".into(),
                action: wit::GitAction::Pull,
                refs: None,
            }),
            now,
            explain: false,
        },
        &world,
    )
    .unwrap()
    .0
}

#[test]
fn effects_last_used_and_family_revocation() {
    // reference §2.5, §5.2 (last-used at most every 10 minutes); §5.2 (reuse of a rotated
    // token revokes its family).
    both(|engine, p| {
        let t = mint(p, &["read:repository"], 30 * DAY);
        let d = decide_with(p, &t.secret, &t.record, NOW);
        assert!(d.allow(), "{engine}");
        assert_eq!(d.effects, wit::Effects::TOUCH_LAST_USED);
        let mut used = t.record.clone();
        used.last_used = Some(NOW);
        assert_eq!(
            decide_with(p, &t.secret, &used, NOW + 599).effects,
            wit::Effects::empty(),
            "within 10 minutes"
        );
        assert_eq!(
            decide_with(p, &t.secret, &used, NOW + 600).effects,
            wit::Effects::TOUCH_LAST_USED
        );
        let rot = p
            .rotate(&wit::RotateRequest {
                old: t.record.clone(),
                expires: None,
                records: vec![],
                context: ctx(NOW + 60),
            })
            .unwrap()
            .unwrap();
        let d = decide_with(p, &t.secret, &rot.old, NOW + 120);
        assert_eq!(d.verdict.code(), "token-revoked");
        assert_eq!(d.effects, wit::Effects::REVOKE_FAMILY);
        // A plainly revoked token (never rotated) revokes nothing else.
        let mut revoked = t.record.clone();
        revoked.revoked = Some(NOW);
        assert_eq!(
            decide_with(p, &t.secret, &revoked, NOW + 1).effects,
            wit::Effects::empty()
        );
    });
}

fn rec(id: &str, parent: Option<&str>, expires: Option<i64>, scopes: &[&str]) -> wit::TokenRecord {
    wit::TokenRecord {
        id: id.into(),
        owner: "alice".into(),
        name: id.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        repositories: vec![],
        owners: vec![],
        parent: parent.map(Into::into),
        predecessor: None,
        successor: None,
        last_used: None,
        created: NOW,
        expires,
        revoked: None,
        secret: wit::SecretDigest::HmacTag(wit::Hash256 {
            w0: 0,
            w1: 0,
            w2: 0,
            w3: 0,
        }),
    }
}

#[test]
fn revocation_cascades_deepest_first_and_families() {
    // seed 002 (deleting a token deletes its children, deepest first), reference §4.5.
    both(|engine, p| {
        let mut records = vec![
            rec("p", None, Some(NOW + DAY), &["write:repository"]),
            rec("c1", Some("p"), Some(NOW + DAY), &["read:repository"]),
            rec("c2", Some("p"), Some(NOW + DAY), &["read:repository"]),
            rec("g1", Some("c1"), Some(NOW + DAY), &["read:repository"]),
            rec("other", None, Some(NOW + DAY), &["read:repository"]),
        ];
        let plan = p
            .plan_revoke("p", wit::RevokeScope::Token, &records, &ctx(NOW))
            .unwrap()
            .unwrap();
        let order: Vec<&str> = plan.updates.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order.len(), 4, "{engine}: {order:?}");
        assert_eq!(order[0], "g1", "deepest first");
        assert_eq!(order[3], "p", "the token itself last");
        assert!(plan.updates.iter().all(|r| r.revoked == Some(NOW)));
        assert!(
            plan.events
                .iter()
                .all(|e| e.action == wit::HistoryAction::Revoke)
        );
        assert_eq!(
            p.plan_revoke("nope", wit::RevokeScope::Token, &records, &ctx(NOW))
                .unwrap()
                .err(),
            Some(LifecycleError::UnknownToken("nope".into()))
        );
        // A family: a -> b -> c by rotation; revoking the family from a reaches c and c's child.
        records.push(wit::TokenRecord {
            successor: Some("b".into()),
            revoked: Some(NOW - 10),
            ..rec("a", None, Some(NOW + DAY), &["read:repository"])
        });
        records.push(wit::TokenRecord {
            predecessor: Some("a".into()),
            successor: Some("c".into()),
            revoked: Some(NOW - 5),
            ..rec("b", None, Some(NOW + DAY), &["read:repository"])
        });
        records.push(wit::TokenRecord {
            predecessor: Some("b".into()),
            ..rec("c", None, Some(NOW + DAY), &["read:repository"])
        });
        records.push(rec("cc", Some("c"), Some(NOW + DAY), &["read:repository"]));
        let plan = p
            .plan_revoke("a", wit::RevokeScope::Family, &records, &ctx(NOW))
            .unwrap()
            .unwrap();
        let ids: Vec<&str> = plan.updates.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["cc", "c"],
            "{engine}: already revoked members are not rewritten"
        );
    });
}

#[test]
fn edits_and_shortening_a_parent_shortens_its_children() {
    // seed 002 (modifying a parent's expiry updates its children), reference §4.5.
    both(|engine, p| {
        let records = vec![
            rec("p", None, Some(NOW + 10 * DAY), &["write:repository"]),
            rec("c", Some("p"), Some(NOW + 9 * DAY), &["read:repository"]),
            rec("g", Some("c"), None, &["read:repository"]),
            rec("q", None, Some(NOW + DAY), &["read:repository"]),
        ];
        let edit = wit::TokenEdit {
            name: None,
            scopes: None,
            expires: Some(Some(NOW + 2 * DAY)),
        };
        let plan = p
            .plan_edit("p", &edit, &records, &ctx(NOW))
            .unwrap()
            .unwrap();
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
            ],
            "{engine}"
        );
        let last = plan.events.last().unwrap();
        assert_eq!(last.old_expires, Some(Some(NOW + 10 * DAY)));
        // Names stay unique; scopes stay known; a child cannot be widened past its parent.
        let rename = wit::TokenEdit {
            name: Some("Q".into()),
            scopes: None,
            expires: None,
        };
        assert_eq!(
            p.plan_edit("p", &rename, &records, &ctx(NOW))
                .unwrap()
                .err(),
            Some(LifecycleError::Refused(IssueError::NameTaken))
        );
        let widen = wit::TokenEdit {
            name: None,
            scopes: Some(vec!["write:issue".into()]),
            expires: None,
        };
        assert_eq!(
            p.plan_edit("c", &widen, &records, &ctx(NOW)).unwrap().err(),
            Some(LifecycleError::Refused(IssueError::ExceedsCreator(
                "write:issue".into()
            )))
        );
        let never = wit::TokenEdit {
            name: None,
            scopes: None,
            expires: Some(None),
        };
        assert_eq!(
            p.plan_edit("q", &never, &records, &ctx(NOW)).unwrap().err(),
            Some(LifecycleError::Refused(IssueError::ExpiryRequired))
        );
    });
}

#[test]
fn audit_finds_and_repairs() {
    // seed 002 (TokenService.audit(fix)), reference §4.7.
    both(|engine, p| {
        let e = |r: wit::TokenRecord, recorded: bool| wit::AuditEntry {
            record: r,
            expiry_recorded: recorded,
        };
        let entries = vec![
            e(rec("p", None, Some(NOW + DAY), &["read:repository"]), false),
            e(
                rec(
                    "outlives",
                    Some("p"),
                    Some(NOW + 5 * DAY),
                    &["read:repository"],
                ),
                false,
            ),
            e(
                rec(
                    "exceeds",
                    Some("p"),
                    Some(NOW + DAY),
                    &["read:repository", "write:issue"],
                ),
                false,
            ),
            e(
                rec(
                    "orphan",
                    Some("gone"),
                    Some(NOW + DAY),
                    &["read:repository"],
                ),
                false,
            ),
            e(rec("legacy", None, Some(NOW + DAY), &["repo"]), false),
            e(
                rec("stale", None, Some(NOW - 1), &["read:repository"]),
                false,
            ),
            e(rec("done", None, Some(NOW - 1), &["read:repository"]), true),
            e(
                wit::TokenRecord {
                    successor: Some("x".into()),
                    ..rec("rotated", None, Some(NOW + DAY), &["read:repository"])
                },
                false,
            ),
            e(
                wit::TokenRecord {
                    revoked: Some(NOW - 1),
                    ..rec("dead", None, Some(NOW + DAY), &["read:repository"])
                },
                false,
            ),
            e(
                rec(
                    "child-of-dead",
                    Some("dead"),
                    Some(NOW + DAY),
                    &["read:repository"],
                ),
                false,
            ),
        ];
        let findings = p.audit(&entries, &audit_ctx(NOW)).unwrap();
        let kinds: Vec<(&str, &str)> = findings
            .iter()
            .map(|f| (f.token_id.as_str(), f.kind.name()))
            .collect();
        for want in [
            ("outlives", "child-outlives-parent"),
            ("exceeds", "child-exceeds-parent"),
            ("orphan", "orphan"),
            ("legacy", "unknown-scope"),
            ("stale", "expired-not-recorded"),
            ("rotated", "rotated-not-revoked"),
            ("child-of-dead", "child-of-revoked-parent"),
        ] {
            assert!(
                kinds.contains(&want),
                "{engine}: missing {want:?} in {kinds:?}"
            );
        }
        assert_eq!(kinds.len(), 7, "{engine}: no false positives: {kinds:?}");
        let fix = |id: &str| {
            findings
                .iter()
                .find(|f| f.token_id == id)
                .unwrap()
                .fix
                .clone()
        };
        let Some(wit::AuditFix::Update(r)) = fix("outlives") else {
            panic!()
        };
        assert_eq!(r.expires, Some(NOW + DAY));
        let Some(wit::AuditFix::Update(r)) = fix("exceeds") else {
            panic!()
        };
        assert_eq!(r.scopes, vec!["read:repository"]);
        let Some(wit::AuditFix::Update(r)) = fix("legacy") else {
            panic!()
        };
        assert_eq!(r.scopes, vec!["write:repository"], "legacy scopes migrate");
        assert_eq!(
            fix("stale"),
            Some(wit::AuditFix::RecordExpiry("stale".into()))
        );
        // Expiry bookkeeping plans one event per unrecorded expiry.
        let ev = p.plan_expire(&entries, &audit_ctx(NOW)).unwrap();
        let ids: Vec<&str> = ev.iter().map(|e| e.token_id.as_str()).collect();
        assert_eq!(ids, vec!["stale"]);
    });
}

#[test]
fn children_never_escape_their_parent_after_creation() {
    // issue 8 class 8; seed 002 (child expiry = min(lifetime, parent expiry); modifying a
    // parent updates its children), reference §4.4-5.
    both(|engine, p| {
        let records = vec![
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
        ];
        // Editing a child past its parent's expiry is refused (not cut).
        let later = wit::TokenEdit {
            name: None,
            scopes: None,
            expires: Some(Some(NOW + 300 * DAY)),
        };
        assert_eq!(
            p.plan_edit("c", &later, &records, &ctx(NOW)).unwrap().err(),
            Some(LifecycleError::Refused(IssueError::ExceedsCreator(
                "an expiry after its parent's".into()
            ))),
            "{engine}"
        );
        // Up to the parent's expiry is fine.
        let upto = wit::TokenEdit {
            expires: Some(Some(NOW + 10 * DAY)),
            ..later.clone()
        };
        assert!(
            p.plan_edit("c", &upto, &records, &ctx(NOW))
                .unwrap()
                .is_ok()
        );
        // Rotating a child: an explicit later expiry is refused; the default is cut to the
        // parent's; the successor stays a child of the same parent.
        assert_eq!(
            p_rotate(p, &records[1], Some(NOW + 300 * DAY), &records).err(),
            Some(LifecycleError::Refused(IssueError::ExceedsCreator(
                "an expiry after its parent's".into()
            ))),
            "{engine}"
        );
        let mut long_child = records.clone();
        long_child[1].created = NOW - 9 * DAY; // a 14-day lifetime, renewed from now
        let rot = p_rotate(p, &long_child[1], None, &long_child).unwrap();
        assert_eq!(rot.new.record.expires, Some(NOW + 10 * DAY), "{engine}");
        assert_eq!(rot.new.record.parent.as_deref(), Some("p"));
        // A child whose parent is gone cannot be edited or rotated.
        let mut orphaned = records.clone();
        orphaned[0].revoked = Some(NOW - 1);
        assert_eq!(
            p.plan_edit("c", &upto, &orphaned, &ctx(NOW)).unwrap().err(),
            Some(LifecycleError::Refused(IssueError::CreatorNotLive))
        );
        assert_eq!(
            p_rotate(p, &orphaned[1], None, &orphaned).err(),
            Some(LifecycleError::Refused(IssueError::CreatorNotLive))
        );
        // Narrowing a parent cascades: children keep only what the parent keeps, and a
        // child left with no permission is revoked; deepest first, the parent last.
        let narrow = wit::TokenEdit {
            name: None,
            scopes: Some(vec!["read:issue".into()]),
            expires: None,
        };
        let plan = p
            .plan_edit("p", &narrow, &records, &ctx(NOW))
            .unwrap()
            .unwrap();
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
            ],
            "{engine}"
        );
        let actions: Vec<_> = plan.events.iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            vec![
                wit::HistoryAction::Revoke,
                wit::HistoryAction::Edit,
                wit::HistoryAction::Edit
            ]
        );
    });
}

fn p_rotate(
    p: &mut dyn Policy,
    old: &wit::TokenRecord,
    expires: Option<i64>,
    records: &[wit::TokenRecord],
) -> Result<wit::Rotation, LifecycleError> {
    p.rotate(&wit::RotateRequest {
        old: old.clone(),
        expires,
        records: records.to_vec(),
        context: ctx(NOW),
    })
    .unwrap()
}

#[test]
fn a_child_token_mints_only_children_and_organisations_mint_nothing() {
    // issue 8 class 9; seed 004 (restricted tokens never carry admin powers), seed 002
    // (`user:token` mints nothing stronger than itself).
    both(|engine, p| {
        let mut child = mint(p, &["all", "user:token"], 30 * DAY).record;
        child.parent = Some("parent-token".into());
        let mut r = session_request("alice", &["all"], NOW);
        r.creator = wit::Actor::Token(child.clone());
        r.expires = Some(NOW + DAY);
        let minted = p.issue(&r).unwrap().unwrap().record;
        assert_eq!(
            minted.parent.as_deref(),
            Some(child.id.as_str()),
            "{engine}: a token minted by a child is its child, so it stays restricted"
        );
        // An organisation never signs in, so it never mints.
        let mut org = session_request("acme", &["read:repository"], NOW);
        let mut acme = user("acme", false);
        acme.facts.organization = true;
        org.creator = wit::Actor::Session(acme);
        assert_eq!(refused(p, &org), Some(IssueError::CreatorNotAllowed));
    });
}

fn acting(actor: wit::Actor, now: i64) -> wit::ChangeContext {
    wit::ChangeContext {
        actor,
        ip: Some("203.0.113.66".into()),
        now,
    }
}

// Who may act on a token, edits that would grant what minting refuses, audit repairs and
// owner bindings (issue 19) are tested natively in `guest/tests/authority.rs`; the
// differential test (`tests/tests/differential.rs`) checks that the component answers
// every lifecycle call of generated sequences exactly as the native core.

#[test]
fn every_request_kind_revokes_the_family_of_a_rotated_token() {
    // issue 19 item 4: a rotated-away token presented through `ref-permissions` or a
    // batch did not revoke its family (through plain git it did). GitLab (reference
    // §5.2): a revoked token presented again revokes its whole family.
    both(|engine, p| {
        let t = mint(p, &["write:repository"], 30 * DAY);
        let rot = p
            .rotate(&wit::RotateRequest {
                old: t.record.clone(),
                expires: None,
                records: vec![],
                context: ctx(NOW + 60),
            })
            .unwrap()
            .unwrap();
        let mut world: World = serde_json::from_value(serde_json::json!({
            "keys": [{"id": "k1", "secret": "07".repeat(32)}],
            "signing_key": "k1",
            "users": [{"name": "alice", "status": "active", "site_admin": false,
                       "visibility": "public"}],
            "repositories": [{"owner": "alice", "name": "app", "private": false,
                              "kind": "hosted", "archived": false, "collaborators": {}}],
        }))
        .unwrap();
        world.add_token(&convert::record_in(rot.old.clone()));
        world.add_token(&convert::record_in(rot.new.record.clone()));
        let credential = wit::Credential::Bearer(t.secret.clone());
        let (grants, _) = p
            .ref_permissions(
                &wit::RefPermissionsRequest {
                    credential: credential.clone(),
                    also_presented: None,
                    transport: wit::Transport::Http,
                    repository: "alice/app".into(),
                    refs: vec!["refs/heads/main".into()],
                    now: NOW + 120,
                },
                &world,
            )
            .unwrap();
        assert_eq!(grants.refs, vec![wit::RefPermissions::empty()], "{engine}");
        assert_eq!(
            grants.effects,
            wit::Effects::REVOKE_FAMILY,
            "{engine}: ref-permissions"
        );
        let (batch, _) = p
            .authorize_batch(
                &wit::BatchRequest {
                    credential,
                    also_presented: None,
                    transport: wit::Transport::Http,
                    action: wit::GitAction::Pull,
                    repositories: vec!["alice/app".into(), "alice/other".into()],
                    now: NOW + 120,
                    explain: false,
                },
                &world,
            )
            .unwrap();
        for d in &batch {
            assert_eq!(d.verdict.code(), "token-revoked", "{engine}");
            assert_eq!(d.effects, wit::Effects::REVOKE_FAMILY, "{engine}: batch");
        }
        // The host asks plan-revoke with the presented token as the actor: allowed, and
        // it reaches the successor.
        let plan = p
            .plan_revoke(
                &rot.old.id,
                wit::RevokeScope::Family,
                &[rot.old.clone(), rot.new.record.clone()],
                &acting(wit::Actor::Token(rot.old.clone()), NOW + 120),
            )
            .unwrap()
            .unwrap();
        assert!(
            plan.updates
                .iter()
                .any(|r| r.id == rot.new.record.id && r.revoked.is_some()),
            "{engine}: the successor is revoked"
        );
    });
}

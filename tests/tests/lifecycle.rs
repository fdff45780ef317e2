//! Token lifecycle rules across the host's boundary, through the wasm component and the
//! native core (both must agree). The rules themselves — minting, child tokens, rotation,
//! revocation cascades, edits, last-used hints, audit — are tested once, natively, with
//! exact records and events, in `guest/tests/lifecycle.rs` (so `cargo mutants` counts
//! them); who may act on a token in `guest/tests/authority.rs`; and the differential test
//! (`tests/tests/differential.rs`) checks that the component answers every lifecycle call
//! of generated sequences exactly as the native core. What stays here needs the host's
//! request kinds and world.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use forge_authz_host::policy::Policy;
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;
use forge_authz_host::world::World;
use forge_authz_tests::{default_options, native, session_request, wasm};

const NOW: i64 = 1_767_225_600;
const DAY: i64 = 86_400;

fn config() -> wit::Config {
    wit::Config {
        site: String::new(),
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

fn mint(p: &mut dyn Policy, scopes: &[&str], lifetime: i64) -> wit::IssuedToken {
    let mut r = session_request("alice", scopes, NOW);
    r.expires = Some(NOW + lifetime);
    p.issue(&r).unwrap().unwrap()
}

fn acting(actor: wit::Actor, now: i64) -> wit::ChangeContext {
    wit::ChangeContext {
        actor,
        ip: Some("203.0.113.66".into()),
        now,
    }
}

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
                    client_address: None,
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
                    client_address: None,
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

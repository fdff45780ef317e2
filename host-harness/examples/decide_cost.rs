//! What one decision costs through the wasm component, warm instance, sync path:
//! `cargo run --release -p forge-authz --example decide_cost [iterations]`.
//!
//! Measures `verify` + `decide` for a token pull (the host's per-request flow without the
//! store), an anonymous pull, and a forged token (refused in `verify`). Prints the mean
//! per call; compare runs on the same machine, not against other machines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use forge_authz_host::policy::{Limits, Policy, PolicyModule, default_policy_path};
use forge_authz_host::wit;

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let module = PolicyModule::load(&default_policy_path(), Limits::default()).unwrap();
    let config = wit::Config {
        keys: vec![wit::SigningKey {
            id: "k1".into(),
            secret: vec![7; 32],
        }],
        signing_key_id: "k1".into(),
        options: forge_authz_host::world::OptionsDef::default().to_wit(),
    };
    let mut p = module.authorizer(config).unwrap().unwrap();
    let now = 1_767_225_600;
    let alice = wit::UserFacts {
        name: "alice".into(),
        status: wit::AccountStatus::Active,
        site_admin: false,
        visibility: wit::Visibility::Public,
        organization: false,
    };
    let issued = p
        .issue(&wit::IssueRequest {
            owner: "alice".into(),
            name: "bench".into(),
            scopes: vec!["read:repository".into()],
            repositories: vec![],
            owners: vec![],
            expires: Some(now + 3600),
            now,
            creator: wit::Creator::Session(alice.clone()),
            existing_names: vec![],
            bound_facts: vec![],
            ip: None,
        })
        .unwrap()
        .unwrap();
    let repo = wit::RepositoryFacts {
        owner: "alice".into(),
        name: "app".into(),
        owner_visibility: wit::Visibility::Public,
        private: false,
        kind: wit::RepositoryKind::Hosted,
        archived: false,
        role: wit::Role::None,
        protected_refs: vec![],
        registrant: None,
    };
    let input = |credential: wit::Credential, token: Option<wit::TokenRecord>| wit::Input {
        credential,
        also_presented: vec![],
        token,
        user: Some(alice.clone()),
        repository: Some(repo.clone()),
        namespace: None,
        request: wit::Request::Git(wit::GitRequest {
            transport: wit::Transport::Http,
            repository: "alice/app".into(),
            action: wit::GitAction::Pull,
            refs: vec![],
        }),
        now,
        sudo: None,
        explain: false,
    };
    let mut record = issued.record.clone();
    record.last_used = Some(now); // no last-used effect: the steady state
    let token_pull = input(wit::Credential::Bearer(issued.secret.clone()), Some(record));
    let anonymous = input(wit::Credential::Anonymous, None);
    let forged = wit::Credential::Bearer(issued.secret.replace("fzpat_k1.", "fzpat_k2."));

    let time = |name: &str, f: &mut dyn FnMut()| {
        for _ in 0..iterations / 10 {
            f();
        }
        let start = Instant::now();
        for _ in 0..iterations {
            f();
        }
        let ns = start.elapsed().as_nanos() / u128::from(iterations);
        println!("{name:<40} {ns:>8} ns/call  ({iterations} calls)");
    };
    let cred = token_pull.credential.clone();
    time("verify + decide (token pull)", &mut || {
        let v = p.verify(&cred).unwrap().unwrap();
        assert!(v.is_some());
        assert!(p.decide(&token_pull).unwrap().allow);
    });
    time("decide (token pull)", &mut || {
        assert!(p.decide(&token_pull).unwrap().allow);
    });
    time("decide (anonymous pull)", &mut || {
        assert!(p.decide(&anonymous).unwrap().allow);
    });
    time("verify (forged token, refused)", &mut || {
        assert!(p.verify(&forged).unwrap().is_err());
    });
}

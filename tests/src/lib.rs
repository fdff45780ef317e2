//! Test support for forge-authz: the native engine and the scenario corpus runner.
// Test support: a broken fixture should stop the test loudly.
#![allow(clippy::indexing_slicing, clippy::unwrap_used)]
#![allow(clippy::expect_used, clippy::panic)]

pub mod native;
pub mod recording;
pub mod scenario;

use std::sync::OnceLock;

use forge_authz_host::policy::{Limits, PolicyModule, WasmPolicy, default_policy_path};
use forge_authz_host::wit;

/// The policy component built in this workspace, compiled once per test process.
pub fn module() -> &'static PolicyModule {
    static MODULE: OnceLock<PolicyModule> = OnceLock::new();
    MODULE.get_or_init(|| {
        let path = default_policy_path();
        PolicyModule::load(&path, Limits::default())
            .unwrap_or_else(|e| panic!("loading {}: {e:#}", path.display()))
    })
}

/// A wasm engine for a configuration.
pub fn wasm(config: &wit::Config) -> anyhow::Result<WasmPolicy> {
    module()
        .authorizer(config.clone())?
        .map_err(|e| anyhow::anyhow!("config refused: {e}"))
}

/// A native engine for a configuration.
pub fn native(config: &wit::Config) -> anyhow::Result<native::NativePolicy> {
    native::NativePolicy::new(config).map_err(|e| anyhow::anyhow!("config refused: {e}"))
}

/// The default policy options (expiry required, 366 days max, 5 minutes min).
pub fn default_options() -> wit::Options {
    forge_authz_host::wit::core::options_out(
        forge_authz_host::world::OptionsDef::default().to_core(),
    )
}

/// A mint request from the owner's own session, expiring in an hour.
pub fn session_request(owner: &str, scopes: &[&str], now: i64) -> wit::IssueRequest {
    wit::IssueRequest {
        owner: owner.into(),
        name: "t".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        repositories: vec![],
        owners: vec![],
        expires: Some(now + 3600),
        now,
        creator: wit::Actor::Session(wit::Account {
            name: owner.into(),
            facts: wit::UserFacts {
                status: wit::AccountStatus::Active,
                site_admin: false,
                visibility: wit::Visibility::Public,
                organization: false,
            },
        }),
        existing_names: vec![],
        bound_facts: vec![],
        ip: None,
    }
}

//! Test support for forge-authz: the native engine and the scenario corpus runner.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a broken fixture should stop the test loudly"
)]

pub mod native;
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

//! The policy core compiled natively, behind the host's `Policy` trait, so that the
//! scenario corpus runs unchanged against it and against the wasm component. It calls the
//! component's own export functions (`guest/src/exports.rs`, with its conversions, through
//! `forge_authz_host::wit::core`) and asks the host's `FactSource` exactly as the
//! component's `facts` import does.

use forge_authz_fixture::native::Asked;
use forge_authz_guest::policy;
use forge_authz_host::facts::Gathered;
use forge_authz_host::policy::PolicyFailure;
use forge_authz_host::wit;
use forge_authz_host::wit::core::exports;
use forge_authz_host::{implement_policy, policy_calls};

/// The native policy: `forge_authz_guest::policy::Engine` with WIT-typed edges.
#[derive(Debug)]
pub struct NativePolicy(policy::Engine);

impl NativePolicy {
    /// Build from a WIT configuration (`Err`: refused, as `authorizer.create` would).
    pub fn new(config: &wit::Config) -> Result<NativePolicy, wit::ConfigError> {
        exports::create(config.clone()).map(NativePolicy)
    }
}

/// 36 bytes from the OS CSPRNG, as the host gives the component.
fn entropy() -> Option<[u8; policy::token::ENTROPY_BYTES]> {
    let mut e = [0u8; policy::token::ENTROPY_BYTES];
    getrandom::fill(&mut e).ok().map(|()| e)
}

/// Each call as the export function of the same name (`guest/src/exports.rs`), given its
/// arguments as the component receives them (owned): with the caller's facts asked as the
/// component's `facts` import asks them ([`Asked::run`]) for a `lend` row, fresh entropy
/// for a `mint` row.
macro_rules! native {
    (function $self:ident [] $name:ident $export:ident ($($arg:ident),*)) => {
        Ok(exports::$name($($arg.to_owned()),*))
    };
    (resource $self:ident [] $name:ident $export:ident ($($arg:ident),*)) => {
        Ok(exports::$name(&mut $self.0, $($arg.to_owned()),*))
    };
    (mint $self:ident [] $name:ident $export:ident ($($arg:ident),*)) => {
        Ok(exports::$name(&mut $self.0, $($arg.to_owned(),)* entropy().as_ref()))
    };
    (lend $self:ident [$facts:ident] $name:ident $export:ident ($($arg:ident),*)) => {
        Asked::run($facts, |asked| exports::$name(&mut $self.0, $($arg.to_owned(),)* asked))
            .map_err(PolicyFailure)
    };
}

// Each call of the host's `Policy` trait (one row of its table, `policy/calls.rs`) through
// the component's own export function of the same name.
policy_calls!(implement_policy, NativePolicy, native);

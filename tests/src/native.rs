//! The policy core compiled natively, behind the host's `Policy` trait, so that the
//! scenario corpus runs unchanged against it and against the wasm component. It calls the
//! component's own export functions (`guest/src/exports.rs`, with its conversions, through
//! `forge_authz_host::wit::core`) and asks the host's [`FactSource`] exactly as the
//! component's `facts` import does.

use forge_authz_fixture::native::Asked;
use forge_authz_guest::policy;
use forge_authz_host::facts::{FactSource, Gathered};
use forge_authz_host::policy::{Policy, PolicyFailure};
use forge_authz_host::wit;
use forge_authz_host::wit::core::exports;

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

/// Each decision call as the export function of the same name, with the caller's facts
/// asked as the component's `facts` import asks them ([`Asked::run`]).
macro_rules! asking {
    ($($call:ident($request:ty) -> $answer:ty;)+) => {
        $(
            fn $call(
                &mut self,
                request: &$request,
                facts: &dyn FactSource,
            ) -> Result<($answer, Gathered), PolicyFailure> {
                Asked::run(facts, |asked| exports::$call(&mut self.0, request.clone(), asked))
                    .map_err(PolicyFailure)
            }
        )+
    };
}

/// Each minting call as the export function of the same name, given fresh entropy.
macro_rules! minting {
    ($($call:ident($request:ty) -> $answer:ty;)+) => {
        $(
            fn $call(&mut self, r: &$request) -> Result<$answer, PolicyFailure> {
                Ok(exports::$call(&self.0, r.clone(), entropy().as_ref()))
            }
        )+
    };
}

/// Each call over stored audit entries as the export function of the same name.
macro_rules! over_entries {
    ($($call:ident -> $item:ty;)+) => {
        $(
            fn $call(
                &mut self,
                entries: &[wit::AuditEntry],
                context: &wit::ChangeContext,
            ) -> Result<Vec<$item>, PolicyFailure> {
                Ok(exports::$call(&self.0, entries.to_vec(), context.clone()))
            }
        )+
    };
}

/// Each call through the component's own export functions (`guest/src/exports.rs`), with
/// the caller's facts asked as the `facts` import asks them.
impl Policy for NativePolicy {
    fn verify(
        &mut self,
        c: &wit::Credential,
    ) -> Result<Result<Option<wit::VerifiedToken>, wit::TokenError>, PolicyFailure> {
        Ok(exports::verify(&mut self.0, c.clone()))
    }

    asking! {
        authorize(wit::AuthorizeRequest) -> wit::Decision;
        authorize_batch(wit::BatchRequest) -> Vec<wit::Decision>;
        ref_permissions(wit::RefPermissionsRequest) -> wit::RefGrants;
    }

    minting! {
        issue(wit::IssueRequest) -> Result<wit::IssuedToken, wit::IssueError>;
        derive_child(wit::ChildRequest) -> Result<wit::ChildOutcome, wit::LifecycleError>;
        rotate(wit::RotateRequest) -> Result<wit::Rotation, wit::LifecycleError>;
    }

    fn plan_revoke(
        &mut self,
        id: &str,
        scope: wit::RevokeScope,
        records: &[wit::TokenRecord],
        context: &wit::ChangeContext,
    ) -> Result<Result<wit::ChangePlan, wit::LifecycleError>, PolicyFailure> {
        Ok(exports::plan_revoke(
            &self.0,
            id,
            scope,
            records.to_vec(),
            context.clone(),
        ))
    }

    fn plan_edit(
        &mut self,
        id: &str,
        edit: &wit::TokenEdit,
        records: &[wit::TokenRecord],
        context: &wit::ChangeContext,
    ) -> Result<Result<wit::ChangePlan, wit::LifecycleError>, PolicyFailure> {
        Ok(exports::plan_edit(
            &self.0,
            id,
            edit.clone(),
            records.to_vec(),
            context.clone(),
        ))
    }

    over_entries! {
        plan_expire -> wit::HistoryEvent;
        audit -> wit::AuditFinding;
    }

    fn inspect(
        &mut self,
        secret: &str,
    ) -> Result<Result<wit::TokenInfo, wit::TokenError>, PolicyFailure> {
        Ok(exports::inspect(secret))
    }

    fn migrate_legacy_scopes(&mut self, scopes: &[String]) -> Result<Vec<String>, PolicyFailure> {
        Ok(exports::migrate_legacy_scopes(scopes))
    }

    fn normalize_scopes(
        &mut self,
        scopes: &[String],
    ) -> Result<Result<Vec<String>, wit::ScopeError>, PolicyFailure> {
        Ok(exports::normalize_scopes(scopes))
    }
}

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

/// Each call through the component's own export functions (`guest/src/exports.rs`), with
/// the caller's facts asked as the `facts` import asks them.
impl Policy for NativePolicy {
    fn verify(
        &mut self,
        c: &wit::Credential,
    ) -> Result<Result<Option<wit::VerifiedToken>, wit::TokenError>, PolicyFailure> {
        Ok(exports::verify(&mut self.0, c.clone()))
    }

    fn authorize(
        &mut self,
        request: &wit::AuthorizeRequest,
        facts: &dyn FactSource,
    ) -> Result<(wit::Decision, Gathered), PolicyFailure> {
        let mut asked = Asked::new(facts);
        let d = exports::authorize(&mut self.0, request.clone(), &mut asked);
        asked.finish(d).map_err(PolicyFailure)
    }

    fn authorize_batch(
        &mut self,
        request: &wit::BatchRequest,
        facts: &dyn FactSource,
    ) -> Result<(Vec<wit::Decision>, Gathered), PolicyFailure> {
        let mut asked = Asked::new(facts);
        let list = exports::authorize_batch(&mut self.0, request.clone(), &mut asked);
        asked.finish(list).map_err(PolicyFailure)
    }

    fn ref_permissions(
        &mut self,
        request: &wit::RefPermissionsRequest,
        facts: &dyn FactSource,
    ) -> Result<(wit::RefGrants, Gathered), PolicyFailure> {
        let mut asked = Asked::new(facts);
        let grants = exports::ref_permissions(&mut self.0, request.clone(), &mut asked);
        asked.finish(grants).map_err(PolicyFailure)
    }

    fn issue(
        &mut self,
        r: &wit::IssueRequest,
    ) -> Result<Result<wit::IssuedToken, wit::IssueError>, PolicyFailure> {
        Ok(exports::issue(&self.0, r.clone(), entropy().as_ref()))
    }

    fn derive_child(
        &mut self,
        r: &wit::ChildRequest,
    ) -> Result<Result<wit::ChildOutcome, wit::LifecycleError>, PolicyFailure> {
        Ok(exports::derive_child(
            &self.0,
            r.clone(),
            entropy().as_ref(),
        ))
    }

    fn rotate(
        &mut self,
        r: &wit::RotateRequest,
    ) -> Result<Result<wit::Rotation, wit::LifecycleError>, PolicyFailure> {
        Ok(exports::rotate(&self.0, r.clone(), entropy().as_ref()))
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

    fn plan_expire(
        &mut self,
        entries: &[wit::AuditEntry],
        context: &wit::ChangeContext,
    ) -> Result<Vec<wit::HistoryEvent>, PolicyFailure> {
        Ok(exports::plan_expire(
            &self.0,
            entries.to_vec(),
            context.clone(),
        ))
    }

    fn audit(
        &mut self,
        entries: &[wit::AuditEntry],
        context: &wit::ChangeContext,
    ) -> Result<Vec<wit::AuditFinding>, PolicyFailure> {
        Ok(exports::audit(&self.0, entries.to_vec(), context.clone()))
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

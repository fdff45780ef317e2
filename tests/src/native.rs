//! The policy core compiled natively, behind the host's `Policy` trait, so that the
//! scenario corpus runs unchanged against it and against the wasm component. It converts
//! with the component's own conversion code (`guest/src/convert.rs`, through
//! `forge_authz_host::wit::core`) and asks the host's [`FactSource`] exactly as the
//! component's `facts` import does.

use forge_authz_fixture::native::Asked;
use forge_authz_guest::policy;
use forge_authz_host::facts::{FactSource, Gathered};
use forge_authz_host::policy::{Policy, PolicyFailure};
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;

/// The native policy: `forge_authz_guest::policy::Engine` with WIT-typed edges.
#[derive(Debug)]
pub struct NativePolicy(policy::Engine);

impl NativePolicy {
    /// Build from a WIT configuration (`Err`: refused, as `authorizer.create` would).
    pub fn new(config: &wit::Config) -> Result<NativePolicy, wit::ConfigError> {
        policy::Engine::new(&convert::config_in(config.clone()))
            .map(NativePolicy)
            .map_err(convert::config_error_out)
    }
}

/// 36 bytes from the OS CSPRNG, as the host gives the component.
fn entropy() -> Option<[u8; policy::token::ENTROPY_BYTES]> {
    let mut e = [0u8; policy::token::ENTROPY_BYTES];
    getrandom::fill(&mut e).ok().map(|()| e)
}

impl Policy for NativePolicy {
    fn verify(
        &mut self,
        c: &wit::Credential,
    ) -> Result<Result<Option<wit::VerifiedToken>, wit::TokenError>, PolicyFailure> {
        Ok(self
            .0
            .verify(&convert::credential_in(c.clone()))
            .map(|v| {
                v.map(|v| wit::VerifiedToken {
                    token_id: v.token_id,
                    key_id: v.key_id,
                })
            })
            .map_err(convert::token_error_out))
    }

    fn authorize(
        &mut self,
        request: &wit::AuthorizeRequest,
        facts: &dyn FactSource,
    ) -> Result<(wit::Decision, Gathered), PolicyFailure> {
        let mut asked = Asked::new(facts);
        let d = self
            .0
            .authorize(&convert::authorize_in(request.clone()), &mut asked);
        asked
            .finish(convert::decision_out(d))
            .map_err(PolicyFailure)
    }

    fn authorize_batch(
        &mut self,
        request: &wit::BatchRequest,
        facts: &dyn FactSource,
    ) -> Result<(Vec<wit::Decision>, Gathered), PolicyFailure> {
        let mut asked = Asked::new(facts);
        let list = self
            .0
            .authorize_batch(&convert::batch_request_in(request.clone()), &mut asked);
        asked
            .finish(list.into_iter().map(convert::decision_out).collect())
            .map_err(PolicyFailure)
    }

    fn ref_permissions(
        &mut self,
        request: &wit::RefPermissionsRequest,
        facts: &dyn FactSource,
    ) -> Result<(wit::RefGrants, Gathered), PolicyFailure> {
        let mut asked = Asked::new(facts);
        let grants = self.0.ref_permissions(
            &convert::ref_permissions_request_in(request.clone()),
            &mut asked,
        );
        asked
            .finish(convert::ref_grants_out(grants))
            .map_err(PolicyFailure)
    }

    fn issue(
        &mut self,
        r: &wit::IssueRequest,
    ) -> Result<Result<wit::IssuedToken, wit::IssueError>, PolicyFailure> {
        let entropy = entropy();
        Ok(self
            .0
            .authorizer()
            .issue(&convert::issue_in(r.clone()), entropy.as_ref())
            .map(convert::issued_out)
            .map_err(convert::issue_error_out))
    }

    fn derive_child(
        &mut self,
        r: &wit::ChildRequest,
    ) -> Result<Result<wit::ChildOutcome, wit::LifecycleError>, PolicyFailure> {
        let entropy = entropy();
        Ok(self
            .0
            .authorizer()
            .derive_child(&convert::child_in(r.clone()), entropy.as_ref())
            .map(convert::child_out)
            .map_err(convert::lifecycle_error_out))
    }

    fn rotate(
        &mut self,
        r: &wit::RotateRequest,
    ) -> Result<Result<wit::Rotation, wit::LifecycleError>, PolicyFailure> {
        let entropy = entropy();
        Ok(self
            .0
            .authorizer()
            .rotate(&convert::rotate_in(r.clone()), entropy.as_ref())
            .map(convert::rotation_out)
            .map_err(convert::lifecycle_error_out))
    }

    fn plan_revoke(
        &mut self,
        id: &str,
        scope: wit::RevokeScope,
        records: &[wit::TokenRecord],
        context: &wit::ChangeContext,
    ) -> Result<Result<wit::ChangePlan, wit::LifecycleError>, PolicyFailure> {
        let records: Vec<policy::TokenRecord> =
            records.iter().cloned().map(convert::record_in).collect();
        Ok(self
            .0
            .authorizer()
            .plan_revoke(
                id,
                convert::revoke_scope_in(scope),
                &records,
                &convert::context_in(context.clone()),
            )
            .map(convert::plan_out)
            .map_err(convert::lifecycle_error_out))
    }

    fn plan_edit(
        &mut self,
        id: &str,
        edit: &wit::TokenEdit,
        records: &[wit::TokenRecord],
        context: &wit::ChangeContext,
    ) -> Result<Result<wit::ChangePlan, wit::LifecycleError>, PolicyFailure> {
        let records: Vec<policy::TokenRecord> =
            records.iter().cloned().map(convert::record_in).collect();
        Ok(self
            .0
            .authorizer()
            .plan_edit(
                id,
                &convert::edit_in(edit.clone()),
                &records,
                &convert::context_in(context.clone()),
            )
            .map(convert::plan_out)
            .map_err(convert::lifecycle_error_out))
    }

    fn plan_expire(
        &mut self,
        entries: &[wit::AuditEntry],
        context: &wit::ChangeContext,
    ) -> Result<Vec<wit::HistoryEvent>, PolicyFailure> {
        let entries: Vec<policy::AuditEntry> = entries
            .iter()
            .cloned()
            .map(convert::audit_entry_in)
            .collect();
        Ok(self
            .0
            .authorizer()
            .plan_expire(&entries, &convert::context_in(context.clone()))
            .into_iter()
            .map(convert::event_out)
            .collect())
    }

    fn audit(
        &mut self,
        entries: &[wit::AuditEntry],
        context: &wit::ChangeContext,
    ) -> Result<Vec<wit::AuditFinding>, PolicyFailure> {
        let entries: Vec<policy::AuditEntry> = entries
            .iter()
            .cloned()
            .map(convert::audit_entry_in)
            .collect();
        Ok(self
            .0
            .authorizer()
            .audit(&entries, &convert::context_in(context.clone()))
            .into_iter()
            .map(convert::finding_out)
            .collect())
    }

    fn inspect(
        &mut self,
        secret: &str,
    ) -> Result<Result<wit::TokenInfo, wit::TokenError>, PolicyFailure> {
        Ok(policy::inspect(secret)
            .map(|i| wit::TokenInfo {
                token_id: i.token_id,
                key_id: i.key_id,
            })
            .map_err(convert::token_error_out))
    }

    fn migrate_legacy_scopes(&mut self, scopes: &[String]) -> Result<Vec<String>, PolicyFailure> {
        Ok(policy::scope::migrate_legacy(scopes))
    }

    fn normalize_scopes(
        &mut self,
        scopes: &[String],
    ) -> Result<Result<Vec<String>, wit::ScopeError>, PolicyFailure> {
        Ok(policy::scope::normalize(scopes).map_err(wit::ScopeError::UnknownScope))
    }
}

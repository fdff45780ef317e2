//! The policy core compiled natively, behind the host's `Policy` trait, so that the
//! scenario corpus runs unchanged against it and against the wasm component. It converts
//! with the component's own conversion code (`guest/src/convert.rs`).
#![allow(clippy::wildcard_imports)]

use forge_authz_guest::policy;
use forge_authz_host::policy::{Policy, PolicyFailure};
use forge_authz_host::wit;

include!("../../guest/src/convert.rs");

/// The native policy: `forge_authz_guest::policy::Authorizer` with WIT-typed edges.
#[derive(Debug)]
pub struct NativePolicy(policy::Authorizer);

impl NativePolicy {
    /// Build from a WIT configuration (`Err`: refused, as `authorizer.create` would).
    pub fn new(config: &wit::Config) -> Result<NativePolicy, wit::ConfigError> {
        policy::Authorizer::new(&config_in(config.clone()))
            .map(NativePolicy)
            .map_err(config_error_out)
    }
}

/// Map a core reason to the WIT reason.
pub fn reason(r: policy::Reason) -> wit::Reason {
    reason_out(r)
}

/// Map a core status to the WIT status.
pub fn status(s: policy::Status) -> wit::Status {
    status_out(s)
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
            .verify(&credential_in(c.clone()))
            .map(|v| {
                v.map(|v| wit::VerifiedToken {
                    token_id: v.token_id,
                    key_id: v.key_id,
                })
            })
            .map_err(token_error_out))
    }

    fn decide(&mut self, input: &wit::Input) -> Result<wit::Decision, PolicyFailure> {
        Ok(decision_out(self.0.decide(&input_in(input.clone()))))
    }

    fn decide_batch(
        &mut self,
        input: &wit::Input,
        targets: &[wit::BatchTarget],
    ) -> Result<Vec<wit::Decision>, PolicyFailure> {
        let targets: Vec<policy::BatchTarget> = targets.iter().cloned().map(batch_in).collect();
        Ok(self
            .0
            .decide_batch(&input_in(input.clone()), &targets)
            .into_iter()
            .map(decision_out)
            .collect())
    }

    fn ref_permissions(
        &mut self,
        input: &wit::Input,
        refs: &[String],
    ) -> Result<Vec<wit::RefPermissions>, PolicyFailure> {
        Ok(self
            .0
            .ref_permissions(&input_in(input.clone()), refs)
            .into_iter()
            .map(ref_permissions_out)
            .collect())
    }

    fn issue(
        &mut self,
        r: &wit::IssueRequest,
    ) -> Result<Result<wit::IssuedToken, wit::IssueError>, PolicyFailure> {
        let entropy = entropy();
        let entropy = entropy.as_ref();
        Ok(self
            .0
            .issue(&issue_in(r.clone()), entropy)
            .map(issued_out)
            .map_err(issue_error_out))
    }

    fn derive_child(
        &mut self,
        r: &wit::ChildRequest,
    ) -> Result<Result<wit::ChildOutcome, wit::IssueError>, PolicyFailure> {
        let entropy = entropy();
        Ok(self
            .0
            .derive_child(&child_in(r.clone()), entropy.as_ref())
            .map(child_out)
            .map_err(issue_error_out))
    }

    fn rotate(
        &mut self,
        r: &wit::RotateRequest,
    ) -> Result<Result<wit::Rotation, wit::LifecycleError>, PolicyFailure> {
        let entropy = entropy();
        Ok(self
            .0
            .rotate(&rotate_in(r.clone()), entropy.as_ref())
            .map(rotation_out)
            .map_err(lifecycle_error_out))
    }

    fn plan_revoke(
        &mut self,
        id: &str,
        scope: wit::RevokeScope,
        records: &[wit::TokenRecord],
        context: &wit::ChangeContext,
    ) -> Result<Result<wit::ChangePlan, wit::LifecycleError>, PolicyFailure> {
        let records: Vec<policy::TokenRecord> = records.iter().cloned().map(record_in).collect();
        Ok(self
            .0
            .plan_revoke(
                id,
                revoke_scope_in(scope),
                &records,
                &context_in(context.clone()),
            )
            .map(plan_out)
            .map_err(lifecycle_error_out))
    }

    fn plan_edit(
        &mut self,
        id: &str,
        edit: &wit::TokenEdit,
        records: &[wit::TokenRecord],
        context: &wit::ChangeContext,
    ) -> Result<Result<wit::ChangePlan, wit::LifecycleError>, PolicyFailure> {
        let records: Vec<policy::TokenRecord> = records.iter().cloned().map(record_in).collect();
        Ok(self
            .0
            .plan_edit(
                id,
                &edit_in(edit.clone()),
                &records,
                &context_in(context.clone()),
            )
            .map(plan_out)
            .map_err(lifecycle_error_out))
    }

    fn plan_expire(
        &mut self,
        entries: &[wit::AuditEntry],
        context: &wit::ChangeContext,
    ) -> Result<Vec<wit::HistoryEvent>, PolicyFailure> {
        let entries: Vec<policy::AuditEntry> =
            entries.iter().cloned().map(audit_entry_in).collect();
        Ok(self
            .0
            .plan_expire(&entries, &context_in(context.clone()))
            .into_iter()
            .map(event_out)
            .collect())
    }

    fn audit(
        &mut self,
        entries: &[wit::AuditEntry],
        context: &wit::ChangeContext,
    ) -> Result<Vec<wit::AuditFinding>, PolicyFailure> {
        let entries: Vec<policy::AuditEntry> =
            entries.iter().cloned().map(audit_entry_in).collect();
        Ok(self
            .0
            .audit(&entries, &context_in(context.clone()))
            .into_iter()
            .map(finding_out)
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
            .map_err(token_error_out))
    }

    fn migrate_legacy_scopes(&mut self, scopes: &[String]) -> Result<Vec<String>, PolicyFailure> {
        Ok(policy::scope::migrate_legacy(scopes))
    }

    fn normalize_scopes(
        &mut self,
        scopes: &[String],
    ) -> Result<Result<Vec<String>, String>, PolicyFailure> {
        Ok(policy::scope::normalize(scopes))
    }
}

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
        let mut entropy = [0u8; policy::token::ENTROPY_BYTES];
        let entropy = getrandom::fill(&mut entropy).ok().map(|()| &entropy);
        Ok(self
            .0
            .issue(&issue_in(r.clone()), entropy)
            .map(|t| wit::IssuedToken {
                secret: t.secret,
                record: record_out(t.record),
            })
            .map_err(issue_error_out))
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

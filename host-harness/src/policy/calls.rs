//! Each call of the [`Policy`] trait as a call into the component, on the live instance
//! (with the caller's facts lent for the calls that decide).

use super::{Policy, PolicyFailure, WasmPolicy};
use crate::facts::{FactSource, Gathered};
use crate::wit::*;

impl Policy for WasmPolicy {
    fn verify(
        &mut self,
        credential: &Credential,
    ) -> Result<Result<Option<VerifiedToken>, TokenError>, PolicyFailure> {
        self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .call_verify(&mut l.store, l.authorizer, credential)
        })
    }

    fn authorize(
        &mut self,
        request: &AuthorizeRequest,
        facts: &dyn FactSource,
    ) -> Result<(Decision, Gathered), PolicyFailure> {
        self.lend(facts, |l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .call_authorize(&mut l.store, l.authorizer, request)
        })
    }

    fn authorize_batch(
        &mut self,
        request: &BatchRequest,
        facts: &dyn FactSource,
    ) -> Result<(Vec<Decision>, Gathered), PolicyFailure> {
        self.lend(facts, |l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .call_authorize_batch(&mut l.store, l.authorizer, request)
        })
    }

    fn ref_permissions(
        &mut self,
        request: &RefPermissionsRequest,
        facts: &dyn FactSource,
    ) -> Result<(RefGrants, Gathered), PolicyFailure> {
        self.lend(facts, |l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .call_ref_permissions(&mut l.store, l.authorizer, request)
        })
    }

    fn issue(
        &mut self,
        request: &IssueRequest,
    ) -> Result<Result<IssuedToken, IssueError>, PolicyFailure> {
        self.call(|l| {
            l.bindings.forge_authz_authorizer().authorizer().call_issue(
                &mut l.store,
                l.authorizer,
                request,
            )
        })
    }

    fn inspect(&mut self, secret: &str) -> Result<Result<TokenInfo, TokenError>, PolicyFailure> {
        self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .call_inspect(&mut l.store, secret)
        })
    }

    fn derive_child(
        &mut self,
        request: &ChildRequest,
    ) -> Result<Result<ChildOutcome, LifecycleError>, PolicyFailure> {
        self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .call_derive_child(&mut l.store, l.authorizer, request)
        })
    }

    fn rotate(
        &mut self,
        request: &RotateRequest,
    ) -> Result<Result<Rotation, LifecycleError>, PolicyFailure> {
        self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .call_rotate(&mut l.store, l.authorizer, request)
        })
    }

    fn plan_revoke(
        &mut self,
        id: &str,
        scope: RevokeScope,
        records: &[TokenRecord],
        context: &ChangeContext,
    ) -> Result<Result<ChangePlan, LifecycleError>, PolicyFailure> {
        self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .call_plan_revoke(&mut l.store, l.authorizer, id, scope, records, context)
        })
    }

    fn plan_edit(
        &mut self,
        id: &str,
        edit: &TokenEdit,
        records: &[TokenRecord],
        context: &ChangeContext,
    ) -> Result<Result<ChangePlan, LifecycleError>, PolicyFailure> {
        self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .call_plan_edit(&mut l.store, l.authorizer, id, edit, records, context)
        })
    }

    fn plan_expire(
        &mut self,
        entries: &[AuditEntry],
        context: &ChangeContext,
    ) -> Result<Vec<HistoryEvent>, PolicyFailure> {
        self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .call_plan_expire(&mut l.store, l.authorizer, entries, context)
        })
    }

    fn audit(
        &mut self,
        entries: &[AuditEntry],
        context: &ChangeContext,
    ) -> Result<Vec<AuditFinding>, PolicyFailure> {
        self.call(|l| {
            l.bindings.forge_authz_authorizer().authorizer().call_audit(
                &mut l.store,
                l.authorizer,
                entries,
                context,
            )
        })
    }

    fn migrate_legacy_scopes(&mut self, scopes: &[String]) -> Result<Vec<String>, PolicyFailure> {
        self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .call_migrate_legacy_scopes(&mut l.store, scopes)
        })
    }

    fn normalize_scopes(
        &mut self,
        scopes: &[String],
    ) -> Result<Result<Vec<String>, ScopeError>, PolicyFailure> {
        self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .call_normalize_scopes(&mut l.store, scopes)
        })
    }
}

//! Each call of the [`Policy`] trait as a call into the component, on the live instance
//! (with the caller's facts lent for the calls that decide).
//!
//! One table: each row names the trait method, its arguments and what it returns, and the
//! component export it calls — on the `authorizer` resource (`resource`), the same with the
//! caller's facts lent for the call (`lend`), or a plain function of the interface
//! (`function`). The macro writes the same body for every row, so no call can differ from
//! the others in how it reaches the instance or reports a failure.

use super::{Policy, PolicyFailure, WasmPolicy};
use crate::facts::{FactSource, Gathered};
use crate::wit::*;

/// The body of one call (see the module's table).
macro_rules! body {
    (resource $self:ident $export:ident ($($arg:ident),*)) => {
        $self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .$export(&mut l.store, l.authorizer $(, $arg)*)
        })
    };
    (lend $self:ident $facts:ident $export:ident ($($arg:ident),*)) => {
        $self.lend($facts, |l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .$export(&mut l.store, l.authorizer $(, $arg)*)
        })
    };
    (function $self:ident $export:ident ($($arg:ident),*)) => {
        $self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .$export(&mut l.store $(, $arg)*)
        })
    };
}

/// The [`Policy`] methods, one row each.
macro_rules! calls {
    ($(
        $how:ident fn $name:ident($($arg:ident: $ty:ty),*) $(with $facts:ident)? -> $ret:ty = $export:ident;
    )*) => {
        impl Policy for WasmPolicy {
            $(
                fn $name(
                    &mut self,
                    $($arg: $ty,)*
                    $($facts: &dyn FactSource,)?
                ) -> Result<$ret, PolicyFailure> {
                    body!($how self $($facts)? $export ($($arg),*))
                }
            )*
        }
    };
}

calls! {
    resource fn verify(credential: &Credential)
        -> Result<Option<VerifiedToken>, TokenError> = call_verify;
    lend fn authorize(request: &AuthorizeRequest) with facts
        -> (Decision, Gathered) = call_authorize;
    lend fn authorize_batch(request: &BatchRequest) with facts
        -> (Vec<Decision>, Gathered) = call_authorize_batch;
    lend fn ref_permissions(request: &RefPermissionsRequest) with facts
        -> (RefGrants, Gathered) = call_ref_permissions;
    resource fn issue(request: &IssueRequest)
        -> Result<IssuedToken, IssueError> = call_issue;
    function fn inspect(secret: &str)
        -> Result<TokenInfo, TokenError> = call_inspect;
    resource fn derive_child(request: &ChildRequest)
        -> Result<ChildOutcome, LifecycleError> = call_derive_child;
    resource fn rotate(request: &RotateRequest)
        -> Result<Rotation, LifecycleError> = call_rotate;
    resource fn plan_revoke(
        id: &str,
        scope: RevokeScope,
        records: &[TokenRecord],
        context: &ChangeContext
    ) -> Result<ChangePlan, LifecycleError> = call_plan_revoke;
    resource fn plan_edit(
        id: &str,
        edit: &TokenEdit,
        records: &[TokenRecord],
        context: &ChangeContext
    ) -> Result<ChangePlan, LifecycleError> = call_plan_edit;
    resource fn plan_expire(entries: &[AuditEntry], context: &ChangeContext)
        -> Vec<HistoryEvent> = call_plan_expire;
    resource fn audit(entries: &[AuditEntry], context: &ChangeContext)
        -> Vec<AuditFinding> = call_audit;
    function fn migrate_legacy_scopes(scopes: &[String])
        -> Vec<String> = call_migrate_legacy_scopes;
    function fn normalize_scopes(scopes: &[String])
        -> Result<Vec<String>, ScopeError> = call_normalize_scopes;
}

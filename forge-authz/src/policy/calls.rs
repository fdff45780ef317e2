//! The [`Policy`] trait's calls, listed once, and the three things written from the list:
//! the trait itself, its implementation as calls into the component ([`WasmPolicy`]) and
//! the implementation that fails every call ([`Unavailable`]).
//!
//! One table ([`policy_calls!`]): each row names the trait method, its arguments and what it
//! returns, and the component export it calls — on the `authorizer` resource (`resource`),
//! the same with the caller's facts lent for the call (`lend`), or a plain function of the
//! interface (`function`). The macros write the same body for every row, so no call can
//! differ from the others in how it reaches the instance or reports a failure, and a new
//! export is one new row.

use super::{PolicyFailure, WasmPolicy};
use crate::facts::{FactSource, Gathered};
use crate::wit::*;

/// The policy when the module cannot be instantiated: every call is a [`PolicyFailure`].
#[derive(Debug, Clone, Copy)]
pub struct Unavailable;

/// The table: calls `$then!` with every row.
macro_rules! policy_calls {
    ($then:ident) => {
        $then! {
            /// `authorizer.verify`.
            resource fn verify(credential: &Credential)
                -> Result<Option<VerifiedToken>, TokenError> = call_verify;
            /// `authorizer.authorize`, with `facts` answering the policy's query; returns
            /// the decision and what the answer taught the host.
            lend fn authorize(request: &AuthorizeRequest) with facts
                -> (Decision, Gathered) = call_authorize;
            /// `authorizer.authorize-batch`, and what the answers taught the host.
            lend fn authorize_batch(request: &BatchRequest) with facts
                -> (Vec<Decision>, Gathered) = call_authorize_batch;
            /// `authorizer.ref-permissions`, and what the answer taught the host.
            lend fn ref_permissions(request: &RefPermissionsRequest) with facts
                -> (RefGrants, Gathered) = call_ref_permissions;
            /// `authorizer.issue`.
            resource fn issue(request: &IssueRequest)
                -> Result<IssuedToken, IssueError> = call_issue;
            /// `inspect` (no key needed).
            function fn inspect(secret: &str)
                -> Result<TokenInfo, TokenError> = call_inspect;
            /// `authorizer.derive-child`.
            resource fn derive_child(request: &ChildRequest)
                -> Result<ChildOutcome, LifecycleError> = call_derive_child;
            /// `authorizer.rotate`.
            resource fn rotate(request: &RotateRequest)
                -> Result<Rotation, LifecycleError> = call_rotate;
            /// `authorizer.plan-revoke`.
            resource fn plan_revoke(
                id: &str,
                scope: RevokeScope,
                records: &[TokenRecord],
                context: &ChangeContext
            ) -> Result<ChangePlan, LifecycleError> = call_plan_revoke;
            /// `authorizer.plan-edit`.
            resource fn plan_edit(
                id: &str,
                edit: &TokenEdit,
                records: &[TokenRecord],
                context: &ChangeContext
            ) -> Result<ChangePlan, LifecycleError> = call_plan_edit;
            /// `authorizer.plan-expire`.
            resource fn plan_expire(entries: &[AuditEntry], context: &ChangeContext)
                -> Vec<HistoryEvent> = call_plan_expire;
            /// `authorizer.audit`.
            resource fn audit(entries: &[AuditEntry], context: &ChangeContext)
                -> Vec<AuditFinding> = call_audit;
            /// `migrate-legacy-scopes`.
            function fn migrate_legacy_scopes(scopes: &[String])
                -> Vec<String> = call_migrate_legacy_scopes;
            /// `normalize-scopes`.
            function fn normalize_scopes(scopes: &[String])
                -> Result<Vec<String>, ScopeError> = call_normalize_scopes;
        }
    };
}

/// The trait, from the table.
macro_rules! declare {
    ($(
        $(#[$doc:meta])*
        $how:ident fn $name:ident($($arg:ident: $ty:ty),*) $(with $facts:ident)? -> $ret:ty = $export:ident;
    )*) => {
        /// The operations a host asks of a policy. Implemented by [`WasmPolicy`] (the
        /// component), by [`Unavailable`] (no instance: every call fails) and, in the test
        /// suite, by the natively compiled core: the scenario corpus runs against both
        /// through this trait. The outer `Result` is "could the policy run", the inner one
        /// the policy's own answer (as in the WIT).
        pub trait Policy {
            $(
                $(#[$doc])*
                fn $name(
                    &mut self,
                    $($arg: $ty,)*
                    $($facts: &dyn FactSource,)?
                ) -> Result<$ret, PolicyFailure>;
            )*
        }
    };
}

/// [`Unavailable`]: every call is a [`PolicyFailure`], so a decision is a `policy-failure`
/// deny and any other call an error.
macro_rules! unavailable {
    ($(
        $(#[$doc:meta])*
        $how:ident fn $name:ident($($arg:ident: $ty:ty),*) $(with $facts:ident)? -> $ret:ty = $export:ident;
    )*) => {
        impl Policy for Unavailable {
            $(
                fn $name(
                    &mut self,
                    $(_: $ty,)*
                    $(_: with_facts!($facts),)?
                ) -> Result<$ret, PolicyFailure> {
                    Err(PolicyFailure(
                        "no policy instance (the module could not be instantiated)".into(),
                    ))
                }
            )*
        }
    };
}

/// The facts argument's type (a row's `with facts`).
macro_rules! with_facts {
    ($facts:ident) => {
        &dyn FactSource
    };
}

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

/// [`WasmPolicy`]: each call into the component.
macro_rules! component {
    ($(
        $(#[$doc:meta])*
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

policy_calls!(declare);
policy_calls!(component);
policy_calls!(unavailable);

//! The [`Policy`] trait's calls, listed once, and what is written from the list: the trait
//! itself, its implementation as calls into the component ([`WasmPolicy`]), the
//! implementation that fails every call ([`Unavailable`]) and, in the test suite, the
//! natively compiled core (`tests/src/native.rs`, through the exported macros).
//!
//! One table ([`policy_calls!`]): each row names the trait method, its arguments and what it
//! returns, and the component export it calls — on the `authorizer` resource (`resource`),
//! the same given fresh entropy (`mint`), the same with the caller's facts lent for the call
//! (`lend`), or a plain function of the interface (`function`). [`implement_policy!`] writes
//! every method of an implementation from its rows, with one body macro for the whole
//! implementation, so no call can differ from the others in how it reaches the instance or
//! reports a failure, and a new export is one new row.

use super::{PolicyFailure, WasmPolicy};
use crate::facts::Gathered;
use crate::wit;

/// The policy when the module cannot be instantiated: every call is a [`PolicyFailure`].
#[derive(Debug, Clone, Copy)]
pub struct Unavailable;

/// The table: calls `$then!` with what follows `$then`, `;`, then every row. Where it is
/// used, its `wit::…` types are `forge_authz_host::wit`'s and `Gathered` is
/// `forge_authz_host::facts::Gathered`.
#[macro_export]
macro_rules! policy_calls {
    ($then:ident $(, $pass:tt)*) => {
        $then! {
            $($pass)*;
            /// `authorizer.verify`.
            resource fn verify(credential: &wit::Credential)
                -> Result<Option<wit::VerifiedToken>, wit::TokenError> = call_verify;
            /// `authorizer.authorize`, with `facts` answering the policy's query; returns
            /// the decision and what the answer taught the host.
            lend fn authorize(request: &wit::AuthorizeRequest) with facts
                -> (wit::Decision, Gathered) = call_authorize;
            /// `authorizer.authorize-batch`, and what the answers taught the host.
            lend fn authorize_batch(request: &wit::BatchRequest) with facts
                -> (Vec<wit::Decision>, Gathered) = call_authorize_batch;
            /// `authorizer.ref-permissions`, and what the answer taught the host.
            lend fn ref_permissions(request: &wit::RefPermissionsRequest) with facts
                -> (wit::RefGrants, Gathered) = call_ref_permissions;
            /// `authorizer.issue`.
            mint fn issue(request: &wit::IssueRequest)
                -> Result<wit::IssuedToken, wit::IssueError> = call_issue;
            /// `inspect` (no key needed).
            function fn inspect(secret: &str)
                -> Result<wit::TokenInfo, wit::TokenError> = call_inspect;
            /// `authorizer.derive-child`.
            mint fn derive_child(request: &wit::ChildRequest)
                -> Result<wit::ChildOutcome, wit::LifecycleError> = call_derive_child;
            /// `authorizer.rotate`.
            mint fn rotate(request: &wit::RotateRequest)
                -> Result<wit::Rotation, wit::LifecycleError> = call_rotate;
            /// `authorizer.plan-revoke`.
            resource fn plan_revoke(
                id: &str,
                scope: wit::RevokeScope,
                records: &[wit::TokenRecord],
                context: &wit::ChangeContext
            ) -> Result<wit::ChangePlan, wit::LifecycleError> = call_plan_revoke;
            /// `authorizer.plan-edit`.
            resource fn plan_edit(
                id: &str,
                edit: &wit::TokenEdit,
                records: &[wit::TokenRecord],
                context: &wit::ChangeContext
            ) -> Result<wit::ChangePlan, wit::LifecycleError> = call_plan_edit;
            /// `authorizer.plan-expire`.
            resource fn plan_expire(entries: &[wit::AuditEntry], context: &wit::ChangeContext)
                -> Vec<wit::HistoryEvent> = call_plan_expire;
            /// `authorizer.audit`.
            resource fn audit(entries: &[wit::AuditEntry], context: &wit::ChangeContext)
                -> Vec<wit::AuditFinding> = call_audit;
            /// `migrate-legacy-scopes`.
            function fn migrate_legacy_scopes(scopes: &[String])
                -> Vec<String> = call_migrate_legacy_scopes;
            /// `normalize-scopes`.
            function fn normalize_scopes(scopes: &[String])
                -> Result<Vec<String>, wit::ScopeError> = call_normalize_scopes;
        }
    };
}

/// The trait, from the table.
macro_rules! declare {
    (; $(
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
                $crate::policy_method! {
                    ; $(#[$doc])* self $name($($arg: $ty),*) $(with $facts)? -> $ret
                }
            )*
        }
    };
}

/// One method of [`Policy`], its signature from a row: after a first `;` it is declared,
/// after a first block the block is its body (`$self` is `self`, passed in so that the body
/// may use it).
#[doc(hidden)]
#[macro_export]
macro_rules! policy_method {
    (
        $end:tt $(#[$doc:meta])* $self:ident $name:ident($($arg:ident: $ty:ty),*)
            $(with $facts:ident)? -> $ret:ty
    ) => {
        $(#[$doc])*
        fn $name(
            &mut $self,
            $($arg: $ty,)*
            $($facts: &dyn $crate::facts::FactSource,)?
        ) -> Result<$ret, $crate::policy::PolicyFailure> $end
    };
}

/// `impl Policy for $for`, every method from its row of the table, its body written by
/// the macro `$body` from `$how self [facts] $name $export ($arg, ...)` (`[]` where the
/// row lends no facts).
#[macro_export]
macro_rules! implement_policy {
    ($for:ident $body:ident; $(
        $(#[$doc:meta])*
        $how:ident fn $name:ident($($arg:ident: $ty:ty),*) $(with $facts:ident)? -> $ret:ty = $export:ident;
    )*) => {
        impl $crate::policy::Policy for $for {
            $(
                $crate::policy_method! {
                    { $body!($how self [$($facts)?] $name $export ($($arg),*)) }
                    self $name($($arg: $ty),*) $(with $facts)? -> $ret
                }
            )*
        }
    };
}

/// [`Unavailable`]: every call is a [`PolicyFailure`], so a decision is a `policy-failure`
/// deny and any other call an error (the arguments are not looked at).
macro_rules! unavailable {
    ($how:ident $self:ident [$($facts:ident)?] $name:ident $export:ident ($($arg:ident),*)) => {{
        let _ = ($($arg,)* $($facts,)?);
        Err(PolicyFailure(
            "no policy instance (the module could not be instantiated)".into(),
        ))
    }};
}

/// [`WasmPolicy`]: each call into the component (see the module's table).
macro_rules! component {
    (resource $self:ident [] $name:ident $export:ident ($($arg:ident),*)) => {
        $self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .$export(&mut l.store, l.authorizer $(, $arg)*)
        })
    };
    (mint $($call:tt)*) => {
        component!(resource $($call)*)
    };
    (lend $self:ident [$facts:ident] $name:ident $export:ident ($($arg:ident),*)) => {
        $self.lend($facts, |l| {
            l.bindings
                .forge_authz_authorizer()
                .authorizer()
                .$export(&mut l.store, l.authorizer $(, $arg)*)
        })
    };
    (function $self:ident [] $name:ident $export:ident ($($arg:ident),*)) => {
        $self.call(|l| {
            l.bindings
                .forge_authz_authorizer()
                .$export(&mut l.store $(, $arg)*)
        })
    };
}

policy_calls!(declare);
policy_calls!(implement_policy, WasmPolicy, component);
policy_calls!(implement_policy, Unavailable, unavailable);

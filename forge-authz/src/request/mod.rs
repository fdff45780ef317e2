//! The host's decision flow: a request file (read into the core's call by the fixture
//! crate) crossed into the component, and its answer back in the core's types.
//!
//! The flow is the same for every caller (CLI, tests, servers): one policy call per
//! request (`authorize`); the policy verifies the credential with no fact and then asks the
//! host's [`FactSource`] once for exactly the facts it needs. A policy failure (trap,
//! deadline, memory limit, a fact the store could not read) is a deny (`policy-failure`),
//! never an allow.

use forge_authz_fixture::flow::{self, Decide};
use forge_authz_guest::policy as core;

use crate::facts::{FactSource, Gathered};
use crate::policy::Policy;
use crate::wit;
use crate::wit::core as convert;
pub use forge_authz_fixture::decided::{
    Decided, DecisionOutput, Outcome, Permissions, RefDecided, RefVerdictOutput, TraceStepOutput,
    any_effect, outcome_output, permission_names, permissions_output,
};
pub use forge_authz_fixture::mint::MintOrder;
pub use forge_authz_fixture::request::{
    ActionDef, Call, CredentialDef, KindDef, RefUpdateDef, RequestDef, TransportDef, http_method,
    ref_change, repository_path,
};

/// A host policy (the component, or any [`Policy`]) answering the decision calls: each
/// core call crosses into WIT and its answer back, here and nowhere else.
struct Crossing<'a>(&'a mut dyn Policy);

/// [`Decide`] for [`Crossing`]: each decision call is the policy's call of the same name,
/// its request crossed out by `out` and its answer back by `back`; a policy failure is the
/// flow's `Err`.
macro_rules! crossing {
    ($(fn $name:ident($request:ty) -> $answer:ty = $out:path, $back:expr;)*) => {
        impl Decide for Crossing<'_> {
            $(
                fn $name(
                    &mut self,
                    request: $request,
                    facts: &dyn FactSource,
                ) -> Result<($answer, Gathered), String> {
                    let (answer, gathered) = self.0.$name(&$out(request), facts).map_err(|f| f.0)?;
                    Ok(($back(answer), gathered))
                }
            )*
        }
    };
}

crossing! {
    fn authorize(core::AuthorizeRequest) -> core::Decision =
        convert::authorize_out, convert::decision_in;
    fn authorize_batch(core::BatchRequest) -> Vec<core::Decision> =
        convert::batch_request_out,
        |list: Vec<wit::Decision>| list.into_iter().map(convert::decision_in).collect();
    fn ref_permissions(core::RefPermissionsRequest) -> core::RefGrants =
        convert::ref_permissions_request_out, convert::ref_grants_in;
}

/// Decide a request: one policy call, the policy asking `facts` for what it needs. `Err` is
/// a malformed request (the caller reports it); a policy failure is a deny inside the
/// outcome.
pub fn authorize(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<Outcome> {
    flow::authorize(&mut Crossing(policy), facts, request, now)
}

/// Decide a git, create or api request and report what was gathered for it.
pub fn authorize_gathered(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<(Decided, Gathered)> {
    flow::authorize_gathered(&mut Crossing(policy), facts, request, now)
}

/// Decide a request that must yield one decision (git, create, api). Malformed requests
/// are a `request-invalid`-style error for the caller.
pub fn authorize_one(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<Decided> {
    Ok(authorize_gathered(policy, facts, request, now)?.0)
}

/// Mint a token as its owner's session would ([`MintOrder::request`]) and add its record
/// to the world.
///
/// The outer error is "nothing was asked" (no such owner: the error is a plain message) or
/// "the policy could not answer" (a [`PolicyFailure`], found with `downcast_ref`); the
/// inner one is the policy's refusal.
pub fn mint(
    policy: &mut dyn Policy,
    world: &mut crate::world::World,
    order: MintOrder,
) -> anyhow::Result<Result<wit::IssuedToken, wit::IssueError>> {
    let request = convert::issue_request_out(order.request(world)?);
    let issued = policy.issue(&request)?;
    if let Ok(t) = &issued {
        world.add_token(&convert::record_in(t.record.clone()));
    }
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_request_field_is_named() {
        let e = crate::world::parse_json::<RequestDef>(
            r#"{"kind": "api", "method": "GET", "required_role": "owner"}"#,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            e.starts_with("required_role: unknown variant `owner`"),
            "{e}"
        );
    }
}

//! The scenario corpus (`fixture/src/scenario.rs`: format, loading, minting, running) on
//! the host's engines: the wasm component or the native core behind the host's `Policy`
//! trait, so that every scenario crosses the WIT boundary as `forge-authz decide` does.

use std::cell::RefCell;

use forge_authz_guest::policy as core;
use forge_authz_host::policy::Policy;
use forge_authz_host::request::{Outcome, RequestDef, authorize};
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;
use forge_authz_host::world::World;

use crate::recording::{BoundaryQuery, Recording};

pub use forge_authz_fixture::facts::FactSource;
pub use forge_authz_fixture::scenario::{
    EXPANDED_FORMAT, Expect, Family, Minted, PartExpect, Scenario, TokenSpec,
    concealment_mismatches, corpus_dir, load_corpus, mismatch, resolve, substitute,
};

/// Per decision, the calls its policy made to the host's facts (`expand`).
type QueryLog = RefCell<Vec<Vec<BoundaryQuery>>>;

/// A host `Policy` as the corpus runner's engine: each call crosses into WIT and back;
/// with a log, each decision's calls to the facts are recorded in it.
struct Hosted<'l, P> {
    policy: P,
    log: Option<&'l QueryLog>,
}

impl<P: Policy> forge_authz_fixture::scenario::Engine for Hosted<'_, P> {
    fn issue(
        &mut self,
        request: &core::IssueRequest,
    ) -> anyhow::Result<Result<core::IssuedToken, core::IssueError>> {
        let issued = self
            .policy
            .issue(&convert::issue_request_out(request.clone()))
            .map_err(|f| anyhow::anyhow!("{f}"))?;
        Ok(issued
            .map(convert::issued_in)
            .map_err(convert::issue_error_in))
    }

    fn decide(
        &mut self,
        facts: &dyn FactSource,
        request: &RequestDef,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let Some(log) = self.log else {
            return authorize(&mut self.policy, facts, request, now);
        };
        let recording = Recording::new(facts);
        let outcome = authorize(&mut self.policy, &recording, request, now);
        log.borrow_mut().push(recording.into_log());
        outcome
    }
}

/// A maker of host engines as the fixture's runner takes it, recording into `log` if any.
fn hosted<'a, P: Policy>(
    make: &'a dyn Fn(&wit::Config) -> anyhow::Result<P>,
    log: Option<&'a QueryLog>,
) -> impl Fn(&core::Config) -> anyhow::Result<Hosted<'a, P>> + 'a {
    move |c| make(&convert::config_out(c.clone())).map(|policy| Hosted { policy, log })
}

/// Build a policy for a world with `make`, mint the family's tokens, and return the
/// world with their records stored.
pub fn prepare<P: Policy>(
    fam: &Family,
    make: &dyn Fn(&wit::Config) -> anyhow::Result<P>,
) -> anyhow::Result<(P, World, Minted)> {
    let (engine, world, minted) = forge_authz_fixture::scenario::prepare(fam, &hosted(make, None))?;
    Ok((engine.policy, world, minted))
}

/// Run every scenario of a family on one engine; returns (scenario name, outcome as
/// printed by `forge-authz decide`).
pub fn run_family<P: Policy>(
    fam: &Family,
    make: &dyn Fn(&wit::Config) -> anyhow::Result<P>,
) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    forge_authz_fixture::scenario::run_family(fam, &hosted(make, None))
}

/// A family with everything a host in another language needs to replay it (issue 12; the
/// format is in `hosts/README.md`), and per scenario the calls the policy made to the
/// host's facts while deciding it: `"queries": [{"lookup": ..} | {"repositories": ..}]`,
/// as the boundary spells them (design §7; the SSH key resolved before the policy is not
/// one of them).
pub fn expand<P: Policy>(
    fam: &Family,
    make: &dyn Fn(&wit::Config) -> anyhow::Result<P>,
) -> anyhow::Result<serde_json::Value> {
    let log = QueryLog::default();
    let mut expanded = forge_authz_fixture::scenario::expand(fam, &hosted(make, Some(&log)))?;
    let decisions = log.into_inner();
    let scenarios = expanded
        .get_mut("scenarios")
        .and_then(serde_json::Value::as_array_mut)
        .ok_or_else(|| anyhow::anyhow!("{}: an expanded family without scenarios", fam.family))?;
    anyhow::ensure!(
        scenarios.len() == decisions.len(),
        "{}: {} scenarios expanded, {} decided",
        fam.family,
        scenarios.len(),
        decisions.len()
    );
    for (scenario, asked) in scenarios.iter_mut().zip(decisions) {
        let queries = asked
            .iter()
            .map(BoundaryQuery::value)
            .collect::<anyhow::Result<Vec<_>>>()?;
        scenario
            .as_object_mut()
            .ok_or_else(|| anyhow::anyhow!("{}: a scenario that is not an object", fam.family))?
            .insert("queries".into(), queries.into());
    }
    Ok(expanded)
}

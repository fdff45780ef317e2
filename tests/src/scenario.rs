//! The scenario corpus (`fixture/src/scenario.rs`: format, loading, minting, running) on
//! the host's engines: the wasm component or the native core behind the host's `Policy`
//! trait, so that every scenario crosses the WIT boundary as `forge-authz decide` does.

use forge_authz_guest::policy as core;
use forge_authz_host::policy::Policy;
use forge_authz_host::request::{Outcome, RequestDef, authorize};
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;
use forge_authz_host::world::World;

pub use forge_authz_fixture::facts::FactSource;
pub use forge_authz_fixture::scenario::{
    EXPANDED_FORMAT, Expect, Family, Minted, PartExpect, Scenario, TokenSpec,
    concealment_mismatches, corpus_dir, load_corpus, mismatch, resolve, substitute,
};

/// A host `Policy` as the corpus runner's engine: each call crosses into WIT and back.
struct Hosted<P>(P);

impl<P: Policy> forge_authz_fixture::scenario::Engine for Hosted<P> {
    fn issue(
        &mut self,
        request: &core::IssueRequest,
    ) -> anyhow::Result<Result<core::IssuedToken, core::IssueError>> {
        let issued = self
            .0
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
        authorize(&mut self.0, facts, request, now)
    }
}

/// A maker of host engines as the fixture's runner takes it.
fn hosted<P: Policy>(
    make: &dyn Fn(&wit::Config) -> anyhow::Result<P>,
) -> impl Fn(&core::Config) -> anyhow::Result<Hosted<P>> + '_ {
    move |c| make(&convert::config_out(c.clone())).map(Hosted)
}

/// Build a policy for a world with `make`, mint the family's tokens, and return the
/// world with their records stored.
pub fn prepare<P: Policy>(
    fam: &Family,
    make: &dyn Fn(&wit::Config) -> anyhow::Result<P>,
) -> anyhow::Result<(P, World, Minted)> {
    let (engine, world, minted) = forge_authz_fixture::scenario::prepare(fam, &hosted(make))?;
    Ok((engine.0, world, minted))
}

/// Run every scenario of a family on one engine; returns (scenario name, outcome as
/// printed by `forge-authz decide`).
pub fn run_family<P: Policy>(
    fam: &Family,
    make: &dyn Fn(&wit::Config) -> anyhow::Result<P>,
) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    forge_authz_fixture::scenario::run_family(fam, &hosted(make))
}

/// A family with everything a host in another language needs to replay it (issue 12; the
/// format is in `hosts/README.md`).
pub fn expand<P: Policy>(
    fam: &Family,
    make: &dyn Fn(&wit::Config) -> anyhow::Result<P>,
) -> anyhow::Result<serde_json::Value> {
    forge_authz_fixture::scenario::expand(fam, &hosted(make))
}

//! The publication gate (`forge-authz check`, and `publish` before it stores a module):
//! what a candidate module changes, known before it serves a single request.
//!
//! 1. The scenario corpus shipped in this binary ([`corpus`]): a scenario expected to deny
//!    that the candidate allows fails the gate (`corpus: widened`), and so does a hidden
//!    target that no longer answers as its missing twin (`corpus: concealment`); any other
//!    mismatch is a difference.
//! 2. The policy-independent invariants ([`invariants`]) over generated worlds and
//!    requests ([`generator`]), decided by the candidate through the same flow every host
//!    runs (`fixture::flow`, through the component); a failure names the invariant and the
//!    smallest failing case found, shrunk.
//! 3. A differential against the live module ([`differential`]) on the same generated
//!    requests and on the corpus: every changed decision, grouped by request kind and
//!    (reason before -> after), with a count and the smallest example of each.
//!
//! The report ([`report`]) is canonical JSON: the same (candidate, live module,
//! configuration, seed, cases) give the same bytes, so `publish --accept-differences`
//! can check that the reviewed report is the one it recomputes.

use forge_authz_guest::policy as core;

use crate::policy::{PolicyModule, WasmPolicy};
use crate::request::{Outcome, RequestDef, authorize};
use crate::wit;
use crate::world::{OptionsDef, World};

pub mod corpus;
pub mod differential;
pub mod generator;
pub mod invariants;
pub mod report;
pub mod shrink;

pub use report::{GateReport, Verdict};

/// Generated cases by default.
pub const DEFAULT_CASES: u64 = 10_000;
/// The seed by default.
pub const DEFAULT_SEED: u64 = 23;

/// How many cases, from which seed, at what time.
#[derive(Clone, Copy, Debug)]
pub struct GateOptions {
    /// Generated cases.
    pub cases: u64,
    /// Seed of the generator.
    pub seed: u64,
    /// The clock of every generated world (Unix seconds): a time-dependent site rule (a
    /// change freeze) is judged at this time. The corpus keeps its scenarios' own clocks.
    pub at: i64,
}

impl GateOptions {
    /// The default cases and seed, at `at`.
    pub fn at(at: i64) -> GateOptions {
        GateOptions {
            cases: DEFAULT_CASES,
            seed: DEFAULT_SEED,
            at,
        }
    }
}

/// One module's authorizer deciding requests files against worlds.
pub struct Judge {
    policy: WasmPolicy,
}

impl Judge {
    /// An authorizer of `module` for `config` (its `site` set to `site`). `Err`: the module
    /// refused the configuration or could not run.
    pub fn new(
        module: &PolicyModule,
        mut config: core::Config,
        site: &str,
    ) -> anyhow::Result<Judge> {
        config.site = site.to_string();
        let config = wit::core::config_out(config);
        match module.authorizer(config) {
            Ok(Ok(policy)) => Ok(Judge { policy }),
            Ok(Err(e)) => anyhow::bail!("the module refused the configuration: {}", e.describe()),
            Err(e) => anyhow::bail!("{e}"),
        }
    }

    /// The module's outcome for `request` in `world`, at the world's clock; `None`: the
    /// request is malformed there (e.g. its SSH key was removed by shrinking).
    pub fn decide(&mut self, world: &World, request: &RequestDef) -> Option<Outcome> {
        authorize(&mut self.policy, world, request, world.now()).ok()
    }
}

/// The options the gate's generated worlds run with: the configuration's.
fn options_of(config: &wit::Config) -> OptionsDef {
    let o = &config.options;
    OptionsDef {
        binding_fallback_to_anonymous: o.binding_fallback_to_anonymous,
        require_expiry: o.require_expiry,
        max_lifetime: o.max_lifetime,
        min_lifetime: o.min_lifetime,
    }
}

/// The smallest failing case of one invariant, and how many failed.
#[derive(Default)]
struct Failing {
    checked: u64,
    failed: u64,
    smallest: Option<generator::Case>,
}

/// Run the gate: `candidate` against `against` (the live module), with the options and
/// site data of `config` (its keys are never used: generated worlds have the gate's own
/// test keys, and the corpus its families' keys).
pub fn run(
    candidate: &PolicyModule,
    against: &PolicyModule,
    config: &wit::Config,
    options: GateOptions,
) -> anyhow::Result<GateReport> {
    let site = config.site.clone();
    let opts = options_of(config);
    let corpus = corpus::run(candidate, against, &site)?;
    let sample = generator::generate(options.seed, 0, &opts, options.at)?;
    let mut cand = Judge::new(candidate, sample.world.config()?, &site)?;
    let mut live = Judge::new(against, sample.world.config()?, &site)?;
    let mut failing: Vec<Failing> = invariants::ALL.iter().map(|_| Failing::default()).collect();
    let mut diff = differential::Differences::default();
    let (mut undecided, mut allowed) = (0, 0);
    for index in 0..options.cases {
        let case = generator::generate(options.seed, index, &opts, options.at)?;
        let Some(outcome) = cand.decide(&case.world, &case.request) else {
            undecided += 1;
            continue;
        };
        allowed += u64::from(invariants::grants(&outcome));
        for (inv, f) in invariants::ALL.iter().zip(failing.iter_mut()) {
            if !inv.applies(&case) {
                continue;
            }
            f.checked += 1;
            if inv.check(&case, &outcome, &mut cand).is_some() {
                f.failed += 1;
                if f.smallest.as_ref().is_none_or(|s| case.size() < s.size()) {
                    f.smallest = Some(case.clone());
                }
            }
        }
        if let Some(before) = live.decide(&case.world, &case.request) {
            diff.add(&case, &before, &outcome);
        }
    }
    let invariants = invariant_results(failing, &mut cand);
    let differences = diff.finish(&corpus.changed, &mut cand, &mut live);
    Ok(GateReport::new(
        report::Header {
            candidate: candidate.sha256().to_string(),
            against: against.sha256().to_string(),
            options: serde_json::to_value(&opts)?,
            site_sha256: report::sha256_hex(site.as_bytes()),
            seed: options.seed,
            cases: options.cases,
            at: options.at,
            undecided,
            allowed,
        },
        corpus.result,
        invariants,
        differences,
    ))
}

/// Each invariant's result, its smallest failing case shrunk.
fn invariant_results(failing: Vec<Failing>, cand: &mut Judge) -> Vec<report::InvariantResult> {
    invariants::ALL
        .iter()
        .zip(failing)
        .map(|(inv, f)| {
            let counterexample = f.smallest.map(|case| {
                let mut fails = |c: &generator::Case| {
                    inv.applies(c)
                        && cand
                            .decide(&c.world, &c.request)
                            .is_some_and(|o| inv.check(c, &o, cand).is_some())
                };
                let case = shrink::shrink(case, &mut fails);
                let detail = cand
                    .decide(&case.world, &case.request)
                    .and_then(|o| inv.check(&case, &o, cand))
                    .unwrap_or_default();
                report::Example::of(&case, detail)
            });
            report::InvariantResult {
                name: inv.name().to_string(),
                checked: f.checked,
                failed: f.failed,
                counterexample,
            }
        })
        .collect()
}

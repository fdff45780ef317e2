//! `forge-authz check`: the publication gate on a candidate module (see
//! [`crate::gate`]), and the gate `publish` runs before it stores a module.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::{JsonArgs, PolicyArgs};
use crate::gate::{self, GateOptions, GateReport, Verdict};
use crate::policy::{EMBEDDED_POLICY_NAME, Limits, PolicyModule};
use crate::store::{Location, Store, modules};
use crate::wit;

/// `forge-authz check`
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 the gate passes and nothing differs from the live \
module; 1 an invariant or the corpus fails (the module must not be published); 3 no \
failure, but decisions differ (publish them with `publish --accept-differences REPORT`); \
2 a usage or input error."
)]
pub struct CheckArgs {
    /// The candidate module (`.wasm` component).
    pub candidate: PathBuf,
    /// The live module to compare with (default: the module embedded in this binary).
    #[arg(long, conflicts_with = "db")]
    pub against: Option<PathBuf>,
    /// Or a store: its fleet's live module (the embedded one if none is published) and
    /// its configuration's options and site data.
    #[arg(long, value_parser = super::parse_location)]
    pub db: Option<Location>,
    /// Site data (JSON) for both modules' `config.site` (overrides the store's).
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// Generated cases for the invariants and the differential.
    #[arg(long, default_value_t = gate::DEFAULT_CASES)]
    pub cases: u64,
    /// Seed of the case generator (same seed, same cases, same report).
    #[arg(long, default_value_t = gate::DEFAULT_SEED)]
    pub seed: u64,
    /// The generated worlds' clock, in Unix seconds (`date -d 2026-12-24 +%s`); default
    /// now. A time-dependent site rule (a change freeze) is judged at this time; the
    /// report states it, and `publish --accept-differences` recomputes at the time the
    /// report states.
    #[arg(long, allow_negative_numbers = true)]
    pub at: Option<i64>,
    /// Write the canonical report (JSON) here: what `publish --accept-differences` takes.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print the report (JSON) instead of the summary.
    #[command(flatten)]
    pub out: JsonArgs,
}

/// The configuration without a store: default options, no site data (the gate never
/// uses a configuration's keys).
fn default_config() -> anyhow::Result<wit::Config> {
    wit::world_config(&crate::world::World::default())
}

/// The fleet's live module in `store` (the embedded one when none is published).
pub fn fleet_live(store: &mut Store, limits: Limits) -> anyhow::Result<PolicyModule> {
    let state = modules::state(store.conn())?;
    match state.live {
        Some(m) => {
            let bytes = modules::bytes(store.conn(), &m)?;
            let source = PathBuf::from(format!("<fleet version {}>", m.version));
            PolicyModule::from_bytes(&bytes, limits, source).map_err(|e| anyhow::anyhow!("{e:#}"))
        }
        None => load(Path::new(EMBEDDED_POLICY_NAME), limits),
    }
}

fn load(path: &Path, limits: Limits) -> anyhow::Result<PolicyModule> {
    PolicyModule::load(path, limits).map_err(|e| anyhow::anyhow!("{e:#}"))
}

/// `forge-authz check`
pub fn check(p: &PolicyArgs, a: CheckArgs) -> anyhow::Result<u8> {
    let limits = p.limits();
    let candidate = load(&a.candidate, limits)?;
    let (against, mut config) = match &a.db {
        Some(db) => {
            let mut store = super::open::open_store(db)?;
            (fleet_live(&mut store, limits)?, store.settings()?.config)
        }
        None => {
            let path = a
                .against
                .clone()
                .unwrap_or_else(|| PathBuf::from(EMBEDDED_POLICY_NAME));
            (load(&path, limits)?, default_config()?)
        }
    };
    if let Some(site) = &a.site {
        config.site = std::fs::read_to_string(site)
            .with_context(|| format!("reading site data {}", site.display()))?;
    }
    let options = GateOptions {
        cases: a.cases,
        seed: a.seed,
        at: a.at.unwrap_or_else(crate::world::system_now),
    };
    let started = std::time::Instant::now();
    let report = gate::run(&candidate, &against, &config, options)?;
    if let Some(path) = &a.report {
        std::fs::write(path, report.canonical())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if a.out.json {
        outln!("{}", report.canonical().trim_end());
    } else {
        outln!("{}", report.summary());
        eprintln!(
            "{} cases in {:.1} s",
            a.cases,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(report.verdict.exit_code())
}

/// The gate as `publish` runs it on a module about to be published in `store`: an
/// invariant or corpus failure refuses; differences from the fleet's live module need
/// `accepted`, the reviewed report, whose bytes must hash as the report recomputed here
/// with the seed and case count it states (without one: the defaults, 10,000 cases).
/// Returns the accepted report's SHA-256 for the publication log (None: nothing differs,
/// or the module is the live one byte for byte, which changes nothing).
pub fn publication_gate(
    store: &mut Store,
    bytes: &[u8],
    source: &Path,
    limits: Limits,
    accepted: Option<&Path>,
) -> anyhow::Result<Option<String>> {
    let candidate = PolicyModule::from_bytes(bytes, limits, source.to_path_buf())
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let against = fleet_live(store, limits)?;
    if candidate.sha256() == against.sha256() {
        return Ok(None);
    }
    let reviewed = match accepted {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let options = reviewed.as_deref().map_or_else(
        || Ok(GateOptions::at(crate::world::system_now())),
        stated_options,
    )?;
    let config = store.settings()?.config;
    let report = gate::run(&candidate, &against, &config, options)?;
    accept(&report, accepted.zip(reviewed.as_deref()))
}

/// The seed, case count and clock a reviewed report states.
fn stated_options(report: &[u8]) -> anyhow::Result<GateOptions> {
    let v: serde_json::Value = serde_json::from_slice(report)
        .context("the accepted report is not a gate report (JSON)")?;
    let number = |key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_u64)
            .with_context(|| format!("the accepted report states no `{key}`"))
    };
    Ok(GateOptions {
        cases: number("cases")?,
        seed: number("seed")?,
        at: v
            .get("at")
            .and_then(serde_json::Value::as_i64)
            .context("the accepted report states no `at`")?,
    })
}

/// Whether `report` may be published, given the reviewed report (its file and bytes).
fn accept(report: &GateReport, reviewed: Option<(&Path, &[u8])>) -> anyhow::Result<Option<String>> {
    match report.verdict {
        Verdict::Pass => Ok(None),
        Verdict::Fail => bail!(
            "not published: the gate fails (`forge-authz check` shows the report)\n{}",
            report.summary()
        ),
        Verdict::Differences => {
            let Some((path, bytes)) = reviewed else {
                bail!(
                    "not published: the module changes decisions; review `forge-authz check MODULE --db DB --report R` and pass --accept-differences R\n{}",
                    report.summary()
                );
            };
            let (got, want) = (gate::report::sha256_hex(bytes), report.sha256());
            if got != want {
                bail!(
                    "not published: {} (sha256 {got}) is not the gate report of this module against the live one with this configuration (sha256 {want}): check again and review the new report",
                    path.display()
                );
            }
            Ok(Some(want))
        }
    }
}

//! The gate's report: canonical JSON (fields in a fixed order, every list sorted, no time,
//! no path), so its SHA-256 names one (candidate, live module, configuration, seed, cases)
//! and a person's reviewed copy can be checked against the one `publish` recomputes; and a
//! short text for people.

use serde::Serialize;
use sha2::Digest as _;

use super::generator::Case;

/// The report's format version.
pub const FORMAT: u32 = 1;

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// What was compared, with what.
#[derive(Clone, Debug, Serialize)]
pub struct Header {
    /// SHA-256 of the candidate's bytes.
    pub candidate: String,
    /// SHA-256 of the live module's bytes.
    pub against: String,
    /// The policy options the generated worlds ran with.
    pub options: serde_json::Value,
    /// SHA-256 of the site data (`config.site`) both modules ran with.
    pub site_sha256: String,
    /// The generator's seed.
    pub seed: u64,
    /// Generated cases.
    pub cases: u64,
    /// The generated worlds' clock (Unix seconds).
    pub at: i64,
    /// Generated cases no module could be asked (a malformed request; expected 0).
    pub undecided: u64,
    /// Generated cases the candidate allowed (in part: a batch target, a ref permission).
    pub allowed: u64,
}

/// A failing or changed case, as files `forge-authz decide --world W --request R`
/// reads, and what happened.
#[derive(Clone, Debug, Serialize)]
pub struct Example {
    /// Its size (entities and request parts): the smallest found, shrunk.
    pub size: usize,
    /// The world.
    pub world: serde_json::Value,
    /// The request.
    pub request: serde_json::Value,
    /// What happened.
    pub detail: String,
}

impl Example {
    /// A case as an example.
    pub fn of(case: &Case, detail: String) -> Example {
        Example {
            size: case.size(),
            world: serde_json::to_value(&case.world).unwrap_or_default(),
            request: serde_json::to_value(&case.request).unwrap_or_default(),
            detail,
        }
    }
}

/// One invariant's result.
#[derive(Clone, Debug, Serialize)]
pub struct InvariantResult {
    /// Its name.
    pub name: String,
    /// Cases it applied to.
    pub checked: u64,
    /// Cases that broke it.
    pub failed: u64,
    /// The smallest case that broke it, shrunk.
    pub counterexample: Option<Example>,
}

/// One corpus scenario that failed or differs from its expectation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CorpusEntry {
    /// `family/scenario`.
    pub scenario: String,
    /// `widened`, `concealment`, `refused`, `undecided`, or `narrowed or otherwise changed`.
    pub what: String,
    /// Expected and got.
    pub detail: String,
}

/// The corpus's result.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CorpusResult {
    /// Scenarios run.
    pub scenarios: u64,
    /// Scenarios that fail the gate.
    pub failures: Vec<CorpusEntry>,
    /// Scenarios whose expectation the candidate no longer meets, without widening.
    pub differences: Vec<CorpusEntry>,
}

/// Changed decisions of one request kind and one (before, after).
#[derive(Clone, Debug, Serialize)]
pub struct DifferenceGroup {
    /// Request kind (`git-push`, `api-write`, ...).
    pub kind: String,
    /// The live module's reason.
    pub before: String,
    /// The candidate's reason.
    pub after: String,
    /// Generated cases with this change.
    pub generated: u64,
    /// Corpus scenarios with this change.
    pub corpus: Vec<String>,
    /// The smallest generated case with this change, shrunk.
    pub example: Option<Example>,
}

/// The gate's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// No failure, no difference: exit 0.
    Pass,
    /// An invariant or the corpus failed: exit 1.
    Fail,
    /// No failure, but decisions differ from the live module's or the corpus's: exit 3.
    Differences,
}

impl Verdict {
    /// The exit status of `forge-authz check`.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Differences => 3,
        }
    }
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct GateReport {
    /// [`FORMAT`].
    pub format: u32,
    /// Pass, fail or differences.
    pub verdict: Verdict,
    /// What was compared.
    #[serde(flatten)]
    pub header: Header,
    /// The corpus.
    pub corpus: CorpusResult,
    /// Every invariant, in a fixed order.
    pub invariants: Vec<InvariantResult>,
    /// Every change against the live module, by (kind, before, after).
    pub differences: Vec<DifferenceGroup>,
}

impl GateReport {
    /// The report of these results, with its verdict.
    pub fn new(
        header: Header,
        corpus: CorpusResult,
        invariants: Vec<InvariantResult>,
        differences: Vec<DifferenceGroup>,
    ) -> GateReport {
        let failed = !corpus.failures.is_empty() || invariants.iter().any(|i| i.failed > 0);
        let differs = !corpus.differences.is_empty() || !differences.is_empty();
        let verdict = if failed {
            Verdict::Fail
        } else if differs {
            Verdict::Differences
        } else {
            Verdict::Pass
        };
        GateReport {
            format: FORMAT,
            verdict,
            header,
            corpus,
            invariants,
            differences,
        }
    }

    /// The canonical text: pretty JSON and a newline. What `--report` writes and what
    /// `publish --accept-differences` hashes.
    pub fn canonical(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// SHA-256 of [`GateReport::canonical`].
    pub fn sha256(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }

    /// A summary for people.
    pub fn summary(&self) -> String {
        let mut out = Vec::new();
        let h = &self.header;
        out.push(format!(
            "candidate {} against {}\ncorpus: {} scenarios, {} failed, {} differ",
            h.candidate,
            h.against,
            self.corpus.scenarios,
            self.corpus.failures.len(),
            self.corpus.differences.len()
        ));
        for f in &self.corpus.failures {
            out.push(format!(
                "  FAIL corpus: {}: {}\n    {}",
                f.what, f.scenario, f.detail
            ));
        }
        out.push(format!(
            "invariants: {} generated cases (seed {}, at {}, {})",
            h.cases,
            h.seed,
            h.at,
            forge_authz_guest::site::time::utc(h.at)
        ));
        for i in &self.invariants {
            let state = if i.failed > 0 { "FAIL" } else { "ok  " };
            out.push(format!(
                "  {state} {} ({} checked, {} failed)",
                i.name, i.checked, i.failed
            ));
            if let Some(c) = &i.counterexample {
                out.push(format!(
                    "    minimal counterexample ({} entities and request parts): {}",
                    c.size, c.detail
                ));
                out.push(format!("    world:   {}", c.world));
                out.push(format!("    request: {}", c.request));
                out.push(
                    "    reproduce: save both, then `forge-authz decide --policy CANDIDATE \
                     --world W --request R` (with `--site FILE` if the gate ran with site data)"
                        .into(),
                );
            }
        }
        out.push(format!(
            "differences from the live module: {} groups",
            self.differences.len()
        ));
        for d in &self.differences {
            out.push(format!(
                "  {}: {} -> {}: {} generated, {} corpus",
                d.kind,
                d.before,
                d.after,
                d.generated,
                d.corpus.len()
            ));
        }
        out.push(format!(
            "verdict: {:?} (report sha256 {})",
            self.verdict,
            self.sha256()
        ));
        out.join("\n")
    }
}

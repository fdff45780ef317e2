//! The scenario corpus's checks, written once for its two runners: `guest/tests/corpus.rs`
//! (the core natively, for `cargo mutants`) and `tests/tests/corpus.rs` (native and wasm
//! through the host), which include this file with `#[path]`: a scenario well formed, an
//! engine's run of a family judged against its expectations, and the verdict over the
//! corpus.
// Each runner uses part of it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt::Display;

use forge_authz_fixture::scenario::{Family, Scenario, concealment_mismatches, mismatch};

/// A scenario of the family `family` is well formed: its name is new in the family
/// (`names` holds those seen), it cites a source and it expects something.
pub fn assert_well_formed<'a>(
    family: impl Display,
    names: &mut BTreeSet<&'a str>,
    sc: &'a Scenario,
) {
    assert!(
        names.insert(sc.name.as_str()),
        "{family}: duplicate scenario `{}`",
        sc.name
    );
    assert!(
        !sc.source.trim().is_empty(),
        "{family}: `{}` cites no source",
        sc.name
    );
    let e = &sc.expect;
    assert!(
        e.decision.is_some() || e.permissions.is_some() || e.batch.is_some(),
        "{family}: `{}` expects nothing",
        sc.name
    );
}

/// Every failure of one engine's `run` of `fam` (its outputs in the family's order): each
/// scenario that misses its expectation, then each target not concealed as its `conceals`
/// scenario's, as `{label}{family}: {what}`.
pub fn failures(label: &str, fam: &Family, run: &[(String, serde_json::Value)]) -> Vec<String> {
    let missed = fam
        .scenarios
        .iter()
        .zip(run)
        .filter_map(|(sc, (_, got))| mismatch(sc, got));
    missed
        .chain(concealment_mismatches(fam, run))
        .map(|m| format!("{label}{}: {m}", fam.family))
        .collect()
}

/// No scenario of the `count` run failed.
pub fn assert_none_failed(failures: &[String], count: usize) {
    assert!(
        failures.is_empty(),
        "{} of {count} scenarios failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

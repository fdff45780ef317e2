//! The scenario corpus shipped in this binary (`tests/scenarios/*.json`, embedded by
//! `build.rs`), run on the candidate and on the live module.
//!
//! Each family is expanded as the corpus runner expands it for every host
//! (`fixture::scenario::expand`): its tokens minted once, by the core natively (so the
//! same secrets every run: the report's hash depends on nothing else), its requests
//! resolved. Then both modules decide every request through the host's flow. A scenario
//! expected to deny that the candidate allows (the decision, a ref update, a batch target,
//! a ref permission not expected) fails the gate, as does a hidden target that no longer
//! answers as its missing twin; any other mismatch with the expectation is a difference.

use forge_authz_fixture::native::Native;
use forge_authz_fixture::scenario::{self, Expect, Family, Scenario};

use super::Judge;
use super::differential::{CorpusChange, changes, kind};
use super::report::{CorpusEntry, CorpusResult};
use crate::policy::PolicyModule;
use crate::request::{Outcome, RequestDef, outcome_output};
use crate::world::{World, parse_json};

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));

/// The corpus's result, and every decision the candidate changed.
pub struct CorpusRun {
    /// Scenarios, failures, differences.
    pub result: CorpusResult,
    /// Changed decisions (candidate against live).
    pub changed: Vec<CorpusChange>,
}

/// One family as shipped: parsed and checked as `load_corpus` checks a file.
fn family(file: &str, text: &str) -> anyhow::Result<Family> {
    let mut fam: Family = parse_json(text).map_err(|e| anyhow::anyhow!("corpus {file}: {e}"))?;
    fam.world.validate()?;
    anyhow::ensure!(
        fam.world.now.is_some(),
        "corpus {file}: world.now is required"
    );
    fam.path = file.into();
    Ok(fam)
}

/// The family's world with its tokens minted, and each scenario's request resolved.
fn expanded(fam: &Family) -> anyhow::Result<(World, Vec<RequestDef>)> {
    let make = |c: &forge_authz_guest::policy::Config| Native::new(c);
    let mut x = scenario::expand(fam, &make)?;
    let mut take = |key: &str| {
        x.get_mut(key)
            .map(serde_json::Value::take)
            .unwrap_or_default()
    };
    let world: World = serde_json::from_value(take("world"))?;
    let requests = match take("scenarios") {
        serde_json::Value::Array(list) => list
            .into_iter()
            .map(|mut s| {
                let request = s.get_mut("request").map(serde_json::Value::take);
                serde_json::from_value(request.unwrap_or_default())
            })
            .collect::<Result<Vec<RequestDef>, _>>()?,
        _ => vec![],
    };
    Ok((world, requests))
}

/// Run the shipped corpus on both modules, with `site` as the site data.
pub fn run(candidate: &PolicyModule, live: &PolicyModule, site: &str) -> anyhow::Result<CorpusRun> {
    let mut result = CorpusResult::default();
    let mut changed = Vec::new();
    for (file, text) in CORPUS {
        let fam = family(file, text)?;
        let (world, requests) = expanded(&fam)?;
        let config = fam.world.config()?;
        let mut cand = match Judge::new(candidate, config.clone(), site) {
            Ok(j) => j,
            Err(e) => {
                result.failures.push(entry(
                    &fam.family,
                    "(configuration)",
                    "refused",
                    e.to_string(),
                ));
                continue;
            }
        };
        let mut before = Judge::new(live, config, site)?;
        let mut outputs = Vec::with_capacity(requests.len());
        for (sc, req) in fam.scenarios.iter().zip(&requests) {
            result.scenarios += 1;
            let Some(got) = cand.decide(&world, req) else {
                result.failures.push(entry(
                    &fam.family,
                    &sc.name,
                    "undecided",
                    "the request was refused as malformed".into(),
                ));
                continue;
            };
            let printed = outcome_output(&got).0;
            if let Some(m) = scenario::mismatch(sc, &printed) {
                let (list, what) = if widened(&sc.expect, &printed) {
                    (&mut result.failures, "widened")
                } else {
                    (&mut result.differences, "narrowed or otherwise changed")
                };
                list.push(entry(&fam.family, &sc.name, what, m));
            }
            if let Some(old) = before.decide(&world, req) {
                changed.extend(changes_of(&fam.family, sc, req, &old, &got));
            }
            outputs.push((sc.name.clone(), printed));
        }
        if outputs.len() == fam.scenarios.len() {
            for m in scenario::concealment_mismatches(&fam, &outputs) {
                // Each mismatch starts with its scenario's name: `NAME: does not answer ...`.
                let name = m.split_once(": ").map_or("", |(n, _)| n).to_string();
                result
                    .failures
                    .push(entry(&fam.family, &name, "concealment", m));
            }
        }
    }
    result.failures.sort();
    result.differences.sort();
    changed.sort_by(|a, b| a.scenario.cmp(&b.scenario));
    Ok(CorpusRun { result, changed })
}

fn entry(family: &str, scenario: &str, what: &str, detail: String) -> CorpusEntry {
    CorpusEntry {
        scenario: format!("{family}/{scenario}"),
        what: what.to_string(),
        detail,
    }
}

fn changes_of(
    family: &str,
    sc: &Scenario,
    req: &RequestDef,
    old: &Outcome,
    new: &Outcome,
) -> Vec<CorpusChange> {
    changes(old, new)
        .into_iter()
        .map(|(before, after)| CorpusChange {
            scenario: format!("{family}/{}", sc.name),
            kind: kind(req).to_string(),
            before,
            after,
        })
        .collect()
}

fn decision_of(v: &serde_json::Value) -> Option<&str> {
    v.get("decision").and_then(serde_json::Value::as_str)
}

/// Whether an output allows something its scenario expects denied: the decision, a ref
/// update, a batch target, or a ref permission the scenario does not list.
fn widened(e: &Expect, got: &serde_json::Value) -> bool {
    let denied_allowed = |want: &str, got: Option<&str>| want == "deny" && got == Some("allow");
    let decision = e
        .decision
        .as_deref()
        .is_some_and(|d| e.batch.is_none() && denied_allowed(d, decision_of(got)));
    let list = |key: &str| {
        got.get(key)
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let refs = e.refs.as_ref().is_some_and(|want| {
        want.iter()
            .zip(list("refs"))
            .any(|(w, g)| denied_allowed(&w.decision, decision_of(&g)))
    });
    let batch = e.batch.as_ref().is_some_and(|want| {
        let got = got.as_array().cloned().unwrap_or_default();
        want.iter()
            .zip(got)
            .any(|(w, g)| denied_allowed(&w.decision, decision_of(&g)))
    });
    let perms = e.permissions.as_ref().is_some_and(|want| {
        got.as_object().is_some_and(|m| {
            m.iter().any(|(name, listed)| {
                let expected = want.get(name).cloned().unwrap_or_default();
                listed.as_array().is_some_and(|l| {
                    l.iter()
                        .any(|p| p.as_str().is_some_and(|p| !expected.iter().any(|x| x == p)))
                })
            })
        })
    });
    decision || refs || batch || perms
}

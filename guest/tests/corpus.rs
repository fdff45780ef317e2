//! The whole scenario corpus (`tests/scenarios/*.json`) run natively against
//! `forge_authz_guest::policy`, with no host crate and no wasmtime: the same runner, world
//! facts, request files and printed outcomes as the host's (`forge-authz-fixture`), with the
//! core as the engine (`fixture::native::Native`). Every scenario must meet its expectations
//! exactly, as in `tests/tests/corpus.rs`.
//!
//! This is what lets `cargo mutants` on `guest/src/policy` check the corpus's exact
//! expectations: the invariants (`invariants.rs`) are safety properties that a "deny
//! everything" mutant satisfies; the corpus's expected allows and reasons are not. It
//! must stay fast (well under a second in the dev profile).
// Corpus test: a broken fixture or a failed expectation stops the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

#[path = "support/corpus.rs"]
mod checks;

use forge_authz_fixture::native::Native;
use forge_authz_fixture::scenario::{Family, corpus_dir, load_corpus, prepare, resolve};

fn run_family(fam: &Family) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    forge_authz_fixture::scenario::run_family(fam, &Native::new)
}

#[test]
fn every_scenario_of_every_family_meets_its_expectations_natively() {
    let start = std::time::Instant::now();
    let corpus = load_corpus().unwrap();
    assert!(!corpus.is_empty(), "no scenario families found");
    let mut failures = Vec::new();
    let mut count = 0;
    for fam in &corpus {
        let run = run_family(fam).unwrap_or_else(|e| panic!("{}: {e}", fam.path.display()));
        assert_eq!(run.len(), fam.scenarios.len());
        for (sc, (name, _)) in fam.scenarios.iter().zip(&run) {
            assert_eq!(&sc.name, name);
            count += 1;
        }
        failures.extend(checks::failures("", fam, &run));
    }
    checks::assert_none_failed(&failures, count);
    eprintln!(
        "{count} scenarios passed natively ({} families, {:?})",
        corpus.len(),
        start.elapsed()
    );
}

#[test]
fn every_file_in_the_corpus_directory_is_a_family_this_runner_can_run() {
    // A family file this runner cannot parse (a new field, a new request shape) must fail
    // here rather than be skipped: the mutation run would silently lose its scenarios.
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty(), "tests/scenarios is empty");
    for path in &files {
        assert!(
            path.is_file() && path.extension().is_some_and(|x| x == "json"),
            "{}: not a `*.json` family file (the runner would skip it)",
            path.display()
        );
    }
    for fam in load_corpus().unwrap() {
        let path = &fam.path;
        let (_policy, world, minted) =
            prepare(&fam, &Native::new).unwrap_or_else(|e| panic!("{e}"));
        let mut names = std::collections::BTreeSet::new();
        for sc in &fam.scenarios {
            checks::assert_well_formed(path.display(), &mut names, sc);
            let req = resolve(&sc.request, &minted)
                .unwrap_or_else(|e| panic!("{}: {}: {e}", path.display(), sc.name));
            req.call(&world, world.now())
                .unwrap_or_else(|e| panic!("{}: {}: {e}", path.display(), sc.name));
        }
    }
    assert_eq!(load_corpus().unwrap().len(), files.len());
}

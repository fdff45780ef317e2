//! The scenario corpus, run through the wasm component and through the natively compiled
//! policy core. Every scenario must meet its expectation on both, and the two engines must
//! give identical decisions (status, reason, message and detail).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use forge_authz_tests::scenario::{load_corpus, mismatch, run_family};
use forge_authz_tests::{native, wasm};

#[test]
fn corpus_is_well_formed() {
    let corpus = load_corpus().unwrap();
    assert!(!corpus.is_empty());
    let mut total = 0;
    for fam in &corpus {
        let mut names = std::collections::BTreeSet::new();
        for sc in &fam.scenarios {
            assert!(
                names.insert(&sc.name),
                "{}: duplicate scenario `{}`",
                fam.family,
                sc.name
            );
            assert!(
                !sc.source.trim().is_empty(),
                "{}: `{}` cites no source",
                fam.family,
                sc.name
            );
            assert!(sc.expect.decision == "allow" || sc.expect.decision == "deny");
        }
        total += fam.scenarios.len();
    }
    assert!(total >= 40, "only {total} scenarios");
}

#[test]
fn corpus_passes_natively_and_through_wasm_and_both_agree() {
    let corpus = load_corpus().unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for fam in &corpus {
        let native_run = run_family(fam, &native).unwrap();
        let wasm_run = run_family(fam, &wasm).unwrap();
        for ((sc, (_, n)), (_, w)) in fam.scenarios.iter().zip(&native_run).zip(&wasm_run) {
            count += 1;
            if let Some(m) = mismatch(sc, n) {
                failures.push(format!("[native] {}: {m}", fam.family));
            }
            if let Some(m) = mismatch(sc, w) {
                failures.push(format!("[wasm] {}: {m}", fam.family));
            }
            if n != w {
                failures.push(format!(
                    "[disagree] {}: {}: native {n:?} wasm {w:?}",
                    fam.family, sc.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} scenarios failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{count} scenarios passed natively and through wasm");
}

#[test]
fn reason_codes_and_statuses_are_the_same_in_the_core_and_the_wit() {
    use forge_authz_guest::policy::Reason;
    use forge_authz_tests::native::{reason, status};
    // Every core reason has a WIT reason with the same code and status (the host prints
    // the WIT one), and the README table and the WIT file both list it.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let wit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/types.wit")).unwrap();
    assert_eq!(Reason::ALL.len(), 21);
    for r in Reason::ALL {
        let code = r.code();
        let w = reason(*r);
        assert_eq!(w.code(), code);
        assert_eq!(status(r.status()).http(), r.status().http(), "{code}");
        assert!(
            readme.contains(&format!("`{code}`")),
            "README decision table lacks `{code}`"
        );
        assert!(
            wit.contains(&format!("        {code},")),
            "wit/types.wit lacks `{code}`"
        );
    }
}

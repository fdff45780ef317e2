//! The scenario corpus, run through the wasm component and through the natively compiled
//! policy core. Every scenario must meet its expectation on both, and the two engines must
//! give identical decisions (status, reason, message and detail).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "../../guest/tests/support/corpus.rs"]
mod checks;

use forge_authz_tests::scenario::{load_corpus, run_family};
use forge_authz_tests::{native, wasm};

#[test]
fn corpus_is_well_formed() {
    let corpus = load_corpus().unwrap();
    assert!(!corpus.is_empty());
    let mut total = 0;
    for fam in &corpus {
        let mut names = std::collections::BTreeSet::new();
        for sc in &fam.scenarios {
            checks::assert_well_formed(&fam.family, &mut names, sc);
            if let Some(d) = &sc.expect.decision {
                assert!(d == "allow" || d == "deny", "{}: bad decision {d}", sc.name);
            }
        }
        total += fam.scenarios.len();
    }
    assert!(total >= 150, "only {total} scenarios");
}

#[test]
fn corpus_passes_natively_and_through_wasm_and_both_agree() {
    let corpus = load_corpus().unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for fam in &corpus {
        let native_run = run_family(fam, &native).unwrap();
        let wasm_run = run_family(fam, &wasm).unwrap();
        failures.extend(checks::failures("[native] ", fam, &native_run));
        failures.extend(checks::failures("[wasm] ", fam, &wasm_run));
        for ((sc, (_, n)), (_, w)) in fam.scenarios.iter().zip(&native_run).zip(&wasm_run) {
            count += 1;
            if n != w {
                failures.push(format!(
                    "[disagree] {}: {}: native {n:?} wasm {w:?}",
                    fam.family, sc.name
                ));
            }
        }
    }
    checks::assert_none_failed(&failures, count);
    eprintln!("{count} scenarios passed natively and through wasm");
}

#[test]
fn reason_codes_and_statuses_are_the_same_in_the_core_and_the_wit() {
    use forge_authz_guest::policy::Reason;
    use forge_authz_host::wit::{Verdict, core::verdict_out};
    // Every core reason has a WIT verdict with the same code and status class (the host
    // prints the WIT one), and the README table and the WIT file both list it.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let wit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/decision.wit"))
        .unwrap();
    assert_eq!(Reason::ALL.len(), Verdict::all().len());
    for r in Reason::ALL {
        let code = r.code();
        let w = verdict_out(*r);
        assert_eq!(w.code(), code);
        assert_eq!(w.http(), r.status().http(), "{code}");
        assert!(
            readme.contains(&format!("`{code}`")),
            "README decision table lacks `{code}`"
        );
        assert!(
            wit.contains(&format!("        {code},")),
            "wit/decision.wit lacks `{code}`"
        );
    }
}

/// Drop the trace from an outcome.
fn without_trace(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Array(items) => items.iter().map(without_trace).collect(),
        serde_json::Value::Object(o) => {
            let mut o = o.clone();
            o.remove("trace");
            serde_json::Value::Object(o)
        }
        other => other.clone(),
    }
}

#[test]
fn explaining_never_changes_a_decision() {
    // Invariant: the trace is an observation; with `explain` on, every scenario's outcome
    // (minus the trace) is the same as with it off.
    let corpus = load_corpus().unwrap();
    for fam in &corpus {
        let plain = run_family(fam, &native).unwrap();
        let mut explained_fam = fam.clone();
        for sc in &mut explained_fam.scenarios {
            sc.request.explain = true;
        }
        let explained = run_family(&explained_fam, &native).unwrap();
        for ((name, a), (_, b)) in plain.iter().zip(&explained) {
            assert_eq!(without_trace(a), without_trace(b), "{}: {name}", fam.family);
        }
    }
}

#[test]
fn batch_answers_equal_single_answers_for_every_token_and_repository() {
    use forge_authz_host::Outcome;
    use forge_authz_host::request::{ActionDef, CredentialDef, KindDef, RequestDef, authorize};
    use forge_authz_tests::scenario::prepare;
    // Invariant: for every credential and action, a batch over all repositories (plus a
    // missing and a malformed one) gives exactly the decision of one call per repository.
    let corpus = load_corpus().unwrap();
    for name in ["visibility", "binding", "write-rules"] {
        let fam = corpus.iter().find(|f| f.family == name).unwrap();
        let (mut policy, world, minted) = prepare(fam, &wasm).unwrap();
        let mut repos: Vec<String> = world
            .repositories
            .iter()
            .map(|r| format!("{}/{}", r.owner, r.name))
            .collect();
        repos.push("nobody/nothing".into());
        repos.push("bad path".into());
        let mut creds: Vec<CredentialDef> = minted
            .values()
            .map(|s| CredentialDef::Bearer(s.clone()))
            .collect();
        creds.push(CredentialDef::Anonymous);
        for credential in creds {
            for action in [ActionDef::Pull, ActionDef::Push] {
                let batch = RequestDef {
                    credential: credential.clone(),
                    kind: KindDef::Batch,
                    action: Some(action),
                    repositories: repos.clone(),
                    ..RequestDef::default()
                };
                let Outcome::Batch(list) =
                    authorize(&mut policy, &world, &batch, world.now()).unwrap()
                else {
                    panic!("not a batch")
                };
                assert_eq!(list.len(), repos.len());
                for (repo, d) in list {
                    let single = RequestDef {
                        credential: credential.clone(),
                        repository: Some(repo.clone()),
                        action: Some(action),
                        ..RequestDef::default()
                    };
                    let one: forge_authz_host::request::Decided =
                        forge_authz_host::authorize_one(&mut policy, &world, &single, world.now())
                            .unwrap();
                    assert_eq!(d, one, "{name}: {repo} {action:?}");
                }
            }
        }
    }
}

#[test]
fn an_expanded_corpus_replays_to_the_same_outputs() {
    // issue 12: what a host in another language does with `expand-corpus`'s files — parse
    // the world and each request from the JSON alone, decide, print — gives the Rust
    // host's outputs exactly (so the format carries everything a decision needs) and asks
    // the facts the queries recorded beside them, and the expanded outputs meet the
    // scenarios' expectations.
    use forge_authz_host::request::{RequestDef, authorize, outcome_output};
    use forge_authz_host::world::World;
    use forge_authz_tests::recording::{BoundaryQuery, Recording};
    use forge_authz_tests::scenario::expand;
    for fam in load_corpus().unwrap() {
        let expanded = expand(&fam, &wasm).unwrap();
        let text = serde_json::to_string(&expanded).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let world: World = serde_json::from_value(v["world"].clone()).unwrap();
        let mut fresh =
            forge_authz_tests::wasm(&forge_authz_host::wit::world_config(&world).unwrap()).unwrap();
        for (sc, e) in fam.scenarios.iter().zip(v["scenarios"].as_array().unwrap()) {
            let req: RequestDef = serde_json::from_value(e["request"].clone()).unwrap();
            let recording = Recording::<BoundaryQuery>::new(&world);
            let out =
                outcome_output(&authorize(&mut fresh, &recording, &req, world.now()).unwrap()).0;
            assert_eq!(out, e["output"], "{}: {}", fam.family, sc.name);
            // Design §7: the queries the decision asked, as the boundary spells them, are
            // the expanded `"queries"` — at most one lookup and one batch per decision.
            let asked: Vec<serde_json::Value> = recording
                .into_log()
                .iter()
                .map(|q| q.value().unwrap())
                .collect();
            assert_eq!(
                serde_json::Value::from(asked.clone()),
                e["queries"],
                "{}: {}",
                fam.family,
                sc.name
            );
            for kind in ["lookup", "repositories"] {
                let n = asked.iter().filter(|q| q.get(kind).is_some()).count();
                assert!(n <= 1, "{}: {}: {n} {kind} calls", fam.family, sc.name);
            }
            assert!(
                forge_authz_tests::scenario::mismatch(sc, &out).is_none(),
                "{}: {}",
                fam.family,
                sc.name
            );
        }
    }
}

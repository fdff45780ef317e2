//! Facts through C callbacks (issue 22, docs/design/fact-sources.md §2 and §7): the whole
//! expanded corpus through `fa_decide_with` with `extern "C"` callbacks answering from the
//! same world gives exactly `fa_decide`'s outputs and asks exactly the Rust host's queries;
//! every fault of the fault table, in every fact, is the `policy-failure` deny (503);
//! "absent" is the ordinary deny; a nested call is refused and fails the decision.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr::{null, null_mut};
use std::sync::Mutex;
use std::time::Duration;

use forge_authz::*;
use forge_authz_fixture::boundary::{Answer, Callbacks, WorldCallbacks};
use forge_authz_fixture::world::World as Facts;
use serde_json::{Value, json};

mod common;
use common::{Policy, policy, take};

/// What a callback does instead of answering from the world.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `FA_FACT_FAILED` with `fa_answer_fail`.
    Fail,
    /// An unknown return code, no message.
    Code,
    /// A non-JSON answer.
    NotJson,
    /// The world's answer changed by a fact-specific edit (wrong type, missing field,
    /// unknown field, another name).
    Edit(&'static str),
    /// `FA_FACT_FOUND` with no answer set.
    FoundEmpty,
    /// The answer set twice.
    Twice,
    /// The world's answer, after sleeping past the budget.
    Slow,
    /// A nested call into the library, then the world's answer.
    Nested,
    /// `FA_FACT_ABSENT`.
    Absent,
}

/// The C side's state: the world it answers from, the fault to inject, what it was told.
struct Source<'a> {
    world: WorldCallbacks<'a>,
    fault: Option<(&'static str, Fault)>,
    policy: *const fa_policy,
    /// (fact, found) of every per-fact call.
    asked: Mutex<BTreeSet<(&'static str, bool)>>,
    observed: Mutex<Vec<Value>>,
    effects: Mutex<Vec<Value>>,
    nested: Mutex<Vec<i32>>,
}

/// The world's answer to `fact` with `edit` applied: (fact, edit) → a change to the JSON.
fn edit(fact: &str, edit: &str, v: &mut Value) {
    let o = v.as_object_mut().unwrap();
    let (key, value) = match (fact, edit) {
        ("token", "type") => ("created", json!("yesterday")),
        ("user", "type") => ("status", json!("owner")),
        ("repository", "type") => ("role", json!("owner")),
        ("namespace", "type") => ("member_role", json!("owner")),
        ("ssh_key", "type") => ("kind", json!("owner")),
        ("token", "name") => ("id", json!("someone-else")),
        ("repository", "name") => ("path", json!("other/repository")),
        ("ssh_key", "name") => ("id", json!("someone-else")),
        (_, "unknown") => ("unexpected", json!(1)),
        (_, "missing") => {
            let key = match fact {
                "token" => "secret_hash",
                "user" => "status",
                "repository" => "role",
                "namespace" => "member_role",
                _ => "kind",
            };
            o.remove(key);
            return;
        }
        other => panic!("no edit {other:?}"),
    };
    o.insert(key.into(), value);
}

impl Source<'_> {
    fn new<'a>(
        world: &'a Facts,
        policy: &Policy,
        fault: Option<(&'static str, Fault)>,
    ) -> Source<'a> {
        Source {
            world: WorldCallbacks::new(world),
            fault,
            policy: policy.0,
            asked: Mutex::default(),
            observed: Mutex::default(),
            effects: Mutex::default(),
            nested: Mutex::default(),
        }
    }

    /// Answer `fact` into `answer`: from the world, or as the fault says.
    fn answer(
        &self,
        fact: &'static str,
        answer: *mut fa_answer,
        world: impl FnOnce() -> anyhow::Result<Option<Answer>>,
    ) -> i32 {
        let good = world().unwrap().map(|a| match a {
            Answer::Json(j) => j,
            Answer::Value(v) => v.to_string().into_bytes(),
        });
        self.asked.lock().unwrap().insert((fact, good.is_some()));
        let fault = self
            .fault
            .filter(|(f, _)| *f == fact)
            .map(|(_, fault)| fault);
        let set =
            |bytes: &[u8]| unsafe { fa_answer_set(answer, bytes.as_ptr().cast(), bytes.len()) };
        let found = |bytes: Option<Vec<u8>>| match bytes {
            Some(b) => {
                assert_eq!(set(&b), FA_OK);
                FA_FACT_FOUND
            }
            None => FA_FACT_ABSENT,
        };
        match fault {
            None => found(good),
            Some(Fault::Fail) => {
                let why = CString::new("the forge's database is down").unwrap();
                unsafe { fa_answer_fail(answer, why.as_ptr()) };
                FA_FACT_FAILED
            }
            Some(Fault::Code) => 7,
            Some(Fault::NotJson) => {
                set(b"<html>502 Bad Gateway</html>");
                FA_FACT_FOUND
            }
            Some(Fault::Edit(e)) => {
                let mut v: Value = serde_json::from_slice(&good.unwrap()).unwrap();
                edit(fact, e, &mut v);
                found(Some(v.to_string().into_bytes()))
            }
            Some(Fault::FoundEmpty) => FA_FACT_FOUND,
            Some(Fault::Twice) => {
                let b = good.unwrap();
                set(&b);
                assert_eq!(set(&b), FA_ERROR, "an answer is set at most once");
                FA_FACT_FOUND
            }
            Some(Fault::Slow) => {
                std::thread::sleep(Duration::from_millis(60));
                found(good)
            }
            Some(Fault::Nested) => {
                let c = CString::new(r#""anonymous""#).unwrap();
                let mut out = null_mut();
                let code = unsafe { fa_verify(self.policy, c.as_ptr(), &mut out) };
                let said = take(out);
                assert!(
                    said.contains("re-entrant call from a fact callback"),
                    "{said}"
                );
                self.nested.lock().unwrap().push(code);
                found(good)
            }
            Some(Fault::Absent) => FA_FACT_ABSENT,
        }
    }
}

fn source<'a>(ud: *mut c_void) -> &'a Source<'a> {
    unsafe { &*(ud as *const Source<'a>) }
}

fn arg<'a>(s: *const c_char) -> Option<&'a str> {
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_str().unwrap())
}

unsafe extern "C" fn token(ud: *mut c_void, id: *const c_char, a: *mut fa_answer) -> i32 {
    let s = source(ud);
    s.answer("token", a, || s.world.token(arg(id).unwrap()))
}

unsafe extern "C" fn user(ud: *mut c_void, name: *const c_char, a: *mut fa_answer) -> i32 {
    let s = source(ud);
    s.answer("user", a, || s.world.user(arg(name).unwrap()))
}

unsafe extern "C" fn repository(
    ud: *mut c_void,
    path: *const c_char,
    viewer: *const c_char,
    a: *mut fa_answer,
) -> i32 {
    let s = source(ud);
    s.answer("repository", a, || {
        s.world.repository(arg(path).unwrap(), arg(viewer))
    })
}

unsafe extern "C" fn namespace(
    ud: *mut c_void,
    name: *const c_char,
    viewer: *const c_char,
    a: *mut fa_answer,
) -> i32 {
    let s = source(ud);
    s.answer("namespace", a, || {
        s.world.namespace(arg(name).unwrap(), arg(viewer))
    })
}

unsafe extern "C" fn ssh_key(ud: *mut c_void, id: *const c_char, a: *mut fa_answer) -> i32 {
    let s = source(ud);
    s.answer("ssh_key", a, || s.world.ssh_key(arg(id).unwrap()))
}

/// The batch override: each path answered from the world, in one JSON array.
unsafe extern "C" fn repositories(
    ud: *mut c_void,
    paths: *const c_char,
    viewer: *const c_char,
    a: *mut fa_answer,
) -> i32 {
    let s = source(ud);
    let paths: Vec<String> = serde_json::from_str(arg(paths).unwrap()).unwrap();
    let list: Vec<Value> = paths
        .iter()
        .map(|p| match s.world.repository(p, arg(viewer)).unwrap() {
            Some(Answer::Json(j)) => serde_json::from_slice(&j).unwrap(),
            _ => Value::Null,
        })
        .collect();
    // The fault of design §7: a batch of the wrong length.
    let list = if s.fault.is_some_and(|(f, _)| f == "repositories") {
        list[1..].to_vec()
    } else {
        list
    };
    let text = serde_json::to_vec(&list).unwrap();
    assert_eq!(
        unsafe { fa_answer_set(a, text.as_ptr().cast(), text.len()) },
        FA_OK
    );
    FA_FACT_FOUND
}

/// The one-statement override: the query composed from the world's per-fact answers, as a
/// forge's single SQL statement would answer it (the viewer rule of design §1).
unsafe extern "C" fn lookup(ud: *mut c_void, query: *const c_char, a: *mut fa_answer) -> i32 {
    let s = source(ud);
    let q: Value = serde_json::from_str(arg(query).unwrap()).unwrap();
    let read = |r: anyhow::Result<Option<Answer>>| match r.unwrap() {
        Some(Answer::Json(j)) => serde_json::from_slice(&j).unwrap(),
        _ => Value::Null,
    };
    let asked = |key: &str| q[key].as_str();
    let token = asked("token").map_or(Value::Null, |id| read(s.world.token(id)));
    let owner = token["owner"].as_str();
    let viewer = match q["viewer"].as_str().unwrap() {
        "token-owner" => owner,
        "account" => asked("account"),
        "sudo" => asked("sudo"),
        _ => None,
    };
    let user = |name: Option<&str>| name.map_or(Value::Null, |n| read(s.world.user(n)));
    let answer = json!({
        "owner": user(owner),
        "account": user(asked("account")),
        "sudo": user(asked("sudo")),
        "repository": asked("repository").map_or(Value::Null, |p| read(s.world.repository(p, viewer))),
        "namespace": asked("namespace").map_or(Value::Null, |n| read(s.world.namespace(n, viewer))),
        "token": token,
    });
    let text = answer.to_string();
    assert_eq!(
        unsafe { fa_answer_set(a, text.as_ptr().cast(), text.len()) },
        FA_OK
    );
    FA_FACT_FOUND
}

unsafe extern "C" fn observe(ud: *mut c_void, asked: *const c_char) {
    let v = serde_json::from_str(arg(asked).unwrap()).unwrap();
    source(ud).observed.lock().unwrap().push(v);
}

unsafe extern "C" fn effects(ud: *mut c_void, effects: *const c_char) {
    let v = serde_json::from_str(arg(effects).unwrap()).unwrap();
    source(ud).effects.lock().unwrap().push(v);
}

/// Which optional overrides a table has.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// The required callbacks and the SSH key, no hook: the adapter writes no query JSON.
    Bare,
    /// The per-fact callbacks and the hooks.
    PerFact,
    /// With the batch override.
    Batch,
    /// With the batch and the one-statement overrides.
    Whole,
}

/// The C table over `s`: the four required callbacks, the SSH key and both hooks, and the
/// overrides `mode` says.
fn table(s: &Source<'_>, budget_ms: u32, mode: Mode) -> fa_fact_source {
    fa_fact_source {
        version: FA_FACT_SOURCE_V1,
        budget_ms,
        user_data: s as *const Source<'_> as *mut c_void,
        token_record: Some(token),
        user_facts: Some(user),
        repository_facts: Some(repository),
        namespace_facts: Some(namespace),
        ssh_key: Some(ssh_key),
        repositories: if matches!(mode, Mode::Bare | Mode::PerFact) {
            None
        } else {
            Some(repositories)
        },
        lookup: if mode == Mode::Whole {
            Some(lookup)
        } else {
            None
        },
        observe: if mode == Mode::Bare {
            None
        } else {
            Some(observe)
        },
        effects: if mode == Mode::Bare {
            None
        } else {
            Some(effects)
        },
    }
}

fn decide_with(p: &Policy, facts: *const fa_fact_source, request: &str, now: i64) -> (i32, Value) {
    let c = CString::new(request).unwrap();
    let mut out = null_mut();
    let code = unsafe { fa_decide_with(p.0, facts, c.as_ptr(), now, &mut out) };
    let text = take(out);
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// One expanded family: its world (as facts and as the policy's configuration) and
/// scenarios.
struct Family {
    name: String,
    world: Facts,
    policy: Policy,
    scenarios: Vec<Value>,
}

fn corpus() -> Vec<Family> {
    forge_authz_tests::scenario::load_corpus()
        .unwrap()
        .iter()
        .map(|fam| {
            let expanded =
                forge_authz_tests::scenario::expand(fam, &forge_authz_tests::wasm).unwrap();
            Family {
                name: fam.family.clone(),
                world: serde_json::from_value(expanded["world"].clone()).unwrap(),
                policy: policy(&expanded["world"].to_string()).unwrap(),
                scenarios: expanded["scenarios"].as_array().unwrap().clone(),
            }
        })
        .collect()
}

fn allowed(out: &Value) -> bool {
    match out {
        Value::Object(o) if o.contains_key("decision") => o["decision"] == "allow",
        Value::Array(list) => list.iter().any(|d| d["decision"] == "allow"),
        Value::Object(perms) => perms
            .values()
            .any(|v| v.as_array().is_some_and(|a| !a.is_empty())),
        _ => false,
    }
}

#[test]
fn the_expanded_corpus_through_c_callbacks_decides_as_fa_decide_and_asks_the_same_queries() {
    // Design §7 "The corpus through callbacks", §8 slice 1.
    let (mut n, mut with_queries, mut told_effects) = (0, 0, 0);
    for fam in corpus() {
        for sc in &fam.scenarios {
            let name = format!("{}: {}", fam.name, sc["name"]);
            for mode in [Mode::Bare, Mode::PerFact, Mode::Batch, Mode::Whole] {
                let s = Source::new(&fam.world, &fam.policy, None);
                let t = table(&s, 0, mode);
                let (code, out) =
                    decide_with(&fam.policy, &t, &sc["request"].to_string(), fam.world.now());
                assert_eq!(out, sc["output"], "{name} ({mode:?})");
                assert_eq!(code == FA_ALLOW, allowed(&out), "{name}");
                if let Some(queries) = sc.get("queries").filter(|_| mode != Mode::Bare) {
                    assert_eq!(
                        &Value::from(s.observed.lock().unwrap().clone()),
                        queries,
                        "{name}"
                    );
                    with_queries += usize::from(mode == Mode::PerFact);
                }
                for e in s.effects.lock().unwrap().iter() {
                    assert!(e["token"].is_string(), "{name}: {e}");
                    told_effects += 1;
                }
            }
            n += 1;
        }
    }
    assert!(n > 300, "{n} scenarios");
    eprintln!(
        "{n} scenarios through C callbacks ({with_queries} with recorded queries, {told_effects} effects told)"
    );
}

/// The faults of design §7's table, each with the facts it applies to.
fn fault_table() -> Vec<(Fault, &'static [&'static str])> {
    const ALL: &[&str] = &["token", "user", "repository", "namespace", "ssh_key"];
    vec![
        (Fault::Fail, ALL),
        (Fault::Code, ALL),
        (Fault::NotJson, ALL),
        (Fault::Edit("type"), ALL),
        (Fault::Edit("missing"), ALL),
        (Fault::Edit("unknown"), ALL),
        (Fault::Edit("name"), &["token", "repository", "ssh_key"]),
        (Fault::FoundEmpty, ALL),
        (Fault::Twice, ALL),
        (Fault::Slow, ALL),
        (Fault::Nested, ALL),
    ]
}

/// For each fact, a corpus scenario that asks it and finds it, decided as one decision
/// other than a policy failure: (family index, scenario).
fn a_scenario_asking_each_fact(corpus: &[Family]) -> Vec<(&'static str, usize, Value)> {
    let mut found = Vec::new();
    for fact in ["token", "user", "repository", "namespace", "ssh_key"] {
        let hit = corpus.iter().enumerate().find_map(|(i, fam)| {
            fam.scenarios.iter().find_map(|sc| {
                let one = sc["output"].get("decision").is_some() && sc["output"]["status"] != 503;
                let s = Source::new(&fam.world, &fam.policy, None);
                let t = table(&s, 0, Mode::PerFact);
                decide_with(&fam.policy, &t, &sc["request"].to_string(), fam.world.now());
                let asked = s.asked.lock().unwrap().contains(&(fact, true));
                (one && asked).then(|| (i, sc.clone()))
            })
        });
        let (i, sc) = hit.unwrap_or_else(|| panic!("no scenario asks for a {fact} and finds it"));
        found.push((fact, i, sc));
    }
    found
}

#[test]
fn every_fault_in_every_fact_is_the_policy_failure_deny_and_absent_is_not() {
    // Design §7 "Fault injection, per host"; §1 "Not found vs failed".
    let corpus = corpus();
    let cases = a_scenario_asking_each_fact(&corpus);
    let mut injected = 0;
    for (fact, i, sc) in &cases {
        let fam = &corpus[*i];
        let request = sc["request"].to_string();
        for (fault, facts) in fault_table() {
            if !facts.contains(fact) {
                continue;
            }
            let s = Source::new(&fam.world, &fam.policy, Some((fact, fault)));
            let t = table(&s, 40, Mode::PerFact);
            let (code, out) = decide_with(&fam.policy, &t, &request, fam.world.now());
            let what = format!("{fault:?} in {fact} ({}: {})", fam.name, sc["name"]);
            assert_eq!(code, FA_DENY, "{what}: {out}");
            assert_eq!(
                (out["status"].as_u64(), out["reason"].as_str()),
                (Some(503), Some("policy-failure")),
                "{what}: {out}"
            );
            assert!(
                out["detail"].is_string(),
                "{what}: the cause is in detail: {out}"
            );
            if let Fault::Nested = fault {
                assert!(
                    s.nested.lock().unwrap().iter().all(|c| *c == FA_ERROR),
                    "{what}"
                );
            }
            injected += 1;
        }
        // Absent: the world path's ordinary answer to a missing fact, never a 503; an
        // absent SSH key is an unreadable request, as with a world.
        let s = Source::new(&fam.world, &fam.policy, Some((fact, Fault::Absent)));
        let t = table(&s, 0, Mode::PerFact);
        let (code, out) = decide_with(&fam.policy, &t, &request, fam.world.now());
        let what = format!("absent {fact} ({}: {})", fam.name, sc["name"]);
        if *fact == "ssh_key" {
            assert_eq!(code, FA_ERROR, "{what}: {out}");
            assert!(
                out.as_str().unwrap().contains("unknown ssh key"),
                "{what}: {out}"
            );
        } else {
            assert_ne!(out["status"], 503, "{what}: {out}");
            assert_ne!(out["reason"], "policy-failure", "{what}: {out}");
        }
    }
    assert!(injected >= 50, "{injected} faults injected");
}

#[test]
fn a_batch_answer_of_the_wrong_length_fails_every_target() {
    // Design §1 `repositories`, §7's fault table.
    let corpus = corpus();
    let (fam, sc) = corpus
        .iter()
        .find_map(|fam| {
            let batch = |sc: &&Value| sc["output"].as_array().is_some_and(|l| !l.is_empty());
            fam.scenarios.iter().find(batch).map(|sc| (fam, sc))
        })
        .expect("a batch scenario");
    let s = Source::new(
        &fam.world,
        &fam.policy,
        Some(("repositories", Fault::Absent)),
    );
    let t = table(&s, 0, Mode::Batch);
    let (code, out) = decide_with(&fam.policy, &t, &sc["request"].to_string(), fam.world.now());
    assert_eq!(code, FA_DENY, "{out}");
    let list = out.as_array().unwrap();
    assert_eq!(list.len(), sc["output"].as_array().unwrap().len());
    for d in list {
        assert_eq!(
            (d["status"].as_u64(), d["reason"].as_str()),
            (Some(503), Some("policy-failure")),
            "{out}"
        );
        assert!(
            d["detail"].as_str().unwrap().contains("answers for"),
            "{out}"
        );
    }
}

#[test]
fn an_absent_token_record_is_the_world_paths_unknown_token() {
    // Design §1: absent is an explicit answer, the same as a world without the record.
    let corpus = corpus();
    let cases = a_scenario_asking_each_fact(&corpus);
    let (_, i, sc) = cases.iter().find(|(f, _, _)| *f == "token").unwrap();
    let fam = &corpus[*i];
    let mut without = fam.world.clone();
    without.tokens.clear();
    let s = Source::new(&without, &fam.policy, None);
    let t = table(&s, 0, Mode::PerFact);
    let (_, via_callbacks) =
        decide_with(&fam.policy, &t, &sc["request"].to_string(), fam.world.now());
    let w = common::world(&serde_json::to_string(&without).unwrap());
    let (_, via_world) = common::decide(&fam.policy, &w, &sc["request"].to_string());
    assert_eq!(via_callbacks, via_world);
    assert_eq!(via_world["status"], 401, "{via_world}");
}

#[test]
fn a_table_the_library_cannot_use_is_an_error_before_anything_is_asked() {
    // Design §2: NULL facts, another version, a NULL required callback: FA_ERROR.
    let fam = corpus().into_iter().next().unwrap();
    let request = fam.scenarios[0]["request"].to_string();
    let s = Source::new(&fam.world, &fam.policy, None);
    assert_eq!(decide_with(&fam.policy, null(), &request, 0).0, FA_ERROR);
    let mut t = table(&s, 0, Mode::PerFact);
    t.version = 2;
    let (code, out) = decide_with(&fam.policy, &t, &request, 0);
    assert_eq!(code, FA_ERROR, "{out}");
    for field in 0..4 {
        let mut t = table(&s, 0, Mode::PerFact);
        match field {
            0 => t.token_record = None,
            1 => t.user_facts = None,
            2 => t.repository_facts = None,
            _ => t.namespace_facts = None,
        }
        let (code, out) = decide_with(&fam.policy, &t, &request, 0);
        assert_eq!(code, FA_ERROR, "{out}");
        assert!(out.as_str().unwrap().contains("is NULL"), "{out}");
    }
    assert!(s.asked.lock().unwrap().is_empty(), "nothing was asked");
    let c = CString::new(request).unwrap();
    let mut out = null_mut();
    let t = table(&s, 0, Mode::PerFact);
    assert_eq!(
        unsafe { fa_decide_with(null(), &t, c.as_ptr(), 0, &mut out) },
        FA_ERROR
    );
    take(out);
    // A request's clock: FA_NOW_SYSTEM is the system clock, not a time in 1677.
    assert_eq!(FA_NOW_SYSTEM, i64::MIN);
}

#[test]
fn answer_functions_refuse_null() {
    assert_eq!(unsafe { fa_answer_set(null_mut(), null(), 0) }, FA_ERROR);
    unsafe { fa_answer_fail(null_mut(), null()) };
}

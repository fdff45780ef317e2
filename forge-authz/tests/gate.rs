//! The publication gate (`forge-authz check`, issue 23 item 2) as an operator runs it: the
//! shipped module passes; a module built from the guest's source with its expiry check
//! removed fails, naming `expired-token-never-allows` with a minimal counterexample that
//! `forge-authz decide` reproduces; the same seed gives the same report.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/cli.rs"]
mod cli;
#[path = "support/site_policy.rs"]
mod site_policy;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use cli::run;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn scratch(name: &str) -> PathBuf {
    forge_authz_testkit::scratch(&format!("forge-authz-gate-{name}-"))
}

/// `forge-authz check ARGS... --json`: (exit code, report).
fn check(args: &[&str]) -> (i32, serde_json::Value) {
    let out = run(&[&["check"], args, &["--json"]].concat(), None);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout:?}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

/// The invariant named `name` in a report.
fn invariant<'r>(report: &'r serde_json::Value, name: &str) -> &'r serde_json::Value {
    report["invariants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no invariant {name} in {report}"))
}

/// Write `to` only when its content changes (so cargo rebuilds the copy only when the
/// guest's source changed).
fn put(to: &Path, bytes: &[u8]) {
    if std::fs::read(to).ok().as_deref() != Some(bytes) {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, bytes).unwrap();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            put(&target, &std::fs::read(e.path()).unwrap());
        }
    }
}

/// Replace the one occurrence of `from` in `text` (the patch must apply exactly).
fn patched(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "the patch `{from}` no longer applies"
    );
    text.replacen(from, to, 1)
}

/// The guest's expiry check, and the patch that removes it.
const NO_EXPIRY: Patch = (
    "policy/principal.rs",
    "        && expires <= now\n    {",
    "        && expires <= now\n        && false\n    {",
);

/// The expired token's message, and a patch that words it otherwise (a module that
/// changes decisions without breaking any rule).
const REWORDED: Patch = (
    "policy/principal.rs",
    "\"this access token has expired: create a new one\"",
    "\"this access token has expired: mint a new one\"",
);

/// (file under `guest/src`, text, replacement).
type Patch = (&'static str, &'static str, &'static str);

/// The guest's source with `patch` applied, built: copied into
/// `target/gate-broken/<name>` (with `wit/`, as a one-member workspace), the patch applied
/// exactly, built for wasm32-wasip2 into `target/gate-broken/target` (shared by the
/// variants, kept between runs); the component copied to `target/gate-broken/<name>.wasm`.
fn patched_module(name: &str, patch: Patch) -> PathBuf {
    static BUILDS: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    let (root, dir) = (root(), root().join("target/gate-broken"));
    let src = dir.join(name);
    copy_tree(&root.join("guest/src"), &src.join("guest/src"));
    copy_tree(&root.join("wit"), &src.join("wit"));
    let (file, from, to) = patch;
    let file = src.join("guest/src").join(file);
    let text = patched(&std::fs::read_to_string(&file).unwrap(), from, to);
    put(&file, text.as_bytes());
    // The guest's manifest without its dev-dependencies (the corpus runner's crates, not
    // part of the component), in a workspace of its own.
    let manifest = std::fs::read_to_string(root.join("guest/Cargo.toml")).unwrap();
    let cut = manifest.find("[dev-dependencies]").unwrap();
    let end = manifest[cut + 1..]
        .find("\n[")
        .map_or(manifest.len(), |i| cut + i + 2);
    let manifest = format!("{}{}", &manifest[..cut], &manifest[end..]);
    put(&src.join("guest/Cargo.toml"), manifest.as_bytes());
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members = workspace
        .lines()
        .find(|l| l.starts_with("members = "))
        .unwrap();
    let workspace: String = patched(&workspace, members, "members = [\"guest\"]")
        .lines()
        .filter(|l| !l.starts_with("exclude = "))
        .map(|l| format!("{l}\n"))
        .collect();
    put(&src.join("Cargo.toml"), workspace.as_bytes());
    for f in ["Cargo.lock", "rust-toolchain.toml"] {
        put(&src.join(f), &std::fs::read(root.join(f)).unwrap());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&src)
        .args(["build", "-p", "forge-authz-guest", "--release"])
        .args(["--target", "wasm32-wasip2", "--target-dir"])
        .arg(dir.join("target"));
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "building the {name} module: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = dir.join(format!("{name}.wasm"));
    std::fs::copy(
        dir.join("target/wasm32-wasip2/release/forge_authz_guest.wasm"),
        &wasm,
    )
    .unwrap();
    wasm
}

/// A module that lets expired tokens through.
fn broken_module() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| patched_module("no-expiry", NO_EXPIRY))
}

#[test]
fn the_shipped_module_passes_the_gate_on_ten_thousand_cases() {
    // Issue 23 "Done when": `forge-authz check` on the shipped module passes — the default
    // 10,000 generated cases, the whole shipped corpus, nothing differs from itself.
    let (code, report) = check(&["<embedded>"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["cases"], 10_000);
    assert_eq!(report["undecided"], 0);
    assert!(
        report["corpus"]["scenarios"].as_u64().unwrap() >= 150,
        "{}",
        report["corpus"]
    );
    assert!(report["corpus"]["failures"].as_array().unwrap().is_empty());
    assert!(report["differences"].as_array().unwrap().is_empty());
    // Every invariant was exercised, and the cases allow often enough to mean something.
    for i in report["invariants"].as_array().unwrap() {
        assert!(i["checked"].as_u64().unwrap() >= 50, "{i}");
        assert_eq!(i["failed"], 0, "{i}");
    }
    assert!(report["allowed"].as_u64().unwrap() >= 500, "{report}");
}

#[test]
fn a_module_letting_expired_tokens_through_fails_with_a_minimal_counterexample() {
    // Issue 23 "Done when": a deliberately broken module fails, naming the invariant and
    // a minimal counterexample.
    let broken = broken_module();
    let b = broken.to_str().unwrap();
    let (code, report) = check(&[b]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["verdict"], "fail");
    let inv = invariant(&report, "expired-token-never-allows");
    assert!(inv["failed"].as_u64().unwrap() > 0, "{inv}");
    // Only expiry broke: every other invariant holds.
    for i in report["invariants"].as_array().unwrap() {
        if i["name"] != "expired-token-never-allows" {
            assert_eq!(i["failed"], 0, "{i}");
        }
    }
    // The corpus's expired-token scenarios now allow: widened.
    let corpus = report["corpus"]["failures"].as_array().unwrap();
    assert!(corpus.iter().any(|f| f["what"] == "widened"), "{corpus:?}");
    // The counterexample is minimal (shrunk: one user, the token, at most one
    // repository and the deploy/user keys gone) and `decide` reproduces it.
    let c = &inv["counterexample"];
    let world = &c["world"];
    assert!(world["users"].as_array().unwrap().len() <= 2, "{c}");
    assert!(
        world["repositories"].as_array().map_or(0, Vec::len) <= 1,
        "{c}"
    );
    assert_eq!(world["tokens"].as_array().unwrap().len(), 1, "{c}");
    assert!(c["size"].as_u64().unwrap() <= 4, "{c}");
    let dir = scratch("counterexample");
    let (w, r) = (dir.join("world.json"), dir.join("request.json"));
    std::fs::write(&w, world.to_string()).unwrap();
    std::fs::write(&r, c["request"].to_string()).unwrap();
    let decide = |policy: &str| {
        let out = run(
            &[
                "decide",
                "--policy",
                policy,
                "--world",
                w.to_str().unwrap(),
                "--request",
                r.to_str().unwrap(),
            ],
            None,
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code().unwrap(), v)
    };
    let (code, got) = decide(b);
    assert_eq!(
        code, 0,
        "the broken module allows the counterexample: {got}"
    );
    let (code, got) = decide("<embedded>");
    assert_eq!(
        (code, got["reason"].as_str()),
        (1, Some("token-expired")),
        "{got}"
    );
}

#[test]
fn the_same_seed_gives_the_same_report_and_its_hash() {
    // The report is canonical: a reviewed copy hashes as the one `publish` recomputes.
    let dir = scratch("seed");
    let report = |seed: &str, name: &str| {
        let path = dir.join(name);
        let out = run(
            &[
                "check",
                "<embedded>",
                "--cases",
                "500",
                "--seed",
                seed,
                "--at",
                "1767225600",
                "--report",
                path.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = String::from_utf8(out.stdout).unwrap();
        (std::fs::read(path).unwrap(), summary)
    };
    let (a, summary) = report("7", "a.json");
    let (b, _) = report("7", "b.json");
    let (c, _) = report("8", "c.json");
    assert_eq!(a, b, "same seed, same bytes");
    assert_ne!(a, c, "another seed, other cases");
    use sha2::Digest as _;
    let hash = hex::encode(sha2::Sha256::digest(&a));
    assert!(
        summary.contains(&hash),
        "the summary names the report's hash {hash}: {summary}"
    );
}

#[test]
fn publish_refuses_a_failing_module_and_needs_the_reviewed_report_for_differences() {
    // Issue 23 item 2: `publish` runs the gate — an invariant failure refuses; differences
    // require `--accept-differences REPORT`, the reviewed report, its hash recorded in the
    // publication log. (Signatures are `trust.rs`'s: these modules go unsigned.)
    let dir = scratch("publish");
    let db = dir.join("forge.db");
    let db = db.to_str().unwrap();
    assert!(run(&["init-db", "--db", db], None).status.success());
    let publish = |module: &Path, extra: &[&str]| {
        let m = module.to_str().unwrap();
        let out = run(
            &[&["publish", "--db", db, m, "--allow-unsigned"], extra].concat(),
            None,
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = publish(broken_module(), &[]);
    assert!(
        !ok && err.contains("not published") && err.contains("expired-token-never-allows"),
        "{err}"
    );
    // A module that only rewords a message: no rule broken, but decisions differ.
    let reworded = patched_module("reworded", REWORDED);
    let (ok, err) = publish(&reworded, &[]);
    assert!(!ok && err.contains("changes decisions"), "{err}");
    let report = dir.join("report.json");
    let r = report.to_str().unwrap();
    let args = ["--db", db, "--cases", "300", "--report", r];
    let (code, json) = check(&[&[reworded.to_str().unwrap()][..], &args].concat());
    assert_eq!(code, 3, "differences only: {json}");
    let groups = json["differences"].as_array().unwrap();
    assert!(!groups.is_empty());
    for g in groups {
        assert_eq!(
            g["before"], "token-expired",
            "only the expired message changed: {g}"
        );
        assert_eq!(g["after"], "token-expired", "{g}");
    }
    // An edited report is not the one publish recomputes.
    let edited = dir.join("edited.json");
    let text = std::fs::read_to_string(&report).unwrap();
    std::fs::write(
        &edited,
        text.replacen("\"generated\": ", "\"generated\": 1", 1),
    )
    .unwrap();
    let (ok, err) = publish(
        &reworded,
        &["--accept-differences", edited.to_str().unwrap()],
    );
    assert!(!ok && err.contains("is not the gate report"), "{err}");
    let (ok, err) = publish(&reworded, &["--accept-differences", r]);
    assert!(ok, "{err}");
    use sha2::Digest as _;
    let hash = hex::encode(sha2::Sha256::digest(text.as_bytes()));
    let conn = rusqlite::Connection::open(db).unwrap();
    let recorded: Option<String> = conn
        .query_row(
            "SELECT accepted_report_sha256 FROM policy_publications ORDER BY seq DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(recorded.as_deref(), Some(hash.as_str()));
}

#[test]
fn the_freeze_policy_differs_exactly_by_the_writes_it_refuses() {
    // Issue 23 "Done when": on the freeze policy (examples/site-policy, README "Writing
    // your own policy"), `check` reports exactly the freeze's differences: writes the core
    // allowed, now `site-refused`; no read, no invariant, no corpus failure. Without site
    // data the same module decides exactly as the shipped one.
    let dir = scratch("freeze");
    let module = dir.join("site-policy.wasm");
    std::fs::write(&module, site_policy::build()).unwrap();
    let m = module.to_str().unwrap();
    let (code, report) = check(&[m, "--cases", "2000"]);
    assert_eq!(
        (code, &report["verdict"]),
        (0, &serde_json::json!("pass")),
        "{report}"
    );
    let site = dir.join("site.json");
    let window = r#"{"from": 0, "until": 253402300799, "reason": "release week"}"#;
    std::fs::write(&site, format!(r#"{{"freeze": {{"windows": [{window}]}}}}"#)).unwrap();
    let (code, report) = check(&[m, "--site", site.to_str().unwrap(), "--cases", "2000"]);
    assert_eq!(code, 3, "differences only: {report}");
    assert!(
        report["corpus"]["failures"].as_array().unwrap().is_empty(),
        "{report}"
    );
    for i in report["invariants"].as_array().unwrap() {
        assert_eq!(i["failed"], 0, "{i}");
    }
    let groups = report["differences"].as_array().unwrap();
    let kinds: std::collections::BTreeSet<&str> =
        groups.iter().map(|g| g["kind"].as_str().unwrap()).collect();
    let writes = [
        "api-write",
        "batch-push",
        "create",
        "git-push",
        "ref-permissions",
    ];
    assert!(
        kinds.iter().all(|k| writes.contains(k)),
        "only writes change: {kinds:?}"
    );
    for k in ["git-push", "api-write", "create"] {
        assert!(kinds.contains(k), "the freeze refuses {k}: {kinds:?}");
    }
    for g in groups {
        let (before, after) = (g["before"].as_str().unwrap(), g["after"].as_str().unwrap());
        if g["kind"] == "ref-permissions" {
            assert!(before != "none" && after == "none", "{g}");
        } else {
            assert!(
                before.starts_with("granted") || before.starts_with("public-read"),
                "{g}"
            );
            assert!(after.starts_with("site-refused"), "{g}");
        }
    } // A freeze planned for later (2100-01-01, one day) changes nothing now; `--at` inside
    // its window shows what it will refuse, and the report states that time.
    let later = r#"{"from": 4102444800, "until": 4102531200, "reason": "year 2100"}"#;
    std::fs::write(&site, format!(r#"{{"freeze": {{"windows": [{later}]}}}}"#)).unwrap();
    let s = site.to_str().unwrap();
    let (code, report) = check(&[m, "--site", s, "--cases", "500"]);
    assert_eq!(code, 0, "not frozen now: {report}");
    let (code, report) = check(&[m, "--site", s, "--cases", "500", "--at", "4102448400"]);
    assert_eq!(code, 3, "frozen at --at: {report}");
    assert_eq!(report["at"], 4_102_448_400_i64, "{report}");
}

//! The template site policy (`examples/site-policy/`, README "Writing your own policy")
//! built as an operator builds it, and run by the real binary: `forge-authz decide --world
//! W --request R --policy site_policy.wasm --site FREEZE.json`.
//!
//! Issue 23 item 4: "a change freeze — during windows listed in the site configuration,
//! writes (push, API writes) are refused with a site reason, reads and administrators
//! unaffected", its rules "can only narrow the core's decision (combined as core-allow AND
//! site-allow)". So: inside a window a push, an API write and a repository creation are
//! refused `site-refused` (403, the window's reason and end in the message, the site's code
//! in the trace's own `site` step), a pull and an API read are allowed, a site
//! administrator's push is allowed, and a request the core refuses keeps the core's
//! reason; outside every window each decision is exactly the shipped module's. Site data
//! the policy cannot use is refused (`bad-site`), never read as no freeze.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/cli.rs"]
mod cli;
#[path = "support/site_policy.rs"]
mod site_policy;

use std::path::PathBuf;

use serde_json::{Value, json};

/// The world's time: 2026-12-25T00:00:00Z.
const NOW: i64 = 1_798_156_800;

/// A window holding `NOW`, ending 2026-12-27T00:00:00Z.
const INSIDE: (i64, i64) = (NOW - 86_400, NOW + 2 * 86_400);

/// A test directory: a world (`forge-authz init`'s, at [`NOW`], with `root` a site
/// administrator), alice's and root's write tokens, the built site policy, and site data
/// files (a window holding [`NOW`], one that does not, and data the freeze cannot read).
struct Site {
    dir: PathBuf,
    world: String,
    policy: String,
    alice: String,
    root: String,
}

impl Site {
    fn new(name: &str) -> Site {
        let dir = forge_authz_testkit::scratch(&format!("forge-authz-site-policy-{name}-"));
        let world = dir.join("world.json");
        let w = world.to_str().unwrap().to_string();
        assert!(cli::run(&["init", "--world", &w], None).status.success());
        let mut doc: Value = serde_json::from_slice(&std::fs::read(&world).unwrap()).unwrap();
        doc["now"] = json!(NOW);
        doc["users"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "root", "site_admin": true}));
        std::fs::write(&world, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        let policy = dir.join("site_policy.wasm");
        std::fs::write(&policy, site_policy::build()).unwrap();
        let mut site = Site {
            policy: policy.display().to_string(),
            alice: String::new(),
            root: String::new(),
            world: w,
            dir,
        };
        site.alice = site.mint("alice");
        site.root = site.mint("root");
        site.data("inside.json", &freeze(INSIDE, "year-end holidays"));
        site.data(
            "outside.json",
            &freeze((NOW + 86_400, NOW + 2 * 86_400), "later"),
        );
        site.data("bad.json", &freeze((NOW, NOW - 1), "reversed"));
        site
    }

    /// A write token of `owner` (every repository scope).
    fn mint(&self, owner: &str) -> String {
        let args = [
            "mint",
            "--world",
            &self.world,
            "--owner",
            owner,
            "--scope",
            "write:repository",
            "--expires-in",
            "30d",
        ];
        let out = cli::run(&args, None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn data(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join(name), text).unwrap();
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// `decide --world W --request - [--explain] EXTRA...`: its JSON.
    fn decide(&self, request: &Value, extra: &[&str]) -> Value {
        let mut args = vec![
            "decide",
            "--world",
            &self.world,
            "--request",
            "-",
            "--explain",
        ];
        args.extend_from_slice(extra);
        let out = cli::run(&args, Some(&request.to_string()));
        let stdout = String::from_utf8(out.stdout).unwrap();
        serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{e}: {stdout:?} {}", String::from_utf8_lossy(&out.stderr)))
    }

    /// The decision of the site policy with the site data file `data`.
    fn sited(&self, request: &Value, data: &str) -> Value {
        let data = self.path(data);
        self.decide(request, &["--policy", &self.policy, "--site", &data])
    }

    /// The decision of the shipped module (embedded), no site data.
    fn shipped(&self, request: &Value) -> Value {
        self.decide(request, &[])
    }
}

/// Site data with one freeze window.
fn freeze((from, until): (i64, i64), reason: &str) -> String {
    json!({"freeze": {"windows": [{"from": from, "until": until, "reason": reason}]}}).to_string()
}

fn basic(token: &str) -> Value {
    json!({"basic": {"username": "x-access-token", "password": token}})
}

fn git(token: &str, repository: &str, action: &str) -> Value {
    json!({"credential": basic(token), "repository": repository, "action": action,
           "refs": [{"name": "refs/heads/main"}]})
}

fn api(token: &str, method: &str) -> Value {
    json!({"kind": "api", "credential": {"bearer": token}, "method": method,
           "categories": ["repository"], "repository": "alice/app", "requires_auth": true})
}

fn create(token: &str) -> Value {
    json!({"kind": "create", "credential": basic(token), "repository": "alice/new",
           "step": "push-to-create"})
}

fn ref_permissions(token: &str) -> Value {
    json!({"kind": "ref-permissions", "credential": basic(token), "repository": "alice/app",
           "ref_names": ["refs/heads/main", "refs/heads/dev"]})
}

fn batch(token: &str, action: &str) -> Value {
    json!({"kind": "batch", "credential": basic(token), "action": action,
           "repositories": ["alice/app", "alice/secret", "carol/notes"]})
}

/// `(decision, status, reason)` of a decision.
fn verdict(d: &Value) -> (&str, u64, &str) {
    (
        d["decision"]
            .as_str()
            .unwrap_or_else(|| panic!("no decision: {d}")),
        d["status"].as_u64().unwrap(),
        d["reason"].as_str().unwrap(),
    )
}

/// The trace's last step: `(rule, outcome, detail)`.
fn last_step(d: &Value) -> (&str, &str, &str) {
    let step = d["trace"]
        .as_array()
        .and_then(|t| t.last())
        .unwrap_or(&Value::Null);
    let field = |f: &str| step[f].as_str().unwrap_or_default();
    (field("rule"), field("outcome"), field("detail"))
}

/// Inside the window, each write alice may make is refused with the window's reason and
/// end and the site's own trace step; its refs too (a host applying per-ref verdicts
/// applies none). Reads, a site administrator's writes and the core's own refusals are
/// unaffected: each decision is the shipped module's, trace included.
#[test]
fn inside_a_freeze_window_only_writes_the_core_allowed_non_administrators_are_refused() {
    let s = Site::new("inside");
    let frozen = [
        ("push", git(&s.alice, "alice/app", "push")),
        ("API write", api(&s.alice, "POST")),
        ("repository creation", create(&s.alice)),
    ];
    let unaffected = [
        ("alice's pull", git(&s.alice, "alice/app", "pull")),
        ("alice's API read", api(&s.alice, "GET")),
        ("alice's batch pull", batch(&s.alice, "pull")),
        ("root's push", git(&s.root, "alice/app", "push")),
        ("root's API write", api(&s.root, "PATCH")),
        ("root's ref permissions", ref_permissions(&s.root)),
        (
            "alice's push to carol's private repository",
            git(&s.alice, "carol/notes", "push"),
        ),
        (
            "an anonymous push",
            json!({"repository": "alice/app", "action": "push"}),
        ),
    ];
    for (what, request) in &frozen {
        assert_eq!(
            verdict(&s.shipped(request)).0,
            "allow",
            "{what}: the core allows"
        );
        let d = s.sited(request, "inside.json");
        assert_eq!(verdict(&d), ("deny", 403, "site-refused"), "{what}: {d}");
        let message = d["message"].as_str().unwrap();
        for part in ["year-end holidays", "2026-12-27T00:00:00Z"] {
            assert!(message.contains(part), "{what}: {message}");
        }
        let step = ("site", "decide", "site-refused: change-freeze");
        assert_eq!(last_step(&d), step, "{what}: {d}");
        for r in d["refs"].as_array().into_iter().flatten() {
            assert_eq!(r["reason"].as_str(), Some("site-refused"), "{what}: {d}");
        }
    }
    for (what, request) in &unaffected {
        assert_eq!(
            s.sited(request, "inside.json"),
            s.shipped(request),
            "{what}"
        );
    }
    assert_eq!(
        verdict(&s.shipped(&unaffected[3].1)).0,
        "allow",
        "root may push"
    );
    let push = s.sited(&frozen[0].1, "inside.json");
    assert_eq!(push["refs"].as_array().map(Vec::len), Some(1), "{push}");
}

/// Ref permissions and a batch push narrow as a push does: inside the window alice may
/// create, push or force-push no ref, and each repository the core let her push is refused
/// `site-refused` (the others keep the core's reason).
#[test]
fn inside_a_freeze_window_ref_permissions_and_batches_narrow_alike() {
    let s = Site::new("calls");
    let grants = |d: &Value| -> Vec<(String, usize)> {
        let refs = d
            .as_object()
            .unwrap_or_else(|| panic!("not ref grants: {d}"));
        // By name: the JSON object's order is serde_json's (insertion order when a crate in
        // the build enables its `preserve_order` feature, as the workspace's test build does).
        let mut grants: Vec<(String, usize)> = refs
            .iter()
            .map(|(name, g)| (name.clone(), g.as_array().unwrap().len()))
            .collect();
        grants.sort();
        grants
    };
    let shipped = s.shipped(&ref_permissions(&s.alice));
    let main_dev = ["refs/heads/dev", "refs/heads/main"].map(String::from);
    assert_eq!(
        grants(&shipped),
        main_dev.clone().map(|r| (r, 3)),
        "{shipped}"
    );
    let sited = s.sited(&ref_permissions(&s.alice), "inside.json");
    assert_eq!(grants(&sited), main_dev.map(|r| (r, 0)), "{sited}");

    let shipped = s.shipped(&batch(&s.alice, "push"));
    let sited = s.sited(&batch(&s.alice, "push"), "inside.json");
    let (core, site) = (
        shipped
            .as_array()
            .unwrap_or_else(|| panic!("not a batch: {shipped}")),
        sited
            .as_array()
            .unwrap_or_else(|| panic!("not a batch: {sited}")),
    );
    assert_eq!(core.len(), site.len());
    for (c, d) in core.iter().zip(site) {
        match verdict(c).0 {
            "allow" => assert_eq!(verdict(d), ("deny", 403, "site-refused"), "{d}"),
            _ => assert_eq!(c, d),
        }
    }
    assert!(core.iter().any(|c| verdict(c).0 == "allow"), "{shipped}");
}

/// Outside every window (and with no freeze at all), every decision is exactly the shipped
/// module's.
#[test]
fn outside_the_windows_every_decision_is_the_shipped_modules() {
    let s = Site::new("outside");
    s.data("none.json", "{}");
    for request in [
        git(&s.alice, "alice/app", "push"),
        git(&s.alice, "alice/app", "pull"),
        git(&s.root, "alice/app", "push"),
        api(&s.alice, "POST"),
        create(&s.alice),
        ref_permissions(&s.alice),
        batch(&s.alice, "push"),
    ] {
        let shipped = s.shipped(&request);
        assert_eq!(s.sited(&request, "outside.json"), shipped, "{request}");
        assert_eq!(s.sited(&request, "none.json"), shipped, "{request}");
    }
}

/// Site data the freeze cannot use refuses the configuration (`bad-site`): nothing is
/// decided with it, and nothing is allowed (fail closed).
#[test]
fn unusable_site_data_decides_nothing() {
    let s = Site::new("bad");
    let d = s.sited(&git(&s.alice, "alice/app", "pull"), "bad.json");
    assert_eq!(d["decision"].as_str(), Some("deny"), "{d}");
    assert_eq!(d["reason"].as_str(), Some("policy-failure"), "{d}");
    let detail = d.to_string();
    assert!(detail.contains("`from` must be before `until`"), "{detail}");
}

/// The template's own tests (the freeze natively, `examples/site-policy/tests`) pass with
/// its committed `Cargo.lock` (`--locked`), in its own target directory: what an operator
/// runs first after copying it (README "Writing your own policy").
#[test]
fn the_templates_own_tests_pass_with_its_lock_file() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .arg("test")
        .arg("--locked")
        .arg("--manifest-path")
        .arg(site_policy::crate_dir().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(site_policy::root().join("target/site-policy"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo test of the template: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ran = "test inside_a_window_writes_are_refused_naming_it_and_reads_are_unaffected ... ok";
    assert!(stdout.contains(ran), "{stdout}");
}

//! Site data is configuration (issue 23 item 4: "site data passed in the authorizer's
//! configuration (versioned like keys and options)"): `forge-authz site set|show|clear|
//! history` over SQLite and a real PostgreSQL server, each change a new configuration
//! version that every running `serve` applies within its poll (with the template site
//! policy published, the freeze it holds refuses pushes on both hosts within seconds),
//! bad data refused before anything is written (by the host: not JSON; by the site
//! policy: `bad-site`), and `decide --world --site` giving a world decision site data.
//! Every wait polls until a deadline; none is a fixed sleep.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use serde_json::Value;
use sha2::Digest as _;

#[path = "support/fleet.rs"]
mod harness;
#[path = "support/site_policy.rs"]
mod site_policy;

use forge_authz_testkit::{Backend, both};
use harness::{APP, FLEET_WAIT, Fleet, cli, describe, pg_fleet, sqlite_fleet};

/// A freeze calendar as the site policy of `examples/site-policy` reads it (plan23.md,
/// "Site policy"): spaces and key order kept, to show the store keeps it verbatim.
const FREEZE: &str = r#"{ "freeze": { "windows": [
  {"from": 0, "until": 4102444800, "reason": "year-end freeze"}
] } }
"#;

/// A store with the test world (`None`: PostgreSQL skipped, said SKIPPED on stderr).
fn fleet(b: Backend, name: &str) -> Option<Fleet> {
    match b {
        Backend::Sqlite => Some(sqlite_fleet(&format!("site-{name}"))),
        Backend::Postgres => pg_fleet(&format!("site_{name}")),
    }
}

/// `path` in the fleet's directory, holding `bytes`.
fn file(f: &Fleet, name: &str, bytes: &[u8]) -> String {
    let path = f.dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// `forge-authz site ARGS --db DB --actor ops --json`: its JSON output.
fn site(f: &Fleet, args: &[&str]) -> Value {
    let mut all = vec!["site"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--db", &f.db, "--actor", "ops", "--json"]);
    f.json(&all)
}

/// Every host runs configuration `version`, refusing none.
fn hosts_at(f: &Fleet, version: i64) {
    f.wait_all(
        &format!("every host applies version {version}"),
        |s, row| {
            let at = (&s["fleet"]["config_version"], &row["config_version"]);
            if at != (&Value::from(version), &Value::from(version)) {
                return Err(format!("at {at:?}"));
            }
            match s["fleet"]["config_refused"].as_str() {
                Some(why) => Err(format!("refused: {why}")),
                None => Ok(()),
            }
        },
    );
}

both!(
    site_data_is_a_configuration_version_every_running_host_applies,
    |b| {
        let mut f = fleet(b, "versions")?;
        f.start_two("site");
        Some(f)
    }
);
fn site_data_is_a_configuration_version_every_running_host_applies(f: Fleet) {
    // issue 23 item 4: site data "versioned like keys and options" — set, shown verbatim,
    // cleared, each a configuration version both running hosts apply within their poll,
    // recorded (who, when, what) in the history.
    let (token, _) = f.create_token("ci");
    let start = site(&f, &["show"]);
    assert!(
        start["site"].is_null() && start["sha256"].is_null(),
        "{start}"
    );
    let v0 = start["version"].as_i64().unwrap();

    let freeze = file(&f, "freeze.json", FREEZE.as_bytes());
    let set = site(&f, &["set", &freeze]);
    assert_eq!(
        (&set["changed"], &set["version"]),
        (&true.into(), &(v0 + 1).into()),
        "{set}"
    );
    let shown = cli(&["site", "show", "--db", &f.db]);
    assert!(
        shown.status.success(),
        "{}",
        describe(&["site", "show"], &shown)
    );
    assert_eq!(
        String::from_utf8(shown.stdout).unwrap(),
        FREEZE,
        "`site show` prints the data as set, byte for byte"
    );
    let json = site(&f, &["show"]);
    let want: Value = serde_json::from_str(FREEZE).unwrap();
    assert_eq!(
        (&json["version"], &json["site"]),
        (&(v0 + 1).into(), &want),
        "{json}"
    );
    let sha = json["sha256"].as_str().unwrap().to_owned();
    assert_eq!(sha.len(), 64, "{json}");
    // The same data again is no change: no new version for the hosts to apply.
    let same = site(&f, &["set", &freeze]);
    assert_eq!(
        (&same["changed"], &same["version"]),
        (&false.into(), &(v0 + 1).into())
    );
    hosts_at(&f, v0 + 1);
    // The core ignores site data: decisions are unchanged.
    f.decides(&token, "with site data");

    let cleared = site(&f, &["clear"]);
    assert_eq!(cleared["version"], v0 + 2, "{cleared}");
    assert!(site(&f, &["show"])["site"].is_null());
    assert_eq!(
        site(&f, &["clear"])["changed"],
        false,
        "nothing left to clear"
    );
    hosts_at(&f, v0 + 2);
    f.expect(0, APP, Some(&token), (200, "granted"), "site data cleared");

    let history = site(&f, &["history"]);
    let events = history["events"].as_array().unwrap();
    let got: Vec<(&str, &str, i64)> = events
        .iter()
        .map(|e| {
            let (action, actor) = (e["action"].as_str(), e["actor"].as_str());
            (
                action.unwrap(),
                actor.unwrap(),
                e["version"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("site-clear", "ops", v0 + 2), ("site-set", "ops", v0 + 1)],
        "only the site's changes: {history}"
    );
    let (clear, set) = (&events[0]["detail"], &events[1]["detail"]);
    assert_eq!(set["sha256"], sha.as_str(), "{history}");
    assert_eq!(set["site"], want, "what was set is reviewable: {history}");
    assert_eq!(clear["previous_sha256"], sha.as_str(), "{history}");
    // The configuration's whole history has them too (`keys history`).
    let all = f.json(&["keys", "history", "--db", &f.db, "--json"]);
    assert_eq!(all["events"][0]["action"], "site-clear", "{all}");
}

both!(bad_site_data_is_refused_before_anything_is_written, |b| {
    fleet(b, "refused")
});
fn bad_site_data_is_refused_before_anything_is_written(f: Fleet) {
    // issue 23 item 4 and the house rule "fail closed": site data that is not JSON (or
    // empty, too large, not text, not a file) is refused with the reason; the
    // data in force and the configuration version stay as they were.
    let good = file(&f, "good.json", br#"{"freeze":{"windows":[]}}"#);
    site(&f, &["set", &good]);
    let before = site(&f, &["show"]);
    let too_large = format!("[{}0]", "0,".repeat(40 * 1024));
    let cases: Vec<(String, &str)> = vec![
        (file(&f, "truncated.json", br#"{"freeze":"#), "not JSON"),
        (file(&f, "text.json", b"freeze until Monday"), "not JSON"),
        (file(&f, "two.json", b"{} {}"), "not JSON"),
        (file(&f, "empty.json", b""), "empty"),
        (file(&f, "blank.json", b" \n\t\n"), "empty"),
        (file(&f, "large.json", too_large.as_bytes()), "more than"),
        (
            file(&f, "latin1.json", b"{\"reason\":\"f\xe9te\"}"),
            "not UTF-8",
        ),
        (
            f.dir.join("missing.json").display().to_string(),
            "site data",
        ),
        (f.dir.display().to_string(), "site data"),
    ];
    for (path, says) in &cases {
        f.refused(&["site", "set", path, "--db", &f.db], says);
    }
    assert_eq!(site(&f, &["show"]), before, "no refusal wrote anything");
    let args = ["site", "history", "--limit", "0", "--db", &f.db];
    assert_eq!(cli(&args).status.code(), Some(2));
}

/// `decide --world WORLD --request REQUEST [--site SITE]`: exit code and output.
fn decide_world(f: &Fleet, site: Option<&str>) -> (Option<i32>, Value, String) {
    let world = f.dir.join("world.json").display().to_string();
    let request = file(
        f,
        "request.json",
        br#"{"credential":"anonymous","repository":"alice/app","action":"pull"}"#,
    );
    let mut args = vec!["decide", "--world", &world, "--request", &request];
    if let Some(site) = site {
        args.extend_from_slice(&["--site", site]);
    }
    let o = cli(&args);
    let out = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), out, describe(&args, &o))
}

#[test]
fn a_world_decision_carries_site_data() {
    // issue 23 item 4: a world decision can be given site data (`decide --world --site`),
    // checked as `site set` checks it; the core ignores it.
    let f = sqlite_fleet("site-decide");
    let (code, plain, why) = decide_world(&f, None);
    assert_eq!(code, Some(0), "{why}");
    let freeze = file(&f, "freeze.json", FREEZE.as_bytes());
    let (code, with_site, why) = decide_world(&f, Some(&freeze));
    assert_eq!((code, &with_site), (Some(0), &plain), "{why}");
    let bad = file(&f, "bad.json", b"{");
    let (code, _, why) = decide_world(&f, Some(&bad));
    assert_eq!(code, Some(2), "{why}");
    assert!(why.contains("not JSON"), "{why}");
    // `--db` reads the store's site data: `--site` goes with `--world` only.
    let args = ["decide", "--db", &f.db, "--request", "-", "--site", &freeze];
    assert_eq!(cli(&args).status.code(), Some(2), "clap refuses the pair");
}

/// A push of alice/app (forward auth: the `info/refs` request that starts it).
const PUSH: &str = "/alice/app.git/info/refs?service=git-receive-pack";

both!(
    a_site_policy_on_running_hosts_follows_the_site_data_within_seconds,
    |b| {
        let mut f = fleet(b, "policy")?;
        f.start_two("sited");
        Some(f)
    }
);
fn a_site_policy_on_running_hosts_follows_the_site_data_within_seconds(f: Fleet) {
    // issue 23 item 4: "site data passed in the authorizer's configuration (versioned like
    // keys and options)". The template site policy (a change freeze) published to two
    // running hosts: a freeze set with `site set` refuses a push on both within their
    // poll (reads unaffected), `site clear` lifts it; data the site policy refuses
    // (`bad-site`) is refused by the fleet's live module before it is written.
    let module = f.dir.join("site-policy.wasm");
    harness::signer().write_signed(&module, site_policy::build(), 2);
    // No site data yet: the site policy decides as the shipped module, nothing differs.
    f.ok(&["publish", module.to_str().unwrap(), "--db", &f.db]);
    let (token, _) = f.create_token_with("pusher", &["--scope", "write:repository"]);
    f.wait_answers(
        FLEET_WAIT,
        PUSH,
        Some(&token),
        (200, "granted"),
        "no freeze",
    );

    let freeze = file(&f, "freeze.json", FREEZE.as_bytes());
    let frozen = site(&f, &["set", &freeze])["version"].as_i64().unwrap();
    let why = "a freeze set while the hosts run";
    f.wait_answers(FLEET_WAIT, PUSH, Some(&token), (403, "site-refused"), why);
    f.wait_answers(FLEET_WAIT, APP, Some(&token), (200, "granted"), why);
    hosts_at(&f, frozen);

    // A window that ends before it begins: JSON, but not a freeze the policy can use.
    let reversed = br#"{"freeze":{"windows":[{"from":20,"until":10,"reason":"x"}]}}"#;
    let bad = file(&f, "reversed.json", reversed);
    f.refused(
        &["site", "set", &bad, "--db", &f.db],
        "refused by the policy",
    );
    let o = cli(&["site", "set", &bad, "--db", &f.db]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("fleet:v") && err.contains("site policy data refused"),
        "{err}"
    );
    assert_eq!(site(&f, &["show"])["version"], frozen, "nothing written");

    let lifted = site(&f, &["clear"])["version"].as_i64().unwrap();
    let why = "the freeze cleared";
    f.wait_answers(FLEET_WAIT, PUSH, Some(&token), (200, "granted"), why);
    hosts_at(&f, lifted);
}

both!(the_gate_over_a_store_runs_with_its_site_data, |b| fleet(
    b, "gate"
));
fn the_gate_over_a_store_runs_with_its_site_data(f: Fleet) {
    // issue 23 item 2 with item 4: `forge-authz check CANDIDATE --db URL` compares with the
    // store's configuration, site data included — the freeze in the store is what the
    // report shows (and what `publish` recomputes), none once it is cleared.
    let module = file(&f, "site-policy.wasm", site_policy::build());
    let check = |want: i32| {
        let args = ["check", &module, "--db", &f.db, "--cases", "100", "--json"];
        let o = cli(&args);
        assert_eq!(o.status.code(), Some(want), "{}", describe(&args, &o));
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    let freeze = file(&f, "freeze.json", FREEZE.as_bytes());
    site(&f, &["set", &freeze]);
    let sha = site(&f, &["show"])["sha256"].clone();
    let frozen = check(3);
    assert_eq!(frozen["site_sha256"], sha, "the stored freeze");
    assert!(
        frozen["differences"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
    );
    site(&f, &["clear"]);
    let cleared = check(0);
    let none = hex::encode(sha2::Sha256::digest(b""));
    assert_eq!(cleared["site_sha256"], none.as_str(), "no site data");
}

//! Keys and options belong to the fleet (issue 19 item 3, "A retired signing key keeps
//! working on running servers"): real `forge-authz serve` processes over one store, SQLite
//! and a real PostgreSQL server, changed through the `keys` and `options` commands (or
//! behind their back by SQL), asked through forward auth, `status` and `fleet --json`.
//! Every wait polls until a deadline; none is a fixed sleep.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use serde_json::Value;

#[path = "support/fleet.rs"]
mod harness;

use forge_authz_testkit::{Backend, both};
use harness::{
    APP, Fleet, SECRET, cli, config_version, describe, pg_fleet, pg_fleet_notified, sql,
    sqlite_fleet,
};

/// How long every running host may take to apply a configuration change (they poll
/// every second).
const KEY_WAIT: Duration = Duration::from_secs(10);

/// A store with the test world (`None`: PostgreSQL skipped by `FORGE_AUTHZ_SKIP_PG=1`).
fn fleet(b: Backend, name: &str) -> Option<Fleet> {
    match b {
        Backend::Sqlite => Some(sqlite_fleet(name)),
        Backend::Postgres => pg_fleet(&format!("keys_{name}")),
    }
}

/// [`fleet`] with two hosts running, `{prefix}-a` and `{prefix}-b`.
fn two_hosts(b: Backend, name: &str, prefix: &str) -> Option<Fleet> {
    let mut f = fleet(b, name)?;
    f.start_two(prefix);
    Some(f)
}

/// A configuration change made by SQL: a new history row (the version hosts poll).
const BUMP: &str = "INSERT INTO config_history (action, actor, at, key_id, detail) \
                    VALUES ('sql', 'test', 0, NULL, '{}')";

/// `forge-authz keys ...` / `options ...` as the operator `ops`.
fn change(f: &Fleet, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--db", &f.db, "--actor", "ops"]);
    f.ok(&all)
}

/// Wait until every host runs configuration `version` and reports no refusal.
fn wait_config(f: &Fleet, version: i64) {
    f.wait_all(
        &format!("every host runs configuration {version}"),
        |s, row| {
            let fleet = &s["fleet"];
            if fleet["config_version"] != version || row["config_version"] != version {
                return Err(format!("not at configuration {version}"));
            }
            if !fleet["config_refused"].is_null() || row["state"] != "running" {
                return Err("a refusal is reported".into());
            }
            Ok(())
        },
    );
}

/// `decide --db` for a pull of alice/app with `secret`: the decision's reason and detail.
fn decide(f: &Fleet, secret: &str) -> (String, String) {
    let request = f.dir.join("request.json");
    std::fs::write(
        &request,
        format!(
            r#"{{"credential":{{"bearer":"{secret}"}},"repository":"alice/app","action":"pull"}}"#
        ),
    )
    .unwrap();
    let args = [
        "decide",
        "--db",
        &f.db,
        "--request",
        request.to_str().unwrap(),
    ];
    let o = cli(&args);
    let out: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", describe(&args, &o)));
    let text = |k: &str| out[k].as_str().unwrap_or_default().to_owned();
    (text("reason"), text("detail"))
}

both!(
    a_retired_key_stops_working_on_every_running_host_within_seconds,
    |b| two_hosts(b, "retire", "keys")
);
fn a_retired_key_stops_working_on_every_running_host_within_seconds(f: Fleet) {
    // issue 19 item 3: mint with k1, serve, add k2 (signing), retire k1 through the CLI:
    // both running hosts refuse the k1 token within seconds, and a k2 token works on both;
    // a module published afterwards runs with the current keys, not the start-up ones.
    let (k1_token, _) = f.create_token("minted-with-k1");
    assert!(k1_token.starts_with("fzpat_k1."), "signed by k1");
    f.wait_answers(KEY_WAIT, APP, Some(&k1_token), (200, "granted"), "k1 token");

    change(&f, &["keys", "add", "--id", "k2", "--sign-with"]);
    wait_config(&f, config_version(&f));
    let (k2_token, _) = f.create_token("minted-with-k2");
    assert!(
        k2_token.starts_with("fzpat_k2."),
        "signed by k2: {k2_token:.9}"
    );
    f.wait_answers(KEY_WAIT, APP, Some(&k2_token), (200, "granted"), "k2 token");
    f.wait_answers(
        KEY_WAIT,
        APP,
        Some(&k1_token),
        (200, "granted"),
        "k1 still listed",
    );

    change(&f, &["keys", "retire", "k1"]);
    let retired = config_version(&f);
    f.wait_answers(
        KEY_WAIT,
        APP,
        Some(&k1_token),
        (401, "token-invalid"),
        "the k1 token after k1 was retired",
    );
    f.wait_answers(KEY_WAIT, APP, Some(&k2_token), (200, "granted"), "k2 token");
    // A retired key is an unknown key: the token is invalid (401).
    assert_eq!(
        decide(&f, &k1_token),
        ("token-invalid".into(), "unknown-key".into()),
        "a fresh `decide --db`"
    );
    wait_config(&f, retired);
    for h in 0..f.hosts.len() {
        let s = f.status(h).unwrap();
        assert!(s["config_swaps"].as_u64() >= Some(2), "{s}");
        assert_eq!(s["refused_config_swaps"], 0, "{s}");
    }
    let fleet = f.fleet();
    assert_eq!(fleet["config"]["version"], retired, "{fleet}");
    assert_eq!(
        fleet["config"]["last_change"]["action"], "key-retire",
        "{fleet}"
    );
    let keys = f.json(&["keys", "list", "--db", &f.db, "--json"]);
    let k1 = &keys["keys"][0];
    assert_eq!(
        (k1["id"].as_str(), k1["retired_by"].as_str()),
        (Some("k1"), Some("ops"))
    );
    assert_eq!(keys["keys"][1]["signing"], true, "{keys}");

    // A module published now is checked and run with the current keys.
    let good = f.module("good.wasm");
    f.ok(&["publish", "--db", &f.db, &good]);
    f.wait_all("both hosts run module version 1", |s, _| {
        harness::version_is("status fleet.live", &s["fleet"]["live"], Some(1))
    });
    f.wait_answers(
        KEY_WAIT,
        APP,
        Some(&k1_token),
        (401, "token-invalid"),
        "after publish",
    );
    f.wait_answers(
        KEY_WAIT,
        APP,
        Some(&k2_token),
        (200, "granted"),
        "after publish",
    );
}

both!(
    an_option_change_changes_decisions_on_every_host_within_seconds,
    |b| two_hosts(b, "options", "options")
);
fn an_option_change_changes_decisions_on_every_host_within_seconds(f: Fleet) {
    // issue 19 item 3: options are configuration too. A token bound to alice/secret used
    // on the public alice/app: 401 token-not-bound, then (Forgejo's fallback) anonymous.
    let (bound, _) = f.create_token_with("bound", &["--repo", "alice/secret"]);
    f.wait_answers(
        KEY_WAIT,
        APP,
        Some(&bound),
        (401, "token-not-bound"),
        "default",
    );
    change(
        &f,
        &["options", "set", "binding-fallback-to-anonymous", "true"],
    );
    f.wait_answers(
        KEY_WAIT,
        APP,
        Some(&bound),
        (200, "public-read"),
        "with binding-fallback-to-anonymous",
    );
    // The bound repository itself still answers as before.
    f.wait_answers(
        KEY_WAIT,
        SECRET,
        Some(&bound),
        (200, "granted"),
        "bound repo",
    );
    change(
        &f,
        &["options", "set", "binding-fallback-to-anonymous", "false"],
    );
    f.wait_answers(
        KEY_WAIT,
        APP,
        Some(&bound),
        (401, "token-not-bound"),
        "back",
    );
    wait_config(&f, config_version(&f));
    let shown = f.json(&["options", "show", "--db", &f.db, "--json"]);
    assert_eq!(
        shown["options"]["binding_fallback_to_anonymous"], false,
        "{shown}"
    );
    // A lifetime the known answers' hour falls outside of is accepted (they follow the
    // options).
    change(&f, &["options", "set", "min-lifetime", "2h"]);
    wait_config(&f, config_version(&f));
}

/// Wait until every host refuses configuration `version` (the reason contains `why`)
/// and keeps running `running`.
fn wait_refused(f: &Fleet, version: i64, running: i64, why: &str) {
    let want = format!("configuration version {version}");
    f.wait_all(&format!("every host refuses {want}"), |s, row| {
        let refused = s["fleet"]["config_refused"].as_str().unwrap_or_default();
        if !refused.contains(&want) || !refused.contains(why) {
            return Err("status fleet.config_refused does not say why".into());
        }
        let detail = row["detail"].as_str().unwrap_or_default();
        if row["state"] != "refused" || !detail.contains(&want) {
            return Err("fleet row not refused".into());
        }
        if s["fleet"]["config_version"] != running || row["config_version"] != running {
            return Err(format!("not running configuration {running}"));
        }
        if s["refused_config_swaps"].as_u64() < Some(1) || s["refused_reloads"].as_u64() < Some(1) {
            return Err("refusal not counted".into());
        }
        Ok(())
    });
}

both!(
    a_configuration_the_module_refuses_keeps_the_previous_one_serving,
    |b| two_hosts(b, "refused", "refuse")
);
fn a_configuration_the_module_refuses_keeps_the_previous_one_serving(f: Fleet) {
    // issue 19 item 3: a configuration written behind the CLI's back that the module
    // refuses (a 16-byte key; a signing key that is retired) is refused by every host,
    // reported in `status` and `fleet`, and the previous configuration keeps serving.
    let (token, _) = f.create_token("ci");
    change(&f, &["keys", "add", "--id", "k2"]);
    let good = config_version(&f);
    wait_config(&f, good);

    sql(
        &f.db,
        &format!(
            "INSERT INTO keys (ordinal, id, secret) VALUES (99, 'weak', '{}'); {BUMP}",
            "ab".repeat(16)
        ),
    );
    wait_refused(&f, good + 1, good, "weak");
    f.decides(&token, "while a weak key is refused");
    // The CLI refuses to build on a configuration the policy refuses.
    let args = ["keys", "add", "--id", "k3", "--db", &f.db];
    let o = cli(&args);
    // Issue 25: a policy refusal exits 4 (EXIT_REFUSED).
    assert_eq!(o.status.code(), Some(4), "{}", describe(&args, &o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("refused by the policy"),
        "{}",
        describe(&args, &o)
    );
    change(&f, &["keys", "retire", "weak"]);
    wait_config(&f, config_version(&f));

    change(&f, &["keys", "retire", "k2"]);
    let before = config_version(&f);
    wait_config(&f, before);
    sql(
        &f.db,
        &format!("UPDATE meta SET value = 'k2' WHERE key = 'signing_key'; {BUMP}"),
    );
    wait_refused(&f, before + 1, before, "k2");
    f.decides(&token, "while a retired signing key is refused");
    change(&f, &["keys", "sign-with", "k1"]);
    wait_config(&f, config_version(&f));
    f.decides(&token, "after the repair");
}

#[test]
fn postgres_hosts_wake_on_a_key_change_without_waiting_for_their_poll() {
    // issue 19 item 3: hosts polling every 10 minutes apply a retirement within seconds,
    // woken by the change's NOTIFY.
    let Some(f) = pg_fleet_notified("keys_notify") else {
        return;
    };
    let (k1_token, _) = f.create_token("ci");
    f.wait_answers(KEY_WAIT, APP, Some(&k1_token), (200, "granted"), "before");
    change(&f, &["keys", "add", "--id", "k2", "--sign-with"]);
    change(&f, &["keys", "retire", "k1"]);
    f.wait_answers(
        KEY_WAIT,
        APP,
        Some(&k1_token),
        (401, "token-invalid"),
        "notified",
    );
}

#[test]
fn reload_checks_and_publishes_with_the_current_keys_not_the_start_up_ones() {
    // issue 19 item 3: a host that has not polled yet (SQLite, a 10-minute poll) reloads
    // its module with the store's current configuration.
    let mut f = sqlite_fleet("reload");
    f.poll = "600";
    let h = f.start("reload");
    let (k1_token, _) = f.create_token("ci");
    f.expect(h, APP, Some(&k1_token), (200, "granted"), "before");
    change(&f, &["keys", "add", "--id", "k2", "--sign-with"]);
    change(&f, &["keys", "retire", "k1"]);
    let admin = f.hosts[h].admin.to_str().unwrap().to_owned();
    let reloaded = f.json(&["reload", "--admin-socket", &admin]);
    assert!(reloaded["refused"].is_null(), "{reloaded}");
    // No wait: the reload itself applied the current configuration.
    f.expect(
        h,
        APP,
        Some(&k1_token),
        (401, "token-invalid"),
        "after reload",
    );
    let s = f.status(h).unwrap();
    assert_eq!(s["fleet"]["config_version"], config_version(&f), "{s}");
}

both!(a_version_3_store_keeps_its_keys_as_configuration_version_1);
fn a_version_3_store_keeps_its_keys_as_configuration_version_1(b: Backend) {
    // issue 19 item 3: schema 4 migrates the keys table and records the configuration a
    // store had as version 1; its tokens keep working and the new commands apply.
    let Some(f) = fleet(b, "migrate") else {
        return;
    };
    let (token, _) = f.create_token("before");
    let set_version = match b {
        Backend::Sqlite => "PRAGMA user_version = 3",
        Backend::Postgres => "UPDATE forge_authz_schema SET version = 3",
    };
    sql(
        &f.db,
        &forge_authz_testkit::schema::UNDO_V6
            .iter()
            .chain(forge_authz_testkit::schema::UNDO_V5)
            .chain(forge_authz_testkit::schema::UNDO_V4)
            .chain([&set_version])
            .map(|s| format!("{s};"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let keys = f.json(&["keys", "list", "--db", &f.db, "--json"]);
    assert_eq!(keys["version"], 1, "{keys}");
    assert_eq!(keys["keys"][0]["id"], "k1", "{keys}");
    assert_eq!(keys["keys"][0]["signing"], true, "{keys}");
    assert!(keys["keys"][0]["added_at"].is_null(), "{keys}");
    let history = f.json(&["keys", "history", "--db", &f.db, "--json"]);
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{history}");
    assert_eq!(events[0]["action"], "migrate", "{history}");
    assert_eq!(events[0]["detail"]["keys"][0], "k1", "{history}");
    assert_eq!(decide(&f, &token).0, "granted");
    let added = f.json(&["keys", "add", "--db", &f.db, "--json"]);
    assert_eq!(
        (added["key"].as_str(), added["version"].as_i64()),
        (Some("k2"), Some(2))
    );
}

/// A file holding `hex`, mode `mode`.
fn secret_file(f: &Fleet, name: &str, hex: &str, mode: u32) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let path = f.dir.join(name);
    std::fs::write(&path, format!("{hex}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.display().to_string()
}

/// Bad input refused (exit 2, 4 or 5, naming the problem); nothing written.
fn refusals(f: &Fleet) {
    let weak = secret_file(f, "weak.hex", &"ab".repeat(16), 0o600);
    let open = secret_file(f, "open.hex", &"ab".repeat(32), 0o644);
    let not_hex = secret_file(f, "not-hex.txt", "not a hex secret", 0o600);
    let missing = f.dir.join("missing").display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["keys", "retire", "k1"], "signs new tokens"),
        (&["keys", "retire", "nope"], "no key `nope`"),
        (&["keys", "sign-with", "nope"], "no key `nope`"),
        (&["keys", "add", "--id", "k1"], "never reused"),
        (&["keys", "add", "--id", "Bad!"], "refused by the policy"),
        (
            &["keys", "add", "--secret-file", &weak],
            "refused by the policy",
        ),
        (
            &["keys", "add", "--secret-file", &open],
            "readable by every user",
        ),
        (&["keys", "add", "--secret-file", &not_hex], "as hex"),
        (&["keys", "add", "--secret-file", &missing], "secret file"),
        (&["keys", "add", "--actor", " "], "must name someone"),
        (
            &["options", "set", "no-such-option", "1d"],
            "unknown option",
        ),
        (
            &["options", "set", "require-expiry", "yes"],
            "`true` or `false`",
        ),
        (&["options", "set", "max-lifetime", "5"], "lifetime `5`"),
        (
            &["options", "set", "max-lifetime", "0d"],
            "must be positive",
        ),
        (
            &["options", "set", "max-lifetime", "never"],
            "finite lifetime",
        ),
        (
            &["options", "set", "min-lifetime", "400d"],
            "longer than max-lifetime",
        ),
        (
            &["options", "set", "max-lifetime", "1m"],
            "longer than max-lifetime",
        ),
        (&["keys", "retire"], "ID"),
    ];
    for (args, says) in cases {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--db", &f.db]);
        let o = cli(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        // Issue 25: a refusal (by the policy, or by a rule that holds after every
        // change) exits 4 (EXIT_REFUSED), an unknown key 5 (EXIT_NOT_FOUND), bad input 2.
        let want = match *says {
            "refused by the policy" | "signs new tokens" => 4,
            "no key `nope`" => 5,
            _ => 2,
        };
        assert_eq!(o.status.code(), Some(want), "{}", describe(&all, &o));
        assert!(
            err.contains(says),
            "wanted {says:?}: {}",
            describe(&all, &o)
        );
        assert!(
            !err.contains(&"ab".repeat(16)),
            "a refusal quotes no secret"
        );
    }
}

#[test]
fn keys_and_options_refuse_bad_input_and_never_print_a_secret() {
    // issue 19 item 3: every refusal is an error that names the problem and writes
    // nothing; no command prints a key's secret (the world's, a generated one, a file's).
    let f = sqlite_fleet("keys-cli");
    let start = config_version(&f);
    refusals(&f);
    assert_eq!(config_version(&f), start, "no refusal wrote anything");

    let from_file = "c0ffee11".repeat(8);
    let file = secret_file(&f, "k7.hex", &from_file, 0o600);
    let mut outputs = vec![change(
        &f,
        &["keys", "add", "--id", "k7", "--secret-file", &file],
    )];
    let added = f.json(&["keys", "add", "--db", &f.db, "--json", "--actor", "ops"]);
    let generated_id = added["key"].as_str().unwrap().to_owned();
    let generated = stored_secret(&f.db, &generated_id);
    assert_eq!(generated.len(), 64, "32 random bytes");
    for args in [
        &["keys", "sign-with", "k7"][..],
        &["keys", "retire", "k1"],
        &["options", "set", "require-expiry", "false"],
        &["options", "set", "max-lifetime", "30d"],
    ] {
        outputs.push(change(&f, args));
    }
    for args in [
        &["keys", "list"][..],
        &["keys", "list", "--json"],
        &["keys", "history"],
        &["keys", "history", "--json"],
        &["options", "show"],
        &["options", "show", "--json"],
        &["fleet"],
        &["fleet", "--json"],
    ] {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--db", &f.db]);
        let o = cli(&all);
        assert!(o.status.success(), "{}", describe(&all, &o));
        outputs.push(describe(&all, &o));
    }
    let world_secret = "5a".repeat(32);
    for out in &outputs {
        for secret in [&from_file, &generated, &world_secret] {
            assert!(
                !out.contains(secret.as_str()),
                "a secret was printed: {out}"
            );
        }
    }
    let history = f.json(&["keys", "history", "--db", &f.db, "--json"]);
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 7, "import + 6 changes: {history}");
    assert!(events[..6].iter().all(|e| e["actor"] == "ops"), "{history}");
    assert_eq!(events[0]["detail"]["option"], "max-lifetime", "{history}");
    assert_eq!(events[0]["detail"]["new"], 30 * 86_400, "{history}");
    let shown = f.json(&["options", "show", "--db", &f.db, "--json"]);
    assert_eq!(shown["options"]["require_expiry"], false, "{shown}");
    // Setting what is already set changes nothing.
    let same = f.json(&["keys", "sign-with", "k7", "--db", &f.db, "--json"]);
    assert_eq!(same["changed"], false, "{same}");
    assert_eq!(config_version(&f), events[0]["version"].as_i64().unwrap());
}

/// A key's secret as stored (hex), read behind the CLI's back.
fn stored_secret(db: &str, id: &str) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row("SELECT secret FROM keys WHERE id = ?1", [id], |r| r.get(0))
        .unwrap()
}

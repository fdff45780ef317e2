//! Two real `forge-authz serve` processes over one PostgreSQL database (issue 10, "Two serve
//! processes over one PostgreSQL" and "One module version across the fleet"): a token made
//! or revoked through the CLI is seen by both hosts on their next request, effects written
//! through one host (last use, a leaked rotation's family revocation) are enforced by the
//! other, and a module published in the database reaches every host (swapped, refused,
//! rolled back, run in shadow), as `status` and `fleet` report it. Plus the same `publish`
//! and `fleet` on SQLite with one host.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

use sha2::Digest as _;

#[path = "support/fleet.rs"]
mod harness;

use harness::{
    APP, cli, embedded_sha256, pg_fleet, pg_fleet_notified, pg_two_hosts, sqlite_fleet, truncated,
    version_is,
};

/// Store the truncated module and make it the fleet's live version behind the CLI's back
/// (the CLI refuses to publish it): the hosts' own check must refuse it. Returns its
/// version.
fn insert_refused_module(db: &str) -> i64 {
    let bytes = truncated();
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    if db.starts_with("postgres://") {
        let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
        let mut tx = c.transaction().unwrap();
        let version: i64 = tx
            .query_one(
                "INSERT INTO policy_modules (sha256, bytes, published_by, published_at) \
                 VALUES ($1, $2, 'test', $3) RETURNING version",
                &[&sha, &bytes, &now],
            )
            .unwrap()
            .get(0);
        tx.execute(
            "INSERT INTO policy_publications (role, version, action, published_by, \
             published_at) VALUES ('live', $1, 'publish', 'test', $2)",
            &[&version, &now],
        )
        .unwrap();
        tx.commit().unwrap();
        version
    } else {
        let mut c = rusqlite::Connection::open(db).unwrap();
        let tx = c.transaction().unwrap();
        tx.execute(
            "INSERT INTO policy_modules (sha256, bytes, published_by, published_at) \
             VALUES (?1, ?2, 'test', ?3)",
            rusqlite::params![sha, bytes, now],
        )
        .unwrap();
        let version = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO policy_publications (role, version, action, published_by, \
             published_at) VALUES ('live', ?1, 'publish', 'test', ?2)",
            rusqlite::params![version, now],
        )
        .unwrap();
        tx.commit().unwrap();
        version
    }
}

#[test]
fn two_hosts_share_tokens_revocations_and_effects() {
    // issue 10, "Two serve processes over one PostgreSQL": nothing about a token is cached
    // per host; what the CLI or one host writes, the other enforces on its next request.
    let Some((f, a, b)) = pg_two_hosts("tokens") else {
        return;
    };

    // A token created through the CLI is accepted by both hosts.
    let (secret, id) = f.create_token("ci");
    assert!(
        f.show_token(&id)["last_used"].is_null(),
        "a new token was never used"
    );
    f.expect(a, APP, Some(&secret), (200, "granted"), "a new token");
    // The use through host A is stamped before the answer (one write, README "Last used").
    let shown = f.show_token(&id);
    assert!(
        shown["last_used"].as_i64().is_some(),
        "a request through host A stamps last_used: {shown}"
    );
    f.expect(b, APP, Some(&secret), (200, "granted"), "a new token");
    // Revoked through the CLI: both hosts refuse it at once, without a restart.
    f.ok(&["token", "revoke", "--db", &f.db, &id]);
    for h in [a, b] {
        f.expect(
            h,
            APP,
            Some(&secret),
            (401, "token-revoked"),
            "revoked by the CLI",
        );
    }

    // A rotated-away secret presented to host B revokes the whole family (README
    // "Rotation"), so host A refuses the successor on its next request.
    let (old_secret, old_id) = f.create_token("deploy");
    f.expect(
        a,
        APP,
        Some(&old_secret),
        (200, "granted"),
        "before rotation",
    );
    let rotated = f.json(&["token", "rotate", "--db", &f.db, &old_id, "--json"]);
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    let new_id = rotated["token"]["id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, old_id);
    for h in [a, b] {
        f.expect(h, APP, Some(&new_secret), (200, "granted"), "the successor");
    }
    assert_eq!(f.show_token(&new_id)["state"].as_str(), Some("live"));
    f.expect(
        b,
        APP,
        Some(&old_secret),
        (401, "token-revoked"),
        "rotated away, presented again",
    );
    let shown = f.show_token(&new_id);
    assert_eq!(
        shown["state"].as_str(),
        Some("revoked"),
        "the family was revoked through host B: {shown}"
    );
    f.expect(
        a,
        APP,
        Some(&new_secret),
        (401, "token-revoked"),
        "the successor after its family was revoked through host B",
    );
}

#[test]
fn one_module_version_across_two_hosts() {
    // issue 10, "One module version across the fleet": publish, a module the hosts refuse,
    // rollback, shadow.
    let Some((f, a, b)) = pg_two_hosts("publish") else {
        return;
    };
    let (secret, _) = f.create_token("ci");
    let sha = embedded_sha256();

    // Nothing published: both run their local module and report it.
    f.wait_all("both hosts report their local module", |s, row| {
        version_is("status fleet.live", &s["fleet"]["live"], None)?;
        version_is("fleet live_version", &row["live_version"], None)?;
        if row["state"] != "running" || row["live_sha256"] != sha.as_str() {
            return Err("not running the embedded module".into());
        }
        Ok(())
    });
    f.decides(&secret, "before any publication");

    // A module the CLI's own check refuses is never published.
    let broken = f.module("broken.wasm");
    let args = ["publish", "--db", &f.db, &broken];
    f.refused(&args, "not published");
    let published = f.fleet()["published"].clone();
    assert!(
        published["live"].is_null() && published["seq"] == 0,
        "{published}"
    );

    // Publish: both hosts swap to version 1 within a few polls.
    let good = f.module("good.wasm");
    let state = f.json(&["publish", "--db", &f.db, &good, "--json"]);
    assert_eq!(state["live"]["version"], 1, "{state}");
    assert_eq!(state["live"]["sha256"], sha.as_str(), "{state}");
    f.wait_all("both hosts run version 1", |s, row| {
        version_is("status fleet.live", &s["fleet"]["live"], Some(1))?;
        version_is("fleet live_version", &row["live_version"], Some(1))?;
        if s["sha256"] != sha.as_str() || row["live_sha256"] != sha.as_str() {
            return Err("not the published SHA-256".into());
        }
        if row["state"] != "running" || !s["fleet"]["refused"].is_null() {
            return Err("not running".into());
        }
        Ok(())
    });
    for h in [a, b] {
        let s = f.status(h).unwrap();
        assert_eq!(
            s["policy"], "fleet:v1",
            "host {h} serves the fleet's module: {s}"
        );
        assert_eq!(s["fleet"]["host"], f.hosts[h].id.as_str(), "{s}");
    }
    f.decides(&secret, "after publishing version 1");

    // A module every host refuses (stored behind the CLI's back): both keep version 1,
    // report the refusal, and keep deciding.
    let refused = insert_refused_module(&f.db);
    assert_eq!(refused, 2);
    f.wait_all("both hosts refuse version 2", |s, row| {
        let detail = row["detail"].as_str().unwrap_or_default();
        if row["state"] != "refused" || !detail.contains("version 2") {
            return Err("fleet row not refused with a detail".into());
        }
        let why = s["fleet"]["refused"].as_str().unwrap_or_default();
        if !why.contains("version 2") {
            return Err("status fleet.refused does not name version 2".into());
        }
        version_is("status fleet.live", &s["fleet"]["live"], Some(1))?;
        version_is("fleet live_version", &row["live_version"], Some(1))?;
        if s["sha256"] != sha.as_str() || row["live_sha256"] != sha.as_str() {
            return Err("no longer runs version 1".into());
        }
        Ok(())
    });
    let fleet = f.fleet();
    assert_eq!(fleet["published"]["live"]["version"], 2, "{fleet}");
    for h in [a, b] {
        let s = f.status(h).unwrap();
        assert_eq!(s["policy"], "fleet:v1", "{s}");
        assert!(s["refused_reloads"].as_u64() >= Some(1), "{s}");
    }
    f.decides(&secret, "while version 2 is refused");

    // Rollback: the log is back at version 1, and both hosts report running again.
    let state = f.json(&["publish", "--db", &f.db, "--rollback", "--json"]);
    assert_eq!(state["live"]["version"], 1, "{state}");
    f.wait_all(
        "both hosts run version 1 again after the rollback",
        |s, row| {
            version_is("status fleet.live", &s["fleet"]["live"], Some(1))?;
            version_is("fleet live_version", &row["live_version"], Some(1))?;
            if row["state"] != "running" || !row["detail"].is_null() {
                return Err("fleet row still refused".into());
            }
            if !s["fleet"]["refused"].is_null() {
                return Err("status fleet.refused still set".into());
            }
            Ok(())
        },
    );
    f.decides(&secret, "after the rollback");
    // Never past the first publication.
    let args = ["publish", "--db", &f.db, "--rollback"];
    f.refused(&args, "first live publication");
    assert_eq!(f.fleet()["published"]["live"]["version"], 1);

    // Shadow: both hosts run version 1 beside the live module, then stop it.
    let state = f.json(&["publish", "--db", &f.db, &good, "--shadow", "--json"]);
    assert_eq!(state["shadow"]["version"], 1, "{state}");
    f.wait_all("both hosts run version 1 in shadow", |s, row| {
        version_is("status fleet.shadow", &s["fleet"]["shadow"], Some(1))?;
        version_is("fleet shadow_version", &row["shadow_version"], Some(1))?;
        if s["shadow"].is_null() {
            return Err("status shows no shadow module".into());
        }
        Ok(())
    });
    f.decides(&secret, "with a shadow module");
    for h in [a, b] {
        let s = f.status(h).unwrap();
        assert!(s["shadow_requests"].as_u64() >= Some(1), "{s}");
        assert_eq!(s["shadow_differences"], 0, "the same module agrees: {s}");
    }
    let state = f.json(&["publish", "--db", &f.db, "--clear-shadow", "--json"]);
    assert!(state["shadow"].is_null(), "{state}");
    f.wait_all("both hosts stop the shadow module", |s, row| {
        version_is("status fleet.shadow", &s["fleet"]["shadow"], None)?;
        version_is("fleet shadow_version", &row["shadow_version"], None)?;
        if !s["shadow"].is_null() {
            return Err("status still shows a shadow module".into());
        }
        version_is("status fleet.live", &s["fleet"]["live"], Some(1))
    });
    f.decides(&secret, "after clearing the shadow");
}

#[test]
fn a_host_started_after_a_publication_serves_it_from_its_first_request() {
    // issue 10: the fleet's version is applied before the first request is served.
    let Some(mut f) = pg_fleet("late") else {
        return;
    };
    let (secret, _) = f.create_token("ci");
    let good = f.module("good.wasm");
    f.ok(&["publish", "--db", &f.db, &good]);
    let h = f.start("late-host");
    // No wait: the first status after startup already shows it.
    let s = f.status(h).unwrap();
    assert_eq!(s["fleet"]["live"]["version"], 1, "{s}");
    assert_eq!(s["policy"], "fleet:v1", "{s}");
    assert_eq!(s["sha256"], embedded_sha256().as_str(), "{s}");
    assert_eq!(s["fleet"]["seq"], 1, "{s}");
    f.expect(h, APP, Some(&secret), (200, "granted"), "first request");
    // And it has reported itself.
    let fleet = f.fleet();
    let row = f.row(&fleet, h).unwrap_or_else(|| panic!("{fleet}"));
    assert_eq!(row["live_version"], 1, "{fleet}");
    assert_eq!(row["state"], "running", "{fleet}");
}

#[test]
fn postgres_hosts_wake_on_a_publication_without_waiting_for_their_poll() {
    // issue 10 (LISTEN/NOTIFY): hosts polling only every 10 minutes still pick a
    // publication up within seconds, because PostgreSQL notifies them.
    let Some(f) = pg_fleet_notified("notify") else {
        return;
    };
    let good = f.module("good.wasm");
    f.ok(&["publish", "--db", &f.db, &good]);
    f.wait_all("both hosts run version 1 (notified)", |status, row| {
        version_is("status", &status["fleet"]["live"]["version"], Some(1))?;
        version_is("row", &row["live_version"], Some(1))
    });
}

#[test]
fn publish_fleet_and_rollback_work_on_sqlite() {
    let mut f = sqlite_fleet("sqlite");
    let h = f.start("solo");
    let (secret, _) = f.create_token("ci");
    let good = f.module("good.wasm");
    let sha = embedded_sha256();

    f.ok(&["publish", "--db", &f.db, &good]);
    f.wait_all("the host runs version 1", |s, row| {
        version_is("status fleet.live", &s["fleet"]["live"], Some(1))?;
        version_is("fleet live_version", &row["live_version"], Some(1))?;
        if row["state"] != "running" || row["live_sha256"] != sha.as_str() {
            return Err("not running version 1".into());
        }
        Ok(())
    });
    f.decides(&secret, "after publishing on SQLite");

    let refused = insert_refused_module(&f.db);
    f.wait_all("the host refuses the broken version", |s, row| {
        if row["state"] != "refused" || row["detail"].is_null() {
            return Err("fleet row not refused".into());
        }
        if s["fleet"]["refused"].is_null() {
            return Err("status fleet.refused not set".into());
        }
        version_is("status fleet.live", &s["fleet"]["live"], Some(1))
    });
    assert_eq!(f.fleet()["published"]["live"]["version"], refused);
    f.decides(&secret, "while the broken version is refused");

    let state = f.json(&["publish", "--db", &f.db, "--rollback", "--json"]);
    assert_eq!(state["live"]["version"], 1, "{state}");
    f.wait_all("the host runs version 1 after the rollback", |s, row| {
        version_is("fleet live_version", &row["live_version"], Some(1))?;
        if row["state"] != "running" || !s["fleet"]["refused"].is_null() {
            return Err("still refused".into());
        }
        Ok(())
    });
    let o = cli(&["publish", "--db", &f.db, "--rollback"]);
    assert!(!o.status.success(), "never past the first publication");
    // The human table names the host and its version.
    let table = f.ok(&["fleet", "--db", &f.db]);
    assert!(
        table.contains("live:   version 1") && table.contains("solo"),
        "{table}"
    );
    assert_eq!(f.status(h).unwrap()["policy"], "fleet:v1");
}

//! IP allow lists outside the policy core (issue 23 item 3): the lists kept in the store
//! and managed by `forge-authz org ip-allow` and `token create --ip-allow`, and the client
//! address real `forge-authz serve` processes feed the policy — the TCP peer, or
//! `X-Forwarded-For` only from a configured trusted proxy. Rules checked:
//! - GitHub, "Managing allowed IP addresses for your organization": with a list, access to
//!   the organisation's resources from an address outside it is refused, whatever the
//!   credential (docs.github.com/en/organizations/keeping-your-organization-secure/
//!   managing-security-settings-for-your-organization/
//!   managing-allowed-ip-addresses-for-your-organization);
//! - GitLab, "Restrict group access by IP address" (docs.gitlab.com/user/group/
//!   access_and_permissions#restrict-group-access-by-ip-address): the same for a group's
//!   projects, over HTTP and SSH;
//! - issue 23: "`serve` takes it from the peer, or from `X-Forwarded-For` only when the peer
//!   is a configured trusted proxy"; MDN, X-Forwarded-For, "Selecting an IP address": the
//!   rightmost address that is not a trusted proxy; a malformed entry fails closed (the
//!   house rule: a parse error is a refusal, never an allow).
//!
//! The store part runs on SQLite and on a real PostgreSQL server; the proxy part on SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/fleet.rs"]
mod harness;

use forge_authz_testkit::Backend;
use forge_authz_testkit::http::http;
use forge_authz_testkit::process::both;
use harness::{Fleet, cli, describe, pg_fleet, sqlite_fleet};

/// alice (a user) and acme (an organisation alice writes to), one public repository each.
const WORLD: &str = r#"{
  "keys": [{"id": "k1", "secret": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"}],
  "signing_key": "k1",
  "users": [
    {"name": "alice"},
    {"name": "acme", "organization": true, "members": {"alice": "write"}}
  ],
  "repositories": [
    {"owner": "alice", "name": "app"},
    {"owner": "acme", "name": "tools"}
  ]
}"#;

const TOOLS: &str = "/acme/tools.git/info/refs?service=git-upload-pack";
const APP: &str = "/alice/app.git/info/refs?service=git-upload-pack";
const DENIED: (u16, &str) = (403, "ip-not-allowed");
const GRANTED: (u16, &str) = (200, "granted");

/// A store holding [`WORLD`] (`None`: PostgreSQL skipped by `FORGE_AUTHZ_SKIP_PG=1`).
fn store(b: Backend, name: &str) -> Option<Fleet> {
    let f = match b {
        Backend::Sqlite => sqlite_fleet(name),
        Backend::Postgres => pg_fleet(&format!("ip_{name}"))?,
    };
    let world = f.dir.join("ip-world.json");
    std::fs::write(&world, WORLD).unwrap();
    f.ok(&["import", "--db", &f.db, "--world", world.to_str().unwrap()]);
    Some(f)
}

/// `org ip-allow acme ARGS... --json`: the list it prints.
fn org_list(f: &Fleet, args: &[&str]) -> Vec<String> {
    let all = [
        &["org", "ip-allow", "acme", "--db", &f.db, "--json"][..],
        args,
    ]
    .concat();
    serde_json::from_value(f.json(&all)["ip_allow"].clone()).unwrap()
}

fn org_and_token_lists_are_kept_and_decide(mut f: Fleet) {
    let h = f.start("ip");
    let (secret, _) = f.create_token("plain");
    let s = Some(secret.as_str());
    f.expect(h, TOOLS, s, GRANTED, "no list: no restriction");
    // The organisation's list: every request to its repositories from 127.0.0.1 (this
    // test's peer) is outside 10.0.0.0/8 (GitHub, GitLab).
    assert_eq!(org_list(&f, &["--set", "10.0.0.0/8"]), ["10.0.0.0/8"]);
    f.expect(h, TOOLS, s, DENIED, "the peer is outside acme's list");
    f.expect(
        h,
        APP,
        s,
        GRANTED,
        "alice's own repository: acme's list does not apply",
    );
    org_list(&f, &["--set", "10.0.0.0/8,127.0.0.0/8"]);
    f.expect(
        h,
        TOOLS,
        s,
        GRANTED,
        "the peer is inside a block of acme's list",
    );
    assert_eq!(org_list(&f, &["--show"]), ["10.0.0.0/8", "127.0.0.0/8"]);
    // A token's own list, kept beside the record the policy writes.
    let (outside, id) = f.create_token_with("outside", &["--ip-allow", "10.0.0.0/8"]);
    f.expect(h, APP, Some(&outside), DENIED, "the token's own list");
    assert_eq!(
        f.show_token(&id)["ip_allow"],
        serde_json::json!(["10.0.0.0/8"])
    );
    let (inside, _) = f.create_token_with("inside", &["--ip-allow", "127.0.0.1"]);
    f.expect(h, APP, Some(&inside), GRANTED, "inside the token's list");
    // Export keeps both lists; importing the export gives the same decisions.
    let exported = f.dir.join("exported.json");
    f.ok(&[
        "export",
        "--db",
        &f.db,
        "--world",
        exported.to_str().unwrap(),
    ]);
    let w: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    let acme = w["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "acme");
    assert_eq!(
        acme.unwrap()["ip_allow"],
        serde_json::json!(["10.0.0.0/8", "127.0.0.0/8"])
    );
    org_list(&f, &["--clear"]);
    f.ok(&[
        "import",
        "--db",
        &f.db,
        "--world",
        exported.to_str().unwrap(),
    ]);
    assert_eq!(org_list(&f, &["--show"]), ["10.0.0.0/8", "127.0.0.0/8"]);
    f.expect(
        h,
        APP,
        Some(&outside),
        DENIED,
        "the token's list after a round trip",
    );
    org_list(&f, &["--set", "192.0.2.0/24"]);
    f.expect(h, TOOLS, s, DENIED, "after the round trip");
    // Every change is in the records' history (an organisation's list is read per request,
    // not configuration): who, before, after.
    let history = f.json(&["history", "--records", "--db", &f.db, "--json"]);
    let set = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "ip-allow-set")
        .cloned()
        .unwrap_or_else(|| panic!("no ip-allow-set in {history}"));
    assert_eq!(
        set["detail"]["after"],
        serde_json::json!(["192.0.2.0/24"]),
        "{set}"
    );
}

forge_authz_testkit::both!(org_and_token_lists_are_kept_and_decide, |b| store(
    b, "lists"
));

#[test]
fn bad_lists_are_refused_with_a_clear_error() {
    let f = store(Backend::Sqlite, "bad").unwrap();
    let db = f.db.as_str();
    let set = |org, list| vec!["org", "ip-allow", org, "--db", db, "--set", list];
    let mut token = [
        "token", "create", "--db", db, "--owner", "alice", "--name", "x",
    ]
    .to_vec();
    token.extend([
        "--scope",
        "read:repository",
        "--ip-allow",
        "10.0.0.0/8,::1/200",
    ]);
    for (args, says) in [
        (set("acme", "10.0.0.0/33"), "bad prefix length"),
        (
            set("acme", "10.0.0.0/8,intranet"),
            "`intranet` is not an IP address or CIDR block",
        ),
        (set("alice", "10.0.0.0/8"), "no organisation `alice`"),
        (vec!["org", "ip-allow", "acme", "--db", db], "--set"),
        (token, "bad prefix length"),
    ] {
        let o = cli(&args);
        assert!(!o.status.success(), "{}", describe(&args, &o));
        assert!(both(&o).contains(says), "{}", describe(&args, &o));
    }
    assert!(org_list(&f, &["--show"]).is_empty(), "nothing was written");
    let tokens = f.json(&["token", "list", "--db", db, "--json"]);
    assert_eq!(tokens.as_array().map(Vec::len), Some(0), "{tokens}");
}

/// `GET TOOLS` (the git endpoint) from this test (peer 127.0.0.1) with `secret` and
/// `headers`: (status, reason; `granted` for the ref advertisement).
fn ask(port: u16, secret: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let bearer = format!("Bearer {secret}");
    let all = [&[("Authorization", bearer.as_str())][..], headers].concat();
    let r = http(port, "GET", TOOLS, &all, b"");
    let reason = match r.status {
        Some(200) => "granted".into(),
        _ => r.header("x-forge-authz-reason").unwrap_or_default(),
    };
    (r.status.unwrap_or(0), reason)
}

/// Asserts `ask(...)` answers `want`.
fn expect(port: u16, secret: &str, headers: &[(&str, &str)], want: (u16, &str), why: &str) {
    let got = ask(port, secret, headers);
    assert_eq!((got.0, got.1.as_str()), want, "{why} (headers {headers:?})");
}

/// A host of `f` started with `args` (beside the harness's own); its port.
fn host(f: &mut Fleet, id: &str, args: &[&str]) -> u16 {
    f.serve_args = args.iter().map(|a| (*a).to_owned()).collect();
    let h = f.start(id);
    f.hosts[h].port
}

#[test]
fn serve_takes_the_client_address_from_the_peer_or_a_trusted_proxy_only() {
    let mut f = store(Backend::Sqlite, "proxy").unwrap();
    let bare = f.repos.join("acme").join("tools.git");
    forge_authz_testkit::git::seed(&bare, &f.dir.join("seed"), &f.dir, &[]);
    let (secret, _) = f.create_token("reader");
    org_list(&f, &["--set", "10.0.0.0/8"]);
    let xff = |v| [("X-Forwarded-For", v)];

    // No trusted proxy: the peer (127.0.0.1) is the client, whatever the client writes.
    let direct = host(&mut f, "direct", &[]);
    expect(direct, &secret, &[], DENIED, "the peer is outside the list");
    let forged = xff("10.1.2.3");
    expect(
        direct,
        &secret,
        &forged,
        DENIED,
        "a client's X-Forwarded-For is ignored",
    );

    // 127.0.0.1 is a trusted proxy: its X-Forwarded-For decides, read from the right.
    let p = host(&mut f, "proxied", &["--trusted-proxy", "127.0.0.1"]);
    for (header, want, why) in [
        ("10.1.2.3", GRANTED, "the proxy says the client is inside"),
        (
            "203.0.113.9",
            DENIED,
            "the proxy says the client is outside",
        ),
        (
            "10.1.2.3, 203.0.113.9",
            DENIED,
            "left of the last untrusted hop is the client's own text",
        ),
        ("203.0.113.9, 127.0.0.1", DENIED, "trusted hops are skipped"),
        ("10.1.2.3, 127.0.0.1", GRANTED, "trusted hops are skipped"),
    ] {
        expect(p, &secret, &xff(header), want, why);
    }
    // Failing closed: nothing to trust is no address, refused where a list applies.
    for bad in [
        "",
        "garbage",
        "10.1.2.3:4711",
        "10.1.2.3,",
        "[10.1.2.3]",
        "10.1.2.3 10.1.2.4",
    ] {
        expect(
            p,
            &secret,
            &xff(bad),
            DENIED,
            "a malformed X-Forwarded-For fails closed",
        );
    }
    expect(
        p,
        &secret,
        &[],
        DENIED,
        "a trusted proxy that names no client fails closed",
    );
    let two = [
        ("X-Forwarded-For", "10.1.2.3"),
        ("X-Forwarded-For", "nonsense"),
    ];
    expect(
        p,
        &secret,
        &two,
        DENIED,
        "one malformed line of two fails closed",
    );

    // Another header, and forward auth (the harness's hosts serve Traefik's) behind it.
    let real = host(
        &mut f,
        "real-ip",
        &[
            "--trusted-proxy",
            "127.0.0.0/8",
            "--client-address-header",
            "X-Real-IP",
        ],
    );
    expect(
        real,
        &secret,
        &[("X-Real-IP", "10.9.9.9")],
        GRANTED,
        "X-Real-IP configured",
    );
    expect(
        real,
        &secret,
        &forged,
        DENIED,
        "X-Forwarded-For is not the configured header",
    );
    let auth = |client: &str| {
        let bearer = format!("Bearer {secret}");
        let headers = [
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", TOOLS),
            ("X-Real-IP", client),
            ("Authorization", bearer.as_str()),
        ];
        let r = http(real, "GET", "/-/auth", &headers, b"");
        let reason = r.header("x-forge-authz-reason").unwrap_or_default();
        (r.status.unwrap_or(0), reason)
    };
    assert_eq!(
        auth("10.0.0.1"),
        (200, "granted".into()),
        "forward auth, inside"
    );
    assert_eq!(
        auth("192.0.2.1"),
        (403, "ip-not-allowed".into()),
        "forward auth, outside"
    );
}

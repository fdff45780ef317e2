//! CLI conventions I (issue 25), through the real binary as an operator runs it:
//! - "Reading commands never create a store": in an empty directory (and with a mistyped
//!   `--db`, and on an empty PostgreSQL database) every command that needs a store exits 6
//!   naming `init-db`, and leaves no file (no schema) behind;
//! - the exit status table (README "Exit status", `forge-authz man`'s EXIT STATUS):
//!   each row through the binary;
//! - `decide` honours `FORGE_AUTHZ_DB` as every other command does;
//! - `status` shows the bound address, not `127.0.0.1:0`;
//! - completions and man pages generated from the CLI and installed by one command.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "support/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use forge_authz_host::cli::docs::EXIT_STATUS;
use forge_authz_host::cli::{
    EXIT_DENY, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_REFUSED, EXIT_UNAVAILABLE,
};
use forge_authz_testkit::deploy::Daemon;
use forge_authz_testkit::{Backend, both, pg, scratch};

use cli::bin;

/// `forge-authz ARGS...` in `dir` with `env` added (and `FORGE_AUTHZ_DB` unset unless
/// `env` sets it), stdin closed.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir)
        .args(args)
        .env_remove("FORGE_AUTHZ_DB")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn describe(args: &[&str], o: &Output) -> String {
    format!(
        "forge-authz {}: {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An anonymous pull of `repository` as the request file `NAME.json` in `dir`; its path.
fn anonymous_pull(dir: &Path, name: &str, repository: &str) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    let request =
        format!(r#"{{"credential":"anonymous","repository":"{repository}","action":"pull"}}"#);
    std::fs::write(&path, request).unwrap();
    path
}

/// Runs `args` in `dir`; asserts the exit status is `code`; the output.
fn expect(dir: &Path, args: &[&str], code: u8) -> Output {
    let o = run_in(dir, args, &[]);
    assert_eq!(
        o.status.code(),
        Some(i32::from(code)),
        "{}",
        describe(args, &o)
    );
    o
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every command that needs a store, as an operator types it (the store from `--db`,
/// `FORGE_AUTHZ_DB` or the default `forge-authz.db`): reading commands, and writing ones,
/// which never create a store either (only `init-db` does).
const NEEDS_A_STORE: &[&[&str]] = &[
    &["token", "list"],
    &["token", "show", "t1"],
    &["history"],
    &["audit"],
    &["export", "--world", "out.json"],
    &["fleet"],
    &["keys", "list"],
    &["keys", "history"],
    &["options", "show"],
    &["signers", "list"],
    &["site", "show"],
    &["org", "ip-allow", "acme", "--show"],
    &["user", "list"],
    &["org", "list"],
    &["repo", "list"],
    &["key", "list"],
    &["expire"],
    &[
        "ssh-keys",
        "--user",
        "git",
        "--repos",
        ".",
        "git",
        "ssh-ed25519",
        "AAAA",
    ],
    &[
        "token",
        "create",
        "--owner",
        "alice",
        "--name",
        "x",
        "--scope",
        "read:repository",
    ],
];

#[test]
fn reading_commands_never_create_a_store() {
    // issue 25 "A dead end on the first command": in an empty directory `token list`
    // created a 155 KB store, so `init-db` then failed. Every command that needs a store
    // now exits 6 (EXIT_UNAVAILABLE) saying how to create one, and leaves nothing behind:
    // with the default store, a mistyped `--db`, or `FORGE_AUTHZ_DB`.
    let dir = scratch("fz-conv-empty");
    for args in NEEDS_A_STORE {
        for extra in [&[][..], &["--db", "typo.db"][..]] {
            let all = [args, extra].concat();
            let o = expect(&dir, &all, EXIT_UNAVAILABLE);
            let err = String::from_utf8_lossy(&o.stderr);
            let db = if extra.is_empty() {
                "forge-authz.db"
            } else {
                "typo.db"
            };
            assert!(
                err.contains(&format!("no store at sqlite:{db}"))
                    && err.contains(&format!("`forge-authz init-db --db {db}`")),
                "{}",
                describe(&all, &o)
            );
            assert!(o.stdout.is_empty(), "{}", describe(&all, &o));
            assert_eq!(
                listing(&dir),
                Vec::<String>::new(),
                "{}",
                describe(&all, &o)
            );
        }
    }
    let o = run_in(&dir, &["token", "list"], &[("FORGE_AUTHZ_DB", "env.db")]);
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        describe(&["token", "list"], &o)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("sqlite:env.db"));
    // `decide --db` reads a store too.
    let request = anonymous_pull(&dir, "req", "alice/app");
    let req = request.to_str().unwrap();
    expect(
        &dir,
        &["decide", "--db", "typo.db", "--request", req],
        EXIT_UNAVAILABLE,
    );
    std::fs::remove_file(&request).unwrap();
    assert_eq!(listing(&dir), Vec::<String>::new());
    // The first command of the walkthrough now works: `init-db`, then `token list`.
    expect(&dir, &["init-db"], EXIT_OK);
    expect(&dir, &["token", "list"], EXIT_OK);
    let _ = std::fs::remove_dir_all(&dir);
}

both!(an_empty_database_is_no_store, |b| match b {
    // The SQLite side is `reading_commands_never_create_a_store`; here an empty (0-byte)
    // file, which SQLite would happily turn into a store.
    Backend::Sqlite => {
        let dir = scratch("fz-conv-zero");
        let db = dir.join("empty.db");
        std::fs::write(&db, b"").unwrap();
        Some(db.display().to_string())
    }
    Backend::Postgres => Some(pg::shared_or_skip("conventions")?.fresh_database("conv_empty")),
});
fn an_empty_database_is_no_store(db: String) {
    // issue 25: a database without a store (an empty PostgreSQL database, an empty file)
    // is not made one by a reading command: each exits 6 and the second still finds no
    // store (no schema was created by the first); `init-db` then creates it.
    let dir = scratch("fz-conv-db");
    for args in NEEDS_A_STORE {
        let all = [args, &["--db", db.as_str()][..]].concat();
        let o = expect(&dir, &all, EXIT_UNAVAILABLE);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("no store at") && err.contains("forge-authz init-db --db"),
            "{}",
            describe(&all, &o)
        );
    }
    if !db.contains("://") {
        assert_eq!(
            std::fs::metadata(&db).unwrap().len(),
            0,
            "the file stays empty"
        );
        // `init-db` never writes over a file: the message said to delete it first.
        let o = expect(&dir, &["token", "list", "--db", &db], EXIT_UNAVAILABLE);
        assert!(String::from_utf8_lossy(&o.stderr).contains("delete it"));
        expect(&dir, &["init-db", "--db", &db], EXIT_ERROR);
        std::fs::remove_file(&db).unwrap();
    }
    expect(&dir, &["init-db", "--db", &db], EXIT_OK);
    expect(&dir, &["token", "list", "--db", &db], EXIT_OK);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_row_of_the_exit_status_table() {
    // issue 25 "Conventions": exit status 2 meant both "usage error" and "refused"; the
    // table (README "Exit status", `forge-authz man` EXIT STATUS) gives each its code.
    // Row 3 (EXIT_DIFFERENCES, `check` of a candidate that changes decisions) needs a
    // second module built from source: tests/gate.rs and tests/site_config.rs assert it.
    let dir = scratch("fz-conv-exit");
    let d = |args: &[&str], code: u8| expect(&dir, args, code);
    // 6: no store; no server on the admin socket.
    d(&["token", "list"], EXIT_UNAVAILABLE);
    d(
        &["status", "--admin-socket", "no-server.sock"],
        EXIT_UNAVAILABLE,
    );
    // 0: success.
    d(&["init-db"], EXIT_OK);
    d(&["token", "list"], EXIT_OK);
    let create_ci = [
        "token",
        "create",
        "--owner",
        "alice",
        "--name",
        "ci",
        "--scope",
        "read:repository",
    ];
    assert!(!d(&create_ci, EXIT_OK).stdout.is_empty());
    // 1: a deny.
    let private = anonymous_pull(&dir, "private", "alice/secret");
    let private = private.to_str().unwrap();
    d(
        &["decide", "--db", "forge-authz.db", "--request", private],
        EXIT_DENY,
    );
    // 2: usage and input errors.
    d(&["token", "list", "--no-such-flag"], EXIT_ERROR);
    d(
        &[
            "decide",
            "--db",
            "forge-authz.db",
            "--request",
            "missing.json",
        ],
        EXIT_ERROR,
    );
    d(&["token", "list", "--db", ""], EXIT_ERROR);
    // 4: refused by the policy (a second live token named `ci`), or by a rule that holds
    // after every change (the key that signs cannot be retired).
    let o = d(&create_ci, EXIT_REFUSED);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("refused"),
        "{}",
        describe(&create_ci, &o)
    );
    let keys: serde_json::Value =
        serde_json::from_slice(&d(&["keys", "list", "--json"], EXIT_OK).stdout).unwrap();
    let signing = keys
        .as_array()
        .or_else(|| keys["keys"].as_array())
        .unwrap()
        .iter()
        .find(|k| k["signing"] == true)
        .unwrap_or_else(|| panic!("no signing key in {keys}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let o = d(&["keys", "retire", &signing], EXIT_REFUSED);
    assert!(String::from_utf8_lossy(&o.stderr).contains("sign-with"));
    // 5: not found.
    let o = d(&["token", "show", "no-such-token"], EXIT_NOT_FOUND);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no token `no-such-token`"));
    d(&["keys", "retire", "no-such-key"], EXIT_NOT_FOUND);
    // The table the man page prints holds every code, each once, in order.
    let codes: Vec<u8> = EXIT_STATUS.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6]);
    let man = String::from_utf8(d(&["man"], EXIT_OK).stdout).unwrap();
    let section = man
        .split(".SH \"EXIT STATUS\"")
        .nth(1)
        .expect("an EXIT STATUS section");
    for code in codes {
        assert!(section.contains(&format!("\\fB{code}\\fR")), "{section}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn decide_honours_forge_authz_db() {
    // issue 25 "Conventions": `FORGE_AUTHZ_DB` was ignored by `decide`; it now names the
    // store as for every other command, and an explicit `--world` or `--db` wins.
    let dir = scratch("fz-conv-env");
    expect(&dir, &["init-db", "--db", "env.db"], EXIT_OK);
    let public = anonymous_pull(&dir, "public", "alice/app");
    let args = ["decide", "--request", public.to_str().unwrap()];
    let o = run_in(&dir, &args, &[("FORGE_AUTHZ_DB", "env.db")]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&args, &o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decision"], "allow", "{v}");
    // An explicit `--db` wins over the environment.
    let with_db = [&args[..], &["--db", "elsewhere.db"]].concat();
    let o = run_in(&dir, &with_db, &[("FORGE_AUTHZ_DB", "env.db")]);
    assert_eq!(o.status.code(), Some(6), "{}", describe(&with_db, &o));
    // So does `--world` (the environment is not a second source that conflicts).
    expect(&dir, &["init", "--world", "world.json"], EXIT_OK);
    let with_world = [&args[..], &["--world", "world.json"]].concat();
    let o = run_in(&dir, &with_world, &[("FORGE_AUTHZ_DB", "missing.db")]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&with_world, &o));
    // Neither: a usage error naming all three.
    let o = expect(&dir, &args, EXIT_ERROR);
    assert!(String::from_utf8_lossy(&o.stderr).contains("FORGE_AUTHZ_DB"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn status_shows_the_bound_port() {
    // issue 25 "Conventions": `status` showed `127.0.0.1:0`, the address asked for; it
    // shows the address bound, the port the system chose, in `listen` and in the default
    // host id (`fleet.host`).
    let dir = scratch("fzc");
    expect(&dir, &["init-db", "--db", "s.db"], EXIT_OK);
    std::fs::create_dir(dir.join("repos")).unwrap();
    let (port_file, socket) = (dir.join("port"), dir.join("admin.sock"));
    let mut cmd = Command::new(bin());
    cmd.current_dir(&dir).env_remove("FORGE_AUTHZ_DB").args([
        "serve",
        "--db",
        "s.db",
        "--repos",
        "repos",
        "--listen",
        "127.0.0.1:0",
        "--port-file",
        port_file.to_str().unwrap(),
        "--admin-socket",
        socket.to_str().unwrap(),
    ]);
    let mut server = Daemon::start("serve", &mut cmd, &dir.join("serve.log"));
    let port = server.wait_port_file(&port_file);
    let args = ["status", "--admin-socket", socket.to_str().unwrap()];
    let o = expect(&dir, &args, EXIT_OK);
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let bound = format!("127.0.0.1:{port}");
    assert_eq!(status["listen"], bound.as_str(), "{status}");
    assert_eq!(
        status["metrics_listen"],
        serde_json::Value::Null,
        "{status}"
    );
    let host = status["fleet"]["host"].as_str().unwrap_or_default();
    assert!(host.ends_with(&format!("/{bound}")), "{status}");
    assert!(
        !o.stdout.windows(12).any(|w| w == b"127.0.0.1:0\""),
        "{status}"
    );
    server.stop();
    // Once it is gone: no server (6), not an error (2).
    expect(&dir, &args, EXIT_UNAVAILABLE);
    drop(server.owning(&dir));
}

#[test]
fn completions_and_man_pages_come_from_the_cli() {
    // issue 25 "Done when": completions and man page generated from the CLI definition
    // and installed by a documented command (README "Shell completions and man pages":
    // `forge-authz install-completions`).
    let dir = scratch("fz-conv-docs");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = expect(&dir, &["completions", shell], EXIT_OK);
        let script = String::from_utf8(o.stdout).unwrap();
        assert!(
            script.contains("forge-authz") && script.contains("init-db"),
            "{shell}"
        );
    }
    expect(&dir, &["completions", "tcsh"], EXIT_ERROR);
    // The one install command, into a private HOME (as the README runs it).
    let home = dir.join("home");
    std::fs::create_dir(&home).unwrap();
    let o = run_in(
        &dir,
        &["install-completions"],
        &[("HOME", home.to_str().unwrap()), ("XDG_DATA_HOME", "")],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        describe(&["install-completions"], &o)
    );
    let share = home.join(".local/share");
    let bash = share.join("bash-completion/completions/forge-authz");
    for file in [
        bash.clone(),
        share.join("zsh/site-functions/_forge-authz"),
        share.join("fish/vendor_completions.d/forge-authz.fish"),
        share.join("man/man1/forge-authz.1"),
        share.join("man/man1/forge-authz-token-create.1"),
        share.join("man/man1/forge-authz-install-completions.1"),
    ] {
        assert!(
            file.is_file(),
            "{} missing: {}",
            file.display(),
            describe(&[], &o)
        );
    }
    // What bash completes after `forge-authz to`: the subcommand `token`.
    let script = format!(
        "source {}; COMP_WORDS=(forge-authz to); COMP_CWORD=1; \
         _forge__authz forge-authz to forge-authz; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        bash.display()
    );
    let o = Command::new("bash")
        .args(["--norc", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "token",
        "{}",
        describe(&[], &o)
    );
    // `man -l` renders the page where `man` exists; else its roff header is checked.
    let page = share.join("man/man1/forge-authz-token-create.1");
    let roff = std::fs::read_to_string(&page).unwrap();
    assert!(roff.contains(".TH forge-authz-token-create 1"), "{roff}");
    match Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
        }
        _ => eprintln!("man not installed: the page's roff header was checked instead"),
    }
    // `--prefix` for everyone: PREFIX/share.
    let prefix = dir.join("usr-local");
    let p = prefix.to_str().unwrap();
    expect(&dir, &["install-completions", "--prefix", p], EXIT_OK);
    assert!(prefix.join("share/man/man1/forge-authz.1").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

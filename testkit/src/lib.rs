//! The test kit every integration test shares (dev-only): real programs started by the
//! tests on loopback — a private PostgreSQL server (`pg`), git clients (`git`), the
//! deployment daemons and the README's configurations (`deploy`), bounded child processes
//! (`process`), raw HTTP over sockets (`http`), the `minisign` binary's keys and
//! signatures (`minisign`) — and the store backends
//! every store test runs on (`Backend`, `both!`). Nothing here knows forge-authz's types:
//! the tests that start `forge-authz` itself keep their harness beside them
//! (`forge-authz/tests/support/`), since only they know where cargo built the binary.
// A test kit: a broken expectation or a program that cannot start is a panic that says what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

pub mod deploy;
pub mod git;
pub mod http;
pub mod minisign;
pub mod pg;
pub mod process;
pub mod schema;

/// A world fixture: alice's public `alice/app` and private `alice/secret`, signed by key
/// `k1` (the servers' tests that need no more).
pub const ALICE_APP_AND_SECRET: &str = r#"{
  "keys": [{"id": "k1", "secret": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"}],
  "signing_key": "k1",
  "users": [{"name": "alice"}],
  "repositories": [
    {"owner": "alice", "name": "app"},
    {"owner": "alice", "name": "secret", "private": true}
  ]
}"#;

/// A fresh private directory (mode 0700, a random name beginning with `prefix`) in the
/// temp dir, left for the caller to use and remove: created in one step, so no other
/// local user can have placed a file or a link at its path first. Keep `prefix` short
/// where servers put Unix sockets below it (a socket path has at most 107 bytes).
pub fn scratch(prefix: &str) -> std::path::PathBuf {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a scratch directory: {e}"))
        .keep()
}

/// The store backends every store test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's directory.
    Sqlite,
    /// A database on the shared private PostgreSQL server ([`pg`]).
    Postgres,
}

/// Runs the test body `$name(backend)` once per backend: `$name::sqlite` and
/// `$name::postgres`.
///
/// `both!($name, $setup)`: the body takes what `$setup(backend)` (an `Option`, resolved
/// beside the body) prepared instead, and does not run where `$setup` answers `None` (a
/// backend skipped, e.g. PostgreSQL with `FORGE_AUTHZ_SKIP_PG=1`).
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        $crate::both!($name, |b| Some(b));
    };
    ($name:ident, $setup:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                $crate::run_prepared($crate::Backend::Sqlite, $setup, super::$name)
            }
            #[test]
            fn postgres() {
                $crate::run_prepared($crate::Backend::Postgres, $setup, super::$name)
            }
        }
    };
}

/// [`both!`]'s step: `body(setup(backend))`, unless `setup` skips the backend.
pub fn run_prepared<T>(b: Backend, setup: impl FnOnce(Backend) -> Option<T>, body: impl FnOnce(T)) {
    if let Some(prepared) = setup(b) {
        body(prepared)
    }
}

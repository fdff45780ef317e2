//! Why a store cannot be opened, in words that say what to do (issue 25): none there
//! (only `init-db` creates one), one never initialised, one from a newer build. Each is
//! exit status 6 ([`crate::exit::EXIT_UNAVAILABLE`]): nothing was read or changed.

use super::{Location, schema};

/// The error of a store that is not there: exit status 6 and the command that creates it.
pub(super) fn missing(location: &Location) -> anyhow::Error {
    let arg = match location {
        Location::Sqlite(path) => shell_word(&path.display().to_string()),
        Location::Postgres(_) => "URL".to_owned(),
    };
    if let Location::Sqlite(path) = location
        && path.exists()
    {
        // A file that holds no store (empty, or another SQLite database): `init-db`
        // never writes over a file, so it has to go first.
        return crate::exit::fail(
            crate::exit::EXIT_UNAVAILABLE,
            format!(
                "no store at {location}: the file holds none; if it is not needed, delete \
                 it and create a store with `forge-authz init-db --db {arg}`"
            ),
        );
    }
    crate::exit::fail(
        crate::exit::EXIT_UNAVAILABLE,
        format!(
            "no store at {location}: create one with `forge-authz init-db --db {arg}` \
             (or pass `--db`/`FORGE_AUTHZ_DB` to use another)"
        ),
    )
}

/// The error of a store without its configuration (created empty, e.g. by a reading
/// command of a build before issue 25): exit status 6 and how to start over.
pub(super) fn uninitialised(location: &Location) -> anyhow::Error {
    let how = match location {
        Location::Sqlite(path) => {
            let p = shell_word(&path.display().to_string());
            format!("delete {p} (it holds nothing), then run `forge-authz init-db --db {p}`")
        }
        Location::Postgres(_) => "run `forge-authz init-db --db URL`".to_owned(),
    };
    crate::exit::fail(
        crate::exit::EXIT_UNAVAILABLE,
        format!("the store at {location} is not initialised: {how}"),
    )
}

/// The error of a store written by a newer build: exit status 6.
pub(super) fn newer(version: i64) -> anyhow::Error {
    crate::exit::fail(
        crate::exit::EXIT_UNAVAILABLE,
        format!(
            "the store has schema version {version}; this build knows up to {}: \
             run a newer forge-authz",
            schema::VERSION
        ),
    )
}

/// `s` as one shell word (quoted only when it needs to be).
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%,=".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

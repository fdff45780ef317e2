//! Where a store lives, and how it is named in logs (a PostgreSQL URL's password never
//! is).

#[allow(unused_imports)]
use super::*;

/// Where a store lives: `sqlite:PATH` (or a plain path) or `postgres://...`.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user@host:port/db`, or the key-value form
    /// `host=... dbname=...`).
    Postgres(String),
}

impl Location {
    /// Parse `--db`: `postgres://` / `postgresql://` URLs and `postgres:` key-value strings
    /// select PostgreSQL; `sqlite:PATH` and anything else is a SQLite file.
    pub fn parse(text: &str) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres(text.to_owned())
        } else if let Some(kv) = text.strip_prefix("postgres:") {
            Location::Postgres(kv.to_owned())
        } else if let Some(path) = text.strip_prefix("sqlite:") {
            // `sqlite:///abs/path` and `sqlite://rel` as URLs; `sqlite:rel` as a path.
            Location::Sqlite(PathBuf::from(path.strip_prefix("//").unwrap_or(path)))
        } else {
            Location::Sqlite(PathBuf::from(text))
        }
    }
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Location {
        Location::parse(&p.to_string_lossy())
    }
}
impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Location {
        Location::from(p.as_path())
    }
}
impl From<&str> for Location {
    fn from(s: &str) -> Location {
        Location::parse(s)
    }
}
impl From<&String> for Location {
    fn from(s: &String) -> Location {
        Location::parse(s)
    }
}
impl From<&Location> for Location {
    fn from(l: &Location) -> Location {
        l.clone()
    }
}

/// Shown without the password: a URL's `user:password@` becomes `user:***@`, a key-value
/// `password=...` becomes `password=***`.
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            Location::Postgres(url) if url.contains("://") => f.write_str(&redact(url)),
            Location::Postgres(kv) => write!(f, "postgres:{}", redact(kv)),
        }
    }
}

impl Location {
    /// The location as `--db` takes it, password included (never for logs).
    pub fn spelled(&self) -> String {
        match self {
            Location::Sqlite(p) => format!("sqlite:{}", p.display()),
            Location::Postgres(url) if url.contains("://") => url.clone(),
            Location::Postgres(kv) => format!("postgres:{kv}"),
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (auth, host) = match rest.rsplit_once('@') {
            Some(x) => x,
            None => return url.to_owned(),
        };
        let user = auth.split_once(':').map_or(auth, |(u, _)| u);
        let masked = if auth.contains(':') { ":***" } else { "" };
        return format!("{scheme}://{user}{masked}@{host}");
    }
    url.split_whitespace()
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

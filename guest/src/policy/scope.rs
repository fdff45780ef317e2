//! The scope vocabulary.
//!
//! - Gitea/Forgejo (reference §1.1-4): nine categories, each `read:X` / `write:X`; write
//!   implies read; `all` is write on every category; `public-only` is a flag, not a
//!   permission.
//! - Launchpad (reference §2.1): `repository:pull`, `repository:push` (independent: push
//!   does not imply pull), `repository:build_status`.
//!
//! - GitLab (reference §5.2) aliases: `read_repository` = `read:repository`,
//!   `write_repository` = `write:repository`, `api` = `all`, and `read_api`: read on
//!   every category for API routes only (GET/HEAD), never git.
//!
//! An unknown scope is an error: refused at minting, and at use (403 `scope-unknown`).
//! Legacy (pre-1.20) Gitea scopes are not accepted as they are: [`migrate_legacy`]
//! converts them by the exact migration table.
#[allow(unused_imports)]
use crate::prelude::*;

/// A Gitea/Forgejo scope category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// `activitypub`
    ActivityPub,
    /// `admin`
    Admin,
    /// `misc`
    Misc,
    /// `notification`
    Notification,
    /// `organization`
    Organization,
    /// `package`
    Package,
    /// `issue`
    Issue,
    /// `repository`
    Repository,
    /// `user`
    User,
}

/// Every category, in the canonical (alphabetical) order used when normalising.
pub const CATEGORIES: [Category; 9] = [
    Category::ActivityPub,
    Category::Admin,
    Category::Issue,
    Category::Misc,
    Category::Notification,
    Category::Organization,
    Category::Package,
    Category::Repository,
    Category::User,
];

impl Category {
    /// The category's name in scope strings.
    pub fn name(self) -> &'static str {
        match self {
            Category::ActivityPub => "activitypub",
            Category::Admin => "admin",
            Category::Misc => "misc",
            Category::Notification => "notification",
            Category::Organization => "organization",
            Category::Package => "package",
            Category::Issue => "issue",
            Category::Repository => "repository",
            Category::User => "user",
        }
    }

    /// The category named `s`.
    pub fn from_name(s: &str) -> Option<Category> {
        CATEGORIES.iter().copied().find(|c| c.name() == s)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

const ALL_CATEGORY_BITS: u32 = (1 << 9) - 1;

/// A set of scope categories (what an API route needs), as bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Categories(u32);

impl Categories {
    /// No category.
    pub const NONE: Categories = Categories(0);

    /// The set of these categories.
    pub fn of(cats: &[Category]) -> Categories {
        Categories(cats.iter().fold(0, |b, c| b | c.bit()))
    }

    /// The set with `cat` added.
    pub fn with(self, cat: Category) -> Categories {
        Categories(self.0 | cat.bit())
    }

    /// Whether `cat` is in the set.
    pub fn contains(self, cat: Category) -> bool {
        self.0 & cat.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The categories in the set, in canonical (alphabetical) order.
    pub fn iter(self) -> impl Iterator<Item = Category> {
        CATEGORIES.into_iter().filter(move |c| self.contains(*c))
    }
}

/// A set of scopes, as bits: cheap to test on every request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet {
    read: u32,
    write: u32,
    /// `public-only`
    pub public_only: bool,
    /// `repository:pull`
    pub pull: bool,
    /// `repository:push`
    pub push: bool,
    /// `repository:build_status`
    pub build_status: bool,
    /// GitLab `read_api`: read on every category, API routes only.
    pub api_read: bool,
    /// Gafaelfawr `user:token`: may mint tokens (never stronger than itself).
    pub user_token: bool,
}

impl ScopeSet {
    /// Parse a list of scope strings. Empty entries are skipped (reference §1.4); the
    /// first unknown scope is returned as the error.
    pub fn parse<S: AsRef<str>>(scopes: &[S]) -> Result<ScopeSet, String> {
        let mut set = ScopeSet::default();
        for raw in scopes {
            let s = raw.as_ref();
            if s.is_empty() {
                continue;
            }
            if !set.add(s) {
                return Err(s.to_string());
            }
        }
        Ok(set)
    }

    /// Parse a stored scope string: comma-separated, as Gitea stores scopes (spaces around
    /// an entry are ignored, empty entries skipped). The first unknown scope is the error.
    pub fn parse_joined(scopes: &str) -> Result<ScopeSet, &str> {
        let mut set = ScopeSet::default();
        let mut rest = scopes;
        loop {
            let (entry, more) = match crate::policy::text::split_at_byte(rest, b',') {
                Some((entry, more)) => (entry, Some(more)),
                None => (rest, None),
            };
            let s = entry.trim_matches(' ');
            if !s.is_empty() && !set.add(s) {
                return Err(s);
            }
            match more {
                Some(m) => rest = m,
                None => return Ok(set),
            }
        }
    }

    fn add(&mut self, s: &str) -> bool {
        match s {
            "all" | "api" => {
                self.write |= ALL_CATEGORY_BITS;
                self.read |= ALL_CATEGORY_BITS;
            }
            "read_api" => self.api_read = true,
            "user:token" => self.user_token = true,
            "read_repository" => self.read |= Category::Repository.bit(),
            "write_repository" => {
                self.write |= Category::Repository.bit();
                self.read |= Category::Repository.bit();
            }
            "public-only" => self.public_only = true,
            "repository:pull" => self.pull = true,
            "repository:push" => self.push = true,
            "repository:build_status" => self.build_status = true,
            _ => {
                let Some((level, cat)) = crate::policy::text::split_at_byte(s, b':') else {
                    return false;
                };
                let Some(cat) = Category::from_name(cat) else {
                    return false;
                };
                match level {
                    "read" => self.read |= cat.bit(),
                    "write" => {
                        self.write |= cat.bit();
                        self.read |= cat.bit();
                    }
                    _ => return false,
                }
            }
        }
        true
    }

    /// Read on a category (write implies read).
    pub fn can_read(&self, cat: Category) -> bool {
        self.read & cat.bit() != 0
    }

    /// Write on a category.
    pub fn can_write(&self, cat: Category) -> bool {
        self.write & cat.bit() != 0
    }

    /// Read on a category for an API route (`read_api` counts).
    pub fn can_read_api(&self, cat: Category) -> bool {
        self.can_read(cat) || self.api_read
    }

    /// The first thing `self` grants that `other` does not (`None`: a subset). Checked in
    /// canonical order; `public-only` is a restriction, so it is `other`'s that matters.
    pub fn excess_over(&self, other: &ScopeSet) -> Option<String> {
        for cat in CATEGORIES {
            if self.can_write(cat) && !other.can_write(cat) {
                return Some(format!("write:{}", cat.name()));
            }
            if self.can_read(cat) && !other.can_read(cat) {
                return Some(format!("read:{}", cat.name()));
            }
        }
        let flags = [
            (self.pull, other.pull, "repository:pull"),
            (self.push, other.push, "repository:push"),
            (
                self.build_status,
                other.build_status,
                "repository:build_status",
            ),
            (
                self.api_read,
                other.api_read || other.read == ALL_CATEGORY_BITS,
                "read_api",
            ),
            (self.user_token, other.user_token, "user:token"),
        ];
        for (mine, theirs, name) in flags {
            if mine && !theirs {
                return Some(name.to_string());
            }
        }
        if other.public_only && !self.public_only {
            return Some("not public-only".to_string());
        }
        None
    }

    /// What both sets grant: the widest set that is within `self` and within `other`
    /// (neither `excess_over` finds anything). Restrictions add up: the result is
    /// public-only if either is.
    pub fn intersect(&self, other: &ScopeSet) -> ScopeSet {
        let reads_all = |s: &ScopeSet| s.api_read || s.read == ALL_CATEGORY_BITS;
        ScopeSet {
            read: self.read & other.read,
            write: self.write & other.write,
            public_only: self.public_only || other.public_only,
            pull: self.pull && other.pull,
            push: self.push && other.push,
            build_status: self.build_status && other.build_status,
            api_read: reads_all(self) && reads_all(other) && (self.api_read || other.api_read),
            user_token: self.user_token && other.user_token,
        }
    }

    /// Write on every category (`all`).
    pub fn is_all(&self) -> bool {
        self.write == ALL_CATEGORY_BITS
    }

    /// Whether the set grants any permission (`public-only` alone grants none).
    pub fn has_permission(&self) -> bool {
        self.read != 0 || self.pull || self.push || self.build_status || self.api_read
    }

    /// The canonical list: `all` when every category is writable, otherwise the strongest
    /// level per category in alphabetical order, then the Launchpad scopes, then
    /// `public-only`.
    pub fn normalized(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.write == ALL_CATEGORY_BITS {
            out.push("all".to_string());
        } else {
            for cat in CATEGORIES {
                if self.can_write(cat) {
                    out.push(format!("write:{}", cat.name()));
                } else if self.can_read(cat) {
                    out.push(format!("read:{}", cat.name()));
                }
            }
        }
        if self.pull {
            out.push("repository:pull".to_string());
        }
        if self.push {
            out.push("repository:push".to_string());
        }
        if self.build_status {
            out.push("repository:build_status".to_string());
        }
        if self.api_read && self.read != ALL_CATEGORY_BITS {
            out.push("read_api".to_string());
        }
        if self.user_token {
            out.push("user:token".to_string());
        }
        if self.public_only {
            out.push("public-only".to_string());
        }
        out
    }
}

/// Scopes a repository- or owner-bound token may hold (Forgejo #11311: repository and
/// issue scopes; plus the Launchpad repository scopes and GitLab repository aliases).
pub const BOUND_ALLOWED: [&str; 9] = [
    "read:repository",
    "write:repository",
    "read:issue",
    "write:issue",
    "repository:pull",
    "repository:push",
    "repository:build_status",
    "read_repository",
    "write_repository",
];

/// One legacy scope's replacement (Gitea `models/migrations/v1_20/v259.go`, reference
/// §1.5); `None`: not a legacy scope, kept as it is.
fn legacy(scope: &str) -> Option<&'static [&'static str]> {
    Some(match scope {
        "all" => &["all"],
        "sudo" => &["write:admin"],
        "repo" | "repo:status" | "delete_repo" | "admin:repo_hook" | "write:repo_hook" => {
            &["write:repository"]
        }
        "read:repo_hook" => &["read:repository"],
        "public_repo" => &["public-only", "write:repository"],
        "admin:org" | "write:org" | "admin:org_hook" => &["write:organization"],
        "read:org" => &["read:organization"],
        "admin:public_key" | "write:public_key" | "admin:gpg_key" | "write:gpg_key"
        | "admin:application" | "write:application" | "user" | "user:follow" => &["write:user"],
        "read:public_key" | "read:gpg_key" | "read:application" | "read:user" | "user:email" => {
            &["read:user"]
        }
        "notification" => &["write:notification"],
        "package" | "write:package" | "delete:package" => &["write:package"],
        "read:package" => &["read:package"],
        _ => return None,
    })
}

/// Convert legacy Gitea scopes to current ones (reference §1.5). An empty list (a legacy
/// token with no scope had every power) becomes `all` (the migration's `all,sudo`, with
/// `sudo` -> `write:admin` already inside `all`). Unknown scopes are kept as they are, and
/// the known ones are normalised.
pub fn migrate_legacy<S: AsRef<str>>(scopes: &[S]) -> Vec<String> {
    let listed: Vec<&str> = scopes
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| !s.is_empty())
        .collect();
    if listed.is_empty() {
        return vec!["all".to_string()];
    }
    let mut set = ScopeSet::default();
    let mut unknown: Vec<String> = Vec::new();
    for s in listed {
        let replaced: Vec<&str> = legacy(s).map(|r| r.to_vec()).unwrap_or_else(|| vec![s]);
        for r in replaced {
            if !set.add(r) && !unknown.iter().any(|u| u == r) {
                unknown.push(r.to_string());
            }
        }
    }
    let mut out = set.normalized();
    out.extend(unknown);
    out
}

/// Normalise a scope list; `Err` names the first unknown scope.
pub fn normalize<S: AsRef<str>>(scopes: &[S]) -> Result<Vec<String>, String> {
    ScopeSet::parse(scopes).map(|s| s.normalized())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn write_implies_read_but_push_not_pull() {
        let s = ScopeSet::parse(&["write:repository", "repository:push"]).unwrap();
        assert!(s.can_read(Category::Repository));
        assert!(s.push && !s.pull);
    }

    #[test]
    fn unknown_scope_is_an_error() {
        assert_eq!(
            ScopeSet::parse(&["read:repository", "write:everything"]),
            Err("write:everything".to_string())
        );
        assert_eq!(
            ScopeSet::parse(&["delete:repository"]),
            Err("delete:repository".into())
        );
    }

    #[test]
    fn legacy_migration_table() {
        assert_eq!(migrate_legacy::<&str>(&[]), vec!["all"]);
        assert_eq!(
            migrate_legacy(&["repo", "admin:org"]),
            vec!["write:organization", "write:repository"]
        );
        assert_eq!(
            migrate_legacy(&["public_repo"]),
            vec!["write:repository", "public-only"]
        );
        assert_eq!(migrate_legacy(&["sudo"]), vec!["write:admin"]);
        assert_eq!(
            migrate_legacy(&["read:org", "write:org"]),
            vec!["write:organization"]
        );
        assert_eq!(
            migrate_legacy(&["weird", "read:user"]),
            vec!["read:user", "weird"]
        );
    }

    #[test]
    fn every_legacy_scope_maps_by_the_table() {
        for (old, new) in [
            ("all", "all"),
            ("read:repo_hook", "read:repository"),
            ("admin:public_key", "write:user"),
            ("user:follow", "write:user"),
            ("read:gpg_key", "read:user"),
            ("user:email", "read:user"),
            ("notification", "write:notification"),
            ("delete:package", "write:package"),
            ("read:package", "read:package"),
        ] {
            assert_eq!(migrate_legacy(&[old]), vec![new.to_string()], "{old}");
        }
        assert_eq!(
            migrate_legacy(&["weird", "weird"]),
            vec!["weird".to_string()]
        );
        assert_eq!(
            migrate_legacy(&["weird", "odd"]),
            vec!["weird".to_string(), "odd".to_string()]
        );
    }

    use crate::policy::vocabulary::SCOPES as VOCABULARY;

    #[test]
    fn intersection_is_the_widest_set_within_both() {
        // Over every pair of two-scope sets: the intersection is within both, and every
        // single scope (other than the `public-only` restriction) within both is within it.
        let sets: Vec<Vec<&str>> = VOCABULARY
            .iter()
            .flat_map(|a| VOCABULARY.iter().map(move |b| vec![*a, *b]))
            .collect();
        for a in sets.iter().step_by(7) {
            for b in sets.iter().step_by(5) {
                let (x, y) = (ScopeSet::parse(a).unwrap(), ScopeSet::parse(b).unwrap());
                let i = x.intersect(&y);
                assert_eq!(i.excess_over(&x), None, "{a:?} ∩ {b:?} exceeds {a:?}");
                assert_eq!(i.excess_over(&y), None, "{a:?} ∩ {b:?} exceeds {b:?}");
                assert_eq!(i.public_only, x.public_only || y.public_only);
                for s in VOCABULARY.iter().filter(|s| **s != "public-only") {
                    let one = ScopeSet::parse(&[*s]).unwrap();
                    let within = |set: &ScopeSet| {
                        let mut o = one;
                        o.public_only = set.public_only;
                        o.excess_over(set).is_none()
                    };
                    if within(&x) && within(&y) {
                        assert!(
                            within(&i),
                            "{s} is in {a:?} and {b:?} but not in the intersection"
                        );
                    }
                }
            }
        }
        // read_api: within a set that reads everything, not within one that reads one thing.
        let api = ScopeSet::parse(&["read_api"]).unwrap();
        assert_eq!(api.excess_over(&ScopeSet::parse(&["all"]).unwrap()), None);
        assert_eq!(
            api.excess_over(&ScopeSet::parse(&["read:issue"]).unwrap()),
            Some("read_api".into())
        );
        assert!(api.intersect(&ScopeSet::parse(&["all"]).unwrap()).api_read);
        assert!(
            !api.intersect(&ScopeSet::parse(&["read:issue"]).unwrap())
                .api_read
        );
    }

    #[test]
    fn gitlab_aliases() {
        let s = ScopeSet::parse(&["read_api"]).unwrap();
        assert!(s.can_read_api(Category::Issue) && !s.can_read(Category::Repository));
        assert_eq!(normalize(&["api"]).unwrap(), vec!["all"]);
        assert_eq!(
            normalize(&["write_repository", "read_repository"]).unwrap(),
            vec!["write:repository"]
        );
    }

    #[test]
    fn every_write_scope_normalizes_to_all() {
        let all: Vec<String> = CATEGORIES
            .iter()
            .map(|c| format!("write:{}", c.name()))
            .collect();
        assert_eq!(ScopeSet::parse(&all).unwrap().normalized(), vec!["all"]);
        let p = ScopeSet::parse(&["public-only"]).unwrap();
        assert!(!p.has_permission());
    }
}

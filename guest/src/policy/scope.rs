//! The scope vocabulary.
//!
//! - Gitea/Forgejo (reference §1.1-4): nine categories, each `read:X` / `write:X`; write
//!   implies read; `all` is write on every category; `public-only` is a flag, not a
//!   permission.
//! - Launchpad (reference §2.1): `repository:pull`, `repository:push` (independent: push
//!   does not imply pull), `repository:build_status`.
//!
//! An unknown scope is an error: refused at minting, and at use (403 `scope-unknown`).

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

    fn from_name(s: &str) -> Option<Category> {
        CATEGORIES.iter().copied().find(|c| c.name() == s)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

const ALL_CATEGORY_BITS: u32 = (1 << 9) - 1;

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

    fn add(&mut self, s: &str) -> bool {
        match s {
            "all" => {
                self.write |= ALL_CATEGORY_BITS;
                self.read |= ALL_CATEGORY_BITS;
            }
            "public-only" => self.public_only = true,
            "repository:pull" => self.pull = true,
            "repository:push" => self.push = true,
            "repository:build_status" => self.build_status = true,
            _ => {
                let Some((level, cat)) = s.split_once(':') else {
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

    /// Whether the set grants any permission (`public-only` alone grants none).
    pub fn has_permission(&self) -> bool {
        self.read != 0 || self.pull || self.push || self.build_status
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
        if self.public_only {
            out.push("public-only".to_string());
        }
        out
    }
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

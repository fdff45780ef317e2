//! A fuzz world: a small in-memory forge that answers the policy's fact queries
//! (`policy::Facts`) the way a host's store would, and records every query it was asked.
//!
//! Since contract 0.4 the policy asks for facts by name (a token id, a login, a repository
//! path, a namespace) instead of receiving them beside the request, so the facts cannot
//! describe "another" repository any more: a world is looked up. Lookups follow the WIT
//! (`wit/facts.wit`): token records by exact id (with their owner's account), accounts,
//! repositories and namespaces by name, case-insensitively, first entry wins; roles and
//! memberships are answered for the query's viewer (a per-login table, a default for any
//! signed-in viewer, and what the host tells an anonymous viewer — `none` for an honest
//! host, anything for a deliberately wrong one); the registrant only when asked for.

use forge_authz_guest::policy::{
    FactAnswer, FactQuery, Facts, NamespaceFacts, RepositoryFacts, Role, TokenRecord, UserFacts,
    Viewer,
};

/// A repository of the world.
#[derive(Clone, Debug)]
pub struct RepoEntry {
    /// `owner/name`.
    pub path: String,
    /// Facts; `role` is the role of any signed-in viewer not in `roles`, `registrant` is
    /// answered only when a query asks for it.
    pub facts: RepositoryFacts,
    /// Roles of particular logins (case-insensitive).
    pub roles: Vec<(String, Role)>,
    /// What the host answers for an anonymous viewer (`Role::None` for an honest host).
    pub anonymous_role: Role,
}

/// A user or organisation as a request's target.
#[derive(Clone, Debug)]
pub struct NamespaceEntry {
    /// Login.
    pub name: String,
    /// Facts; `member_role` is the membership of any signed-in viewer not in `roles`.
    pub facts: NamespaceFacts,
    /// Memberships of particular logins (case-insensitive).
    pub roles: Vec<(String, Role)>,
    /// What the host answers for an anonymous viewer (`Role::None` for an honest host).
    pub anonymous_role: Role,
}

/// A [`FactQuery`] with owned strings, as recorded (the fixture's, as every test logs it).
pub use forge_authz_fixture::facts::Query;

/// One call the policy made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `Facts::lookup`.
    Lookup(Query),
    /// `Facts::repositories`.
    Repositories {
        paths: Vec<String>,
        viewer: Option<String>,
    },
}

/// The world.
#[derive(Clone, Debug, Default)]
pub struct World {
    /// Token records (looked up by exact id, first wins).
    pub records: Vec<TokenRecord>,
    /// Accounts by login.
    pub users: Vec<(String, UserFacts)>,
    /// Repositories.
    pub repositories: Vec<RepoEntry>,
    /// Namespaces.
    pub namespaces: Vec<NamespaceEntry>,
    /// Every call since the last [`World::take_log`].
    pub log: Vec<Call>,
}

fn role_for(
    roles: &[(String, Role)],
    default: Role,
    anonymous: Role,
    viewer: Option<&str>,
) -> Role {
    match viewer {
        None => anonymous,
        Some(v) => roles
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(v))
            .map_or(default, |(_, r)| *r),
    }
}

impl World {
    /// The record with this exact id.
    pub fn record(&self, id: &str) -> Option<&TokenRecord> {
        self.records.iter().find(|r| r.id == id)
    }

    /// The account with this login.
    pub fn user(&self, name: &str) -> Option<&UserFacts> {
        self.users
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, f)| f)
    }

    /// The repository at `path` as `viewer` (a login; `None`: anonymous) sees it.
    pub fn repository(
        &self,
        path: &str,
        viewer: Option<&str>,
        registrant: bool,
    ) -> Option<RepositoryFacts> {
        let e = self
            .repositories
            .iter()
            .find(|e| e.path.eq_ignore_ascii_case(path))?;
        let mut facts = e.facts.clone();
        facts.role = role_for(&e.roles, e.facts.role, e.anonymous_role, viewer);
        if !registrant {
            facts.registrant = None;
        }
        Some(facts)
    }

    /// The namespace `name` as `viewer` sees it.
    pub fn namespace(&self, name: &str, viewer: Option<&str>) -> Option<NamespaceFacts> {
        let e = self
            .namespaces
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))?;
        let mut facts = e.facts.clone();
        facts.member_role = role_for(&e.roles, e.facts.member_role, e.anonymous_role, viewer);
        Some(facts)
    }

    /// The login whose view a query asks for (the WIT's `viewer`).
    pub fn viewer_login<'q>(&'q self, q: &FactQuery<'q>) -> Option<&'q str> {
        match q.viewer {
            Viewer::Anonymous => None,
            Viewer::TokenOwner => q
                .token
                .and_then(|id| self.record(id))
                .map(|r| r.owner.as_str()),
            Viewer::Account => q.account,
            Viewer::Sudo => q.sudo,
        }
    }

    /// The calls recorded so far, clearing the log.
    pub fn take_log(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.log)
    }

    /// The lookups among `calls`.
    pub fn lookups(calls: &[Call]) -> Vec<&Query> {
        calls
            .iter()
            .filter_map(|c| match c {
                Call::Lookup(q) => Some(q),
                Call::Repositories { .. } => None,
            })
            .collect()
    }
}

impl Facts for World {
    fn lookup(&mut self, q: &FactQuery<'_>) -> FactAnswer {
        self.log.push(Call::Lookup(Query::of(q)));
        let record = q.token.and_then(|id| self.record(id));
        let viewer = self.viewer_login(q).map(str::to_string);
        let viewer = viewer.as_deref();
        FactAnswer {
            token: record.map(TokenRecord::facts),
            owner: record.and_then(|r| self.user(&r.owner)).copied(),
            account: q.account.and_then(|a| self.user(a)).copied(),
            sudo: q.sudo.and_then(|s| self.user(s)).copied(),
            repository: q
                .repository
                .and_then(|p| self.repository(p, viewer, q.registrant)),
            namespace: q.namespace.and_then(|n| self.namespace(n, viewer)),
        }
    }

    fn repositories(
        &mut self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> Vec<Option<RepositoryFacts>> {
        self.log.push(Call::Repositories {
            paths: paths.to_vec(),
            viewer: viewer.map(str::to_string),
        });
        paths
            .iter()
            .map(|p| self.repository(p, viewer, false))
            .collect()
    }
}

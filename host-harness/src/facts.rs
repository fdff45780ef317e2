//! Where the policy's facts come from: the host side of the `facts` import.
//!
//! During a decision the policy asks one [`wit::FactQuery`] (and, for a batch, one list of
//! repositories); a [`FactSource`] answers it from the JSON world, a database, or a
//! forge's own tables. Each source implements the per-fact lookups; [`FactSource::lookup`]
//! composes them as the contract defines (whose view the repository and namespace facts
//! describe), and a store may override it to answer in one statement.
//!
//! An error from a source fails the import, and so the call: the host then denies with
//! `policy-failure`. A source never answers "no such fact" for a fact it could not read.

use crate::wit;

/// What a query's answer taught the host about the decision it fed: the verified acting
/// user and the repository as stored. A server enforces on exactly these — the identity
/// it reports, the repository it serves from disk — never on the names a client sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gathered {
    /// The acting user: the token's owner (as its record names it), or the account behind
    /// a session or an SSH user key.
    pub user: Option<String>,
    /// The repository the facts describe, `owner/name` as stored.
    pub repository: Option<String>,
    /// The presented token's id, when the policy verified one and asked for its record:
    /// the token the decision's effects are about.
    pub token: Option<String>,
}

/// One answer and what it taught the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answered {
    /// The answer the policy receives.
    pub answer: wit::FactAnswer,
    /// What the host learned.
    pub gathered: Gathered,
}

/// A repository found by path: its path as stored and its facts.
pub type FoundRepository = (String, wit::RepositoryFacts);

/// A source of facts.
pub trait FactSource {
    /// A token's record, as a decision needs it, by its public id.
    fn token(&self, id: &str) -> anyhow::Result<Option<wit::TokenFacts>>;
    /// An account's facts by login (names compare case-insensitively).
    fn user(&self, name: &str) -> anyhow::Result<Option<wit::UserFacts>>;
    /// A repository by `owner/name`, as `viewer` (a login; `None`: anonymous) sees it,
    /// with its registrant when it has one.
    fn repository(
        &self,
        path: &str,
        viewer: Option<&str>,
    ) -> anyhow::Result<Option<FoundRepository>>;
    /// A user or organisation by login, as `viewer` sees it.
    fn namespace(
        &self,
        name: &str,
        viewer: Option<&str>,
    ) -> anyhow::Result<Option<wit::NamespaceFacts>>;
    /// An SSH key by id (the SSH server's side: not asked by the policy).
    fn ssh_key(&self, id: &str) -> anyhow::Result<Option<wit::SshKey>>;

    /// Answer one query: the token's record and its owner's account, the account, the
    /// `sudo` target, then the repository and namespace as the query's viewer sees them.
    fn lookup(&self, q: &wit::FactQuery) -> anyhow::Result<Answered> {
        let token = q
            .token
            .as_deref()
            .map(|id| self.token(id))
            .transpose()?
            .flatten();
        let owner_name = token.as_ref().map(|t| t.owner.clone());
        let owner = owner_name
            .as_deref()
            .map(|o| self.user(o))
            .transpose()?
            .flatten();
        let account = q
            .account
            .as_deref()
            .map(|a| self.user(a))
            .transpose()?
            .flatten();
        let sudo = q
            .sudo
            .as_deref()
            .map(|s| self.user(s))
            .transpose()?
            .flatten();
        let viewer = viewer_name(q, owner_name.as_deref());
        let found = q
            .repository
            .as_deref()
            .map(|p| self.repository(p, viewer))
            .transpose()?
            .flatten();
        let namespace = q
            .namespace
            .as_deref()
            .map(|n| self.namespace(n, viewer))
            .transpose()?
            .flatten();
        let (stored, repository) = match found {
            Some((path, facts)) => (Some(path), Some(facts)),
            None => (None, None),
        };
        Ok(Answered {
            answer: wit::FactAnswer {
                token,
                owner,
                account,
                sudo,
                repository: repository.map(|r| registrant_if_asked(r, q.registrant)),
                namespace,
            },
            gathered: Gathered {
                user: owner_name.or_else(|| q.account.clone()),
                repository: stored,
                token: q.token.clone(),
            },
        })
    }

    /// Many repositories as `viewer` sees them, one answer per path, in order.
    fn repositories(
        &self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> anyhow::Result<Vec<Option<wit::RepositoryFacts>>> {
        paths
            .iter()
            .map(|p| {
                self.repository(p, viewer)
                    .map(|r| r.map(|(_, f)| registrant_if_asked(f, false)))
            })
            .collect()
    }
}

/// The login whose view a query's repository and namespace facts describe.
pub fn viewer_name<'a>(q: &'a wit::FactQuery, token_owner: Option<&'a str>) -> Option<&'a str> {
    match q.viewer {
        wit::Viewer::Anonymous => None,
        wit::Viewer::TokenOwner => token_owner,
        wit::Viewer::Account => q.account.as_deref(),
        wit::Viewer::Sudo => q.sudo.as_deref(),
    }
}

/// Repository facts with the registrant only when the query asked for it.
pub fn registrant_if_asked(mut r: wit::RepositoryFacts, asked: bool) -> wit::RepositoryFacts {
    if !asked {
        r.registrant = None;
    }
    r
}

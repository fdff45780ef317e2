//! A `FactSource` that records the calls a policy makes to the host's facts — each
//! `lookup` and `repositories` call, in order — and answers from another source. The
//! per-fact methods (`token`, `user`, ..., and the SSH key resolved before the policy runs)
//! pass through unrecorded: they are how a source answers, not what the policy asked.
//!
//! What is kept of a call is the log entry's choice ([`Record`]): the differential test
//! keeps the query and the answer in core values; the expanded corpus keeps the query as
//! the boundary spells it ([`BoundaryQuery`], design §1 and §7).

use std::cell::RefCell;

use forge_authz_fixture::boundary::{asked_batch, asked_lookup};
use forge_authz_fixture::facts::{Answered, FactSource, FoundRepository};
use forge_authz_guest::policy;

/// What a [`Recording`] keeps of one call.
pub trait Record {
    /// A `lookup` call and its answer.
    fn lookup(q: &policy::FactQuery<'_>, answered: &Answered) -> Self;
    /// A `repositories` call and its answers.
    fn repositories(
        paths: &[String],
        viewer: Option<&str>,
        answers: &[Option<policy::RepositoryFacts>],
    ) -> Self;
}

/// `source`, with every `lookup` and `repositories` call it answered logged (answered
/// calls only: a failed one ends the decision anyway).
pub struct Recording<'a, R> {
    source: &'a dyn FactSource,
    log: RefCell<Vec<R>>,
}

impl<'a, R> Recording<'a, R> {
    pub fn new(source: &'a dyn FactSource) -> Self {
        Recording {
            source,
            log: RefCell::new(Vec::new()),
        }
    }

    /// The calls so far, in order.
    pub fn into_log(self) -> Vec<R> {
        self.log.into_inner()
    }
}

impl<R: Record> FactSource for Recording<'_, R> {
    fn token(&self, id: &str) -> anyhow::Result<Option<policy::TokenFacts>> {
        self.source.token(id)
    }

    fn user(&self, name: &str) -> anyhow::Result<Option<policy::UserFacts>> {
        self.source.user(name)
    }

    fn repository(
        &self,
        path: &str,
        viewer: Option<&str>,
    ) -> anyhow::Result<Option<FoundRepository>> {
        self.source.repository(path, viewer)
    }

    fn namespace(
        &self,
        name: &str,
        viewer: Option<&str>,
    ) -> anyhow::Result<Option<policy::NamespaceFacts>> {
        self.source.namespace(name, viewer)
    }

    fn ssh_key(&self, id: &str) -> anyhow::Result<Option<policy::SshKey>> {
        self.source.ssh_key(id)
    }

    fn lookup(&self, q: &policy::FactQuery<'_>) -> anyhow::Result<Answered> {
        let answered = self.source.lookup(q)?;
        self.log.borrow_mut().push(R::lookup(q, &answered));
        Ok(answered)
    }

    fn repositories(
        &self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> anyhow::Result<Vec<Option<policy::RepositoryFacts>>> {
        let answers = self.source.repositories(paths, viewer)?;
        self.log
            .borrow_mut()
            .push(R::repositories(paths, viewer, &answers));
        Ok(answers)
    }
}

/// A call as the boundary spells it: `{"lookup": <query JSON>}` or `{"repositories":
/// {"paths": [..], "viewer": ..}}` (`fixture::boundary::{asked_lookup, asked_batch}`), the
/// text a fact source's `observe` hook receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundaryQuery(pub String);

impl Record for BoundaryQuery {
    fn lookup(q: &policy::FactQuery<'_>, _: &Answered) -> Self {
        BoundaryQuery(asked_lookup(q))
    }

    fn repositories(
        paths: &[String],
        viewer: Option<&str>,
        _: &[Option<policy::RepositoryFacts>],
    ) -> Self {
        BoundaryQuery(asked_batch(paths, viewer))
    }
}

impl BoundaryQuery {
    /// The query as a JSON value (as written to the expanded corpus).
    pub fn value(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_str(&self.0)
            .map_err(|e| anyhow::anyhow!("the boundary's query JSON {:?}: {e}", self.0))
    }
}

//! The decision log's records of what a server (or a `git-shell`) decided
//! ([`crate::log::decision`]): the context a request was asked in ([`Asked`]) and the
//! record written for each decision — the request's, and each ref update's of a push.
//!
//! Fail closed: a decision whose record cannot be written is refused (the caller turns it
//! into a `policy-failure` deny, or refuses the ref), said on stderr
//! (`decision-log-failed`) and counted (`forge_authz_decision_log_failures_total`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::facts::Gathered;
use crate::live::LivePolicy;
use crate::log;
use crate::log::decision::{DecisionLog, Module, Record};
use crate::request::{ActionDef, CredentialDef, RequestDef};

/// What the decision log says about a request beside its decision: its id, how it came,
/// from which peer, for which path.
#[derive(Clone, Debug, Default)]
pub struct Asked {
    /// A fresh id (a push's ref updates carry their push's).
    pub request_id: String,
    /// `http`, `forward-auth` or `ssh`.
    pub via: &'static str,
    /// The TCP peer (HTTP).
    pub peer: Option<String>,
    /// The HTTP path asked (its query string is never written).
    pub path: Option<String>,
    /// The credential's kind when the caller knows more than the credential says (an SSH
    /// key that is a deploy key).
    pub credential: Option<&'static str>,
}

/// A credential's kind as the decision log names it (never the credential).
pub fn credential_kind(c: &CredentialDef) -> &'static str {
    match c {
        CredentialDef::Anonymous => "anonymous",
        CredentialDef::Bearer(_) => "token",
        CredentialDef::Basic { .. } => "password",
        CredentialDef::SshKey(_) => "ssh-key",
        CredentialDef::Session(_) => "session",
    }
}

/// One verdict to record: the request's, or one ref's.
#[derive(Clone, Copy, Debug)]
pub struct Verdict<'a> {
    /// Allowed.
    pub allow: bool,
    /// HTTP status.
    pub status: u16,
    /// Reason code.
    pub reason: &'a str,
    /// What the client was told.
    pub message: &'a str,
    /// The ref of a ref update (`None`: the request itself).
    pub ref_name: Option<&'a str>,
}

/// How a request that came `via` (from `peer`, for `path`) is asked: a fresh id and the
/// context when there is a decision log (`on`); else nothing is made (serving without one
/// costs nothing).
pub fn asked(
    on: bool,
    via: &'static str,
    peer: Option<std::net::SocketAddr>,
    path: Option<&str>,
) -> Asked {
    if !on {
        return Asked {
            via,
            ..Asked::default()
        };
    }
    let mut request_id = super::random_id();
    request_id.truncate(16);
    Asked {
        request_id,
        via,
        peer: peer.map(|p| p.to_string()),
        path: path.map(|p| crate::log::path_only(p).to_string()),
        credential: None,
    }
}

/// Write one decision of `request` (asked as `asked`, with what was `gathered`, decided
/// by the module `live` runs) to `out`. `false`: it could not be written (counted in
/// `failures`, said on stderr), and the caller must refuse what was decided.
pub fn record(
    (out, live, failures): (&DecisionLog, &LivePolicy, &AtomicU64),
    asked: &Asked,
    request: &RequestDef,
    gathered: &Gathered,
    verdict: Verdict<'_>,
) -> bool {
    let published = live.current();
    let version = match &published.provenance {
        crate::live::Provenance::Signed { version, .. } => Some(*version),
        _ => None,
    };
    let username = match &request.credential {
        CredentialDef::Basic { username, .. } => Some(username.as_str()),
        _ => None,
    };
    let action = match (verdict.ref_name, request.action) {
        (Some(_), _) => "ref-update",
        (None, Some(ActionDef::Push)) => "push",
        (None, _) => "pull",
    };
    let record = Record {
        at: crate::world::system_now(),
        request_id: &asked.request_id,
        via: asked.via,
        client: request.client_address.as_deref(),
        peer: asked.peer.as_deref(),
        credential: asked
            .credential
            .unwrap_or_else(|| credential_kind(&request.credential)),
        username,
        user: gathered.user.as_deref(),
        token: gathered.token.as_deref(),
        action,
        ref_name: verdict.ref_name,
        path: asked.path.as_deref(),
        // As stored; else as asked, its `.git` stripped as the request layer does.
        repository: gathered.repository.as_deref().or(request
            .repository
            .as_deref()
            .map(crate::request::repository_path)),
        allow: verdict.allow,
        status: verdict.status,
        reason: verdict.reason,
        message: verdict.message,
        module: Module {
            sha256: published.module.sha256(),
            version,
            generation: published.generation,
        },
    };
    match out.write(&record) {
        Ok(()) => true,
        Err(e) => {
            failures.fetch_add(1, Ordering::Relaxed);
            log::event(
                "decision-log-failed",
                &[
                    ("cause", &e.to_string()),
                    (
                        "note",
                        "the decision was refused: its record could not be written",
                    ),
                ],
            );
            false
        }
    }
}

/// Reopen the decision log's file (`SIGUSR1`, after a log rotation moved it away), and
/// say so on stderr. A file that cannot be opened leaves the log closed: every decision
/// is refused (and counted) until the file can be opened again, which each decision tries.
pub fn reopen(out: &DecisionLog) {
    let Some(path) = out.path() else {
        return; // standard output: nothing to reopen
    };
    let path = path.display().to_string();
    match out.reopen() {
        Ok(()) => log::event("log-reopened", &[("decision-log", &path)]),
        Err(e) => log::event(
            "decision-log-failed",
            &[
                ("decision-log", &path),
                ("cause", &format!("cannot reopen: {e}")),
                (
                    "note",
                    "decisions are refused until the file can be opened: fix its directory or permissions (each request tries again)",
                ),
            ],
        ),
    }
}

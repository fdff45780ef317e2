//! The forge-authz policy core: pure, deterministic Rust. No WIT types, no I/O, no
//! clock (the time is an input), no randomness (entropy is an input). The component
//! (`crate::component`) and the native tests both drive this module, so the same
//! scenarios run natively and through wasm and must agree.
//!
//! One module per concern: [`token`] (format), [`scope`] (vocabulary), [`principal`]
//! (credentials), [`git`], [`refs`], [`create`], [`api`] (requests), [`decision`]
//! (reasons, traces), [`lifecycle`] (minting, children, rotation, revocation, audit).
#![forbid(unsafe_code)]
// A refusal is a `Decision` returned by value: boxing it would allocate on every deny, and
// records in enums are moved, not copied, across the WIT boundary.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]
#[allow(unused_imports)]
use crate::prelude::*;

pub mod api;
pub mod create;
pub mod decision;
pub mod git;
pub mod lifecycle;
pub mod model;
pub mod principal;
pub mod refs;
pub mod scope;
pub mod token;

pub use decision::{Decision, Effect, Reason, RefVerdict, Status, Trace, TraceOutcome, TraceStep};
pub use model::*;
pub use scope::ScopeSet;
pub use token::{TokenError, VerifiedToken};

use principal::{Presented, presented, repository_matches, valid_name, valid_repository_path};
use token::{ENTROPY_BYTES, Keyring};

/// Public fields of a well-formed token, read without any key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// Public token id.
    pub token_id: String,
    /// Key id (unchecked).
    pub key_id: String,
}

/// Format and checksum check with no key and no store (`inspect` in the WIT).
pub fn inspect(secret: &str) -> Result<TokenInfo, TokenError> {
    let p = token::parse(secret)?;
    Ok(TokenInfo {
        token_id: p.token_id.to_string(),
        key_id: p.key_id.to_string(),
    })
}

/// A configured policy: keys with precomputed HMAC state, and options.
#[derive(Clone, Debug)]
pub struct Authorizer {
    keys: Keyring,
    options: Options,
}

fn invalid(detail: &str, message: &str) -> Decision {
    Decision::new(Reason::RequestInvalid, message).with_detail(detail.to_string())
}

/// The shape of a request, before anything else is looked at.
fn validate(input: &Input) -> Result<(), Decision> {
    let path_ok = |p: &str| valid_repository_path(p);
    match &input.request {
        Request::Git(g) if !path_ok(&g.repository) => Err(invalid(
            "malformed repository path",
            "the repository path must be `owner/name`",
        )),
        Request::Create(c) if !path_ok(&c.repository) => Err(invalid(
            "malformed repository path",
            "the repository path must be `owner/name`",
        )),
        Request::Api(a) => {
            if !api::valid_method(&a.method) {
                return Err(invalid("malformed method", "not a valid HTTP method"));
            }
            if a.repository.as_deref().is_some_and(|r| !path_ok(r)) {
                return Err(invalid(
                    "malformed repository path",
                    "the repository path must be `owner/name`",
                ));
            }
            if a.namespace.as_deref().is_some_and(|n| !valid_name(n))
                || a.sudo.as_deref().is_some_and(|n| !valid_name(n))
            {
                return Err(invalid(
                    "malformed user name",
                    "not a valid user or organization name",
                ));
            }
            // A privileged operation is always done to something: without a target there
            // is nothing to check the administrator's role on, so nothing is granted.
            if let Some(op) = a.operation
                && a.repository.is_none()
                && a.namespace.is_none()
            {
                return Err(invalid(
                    &format!("operation `{}` without a target", op.name()),
                    "this operation needs a repository or namespace target",
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// SSH keys (user and deploy keys) authenticate git over SSH, and nothing else: not git
/// over HTTP, not the API, not a creation over HTTP (reference §1.19).
fn key_refusal(p: &principal::Principal<'_>, request: &Request) -> Option<Decision> {
    if !p.is_key() {
        return None;
    }
    let ssh = match request {
        Request::Git(g) => g.transport == Transport::Ssh,
        Request::Create(c) => c.transport == Transport::Ssh,
        Request::Api(_) => false,
    };
    (!ssh).then(|| {
        Decision::new(
            Reason::CredentialNotAllowed,
            "SSH keys authenticate git over SSH only: use an access token",
        )
    })
}

/// The repository path a request targets.
fn target_path(request: &Request) -> Option<&str> {
    match request {
        Request::Git(g) => Some(&g.repository),
        Request::Create(c) => Some(&c.repository),
        Request::Api(a) => a.repository.as_deref(),
    }
}

impl Authorizer {
    /// Validate the configuration and derive key state once.
    pub fn new(config: &Config) -> Result<Authorizer, ConfigError> {
        Ok(Authorizer {
            keys: Keyring::new(config)?,
            options: config.options,
        })
    }

    /// Find and verify the token in a credential, with no store.
    pub fn verify(&self, credential: &Credential) -> Result<Option<VerifiedToken>, TokenError> {
        match presented(credential) {
            Presented::None => Ok(None),
            Presented::Token { secret, .. } => {
                let p = self.keys.verify(secret)?;
                Ok(Some(VerifiedToken {
                    token_id: p.token_id.to_string(),
                    key_id: p.key_id.to_string(),
                }))
            }
        }
    }

    /// Decide a request. Never fails.
    pub fn decide(&self, input: &Input) -> Decision {
        let mut trace = Trace::new(input.explain);
        if let Err(d) = validate(input) {
            return trace.decide("request", d);
        }
        if let (Some(path), Some(repo)) = (target_path(&input.request), &input.repository)
            && !repository_matches(path, repo)
        {
            return trace.decide(
                "request",
                decision::inconsistent("repository facts are for another repository"),
            );
        }
        trace.pass("request", || match &input.request {
            Request::Git(g) => format!("git {:?} {}", g.action, g.repository).to_lowercase(),
            Request::Create(c) => format!("create {:?} {}", c.step, c.repository).to_lowercase(),
            Request::Api(a) => format!("api {}", a.method.to_uppercase()),
        });
        let p = match principal::resolve(&self.keys, input, &mut trace) {
            Ok(p) => p,
            Err((rule, d)) => return trace.decide(rule, d),
        };
        if let Some(d) = key_refusal(&p, &input.request) {
            return trace.decide("credential", d);
        }
        let touch = p
            .token()
            .filter(|t| lifecycle::last_used_due(t.record, input.now))
            .map(|t| Effect::TouchLastUsed(t.record.id.clone()));
        let mut d = match &input.request {
            Request::Git(g) => git::decide(
                &p,
                &self.options,
                &g.repository,
                g.action,
                &g.refs,
                input.repository.as_ref(),
                trace,
            ),
            Request::Create(c) => create::decide(
                &p,
                &c.repository,
                c.step,
                input.repository.as_ref(),
                input.namespace.as_ref(),
                trace,
            ),
            Request::Api(a) => api::decide(
                &p,
                &self.options,
                a,
                api::Facts {
                    repository: input.repository.as_ref(),
                    namespace: input.namespace.as_ref(),
                    sudo: input.sudo.as_ref(),
                },
                trace,
            ),
        };
        d.effects.extend(touch);
        d
    }

    /// Decide one git request against many repositories; the same answers as one
    /// `decide` per target (the credential is resolved once).
    pub fn decide_batch(&self, input: &Input, targets: &[BatchTarget]) -> Vec<Decision> {
        let Request::Git(g) = &input.request else {
            let d = invalid(
                "batch needs a git request",
                "a batch decides git requests only",
            );
            return targets.iter().map(|_| d.clone()).collect();
        };
        let mut trace = Trace::new(input.explain);
        trace.pass("request", || {
            format!("git {:?} batch of {}", g.action, targets.len()).to_lowercase()
        });
        let principal = principal::resolve(&self.keys, input, &mut trace);
        let touch = principal
            .as_ref()
            .ok()
            .and_then(|p| p.token())
            .filter(|t| lifecycle::last_used_due(t.record, input.now))
            .map(|t| Effect::TouchLastUsed(t.record.id.clone()));
        targets
            .iter()
            .map(|t| {
                let trace = trace.clone();
                if !valid_repository_path(&t.repository) {
                    return trace.decide(
                        "request",
                        invalid(
                            "malformed repository path",
                            "the repository path must be `owner/name`",
                        ),
                    );
                }
                if t.facts
                    .as_ref()
                    .is_some_and(|f| !repository_matches(&t.repository, f))
                {
                    return trace.decide(
                        "request",
                        decision::inconsistent("repository facts are for another repository"),
                    );
                }
                match &principal {
                    Err((rule, d)) => trace.decide(rule, d.clone()),
                    Ok(p) => {
                        if let Some(d) = key_refusal(p, &input.request) {
                            return trace.decide("credential", d);
                        }
                        let mut d = git::decide(
                            p,
                            &self.options,
                            &t.repository,
                            g.action,
                            &g.refs,
                            t.facts.as_ref(),
                            trace,
                        );
                        d.effects.extend(touch.clone());
                        d
                    }
                }
            })
            .collect()
    }

    /// Launchpad `checkRefPermissions` for the repository of `input.request`, derived
    /// from the push decision itself: each ref is asked as a creation, a fast-forward and
    /// a force-push in one `decide` of a push, and a permission is listed exactly when
    /// that update would be allowed. So a credential that may not push at all (any
    /// refusal before the refs: scope, binding, public-only, role, write rules,
    /// existence) gets empty lists, and the lists never disagree with a real push.
    pub fn ref_permissions(&self, input: &Input, names: &[String]) -> Vec<RefPermissions> {
        let Some(path) = target_path(&input.request) else {
            return decision::no_permissions(names);
        };
        let transport = match &input.request {
            Request::Git(g) => g.transport,
            Request::Create(c) => c.transport,
            Request::Api(_) => Transport::Http,
        };
        const PROBES: [(RefPermission, &str, bool); 3] = [
            (RefPermission::Create, refs::ZERO_ID, false),
            (RefPermission::Push, refs::SOME_ID, false),
            (RefPermission::ForcePush, refs::SOME_ID, true),
        ];
        let updates = names
            .iter()
            .flat_map(|name| {
                PROBES.iter().map(move |(_, old, force)| RefUpdate {
                    name: name.clone(),
                    old: (*old).to_string(),
                    new: refs::SOME_ID.to_string(),
                    force: *force,
                })
            })
            .collect();
        let push = Input {
            request: Request::Git(GitRequest {
                transport,
                repository: path.to_string(),
                action: GitAction::Push,
                refs: updates,
            }),
            explain: false,
            ..input.clone()
        };
        let d = self.decide(&push);
        names
            .iter()
            .enumerate()
            .map(|(i, name)| RefPermissions {
                name: name.clone(),
                permissions: PROBES
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| {
                        d.allow
                            && d.refs
                                .get(i * PROBES.len() + k)
                                .is_some_and(|v| v.allow && v.name == *name)
                    })
                    .map(|(_, (perm, _, _))| *perm)
                    .collect(),
            })
            .collect()
    }

    /// Mint a token from `entropy` (36 bytes from a CSPRNG; `None` if the source failed).
    pub fn issue(
        &self,
        request: &IssueRequest,
        entropy: Option<&[u8; ENTROPY_BYTES]>,
    ) -> Result<IssuedToken, IssueError> {
        lifecycle::issue(&self.keys, &self.options, request, entropy)
    }

    /// Derive a child token (or reuse one).
    pub fn derive_child(
        &self,
        request: &ChildRequest,
        entropy: Option<&[u8; ENTROPY_BYTES]>,
    ) -> Result<ChildOutcome, IssueError> {
        lifecycle::derive_child(&self.keys, request, entropy)
    }

    /// Rotate a token.
    pub fn rotate(
        &self,
        request: &RotateRequest,
        entropy: Option<&[u8; ENTROPY_BYTES]>,
    ) -> Result<Rotation, LifecycleError> {
        lifecycle::rotate(&self.keys, &self.options, request, entropy)
    }

    /// Plan a revocation.
    pub fn plan_revoke(
        &self,
        id: &str,
        scope: RevokeScope,
        records: &[TokenRecord],
        ctx: &ChangeContext,
    ) -> Result<ChangePlan, LifecycleError> {
        lifecycle::plan_revoke(id, scope, records, ctx)
    }

    /// Plan an edit.
    pub fn plan_edit(
        &self,
        id: &str,
        edit: &TokenEdit,
        records: &[TokenRecord],
        ctx: &ChangeContext,
    ) -> Result<ChangePlan, LifecycleError> {
        lifecycle::plan_edit(&self.options, id, edit, records, ctx)
    }

    /// Plan expiry bookkeeping.
    pub fn plan_expire(&self, entries: &[AuditEntry], ctx: &ChangeContext) -> Vec<HistoryEvent> {
        lifecycle::plan_expire(entries, ctx)
    }

    /// Audit a store.
    pub fn audit(&self, entries: &[AuditEntry], ctx: &ChangeContext) -> Vec<AuditFinding> {
        lifecycle::audit(entries, ctx)
    }
}

//! The forge-authz policy core: pure, deterministic Rust. No WIT types, no I/O, no
//! clock (the time is an input), no randomness (entropy is an input). The component
//! (`crate::component`) and the native tests both drive this module, so the same
//! scenarios run natively and through wasm and must agree.
//!
//! One module per concern: [`token`] (format), [`scope`] (scopes), [`principal`]
//! (credentials), [`git`], [`refs`], [`create`], [`api`] (requests), [`decision`]
//! (reasons, traces), [`authority`] (who may act on a token, which records may exist),
//! [`lifecycle`] (minting, children, rotation, revocation, edits), [`audit`], [`vocabulary`];
//! `validate` (a request's shape and transport) and `targets` (what a request targets, the
//! query for its facts, concealed traces) serve the decisions made here.
#![forbid(unsafe_code)]
// A refusal is a `Decision` returned by value: boxing it would allocate on every deny, and
// records in enums are moved, not copied, across the WIT boundary.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]
#[allow(unused_imports)]
use crate::prelude::*;

pub mod api;
pub mod audit;
pub mod authority;
pub mod create;
pub mod decision;
pub mod git;
pub mod ip;
pub mod lifecycle;
pub mod model;
mod notes;
pub mod principal;
pub mod records;
pub mod refs;
pub mod scope;
mod targets;
pub mod text;
pub mod token;
mod validate;
pub mod vocabulary;

pub use decision::{
    Decision, Effects, Reason, RefVerdict, Rule, Status, Trace, TraceOutcome, TraceStep,
};
pub use model::*;
pub use token::{TokenCache, TokenError, VerifiedToken};

use principal::{Presented, Principal, Refusal, picked, valid_repository_path};
use targets::{Context, Targets, conceal, credential_query, query};
use token::Keyring;
use validate::{bad_path, key_refusal, validate};

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

/// An [`Authorizer`] with the cache of the tokens it verified: what one component
/// resource holds. Its methods take `&mut self` (the cache learns).
#[derive(Clone, Debug)]
pub struct Engine {
    authorizer: Authorizer,
    cache: TokenCache,
}

impl Engine {
    /// Validate the configuration and derive key state once; the cache starts empty.
    pub fn new(config: &Config) -> Result<Engine, ConfigError> {
        Ok(Engine {
            authorizer: Authorizer::new(config)?,
            cache: TokenCache::new(),
        })
    }

    /// The authorizer (lifecycle calls need no cache).
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// [`Authorizer::verify`], remembering a genuine token.
    pub fn verify(&mut self, credential: &Credential) -> Result<Option<VerifiedToken>, TokenError> {
        self.authorizer.verify_in(credential, Some(&mut self.cache))
    }
}

/// The decision calls: each is one function taking the token cache (its `_in` function),
/// entered from the [`Engine`] with its cache and from the [`Authorizer`] with none.
macro_rules! decision_calls {
    ($($(#[$doc:meta])* $call:ident => $inner:ident($request:ty) -> $answer:ty;)+) => {
        impl Engine {
            $(
                #[doc = concat!("[`Authorizer::", stringify!($call), "`] with the cache.")]
                pub fn $call(&mut self, request: &$request, facts: &mut dyn Facts) -> $answer {
                    self.authorizer.$inner(request, facts, Some(&mut self.cache))
                }
            )+
        }

        impl Authorizer {
            $(
                $(#[$doc])*
                pub fn $call(&self, request: &$request, facts: &mut dyn Facts) -> $answer {
                    self.$inner(request, facts, None)
                }
            )+
        }
    };
}

decision_calls! {
    /// Decide a request, asking `facts` once for what it needs. Never fails.
    authorize => authorize_in(AuthorizeRequest) -> Decision;
    /// Decide one git request against many repositories; the same answers as one
    /// `authorize` per target (the credential is resolved once).
    authorize_batch => authorize_batch_in(BatchRequest) -> Vec<Decision>;
    /// Launchpad `checkRefPermissions` for a repository, derived from the push decision
    /// itself: each ref is asked as a creation, a fast-forward and a force-push in one
    /// push, and a permission is listed exactly when that update would be allowed. So a
    /// credential that may not push at all (any refusal before the refs: scope, binding,
    /// public-only, role, write rules, existence) gets empty sets, and the sets never
    /// disagree with a real push. The push decision's store effects come with them: a
    /// rotated-away token revokes its family here as on any other request (issue 19).
    ref_permissions => ref_permissions_in(RefPermissionsRequest) -> RefGrants;
}

/// A decision call's credential half: what it presents, the request it makes, when, and
/// the query the host answers once the credential is known.
#[derive(Clone, Copy)]
struct Call<'a> {
    credential: &'a Credential,
    also_presented: &'a [String],
    client: Option<&'a str>,
    request: &'a Request,
    now: Timestamp,
    query: for<'q> fn(&Presented<'q>, &'q Request) -> FactQuery<'q>,
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
        self.verify_in(credential, None)
    }

    fn verify_in(
        &self,
        credential: &Credential,
        cache: Option<&mut TokenCache>,
    ) -> Result<Option<VerifiedToken>, TokenError> {
        match picked(credential) {
            principal::Picked::None => Ok(None),
            principal::Picked::Token { secret, .. } => {
                let v = self.keys.verify_cached(cache, secret)?;
                Ok(Some(VerifiedToken {
                    token_id: v.token_id.to_string(),
                    key_id: v.key_id.to_string(),
                }))
            }
        }
    }

    fn authorize_in(
        &self,
        input: &AuthorizeRequest,
        facts: &mut dyn Facts,
        cache: Option<&mut TokenCache>,
    ) -> Decision {
        let mut trace = Trace::new(input.explain);
        if let Err(d) = validate(&input.request) {
            return trace.decide(Rule::Request, d);
        }
        trace.pass(Rule::Request, || match &input.request {
            Request::Git(g) => format!("git {} {}", g.action.name(), g.repository),
            Request::Create(c) => format!("create {} {}", c.step.name(), c.repository),
            Request::Api(a) => format!("api {}", a.method.name().to_ascii_uppercase()),
        });
        let call = Call {
            credential: &input.credential,
            also_presented: &input.also_presented,
            client: input.client_address.as_deref(),
            request: &input.request,
            now: input.now,
            query,
        };
        self.for_principal(cache, call, facts, trace, |p, answer, touch, _, trace| {
            let targets = Targets {
                repository: answer.repository.as_ref(),
                namespace: answer.namespace.as_ref(),
                sudo: answer.sudo.as_ref(),
            };
            let base = input.explain.then(|| trace.clone());
            let ctx = Context {
                options: &self.options,
                client: ip::Client::of(input.client_address.as_deref(), p),
            };
            let mut d = self.decide_request(p, &ctx, &input.request, targets, trace);
            if let Some(base) = base {
                d = conceal(d, targets, |t| {
                    self.decide_request(p, &ctx, &input.request, t, base.clone())
                });
            }
            d.effects.touch_last_used |= touch;
            d
        })
        .unwrap_or_else(|(trace, (rule, d))| trace.decide(rule, d))
    }

    /// The credential half of every decision, in order: the credential as presented (no
    /// conflicts, a genuine token), the one question to the host, the principal resolved
    /// from its answer, and the rule for SSH keys. Then `decide` for that principal, given
    /// the host's answer and whether the token's last use is due to be recorded. A refusal
    /// on the way is returned with the trace so far.
    fn for_principal<R>(
        &self,
        cache: Option<&mut TokenCache>,
        call: Call<'_>,
        facts: &mut dyn Facts,
        mut trace: Trace,
        decide: impl FnOnce(&Principal<'_>, &FactAnswer, bool, &mut dyn Facts, Trace) -> R,
    ) -> Result<R, (Trace, Refusal)> {
        let presented = match principal::present(
            &self.keys,
            cache,
            call.credential,
            call.also_presented,
            &mut trace,
        ) {
            Ok(p) => p,
            Err(refusal) => return Err((trace, refusal)),
        };
        let answer = facts.lookup(&(call.query)(&presented, call.request));
        let p = match principal::resolve(&presented, &answer, call.now, &mut trace) {
            Ok(p) => p,
            Err(refusal) => return Err((trace, refusal)),
        };
        if let Some(d) = key_refusal(&p, call.request) {
            return Err((trace, (Rule::Credential, d)));
        }
        if let Err(d) = ip::token_rule(&p, answer.token.as_ref(), call.client, &mut trace) {
            return Err((trace, (Rule::IpAllow, d)));
        }
        facts.acting(&Acting {
            user: p.user().map(|u| u.name),
            site_admin: p.site_admin(),
        });
        let touch = answer
            .token
            .as_ref()
            .is_some_and(|t| lifecycle::last_used_due(t.last_used, call.now));
        Ok(decide(&p, &answer, touch, facts, trace))
    }

    /// The request's own rules, once the principal is known.
    fn decide_request(
        &self,
        p: &principal::Principal<'_>,
        ctx: &Context<'_>,
        request: &Request,
        targets: Targets<'_>,
        trace: Trace,
    ) -> Decision {
        match request {
            Request::Git(g) => git::decide(
                p,
                ctx,
                &g.repository,
                g.action,
                &g.refs,
                targets.repository,
                trace,
            ),
            Request::Create(c) => create::decide(
                p,
                ctx.client,
                &c.repository,
                c.step,
                targets.repository,
                targets.namespace,
                trace,
            ),
            Request::Api(a) => api::decide(
                p,
                ctx,
                a,
                api::Facts {
                    repository: targets.repository,
                    namespace: targets.namespace,
                    sudo: targets.sudo,
                },
                trace,
            ),
        }
    }

    fn authorize_batch_in(
        &self,
        input: &BatchRequest,
        facts: &mut dyn Facts,
        cache: Option<&mut TokenCache>,
    ) -> Vec<Decision> {
        let mut trace = Trace::new(input.explain);
        trace.pass(Rule::Request, || {
            format!(
                "git {} batch of {}",
                input.action.name(),
                input.repositories.len()
            )
        });
        let request = Request::Git(GitRequest {
            transport: input.transport,
            repository: String::new(),
            action: input.action,
            refs: Vec::new(),
        });
        let call = Call {
            credential: &input.credential,
            also_presented: &input.also_presented,
            client: input.client_address.as_deref(),
            request: &request,
            now: input.now,
            query: credential_query,
        };
        self.for_principal(cache, call, facts, trace, |p, _, touch, facts, trace| {
            self.decide_batch(p, input, facts, &trace, touch)
        })
        .unwrap_or_else(|(trace, (rule, d))| refuse_all(input, &trace, rule, d))
    }

    /// Each repository of a batch decided for the resolved principal, as one `authorize`
    /// per target would; the host is asked about every well-formed path at once.
    fn decide_batch(
        &self,
        p: &principal::Principal<'_>,
        input: &BatchRequest,
        facts: &mut dyn Facts,
        trace: &Trace,
        touch: bool,
    ) -> Vec<Decision> {
        // Only well-formed paths reach the host.
        let paths: Vec<String> = input
            .repositories
            .iter()
            .filter(|r| valid_repository_path(r))
            .cloned()
            .collect();
        let viewer = p.user().map(|u| u.name);
        let mut found = facts.repositories(&paths, viewer).into_iter();
        let ctx = Context {
            options: &self.options,
            client: ip::Client::of(input.client_address.as_deref(), p),
        };
        input
            .repositories
            .iter()
            .map(|path| {
                let trace = trace.clone();
                if !valid_repository_path(path) {
                    return trace.decide(Rule::Request, bad_path());
                }
                let repo = found.next().flatten();
                let decide = |t: Targets<'_>, trace: Trace| {
                    git::decide(p, &ctx, path, input.action, &[], t.repository, trace)
                };
                let targets = Targets {
                    repository: repo.as_ref(),
                    namespace: None,
                    sudo: None,
                };
                let mut d = decide(targets, trace.clone());
                if input.explain {
                    d = conceal(d, targets, |t| decide(t, trace.clone()));
                }
                d.effects.touch_last_used |= touch;
                d
            })
            .collect()
    }

    fn ref_permissions_in(
        &self,
        input: &RefPermissionsRequest,
        facts: &mut dyn Facts,
        cache: Option<&mut TokenCache>,
    ) -> RefGrants {
        const PROBES: [(RefChange, bool); 3] = [
            (RefChange::Create, false),
            (RefChange::Update, false),
            (RefChange::Update, true),
        ];
        let updates = input
            .refs
            .iter()
            .flat_map(|name| {
                PROBES.iter().map(move |(change, force)| RefUpdate {
                    name: name.clone(),
                    change: *change,
                    force: *force,
                })
            })
            .collect();
        let d = self.authorize_in(&input.push(updates), facts, cache);
        let verdicts = d.refs.as_deref().filter(|_| d.allow()).unwrap_or_default();
        let allowed = |i: usize| verdicts.get(i).is_some_and(RefVerdict::allow);
        let refs = (0..input.refs.len())
            .map(|i| {
                let k = i * PROBES.len();
                RefPermissions {
                    create: allowed(k),
                    push: allowed(k + 1),
                    force_push: allowed(k + 2),
                }
            })
            .collect();
        RefGrants {
            refs,
            effects: d.effects,
        }
    }
}

/// The same refusal for every repository of a batch, decided before any repository is
/// looked at.
fn refuse_all(input: &BatchRequest, trace: &Trace, rule: Rule, refusal: Decision) -> Vec<Decision> {
    // A malformed path is refused first, whatever the credential (as one `authorize`
    // per target would).
    let refusal = trace.clone().decide(rule, refusal);
    input
        .repositories
        .iter()
        .map(|path| {
            if valid_repository_path(path) {
                refusal.clone()
            } else {
                trace.clone().decide(Rule::Request, bad_path())
            }
        })
        .collect()
}

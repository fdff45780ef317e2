//! Site policies: an operator's own rules on top of the core (README "Writing your own
//! policy"). Plain Rust like [`crate::policy`]: no WIT types, no I/O, compiled natively too.
//!
//! A [`Site`] can only **narrow**. [`Sited`] asks the core first and consults the site only
//! about what the core allowed; the site answers `Ok(())` (keep the core's decision) or a
//! [`Refusal`] (its own code and a message for the user), which [`Sited`] turns into a
//! `site-refused` decision. A site never builds a [`Decision`], so no site rule can turn a
//! core refusal into an allow, change an allow's reason, or lift a per-ref refusal: every
//! invariant of the core (forged or expired tokens never allow, read-only credentials never
//! write, hidden answers as missing, ...) holds for every site policy by construction, and
//! `authorize`, batch and ref-permissions narrow alike (each asks the same [`Site::check`]
//! about the same request).
//!
//! The shipped component is `Component<NoSite>`: the core with no site rules. A site crate
//! (`examples/site-policy/`) exports `Component<ItsSite>` (`crate::export_site!`).
#[allow(unused_imports)]
use crate::prelude::*;

pub mod time;

pub use crate::policy::Acting;
use crate::policy::{
    AuthorizeRequest, Authorizer, BatchRequest, Config, ConfigError, Credential, Decision, Engine,
    FactAnswer, FactQuery, Facts, GitAction, GitRequest, IssueError, IssueRequest, IssuedToken,
    Reason, RefChange, RefGrants, RefPermissions, RefPermissionsRequest, RefUpdate, RefVerdict,
    RepositoryFacts, Request, Rule, Timestamp, TokenError, TraceOutcome, TraceStep, VerifiedToken,
    token::ENTROPY_BYTES,
};

/// An operator's rules over what the core allowed.
pub trait Site: Sized + 'static {
    /// Whether [`Site::check`] can refuse anything: `false` only for [`NoSite`], whose
    /// component then runs exactly the core's calls (no wrapper around its facts).
    const NARROWS: bool = true;

    /// Read the site data (`config.site`: JSON text, empty when none), once, when the
    /// authorizer is created. `Err(why)`: the configuration is refused (`bad-site`, carrying
    /// `why`, which must hold no secret).
    fn new(data: &str) -> Result<Self, String>;

    /// A request the core allowed: `Ok(())` keeps the core's decision, a [`Refusal`] refuses
    /// it with `site-refused`. Called for `authorize`, for each allowed repository of a
    /// batch (as the pull or push of that repository) and for `ref-permissions` (as the
    /// push that decides it).
    fn check(&self, asked: &Asked<'_>) -> Result<(), Refusal>;

    /// A token the core would issue: `Err` refuses the issuance with one of the core's own
    /// issue errors (e.g. a shorter [`IssueError::LifetimeTooLong`]). Default: nothing.
    fn check_issue(&self, _request: &IssueRequest) -> Result<(), IssueError> {
        Ok(())
    }
}

/// A site's refusal: its own short code (in the decision's operator detail and its trace
/// step) and a message telling the user what to do. Neither may hold a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The site's code, e.g. `change-freeze`.
    pub code: String,
    /// For the user.
    pub message: String,
}

/// What a site is asked about: a request the core allowed, when, and who acts.
#[derive(Clone, Copy, Debug)]
pub struct Asked<'a> {
    /// The request, as the core decided it.
    pub request: &'a Request,
    /// Now (the request's time, unix seconds).
    pub now: Timestamp,
    /// Who acts, as the core resolved the principal (not re-derived by the site): the
    /// credential's user — for an API `sudo` request, the administrator who authenticated,
    /// not the impersonated user; `site_admin` only with full powers (never through a
    /// restricted token); none for an anonymous request or a deploy key, and none if the
    /// core told nothing (fail closed: no powers).
    pub acting: Acting<'a>,
}

impl Asked<'_> {
    /// Whether the request writes: a git push, any step of a repository creation, an API
    /// request whose method writes (reference §1.6: all but GET, HEAD and OPTIONS).
    pub fn writes(&self) -> bool {
        match self.request {
            Request::Git(g) => g.action == GitAction::Push,
            Request::Create(_) => true,
            Request::Api(a) => !a.method.reads(),
        }
    }
}

/// The core with no site rules: the shipped component.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSite;

impl Site for NoSite {
    const NARROWS: bool = false;

    /// The core ignores the site data, whatever it holds.
    fn new(_: &str) -> Result<NoSite, String> {
        Ok(NoSite)
    }

    fn check(&self, _: &Asked<'_>) -> Result<(), Refusal> {
        Ok(())
    }
}

/// The calls a component resource makes, on the core alone ([`Engine`]) or narrowed by a
/// site ([`Sited`]): what `exports.rs` calls.
pub trait Core {
    /// `authorizer.verify`.
    fn verify(&mut self, credential: &Credential) -> Result<Option<VerifiedToken>, TokenError>;
    /// `authorizer.authorize`.
    fn authorize(&mut self, request: &AuthorizeRequest, facts: &mut dyn Facts) -> Decision;
    /// `authorizer.authorize-batch`.
    fn authorize_batch(&mut self, request: &BatchRequest, facts: &mut dyn Facts) -> Vec<Decision>;
    /// `authorizer.ref-permissions`.
    fn ref_permissions(
        &mut self,
        request: &RefPermissionsRequest,
        facts: &mut dyn Facts,
    ) -> RefGrants;
    /// The configured core (lifecycle calls).
    fn authorizer(&self) -> &Authorizer;
    /// `authorizer.issue`.
    fn issue(
        &self,
        request: &IssueRequest,
        entropy: Option<&[u8; ENTROPY_BYTES]>,
    ) -> Result<IssuedToken, IssueError> {
        self.authorizer().issue(request, entropy)
    }
}

impl Core for Engine {
    fn verify(&mut self, credential: &Credential) -> Result<Option<VerifiedToken>, TokenError> {
        Engine::verify(self, credential)
    }
    fn authorize(&mut self, request: &AuthorizeRequest, facts: &mut dyn Facts) -> Decision {
        Engine::authorize(self, request, facts)
    }
    fn authorize_batch(&mut self, request: &BatchRequest, facts: &mut dyn Facts) -> Vec<Decision> {
        Engine::authorize_batch(self, request, facts)
    }
    fn ref_permissions(
        &mut self,
        request: &RefPermissionsRequest,
        facts: &mut dyn Facts,
    ) -> RefGrants {
        Engine::ref_permissions(self, request, facts)
    }
    fn authorizer(&self) -> &Authorizer {
        Engine::authorizer(self)
    }
}

/// The core narrowed by a site: core-allow AND site-allow.
#[derive(Clone, Debug)]
pub struct Sited<S> {
    engine: Engine,
    site: S,
}

impl<S: Site> Sited<S> {
    /// The core's configuration checks, then the site's reading of `config.site`.
    pub fn new(config: &Config) -> Result<Sited<S>, ConfigError> {
        let engine = Engine::new(config)?;
        let site = S::new(&config.site).map_err(ConfigError::BadSite)?;
        Ok(Sited { engine, site })
    }

    /// The site's verdict on a request the core allowed, for `who` (the principal the core
    /// told its facts about; none told: anonymous, no powers — fail closed).
    fn check(&self, request: &Request, now: Timestamp, who: &Told) -> Result<(), Refusal> {
        self.site.check(&Asked {
            request,
            now,
            acting: Acting {
                user: who.user.as_deref(),
                site_admin: who.site_admin,
            },
        })
    }

    /// `decision` narrowed: an allow the site refuses becomes `site-refused`; anything else
    /// is the core's, unchanged.
    fn narrow(
        &self,
        decision: Decision,
        request: &Request,
        now: Timestamp,
        who: &Told,
    ) -> Decision {
        if !decision.allow() {
            return decision;
        }
        match self.check(request, now, who) {
            Ok(()) => decision,
            Err(refusal) => refused(decision, refusal),
        }
    }
}

/// An allowed decision refused by the site: `site-refused` with the site's message, every
/// ref of a push refused the same way, the core's store effects kept, and the trace (when
/// asked) ending with the site's own step after the core's (whose deciding step becomes a
/// pass).
fn refused(allowed: Decision, refusal: Refusal) -> Decision {
    let Refusal { code, message } = refusal;
    let refs = allowed.refs.map(|refs| {
        refs.iter()
            .map(|_| RefVerdict {
                reason: Reason::SiteRefused,
                message: Some(message.clone()),
            })
            .collect()
    });
    let trace = allowed.trace.map(|mut steps| {
        if let Some(last) = steps.last_mut() {
            last.outcome = TraceOutcome::Pass;
        }
        steps.push(TraceStep {
            rule: Rule::Site,
            outcome: TraceOutcome::Decide,
            detail: format!("{}: {code}", Reason::SiteRefused.code()),
        });
        steps
    });
    Decision {
        refs,
        effects: allowed.effects,
        trace,
        ..Decision::new(Reason::SiteRefused, message).with_detail(code)
    }
}

impl<S: Site> Core for Sited<S> {
    fn verify(&mut self, credential: &Credential) -> Result<Option<VerifiedToken>, TokenError> {
        self.engine.verify(credential)
    }

    fn authorize(&mut self, request: &AuthorizeRequest, facts: &mut dyn Facts) -> Decision {
        if !S::NARROWS {
            return self.engine.authorize(request, facts);
        }
        let mut told = Telling::new(facts);
        let d = self.engine.authorize(request, &mut told);
        self.narrow(d, &request.request, request.now, &told.who)
    }

    fn authorize_batch(&mut self, request: &BatchRequest, facts: &mut dyn Facts) -> Vec<Decision> {
        if !S::NARROWS {
            return self.engine.authorize_batch(request, facts);
        }
        let mut told = Telling::new(facts);
        let decisions = self.engine.authorize_batch(request, &mut told);
        let who = told.who;
        decisions
            .into_iter()
            .zip(&request.repositories)
            .map(|(d, path)| {
                if !d.allow() {
                    return d;
                }
                let one = Request::Git(GitRequest {
                    transport: request.transport,
                    repository: path.clone(),
                    action: request.action,
                    refs: Vec::new(),
                });
                self.narrow(d, &one, request.now, &who)
            })
            .collect()
    }

    fn ref_permissions(
        &mut self,
        request: &RefPermissionsRequest,
        facts: &mut dyn Facts,
    ) -> RefGrants {
        if !S::NARROWS {
            return self.engine.ref_permissions(request, facts);
        }
        let mut told = Telling::new(facts);
        let grants = self.engine.ref_permissions(request, &mut told);
        if !grants.refs.iter().any(granted) {
            return grants;
        }
        // The push that decides the grants (as the core derives them): refused by the
        // site, no ref may be created, pushed or force-pushed.
        let probes = request
            .refs
            .iter()
            .flat_map(|name| {
                [
                    (RefChange::Create, false),
                    (RefChange::Update, false),
                    (RefChange::Update, true),
                ]
                .map(|(change, force)| RefUpdate {
                    name: name.clone(),
                    change,
                    force,
                })
            })
            .collect();
        let push = request.push(probes);
        match self.check(&push.request, request.now, &told.who) {
            Ok(()) => grants,
            Err(_) => RefGrants {
                refs: grants
                    .refs
                    .iter()
                    .map(|_| RefPermissions::default())
                    .collect(),
                effects: grants.effects,
            },
        }
    }

    fn authorizer(&self) -> &Authorizer {
        self.engine.authorizer()
    }

    fn issue(
        &self,
        request: &IssueRequest,
        entropy: Option<&[u8; ENTROPY_BYTES]>,
    ) -> Result<IssuedToken, IssueError> {
        self.site.check_issue(request)?;
        self.engine.authorizer().issue(request, entropy)
    }
}

/// Whether any permission is granted on a ref.
fn granted(p: &RefPermissions) -> bool {
    p.create || p.push || p.force_push
}

/// Who the core said acts (owned: it outlives the core's answer).
#[derive(Clone, Debug, Default)]
struct Told {
    user: Option<String>,
    site_admin: bool,
}

/// The caller's facts, passed through unchanged, remembering who the core said acts.
struct Telling<'f> {
    facts: &'f mut dyn Facts,
    who: Told,
}

impl<'f> Telling<'f> {
    fn new(facts: &'f mut dyn Facts) -> Telling<'f> {
        Telling {
            facts,
            who: Told::default(),
        }
    }
}

impl Facts for Telling<'_> {
    fn lookup(&mut self, query: &FactQuery<'_>) -> FactAnswer {
        self.facts.lookup(query)
    }

    fn repositories(
        &mut self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> Vec<Option<RepositoryFacts>> {
        self.facts.repositories(paths, viewer)
    }

    fn acting(&mut self, acting: &Acting<'_>) {
        self.who = Told {
            user: acting.user.map(ToOwned::to_owned),
            site_admin: acting.site_admin,
        };
        self.facts.acting(acting);
    }
}

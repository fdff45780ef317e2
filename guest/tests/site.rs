//! A site policy can only narrow (issue 23 item 4: "rules can only narrow the core's
//! decision (combined as core-allow AND site-allow, so every invariant holds by
//! construction)"), shown over the whole scenario corpus, natively, through all three
//! decision calls: a site that refuses everything turns each allow into `site-refused` (each
//! ref grant into none) and leaves every refusal exactly the core's; a site that refuses
//! nothing leaves every outcome exactly the core's (its wrapper is transparent).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

use forge_authz_fixture::decided::Outcome;
use forge_authz_fixture::facts::{FactSource, Gathered};
use forge_authz_fixture::native::{Asked as Lent, Native};
use forge_authz_fixture::request::RequestDef;
use forge_authz_fixture::scenario::{self, load_corpus, run_family};
use forge_authz_guest::policy;
use forge_authz_guest::site::{Asked, Core, Refusal, Site, Sited};
use serde_json::Value;

/// Refuses every request the core allowed.
struct RefuseAll;

impl Site for RefuseAll {
    fn new(_: &str) -> Result<RefuseAll, String> {
        Ok(RefuseAll)
    }
    fn check(&self, _: &Asked<'_>) -> Result<(), Refusal> {
        Err(Refusal {
            code: "closed".into(),
            message: "the site is closed".into(),
        })
    }
}

/// Refuses nothing, through the wrapper (unlike `NoSite`, which bypasses it).
struct AllowAll;

impl Site for AllowAll {
    fn new(_: &str) -> Result<AllowAll, String> {
        Ok(AllowAll)
    }
    fn check(&self, _: &Asked<'_>) -> Result<(), Refusal> {
        Ok(())
    }
}

/// The core narrowed by `S` as the corpus runner's engine; tokens are minted by the core
/// alone (as reproducibly as [`Native`]'s), so both runs see the same secrets.
struct SitedEngine<S> {
    sited: Sited<S>,
    mint: Native,
}

impl<S: Site> SitedEngine<S> {
    fn new(config: &policy::Config) -> anyhow::Result<SitedEngine<S>> {
        let sited = Sited::new(config).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(SitedEngine {
            sited,
            mint: Native::new(config)?,
        })
    }
}

impl<S: Site> forge_authz_fixture::flow::Decide for SitedEngine<S> {
    fn authorize(
        &mut self,
        request: policy::AuthorizeRequest,
        facts: &dyn FactSource,
    ) -> Result<(policy::Decision, Gathered), String> {
        Lent::run(facts, |lent| self.sited.authorize(&request, lent))
    }
    fn authorize_batch(
        &mut self,
        request: policy::BatchRequest,
        facts: &dyn FactSource,
    ) -> Result<(Vec<policy::Decision>, Gathered), String> {
        Lent::run(facts, |lent| self.sited.authorize_batch(&request, lent))
    }
    fn ref_permissions(
        &mut self,
        request: policy::RefPermissionsRequest,
        facts: &dyn FactSource,
    ) -> Result<(policy::RefGrants, Gathered), String> {
        Lent::run(facts, |lent| self.sited.ref_permissions(&request, lent))
    }
}

impl<S: Site> scenario::Engine for SitedEngine<S> {
    fn issue(
        &mut self,
        request: &policy::IssueRequest,
    ) -> anyhow::Result<Result<policy::IssuedToken, policy::IssueError>> {
        self.mint.issue(request)
    }
    fn decide(
        &mut self,
        facts: &dyn FactSource,
        request: &RequestDef,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        forge_authz_fixture::flow::authorize(self, facts, request, now)
    }
}

/// Every scenario's printed outcome: (family and name, core's, narrowed by `S`).
fn both<S: Site>() -> Vec<(String, Value, Value)> {
    let mut all = Vec::new();
    for fam in load_corpus().unwrap() {
        let core = run_family(&fam, &Native::new).unwrap();
        let sited = run_family(&fam, &SitedEngine::<S>::new).unwrap();
        assert_eq!(core.len(), sited.len());
        for ((name, c), (_, s)) in core.into_iter().zip(sited) {
            all.push((format!("{}: {name}", fam.path.display()), c, s));
        }
    }
    assert!(all.len() > 100, "the corpus is there: {}", all.len());
    all
}

/// `narrowed` is `core` with every allow refused by the site: a decision the core allowed
/// is `site-refused` (its refs too), any other is the core's; a ref grant is none.
fn refused_where_allowed(core: &Value, narrowed: &Value) -> bool {
    match (core, narrowed) {
        (Value::Object(c), Value::Object(_)) if c.contains_key("decision") => {
            let n = narrowed;
            match c["decision"].as_str() {
                Some("allow") => {
                    n["decision"] == "deny"
                        && n["reason"] == "site-refused"
                        && n["status"] == 403
                        && n["refs"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .all(|r| r["reason"] == "site-refused")
                }
                _ => core == narrowed,
            }
        }
        (Value::Object(c), Value::Object(n)) if c.contains_key("decisions") => {
            refused_where_allowed(&c["decisions"], &n["decisions"])
        }
        (Value::Array(c), Value::Array(n)) => {
            c.len() == n.len() && c.iter().zip(n).all(|(c, n)| refused_where_allowed(c, n))
        }
        // Ref permissions: each ref's grants, none left.
        (Value::Object(c), Value::Object(n)) => {
            c.keys().eq(n.keys()) && n.values().all(|g| g.as_array().is_some_and(Vec::is_empty))
        }
        _ => false,
    }
}

#[test]
fn a_site_refusing_everything_refuses_exactly_what_the_core_allowed() {
    let mut allowed = 0;
    for (name, core, narrowed) in both::<RefuseAll>() {
        assert!(
            refused_where_allowed(&core, &narrowed),
            "{name}\n core: {core}\n site: {narrowed}"
        );
        allowed += usize::from(core.to_string().contains(r#""decision":"allow""#));
    }
    assert!(allowed > 50, "the corpus allows: {allowed}");
}

#[test]
fn a_site_refusing_nothing_changes_nothing() {
    for (name, core, sited) in both::<AllowAll>() {
        assert_eq!(core, sited, "{name}");
    }
}

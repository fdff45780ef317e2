//! The scenario corpus: format, loading, token minting and running.
//!
//! One JSON file per family in `tests/scenarios/` (format in the README, "Scenario
//! corpus"). A file holds a world, token specs and scenarios; each scenario names the rule
//! it checks in `source`. Tokens are minted at load time by the engine under test (so
//! they differ between engines), and requests refer to them as `${name}` or, to damage a
//! token in a precise way, `${name|op:args}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Deserialize;

use forge_authz_guest::policy as core;
use forge_authz_guest::policy::token::crc32;
use forge_authz_host::policy::Policy;
use forge_authz_host::request::{
    CredentialDef, RequestDef, authorize, outcome_output, repository_path,
};
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;
use forge_authz_host::world::{KeyDef, World};

/// How to mint one token of a scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Owner login.
    pub owner: String,
    /// Scopes to mint with (must be mintable).
    pub scopes: Vec<String>,
    /// Repositories to bind to.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Owners to bind to.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Store the record as a child token (its `parent` set): always restricted.
    #[serde(default)]
    pub child: bool,
    /// Lifetime in seconds from the world's `now`; absent: 30 days.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Mark the stored record revoked at `now + revoked_at` (seconds, may be negative).
    #[serde(default)]
    pub revoked_at: Option<i64>,
    /// Replace the stored scopes after minting (e.g. an unknown scope in an old record).
    #[serde(default)]
    pub stored_scopes: Option<Vec<String>>,
    /// Store the record (default true); false: the host finds no record.
    #[serde(default = "yes")]
    pub store: bool,
    /// Store a record whose hash does not match the secret.
    #[serde(default)]
    pub corrupt_hash: bool,
    /// Mint with this key instead of the world's (forgeries, retired keys).
    #[serde(default)]
    pub sign_with: Option<KeyDef>,
}

fn yes() -> bool {
    true
}

/// What one ref verdict or batch entry is expected to be.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PartExpect {
    /// The ref (refs) or the repository (batch).
    #[serde(alias = "repository")]
    pub name: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// Reason code.
    pub reason: String,
}

/// What a scenario expects. Fields that are absent are not checked; at least one of
/// `decision`, `permissions`, `batch` is required.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `allow` or `deny`.
    #[serde(default)]
    pub decision: Option<String>,
    /// HTTP status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Reason code.
    #[serde(default)]
    pub reason: Option<String>,
    /// Operator detail.
    #[serde(default)]
    pub detail: Option<String>,
    /// Per-ref verdicts of a push, in order.
    #[serde(default)]
    pub refs: Option<Vec<PartExpect>>,
    /// Ref permissions (`ref-permissions` requests): ref -> permissions.
    #[serde(default)]
    pub permissions: Option<BTreeMap<String, Vec<String>>>,
    /// Batch decisions, in order.
    #[serde(default)]
    pub batch: Option<Vec<PartExpect>>,
    /// Rules that the explanation trace must list, in this order.
    #[serde(default)]
    pub trace: Option<Vec<String>>,
    /// The name of a scenario of this family on a target that does not exist: this one's
    /// whole output — decision and explanation trace — must be that one's, the target's
    /// path aside (issue 19: a trace conceals what the verdict conceals).
    #[serde(default)]
    pub conceals: Option<String>,
}

/// One scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique within its file.
    pub name: String,
    /// The rule it checks: a seed document or a reference section.
    pub source: String,
    /// The request (`${token}` placeholders in credentials).
    pub request: RequestDef,
    /// The expected decision.
    pub expect: Expect,
}

/// A scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// Family name.
    pub family: String,
    /// What the family covers.
    pub description: String,
    /// The world (its `now` is required: scenarios are reproducible).
    pub world: World,
    /// Tokens to mint.
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenSpec>,
    /// The scenarios.
    pub scenarios: Vec<Scenario>,
    /// Where it was loaded from.
    #[serde(skip)]
    pub path: PathBuf,
}

/// The corpus directory.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Load every `*.json` family, sorted by file name.
pub fn load_corpus() -> anyhow::Result<Vec<Family>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p)?;
        let mut fam: Family =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
        fam.world.validate()?;
        if fam.world.now.is_none() {
            bail!("{}: world.now is required", p.display());
        }
        fam.path = p;
        out.push(fam);
    }
    Ok(out)
}

/// Tokens minted for a family: name -> secret.
pub type Minted = BTreeMap<String, String>;

/// The public token id inside a secret (the first 16 characters of its payload).
fn token_id_of(secret: &str) -> Option<String> {
    forge_authz_guest::policy::inspect(secret)
        .ok()
        .map(|i| i.token_id)
}

/// The mint request of one of a family's tokens, as the forge would make it for the
/// signed-in owner.
fn issue_request(world: &World, name: &str, spec: &TokenSpec, now: i64) -> core::IssueRequest {
    core::IssueRequest {
        owner: spec.owner.clone(),
        name: name.to_string(),
        scopes: spec.scopes.clone(),
        repositories: spec.repositories.clone(),
        owners: spec.owners.clone(),
        expires: Some(now + spec.expires_in.unwrap_or(30 * 86_400)),
        now,
        // Minted as the forge would for the signed-in owner, back when the account was
        // active (some scenarios deactivate it afterwards), and as a user account: a
        // record owned by an organisation is one a store may still hold from before
        // organisations were refused (the scenarios check it is refused at use).
        creator: core::Actor::Session(core::Account {
            name: spec.owner.clone(),
            facts: core::UserFacts {
                status: core::AccountStatus::Active,
                organization: false,
                ..world.user(&spec.owner).unwrap_or(core::UserFacts {
                    status: core::AccountStatus::Active,
                    site_admin: false,
                    visibility: core::Visibility::Public,
                    organization: false,
                })
            },
        }),
        existing_names: vec![],
        bound_facts: world.bound_facts(&spec.repositories, &spec.owner),
        ip: None,
    }
}

/// Build a policy for a world with `make`, mint the family's tokens, and return the
/// world with their records stored.
pub fn prepare<P: Policy>(
    fam: &Family,
    make: &dyn Fn(&wit::Config) -> anyhow::Result<P>,
) -> anyhow::Result<(P, World, Minted)> {
    let mut world = fam.world.clone();
    let now = world.now();
    let mut policy = make(&forge_authz_host::wit::world_config(&world)?)?;
    let mut minted = Minted::new();
    for (name, spec) in &fam.tokens {
        let request = convert::issue_request_out(issue_request(&world, name, spec, now));
        let issued = match &spec.sign_with {
            None => policy.issue(&request),
            Some(key) => {
                let mut signer = make(&wit::Config {
                    keys: vec![wit::SigningKey {
                        id: key.id.clone(),
                        secret: hex::decode(&key.secret)?,
                    }],
                    signing_key_id: key.id.clone(),
                    options: convert::options_out(
                        forge_authz_host::world::OptionsDef::default().to_core(),
                    ),
                })?;
                signer.issue(&request)
            }
        };
        let mut issued = issued
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .map_err(|e| anyhow::anyhow!("minting `{name}`: {e}"))?;
        if let Some(at) = spec.revoked_at {
            issued.record.revoked = Some(now + at);
        }
        if let Some(scopes) = &spec.stored_scopes {
            issued.record.scopes = scopes.clone();
        }
        if spec.child {
            issued.record.parent = Some("parent-token".into());
        }
        if spec.corrupt_hash {
            issued.record.secret = wit::SecretDigest::HmacTag(wit::Hash256 {
                w0: 0,
                w1: 0,
                w2: 0,
                w3: 0,
            });
        }
        if spec.store {
            world.add_token(&convert::record_in(issued.record.clone()));
        }
        minted.insert(name.clone(), issued.secret);
    }
    Ok((policy, world, minted))
}

/// Replace `${name}` and `${name|op:arg|...}` in `s` with minted tokens.
///
/// Operations: `flip:I` changes the character at I to another base64url character (the
/// checksum then fails); `flip-resum:I` does the same and recomputes the checksum (the
/// signature then fails); `set:I:C` puts character C at I; `truncate:N` keeps N
/// characters; `append:S` appends S; `replace:A:B` replaces A with B and recomputes the
/// checksum.
pub fn substitute(s: &str, minted: &Minted) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').context("unterminated ${")?;
        let expr = &after[..end];
        let mut parts = expr.split('|');
        let name = parts.next().unwrap_or_default();
        let mut token = minted
            .get(name)
            .with_context(|| format!("no token named `{name}`"))?
            .clone();
        for op in parts {
            token = apply(&token, op)?;
        }
        out.push_str(&token);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resum(body_with_dot: &str) -> String {
    format!(
        "{body_with_dot}{:08x}",
        crc32(body_with_dot.trim_end_matches('.').as_bytes())
    )
}

fn apply(token: &str, op: &str) -> anyhow::Result<String> {
    let (name, arg) = op.split_once(':').unwrap_or((op, ""));
    let mut chars: Vec<char> = token.chars().collect();
    Ok(match name {
        "flip" | "flip-resum" => {
            let i: usize = arg.parse()?;
            let c = chars.get_mut(i).context("flip index out of range")?;
            *c = if *c == 'A' { 'B' } else { 'A' };
            let t: String = chars.into_iter().collect();
            if name == "flip-resum" {
                let cut = t.rfind('.').context("no checksum field")?;
                resum(&t[..=cut])
            } else {
                t
            }
        }
        "set" => {
            let (i, c) = arg.split_once(':').context("set:I:C")?;
            let i: usize = i.parse()?;
            *chars.get_mut(i).context("set index out of range")? =
                c.chars().next().context("set needs a character")?;
            chars.into_iter().collect()
        }
        "truncate" => chars.into_iter().take(arg.parse()?).collect(),
        "append" => format!("{token}{arg}"),
        "replace" => {
            let (a, b) = arg.split_once(':').context("replace:A:B")?;
            let t = token.replacen(a, b, 1);
            let cut = t.rfind('.').context("no checksum field")?;
            resum(&t[..=cut])
        }
        other => bail!("unknown token operation `{other}`"),
    })
}

/// Substitute tokens into a request's credentials.
pub fn resolve(request: &RequestDef, minted: &Minted) -> anyhow::Result<RequestDef> {
    let mut r = request.clone();
    r.credential = match &request.credential {
        CredentialDef::Bearer(t) => CredentialDef::Bearer(substitute(t, minted)?),
        CredentialDef::Basic { username, password } => CredentialDef::Basic {
            username: substitute(username, minted)?,
            password: substitute(password, minted)?,
        },
        other => other.clone(),
    };
    r.also_presented = request
        .also_presented
        .iter()
        .map(|t| substitute(t, minted))
        .collect::<anyhow::Result<_>>()?;
    Ok(r)
}

/// Run every scenario of a family on one engine; returns (scenario name, outcome as
/// printed by `forge-authz decide`).
pub fn run_family<P: Policy>(
    fam: &Family,
    make: &dyn Fn(&wit::Config) -> anyhow::Result<P>,
) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    let (mut policy, world, minted) = prepare(fam, make)?;
    let now = world.now();
    let mut out = Vec::with_capacity(fam.scenarios.len());
    for sc in &fam.scenarios {
        let mut req = resolve(&sc.request, &minted)
            .with_context(|| format!("{}: {}", fam.family, sc.name))?;
        req.explain |= explained(fam, sc);
        let outcome = authorize(&mut policy, &world, &req, now)
            .with_context(|| format!("{}: {}", fam.family, sc.name))?;
        // Token ids differ between engines (fresh entropy): name them instead, so that
        // outcomes compare exactly.
        let mut text = outcome_output(&outcome).0.to_string();
        for (name, secret) in &minted {
            if let Some(id) = token_id_of(secret) {
                text = text.replace(&id, &format!("<token {name}>"));
            }
        }
        out.push((sc.name.clone(), serde_json::from_str(&text)?));
    }
    Ok(out)
}

/// The format version of an expanded family (`expand`).
pub const EXPANDED_FORMAT: u32 = 1;

/// A family with everything a host in another language needs to replay it and compare
/// (issue 12): the world with the minted tokens' records, and per scenario the request
/// with its tokens substituted (damaged as the scenario says) and the exact output the
/// Rust host printed for it (`forge-authz decide`'s JSON). Minting and token damage are
/// done once, here; a host only turns the world and the request into facts and a call,
/// and prints the decision — the format is in `hosts/README.md`.
pub fn expand<P: Policy>(
    fam: &Family,
    make: &dyn Fn(&wit::Config) -> anyhow::Result<P>,
) -> anyhow::Result<serde_json::Value> {
    let (mut policy, world, minted) = prepare(fam, make)?;
    let now = world.now();
    let mut scenarios = Vec::with_capacity(fam.scenarios.len());
    for sc in &fam.scenarios {
        let mut req = resolve(&sc.request, &minted)
            .with_context(|| format!("{}: {}", fam.family, sc.name))?;
        req.explain |= explained(fam, sc);
        let outcome = authorize(&mut policy, &world, &req, now)
            .with_context(|| format!("{}: {}", fam.family, sc.name))?;
        scenarios.push(serde_json::json!({
            "name": sc.name,
            "source": sc.source,
            "request": req,
            "output": outcome_output(&outcome).0,
        }));
    }
    Ok(serde_json::json!({
        "format": EXPANDED_FORMAT,
        "family": fam.family,
        "world": world,
        "scenarios": scenarios,
    }))
}

fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(serde_json::Value::as_str)
}

fn parts_match(got: Option<&serde_json::Value>, want: &[PartExpect], key: &str) -> bool {
    let Some(list) = got.and_then(serde_json::Value::as_array) else {
        return want.is_empty();
    };
    list.len() == want.len()
        && list.iter().zip(want).all(|(g, w)| {
            str_of(g, key) == Some(w.name.as_str())
                && str_of(g, "decision") == Some(w.decision.as_str())
                && str_of(g, "reason") == Some(w.reason.as_str())
        })
}

/// Compare an outcome with a scenario's expectation; `None` when it matches.
pub fn mismatch(sc: &Scenario, got: &serde_json::Value) -> Option<String> {
    let e = &sc.expect;
    let mut ok = true;
    if let Some(batch) = &e.batch {
        let as_parts: Vec<serde_json::Value> = got.as_array().cloned().unwrap_or_default();
        ok &= parts_match(
            Some(&serde_json::Value::from(as_parts)),
            batch,
            "repository",
        );
    } else if let Some(perms) = &e.permissions {
        let want = serde_json::to_value(perms).unwrap_or_default();
        ok &= *got == want;
    } else {
        ok &= e
            .decision
            .as_deref()
            .is_none_or(|d| str_of(got, "decision") == Some(d));
        ok &= e.status.is_none_or(|s| {
            got.get("status").and_then(serde_json::Value::as_u64) == Some(u64::from(s))
        });
        ok &= e
            .reason
            .as_deref()
            .is_none_or(|r| str_of(got, "reason") == Some(r));
        ok &= e
            .detail
            .as_deref()
            .is_none_or(|d| str_of(got, "detail") == Some(d));
        if let Some(refs) = &e.refs {
            ok &= parts_match(got.get("refs"), refs, "name");
        }
        if let Some(rules) = &e.trace {
            let steps: Vec<&str> = got
                .get("trace")
                .and_then(serde_json::Value::as_array)
                .map(|a| a.iter().filter_map(|s| str_of(s, "rule")).collect())
                .unwrap_or_default();
            let mut it = steps.iter();
            ok &= rules.iter().all(|r| it.any(|s| s == r));
        }
    }
    (!ok).then(|| format!("{}: expected {:?}\n      got {}", sc.name, e, got))
}

/// Whether a scenario runs with `explain`: its expectation names a trace, or concealment
/// compares its trace with another's (either side).
fn explained(fam: &Family, sc: &Scenario) -> bool {
    sc.expect.trace.is_some()
        || sc.expect.conceals.is_some()
        || fam
            .scenarios
            .iter()
            .any(|o| o.expect.conceals.as_deref() == Some(sc.name.as_str()))
}

/// The scenarios whose output does not conceal their target as their `conceals`
/// scenario's missing target does (outputs of `run`, in the family's order). A scenario
/// naming no scenario of the family is a failure too.
pub fn concealment_mismatches(fam: &Family, run: &[(String, serde_json::Value)]) -> Vec<String> {
    let target = |sc: &Scenario| {
        sc.request
            .repository
            .as_deref()
            .map(|r| repository_path(r).to_string())
            .or_else(|| sc.request.namespace.clone())
            .unwrap_or_default()
    };
    let hidden = |sc: &Scenario, out: &serde_json::Value| {
        let t = target(sc);
        let text = out.to_string();
        if t.is_empty() {
            text
        } else {
            text.replace(&t, "<target>")
        }
    };
    let mut out = Vec::new();
    for (sc, (_, got)) in fam.scenarios.iter().zip(run) {
        let Some(other) = &sc.expect.conceals else {
            continue;
        };
        let Some((osc, (_, ogot))) = fam
            .scenarios
            .iter()
            .zip(run)
            .find(|(o, _)| &o.name == other)
        else {
            out.push(format!("{}: conceals unknown scenario `{other}`", sc.name));
            continue;
        };
        let (a, b) = (hidden(sc, got), hidden(osc, ogot));
        if a != b {
            out.push(format!(
                "{}: does not answer as `{other}` (target aside):\n      got  {a}\n      want {b}",
                sc.name
            ));
        }
    }
    out
}

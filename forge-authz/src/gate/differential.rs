//! The differential: every decision the candidate gives otherwise than the live module, on
//! the generated requests and on the corpus, grouped by request kind and (reason before ->
//! reason after), each group with its count and its smallest example (shrunk while it
//! keeps the group's change).

use std::collections::BTreeMap;

use forge_authz_guest::policy;

use super::Judge;
use super::generator::Case;
use super::report::{DifferenceGroup, Example};
use super::shrink::shrink;
use crate::request::{ActionDef, Decided, KindDef, Outcome, RequestDef, outcome_output};

/// A request's kind as the report groups it: `git-pull`, `git-push`, `create`,
/// `api-read`, `api-write`, `ref-permissions`, `batch-pull`, `batch-push`.
pub fn kind(r: &RequestDef) -> &'static str {
    let push = r.action == Some(ActionDef::Push);
    match r.kind {
        KindDef::Git if push => "git-push",
        KindDef::Git => "git-pull",
        KindDef::Create => "create",
        KindDef::Api => {
            let m = r.method.as_deref().unwrap_or_default().to_ascii_uppercase();
            if ["GET", "HEAD", "OPTIONS"].contains(&m.as_str()) {
                "api-read"
            } else {
                "api-write"
            }
        }
        KindDef::RefPermissions => "ref-permissions",
        KindDef::Batch if push => "batch-push",
        KindDef::Batch => "batch-pull",
    }
}

/// A decision's reason, with its ref verdicts' when it has some (`allow [protected-ref]`).
fn label(d: &Decided) -> String {
    let refs: Vec<&str> = d.refs.iter().map(|r| r.verdict.code()).collect();
    if refs.is_empty() {
        d.code().to_string()
    } else {
        format!("{} [{}]", d.code(), refs.join(","))
    }
}

/// A ref's permissions (`create+push`, `none`).
fn perms_label(p: &policy::RefPermissions) -> String {
    let listed: Vec<&str> = [
        ("create", p.create),
        ("push", p.push),
        ("force-push", p.force_push),
    ]
    .into_iter()
    .filter_map(|(n, on)| on.then_some(n))
    .collect();
    if listed.is_empty() {
        "none".into()
    } else {
        listed.join("+")
    }
}

/// Each changed decision of one request: (before, after) labels; empty when the two
/// outcomes print the same.
pub fn changes(before: &Outcome, after: &Outcome) -> Vec<(String, String)> {
    if outcome_output(before).0 == outcome_output(after).0 {
        return vec![];
    }
    let one = |d: &Decided| serde_json::to_value(crate::request::DecisionOutput::from(d)).ok();
    match (before, after) {
        (Outcome::Decision(b), Outcome::Decision(a)) => vec![(label(b), label(a))],
        (Outcome::Batch(b), Outcome::Batch(a)) => b
            .iter()
            .zip(a)
            .filter(|((_, x), (_, y))| one(x) != one(y))
            .map(|((_, x), (_, y))| (label(x), label(y)))
            .collect(),
        (Outcome::Permissions(b), Outcome::Permissions(a)) => b
            .refs
            .iter()
            .zip(&a.refs)
            .filter(|((_, x), (_, y))| x != y)
            .map(|((_, x), (_, y))| (perms_label(x), perms_label(y)))
            .collect(),
        _ => vec![(
            "(another kind of answer)".into(),
            "(another kind of answer)".into(),
        )],
    }
}

/// A group's key: (request kind, reason before, reason after).
type Key = (String, String, String);

/// A change found in the corpus: the scenario (`family/name`), its kind, before, after.
#[derive(Clone, Debug)]
pub struct CorpusChange {
    /// `family/scenario`.
    pub scenario: String,
    /// Request kind.
    pub kind: String,
    /// Reason before.
    pub before: String,
    /// Reason after.
    pub after: String,
}

#[derive(Default)]
struct Group {
    generated: u64,
    smallest: Option<Case>,
    corpus: Vec<String>,
}

/// The changes collected so far.
#[derive(Default)]
pub struct Differences {
    groups: BTreeMap<Key, Group>,
}

impl Differences {
    /// Record the changes of one generated case.
    pub fn add(&mut self, case: &Case, before: &Outcome, after: &Outcome) {
        for (b, a) in changes(before, after) {
            let g = self
                .groups
                .entry((kind(&case.request).to_string(), b, a))
                .or_default();
            g.generated += 1;
            if g.smallest.as_ref().is_none_or(|s| case.size() < s.size()) {
                g.smallest = Some(case.clone());
            }
        }
    }

    /// The groups, the corpus's changes added, each example shrunk, in key order.
    pub fn finish(
        mut self,
        corpus: &[CorpusChange],
        cand: &mut Judge,
        live: &mut Judge,
    ) -> Vec<DifferenceGroup> {
        for c in corpus {
            let key = (c.kind.clone(), c.before.clone(), c.after.clone());
            self.groups
                .entry(key)
                .or_default()
                .corpus
                .push(c.scenario.clone());
        }
        self.groups
            .into_iter()
            .map(|((kind, before, after), mut g)| {
                g.corpus.sort();
                let change = (before.clone(), after.clone());
                let example = g.smallest.map(|case| {
                    let mut keeps = |c: &Case| {
                        let (Some(b), Some(a)) = (
                            live.decide(&c.world, &c.request),
                            cand.decide(&c.world, &c.request),
                        ) else {
                            return false;
                        };
                        changes(&b, &a).contains(&change)
                    };
                    let case = shrink(case, &mut keeps);
                    let shown = |j: &mut Judge| {
                        j.decide(&case.world, &case.request)
                            .map(|o| outcome_output(&o).0.to_string())
                            .unwrap_or_default()
                    };
                    let detail = format!("before: {}\nafter:  {}", shown(live), shown(cand));
                    Example::of(&case, detail)
                });
                DifferenceGroup {
                    kind,
                    before,
                    after,
                    generated: g.generated,
                    corpus: g.corpus,
                    example,
                }
            })
            .collect()
    }
}

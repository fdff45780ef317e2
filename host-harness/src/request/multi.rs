//! The requests about many things at once: a ref-permissions request (every named ref of
//! one repository) and a batch (one action on many repositories).

use super::{Decided, Permissions, RequestDef, credential, repository_path};
use crate::facts::{FactSource, Gathered};
use crate::policy::{Policy, PolicyFailure};
use crate::wit;

/// A ref-permissions request: each named ref with what the credential may do to it (a
/// policy failure: no permission at all).
pub(super) fn ref_permissions(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<Permissions> {
    let wit_request = wit::RefPermissionsRequest {
        credential: credential(&request.credential, facts)?,
        also_presented: request.also_presented(),
        transport: request.transport(),
        repository: request.repository()?,
        refs: request.ref_names.clone(),
        now,
    };
    let (grants, gathered) = policy
        .ref_permissions(&wit_request, facts)
        .unwrap_or_else(|_| {
            (
                wit::RefGrants {
                    refs: Vec::new(),
                    effects: wit::Effects::empty(),
                },
                Gathered::default(),
            )
        });
    Ok(Permissions {
        refs: request
            .ref_names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let p = grants
                    .refs
                    .get(i)
                    .copied()
                    .unwrap_or(wit::RefPermissions::empty());
                (n.clone(), p)
            })
            .collect(),
        token: gathered
            .token
            .filter(|_| grants.effects != wit::Effects::empty()),
        effects: grants.effects,
    })
}

/// A batch: one decision per target, in request order (a policy failure denies each; a
/// target the policy left without a decision is denied too).
pub(super) fn batch(
    policy: &mut dyn Policy,
    facts: &dyn FactSource,
    request: &RequestDef,
    now: i64,
) -> anyhow::Result<Vec<(String, Decided)>> {
    let wit_request = wit::BatchRequest {
        credential: credential(&request.credential, facts)?,
        also_presented: request.also_presented(),
        transport: request.transport(),
        action: request.action()?,
        repositories: request
            .repositories
            .iter()
            .map(|r| repository_path(r).to_string())
            .collect(),
        now,
        explain: request.explain,
    };
    let decisions: Vec<Decided> = match policy.authorize_batch(&wit_request, facts) {
        Ok((list, gathered)) => list
            .into_iter()
            .map(|d| Decided::new(d, &[], gathered.token.clone()))
            .collect(),
        Err(f) => request
            .repositories
            .iter()
            .map(|_| Decided::failure(&f))
            .collect(),
    };
    Ok(request
        .repositories
        .iter()
        .cloned()
        .zip(decisions.into_iter().chain(std::iter::repeat_with(|| {
            Decided::failure(&PolicyFailure("no decision for this target".into()))
        })))
        .collect())
}

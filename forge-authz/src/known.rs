//! The known answers every sound policy gives, checked before a module serves (a reload,
//! a fleet version, a new configuration): they catch a module that loads but decides
//! wrongly — an allow-everything build, a swapped reason table. The cases and their world
//! are data, `wit/known-answers.json`, which the Node host reads too: one list for every
//! host.

use serde::Deserialize;

use crate::policy::Policy;
use crate::wit;
use crate::wit::core as convert;
use crate::world::{RepoDef, RepoKind, Status, UserDef, Visibility, World};

/// `wit/known-answers.json`.
const KNOWN_ANSWERS: &str = include_str!("../../wit/known-answers.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownAnswers {
    #[serde(rename = "about")]
    _about: String,
    now: i64,
    lifetime: i64,
    token: KnownToken,
    users: Vec<String>,
    /// Path → private.
    repositories: std::collections::BTreeMap<String, bool>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownToken {
    owner: String,
    name: String,
    scopes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    what: String,
    credential: Presented,
    repository: String,
    action: Action,
    allow: bool,
    reason: String,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Presented {
    Anonymous,
    Token,
    DamagedToken,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Action {
    Pull,
    Push,
}

impl KnownAnswers {
    /// The world of the known answers as a fixture world (the host's own fact source): its
    /// users active and public, its repositories hosted, no roles, and no token yet.
    fn world(&self) -> World {
        let users = self
            .users
            .iter()
            .map(|name| UserDef {
                name: name.clone(),
                status: Status::Active,
                site_admin: false,
                visibility: Visibility::Public,
                organization: false,
                members: Default::default(),
                ip_allow: Vec::new(),
            })
            .collect();
        let repositories = self
            .repositories
            .iter()
            .map(|(path, &private)| {
                let (owner, name) = path.split_once('/').unwrap_or((path, ""));
                RepoDef {
                    owner: owner.into(),
                    name: name.into(),
                    private,
                    kind: RepoKind::Hosted,
                    archived: false,
                    collaborators: Default::default(),
                    protected_refs: vec![],
                    registrant: None,
                }
            })
            .collect();
        World {
            now: Some(self.now),
            users,
            repositories,
            ..World::default()
        }
    }
}

/// `secret` with one payload character changed (its checksum then fails).
fn damaged(secret: &str) -> String {
    secret
        .char_indices()
        .map(|(i, c)| match (i, c) {
            (20, 'A') => 'B',
            (20, _) => 'A',
            _ => c,
        })
        .collect()
}

/// Mint the known token (a lifetime `options` allow: the data's when they do) and check
/// every known answer; the first wrong one is the error.
pub fn check(p: &mut dyn Policy, options: &wit::Options) -> Result<(), String> {
    check_with(p, options, KNOWN_ANSWERS)
}

/// [`check`] with the known answers of `text` (the JSON of `wit/known-answers.json`).
fn check_with(p: &mut dyn Policy, options: &wit::Options, text: &str) -> Result<(), String> {
    let data: KnownAnswers =
        serde_json::from_str(text).map_err(|e| format!("wit/known-answers.json: {e}"))?;
    let now = data.now;
    let lifetime = data
        .lifetime
        .max(options.min_lifetime)
        .min(options.max_lifetime);
    let owner = &data.token.owner;
    let mut world = data.world();
    let owner_facts = world
        .user(owner)
        .ok_or_else(|| format!("wit/known-answers.json: the token's owner `{owner}` is no user"))?;
    let issued = p
        .issue(&wit::IssueRequest {
            owner: owner.clone(),
            name: data.token.name.clone(),
            scopes: data.token.scopes.clone(),
            repositories: vec![],
            owners: vec![],
            expires: Some(now.saturating_add(lifetime)),
            now,
            creator: wit::Actor::Session(wit::Account {
                name: owner.clone(),
                facts: convert::user_out(owner_facts),
            }),
            existing_names: vec![],
            bound_facts: vec![],
            ip: None,
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("mint refused: {}", e.describe()))?;
    world.add_token(&convert::record_in(issued.record.clone()));
    for case in &data.cases {
        let credential = match case.credential {
            Presented::Anonymous => wit::Credential::Anonymous,
            Presented::Token => wit::Credential::Bearer(issued.secret.clone()),
            Presented::DamagedToken => wit::Credential::Bearer(damaged(&issued.secret)),
        };
        let action = match case.action {
            Action::Pull => wit::GitAction::Pull,
            Action::Push => wit::GitAction::Push,
        };
        let request = wit::AuthorizeRequest {
            credential,
            also_presented: None,
            client_address: None,
            request: wit::Request::Git(wit::GitRequest {
                transport: wit::Transport::Http,
                repository: case.repository.clone(),
                action,
                refs: None,
            }),
            now,
            explain: false,
        };
        let (d, _) = p.authorize(&request, &world).map_err(|e| e.to_string())?;
        if d.allow() != case.allow || d.verdict.code() != case.reason {
            return Err(format!(
                "{}: got {} {}",
                case.what,
                if d.allow() { "allow" } else { "deny" },
                d.verdict.code()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// The data parses, and its cases cover both outcomes and every credential kind.
    #[test]
    fn the_known_answers_file_is_whole() {
        let data: KnownAnswers = serde_json::from_str(KNOWN_ANSWERS).unwrap();
        assert!(data.cases.iter().any(|c| c.allow));
        assert!(data.cases.iter().any(|c| !c.allow));
        for kind in [
            Presented::Anonymous,
            Presented::Token,
            Presented::DamagedToken,
        ] {
            assert!(
                data.cases
                    .iter()
                    .any(|c| std::mem::discriminant(&c.credential) == std::mem::discriminant(&kind))
            );
        }
    }

    /// The check compares: the real policy passes the file as written, and fails — naming
    /// the case — when one expected answer is changed (what a wrongly deciding module
    /// looks like from here).
    #[test]
    fn a_wrong_answer_is_caught_and_named() {
        use crate::policy::{EMBEDDED_POLICY, EMBEDDED_POLICY_NAME, Limits, PolicyModule};
        if EMBEDDED_POLICY.is_empty() {
            panic!("no embedded policy module: build with the wasm32-wasip2 target");
        }
        let module = PolicyModule::load(
            std::path::Path::new(EMBEDDED_POLICY_NAME),
            Limits::default(),
        )
        .unwrap();
        let config = crate::cli::policy::inspect_config();
        let mut p = module.authorizer(config.clone()).unwrap().unwrap();
        check(&mut p, &config.options).unwrap();
        let tampered =
            KNOWN_ANSWERS.replacen("\"reason\": \"granted\"", "\"reason\": \"public-read\"", 1);
        assert_ne!(tampered, KNOWN_ANSWERS);
        let e = check_with(&mut p, &config.options, &tampered).unwrap_err();
        assert!(e.contains("token pull: got allow granted"), "{e}");
    }
}

//! Invariants of the policy core as property tests (proptest), native only, against
//! `forge_authz_guest::policy` alone. Each property runs `PROPTEST_CASES` cases (default
//! 10,000) over small generated worlds (`support`): users (site administrators, inactive
//! and suspended ones), organisations with member roles, a missing account; public and
//! private repositories (hosted, mirror, import, archived) with collaborators, protected
//! refs (case variants, odd glob syntax) and registrants; token records minted for real
//! with `Authorizer::issue` and fixed entropy (a fifth of them stored as records from
//! before contract 0.4 are: SHA-256 of the secret, not its HMAC tag); credentials of
//! every kind; requests of every kind, from several client addresses, with IP allow lists
//! on accounts and tokens (issue 23). The policy asks its facts of `support::WorldFacts`,
//! which answers as a correct host answers (`fixture/src/facts.rs`), records what was
//! asked and counts the calls; a property that decides "with other facts" edits the
//! recorded answer and replays it (`support::Replay`).
//!
//! This file is also what `cargo mutants` runs against the policy core: it must stay fast.
// Property tests: a broken generator or a failed property stops the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

mod support;

use forge_authz_guest::policy::scope::{Category, ScopeSet};
use forge_authz_guest::policy::{
    AccountStatus, Actor, AuthorizeRequest, Authorizer, CreationStep, Credential, Decision, Engine,
    GitAction, GitRequest, KeyKind, NamespaceFacts, ProtectedRef, Reason, RefAccess, RefChange,
    RefPermissions, RefUpdate, RepositoryFacts, Request, Role, SecretDigest, Timestamp, TokenFacts,
    TokenRecord, UserFacts, Visibility,
};
use proptest::prelude::*;
use proptest::sample::select;
use support::*;

// ---------------------------------------------------------------------------------------
// Oracles, written from the README and the doc comments, independently of the policy's
// own helpers.

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn owner_of(path: &str) -> &str {
    path.split_once('/').map_or(path, |(o, _)| o)
}

/// Bound to repositories or owners.
fn bound(r: &TokenRecord) -> bool {
    !r.repositories.is_empty() || !r.owners.is_empty()
}

/// Restricted: bound, public-only or a child (README "Principals and roles").
fn restricted(r: &TokenRecord) -> bool {
    bound(r) || r.scopes.iter().any(|s| s == "public-only") || r.parent.is_some()
}

/// The same, for a record as a decision sees it (scopes comma-joined, the binding and the
/// child flag as the host derived them).
fn restricted_facts(t: &TokenFacts) -> bool {
    t.binding.is_some() || t.scopes.split(',').any(|s| s.trim() == "public-only") || t.child
}

/// A repository inside a token's binding: listed, or its owner is.
fn covers_repository(r: &TokenRecord, path: &str) -> bool {
    !bound(r)
        || r.repositories.iter().any(|x| same(x, path))
        || r.owners.iter().any(|o| same(o, owner_of(path)))
}

/// A namespace inside a token's binding: only an owner binding reaches a namespace.
fn covers_namespace(r: &TokenRecord, name: &str) -> bool {
    !bound(r) || r.owners.iter().any(|o| same(o, name))
}

/// Protection pattern syntax the policy supports (README "World fixture").
fn supported_pattern(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 255
        && p.bytes()
            .all(|b| b > b' ' && b < 0x7f && !b"?[]{}\\!^~:".contains(&b))
}

fn glob(p: &[u8], n: &[u8]) -> bool {
    match p {
        [] => n.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=n.len()).any(|i| glob(rest, &n[i..])),
        [b'*', rest @ ..] => (0..=n.len())
            .take_while(|&i| i == 0 || n[i - 1] != b'/')
            .any(|i| glob(rest, &n[i..])),
        [c, rest @ ..] => {
            n.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && glob(rest, &n[1..])
        }
    }
}

/// `*` within a segment, `**` across, case-insensitive; a pattern without `refs/` names
/// branches; unsupported syntax matches every ref.
fn pattern_matches(pattern: &str, name: &str) -> bool {
    if !supported_pattern(pattern) {
        return true;
    }
    let full = if pattern.len() >= 5 && same(&pattern[..5], "refs/") {
        pattern.to_string()
    } else {
        format!("refs/heads/{pattern}")
    };
    glob(full.as_bytes(), name.as_bytes())
}

/// The access a ref update needs under the first matching rule, if any rule matches: a
/// deletion or a forced move needs force-push access, a creation or fast-forward push
/// access.
fn needed_access<'a>(rules: &'a [ProtectedRef], update: &RefUpdate) -> Option<&'a RefAccess> {
    let destructive = match update.change {
        RefChange::Delete => true,
        RefChange::Update => update.force,
        RefChange::Create => false,
    };
    rules
        .iter()
        .find(|r| pattern_matches(&r.pattern, &update.name))
        .map(|r| if destructive { &r.force_push } else { &r.push })
}

/// The three permissions of `ref_permissions`, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Permission {
    Create,
    Push,
    ForcePush,
}

const KINDS: [Permission; 3] = [Permission::Create, Permission::Push, Permission::ForcePush];

/// Whether `p` lists `kind`.
fn lists(p: &RefPermissions, kind: Permission) -> bool {
    match kind {
        Permission::Create => p.create,
        Permission::Push => p.push,
        Permission::ForcePush => p.force_push,
    }
}

/// The three probes of `ref_permissions`, as real updates: a creation, a fast-forward, a
/// forced move.
fn probe(name: &str, kind: Permission) -> RefUpdate {
    let (change, force) = match kind {
        Permission::Create => (RefChange::Create, false),
        Permission::Push => (RefChange::Update, false),
        Permission::ForcePush => (RefChange::Update, true),
    };
    RefUpdate {
        name: name.into(),
        change,
        force,
    }
}

/// The fields a client and an operator see.
fn seen(d: &Decision) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        d.allow(),
        d.status(),
        d.reason,
        &d.message,
        &d.detail,
        &d.refs,
        &d.effects,
    )
}

fn same_seen(a: &Answer, b: &Answer) -> bool {
    match (a, b) {
        (Answer::One(x), Answer::One(y)) => seen(x) == seen(y),
        (Answer::Batch(x), Answer::Batch(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| seen(x) == seen(y))
        }
        (Answer::Perms(x), Answer::Perms(y)) => x == y,
        _ => false,
    }
}

/// A case of one `authorize` call, prepared and decided: the call with the facts a correct
/// host answers, its request, and the decision.
fn decide_one(case: &Case) -> (Prepared, AuthorizeRequest, Decision) {
    let prepared = case.prepared();
    let Answer::One(d) = run(case.authz(), &prepared) else {
        unreachable!()
    };
    let Call::One(input) = &prepared.call else {
        unreachable!()
    };
    let input = input.clone();
    (prepared, input, d)
}

/// Whether the credential presents a token (then the token decides, whatever else).
fn presents_token(call: &Call) -> bool {
    matches!(
        call.credential(),
        Credential::Bearer(_) | Credential::Basic { .. }
    ) || call.also_presented().iter().any(|t| !t.is_empty())
}

/// The deploy key acting, if the principal is one.
fn deploy_key(call: &Call) -> Option<&str> {
    match call.credential() {
        Credential::SshKey(k) if k.kind == KeyKind::Deploy && !presents_token(call) => {
            Some(k.repository.as_deref().unwrap_or_default())
        }
        _ => None,
    }
}

/// The account the request acts as, as far as visibility goes: the `sudo` target, else
/// the acting user (login and facts, as the host answered them).
fn acting(p: &Prepared) -> Option<(&str, &UserFacts)> {
    match &p.call {
        Call::One(r) if matches!(&r.request, Request::Api(a) if a.sudo.is_some()) => {
            p.gathered.sudo()
        }
        _ => p.gathered.user(),
    }
}

/// A repository (at `path`, with these facts) the principal certainly cannot see: not
/// readable by anonymous clients (for anonymous principals), private or of a private
/// owner with no role, not owned, not a site administrator's (for users); not its own
/// (for deploy keys).
fn repository_hidden(p: &Prepared, path: &str, repo: &RepositoryFacts) -> bool {
    if let Some(own) = deploy_key(&p.call) {
        return !same(own, path);
    }
    match acting(p) {
        None => repo.private || repo.owner_visibility != Visibility::Public,
        Some((name, u)) => {
            (repo.private || repo.owner_visibility == Visibility::Private)
                && repo.role == Role::None
                && !same(name, owner_of(path))
                && !u.site_admin
        }
    }
}

/// A user or organisation (named `name`) the principal certainly cannot see.
fn namespace_hidden(p: &Prepared, name: &str, ns: &NamespaceFacts) -> bool {
    if deploy_key(&p.call).is_some() {
        return ns.visibility == Visibility::Private;
    }
    match acting(p) {
        None => ns.visibility != Visibility::Public,
        Some((actor, u)) => {
            ns.visibility == Visibility::Private
                && ns.member_role == Role::None
                && !same(actor, name)
                && !u.site_admin
        }
    }
}

/// The credential is a token whose record was found, and that token is restricted.
fn restricted_principal(p: &Prepared) -> bool {
    presents_token(&p.call) && p.gathered.token().is_some_and(restricted_facts)
}

/// The principal's role on a repository (README "Principals and roles"): owners and
/// unrestricted site administrators are admins, others have the role the host answered;
/// a restricted token is capped at write; a deploy key reads or writes its own
/// repository only.
fn role_on(p: &Prepared, path: &str, repo: &RepositoryFacts) -> Role {
    if let Some(own) = deploy_key(&p.call) {
        let own = same(own, path);
        return match p.call.credential() {
            Credential::SshKey(k) if own && k.read_only => Role::Read,
            Credential::SshKey(_) if own => Role::Write,
            _ => Role::None,
        };
    }
    let restricted = restricted_principal(p);
    let Some((name, u)) = acting(p) else {
        return Role::None;
    };
    let base = if same(name, owner_of(path)) || (u.site_admin && !restricted) {
        Role::Admin
    } else {
        repo.role
    };
    if restricted {
        base.min(Role::Write)
    } else {
        base
    }
}

/// The principal's role in a namespace (named `name`): admin in its own user namespace
/// and for an unrestricted site administrator, its membership role in an organisation,
/// none in another user's; a restricted token is capped at write.
fn role_in(p: &Prepared, name: &str, ns: &NamespaceFacts) -> Role {
    let restricted = restricted_principal(p);
    let Some((actor, u)) = acting(p).filter(|_| deploy_key(&p.call).is_none()) else {
        return Role::None;
    };
    let base = if (!ns.organization && same(actor, name)) || (u.site_admin && !restricted) {
        Role::Admin
    } else if ns.organization {
        ns.member_role
    } else {
        Role::None
    };
    if restricted {
        base.min(Role::Write)
    } else {
        base
    }
}

/// Whether a principal with `role` (acting as the user named `user`) has a protected
/// ref's access.
fn has_access(access: &RefAccess, role: Role, user: Option<&str>) -> bool {
    match access {
        RefAccess::Writers => role >= Role::Write,
        RefAccess::Admins => role >= Role::Admin,
        RefAccess::Users(list) => {
            role >= Role::Write && user.is_some_and(|u| list.iter().any(|x| same(x, u)))
        }
        RefAccess::Nobody => false,
    }
}

/// What a restricted principal must never be granted: the admin powers. `None`: no admin
/// power granted.
fn admin_power(prepared: &Prepared, answer: &Answer) -> Option<String> {
    let refs_check = |d: &Decision, updates: &[RefUpdate], facts: Option<&RepositoryFacts>| {
        let rules = facts.map_or(&[][..], |f| &f.protected_refs[..]);
        d.refs
            .iter()
            .flatten()
            .zip(updates)
            .filter(|(v, _)| v.allow())
            .find(|(_, u)| needed_access(rules, u) == Some(&RefAccess::Admins))
            .map(|(_, u)| format!("ref update {u:?} that needs the admin role"))
    };
    match (&prepared.call, answer) {
        (Call::One(i), Answer::One(d)) if d.allow() => match &i.request {
            Request::Api(a) => {
                if a.admin_only {
                    Some("an /admin route".into())
                } else if let Some(op) = a.operation {
                    Some(format!("the privileged operation {op:?}"))
                } else if let Some(s) = &a.sudo {
                    Some(format!("sudo as {s}"))
                } else if a.required_role == Role::Admin
                    && (a.repository.is_some() || a.namespace.is_some())
                {
                    Some("a route needing the admin role on its target".into())
                } else {
                    None
                }
            }
            Request::Create(c) if c.step == CreationStep::PushToCreate => {
                Some("push-to-create".into())
            }
            Request::Create(_) => None,
            Request::Git(g) if g.action == GitAction::Push => {
                refs_check(d, &g.refs, prepared.gathered.repository())
            }
            Request::Git(_) => None,
        },
        (Call::Batch(b), Answer::Batch(ds)) if b.action == GitAction::Push => prepared
            .gathered
            .batch_targets(&b.repositories)
            .iter()
            .zip(ds)
            .filter(|(_, d)| d.allow())
            .find_map(|((_, facts), d)| refs_check(d, &[], facts.as_ref())),
        (Call::Perms(r), Answer::Perms(ps)) => {
            let rules = prepared
                .gathered
                .repository()
                .map_or(&[][..], |f| &f.protected_refs[..]);
            r.refs.iter().zip(&ps.refs).find_map(|(n, p)| {
                KINDS
                    .iter()
                    .filter(|k| lists(p, **k))
                    .find(|k| needed_access(rules, &probe(n, **k)) == Some(&RefAccess::Admins))
                    .map(|k| format!("{k:?} on {n}, which needs the admin role"))
            })
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Strategies specific to some properties.

/// A token bound to repositories, owners or both, mostly live, mostly with the scopes a
/// bound token may hold.
fn bound_token() -> impl Strategy<Value = TokenSpec> {
    (
        prop_oneof![4 => live_token(), 1 => token()],
        proptest::collection::vec(path(), 0..3),
        proptest::collection::vec(name(), 0..2),
        any::<bool>(),
        proptest::collection::vec(select(REPOSITORY_SCOPES.to_vec()), 1..3),
        proptest::bool::weighted(0.7),
    )
        .prop_map(
            |(mut t, repositories, owners, repos_first, scopes, bound_scopes)| {
                t.repositories = repositories;
                t.owners = owners;
                if t.repositories.is_empty() && t.owners.is_empty() {
                    if repos_first {
                        t.repositories = vec![PathSpec::Repo {
                            index: 0,
                            upper: false,
                        }];
                    } else {
                        t.owners = vec![NameSpec::Account {
                            index: 0,
                            upper: false,
                        }];
                    }
                }
                if bound_scopes {
                    t.scopes = scopes;
                }
                t
            },
        )
}

/// A restricted token: bound, public-only or a child (at least one), mostly live, often
/// holding `user:token` and admin scopes it must not be able to use.
fn restricted_token() -> impl Strategy<Value = TokenSpec> {
    (
        prop_oneof![4 => live_token(), 1 => token()],
        0..4usize,
        bound_token(),
        proptest::collection::vec(
            prop_oneof![
                Just("user:token"),
                Just("all"),
                Just("write:admin"),
                Just("write:repository")
            ],
            0..3,
        ),
    )
        .prop_map(|(mut t, how, b, extra)| {
            match how {
                0 => {
                    t.repositories = b.repositories;
                    t.owners = b.owners;
                    t.scopes = b.scopes;
                }
                1 => t.scopes.push("public-only"),
                2 => t.child = true,
                _ => {
                    t.child = true;
                    t.scopes.push("public-only");
                }
            }
            t.scopes.extend(extra);
            t
        })
}

/// What a restricted token asks to mint with `Actor::Token`.
#[derive(Clone, Debug)]
struct MintSpec {
    /// Keep these of the creator's scopes (by position), add these; `user:token` only
    /// with `keep_user_token`.
    keep: Vec<bool>,
    keep_user_token: bool,
    extra: Vec<&'static str>,
    /// Keep the creator's binding (else: none, or another).
    binding: u8,
    other_repositories: Vec<PathSpec>,
    other_owners: Vec<NameSpec>,
    /// Lifetime from now; `None`: never expires.
    lifetime: Option<i64>,
    entropy: u8,
}

prop_compose! {
    fn mint_spec()(
        keep in proptest::collection::vec(proptest::bool::weighted(0.8), 8),
        keep_user_token in any::<bool>(),
        extra in proptest::collection::vec(scope(), 0..2),
        binding in 0..4u8,
        other_repositories in proptest::collection::vec(path(), 0..2),
        other_owners in proptest::collection::vec(name(), 0..2),
        lifetime in proptest::option::weighted(0.9, 300i64..400_000),
        entropy in any::<u8>(),
    ) -> MintSpec {
        MintSpec {
            keep, keep_user_token, extra, binding, other_repositories, other_owners, lifetime,
            entropy,
        }
    }
}

/// Credentials that are refused, whatever is asked.
#[derive(Clone, Debug)]
enum Bad {
    /// Signed with another secret under the listed key id.
    Forged,
    /// Signed with a key id nobody lists.
    RetiredKey,
    /// One character changed (the checksum then fails, or the format).
    Altered { at: usize, to: u8 },
    /// One character of the payload or tag changed, the checksum recomputed (the
    /// signature then fails).
    AlteredResummed { at: usize, to: u8 },
    /// `expires <= now`.
    Expired(i64),
    /// Revoked (`rotated`: rotated away, with a successor).
    Revoked { rotated: bool },
    /// Genuine format and signature, no stored record.
    NoRecord,
    /// A stored record whose digest is not this secret's: a tag of zeros (the corpus's
    /// "corrupt hash"), SHA-256 of another secret, this secret's SHA-256 stored as a tag,
    /// or this token's tag stored as a SHA-256 (`kind` modulo 4).
    OtherDigest { kind: u8 },
    /// The owner's account is inactive or suspended.
    OwnerInactive(AccountStatus),
    /// The owner is an organisation.
    OwnerOrganization(usize),
    /// The owner is gone.
    OwnerGone,
    /// An SSH user key or a session of an inactive user, an organisation or a missing
    /// account (`key`: SSH key, else session).
    Account {
        key: bool,
        who: u8,
        transport_ssh: bool,
    },
}

fn bad() -> impl Strategy<Value = Bad> {
    let printable = prop_oneof![
        (b'!'..=b'~'),
        Just(b'.'),
        Just(b'_'),
        Just(b'-'),
        Just(b'A'),
    ];
    prop_oneof![
        Just(Bad::Forged),
        Just(Bad::RetiredKey),
        (any::<usize>(), printable.clone()).prop_map(|(at, to)| Bad::Altered { at, to }),
        (any::<usize>(), printable).prop_map(|(at, to)| Bad::AlteredResummed { at, to }),
        (0i64..100_000).prop_map(Bad::Expired),
        any::<bool>().prop_map(|rotated| Bad::Revoked { rotated }),
        Just(Bad::NoRecord),
        (0..4u8).prop_map(|kind| Bad::OtherDigest { kind }),
        prop_oneof![
            Just(AccountStatus::Inactive),
            Just(AccountStatus::Suspended)
        ]
        .prop_map(Bad::OwnerInactive),
        ORGS.prop_map(Bad::OwnerOrganization),
        Just(Bad::OwnerGone),
        (any::<bool>(), 0..4u8, any::<bool>()).prop_map(|(key, who, transport_ssh)| Bad::Account {
            key,
            who,
            transport_ssh
        }),
    ]
}

/// Tokens that fail verification: forged, of a retired key, altered (checksum or
/// format), altered and resummed (signature).
fn unverifiable() -> impl Strategy<Value = Bad> {
    prop_oneof![
        Just(Bad::Forged),
        Just(Bad::RetiredKey),
        (any::<usize>(), b'!'..=b'~').prop_map(|(at, to)| Bad::Altered { at, to }),
        (any::<usize>(), b'!'..=b'~').prop_map(|(at, to)| Bad::AlteredResummed { at, to }),
    ]
}

/// API routes that perform a privileged operation.
fn operation_ask() -> impl Strategy<Value = AskSpec> {
    (api(), select(support::OPERATIONS.to_vec())).prop_map(|(mut a, op)| {
        a.operation = Some(op);
        AskSpec::Api(a)
    })
}

/// API routes that declare no scope category.
fn scopeless_ask() -> impl Strategy<Value = AskSpec> {
    api().prop_map(|mut a| {
        a.categories.clear();
        AskSpec::Api(a)
    })
}

/// API routes with a `sudo` target.
fn sudo_ask() -> impl Strategy<Value = AskSpec> {
    (api(), name()).prop_map(|(mut a, n)| {
        a.sudo = Some(n);
        AskSpec::Api(a)
    })
}

/// Tokens that often could `sudo`: unrestricted, holding `write:admin`.
fn sudo_token() -> impl Strategy<Value = TokenSpec> {
    (mostly_live_token(), any::<bool>()).prop_map(|(mut t, admin)| {
        if admin {
            t.scopes.push("write:admin");
            t.repositories.clear();
            t.owners.clear();
            t.child = false;
            t.scopes.retain(|s| *s != "public-only");
        }
        t
    })
}

/// Pushes with ref updates.
fn push_ask() -> impl Strategy<Value = AskSpec> {
    git_ask_of(Just(GitAction::Push), 1..5)
}

/// Force a request onto HTTP (git, batch, ref permissions, creation; API is HTTP).
fn over_http(ask: AskSpec) -> AskSpec {
    use forge_authz_guest::policy::Transport::Http;
    match ask {
        AskSpec::Git {
            path, action, refs, ..
        } => AskSpec::Git {
            transport: Http,
            path,
            action,
            refs,
        },
        AskSpec::Batch { action, paths, .. } => AskSpec::Batch {
            transport: Http,
            action,
            paths,
        },
        AskSpec::RefPerms { path, names, .. } => AskSpec::RefPerms {
            transport: Http,
            path,
            names,
        },
        AskSpec::Create { path, step, .. } => AskSpec::Create {
            transport: Http,
            path,
            step,
        },
        api @ AskSpec::Api(_) => api,
    }
}

/// Known scopes that grant something (everything but the `public-only` restriction).
fn grantable_scope() -> impl Strategy<Value = &'static str> {
    select(
        VOCABULARY
            .iter()
            .copied()
            .filter(|s| *s != "public-only")
            .collect::<Vec<_>>(),
    )
}

/// The same prepared call with each thing the principal certainly cannot see answered as
/// missing instead: each hidden batch target, the hidden repository, the hidden namespace.
fn hidden_as_missing(prepared: &Prepared) -> Vec<(String, Prepared)> {
    let mut variants: Vec<(String, Prepared)> = Vec::new();
    if let Some(batch) = &prepared.gathered.batch {
        for (n, (path, facts)) in batch.paths.iter().zip(&batch.answers).enumerate() {
            if facts
                .as_ref()
                .is_some_and(|f| repository_hidden(prepared, path, f))
            {
                let mut missing = prepared.clone();
                missing.gathered.batch.as_mut().unwrap().answers[n] = None;
                variants.push((format!("batch target {path}"), missing));
            }
        }
    } else if let Some(q) = prepared.gathered.query() {
        if let (Some(path), Some(f)) = (&q.repository, prepared.gathered.repository())
            && repository_hidden(prepared, path, f)
        {
            let mut p = prepared.clone();
            p.gathered.answer_mut().unwrap().repository = None;
            variants.push(("repository".into(), p));
        }
        if let (Some(name), Some(n)) = (&q.namespace, prepared.gathered.namespace())
            && namespace_hidden(prepared, name, n)
        {
            let mut p = prepared.clone();
            p.gathered.answer_mut().unwrap().namespace = None;
            variants.push(("namespace".into(), p));
        }
    }
    variants
}

/// The same request by anonymous, restricted to the given targets (API routes: the
/// other target removed). `None`: the ask has no such form.
fn anonymous_on(case: &Case, keep_repository: bool, keep_namespace: bool) -> Answer {
    let mut c = case.with_credential(Credential::Anonymous, vec![]);
    if let Ask::One(Request::Api(a)) = &mut c.ask {
        if !keep_repository {
            a.repository = None;
        }
        if !keep_namespace {
            a.namespace = None;
        }
    }
    c.answer()
}

// ---------------------------------------------------------------------------------------
// The properties.

proptest! {
    #![proptest_config(proptest_config())]

    /// 1. A credential never allows more than its principal's session would: whatever a
    /// token or an SSH user key is granted (decisions, ref updates, batch targets, ref
    /// permissions), a session of the same user asking the same request is granted too.
    #[test]
    fn credential_never_exceeds_its_users_session(
        s in scenario_of(
            mostly_live_token(),
            prop_oneof![3 => token_credential(), 1 => key_credential()],
            any_ask(),
        )
    ) {
        let case = s.build();
        let granted = case.answer().grants();
        let user = match &case.credential {
            Credential::SshKey(k) if k.kind == KeyKind::User => Some(k.owner.clone()),
            Credential::SshKey(_) => None,
            _ => Some(case.record.owner.clone()),
        };
        if let (Some(user), false) = (user, granted.is_empty()) {
            let session = case
                .with_credential(Credential::Session(user), vec![])
                .answer()
                .grants();
            prop_assert!(
                granted.is_subset(&session),
                "granted {:?} to the credential, only {:?} to the session; input {:?}",
                granted,
                session,
                case.prepared()
            );
        }
    }

    /// 2. A bound token never allows outside its binding, on any target: a repository
    /// (git, batch, ref permissions, creation, API) outside the listed repositories and
    /// owners, a namespace (API) outside the listed owners — a token bound to
    /// repositories reaches no namespace. With `binding_fallback_to_anonymous`, a target
    /// outside the binding gets at most what an anonymous client gets there.
    #[test]
    fn bound_token_never_allows_outside_its_binding(
        s in scenario_with_fallback(bound_token(), token_credential(), any_ask(), 0.5)
    ) {
        let case = s.build();
        let answer = case.answer();
        let r = &case.record;
        prop_assert!(bound(r));
        let fallback = case.fallback;
        match (&case.ask, &answer) {
            (Ask::One(Request::Git(g)), Answer::One(d))
                if d.allow() && !covers_repository(r, &g.repository) =>
            {
                prop_assert!(
                    fallback && anonymous_on(&case, true, true).grants().is_superset(&answer.grants()),
                    "git {} allowed outside the binding {:?}/{:?}: {:?}",
                    g.repository, r.repositories, r.owners, d
                );
            }
            (Ask::One(Request::Create(c)), Answer::One(d)) => {
                prop_assert!(
                    !d.allow() || covers_repository(r, &c.repository),
                    "creation of {} allowed outside the binding: {:?}", c.repository, d
                );
            }
            (Ask::One(Request::Api(a)), Answer::One(d)) if d.allow() => {
                let repo_out = a.repository.as_deref().is_some_and(|p| !covers_repository(r, p));
                let ns_out = a.namespace.as_deref().is_some_and(|n| !covers_namespace(r, n));
                if repo_out || ns_out {
                    prop_assert!(
                        fallback && anonymous_on(&case, repo_out, ns_out).grants().contains(&(0, 0, 0)),
                        "API {:?} allowed outside the binding {:?}/{:?}: {:?}",
                        a, r.repositories, r.owners, d
                    );
                }
            }
            (Ask::Batch { repositories: paths, .. }, Answer::Batch(ds)) => {
                let anonymous = anonymous_on(&case, true, true).grants();
                for (t, (p, d)) in paths.iter().zip(ds).enumerate() {
                    if d.allow() && !covers_repository(r, p) {
                        let mine: Vec<_> = answer.grants().into_iter().filter(|g| g.0 == t).collect();
                        prop_assert!(
                            fallback && mine.iter().all(|g| anonymous.contains(g)),
                            "batch target {} allowed outside the binding: {:?}", p, d
                        );
                    }
                }
            }
            (Ask::Perms { repository, .. }, Answer::Perms(_)) => {
                prop_assert!(
                    covers_repository(r, repository) || answer.grants().is_empty(),
                    "ref permissions on {} outside the binding: {:?}", repository, answer
                );
            }
            _ => {}
        }
    }

    /// 3. A restricted token (bound, public-only) or a child token never gets admin
    /// powers — `/admin` routes, privileged operations, `sudo`, push-to-create, a route
    /// needing the admin role on its target, a ref update or ref permission that only
    /// admins have — neither directly nor through a token it mints (`issue` with
    /// `Actor::Token`), which is itself restricted (and a child of a child creator).
    #[test]
    fn restricted_token_never_gets_admin_powers(
        s in scenario_of(restricted_token(), token_credential(), any_ask()),
        m in mint_spec(),
    ) {
        let case = s.build();
        prop_assert!(restricted(&case.record), "generator: {:?}", case.record);
        let prepared = case.prepared();
        let answer = run(case.authz(), &prepared);
        if let Some(power) = admin_power(&prepared, &answer) {
            prop_assert!(false, "restricted token granted {}: {:?} for {:?}", power, answer, prepared);
        }
        // Mint through the restricted token.
        let creator = case.record.clone();
        let scopes: Vec<String> = creator
            .scopes
            .iter()
            .zip(m.keep.iter().chain(std::iter::repeat(&true)))
            .filter(|(s, k)| **k && (m.keep_user_token || *s != "user:token"))
            .map(|(s, _)| s.clone())
            .chain(m.extra.iter().map(|s| s.to_string()))
            .collect();
        let (repositories, owners) = match m.binding {
            0 | 1 => (creator.repositories.clone(), creator.owners.clone()),
            2 => (vec![], vec![]),
            _ => (
                m.other_repositories.iter().map(|p| p.resolve(&case.world)).collect(),
                m.other_owners.iter().map(NameSpec::resolve).collect(),
            ),
        };
        let request = issue_request(
            &case.world,
            &creator.owner,
            scopes,
            repositories,
            owners,
            Actor::Token(creator.clone()),
            m.lifetime.map(|l| NOW + l),
        );
        if let Ok(minted) = AUTHZ.issue(&request, Some(&entropy(m.entropy))) {
            prop_assert!(
                restricted(&minted.record),
                "restricted creator {:?} minted an unrestricted token {:?}", creator, minted.record
            );
            if creator.parent.is_some() {
                prop_assert_eq!(minted.record.parent.as_deref(), Some(creator.id.as_str()));
            }
            let mut world = case.world.clone();
            world.add_token(&minted.record);
            let c = Case {
                world,
                credential: Credential::Bearer(minted.secret.clone()),
                also: vec![],
                ..case.clone()
            };
            let prepared = c.prepared();
            let answer = run(c.authz(), &prepared);
            if let Some(power) = admin_power(&prepared, &answer) {
                prop_assert!(
                    false,
                    "a token minted by a restricted token was granted {}: {:?} for {:?}",
                    power, answer, prepared
                );
            }
        }
    }

    /// 5. `ref_permissions` lists, for each ref, exactly the updates `authorize` allows on
    /// a push of that one update — create, push (fast-forward), force-push (a forced
    /// move) — one set per ref, in the order asked (contract 0.4: the sets carry no
    /// name); so a set is empty exactly when all three are refused.
    #[test]
    fn ref_permissions_agree_with_push_decisions(
        s in scenario_of(mostly_live_token(), any_credential(), perms_ask())
    ) {
        let case = s.build();
        let Call::Perms(r) = case.call() else { unreachable!() };
        let perms = case.authz().ref_permissions(&r, &mut WorldFacts::new(&case.world)).refs;
        prop_assert_eq!(perms.len(), r.refs.len());
        for (name, p) in r.refs.iter().zip(&perms) {
            for k in KINDS {
                let push = AuthorizeRequest {
                    credential: r.credential.clone(),
                    also_presented: r.also_presented.clone(),
                    client_address: r.client_address.clone(),
                    request: Request::Git(GitRequest {
                        transport: r.transport,
                        repository: r.repository.clone(),
                        action: GitAction::Push,
                        refs: vec![probe(name, k)],
                    }),
                    now: r.now,
                    explain: false,
                };
                let d = case.authz().authorize(&push, &mut WorldFacts::new(&case.world));
                let allowed = d.allow()
                    && d.refs.as_ref().and_then(|v| v.first()).is_some_and(|v| v.allow());
                prop_assert_eq!(
                    lists(p, k), allowed,
                    "{:?} on ref {} of {:?}: {:?}", k, name, r, d
                );
            }
        }
    }

    /// 6. A private thing the principal cannot see answers exactly as a missing one (same
    /// allow, status, reason, message, detail, ref verdicts, effects), for every request
    /// kind: git, batch targets, ref permissions, creation (the repository and the owner
    /// namespace), API repository and namespace targets. Checked by deciding with the
    /// hidden thing's facts and with none (the host's answer replayed, that one fact
    /// answered as missing).
    #[test]
    fn hidden_answers_as_missing(s in scenario()) {
        let case = s.build();
        let prepared = case.prepared();
        let answer = run(case.authz(), &prepared);
        for (what, missing) in hidden_as_missing(&prepared) {
            let other = run(case.authz(), &missing);
            prop_assert!(
                same_seen(&answer, &other),
                "hidden {} answered {:?}, missing answered {:?}; input {:?}",
                what, answer, other, prepared
            );
        }
    }

    /// 7. A forged, altered (any one character), expired, revoked or unknown token (no
    /// record, or a record whose digest is another secret's), a token of an inactive,
    /// suspended or missing account or of an organisation, and an SSH user key or session
    /// of such an account never allow anything, whatever the request.
    #[test]
    fn bad_credentials_never_allow(
        s in scenario_of(live_token(), token_credential(), any_ask()),
        bad in bad(),
    ) {
        let case = bad_case(&s, &bad);
        prop_assume!(case.is_some());
        let case = case.unwrap();
        let answer = case.answer();
        prop_assert!(
            answer.grants().is_empty(),
            "{:?} granted {:?}: {:?}", bad, answer.grants(), answer
        );
    }

    /// 8. SSH keys (user and deploy keys) never allow anything outside SSH: git, batch,
    /// ref permissions and creation over HTTP, and every API request.
    #[test]
    fn ssh_keys_never_allow_outside_ssh(
        s in scenario_of(token(), key_credential(), any_ask().prop_map(over_http))
    ) {
        let case = s.build();
        let answer = case.answer();
        prop_assert!(
            answer.grants().is_empty(),
            "SSH key {:?} granted {:?}: {:?}", case.credential, answer.grants(), answer
        );
    }

    /// 9. Adding scopes never turns an allow into a deny: the token re-minted (same
    /// entropy, so the same secret) with a superset of its scopes is granted at least
    /// everything it was. `public-only` is a restriction, not a scope, and is never added.
    #[test]
    fn more_scopes_never_deny_more(
        s in scenario_of(mostly_live_token(), token_credential(), any_ask()),
        extra in proptest::collection::vec(grantable_scope(), 1..4),
    ) {
        let narrow = s.build();
        let mut wider = s.clone();
        wider.token.scopes.extend(extra.iter().copied());
        let wide = wider.build();
        prop_assert_eq!(&narrow.secret, &wide.secret);
        let a = narrow.answer().grants();
        let b = wide.answer().grants();
        prop_assert!(
            a.is_subset(&b),
            "scopes {:?} granted {:?}, with {:?} added only {:?}; input {:?}",
            narrow.record.scopes, a, extra, b, wide.prepared()
        );
    }

    /// 10. `explain` never changes a decision: with the trace on, every answer (decision,
    /// batch, ref permissions) is the one given with it off, once the trace is removed.
    #[test]
    fn explain_never_changes_a_decision(s in scenario()) {
        let mut case = s.build();
        case.explain = false;
        let plain = case.answer();
        case.explain = true;
        let explained = case.answer().without_trace();
        prop_assert_eq!(plain, explained);
    }

    /// 11. A batch decides each target exactly as one `authorize` of that single git
    /// request would (a push without ref updates, as a batch decides it), the host
    /// answering its facts the same way.
    #[test]
    fn batch_equals_one_decide_per_target(
        s in scenario_of(mostly_live_token(), any_credential(), batch_ask())
    ) {
        let case = s.build();
        let Answer::Batch(ds) = case.answer() else { unreachable!() };
        let Ask::Batch { repositories: paths, .. } = &case.ask else { unreachable!() };
        prop_assert_eq!(ds.len(), paths.len());
        for (p, d) in paths.iter().zip(ds) {
            let single = case.one_of_batch(p).unwrap();
            let Answer::One(one) = single.answer() else { unreachable!() };
            prop_assert_eq!(
                Answer::One(d).without_trace(),
                Answer::One(one).without_trace(),
                "target {}", p
            );
        }
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    /// 12. A privileged operation needs a target and the admin role on every target:
    /// without a repository or namespace target the request is `request-invalid`; when
    /// allowed, the acting account (the `sudo` target under sudo) is admin on each target
    /// it names.
    #[test]
    fn privileged_operations_need_admin_on_every_target(
        s in scenario_of(mostly_live_token(), any_credential(), operation_ask())
    ) {
        let (prepared, input, d) = decide_one(&s.build());
        let Request::Api(a) = &input.request else { unreachable!() };
        if a.repository.is_none() && a.namespace.is_none() {
            prop_assert_eq!(d.reason, Reason::RequestInvalid, "{:?}", input);
        }
        if d.allow() {
            if let Some(path) = &a.repository {
                let r = prepared.gathered.repository();
                prop_assert!(
                    r.is_some_and(|r| role_on(&prepared, path, r) == Role::Admin),
                    "operation allowed without the admin role on the repository: {:?}", prepared
                );
            }
            if let Some(name) = &a.namespace {
                let n = prepared.gathered.namespace();
                prop_assert!(
                    n.is_some_and(|n| role_in(&prepared, name, n) == Role::Admin),
                    "operation allowed without the admin role on the namespace: {:?}", prepared
                );
            }
        }
    }

    /// 13. A token is never allowed on an API route that declares no scope category (only
    /// the forge's own sessions may use such a route).
    #[test]
    fn scopeless_routes_refuse_tokens(
        s in scenario_of(mostly_live_token(), token_credential(), scopeless_ask())
    ) {
        let case = s.build();
        let answer = case.answer();
        prop_assert!(answer.grants().is_empty(), "{:?} for {:?}", answer, case.prepared());
    }

    /// 14. `sudo` is allowed only to an unrestricted site administrator (through a session,
    /// or a token that also holds `write:admin`), only as an existing, active user that is
    /// not an organisation, and then grants nothing that user's own session would not get
    /// for the same request without `sudo`.
    #[test]
    fn sudo_acts_only_as_the_target_would(
        s in scenario_of(
            sudo_token(),
            prop_oneof![2 => token_credential(), 1 => (0..N_USERS).prop_map(CredSpec::Session)],
            sudo_ask(),
        )
    ) {
        let case = s.build();
        let prepared = case.prepared();
        let answer = run(case.authz(), &prepared);
        let gathered = &prepared.gathered;
        if !answer.grants().is_empty() {
            prop_assert!(
                gathered.user().is_some_and(|(_, u)| u.site_admin),
                "not a site admin: {:?}", prepared
            );
            if presents_token(&prepared.call) {
                let r = gathered.token().unwrap();
                prop_assert!(!restricted_facts(r), "restricted token: {:?}", prepared);
                let scopes = ScopeSet::parse_joined(&r.scopes).unwrap();
                prop_assert!(
                    scopes.can_write(Category::Admin),
                    "token without write:admin: {:?}", prepared
                );
            }
            let target = gathered.sudo();
            prop_assert!(
                target.is_some_and(|(_, t)| t.status == AccountStatus::Active && !t.organization),
                "sudo as {:?}: {:?}", target, prepared
            );
            let (target, _) = target.unwrap();
            let mut own = case.with_credential(Credential::Session(target.to_string()), vec![]);
            if let Ask::One(Request::Api(a)) = &mut own.ask {
                a.sudo = None;
            }
            let own = own.answer();
            prop_assert!(
                answer.grants().is_subset(&own.grants()),
                "sudo granted {:?}, the target's own session {:?}; input {:?}", answer, own, prepared
            );
        }
    }

    /// 15. An allowed ref update has the access its protection asks for: the first rule
    /// whose pattern matches the ref (ASCII case-insensitive; `*` within a segment, `**`
    /// across; a pattern without `refs/` names a branch; unsupported syntax matches every
    /// ref) — push access to create or fast-forward, force-push access to force-push or
    /// delete (writers, admins, listed users with write access, nobody).
    #[test]
    fn ref_updates_respect_the_first_matching_rule(
        s in scenario_of(mostly_live_token(), any_credential(), push_ask())
    ) {
        let (prepared, input, d) = decide_one(&s.build());
        let Request::Git(g) = &input.request else { unreachable!() };
        if d.allow() {
            let repo = prepared.gathered.repository().unwrap();
            let role = role_on(&prepared, &g.repository, repo);
            let user = prepared.gathered.user().map(|(name, _)| name);
            for (v, u) in d.refs.iter().flatten().zip(&g.refs).filter(|(v, _)| v.allow()) {
                if let Some(access) = needed_access(&repo.protected_refs, u) {
                    prop_assert!(
                        has_access(access, role, user),
                        "{:?} allowed with role {:?} under {:?}: {:?}; input {:?}", u, role, access, v, prepared
                    );
                }
            }
        }
    }

    /// 16. Repository creation: confirm and abort are allowed only to the repository's
    /// registrant, through a credential that is not a token (the registrant is asked for
    /// on those steps only); push-to-create answers a caller who could not create the
    /// repository were it missing exactly as when it exists (namespace and the right to
    /// create come before existence).
    #[test]
    fn creation_steps_respect_registrant_and_order(
        s in scenario_of(mostly_live_token(), any_credential(), create_ask())
    ) {
        let case = s.build();
        let (prepared, input, d) = decide_one(&case);
        let Request::Create(c) = &input.request else { unreachable!() };
        if let Some(q) = prepared.gathered.query() {
            prop_assert_eq!(
                q.registrant,
                matches!(c.step, CreationStep::Confirm | CreationStep::Abort),
                "{:?}", q
            );
        }
        match c.step {
            CreationStep::Confirm | CreationStep::Abort => {
                if d.allow() {
                    prop_assert!(!presents_token(&prepared.call), "token confirmed/aborted: {:?}", prepared);
                    let registrant = prepared.gathered.repository().and_then(|r| r.registrant.as_deref());
                    prop_assert!(
                        prepared.gathered.user().zip(registrant).is_some_and(|((u, _), r)| same(u, r)),
                        "not the registrant: {:?}", prepared
                    );
                }
            }
            CreationStep::PushToCreate => {
                if prepared.gathered.repository().is_some() {
                    let mut missing = prepared.clone();
                    missing.gathered.answer_mut().unwrap().repository = None;
                    let m = run(case.authz(), &missing);
                    if m.grants().is_empty() {
                        let answer = Answer::One(d.clone());
                        prop_assert!(
                            same_seen(&answer, &m),
                            "existing: {:?}, missing: {:?}; input {:?}", answer, m, prepared
                        );
                    }
                }
            }
        }
    }

    /// 17. Accounts that cannot act cannot mint: `issue` by a session of an organisation,
    /// or of an inactive or suspended user, is refused whatever it asks.
    #[test]
    fn organisations_and_inactive_accounts_cannot_mint(
        (organization, status) in prop_oneof![
            status().prop_map(|s| (true, s)),
            Just((false, AccountStatus::Inactive)),
            Just((false, AccountStatus::Suspended)),
        ],
        site_admin in any::<bool>(),
        scopes in scopes(),
        lifetime in 300i64..1_000_000,
        entropy_seed in any::<u8>(),
    ) {
        let name = if organization { "acme" } else { "erin" };
        let creator = session_creator(
            name,
            UserFacts {
                status,
                site_admin,
                visibility: Visibility::Public,
                organization,
            },
        );
        let world = world_of(vec![], vec![]);
        let request = issue_request(
            &world,
            name,
            scopes.iter().map(|s| s.to_string()).collect(),
            vec![],
            vec![],
            creator,
            Some(NOW + lifetime),
        );
        let issued = AUTHZ.issue(&request, Some(&entropy(entropy_seed)));
        prop_assert!(issued.is_err(), "minted {:?}", issued.map(|t| t.record));
    }
}

/// A bad credential made real: the scenario's token (or another credential) spoiled as
/// `bad` says. `None`: the spoiled secret is the genuine one (a replacement that changed
/// nothing).
fn bad_case(s: &Scenario, bad: &Bad) -> Option<Case> {
    let mut s = s.clone();
    match bad {
        Bad::OwnerOrganization(i) => s.token.owner = *i,
        Bad::OwnerGone => s.token.owner = GHOST,
        Bad::Expired(ago) => s.token.expiry = Expiry::Ago(*ago),
        _ => {}
    }
    let mut case = s.build();
    if let Bad::OwnerInactive(status) = bad {
        let owner = s.token.owner;
        if let Some(a) = case.world.account_mut(owner) {
            a.status = *status;
        }
    }
    let genuine = case.secret.clone();
    let replacement: Option<String> = match bad {
        Bad::Forged | Bad::RetiredKey => {
            let signer: &Authorizer = if matches!(bad, Bad::Forged) {
                &FORGER
            } else {
                &RETIRED
            };
            let r = issue_request(
                &case.world,
                &case.record.owner,
                vec!["read:repository".into()],
                vec![],
                vec![],
                session_creator(
                    &case.record.owner,
                    UserFacts {
                        status: AccountStatus::Active,
                        site_admin: true,
                        visibility: Visibility::Public,
                        organization: false,
                    },
                ),
                Some(NOW + 3_600),
            );
            Some(
                signer
                    .issue(&r, Some(&entropy(s.token.entropy)))
                    .unwrap()
                    .secret,
            )
        }
        Bad::Altered { at, to } => Some(altered(&genuine, *at, *to)),
        Bad::AlteredResummed { at, to } => Some(altered_resummed(&genuine, *at, *to)),
        _ => None,
    };
    match bad {
        Bad::Revoked { rotated } => {
            let mut r = case.record.clone();
            r.revoked = Some(NOW - 1);
            if *rotated {
                r.successor = Some("successor0000000".into());
            }
            case.world.add_token(&r);
        }
        Bad::NoRecord => case.world.tokens.clear(),
        Bad::OtherDigest { kind } => {
            let mut r = case.record.clone();
            r.secret = other_digest(&genuine, *kind);
            case.world.add_token(&r);
        }
        _ => {}
    }
    if let Some(secret) = replacement {
        if secret == genuine {
            return None;
        }
        let (credential, also) = credential(&s.cred, &secret, &case.record.owner, &case.world);
        case.credential = credential;
        case.also = also;
    }
    if let Bad::Account {
        key,
        who,
        transport_ssh,
    } = *bad
    {
        let i = match who {
            0 => GHOST,
            1 => ORGS.start,
            _ => {
                let i = usize::from(who) % N_USERS;
                if let Some(a) = case.world.account_mut(i) {
                    a.status = if who == 2 {
                        AccountStatus::Inactive
                    } else {
                        AccountStatus::Suspended
                    };
                }
                i
            }
        };
        let cred = if key {
            CredSpec::UserKey(i)
        } else {
            CredSpec::Session(i)
        };
        let (credential, also) = credential(&cred, "", "", &case.world);
        case.credential = credential;
        case.also = also;
        if transport_ssh {
            case.ask = over_ssh(case.ask.clone());
        }
    }
    Some(case)
}

/// `secret` with one character changed (the checksum then fails, or the format).
fn altered(secret: &str, at: usize, to: u8) -> String {
    let mut b = secret.as_bytes().to_vec();
    let i = at % b.len();
    b[i] = if b[i] == to {
        if to == b'A' { b'B' } else { b'A' }
    } else {
        to
    };
    String::from_utf8(b).unwrap()
}

/// `secret` with one character of its payload or tag changed and the checksum recomputed
/// (the signature then fails).
fn altered_resummed(secret: &str, at: usize, to: u8) -> String {
    let mut b = secret.as_bytes().to_vec();
    let start = secret.find('.').unwrap() + 1;
    let end = secret.rfind('.').unwrap();
    let i = start + at % (end - start);
    b[i] = if b[i] == to {
        if to == b'A' { b'B' } else { b'A' }
    } else {
        to
    };
    let body = String::from_utf8(b[..end].to_vec()).unwrap();
    let crc = forge_authz_guest::policy::token::crc32(body.as_bytes());
    format!("{body}.{crc:08x}")
}

/// A digest that does not bind a record to `secret` (see [`Bad::OtherDigest`]).
fn other_digest(secret: &str, kind: u8) -> SecretDigest {
    let sha = |s: &str| forge_authz_guest::policy::token::secret_hash(s);
    match kind % 4 {
        0 => SecretDigest::HmacTag([0; 32]),
        1 => SecretDigest::Sha256(sha("another secret")),
        2 => SecretDigest::HmacTag(sha(secret)),
        _ => SecretDigest::Sha256(tag_of(secret)),
    }
}

/// The HMAC tag a token carries (its third field, base64url without padding), decoded
/// here without the policy's parser.
fn tag_of(secret: &str) -> [u8; 32] {
    let field = secret.split('.').nth(2).unwrap();
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {c}"),
        }
    };
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::with_capacity(32);
    for c in field.bytes() {
        bits = (bits << 6) | value(c);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out.try_into().unwrap()
}

/// The token strings a call presents, as the README says the policy picks them: a
/// Bearer token; Basic's password, or its username when the password is empty or
/// `x-oauth-basic`; every non-empty token elsewhere in the request.
fn presented_tokens(call: &Call) -> Vec<&str> {
    let mut out: Vec<&str> = match call.credential() {
        Credential::Bearer(t) => vec![t.as_str()],
        Credential::Basic { username, password } => {
            if password.is_empty() || password == "x-oauth-basic" {
                vec![username.as_str()]
            } else {
                vec![password.as_str()]
            }
        }
        _ => vec![],
    };
    out.extend(
        call.also_presented()
            .iter()
            .filter(|t| !t.is_empty())
            .map(String::as_str),
    );
    out
}

/// What changes between two presentations of the same secret to the same engine.
#[derive(Clone, Debug)]
enum Change {
    /// Nothing: the second call must hit the cache and answer the same.
    Nothing,
    /// Revoked (`rotated`: rotated away, with a successor).
    Revoke { rotated: bool },
    /// Expires `ago` seconds ago (0: exactly now).
    Expire(i64),
    /// Other stored scopes.
    Scopes(Vec<&'static str>),
    /// Another binding (possibly none).
    Rebind(Vec<PathSpec>, Vec<NameSpec>),
    /// Made a child, or no longer one.
    Child(bool),
    /// The record's digest replaced by one that does not bind it to the secret.
    Digest(u8),
    /// The record stored as before contract 0.4 (SHA-256 of the secret): still valid.
    Legacy,
    /// The record deleted.
    Remove,
    /// The owner's account state changed.
    Owner(AccountStatus),
    /// Last used now (so no touch is due), or never.
    LastUsed(Option<Timestamp>),
    /// Another secret presented instead: altered and resummed (its signature fails), or
    /// altered (its checksum or format fails).
    Present { at: usize, to: u8, resum: bool },
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        2 => Just(Change::Nothing),
        2 => any::<bool>().prop_map(|rotated| Change::Revoke { rotated }),
        2 => (0i64..100_000).prop_map(Change::Expire),
        2 => scopes().prop_map(Change::Scopes),
        1 => (
            proptest::collection::vec(path(), 0..2),
            proptest::collection::vec(name(), 0..2),
        )
            .prop_map(|(r, o)| Change::Rebind(r, o)),
        1 => any::<bool>().prop_map(Change::Child),
        2 => (0..4u8).prop_map(Change::Digest),
        1 => Just(Change::Legacy),
        1 => Just(Change::Remove),
        1 => prop_oneof![
            Just(AccountStatus::Active),
            Just(AccountStatus::Inactive),
            Just(AccountStatus::Suspended),
        ]
        .prop_map(Change::Owner),
        1 => proptest::option::of(Just(NOW)).prop_map(Change::LastUsed),
        2 => (any::<usize>(), b'!'..=b'~', any::<bool>())
            .prop_map(|(at, to, resum)| Change::Present { at, to, resum }),
    ]
}

/// The case after `change`.
fn changed(case: &Case, s: &Scenario, change: &Change) -> Case {
    let mut c = case.clone();
    let mut r = case.record.clone();
    match change {
        Change::Nothing => {}
        Change::Revoke { rotated } => {
            r.revoked = Some(NOW - 1);
            if *rotated {
                r.successor = Some("successor0000000".into());
            }
        }
        Change::Expire(ago) => r.expires = Some(NOW - ago),
        Change::Scopes(scopes) => r.scopes = scopes.iter().map(|s| s.to_string()).collect(),
        Change::Rebind(repositories, owners) => {
            r.repositories = repositories
                .iter()
                .map(|p| p.resolve(&case.world))
                .collect();
            r.owners = owners.iter().map(NameSpec::resolve).collect();
        }
        Change::Child(child) => r.parent = child.then(|| "parent0000000000".to_string()),
        Change::Digest(kind) => r.secret = other_digest(&case.secret, *kind),
        Change::Legacy => {
            r.secret =
                SecretDigest::Sha256(forge_authz_guest::policy::token::secret_hash(&case.secret));
        }
        Change::Remove => {}
        Change::Owner(status) => {
            if let Some(a) = c.world.account_mut(s.token.owner % NAMES.len()) {
                a.status = *status;
            }
        }
        Change::LastUsed(at) => r.last_used = *at,
        Change::Present { at, to, resum } => {
            let secret = if *resum {
                altered_resummed(&case.secret, *at, *to)
            } else {
                altered(&case.secret, *at, *to)
            };
            let (credential, also) = credential(&s.cred, &secret, &case.record.owner, &case.world);
            c.credential = credential;
            c.also = also;
        }
    }
    if matches!(change, Change::Remove) {
        c.world.tokens.retain(|t| t.id != r.id);
    } else {
        c.world.add_token(&r);
    }
    c.record = r;
    c
}

thread_local! {
    /// Engines shared by every case of a run (default options, and with
    /// `binding_fallback_to_anonymous`): their caches hold many tokens, evicted and
    /// replaced, as a long-lived component's do.
    static WARM: std::cell::RefCell<[Engine; 2]> = std::cell::RefCell::new([
        Engine::new(&config(false)).unwrap(),
        Engine::new(&config(true)).unwrap(),
    ]);
}

proptest! {
    #![proptest_config(proptest_config())]

    /// 18. The token cache changes no decision: an `Engine` (an authorizer that remembers
    /// the tokens it verified) answers every call — decisions with their traces and
    /// effects, batches, ref permissions, `verify` — exactly as a fresh `Authorizer`, and
    /// asks the host exactly the same queries, whether its cache is cold, holds this very
    /// secret, or holds many others; and it does so again after the stored record is
    /// revoked, rotated away, expired, rescoped, rebound, made a child or not, given a
    /// digest that no longer matches (or a legacy one that still does), deleted, its
    /// owner's account changed, or another (altered) secret presented, between two calls
    /// with the same secret: the cache never outlives a revocation, an expiry or a change
    /// to the record.
    #[test]
    fn cached_engine_decides_as_a_fresh_authorizer(
        s in scenario(),
        change in change(),
    ) {
        let before = s.build();
        let after = changed(&before, &s, &change);
        let mut cold = Engine::new(&config(before.fallback)).unwrap();
        for (when, case) in [("before", &before), ("again", &before), ("after", &after), ("after, again", &after)] {
            let call = case.call();
            let mut fresh_facts = WorldFacts::new(&case.world);
            let fresh = call.run(case.authz(), &mut fresh_facts);
            let mut cold_facts = WorldFacts::new(&case.world);
            let cached = call.run_engine(&mut cold, &mut cold_facts);
            prop_assert_eq!(
                &cached, &fresh,
                "{}: the engine answered {:?}, a fresh authorizer {:?}; {:?} for {:?}",
                when, cached, fresh, change, case.prepared()
            );
            prop_assert_eq!(&cold_facts.queries, &fresh_facts.queries, "{}: queries", when);
            prop_assert_eq!(
                cold.verify(&case.credential),
                case.authz().verify(&case.credential),
                "{}: verify", when
            );
            let warm = WARM.with(|w| {
                let mut w = w.borrow_mut();
                let engine = &mut w[usize::from(case.fallback)];
                let mut facts = WorldFacts::new(&case.world);
                let answer = call.run_engine(engine, &mut facts);
                (answer, facts.queries, engine.verify(&case.credential))
            });
            prop_assert_eq!(&warm.0, &fresh, "{}: a warm engine, {:?}", when, change);
            prop_assert_eq!(&warm.1, &fresh_facts.queries, "{}: warm queries", when);
            prop_assert_eq!(warm.2, case.authz().verify(&case.credential), "{}: warm verify", when);
        }
    }

    /// 19. The policy asks the host nothing about a credential whose token fails
    /// verification (format, checksum, key id, signature: forged, retired, altered,
    /// garbage), and otherwise asks at most once per call: at most one `lookup` per
    /// `authorize`, `authorize_batch` and `ref_permissions` (a batch at most one
    /// `repositories` more, after it), and the token it asks about is a presented token
    /// that verifies. The same through an `Engine`.
    #[test]
    fn facts_are_asked_once_and_never_for_an_unverified_token(
        s in scenario(),
        bad in prop_oneof![
            2 => Just(None),
            1 => bad().prop_map(Some),
            1 => unverifiable().prop_map(Some),
        ],
    ) {
        let case = match &bad {
            Some(bad) => bad_case(&s, bad),
            None => Some(s.build()),
        };
        prop_assume!(case.is_some());
        let case = case.unwrap();
        let call = case.call();
        let tokens = presented_tokens(&call);
        let verified: Vec<_> = tokens
            .iter()
            .map(|t| case.authz().verify(&Credential::Bearer(t.to_string())))
            .collect();
        let fails = verified.iter().any(Result::is_err);
        let mut engine = Engine::new(&config(case.fallback)).unwrap();
        for engine in [None, Some(&mut engine)] {
            let mut facts = WorldFacts::new(&case.world);
            let answer = match engine {
                None => call.run(case.authz(), &mut facts),
                Some(e) => call.run_engine(e, &mut facts),
            };
            if fails {
                prop_assert!(
                    facts.lookups == 0 && facts.batches == 0,
                    "asked {:?} (and {} batch) for a token that fails verification ({:?}): {:?}",
                    facts.queries, facts.batches, verified, answer
                );
                prop_assert!(answer.grants().is_empty(), "{:?}", answer);
            }
            prop_assert!(facts.lookups <= 1, "{} lookups: {:?}", facts.lookups, facts.queries);
            prop_assert!(facts.batches <= facts.lookups, "{} batches, {} lookups", facts.batches, facts.lookups);
            if let Some(id) = facts.queries.first().and_then(|q| q.token.as_deref()) {
                prop_assert!(
                    verified.iter().any(|v| matches!(v, Ok(Some(t)) if t.token_id == id)),
                    "asked for token {} of none of the verified {:?}", id, verified
                );
            }
        }
    }
}

/// Force a request onto SSH (for credentials that exist only there).
fn over_ssh(ask: Ask) -> Ask {
    use forge_authz_guest::policy::Transport::Ssh;
    match ask {
        Ask::One(Request::Git(g)) => Ask::One(Request::Git(GitRequest {
            transport: Ssh,
            ..g
        })),
        Ask::One(Request::Create(c)) => Ask::One(Request::Create(
            forge_authz_guest::policy::CreationRequest {
                transport: Ssh,
                ..c
            },
        )),
        Ask::Batch {
            action,
            repositories,
            ..
        } => Ask::Batch {
            transport: Ssh,
            action,
            repositories,
        },
        Ask::Perms {
            repository, refs, ..
        } => Ask::Perms {
            transport: Ssh,
            repository,
            refs,
        },
        other => other,
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    /// 22 (issue 19). A trace is shown to the requester, so it conceals exactly what the
    /// verdict conceals: with `explain`, every request about something the principal
    /// certainly cannot see (a batch target, the repository, the namespace) answers —
    /// decision, ref verdicts, effects and the whole explanation trace — exactly as the
    /// same request when that thing does not exist.
    #[test]
    fn hidden_is_explained_as_missing(s in scenario()) {
        let mut case = s.build();
        case.explain = true;
        let prepared = case.prepared();
        let answer = run(case.authz(), &prepared);
        for (what, missing) in hidden_as_missing(&prepared) {
            let other = run(case.authz(), &missing);
            prop_assert_eq!(
                &answer, &other,
                "hidden {} explained otherwise than missing; input {:?}", what, prepared
            );
        }
    }

    /// 23 (issue 19). A token that was rotated away, presented again, revokes its whole
    /// rotation family through every request kind (GitLab, reference §5.2): every
    /// decision of a git, creation or API request and of each batch target, and the
    /// answer to `ref-permissions`, asks the host to revoke the family — unless the
    /// request itself is malformed (refused before any credential is looked at).
    #[test]
    fn a_rotated_away_token_revokes_its_family_through_every_request_kind(
        s in scenario_of(live_token(), token_credential(), any_ask()),
    ) {
        let case = changed(&s.build(), &s, &Change::Revoke { rotated: true });
        let answer = case.answer();
        let asks = |reason: Reason, effects: &forge_authz_guest::policy::Effects| {
            reason == Reason::RequestInvalid || effects.revoke_family
        };
        match &answer {
            Answer::One(d) => prop_assert!(asks(d.reason, &d.effects), "{:?}", d),
            Answer::Batch(ds) => {
                for d in ds {
                    prop_assert!(asks(d.reason, &d.effects), "{:?}", d);
                }
            }
            Answer::Perms(g) => {
                let Call::Perms(r) = case.call() else { unreachable!() };
                prop_assert!(
                    g.effects.revoke_family
                        || !forge_authz_guest::policy::principal::valid_repository_path(&r.repository),
                    "{:?} for {:?}", g, r
                );
            }
        }
    }
}

// Property 4 (the token lifecycle) is in `authority.rs`, with the properties of who may
// act on a token (issue 19), over one driver of lifecycle sequences.

/// The oracle's glob agrees with the documented examples (README, `refs.rs` doc).
#[test]
fn oracle_patterns() {
    for (pattern, name, matches) in [
        ("main", "refs/heads/main", true),
        ("MAIN", "refs/heads/main", true),
        ("main", "refs/heads/main2", false),
        ("release/*", "refs/heads/release/1.0", true),
        ("release/*", "refs/heads/release/1.0/hotfix", false),
        ("refs/tags/**", "refs/tags/v1/rc/2", true),
        // Unsupported syntax protects every ref.
        ("ma?n", "refs/tags/anything", true),
    ] {
        assert_eq!(
            pattern_matches(pattern, name),
            matches,
            "`{pattern}` on {name}"
        );
    }
}

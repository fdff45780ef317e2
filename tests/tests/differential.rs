//! Differential test: the native policy core and the wasm component, both behind the
//! host's `forge_authz_host::policy::Policy` trait, answer every generated call
//! identically — `verify` on the credential; `authorize` decisions (verdict, message,
//! detail, per-ref verdicts, effects, trace) and what the host learned from the facts it
//! served (`Gathered`); `authorize_batch` decisions; `ref_permissions` — and ask the host
//! identical fact queries: the same `facts.lookup` and `facts.repositories` calls, with
//! the same arguments, in the same order.
//!
//! The calls are those of the policy's property tests (`guest/tests/support`,
//! `scenario()`: small worlds, tokens minted for real, every credential and request kind),
//! built as core values and converted to WIT values by the `*_out` functions below; each
//! is checked to come back unchanged through the conversions the component itself uses
//! (`forge_authz_host::wit::core::{authorize_in, batch_request_in,
//! ref_permissions_request_in}`, i.e. `guest/src/convert.rs`). Every `authorize` call that
//! names a repository is also asked as Launchpad ref permissions on two refs. The test
//! world's facts are served to both engines as a host `FactSource` (the component asks it
//! through its `facts` import, the native core through the same trait), which logs every
//! query and answer; each answer is checked against the support module's `World::answer`
//! (the facts the property tests decide on), so the facts' core-to-WIT conversions are
//! checked too.
//!
//! Both engines are also checked against the bare core: an `Authorizer` with no token
//! cache, deciding the same call on the support module's `WorldFacts`, must give the same
//! answers (the engines' WIT answers converted back with the shared `*_in` functions) and
//! ask the same queries.
//!
//! The two native engines and two wasm instances (default options, and
//! `binding_fallback_to_anonymous`) are kept warm in a thread-local across all cases, as a
//! long-lived host keeps them: their verified-token caches (64 slots; the generated
//! secrets come from 256 entropy seeds) fill up, hit, and evict, and each case presents
//! its secret with a different record, expiry or revocation in a different world. A
//! generated flag decides whether `verify` runs before or after the decision calls, so
//! decisions are made both on a cache miss and on a secret `verify` just remembered.
//!
//! A fifth of the cases present a token that was rotated away (issue 19: every request
//! kind then asks for its family's revocation). And the token lifecycle (issue 19): the
//! generated sequences of `guest/tests/authority.rs` — mints, children, rotations, edits,
//! revocations and audits by every kind of actor — are made of both engines call by call,
//! which must give the same refusals and write the same records (minted ids and secrets
//! aside: each engine draws its own entropy).
//!
//! Cases: `PROPTEST_CASES`, default 10,000 (about 8 s in the dev profile on a 2-core
//! machine; 50,000 take about 40 s).
// A test: a broken engine or a difference stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

#[path = "../../guest/tests/support/mod.rs"]
mod support;

use std::cell::RefCell;

use forge_authz_guest::policy;
use forge_authz_host::facts::{Answered, Gathered};
use forge_authz_host::policy::{Policy, PolicyFailure, WasmPolicy};
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;
use forge_authz_tests::native::NativePolicy;
use forge_authz_tests::recording::{Record, Recording};
use forge_authz_tests::{native, wasm};
use proptest::prelude::*;
use support::{
    Answer, Call, Case, Gather as _, Query, World, WorldFacts, proptest_config, scenario,
};

// ---------------------------------------------------------------------------------------
// The calls as WIT values.

/// A policy call as the host makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum WitCall {
    One(wit::AuthorizeRequest),
    Batch(wit::BatchRequest),
    Perms(wit::RefPermissionsRequest),
}

/// `core` as WIT by `out`, checked to convert back by `back` (the component's own
/// conversion) to exactly `core`.
fn round_trip<C, W>(core: &C, out: fn(C) -> W, back: fn(W) -> C, what: &str) -> W
where
    C: Clone + PartialEq + std::fmt::Debug,
    W: Clone,
{
    let w = out(core.clone());
    assert_eq!(
        back(w.clone()),
        *core,
        "core -> WIT -> core changed the {what}"
    );
    w
}

/// The call as WIT, checked to convert back, through the component's own conversions, to
/// exactly the core call.
fn wit_call(call: &Call) -> WitCall {
    match call {
        Call::One(r) => WitCall::One(round_trip(
            r,
            convert::authorize_out,
            convert::authorize_in,
            "authorize request",
        )),
        Call::Batch(r) => WitCall::Batch(round_trip(
            r,
            convert::batch_request_out,
            convert::batch_request_in,
            "batch request",
        )),
        Call::Perms(r) => WitCall::Perms(round_trip(
            r,
            convert::ref_permissions_request_out,
            convert::ref_permissions_request_in,
            "ref-permissions request",
        )),
    }
}

/// The refs every `authorize` call is also asked as ref permissions on.
const PERMISSION_REFS: [&str; 2] = ["refs/heads/main", "refs/tags/v1"];

/// An `authorize` call that names a repository, also as Launchpad ref permissions on
/// [`PERMISSION_REFS`] (git and creation name one; an API route may).
fn as_ref_permissions(call: &Call) -> Option<Call> {
    let Call::One(r) = call else {
        return None;
    };
    let (transport, repository) = match &r.request {
        policy::Request::Git(g) => (g.transport, g.repository.clone()),
        policy::Request::Create(c) => (c.transport, c.repository.clone()),
        policy::Request::Api(a) => (policy::Transport::Http, a.repository.clone()?),
    };
    Some(Call::Perms(policy::RefPermissionsRequest {
        client_address: None,
        credential: r.credential.clone(),
        also_presented: r.also_presented.clone(),
        transport,
        repository,
        refs: PERMISSION_REFS.iter().map(|s| s.to_string()).collect(),
        now: r.now,
    }))
}

// ---------------------------------------------------------------------------------------
// The world's facts (the fixture world is a host `FactSource`), served and logged
// (`forge_authz_tests::recording`): what is kept of each call.

/// One call an engine made to the host's facts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Asked {
    Lookup(Query, Box<policy::FactAnswer>),
    Repositories {
        paths: Vec<String>,
        viewer: Option<String>,
        answers: Vec<Option<policy::RepositoryFacts>>,
    },
}

impl Record for Asked {
    fn lookup(q: &policy::FactQuery<'_>, answered: &Answered) -> Self {
        Asked::Lookup(Query::of(q), Box::new(answered.answer.clone()))
    }

    fn repositories(
        paths: &[String],
        viewer: Option<&str>,
        answers: &[Option<policy::RepositoryFacts>],
    ) -> Self {
        Asked::Repositories {
            paths: paths.to_vec(),
            viewer: viewer.map(str::to_string),
            answers: answers.to_vec(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The engines.

/// What an engine answered a call.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reply {
    One(wit::Decision, Gathered),
    Batch(Vec<wit::Decision>, Gathered),
    Perms(wit::RefGrants, Gathered),
}

impl Reply {
    /// The answer in core values, through the shared `*_in` conversions.
    fn core(&self) -> Answer {
        match self {
            Reply::One(d, _) => Answer::One(convert::decision_in(d.clone())),
            Reply::Batch(ds, _) => {
                Answer::Batch(ds.iter().cloned().map(convert::decision_in).collect())
            }
            Reply::Perms(g, _) => Answer::Perms(convert::ref_grants_in(g.clone())),
        }
    }
}

/// Ask an engine, through the host's `Policy` trait, with the world's facts: its reply and
/// every fact call it made.
fn ask(
    engine: &mut dyn Policy,
    call: &WitCall,
    world: &World,
) -> (Result<Reply, PolicyFailure>, Vec<Asked>) {
    let facts = Recording::<Asked>::new(world);
    let reply = match call {
        WitCall::One(r) => engine.authorize(r, &facts).map(|(d, g)| Reply::One(d, g)),
        WitCall::Batch(r) => engine
            .authorize_batch(r, &facts)
            .map(|(ds, g)| Reply::Batch(ds, g)),
        WitCall::Perms(r) => engine
            .ref_permissions(r, &facts)
            .map(|(g, gathered)| Reply::Perms(g, gathered)),
    };
    (reply, facts.into_log())
}

/// One native engine and one wasm instance for a policy configuration.
struct Engines {
    native: NativePolicy,
    wasm: WasmPolicy,
}

impl Engines {
    fn new(fallback: bool) -> Engines {
        let core = support::config(fallback);
        let config = convert::config_out(core.clone());
        assert_eq!(
            convert::config_in(config.clone()),
            core,
            "config round trip"
        );
        Engines {
            native: native(&config).unwrap(),
            wasm: wasm(&config).unwrap(),
        }
    }
}

thread_local! {
    /// The engines of every case of a run (default options, and with
    /// `binding_fallback_to_anonymous`), kept warm: their token caches hold what earlier
    /// cases verified, as a long-lived host's do.
    static ENGINES: RefCell<[Engines; 2]> =
        RefCell::new([Engines::new(false), Engines::new(true)]);
}

/// `verify` on the credential: native, wasm and the bare core agree.
fn check_verify(e: &mut Engines, case: &Case) -> Result<(), TestCaseError> {
    let credential = convert::credential_out(case.credential.clone());
    let n = e.native.verify(&credential).unwrap();
    let w = e.wasm.verify(&credential).unwrap();
    prop_assert_eq!(&n, &w, "verify");
    let core = case
        .authz()
        .verify(&case.credential)
        .map(|v| {
            v.map(|v| wit::VerifiedToken {
                token_id: v.token_id,
                key_id: v.key_id,
            })
        })
        .map_err(convert::token_error_out);
    prop_assert_eq!(&n, &core, "verify: the engines and the bare core");
    Ok(())
}

/// One call: the native engine and the wasm component give the same reply and ask the host
/// the same facts, in the same order; both agree with the bare core, and every fact
/// answered is what the support module's world answers.
fn check_call(e: &mut Engines, case: &Case, call: &Call) -> Result<(), TestCaseError> {
    let input = wit_call(call);
    let (native, native_asked) = ask(&mut e.native, &input, &case.world);
    let (wasm, wasm_asked) = ask(&mut e.wasm, &input, &case.world);
    prop_assert_eq!(&native, &wasm, "native and wasm replies to {:?}", input);
    prop_assert_eq!(
        &native_asked,
        &wasm_asked,
        "native and wasm fact calls for {:?}",
        input
    );
    let native = native.unwrap_or_else(|f| panic!("policy failure on {input:?}: {f}"));

    // The bare core: an authorizer without a cache, on the support module's facts.
    let mut facts = WorldFacts::new(&case.world);
    let core = call.run(case.authz(), &mut facts);
    prop_assert_eq!(
        native.core(),
        core,
        "the engines and the bare core on {:?}",
        input
    );
    let lookups: Vec<Query> = native_asked
        .iter()
        .filter_map(|a| match a {
            Asked::Lookup(q, _) => Some(q.clone()),
            Asked::Repositories { .. } => None,
        })
        .collect();
    prop_assert_eq!(&lookups, &facts.queries, "lookups, engines and bare core");
    let batches: Vec<(&[String], Option<&str>)> = native_asked
        .iter()
        .filter_map(|a| match a {
            Asked::Repositories { paths, viewer, .. } => {
                Some((paths.as_slice(), viewer.as_deref()))
            }
            Asked::Lookup(..) => None,
        })
        .collect();
    prop_assert_eq!(batches.len(), facts.batches, "repositories calls");
    let first = facts
        .gathered
        .batch
        .as_ref()
        .map(|b| (b.paths.as_slice(), b.viewer.as_deref()));
    prop_assert_eq!(batches.first().copied(), first, "repositories asked");

    // Every answer served is the world's, as the property tests see it.
    for asked in &native_asked {
        match asked {
            Asked::Lookup(q, answer) => prop_assert_eq!(
                (**answer).clone(),
                case.world.gather(&q.borrowed()),
                "answer to {:?}",
                q
            ),
            Asked::Repositories {
                paths,
                viewer,
                answers,
            } => prop_assert_eq!(
                answers.clone(),
                case.world.gather_batch(paths, viewer.as_deref()),
                "repositories {:?} as {:?}",
                paths,
                viewer
            ),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(proptest_config())]

    /// The native core and the wasm component, kept warm across cases, give identical
    /// answers — `verify`; decisions with their per-ref verdicts, traces, effects and
    /// gathered facts; batch decisions; ref permissions — and ask the host identical fact
    /// queries, in order, for every generated call; and both agree with the bare core.
    #[test]
    fn native_and_wasm_agree(
        s in scenario(),
        verify_first in any::<bool>(),
        rotated in proptest::bool::weighted(0.2),
    ) {
        let mut case = s.build();
        if rotated {
            // The token rotated away (issue 19: every request kind presenting it asks
            // for its family's revocation): the engines must agree on that too.
            let mut r = case.record.clone();
            r.revoked = Some(support::NOW - 1);
            r.successor = Some("successor0000000".into());
            case.world.add_token(&r);
            case.record = r;
        }
        let call = case.call();
        ENGINES.with(|engines| -> Result<(), TestCaseError> {
            let mut engines = engines.borrow_mut();
            let e = &mut engines[usize::from(case.fallback)];
            if verify_first {
                check_verify(e, &case)?;
            }
            check_call(e, &case, &call)?;
            if let Some(perms) = as_ref_permissions(&call) {
                check_call(e, &case, &perms)?;
            }
            if !verify_first {
                check_verify(e, &case)?;
            }
            Ok(())
        })?;
    }
}

// ---------------------------------------------------------------------------------------
// The token lifecycle (issue 19): the same generated sequences as the authority properties
// (`guest/tests/authority.rs`), every call made of both engines.

use forge_authz_guest::policy::token::ENTROPY_BYTES;
use support::lifecycle::{Lifecycle, drive_on, op, options, seeds, who};

/// Both engines behind the host's `Policy` trait, answering every lifecycle call; a
/// difference (minted ids and secrets aside: each engine draws its own entropy) is kept.
struct Pair {
    native: NativePolicy,
    wasm: WasmPolicy,
    differences: Vec<String>,
}

/// Debug text of an answer with the id it minted (if any) named `<new>`: secrets and
/// digests never show in `Debug`, ids are the only thing fresh entropy changes.
fn shown<T: std::fmt::Debug>(answer: &T, minted: Option<&str>) -> String {
    let text = format!("{answer:?}");
    match minted {
        Some(id) if !id.is_empty() => text.replace(id, "<new>"),
        _ => text,
    }
}

impl Pair {
    fn compare<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        native: &T,
        wasm: &T,
        minted: impl Fn(&T) -> Option<String>,
    ) {
        let (n, w) = (
            shown(native, minted(native).as_deref()),
            shown(wasm, minted(wasm).as_deref()),
        );
        if n != w {
            self.differences
                .push(format!("{what}: native {n}\n  wasm {w}"));
        }
    }
}

fn ran<T>(r: Result<T, PolicyFailure>) -> T {
    r.unwrap_or_else(|f| panic!("a lifecycle call failed to run: {f}"))
}

impl Pair {
    /// `call` made of both engines, each answer brought back into the core's types by
    /// `back` and the two compared (`minted`: the id a call minted); the native answer.
    fn both<W, T: std::fmt::Debug>(
        &mut self,
        what: &str,
        call: impl Fn(&mut dyn Policy) -> Result<W, PolicyFailure>,
        back: impl Fn(W) -> T,
        minted: impl Fn(&T) -> Option<String>,
    ) -> T {
        let one = |p: &mut dyn Policy| back(ran(call(p)));
        let (n, x) = (one(&mut self.native), one(&mut self.wasm));
        self.compare(what, &n, &x, minted);
        n
    }

    /// A change planned by both engines (`call`, given the stored records and the
    /// change's context as the WIT carries them); the native plan.
    fn plan(
        &mut self,
        what: &str,
        records: &[policy::TokenRecord],
        ctx: &policy::ChangeContext,
        call: impl Fn(
            &mut dyn Policy,
            &[wit::TokenRecord],
            &wit::ChangeContext,
        ) -> Result<Result<wit::ChangePlan, wit::LifecycleError>, PolicyFailure>,
    ) -> Result<policy::ChangePlan, policy::LifecycleError> {
        let rs: Vec<_> = records.iter().cloned().map(convert::record_out).collect();
        let c = convert::context_out(ctx.clone());
        self.both(
            what,
            |p| call(p, &rs, &c),
            |a| a.map(convert::plan_in).map_err(convert::lifecycle_error_in),
            |_| None,
        )
    }
}

/// The minting calls of [`Lifecycle`] on a [`Pair`]: the request to the WIT, the call
/// made of both engines (each draws its own entropy), the answers back into the core's
/// types and compared but for the id minted (`$minted`).
macro_rules! minting {
    ($($call:ident($request:ty) -> Result<$ok:ty, $err:ty>:
        $what:literal, $out:path, $ok_in:path, $err_in:path, $minted:expr;)*) => {$(
        fn $call(&mut self, r: &$request, _: &[u8; ENTROPY_BYTES]) -> Result<$ok, $err> {
            let w = $out(r.clone());
            self.both($what, |p| p.$call(&w), |a| a.map($ok_in).map_err($err_in), $minted)
        }
    )*};
}

impl Lifecycle for Pair {
    minting! {
        issue(policy::IssueRequest) -> Result<policy::IssuedToken, policy::IssueError>:
            "issue", convert::issue_request_out, convert::issued_in, convert::issue_error_in,
            |a| a.as_ref().ok().map(|t| t.record.id.clone());
        derive_child(policy::ChildRequest) -> Result<policy::ChildOutcome, policy::LifecycleError>:
            "derive-child", convert::child_request_out, convert::child_outcome_in,
            convert::lifecycle_error_in,
            |a| match a {
                Ok(policy::ChildOutcome::Minted(t)) => Some(t.record.id.clone()),
                _ => None,
            };
        rotate(policy::RotateRequest) -> Result<policy::Rotation, policy::LifecycleError>:
            "rotate", convert::rotate_request_out, convert::rotation_in,
            convert::lifecycle_error_in,
            |a| a.as_ref().ok().map(|r| r.new.record.id.clone());
    }

    fn plan_edit(
        &mut self,
        id: &str,
        edit: &policy::TokenEdit,
        records: &[policy::TokenRecord],
        ctx: &policy::ChangeContext,
    ) -> Result<policy::ChangePlan, policy::LifecycleError> {
        let e = convert::edit_out(edit.clone());
        self.plan("plan-edit", records, ctx, |p, rs, c| {
            p.plan_edit(id, &e, rs, c)
        })
    }

    fn plan_revoke(
        &mut self,
        id: &str,
        scope: policy::RevokeScope,
        records: &[policy::TokenRecord],
        ctx: &policy::ChangeContext,
    ) -> Result<policy::ChangePlan, policy::LifecycleError> {
        let s = convert::revoke_scope_out(scope);
        self.plan("plan-revoke", records, ctx, |p, rs, c| {
            p.plan_revoke(id, s, rs, c)
        })
    }

    fn audit(
        &mut self,
        entries: &[policy::AuditEntry],
        ctx: &policy::ChangeContext,
    ) -> Vec<policy::AuditFinding> {
        let (es, c) = (
            entries
                .iter()
                .cloned()
                .map(convert::audit_entry_out)
                .collect::<Vec<_>>(),
            convert::context_out(ctx.clone()),
        );
        self.both(
            "audit",
            |p| p.audit(&es, &c),
            |a| a.into_iter().map(convert::finding_in).collect::<Vec<_>>(),
            |_| None,
        )
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    /// (issue 19) Every lifecycle call of a generated sequence — mints, children,
    /// rotations, edits, revocations and audits by every kind of actor (the owner's and
    /// others' sessions, an administrator's, tokens, a maintenance job) — gets the same
    /// answer from the native core and from the wasm component, refusals and written
    /// records alike (only the minted ids and secrets differ: each engine draws its own
    /// entropy), with each engine's configuration drawn per sequence.
    #[test]
    fn lifecycle_agrees_natively_and_through_wasm(
        options in options(),
        seeds in seeds(),
        ops in proptest::collection::vec((who(), op()), 1..10),
    ) {
        let c = policy::Config { options, ..support::config(false) };
        let wc = convert::config_out(c.clone());
        let mut pair = Pair {
            native: native(&wc).unwrap(),
            wasm: wasm(&wc).unwrap(),
            differences: Vec::new(),
        };
        drive_on(&mut pair, &seeds, &ops, |_, _| Ok(())).unwrap();
        prop_assert!(pair.differences.is_empty(), "{}", pair.differences.join("\n"));
    }
}

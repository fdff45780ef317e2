//! The decision flow of a server, with no HTTP in it: a pool of warm policy instances,
//! each with its own read-only store connection; decisions on the store's facts; shadow
//! comparison; effects applied through a short write connection; counters; the answers to
//! the push hook's questions.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::audit::{self, Asked};
use super::hook;
use super::metrics::Counters;
use crate::facts::Gathered;
use crate::lifecycle;
use crate::live::{LivePolicy, Worker};
use crate::log;
use crate::request::{CredentialDef, Decided, RefUpdateDef, RequestDef, authorize_gathered};
use crate::store::facts::StoreFacts;
use crate::store::modules::ModuleRef;
use crate::store::sql::Conn;
use crate::store::{Location, Store};

/// What this host runs from the fleet, for `status`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FleetView {
    /// This host's id in `policy_hosts`.
    pub host: String,
    /// The fleet's live version this host runs (None: its local module).
    pub live: Option<ModuleRef>,
    /// The fleet's shadow version this host runs.
    pub shadow: Option<ModuleRef>,
    /// The last version this host refused, and why.
    pub refused: Option<String>,
    /// The publication log position applied.
    pub seq: i64,
    /// The configuration version this host runs (keys, signing key, options).
    pub config_version: i64,
    /// The last configuration version this host refused, and why (it keeps running
    /// `config_version`).
    pub config_refused: Option<String>,
    /// The last configuration version tried (applied or refused).
    #[serde(skip)]
    pub(crate) config_tried: i64,
    /// The last poll's error, if the store could not be read.
    pub error: Option<String>,
}

/// A decision and what the host gathered for it.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The policy's decision (or a `policy-failure` deny).
    pub decision: Decided,
    /// The verified acting user and the decided repository.
    pub gathered: Gathered,
}

/// One warm policy instance, its read-only store connection and, once a decision has
/// effects, its write connection.
pub struct WorkerCtx {
    worker: Worker,
    store: Option<Store>,
    writer: Option<Store>,
    /// Whether the read connection waits for locks (its busy timeout; none when it
    /// decides on an async worker thread, [`Place::Worker`]).
    busy_wait: bool,
}

/// Where a decision runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// A thread that may block (a blocking-pool or plain thread).
    Blocking,
    /// An async runtime's worker thread: nothing here may wait for a lock.
    Worker,
}

/// The read connection in `slot`, opened if needed (off the worker: opening reads the
/// schema version and may wait), its busy timeout set for `place` (`busy_wait`: what it is).
fn read_connection<'a>(
    slot: &'a mut Option<Store>,
    busy_wait: &mut bool,
    db: &Location,
    place: Place,
) -> anyhow::Result<&'a mut Store> {
    let store = match slot.take() {
        Some(s) => s,
        None => {
            *busy_wait = true;
            match place {
                Place::Worker => tokio::task::block_in_place(|| Store::open_read_only(db))?,
                Place::Blocking => Store::open_read_only(db)?,
            }
        }
    };
    let store = slot.insert(store);
    let wait = place == Place::Blocking;
    if *busy_wait != wait
        && let Conn::Sqlite(c, ..) = store.conn()
    {
        c.busy_timeout(if wait {
            crate::store::READ_BUSY_TIMEOUT
        } else {
            Duration::ZERO
        })?;
        *busy_wait = wait;
    }
    Ok(store)
}

/// A push in progress: the request that was allowed, for the hook's per-ref questions.
#[derive(Clone, Debug)]
pub struct PushContext {
    /// The allowed request (credential included: it never leaves the process).
    pub request: RequestDef,
    /// How it was asked (its ref updates are logged with its request id).
    pub asked: Asked,
}

/// Server state shared by the HTTP handlers, the hook socket and the admin socket.
pub struct Shared {
    /// The store.
    pub db: Location,
    /// The published policy.
    pub live: Arc<LivePolicy>,
    /// Counters.
    pub counters: Counters,
    /// Pushes in progress, by one-time id.
    pub pushes: Mutex<HashMap<String, PushContext>>,
    /// What this host runs from the fleet's publications.
    pub fleet: Mutex<FleetView>,
    /// The fleet watcher's store connection: one poll at a time (see `fleet::sync`).
    pub(crate) fleet_store: Mutex<Option<Store>>,
    pool: Mutex<Vec<WorkerCtx>>,
    /// Where every decision is recorded (`--decision-log`), if anywhere.
    pub(crate) decision_log: Option<crate::log::decision::DecisionLog>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Shared {
    /// The configuration version (keys, options) this host runs.
    pub fn config_version(&self) -> i64 {
        match self.fleet.lock() {
            Ok(v) => v.config_version,
            Err(p) => p.into_inner().config_version,
        }
    }

    /// State for a server (or a one-shot `git-shell`) over `db`.
    pub fn new(db: Location, live: Arc<LivePolicy>) -> Shared {
        Shared {
            db,
            live,
            counters: Counters::default(),
            pushes: Mutex::new(HashMap::new()),
            fleet: Mutex::new(FleetView::default()),
            fleet_store: Mutex::new(None),
            pool: Mutex::new(Vec::new()),
            decision_log: None,
        }
    }

    /// Record every decision in `log` (`--decision-log`; `None`: nowhere).
    pub fn with_decision_log(mut self, log: Option<crate::log::decision::DecisionLog>) -> Shared {
        self.decision_log = log;
        self
    }

    /// Decide one request with a pooled instance (blocking: call it off the async path).
    pub fn decide(&self, req: &RequestDef) -> Answer {
        self.decide_pooled(req, Place::Blocking)
    }

    /// Decide one request from a task on the async runtime's worker thread, where the
    /// request is: on SQLite the facts are read and the policy decides right here (no
    /// hand-off to another thread: a WAL read does not wait for writers), and only what may
    /// wait runs under `block_in_place` — the effects (a write, up to the writer's 30 s busy
    /// timeout), opening a connection, and a decision whose read failed (the read
    /// connection has no busy timeout here: a read that meets a lock — WAL recovery — is
    /// decided again off the worker, waiting its usual 5 s there). On PostgreSQL (the client
    /// blocks on its own runtime) the whole decision runs under `block_in_place`. Either way
    /// no header deadline or other request waits for a lock (`tests/serve_inline.rs`).
    pub fn decide_here(&self, req: &RequestDef) -> Answer {
        match self.db {
            Location::Sqlite(_) => self.decide_pooled(req, Place::Worker),
            Location::Postgres(_) => tokio::task::block_in_place(|| self.decide(req)),
        }
    }

    fn decide_pooled(&self, req: &RequestDef, place: Place) -> Answer {
        let ctx = lock(&self.pool).pop();
        let mut ctx = ctx.unwrap_or_else(|| WorkerCtx {
            worker: Worker::new(self.live.clone()),
            store: None,
            writer: None,
            busy_wait: true,
        });
        let started = std::time::Instant::now();
        let answer = match self.decide_with(&mut ctx, req, place) {
            Some(answer) => answer,
            // The read met a lock: decide again where waiting blocks no one.
            None => tokio::task::block_in_place(|| {
                self.decide_with(&mut ctx, req, Place::Blocking)
                    .unwrap_or_else(|| Answer::failure("the store is locked"))
            }),
        };
        self.counters.decision_seconds.observe(started.elapsed());
        lock(&self.pool).push(ctx);
        self.count(&answer.decision);
        answer
    }

    /// The decision on `ctx`, or `None` when a read on the worker (`place`) failed: the
    /// caller decides again off the worker, where the read may wait for a lock. A store
    /// error reopens the connection that failed (only that: a policy's refusal or a
    /// request error keeps both).
    fn decide_with(&self, ctx: &mut WorkerCtx, req: &RequestDef, place: Place) -> Option<Answer> {
        let outcome = self
            .read_and_decide(ctx, req, place)
            .and_then(|read| match read {
                Some((answer, now)) => self.effects(ctx, place, answer, now).map(Some),
                None => Ok(None),
            });
        match outcome {
            Ok(answer) => answer,
            Err(e) => Some(Answer::failure(format!("{e:#}"))),
        }
    }

    /// Read the facts and decide (live, then shadow): the decision (its effects not yet
    /// applied) and its time. A store error drops the read connection; on the worker it is
    /// `None` (decided again off the worker, with the usual busy timeout, on a fresh
    /// connection).
    fn read_and_decide(
        &self,
        ctx: &mut WorkerCtx,
        req: &RequestDef,
        place: Place,
    ) -> anyhow::Result<Option<(Answer, i64)>> {
        let store = read_connection(&mut ctx.store, &mut ctx.busy_wait, &self.db, place)?;
        let now = crate::world::system_now();
        let facts = StoreFacts::new(store);
        let (live, gathered) = match ctx.worker.policy() {
            Some(policy) => authorize_gathered(policy, &facts, req, now)?,
            None => (Decided::failure("no policy instance"), Gathered::default()),
        };
        // A fact the store could not read makes the decision a failure (a deny), never a
        // "not found" answer built on missing facts.
        let failed = facts.take_error();
        if failed.is_some() && place == Place::Worker {
            drop(facts);
            ctx.store = None;
            return Ok(None);
        }
        self.shadow(&mut ctx.worker, &facts, req, now, &live);
        if let Some(e) = failed.or_else(|| facts.take_error()) {
            drop(facts);
            ctx.store = None;
            return Err(e.context("reading facts"));
        }
        let answer = Answer {
            decision: live,
            gathered,
        };
        Ok(Some((answer, now)))
    }

    /// Apply a decision's effects (last-used, family revocation): rare writes (the policy
    /// stamps last use at most once per interval) on the context's write connection,
    /// opened when first needed (never a migration), off the worker (`block_in_place`),
    /// still before the answer. A failure drops the write connection.
    fn effects(
        &self,
        ctx: &mut WorkerCtx,
        place: Place,
        answer: Answer,
        now: i64,
    ) -> anyhow::Result<Answer> {
        let live = &answer.decision;
        if !crate::request::any_effect(live.effects) {
            return Ok(answer);
        }
        let write = |ctx: &mut WorkerCtx| -> anyhow::Result<()> {
            let Some(policy) = ctx.worker.policy() else {
                return Ok(());
            };
            if ctx.writer.is_none() {
                ctx.writer = Some(Store::open_existing(&self.db)?);
            }
            let Some(writer) = ctx.writer.as_mut() else {
                anyhow::bail!("no store connection");
            };
            let token = live.token.as_deref();
            lifecycle::apply_effects(policy, writer, live.effects, token, None, now)
        };
        let written = match place {
            Place::Worker => tokio::task::block_in_place(|| write(ctx)),
            Place::Blocking => write(ctx),
        };
        if let Err(e) = written {
            ctx.writer = None;
            return Err(e);
        }
        Ok(answer)
    }

    /// Shadow: the candidate decides the same request on the same facts; only the live
    /// decision is enforced, and the candidate's effects are never applied. A difference
    /// is counted and logged.
    fn shadow(
        &self,
        worker: &mut Worker,
        facts: &StoreFacts<'_>,
        req: &RequestDef,
        now: i64,
        live: &Decided,
    ) {
        let Some(shadow) = worker.shadow() else {
            return;
        };
        let Ok((s, _)) = authorize_gathered(shadow, facts, req, now) else {
            return;
        };
        self.counters
            .shadow_requests
            .fetch_add(1, Ordering::Relaxed);
        if (s.allow(), s.verdict) != (live.allow(), live.verdict) {
            self.counters
                .shadow_differences
                .fetch_add(1, Ordering::Relaxed);
            log::event(
                "shadow-difference",
                &[
                    ("repository", req.repository.as_deref().unwrap_or("-")),
                    ("live", &verdict(live)),
                    ("shadow", &verdict(&s)),
                ],
            );
        }
    }

    fn count(&self, d: &Decided) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        self.counters.decisions.record(d);
        if d.allow() {
            self.counters.allowed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.denied.fetch_add(1, Ordering::Relaxed);
        }
        if d.is_failure() {
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
            log::event(
                "policy-failure",
                &[("cause", d.detail.as_deref().unwrap_or("-"))],
            );
        }
    }

    /// How a request that came `via` (from `peer`, for `path`) is asked, for the decision
    /// log (nothing is made without one: [`audit::asked`]).
    pub fn asked(
        &self,
        via: &'static str,
        peer: Option<std::net::SocketAddr>,
        path: Option<&str>,
    ) -> Asked {
        audit::asked(self.decision_log.is_some(), via, peer, path)
    }

    /// Record one decision in the decision log, if there is one ([`audit::record`]);
    /// `false`: it could not be written, and the caller must refuse what was decided.
    pub fn record(
        &self,
        asked: &Asked,
        request: &RequestDef,
        gathered: &Gathered,
        verdict: audit::Verdict<'_>,
    ) -> bool {
        let Some(out) = &self.decision_log else {
            return true;
        };
        let failures = &self.counters.decision_log_failures;
        audit::record(
            (out, &self.live, failures),
            asked,
            request,
            gathered,
            verdict,
        )
    }

    /// `answer` to `request`, recorded in the decision log; a `policy-failure` deny when
    /// its record could not be written (fail closed).
    pub fn recorded(&self, asked: &Asked, request: &RequestDef, answer: Answer) -> Answer {
        let d = &answer.decision;
        let verdict = audit::Verdict {
            allow: d.allow(),
            status: d.http(),
            reason: d.code(),
            message: &d.message,
            ref_name: None,
        };
        if self.record(asked, request, &answer.gathered, verdict) {
            answer
        } else {
            Answer::failure("the decision log could not be written")
        }
    }

    /// Register an allowed push, asked as `asked`; the id is what its hook presents.
    pub fn begin_push(&self, request: &RequestDef, asked: &Asked) -> String {
        let id = super::random_id();
        lock(&self.pushes).insert(
            id.clone(),
            PushContext {
                request: request.clone(),
                asked: asked.clone(),
            },
        );
        id
    }

    /// Forget a push (its receive-pack has ended).
    pub fn end_push(&self, id: &str) {
        lock(&self.pushes).remove(id);
    }

    /// The hook's last question: may the prepared updates of push `id` be committed? Yes
    /// while the push is registered; once the server has given up on it (its response
    /// was dropped: the client left, a deadline passed, the server is stopping) the answer
    /// is no, and the hook aborts its transaction.
    pub fn may_commit(&self, id: &str) -> hook::Answer {
        if lock(&self.pushes).contains_key(id) {
            hook::Answer {
                allow: true,
                message: String::new(),
            }
        } else {
            log::event("push-abandoned", &[("note", "no ref was changed")]);
            hook::Answer {
                allow: false,
                message: "the server gave up on this push (the client went away or a deadline passed): no ref was changed".into(),
            }
        }
    }

    /// One hook question: may this ref update be applied?
    pub fn hook(&self, q: &hook::Question) -> hook::Answer {
        let refuse = |m: &str| hook::Answer {
            allow: false,
            message: m.into(),
        };
        let Some(ctx) = lock(&self.pushes).get(&q.push).cloned() else {
            return refuse("unknown push");
        };
        let mut request = ctx.request;
        request.refs = vec![RefUpdateDef {
            name: q.ref_name.clone(),
            old: q.old.clone(),
            new: q.new.clone(),
            force: q.force,
        }];
        let Answer {
            decision: d,
            gathered,
        } = self.decide(&request);
        let verdict = d.refs.first();
        let allow = d.allow() && verdict.is_some_and(|v| v.allow());
        let (reason, message, status) = match verdict {
            Some(v) if !allow => (
                v.verdict.code(),
                v.message.clone().unwrap_or_default(),
                v.verdict.status().http(),
            ),
            _ => (d.code(), d.message.clone(), d.http()),
        };
        let logged = audit::Verdict {
            allow,
            status,
            reason,
            message: &message,
            ref_name: Some(&q.ref_name),
        };
        if !self.record(&ctx.asked, &request, &gathered, logged) {
            return refuse("this ref was not changed: its decision could not be recorded");
        }
        log::event(
            "ref",
            &[
                ("ref", &q.ref_name),
                ("status", if allow { "200" } else { "403" }),
                ("reason", reason),
                ("principal", &principal_of(&request.credential, &d)),
            ],
        );
        hook::Answer {
            allow,
            message: format!("{message} ({reason})"),
        }
    }
}

impl Answer {
    /// A `policy-failure` deny (nothing gathered).
    pub(crate) fn failure(cause: impl Into<String>) -> Answer {
        Answer {
            decision: Decided::failure(cause),
            gathered: Gathered::default(),
        }
    }
}

fn verdict(d: &Decided) -> String {
    format!(
        "{} {} ({})",
        if d.allow() { "allow" } else { "deny" },
        d.http(),
        d.code()
    )
}

/// How a log names who acted: the credential's kind, never a secret.
pub fn principal_of(c: &CredentialDef, d: &Decided) -> String {
    if !d.allow() {
        return "-".into();
    }
    match c {
        CredentialDef::Anonymous => "anonymous".into(),
        CredentialDef::SshKey(k) => format!("key:{k}"),
        CredentialDef::Session(u) => u.clone(),
        CredentialDef::Bearer(_) | CredentialDef::Basic { .. } => "token".into(),
    }
}

/// Serve the hook socket: one typed question per line ([`hook::HookRequest`]), one
/// answer per line; each line bounded ([`hook::MAX_LINE`]), a timeout between lines, a
/// thread per connection (connections come only from our own hooks, through a `0700`
/// directory; one connection carries all of a push's questions).
pub fn serve_hook_socket(shared: Arc<Shared>, listener: std::os::unix::net::UnixListener) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    for conn in listener.incoming().flatten() {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let timeout = Some(std::time::Duration::from_secs(30));
            if conn.set_read_timeout(timeout).is_err() || conn.set_write_timeout(timeout).is_err() {
                return;
            }
            let Ok(read_half) = conn.try_clone() else {
                return;
            };
            let mut out = conn;
            let mut reader = BufReader::new(read_half);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.by_ref().take(hook::MAX_LINE).read_line(&mut line) {
                    Ok(n) if n > 0 && line.ends_with('\n') => {}
                    // End, error, or a line longer than the limit: close.
                    _ => break,
                }
                let answer = match serde_json::from_str::<hook::HookRequest>(line.trim()) {
                    Ok(hook::HookRequest::Ref(q)) => shared.hook(&q),
                    Ok(hook::HookRequest::Commit { push }) => shared.may_commit(&push),
                    Err(_) => hook::Answer {
                        allow: false,
                        message: "malformed hook request".into(),
                    },
                };
                let Ok(text) = serde_json::to_string(&answer) else {
                    break;
                };
                if writeln!(out, "{text}").is_err() {
                    break;
                }
            }
        });
    }
}

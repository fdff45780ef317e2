//! The published policy of a running server, and its hot swap.
//!
//! A candidate module is compiled and checked off the request path (in the thread that
//! asked for the reload): it must load as a `forge:authz@0.3.0` component, accept the
//! server's configuration, and give the built-in known answers. Only then is it published,
//! atomically (one `Arc` swap under a write lock held for a pointer store). Workers notice
//! the new generation before their next request and rebuild their warm instance; a request
//! already running finishes on the instance it started with. A candidate that fails any
//! check is refused and the old module keeps serving.
//!
//! Before any of that, a candidate must be trusted (issue 23, [`crate::trust`]): a
//! minisign signature from a key this host trusts, for this contract, at a version no
//! lower than the floor — the highest signed version this process has made live, or for
//! a fleet publication the fleet's own floor (which only a recorded rollback goes
//! below). Untrusted bytes are never compiled. The embedded module is trusted as built;
//! an unsigned module is accepted only with `--allow-unsigned` (logged `module-unsigned`
//! and shown in [`Published::provenance`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::policy::{Limits, Policy, PolicyFailure, PolicyModule, Unavailable, WasmPolicy};
use crate::trust::Trust;
use crate::wit;

mod trusted;
pub use trusted::{Candidate, Provenance, Replay};
use trusted::{load_trusted, raise_floor, verify_candidate};

/// A published module and the configuration it runs with.
#[derive(Debug)]
pub struct Published {
    /// The compiled module.
    pub module: PolicyModule,
    /// Keys and options.
    pub config: wit::Config,
    /// Publication number (1 for the first).
    pub generation: u64,
    /// How the module came to be trusted.
    pub provenance: Provenance,
}

/// The live policy: what workers instantiate.
#[derive(Debug)]
pub struct LivePolicy {
    current: ArcSwap<Published>,
    generation: AtomicU64,
    shadow: ArcSwapOption<Published>,
    shadow_generation: AtomicU64,
    limits: Limits,
    /// Held by every publisher (reload, fleet swaps, configuration swaps, shadow,
    /// promote) from reading the published configuration to publishing: a module is
    /// always checked with the configuration it is published with, and a configuration
    /// with the module it runs on. Readers never take it.
    publisher: Mutex<()>,
    /// Whose modules are trusted, and the floor (the highest signed version made live).
    trust: Mutex<Trust>,
}

/// A configuration published by [`LivePolicy::swap_config`].
#[derive(Debug)]
pub struct ConfigSwap {
    /// The new generation (workers rebuild their instances with the new configuration).
    pub generation: u64,
    /// The shadow module refused the new configuration and was stopped (why).
    pub shadow_refused: Option<Refused>,
}

/// Why a candidate was refused.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl LivePolicy {
    /// Load, verify (`trust`; the signature at `signature`, default `PATH.minisig`),
    /// check and publish the first module.
    pub fn start(
        path: &Path,
        signature: Option<&Path>,
        config: wit::Config,
        limits: Limits,
        mut trust: Trust,
    ) -> Result<LivePolicy, Refused> {
        let (module, provenance) = load_trusted(path, signature, &trust, Replay::Process)
            .and_then(|(bytes, p)| Ok((check_bytes(&bytes, path.into(), &config, limits)?, p)))?;
        raise_floor(&mut trust, &provenance);
        let mut live = LivePolicy::first(module, config, limits, provenance);
        live.trust = Mutex::new(trust);
        Ok(live)
    }

    /// Publish an already-checked module (a one-shot process such as `git-shell`).
    pub fn from_module(module: PolicyModule, config: wit::Config) -> LivePolicy {
        LivePolicy::first(module, config, Limits::default(), Provenance::Caller)
    }

    /// `module` published as generation 1, no shadow.
    fn first(
        module: PolicyModule,
        config: wit::Config,
        limits: Limits,
        provenance: Provenance,
    ) -> LivePolicy {
        LivePolicy {
            current: ArcSwap::from_pointee(Published {
                module,
                config,
                generation: 1,
                provenance,
            }),
            generation: AtomicU64::new(1),
            shadow: ArcSwapOption::empty(),
            shadow_generation: AtomicU64::new(0),
            limits,
            publisher: Mutex::new(()),
            trust: Mutex::new(Trust::default()),
        }
    }

    /// The trust candidates are verified with (a poisoned lock: what it holds is whole).
    fn trust_lock(&self) -> MutexGuard<'_, Trust> {
        self.trust
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the trust candidates are verified with.
    pub fn trust(&self) -> Trust {
        self.trust_lock().clone()
    }

    /// Change the trust (the fleet's signers, read from the store). The anchors, the
    /// floor and `allow_unsigned` are the host's own: `f` is given the whole of it.
    pub fn update_trust(&self, f: impl FnOnce(&mut Trust)) {
        f(&mut self.trust_lock());
    }

    /// Verify a candidate with this host's trust, held to `replay`'s floor.
    pub fn verify(&self, c: Candidate<'_>, replay: Replay) -> Result<Provenance, Refused> {
        verify_candidate(&self.trust_lock(), c, replay)
    }

    /// The shadow candidate, if any.
    pub fn shadow(&self) -> Option<Arc<Published>> {
        self.shadow.load_full()
    }

    /// The shadow's generation (0: none).
    pub fn shadow_generation(&self) -> u64 {
        self.shadow_generation.load(Ordering::Acquire)
    }

    /// The publisher lock (a poisoned lock only means a panic elsewhere mid-publication:
    /// every publication is one pointer store, so what is published is whole).
    fn publishing(&self) -> MutexGuard<'_, ()> {
        self.publisher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Check a candidate and run it in shadow beside the live module (`None`: stop).
    pub fn set_shadow(&self, path: Option<&Path>) -> Result<u64, Refused> {
        let _publishing = self.publishing();
        let module = match path {
            Some(path) => Some(self.load_checked(path)?),
            None => None,
        };
        Ok(self.put_shadow(module))
    }

    /// Read, verify (signature at `PATH.minisig`, the process floor) and check a module
    /// file with the published configuration.
    fn load_checked(&self, path: &Path) -> Result<(PolicyModule, Provenance), Refused> {
        let trust = self.trust();
        let (bytes, provenance) = load_trusted(path, None, &trust, Replay::Process)?;
        let config = &self.current().config;
        Ok((
            check_bytes(&bytes, path.into(), config, self.limits)?,
            provenance,
        ))
    }

    /// The per-call limits candidates are checked with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Run an already-checked module in shadow (`None`: stop). Returns the generation.
    pub fn shadow_checked(&self, module: Option<PolicyModule>) -> u64 {
        let _publishing = self.publishing();
        self.put_shadow(module.map(|m| (m, Provenance::Caller)))
    }

    /// Verify and check a candidate (a fleet publication; `source` names it) with the
    /// published configuration and run it in shadow.
    pub fn shadow_bytes(
        &self,
        c: Candidate<'_>,
        replay: Replay,
        source: PathBuf,
    ) -> Result<u64, Refused> {
        let _publishing = self.publishing();
        let provenance = self.verify(c, replay)?;
        let module = check_bytes(c.bytes, source, &self.current().config, self.limits)?;
        Ok(self.put_shadow(Some((module, provenance))))
    }

    fn put_shadow(&self, module: Option<(PolicyModule, Provenance)>) -> u64 {
        let config = self.current().config.clone();
        let next = module.map(|(module, provenance)| {
            Arc::new(Published {
                module,
                config,
                generation: self.shadow_generation() + 1,
                provenance,
            })
        });
        let generation = next.as_ref().map_or(0, |p| p.generation);
        self.shadow.store(next);
        self.shadow_generation.store(generation, Ordering::Release);
        generation
    }

    /// Publish the shadow candidate as the live module (it passed its checks with the
    /// published configuration when it was set, or when that configuration was
    /// published). `Err` when there is no shadow.
    pub fn promote(&self) -> Result<u64, Refused> {
        let _publishing = self.publishing();
        let shadow = self
            .shadow()
            .ok_or_else(|| Refused("no shadow module to promote".into()))?;
        let generation = self.put_live(
            (shadow.module.clone(), shadow.provenance.clone()),
            shadow.config.clone(),
        );
        self.put_shadow(None);
        Ok(generation)
    }

    /// The published module.
    pub fn current(&self) -> Arc<Published> {
        self.current.load_full()
    }

    /// The generation workers compare against.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Check a candidate with the published configuration and publish it. `Err`:
    /// refused, the old module keeps serving.
    pub fn reload(&self, path: &Path) -> Result<u64, Refused> {
        let _publishing = self.publishing();
        let config = self.current().config.clone();
        let module = self.load_checked(path)?;
        Ok(self.put_live(module, config))
    }

    /// [`LivePolicy::reload`] for a candidate's bytes (a fleet publication held to
    /// `replay`; `source` names it in status).
    pub fn reload_bytes(
        &self,
        c: Candidate<'_>,
        replay: Replay,
        source: PathBuf,
    ) -> Result<u64, Refused> {
        let _publishing = self.publishing();
        let provenance = self.verify(c, replay)?;
        let config = self.current().config.clone();
        let module = check_bytes(c.bytes, source, &config, self.limits)?;
        Ok(self.put_live((module, provenance), config))
    }

    /// Publish an already-checked module (see [`check_bytes`]; its trust is the
    /// caller's) with the published configuration. Returns the generation.
    pub fn publish_checked(&self, module: PolicyModule) -> u64 {
        let _publishing = self.publishing();
        let config = self.current().config.clone();
        self.put_live((module, Provenance::Caller), config)
    }

    /// Check a new configuration (keys, signing key, options) with the live module — an
    /// authorizer must be created with it and give the known answers — and publish the
    /// module with it; a new generation, so every worker rebuilds its instance (and what
    /// the instance derived from the keys). A shadow module is checked with it too and
    /// keeps running with it, or is stopped. `Err`: refused, the old configuration keeps
    /// serving.
    pub fn swap_config(&self, config: wit::Config) -> Result<ConfigSwap, Refused> {
        let _publishing = self.publishing();
        let live = self.current();
        check_module(&live.module, &config)?;
        let generation = self.put_live(
            (live.module.clone(), live.provenance.clone()),
            config.clone(),
        );
        let mut shadow_refused = None;
        if let Some(shadow) = self.shadow() {
            match check_module(&shadow.module, &config) {
                Ok(()) => {
                    self.put_shadow(Some((shadow.module.clone(), shadow.provenance.clone())));
                }
                Err(e) => {
                    self.put_shadow(None);
                    shadow_refused = Some(e);
                }
            }
        }
        Ok(ConfigSwap {
            generation,
            shadow_refused,
        })
    }

    fn put_live(
        &self,
        (module, provenance): (PolicyModule, Provenance),
        config: wit::Config,
    ) -> u64 {
        // Publishing is serialised (`publishing`), so no other store comes between this
        // load and the store.
        let generation = self.current.load().generation + 1;
        raise_floor(&mut self.trust_lock(), &provenance);
        self.current.store(Arc::new(Published {
            module,
            config,
            generation,
            provenance,
        }));
        self.generation.store(generation, Ordering::Release);
        generation
    }

    /// A fresh warm instance of the published module.
    pub fn instance(&self) -> Result<(u64, WasmPolicy), Refused> {
        let p = self.current();
        let inst = p
            .module
            .authorizer(p.config.clone())
            .map_err(|e| Refused(e.to_string()))?
            .map_err(|e| Refused(e.describe()))?;
        Ok((p.generation, inst))
    }
}

/// A worker's instance, rebuilt whenever a new module is published.
#[derive(Debug)]
pub struct Worker {
    live: Arc<LivePolicy>,
    generation: u64,
    policy: Option<WasmPolicy>,
    shadow_generation: u64,
    shadow: Option<WasmPolicy>,
}

impl Worker {
    /// A worker on the live policy.
    pub fn new(live: Arc<LivePolicy>) -> Worker {
        Worker {
            live,
            generation: 0,
            policy: None,
            shadow_generation: 0,
            shadow: None,
        }
    }

    /// The shadow instance, if a candidate runs in shadow.
    pub fn shadow(&mut self) -> Option<&mut WasmPolicy> {
        let g = self.live.shadow_generation();
        if g == 0 {
            self.shadow = None;
            self.shadow_generation = 0;
            return None;
        }
        if self.shadow.is_none() || g != self.shadow_generation {
            self.shadow = self.live.shadow().and_then(|p| {
                p.module
                    .authorizer(p.config.clone())
                    .ok()
                    .and_then(Result::ok)
            });
            self.shadow_generation = g;
        }
        self.shadow.as_mut()
    }

    /// The instance to use for the next request (`None`: the module cannot be
    /// instantiated; the caller denies with `policy-failure`).
    pub fn policy(&mut self) -> Option<&mut WasmPolicy> {
        let g = self.live.generation();
        if self.policy.is_none() || g != self.generation {
            match self.live.instance() {
                Ok((gen_, p)) => {
                    self.generation = gen_;
                    self.policy = Some(p);
                }
                Err(_) => self.policy = None,
            }
        }
        self.policy.as_mut()
    }
}

/// Compile and check a candidate: it loads, accepts `config`, and gives the known answers.
/// No trust check: the caller's (`decide`, `keys`: a module this command runs itself).
pub fn check(path: &Path, config: &wit::Config, limits: Limits) -> Result<PolicyModule, Refused> {
    // The loader's own error may quote the file's bytes (a bad magic number, say): the
    // refusal says what failed, never what the file holds. Operators get the cause in the
    // server log, cleaned and truncated.
    verify(PolicyModule::load(path, limits), config)
}

/// [`check`] for a module's bytes (a fleet publication); `source` names it in status.
pub fn check_bytes(
    bytes: &[u8],
    source: PathBuf,
    config: &wit::Config,
    limits: Limits,
) -> Result<PolicyModule, Refused> {
    verify(PolicyModule::from_bytes(bytes, limits, source), config)
}

fn verify(
    module: wasmtime::Result<PolicyModule>,
    config: &wit::Config,
) -> Result<PolicyModule, Refused> {
    let module = module.map_err(|e| {
        crate::log::event("module-refused", &[("cause", &format!("{e:#}"))]);
        Refused("not a loadable forge:authz policy component".into())
    })?;
    check_module(&module, config)?;
    Ok(module)
}

/// Check a loaded module with a configuration: an authorizer is created with it (the
/// policy may refuse it: no keys, a weak key, an unknown signing key…) and gives the
/// known answers. What a host does before serving a module or a configuration, and what
/// `keys` / `options` do before writing a change.
pub fn check_module(module: &PolicyModule, config: &wit::Config) -> Result<(), Refused> {
    let mut p = module
        .authorizer(config.clone())
        .map_err(|e| Refused(e.to_string()))?
        .map_err(|e| Refused(format!("configuration refused: {}", e.describe())))?;
    crate::known::check(&mut p, &config.options)
        .map_err(|e| Refused(format!("known-answer check failed: {e}")))
}

/// The path a module was published from.
pub fn source_of(p: &Published) -> PathBuf {
    p.module.source().to_path_buf()
}

/// Warm instances of a live policy shared by callers on many threads (the C ABI, the
/// Python host): a call takes an idle worker (or builds one), runs on it and gives it back,
/// so a decision never compiles or instantiates once the pool is warm, and a swap is seen
/// by every worker before its next call.
#[derive(Debug)]
pub struct WarmPool {
    live: Arc<LivePolicy>,
    config: wit::Config,
    idle: std::sync::Mutex<Vec<Worker>>,
}

impl WarmPool {
    /// A pool over `module`, checked (see [`check_bytes`]) with `config`.
    pub fn new(module: PolicyModule, config: wit::Config) -> WarmPool {
        WarmPool {
            live: Arc::new(LivePolicy::from_module(module, config.clone())),
            config,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The idle workers (a poisoned lock only means a panic elsewhere: the list is whole).
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Worker>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The live policy (its module, generation, limits).
    pub fn live(&self) -> &LivePolicy {
        &self.live
    }

    /// Check `bytes` exactly as at load (this pool's configuration and limits) and publish
    /// them; a refused module leaves the current one serving. Returns the new generation.
    pub fn swap(&self, bytes: &[u8], source: PathBuf) -> Result<u64, Refused> {
        let checked = check_bytes(bytes, source, &self.config, self.live.limits())?;
        Ok(self.live.publish_checked(checked))
    }

    /// Run `f` on a warm instance of the current module. When no instance can be built,
    /// `f` runs on [`Unavailable`]: every call fails, so a decision is a `policy-failure`
    /// deny and any other call an error. A panic in `f` is a failure too, and the worker it
    /// happened on is dropped (a half-run instance is never reused).
    pub fn with_instance<R>(
        &self,
        f: impl FnOnce(&mut dyn Policy) -> R,
    ) -> Result<R, PolicyFailure> {
        let popped = self.idle().pop();
        let mut worker = popped.unwrap_or_else(|| Worker::new(self.live.clone()));
        let run =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match worker.policy() {
                Some(instance) => f(instance),
                None => f(&mut Unavailable),
            }));
        match run {
            Ok(r) => {
                self.idle().push(worker);
                Ok(r)
            }
            Err(_) => Err(PolicyFailure(
                "internal error (panic) in forge-authz".into(),
            )),
        }
    }
}

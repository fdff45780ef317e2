//! Loading the policy component and calling it, failing closed.
//!
//! A [`PolicyModule`] is compiled once (`Engine` + `InstancePre`); a [`WasmPolicy`] is one
//! warm instance with its `authorizer` resource, meant to live in one worker. Every call
//! runs with a wall-clock deadline and a memory limit. A trap, a deadline or a limit hit
//! is a [`PolicyFailure`]: the instance is discarded (a trapped instance is never reused)
//! and rebuilt on the next call, and callers turn the failure into a deny.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::error::Context as _;
use wasmtime::format_err;
use wasmtime::{Engine, Store, StoreLimitsBuilder};

mod calls;
mod state;

pub use self::calls::{Policy, Unavailable};

use self::state::{HostState, Lent};
use crate::facts::Gathered;
use crate::wit::{Config, ConfigError, Policy as Bindings, PolicyPre};

/// Resource limits for each call into the policy.
///
/// There is no fuel (instruction) budget: metering every basic block cost 4-18 % per
/// decision (BENCHMARKS.md). What bounds a call instead: the wall-clock `deadline_ms`
/// (epoch interruption, checked at every function entry and loop back-edge), the memory
/// limit, and the inputs themselves — every list the policy walks comes from a request
/// the host already bounded (16 KiB of headers, one ref per hook question, the batch a
/// listing asks) and every per-item step is polynomial in strings the policy caps (ref
/// names and protection patterns at 255 bytes: at most 65,025 steps per rule and ref).
/// A call that runs past its deadline traps: a `policy-failure` deny.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Linear memory one instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline of one call, in milliseconds (epoch interruption, 10 ms ticks).
    pub deadline_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            deadline_ms: 1_000,
        }
    }
}

/// Epoch tick length: the deadline's resolution.
const TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// Advance an engine's epoch every tick while the engine lives (the thread holds only a
/// weak reference and ends with the engine).
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(TICK);
        }
    });
}

/// The policy could not run: trap, deadline, memory limit, a fact the store could not read,
/// or load failure. Never an
/// allow: callers answer with a `policy-failure` deny.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyFailure(pub String);

impl std::fmt::Display for PolicyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "policy failure: {}", self.0)
    }
}

impl std::error::Error for PolicyFailure {}

/// A compiled policy component, ready to instantiate. Cheap to clone.
#[derive(Clone)]
pub struct PolicyModule {
    engine: Engine,
    pre: PolicyPre<HostState>,
    limits: Limits,
    source: Arc<PathBuf>,
    sha256: Arc<str>,
    imports: Arc<Vec<String>>,
    exports: Arc<Vec<String>>,
}

impl std::fmt::Debug for PolicyModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyModule")
            .field("source", &self.source)
            .field("limits", &self.limits)
            .finish()
    }
}

/// The policy built in this workspace (by `forge-authz/build.rs`), unless overridden by
/// the `FORGE_AUTHZ_POLICY` environment variable.
pub fn default_policy_path() -> PathBuf {
    match std::env::var_os("FORGE_AUTHZ_POLICY") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(EMBEDDED_POLICY_NAME),
    }
}

/// The policy component this binary was built with (empty when the guest build was
/// skipped). A copied or installed `forge-authz` needs no source tree; `--policy`,
/// `FORGE_AUTHZ_POLICY` and `reload` still swap in another module.
pub static EMBEDDED_POLICY: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/forge_authz_policy.wasm"));

/// SHA-256 (hex) of [`EMBEDDED_POLICY`], or `none`.
pub const EMBEDDED_POLICY_DIGEST: &str = env!("FORGE_AUTHZ_EMBEDDED_DIGEST");

/// The name that stands for [`EMBEDDED_POLICY`] wherever a module path is expected (the
/// default of `--policy`). Not a file name: `<` and `>` never start a path we create.
pub const EMBEDDED_POLICY_NAME: &str = "<embedded>";

/// The module bytes behind a path: the embedded module for [`EMBEDDED_POLICY_NAME`], else
/// the file.
pub fn module_bytes(path: &Path) -> wasmtime::Result<std::borrow::Cow<'static, [u8]>> {
    if path == Path::new(EMBEDDED_POLICY_NAME) {
        if EMBEDDED_POLICY.is_empty() {
            return Err(wasmtime::Error::msg(
                "this binary was built without an embedded policy module \
                 (FORGE_AUTHZ_SKIP_GUEST_BUILD): pass --policy FILE",
            ));
        }
        return Ok(std::borrow::Cow::Borrowed(EMBEDDED_POLICY));
    }
    std::fs::read(path)
        .map(std::borrow::Cow::Owned)
        .with_context(|| format!("reading policy module {}", path.display()))
}

/// The process's engine: every module version shares its compiler settings and its one
/// epoch ticker (an engine per module cost a ticker thread and ~1 ms per swap).
///
/// Otherwise wasmtime's defaults, on purpose: for issue 24 (docs/design/serve-cost.md §2.9)
/// each of these was measured on `tests/benches/decide.rs` (instructions per call under
/// callgrind, see that file) and changed nothing a call costs, so none is set —
/// `wasm_backtrace(false)` (backtraces are taken only on a trap), Cranelift
/// `SpeedAndSize`, eager table initialisation (`table_lazy_init(false)`): empty call 4,817
/// instructions and repeated token pull 24,3xx with each, as with the defaults. The pooling
/// allocator only speeds a new instance (a worker's first use, a swap, a rebuild after a
/// failure; never a warm call): within the noise of a busy machine there (`fresh_instance`),
/// for a fixed engine-wide cap that would turn "too many instances" into a new deny and
/// 4 GiB of address space reserved per slot. Of a warm token pull (24,4xx instructions),
/// ~90 % is wasmtime's component machinery and the guest's code (lowering the fact answer
/// and its `cabi_realloc`s ~6,400, resolving the export on every call ~950: inside
/// wasmtime 48, out of a host's reach); the host's part (`lend`, `HostState::lookup`, the
/// WIT conversions, not the fact source) ~1,200, ~5 %.
fn engine() -> wasmtime::Result<Engine> {
    static ENGINE: std::sync::OnceLock<Result<Engine, String>> = std::sync::OnceLock::new();
    let built = ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        // `FORGE_AUTHZ_PERFMAP=1`: write /tmp/perf-<pid>.map so `perf` names the policy's
        // compiled functions (profiling only).
        if std::env::var_os("FORGE_AUTHZ_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        // Compiled modules are cached on disk (wasmtime's content-addressed cache, keyed
        // by the module bytes and the engine settings), so a CLI run does not recompile the
        // policy. `FORGE_AUTHZ_NO_CACHE=1` turns it off; a cache that cannot start is
        // skipped.
        if std::env::var_os("FORGE_AUTHZ_NO_CACHE").is_none()
            && let Ok(cache) = wasmtime::Cache::new(wasmtime::CacheConfig::new())
        {
            config.cache(Some(cache));
        }
        let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
        start_ticker(&engine);
        Ok(engine)
    });
    match built {
        Ok(e) => Ok(e.clone()),
        Err(e) => Err(wasmtime::Error::msg(e.clone())),
    }
}

/// Components compiled in this process, by SHA-256 of their bytes (the last few): a swap
/// back to a version the process ran, or a second check of the same bytes, compiles
/// nothing.
fn compiled(engine: &Engine, bytes: &[u8], sha256: &str) -> wasmtime::Result<Component> {
    const KEEP: usize = 8;
    static COMPILED: std::sync::Mutex<Vec<(String, Component)>> = std::sync::Mutex::new(Vec::new());
    let lock = || match COMPILED.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some((_, c)) = lock().iter().find(|(s, _)| s == sha256) {
        return Ok(c.clone());
    }
    let component = Component::new(engine, bytes).context("compiling policy component")?;
    let mut cache = lock();
    if cache.len() >= KEEP {
        cache.remove(0);
    }
    cache.push((sha256.to_string(), component.clone()));
    Ok(component)
}

impl PolicyModule {
    /// Load and compile a policy component from a file.
    pub fn load(path: &Path, limits: Limits) -> wasmtime::Result<PolicyModule> {
        let bytes = module_bytes(path)?;
        Self::from_bytes(&bytes, limits, path.to_path_buf())
    }

    /// Compile a policy component from bytes. Fails if the bytes are not a component or
    /// it does not export the `forge:authz@0.4.0` policy world.
    pub fn from_bytes(bytes: &[u8], limits: Limits, source: PathBuf) -> wasmtime::Result<Self> {
        let engine = engine()?;
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
        let component = compiled(&engine, bytes, &sha256)?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        define_random(&engine, &component, &mut linker)?;
        crate::wit::add_facts_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )?;
        // Everything else the language runtime may import (stdio, environment, exit) traps:
        // the policy has no filesystem, network, clock or environment.
        linker.define_unknown_imports_as_traps(&component)?;
        let pre = PolicyPre::new(linker.instantiate_pre(&component)?)
            .context("the module does not export the forge:authz policy world")?;
        let ty = component.component_type();
        let imports = ty.imports(&engine).map(|(n, _)| n.to_string()).collect();
        let exports = ty.exports(&engine).map(|(n, _)| n.to_string()).collect();
        Ok(PolicyModule {
            engine,
            pre,
            limits,
            source: Arc::new(source),
            sha256: sha256.into(),
            imports: Arc::new(imports),
            exports: Arc::new(exports),
        })
    }

    /// The same compiled module with other per-call limits.
    pub fn with_limits(&self, limits: Limits) -> PolicyModule {
        PolicyModule {
            limits,
            ..self.clone()
        }
    }

    /// Names of the component's imports (e.g. `wasi:random/random@0.2.4`).
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Names of the component's exports (e.g. `forge:authz/authorizer@0.1.0`).
    pub fn exports(&self) -> &[String] {
        &self.exports
    }

    /// Where the module came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// SHA-256 (lowercase hex) of the component's bytes: which module this is, whatever
    /// its file is called (the metrics' `forge_authz_module_info`).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Create a warm instance with an authorizer for `config`.
    ///
    /// `Ok(Err(_))`: the policy refused the configuration. `Err(_)`: it could not run.
    pub fn authorizer(
        &self,
        config: Config,
    ) -> Result<Result<WasmPolicy, ConfigError>, PolicyFailure> {
        let mut policy = WasmPolicy {
            module: self.clone(),
            limits: self.limits,
            config,
            live: None,
        };
        match policy.build() {
            Ok(Ok(live)) => {
                policy.live = Some(live);
                Ok(Ok(policy))
            }
            Ok(Err(e)) => Ok(Err(e)),
            Err(e) => Err(e),
        }
    }
}

/// Provide `wasi:random/random` (any 0.2.x the component asks for) from the host's CSPRNG.
fn define_random(
    engine: &Engine,
    component: &Component,
    linker: &mut Linker<HostState>,
) -> wasmtime::Result<()> {
    const MAX_RANDOM_BYTES: u64 = 1 << 16;
    let names: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .filter(|name| name.starts_with("wasi:random/random@0.2."))
        .collect();
    for name in names {
        let mut inst = linker.instance(&name)?;
        inst.func_wrap(
            "get-random-bytes",
            |_, (len,): (u64,)| -> wasmtime::Result<(Vec<u8>,)> {
                if len > MAX_RANDOM_BYTES {
                    return Err(format_err!("guest asked for {len} random bytes"));
                }
                let mut buf = vec![0u8; usize::try_from(len)?];
                getrandom::fill(&mut buf)
                    .map_err(|e| format_err!("host randomness failed: {e}"))?;
                Ok((buf,))
            },
        )?;
        inst.func_wrap("get-random-u64", |_, (): ()| -> wasmtime::Result<(u64,)> {
            let mut buf = [0u8; 8];
            getrandom::fill(&mut buf).map_err(|e| format_err!("host randomness failed: {e}"))?;
            Ok((u64::from_le_bytes(buf),))
        })?;
    }
    Ok(())
}

struct Live {
    store: Store<HostState>,
    bindings: Bindings,
    authorizer: ResourceAny,
}

/// One warm policy instance and its authorizer. Not shared between threads: give each
/// worker its own (they share the compiled [`PolicyModule`]).
pub struct WasmPolicy {
    module: PolicyModule,
    limits: Limits,
    config: Config,
    live: Option<Live>,
}

impl std::fmt::Debug for WasmPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPolicy")
            .field("module", &self.module)
            .field("live", &self.live.is_some())
            .finish()
    }
}

fn ticks(ms: u64) -> u64 {
    (ms / 10).max(1)
}

fn failure(e: impl std::fmt::Display) -> PolicyFailure {
    PolicyFailure(e.to_string())
}

impl WasmPolicy {
    /// Change the limits of later calls. A lower memory limit takes effect when the
    /// instance is next rebuilt (after a failure).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    fn build(&self) -> Result<Result<Live, ConfigError>, PolicyFailure> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(4)
            .tables(16)
            .memories(4)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(
            &self.module.engine,
            HostState {
                limits,
                facts: Lent(None),
                lookups: 0,
                batch_lookups: 0,
                gathered: Gathered::default(),
            },
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(ticks(self.limits.deadline_ms));
        let bindings = self.module.pre.instantiate(&mut store).map_err(failure)?;
        let created = bindings
            .forge_authz_authorizer()
            .authorizer()
            .call_create(&mut store, &self.config)
            .map_err(failure)?;
        Ok(created.map(|authorizer| Live {
            store,
            bindings,
            authorizer,
        }))
    }

    /// Run `f` on the live instance with a fresh deadline. A failure discards the
    /// instance: the next call builds a new one.
    fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Live) -> wasmtime::Result<R>,
    ) -> Result<R, PolicyFailure> {
        if self.live.is_none() {
            match self.build()? {
                Ok(live) => self.live = Some(live),
                Err(e) => {
                    return Err(PolicyFailure(format!(
                        "configuration refused: {}",
                        e.describe()
                    )));
                }
            }
        }
        let Some(live) = self.live.as_mut() else {
            return Err(PolicyFailure("no policy instance".into()));
        };
        // Every call gets a fresh wall-clock deadline from now.
        live.store
            .set_epoch_deadline(ticks(self.limits.deadline_ms));
        let result = f(live);
        match result {
            Ok(r) => Ok(r),
            Err(e) => {
                self.live = None;
                Err(PolicyFailure(format!("{e:#}")))
            }
        }
    }
}

//! The Python host of forge-authz: the module `forge_authz`, built by maturin.
//!
//! It runs the policy component through the Rust host (`forge_authz_host`) directly, not
//! through the C ABI: the same loading and checking of a module (`live::check_bytes`), the
//! same hot swap (`LivePolicy`), the same request mapping and output (`request::authorize`,
//! `outcome_output`) and the same world fixture as the CLI, the server and the C ABI. Its
//! operations are the C ABI's (`ffi/src/lib.rs`) with Python types at the boundary:
//!
//! - `Policy(config, module=None)` / `Policy.load(module, config)`: a checked module, its
//!   configuration and a pool of warm instances; `swap(module)`, `sha256`, `generation`.
//! - `World(facts)`: a world fixture (dict or JSON text); `put_token(record)`.
//! - `Policy.decide(world, request) -> Decision`, `decide_batch -> BatchDecision`,
//!   `ref_permissions -> RefPermissions`, `decide_json -> str` (any kind, exactly
//!   `forge-authz decide`'s JSON).
//! - `Policy.verify(credential) -> TokenInfo | None` (raises `TokenRefused`),
//!   `Policy.issue(world, owner=, name=, scopes=, ...) -> IssuedToken` (raises
//!   `IssueRefused`).
//!
//! **Fail closed.** A host failure (a request that cannot be read, a module that cannot
//! load, a panic) is an exception, a subclass of `ForgeAuthzError` (`InvalidConfig`,
//! `ModuleRefused`, `InvalidRequest`, `PolicyFailure`, `TokenRefused`, `IssueRefused`); it
//! never yields a `Decision`. A policy that could not decide (a trap, the deadline, no instance) is a
//! `Decision` that denies with the reason `policy-failure`, as in the server. `Decision`
//! has no truth value (`if decision:` raises): only `decision.allowed` says allow.
//!
//! **Threads.** Every decision releases the GIL: the world is read under its own lock and
//! the call runs on a warm instance taken from the policy's pool (built when the pool is
//! empty, given back after the call), so Python threads decide in parallel.

use std::path::PathBuf;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use pyo3::exceptions::{PyException, PyIndexError, PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;

use forge_authz_host::live::{WarmPool, check_bytes};
use forge_authz_host::policy::{
    EMBEDDED_POLICY, EMBEDDED_POLICY_DIGEST, EMBEDDED_POLICY_NAME, Limits, Policy,
    PolicyFailure as HostFailure,
};
use forge_authz_host::request::{
    CredentialDef, DecisionOutput, KindDef, MintOrder, Outcome, RequestDef, authorize, mint,
    outcome_output,
};
use forge_authz_host::wit;
use forge_authz_host::wit::core as convert;
use forge_authz_host::world::{TokenDef, World};

/// The WIT contract this module speaks (`forge:authz@…`).
const CONTRACT: &str = forge_authz_host::wit::WIT_VERSION;

pyo3::create_exception!(
    forge_authz,
    ForgeAuthzError,
    PyException,
    "Base of every forge_authz error: nothing was decided, and nothing was allowed."
);
pyo3::create_exception!(
    forge_authz,
    InvalidConfig,
    ForgeAuthzError,
    "A configuration or world the host cannot use (bad JSON, bad hex, unknown fields or values, keys the policy refuses)."
);
pyo3::create_exception!(
    forge_authz,
    ModuleRefused,
    InvalidConfig,
    "A policy module refused at load or swap (not a forge:authz component, a configuration it refuses, or it fails the known answers); on swap the old module keeps serving."
);
pyo3::create_exception!(
    forge_authz,
    InvalidRequest,
    ForgeAuthzError,
    "A request, credential or mint order the host cannot read (unknown field, missing repository, unknown SSH key, wrong kind for the method)."
);
pyo3::create_exception!(
    forge_authz,
    PolicyFailure,
    ForgeAuthzError,
    "The policy could not answer a call that is not a decision (verify, issue): a trap, the deadline, no instance, a panic in the host. Decisions never raise it: they deny with reason `policy-failure` (status 503)."
);
pyo3::create_exception!(
    forge_authz,
    TokenRefused,
    ForgeAuthzError,
    "verify(): the credential carries a token the policy refuses; `code` is the token-error code (bad-signature, bad-checksum, ...)."
);
pyo3::create_exception!(
    forge_authz,
    IssueRefused,
    ForgeAuthzError,
    "issue(): a minting rule refused the token; `reason` says why."
);

// ---------------------------------------------------------------------------------------
// Locks (a poisoned lock only means a panic elsewhere; the value is still whole).

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------
// Python values <-> JSON values.

/// Deepest nesting accepted from Python (the formats need four levels).
const MAX_DEPTH: usize = 64;

/// A Python value as JSON: dict (string keys), list, tuple, str, int, float, bool, None.
fn to_json(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("nested too deeply".into());
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: `True` is an int in Python.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s
            .to_str()
            .map(|s| Value::String(s.to_owned()))
            .map_err(|e| e.to_string());
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        if let Ok(v) = i.extract::<i64>() {
            return Ok(Value::from(v));
        }
        if let Ok(v) = i.extract::<u64>() {
            return Ok(Value::from(v));
        }
        return Err("integer out of range".into());
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| "a float that is not finite".to_string());
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = serde_json::Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| "a dict key that is not a str".to_string())?
                .to_str()
                .map_err(|e| e.to_string())?
                .to_owned();
            let value = to_json(&v, depth + 1).map_err(|e| format!("{key}: {e}"))?;
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return array_json(l.iter(), depth);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return array_json(t.iter(), depth);
    }
    let type_name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(format!("a `{type_name}` is not a JSON value"))
}

/// The items of a list or a tuple as a JSON array; an error names the index (`[2]: …`).
fn array_json<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    depth: usize,
) -> Result<Value, String> {
    items
        .enumerate()
        .map(|(i, v)| to_json(&v, depth + 1).map_err(|e| format!("[{i}]: {e}")))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// A JSON value as Python objects (dict, list, str, int, float, bool, None).
fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let list = PyList::empty(py);
            for x in a {
                list.append(to_py(py, x)?)?;
            }
            list.into_any()
        }
        Value::Object(m) => {
            let dict = PyDict::new(py);
            for (k, x) in m {
                dict.set_item(k, to_py(py, x)?)?;
            }
            dict.into_any()
        }
    })
}

/// A value given as JSON text (`str`) or as Python data (dict, list, ...).
fn json_arg(obj: &Bound<'_, PyAny>) -> Result<Value, String> {
    match obj.cast::<PyString>() {
        Ok(s) => {
            let text = s.to_str().map_err(|e| e.to_string())?;
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
        }
        Err(_) => to_json(obj, 0),
    }
}

/// A typed value from JSON; an error names the field (`refs[0].name: missing field`).
fn typed<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        format!("{path}: {}", e.into_inner())
    })
}

/// A typed value from JSON text or Python data; an error (reading or typing) is prefixed
/// with `what` (`credential: …`).
fn typed_arg<T: serde::de::DeserializeOwned>(
    obj: &Bound<'_, PyAny>,
    what: &str,
) -> Result<T, String> {
    let v = json_arg(obj).map_err(|e| format!("{what}: {e}"))?;
    typed(v).map_err(|e| format!("{what}: {e}"))
}

// ---------------------------------------------------------------------------------------
// The policy: a live module, its configuration, a pool of warm instances.

/// Why a call into the policy produced nothing.
enum CallError {
    /// The request could not be read (an exception of the caller's making).
    Request(String),
    /// The host failed (a panic, a failure outside a decision).
    Host(String),
}

impl CallError {
    fn into_py(self) -> PyErr {
        match self {
            CallError::Request(e) => InvalidRequest::new_err(e),
            CallError::Host(e) => PolicyFailure::new_err(e),
        }
    }
}

/// A module refused at load or swap.
fn module_refused(e: impl std::fmt::Display) -> PyErr {
    ModuleRefused::new_err(format!("policy module refused: {e}"))
}

/// The module bytes: the given ones, or the module embedded in this extension.
fn module_source(module: Option<&[u8]>) -> PyResult<(&[u8], PathBuf)> {
    match module {
        Some(bytes) => Ok((bytes, PathBuf::from("<bytes>"))),
        None if EMBEDDED_POLICY.is_empty() => Err(InvalidConfig::new_err(
            "this extension was built without an embedded policy module: pass the module's bytes",
        )),
        None => Ok((EMBEDDED_POLICY, PathBuf::from(EMBEDDED_POLICY_NAME))),
    }
}

/// The policy configuration: the world fixture's `keys`, `signing_key` and `options`
/// (other fields ignored), from a dict, JSON text or a `World`.
fn config_of(obj: &Bound<'_, PyAny>) -> PyResult<wit::Config> {
    if let Ok(w) = obj.cast::<PyWorld>() {
        return wit::world_config(&read(&w.get().world))
            .map_err(|e| InvalidConfig::new_err(format!("{e:#}")));
    }
    let mut v = json_arg(obj).map_err(|e| InvalidConfig::new_err(format!("config: {e}")))?;
    match v.as_object_mut() {
        Some(o) => o.retain(|k, _| matches!(k.as_str(), "keys" | "signing_key" | "options")),
        None => {
            return Err(InvalidConfig::new_err(
                "config: expected an object with `keys` and `signing_key`",
            ));
        }
    }
    let world: World = typed(v).map_err(|e| InvalidConfig::new_err(format!("config: {e}")))?;
    wit::world_config(&world).map_err(|e| InvalidConfig::new_err(format!("config: {e:#}")))
}

/// A loaded policy: the published module, its configuration and a pool of warm instances.
/// Safe to share between threads; every call releases the GIL.
#[pyclass(frozen, name = "Policy", module = "forge_authz")]
struct PyPolicy {
    pool: WarmPool,
}

impl PyPolicy {
    fn build(py: Python<'_>, module: Option<&[u8]>, config: &Bound<'_, PyAny>) -> PyResult<Self> {
        let config = config_of(config)?;
        let (bytes, source) = module_source(module)?;
        let checked = py
            .detach(|| check_bytes(bytes, source, &config, Limits::default()))
            .map_err(module_refused)?;
        Ok(PyPolicy {
            pool: WarmPool::new(checked, config),
        })
    }

    /// Run `f` on a warm instance of the current module (see [`WarmPool::with_instance`]:
    /// no instance is a policy failure, a panic too).
    fn with_instance<R>(
        &self,
        f: impl FnOnce(&mut dyn Policy) -> Result<R, CallError>,
    ) -> Result<R, CallError> {
        self.pool
            .with_instance(f)
            .map_err(|e| CallError::Host(e.to_string()))?
    }

    /// Read a request for the typed method `method` (which fills in its default kind),
    /// refuse a kind another method decides, and decide it.
    fn decide_as(
        &self,
        py: Python<'_>,
        world: &PyWorld,
        request: &Bound<'_, PyAny>,
        method: &str,
    ) -> PyResult<Outcome> {
        let default_kind = match method {
            "decide_batch" => Some("batch"),
            "ref_permissions" => Some("ref-permissions"),
            _ => None,
        };
        let req = request_of(request, default_kind)?;
        let (kind, decided_by) = match req.kind {
            KindDef::Git | KindDef::Create | KindDef::Api => ("git, create or api", "decide"),
            KindDef::Batch => ("batch", "decide_batch"),
            KindDef::RefPermissions => ("ref-permissions", "ref_permissions"),
        };
        if decided_by != method {
            return Err(InvalidRequest::new_err(format!(
                "a {kind} request: use Policy.{decided_by} (or Policy.decide_json)"
            )));
        }
        self.outcome(py, world, &req)
    }

    /// Decide `request` (already typed) with the world's facts, the GIL released.
    fn outcome(&self, py: Python<'_>, world: &PyWorld, request: &RequestDef) -> PyResult<Outcome> {
        py.detach(|| {
            let w = read(&world.world);
            self.with_instance(|instance| {
                authorize(instance, &*w, request, w.now())
                    .map_err(|e| CallError::Request(format!("{e:#}")))
            })
        })
        .map_err(CallError::into_py)
    }
}

/// The host answered a kind the request did not ask for (a bug, never an allow).
fn another_kind() -> PyErr {
    PolicyFailure::new_err("the host answered another kind")
}

/// A request from a dict or JSON text; `kind` (when the request names none) is filled in.
fn request_of(obj: &Bound<'_, PyAny>, default_kind: Option<&str>) -> PyResult<RequestDef> {
    // JSON text with nothing to fill in: typed straight from the text (one parse).
    if let (None, Ok(s)) = (default_kind, obj.cast::<PyString>()) {
        let text = s
            .to_str()
            .map_err(|e| InvalidRequest::new_err(format!("request: {e}")))?;
        return forge_authz_host::world::parse_json(text)
            .map_err(|e| InvalidRequest::new_err(format!("request: {e:#}")));
    }
    let mut v = json_arg(obj).map_err(|e| InvalidRequest::new_err(format!("request: {e}")))?;
    if let (Some(kind), Some(o)) = (default_kind, v.as_object_mut()) {
        o.entry("kind").or_insert_with(|| Value::from(kind));
    }
    typed(v).map_err(|e| InvalidRequest::new_err(format!("request: {e}")))
}

#[pymethods]
impl PyPolicy {
    /// `Policy(config, module=None)`: check `module` (the component's bytes; None: the
    /// module embedded in this extension) as a server does before serving, with `config`
    /// (`{"keys": [{"id", "secret" (hex)}], "signing_key", "options"}`, a world dict, JSON
    /// text or a `World`).
    #[new]
    #[pyo3(signature = (config, module = None))]
    fn new(py: Python<'_>, config: &Bound<'_, PyAny>, module: Option<&[u8]>) -> PyResult<Self> {
        PyPolicy::build(py, module, config)
    }

    /// `Policy.load(module, config)`: the same as `Policy(config, module)`.
    #[staticmethod]
    fn load(py: Python<'_>, module: Option<&[u8]>, config: &Bound<'_, PyAny>) -> PyResult<Self> {
        PyPolicy::build(py, module, config)
    }

    /// Swap in another module version at run time (None: the embedded module), checked as
    /// at load; a refused module raises `ModuleRefused` and the current one keeps serving.
    /// Calls already running finish on the old version. Returns the new generation.
    #[pyo3(signature = (module))]
    fn swap(&self, py: Python<'_>, module: Option<&[u8]>) -> PyResult<u64> {
        let (bytes, source) = module_source(module)?;
        py.detach(|| self.pool.swap(bytes, source))
            .map_err(module_refused)
    }

    /// SHA-256 (hex) of the module serving now.
    #[getter]
    fn sha256(&self) -> String {
        self.pool.live().current().module.sha256().to_string()
    }

    /// Publication number of the module serving now (1 at load, +1 per swap).
    #[getter]
    fn generation(&self) -> u64 {
        self.pool.live().generation()
    }

    /// Decide a git, create or api request with the world's facts.
    fn decide(
        &self,
        py: Python<'_>,
        world: PyRef<'_, PyWorld>,
        request: &Bound<'_, PyAny>,
    ) -> PyResult<PyDecision> {
        match self.decide_as(py, &world, request, "decide")? {
            Outcome::Decision(d) => Ok(PyDecision::new(DecisionOutput::from(&d), None)),
            _ => Err(another_kind()),
        }
    }

    /// Decide one git action against many repositories (`kind` defaults to `batch`).
    fn decide_batch(
        &self,
        py: Python<'_>,
        world: PyRef<'_, PyWorld>,
        request: &Bound<'_, PyAny>,
    ) -> PyResult<PyBatchDecision> {
        let Outcome::Batch(list) = self.decide_as(py, &world, request, "decide_batch")? else {
            return Err(another_kind());
        };
        let items = list
            .iter()
            .map(|(repo, d)| {
                let decision = PyDecision::new(DecisionOutput::from(d), Some(repo.clone()));
                Py::new(py, decision)
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyBatchDecision { items })
    }

    /// What the credential may do to each ref (`kind` defaults to `ref-permissions`):
    /// Launchpad's `checkRefPermissions`.
    fn ref_permissions(
        &self,
        py: Python<'_>,
        world: PyRef<'_, PyWorld>,
        request: &Bound<'_, PyAny>,
    ) -> PyResult<PyRefPermissions> {
        match self.decide_as(py, &world, request, "ref_permissions")? {
            Outcome::Permissions(p) => Ok(PyRefPermissions {
                refs: p
                    .refs
                    .iter()
                    .map(|(name, perms)| {
                        (
                            name.clone(),
                            forge_authz_host::request::permission_names(*perms),
                        )
                    })
                    .collect(),
            }),
            _ => Err(another_kind()),
        }
    }

    /// Decide a request of any kind; returns exactly what `forge-authz decide` prints
    /// (JSON text): one decision, a list for a batch, a ref -> permissions map.
    fn decide_json(
        &self,
        py: Python<'_>,
        world: PyRef<'_, PyWorld>,
        request: &Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let req = request_of(request, None)?;
        let outcome = self.outcome(py, &world, &req)?;
        Ok(outcome_output(&outcome).0.to_string())
    }

    /// Verify the token in a credential with no facts (format, checksum, key, signature).
    /// `credential`: `"anonymous"`, `{"bearer": token}` or `{"basic": {"username",
    /// "password"}}`. Returns the token's ids, None when the credential carries no token;
    /// raises `TokenRefused` (with `.code`) for a token the policy refuses.
    fn verify(
        &self,
        py: Python<'_>,
        credential: &Bound<'_, PyAny>,
    ) -> PyResult<Option<PyTokenInfo>> {
        let def: CredentialDef =
            typed_arg(credential, "credential").map_err(InvalidRequest::new_err)?;
        let credential = convert::credential_out(def.token_credential());
        let answer = py
            .detach(|| {
                self.with_instance(|instance| {
                    instance
                        .verify(&credential)
                        .map_err(|f| CallError::Host(f.to_string()))
                })
            })
            .map_err(CallError::into_py)?;
        match answer {
            Ok(Some(v)) => Ok(Some(PyTokenInfo {
                token_id: v.token_id,
                key_id: v.key_id,
            })),
            Ok(None) => Ok(None),
            Err(e) => {
                let code = e.code();
                let err = TokenRefused::new_err(format!("token refused: {code}"));
                err.value(py).setattr("code", code)?;
                Err(err)
            }
        }
    }

    /// Mint a token as its owner's session would (the owner must be an active user of the
    /// world; bound repositories are checked against what the owner sees) and add its
    /// record to the world. Raises `IssueRefused` (with `.reason`) when a minting rule
    /// refuses. `expires` (Unix seconds) or `expires_in` (seconds from `now`); `now`
    /// defaults to the world's clock.
    #[pyo3(signature = (world, *, owner, name, scopes, repositories = Vec::new(), owners = Vec::new(), expires = None, expires_in = None, now = None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn issue(
        &self,
        py: Python<'_>,
        world: PyRef<'_, PyWorld>,
        owner: String,
        name: String,
        scopes: Vec<String>,
        repositories: Vec<String>,
        owners: Vec<String>,
        expires: Option<i64>,
        expires_in: Option<i64>,
        now: Option<i64>,
    ) -> PyResult<PyIssuedToken> {
        let order = MintOrder {
            owner,
            name,
            scopes,
            repositories,
            owners,
            expires,
            expires_in,
            now,
        };
        let world: &PyWorld = &world;
        let issued = py
            .detach(|| {
                let mut w = write(&world.world);
                self.with_instance(|instance| {
                    mint(instance, &mut w, order).map_err(|e| {
                        match e.downcast_ref::<HostFailure>() {
                            Some(f) => CallError::Host(f.to_string()),
                            None => CallError::Request(format!("{e:#}")),
                        }
                    })
                })
            })
            .map_err(CallError::into_py)?;
        match issued {
            Ok(t) => Ok(PyIssuedToken {
                secret: t.secret,
                record: TokenDef::from_record(&convert::record_in(t.record.clone())),
            }),
            Err(e) => {
                let reason = e.describe();
                let err = IssueRefused::new_err(format!("token refused: {reason}"));
                err.value(py).setattr("reason", reason)?;
                Err(err)
            }
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Policy(sha256='{}', generation={})",
            self.sha256(),
            self.generation()
        )
    }
}

// ---------------------------------------------------------------------------------------
// The world.

/// Facts a forge supplies: a world fixture (users, organisations, repositories, token
/// records, SSH keys, `now`). Readable by many threads at once.
#[pyclass(frozen, name = "World", module = "forge_authz")]
struct PyWorld {
    world: RwLock<World>,
}

#[pymethods]
impl PyWorld {
    /// `World(facts)`: a world fixture as a dict or as JSON text. `now` in it, if present,
    /// is the clock of every decision made with it (absent: the system clock).
    #[new]
    fn new(facts: &Bound<'_, PyAny>) -> PyResult<Self> {
        let world: World = typed_arg(facts, "world").map_err(InvalidConfig::new_err)?;
        world
            .validate()
            .map_err(|e| InvalidConfig::new_err(format!("world: {e:#}")))?;
        Ok(PyWorld {
            world: RwLock::new(world),
        })
    }

    /// A world from a fixture file.
    #[staticmethod]
    fn from_file(path: PathBuf) -> PyResult<Self> {
        let world = World::load(&path).map_err(|e| InvalidConfig::new_err(format!("{e:#}")))?;
        Ok(PyWorld {
            world: RwLock::new(world),
        })
    }

    /// Add (or replace, by id) a token record: a dict or JSON text as the fixture lists
    /// it, or an `IssuedToken`.
    fn put_token(&self, record: &Bound<'_, PyAny>) -> PyResult<()> {
        let def: TokenDef = match record.cast::<PyIssuedToken>() {
            Ok(t) => t.get().record.clone(),
            Err(_) => typed_arg(record, "token record").map_err(InvalidConfig::new_err)?,
        };
        write(&self.world)
            .put_token(def)
            .map_err(|e| InvalidConfig::new_err(format!("token record: {e:#}")))
    }

    /// The world's fixed clock (Unix seconds); None: the system clock.
    #[getter]
    fn now(&self) -> Option<i64> {
        read(&self.world).now
    }

    #[setter]
    fn set_now(&self, now: Option<i64>) {
        write(&self.world).now = now;
    }

    /// The world as fixture JSON (with the minted tokens' records).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&*read(&self.world))
            .map_err(|e| ForgeAuthzError::new_err(e.to_string()))
    }

    fn __repr__(&self) -> String {
        let w = read(&self.world);
        format!(
            "World(users={}, repositories={}, tokens={}, now={})",
            w.users.len(),
            w.repositories.len(),
            w.tokens.len(),
            w.now.map_or("None".to_string(), |n| n.to_string())
        )
    }
}

// ---------------------------------------------------------------------------------------
// Results.

/// A result `forge-authz decide` prints: its `output` (Python data) and `to_json` (text)
/// both come from its one JSON value.
trait Printed {
    /// Exactly what `forge-authz decide` prints for this result.
    fn output_value(&self) -> Value;

    /// [`Printed::output_value`] as Python data (a dict or a list).
    fn output_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.output_value())
    }

    /// [`Printed::output_value`] as JSON text.
    fn output_json(&self) -> String {
        self.output_value().to_string()
    }
}

/// One decision. `allowed` is true only for an allow; a policy that could not decide is
/// a deny with reason `policy-failure` (status 503).
#[pyclass(frozen, name = "Decision", module = "forge_authz")]
struct PyDecision {
    out: DecisionOutput,
    allowed: bool,
    repository: Option<String>,
}

impl PyDecision {
    fn new(out: DecisionOutput, repository: Option<String>) -> PyDecision {
        PyDecision {
            allowed: out.decision == "allow",
            out,
            repository,
        }
    }
}

impl Printed for PyDecision {
    fn output_value(&self) -> Value {
        let mut v = serde_json::to_value(&self.out).unwrap_or_default();
        if let (Some(repo), Some(o)) = (&self.repository, v.as_object_mut()) {
            o.insert("repository".into(), Value::from(repo.clone()));
        }
        v
    }
}

#[pymethods]
impl PyDecision {
    /// True only when the request may proceed.
    #[getter]
    fn allowed(&self) -> bool {
        self.allowed
    }

    /// The HTTP status (200, 400, 401, 403, 404; 503 for `policy-failure`).
    #[getter]
    fn status(&self) -> u16 {
        self.out.status
    }

    /// The reason code (`granted`, `public-read`, `scope-missing`, `policy-failure`, ...).
    #[getter]
    fn reason(&self) -> &str {
        &self.out.reason
    }

    /// A message for the user; None when the policy gave none (a plain allow).
    #[getter]
    fn message(&self) -> Option<&str> {
        (!self.out.message.is_empty()).then_some(self.out.message.as_str())
    }

    /// Detail for operators (never shown to users).
    #[getter]
    fn detail(&self) -> Option<&str> {
        self.out.detail.as_deref()
    }

    /// The repository, for a decision of a batch.
    #[getter]
    fn repository(&self) -> Option<&str> {
        self.repository.as_deref()
    }

    /// Whether the host denied because the policy could not decide.
    #[getter]
    fn is_policy_failure(&self) -> bool {
        self.out.reason == wit::POLICY_FAILURE_CODE
    }

    /// Per-ref verdicts of a push, in request order.
    #[getter]
    fn refs(&self) -> Vec<PyRefVerdict> {
        self.out
            .refs
            .iter()
            .map(|r| PyRefVerdict {
                name: r.name.clone(),
                allowed: r.decision == "allow",
                reason: r.reason.clone(),
                message: r.message.clone(),
            })
            .collect()
    }

    /// The explanation (requests with `"explain": true`).
    #[getter]
    fn trace(&self) -> Vec<PyTraceStep> {
        self.out
            .trace
            .iter()
            .map(|s| PyTraceStep {
                rule: s.rule.clone(),
                outcome: s.outcome.clone(),
                detail: s.detail.clone(),
            })
            .collect()
    }

    /// Exactly what `forge-authz decide` prints for this decision, as a dict.
    #[getter]
    fn output<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.output_py(py)
    }

    /// [`output`] as JSON text.
    fn to_json(&self) -> String {
        self.output_json()
    }

    fn __bool__(&self) -> PyResult<bool> {
        Err(PyTypeError::new_err(
            "a Decision has no truth value: test `decision.allowed`",
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "Decision(allowed={}, status={}, reason='{}'{})",
            py_bool(self.allowed),
            self.out.status,
            self.out.reason,
            self.repository
                .as_ref()
                .map_or(String::new(), |r| format!(", repository='{r}'"))
        )
    }
}

/// A bool as Python prints it (`True`, `False`), for the `__repr__`s.
fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// The verdict on one ref of a push.
#[pyclass(frozen, get_all, name = "RefVerdict", module = "forge_authz")]
struct PyRefVerdict {
    /// The ref's name as requested.
    name: String,
    /// The update may be applied (and the push as a whole is allowed).
    allowed: bool,
    /// The reason code.
    reason: String,
    /// What the user can do ("" for an allowed ref).
    message: String,
}

#[pymethods]
impl PyRefVerdict {
    fn __repr__(&self) -> String {
        format!(
            "RefVerdict(name='{}', allowed={}, reason='{}')",
            self.name,
            py_bool(self.allowed),
            self.reason
        )
    }
}

/// One step of an explanation.
#[pyclass(frozen, get_all, name = "TraceStep", module = "forge_authz")]
struct PyTraceStep {
    /// The rule.
    rule: String,
    /// `pass`, `decide` or `skip`.
    outcome: String,
    /// What it looked at.
    detail: String,
}

#[pymethods]
impl PyTraceStep {
    fn __repr__(&self) -> String {
        format!(
            "TraceStep(rule='{}', outcome='{}')",
            self.rule, self.outcome
        )
    }
}

/// The decisions of a batch, one per requested repository, in request order.
#[pyclass(frozen, name = "BatchDecision", module = "forge_authz")]
struct PyBatchDecision {
    items: Vec<Py<PyDecision>>,
}

#[pymethods]
impl PyBatchDecision {
    /// The decisions (each with its `repository`).
    #[getter]
    fn decisions(&self, py: Python<'_>) -> Vec<Py<PyDecision>> {
        self.items.iter().map(|d| d.clone_ref(py)).collect()
    }

    /// The repositories allowed, in request order.
    #[getter]
    fn allowed_repositories(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(|d| {
                let d = d.get();
                if d.allowed {
                    d.repository.clone()
                } else {
                    None
                }
            })
            .collect()
    }

    /// Exactly what `forge-authz decide` prints for the batch, as a list.
    #[getter]
    fn output<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.output_py(py)
    }

    /// [`output`] as JSON text.
    fn to_json(&self) -> String {
        self.output_json()
    }

    fn __len__(&self) -> usize {
        self.items.len()
    }

    fn __getitem__(&self, py: Python<'_>, index: isize) -> PyResult<Py<PyDecision>> {
        let len = isize::try_from(self.items.len()).unwrap_or(isize::MAX);
        let i = if index < 0 { index + len } else { index };
        usize::try_from(i)
            .ok()
            .and_then(|i| self.items.get(i))
            .map(|d| d.clone_ref(py))
            .ok_or_else(|| PyIndexError::new_err("batch index out of range"))
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.items.iter().map(|d| d.clone_ref(py)))?
            .as_any()
            .try_iter()
            .map(Bound::into_any)
    }

    fn __bool__(&self) -> PyResult<bool> {
        Err(PyTypeError::new_err(
            "a BatchDecision has no truth value: use `allowed_repositories` or each decision's `allowed`",
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "BatchDecision({} repositories, {} allowed)",
            self.items.len(),
            self.allowed_repositories().len()
        )
    }
}

impl Printed for PyBatchDecision {
    fn output_value(&self) -> Value {
        Value::Array(self.items.iter().map(|d| d.get().output_value()).collect())
    }
}

/// Permissions per ref: a subset of `create`, `push`, `force-push` each (none when the
/// policy could not decide).
#[pyclass(frozen, name = "RefPermissions", module = "forge_authz")]
struct PyRefPermissions {
    refs: Vec<(String, Vec<&'static str>)>,
}

impl PyRefPermissions {
    fn of(&self, name: &str) -> Option<&[&'static str]> {
        self.refs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_slice())
    }

    fn has(&self, name: &str, permission: &str) -> bool {
        self.of(name).is_some_and(|p| p.contains(&permission))
    }
}

impl Printed for PyRefPermissions {
    fn output_value(&self) -> Value {
        Value::Object(
            self.refs
                .iter()
                .map(|(n, p)| (n.clone(), Value::from(p.clone())))
                .collect(),
        )
    }
}

#[pymethods]
impl PyRefPermissions {
    /// The refs asked about, in request order.
    #[getter]
    fn refs(&self) -> Vec<String> {
        self.refs.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The ref may be created.
    fn can_create(&self, ref_name: &str) -> bool {
        self.has(ref_name, "create")
    }

    /// The ref may be pushed to (fast-forward).
    fn can_push(&self, ref_name: &str) -> bool {
        self.has(ref_name, "push")
    }

    /// The ref may be force-pushed or deleted.
    fn can_force_push(&self, ref_name: &str) -> bool {
        self.has(ref_name, "force-push")
    }

    /// Exactly what `forge-authz decide` prints: ref -> permissions, as a dict.
    #[getter]
    fn output<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.output_py(py)
    }

    /// [`output`] as JSON text.
    fn to_json(&self) -> String {
        self.output_json()
    }

    fn __getitem__(&self, ref_name: &str) -> PyResult<Vec<&'static str>> {
        self.of(ref_name)
            .map(<[&str]>::to_vec)
            .ok_or_else(|| PyKeyError::new_err(ref_name.to_string()))
    }

    fn __contains__(&self, ref_name: &str) -> bool {
        self.of(ref_name).is_some()
    }

    fn __len__(&self) -> usize {
        self.refs.len()
    }

    fn __repr__(&self) -> String {
        format!("RefPermissions({})", self.output_value())
    }
}

/// A genuine token's public ids (`Policy.verify`).
#[pyclass(frozen, get_all, name = "TokenInfo", module = "forge_authz")]
struct PyTokenInfo {
    /// The token's id: the key of its record.
    token_id: String,
    /// The id of the key that signed it.
    key_id: String,
}

#[pymethods]
impl PyTokenInfo {
    fn __repr__(&self) -> String {
        format!(
            "TokenInfo(token_id='{}', key_id='{}')",
            self.token_id, self.key_id
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyTokenInfo>()
            .is_ok_and(|o| o.get().token_id == self.token_id && o.get().key_id == self.key_id)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash as _, Hasher as _};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&self.token_id, &self.key_id).hash(&mut h);
        h.finish()
    }
}

/// A minted token: show `secret` once, store `record` (it holds the token's HMAC tag,
/// never the secret).
#[pyclass(frozen, name = "IssuedToken", module = "forge_authz")]
struct PyIssuedToken {
    secret: String,
    record: TokenDef,
}

#[pymethods]
impl PyIssuedToken {
    /// The token (`fzpat_…`): give it to the user once; it is stored nowhere.
    #[getter]
    fn secret(&self) -> &str {
        &self.secret
    }

    /// The token's id (its record's key).
    #[getter]
    fn token_id(&self) -> &str {
        &self.record.id
    }

    /// The record to store, as a dict in the world fixture's format.
    #[getter]
    fn record<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &serde_json::to_value(&self.record).unwrap_or_default())
    }

    /// The record as JSON text.
    fn record_json(&self) -> String {
        serde_json::to_string(&self.record).unwrap_or_default()
    }

    fn __repr__(&self) -> String {
        format!(
            "IssuedToken(token_id='{}', owner='{}', name='{}', secret=<redacted>)",
            self.record.id, self.record.owner, self.record.name
        )
    }
}

/// The module `forge_authz`.
#[pymodule]
#[pyo3(name = "forge_authz")]
fn forge_authz_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyPolicy>()?;
    m.add_class::<PyWorld>()?;
    m.add_class::<PyDecision>()?;
    m.add_class::<PyBatchDecision>()?;
    m.add_class::<PyRefPermissions>()?;
    m.add_class::<PyRefVerdict>()?;
    m.add_class::<PyTraceStep>()?;
    m.add_class::<PyTokenInfo>()?;
    m.add_class::<PyIssuedToken>()?;
    m.add("ForgeAuthzError", py.get_type::<ForgeAuthzError>())?;
    m.add("InvalidConfig", py.get_type::<InvalidConfig>())?;
    m.add("ModuleRefused", py.get_type::<ModuleRefused>())?;
    m.add("InvalidRequest", py.get_type::<InvalidRequest>())?;
    m.add("PolicyFailure", py.get_type::<PolicyFailure>())?;
    m.add("TokenRefused", py.get_type::<TokenRefused>())?;
    m.add("IssueRefused", py.get_type::<IssueRefused>())?;
    m.add("CONTRACT", CONTRACT)?;
    m.add("EMBEDDED_SHA256", EMBEDDED_POLICY_DIGEST)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! The policy (`Policy`): a live module, its configuration, a pool of warm instances; the
//! calls into it (decide, verify, issue) with the GIL released.

use pyo3::prelude::*;

use forge_authz_host::policy::{Policy, PolicyFailure as HostFailure};
use forge_authz_host::request::{
    CredentialDef, DecisionOutput, KindDef, MintOrder, Outcome, RequestDef, authorize, mint,
    outcome_output,
};
use forge_authz_host::trusted_pool::TrustedPool;
use forge_authz_host::wit::core as convert;
use forge_authz_host::world::TokenDef;

use crate::decision::{PyBatchDecision, PyDecision};
use crate::errors::{
    CallError, InvalidRequest, IssueRefused, ModuleRefused, TokenRefused, another_kind,
};
use crate::input::{candidate, config_of, request_of, trust_of};
use crate::json::{to_py, typed_arg};
use crate::permissions::PyRefPermissions;
use crate::source::{Prepared, PySource};
use crate::token::{PyIssuedToken, PyTokenInfo};
use crate::world::{PyWorld, read, write};
use forge_authz_fixture::boundary::{Boundary, settle};

/// A module refused at load or swap.
fn module_refused(e: impl std::fmt::Display) -> PyErr {
    ModuleRefused::new_err(format!("policy module refused: {e}"))
}

/// A loaded policy: the published module, its configuration, a pool of warm instances and
/// the trust every module it serves went through (issue 23). Safe to share between
/// threads; every call releases the GIL.
#[pyclass(frozen, name = "Policy", module = "forge_authz")]
pub(crate) struct PyPolicy {
    pool: TrustedPool,
}

impl PyPolicy {
    /// Run `f` on a warm instance of the current module (see [`WarmPool::with_instance`]:
    /// no instance is a policy failure, a panic too).
    fn with_instance<R>(
        &self,
        f: impl FnOnce(&mut dyn Policy) -> Result<R, CallError>,
    ) -> Result<R, CallError> {
        self.pool
            .pool()
            .with_instance(f)
            .map_err(|e| CallError::Host(e.to_string()))?
    }

    /// Read a request for the decide method `method` (which fills in its default kind),
    /// refuse a kind another method decides (`decide_json` decides every kind), and decide
    /// it with `facts`: a `World`, or a fact source (`budget`: its time budget, seconds).
    fn decide_as(
        &self,
        py: Python<'_>,
        facts: &Bound<'_, PyAny>,
        request: &Bound<'_, PyAny>,
        method: &str,
        budget: Option<f64>,
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
        if method != "decide_json" && decided_by != method {
            return Err(InvalidRequest::new_err(format!(
                "a {kind} request: use Policy.{decided_by} (or Policy.decide_json)"
            )));
        }
        if let Ok(world) = facts.cast::<PyWorld>() {
            return self.outcome(py, world.get(), &req);
        }
        self.outcome_with(py, PySource::prepare(facts, budget)?, &req)
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

    /// Decide `request` with facts from `source`'s callbacks through the boundary adapter,
    /// the GIL released (each callback takes it for its call only). A callback's failure
    /// is the policy-failure outcome (also before the policy, in `ssh_key`); a
    /// `KeyboardInterrupt` or `SystemExit` from a callback is raised once the decision is
    /// abandoned.
    fn outcome_with(
        &self,
        py: Python<'_>,
        facts: Prepared,
        request: &RequestDef,
    ) -> PyResult<Outcome> {
        let Prepared {
            source,
            budget,
            now,
        } = facts;
        let boundary = Boundary::new(source, budget);
        let outcome = py.detach(|| {
            self.with_instance(|instance| {
                let result = authorize(instance, &boundary, request, now);
                settle(&boundary, request, result).map_err(|e| CallError::Request(format!("{e:#}")))
            })
        });
        if let Some(raised) = boundary.callbacks().take_raised() {
            return Err(raised);
        }
        outcome.map_err(CallError::into_py)
    }
}

/// A decide method's answer, from the outcome of its request (`py`: a batch's decisions
/// are Python objects).
trait FromOutcome: Sized {
    fn from_outcome(py: Python<'_>, outcome: Outcome) -> PyResult<Self>;
}

impl FromOutcome for PyDecision {
    fn from_outcome(_: Python<'_>, outcome: Outcome) -> PyResult<Self> {
        match outcome {
            Outcome::Decision(d) => Ok(PyDecision::new(DecisionOutput::from(&d), None)),
            _ => Err(another_kind()),
        }
    }
}

impl FromOutcome for PyBatchDecision {
    fn from_outcome(py: Python<'_>, outcome: Outcome) -> PyResult<Self> {
        let Outcome::Batch(list) = outcome else {
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
}

impl FromOutcome for PyRefPermissions {
    fn from_outcome(_: Python<'_>, outcome: Outcome) -> PyResult<Self> {
        match outcome {
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
}

/// `decide_json`'s answer: exactly what `forge-authz decide` prints, as JSON text.
impl FromOutcome for String {
    fn from_outcome(_: Python<'_>, outcome: Outcome) -> PyResult<Self> {
        Ok(outcome_output(&outcome).0.to_string())
    }
}

/// The `#[pymethods]` of `Policy`: first the decide methods, each `fn name(facts, request,
/// *, budget=None) -> answer`, which decides the request as [`PyPolicy::decide_as`] reads it for the method
/// and answers as [`FromOutcome`] says; then the other methods.
macro_rules! policy_pymethods {
    (
        decide: { $( $(#[doc = $doc:literal])* fn $name:ident -> $answer:ty; )* }
        $($methods:tt)*
    ) => {
        #[pymethods]
        impl PyPolicy {
            $(
                $(#[doc = $doc])*
                #[pyo3(signature = (facts, request, *, budget = None))]
                fn $name(
                    &self,
                    py: Python<'_>,
                    facts: &Bound<'_, PyAny>,
                    request: &Bound<'_, PyAny>,
                    budget: Option<f64>,
                ) -> PyResult<$answer> {
                    let outcome =
                        self.decide_as(py, facts, request, stringify!($name), budget)?;
                    <$answer>::from_outcome(py, outcome)
                }
            )*

            $($methods)*
        }
    };
}

policy_pymethods! {
    decide: {
        /// Decide a git, create or api request with `facts`: a `World`, or a fact source
        /// (an object with `token`, `user`, `repository`, `namespace`; `budget`: seconds
        /// all its callbacks of this decision may take, default its attribute `budget`,
        /// else 0.25).
        fn decide -> PyDecision;
        /// Decide one git action against many repositories (`kind` defaults to `batch`).
        fn decide_batch -> PyBatchDecision;
        /// What the credential may do to each ref (`kind` defaults to `ref-permissions`):
        /// Launchpad's `checkRefPermissions`.
        fn ref_permissions -> PyRefPermissions;
        /// Decide a request of any kind; returns exactly what `forge-authz decide` prints
        /// (JSON text): one decision, a list for a batch, a ref -> permissions map.
        fn decide_json -> String;
    }

    /// `Policy(config, module=None, *, signature=None, trust=None)`: check `module` (the
    /// component's bytes; None: the module embedded in this extension, trusted as built)
    /// as a server does before serving, with `config` (`{"keys": [{"id", "secret" (hex)}],
    /// "signing_key", "options"}`, a world dict, JSON text or a `World`). Module bytes need
    /// `signature` (the `.minisig` text) by a key in `trust` (`{"public_keys": [...],
    /// "retired_keys": [...], "allow_unsigned": False}`): else `ModuleRefused`
    /// ("policy module refused: unsigned: …") unless `allow_unsigned`.
    #[new]
    #[pyo3(signature = (config, module = None, *, signature = None, trust = None))]
    fn new(
        py: Python<'_>,
        config: &Bound<'_, PyAny>,
        module: Option<&[u8]>,
        signature: Option<&str>,
        trust: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        PyPolicy::load(py, module, config, signature, trust)
    }

    /// `Policy.load(module, config, *, signature=None, trust=None)`: the same as
    /// `Policy(config, module, ...)`.
    #[staticmethod]
    #[pyo3(signature = (module, config, *, signature = None, trust = None))]
    fn load(
        py: Python<'_>,
        module: Option<&[u8]>,
        config: &Bound<'_, PyAny>,
        signature: Option<&str>,
        trust: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let config = config_of(config)?;
        let trust = trust_of(trust)?;
        let pool = py
            .detach(|| TrustedPool::load(candidate(module, signature), config, trust))
            .map_err(module_refused)?;
        Ok(PyPolicy { pool })
    }

    /// Swap in another module version at run time (None: the embedded module), its
    /// `signature` verified with the policy's trust (a version not below the highest made
    /// live) and checked as at load; a refused module raises `ModuleRefused` and the
    /// current one keeps serving. Calls already running finish on the old version. Returns
    /// the new generation.
    #[pyo3(signature = (module, *, signature = None))]
    fn swap(&self, py: Python<'_>, module: Option<&[u8]>, signature: Option<&str>) -> PyResult<u64> {
        py.detach(|| self.pool.swap(candidate(module, signature)))
            .map_err(module_refused)
    }

    /// How the serving module was trusted: `{"module": "built-in" | "signed" | "unsigned",
    /// "version", "signer", "allow_unsigned", "floor", "trusted_keys", "retired_keys"}`.
    #[getter]
    fn trust<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let status = serde_json::to_value(self.pool.status())
            .map_err(|e| CallError::Host(e.to_string()).into_py())?;
        to_py(py, &status)
    }

    /// SHA-256 (hex) of the module serving now.
    #[getter]
    fn sha256(&self) -> String {
        self.pool.pool().live().current().module.sha256().to_string()
    }

    /// Publication number of the module serving now (1 at load, +1 per swap).
    #[getter]
    fn generation(&self) -> u64 {
        self.pool.pool().live().generation()
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

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
//! - `Policy.decide(facts, request, *, budget=None) -> Decision`, `decide_batch ->
//!   BatchDecision`, `ref_permissions -> RefPermissions`, `decide_json -> str` (any kind,
//!   exactly `forge-authz decide`'s JSON); `facts` is a `World` or a fact source, any object
//!   with the methods `token`, `user`, `repository`, `namespace` (`source`: the forge's
//!   callbacks through the shared boundary adapter, design §4).
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
//! **Threads.** Every decision releases the GIL: the world is read under its own lock (a
//! fact source's callbacks take the GIL for their own call only) and the call runs on a
//! warm instance taken from the policy's pool (built when the pool is empty, given back
//! after the call), so Python threads decide in parallel.
//!
//! **Modules**, each built only on the ones listed before it: `errors` (the exceptions),
//! `json` (Python values <-> JSON), `token` (`TokenInfo`, `IssuedToken`), `world`
//! (`World` and its lock), `decision` (`Decision`, `RefVerdict`, `TraceStep`,
//! `BatchDecision`), `permissions` (`RefPermissions`), `input` (a call's arguments read
//! into the host's types), `source` (a Python fact source as the boundary adapter's
//! callbacks), `policy` (`Policy` and its calls); this file defines the Python module.

mod decision;
mod errors;
mod input;
mod json;
mod permissions;
mod policy;
mod source;
mod token;
mod world;

use pyo3::prelude::*;

use forge_authz_host::policy::EMBEDDED_POLICY_DIGEST;

use crate::decision::{PyBatchDecision, PyDecision, PyRefVerdict, PyTraceStep};
use crate::errors::{
    ForgeAuthzError, InvalidConfig, InvalidRequest, IssueRefused, ModuleRefused, PolicyFailure,
    TokenRefused,
};
use crate::permissions::PyRefPermissions;
use crate::policy::PyPolicy;
use crate::token::{PyIssuedToken, PyTokenInfo};
use crate::world::PyWorld;

/// The WIT contract this module speaks (`forge:authz@…`).
const CONTRACT: &str = forge_authz_host::wit::WIT_VERSION;

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

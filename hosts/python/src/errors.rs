//! The exceptions of `forge_authz` (each a subclass of `ForgeAuthzError`) and how a call
//! into the policy that produced nothing becomes one.

use pyo3::PyErr;
use pyo3::exceptions::PyException;

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

/// Why a call into the policy produced nothing.
pub(crate) enum CallError {
    /// The request could not be read (an exception of the caller's making).
    Request(String),
    /// The host failed (a panic, a failure outside a decision).
    Host(String),
}

impl CallError {
    /// The exception for this failure: `InvalidRequest` or `PolicyFailure`.
    pub(crate) fn into_py(self) -> PyErr {
        match self {
            CallError::Request(e) => InvalidRequest::new_err(e),
            CallError::Host(e) => PolicyFailure::new_err(e),
        }
    }
}

/// The host answered a kind the request did not ask for (a bug, never an allow).
pub(crate) fn another_kind() -> PyErr {
    PolicyFailure::new_err("the host answered another kind")
}

//! Tokens handed back to Python: a verified token's ids (`TokenInfo`) and a minted token
//! (`IssuedToken`).

use pyo3::prelude::*;

use forge_authz_host::world::TokenDef;

use crate::json::to_py;

/// A genuine token's public ids (`Policy.verify`).
#[pyclass(frozen, get_all, name = "TokenInfo", module = "forge_authz")]
pub(crate) struct PyTokenInfo {
    /// The token's id: the key of its record.
    pub(crate) token_id: String,
    /// The id of the key that signed it.
    pub(crate) key_id: String,
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
pub(crate) struct PyIssuedToken {
    /// The token: shown once, stored nowhere.
    pub(crate) secret: String,
    /// The token's record, as the world fixture lists it.
    pub(crate) record: TokenDef,
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

//! What a credential may do to each ref (`RefPermissions`).

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use serde_json::Value;

use crate::json::{Printed, printed_pymethods};

/// Permissions per ref: a subset of `create`, `push`, `force-push` each (none when the
/// policy could not decide).
#[pyclass(frozen, name = "RefPermissions", module = "forge_authz")]
pub(crate) struct PyRefPermissions {
    /// Each ref asked about with its permissions, in request order.
    pub(crate) refs: Vec<(String, Vec<&'static str>)>,
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

printed_pymethods! {
    impl PyRefPermissions {
        output: "Exactly what `forge-authz decide` prints: ref -> permissions, as a dict.";
    }

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

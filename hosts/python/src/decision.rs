//! Decisions (`Decision`, its `RefVerdict`s and `TraceStep`s) and the decisions of a batch
//! (`BatchDecision`).

use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::Value;

use forge_authz_host::request::{DecisionOutput, RefVerdictOutput, TraceStepOutput};
use forge_authz_host::wit;

use crate::json::{Printed, printed_pymethods};

/// One decision. `allowed` is true only for an allow; a policy that could not decide is
/// a deny with reason `policy-failure` (status 503).
#[pyclass(frozen, name = "Decision", module = "forge_authz")]
pub(crate) struct PyDecision {
    out: DecisionOutput,
    allowed: bool,
    repository: Option<String>,
}

impl PyDecision {
    /// A decision from its output; `repository` for a decision of a batch.
    pub(crate) fn new(out: DecisionOutput, repository: Option<String>) -> PyDecision {
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

printed_pymethods! {
    impl PyDecision {
        output: "Exactly what `forge-authz decide` prints for this decision, as a dict.";
        no_truth_value: "a Decision has no truth value: test `decision.allowed`";
    }

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
        self.out.refs.iter().map(PyRefVerdict::from).collect()
    }

    /// The explanation (requests with `"explain": true`).
    #[getter]
    fn trace(&self) -> Vec<PyTraceStep> {
        self.out.trace.iter().map(PyTraceStep::from).collect()
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
pub(crate) struct PyRefVerdict {
    /// The ref's name as requested.
    name: String,
    /// The update may be applied (and the push as a whole is allowed).
    allowed: bool,
    /// The reason code.
    reason: String,
    /// What the user can do ("" for an allowed ref).
    message: String,
}

impl From<&RefVerdictOutput> for PyRefVerdict {
    fn from(r: &RefVerdictOutput) -> Self {
        PyRefVerdict {
            name: r.name.clone(),
            allowed: r.decision == "allow",
            reason: r.reason.clone(),
            message: r.message.clone(),
        }
    }
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
pub(crate) struct PyTraceStep {
    /// The rule.
    rule: String,
    /// `pass`, `decide` or `skip`.
    outcome: String,
    /// What it looked at.
    detail: String,
}

impl From<&TraceStepOutput> for PyTraceStep {
    fn from(s: &TraceStepOutput) -> Self {
        PyTraceStep {
            rule: s.rule.clone(),
            outcome: s.outcome.clone(),
            detail: s.detail.clone(),
        }
    }
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
pub(crate) struct PyBatchDecision {
    /// The decisions, in request order.
    pub(crate) items: Vec<Py<PyDecision>>,
}

printed_pymethods! {
    impl PyBatchDecision {
        output: "Exactly what `forge-authz decide` prints for the batch, as a list.";
        no_truth_value: "a BatchDecision has no truth value: use `allowed_repositories` or each decision's `allowed`";
    }

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

//! Facts from the forge through callbacks (docs/design/fact-sources.md §4): any Python
//! object with the fact-source methods, seen by the shared boundary adapter
//! (`forge_authz_fixture::boundary`) as its [`Callbacks`].
//!
//! The adapter holds every rule of the answer (strict parsing, the name asked, the token
//! digest, the time budget, the first failure kept); this file only crosses into Python:
//! - **The GIL only inside a callback.** The decision runs with the GIL released
//!   (`PyPolicy::outcome_with`); each callback takes it (`Python::attach`) for the one
//!   method call and the reading of its answer, and gives it back.
//! - **Answers.** `None` is "no such fact"; a per-fact answer is read straight into its
//!   strict type (`json::from_py`, as strict as the JSON value) and handed to the adapter
//!   as [`Answer::Parsed`], which checks it as a JSON answer (the name asked, the token
//!   digest). An answer it refuses, and the `repositories` / `lookup` overrides' answers,
//!   are converted to a JSON value (`json::to_json`) and parsed by the adapter, whose
//!   error names the field: so a `str`, a list or an object that is not JSON data fails
//!   the decision, never reads as absent.
//! - **Exceptions.** An `Exception` from a callback is the failure `"<Type>: <message>"`
//!   (the decision is the `policy-failure` deny, with that in its `detail`). A
//!   `BaseException` that is not an `Exception` (`KeyboardInterrupt`, `SystemExit`) fails
//!   the decision too, and is kept: the caller raises it once the decision is abandoned
//!   ([`PySource::take_raised`]), so Ctrl-C is never swallowed and never an allow.
//! - **Optional methods** (`ssh_key`, `repositories`, `lookup`, `observe`, `now`, the
//!   attribute `budget`) are looked up before the GIL is released: on the class once (a
//!   missing attribute costs an exception per look), then in the instance's `__dict__`.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyType};

use forge_authz_fixture::boundary::{
    Answer, Asked, Callbacks, DEFAULT_BUDGET, Fact, Parsed, Reply,
};

use crate::json::{from_py, to_json};

/// The methods a fact source must have.
const REQUIRED: [&str; 4] = ["token", "user", "repository", "namespace"];

/// The optional attributes a fact source has (methods, and `budget`).
#[derive(Clone, Copy, Debug, Default)]
struct Optional {
    ssh_key: bool,
    repositories: bool,
    lookup: bool,
    observe: bool,
    now: bool,
    budget: bool,
}

impl Optional {
    /// The attributes for which `has` says yes (names interned: no string built per look).
    fn of<'py>(
        py: Python<'py>,
        mut has: impl FnMut(&Bound<'py, PyString>) -> PyResult<bool>,
    ) -> PyResult<Self> {
        Ok(Optional {
            ssh_key: has(pyo3::intern!(py, "ssh_key"))?,
            repositories: has(pyo3::intern!(py, "repositories"))?,
            lookup: has(pyo3::intern!(py, "lookup"))?,
            observe: has(pyo3::intern!(py, "observe"))?,
            now: has(pyo3::intern!(py, "now"))?,
            budget: has(pyo3::intern!(py, "budget"))?,
        })
    }

    fn or(self, o: Optional) -> Optional {
        Optional {
            ssh_key: self.ssh_key || o.ssh_key,
            repositories: self.repositories || o.repositories,
            lookup: self.lookup || o.lookup,
            observe: self.observe || o.observe,
            now: self.now || o.now,
            budget: self.budget || o.budget,
        }
    }
}

/// How many classes of fact sources [`CLASSES`] remembers (then it starts again).
const CLASSES_KEPT: usize = 64;

/// The optional attributes of each class of fact source seen, by the class (kept alive, so
/// its address is not reused). Looking a missing attribute up raises and clears an
/// `AttributeError` (a few microseconds in CPython < 3.13); a class is asked once.
static CLASSES: Mutex<Vec<(Py<PyType>, Optional)>> = Mutex::new(Vec::new());

/// The optional attributes of `obj`: its class's (looked up once per class), and those in
/// its instance `__dict__` (a dictionary lookup, no exception).
fn optional_of(obj: &Bound<'_, PyAny>) -> PyResult<Optional> {
    let py = obj.py();
    let class = obj.get_type();
    let known = CLASSES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|(c, _)| c.is(&class))
        .map(|(_, o)| *o);
    let of_class = match known {
        Some(o) => o,
        None => {
            let o = Optional::of(py, |name| class.hasattr(name))?;
            let mut classes = CLASSES.lock().unwrap_or_else(PoisonError::into_inner);
            if classes.len() >= CLASSES_KEPT {
                classes.clear();
            }
            classes.push((class.clone().unbind(), o));
            o
        }
    };
    let of_instance = match obj.getattr_opt(pyo3::intern!(py, "__dict__"))? {
        Some(d) => match d.cast::<PyDict>() {
            Ok(d) => Optional::of(py, |name| d.contains(name))?,
            Err(_) => Optional::default(),
        },
        None => Optional::default(),
    };
    Ok(of_class.or(of_instance))
}

/// A Python fact source as the adapter's callbacks.
pub(crate) struct PySource {
    obj: Py<PyAny>,
    optional: Optional,
    /// The first `BaseException` that is not an `Exception`, to raise after the decision.
    raised: Mutex<Option<PyErr>>,
}

/// A fact source read for one decision: its callbacks, their time budget, the clock.
pub(crate) struct Prepared {
    pub(crate) source: PySource,
    pub(crate) budget: Duration,
    pub(crate) now: i64,
}

impl PySource {
    /// `obj` as a fact source for one decision (a `TypeError` when it lacks a required
    /// method), with the time budget of its callbacks (`budget` seconds as given, else its
    /// attribute `budget`, else 250 ms) and the decision's clock (its `now()`, else the
    /// system clock).
    pub(crate) fn prepare(obj: &Bound<'_, PyAny>, budget: Option<f64>) -> PyResult<Prepared> {
        let py = obj.py();
        let required = [
            pyo3::intern!(py, "token"),
            pyo3::intern!(py, "user"),
            pyo3::intern!(py, "repository"),
            pyo3::intern!(py, "namespace"),
        ];
        for (m, name) in REQUIRED.iter().zip(required) {
            if !obj.hasattr(name)? {
                return Err(PyTypeError::new_err(format!(
                    "facts: a World or a fact source with the methods {} (`{m}` is missing)",
                    REQUIRED.join(", ")
                )));
            }
        }
        let optional = optional_of(obj)?;
        let seconds = match budget {
            Some(s) => Some(s),
            None if optional.budget => Some(obj.getattr(pyo3::intern!(py, "budget"))?.extract()?),
            None => None,
        };
        let budget = match seconds {
            None => DEFAULT_BUDGET,
            Some(s) => Duration::try_from_secs_f64(s).map_err(|_| {
                PyValueError::new_err(format!("budget: {s} is not a number of seconds"))
            })?,
        };
        let now = if optional.now {
            obj.call_method0(pyo3::intern!(py, "now"))?.extract()?
        } else {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        };
        Ok(Prepared {
            source: PySource {
                obj: obj.clone().unbind(),
                optional,
                raised: Mutex::new(None),
            },
            budget,
            now,
        })
    }

    /// The `BaseException` a callback raised that must reach the caller, taken.
    pub(crate) fn take_raised(&self) -> Option<PyErr> {
        self.raised
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// A callback's exception as the decision's failure; a `BaseException` that is not an
    /// `Exception` is also kept for the caller.
    fn failed(&self, py: Python<'_>, e: PyErr) -> anyhow::Error {
        let type_name = e
            .get_type(py)
            .name()
            .map_or_else(|_| "?".to_string(), |n| n.to_string());
        if e.is_instance_of::<PyException>(py) {
            return anyhow!("{type_name}: {}", e.value(py));
        }
        let failure = anyhow!("{type_name} raised in a fact callback");
        self.raised
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(e);
        failure
    }

    /// Call one method of the source (with the GIL, for this call only) and read its
    /// answer with `read`: `None` is absent.
    fn call<R>(
        &self,
        call: impl for<'py> FnOnce(&Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>>,
        read: impl FnOnce(&Bound<'_, PyAny>) -> anyhow::Result<R>,
    ) -> anyhow::Result<Option<R>> {
        Python::attach(|py| match call(self.obj.bind(py)) {
            Ok(v) if v.is_none() => Ok(None),
            Ok(v) => read(&v).map(Some),
            Err(e) => Err(self.failed(py, e)),
        })
    }

    /// A per-fact method's answer, read straight into its strict type `T` (while the GIL
    /// is held); one `T` refuses goes to the adapter as a JSON value, whose refusal names
    /// the field.
    fn fact<T: Fact>(
        &self,
        parsed: fn(T) -> Parsed,
        call: impl for<'py> FnOnce(&Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>>,
    ) -> anyhow::Result<Option<Reply>> {
        self.call(call, |v| {
            Ok(match from_py::<T>(v) {
                Some(t) => Reply::Parsed(parsed(t)),
                None => Reply::Answer(value(v)?),
            })
        })
    }

    /// An optional override's answer, as a JSON value: `None` from Python is a failure
    /// (it was asked).
    fn required_answer(
        &self,
        call: impl for<'py> FnOnce(&Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>>,
    ) -> anyhow::Result<Answer> {
        self.call(call, value)?
            .ok_or_else(|| anyhow!("answered None (an override answers every query)"))
    }
}

/// An answer as a JSON value (an error names the field).
fn value(v: &Bound<'_, PyAny>) -> anyhow::Result<Answer> {
    to_json(v, 0)
        .map(Answer::Value)
        .map_err(|e| anyhow!("the answer is not JSON data: {e}"))
}

impl Callbacks for PySource {
    fn reply(&self, asked: Asked<'_>) -> anyhow::Result<Option<Reply>> {
        match asked {
            Asked::Token(id) => self.fact(Parsed::Token, |o| {
                o.call_method1(pyo3::intern!(o.py(), "token"), (id,))
            }),
            Asked::User(name) => self.fact(Parsed::User, |o| {
                o.call_method1(pyo3::intern!(o.py(), "user"), (name,))
            }),
            Asked::Repository(path, viewer) => self.fact(Parsed::Repository, |o| {
                o.call_method1(pyo3::intern!(o.py(), "repository"), (path, viewer))
            }),
            Asked::Namespace(name, viewer) => self.fact(Parsed::Namespace, |o| {
                o.call_method1(pyo3::intern!(o.py(), "namespace"), (name, viewer))
            }),
            Asked::SshKey(_) if !self.optional.ssh_key => Ok(None),
            Asked::SshKey(id) => self.fact(Parsed::SshKey, |o| {
                o.call_method1(pyo3::intern!(o.py(), "ssh_key"), (id,))
            }),
        }
    }
    // The adapter asks `reply`; these are its answers in the boundary format.
    fn token(&self, id: &str) -> anyhow::Result<Option<Answer>> {
        Reply::answer(self.reply(Asked::Token(id)))
    }
    fn user(&self, name: &str) -> anyhow::Result<Option<Answer>> {
        Reply::answer(self.reply(Asked::User(name)))
    }
    fn repository(&self, path: &str, viewer: Option<&str>) -> anyhow::Result<Option<Answer>> {
        Reply::answer(self.reply(Asked::Repository(path, viewer)))
    }
    fn namespace(&self, name: &str, viewer: Option<&str>) -> anyhow::Result<Option<Answer>> {
        Reply::answer(self.reply(Asked::Namespace(name, viewer)))
    }
    fn ssh_key(&self, id: &str) -> anyhow::Result<Option<Answer>> {
        Reply::answer(self.reply(Asked::SshKey(id)))
    }
    fn repositories(
        &self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> Option<anyhow::Result<Answer>> {
        if !self.optional.repositories {
            return None;
        }
        Some(self.required_answer(|o| {
            o.call_method1(pyo3::intern!(o.py(), "repositories"), (paths, viewer))
        }))
    }
    fn lookup(&self, query_json: &str) -> Option<anyhow::Result<Answer>> {
        if !self.optional.lookup {
            return None;
        }
        Some(
            self.required_answer(|o| {
                o.call_method1(pyo3::intern!(o.py(), "lookup"), (query_json,))
            }),
        )
    }
    fn reads_queries(&self) -> bool {
        // Without `observe`, `lookup` or `repositories` nothing reads the query JSON.
        self.optional.observe || self.optional.lookup || self.optional.repositories
    }
    fn observe(&self, asked_json: &str) {
        if !self.optional.observe {
            return;
        }
        Python::attach(|py| {
            let obj = self.obj.bind(py);
            if let Err(e) = obj.call_method1(pyo3::intern!(py, "observe"), (asked_json,)) {
                // The hook cannot fail the decision: an Exception is reported as Python
                // reports an error it cannot raise; a KeyboardInterrupt is kept.
                if e.is_instance_of::<PyException>(py) {
                    e.write_unraisable(py, Some(obj));
                } else {
                    let _ = self.failed(py, e);
                }
            }
        });
    }
}

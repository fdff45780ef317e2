//! Python values <-> JSON values: arguments given as Python data or JSON text, typed
//! values read from them, and results handed back as Python data or JSON text.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::Value;

/// Deepest nesting accepted from Python (the formats need four levels).
const MAX_DEPTH: usize = 64;

/// A Python value as JSON: dict (string keys), list, tuple, str, int, float, bool, None.
pub(crate) fn to_json(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, String> {
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

/// A Python value read straight into `T`, without the JSON value between: what `T` would
/// read from [`to_json`]'s value, or `None` when that might differ (then read the JSON
/// value, whose refusal names the field). `T` sees the visits `serde_json::Value` makes (a
/// bool only from a `bool`, a string only from a `str`, an array from a list or tuple, an
/// object from a dict with `str` keys, no float that is not finite, the same depth), never
/// more lenient. Not `pythonize`: its `Depythonizer` reads any object as a bool by its
/// truth (`nan`, `"no"` would be `true`), a `str`, set or any sequence as a list and any
/// mapping or dataclass as an object, which the strict answer must refuse.
pub(crate) fn from_py<T: DeserializeOwned>(obj: &Bound<'_, PyAny>) -> Option<T> {
    T::deserialize(PyValue(obj, 0)).ok()
}

/// A Python value at a depth, as a serde `Deserializer` (see [`from_py`]).
struct PyValue<'a, 'py>(&'a Bound<'py, PyAny>, usize);

/// The error of [`PyValue`]: only "not this way" (the JSON value gives the message).
type Refused = de::value::Error;

fn refused() -> Refused {
    de::Error::custom("refused")
}

impl<'de> de::Deserializer<'de> for PyValue<'_, '_> {
    type Error = Refused;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Refused> {
        let PyValue(obj, depth) = self;
        if depth > MAX_DEPTH {
            return Err(refused());
        }
        if obj.is_none() {
            return v.visit_unit();
        }
        // In `to_json`'s order: bool before int (`True` is an int in Python).
        if let Ok(b) = obj.cast::<PyBool>() {
            return v.visit_bool(b.is_true());
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return v.visit_str(s.to_str().map_err(|_| refused())?);
        }
        if let Ok(i) = obj.cast::<PyInt>() {
            // As a JSON number: non-negative ones are u64.
            return match (i.extract::<i64>(), i.extract::<u64>()) {
                (Ok(n), _) if n < 0 => v.visit_i64(n),
                (_, Ok(n)) => v.visit_u64(n),
                _ => Err(refused()),
            };
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            let x = f.value();
            return if x.is_finite() {
                v.visit_f64(x)
            } else {
                Err(refused())
            };
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            return v.visit_map(Dict {
                items: d.iter(),
                value: None,
                depth,
            });
        }
        if let Ok(l) = obj.cast::<PyList>() {
            return v.visit_seq(Items(l.iter(), depth));
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            return v.visit_seq(Items(t.iter(), depth));
        }
        Err(refused())
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Refused> {
        if self.0.is_none() {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Refused> {
        // Unit variants by name only (the boundary's enums); anything else: the JSON value.
        let s = self.0.cast::<PyString>().map_err(|_| refused())?;
        let name = s.to_str().map_err(|_| refused())?;
        v.visit_enum(IntoDeserializer::<Refused>::into_deserializer(name))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Refused> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Refused> {
        // Read (and so checked) all the same: an ignored value that is not JSON data fails.
        self.deserialize_any(v)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// The items of a list or a tuple (at the depth of their container).
struct Items<I>(I, usize);

impl<'de, 'py, I: Iterator<Item = Bound<'py, PyAny>>> de::SeqAccess<'de> for Items<I> {
    type Error = Refused;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Refused> {
        match self.0.next() {
            Some(item) => seed.deserialize(PyValue(&item, self.1 + 1)).map(Some),
            None => Ok(None),
        }
    }
}

/// The entries of a dict (at its depth); a key that is not a `str` is refused.
struct Dict<'py, I> {
    items: I,
    value: Option<Bound<'py, PyAny>>,
    depth: usize,
}

impl<'de, 'py, I> de::MapAccess<'de> for Dict<'py, I>
where
    I: Iterator<Item = (Bound<'py, PyAny>, Bound<'py, PyAny>)>,
{
    type Error = Refused;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Refused> {
        let Some((key, value)) = self.items.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        let key = key.cast::<PyString>().map_err(|_| refused())?;
        let key = key.to_str().map_err(|_| refused())?;
        seed.deserialize(IntoDeserializer::<Refused>::into_deserializer(key))
            .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Refused> {
        let value = self.value.take().ok_or_else(refused)?;
        seed.deserialize(PyValue(&value, self.depth + 1))
    }
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
pub(crate) fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
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
pub(crate) fn json_arg(obj: &Bound<'_, PyAny>) -> Result<Value, String> {
    match obj.cast::<PyString>() {
        Ok(s) => {
            let text = s.to_str().map_err(|e| e.to_string())?;
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
        }
        Err(_) => to_json(obj, 0),
    }
}

/// A typed value from JSON; an error names the field (`refs[0].name: missing field`).
pub(crate) fn typed<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        format!("{path}: {}", e.into_inner())
    })
}

/// A typed value from JSON text or Python data; an error (reading or typing) is prefixed
/// with `what` (`credential: …`).
pub(crate) fn typed_arg<T: serde::de::DeserializeOwned>(
    obj: &Bound<'_, PyAny>,
    what: &str,
) -> Result<T, String> {
    let v = json_arg(obj).map_err(|e| format!("{what}: {e}"))?;
    typed(v).map_err(|e| format!("{what}: {e}"))
}

/// A result `forge-authz decide` prints: its `output` (Python data) and `to_json` (text)
/// both come from its one JSON value.
pub(crate) trait Printed {
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

/// The `#[pymethods]` of a [`Printed`] class: its `output` getter (what `forge-authz
/// decide` prints, as Python data; `output:` its docstring) and `to_json` (as JSON text),
/// then the class's own methods (after the braces). With `no_truth_value:`, `__bool__` raises `TypeError`
/// with that message: a decision says allow only by its `allowed`, never by `if decision:`.
macro_rules! printed_pymethods {
    (
        impl $class:ident {
            output: $output:literal;
            $(no_truth_value: $why:literal;)?
        }
        $($methods:tt)*
    ) => {
        #[::pyo3::pymethods]
        impl $class {
            #[doc = $output]
            #[getter]
            fn output<'py>(
                &self,
                py: ::pyo3::Python<'py>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                $crate::json::Printed::output_py(self, py)
            }

            /// [`output`] as JSON text.
            fn to_json(&self) -> String {
                $crate::json::Printed::output_json(self)
            }

            $(
                fn __bool__(&self) -> ::pyo3::PyResult<bool> {
                    Err(::pyo3::exceptions::PyTypeError::new_err($why))
                }
            )?

            $($methods)*
        }
    };
}
pub(crate) use printed_pymethods;

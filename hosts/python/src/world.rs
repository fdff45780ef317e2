//! The world: the facts a forge supplies (`World`), read and written under its own lock.

use std::path::PathBuf;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use pyo3::prelude::*;

use forge_authz_host::world::{TokenDef, World};

use crate::errors::{ForgeAuthzError, InvalidConfig};
use crate::json::typed_arg;
use crate::token::PyIssuedToken;

// Locks (a poisoned lock only means a panic elsewhere; the value is still whole).

/// The value under `l`, read.
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The value under `l`, written.
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Facts a forge supplies: a world fixture (users, organisations, repositories, token
/// records, SSH keys, `now`). Readable by many threads at once.
#[pyclass(frozen, name = "World", module = "forge_authz")]
pub(crate) struct PyWorld {
    /// The world fixture; decisions read it, `put_token` and `issue` write it.
    pub(crate) world: RwLock<World>,
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

//! The host side of the component's `facts` import: the caller's fact source, lent to
//! the store for one call, asked at most once per call, its core answers crossed into WIT
//! here (the one place the facts meet the WIT types).

use wasmtime::StoreLimits;
use wasmtime::format_err;

use crate::facts::{FactSource, Gathered};
use crate::wit::core as convert;
use crate::wit::{FactAnswer, FactQuery, RepositoryFacts};

/// The fact source of the call in progress, lent to the store for that call only.
///
/// The `facts` import runs inside a policy call made by this thread, so the host lends the
/// caller's `&dyn FactSource` to the store for exactly the duration of that call
/// ([`WasmPolicy::lend`]) and takes it back before the call returns (also when it
/// unwinds). Outside a call the slot is empty, and an import that finds it empty traps.
pub(super) struct Lent(pub(super) Option<std::ptr::NonNull<dyn FactSource + 'static>>);

// SAFETY: the pointer is set and cleared by the thread that owns the store, around one
// synchronous call, and only dereferenced by an import running inside that call on that
// thread; it is never read on another thread, nor after the call.
#[allow(unsafe_code)]
unsafe impl Send for Lent {}

/// How often the policy may ask per call, whatever a module does: the contract says once
/// each; more is a misbehaving module, and traps (a deny).
const MAX_LOOKUPS_PER_CALL: u32 = 1;

pub(super) struct HostState {
    pub(super) limits: StoreLimits,
    pub(super) facts: Lent,
    pub(super) lookups: u32,
    pub(super) batch_lookups: u32,
    pub(super) gathered: Gathered,
}

impl HostState {
    fn source(&self) -> wasmtime::Result<&dyn FactSource> {
        match self.facts.0 {
            // SAFETY: see `Lent`: set only for the duration of the call running now, from
            // a live `&dyn FactSource` that outlives that call.
            #[allow(unsafe_code)]
            Some(p) => Ok(unsafe { p.as_ref() }),
            None => Err(format_err!("the policy asked for facts outside a decision")),
        }
    }
}

impl crate::wit::FactsHost for HostState {
    fn lookup(&mut self, query: FactQuery) -> wasmtime::Result<FactAnswer> {
        self.lookups += 1;
        if self.lookups > MAX_LOOKUPS_PER_CALL {
            return Err(format_err!("the policy asked for facts more than once"));
        }
        let answered = self
            .source()?
            .lookup(&convert::query_in(&query))
            .map_err(|e| format_err!("fact lookup failed: {e:#}"))?;
        self.gathered = answered.gathered;
        Ok(convert::answer_out(answered.answer))
    }

    fn repositories(
        &mut self,
        paths: Vec<String>,
        viewer: Option<String>,
    ) -> wasmtime::Result<Vec<Option<RepositoryFacts>>> {
        self.batch_lookups += 1;
        if self.batch_lookups > MAX_LOOKUPS_PER_CALL {
            return Err(format_err!(
                "the policy asked for repositories more than once"
            ));
        }
        let found = self.source()?.repositories(&paths, viewer.as_deref());
        let found = found.map_err(|e| format_err!("fact lookup failed: {e:#}"))?;
        Ok(found
            .into_iter()
            .map(|r| r.map(convert::repository_out))
            .collect())
    }
}

//! The host side of the component's `facts` import: the caller's fact source, lent to
//! the store for one call, asked at most once per call, its core answers crossed into WIT
//! here (the one place the facts meet the WIT types).

use wasmtime::StoreLimits;
use wasmtime::format_err;

use super::PolicyFailure;
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

impl super::WasmPolicy {
    /// [`WasmPolicy::call`] with `facts` lent to the store for the call (see [`Lent`]);
    /// returns what the policy's fact query taught the host.
    pub(super) fn lend<R>(
        &mut self,
        facts: &dyn FactSource,
        f: impl FnOnce(&mut super::Live) -> wasmtime::Result<R>,
    ) -> Result<(R, Gathered), PolicyFailure> {
        let ptr = std::ptr::NonNull::from(facts);
        // SAFETY: only the lifetime is erased; the slot is emptied below, before `facts`
        // can go away, whether the call returns or unwinds (see `Lent`).
        #[allow(unsafe_code)]
        let ptr: std::ptr::NonNull<dyn FactSource + 'static> = unsafe { std::mem::transmute(ptr) };
        let slot = Some(ptr);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.call(|l| {
                let state = l.store.data_mut();
                state.facts = Lent(slot);
                state.lookups = 0;
                state.batch_lookups = 0;
                state.gathered = Gathered::default();
                let r = f(l);
                let state = l.store.data_mut();
                state.facts = Lent(None);
                r.map(|r| (r, std::mem::take(&mut state.gathered)))
            })
        }));
        // The call may have failed or unwound with the slot set: empty it (a failed
        // instance is discarded anyway, so this matters only for a surviving one).
        if let Some(l) = self.live.as_mut() {
            l.store.data_mut().facts = Lent(None);
        }
        match result {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

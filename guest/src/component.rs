//! The WebAssembly component: bindings, conversions, and [`Component`]`<S>`, the
//! component for a site policy `S` ([`crate::site`]). Every function only converts WIT
//! values to `crate::policy` values and back, and delegates; the one import, `facts`, is the
//! [`policy::Facts`] the core asks during a decision.
//!
//! The bindings' export macro is public (`pub_export_macro`), so a site crate exports
//! `Component<ItsSite>` with [`crate::export_site!`]; this crate's own build (cargo feature
//! `component`, on by default) exports `Component<NoSite>`, the core alone. A site crate
//! depends on this one with `default-features = false`, so its component exports once.
#![allow(unsafe_code)] // the generated bindings; the hand-written unsafe is the allocator below.
#[allow(unused_imports)]
use crate::prelude::*;

use core::cell::RefCell;

#[doc(hidden)]
pub mod bindings {
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        world: "policy",
        path: "../wit",
        additional_derives: [PartialEq, Eq],
        // The fact query borrows the policy's strings (no copy into new allocations
        // before the host reads them).
        ownership: Borrowing { duplicate_if_necessary: false },
        // A site crate invokes `export!` (through `export_site!`).
        pub_export_macro: true,
        default_bindings_module: "forge_authz_guest::bindings",
    });
}

use bindings::exports::forge::authz::authorizer as wit_authorizer;
use bindings::forge::authz::facts as wit_facts;

/// Every WIT type by its name, for `convert.rs`.
#[allow(unused_imports)] // convert.rs names each type only where it needs it
mod wit {
    pub use super::bindings::exports::forge::authz::config::{
        Config, ConfigError, Options, SigningKey,
    };
    pub use super::bindings::exports::forge::authz::credential::{
        BasicCredential, Credential, KeyKind, SshKey, TokenError, TokenInfo, Transport,
        VerifiedToken,
    };
    pub use super::bindings::exports::forge::authz::decision::{
        AllowReason, BadRequestReason, Decision, Effects, ForbiddenReason, NotFoundReason,
        RefGrants, RefPermissions, RefVerdict, Rule, TraceOutcome, TraceStep, UnauthorizedReason,
        Verdict,
    };
    pub use super::bindings::exports::forge::authz::lifecycle::{
        Account, Actor, AuditEntry, AuditFinding, AuditFix, AuditKind, BoundRepository,
        ChangeContext, ChangePlan, ChildOutcome, ChildRequest, HistoryAction, HistoryEvent,
        IssueError, IssueRequest, IssuedToken, LifecycleError, RevokeScope, RotateRequest,
        Rotation, ScopeError, TokenEdit, TokenRecord,
    };
    pub use super::bindings::exports::forge::authz::request::{
        ApiRequest, AuthorizeRequest, BatchRequest, CreationRequest, CreationStep, GitAction,
        GitRequest, HttpMethod, PrivilegedOperation, RefChange, RefPermissionsRequest, RefUpdate,
        Request, RouteFlags, ScopeCategories,
    };
    pub use super::bindings::forge::authz::facts::{
        AccountStatus, FactAnswer, FactQuery, Hash256, NamespaceFacts, ProtectedRef, RefAccess,
        RepositoryFacts, RepositoryKind, Role, SecretDigest, TokenBinding, TokenFacts, UserFacts,
        Viewer, Visibility,
    };
}

use crate::policy;
use crate::site::{Site, Sited};

/// What the component lends a method row of the `exports.rs` table (`; facts`: the `facts`
/// import; `; entropy`: fresh bytes from the host's CSPRNG).
macro_rules! lend {
    (facts) => {
        &mut HostFacts
    };
    (entropy) => {
        entropy().as_ref()
    };
}

include!("convert.rs");
include!("convert_request.rs");
include!("convert_decision.rs");
include!("convert_lifecycle.rs");
include!("exports.rs");

/// The host's facts, asked through the `facts` import.
struct HostFacts;

impl policy::Facts for HostFacts {
    fn lookup(&mut self, q: &policy::FactQuery<'_>) -> policy::FactAnswer {
        let query = wit_facts::FactQuery {
            token: q.token,
            account: q.account,
            sudo: q.sudo,
            repository: q.repository,
            namespace: q.namespace,
            viewer: match q.viewer {
                policy::Viewer::Anonymous => wit::Viewer::Anonymous,
                policy::Viewer::TokenOwner => wit::Viewer::TokenOwner,
                policy::Viewer::Account => wit::Viewer::Account,
                policy::Viewer::Sudo => wit::Viewer::Sudo,
            },
            registrant: q.registrant,
        };
        answer_in(wit_facts::lookup(query))
    }

    fn repositories(
        &mut self,
        paths: &[String],
        viewer: Option<&str>,
    ) -> Vec<Option<policy::RepositoryFacts>> {
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        wit_facts::repositories(&paths, viewer)
            .into_iter()
            .map(|r| r.map(repository_in))
            .collect()
    }
}

/// The component for the site policy `S`; its `Guest` implementations are written by
/// `exports.rs` from the table of exports.
pub struct Component<S>(core::marker::PhantomData<S>);

/// One authorizer resource: the core engine (keys, options, the verified-token cache)
/// narrowed by the site `S` (its data read once, at creation). The canonical ABI never
/// re-enters a component, so the cell is never borrowed twice.
pub struct Authorizer<S>(RefCell<Sited<S>>);

impl<S: Site> Authorizer<S> {
    /// A new resource over `engine` (the constructor's answer).
    fn resource(engine: Sited<S>) -> wit_authorizer::Authorizer {
        wit_authorizer::Authorizer::new(Authorizer(RefCell::new(engine)))
    }

    fn engine(&self) -> core::cell::RefMut<'_, Sited<S>> {
        match self.0.try_borrow_mut() {
            Ok(e) => e,
            // INVARIANT: unreachable (no re-entrance); a trap denies.
            Err(_) => core::arch::wasm32::unreachable(),
        }
    }
}

/// 36 bytes from `wasi:random/random.get-random-bytes` (the host's CSPRNG); `None` if it
/// failed, which refuses the mint.
fn entropy() -> Option<[u8; policy::token::ENTROPY_BYTES]> {
    let mut entropy = [0u8; policy::token::ENTROPY_BYTES];
    getrandom::fill(&mut entropy).ok().map(|()| entropy)
}

/// Export `Component<$site>` as this component's `forge:authz` world (once per component:
/// in a site crate's `cdylib`, with this crate's `component` feature off).
#[macro_export]
macro_rules! export_site {
    ($site:ty) => {
        /// The exported component: the core narrowed by the site.
        type ForgeAuthzSiteComponent = $crate::component::Component<$site>;
        $crate::bindings::export!(ForgeAuthzSiteComponent with_types_in $crate::bindings);
    };
}

/// The shipped component: the core alone.
#[cfg(feature = "component")]
type Shipped = Component<crate::site::NoSite>;
#[cfg(feature = "component")]
bindings::export!(Shipped with_types_in bindings);

/// The allocator of the component: wasi-libc's `malloc` (dlmalloc), as `std` uses on this
/// target. It grows linear memory itself and imports nothing.
struct LibcAlloc;

unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn aligned_alloc(align: usize, size: usize) -> *mut u8;
    fn realloc(ptr: *mut u8, size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// `malloc`'s alignment on wasm32 (wasi-libc: 16 bytes).
const MALLOC_ALIGN: usize = 16;

// SAFETY: the same contract as `std::sys::alloc::wasi` (malloc for small alignments,
// aligned_alloc otherwise; realloc only where malloc's alignment suffices).
unsafe impl core::alloc::GlobalAlloc for LibcAlloc {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        // SAFETY: C allocation functions; a null result is passed back as failure.
        unsafe {
            if layout.align() <= MALLOC_ALIGN && layout.align() <= layout.size() {
                malloc(layout.size())
            } else {
                aligned_alloc(layout.align(), layout.size())
            }
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, _: core::alloc::Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` above.
        unsafe { free(ptr) }
    }
    unsafe fn realloc(
        &self,
        ptr: *mut u8,
        layout: core::alloc::Layout,
        new_size: usize,
    ) -> *mut u8 {
        // SAFETY: as above; an over-aligned block is moved by the default path.
        unsafe {
            if layout.align() <= MALLOC_ALIGN && layout.align() <= new_size {
                realloc(ptr, new_size)
            } else {
                let new = core::alloc::Layout::from_size_align_unchecked(new_size, layout.align());
                let p = self.alloc(new);
                if !p.is_null() {
                    core::ptr::copy_nonoverlapping(ptr, p, core::cmp::min(layout.size(), new_size));
                    self.dealloc(ptr, layout);
                }
                p
            }
        }
    }
}

#[global_allocator]
static ALLOCATOR: LibcAlloc = LibcAlloc;

/// A panic (an overflow, an allocation failure) traps: the host reports a policy failure,
/// denies, and discards the instance. No message is formatted or written anywhere.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

// `memcmp`, `memcpy`, `memset` and friends come from wasi-libc (shipped with the target,
// self-contained), as they would with `std`; they import nothing.
#[link(name = "c")]
unsafe extern "C" {}

/// The canonical ABI's allocator: the host calls it to place strings and lists in the
/// guest's memory, which the bindings then own and free with the global allocator, so it
/// must allocate from that same allocator (with `std`, wasi-libc provided one over
/// `malloc`, which was then Rust's allocator too). A failed allocation traps.
///
/// # Safety
/// Called by the host per the canonical ABI: `old_ptr`/`old_len`/`align` describe a live
/// allocation made here (or `old_len` is 0), `align` is a power of two.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use alloc::alloc::{Layout, alloc, realloc};
    if new_len == 0 {
        // A zero-sized value needs no memory: any non-null aligned address.
        return align as *mut u8;
    }
    let size = if old_len == 0 { new_len } else { old_len };
    let Ok(layout) = Layout::from_size_align(size, align) else {
        core::arch::wasm32::unreachable()
    };
    // SAFETY: `layout` has a non-zero size; for a reallocation, the canonical ABI passes
    // back the pointer, size and alignment of an allocation made by this function.
    let ptr = unsafe {
        if old_len == 0 {
            alloc(layout)
        } else {
            realloc(old_ptr, layout, new_len)
        }
    };
    if ptr.is_null() {
        core::arch::wasm32::unreachable()
    }
    ptr
}

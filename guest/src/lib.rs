//! forge-authz: the authorization policy of a git forge.
//!
//! [`policy`] is the whole policy as plain Rust (compiles natively for tests and
//! benchmarks). [`site`] builds an operator's site policy on it (rules that can only
//! narrow). On `wasm32`, `component` exports it as the `forge:authz/authorizer`
//! WebAssembly component interface (see `wit/`): this crate's own build (cargo feature
//! `component`, default) the core alone, a site crate the core and its rules
//! (`export_site!`, README "Writing your own policy").
//!
//! The crate is `no_std` (with `alloc`): the component then links no Rust standard
//! library, so it imports no WASI interface but `wasi:random` (the entropy of `issue`), and
//! is a fraction of the size (issue 11). A panic traps, which the host reports as a policy
//! failure (deny).
#![cfg_attr(target_arch = "wasm32", no_std)]
#![warn(missing_docs)]

extern crate alloc;
// `exports.rs` names the site module by the crate's name, as in the host that includes it.
extern crate self as forge_authz_guest;

pub mod policy;
pub mod site;

/// What `std`'s prelude would bring in, for a `no_std` crate.
#[allow(unused_imports)] // each target uses a different subset
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::format;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod component;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub use component::bindings;

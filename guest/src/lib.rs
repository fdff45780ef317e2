//! forge-authz: the authorization policy of a git forge.
//!
//! [`policy`] is the whole policy as plain Rust (compiles natively for tests and
//! benchmarks). On `wasm32`, `component` exports it as the `forge:authz/authorizer`
//! WebAssembly component interface (see `wit/`).
//!
//! The crate is `no_std` (with `alloc`): the component then links no Rust standard
//! library, so it imports no WASI interface but `wasi:random` (the entropy of `issue`), and
//! is a fraction of the size (issue 11). A panic traps, which the host reports as a policy
//! failure (deny).
#![cfg_attr(target_arch = "wasm32", no_std)]
#![warn(missing_docs)]

extern crate alloc;

pub mod policy;

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
mod component;

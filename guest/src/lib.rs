//! forge-authz: the authorization policy of a git forge.
//!
//! [`policy`] is the whole policy as plain Rust (compiles natively for tests and
//! benchmarks). On `wasm32`, `component` exports it as the `forge:authz/authorizer`
//! WebAssembly component interface (see `wit/`).
#![warn(missing_docs)]

pub mod policy;

#[cfg(target_arch = "wasm32")]
mod component;

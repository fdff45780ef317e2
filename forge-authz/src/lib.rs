//! The forge-authz host: loads the policy component with wasmtime, feeds it facts from a
//! store, and enforces its decisions. No policy rule lives here: every allow and deny
//! comes from the component (`guest/`), and anything that stops the component from
//! answering is a deny.
#![warn(missing_docs)]

pub mod cidr;
pub mod cli;
pub mod exit;
pub mod explain;
pub mod gate;
pub mod known;
pub mod lifecycle;
pub mod live;
pub mod log;
pub mod policy;
pub mod request;
pub mod serve;
pub mod store;
pub mod trust;
pub mod trusted_pool;
pub mod wit;

// The files the host reads and the facts it answers, in the core's types: one copy, shared
// with the tests and the guest's own corpus runner (`fixture/`).
pub use forge_authz_fixture::{facts, world};

pub use facts::{FactSource, Gathered};
pub use policy::{Limits, Policy, PolicyFailure, PolicyModule, WasmPolicy, default_policy_path};
pub use request::{DecisionOutput, Outcome, RequestDef, authorize, authorize_one};
pub use world::World;

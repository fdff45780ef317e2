//! Hostile clients against the real `forge-authz serve` on loopback (127.0.0.1 only): absurd
//! bodies, slow and abandoned connections, oversized headers, spoofed forward-auth headers,
//! protected refs, the state directory, name confusion, the admin socket, ambiguous query
//! strings, log injection, signals, FIDO SSH keys, and a property test of malformed
//! requests: one module per attack family (each citing the issues it answers), one test
//! binary.
//!
//! Every socket read and write has a timeout, every wait (and every child process) is
//! bounded, and each test kills the servers it started when it ends. Each attack also checks
//! that the server still answers a normal anonymous `git ls-remote`/`git clone` of a public
//! repository afterwards and, where it makes sense, during the attack.
// Tests: a broken expectation is a panic that says what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing, clippy::panic)]

#[path = "../support/forge.rs"]
mod forge;

mod admin;
mod forward_auth;
mod framing;
mod logs;
mod names;
mod processes;
mod slow_clients;
mod ssh_keys;
mod state_and_hooks;

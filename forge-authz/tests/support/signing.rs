//! A test module signer (issue 23): a minisign key pair made fresh for each test process
//! (no secret key is kept in the repository), whose public key the hosts and CLI
//! commands the tests start trust (`FORGE_AUTHZ_TRUSTED_SIGNERS`). Modules are
//! signed with it (`forge_authz_host::trust::sign`) so every test exercises the signed
//! path; [`new_signer`] makes a fresh, untrusted key pair. Use it with
//! `#[path = "support/signing.rs"] mod signing;` (or through `support/fleet.rs`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use forge_authz_host::trust::sign::{NewKey, keygen, sign_module};

/// The environment variable naming the trusted signers' public key file.
pub const TRUSTED_SIGNERS_ENV: &str = "FORGE_AUTHZ_TRUSTED_SIGNERS";

/// The test signer: its key pair and its public key file.
pub struct TestSigner {
    /// The key pair (its secret stays in memory and in `secret`).
    pub key: NewKey,
    /// The public key file.
    pub public: PathBuf,
    /// The unencrypted secret key file.
    pub secret: PathBuf,
}

/// A fresh key pair written to a new private directory.
pub fn new_signer(name: &str) -> TestSigner {
    write_signer(name, keygen(None).unwrap())
}

fn write_signer(name: &str, key: NewKey) -> TestSigner {
    let dir = forge_authz_testkit::scratch(&format!("forge-authz-signer-{name}-"));
    let (public, secret) = (dir.join("signer.pub"), dir.join("signer.key"));
    std::fs::write(&public, &key.public).unwrap();
    std::fs::write(&secret, &key.secret).unwrap();
    TestSigner {
        key,
        public,
        secret,
    }
}

/// This process's trusted test signer.
pub fn signer() -> &'static TestSigner {
    static SIGNER: OnceLock<TestSigner> = OnceLock::new();
    SIGNER.get_or_init(|| new_signer("trusted"))
}

impl TestSigner {
    /// Sign `module` at `version`: writes `MODULE.minisig`.
    pub fn sign(&self, module: &Path, version: u64) {
        let bytes = std::fs::read(module).unwrap();
        let sig = sign_module(&self.key.secret, None, &bytes, version).unwrap();
        std::fs::write(forge_authz_host::trust::signature_path(module), sig).unwrap();
    }

    /// Write `bytes` to `module` and sign them at `version`.
    pub fn write_signed(&self, module: &Path, bytes: &[u8], version: u64) {
        std::fs::write(module, bytes).unwrap();
        self.sign(module, version);
    }
}

/// `command` trusts the test signer.
pub fn trusting(command: &mut std::process::Command) -> &mut std::process::Command {
    command.env(TRUSTED_SIGNERS_ENV, &signer().public)
}

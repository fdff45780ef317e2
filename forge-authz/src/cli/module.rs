//! Module trust on the command line (issue 23): `module keygen|sign|export|verify` (minisign keys
//! and signatures, made with the `minisign` crate; the Debian `minisign` binary makes the
//! same files), and the flags every command that makes a module live shares
//! ([`TrustArgs`]). The fleet's signers in the store are `signers` ([`super::signers`]).
//! No command prints or logs a secret key.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Subcommand;

use super::EXIT_DENY;
use crate::trust::{self, Signer, Statement, Trust};

/// The environment variable `module sign` and `module keygen` read a secret key's password
/// from (default of `--password-env`).
pub const PASSWORD_ENV: &str = "FORGE_AUTHZ_MODULE_KEY_PASSWORD";

/// `--trusted-signers` and `--allow-unsigned`: whose modules this command accepts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TrustArgs {
    /// A minisign public key file of a trusted module signer (repeatable; a file may hold
    /// several keys). The fleet's endorsed signers in the store are trusted too.
    #[arg(
        long = "trusted-signers",
        value_name = "FILE",
        env = "FORGE_AUTHZ_TRUSTED_SIGNERS",
        global = true
    )]
    pub trusted_signers: Vec<PathBuf>,
    /// Accept a module with no signature (development only: logged as `module-unsigned`,
    /// shown in `status` and in the metrics). A bad signature is refused regardless.
    #[arg(long, global = true)]
    pub allow_unsigned: bool,
}

impl TrustArgs {
    /// The anchors: every key in `--trusted-signers`.
    pub fn anchors(&self) -> anyhow::Result<Vec<Signer>> {
        trust::read_signers(&self.trusted_signers).map_err(anyhow::Error::msg)
    }

    /// The trust of these flags alone (no fleet signers, floor 0).
    pub fn trust(&self) -> anyhow::Result<Trust> {
        Ok(Trust {
            anchors: self.anchors()?,
            allow_unsigned: self.allow_unsigned,
            ..Trust::default()
        })
    }
}

/// `forge-authz module ...`
#[derive(Debug, Subcommand)]
pub enum ModuleAction {
    /// Generate a minisign key pair for signing modules: PUB (share it: hosts'
    /// `--trusted-signers`, `signers add`) and SECRET (keep it off every host).
    Keygen {
        /// Where to write the public key.
        #[arg(long = "public", value_name = "PUB")]
        public: PathBuf,
        /// Where to write the secret key (created 0600; never overwritten).
        #[arg(long = "secret", value_name = "SECRET")]
        secret: PathBuf,
        /// Do not encrypt the secret key (automation: the file's permissions are its only
        /// protection). Otherwise its password is read from `--password-env`.
        #[arg(long)]
        unencrypted: bool,
        /// The environment variable holding the secret key's password.
        #[arg(long, default_value = PASSWORD_ENV)]
        password_env: String,
    },
    /// Sign a module: writes MODULE.minisig (or `--signature`) whose trusted comment is
    /// the statement `forge-authz-module contract=... version=N sha256=...`.
    Sign {
        /// The module.
        module: PathBuf,
        /// The secret key file.
        #[arg(long = "secret", value_name = "SECRET")]
        secret: PathBuf,
        /// The module's version: greater than every version the fleet ran before.
        #[arg(long)]
        version: u64,
        /// Where to write the signature (default: MODULE.minisig).
        #[arg(long)]
        signature: Option<PathBuf>,
        /// The environment variable holding an encrypted secret key's password (unset: the
        /// key must be unencrypted).
        #[arg(long, default_value = PASSWORD_ENV)]
        password_env: String,
    },
    /// Write the policy module embedded in this binary to FILE (never over an existing
    /// file): the shipped module, to sign and publish as the fleet's first version or to
    /// compare a site policy with. Prints its SHA-256 (as `--version` does).
    Export {
        /// Where to write it.
        file: PathBuf,
    },
    /// Verify a module's signature against trusted keys; prints the statement (JSON).
    /// Exit 0: trusted, 1: refused (the reason on stderr).
    Verify {
        /// The module.
        module: PathBuf,
        /// Its signature (default: MODULE.minisig).
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Whose signatures are trusted.
        #[command(flatten)]
        trust: TrustArgs,
        /// The lowest version accepted.
        #[arg(long, default_value_t = 0)]
        floor: u64,
    },
}

/// The password in `var`, if set.
fn password(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|p| !p.is_empty())
}

/// Write a new file (never over an existing one) with `mode`.
fn write_new(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    write_new_bytes(path, text.as_bytes(), mode)
}

/// [`write_new`] for bytes.
fn write_new_bytes(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// The signature file of `module`: `explicit`, else MODULE.minisig.
pub fn signature_file(module: &Path, explicit: Option<&Path>) -> PathBuf {
    explicit.map_or_else(|| trust::signature_path(module), Path::to_path_buf)
}

/// `forge-authz module ...`
pub fn module(action: ModuleAction) -> anyhow::Result<u8> {
    match action {
        ModuleAction::Keygen {
            public,
            secret,
            unencrypted,
            password_env,
        } => {
            let pw = if unencrypted {
                None
            } else {
                Some(password(&password_env).with_context(|| {
                    format!(
                        "set {password_env} to the secret key's password, or pass --unencrypted"
                    )
                })?)
            };
            let key = trust::sign::keygen(pw).map_err(anyhow::Error::msg)?;
            write_new(&secret, &key.secret, 0o600)?;
            write_new(&public, &key.public, 0o644)?;
            if unencrypted {
                eprintln!(
                    "warning: the secret key {} is NOT encrypted: whoever reads it can sign \
                     modules every host trusts. Keep it off the hosts, mode 0600.",
                    secret.display()
                );
            }
            outln!("{}", key.id);
            Ok(0)
        }
        ModuleAction::Sign {
            module,
            secret,
            version,
            signature,
            password_env,
        } => {
            let bytes = std::fs::read(&module)
                .with_context(|| format!("reading module {}", module.display()))?;
            let sk = std::fs::read_to_string(&secret)
                .with_context(|| format!("reading secret key {}", secret.display()))?;
            let sig = trust::sign::sign_module(&sk, password(&password_env), &bytes, version)
                .map_err(anyhow::Error::msg)?;
            let out = signature_file(&module, signature.as_deref());
            std::fs::write(&out, sig).with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "signed: {} ({})",
                out.display(),
                Statement::for_bytes(&bytes, version).text()
            );
            Ok(0)
        }
        ModuleAction::Export { file } => {
            let bytes = crate::policy::EMBEDDED_POLICY;
            if bytes.is_empty() {
                bail!("this binary was built without an embedded policy module");
            }
            write_new_bytes(&file, bytes, 0o644)?;
            outln!("sha256:{}", crate::policy::EMBEDDED_POLICY_DIGEST);
            Ok(0)
        }
        ModuleAction::Verify {
            module,
            signature,
            trust,
            floor,
        } => verify(&module, signature.as_deref(), &trust, floor),
    }
}

fn verify(
    module: &Path,
    signature: Option<&Path>,
    args: &TrustArgs,
    floor: u64,
) -> anyhow::Result<u8> {
    if args.trusted_signers.is_empty() {
        bail!("name the trusted keys: --trusted-signers FILE");
    }
    let bytes =
        std::fs::read(module).with_context(|| format!("reading module {}", module.display()))?;
    let sig =
        trust::read_signature(&signature_file(module, signature)).map_err(anyhow::Error::msg)?;
    let t = Trust {
        floor,
        ..args.trust()?
    };
    match t.verify(&bytes, sig.as_deref(), false) {
        Ok(trust::Accepted::Signed { statement, signer }) => {
            outln!(
                "{}",
                serde_json::json!({"trusted": true, "signer": signer, "statement": statement})
            );
            Ok(0)
        }
        Ok(trust::Accepted::Unsigned) => {
            outln!("{}", serde_json::json!({"trusted": true, "unsigned": true}));
            Ok(0)
        }
        Err(e) => {
            outln!(
                "{}",
                serde_json::json!({"trusted": false, "refused": e.code(), "why": e.to_string()})
            );
            eprintln!("refused: {e}");
            Ok(EXIT_DENY)
        }
    }
}

//! The real `minisign` binary (Debian package `minisign`) for the tests of signed policy
//! modules (issue 23): key pairs made with `minisign -G -W` (unencrypted, test only, in a
//! scratch directory — never committed) and detached signatures with a trusted comment.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A scratch directory and the `minisign` binary found on `PATH`.
pub struct Minisign {
    bin: PathBuf,
    dir: PathBuf,
}

/// A key pair made by [`Minisign::keygen`].
pub struct Key {
    /// The public key file's text (`untrusted comment: minisign public key <ID>` + base64).
    pub public: String,
    /// The key id: 16 upper-case hex digits (minisign's comment may drop leading zeros).
    pub id: String,
    secret: PathBuf,
}

impl Minisign {
    /// The binary and a fresh scratch directory. Without the binary the test fails (CI
    /// installs `minisign`), unless `FORGE_AUTHZ_SKIP_MINISIGN=1`: then `None` after
    /// writing `SKIPPED: <test>: …` straight to the process's stderr (libtest captures only
    /// `eprint!`), and the test proves nothing.
    pub fn find_or_skip(test: &str) -> Option<Minisign> {
        let bin = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("minisign"))
                .find(|p| p.is_file())
        });
        let Some(bin) = bin else {
            skip_or_fail(test);
            return None;
        };
        Some(Minisign {
            bin,
            dir: crate::scratch("minisign-"),
        })
    }

    /// Run `minisign ARGS` (stdin closed: no prompt); panics with its stderr on failure.
    fn run(&self, args: &[&str]) {
        let o = Command::new(&self.bin)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "minisign {args:?}: {}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// A new key pair `name` (no password: `-W`).
    pub fn keygen(&self, name: &str) -> Key {
        let public = self.dir.join(format!("{name}.pub"));
        let secret = self.dir.join(format!("{name}.key"));
        self.run(&["-G", "-W", "-p", &path(&public), "-s", &path(&secret)]);
        let text = std::fs::read_to_string(&public).unwrap();
        let id = text
            .lines()
            .next()
            .and_then(|l| l.rsplit(' ').next())
            .unwrap();
        // minisign's comment drops leading zeros; the id is 16 hex digits.
        let id = format!("{id:0>16}");
        Key {
            public: text,
            id,
            secret,
        }
    }

    /// `minisign -S` over `bytes` by `key` with the trusted comment `comment`: the
    /// `.minisig` text.
    pub fn sign(&self, key: &Key, bytes: &[u8], comment: &str) -> String {
        let file = tempfile::NamedTempFile::new_in(&self.dir).unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        let sig = file.path().with_extension("minisig");
        let m = path(file.path());
        self.run(&[
            "-S",
            "-s",
            &path(&key.secret),
            "-m",
            &m,
            "-x",
            &path(&sig),
            "-t",
            comment,
        ]);
        let text = std::fs::read_to_string(&sig).unwrap();
        let _ = std::fs::remove_file(sig);
        text
    }
}

impl Drop for Minisign {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// The environment variable that turns a missing `minisign` from a failure into a skip.
pub const SKIP_ENV: &str = "FORGE_AUTHZ_SKIP_MINISIGN";

/// A test that needs the `minisign` binary, where there is none: it fails, unless
/// [`SKIP_ENV`]`=1`, when it says SKIPPED on the real stderr.
#[allow(clippy::panic)] // a test's failure
pub fn skip_or_fail(test: &str) {
    let why = "no `minisign` binary (Debian package `minisign`)";
    if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED: {test}: {why} ({SKIP_ENV}=1)"
        );
    } else {
        panic!("{test}: {why}: install it, or set {SKIP_ENV}=1 to skip");
    }
}

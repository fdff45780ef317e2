//! Module trust on the way to publication (issue 23): how a candidate is verified before
//! it is compiled, and how the published module came to be trusted.

use std::path::Path;

use super::Refused;
use crate::trust::{Accepted, Trust};

/// How a published module came to be trusted (shown in `status` and the metrics).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "trust", rename_all = "kebab-case")]
pub enum Provenance {
    /// The module embedded in this binary: trusted as built.
    Embedded,
    /// Signed by a trusted key.
    Signed {
        /// The key's id.
        signer: String,
        /// The signed module version.
        version: u64,
    },
    /// Accepted without a signature (`--allow-unsigned`).
    Unsigned,
    /// Checked by the caller of [`LivePolicy::from_module`] / [`LivePolicy::publish_checked`].
    Caller,
}

/// The replay floor a candidate is held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// The highest signed version this process has made live (`reload`, `shadow`).
    Process,
    /// A fleet publication: the fleet's floor; `rollback`: the log went back by a
    /// recorded rollback, so an older version is accepted.
    Fleet {
        /// The highest signed version ever published live in the store.
        floor: u64,
        /// Reached by `publish --rollback`.
        rollback: bool,
    },
}

/// A candidate's bytes and signature, as received.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// The module's bytes.
    pub bytes: &'a [u8],
    /// Its minisign signature (`None`: unsigned).
    pub signature: Option<&'a str>,
}

/// A signed module made live raises the process floor (a fleet rollback below it does not
/// lower it).
pub(super) fn raise_floor(trust: &mut Trust, provenance: &Provenance) {
    if let Provenance::Signed { version, .. } = provenance {
        trust.floor = trust.floor.max(*version);
    }
}

/// Verify a candidate with `trust` held to `replay`'s floor; an accepted unsigned module
/// is logged (`module-unsigned`).
pub(super) fn verify_candidate(
    trust: &Trust,
    c: Candidate<'_>,
    replay: Replay,
) -> Result<Provenance, Refused> {
    let (floor, allow_older) = match replay {
        Replay::Process => (trust.floor, false),
        Replay::Fleet { floor, rollback } => (floor, rollback),
    };
    let held = Trust {
        floor,
        ..trust.clone()
    };
    match held.verify(c.bytes, c.signature, allow_older) {
        Ok(Accepted::Signed { statement, signer }) => Ok(Provenance::Signed {
            signer,
            version: statement.version,
        }),
        Ok(Accepted::Unsigned) => {
            let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(c.bytes));
            crate::log::event("module-unsigned", &[("sha256", &sha256)]);
            Ok(Provenance::Unsigned)
        }
        Err(e) => {
            crate::log::event("module-untrusted", &[("why", &e.to_string())]);
            Err(Refused(format!("untrusted module: {e}")))
        }
    }
}

/// A module file's bytes, verified: the embedded module is trusted as built; a file
/// needs its signature (`signature`, default `PATH.minisig`). A file that cannot be read
/// is refused as not loadable (its content never quoted).
pub(super) fn load_trusted(
    path: &Path,
    signature: Option<&Path>,
    trust: &Trust,
    replay: Replay,
) -> Result<(Vec<u8>, Provenance), Refused> {
    let bytes = crate::policy::module_bytes(path).map_err(|e| {
        crate::log::event("module-refused", &[("cause", &format!("{e:#}"))]);
        Refused("not a loadable forge:authz policy component".into())
    })?;
    if path == Path::new(crate::policy::EMBEDDED_POLICY_NAME) {
        return Ok((bytes.into_owned(), Provenance::Embedded));
    }
    let sig_path = signature.map_or_else(|| crate::trust::signature_path(path), Path::to_path_buf);
    let sig = crate::trust::read_signature(&sig_path)
        .map_err(|_| Refused("untrusted module: its signature file cannot be read".into()))?;
    let c = Candidate {
        bytes: &bytes,
        signature: sig.as_deref(),
    };
    let provenance = verify_candidate(trust, c, replay)?;
    Ok((bytes.into_owned(), provenance))
}

/// A pool for a host embedded in another language's process (the C ABI, Python): every
/// module it serves went through `trust` — its first as here, each later one by
/// [`super::LivePolicy::reload_bytes`] / [`super::LivePolicy::reload`] (the process floor).
impl super::WarmPool {
    /// A pool serving `candidate` (`None`: the embedded module, trusted as built), verified
    /// with `trust` before it is compiled, then checked with `config`.
    pub fn start_trusted(
        candidate: Option<Candidate<'_>>,
        config: crate::wit::Config,
        mut trust: Trust,
    ) -> Result<super::WarmPool, Refused> {
        use crate::policy::{EMBEDDED_POLICY, EMBEDDED_POLICY_NAME, Limits};
        let (bytes, source, provenance) = match candidate {
            None if EMBEDDED_POLICY.is_empty() => {
                return Err(Refused(
                    "this library was built without an embedded policy module".into(),
                ));
            }
            None => (EMBEDDED_POLICY, EMBEDDED_POLICY_NAME, Provenance::Embedded),
            Some(c) => (
                c.bytes,
                "<bytes>",
                verify_candidate(&trust, c, Replay::Process)?,
            ),
        };
        let module = super::check_bytes(bytes, source.into(), &config, Limits::default())?;
        raise_floor(&mut trust, &provenance);
        let mut live =
            super::LivePolicy::first(module, config.clone(), Limits::default(), provenance);
        live.trust = std::sync::Mutex::new(trust);
        Ok(super::WarmPool {
            live: std::sync::Arc::new(live),
            config,
            idle: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Verify `candidate` (`None`: the embedded module) with the pool's trust held to the
    /// process floor, check it and publish it; a refusal leaves the current module serving.
    pub fn swap_trusted(&self, candidate: Option<Candidate<'_>>) -> Result<u64, Refused> {
        match candidate {
            None => self
                .live
                .reload(Path::new(crate::policy::EMBEDDED_POLICY_NAME)),
            Some(c) => {
                self.live
                    .reload_bytes(c, Replay::Process, std::path::PathBuf::from("<bytes>"))
            }
        }
    }
}

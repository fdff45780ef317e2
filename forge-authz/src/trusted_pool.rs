//! A warm pool whose every module went through the host's module trust (issue 23), for the
//! hosts embedded in another language's process: the C ABI (and Go over it) and Python.
//!
//! Module bytes become live only with a minisign signature [`crate::trust::Trust::verify`]
//! accepts (or unsigned, when the host said `allow_unsigned`); the module built into the
//! library is trusted as built. The floor against replays is the highest signed version
//! this pool made live: raised only once a module actually serves, so a signed module
//! refused by the check does not move it. A refusal of any kind leaves the old module
//! serving. Swaps are serialized (verify, check, publish, raise the floor under one lock),
//! so two racing swaps cannot both pass the same floor.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::live::{WarmPool, check_bytes};
use crate::policy::{EMBEDDED_POLICY, EMBEDDED_POLICY_NAME, Limits};
use crate::trust::{Accepted, Signer, Trust};
use crate::wit;

/// The trust a host gives modules, as JSON (the C ABI's `"trust"` configuration field, the
/// Python `trust=` argument): minisign public keys (the `.pub` text), retired key ids
/// (hex, as minisign prints them) and `allow_unsigned` (development).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// Trusted public keys: each a minisign public key file's text (or its base64 line).
    #[serde(default)]
    pub public_keys: Vec<String>,
    /// Key ids never trusted again, even when listed in `public_keys`.
    #[serde(default)]
    pub retired_keys: Vec<String>,
    /// Accept modules without a signature (development; shown by [`TrustedPool::status`]).
    #[serde(default)]
    pub allow_unsigned: bool,
}

impl TrustConfig {
    /// The host's [`Trust`]: the keys are its anchors, the floor 0. The error names the
    /// entry that is unreadable, never its text.
    pub fn trust(&self) -> Result<Trust, String> {
        let mut anchors = Vec::with_capacity(self.public_keys.len());
        for (i, text) in self.public_keys.iter().enumerate() {
            anchors.push(Signer::parse(text).map_err(|e| format!("trust.public_keys[{i}]: {e}"))?);
        }
        let mut retired = std::collections::BTreeSet::new();
        for id in &self.retired_keys {
            // minisign's own comment line drops leading zeros (`%llX`): padded to 16.
            if id.is_empty() || id.len() > 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("trust.retired_keys: each is a minisign key id (hex)".into());
            }
            retired.insert(format!("{:0>16}", id.to_ascii_uppercase()));
        }
        Ok(Trust {
            anchors,
            retired,
            allow_unsigned: self.allow_unsigned,
            ..Trust::default()
        })
    }
}

/// A module to make live.
#[derive(Clone, Copy, Debug)]
pub enum Candidate<'a> {
    /// The module built into this library: trusted as built.
    Embedded,
    /// Bytes, with their `.minisig` text if any.
    Bytes {
        /// The component's bytes.
        bytes: &'a [u8],
        /// The minisign signature's text (`None`: unsigned).
        signature: Option<&'a str>,
    },
}

/// How the serving module came to be trusted, and what the host trusts: what a host shows
/// (the C ABI's `fa_policy_trust`, Python's `Policy.trust`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TrustStatus {
    /// `built-in`, `signed` or `unsigned` (only with `allow_unsigned`).
    pub module: &'static str,
    /// The signed statement's version (`signed` only).
    pub version: Option<u64>,
    /// The id of the key that signed it (`signed` only).
    pub signer: Option<String>,
    /// Whether unsigned modules are accepted (development).
    pub allow_unsigned: bool,
    /// The highest signed version made live: a lower one is refused (`replayed-older`).
    pub floor: u64,
    /// The trusted key ids (not retired).
    pub trusted_keys: Vec<String>,
    /// The retired key ids.
    pub retired_keys: Vec<String>,
}

/// The trust state beside the pool: the host's trust (its floor raised as versions go
/// live) and how the serving module was accepted (`None`: built in).
#[derive(Debug)]
struct State {
    trust: Trust,
    serving: Option<Accepted>,
}

/// A [`WarmPool`] that only publishes trusted modules.
#[derive(Debug)]
pub struct TrustedPool {
    pool: WarmPool,
    state: Mutex<State>,
}

/// The bytes of a candidate once its trust accepted it (`None`: built in).
fn admit<'a>(
    candidate: Candidate<'a>,
    trust: &Trust,
) -> Result<(&'a [u8], PathBuf, Option<Accepted>), String> {
    match candidate {
        Candidate::Embedded if EMBEDDED_POLICY.is_empty() => {
            Err("this library was built without an embedded policy module".into())
        }
        Candidate::Embedded => Ok((EMBEDDED_POLICY, PathBuf::from(EMBEDDED_POLICY_NAME), None)),
        Candidate::Bytes { bytes, signature } => {
            let accepted = trust
                .verify(bytes, signature, false)
                .map_err(|r| r.to_string())?;
            Ok((bytes, PathBuf::from("<bytes>"), Some(accepted)))
        }
    }
}

impl TrustedPool {
    /// Verify `candidate` with `trust`, check it with `config` (it loads, accepts the keys,
    /// gives the known answers) and serve it. The error says why (a trust refusal starts
    /// with its code: `unsigned: …`, `bad-signature: …`).
    pub fn load(
        candidate: Candidate<'_>,
        config: wit::Config,
        mut trust: Trust,
    ) -> Result<TrustedPool, String> {
        let (bytes, source, accepted) = admit(candidate, &trust)?;
        let checked =
            check_bytes(bytes, source, &config, Limits::default()).map_err(|e| e.to_string())?;
        if let Some(v) = accepted.as_ref().and_then(Accepted::version) {
            trust.floor = trust.floor.max(v);
        }
        Ok(TrustedPool {
            pool: WarmPool::new(checked, config),
            state: Mutex::new(State {
                trust,
                serving: accepted,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Verify `candidate` (against the floor: the highest signed version made live), check
    /// it as at load and publish it; any refusal leaves the current module serving.
    /// Returns the new generation.
    pub fn swap(&self, candidate: Candidate<'_>) -> Result<u64, String> {
        let mut state = self.state();
        let (bytes, source, accepted) = admit(candidate, &state.trust)?;
        let generation = self.pool.swap(bytes, source).map_err(|e| e.to_string())?;
        if let Some(v) = accepted.as_ref().and_then(Accepted::version) {
            state.trust.floor = state.trust.floor.max(v);
        }
        state.serving = accepted;
        Ok(generation)
    }

    /// The pool (decisions, the serving module).
    pub fn pool(&self) -> &WarmPool {
        &self.pool
    }

    /// How the serving module was trusted, and the host's trust.
    pub fn status(&self) -> TrustStatus {
        let state = self.state();
        let (module, version, signer) = match &state.serving {
            None => ("built-in", None, None),
            Some(Accepted::Unsigned) => ("unsigned", None, None),
            Some(Accepted::Signed { statement, signer }) => {
                ("signed", Some(statement.version), Some(signer.clone()))
            }
        };
        TrustStatus {
            module,
            version,
            signer,
            allow_unsigned: state.trust.allow_unsigned,
            floor: state.trust.floor,
            trusted_keys: state.trust.trusted_ids(),
            retired_keys: state.trust.retired.iter().cloned().collect(),
        }
    }
}

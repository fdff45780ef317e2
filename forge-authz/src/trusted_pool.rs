//! The module trust of the hosts embedded in another language's process — the C ABI (and
//! Go over it) and Python (issue 23): their configuration ([`TrustConfig`]), the module to
//! make live ([`Candidate`]) and what they show ([`TrustStatus`]), over a [`WarmPool`]
//! whose every module is verified by the host's [`crate::live`] trust path (the code
//! `serve` uses: `Trust::verify` before compiling, the process floor raised only once a
//! module serves, `module-unsigned` / `module-untrusted` logged).
//!
//! Module bytes become live only with a minisign signature the trust accepts (or unsigned,
//! when the host said `allow_unsigned`); the module built into the library is trusted as
//! built. A refusal of any kind leaves the old module serving.

use crate::live::{Provenance, WarmPool};
use crate::trust::{Signer, Trust};
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

/// A [`WarmPool`] that only publishes trusted modules.
#[derive(Debug)]
pub struct TrustedPool {
    pool: WarmPool,
}

/// The live path's candidate (`None`: the embedded module).
fn live_candidate(candidate: Candidate<'_>) -> Option<crate::live::Candidate<'_>> {
    match candidate {
        Candidate::Embedded => None,
        Candidate::Bytes { bytes, signature } => Some(crate::live::Candidate { bytes, signature }),
    }
}

impl TrustedPool {
    /// Verify `candidate` with `trust`, check it with `config` (it loads, accepts the keys,
    /// gives the known answers) and serve it. The error says why (a trust refusal:
    /// `untrusted module: <code>: …`, the code `unsigned`, `bad-signature`, …).
    pub fn load(
        candidate: Candidate<'_>,
        config: wit::Config,
        trust: Trust,
    ) -> Result<TrustedPool, String> {
        let pool = WarmPool::start_trusted(live_candidate(candidate), config, trust)
            .map_err(|e| e.to_string())?;
        Ok(TrustedPool { pool })
    }

    /// Verify `candidate` (against the floor: the highest signed version made live), check
    /// it as at load and publish it; any refusal leaves the current module serving.
    /// Returns the new generation.
    pub fn swap(&self, candidate: Candidate<'_>) -> Result<u64, String> {
        self.pool
            .swap_trusted(live_candidate(candidate))
            .map_err(|e| e.to_string())
    }

    /// The pool (decisions, the serving module).
    pub fn pool(&self) -> &WarmPool {
        &self.pool
    }

    /// How the serving module was trusted, and the host's trust.
    pub fn status(&self) -> TrustStatus {
        let live = self.pool.live();
        let trust = live.trust();
        let (module, version, signer) = match &live.current().provenance {
            Provenance::Embedded => ("built-in", None, None),
            Provenance::Unsigned => ("unsigned", None, None),
            Provenance::Caller => ("caller", None, None),
            Provenance::Signed { signer, version } => {
                ("signed", Some(*version), Some(signer.clone()))
            }
        };
        TrustStatus {
            module,
            version,
            signer,
            allow_unsigned: trust.allow_unsigned,
            floor: trust.floor,
            trusted_keys: trust.trusted_ids(),
            retired_keys: trust.retired.iter().cloned().collect(),
        }
    }
}

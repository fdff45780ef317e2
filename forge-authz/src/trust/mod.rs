//! Module trust (issue 23): which policy modules a host lets make decisions.
//!
//! A module is trusted when it carries a minisign detached signature (the `.minisig` text)
//! from a trusted key whose **trusted comment** — covered by minisign's global signature —
//! is the statement
//!
//! ```text
//! forge-authz-module contract=<WIT version> version=<u64> sha256=<hex of the bytes>
//! ```
//!
//! binding the bytes, the contract they were built for, and a module version that only
//! goes up. [`Trust::verify`] checks, in order: a signature is there (else `unsigned`,
//! unless `allow_unsigned`); it parses (`bad-signature`); its key is not retired
//! (`retired-key`) and is trusted (`untrusted-key`); it verifies over the bytes and over
//! the trusted comment (`bad-signature`: `minisign-verify` checks both); the comment is a
//! statement (`statement-mismatch`) for this host's contract (`wrong-contract`) and these
//! bytes' SHA-256 (`statement-mismatch`); its version is at least the floor
//! (`replayed-older`) unless going back is allowed (`publish --rollback` only).
//!
//! Trusted keys = anchors (host configuration: `--trusted-signers FILE`) + the fleet's
//! keys from the store, each endorsed by a key already trusted ([`Trust::add_endorsed`]),
//! minus retired ids. Verification is host-side on purpose: the trust anchor can never be
//! the module being judged. Refusals name what failed, never what a file holds.

mod keys;
pub mod sign;

use std::collections::BTreeSet;

use sha2::Digest as _;

pub use keys::{MAX_TEXT, Signer, read_signature, read_signers, read_text, signature_path};

/// The statement's first word.
pub const STATEMENT_KIND: &str = "forge-authz-module";

/// What a signature's trusted comment says about a module.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Statement {
    /// The WIT contract version the module was built for.
    pub contract: String,
    /// The module version (monotonic per fleet).
    pub version: u64,
    /// SHA-256 of the module's bytes, lowercase hex.
    pub sha256: String,
}

impl Statement {
    /// The statement for `bytes` at `version`, for this host's contract.
    pub fn for_bytes(bytes: &[u8], version: u64) -> Statement {
        Statement {
            contract: crate::wit::WIT_VERSION.to_owned(),
            version,
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
        }
    }

    /// The trusted comment's text.
    pub fn text(&self) -> String {
        format!(
            "{STATEMENT_KIND} contract={} version={} sha256={}",
            self.contract, self.version, self.sha256
        )
    }

    /// Read a trusted comment (`None`: not a statement; exactly the four fields, in order).
    pub fn parse(comment: &str) -> Option<Statement> {
        let mut words = comment.trim().split(' ');
        if words.next()? != STATEMENT_KIND {
            return None;
        }
        let contract = words.next()?.strip_prefix("contract=")?;
        let version = words.next()?.strip_prefix("version=")?.parse().ok()?;
        let sha256 = words.next()?.strip_prefix("sha256=")?;
        let hex_ok = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if words.next().is_some() || contract.is_empty() || !hex_ok {
            return None;
        }
        Some(Statement {
            contract: contract.to_owned(),
            version,
            sha256: sha256.to_ascii_lowercase(),
        })
    }
}

/// Why a module is not trusted. Each has a stable code ([`Refusal::code`]); the text
/// never quotes a file's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No signature.
    Unsigned,
    /// A signature that is not minisign's, or does not verify over these bytes and its
    /// trusted comment (a tampered module or comment).
    BadSignature,
    /// Signed by a key that is not trusted here.
    UntrustedKey(String),
    /// Signed by a retired key.
    RetiredKey(String),
    /// Signed for another contract version (what it says, if it is a plain version).
    WrongContract(String),
    /// Signed with a version below the floor.
    ReplayedOlder {
        /// The module's signed version.
        version: u64,
        /// The lowest version accepted.
        floor: u64,
    },
    /// The trusted comment is not a statement, or not one for these bytes.
    StatementMismatch,
}

impl Refusal {
    /// The stable code: `unsigned`, `bad-signature`, `untrusted-key`, `retired-key`,
    /// `wrong-contract`, `replayed-older` or `statement-mismatch`.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Unsigned => "unsigned",
            Refusal::BadSignature => "bad-signature",
            Refusal::UntrustedKey(_) => "untrusted-key",
            Refusal::RetiredKey(_) => "retired-key",
            Refusal::WrongContract(_) => "wrong-contract",
            Refusal::ReplayedOlder { .. } => "replayed-older",
            Refusal::StatementMismatch => "statement-mismatch",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.code())?;
        match self {
            Refusal::Unsigned => f.write_str(
                "the module has no signature (sign it: `forge-authz module sign` or \
                 `minisign -S`; development only: --allow-unsigned)",
            ),
            Refusal::BadSignature => f.write_str(
                "the signature does not verify over this module and its statement \
                 (tampered, or not a minisign signature)",
            ),
            Refusal::UntrustedKey(id) => write!(f, "signed by key {id}, which is not trusted"),
            Refusal::RetiredKey(id) => write!(f, "signed by key {id}, which is retired"),
            Refusal::WrongContract(c) => write!(
                f,
                "signed for contract {c}; this host speaks forge:authz@{}",
                crate::wit::WIT_VERSION
            ),
            Refusal::ReplayedOlder { version, floor } => write!(
                f,
                "signed version {version} is older than version {floor} (only `publish \
                 --rollback` goes back)"
            ),
            Refusal::StatementMismatch => write!(
                f,
                "the signed statement is not `{STATEMENT_KIND} contract=... version=... \
                 sha256=...` for these bytes"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// What [`Trust::verify`] accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Signed by a trusted key.
    Signed {
        /// The signed statement.
        statement: Statement,
        /// The key's id.
        signer: String,
    },
    /// No signature, accepted because the operator said `--allow-unsigned`.
    Unsigned,
}

impl Accepted {
    /// The signed version (None: unsigned).
    pub fn version(&self) -> Option<u64> {
        match self {
            Accepted::Signed { statement, .. } => Some(statement.version),
            Accepted::Unsigned => None,
        }
    }
}

/// The keys a host trusts and what else it accepts.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// Host configuration (`--trusted-signers`).
    pub anchors: Vec<Signer>,
    /// The fleet's keys from the store, each endorsed by a key trusted before it.
    pub fleet_added: Vec<Signer>,
    /// Retired key ids (anchors' too): never trusted.
    pub retired: BTreeSet<String>,
    /// Accept a module without a signature (development; logged and shown).
    pub allow_unsigned: bool,
    /// The lowest module version accepted (replay protection).
    pub floor: u64,
}

impl Trust {
    /// The trusted key with this id (not retired).
    pub fn key(&self, id: &str) -> Option<&Signer> {
        if self.retired.contains(id) {
            return None;
        }
        self.anchors
            .iter()
            .chain(&self.fleet_added)
            .find(|s| s.id == id)
    }

    /// Every trusted key id (anchors and fleet keys, not retired).
    pub fn trusted_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .anchors
            .iter()
            .chain(&self.fleet_added)
            .map(|s| s.id.clone())
            .filter(|id| !self.retired.contains(id))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Check `signature` (a `.minisig` text; `None`: unsigned) over `bytes` — see the
    /// module documentation for the order of checks. `allow_older`: the version may be
    /// below the floor (a recorded rollback).
    pub fn verify(
        &self,
        bytes: &[u8],
        signature: Option<&str>,
        allow_older: bool,
    ) -> Result<Accepted, Refusal> {
        let Some(text) = signature else {
            return if self.allow_unsigned {
                Ok(Accepted::Unsigned)
            } else {
                Err(Refusal::Unsigned)
            };
        };
        let (signer, comment) = self.signed_by(bytes, text)?;
        let statement = Statement::parse(&comment).ok_or(Refusal::StatementMismatch)?;
        if statement.contract != crate::wit::WIT_VERSION {
            let plain = statement.contract.len() <= 32
                && statement
                    .contract
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            let named = if plain {
                statement.contract.clone()
            } else {
                "another version".to_owned()
            };
            return Err(Refusal::WrongContract(named));
        }
        if statement.sha256 != hex::encode(sha2::Sha256::digest(bytes)) {
            return Err(Refusal::StatementMismatch);
        }
        if statement.version < self.floor && !allow_older {
            return Err(Refusal::ReplayedOlder {
                version: statement.version,
                floor: self.floor,
            });
        }
        Ok(Accepted::Signed { statement, signer })
    }

    /// The trusted key that made `signature` over `bytes`, and its trusted comment.
    fn signed_by(&self, bytes: &[u8], signature: &str) -> Result<(String, String), Refusal> {
        let parsed = keys::parse_signature(signature).ok_or(Refusal::BadSignature)?;
        if self.retired.contains(&parsed.key_id) {
            return Err(Refusal::RetiredKey(parsed.key_id));
        }
        let key = self
            .key(&parsed.key_id)
            .ok_or_else(|| Refusal::UntrustedKey(parsed.key_id.clone()))?;
        if !key.verify(bytes, &parsed.sig) {
            return Err(Refusal::BadSignature);
        }
        Ok((parsed.key_id, parsed.sig.trusted_comment().to_owned()))
    }

    /// Check an endorsement: `endorsement` is a minisign signature over the new key's
    /// public key text (its file's bytes) by a key trusted here. Returns the endorser's id.
    /// No statement is required of its trusted comment.
    pub fn check_endorsement(
        &self,
        public_key: &str,
        endorsement: &str,
    ) -> Result<String, Refusal> {
        self.signed_by(public_key.as_bytes(), endorsement)
            .map(|(id, _)| id)
    }

    /// Add the fleet's keys (oldest first): a key is trusted when it is not retired and
    /// its endorsement verifies with a key trusted at that point (anchors, or a fleet key
    /// accepted before it, whatever their order). Returns the ids left out (unendorsed,
    /// or endorsed only by an untrusted or retired key). Retired ids must already be in
    /// [`Trust::retired`].
    pub fn add_endorsed<'a>(
        &mut self,
        keys: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Vec<String> {
        let mut pending: Vec<(Signer, Option<&str>)> = Vec::new();
        let mut left_out = Vec::new();
        for (text, endorsement) in keys {
            match Signer::parse(text) {
                Ok(s) if !self.retired.contains(&s.id) => pending.push((s, endorsement)),
                Ok(_) => {}
                Err(_) => left_out.push("(unreadable key)".to_owned()),
            }
        }
        loop {
            let before = pending.len();
            let mut rest = Vec::new();
            for (signer, endorsement) in pending {
                let ok =
                    endorsement.is_some_and(|e| self.check_endorsement(&signer.text, e).is_ok());
                if ok {
                    self.fleet_added.push(signer);
                } else {
                    rest.push((signer, endorsement));
                }
            }
            pending = rest;
            if pending.len() == before || pending.is_empty() {
                break;
            }
        }
        left_out.extend(pending.into_iter().map(|(s, _)| s.id));
        left_out
    }
}

#[cfg(test)]
mod tests;

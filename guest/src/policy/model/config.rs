//! The policy's configuration (`config` in the WIT): signing keys and options.
#[allow(unused_imports)]
use crate::prelude::*;

#[allow(unused_imports)]
use super::*;

/// A signing key (see `signing-key` in the WIT).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// Key id written into tokens: 1 to 16 of `a`-`z`, `0`-`9`.
    pub id: String,
    /// HMAC-SHA256 secret, at least 32 bytes.
    pub secret: Vec<u8>,
}

impl core::fmt::Debug for SigningKey {
    // The secret never reaches a log, not even through Debug.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Policy options (see `options` in the WIT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Forgejo: a bound token outside its binding is treated as anonymous (else 401).
    pub binding_fallback_to_anonymous: bool,
    /// New tokens must expire.
    pub require_expiry: bool,
    /// Longest lifetime of a new token, seconds.
    pub max_lifetime: i64,
    /// Shortest lifetime of a new token, seconds.
    pub min_lifetime: i64,
}

/// 366 days.
pub const DEFAULT_MAX_LIFETIME: i64 = 366 * 86_400;
/// 5 minutes.
pub const DEFAULT_MIN_LIFETIME: i64 = 300;

impl Default for Options {
    fn default() -> Self {
        Options {
            binding_fallback_to_anonymous: false,
            require_expiry: true,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            min_lifetime: DEFAULT_MIN_LIFETIME,
        }
    }
}

/// Authorizer configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Every key that verifies tokens.
    pub keys: Vec<SigningKey>,
    /// The key that signs new tokens.
    pub signing_key_id: String,
    /// Policy options.
    pub options: Options,
    /// The site policy's data (JSON text; empty: none). The core ignores it; a site
    /// policy built on the core reads it.
    pub site: String,
}

impl Config {
    /// Test keys: a key per `(id, byte)`, its 32-byte secret that byte repeated, signing
    /// with `signing`, default options. For tests only: such keys are guessable.
    #[doc(hidden)]
    pub fn repeated_byte_keys(keys: &[(&str, u8)], signing: &str) -> Config {
        Config {
            keys: keys
                .iter()
                .map(|(id, b)| SigningKey {
                    id: id.to_string(),
                    secret: vec![*b; 32],
                })
                .collect(),
            signing_key_id: signing.to_string(),
            options: Options::default(),
            site: String::new(),
        }
    }
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// No keys at all.
    NoKeys,
    /// A malformed key id.
    BadKeyId(String),
    /// Two keys with one id.
    DuplicateKeyId(String),
    /// A secret shorter than 32 bytes.
    WeakKey(String),
    /// The signing key id names no key.
    UnknownSigningKey(String),
    /// A site policy refused its data (why).
    BadSite(String),
}

impl ConfigError {
    /// A sentence for operators.
    pub fn describe(&self) -> String {
        match self {
            ConfigError::NoKeys => "no signing keys configured".to_string(),
            ConfigError::BadKeyId(id) => format!("malformed key id `{id}`"),
            ConfigError::DuplicateKeyId(id) => format!("duplicate key id `{id}`"),
            ConfigError::WeakKey(id) => format!("key `{id}` is shorter than 32 bytes"),
            ConfigError::UnknownSigningKey(id) => format!("signing key `{id}` is not configured"),
            ConfigError::BadSite(why) => format!("site policy data refused: {why}"),
        }
    }
}

//! The signing and verification keys: configuration, HMAC verification (cached or not)
//! and minting.
#[allow(unused_imports)]
use crate::prelude::*;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::cache::TokenCache;
use super::crc::crc32;
use super::digest::{Verified, ct_eq};
use super::format::{
    ENTROPY_BYTES, MAX_LEN, PREFIX, TOKEN_ID_CHARS, TokenError, parse, valid_key_id,
};
use crate::policy::model::{Config, ConfigError};

/// Shortest accepted signing key secret.
pub const MIN_KEY_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Verification keys with their HMAC state precomputed.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<(String, HmacSha256)>,
    signing_id: String,
    signing_mac: HmacSha256,
}

impl core::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keyring")
            .field("key_ids", &ids)
            .field("signing", &self.signing_id)
            .finish()
    }
}

impl Keyring {
    /// Validate a configuration and derive each key's HMAC state once.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        if config.keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        let mut keys: Vec<(String, HmacSha256)> = Vec::with_capacity(config.keys.len());
        for key in &config.keys {
            if !valid_key_id(&key.id) {
                return Err(ConfigError::BadKeyId(key.id.clone()));
            }
            if keys.iter().any(|(id, _)| *id == key.id) {
                return Err(ConfigError::DuplicateKeyId(key.id.clone()));
            }
            if key.secret.len() < MIN_KEY_BYTES {
                return Err(ConfigError::WeakKey(key.id.clone()));
            }
            let mac = HmacSha256::new_from_slice(&key.secret)
                .map_err(|_| ConfigError::WeakKey(key.id.clone()))?;
            keys.push((key.id.clone(), mac));
        }
        let signing_mac = keys
            .iter()
            .find(|(id, _)| *id == config.signing_key_id)
            .map(|(_, mac)| mac.clone())
            .ok_or_else(|| ConfigError::UnknownSigningKey(config.signing_key_id.clone()))?;
        Ok(Keyring {
            keys,
            signing_id: config.signing_key_id.clone(),
            signing_mac,
        })
    }

    fn key(&self, id: &str) -> Option<&HmacSha256> {
        self.keys
            .iter()
            .find(|(kid, _)| kid == id)
            .map(|(_, mac)| mac)
    }

    /// Full verification: format, checksum, key id, HMAC tag (constant time).
    pub fn verify<'a>(&self, secret: &'a str) -> Result<Verified<'a>, TokenError> {
        let parsed = parse(secret)?;
        let mut mac = self
            .key(parsed.key_id)
            .ok_or(TokenError::UnknownKey)?
            .clone();
        mac.update(parsed.signed.as_bytes());
        // Constant time, word-wise (`verify_slice` compares byte by byte through
        // `subtle`'s `black_box`).
        if !ct_eq(&mac.finalize().into_bytes(), &parsed.tag) {
            return Err(TokenError::BadSignature);
        }
        Ok(Verified {
            key_id: parsed.key_id,
            token_id: parsed.token_id,
            tag: parsed.tag,
        })
    }

    /// [`Keyring::verify`], answered from `cache` when this exact secret was verified
    /// before (and remembered there when it verifies now).
    pub fn verify_cached<'a>(
        &self,
        cache: Option<&mut TokenCache>,
        secret: &'a str,
    ) -> Result<Verified<'a>, TokenError> {
        let Some(cache) = cache else {
            return self.verify(secret);
        };
        if let Some(v) = cache.get(secret) {
            return Ok(v);
        }
        let v = self.verify(secret)?;
        cache.insert(secret, v.tag);
        Ok(v)
    }

    /// Build a token from 36 bytes of entropy with the signing key. Returns the secret,
    /// its public token id and its HMAC tag (what the record stores).
    pub fn mint(&self, entropy: &[u8; ENTROPY_BYTES]) -> (String, String, [u8; 32]) {
        // The id must never look like a command-line flag: with the top bit of the first
        // byte clear, the first character is one of `A`-`Z`, `a`-`f` (never `-` or `_`).
        // That costs one bit of the public id; the 192-bit secret is untouched.
        let mut entropy = *entropy;
        if let Some(first) = entropy.first_mut() {
            *first &= 0x7f;
        }
        let payload = URL_SAFE_NO_PAD.encode(entropy);
        let token_id: String = payload.chars().take(TOKEN_ID_CHARS).collect();
        let mut secret = String::with_capacity(MAX_LEN);
        secret.push_str(PREFIX);
        secret.push_str(&self.signing_id);
        secret.push('.');
        secret.push_str(&payload);
        let mut mac = self.signing_mac.clone();
        mac.update(secret.as_bytes());
        let tag: [u8; 32] = mac.finalize().into_bytes().into();
        secret.push('.');
        secret.push_str(&URL_SAFE_NO_PAD.encode(tag));
        let crc = crc32(secret.as_bytes());
        secret.push('.');
        secret.push_str(&format!("{crc:08x}"));
        (secret, token_id, tag)
    }
}

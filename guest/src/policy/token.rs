//! The token format: parsing, checksum, signing and verification.
//!
//! ```text
//! fzpat_<kid>.<payload>.<tag>.<crc>
//!   kid      1-16 of [a-z0-9]              signing key id (rotation)
//!   payload  48 chars base64url, no pad    12-byte token id || 24-byte secret
//!   tag      43 chars base64url, no pad    HMAC-SHA256(key[kid], "fzpat_<kid>.<payload>")
//!   crc      8 lowercase hex               CRC-32 (IEEE) of "fzpat_<kid>.<payload>.<tag>"
//! ```
//!
//! The public token id is the first 16 characters of the payload (its 12 id bytes). The
//! secret has 192 bits of entropy; the id another 96. Every character is URL- and
//! shell-safe (`A-Z a-z 0-9 - _ .`). The store keeps SHA-256 of the whole string.
#[allow(unused_imports)]
use crate::prelude::*;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::model::{Config, ConfigError, SecretDigest};

/// Every token starts with this: distinctive, so secret scanners can find tokens.
pub const PREFIX: &str = "fzpat_";
/// Bytes of public token id.
pub const ID_BYTES: usize = 12;
/// Bytes of secret entropy.
pub const SECRET_BYTES: usize = 24;
/// Entropy a mint consumes: id and secret.
pub const ENTROPY_BYTES: usize = ID_BYTES + SECRET_BYTES;
const PAYLOAD_CHARS: usize = 48;
const TAG_CHARS: usize = 43;
const CRC_CHARS: usize = 8;
const TOKEN_ID_CHARS: usize = 16;
const MAX_KEY_ID_CHARS: usize = 16;
/// Shortest possible token.
pub const MIN_LEN: usize = PREFIX.len() + 1 + 1 + PAYLOAD_CHARS + 1 + TAG_CHARS + 1 + CRC_CHARS;
/// Longest possible token.
pub const MAX_LEN: usize = MIN_LEN - 1 + MAX_KEY_ID_CHARS;
/// Shortest accepted signing key secret.
pub const MIN_KEY_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Why a secret is not a valid token. See `token-error` in the WIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Empty.
    Empty,
    /// Not `fzpat_`.
    WrongPrefix,
    /// Wrong length of the whole or a field.
    WrongLength,
    /// Not exactly four non-empty fields.
    BadSeparator,
    /// Key id charset.
    BadKeyId,
    /// Not canonical base64url / hex.
    BadEncoding,
    /// CRC-32 mismatch.
    BadChecksum,
    /// Key id not configured.
    UnknownKey,
    /// HMAC mismatch.
    BadSignature,
}

impl TokenError {
    /// The kebab-case code, as in the WIT.
    pub fn code(self) -> &'static str {
        match self {
            TokenError::Empty => "empty",
            TokenError::WrongPrefix => "wrong-prefix",
            TokenError::WrongLength => "wrong-length",
            TokenError::BadSeparator => "bad-separator",
            TokenError::BadKeyId => "bad-key-id",
            TokenError::BadEncoding => "bad-encoding",
            TokenError::BadChecksum => "bad-checksum",
            TokenError::UnknownKey => "unknown-key",
            TokenError::BadSignature => "bad-signature",
        }
    }
}

/// A token whose format and checksum are valid (signature not yet checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// Key id field.
    pub key_id: &'a str,
    /// Public token id (first 16 chars of the payload).
    pub token_id: &'a str,
    /// `fzpat_<kid>.<payload>`: what the tag signs.
    pub signed: &'a str,
    /// Decoded tag.
    pub tag: [u8; 32],
}

/// A verified token's public fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    /// Public token id.
    pub token_id: String,
    /// Signing key id.
    pub key_id: String,
}

/// The CRC-32 tables for slicing-by-8: `TABLES[0]` is the classic byte table, `TABLES[k]`
/// advances a byte by `k` more zero bytes. Evaluated at compile time.
#[allow(clippy::indexing_slicing)] // const evaluation: an out-of-range index fails the build
const CRC_TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            k += 1;
        }
        i += 1;
    }
    t
};

/// One table entry (`k` < 8; `b` is masked to a byte).
fn crc_entry(k: usize, b: u32) -> u32 {
    // INVARIANT: `k` < 8 at every call site and `b & 0xFF` < 256.
    CRC_TABLES
        .get(k)
        .and_then(|t| t.get((b & 0xFF) as usize))
        .copied()
        .unwrap_or(0)
}

/// CRC-32 (IEEE 802.3, reflected, as zlib and GitHub's token checksum use), eight bytes
/// at a time (slicing-by-8).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let Ok(&[b0, b1, b2, b3, b4, b5, b6, b7]) = <&[u8; 8]>::try_from(c) else {
            continue; // INVARIANT: chunks_exact(8) yields 8-byte slices only
        };
        let lo = u32::from_le_bytes([b0, b1, b2, b3]) ^ crc;
        let hi = u32::from_le_bytes([b4, b5, b6, b7]);
        crc = crc_entry(7, lo)
            ^ crc_entry(6, lo >> 8)
            ^ crc_entry(5, lo >> 16)
            ^ crc_entry(4, lo >> 24)
            ^ crc_entry(3, hi)
            ^ crc_entry(2, hi >> 8)
            ^ crc_entry(1, hi >> 16)
            ^ crc_entry(0, hi >> 24);
    }
    for &b in chunks.remainder() {
        crc = crc_entry(0, crc ^ u32::from(b)) ^ (crc >> 8);
    }
    !crc
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Decode the 43-character tag into its 32 bytes; the decoder refuses padding and
/// non-zero trailing bits, so each tag has one spelling.
fn decode_tag(field: &str) -> Result<[u8; 32], TokenError> {
    let mut out = [0u8; 33];
    let n = URL_SAFE_NO_PAD
        .decode_slice(field, &mut out)
        .map_err(|_| TokenError::BadEncoding)?;
    let tag = out.get(..n).ok_or(TokenError::WrongLength)?;
    tag.try_into().map_err(|_| TokenError::WrongLength)
}

/// Check everything that needs no key: prefix, lengths, separators, encodings, checksum.
/// No hashing: the structure is checked first, then the CRC-32.
///
/// A well-formed token takes one pass over its bytes ([`parse_fast`]); anything else goes
/// through [`parse_exact`], which names the first check that fails. Both accept exactly the
/// same strings with the same result (a test compares them).
pub fn parse(secret: &str) -> Result<Parsed<'_>, TokenError> {
    match parse_fast(secret) {
        Some(answer) => answer,
        None => parse_exact(secret),
    }
}

/// The value of each base64url character, `0xFF` for any other byte.
#[allow(clippy::indexing_slicing)] // const evaluation: an out-of-range index fails the build
const B64URL_VALUE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// The 32 bytes of a 43-character tag, or `None` if a character is outside the alphabet or
/// the last one's two spare bits are set (the canonical spelling only, as the `base64`
/// decoder the exact parse uses).
fn decode_tag_fast(tag: &[u8]) -> Option<[u8; 32]> {
    if tag.len() != TAG_CHARS {
        return None;
    }
    let mut bits = 0u32;
    let mut nbits = 0u32;
    let mut out = [0u8; 32];
    let mut o = 0;
    for &c in tag {
        let v = *B64URL_VALUE.get(usize::from(c))?;
        if v == 0xFF {
            return None;
        }
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            *out.get_mut(o)? = (bits >> nbits) as u8;
            o += 1;
            bits &= (1 << nbits) - 1;
        }
    }
    // 43 × 6 = 258 bits: 32 bytes and 2 spare bits, which must be zero.
    (o == 32 && bits == 0).then_some(out)
}

/// Bytes of the base64url alphabet (`A-Z a-z 0-9 - _`).
#[allow(clippy::indexing_slicing)] // const evaluation: an out-of-range index fails the build
const B64URL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
        b += 1;
    }
    t
};

fn all_b64url(field: &[u8]) -> bool {
    field
        .iter()
        .all(|&b| B64URL.get(usize::from(b)).copied().unwrap_or(false))
}

/// The parse of a token whose every field sits where a genuine token's does: the key id
/// ends at the first `.`, then 48 payload characters, `.`, 43 tag characters, `.`, 8 hex
/// digits — checked in place, without splitting. `Some(Err(bad-checksum))` when that
/// structure is sound but the CRC-32 does not match (exactly what the exact parse would
/// say); `None` for anything else: [`parse_exact`] then says exactly what is wrong.
fn parse_fast(secret: &str) -> Option<Result<Parsed<'_>, TokenError>> {
    let b = secret.as_bytes();
    let rest = b.get(PREFIX.len()..)?;
    if b.get(..PREFIX.len())? != PREFIX.as_bytes() {
        return None;
    }
    let kid_len = rest
        .iter()
        .take(MAX_KEY_ID_CHARS + 1)
        .position(|&c| c == b'.')?;
    let payload_at = PREFIX.len() + kid_len + 1;
    let tag_at = payload_at + PAYLOAD_CHARS + 1;
    let crc_at = tag_at + TAG_CHARS + 1;
    if kid_len == 0 || b.len() != crc_at + CRC_CHARS {
        return None;
    }
    if b.get(tag_at - 1) != Some(&b'.') || b.get(crc_at - 1) != Some(&b'.') {
        return None;
    }
    let kid = secret.get(PREFIX.len()..payload_at - 1)?;
    let payload = b.get(payload_at..tag_at - 1)?;
    let tag = secret.get(tag_at..crc_at - 1)?;
    if !valid_key_id(kid) || !all_b64url(payload) || !all_b64url(tag.as_bytes()) {
        return None;
    }
    let mut claimed = 0u32;
    for &c in b.get(crc_at..)? {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        claimed = (claimed << 4) | u32::from(digit);
    }
    let tag_bytes = decode_tag_fast(tag.as_bytes())?;
    if crc32(b.get(..crc_at - 1)?) != claimed {
        return Some(Err(TokenError::BadChecksum));
    }
    Some(Ok(Parsed {
        key_id: kid,
        token_id: secret.get(payload_at..payload_at + TOKEN_ID_CHARS)?,
        signed: secret.get(..tag_at - 1)?,
        tag: tag_bytes,
    }))
}

/// The reference parse: each check in order, the first failure named.
fn parse_exact(secret: &str) -> Result<Parsed<'_>, TokenError> {
    if secret.is_empty() {
        return Err(TokenError::Empty);
    }
    let Some(rest) = secret.strip_prefix(PREFIX) else {
        return Err(TokenError::WrongPrefix);
    };
    if secret.len() < MIN_LEN || secret.len() > MAX_LEN {
        return Err(TokenError::WrongLength);
    }
    use crate::policy::text::split_at_byte as split;
    let Some((kid, rest)) = split(rest, b'.') else {
        return Err(TokenError::BadSeparator);
    };
    let Some((payload, rest)) = split(rest, b'.') else {
        return Err(TokenError::BadSeparator);
    };
    let Some((tag, crc)) = split(rest, b'.') else {
        return Err(TokenError::BadSeparator);
    };
    if crc.as_bytes().contains(&b'.') {
        return Err(TokenError::BadSeparator);
    }
    if kid.is_empty() || payload.is_empty() || tag.is_empty() || crc.is_empty() {
        return Err(TokenError::BadSeparator);
    }
    if kid.len() > MAX_KEY_ID_CHARS
        || payload.len() != PAYLOAD_CHARS
        || tag.len() != TAG_CHARS
        || crc.len() != CRC_CHARS
    {
        return Err(TokenError::WrongLength);
    }
    if !valid_key_id(kid) {
        return Err(TokenError::BadKeyId);
    }
    // 48 characters are exactly 36 bytes: every spelling over the alphabet is canonical,
    // so the payload needs no decoding, only its alphabet checked.
    if !all_b64url(payload.as_bytes()) {
        return Err(TokenError::BadEncoding);
    }
    let tag_bytes = decode_tag(tag)?;
    let mut claimed = 0u32;
    for b in crc.bytes() {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return Err(TokenError::BadEncoding),
        };
        claimed = (claimed << 4) | u32::from(digit);
    }
    let checked_len = secret.len() - CRC_CHARS - 1;
    let checked = secret.get(..checked_len).ok_or(TokenError::WrongLength)?;
    if crc32(checked.as_bytes()) != claimed {
        return Err(TokenError::BadChecksum);
    }
    let signed_len = PREFIX.len() + kid.len() + 1 + PAYLOAD_CHARS;
    let signed = secret.get(..signed_len).ok_or(TokenError::WrongLength)?;
    let token_id = payload
        .get(..TOKEN_ID_CHARS)
        .ok_or(TokenError::WrongLength)?;
    Ok(Parsed {
        key_id: kid,
        token_id,
        signed,
        tag: tag_bytes,
    })
}

/// A genuine token's public fields and its tag (format, checksum, key and HMAC verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified<'a> {
    /// Key id.
    pub key_id: &'a str,
    /// Public token id.
    pub token_id: &'a str,
    /// The verified HMAC-SHA256 tag: what a record minted since 0.4 stores.
    pub tag: [u8; 32],
}

/// How many verified tokens an authorizer remembers.
pub const CACHE_SLOTS: usize = 64;

/// The last tokens an authorizer verified: the exact secret strings and their tags,
/// direct-mapped by token id. A hit needs the whole presented secret to equal a secret
/// that passed [`Keyring::verify`] with the same keys (compared in constant time), so it
/// stands for exactly what verification would say. It holds nothing a store can change
/// (no record, no expiry, no revocation): those are read on every decision. One cache
/// belongs to one [`Keyring`] (the component keeps the pair in one resource).
#[derive(Clone, Default)]
pub struct TokenCache {
    slots: Vec<Option<CacheSlot>>,
}

#[derive(Clone)]
struct CacheSlot {
    secret: String,
    tag: [u8; 32],
}

impl core::fmt::Debug for TokenCache {
    // Holds secrets: show only how full it is.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let used = self.slots.iter().filter(|s| s.is_some()).count();
        f.debug_struct("TokenCache").field("used", &used).finish()
    }
}

/// Where a secret's token id starts: after the prefix, the key id and its dot.
fn id_offset(secret: &str) -> Option<usize> {
    let rest = secret.get(PREFIX.len()..)?;
    let dot = rest
        .bytes()
        .take(MAX_KEY_ID_CHARS + 1)
        .position(|b| b == b'.')?;
    Some(PREFIX.len() + dot + 1)
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> TokenCache {
        TokenCache::default()
    }

    fn slot_of(secret: &str) -> Option<usize> {
        let at = id_offset(secret)?;
        let id = secret.get(at..at + 4)?.as_bytes();
        let h = id.iter().fold(0usize, |h, &b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        Some(h % CACHE_SLOTS)
    }

    /// The verification of `secret`, if it is remembered.
    pub fn get<'a>(&self, secret: &'a str) -> Option<Verified<'a>> {
        let i = Self::slot_of(secret)?;
        let slot = self.slots.get(i)?.as_ref()?;
        let same = ct_eq(slot.secret.as_bytes(), secret.as_bytes());
        if !same {
            return None;
        }
        let at = id_offset(secret)?;
        Some(Verified {
            key_id: secret.get(PREFIX.len()..at - 1)?,
            token_id: secret.get(at..at + TOKEN_ID_CHARS)?,
            tag: slot.tag,
        })
    }

    /// Remember a verified secret (evicting whatever shared its slot).
    fn insert(&mut self, secret: &str, tag: [u8; 32]) {
        let Some(i) = Self::slot_of(secret) else {
            return;
        };
        if self.slots.is_empty() {
            self.slots = vec![None; CACHE_SLOTS];
        }
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = Some(CacheSlot {
                secret: secret.to_string(),
                tag,
            });
        }
    }
}

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

/// Constant-time equality of two byte strings (their lengths are public: a token's length
/// only tells its key id's). Every byte of both is read, eight at a time, whatever they
/// hold, and only the final answer is branched on; `black_box` keeps the compiler from
/// turning the accumulation into an early exit. Word-wise because the byte-wise
/// `subtle::ConstantTimeEq` cost ~0.3 µs per 110-byte secret in wasm.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut acc = 0u64;
    let (mut wa, mut wb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut wa).zip(&mut wb) {
        let (Ok(x), Ok(y)) = (<[u8; 8]>::try_from(x), <[u8; 8]>::try_from(y)) else {
            return false; // INVARIANT: chunks_exact(8) yields 8-byte chunks only
        };
        acc |= u64::from_le_bytes(x) ^ u64::from_le_bytes(y);
    }
    for (x, y) in wa.remainder().iter().zip(wb.remainder()) {
        acc |= u64::from(x ^ y);
    }
    core::hint::black_box(acc) == 0
}

/// SHA-256 of a secret (what records minted before contract 0.4 store).
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether a stored digest binds the record to this verified secret, in constant time: the
/// tag itself (records since 0.4, no hashing), or SHA-256 of the secret (older records).
pub fn digest_matches(secret: &str, verified: &Verified<'_>, stored: &SecretDigest) -> bool {
    match stored {
        SecretDigest::HmacTag(tag) => ct_eq(&verified.tag, tag),
        SecretDigest::Sha256(hash) => ct_eq(&secret_hash(secret), hash),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::policy::model::SigningKey;

    fn ring(ids: &[(&str, u8)], signing: &str) -> Keyring {
        Keyring::new(&Config {
            keys: ids
                .iter()
                .map(|(id, b)| SigningKey {
                    id: id.to_string(),
                    secret: vec![*b; 32],
                })
                .collect(),
            signing_key_id: signing.to_string(),
            options: Default::default(),
        })
        .unwrap()
    }

    /// A token from its four fields, with a correct checksum unless `crc` is given.
    fn build(kid: &str, payload: &str, tag: &str, crc: Option<&str>) -> String {
        let body = format!("{PREFIX}{kid}.{payload}.{tag}");
        let crc = crc.map_or_else(|| format!("{:08x}", crc32(body.as_bytes())), str::to_string);
        format!("{body}.{crc}")
    }

    #[test]
    fn parse_lengths_and_empty_fields() {
        // The shortest (1-char key id) and longest (16-char key id) genuine tokens parse.
        for (kid, len) in [("a", MIN_LEN), ("abcdefghijklmnop", MAX_LEN)] {
            let (secret, _, _) = ring(&[(kid, 1)], kid).mint(&[3; ENTROPY_BYTES]);
            assert_eq!(secret.len(), len);
            assert!(parse(&secret).is_ok(), "{secret}");
        }
        let (secret, _, _) = ring(&[("k1", 1)], "k1").mint(&[3; ENTROPY_BYTES]);
        let f: Vec<&str> = secret.trim_start_matches(PREFIX).split('.').collect();
        let (payload, tag, crc) = (f[1], f[2], f[3]);
        // An empty field is a separator error, whatever the total length.
        let cases = [
            build("", &format!("{payload}xx"), tag, None),
            build("k1", payload, &format!("{tag}{}", "x".repeat(8)), Some("")),
            build("k1", "", &format!("{tag}{}", "x".repeat(48)), None),
            build("k1", &format!("{payload}{}", "x".repeat(43)), "", None),
        ];
        for c in cases {
            assert!((MIN_LEN..=MAX_LEN).contains(&c.len()), "{c}");
            assert_eq!(parse(&c).err(), Some(TokenError::BadSeparator), "{c}");
        }
        // A payload or tag one character too long is a length error, even where its
        // base64 would not even decode.
        for c in [
            build("k1", &format!("{payload}x"), tag, None),
            build("k1", payload, &format!("{tag}xx"), None),
        ] {
            assert_eq!(parse(&c).err(), Some(TokenError::WrongLength), "{c}");
        }
        // A short checksum field is a length error (not a checksum mismatch).
        let short_crc = build("k12", payload, tag, Some(&crc[..7]));
        assert_eq!(parse(&short_crc).err(), Some(TokenError::WrongLength));
    }

    #[test]
    fn ids_never_start_like_a_flag_and_debug_hides_keys() {
        let r = ring(&[("k1", 0xAB)], "k1");
        assert!(r.mint(&[0; ENTROPY_BYTES]).1.starts_with('A'));
        for b in [0x7f, 0x80, 0xf8, 0xfc, 0xff] {
            let id = r.mint(&[b; ENTROPY_BYTES]).1;
            let first = id.chars().next().unwrap();
            assert!(
                first.is_ascii_uppercase() || ('a'..='f').contains(&first),
                "{id}"
            );
        }
        let shown = format!("{r:?}");
        assert!(shown.contains("k1"), "{shown}");
        assert!(
            !shown.contains("171") && !shown.contains("ab, ab"),
            "{shown}"
        );
    }

    #[test]
    fn crc32_known_answer() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        assert_eq!(crc32(b"abc"), 0x3524_41C2);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        assert_eq!(crc32(&[0u8; 32]), 0x190A_55AD);
        assert_eq!(crc32(&[0xFFu8; 32]), 0xFF6C_AB0B);
    }

    /// The bit-at-a-time definition the table is built from.
    fn crc32_bitwise(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    0xEDB8_8320 ^ (crc >> 1)
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    proptest::proptest! {
        #[test]
        fn crc32_table_equals_bitwise(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            proptest::prop_assert_eq!(crc32(&data), crc32_bitwise(&data));
        }
    }

    #[test]
    fn mint_then_verify_round_trip() {
        let r = ring(&[("k1", 7)], "k1");
        let (secret, id, tag) = r.mint(&[3u8; ENTROPY_BYTES]);
        assert!(secret.starts_with("fzpat_k1."));
        assert_eq!(secret.len(), MIN_LEN + 1);
        let v = r.verify(&secret).unwrap();
        assert_eq!(v.token_id, id);
        assert_eq!(v.key_id, "k1");
        assert_eq!(v.tag, tag);
        // Both kinds of stored digest bind the record to the secret; nothing else does.
        assert!(digest_matches(&secret, &v, &SecretDigest::HmacTag(tag)));
        assert!(digest_matches(
            &secret,
            &v,
            &SecretDigest::Sha256(secret_hash(&secret))
        ));
        assert!(!digest_matches(
            &secret,
            &v,
            &SecretDigest::HmacTag([0; 32])
        ));
        assert!(!digest_matches(&secret, &v, &SecretDigest::Sha256(tag)));
        assert!(!digest_matches(
            &secret,
            &v,
            &SecretDigest::HmacTag(secret_hash(&secret))
        ));
    }

    proptest::proptest! {
        /// `ct_eq` is equality, for every pair of lengths and contents (including strings
        /// that differ only in their last byte, or only past a whole word).
        #[test]
        fn ct_eq_is_equality(
            a in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            flip in proptest::num::usize::ANY,
            extend in proptest::bool::ANY,
        ) {
            proptest::prop_assert!(ct_eq(&a, &a.clone()));
            let mut b = a.clone();
            if let Some(i) = (!b.is_empty()).then(|| flip % b.len()) {
                b[i] ^= 1 << (flip % 8);
                proptest::prop_assert!(!ct_eq(&a, &b));
            }
            let mut c = a.clone();
            if extend {
                c.push(0);
                proptest::prop_assert!(!ct_eq(&a, &c));
            }
        }
    }

    proptest::proptest! {
        /// The one-pass parse agrees with the reference parse on every string it accepts,
        /// and accepts every genuine token: mutated tokens (one byte changed, inserted or
        /// removed anywhere) and random strings around the token's shape.
        #[test]
        fn fast_parse_agrees_with_the_exact_parse(
            kid in "[a-z0-9]{1,16}",
            seed in proptest::num::u8::ANY,
            at in proptest::num::usize::ANY,
            byte in proptest::num::u8::ANY,
            how in 0u8..4,
        ) {
            let (genuine, _, _) = ring(&[(&kid, 3)], &kid).mint(&[seed; ENTROPY_BYTES]);
            proptest::prop_assert!(matches!(parse_fast(&genuine), Some(Ok(_))));
            let mut b = genuine.into_bytes();
            let i = at % (b.len() + 1);
            match how {
                0 => { if let Some(x) = b.get_mut(i) { *x = byte } }
                1 => b.insert(i, byte),
                2 if i < b.len() => {
                    b.remove(i);
                }
                _ => {}
            }
            if let Ok(s) = core::str::from_utf8(&b) {
                if let Some(fast) = parse_fast(s) {
                    proptest::prop_assert_eq!(fast, parse_exact(s));
                }
                proptest::prop_assert_eq!(parse(s), parse_exact(s));
            }
        }
    }

    proptest::proptest! {
        /// The table decoder of the tag agrees with the `base64` crate's canonical decoder
        /// on every 43-character string over (mostly) the alphabet.
        #[test]
        fn fast_tag_decoding_is_canonical_base64url(tag in "[A-Za-z0-9_=.+/-]{43}") {
            let reference = decode_tag(&tag).ok();
            proptest::prop_assert_eq!(decode_tag_fast(tag.as_bytes()), reference);
        }

        /// Every genuine tag decodes to what was encoded.
        #[test]
        fn fast_tag_decoding_round_trips(bytes in proptest::array::uniform32(proptest::num::u8::ANY)) {
            let tag = URL_SAFE_NO_PAD.encode(bytes);
            proptest::prop_assert_eq!(decode_tag_fast(tag.as_bytes()), Some(bytes));
        }
    }

    /// The cache answers exactly what verification answers: a remembered secret gives the
    /// same fields; any other string (one character changed, a prefix, another token in
    /// the same slot) is verified afresh, and a forgery is never remembered.
    #[test]
    fn cache_answers_what_verify_answers() {
        let r = ring(&[("k1", 7)], "k1");
        let mut cache = TokenCache::new();
        let (secret, _, _) = r.mint(&[5u8; ENTROPY_BYTES]);
        assert!(cache.get(&secret).is_none());
        let first = r.verify_cached(Some(&mut cache), &secret).unwrap();
        assert_eq!(cache.get(&secret), Some(first));
        assert_eq!(r.verify_cached(Some(&mut cache), &secret), Ok(first));
        // A forged tag with a valid checksum is refused and never cached.
        let (forged, _, _) = ring(&[("k1", 9)], "k1").mint(&[5u8; ENTROPY_BYTES]);
        assert_eq!(
            r.verify_cached(Some(&mut cache), &forged),
            Err(TokenError::BadSignature)
        );
        assert!(cache.get(&forged).is_none());
        assert_eq!(cache.get(&secret), Some(first));
        // A truncated or extended secret is not a hit.
        assert!(cache.get(&secret[..secret.len() - 1]).is_none());
        assert!(cache.get(&format!("{secret}x")).is_none());
        // Many tokens: every answer still equals a fresh verification.
        for b in 0..=255u8 {
            let (s, _, _) = r.mint(&[b; ENTROPY_BYTES]);
            assert_eq!(r.verify_cached(Some(&mut cache), &s), r.verify(&s));
        }
        assert_eq!(
            r.verify_cached(Some(&mut cache), &secret),
            r.verify(&secret)
        );
        let shown = format!("{cache:?}");
        assert!(!shown.contains("fzpat_"), "{shown}");
        assert!(shown.starts_with("TokenCache { used: "), "{shown}");
        assert_eq!(format!("{:?}", TokenCache::new()), "TokenCache { used: 0 }");
    }

    /// The cache spreads tokens over its slots (a token presented again is found while
    /// others come and go), and remembers tokens signed with the longest key ids too.
    #[test]
    fn the_cache_spreads_tokens_and_keeps_long_key_ids() {
        let r = ring(&[("k1", 7)], "k1");
        let mut cache = TokenCache::new();
        let secrets: Vec<String> = (0..16u8)
            .map(|b| r.mint(&[b.wrapping_mul(37); ENTROPY_BYTES]).0)
            .collect();
        for s in &secrets {
            r.verify_cached(Some(&mut cache), s).unwrap();
        }
        let kept = secrets.iter().filter(|s| cache.get(s).is_some()).count();
        assert!(kept >= 8, "only {kept} of 16 tokens kept in 64 slots");
        let kid = "abcdefghijklmnop";
        let long = ring(&[(kid, 7)], kid);
        let (secret, _, _) = long.mint(&[9; ENTROPY_BYTES]);
        let v = long.verify_cached(Some(&mut cache), &secret).unwrap();
        assert_eq!(
            cache.get(&secret),
            Some(v),
            "a 16-character key id is cached"
        );
        assert_eq!(v.key_id, kid);
    }

    /// The two spare bits at the end of a tag must be zero (canonical base64url): a tag
    /// that differs from a genuine one only there is refused by both parses, even with its
    /// checksum recomputed.
    #[test]
    fn tags_with_spare_bits_set_are_refused() {
        let r = ring(&[("k1", 7)], "k1");
        let (secret, _, _) = r.mint(&[4; ENTROPY_BYTES]);
        let f: Vec<&str> = secret.trim_start_matches(PREFIX).split('.').collect();
        let (payload, tag) = (f[1], f[2]);
        let last = tag.as_bytes()[TAG_CHARS - 1];
        let value = B64URL_VALUE[usize::from(last)];
        assert_eq!(value & 3, 0, "a genuine tag's spare bits are zero");
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for spare in 1..4u8 {
            let other = char::from(alphabet[usize::from(value | spare)]);
            let altered = format!("{}{other}", &tag[..TAG_CHARS - 1]);
            assert_eq!(decode_tag_fast(altered.as_bytes()), None, "{altered}");
            assert_eq!(decode_tag(&altered).ok(), None, "{altered}");
            let token = build("k1", payload, &altered, None);
            assert_eq!(
                parse(&token).err(),
                Some(TokenError::BadEncoding),
                "{token}"
            );
            assert_eq!(r.verify(&token).err(), Some(TokenError::BadEncoding));
        }
    }
}

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
use subtle::ConstantTimeEq;

use super::model::{Config, ConfigError};

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

/// CRC-32 (IEEE 802.3, reflected, as zlib and GitHub's token checksum use).
pub fn crc32(data: &[u8]) -> u32 {
    // Evaluated at compile time: an out-of-range index would fail the build, not panic.
    #[allow(clippy::indexing_slicing)]
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
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
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        let idx = ((crc ^ u32::from(b)) & 0xFF) as usize;
        // INVARIANT: idx < 256 by the mask above.
        let entry = TABLE.get(idx).copied().unwrap_or(0);
        crc = entry ^ (crc >> 8);
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

fn decode_exact<const N: usize>(field: &str) -> Result<[u8; N], TokenError> {
    // The decoder rejects padding and non-zero trailing bits: one string per token.
    let bytes = URL_SAFE_NO_PAD
        .decode(field)
        .map_err(|_| TokenError::BadEncoding)?;
    bytes.try_into().map_err(|_| TokenError::WrongLength)
}

/// Check everything that needs no key: prefix, lengths, separators, encodings, checksum.
pub fn parse(secret: &str) -> Result<Parsed<'_>, TokenError> {
    if secret.is_empty() {
        return Err(TokenError::Empty);
    }
    let Some(rest) = secret.strip_prefix(PREFIX) else {
        return Err(TokenError::WrongPrefix);
    };
    if secret.len() < MIN_LEN || secret.len() > MAX_LEN {
        return Err(TokenError::WrongLength);
    }
    let mut fields = rest.split('.');
    let (Some(kid), Some(payload), Some(tag), Some(crc), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(TokenError::BadSeparator);
    };
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
    let _payload: [u8; ENTROPY_BYTES] = decode_exact(payload)?;
    let tag_bytes: [u8; 32] = decode_exact(tag)?;
    if !crc
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(TokenError::BadEncoding);
    }
    let claimed = u32::from_str_radix(crc, 16).map_err(|_| TokenError::BadEncoding)?;
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
    pub fn verify<'a>(&self, secret: &'a str) -> Result<Parsed<'a>, TokenError> {
        let parsed = parse(secret)?;
        let mut mac = self
            .key(parsed.key_id)
            .ok_or(TokenError::UnknownKey)?
            .clone();
        mac.update(parsed.signed.as_bytes());
        mac.verify_slice(&parsed.tag)
            .map_err(|_| TokenError::BadSignature)?;
        Ok(parsed)
    }

    /// Format, checksum and a listed key id, without the HMAC. Enough to bind a secret to
    /// a stored record by its SHA-256 (a preimage the store alone cannot give); the full
    /// [`Keyring::verify`] still runs before any store lookup and on every refusal.
    pub fn parse_listed<'a>(&self, secret: &'a str) -> Result<Parsed<'a>, TokenError> {
        let parsed = parse(secret)?;
        self.key(parsed.key_id).ok_or(TokenError::UnknownKey)?;
        Ok(parsed)
    }

    /// Build a token from 36 bytes of entropy with the signing key. Returns the secret
    /// and its public token id.
    pub fn mint(&self, entropy: &[u8; ENTROPY_BYTES]) -> (String, String) {
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
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        secret.push('.');
        secret.push_str(&tag);
        let crc = crc32(secret.as_bytes());
        secret.push('.');
        secret.push_str(&format!("{crc:08x}"));
        (secret, token_id)
    }
}

/// SHA-256 of a secret, as stored.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn hash_matches(secret: &str, stored: &[u8]) -> bool {
    let computed = secret_hash(secret);
    // Length is public (always 32 for a sound record); content compared in constant time.
    stored.len() == computed.len() && bool::from(computed.ct_eq(stored))
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
            let (secret, _) = ring(&[(kid, 1)], kid).mint(&[3; ENTROPY_BYTES]);
            assert_eq!(secret.len(), len);
            assert!(parse(&secret).is_ok(), "{secret}");
        }
        let (secret, _) = ring(&[("k1", 1)], "k1").mint(&[3; ENTROPY_BYTES]);
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
        let (secret, id) = r.mint(&[3u8; ENTROPY_BYTES]);
        assert!(secret.starts_with("fzpat_k1."));
        assert_eq!(secret.len(), MIN_LEN + 1);
        let p = r.verify(&secret).unwrap();
        assert_eq!(p.token_id, id);
        assert_eq!(p.key_id, "k1");
        assert!(hash_matches(&secret, &secret_hash(&secret)));
        assert!(!hash_matches(&secret, &[0u8; 32]));
        assert!(!hash_matches(&secret, &[]));
    }
}

//! The token's layout and its parse: prefix, lengths, separators, encodings and checksum,
//! everything that needs no key (see the format in [`super`]).
#[allow(unused_imports)]
use crate::prelude::*;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::crc::crc32;

/// Every token starts with this: distinctive, so secret scanners can find tokens.
pub const PREFIX: &str = "fzpat_";
/// Bytes of public token id.
pub const ID_BYTES: usize = 12;
/// Bytes of secret entropy.
pub const SECRET_BYTES: usize = 24;
/// Entropy a mint consumes: id and secret.
pub const ENTROPY_BYTES: usize = ID_BYTES + SECRET_BYTES;
const PAYLOAD_CHARS: usize = 48;
pub(super) const TAG_CHARS: usize = 43;
const CRC_CHARS: usize = 8;
pub(super) const TOKEN_ID_CHARS: usize = 16;
pub(super) const MAX_KEY_ID_CHARS: usize = 16;
/// Shortest possible token.
pub const MIN_LEN: usize = PREFIX.len() + 1 + 1 + PAYLOAD_CHARS + 1 + TAG_CHARS + 1 + CRC_CHARS;
/// Longest possible token.
pub const MAX_LEN: usize = MIN_LEN - 1 + MAX_KEY_ID_CHARS;

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

pub(super) fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Decode the 43-character tag into its 32 bytes; the decoder refuses padding and
/// non-zero trailing bits, so each tag has one spelling.
pub(super) fn decode_tag(field: &str) -> Result<[u8; 32], TokenError> {
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
pub(super) const B64URL_VALUE: [u8; 256] = {
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
pub(super) fn decode_tag_fast(tag: &[u8]) -> Option<[u8; 32]> {
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
pub(super) fn parse_fast(secret: &str) -> Option<Result<Parsed<'_>, TokenError>> {
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
pub(super) fn parse_exact(secret: &str) -> Result<Parsed<'_>, TokenError> {
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

/// Where a secret's token id starts: after the prefix, the key id and its dot.
pub(super) fn id_offset(secret: &str) -> Option<usize> {
    let rest = secret.get(PREFIX.len()..)?;
    let dot = rest
        .bytes()
        .take(MAX_KEY_ID_CHARS + 1)
        .position(|b| b == b'.')?;
    Some(PREFIX.len() + dot + 1)
}

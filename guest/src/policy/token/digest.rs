//! What binds a record to a secret: the verified token's tag, the SHA-256 of older
//! records, and the constant-time comparison both go through.
#[allow(unused_imports)]
use crate::prelude::*;

use sha2::{Digest, Sha256};

use crate::policy::model::SecretDigest;

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

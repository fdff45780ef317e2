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
//!
//! One module per concern: [`format`] (layout and parse), [`crc`] (the checksum),
//! [`digest`] (what binds a record to a secret), [`keyring`] (keys, verification,
//! minting), [`cache`] (verified tokens remembered).
#[allow(unused_imports)]
use crate::prelude::*;

mod cache;
mod crc;
mod digest;
mod format;
mod keyring;

pub use cache::{CACHE_SLOTS, TokenCache};
pub use crc::crc32;
pub use digest::{Verified, ct_eq, digest_matches, secret_hash};
pub use format::{
    ENTROPY_BYTES, ID_BYTES, MAX_LEN, MIN_LEN, PREFIX, Parsed, SECRET_BYTES, TokenError, parse,
};
pub use keyring::{Keyring, MIN_KEY_BYTES};

/// A verified token's public fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    /// Public token id.
    pub token_id: String,
    /// Signing key id.
    pub key_id: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::format::{
        B64URL_VALUE, TAG_CHARS, decode_tag, decode_tag_fast, parse_exact, parse_fast,
    };
    use super::*;
    use crate::policy::model::{Config, SecretDigest};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn ring(ids: &[(&str, u8)], signing: &str) -> Keyring {
        Keyring::new(&Config::repeated_byte_keys(ids, signing)).unwrap()
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

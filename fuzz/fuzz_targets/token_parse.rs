//! `token_parse`: any bytes, as a token string, through `inspect`, `Authorizer::verify`,
//! `Keyring::verify` and the verified-token cache.
//!
//! Invariants (never may fail):
//! - no panic in `inspect`, `verify`, `verify_cached`;
//! - `inspect` Ok => the string starts with `fzpat_`, is 109-124 characters of
//!   `A-Z a-z 0-9 - _ .`, and the key id and token id it reports are the string's own
//!   fields (`fzpat_<kid>.<first 16 of payload>…`);
//! - `verify` Ok => it found a token (never `None` for a Bearer), `inspect` is Ok with
//!   the same token id and key id, and the key is the only configured one (`k1`); the tag
//!   `Keyring::verify` returns is the string's tag field, decoded;
//! - `inspect` Err(e) => `verify` Err(e) (the format is checked first, same error);
//!   `inspect` Ok and `verify` Err => `unknown-key` or `bad-signature`;
//! - the token picked out of Basic (username with an empty password, or password) gets
//!   the same verdict as the Bearer;
//! - `Keyring::verify_cached` answers exactly what `Keyring::verify` answers, with an empty
//!   cache, with a cache holding the genuine `k1` token (whose slot many near-misses
//!   share), and on a second call with the same string; so does `Engine::verify`.
#![no_main]

use std::sync::LazyLock;

use forge_authz_fuzz::{genuine_tokens, one_key_authorizer, one_key_config, token_charset};
use forge_authz_guest::policy::token::{self, Keyring, TokenCache};
use forge_authz_guest::policy::{self, Authorizer, Credential, Engine, TokenError};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    auth: Authorizer,
    keys: Keyring,
    /// A cache holding the genuine `k1` token.
    warm: TokenCache,
    engine: Engine,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let keys = Keyring::new(&one_key_config()).expect("fixed test config is valid");
    let mut engine = Engine::new(&one_key_config()).expect("fixed test config is valid");
    let mut warm = TokenCache::new();
    let g = &genuine_tokens()[0];
    keys.verify_cached(Some(&mut warm), &g.secret)
        .expect("genuine k1 token verifies");
    assert!(
        warm.get(&g.secret).is_some(),
        "the cache holds the genuine token"
    );
    engine
        .verify(&Credential::Bearer(g.secret.clone()))
        .expect("genuine k1 token verifies");
    Fixture {
        auth: one_key_authorizer(),
        keys,
        warm,
        engine,
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let fx = &*FIXTURE;
    let inspected = policy::inspect(s);
    if let Ok(info) = &inspected {
        assert!(s.starts_with("fzpat_"), "inspect accepted a wrong prefix");
        assert!(
            token_charset(s),
            "inspect accepted a character outside the alphabet"
        );
        assert!(
            (109..=124).contains(&s.len()),
            "inspect accepted length {}",
            s.len()
        );
        let rest = &s["fzpat_".len()..];
        let (kid, after) = rest.split_once('.').expect("a separator after the key id");
        assert_eq!(info.key_id, kid);
        assert_eq!(info.token_id.len(), 16);
        assert!(
            after.starts_with(&info.token_id),
            "token id is not the payload's start"
        );
        assert_eq!(s.split('.').count(), 4, "not four fields");
    }

    let bearer = fx.auth.verify(&Credential::Bearer(s.to_string()));
    match (&bearer, &inspected) {
        (Ok(None), _) => panic!("a Bearer token verified as no token"),
        (Ok(Some(v)), Ok(info)) => {
            assert_eq!(v.token_id, info.token_id);
            assert_eq!(v.key_id, info.key_id);
            assert_eq!(v.key_id, "k1");
        }
        (Ok(Some(_)), Err(e)) => panic!("verify accepted what inspect refused ({e:?})"),
        (Err(v), Err(i)) => assert_eq!(v, i, "verify and inspect disagree on the format"),
        (Err(e), Ok(_)) => assert!(
            matches!(e, TokenError::UnknownKey | TokenError::BadSignature),
            "a well-formed token refused with {e:?}"
        ),
    }

    // The keyring's verdict, its tag, and the cache.
    let direct = fx.keys.verify(s);
    assert_eq!(
        direct
            .as_ref()
            .map(|v| (v.token_id.to_string(), v.key_id.to_string())),
        bearer.as_ref().map(|v| v
            .as_ref()
            .map(|v| (v.token_id.clone(), v.key_id.clone()))
            .expect("some")),
        "Keyring::verify differs from Authorizer::verify"
    );
    if let Ok(v) = &direct {
        let parsed = token::parse(s).expect("a verified token parses");
        assert_eq!(v.tag, parsed.tag, "the verified tag is not the string's");
    }
    let mut cold = TokenCache::new();
    let mut warm = fx.warm.clone();
    for cache in [&mut cold, &mut warm] {
        for _ in 0..2 {
            assert_eq!(
                fx.keys.verify_cached(Some(&mut *cache), s),
                direct,
                "verify_cached differs from verify"
            );
        }
        assert_eq!(
            cache.get(s).is_some(),
            direct.is_ok(),
            "the cache holds a refused token"
        );
    }
    let mut engine = fx.engine.clone();
    for _ in 0..2 {
        assert_eq!(
            engine.verify(&Credential::Bearer(s.to_string())),
            bearer,
            "Engine::verify differs"
        );
    }

    // The same secret in the other places a token is picked from.
    let as_username = fx.auth.verify(&Credential::Basic {
        username: s.to_string(),
        password: String::new(),
    });
    assert_eq!(
        as_username, bearer,
        "Basic username verdict differs from Bearer"
    );
    if !s.is_empty() && s != "x-oauth-basic" {
        let as_password = fx.auth.verify(&Credential::Basic {
            username: "x-access-token".to_string(),
            password: s.to_string(),
        });
        assert_eq!(
            as_password, bearer,
            "Basic password verdict differs from Bearer"
        );
    }
});

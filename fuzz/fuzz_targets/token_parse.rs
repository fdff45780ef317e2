//! `token_parse`: any bytes, as a token string, through `inspect` and `verify`.
//!
//! Invariants (never may fail):
//! - no panic in `inspect`, `verify`;
//! - `inspect` Ok => the string starts with `fzpat_`, is 109-124 characters of
//!   `A-Z a-z 0-9 - _ .`, and the key id and token id it reports are the string's own
//!   fields (`fzpat_<kid>.<first 16 of payload>…`);
//! - `verify` Ok => it found a token (never `None` for a Bearer), `inspect` is Ok with
//!   the same token id and key id, and the key is the only configured one (`k1`);
//! - `inspect` Err(e) => `verify` Err(e) (the format is checked first, same error);
//!   `inspect` Ok and `verify` Err => `unknown-key` or `bad-signature`;
//! - the token picked out of Basic (username with an empty password, or password) gets
//!   the same verdict as the Bearer.
#![no_main]

use std::sync::LazyLock;

use forge_authz_fuzz::{one_key_authorizer, token_charset};
use forge_authz_guest::policy::{self, Authorizer, Credential, TokenError};
use libfuzzer_sys::fuzz_target;

static AUTH: LazyLock<Authorizer> = LazyLock::new(one_key_authorizer);

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
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

    let bearer = AUTH.verify(&Credential::Bearer(s.to_string()));
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

    // The same secret in the other places a token is picked from.
    let as_username = AUTH.verify(&Credential::Basic {
        username: s.to_string(),
        password: String::new(),
    });
    assert_eq!(
        as_username, bearer,
        "Basic username verdict differs from Bearer"
    );
    if !s.is_empty() && s != "x-oauth-basic" {
        let as_password = AUTH.verify(&Credential::Basic {
            username: "x-access-token".to_string(),
            password: s.to_string(),
        });
        assert_eq!(
            as_password, bearer,
            "Basic password verdict differs from Bearer"
        );
    }
});

//! The C ABI as a C caller uses it: return codes that can never be mistaken for an allow,
//! NULL and garbage refused with an error, hot swap, minting, and the whole scenario corpus
//! (expanded by the Rust harness) replayed through `fa_decide` with identical outputs.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::panic, clippy::indexing_slicing)]

use std::ffi::CString;
use std::ptr::{null, null_mut};

use forge_authz::*;

mod common;
use common::{Policy, World, decide, policy, take, world};

const CONFIG: &str = r#"{"keys":[{"id":"k1","secret":"7777777777777777777777777777777777777777777777777777777777777777"}],"signing_key":"k1"}"#;
/// CONFIG accepting unsigned modules (development): the swap tests here are about the
/// module check; its trust is tests/trust.rs's subject.
const UNSIGNED_OK: &str = r#"{"keys":[{"id":"k1","secret":"7777777777777777777777777777777777777777777777777777777777777777"}],"signing_key":"k1","trust":{"allow_unsigned":true}}"#;

fn sample_world() -> World {
    world(
        r#"{"now":1767225600,"keys":[{"id":"k1","secret":"7777777777777777777777777777777777777777777777777777777777777777"}],"signing_key":"k1",
        "users":[{"name":"alice","status":"active","site_admin":false,"visibility":"public"}],
        "repositories":[{"owner":"alice","name":"app","private":false,"kind":"hosted","archived":false,"collaborators":{}},
                        {"owner":"alice","name":"secret","private":true,"kind":"hosted","archived":false,"collaborators":{}}]}"#,
    )
}

fn mint(p: &Policy, w: &World, scopes: &str) -> String {
    let m = CString::new(format!(
        r#"{{"owner":"alice","name":"t{}","scopes":{scopes},"expires_in":3600}}"#,
        scopes.len()
    ))
    .unwrap();
    let mut out = null_mut();
    let code = unsafe { fa_issue(p.0, w.0, m.as_ptr(), &mut out) };
    let v: serde_json::Value = serde_json::from_str(&take(out)).unwrap();
    assert_eq!(code, FA_OK, "{v}");
    assert_eq!(v["record"]["digest"], "hmac-tag");
    v["secret"].as_str().unwrap().to_string()
}

#[test]
fn codes_allow_only_an_allow() {
    let p = policy(CONFIG).unwrap();
    let w = sample_world();
    let secret = mint(&p, &w, r#"["read:repository"]"#);
    let pull = |repo: &str, cred: &str| {
        format!(r#"{{"credential":{cred},"repository":"{repo}","action":"pull"}}"#)
    };
    let bearer = format!(r#"{{"bearer":"{secret}"}}"#);
    let (code, out) = decide(&p, &w, &pull("alice/secret", &bearer));
    assert_eq!((code, out["reason"].as_str()), (FA_ALLOW, Some("granted")));
    let (code, out) = decide(&p, &w, &pull("alice/secret", r#""anonymous""#));
    assert_eq!(
        (code, out["status"].as_u64()),
        (FA_DENY, Some(401)),
        "{out}"
    );
    let (code, out) = decide(&p, &w, &pull("alice/app", r#"{"bearer":"fzpat_k1.nope"}"#));
    assert_eq!(
        (code, out["reason"].as_str()),
        (FA_DENY, Some("token-invalid"))
    );
    // Unreadable requests: an error, never an allow.
    for bad in [
        "",
        "{",
        "null",
        r#"{"kind":"teleport"}"#,
        r#"{"repository":"a/b"}"#,
    ] {
        let (code, out) = decide(&p, &w, bad);
        assert_eq!(code, FA_ERROR, "{bad}: {out}");
    }
    // NULL anywhere: an error.
    let mut out = null_mut();
    let r = CString::new(pull("alice/app", &bearer)).unwrap();
    assert_eq!(
        unsafe { fa_decide(null(), w.0, r.as_ptr(), &mut out) },
        FA_ERROR
    );
    take(out);
    let mut out = null_mut();
    assert_eq!(
        unsafe { fa_decide(p.0, null(), r.as_ptr(), &mut out) },
        FA_ERROR
    );
    take(out);
    let mut out = null_mut();
    assert_eq!(unsafe { fa_decide(p.0, w.0, null(), &mut out) }, FA_ERROR);
    take(out);
}

#[test]
fn bad_configurations_and_modules_are_errors() {
    assert!(policy("{}").is_err());
    assert!(policy(r#"{"keys":[{"id":"k1","secret":"00"}],"signing_key":"k1"}"#).is_err());
    assert!(policy("not json").is_err());
    let p = policy(UNSIGNED_OK).unwrap();
    let before = take(unsafe { fa_policy_sha256(p.0) });
    let mut err = null_mut();
    let junk = b"\0asm\x0d\0\x01\0";
    assert_eq!(
        unsafe { fa_policy_swap(p.0, junk.as_ptr(), junk.len(), &mut err) },
        FA_ERROR
    );
    assert!(take(err).contains("refused"));
    assert_eq!(
        take(unsafe { fa_policy_sha256(p.0) }),
        before,
        "old module kept"
    );
}

#[test]
fn hot_swap_publishes_a_checked_module() {
    let p = policy(UNSIGNED_OK).unwrap();
    let w = sample_world();
    let secret = mint(&p, &w, r#"["read:repository"]"#);
    let bytes =
        forge_authz_host::policy::module_bytes(&forge_authz_host::default_policy_path()).unwrap();
    let mut err = null_mut();
    assert_eq!(
        unsafe { fa_policy_swap(p.0, bytes.as_ptr(), bytes.len(), &mut err) },
        FA_OK
    );
    let (code, _) = decide(
        &p,
        &w,
        &format!(
            r#"{{"credential":{{"bearer":"{secret}"}},"repository":"alice/app","action":"pull"}}"#
        ),
    );
    assert_eq!(code, FA_ALLOW, "tokens keep working across a swap");
}

#[test]
fn verify_names_the_token_or_the_error() {
    let p = policy(CONFIG).unwrap();
    let w = sample_world();
    let secret = mint(&p, &w, r#"["read:repository"]"#);
    let verify = |c: &str| {
        let c = CString::new(c).unwrap();
        let mut out = null_mut();
        assert_eq!(unsafe { fa_verify(p.0, c.as_ptr(), &mut out) }, FA_OK);
        serde_json::from_str::<serde_json::Value>(&take(out)).unwrap()
    };
    let v = verify(&format!(r#"{{"bearer":"{secret}"}}"#));
    assert_eq!(v["key_id"], "k1");
    assert_eq!(v["token_id"].as_str().map(str::len), Some(16));
    assert_eq!(verify(r#""anonymous""#), serde_json::Value::Null);
    let mut forged = secret.clone().into_bytes();
    forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
    let v = verify(&format!(
        r#"{{"bearer":"{}"}}"#,
        String::from_utf8(forged).unwrap()
    ));
    assert_eq!(v["token_error"], "bad-checksum");
}

#[test]
fn the_expanded_corpus_replays_through_the_c_abi() {
    // issue 12: the same outputs as the Rust host for every scenario.
    let mut n = 0;
    for fam in forge_authz_tests::scenario::load_corpus().unwrap() {
        let expanded = forge_authz_tests::scenario::expand(&fam, &forge_authz_tests::wasm).unwrap();
        let w = world(&expanded["world"].to_string());
        let p = policy(&expanded["world"].to_string()).unwrap();
        for sc in expanded["scenarios"].as_array().unwrap() {
            let (code, out) = decide(&p, &w, &sc["request"].to_string());
            assert_eq!(out, sc["output"], "{}: {}", fam.family, sc["name"]);
            let allowed = match &out {
                serde_json::Value::Object(o) if o.contains_key("decision") => {
                    o["decision"] == "allow"
                }
                serde_json::Value::Array(list) => list.iter().any(|d| d["decision"] == "allow"),
                serde_json::Value::Object(perms) => perms
                    .values()
                    .any(|v| v.as_array().is_some_and(|a| !a.is_empty())),
                _ => false,
            };
            assert_eq!(code == FA_ALLOW, allowed, "{}: {}", fam.family, sc["name"]);
            n += 1;
        }
    }
    assert!(n > 300, "{n} scenarios");
}

/// A record the host cannot use is refused and the world is left as it was: the token it
/// would have replaced still works (before, the bad record replaced it and then failed
/// validation, leaving the world broken).
#[test]
fn a_refused_token_record_leaves_the_world_as_it_was() {
    let p = policy(CONFIG).unwrap();
    let w = sample_world();
    let m = CString::new(
        r#"{"owner":"alice","name":"ci","scopes":["read:repository"],"expires_in":3600}"#,
    )
    .unwrap();
    let mut out = null_mut();
    assert_eq!(unsafe { fa_issue(p.0, w.0, m.as_ptr(), &mut out) }, FA_OK);
    let issued: serde_json::Value = serde_json::from_str(&take(out)).unwrap();
    let secret = issued["secret"].as_str().unwrap().to_string();
    let pull = format!(
        r#"{{"credential":{{"bearer":"{secret}"}},"repository":"alice/secret","action":"pull"}}"#
    );
    assert_eq!(decide(&p, &w, &pull).0, FA_ALLOW);

    let mut bad = issued["record"].clone();
    bad["secret_hash"] = serde_json::Value::from("not hex");
    let bad = CString::new(bad.to_string()).unwrap();
    let mut err = null_mut();
    assert_eq!(
        unsafe { fa_world_put_token(w.0, bad.as_ptr(), &mut err) },
        FA_ERROR
    );
    assert!(take(err).contains("secret_hash is not hex"));
    let (code, out) = decide(&p, &w, &pull);
    assert_eq!((code, out["reason"].as_str()), (FA_ALLOW, Some("granted")));
}

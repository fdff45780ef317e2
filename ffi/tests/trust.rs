//! Signed modules through the C ABI (issue 23, "Signed modules" and its "Done when": unsigned,
//! tampered (one byte), wrong-key, replayed-older and retired-key modules refused on every
//! path that makes a module live — `fa_policy_new`/`fa_policy_new_signed` with bytes,
//! `fa_policy_swap`/`fa_policy_swap_signed` — with the old module still serving;
//! allow-unsigned works and is visible in `fa_policy_trust`). Keys and signatures are made
//! by the real `minisign` binary per run.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::panic, clippy::indexing_slicing)]

use std::ffi::CString;
use std::ptr::{null, null_mut};

use forge_authz::*;
use forge_authz_testkit::minisign::{Key, Minisign};
use serde_json::{Value, json};

mod common;
use common::{Policy, World, decide, take, world};

const SECRET: &str = "7777777777777777777777777777777777777777777777777777777777777777";

/// The module under test (what `cargo policy` built).
fn module() -> Vec<u8> {
    forge_authz_host::policy::module_bytes(&forge_authz_host::default_policy_path())
        .unwrap()
        .to_vec()
}

/// The module with a custom section appended: another version (another SHA-256) that
/// decides the same.
fn version(n: u64) -> Vec<u8> {
    let name = b"forge-authz-test";
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(format!("v{n}").as_bytes());
    let mut out = module();
    out.push(0);
    out.push(body.len() as u8); // < 128: one LEB128 byte
    out.extend(body);
    out
}

fn statement(bytes: &[u8], contract: &str, version: u64) -> String {
    let sha = forge_authz_host::trust::Statement::for_bytes(bytes, version).sha256;
    format!("forge-authz-module contract={contract} version={version} sha256={sha}")
}

struct Signing {
    ms: Minisign,
    trusted: Key,
    stranger: Key,
    retired: Key,
}

impl Signing {
    fn new(test: &str) -> Option<Signing> {
        let ms = Minisign::find_or_skip(test)?;
        let (trusted, stranger, retired) = (ms.keygen("a"), ms.keygen("b"), ms.keygen("old"));
        Some(Signing {
            ms,
            trusted,
            stranger,
            retired,
        })
    }

    fn sign(&self, key: &Key, bytes: &[u8], v: u64) -> String {
        self.ms.sign(
            key,
            bytes,
            &statement(bytes, FA_CONTRACT.to_str().unwrap(), v),
        )
    }

    /// Version 5, signed by the trusted key, loaded: (its bytes, the handle).
    fn signed_v5(&self) -> (Vec<u8>, Policy) {
        let v5 = version(5);
        let sig = self.sign(&self.trusted, &v5, 5);
        let p = new_signed(Some(&v5), Some(&sig), &self.config(false)).unwrap();
        (v5, p)
    }

    /// The configuration: key k1, trusting `a` and `old`, `old` retired.
    fn config(&self, allow_unsigned: bool) -> String {
        json!({
            "keys": [{"id": "k1", "secret": SECRET}], "signing_key": "k1",
            "trust": {
                "public_keys": [self.trusted.public, self.retired.public],
                "retired_keys": [self.retired.id],
                "allow_unsigned": allow_unsigned,
            },
        })
        .to_string()
    }
}

fn new_signed(bytes: Option<&[u8]>, sig: Option<&str>, config: &str) -> Result<Policy, String> {
    let c = CString::new(config).unwrap();
    let (m, len) = bytes.map_or((null(), 0), |b| (b.as_ptr(), b.len()));
    let (s, slen) = sig.map_or((null(), 0), |s| (s.as_ptr(), s.len()));
    let (mut out, mut err) = (null_mut(), null_mut());
    match unsafe { fa_policy_new_signed(m, len, s, slen, c.as_ptr(), &mut out, &mut err) } {
        FA_OK => Ok(Policy(out)),
        code => {
            assert_eq!(code, FA_ERROR);
            Err(take(err))
        }
    }
}

fn swap(p: &Policy, bytes: &[u8], sig: Option<&str>) -> Result<(), String> {
    let (s, slen) = sig.map_or((null(), 0), |s| (s.as_ptr(), s.len()));
    let mut err = null_mut();
    match unsafe { fa_policy_swap_signed(p.0, bytes.as_ptr(), bytes.len(), s, slen, &mut err) } {
        FA_OK => Ok(()),
        code => {
            assert_eq!(code, FA_ERROR);
            Err(take(err))
        }
    }
}

fn trust(p: &Policy) -> Value {
    serde_json::from_str(&take(unsafe { fa_policy_trust(p.0) })).unwrap()
}

/// A world with alice's private repository, and a read token minted by `p`: the pull it
/// allows shows which module serves (it must keep being allowed after a refusal).
fn minted(p: &Policy) -> (World, String) {
    let w = world(&format!(
        r#"{{"now":1767225600,"keys":[{{"id":"k1","secret":"{SECRET}"}}],"signing_key":"k1",
        "users":[{{"name":"alice"}}],"repositories":[{{"owner":"alice","name":"secret","private":true}}]}}"#
    ));
    let m = CString::new(
        r#"{"owner":"alice","name":"ci","scopes":["read:repository"],"expires_in":3600}"#,
    )
    .unwrap();
    let mut out = null_mut();
    assert_eq!(unsafe { fa_issue(p.0, w.0, m.as_ptr(), &mut out) }, FA_OK);
    let v: Value = serde_json::from_str(&take(out)).unwrap();
    let pull = format!(
        r#"{{"credential":{{"bearer":"{}"}},"repository":"alice/secret","action":"pull"}}"#,
        v["secret"].as_str().unwrap()
    );
    (w, pull)
}

fn still_serving(p: &Policy, sha256: &str, w: &World, pull: &str) {
    assert_eq!(take(unsafe { fa_policy_sha256(p.0) }), sha256);
    let (code, out) = decide(p, w, pull);
    assert_eq!((code, out["reason"].as_str()), (FA_ALLOW, Some("granted")));
}

fn sha(bytes: &[u8]) -> String {
    forge_authz_host::trust::Statement::for_bytes(bytes, 0).sha256
}

#[test]
fn issue23_signed_modules_load_and_swap_and_show_their_trust() {
    let Some(s) = Signing::new("issue23_signed_modules_load_and_swap_and_show_their_trust") else {
        return;
    };
    let (_, p) = s.signed_v5();
    let t = trust(&p);
    assert_eq!(
        (t["module"].as_str(), t["version"].as_u64()),
        (Some("signed"), Some(5))
    );
    assert_eq!(t["signer"].as_str(), Some(s.trusted.id.as_str()));
    assert_eq!(
        (t["allow_unsigned"].as_bool(), t["floor"].as_u64()),
        (Some(false), Some(5))
    );
    assert_eq!(t["retired_keys"], json!([s.retired.id]));
    let v6 = version(6);
    swap(&p, &v6, Some(&s.sign(&s.trusted, &v6, 6))).unwrap();
    assert_eq!(trust(&p)["version"].as_u64(), Some(6));
    let (w, pull) = minted(&p);
    still_serving(&p, &sha(&v6), &w, &pull);
    // the embedded module is trusted as built, at creation and as a swap back
    let mut err = null_mut();
    assert_eq!(unsafe { fa_policy_swap(p.0, null(), 0, &mut err) }, FA_OK);
    assert_eq!(trust(&p)["module"], "built-in");
    let built_in = new_signed(None, None, &s.config(false)).unwrap();
    assert_eq!(trust(&built_in)["module"], "built-in");
}

#[test]
fn issue23_refused_modules_leave_the_old_one_serving() {
    let Some(s) = Signing::new("issue23_refused_modules_leave_the_old_one_serving") else {
        return;
    };
    let (v5, p) = s.signed_v5();
    let (w, pull) = minted(&p);
    let v7 = version(7);
    let mut tampered = v7.clone();
    *tampered.last_mut().unwrap() ^= 1; // one byte
    let v4 = version(4);
    let wrong_contract = s.ms.sign(&s.trusted, &v7, &statement(&v7, "0.4.0", 7));
    let other_bytes = s.ms.sign(
        &s.trusted,
        &v7,
        &statement(&v5, FA_CONTRACT.to_str().unwrap(), 7),
    );
    let cases: [(&str, &[u8], Option<String>); 8] = [
        ("unsigned", &v7, None),
        ("bad-signature", &tampered, Some(s.sign(&s.trusted, &v7, 7))),
        ("untrusted-key", &v7, Some(s.sign(&s.stranger, &v7, 7))),
        ("retired-key", &v7, Some(s.sign(&s.retired, &v7, 7))),
        ("replayed-older", &v4, Some(s.sign(&s.trusted, &v4, 4))),
        ("wrong-contract", &v7, Some(wrong_contract)),
        ("statement-mismatch", &v7, Some(other_bytes)),
        (
            "bad-signature",
            &v7,
            Some("untrusted comment: x\nnot a signature\n".into()),
        ),
    ];
    for (code, bytes, sig) in cases {
        let e = swap(&p, bytes, sig.as_deref()).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "policy module refused: untrusted module: {code}: "
            )),
            "{code}: {e}"
        );
        still_serving(&p, &sha(&v5), &w, &pull);
    }
    // plain fa_policy_swap: bytes without a signature
    let mut err = null_mut();
    assert_eq!(
        unsafe { fa_policy_swap(p.0, v7.as_ptr(), v7.len(), &mut err) },
        FA_ERROR
    );
    assert!(take(err).starts_with("policy module refused: untrusted module: unsigned: "));
    still_serving(&p, &sha(&v5), &w, &pull);
    assert_eq!(trust(&p)["floor"].as_u64(), Some(5));
}

#[test]
fn issue23_refused_at_creation() {
    let Some(s) = Signing::new("issue23_refused_at_creation") else {
        return;
    };
    let v3 = version(3);
    let cases = [
        ("unsigned", None),
        ("untrusted-key", Some(s.sign(&s.stranger, &v3, 3))),
        ("retired-key", Some(s.sign(&s.retired, &v3, 3))),
    ];
    for (code, sig) in cases {
        let e = new_signed(Some(&v3), sig.as_deref(), &s.config(false))
            .err()
            .unwrap();
        assert!(
            e.starts_with(&format!(
                "policy module refused: untrusted module: {code}: "
            )),
            "{code}: {e}"
        );
    }
    // plain fa_policy_new with bytes, no trust at all: unsigned
    let c = CString::new(format!(
        r#"{{"keys":[{{"id":"k1","secret":"{SECRET}"}}],"signing_key":"k1"}}"#
    ))
    .unwrap();
    let (mut out, mut err) = (null_mut(), null_mut());
    assert_eq!(
        unsafe { fa_policy_new(v3.as_ptr(), v3.len(), c.as_ptr(), &mut out, &mut err) },
        FA_ERROR
    );
    assert!(take(err).starts_with("policy module refused: untrusted module: unsigned: "));
    // an unreadable trust configuration is an error naming the field, not the key's text
    for bad in [
        json!({"public_keys": ["not a key"]}),
        json!({"retired_keys": ["x"]}),
        json!({"allow": true}),
    ] {
        let config =
            json!({"keys": [{"id": "k1", "secret": SECRET}], "signing_key": "k1", "trust": bad});
        let e = new_signed(None, None, &config.to_string()).err().unwrap();
        assert!(e.contains("trust"), "{e}");
    }
}

#[test]
fn issue23_allow_unsigned_works_and_is_visible() {
    let Some(s) = Signing::new("issue23_allow_unsigned_works_and_is_visible") else {
        return;
    };
    let v8 = version(8);
    let p = new_signed(Some(&v8), None, &s.config(true)).unwrap();
    let t = trust(&p);
    assert_eq!(
        (t["module"].as_str(), t["allow_unsigned"].as_bool()),
        (Some("unsigned"), Some(true))
    );
    // a signature given is still checked
    let v9 = version(9);
    let e = swap(&p, &v9, Some(&s.sign(&s.stranger, &v9, 9))).unwrap_err();
    assert!(
        e.starts_with("policy module refused: untrusted module: untrusted-key: "),
        "{e}"
    );
    let (w, pull) = minted(&p);
    still_serving(&p, &sha(&v8), &w, &pull);
    swap(&p, &v9, None).unwrap();
    assert_eq!(take(unsafe { fa_policy_sha256(p.0) }), sha(&v9));
}

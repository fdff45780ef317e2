//! Each refusal of issue 23 item 1 ("unsigned, tampered (one byte), wrong-key,
//! replayed-older and retired-key modules are refused"), on keys made by the `minisign`
//! crate.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::sign::{keygen, sign, sign_module};
use super::*;

const MODULE: &[u8] = b"\0asm a policy module's bytes";

fn trust_of(keys: &[&sign::NewKey]) -> Trust {
    Trust {
        anchors: keys
            .iter()
            .map(|k| Signer::parse(&k.public).unwrap())
            .collect(),
        ..Trust::default()
    }
}

#[test]
fn a_signed_module_is_accepted_with_its_statement() {
    let k = keygen(None).unwrap();
    let sig = sign_module(&k.secret, None, MODULE, 7).unwrap();
    let got = trust_of(&[&k]).verify(MODULE, Some(&sig), false).unwrap();
    assert_eq!(
        got,
        Accepted::Signed {
            statement: Statement::for_bytes(MODULE, 7),
            signer: k.id.clone()
        }
    );
    assert_eq!(k.id.len(), 16);
    assert!(
        k.public.contains(&k.id),
        "minisign names the key id in its comment"
    );
}

#[test]
fn each_refusal_has_its_reason() {
    let k = keygen(None).unwrap();
    let other = keygen(None).unwrap();
    let trust = trust_of(&[&k]);
    let sig = sign_module(&k.secret, None, MODULE, 7).unwrap();
    let code = |t: &Trust, bytes: &[u8], sig: Option<&str>| {
        t.verify(bytes, sig, false).unwrap_err().code()
    };
    assert_eq!(code(&trust, MODULE, None), "unsigned");
    let mut tampered = MODULE.to_vec();
    tampered[5] ^= 1;
    assert_eq!(code(&trust, &tampered, Some(&sig)), "bad-signature");
    assert_eq!(
        code(&trust, MODULE, Some("not a signature")),
        "bad-signature"
    );
    let theirs = sign_module(&other.secret, None, MODULE, 7).unwrap();
    assert_eq!(code(&trust, MODULE, Some(&theirs)), "untrusted-key");
    let mut retired = trust.clone();
    retired.retired.insert(k.id.clone());
    assert_eq!(code(&retired, MODULE, Some(&sig)), "retired-key");
    let mut floor = trust.clone();
    floor.floor = 8;
    assert_eq!(code(&floor, MODULE, Some(&sig)), "replayed-older");
    assert!(
        floor.verify(MODULE, Some(&sig), true).is_ok(),
        "a rollback goes back"
    );
    let old = sign(
        &k.secret,
        None,
        MODULE,
        &format!(
            "forge-authz-module contract=0.1.0 version=9 sha256={}",
            Statement::for_bytes(MODULE, 9).sha256
        ),
    )
    .unwrap();
    assert_eq!(code(&trust, MODULE, Some(&old)), "wrong-contract");
    let plain = sign(&k.secret, None, MODULE, "timestamp:1 file:policy.wasm").unwrap();
    assert_eq!(code(&trust, MODULE, Some(&plain)), "statement-mismatch");
    let elsewhere = Statement::for_bytes(b"other bytes", 9).text();
    let wrong_hash = sign(&k.secret, None, MODULE, &elsewhere).unwrap();
    assert_eq!(
        code(&trust, MODULE, Some(&wrong_hash)),
        "statement-mismatch"
    );
}

#[test]
fn the_trusted_comment_is_covered_by_the_global_signature() {
    // minisign-verify checks the global signature over the trusted comment: a statement
    // edited after signing (a higher version, to defeat the floor) is a bad signature.
    let k = keygen(None).unwrap();
    let sig = sign_module(&k.secret, None, MODULE, 7).unwrap();
    let edited = sig.replace("version=7", "version=70");
    assert_ne!(sig, edited);
    let e = trust_of(&[&k])
        .verify(MODULE, Some(&edited), false)
        .unwrap_err();
    assert_eq!(e, Refusal::BadSignature);
}

#[test]
fn allow_unsigned_accepts_no_signature_but_never_a_bad_one() {
    let k = keygen(None).unwrap();
    let mut trust = trust_of(&[&k]);
    trust.allow_unsigned = true;
    assert_eq!(trust.verify(MODULE, None, false), Ok(Accepted::Unsigned));
    let other = keygen(None).unwrap();
    let theirs = sign_module(&other.secret, None, MODULE, 1).unwrap();
    assert_eq!(
        trust
            .verify(MODULE, Some(&theirs), false)
            .unwrap_err()
            .code(),
        "untrusted-key"
    );
}

#[test]
fn refusals_never_quote_the_files() {
    let k = keygen(None).unwrap();
    let trust = trust_of(&[&k]);
    let secretish = "untrusted comment: SECRET-LOOKING\nAAAA\ntrusted comment: SECRET\nAAAA\n";
    let e = trust
        .verify(b"SECRET BYTES", Some(secretish), false)
        .unwrap_err();
    assert!(!e.to_string().contains("SECRET"), "{e}");
    let weird = sign(
        &k.secret,
        None,
        MODULE,
        "forge-authz-module contract=SECRET<script> version=1 sha256=00",
    )
    .unwrap();
    let e = trust.verify(MODULE, Some(&weird), false).unwrap_err();
    assert!(!e.to_string().contains("SECRET"), "{e}");
}

#[test]
fn endorsed_fleet_keys_are_trusted_and_a_store_writer_alone_adds_none() {
    let anchor = keygen(None).unwrap();
    let fleet = keygen(None).unwrap();
    let second = keygen(None).unwrap();
    let rogue = keygen(None).unwrap();
    let endorsed = sign(&anchor.secret, None, fleet.public.as_bytes(), "endorse").unwrap();
    // `second` endorsed by `fleet` (listed first: order does not matter).
    let chained = sign(&fleet.secret, None, second.public.as_bytes(), "endorse").unwrap();
    // A key endorsing itself, and one with no endorsement.
    let own = sign(&rogue.secret, None, rogue.public.as_bytes(), "endorse").unwrap();
    let mut trust = trust_of(&[&anchor]);
    let left_out = trust.add_endorsed([
        (second.public.as_str(), Some(chained.as_str())),
        (fleet.public.as_str(), Some(endorsed.as_str())),
        (rogue.public.as_str(), Some(own.as_str())),
    ]);
    assert_eq!(left_out, vec![rogue.id.clone()]);
    let sig = sign_module(&second.secret, None, MODULE, 1).unwrap();
    assert!(trust.verify(MODULE, Some(&sig), false).is_ok());
    // Retiring `fleet` drops what only it vouched for.
    let mut narrowed = trust_of(&[&anchor]);
    narrowed.retired.insert(fleet.id.clone());
    let left_out = narrowed.add_endorsed([
        (fleet.public.as_str(), Some(endorsed.as_str())),
        (second.public.as_str(), Some(chained.as_str())),
    ]);
    assert_eq!(left_out, vec![second.id.clone()]);
    assert_eq!(
        narrowed
            .verify(MODULE, Some(&sig), false)
            .unwrap_err()
            .code(),
        "untrusted-key"
    );
}

#[test]
fn encrypted_keys_need_their_password() {
    let k = keygen(Some("correct horse".into())).unwrap();
    assert!(sign_module(&k.secret, None, MODULE, 1).is_err());
    assert!(sign_module(&k.secret, Some("wrong".into()), MODULE, 1).is_err());
    let sig = sign_module(&k.secret, Some("correct horse".into()), MODULE, 1).unwrap();
    assert!(trust_of(&[&k]).verify(MODULE, Some(&sig), false).is_ok());
    assert!(!format!("{k:?}").contains(&k.secret));
}

#[test]
fn statements_parse_exactly() {
    let s = Statement::for_bytes(MODULE, 3);
    assert_eq!(Statement::parse(&s.text()), Some(s.clone()));
    for bad in [
        "",
        "forge-authz-module",
        &s.text().replace("version=3", "version=-3"),
        &format!("{} extra=1", s.text()),
        &s.text().replace("contract=", "kontract="),
        "forge-authz-module contract=0.6.0 version=1 sha256=zz",
    ] {
        assert_eq!(Statement::parse(bad), None, "{bad}");
    }
}

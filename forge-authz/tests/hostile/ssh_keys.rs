//! `ssh-keys` and the forced command: FIDO key types accepted, the forced command carries
//! the policy and its limits (issue 13).

use base64::Engine as _;

use super::forge::*;

// ---------------------------------------------------------------------------------------
// issue 13: ssh-keys.
// ---------------------------------------------------------------------------------------

fn ssh_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap().to_be_bytes());
    out.extend_from_slice(s);
}

/// An OpenSSH public key blob (base64) of `kind` with the given key material.
fn key_blob(kind: &str, seed: u64) -> String {
    let mut b = Vec::new();
    ssh_string(&mut b, kind.as_bytes());
    match kind {
        "sk-ssh-ed25519@openssh.com" => {
            ssh_string(&mut b, &noise(seed, 32));
            ssh_string(&mut b, b"ssh:");
        }
        "sk-ecdsa-sha2-nistp256@openssh.com" => {
            // The P-256 generator: a valid point.
            let point = hex::decode(
                "046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C2964FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5",
            )
            .unwrap();
            ssh_string(&mut b, b"nistp256");
            ssh_string(&mut b, &point);
            ssh_string(&mut b, format!("ssh:{seed}").as_bytes());
        }
        _ => ssh_string(&mut b, &noise(seed, 32)),
    }
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A forge (with alice/app) where alice has one fresh key of each `(id, kind)`; the keys as
/// `(kind, blob)`, in order.
fn ssh_forge(name: &str, keys: &[(&str, &'static str)]) -> (Setup, Vec<(&'static str, String)>) {
    let blobs: Vec<(&str, String)> = keys
        .iter()
        .map(|&(_, kind)| (kind, key_blob(kind, nonce())))
        .collect();
    let mut world = default_world();
    world["ssh_keys"] = keys
        .iter()
        .zip(&blobs)
        .map(|((id, kind), (_, blob))| {
            serde_json::json!({"id": id, "kind": "user", "owner": "alice",
                               "public_key": format!("{kind} {blob} {id}@test")})
        })
        .collect();
    let s = Setup::with_world(name, &world, &[("alice", "app")]);
    (s, blobs)
}

/// `forge-authz [GLOBAL...] ssh-keys --user git ... git KIND BLOB`: what sshd's
/// `AuthorizedKeysCommand` runs for the `git` login offering this key.
fn ssh_keys(s: &Setup, global: &[&str], kind: &str, blob: &str) -> std::process::Output {
    let (db, repos) = (s.db.to_str().unwrap(), s.repos.to_str().unwrap());
    let command = ["ssh-keys", "--user", "git", "--db", db, "--repos", repos];
    cli(&[global, &command, &["git", kind, blob]].concat())
}

#[test]
fn ssh_keys_accepts_fido_key_types() {
    // issue 13: a known FIDO key (sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@
    // openssh.com), imported with the world, gets its authorized_keys line with a forced
    // git-shell command and `restrict`; an unknown FIDO key gets nothing.
    let (s, keys) = ssh_forge(
        "ssh-fido",
        &[
            ("fido-ed", "sk-ssh-ed25519@openssh.com"),
            ("fido-ec", "sk-ecdsa-sha2-nistp256@openssh.com"),
        ],
    );
    for (kind, blob) in &keys {
        let o = ssh_keys(&s, &[], kind, blob);
        assert!(o.status.success(), "ssh-keys {kind}: {}", both(&o));
        let out = text(&o.stdout);
        let line = out.lines().next().unwrap_or_default();
        assert!(
            line.starts_with("command=\"")
                && line.contains("git-shell")
                && line.contains("restrict")
                && line.ends_with(&format!(" {kind} {blob}")),
            "ssh-keys {kind} printed: {out:?}"
        );
        assert_eq!(out.lines().count(), 1, "{out:?}");
    }
    let unknown = key_blob("sk-ssh-ed25519@openssh.com", nonce() ^ 0xdead_beef);
    let o = ssh_keys(&s, &[], "sk-ssh-ed25519@openssh.com", &unknown);
    assert!(
        text(&o.stdout).trim().is_empty(),
        "an unknown key: {}",
        both(&o)
    );
    // A known key offered under another type is not that key.
    let ed = &keys[0].1;
    let o = ssh_keys(&s, &[], "ssh-ed25519", ed);
    assert!(
        text(&o.stdout).trim().is_empty(),
        "a key under another type: {}",
        both(&o)
    );
}

#[test]
fn forced_command_carries_policy_and_limits() {
    // issue 13: `forge-authz --policy X --deadline-ms N ssh-keys ...` prints a forced
    // command that runs git-shell with the same --policy and --deadline-ms (an SSH push
    // must be decided by the same module under the same limits as HTTP).
    let (s, keys) = ssh_forge(
        "ssh-flags",
        &[
            ("laptop", "ssh-ed25519"),
            ("fido", "sk-ssh-ed25519@openssh.com"),
        ],
    );
    let policy = s.dir.join("custom-policy.wasm");
    module_file(&policy);
    for (kind, key) in &keys {
        let global = [
            "--policy",
            policy.to_str().unwrap(),
            "--deadline-ms",
            "12345678",
        ];
        let o = ssh_keys(&s, &global, kind, key);
        assert!(o.status.success(), "{}", both(&o));
        let out = text(&o.stdout);
        let command = out
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("command=\""))
            .and_then(|l| l.split("\",").next())
            .unwrap_or_else(|| panic!("no forced command for {kind}: {out:?}"));
        assert!(
            command.contains("--policy") && command.contains("custom-policy.wasm"),
            "{kind}: the forced command lacks --policy: {command}"
        );
        assert!(
            command.contains("--deadline-ms") && command.contains("12345678"),
            "{kind}: the forced command lacks --deadline-ms: {command}"
        );
        assert!(command.contains("git-shell"), "{command}");
    }
}

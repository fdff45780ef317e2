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

fn ssh_world(keys: &[(&str, &str, &str)]) -> serde_json::Value {
    let mut w = default_world();
    w["ssh_keys"] = keys
        .iter()
        .map(|(id, kind, blob)| {
            serde_json::json!({"id": id, "kind": "user", "owner": "alice",
                               "public_key": format!("{kind} {blob} {id}@test")})
        })
        .collect();
    w
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
    let ed = key_blob("sk-ssh-ed25519@openssh.com", nonce());
    let ec = key_blob("sk-ecdsa-sha2-nistp256@openssh.com", nonce());
    let world = ssh_world(&[
        ("fido-ed", "sk-ssh-ed25519@openssh.com", &ed),
        ("fido-ec", "sk-ecdsa-sha2-nistp256@openssh.com", &ec),
    ]);
    let s = Setup::with_world("ssh-fido", &world, &[("alice", "app")]);
    for (kind, blob) in [
        ("sk-ssh-ed25519@openssh.com", &ed),
        ("sk-ecdsa-sha2-nistp256@openssh.com", &ec),
    ] {
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
    let o = ssh_keys(&s, &[], "ssh-ed25519", &ed);
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
    let blob = key_blob("ssh-ed25519", nonce());
    let fido = key_blob("sk-ssh-ed25519@openssh.com", nonce());
    let world = ssh_world(&[
        ("laptop", "ssh-ed25519", &blob),
        ("fido", "sk-ssh-ed25519@openssh.com", &fido),
    ]);
    let s = Setup::with_world("ssh-flags", &world, &[("alice", "app")]);
    let policy = s.dir.join("custom-policy.wasm");
    module_file(&policy);
    for (kind, key) in [
        ("ssh-ed25519", &blob),
        ("sk-ssh-ed25519@openssh.com", &fido),
    ] {
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

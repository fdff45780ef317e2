//! SSH keys managed one at a time: a user's keys and a repository's deploy keys. A key is
//! its OpenSSH public line (type, base64 blob, comment); its fingerprint is unique in the
//! store, so a key registered once is refused a second time (as a user key or a deploy
//! key). A private key is never accepted, and never echoed: the file is refused unread
//! beyond recognising it. `ssh-keys` (the `AuthorizedKeysCommand`) reads the same rows,
//! so an added key is offered at once and a removed one no longer.

use base64::Engine as _;
use serde::Serialize;
use sha2::Digest as _;

use super::{Refusal, fail, find_account, need_repo, need_user};
use crate::store::{Conn, Row, Store, config, name_key, ssh_fingerprint};
use crate::vals;

/// An OpenSSH public key, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// `ssh-ed25519`, `ssh-rsa`, ...
    pub key_type: String,
    /// The base64 key blob.
    pub blob: String,
    /// The comment (may be empty).
    pub comment: String,
}

impl PublicKey {
    /// The line stored and offered: `type blob [comment]`.
    pub fn line(&self) -> String {
        if self.comment.is_empty() {
            format!("{} {}", self.key_type, self.blob)
        } else {
            format!("{} {} {}", self.key_type, self.blob, self.comment)
        }
    }
}

/// Key types the store accepts and `ssh-keys` (the `AuthorizedKeysCommand`) offers:
/// OpenSSH's plain and FIDO (`sk-`) public keys. A certificate
/// (`*-cert-v01@openssh.com`) is not matched against stored keys: the store holds keys,
/// not certificate authorities, so a certificate is refused (sshd then tries the user's
/// other keys).
pub const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// `t` is one of [`KEY_TYPES`].
pub fn key_type_supported(t: &str) -> bool {
    KEY_TYPES.contains(&t)
}

fn bad_key(what: &str) -> anyhow::Error {
    fail(
        Refusal::Invalid,
        format!(
            "not an OpenSSH public key: {what}; give the `.pub` file (one line `TYPE BASE64 \
             [COMMENT]`, as `ssh-keygen` writes it)"
        ),
    )
}

/// The one public key in `text` (a `.pub` file: blank lines and `#` comments ignored).
/// A private key (any format OpenSSH, OpenSSL or PuTTY writes) is refused without a word
/// of its content.
pub fn parse_public_key(text: &str) -> anyhow::Result<PublicKey> {
    if text.contains("PRIVATE KEY") || text.contains("PuTTY-User-Key-File") {
        return Err(fail(
            Refusal::Invalid,
            "this is a private key, which is never accepted (nothing was stored; keep it \
             secret): give its public half, `KEY.pub` (`ssh-keygen -y -f KEY > KEY.pub`)",
        ));
    }
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(line) = lines.next() else {
        return Err(bad_key("the input is empty"));
    };
    if lines.next().is_some() {
        return Err(bad_key("more than one line (add one key at a time)"));
    }
    let mut parts = line.splitn(3, char::is_whitespace);
    let (Some(key_type), Some(blob)) = (parts.next(), parts.next()) else {
        return Err(bad_key("a line needs a type and the key"));
    };
    if !key_type_supported(key_type) {
        return Err(bad_key(&format!(
            "the type `{}` is not one sshd offers here ({})",
            key_type.escape_debug(),
            KEY_TYPES.join(", ")
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|_| bad_key("the key is not base64"))?;
    // The blob starts with its own type as an SSH string (4-byte length, then the name).
    let named = bytes
        .get(..4)
        .and_then(|l| <[u8; 4]>::try_from(l).ok())
        .and_then(|l| usize::try_from(u32::from_be_bytes(l)).ok())
        .and_then(|n| bytes.get(4..4usize.saturating_add(n)));
    if named != Some(key_type.as_bytes()) {
        return Err(bad_key(&format!(
            "the key's data is not a `{}` key",
            key_type.escape_debug()
        )));
    }
    let comment = parts.next().unwrap_or_default().trim();
    if comment.chars().any(char::is_control) {
        return Err(bad_key("the comment holds control characters"));
    }
    Ok(PublicKey {
        key_type: key_type.to_owned(),
        blob: blob.to_owned(),
        comment: comment.to_owned(),
    })
}

/// A key as the management commands show it (the public line's type and fingerprint;
/// the line itself is public too, but long).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct KeyInfo {
    /// Its id (what `git-shell --key` names).
    pub id: String,
    /// `user` or `deploy`.
    pub kind: String,
    /// User keys: the user.
    pub user: Option<String>,
    /// Deploy keys: `owner/name`.
    pub repository: Option<String>,
    /// Deploy keys: read-only.
    pub read_only: bool,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: Option<String>,
    /// Its title: the public line's comment (`alice@laptop`), if any.
    pub title: Option<String>,
    /// The public line.
    pub public_key: Option<String>,
}

/// The comment of public line `line` (`type blob comment`), if it has one: what follows
/// the first two fields, however much whitespace precedes or separates them (a line
/// imported from a world file is stored as written), so the key's blob is never taken for
/// its title.
fn title_of(line: &str) -> Option<String> {
    let rest = line.trim_start();
    let rest = rest.split_once(char::is_whitespace)?.1.trim_start();
    let comment = rest.split_once(char::is_whitespace)?.1.trim();
    (!comment.is_empty()).then(|| comment.to_owned())
}

fn key_from_row(r: &Row) -> anyhow::Result<KeyInfo> {
    let kind = r.text(1)?;
    let user = r.text(2)?;
    let public_key = r.opt_text(5)?;
    Ok(KeyInfo {
        id: r.text(0)?,
        user: (kind == "user").then_some(user),
        kind,
        repository: r.opt_text(3)?,
        read_only: r.flag(4)?,
        title: public_key.as_deref().and_then(title_of),
        public_key,
        fingerprint: r.opt_text(6)?,
    })
}

/// Which keys `list_keys` lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyFilter {
    /// Every key.
    All,
    /// A user's keys.
    User(String),
    /// A repository's deploy keys (`owner/name`).
    Deploy(String),
}

/// Keys, by id.
pub fn list_keys(conn: &mut Conn, filter: KeyFilter) -> anyhow::Result<Vec<KeyInfo>> {
    let rows = match filter {
        KeyFilter::All => conn.query(
            "SELECT id, kind, owner, repository, read_only, public_key, fingerprint \
             FROM ssh_keys ORDER BY id",
            &[],
        )?,
        KeyFilter::User(login) => conn.query(
            "SELECT id, kind, owner, repository, read_only, public_key, fingerprint \
             FROM ssh_keys WHERE kind = 'user' AND owner_key = $1 ORDER BY id",
            &vals![name_key(&login)],
        )?,
        KeyFilter::Deploy(path) => conn.query(
            "SELECT id, kind, owner, repository, read_only, public_key, fingerprint \
             FROM ssh_keys WHERE kind = 'deploy' AND lower(repository) = $1 ORDER BY id",
            &vals![name_key(&path)],
        )?,
    };
    rows.iter().map(key_from_row).collect()
}

/// Key `id`, or a not-found error.
pub fn need_key(conn: &mut Conn, id: &str) -> anyhow::Result<KeyInfo> {
    conn.query_opt(
        "SELECT id, kind, owner, repository, read_only, public_key, fingerprint \
         FROM ssh_keys WHERE id = $1",
        &vals![id],
    )?
    .as_ref()
    .map(key_from_row)
    .transpose()?
    .ok_or_else(|| {
        fail(
            Refusal::NotFound,
            format!(
                "no SSH key `{}`: `forge-authz key list` shows the keys",
                id.escape_debug()
            ),
        )
    })
}

/// Whose key `add_key` adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyHolder {
    /// A user's key (its login).
    User(String),
    /// A repository's deploy key (`owner/name`), read-only or not.
    Deploy {
        /// `owner/name`.
        repository: String,
        /// Read-only.
        read_only: bool,
    },
}

/// A key id: 1 to 64 of letters, digits, `-`, `_`, `.` (what the forced command carries).
pub fn check_key_id(id: &str) -> anyhow::Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(fail(
            Refusal::Invalid,
            format!(
                "`{}` is not a key id: 1 to 64 of letters, digits, `-`, `_` and `.`",
                id.escape_debug()
            ),
        ))
    }
}

/// Add `key` for `holder` (id: `id`, else `key-` and 12 hex digits of the key's SHA-256),
/// as `actor` at `now`. A key whose fingerprint is registered already is refused.
pub fn add_key(
    store: &mut Store,
    holder: &KeyHolder,
    key: &PublicKey,
    id: Option<&str>,
    actor: &str,
    now: i64,
) -> anyhow::Result<KeyInfo> {
    let line = key.line();
    let fingerprint = ssh_fingerprint(&line).ok_or_else(|| bad_key("the key is not base64"))?;
    let id = match id {
        Some(id) => id.to_owned(),
        None => {
            let digest = sha2::Sha256::digest(key.blob.as_bytes());
            format!("key-{}", hex::encode(digest).get(..12).unwrap_or_default())
        }
    };
    check_key_id(&id)?;
    let mut tx = store.write()?;
    let (kind, owner, repository, read_only) = match holder {
        KeyHolder::User(login) => (
            "user",
            need_user(&mut tx, login, "a key's owner")?,
            None,
            false,
        ),
        KeyHolder::Deploy {
            repository,
            read_only,
        } => {
            let repo = need_repo(&mut tx, repository)?;
            ("deploy", String::new(), Some(repo.repository), *read_only)
        }
    };
    if let Some(r) = tx.query_opt(
        "SELECT id FROM ssh_keys WHERE fingerprint = $1",
        &vals![fingerprint.as_str()],
    )? {
        return Err(fail(
            Refusal::Invalid,
            format!(
                "this public key ({fingerprint}) is registered already, as key `{}`: a key \
                 is registered once (remove that one first to move it)",
                r.text(0)?
            ),
        ));
    }
    if tx
        .query_opt("SELECT id FROM ssh_keys WHERE id = $1", &vals![id.as_str()])?
        .is_some()
    {
        return Err(fail(
            Refusal::Invalid,
            format!("a key `{id}` exists already: choose another `--id`"),
        ));
    }
    let def = crate::world::SshKeyDef {
        id: id.clone(),
        kind: forge_authz_fixture::named::parse(kind)?,
        owner,
        repository,
        read_only,
        public_key: Some(line),
    };
    crate::store::put_ssh_key(&mut tx, &def)?;
    let info = need_key(&mut tx, &id)?;
    let detail = serde_json::json!({"key": without_line(&info), "after": "added"});
    config::record(
        &mut tx,
        history_action(&info, "add"),
        actor,
        now,
        None,
        &detail,
    )?;
    tx.commit()?;
    Ok(info)
}

/// The history's action for a change of key `k`: `ssh-key-add`, `deploy-key-remove`, ...
/// (`key-add` is a signing key's: `forge-authz keys`).
fn history_action(k: &KeyInfo, change: &str) -> &'static str {
    match (k.kind == "deploy", change) {
        (false, "add") => "ssh-key-add",
        (true, "add") => "deploy-key-add",
        (false, "change") => "ssh-key-change",
        (true, "change") => "deploy-key-change",
        (false, _) => "ssh-key-remove",
        (true, _) => "deploy-key-remove",
    }
}

/// A key's record for the history: everything but the (long) public line.
fn without_line(k: &KeyInfo) -> KeyInfo {
    KeyInfo {
        public_key: None,
        ..k.clone()
    }
}

/// Remove key `id`; returns it.
pub fn remove_key(store: &mut Store, id: &str, actor: &str, now: i64) -> anyhow::Result<KeyInfo> {
    let mut tx = store.write()?;
    let key = need_key(&mut tx, id)?;
    tx.execute("DELETE FROM ssh_keys WHERE id = $1", &vals![id])?;
    let detail = serde_json::json!({"key": without_line(&key), "after": null});
    let action = history_action(&key, "remove");
    config::record(&mut tx, action, actor, now, None, &detail)?;
    tx.commit()?;
    Ok(key)
}

/// What `key change` changes (`None`: as it is).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyChange {
    /// A new title (the public line's comment; empty: none).
    pub title: Option<String>,
    /// A deploy key's access: read-only (`true`) or read-write.
    pub read_only: Option<bool>,
}

/// The longest title kept (GitHub's and Gitea's key titles are shorter).
const MAX_TITLE: usize = 255;

/// Public line `line` with its comment replaced by `title` (empty: none).
fn retitled(k: &KeyInfo, line: &str, title: &str) -> anyhow::Result<String> {
    if title.chars().count() > MAX_TITLE || title.chars().any(char::is_control) {
        return Err(fail(
            Refusal::Invalid,
            format!(
                "a key's title is one line of at most {MAX_TITLE} characters, without \
                 control characters (key `{}` unchanged)",
                k.id
            ),
        ));
    }
    let mut parts = line.split_whitespace();
    let (Some(key_type), Some(blob)) = (parts.next(), parts.next()) else {
        return Err(anyhow::anyhow!(
            "key `{}`: its stored public line is not OpenSSH's",
            k.id
        ));
    };
    Ok(PublicKey {
        key_type: key_type.to_owned(),
        blob: blob.to_owned(),
        comment: title.trim().to_owned(),
    }
    .line())
}

/// Change key `id` as `change` says, as `actor` at `now`; returns it before and after
/// (recorded only if it changed). The key itself (type and blob, so its fingerprint) and
/// whose it is never change: remove it and add the new one.
pub fn change_key(
    store: &mut Store,
    id: &str,
    change: &KeyChange,
    actor: &str,
    now: i64,
) -> anyhow::Result<(KeyInfo, KeyInfo)> {
    let mut tx = store.write()?;
    let before = need_key(&mut tx, id)?;
    if change.read_only.is_some() && before.kind != "deploy" {
        return Err(fail(
            Refusal::Invalid,
            format!(
                "`{}` is {}'s key: `--read-only` and `--read-write` are for deploy keys (a \
                 user's key has the user's access)",
                before.id,
                before.user.as_deref().unwrap_or("a user")
            ),
        ));
    }
    let line = match (&change.title, &before.public_key) {
        (None, line) => line.clone(),
        (Some(title), Some(line)) => Some(retitled(&before, line, title)?),
        (Some(_), None) => {
            return Err(fail(
                Refusal::Invalid,
                format!(
                    "key `{}` has no public line stored (imported by fingerprint only), so no \
                     title: remove it and add its `.pub` file (`forge-authz key add`)",
                    before.id
                ),
            ));
        }
    };
    let read_only = change.read_only.unwrap_or(before.read_only);
    tx.execute(
        "UPDATE ssh_keys SET public_key = $1, read_only = $2 WHERE id = $3",
        &vals![&line, read_only, id],
    )?;
    let after = need_key(&mut tx, id)?;
    if after != before {
        let shown = |k: &KeyInfo| serde_json::json!({"title": &k.title, "read_only": k.read_only});
        let detail = serde_json::json!({"key": without_line(&after), "before": shown(&before),
            "after": shown(&after)});
        let action = history_action(&after, "change");
        config::record(&mut tx, action, actor, now, None, &detail)?;
        tx.commit()?;
    }
    Ok((before, after))
}

/// Whether `login` names an account (for `key list --user`'s not-found error).
pub fn account_exists(conn: &mut Conn, login: &str) -> anyhow::Result<bool> {
    Ok(find_account(conn, login)?.is_some())
}

#[cfg(test)]
mod tests {
    use super::title_of;

    #[test]
    fn a_title_is_what_follows_the_type_and_the_blob() {
        // A line imported as written: extra whitespace never makes the blob the title.
        assert_eq!(
            title_of("ssh-ed25519 AAAAblob me@laptop").as_deref(),
            Some("me@laptop")
        );
        assert_eq!(
            title_of("  ssh-ed25519   AAAAblob   me  x ").as_deref(),
            Some("me  x")
        );
        assert_eq!(title_of("ssh-ed25519\tAAAAblob"), None);
        assert_eq!(title_of("ssh-ed25519  AAAAblob  "), None);
        assert_eq!(title_of("ssh-ed25519"), None);
    }
}

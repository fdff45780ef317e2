//! The forge's facts as rows: users and organisations, repositories with their
//! collaborators and protection rules, SSH keys.

#[allow(unused_imports)]
use super::*;
use forge_authz_fixture::named;

/// A user or organisation row and its members.
pub fn put_user(conn: &mut Conn, u: &UserDef) -> anyhow::Result<()> {
    let key = name_key(&u.name);
    // A world's or a bulk row's list is kept as written: a block the policy cannot parse
    // matches nothing (it can only narrow), and the store answers what the world says.
    // Lists typed by an operator are checked (`set_org_ip_allow`, `token create`).
    conn.execute(
        "INSERT INTO users (name_key, name, status, site_admin, visibility, organization, \
         ip_allow) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &vals![
            key.as_str(),
            &u.name,
            u.status.name(),
            u.site_admin,
            u.visibility.name(),
            u.organization,
            json(&u.ip_allow)?
        ],
    )
    .with_context(|| format!("user `{}`", u.name))?;
    for (member, role) in &u.members {
        conn.execute(
            "INSERT INTO org_members (org_key, member_key, member, role) VALUES ($1, $2, $3, $4)",
            &vals![key.as_str(), name_key(member), member, role.name()],
        )
        .with_context(|| format!("organization `{}`: member `{member}`", u.name))?;
    }
    Ok(())
}

/// A repository row with its collaborators and protected refs.
pub fn put_repository(conn: &mut Conn, r: &RepoDef) -> anyhow::Result<()> {
    let (ok, nk) = (name_key(&r.owner), name_key(&r.name));
    conn.execute(
        "INSERT INTO repositories (owner_key, name_key, owner, name, private, kind, archived, \
         registrant) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &vals![
            ok.as_str(),
            nk.as_str(),
            &r.owner,
            &r.name,
            r.private,
            r.kind.name(),
            r.archived,
            &r.registrant
        ],
    )
    .with_context(|| format!("repository `{}/{}`", r.owner, r.name))?;
    for (login, role) in &r.collaborators {
        conn.execute(
            "INSERT INTO collaborators (owner_key, name_key, login_key, login, role) \
             VALUES ($1, $2, $3, $4, $5)",
            &vals![
                ok.as_str(),
                nk.as_str(),
                name_key(login),
                login,
                role.name()
            ],
        )
        .with_context(|| format!("repository `{}/{}`: `{login}`", r.owner, r.name))?;
    }
    for (i, p) in r.protected_refs.iter().enumerate() {
        put_protected_ref(conn, &ok, &nk, i64::try_from(i)?, p)?;
    }
    Ok(())
}

/// Protected-ref rule `p` of the repository keyed (`ok`, `nk`) at `ordinal`, with its named
/// users (a world's repository, or `protect add`).
pub(crate) fn put_protected_ref(
    conn: &mut Conn,
    ok: &str,
    nk: &str,
    ordinal: i64,
    p: &crate::world::ProtectedRefDef,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO protected_refs (owner_key, name_key, ordinal, pattern, push, force_push) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &vals![
            ok,
            nk,
            ordinal,
            &p.pattern,
            p.push.kind_name(),
            p.force_push.kind_name()
        ],
    )?;
    for (rule, access) in [("push", &p.push), ("force_push", &p.force_push)] {
        if let AccessDef::Users(users) = access {
            for (idx, login) in users.iter().enumerate() {
                conn.execute(
                    "INSERT INTO protected_ref_users (owner_key, name_key, ordinal, rule, idx, \
                     login) VALUES ($1, $2, $3, $4, $5, $6)",
                    &vals![ok, nk, ordinal, rule, i64::try_from(idx)?, login],
                )?;
            }
        }
    }
    Ok(())
}

/// The `SHA256:<base64>` fingerprint of an OpenSSH public key line's key blob (what
/// `ssh-keygen -l` prints), or None for a line that is not `type base64 [comment]`.
pub fn ssh_fingerprint(line: &str) -> Option<String> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let blob = line.split_whitespace().nth(1)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .ok()?;
    let digest = sha2::Sha256::digest(&bytes);
    Some(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    ))
}

/// An SSH key row.
pub fn put_ssh_key(conn: &mut Conn, k: &SshKeyDef) -> anyhow::Result<()> {
    let fingerprint = match &k.public_key {
        Some(line) => Some(
            ssh_fingerprint(line)
                .with_context(|| format!("ssh key `{}`: the public key is not OpenSSH's", k.id))?,
        ),
        None => None,
    };
    conn.execute(
        "INSERT INTO ssh_keys (id, kind, owner, owner_key, repository, read_only, public_key, \
         fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &vals![
            &k.id,
            k.kind.name(),
            &k.owner,
            name_key(&k.owner),
            &k.repository,
            k.read_only,
            &k.public_key,
            fingerprint
        ],
    )
    .with_context(|| format!("ssh key `{}` (ids and public keys are unique)", k.id))?;
    Ok(())
}

pub(super) fn ssh_key_from_row(r: &Row) -> anyhow::Result<SshKeyDef> {
    Ok(SshKeyDef {
        id: r.text(0)?,
        kind: named::parse::<KeyKind>(&r.text(1)?)?,
        owner: r.text(2)?,
        repository: r.opt_text(3)?,
        read_only: r.flag(4)?,
        public_key: r.opt_text(5)?,
    })
}

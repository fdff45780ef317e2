//! Key generation and signing with the `minisign` crate, for `forge-authz module
//! keygen|sign` (the Debian `minisign` binary makes the same files). A secret key is never
//! logged, printed or put in an error.

use super::Statement;

/// A new key pair's files: the public key's text (`minisign.pub`) and the secret key's
/// (`minisign.key`; secret: its `Debug` shows nothing).
pub struct NewKey {
    /// The key id.
    pub id: String,
    /// The public key file's text.
    pub public: String,
    /// The secret key file's text.
    pub secret: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Generate a key pair; the secret key is encrypted with `password` (minisign's scrypt
/// box), or not encrypted at all (`None`: for automation, where the file's permissions
/// are its only protection).
pub fn keygen(password: Option<String>) -> Result<NewKey, String> {
    let failed = |_| "key generation failed".to_string();
    let (pair, comment) = match password {
        Some(p) => (
            minisign::KeyPair::generate_encrypted_keypair(Some(p)).map_err(failed)?,
            "minisign encrypted secret key (forge-authz module signing)",
        ),
        None => (
            minisign::KeyPair::generate_unencrypted_keypair().map_err(failed)?,
            "minisign secret key, NOT encrypted (forge-authz module signing): protect this file",
        ),
    };
    let public = pair.pk.to_box().map_err(failed)?.to_string();
    let secret = pair.sk.to_box(Some(comment)).map_err(failed)?.to_string();
    let id = super::Signer::parse(&public)?.id;
    Ok(NewKey { id, public, secret })
}

/// Sign `bytes` with the secret key file's text (`password`: for an encrypted key),
/// with `trusted_comment`. Returns the `.minisig` text.
pub fn sign(
    secret: &str,
    password: Option<String>,
    bytes: &[u8],
    trusted_comment: &str,
) -> Result<String, String> {
    let sk_box = minisign::SecretKeyBox::from_string(secret)
        .map_err(|_| "not a minisign secret key".to_string())?;
    let sk = match password {
        Some(p) => sk_box
            .into_secret_key(Some(p))
            .map_err(|e| match e.kind() {
                minisign::ErrorKind::Verify => "wrong password for the secret key".to_string(),
                _ => "not a minisign secret key, or not an encrypted one".to_string(),
            })?,
        None => unencrypted(secret).ok_or_else(|| {
            "the secret key is encrypted (give its password) or not a minisign secret key"
                .to_string()
        })?,
    };
    let sig = minisign::sign(
        None,
        &sk,
        std::io::Cursor::new(bytes),
        Some(trusted_comment),
        Some("forge-authz module signature"),
    )
    .map_err(|_| "signing failed".to_string())?;
    Ok(sig.into_string())
}

/// An unencrypted secret key. `minisign -G -W` (0.11) leaves the key's checksum zero,
/// which the crate's own reader refuses as corrupted: the key's bytes are read directly
/// (a wrong key only makes signatures no host accepts).
fn unencrypted(secret: &str) -> Option<minisign::SecretKey> {
    use base64::Engine as _;
    let line = secret
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line)
        .ok()?;
    let sk = minisign::SecretKey::from_bytes(&bytes).ok()?;
    (!sk.is_encrypted()).then_some(sk)
}

/// Sign a module: its statement at `version` as the trusted comment.
pub fn sign_module(
    secret: &str,
    password: Option<String>,
    module: &[u8],
    version: u64,
) -> Result<String, String> {
    sign(
        secret,
        password,
        module,
        &Statement::for_bytes(module, version).text(),
    )
}

//! Minisign public keys and signatures as this host reads them: a key's id (what
//! `minisign` prints: the 8-byte key number as 16 upper-case hex digits), the key itself,
//! and a signature's key id, read without trusting anything yet.

use std::path::{Path, PathBuf};

use base64::Engine as _;

/// Largest public key or signature file read (a minisign key is ~100 bytes, a signature
/// ~300 plus its trusted comment).
pub const MAX_TEXT: u64 = 4096;

/// A minisign public key this host can verify with.
#[derive(Clone)]
pub struct Signer {
    /// The key id, as `minisign` prints it (16 upper-case hex digits).
    pub id: String,
    /// The public key file's text as given (what an endorsement signs).
    pub text: String,
    key: minisign_verify::PublicKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("id", &self.id).finish()
    }
}

/// The key id of a minisign key or signature blob: bytes 2..10, a little-endian number
/// printed as `minisign` prints it (`%016X`).
fn key_id(blob: &[u8]) -> Option<String> {
    let mut number: Vec<u8> = blob.get(2..10)?.to_vec();
    number.reverse();
    Some(hex::encode_upper(number))
}

/// The base64 line of a minisign file: the line after `untrusted comment: ...`, or the
/// only line (a bare key as `minisign -P` takes it).
fn blob_line(text: &str) -> Option<&str> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next()?;
    if first.starts_with("untrusted comment:") {
        lines.next()
    } else {
        Some(first)
    }
}

fn decode(line: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(line).ok()
}

impl Signer {
    /// Read a minisign public key (a `minisign.pub` file's text, or its base64 line).
    /// The error says what is wrong, never what the text holds.
    pub fn parse(text: &str) -> Result<Signer, String> {
        let bad = || "not a minisign public key".to_string();
        let line = blob_line(text).ok_or_else(bad)?;
        let blob = decode(line).ok_or_else(bad)?;
        let key = minisign_verify::PublicKey::from_base64(line).map_err(|_| bad())?;
        Ok(Signer {
            id: key_id(&blob).ok_or_else(bad)?,
            text: text.to_owned(),
            key,
        })
    }

    /// Read a public key file.
    pub fn from_file(path: &Path) -> Result<Signer, String> {
        let text = read_text(path)?;
        Signer::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Verify a parsed signature over `bytes` with this key: the signature over the bytes
    /// and the global signature over the trusted comment (`minisign-verify` checks both).
    /// Legacy (not pre-hashed) signatures are refused.
    pub(super) fn verify(&self, bytes: &[u8], sig: &minisign_verify::Signature) -> bool {
        self.key.verify(bytes, sig, false).is_ok()
    }
}

/// A signature's text, parsed, with the id of the key that made it.
pub(super) struct Parsed {
    pub(super) key_id: String,
    pub(super) sig: minisign_verify::Signature,
}

/// Parse a `.minisig` text (`None`: not a minisign signature).
pub(super) fn parse_signature(text: &str) -> Option<Parsed> {
    let sig = minisign_verify::Signature::decode(text).ok()?;
    let blob = decode(blob_line(text)?)?;
    Some(Parsed {
        key_id: key_id(&blob)?,
        sig,
    })
}

/// Read a small text file (a key or a signature), at most [`MAX_TEXT`] bytes.
pub fn read_text(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_TEXT + 1)
        .read_to_string(&mut text)
        .map_err(|_| format!("{}: not a text file", path.display()))?;
    if text.len() as u64 > MAX_TEXT {
        return Err(format!(
            "{}: larger than {MAX_TEXT} bytes: not a minisign file",
            path.display()
        ));
    }
    Ok(text)
}

/// Where a module's detached signature is looked for: `FILE.minisig` (what `minisign -S
/// -m FILE` writes).
pub fn signature_path(module: &Path) -> PathBuf {
    let mut name = module.as_os_str().to_owned();
    name.push(".minisig");
    PathBuf::from(name)
}

/// The signature at `path`, if the file exists (`Ok(None)`: unsigned). A file that cannot
/// be read is an error.
pub fn read_signature(path: &Path) -> Result<Option<String>, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
        // Never a FIFO or a device (reading one could block or never end).
        Ok(m) if !m.file_type().is_file() => Err(format!(
            "{}: a signature must be a regular file",
            path.display()
        )),
        Ok(_) => read_text(path).map(Some),
    }
}

/// Read every public key file (`--trusted-signers`, repeatable; a file may hold several
/// keys, each an `untrusted comment:` line and its base64 line, or bare base64 lines).
pub fn read_signers(paths: &[PathBuf]) -> Result<Vec<Signer>, String> {
    let mut out: Vec<Signer> = Vec::new();
    for path in paths {
        let text = read_text(path)?;
        let keys: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .collect();
        if keys.is_empty() {
            return Err(format!("{}: no minisign public key", path.display()));
        }
        for line in keys {
            let signer = Signer::parse(line).map_err(|e| format!("{}: {e}", path.display()))?;
            if !out.iter().any(|s| s.id == signer.id) {
                out.push(signer);
            }
        }
    }
    Ok(out)
}

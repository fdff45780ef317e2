//! `forge-authz key ...`: SSH keys in the store, a user's or a repository's deploy keys
//! (the policy's signing keys are `forge-authz keys`). `ssh-keys` offers a key the moment
//! it is added and stops the moment it is removed.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::super::keys::ConfigArgs;
use super::super::table::print_table;
use super::super::{EXIT_ERROR, EXIT_NOT_FOUND, fail};
use super::open;
use crate::store::repos::{self, KeyChange, KeyFilter, KeyHolder, KeyInfo};

/// `forge-authz key ...`
pub type KeyArgs = ConfigArgs<KeyAction>;

/// `forge-authz key ...`
#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Add a public key (`KEY.pub`) for a user (`--user`) or as a repository's deploy key
    /// (`--deploy`). A key registered already is refused; a private key is never accepted.
    Add {
        /// The user whose key it is.
        #[arg(long, conflicts_with = "deploy", required_unless_present = "deploy")]
        user: Option<String>,
        /// Or the repository (`OWNER/NAME`) it is a deploy key of.
        #[arg(long)]
        deploy: Option<String>,
        /// A deploy key that may only pull (the default).
        #[arg(long, conflicts_with = "read_write")]
        read_only: bool,
        /// A deploy key that may push too.
        #[arg(long)]
        read_write: bool,
        /// The public key file (`-`: stdin).
        #[arg(long)]
        file: PathBuf,
        /// Its id (default: `key-` and 12 hex digits of the key's SHA-256).
        #[arg(long)]
        id: Option<String>,
    },
    /// The keys (a user's, or a repository's deploy keys), by id.
    List {
        /// Only this user's keys.
        #[arg(long, conflicts_with = "deploy")]
        user: Option<String>,
        /// Only this repository's (`OWNER/NAME`) deploy keys.
        #[arg(long)]
        deploy: Option<String>,
    },
    /// One key, with its public line.
    Show {
        /// Its id.
        id: String,
    },
    /// Change a key's title, or a deploy key's access (the key itself and whose it is
    /// never change: remove it and add the new one).
    Change {
        /// Its id.
        id: String,
        /// What changes (at least one).
        #[command(flatten)]
        what: KeyChangeFlags,
    },
    /// Remove a key: sshd stops accepting it at once (`ssh-keys`).
    Remove {
        /// Its id.
        id: String,
    },
}

/// `key change` flags: at least one.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = true)]
pub struct KeyChangeFlags {
    /// Its title: the public line's comment (`""`: none).
    #[arg(long)]
    title: Option<String>,
    /// A deploy key that may only pull.
    #[arg(long, conflicts_with = "read_write")]
    read_only: bool,
    /// A deploy key that may push too.
    #[arg(long)]
    read_write: bool,
}

/// The largest public key file read (an RSA 16384-bit `.pub` is about 2.8 KB).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// The key file's text (`-`: stdin), at most [`MAX_KEY_FILE`] bytes.
fn read_key_file(path: &Path) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin()
            .take(MAX_KEY_FILE + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_KEY_FILE + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| {
        fail(
            EXIT_ERROR,
            format!("cannot read the key file {}: {e}", path.display()),
        )
    })?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_KEY_FILE {
        return Err(fail(
            EXIT_ERROR,
            format!(
                "{} is larger than a public key file ({MAX_KEY_FILE} bytes at most)",
                path.display()
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|_| {
        fail(
            EXIT_ERROR,
            format!(
                "{} is not text: give the public key file (`KEY.pub`)",
                path.display()
            ),
        )
    })
}

/// `forge-authz key ...`
pub fn key(a: KeyArgs) -> anyhow::Result<u8> {
    key_command(a).map_err(super::exit_status)
}

fn key_command(a: KeyArgs) -> anyhow::Result<u8> {
    let (mut store, actor, now) = open(&a.db, &a.actor)?;
    let json = a.out.json;
    match a.action {
        KeyAction::Add {
            user,
            deploy,
            read_only,
            read_write,
            file,
            id,
        } => {
            let holder = holder(user, deploy, read_only, read_write)?;
            let public = repos::parse_public_key(&read_key_file(&file)?)?;
            let k = repos::add_key(&mut store, &holder, &public, id.as_deref(), &actor, now)?;
            eprintln!(
                "added SSH key `{}` ({})",
                k.id,
                k.fingerprint.as_deref().unwrap_or("-")
            );
            print_one(&k, json);
        }
        KeyAction::List { user, deploy } => {
            let filter = match (user, deploy) {
                (Some(u), _) => {
                    if !repos::account_exists(store.conn(), &u)? {
                        return Err(fail(EXIT_NOT_FOUND, format!("no user `{u}`")));
                    }
                    KeyFilter::User(u)
                }
                (None, Some(r)) => {
                    KeyFilter::Deploy(repos::need_repo(store.conn(), &r)?.repository)
                }
                (None, None) => KeyFilter::All,
            };
            let list = repos::list_keys(store.conn(), filter)?;
            if json {
                outln!("{}", serde_json::json!({ "keys": list }));
            } else {
                print_keys(&list);
            }
        }
        KeyAction::Show { id } => {
            let k = repos::need_key(store.conn(), &id)?;
            if json {
                outln!("{}", serde_json::json!(k));
            } else {
                print_keys(std::slice::from_ref(&k));
                outln!(
                    "{}",
                    k.public_key.as_deref().unwrap_or("(no public key stored)")
                );
            }
        }
        KeyAction::Change { id, what } => {
            let change = KeyChange {
                title: what.title,
                read_only: match (what.read_only, what.read_write) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
            };
            let (before, after) = repos::change_key(&mut store, &id, &change, &actor, now)?;
            if before == after {
                eprintln!("SSH key `{}`: unchanged", after.id);
            } else {
                eprintln!("changed SSH key `{}`", after.id);
            }
            print_one(&after, json);
        }
        KeyAction::Remove { id } => {
            let k = repos::remove_key(&mut store, &id, &actor, now)?;
            eprintln!("removed SSH key `{}`: sshd no longer accepts it", k.id);
            print_one(&k, json);
        }
    }
    Ok(0)
}

fn print_one(k: &KeyInfo, json: bool) {
    if json {
        outln!("{}", serde_json::json!(k));
    } else {
        print_keys(std::slice::from_ref(k));
    }
}

/// Keys as a table (whose, access, fingerprint).
pub(super) fn print_keys(list: &[KeyInfo]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|k| {
            let (whose, access) = match (&k.user, &k.repository) {
                (Some(u), _) => (u.clone(), "user".to_owned()),
                (None, Some(r)) => (
                    r.clone(),
                    if k.read_only {
                        "deploy (read-only)"
                    } else {
                        "deploy (read-write)"
                    }
                    .to_owned(),
                ),
                (None, None) => ("-".to_owned(), k.kind.clone()),
            };
            vec![
                k.id.clone(),
                access,
                whose,
                k.fingerprint.clone().unwrap_or_else(|| "-".into()),
                k.title.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print_table(&["KEY", "KIND", "OF", "FINGERPRINT", "TITLE"], &rows);
}

/// Whose key `key add` adds, from its flags.
fn holder(
    user: Option<String>,
    deploy: Option<String>,
    read_only: bool,
    read_write: bool,
) -> anyhow::Result<KeyHolder> {
    match (user, deploy) {
        (Some(_), _) if read_only || read_write => Err(fail(
            EXIT_ERROR,
            "`--read-only` and `--read-write` are for deploy keys (`--deploy OWNER/NAME`); \
             a user's key has the user's access",
        )),
        (Some(u), _) => Ok(KeyHolder::User(u)),
        (None, Some(repository)) => Ok(KeyHolder::Deploy {
            repository,
            read_only: !read_write,
        }),
        (None, None) => Err(fail(
            EXIT_ERROR,
            "give `--user LOGIN` or `--deploy OWNER/NAME`",
        )),
    }
}

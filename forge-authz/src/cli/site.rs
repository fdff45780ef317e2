//! Site data in the store (issue 23 item 4): `site set FILE|show|clear|history`. The data
//! a site policy built on the core reads (a change freeze's windows), versioned like keys
//! and options: every change is checked with the policy before it is written — an
//! authorizer is created with the resulting configuration by this command's module and by
//! the fleet's live module, so a site policy refusing the data (`bad-site`) refuses the
//! change — and every `serve` over the store applies it at its next poll.

use std::path::Path;

use anyhow::Context as _;
use clap::Subcommand;

use super::PolicyArgs;
use super::keys::{ConfigArgs, apply, print_history};
use crate::store::config::{self, Change, MAX_SITE_BYTES, check_site, site_sha256};

/// `forge-authz site ...`
pub type SiteArgs = ConfigArgs<SiteAction>;

/// `forge-authz site ...`
#[derive(Debug, Subcommand)]
pub enum SiteAction {
    /// Set the site data: a JSON file (`-`: stdin), stored verbatim. Checked by the
    /// policy (this command's module and the fleet's live one) before it is written.
    Set {
        /// The file.
        file: std::path::PathBuf,
    },
    /// The site data in force, verbatim on stdout (nothing when none is set);
    /// `--json`: its configuration version, SHA-256 and parsed value.
    Show,
    /// Remove the site data (the policy is given "").
    Clear,
    /// The site data's changes, newest first.
    History {
        /// At most this many changes.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

/// `forge-authz site ...`
pub fn site(p: &PolicyArgs, a: SiteArgs) -> anyhow::Result<u8> {
    let mut store = super::open::open_store(&a.db.db)?;
    let (actor, json) = (a.actor.actor.as_str(), a.out.json);
    match a.action {
        SiteAction::Set { file } => {
            let change = Change::SetSite(Some(read_site_file(&file)?));
            apply(p, &mut store, &change, actor, json)
        }
        SiteAction::Clear => apply(p, &mut store, &Change::SetSite(None), actor, json),
        SiteAction::Show => show(&mut store, json),
        SiteAction::History { limit } => {
            print_history(&mut store, limit, json, config::site_history)
        }
    }
}

/// Site data from a file (`-`: stdin): UTF-8 JSON of at most [`MAX_SITE_BYTES`], checked
/// by [`check_site`]. What `site set`, `decide --site` and `check --site` read.
pub fn read_site_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let shown = path.display();
    let limit = u64::try_from(MAX_SITE_BYTES)?.saturating_add(1);
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin().take(limit).read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("site data {shown}"))?
            .take(limit)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading site data {shown}"))?;
    }
    let text = String::from_utf8(bytes).with_context(|| format!("site data {shown}: not UTF-8"))?;
    check_site(&text).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    Ok(text)
}

fn show(store: &mut crate::store::Store, json: bool) -> anyhow::Result<u8> {
    let stored = config::read(store.conn())?;
    let site = stored.site();
    if json {
        let value = site
            .map(serde_json::from_str::<serde_json::Value>)
            .transpose()
            .context("the stored site data is not JSON")?;
        outln!(
            "{}",
            serde_json::json!({
                "version": stored.version,
                "sha256": site.map(site_sha256),
                "site": value,
            })
        );
        return Ok(0);
    }
    match site {
        Some(text) => {
            eprintln!(
                "configuration version {}: site data sha256:{}",
                stored.version,
                site_sha256(text)
            );
            // Verbatim: `site show > f && site set f` changes nothing.
            use std::io::Write as _;
            if std::io::stdout().lock().write_all(text.as_bytes()).is_err() {
                std::process::exit(141);
            }
        }
        None => eprintln!("configuration version {}: no site data", stored.version),
    }
    Ok(0)
}

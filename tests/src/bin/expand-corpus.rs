//! `cargo run -p forge-authz-tests --bin expand-corpus -- DIR`: write every scenario family,
//! expanded (`forge_authz_tests::scenario::expand`), to `DIR/<family>.json`, decided by the
//! wasm component the Rust host embeds. The hosts in other languages (`hosts/`) replay these
//! files and must print the same outputs.
// A tool: stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use forge_authz_tests::scenario::{expand, load_corpus};

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: expand-corpus DIR"))?,
    );
    std::fs::create_dir_all(&dir)?;
    let mut n = 0;
    for fam in load_corpus()? {
        let expanded = expand(&fam, &forge_authz_tests::wasm)?;
        n += expanded
            .get("scenarios")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len);
        std::fs::write(
            dir.join(format!("{}.json", fam.family)),
            serde_json::to_string_pretty(&expanded)?,
        )?;
    }
    eprintln!("{n} scenarios expanded into {}", dir.display());
    Ok(())
}

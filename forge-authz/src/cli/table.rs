//! Human-readable output: aligned tables, and Unix seconds as UTC dates.
//!
//! Tables show times as ISO 8601 UTC; `--json` output gives each time both ways, Unix
//! seconds and `<field>_utc` ([`super::json`]).

/// Print rows as an aligned table.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        outln!("{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

/// Unix seconds as a UTC date and time in ISO 8601: `2026-01-01T00:00:00Z` (the guest
/// crate's, which site policies' messages use too).
pub use forge_authz_guest::site::time::utc;

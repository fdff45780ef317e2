//! A site policy: the forge-authz core, narrowed by this site's own rules (README "Writing
//! your own policy"). A template: copy the crate, add a rule module, give it a field in
//! [`SiteData`] and a line in [`SitePolicy::check`].
//!
//! The contract is the core's ([`forge_authz_guest::site`]): the core decides first and a
//! site rule is asked only about what the core allowed; it can keep the decision or refuse
//! it (`site-refused`, its own code and message), never allow what the core refused. So
//! every invariant of the core holds here by construction.
//!
//! The one rule shipped: a change [`freeze`].
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

pub mod freeze;

use alloc::format;
use alloc::string::String;
use forge_authz_guest::site::{Asked, Refusal, Site};
use serde::Deserialize;

/// The site data (`config.site`, JSON), as the operator versions it in the store
/// (`forge-authz site set FILE`). Unknown fields are refused, so a typo is not a rule
/// silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteData {
    /// Change-freeze windows.
    #[serde(default)]
    pub freeze: freeze::Freeze,
}

/// This site's rules, read once from the site data when the authorizer is created.
#[derive(Debug, Default)]
pub struct SitePolicy {
    freeze: freeze::Freeze,
}

impl Site for SitePolicy {
    fn new(data: &str) -> Result<SitePolicy, String> {
        if data.trim().is_empty() {
            return Ok(SitePolicy::default());
        }
        let data: SiteData = serde_json::from_str(data).map_err(|e| format!("site data: {e}"))?;
        data.freeze.validate()?;
        Ok(SitePolicy {
            freeze: data.freeze,
        })
    }

    fn check(&self, asked: &Asked<'_>) -> Result<(), Refusal> {
        self.freeze.check(asked)
    }
}

// The component: the core narrowed by `SitePolicy`.
#[cfg(target_arch = "wasm32")]
forge_authz_guest::export_site!(SitePolicy);

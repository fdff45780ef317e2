//! A change freeze: during the windows the site data lists, writes — git pushes, API
//! writes, repository creation — are refused with `site-refused`; reads are unaffected, and
//! so are site administrators.
//!
//! Site data: `{"freeze":{"windows":[{"from":<unix s>,"until":<unix s>,"reason":"<text>"}]}}`.
//! A window holds from `from` (inclusive) to `until` (exclusive). Who is a site
//! administrator is the core's answer ([`Asked::acting`]: the principal the core resolved,
//! an administrator acting with full powers, never through a restricted token), not
//! re-derived here.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use forge_authz_guest::site::time::utc;
use forge_authz_guest::site::{Asked, Refusal};
use serde::Deserialize;

/// The site's code for a refusal by the freeze (operators see it in the decision's detail
/// and its trace).
pub const CODE: &str = "change-freeze";

/// The latest time a window may name (9999-12-31T23:59:59Z), so every end prints as a date.
pub const LATEST: i64 = 253_402_300_799;

/// The longest reason, in bytes (it is shown to users in every refusal).
pub const REASON_MAX: usize = 200;

/// The freeze windows (none: no freeze).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Freeze {
    /// The windows, in any order; they may overlap.
    pub windows: Vec<Window>,
}

/// One freeze window.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start, unix seconds (inclusive).
    pub from: i64,
    /// End, unix seconds (exclusive).
    pub until: i64,
    /// Why (shown to users: no secret).
    pub reason: String,
}

impl Freeze {
    /// Refuse windows that cannot be meant: empty or reversed, outside 1970..9999, a
    /// reason empty, too long or with control characters.
    pub fn validate(&self) -> Result<(), String> {
        for (i, w) in self.windows.iter().enumerate() {
            let at = format!("freeze window {i}");
            if !(0..=LATEST).contains(&w.from) || !(0..=LATEST).contains(&w.until) {
                return Err(format!("{at}: times must be unix seconds in 1970..=9999"));
            }
            if w.from >= w.until {
                return Err(format!("{at}: `from` must be before `until`"));
            }
            if w.reason.trim().is_empty() || w.reason.len() > REASON_MAX {
                return Err(format!(
                    "{at}: a reason of 1 to {REASON_MAX} bytes is required"
                ));
            }
            if w.reason.chars().any(char::is_control) {
                return Err(format!("{at}: the reason holds a control character"));
            }
        }
        Ok(())
    }

    /// The window in force at `now` that ends last (its end is when writes resume).
    pub fn active(&self, now: i64) -> Option<&Window> {
        self.windows
            .iter()
            .filter(|w| w.from <= now && now < w.until)
            .max_by_key(|w| w.until)
    }

    /// The freeze's verdict on a request the core allowed.
    pub fn check(&self, asked: &Asked<'_>) -> Result<(), Refusal> {
        if !asked.writes() || asked.acting.site_admin {
            return Ok(());
        }
        match self.active(asked.now) {
            None => Ok(()),
            Some(w) => Err(Refusal {
                code: CODE.into(),
                message: format!(
                    "changes are frozen until {} ({}); reads still work — retry after the \
                     freeze or ask a site administrator",
                    utc(w.until),
                    w.reason
                ),
            }),
        }
    }
}

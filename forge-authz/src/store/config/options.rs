//! The policy options `forge-authz options set` changes, and the checks the host makes
//! on them before the policy sees them.

use crate::world::OptionsDef;

/// Option values the host refuses before the policy sees them: a lifetime must be
/// positive, and the shortest no longer than the longest.
pub fn check_options(o: &OptionsDef) -> Result<(), String> {
    if o.min_lifetime <= 0 || o.max_lifetime <= 0 {
        return Err("lifetimes must be positive".into());
    }
    if o.min_lifetime > o.max_lifetime {
        return Err(format!(
            "min-lifetime ({} s) is longer than max-lifetime ({} s)",
            o.min_lifetime, o.max_lifetime
        ));
    }
    Ok(())
}

/// An option and its new value (`forge-authz options set NAME VALUE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionSetting {
    /// `binding-fallback-to-anonymous`.
    BindingFallbackToAnonymous(bool),
    /// `require-expiry`.
    RequireExpiry(bool),
    /// `max-lifetime`, seconds.
    MaxLifetime(i64),
    /// `min-lifetime`, seconds.
    MinLifetime(i64),
}

/// The option names `options set` takes.
pub const OPTION_NAMES: [&str; 4] = [
    "binding-fallback-to-anonymous",
    "require-expiry",
    "max-lifetime",
    "min-lifetime",
];

impl OptionSetting {
    /// The option's name.
    pub fn name(self) -> &'static str {
        match self {
            OptionSetting::BindingFallbackToAnonymous(_) => "binding-fallback-to-anonymous",
            OptionSetting::RequireExpiry(_) => "require-expiry",
            OptionSetting::MaxLifetime(_) => "max-lifetime",
            OptionSetting::MinLifetime(_) => "min-lifetime",
        }
    }

    /// This option's value in `o`, as recorded in the history.
    pub(super) fn value_in(self, o: &OptionsDef) -> serde_json::Value {
        match self {
            OptionSetting::BindingFallbackToAnonymous(_) => o.binding_fallback_to_anonymous.into(),
            OptionSetting::RequireExpiry(_) => o.require_expiry.into(),
            OptionSetting::MaxLifetime(_) => o.max_lifetime.into(),
            OptionSetting::MinLifetime(_) => o.min_lifetime.into(),
        }
    }

    pub(super) fn apply(self, o: &mut OptionsDef) {
        match self {
            OptionSetting::BindingFallbackToAnonymous(v) => o.binding_fallback_to_anonymous = v,
            OptionSetting::RequireExpiry(v) => o.require_expiry = v,
            OptionSetting::MaxLifetime(v) => o.max_lifetime = v,
            OptionSetting::MinLifetime(v) => o.min_lifetime = v,
        }
    }
}

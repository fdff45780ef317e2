//! A policy call's arguments read into the host's types: the module's bytes and their
//! signature, the module trust, the policy configuration and a request.

use pyo3::prelude::*;
use pyo3::types::PyString;
use serde_json::Value;

use forge_authz_host::request::RequestDef;
use forge_authz_host::trust::Trust;
use forge_authz_host::trusted_pool::{Candidate, TrustConfig};
use forge_authz_host::wit;
use forge_authz_host::world::World;

use crate::errors::{InvalidConfig, InvalidRequest};
use crate::json::{json_arg, typed};
use crate::world::{PyWorld, read};

/// The module to make live: the given bytes with their signature (the `.minisig` text;
/// `None`: unsigned), or the module embedded in this extension (trusted as built).
pub(crate) fn candidate<'a>(module: Option<&'a [u8]>, signature: Option<&'a str>) -> Candidate<'a> {
    match module {
        Some(bytes) => Candidate::Bytes { bytes, signature },
        None => Candidate::Embedded,
    }
}

/// The module trust from `trust=` (`{"public_keys": [minisign .pub text], "retired_keys":
/// [key id], "allow_unsigned": False}`, a dict or JSON text; `None`: no key trusted, so
/// module bytes are refused and only the embedded module can serve).
pub(crate) fn trust_of(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Trust> {
    let config: TrustConfig = match obj {
        None => TrustConfig::default(),
        Some(o) => json_arg(o)
            .and_then(typed)
            .map_err(|e| InvalidConfig::new_err(format!("trust: {e}")))?,
    };
    config.trust().map_err(InvalidConfig::new_err)
}

/// The policy configuration: the world fixture's `keys`, `signing_key` and `options`
/// (other fields ignored), from a dict, JSON text or a `World`.
pub(crate) fn config_of(obj: &Bound<'_, PyAny>) -> PyResult<wit::Config> {
    if let Ok(w) = obj.cast::<PyWorld>() {
        return wit::world_config(&read(&w.get().world))
            .map_err(|e| InvalidConfig::new_err(format!("{e:#}")));
    }
    let mut v = json_arg(obj).map_err(|e| InvalidConfig::new_err(format!("config: {e}")))?;
    match v.as_object_mut() {
        Some(o) => o.retain(|k, _| matches!(k.as_str(), "keys" | "signing_key" | "options")),
        None => {
            return Err(InvalidConfig::new_err(
                "config: expected an object with `keys` and `signing_key`",
            ));
        }
    }
    let world: World = typed(v).map_err(|e| InvalidConfig::new_err(format!("config: {e}")))?;
    wit::world_config(&world).map_err(|e| InvalidConfig::new_err(format!("config: {e:#}")))
}

/// A request from a dict or JSON text; `kind` (when the request names none) is filled in.
pub(crate) fn request_of(
    obj: &Bound<'_, PyAny>,
    default_kind: Option<&str>,
) -> PyResult<RequestDef> {
    // JSON text with nothing to fill in: typed straight from the text (one parse).
    if let (None, Ok(s)) = (default_kind, obj.cast::<PyString>()) {
        let text = s
            .to_str()
            .map_err(|e| InvalidRequest::new_err(format!("request: {e}")))?;
        return forge_authz_host::world::parse_json(text)
            .map_err(|e| InvalidRequest::new_err(format!("request: {e:#}")));
    }
    let mut v = json_arg(obj).map_err(|e| InvalidRequest::new_err(format!("request: {e}")))?;
    if let (Some(kind), Some(o)) = (default_kind, v.as_object_mut()) {
        o.entry("kind").or_insert_with(|| Value::from(kind));
    }
    typed(v).map_err(|e| InvalidRequest::new_err(format!("request: {e}")))
}

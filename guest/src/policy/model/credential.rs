//! What a request presents (`credential` in the WIT): SSH keys, credentials, transports.
#[allow(unused_imports)]
use crate::prelude::*;

#[allow(unused_imports)]
use super::*;

use crate::policy::decision::named_enum;

named_enum! {
    /// Whose SSH key.
    KeyKind, name / from_name {
        /// A user's key.
        User = "user",
        /// A deploy key.
        Deploy = "deploy",
    }
}

/// A verified SSH key's facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshKey {
    /// Key id.
    pub id: String,
    /// User or deploy.
    pub kind: KeyKind,
    /// User keys: owner login.
    pub owner: String,
    /// Deploy keys: the repository.
    pub repository: Option<String>,
    /// Deploy keys: read-only.
    pub read_only: bool,
}

/// A credential as presented.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// None.
    Anonymous,
    /// Bearer token.
    Bearer(String),
    /// HTTP Basic.
    Basic {
        /// Username as sent.
        username: String,
        /// Password as sent.
        password: String,
    },
    /// A verified SSH key.
    SshKey(SshKey),
    /// A session the forge authenticated (the user's login).
    Session(String),
}

impl core::fmt::Debug for Credential {
    // Credentials hold secrets: Debug shows only their shape.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Credential::Anonymous => f.write_str("Anonymous"),
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Credential::Basic { .. } => f.write_str("Basic(<redacted>)"),
            Credential::SshKey(k) => write!(f, "SshKey({})", k.id),
            Credential::Session(u) => write!(f, "Session({u})"),
        }
    }
}

/// Protocol of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Smart HTTP / API.
    Http,
    /// SSH.
    Ssh,
}

//! Plain data the policy consumes and produces. Mirrors the WIT package (`wit/*.wit`) one
//! to one, one file per WIT interface (`config`, `credential`, `facts`, `request`,
//! `lifecycle`; the decision types are `super::decision`); the component converts between
//! the two, the native tests use these directly.
#[allow(unused_imports)]
use crate::prelude::*;

/// Seconds since the Unix epoch, UTC.
pub type Timestamp = i64;

mod config;
mod credential;
mod facts;
mod lifecycle;
mod request;

pub use config::*;
pub use credential::*;
pub use facts::*;
pub use lifecycle::*;
pub use request::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let key = SigningKey {
            id: "k1".into(),
            secret: b"very-secret-key-material-32-bytes".to_vec(),
        };
        let shown = format!("{key:?}");
        assert!(
            shown.contains("k1") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert!(!shown.contains("very-secret"));
        for (c, want) in [
            (Credential::Bearer("fzpat_x".into()), "Bearer(<redacted>)"),
            (
                Credential::Basic {
                    username: "u".into(),
                    password: "fzpat_x".into(),
                },
                "Basic(<redacted>)",
            ),
            (Credential::Anonymous, "Anonymous"),
            (Credential::Session("alice".into()), "Session(alice)"),
        ] {
            assert_eq!(format!("{c:?}"), want);
        }
        let issued = IssuedToken {
            secret: "fzpat_secret".into(),
            record: TokenRecord {
                id: "id".into(),
                owner: "alice".into(),
                name: "n".into(),
                scopes: vec![],
                repositories: vec![],
                owners: vec![],
                parent: None,
                predecessor: None,
                successor: None,
                last_used: None,
                created: 0,
                expires: None,
                revoked: None,
                secret: SecretDigest::HmacTag([0; 32]),
            },
            event: HistoryEvent {
                token_id: "id".into(),
                owner: "alice".into(),
                action: HistoryAction::Create,
                actor: "alice".into(),
                ip: None,
                at: 0,
                name: "n".into(),
                scopes: vec![],
                expires: None,
                parent: None,
                old_name: None,
                old_scopes: None,
                old_expires: None,
                related: None,
            },
        };
        let shown = format!("{issued:?}");
        assert!(
            shown.contains("<redacted>") && shown.contains("alice"),
            "{shown}"
        );
        assert!(!shown.contains("fzpat_secret"));
    }
}

//! The facts a refusing rule of the credential notes in its trace (issue 25, "`--explain`
//! for people"): about the requester's own credential only, said to whoever reads the
//! trace and never in the decision. (Facts about targets: `targets.rs`.)
#[allow(unused_imports)]
use crate::prelude::*;

use super::model::UserFacts;

/// Why the account behind the requester's own credential may not act (missing, or its
/// status), for the account rule's note: its state is the requester's to know.
pub(super) fn account_facts(name: &str, facts: Option<&UserFacts>) -> String {
    match facts {
        Some(f) => format!("the account `{name}` is {}", f.status.name()),
        None => format!("no account `{name}` on record"),
    }
}

/// Whose token it is, beside the username sent with it (`None`: not shown, as it is not a
/// plain name and may be token-shaped), for the username rule's note. The owner is the
/// token's own record (the token-record step names it already).
pub(super) fn username_facts(owner: &str, sent: Option<&str>) -> String {
    match sent {
        Some(sent) => format!("the token belongs to `{owner}`; the username sent is `{sent}`"),
        None => format!("the token belongs to `{owner}`, not to the username sent"),
    }
}

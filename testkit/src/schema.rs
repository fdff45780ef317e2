//! What each store schema version added, as the statements that take it away again: the
//! migration tests set a store back to an older version and check the migration brings
//! it forward (forge-authz/tests/{store,keys}.rs). One list per version, so a new
//! migration is undone in one place.

/// Undo version 6 (issue 25: the records' own history).
pub const UNDO_V6: &[&str] = &["DROP TABLE record_history"];

/// Undo version 5 (issue 23: module signatures and signers, accepted gate reports, IP allow
/// lists).
pub const UNDO_V5: &[&str] = &[
    "ALTER TABLE policy_modules DROP COLUMN signature",
    "ALTER TABLE policy_modules DROP COLUMN signed_version",
    "ALTER TABLE policy_modules DROP COLUMN accepted_report_sha256",
    "ALTER TABLE policy_publications DROP COLUMN accepted_report_sha256",
    "DROP TABLE module_signers",
    "ALTER TABLE users DROP COLUMN ip_allow",
    "ALTER TABLE tokens DROP COLUMN ip_allow",
];

/// Undo version 4 (issue 19 item 3: versioned configuration).
pub const UNDO_V4: &[&str] = &[
    "DROP TABLE config_history",
    "ALTER TABLE keys DROP COLUMN added_at",
    "ALTER TABLE keys DROP COLUMN added_by",
    "ALTER TABLE keys DROP COLUMN retired_at",
    "ALTER TABLE keys DROP COLUMN retired_by",
    "ALTER TABLE policy_hosts DROP COLUMN config_version",
];

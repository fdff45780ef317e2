// Generated from the policy core's tables by tests/tests/vocabulary.rs (FORGE_AUTHZ_REGENERATE=1 cargo test -p forge-authz-tests --test vocabulary); do not edit.

/** Scope categories, in the canonical order. */
export const CATEGORIES = Object.freeze(['activitypub', 'admin', 'issue', 'misc', 'notification', 'organization', 'package', 'repository', 'user']);

/** Privileged operations. */
export const OPERATIONS = Object.freeze(['repository-settings', 'delete-repository', 'transfer-repository', 'convert-mirror', 'generate-from-template', 'create-for-other-owner', 'view-admin-details', 'moderate']);

/** Roles, in order: none < read < write < admin. */
export const ROLES = Object.freeze(['none', 'read', 'write', 'admin']);

/** Creation steps. */
export const STEPS = Object.freeze(['push-to-create', 'confirm', 'abort']);

/** Git actions. */
export const ACTIONS = Object.freeze(['pull', 'push']);

/** A ref permission set's names, in order. */
export const REF_PERMISSIONS = Object.freeze(['create', 'push', 'force-push']);

/** Every reason code the policy gives, in the core's order. */
export const REASON_CODES = Object.freeze(['granted', 'public-read', 'request-invalid', 'conflicting-credentials', 'ref-name-invalid', 'repository-exists', 'authentication-required', 'token-invalid', 'token-unknown', 'token-expired', 'token-revoked', 'account-inactive', 'username-mismatch', 'token-not-bound', 'token-not-allowed', 'credential-not-allowed', 'scope-missing', 'scope-unknown', 'token-public-only', 'permission-denied', 'repository-mirror', 'repository-import', 'repository-archived', 'deploy-key-read-only', 'restricted-token', 'admin-required', 'sudo-denied', 'create-denied', 'ref-protected', 'force-push-protected', 'ip-not-allowed', 'site-refused', 'repository-not-found', 'namespace-not-found']);

/** The host's own refusal when the policy could not decide. */
export const POLICY_FAILURE_CODE = 'policy-failure';
export const POLICY_FAILURE_STATUS = 503;
export const POLICY_FAILURE_MESSAGE = 'the authorization policy could not decide; access denied';

// The `authorizer` interface's exports over WIT values: each converts its arguments in,
// delegates to the core, and converts the answer out — nothing else. Included (like the
// `convert*.rs` files, whose functions it calls) by the component (`component.rs`) and by
// the host's native twin of it (`forge_authz_host::wit::core`, which `tests/src/native.rs`
// runs against the component), so the native and the wasm paths run the same lines.
//
// `entropy` is the 36 bytes a mint draws (`None` refuses it); `facts` answers the core's
// fact queries during a decision.

/// The WIT exports as functions of a core engine.
#[allow(dead_code)] // each includer calls what it exposes
pub mod exports {
    use super::*;

    type Entropy<'e> = Option<&'e [u8; policy::token::ENTROPY_BYTES]>;

    /// `inspect`.
    pub fn inspect(secret: &str) -> Result<wit::TokenInfo, wit::TokenError> {
        policy::inspect(secret)
            .map(|i| wit::TokenInfo {
                token_id: i.token_id,
                key_id: i.key_id,
            })
            .map_err(token_error_out)
    }

    /// `migrate-legacy-scopes`.
    pub fn migrate_legacy_scopes(scopes: &[String]) -> Vec<String> {
        policy::scope::migrate_legacy(scopes)
    }

    /// `normalize-scopes`.
    pub fn normalize_scopes(scopes: &[String]) -> Result<Vec<String>, wit::ScopeError> {
        policy::scope::normalize(scopes).map_err(wit::ScopeError::UnknownScope)
    }

    /// `[constructor]authorizer`.
    pub fn create(config: wit::Config) -> Result<policy::Engine, wit::ConfigError> {
        policy::Engine::new(&config_in(config)).map_err(config_error_out)
    }

    /// `authorizer.verify`.
    pub fn verify(
        engine: &mut policy::Engine,
        credential: wit::Credential,
    ) -> Result<Option<wit::VerifiedToken>, wit::TokenError> {
        engine
            .verify(&credential_in(credential))
            .map(|v| {
                v.map(|v| wit::VerifiedToken {
                    token_id: v.token_id,
                    key_id: v.key_id,
                })
            })
            .map_err(token_error_out)
    }

    /// `authorizer.authorize`.
    pub fn authorize(
        engine: &mut policy::Engine,
        request: wit::AuthorizeRequest,
        facts: &mut dyn policy::Facts,
    ) -> wit::Decision {
        decision_out(engine.authorize(&authorize_in(request), facts))
    }

    /// `authorizer.authorize-batch`.
    pub fn authorize_batch(
        engine: &mut policy::Engine,
        request: wit::BatchRequest,
        facts: &mut dyn policy::Facts,
    ) -> Vec<wit::Decision> {
        engine
            .authorize_batch(&batch_request_in(request), facts)
            .into_iter()
            .map(decision_out)
            .collect()
    }

    /// `authorizer.ref-permissions`.
    pub fn ref_permissions(
        engine: &mut policy::Engine,
        request: wit::RefPermissionsRequest,
        facts: &mut dyn policy::Facts,
    ) -> wit::RefGrants {
        ref_grants_out(engine.ref_permissions(&ref_permissions_request_in(request), facts))
    }

    /// `authorizer.issue`.
    pub fn issue(
        engine: &policy::Engine,
        request: wit::IssueRequest,
        entropy: Entropy<'_>,
    ) -> Result<wit::IssuedToken, wit::IssueError> {
        engine
            .authorizer()
            .issue(&issue_in(request), entropy)
            .map(issued_out)
            .map_err(issue_error_out)
    }

    /// `authorizer.derive-child`.
    pub fn derive_child(
        engine: &policy::Engine,
        request: wit::ChildRequest,
        entropy: Entropy<'_>,
    ) -> Result<wit::ChildOutcome, wit::LifecycleError> {
        engine
            .authorizer()
            .derive_child(&child_in(request), entropy)
            .map(child_out)
            .map_err(lifecycle_error_out)
    }

    /// `authorizer.rotate`.
    pub fn rotate(
        engine: &policy::Engine,
        request: wit::RotateRequest,
        entropy: Entropy<'_>,
    ) -> Result<wit::Rotation, wit::LifecycleError> {
        engine
            .authorizer()
            .rotate(&rotate_in(request), entropy)
            .map(rotation_out)
            .map_err(lifecycle_error_out)
    }

    /// `authorizer.plan-revoke`.
    pub fn plan_revoke(
        engine: &policy::Engine,
        token_id: &str,
        scope: wit::RevokeScope,
        records: Vec<wit::TokenRecord>,
        context: wit::ChangeContext,
    ) -> Result<wit::ChangePlan, wit::LifecycleError> {
        let records: Vec<policy::TokenRecord> = records.into_iter().map(record_in).collect();
        engine
            .authorizer()
            .plan_revoke(
                token_id,
                revoke_scope_in(scope),
                &records,
                &context_in(context),
            )
            .map(plan_out)
            .map_err(lifecycle_error_out)
    }

    /// `authorizer.plan-edit`.
    pub fn plan_edit(
        engine: &policy::Engine,
        token_id: &str,
        edit: wit::TokenEdit,
        records: Vec<wit::TokenRecord>,
        context: wit::ChangeContext,
    ) -> Result<wit::ChangePlan, wit::LifecycleError> {
        let records: Vec<policy::TokenRecord> = records.into_iter().map(record_in).collect();
        engine
            .authorizer()
            .plan_edit(token_id, &edit_in(edit), &records, &context_in(context))
            .map(plan_out)
            .map_err(lifecycle_error_out)
    }

    /// `authorizer.plan-expire`.
    pub fn plan_expire(
        engine: &policy::Engine,
        entries: Vec<wit::AuditEntry>,
        context: wit::ChangeContext,
    ) -> Vec<wit::HistoryEvent> {
        let entries: Vec<policy::AuditEntry> = entries.into_iter().map(audit_entry_in).collect();
        engine
            .authorizer()
            .plan_expire(&entries, &context_in(context))
            .into_iter()
            .map(event_out)
            .collect()
    }

    /// `authorizer.audit`.
    pub fn audit(
        engine: &policy::Engine,
        entries: Vec<wit::AuditEntry>,
        context: wit::ChangeContext,
    ) -> Vec<wit::AuditFinding> {
        let entries: Vec<policy::AuditEntry> = entries.into_iter().map(audit_entry_in).collect();
        engine
            .authorizer()
            .audit(&entries, &context_in(context))
            .into_iter()
            .map(finding_out)
            .collect()
    }
}

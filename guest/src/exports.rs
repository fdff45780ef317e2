// The `authorizer` interface's exports over WIT values: each converts its arguments in,
// delegates to the core, and converts the answer out — nothing else. Included (like the
// `convert*.rs` files, whose conversions it calls) by the component (`component.rs`) and by
// the host's native twin of it (`forge_authz_host::wit::core`, which `tests/src/native.rs`
// runs against the component), so the native and the wasm paths run the same lines.
//
// One table (at the end of this file): a row per export, its WIT arguments (owned, as the
// component receives them), its WIT answer and its body. The table writes the `exports`
// functions below and, in the component, its `Guest` and `GuestAuthorizer` implementations
// (each a call of the function of the same name), so a new export is one new row.
//
// A method row names the engine first (`E`: any `forge_authz_guest::site::Core`, the core
// alone — `policy::Engine`, the host's native twin — or the core narrowed by a site policy,
// `site::Sited`, the component's resource), then its WIT arguments; after `;`, what the
// host lends the call: `facts` (answers the core's fact queries during a decision) or
// `entropy` (the 36 bytes a mint draws; `None` refuses it).

/// The type of what the host lends a method row (`; facts` or `; entropy`).
macro_rules! lent {
    (facts) => {
        &mut dyn policy::Facts
    };
    (entropy) => {
        Option<&[u8; policy::token::ENTROPY_BYTES]>
    };
}

/// The `exports` functions, and the component's bindings of them, from the table.
macro_rules! exports_from_table {
    (
        functions { $(
            $(#[$doc:meta])*
            fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block
        )* }
        methods { $(
            $(#[$mdoc:meta])*
            fn $method:ident(
                $engine:ident: $engine_ty:ty $(, $marg:ident: $mty:ty)* $(; $lent:ident)?
            ) -> $mret:ty $mbody:block
        )* }
    ) => {
        /// The WIT exports as functions of a core engine.
        #[allow(dead_code)] // each includer calls what it exposes
        pub mod exports {
            use super::*;

            $(
                $(#[$doc])*
                pub fn $name($($arg: $ty),*) -> $ret $body
            )*

            /// `[constructor]authorizer`, the core alone.
            pub fn create(config: wit::Config) -> Result<policy::Engine, wit::ConfigError> {
                policy::Engine::new(&config_in(config)).map_err(config_error_out)
            }

            /// `[constructor]authorizer`, the core narrowed by the site policy `S` (which
            /// reads `config.site` once, here).
            pub fn create_sited<S: forge_authz_guest::site::Site>(
                config: wit::Config,
            ) -> Result<forge_authz_guest::site::Sited<S>, wit::ConfigError> {
                forge_authz_guest::site::Sited::new(&config_in(config)).map_err(config_error_out)
            }

            $(
                $(#[$mdoc])*
                pub fn $method<E: forge_authz_guest::site::Core>(
                    $engine: $engine_ty,
                    $($marg: $mty,)*
                    $($lent: lent!($lent),)?
                ) -> $mret $mbody
            )*
        }

        // The component's bindings of the same rows (`component.rs`, the one includer built
        // for wasm32), for any site policy `S`: each function and method delegates to the
        // `exports` function of the same name, with the resource's engine (the core narrowed
        // by `S`) and what the component lends (`lend!`).
        #[cfg(target_arch = "wasm32")]
        impl<S: forge_authz_guest::site::Site> wit_authorizer::Guest for Component<S> {
            type Authorizer = Authorizer<S>;

            $(
                fn $name($($arg: $ty),*) -> $ret {
                    exports::$name($($arg),*)
                }
            )*
        }

        #[cfg(target_arch = "wasm32")]
        impl<S: forge_authz_guest::site::Site> wit_authorizer::GuestAuthorizer for Authorizer<S> {
            fn create(config: wit::Config) -> Result<wit_authorizer::Authorizer, wit::ConfigError> {
                exports::create_sited::<S>(config).map(Authorizer::resource)
            }

            $(
                fn $method(&self, $($marg: $mty),*) -> $mret {
                    exports::$method::<forge_authz_guest::site::Sited<S>>(
                        &mut self.engine(),
                        $($marg,)*
                        $(lend!($lent))?
                    )
                }
            )*
        }
    };
}

// The table: the interface's `functions`, then the `authorizer` resource's `methods` (its
// constructor, `create`, is written by hand: it is the one export that makes an engine
// rather than using one).
exports_from_table! {
    functions {
        /// `inspect`.
        fn inspect(secret: String) -> Result<wit::TokenInfo, wit::TokenError> {
            policy::inspect(&secret).convert()
        }
        /// `migrate-legacy-scopes`.
        fn migrate_legacy_scopes(scopes: Vec<String>) -> Vec<String> {
            policy::scope::migrate_legacy(&scopes)
        }
        /// `normalize-scopes`.
        fn normalize_scopes(scopes: Vec<String>) -> Result<Vec<String>, wit::ScopeError> {
            policy::scope::normalize(&scopes).map_err(wit::ScopeError::UnknownScope)
        }
    }
    methods {
        /// `authorizer.verify`.
        fn verify(engine: &mut E, credential: wit::Credential)
            -> Result<Option<wit::VerifiedToken>, wit::TokenError> {
            engine.verify(&credential.convert()).convert()
        }
        /// `authorizer.authorize`.
        fn authorize(engine: &mut E, request: wit::AuthorizeRequest; facts)
            -> wit::Decision {
            engine.authorize(&request.convert(), facts).convert()
        }
        /// `authorizer.authorize-batch`.
        fn authorize_batch(engine: &mut E, request: wit::BatchRequest; facts)
            -> Vec<wit::Decision> {
            engine.authorize_batch(&request.convert(), facts).convert()
        }
        /// `authorizer.ref-permissions`.
        fn ref_permissions(
            engine: &mut E,
            request: wit::RefPermissionsRequest;
            facts
        ) -> wit::RefGrants {
            engine.ref_permissions(&request.convert(), facts).convert()
        }
        /// `authorizer.issue`.
        fn issue(engine: &E, request: wit::IssueRequest; entropy)
            -> Result<wit::IssuedToken, wit::IssueError> {
            engine.issue(&request.convert(), entropy).convert()
        }
        /// `authorizer.derive-child`.
        fn derive_child(engine: &E, request: wit::ChildRequest; entropy)
            -> Result<wit::ChildOutcome, wit::LifecycleError> {
            engine.authorizer().derive_child(&request.convert(), entropy).convert()
        }
        /// `authorizer.rotate`.
        fn rotate(engine: &E, request: wit::RotateRequest; entropy)
            -> Result<wit::Rotation, wit::LifecycleError> {
            engine.authorizer().rotate(&request.convert(), entropy).convert()
        }
        /// `authorizer.plan-revoke`.
        fn plan_revoke(
            engine: &E,
            token_id: String,
            scope: wit::RevokeScope,
            records: Vec<wit::TokenRecord>,
            context: wit::ChangeContext
        ) -> Result<wit::ChangePlan, wit::LifecycleError> {
            engine
                .authorizer()
                .plan_revoke(
                    &token_id,
                    scope.convert(),
                    &records.convert(),
                    &context.convert(),
                )
                .convert()
        }
        /// `authorizer.plan-edit`.
        fn plan_edit(
            engine: &E,
            token_id: String,
            edit: wit::TokenEdit,
            records: Vec<wit::TokenRecord>,
            context: wit::ChangeContext
        ) -> Result<wit::ChangePlan, wit::LifecycleError> {
            engine
                .authorizer()
                .plan_edit(
                    &token_id,
                    &edit.convert(),
                    &records.convert(),
                    &context.convert(),
                )
                .convert()
        }
        /// `authorizer.plan-expire`.
        fn plan_expire(
            engine: &E,
            entries: Vec<wit::AuditEntry>,
            context: wit::ChangeContext
        ) -> Vec<wit::HistoryEvent> {
            engine
                .authorizer()
                .plan_expire(&entries.convert(), &context.convert())
                .convert()
        }
        /// `authorizer.audit`.
        fn audit(
            engine: &E,
            entries: Vec<wit::AuditEntry>,
            context: wit::ChangeContext
        ) -> Vec<wit::AuditFinding> {
            engine.authorizer().audit(&entries.convert(), &context.convert()).convert()
        }
    }
}

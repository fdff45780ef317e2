// Conversions between WIT values and the policy core: credentials and requests, both ways
// (a host reads its request files into the core's types and crosses into the component
// with the `*_out` functions).
//
// `include!`d beside `convert.rs` (whose header says how and why: one `two_way!` row per
// type); `*_in` functions go from WIT to the core, `*_out` from the core to WIT.

two_way!(variant Transport <-> Transport { Http, Ssh } as transport_in, transport_out);
two_way!(variant KeyKind <-> KeyKind { User, Deploy });
two_way!(record SshKey <-> SshKey {
    id,
    kind,
    owner,
    repository,
    read_only,
} as ssh_key_in, ssh_key_out);

// Basic credentials are a record in the WIT, a struct case in the core.
impl Convert<policy::Credential> for wit::Credential {
    fn convert(self) -> policy::Credential {
        match self {
            wit::Credential::Anonymous => policy::Credential::Anonymous,
            wit::Credential::Bearer(t) => policy::Credential::Bearer(t),
            wit::Credential::Basic(b) => policy::Credential::Basic {
                username: b.username,
                password: b.password,
            },
            wit::Credential::SshKey(k) => policy::Credential::SshKey(k.convert()),
            wit::Credential::Session(u) => policy::Credential::Session(u),
        }
    }
}

impl Convert<wit::Credential> for policy::Credential {
    fn convert(self) -> wit::Credential {
        match self {
            policy::Credential::Anonymous => wit::Credential::Anonymous,
            policy::Credential::Bearer(t) => wit::Credential::Bearer(t),
            policy::Credential::Basic { username, password } => {
                wit::Credential::Basic(wit::BasicCredential { username, password })
            }
            policy::Credential::SshKey(k) => wit::Credential::SshKey(k.convert()),
            policy::Credential::Session(u) => wit::Credential::Session(u),
        }
    }
}

two_way!(@named Credential Credential credential_in credential_out);

two_way!(variant GitAction <-> GitAction { Pull, Push } as git_action_in, git_action_out);

/// One table of (WIT flag, core category), read in both directions.
#[allow(dead_code)]
fn category_flags() -> [(wit::ScopeCategories, policy::scope::Category); 9] {
    use policy::scope::Category as C;
    use wit::ScopeCategories as F;
    [
        (F::ACTIVITYPUB, C::ActivityPub),
        (F::ADMIN, C::Admin),
        (F::MISC, C::Misc),
        (F::NOTIFICATION, C::Notification),
        (F::ORGANIZATION, C::Organization),
        (F::PACKAGE, C::Package),
        (F::ISSUE, C::Issue),
        (F::REPOSITORY, C::Repository),
        (F::USER, C::User),
    ]
}

impl Convert<policy::scope::Categories> for wit::ScopeCategories {
    fn convert(self) -> policy::scope::Categories {
        category_flags()
            .into_iter()
            .filter(|(f, _)| self.contains(*f))
            .fold(policy::scope::Categories::NONE, |set, (_, cat)| set.with(cat))
    }
}

impl Convert<wit::ScopeCategories> for policy::scope::Categories {
    fn convert(self) -> wit::ScopeCategories {
        category_flags()
            .into_iter()
            .filter(|(_, c)| self.contains(*c))
            .fold(wit::ScopeCategories::empty(), |set, (flag, _)| set | flag)
    }
}

#[allow(dead_code)]
pub fn categories_in(c: wit::ScopeCategories) -> policy::scope::Categories {
    c.convert()
}

#[allow(dead_code)]
pub fn categories_out(c: policy::scope::Categories) -> wit::ScopeCategories {
    c.convert()
}

two_way!(variant HttpMethod <-> Method {
    Get,
    Head,
    Options,
    Post,
    Put,
    Patch,
    Delete,
    Other(m),
} as method_in, method_out);
two_way!(variant PrivilegedOperation <-> PrivilegedOperation {
    RepositorySettings,
    DeleteRepository,
    TransferRepository,
    ConvertMirror,
    GenerateFromTemplate,
    CreateForOtherOwner,
    ViewAdminDetails,
    Moderate,
} as operation_in, operation_out);
two_way!(variant RefChange <-> RefChange { Create, Update, Delete });
two_way!(record RefUpdate <-> RefUpdate { name, change, force });

// No ref update known: `none` in the WIT (as a host passes it), an empty list in the core.
two_way!(record GitRequest <-> GitRequest {
    transport,
    repository,
    action;
    unlisted_if_empty refs
} as git_request_in, git_request_out);
two_way!(variant CreationStep <-> CreationStep { PushToCreate, Confirm, Abort });
two_way!(record CreationRequest <-> CreationRequest { transport, repository, step });

/// One table of (WIT route flag, whether the core's request sets it), read both ways.
macro_rules! route_flags {
    ($($field:ident = $flag:ident),* $(,)?) => {
        // The route's flags are fields of the core's request.
        impl Convert<policy::ApiRequest> for wit::ApiRequest {
            fn convert(self) -> policy::ApiRequest {
                policy::ApiRequest {
                    method: self.method.convert(),
                    categories: self.categories.convert(),
                    repository: self.repository,
                    namespace: self.namespace,
                    required_role: self.required_role.convert(),
                    operation: self.operation.convert(),
                    sudo: self.sudo,
                    $($field: self.route.contains(wit::RouteFlags::$flag),)*
                }
            }
        }

        impl Convert<wit::ApiRequest> for policy::ApiRequest {
            fn convert(self) -> wit::ApiRequest {
                let mut route = wit::RouteFlags::empty();
                $(if self.$field {
                    route |= wit::RouteFlags::$flag;
                })*
                wit::ApiRequest {
                    method: self.method.convert(),
                    categories: self.categories.convert(),
                    repository: self.repository,
                    namespace: self.namespace,
                    route,
                    required_role: self.required_role.convert(),
                    operation: self.operation.convert(),
                    sudo: self.sudo,
                }
            }
        }
    };
}

route_flags! {
    requires_auth = REQUIRES_AUTH,
    admin_only = ADMIN_ONLY,
    package = PACKAGE,
    writes_content = WRITES_CONTENT,
    creates_in_own_namespace = CREATES_IN_OWN_NAMESPACE,
}

two_way!(@named ApiRequest ApiRequest api_request_in api_request_out);
two_way!(variant Request <-> Request { Git(g), Create(c), Api(a) } as request_in, request_out);

// The requests that carry credentials: `also-presented` is absent in the WIT when empty.
two_way!(record AuthorizeRequest <-> AuthorizeRequest {
    credential,
    client_address,
    request,
    now,
    explain;
    unlisted_if_empty also_presented
} as authorize_in, authorize_out);
two_way!(record BatchRequest <-> BatchRequest {
    credential,
    client_address,
    transport,
    action,
    repositories,
    now,
    explain;
    unlisted_if_empty also_presented
} as batch_request_in, batch_request_out);
two_way!(record RefPermissionsRequest <-> RefPermissionsRequest {
    credential,
    client_address,
    transport,
    repository,
    refs,
    now;
    unlisted_if_empty also_presented
} as ref_permissions_request_in, ref_permissions_request_out);

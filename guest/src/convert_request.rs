// Conversions between WIT values and the policy core: credentials and requests, both ways
// (a host reads its request files into the core's types and crosses into the component
// with the `*_out` functions).
//
// `include!`d beside `convert.rs` (whose header says how and why); `*_in` functions go
// from WIT to the core, `*_out` from the core to WIT.

#[allow(dead_code)]
pub fn transport_in(t: wit::Transport) -> policy::Transport {
    match t {
        wit::Transport::Http => policy::Transport::Http,
        wit::Transport::Ssh => policy::Transport::Ssh,
    }
}

#[allow(dead_code)]
pub fn ssh_key_in(k: wit::SshKey) -> policy::SshKey {
    policy::SshKey {
        id: k.id,
        kind: match k.kind {
            wit::KeyKind::User => policy::KeyKind::User,
            wit::KeyKind::Deploy => policy::KeyKind::Deploy,
        },
        owner: k.owner,
        repository: k.repository,
        read_only: k.read_only,
    }
}

#[allow(dead_code)]
pub fn ssh_key_out(k: policy::SshKey) -> wit::SshKey {
    wit::SshKey {
        id: k.id,
        kind: match k.kind {
            policy::KeyKind::User => wit::KeyKind::User,
            policy::KeyKind::Deploy => wit::KeyKind::Deploy,
        },
        owner: k.owner,
        repository: k.repository,
        read_only: k.read_only,
    }
}

#[allow(dead_code)]
pub fn credential_in(c: wit::Credential) -> policy::Credential {
    match c {
        wit::Credential::Anonymous => policy::Credential::Anonymous,
        wit::Credential::Bearer(t) => policy::Credential::Bearer(t),
        wit::Credential::Basic(b) => policy::Credential::Basic {
            username: b.username,
            password: b.password,
        },
        wit::Credential::SshKey(k) => policy::Credential::SshKey(ssh_key_in(k)),
        wit::Credential::Session(u) => policy::Credential::Session(u),
    }
}

#[allow(dead_code)]
pub fn git_action_in(a: wit::GitAction) -> policy::GitAction {
    match a {
        wit::GitAction::Pull => policy::GitAction::Pull,
        wit::GitAction::Push => policy::GitAction::Push,
    }
}

#[allow(dead_code)]
pub fn categories_in(c: wit::ScopeCategories) -> policy::scope::Categories {
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
    .into_iter()
    .filter(|(f, _)| c.contains(*f))
    .fold(policy::scope::Categories::NONE, |set, (_, cat)| set.with(cat))
}

#[allow(dead_code)]
pub fn method_in(m: wit::HttpMethod) -> policy::Method {
    match m {
        wit::HttpMethod::Get => policy::Method::Get,
        wit::HttpMethod::Head => policy::Method::Head,
        wit::HttpMethod::Options => policy::Method::Options,
        wit::HttpMethod::Post => policy::Method::Post,
        wit::HttpMethod::Put => policy::Method::Put,
        wit::HttpMethod::Patch => policy::Method::Patch,
        wit::HttpMethod::Delete => policy::Method::Delete,
        wit::HttpMethod::Other(m) => policy::Method::Other(m),
    }
}

#[allow(dead_code)]
pub fn operation_in(o: wit::PrivilegedOperation) -> policy::PrivilegedOperation {
    use policy::PrivilegedOperation as P;
    match o {
        wit::PrivilegedOperation::RepositorySettings => P::RepositorySettings,
        wit::PrivilegedOperation::DeleteRepository => P::DeleteRepository,
        wit::PrivilegedOperation::TransferRepository => P::TransferRepository,
        wit::PrivilegedOperation::ConvertMirror => P::ConvertMirror,
        wit::PrivilegedOperation::GenerateFromTemplate => P::GenerateFromTemplate,
        wit::PrivilegedOperation::CreateForOtherOwner => P::CreateForOtherOwner,
        wit::PrivilegedOperation::ViewAdminDetails => P::ViewAdminDetails,
        wit::PrivilegedOperation::Moderate => P::Moderate,
    }
}

#[allow(dead_code)]
pub fn request_in(r: wit::Request) -> policy::Request {
    match r {
        wit::Request::Git(g) => policy::Request::Git(policy::GitRequest {
            transport: transport_in(g.transport),
            repository: g.repository,
            action: git_action_in(g.action),
            refs: g
                .refs
                .unwrap_or_default()
                .into_iter()
                .map(|u| policy::RefUpdate {
                    name: u.name,
                    change: match u.change {
                        wit::RefChange::Create => policy::RefChange::Create,
                        wit::RefChange::Update => policy::RefChange::Update,
                        wit::RefChange::Delete => policy::RefChange::Delete,
                    },
                    force: u.force,
                })
                .collect(),
        }),
        wit::Request::Create(c) => policy::Request::Create(policy::CreationRequest {
            transport: transport_in(c.transport),
            repository: c.repository,
            step: match c.step {
                wit::CreationStep::PushToCreate => policy::CreationStep::PushToCreate,
                wit::CreationStep::Confirm => policy::CreationStep::Confirm,
                wit::CreationStep::Abort => policy::CreationStep::Abort,
            },
        }),
        wit::Request::Api(a) => policy::Request::Api(policy::ApiRequest {
            method: method_in(a.method),
            categories: categories_in(a.categories),
            repository: a.repository,
            namespace: a.namespace,
            requires_auth: a.route.contains(wit::RouteFlags::REQUIRES_AUTH),
            admin_only: a.route.contains(wit::RouteFlags::ADMIN_ONLY),
            required_role: role_in(a.required_role),
            operation: a.operation.map(operation_in),
            sudo: a.sudo,
            package: a.route.contains(wit::RouteFlags::PACKAGE),
            writes_content: a.route.contains(wit::RouteFlags::WRITES_CONTENT),
            creates_in_own_namespace: a.route.contains(wit::RouteFlags::CREATES_IN_OWN_NAMESPACE),
        }),
    }
}

#[allow(dead_code)]
pub fn authorize_in(r: wit::AuthorizeRequest) -> policy::AuthorizeRequest {
    policy::AuthorizeRequest {
        credential: credential_in(r.credential),
        also_presented: r.also_presented.unwrap_or_default(),
        request: request_in(r.request),
        now: r.now,
        explain: r.explain,
    }
}

#[allow(dead_code)]
pub fn batch_request_in(r: wit::BatchRequest) -> policy::BatchRequest {
    policy::BatchRequest {
        credential: credential_in(r.credential),
        also_presented: r.also_presented.unwrap_or_default(),
        transport: transport_in(r.transport),
        action: git_action_in(r.action),
        repositories: r.repositories,
        now: r.now,
        explain: r.explain,
    }
}

#[allow(dead_code)]
pub fn ref_permissions_request_in(r: wit::RefPermissionsRequest) -> policy::RefPermissionsRequest {
    policy::RefPermissionsRequest {
        credential: credential_in(r.credential),
        also_presented: r.also_presented.unwrap_or_default(),
        transport: transport_in(r.transport),
        repository: r.repository,
        refs: r.refs,
        now: r.now,
    }
}

#[allow(dead_code)]
pub fn credential_out(c: policy::Credential) -> wit::Credential {
    match c {
        policy::Credential::Anonymous => wit::Credential::Anonymous,
        policy::Credential::Bearer(t) => wit::Credential::Bearer(t),
        policy::Credential::Basic { username, password } => {
            wit::Credential::Basic(wit::BasicCredential { username, password })
        }
        policy::Credential::SshKey(k) => wit::Credential::SshKey(ssh_key_out(k)),
        policy::Credential::Session(u) => wit::Credential::Session(u),
    }
}

#[allow(dead_code)]
pub fn also_out(also: Vec<String>) -> Option<Vec<String>> {
    (!also.is_empty()).then_some(also)
}

#[allow(dead_code)]
pub fn transport_out(t: policy::Transport) -> wit::Transport {
    match t {
        policy::Transport::Http => wit::Transport::Http,
        policy::Transport::Ssh => wit::Transport::Ssh,
    }
}

#[allow(dead_code)]
pub fn git_action_out(a: policy::GitAction) -> wit::GitAction {
    match a {
        policy::GitAction::Pull => wit::GitAction::Pull,
        policy::GitAction::Push => wit::GitAction::Push,
    }
}

#[allow(dead_code)]
pub fn method_out(m: policy::Method) -> wit::HttpMethod {
    match m {
        policy::Method::Get => wit::HttpMethod::Get,
        policy::Method::Head => wit::HttpMethod::Head,
        policy::Method::Options => wit::HttpMethod::Options,
        policy::Method::Post => wit::HttpMethod::Post,
        policy::Method::Put => wit::HttpMethod::Put,
        policy::Method::Patch => wit::HttpMethod::Patch,
        policy::Method::Delete => wit::HttpMethod::Delete,
        policy::Method::Other(m) => wit::HttpMethod::Other(m),
    }
}

#[allow(dead_code)]
pub fn categories_out(c: policy::scope::Categories) -> wit::ScopeCategories {
    use policy::scope::Category as C;
    c.iter()
        .map(|cat| match cat {
            C::ActivityPub => wit::ScopeCategories::ACTIVITYPUB,
            C::Admin => wit::ScopeCategories::ADMIN,
            C::Misc => wit::ScopeCategories::MISC,
            C::Notification => wit::ScopeCategories::NOTIFICATION,
            C::Organization => wit::ScopeCategories::ORGANIZATION,
            C::Package => wit::ScopeCategories::PACKAGE,
            C::Issue => wit::ScopeCategories::ISSUE,
            C::Repository => wit::ScopeCategories::REPOSITORY,
            C::User => wit::ScopeCategories::USER,
        })
        .fold(wit::ScopeCategories::empty(), |set, flag| set | flag)
}

#[allow(dead_code)]
pub fn operation_out(o: policy::PrivilegedOperation) -> wit::PrivilegedOperation {
    use policy::PrivilegedOperation as P;
    match o {
        P::RepositorySettings => wit::PrivilegedOperation::RepositorySettings,
        P::DeleteRepository => wit::PrivilegedOperation::DeleteRepository,
        P::TransferRepository => wit::PrivilegedOperation::TransferRepository,
        P::ConvertMirror => wit::PrivilegedOperation::ConvertMirror,
        P::GenerateFromTemplate => wit::PrivilegedOperation::GenerateFromTemplate,
        P::CreateForOtherOwner => wit::PrivilegedOperation::CreateForOtherOwner,
        P::ViewAdminDetails => wit::PrivilegedOperation::ViewAdminDetails,
        P::Moderate => wit::PrivilegedOperation::Moderate,
    }
}

#[allow(dead_code)]
pub fn git_request_out(g: policy::GitRequest) -> wit::GitRequest {
    let refs: Vec<wit::RefUpdate> = g
        .refs
        .into_iter()
        .map(|u| wit::RefUpdate {
            name: u.name,
            change: match u.change {
                policy::RefChange::Create => wit::RefChange::Create,
                policy::RefChange::Update => wit::RefChange::Update,
                policy::RefChange::Delete => wit::RefChange::Delete,
            },
            force: u.force,
        })
        .collect();
    wit::GitRequest {
        transport: transport_out(g.transport),
        repository: g.repository,
        action: git_action_out(g.action),
        // As a host passes them: no ref update known is `none`.
        refs: (!refs.is_empty()).then_some(refs),
    }
}

#[allow(dead_code)]
pub fn api_request_out(a: policy::ApiRequest) -> wit::ApiRequest {
    let mut route = wit::RouteFlags::empty();
    if a.requires_auth {
        route |= wit::RouteFlags::REQUIRES_AUTH;
    }
    if a.admin_only {
        route |= wit::RouteFlags::ADMIN_ONLY;
    }
    if a.package {
        route |= wit::RouteFlags::PACKAGE;
    }
    if a.writes_content {
        route |= wit::RouteFlags::WRITES_CONTENT;
    }
    if a.creates_in_own_namespace {
        route |= wit::RouteFlags::CREATES_IN_OWN_NAMESPACE;
    }
    wit::ApiRequest {
        method: method_out(a.method),
        categories: categories_out(a.categories),
        repository: a.repository,
        namespace: a.namespace,
        route,
        required_role: role_out(a.required_role),
        operation: a.operation.map(operation_out),
        sudo: a.sudo,
    }
}

#[allow(dead_code)]
pub fn request_out(r: policy::Request) -> wit::Request {
    match r {
        policy::Request::Git(g) => wit::Request::Git(git_request_out(g)),
        policy::Request::Create(c) => wit::Request::Create(wit::CreationRequest {
            transport: transport_out(c.transport),
            repository: c.repository,
            step: match c.step {
                policy::CreationStep::PushToCreate => wit::CreationStep::PushToCreate,
                policy::CreationStep::Confirm => wit::CreationStep::Confirm,
                policy::CreationStep::Abort => wit::CreationStep::Abort,
            },
        }),
        policy::Request::Api(a) => wit::Request::Api(api_request_out(a)),
    }
}

#[allow(dead_code)]
pub fn authorize_out(r: policy::AuthorizeRequest) -> wit::AuthorizeRequest {
    wit::AuthorizeRequest {
        credential: credential_out(r.credential),
        also_presented: also_out(r.also_presented),
        request: request_out(r.request),
        now: r.now,
        explain: r.explain,
    }
}

#[allow(dead_code)]
pub fn batch_request_out(r: policy::BatchRequest) -> wit::BatchRequest {
    wit::BatchRequest {
        credential: credential_out(r.credential),
        also_presented: also_out(r.also_presented),
        transport: transport_out(r.transport),
        action: git_action_out(r.action),
        repositories: r.repositories,
        now: r.now,
        explain: r.explain,
    }
}

#[allow(dead_code)]
pub fn ref_permissions_request_out(r: policy::RefPermissionsRequest) -> wit::RefPermissionsRequest {
    wit::RefPermissionsRequest {
        credential: credential_out(r.credential),
        also_presented: also_out(r.also_presented),
        transport: transport_out(r.transport),
        repository: r.repository,
        refs: r.refs,
        now: r.now,
    }
}

//! What is asked (`request` in the WIT): git, creation and API requests, batches and
//! ref permissions with their answers.
#[allow(unused_imports)]
use crate::prelude::*;

#[allow(unused_imports)]
use super::*;

/// Git action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GitAction {
    /// Fetch / clone.
    Pull,
    /// Push.
    Push,
}

impl GitAction {
    /// `pull` or `push`.
    pub fn name(self) -> &'static str {
        match self {
            GitAction::Pull => "pull",
            GitAction::Push => "push",
        }
    }
}

/// What a ref update does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefChange {
    /// Old id all zeros: created.
    Create,
    /// Moved.
    Update,
    /// New id all zeros: deleted.
    Delete,
}

impl RefChange {
    /// `create`, `update` or `delete`.
    pub fn name(self) -> &'static str {
        match self {
            RefChange::Create => "create",
            RefChange::Update => "update",
            RefChange::Delete => "delete",
        }
    }
}

/// One ref update of a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    /// Full ref name.
    pub name: String,
    /// Create, move or delete.
    pub change: RefChange,
    /// A move that is not a fast-forward.
    pub force: bool,
}

/// A git request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitRequest {
    /// Transport.
    pub transport: Transport,
    /// `owner/name` as requested.
    pub repository: String,
    /// Pull or push.
    pub action: GitAction,
    /// Ref updates of a push.
    pub refs: Vec<RefUpdate>,
}

/// Step of a repository creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreationStep {
    /// Push to a missing repository.
    PushToCreate,
    /// Confirm.
    Confirm,
    /// Abort.
    Abort,
}

impl CreationStep {
    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            CreationStep::PushToCreate => "push-to-create",
            CreationStep::Confirm => "confirm",
            CreationStep::Abort => "abort",
        }
    }
}

/// A repository creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreationRequest {
    /// Transport (push-to-create arrives over HTTP or SSH).
    pub transport: Transport,
    /// `owner/name`.
    pub repository: String,
    /// Step.
    pub step: CreationStep,
}

/// Administrators' operations (seed 004).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivilegedOperation {
    /// Repository settings.
    RepositorySettings,
    /// Delete a repository.
    DeleteRepository,
    /// Transfer a repository.
    TransferRepository,
    /// Convert a mirror.
    ConvertMirror,
    /// Generate from a template.
    GenerateFromTemplate,
    /// Create or migrate for another owner.
    CreateForOtherOwner,
    /// Admin-only details.
    ViewAdminDetails,
    /// Moderate others' content.
    Moderate,
}

impl PrivilegedOperation {
    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            PrivilegedOperation::RepositorySettings => "repository-settings",
            PrivilegedOperation::DeleteRepository => "delete-repository",
            PrivilegedOperation::TransferRepository => "transfer-repository",
            PrivilegedOperation::ConvertMirror => "convert-mirror",
            PrivilegedOperation::GenerateFromTemplate => "generate-from-template",
            PrivilegedOperation::CreateForOtherOwner => "create-for-other-owner",
            PrivilegedOperation::ViewAdminDetails => "view-admin-details",
            PrivilegedOperation::Moderate => "moderate",
        }
    }

    /// The operation in words (`delete repository`).
    pub fn words(self) -> &'static str {
        match self {
            PrivilegedOperation::RepositorySettings => "repository settings",
            PrivilegedOperation::DeleteRepository => "delete repository",
            PrivilegedOperation::TransferRepository => "transfer repository",
            PrivilegedOperation::ConvertMirror => "convert mirror",
            PrivilegedOperation::GenerateFromTemplate => "generate from template",
            PrivilegedOperation::CreateForOtherOwner => "create for other owner",
            PrivilegedOperation::ViewAdminDetails => "view admin details",
            PrivilegedOperation::Moderate => "moderate",
        }
    }
}

/// The HTTP method of an API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// Any other method, as sent: a write.
    Other(String),
}

impl Method {
    /// GET, HEAD and OPTIONS read; everything else writes (reference §1.6). A method sent
    /// as `other` with one of these names reads too (names compare case-insensitively).
    pub fn reads(&self) -> bool {
        match self {
            Method::Get | Method::Head | Method::Options => true,
            Method::Other(m) => ["GET", "HEAD", "OPTIONS"]
                .iter()
                .any(|r| r.eq_ignore_ascii_case(m)),
            _ => false,
        }
    }

    /// A well-formed method: an HTTP token of 1 to 20 ASCII letters.
    pub fn valid(&self) -> bool {
        match self {
            Method::Other(m) => {
                !m.is_empty() && m.len() <= 20 && m.bytes().all(|b| b.is_ascii_alphabetic())
            }
            _ => true,
        }
    }

    /// Upper-case name (the method as sent, for any other method).
    pub fn name(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Other(m) => m,
        }
    }
}

/// An API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Scope categories needed (all of them).
    pub categories: crate::policy::scope::Categories,
    /// Target repository.
    pub repository: Option<String>,
    /// Target user / organisation / package owner.
    pub namespace: Option<String>,
    /// Authentication required.
    pub requires_auth: bool,
    /// `/admin` route.
    pub admin_only: bool,
    /// Role needed on the targets.
    pub required_role: Role,
    /// Privileged operation performed.
    pub operation: Option<PrivilegedOperation>,
    /// `sudo` target.
    pub sudo: Option<String>,
    /// Package route.
    pub package: bool,
    /// The route changes the repository's content (files, refs, releases, wiki): the
    /// write rules of a push apply (mirrors, imports and archived repositories refuse).
    pub writes_content: bool,
    /// The route creates something in the acting account's own namespace and names no
    /// target (`POST /user/repos`, a migration): restricted tokens are refused, as for
    /// push-to-create.
    pub creates_in_own_namespace: bool,
}

/// What is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Git.
    Git(GitRequest),
    /// Repository creation.
    Create(CreationRequest),
    /// API route.
    Api(ApiRequest),
}

/// One request to authorize (see `authorize-request` in the WIT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The credential.
    pub credential: Credential,
    /// Further tokens in the same request.
    pub also_presented: Vec<String>,
    /// The client's address (IPv4 or IPv6 text), for IP allow lists; `None`: unknown.
    pub client_address: Option<String>,
    /// The request.
    pub request: Request,
    /// Now.
    pub now: Timestamp,
    /// Record a trace.
    pub explain: bool,
}

/// One git request against many repositories (see `batch-request` in the WIT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRequest {
    /// The credential.
    pub credential: Credential,
    /// Further tokens in the same request.
    pub also_presented: Vec<String>,
    /// The client's address (IPv4 or IPv6 text), for IP allow lists; `None`: unknown.
    pub client_address: Option<String>,
    /// Transport.
    pub transport: Transport,
    /// Pull or push.
    pub action: GitAction,
    /// The repositories.
    pub repositories: Vec<String>,
    /// Now.
    pub now: Timestamp,
    /// Record a trace per repository.
    pub explain: bool,
}

/// Launchpad `checkRefPermissions` (see `ref-permissions-request` in the WIT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefPermissionsRequest {
    /// The credential.
    pub credential: Credential,
    /// Further tokens in the same request.
    pub also_presented: Vec<String>,
    /// The client's address (IPv4 or IPv6 text), for IP allow lists; `None`: unknown.
    pub client_address: Option<String>,
    /// Transport.
    pub transport: Transport,
    /// The repository.
    pub repository: String,
    /// Full ref names.
    pub refs: Vec<String>,
    /// Now.
    pub now: Timestamp,
}

impl RefPermissionsRequest {
    /// The push of `updates` that answers this request: the same credential, transport,
    /// repository and time, without a trace. `ref-permissions` is derived from its decision.
    pub fn push(&self, updates: Vec<RefUpdate>) -> AuthorizeRequest {
        AuthorizeRequest {
            credential: self.credential.clone(),
            also_presented: self.also_presented.clone(),
            client_address: self.client_address.clone(),
            request: Request::Git(GitRequest {
                transport: self.transport,
                repository: self.repository.clone(),
                action: GitAction::Push,
                refs: updates,
            }),
            now: self.now,
            explain: false,
        }
    }
}

/// The answer to a [`RefPermissionsRequest`]: permissions per ref in request order, and
/// the store writes the underlying push decision asked for (see `ref-grants` in the WIT).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefGrants {
    /// One set per ref.
    pub refs: Vec<RefPermissions>,
    /// Store writes for the presented token.
    pub effects: crate::policy::decision::Effects,
}

/// Permissions on a ref (a set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefPermissions {
    /// Create.
    pub create: bool,
    /// Fast-forward.
    pub push: bool,
    /// Force-push / delete.
    pub force_push: bool,
}

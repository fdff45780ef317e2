"""Type stub of `forge_authz`: the forge-authz policy component for Python forges.

The extension runs the policy (a WebAssembly component) through the Rust host
(`forge_authz_host`, wasmtime). Formats are the CLI's (README "World fixture", the request
file of `forge-authz decide`): a request, a world and a config may be given as a dict or as
JSON text.

Fail closed: a host failure raises a `ForgeAuthzError` subclass and never yields a
`Decision`; a policy that could not decide is a `Decision` that denies with reason
`policy-failure` (status 503). Only `Decision.allowed` says allow (`bool(decision)`
raises `TypeError`).
"""

from typing import Any, Iterator, List, Mapping, Optional, Sequence, Union, final

__version__: str
CONTRACT: str
"""The WIT contract this module speaks (`forge:authz@<CONTRACT>`)."""
EMBEDDED_SHA256: str
"""SHA-256 (hex) of the policy module embedded in this extension ("none" when built without one)."""

Json = Union[str, Mapping[str, Any]]
"""JSON text, or Python data (dict/list/str/int/float/bool/None) in the same shape."""

class ForgeAuthzError(Exception):
    """Base of every forge_authz error: nothing was decided, and nothing was allowed."""

class InvalidConfig(ForgeAuthzError):
    """A configuration or world the host cannot use."""

class ModuleRefused(InvalidConfig):
    """A policy module refused at load or swap; on swap the old module keeps serving."""

class InvalidRequest(ForgeAuthzError):
    """A request, credential or mint order the host cannot read."""

class PolicyFailure(ForgeAuthzError):
    """The policy could not answer a call that is not a decision (verify, issue)."""

class TokenRefused(ForgeAuthzError):
    """`Policy.verify`: the credential carries a token the policy refuses."""

    code: str
    """The token-error code (`bad-signature`, `bad-checksum`, `unknown-key`, ...)."""

class IssueRefused(ForgeAuthzError):
    """`Policy.issue`: a minting rule refused the token."""

    reason: str

@final
class RefVerdict:
    """The verdict on one ref of a push."""

    name: str
    allowed: bool
    """The update may be applied (and the push as a whole is allowed)."""
    reason: str
    message: str

@final
class TraceStep:
    """One step of an explanation (`"explain": true`)."""

    rule: str
    outcome: str
    """`pass`, `decide` or `skip`."""
    detail: str

@final
class Decision:
    """One decision. `allowed` is True only for an allow."""

    @property
    def allowed(self) -> bool: ...
    @property
    def status(self) -> int:
        """HTTP status: 200, 400, 401, 403, 404; 503 for `policy-failure`."""
    @property
    def reason(self) -> str:
        """The reason code (`granted`, `public-read`, `scope-missing`, ...)."""
    @property
    def message(self) -> Optional[str]:
        """For the user; None for a plain allow."""
    @property
    def detail(self) -> Optional[str]:
        """For operators' logs, never for users."""
    @property
    def repository(self) -> Optional[str]:
        """The repository, for a decision of a batch."""
    @property
    def is_policy_failure(self) -> bool: ...
    @property
    def refs(self) -> List[RefVerdict]: ...
    @property
    def trace(self) -> List[TraceStep]: ...
    @property
    def output(self) -> dict[str, Any]:
        """Exactly what `forge-authz decide` prints for this decision."""
    def to_json(self) -> str: ...
    def __bool__(self) -> bool:
        """Raises TypeError: test `decision.allowed`."""

@final
class BatchDecision:
    """The decisions of a batch, one per requested repository, in request order."""

    @property
    def decisions(self) -> List[Decision]: ...
    @property
    def allowed_repositories(self) -> List[str]: ...
    @property
    def output(self) -> List[dict[str, Any]]: ...
    def to_json(self) -> str: ...
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Decision: ...
    def __iter__(self) -> Iterator[Decision]: ...
    def __bool__(self) -> bool:
        """Raises TypeError."""

@final
class RefPermissions:
    """Per ref, the subset of `create`, `push`, `force-push` (Launchpad `checkRefPermissions`)."""

    @property
    def refs(self) -> List[str]: ...
    def can_create(self, ref_name: str) -> bool: ...
    def can_push(self, ref_name: str) -> bool: ...
    def can_force_push(self, ref_name: str) -> bool: ...
    @property
    def output(self) -> dict[str, List[str]]: ...
    def to_json(self) -> str: ...
    def __getitem__(self, ref_name: str) -> List[str]: ...
    def __contains__(self, ref_name: object) -> bool: ...
    def __len__(self) -> int: ...

@final
class TokenInfo:
    """A genuine token's public ids (`Policy.verify`)."""

    token_id: str
    key_id: str

@final
class IssuedToken:
    """A minted token: show `secret` once, store `record` (it never holds the secret)."""

    @property
    def secret(self) -> str: ...
    @property
    def token_id(self) -> str: ...
    @property
    def record(self) -> dict[str, Any]: ...
    def record_json(self) -> str: ...

@final
class World:
    """The facts a forge supplies, in the world fixture's format. Safe to share between threads."""

    def __init__(self, facts: Json) -> None: ...
    @staticmethod
    def from_file(path: str) -> World: ...
    def put_token(self, record: Union[Json, IssuedToken]) -> None:
        """Add (or replace, by id) a token record."""
    now: Optional[int]
    """The world's fixed clock (Unix seconds); None: the system clock."""
    def to_json(self) -> str: ...

@final
class Policy:
    """A checked policy module, its configuration and a pool of warm instances.

    Safe to share between threads; every call releases the GIL.
    """

    def __init__(self, config: Union[Json, World], module: Optional[bytes] = None) -> None:
        """Check `module` (None: the embedded one) with `config` (`keys`, `signing_key`,
        `options`; other fields ignored). Raises ModuleRefused or InvalidConfig."""
    @staticmethod
    def load(module: Optional[bytes], config: Union[Json, World]) -> Policy: ...
    def swap(self, module: Optional[bytes]) -> int:
        """Check and publish another module version; returns the new generation.
        Raises ModuleRefused (the current module keeps serving)."""
    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of the module serving now."""
    @property
    def generation(self) -> int: ...
    def decide(self, world: World, request: Json) -> Decision:
        """Decide a `git` (default), `create` or `api` request."""
    def decide_batch(self, world: World, request: Json) -> BatchDecision: ...
    def ref_permissions(self, world: World, request: Json) -> RefPermissions: ...
    def decide_json(self, world: World, request: Json) -> str:
        """Any kind; exactly what `forge-authz decide` prints, as JSON text."""
    def verify(self, credential: Json) -> Optional[TokenInfo]:
        """Check a token's format, checksum, key and signature (no facts).
        None: no token in the credential. Raises TokenRefused."""
    def issue(
        self,
        world: World,
        *,
        owner: str,
        name: str,
        scopes: Sequence[str],
        repositories: Sequence[str] = ...,
        owners: Sequence[str] = ...,
        expires: Optional[int] = None,
        expires_in: Optional[int] = None,
        now: Optional[int] = None,
    ) -> IssuedToken:
        """Mint as the owner's session would; the record is added to `world`.
        Raises IssueRefused."""

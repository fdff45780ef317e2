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

from typing import Any, Dict, Iterator, List, Mapping, Optional, Protocol, Sequence, Union, final

__version__: str
CONTRACT: str
"""The WIT contract this module speaks (`forge:authz@<CONTRACT>`)."""
EMBEDDED_SHA256: str
"""SHA-256 (hex) of the policy module embedded in this extension ("none" when built without one)."""

Json = Union[str, Mapping[str, Any]]
"""JSON text, or Python data (dict/list/str/int/float/bool/None) in the same shape."""

class FactSource(Protocol):
    """Typing only: what `Policy.decide` and the other decide methods accept besides a `World`.

    The policy asks these during a decision, from the deciding thread, with the GIL taken
    for each call only (docs/design/fact-sources.md §1, §4). Each answers a dict in the
    boundary format, or None for "no such fact". Names compare ASCII-case-insensitively
    (a token id and an SSH key id exactly); an answer must describe exactly the name asked.
    Every field that can decide is required; unknown fields are refused.

    Fail closed: an exception (an `Exception` subclass), an answer that is not such a dict,
    a missing, unknown or ill-typed field, an answer for another name, or callbacks taking
    longer than the budget (`budget` seconds, default 0.25) make the decision the 503
    `policy-failure` deny, with the cause in `detail` — never "not found", never an allow.
    A `KeyboardInterrupt` or `SystemExit` is raised from the decide call.

    Optional methods: `ssh_key(id) -> dict | None` (`{"id", "kind": "user"|"deploy",
    "owner", "repository"?, "read_only"}`; without it every key is absent),
    `repositories(paths, viewer) -> list[dict | None]` (one per path; without it
    `repository` is asked per path), `lookup(query_json) -> dict` (one query's whole answer:
    `{"token", "owner", "account", "sudo", "repository", "namespace"}`),
    `observe(asked_json)` (told each query asked, before it is answered), `now() -> int`
    (the decisions' clock, Unix seconds; without it the system clock), and the attribute
    `budget` (seconds).
    """

    def token(self, id: str) -> Optional[Dict[str, Any]]:
        """A token record by its public id: `{"id", "owner", "name", "scopes", "repositories",
        "owners", "parent", "predecessor", "successor", "last_used", "created", "expires",
        "revoked", "secret_hash" (64 hex digits), "digest": "hmac-tag"|"sha256",
        "ip_allow"? (the token's CIDR blocks; absent or empty: no restriction)}`."""
    def user(self, name: str) -> Optional[Dict[str, Any]]:
        """`{"status": "active"|"inactive"|"suspended", "site_admin", "visibility":
        "public"|"limited"|"private", "organization"}`."""
    def repository(self, path: str, viewer: Optional[str]) -> Optional[Dict[str, Any]]:
        """`owner/name` as `viewer` (a login; None: anonymous) sees it: `{"path"?,
        "owner_visibility", "private", "kind": "hosted"|"mirror"|"import", "archived",
        "role": "none"|"read"|"write"|"admin", "protected_refs"?, "registrant"?,
        "owner_ip_allow"? (the owner's CIDR blocks; absent or empty: no restriction)}`."""
    def namespace(self, name: str, viewer: Optional[str]) -> Optional[Dict[str, Any]]:
        """`{"organization", "visibility", "member_role", "ip_allow"?}` (`ip_allow`: the
        account's CIDR blocks; absent or empty: no restriction)."""

Facts = Union["World", FactSource]
"""What a decision's facts come from: a `World`, or the forge's own fact source."""

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

    def __init__(
        self,
        config: Union[Json, World],
        module: Optional[bytes] = None,
        *,
        signature: Optional[str] = None,
        trust: Optional[Json] = None,
    ) -> None:
        """Check `module` (None: the embedded one, trusted as built) with `config` (`keys`,
        `signing_key`, `options`; other fields ignored). Module bytes need `signature` (the
        `.minisig` text) by a key in `trust` (`{"public_keys": [minisign .pub text],
        "retired_keys": [key id], "allow_unsigned": False}`; unsigned bytes only with
        `allow_unsigned`). Raises ModuleRefused
        ("policy module refused: untrusted module: <code>: ...": unsigned, bad-signature,
        untrusted-key, retired-key, wrong-contract, statement-mismatch) or InvalidConfig."""
    @staticmethod
    def load(
        module: Optional[bytes],
        config: Union[Json, World],
        *,
        signature: Optional[str] = None,
        trust: Optional[Json] = None,
    ) -> Policy: ...
    def swap(self, module: Optional[bytes], *, signature: Optional[str] = None) -> int:
        """Verify (`signature`, with the policy's trust; also refused: replayed-older, a
        version below the highest made live), check and publish another module version;
        returns the new generation. Raises ModuleRefused (the current module keeps serving)."""
    @property
    def trust(self) -> Dict[str, Any]:
        """How the serving module was trusted: `{"module": "built-in"|"signed"|"unsigned",
        "version", "signer", "allow_unsigned", "floor", "trusted_keys", "retired_keys"}`."""
    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of the module serving now."""
    @property
    def generation(self) -> int: ...
    def decide(
        self, facts: Facts, request: Json, *, budget: Optional[float] = None
    ) -> Decision:
        """Decide a `git` (default), `create` or `api` request with `facts` (a `World`, or a
        `FactSource`; `budget`: the seconds its callbacks may take in this decision)."""
    def decide_batch(
        self, facts: Facts, request: Json, *, budget: Optional[float] = None
    ) -> BatchDecision: ...
    def ref_permissions(
        self, facts: Facts, request: Json, *, budget: Optional[float] = None
    ) -> RefPermissions: ...
    def decide_json(
        self, facts: Facts, request: Json, *, budget: Optional[float] = None
    ) -> str:
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

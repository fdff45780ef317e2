"""A Launchpad-style git authorisation endpoint built on `forge_authz`.

Launchpad's git XML-RPC API (`lib/lp/code/xmlrpc/git.py`, seed 000: "Allow authenticating
to git using access tokens") has two entry points that the git frontend calls:

- `authenticateWithPassword(username, password)`: the HTTPS entry point; checks that the
  password is an access token of that user, still valid, owned by an active account, and
  returns the auth params later calls carry;
- `translatePath(path, permission, requester)`: maps a repository path to its hosting path
  and says whether the requester may read and write it, raising `Unauthorized`,
  `PermissionDenied` or `GitRepositoryNotFound`.

Here every rule lives in the policy module: this class only maps Launchpad's calls to
requests and decisions to faults. The policy's answers already are Launchpad's: a token for
another repository is `401 token-not-bound` (Unauthorized, not PermissionDenied: no probing),
a push-only token reads nothing (`repository:push` does not imply `repository:pull`), imports
and mirrors are never writable, a token cannot confirm a creation.

Fail closed: any decision that is not an allow is a fault, and a host failure (an exception
from `forge_authz`) is never turned into a translation.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional

import forge_authz


class Fault(Exception):
    """An XML-RPC fault (`lp.xmlrpc.faults`)."""

    code = 0
    text = "Fault."

    def __init__(self, detail: str = ""):
        super().__init__(detail or self.text)
        self.detail = detail


class Unauthorized(Fault):
    code, text = 410, "Authorisation required."


class PermissionDenied(Fault):
    code, text = 310, "Permission denied."


class GitRepositoryNotFound(Fault):
    code, text = 280, "Repository not found."


class InvalidPath(Fault):
    code, text = 290, "Invalid path."


class OopsOccurred(Fault):
    """The policy could not decide (503 `policy-failure`): never an allow."""

    code, text = 380, "An unexpected error occurred."


@dataclasses.dataclass(frozen=True)
class Requester:
    """What `authenticateWithPassword` returns, carried by the later calls.

    Launchpad returns `{"access-token": id, "uid": id}` and re-reads the token by id; the
    policy re-verifies the token itself on every decision, so the requester carries the
    credential (in process, never logged: `repr` hides it).
    """

    username: str
    token_id: str
    credential: Dict[str, Any] = dataclasses.field(repr=False)

    def auth_params(self) -> Dict[str, str]:
        return {"access-token": self.token_id, "uid": self.username}


_STATUS_FAULT = {400: InvalidPath, 401: Unauthorized, 403: PermissionDenied,
                 404: GitRepositoryNotFound, 503: OopsOccurred}


def _fault(d: forge_authz.Decision, path: str) -> Fault:
    cls = _STATUS_FAULT.get(d.status, OopsOccurred)
    if cls is GitRepositoryNotFound:
        return cls(path)
    # the user sees `message`; `reason` is for logs (the detail never leaves the server)
    return cls(f"{d.reason}: {d.message or ''}".rstrip(": "))


class GitAPI:
    """`IGitAPI`'s authorisation calls over a policy and the forge's facts."""

    def __init__(self, policy: forge_authz.Policy, facts: Dict[str, Any]):
        self.policy = policy
        self.facts = facts  # the forge's database, in the world fixture's format
        self.world = forge_authz.World(facts)

    # -- the two entry points -------------------------------------------------------------

    def authenticateWithPassword(self, username: str, password: str) -> Requester:
        """Launchpad: the password is an access token of `username`, unexpired, owned by
        an active account; anything else is Unauthorized."""
        credential = {"basic": {"username": username, "password": password}}
        try:
            info = self.policy.verify(credential)  # format, checksum, key, signature
        except forge_authz.TokenRefused as e:
            raise Unauthorized(e.code) from None
        if info is None:  # not a token: Launchpad would try a macaroon; we have none
            raise Unauthorized("not an access token")
        # The record (known, not revoked, not expired), the owner (active, the username
        # given): the credential stage of a decision. A route that names no target answers
        # 401 exactly when that stage fails; what it answers otherwise is the route's own
        # (scope, role), which translatePath decides per repository.
        d = self.policy.decide(self.world, {
            "kind": "api", "credential": credential, "method": "GET",
            "categories": ["repository"], "requires_auth": True,
        })
        if d.status in (401, 503):
            raise _fault(d, "")
        return Requester(username=username, token_id=info.token_id, credential=credential)

    def translatePath(self, path: str, permission: str,
                      requester: Optional[Requester]) -> Dict[str, Any]:
        """`path` (`owner/name[.git][/trailing]`), `permission` `read` or `write`;
        `requester` None for anonymous. Returns Launchpad's translation
        `{"path", "readable", "writable", "trailing", "private"}` or raises a fault."""
        if permission not in ("read", "write"):
            raise InvalidPath(f"unknown permission {permission!r}")
        repository, trailing = self._split(path)
        credential = requester.credential if requester else "anonymous"
        wanted = "pull" if permission == "read" else "push"
        other = "push" if wanted == "pull" else "pull"
        decision = self._decide(credential, repository, wanted)
        if not decision.allowed:
            raise _fault(decision, path)
        also = self._decide(credential, repository, other).allowed
        readable, writable = (True, also) if wanted == "pull" else (also, True)
        return {
            "path": repository,  # the hosting path: the row the policy authorised
            "readable": readable,
            "writable": writable,
            "trailing": trailing,
            "private": self._repository(repository)["private"],
        }

    def checkRefPermissions(self, path: str, ref_paths: List[str],
                            requester: Optional[Requester]) -> Dict[str, List[str]]:
        """Launchpad's `checkRefPermissions`: per ref, `create`, `push`, `force-push`."""
        repository, _ = self._split(path)
        p = self.policy.ref_permissions(self.world, {
            "credential": requester.credential if requester else "anonymous",
            "repository": repository, "action": "push", "ref_names": ref_paths,
        })
        return p.output

    # -- helpers ----------------------------------------------------------------------------

    def _decide(self, credential: Any, repository: str, action: str) -> forge_authz.Decision:
        return self.policy.decide(self.world, {
            "credential": credential, "transport": "http",
            "repository": repository, "action": action,
        })

    @staticmethod
    def _split(path: str):
        parts = path.strip("/").split("/")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise InvalidPath(path)
        name = parts[1][:-4] if parts[1].endswith(".git") else parts[1]
        return f"{parts[0]}/{name}", "/".join(parts[2:])

    def _repository(self, repository: str) -> Dict[str, Any]:
        owner, name = repository.split("/", 1)
        for r in self.facts.get("repositories", []):
            if r["owner"].lower() == owner.lower() and r["name"].lower() == name.lower():
                return r
        # the policy allowed a repository the forge does not have: never happens, never allow
        raise GitRepositoryNotFound(repository)


def _demo() -> None:
    facts = {
        "now": 1767225600,
        "keys": [{"id": "k1", "secret": "07" * 32}],
        "signing_key": "k1",
        "users": [{"name": "lp", "status": "active", "site_admin": False,
                   "visibility": "public"}],
        "repositories": [{"owner": "lp", "name": "r0", "private": False, "kind": "hosted",
                          "archived": False, "collaborators": {}}],
    }
    policy = forge_authz.Policy(facts)  # the module embedded in the extension
    api = GitAPI(policy, facts)
    token = policy.issue(api.world, owner="lp", name="snapcraft",
                         scopes=["repository:push"], repositories=["lp/r0"],
                         expires_in=86400)
    who = api.authenticateWithPassword("lp", token.secret)
    print(who.auth_params())
    print(api.translatePath("lp/r0.git", "write", who))
    try:
        api.translatePath("lp/r0", "read", who)
    except Fault as f:
        print(type(f).__name__, f)


if __name__ == "__main__":
    _demo()

"""A test-only fact source over a world fixture dict, answering query by query.

It implements hosts/README.md "Facts" (the rules of `fixture/src/world.rs`) at the boundary
format of docs/design/fact-sources.md §1: each method returns the answer dict for one fact,
or None when there is no such fact. The corpus replays through it (test_callbacks.py) and
must give exactly the world path's outputs; the schema loader reads the same dict.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from forge_schema import ascii_lower, higher


def same_name(a: str, b: str) -> bool:
    return ascii_lower(a) == ascii_lower(b)


def role_in(roles: Dict[str, str], who: str) -> str:
    """`who`'s role in a name -> role map (names compare ASCII-case-insensitively)."""
    return next((r for name, r in roles.items() if same_name(name, who)), "none")


def protected_ref(p: Dict[str, Any]) -> Dict[str, Any]:
    """A rule with the fixture's defaults filled in (push: writers, force push: nobody)."""
    return {"pattern": p["pattern"], "push": p.get("push", "writers"),
            "force_push": p.get("force_push", "nobody")}


class WorldSource:
    """The five per-fact methods over a world fixture dict (`users`, `repositories`,
    `tokens`, `ssh_keys`)."""

    def __init__(self, world: Dict[str, Any]):
        self.world = world
        # (not `self.repositories`: that name is the protocol's optional batch method)
        self._users: List[Dict[str, Any]] = world.get("users", [])
        self._repositories: List[Dict[str, Any]] = world.get("repositories", [])
        self._tokens: List[Dict[str, Any]] = world.get("tokens", [])
        self._ssh_keys: List[Dict[str, Any]] = world.get("ssh_keys", [])

    def _user(self, name: str) -> Optional[Dict[str, Any]]:
        return next((u for u in self._users if same_name(u["name"], name)), None)

    def _member_role(self, org: str, viewer: str) -> str:
        o = self._user(org)
        if o is None or not o.get("organization", False):
            return "none"
        return role_in(o.get("members", {}), viewer)

    def token(self, id: str) -> Optional[Dict[str, Any]]:
        t = next((t for t in self._tokens if t["id"] == id), None)
        if t is None:
            return None
        record = dict(t)
        record.setdefault("digest", "sha256")
        return record

    def user(self, name: str) -> Optional[Dict[str, Any]]:
        u = self._user(name)
        if u is None:
            return None
        return {"status": u.get("status", "active"), "site_admin": u.get("site_admin", False),
                "visibility": u.get("visibility", "public"),
                "organization": u.get("organization", False)}

    def repository(self, path: str, viewer: Optional[str]) -> Optional[Dict[str, Any]]:
        owner, sep, name = path.partition("/")
        if not sep:
            return None
        r = next((r for r in self._repositories
                  if same_name(r["owner"], owner) and same_name(r["name"], name)), None)
        if r is None:
            return None
        role = "none"
        if viewer is not None:
            role = higher(role_in(r.get("collaborators", {}), viewer),
                          self._member_role(r["owner"], viewer))
        owner_user = self._user(r["owner"])
        answer: Dict[str, Any] = {
            "path": f"{r['owner']}/{r['name']}",
            # An owner missing from `users` is an unknown fact: treated as private.
            "owner_visibility": owner_user.get("visibility", "public") if owner_user
            else "private",
            "private": r.get("private", False),
            "kind": r.get("kind", "hosted"),
            "archived": r.get("archived", False),
            "role": role,
            "protected_refs": [protected_ref(p) for p in r.get("protected_refs", [])],
            # The owner's IP allow list (contract 0.6): none when the owner is missing.
            "owner_ip_allow": owner_user.get("ip_allow", []) if owner_user else [],
        }
        if r.get("registrant") is not None:
            answer["registrant"] = r["registrant"]
        return answer

    def namespace(self, name: str, viewer: Optional[str]) -> Optional[Dict[str, Any]]:
        u = self._user(name)
        if u is None:
            return None
        organization = u.get("organization", False)
        if viewer is None:
            member_role = "none"
        elif not organization and same_name(u["name"], viewer):
            member_role = "admin"
        else:
            member_role = self._member_role(u["name"], viewer)
        return {"organization": organization, "visibility": u.get("visibility", "public"),
                "member_role": member_role, "ip_allow": u.get("ip_allow", [])}

    def ssh_key(self, id: str) -> Optional[Dict[str, Any]]:
        k = next((k for k in self._ssh_keys if k["id"] == id), None)
        if k is None:
            return None
        answer = {"id": k["id"], "kind": k["kind"], "owner": k.get("owner", ""),
                  "read_only": k.get("read_only", False)}
        if k.get("repository") is not None:
            answer["repository"] = k["repository"]
        return answer

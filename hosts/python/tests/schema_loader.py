"""Test-only: a world fixture dict -> rows of the forge schema (docs/design/fact-sources.md §6
"Loader"), so the corpus and the served example run against a forge's own tables.

- users -> "user"; each organisation's `members` -> one team per role used (includes all
  repositories), `team_user` and `org_user` (the world's member role applies to every
  repository of the organisation);
- collaborators -> `collaboration`; protected refs -> `protected_branch` (priority = list
  index) and `protected_branch_user`; tokens -> `access_token`; SSH keys -> `public_key`
  (+ `deploy_key`).

A name the world mentions but does not list as a user (a collaborator, a member, a token
owner, a protected-ref user) gets a row of its own, `is_active = 0`, so the foreign keys
hold; `user(name)` then answers for it where the world answers None (test_callbacks.py
says where that shows).
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, Optional, Tuple

import forge_schema as fs
from forge_schema import ascii_lower

VISIBILITY = {"public": 0, "limited": 1, "private": 2}
ROLE_MODE = {"read": 1, "write": 2, "admin": 3}


class _Ids:
    def __init__(self):
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


def load(db: fs.Database, world: Dict[str, Any]) -> None:
    """Write `world`'s facts into `db` (schema created by the caller), in one transaction."""
    conn = db.connection()
    if db.dialect is fs.SQLITE:
        conn.execute("BEGIN")
        try:
            _load(db, world)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    else:
        with conn.transaction():
            _load(db, world)


def _load(db: fs.Database, world: Dict[str, Any]) -> None:
    ids = _Ids()
    users: Dict[str, int] = {}

    def user_id(name: str, u: Optional[Dict[str, Any]] = None) -> int:
        key = ascii_lower(name)
        if key in users:
            return users[key]
        uid = users[key] = ids.next()
        u = u or {"name": name, "status": "inactive"}
        status = u.get("status", "active")
        db.execute('INSERT INTO "user" (id, lower_name, name, type, is_active, prohibit_login,'
                   ' is_admin, visibility, ip_allow) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
                   uid, key, u["name"], 1 if u.get("organization") else 0,
                   1 if status == "active" else 0, 1 if status == "suspended" else 0,
                   1 if u.get("site_admin") else 0, VISIBILITY[u.get("visibility", "public")],
                   json.dumps(u.get("ip_allow", [])))
        return uid

    for u in world.get("users", []):
        user_id(u["name"], u)
    for u in world.get("users", []):
        if not u.get("organization"):
            continue
        org = users[ascii_lower(u["name"])]
        teams: Dict[str, int] = {}
        for member, role in u.get("members", {}).items():
            if role == "none":
                continue
            if role not in teams:
                teams[role] = ids.next()
                db.execute("INSERT INTO team (id, org_id, lower_name, name, authorize,"
                           " includes_all_repositories) VALUES ($1, $2, $3, $4, $5, 1)",
                           teams[role], org, role, role, ROLE_MODE[role])
            uid = user_id(member)
            db.execute("INSERT INTO team_user (id, org_id, team_id, uid) VALUES ($1, $2, $3, $4)",
                       ids.next(), org, teams[role], uid)
            db.execute("INSERT INTO org_user (id, uid, org_id, is_public) VALUES ($1, $2, $3, 0)",
                       ids.next(), uid, org)

    repos: Dict[str, int] = {}
    for r in world.get("repositories", []):
        rid = ids.next()
        repos[ascii_lower(f"{r['owner']}/{r['name']}")] = rid
        kind = r.get("kind", "hosted")
        registrant = r.get("registrant")
        db.execute("INSERT INTO repository (id, owner_id, owner_name, lower_name, name, is_private,"
                   " is_mirror, is_archived, is_import, registrant_id)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                   rid, user_id(r["owner"]), r["owner"], ascii_lower(r["name"]), r["name"],
                   int(r.get("private", False)), int(kind == "mirror"),
                   int(r.get("archived", False)), int(kind == "import"),
                   user_id(registrant) if registrant is not None else None)
        for name, role in r.get("collaborators", {}).items():
            if role == "none":
                continue
            db.execute("INSERT INTO collaboration (id, repo_id, user_id, mode)"
                       " VALUES ($1, $2, $3, $4)", ids.next(), rid, user_id(name), ROLE_MODE[role])
        for priority, p in enumerate(r.get("protected_refs", [])):
            pid = ids.next()
            access = {rule: p.get(rule, default)
                      for rule, default in (("push", "writers"), ("force_push", "nobody"))}
            db.execute("INSERT INTO protected_branch (id, repo_id, rule_name, priority,"
                       " push_access, force_push_access) VALUES ($1, $2, $3, $4, $5, $6)",
                       pid, rid, p["pattern"], priority,
                       *(a if isinstance(a, str) else "users" for a in access.values()))
            for rule, a in access.items():
                for position, name in enumerate(a["users"] if isinstance(a, dict) else []):
                    db.execute("INSERT INTO protected_branch_user (protected_branch_id, rule,"
                               " position, user_id) VALUES ($1, $2, $3, $4)",
                               pid, rule, position, user_id(name))

    for t in world.get("tokens", []):
        insert_token(db, ids.next(), user_id(t["owner"]), t)

    for k in world.get("ssh_keys", []):
        kid = ids.next()
        deploy = k["kind"] == "deploy"
        owner = k.get("owner") or None
        db.execute("INSERT INTO public_key (id, key_id, owner_id, name, type)"
                   " VALUES ($1, $2, $3, $4, $5)", kid, k["id"],
                   user_id(owner) if owner else None, k["id"], 2 if deploy else 1)
        if deploy:
            db.execute("INSERT INTO deploy_key (id, key_id, repo_id, name, mode)"
                       " VALUES ($1, $2, $3, $4, $5)", ids.next(), kid,
                       repos[ascii_lower(k["repository"])], k["id"],
                       1 if k.get("read_only") else 2)


def insert_token(db: fs.Database, row_id: int, uid: int, t: Dict[str, Any]) -> None:
    """One `access_token` row from a token record (TokenDef dict)."""
    db.execute("INSERT INTO access_token (id, uid, name, public_id, scope, secret_digest,"
               " digest_kind, bound_repositories, bound_owners, parent_public_id,"
               " predecessor_public_id, successor_public_id, created_unix, last_used_unix,"
               " expires_unix, revoked_unix, ip_allow)"
               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
               " $17)",
               row_id, uid, t["name"], t["id"], ",".join(t["scopes"]),
               bytes.fromhex(t["secret_hash"]), t.get("digest", "sha256"),
               json.dumps(t.get("repositories", [])), json.dumps(t.get("owners", [])),
               t.get("parent"), t.get("predecessor"), t.get("successor"), t["created"],
               t.get("last_used"), t.get("expires"), t.get("revoked"),
               json.dumps(t.get("ip_allow", [])))


def sqlite_database(world: Dict[str, Any], directory: Optional[str] = None
                    ) -> Tuple[fs.Database, str]:
    """A fresh SQLite file holding `world` (in `directory`, default a new temporary one)."""
    directory = directory or tempfile.mkdtemp(prefix="forge-schema-")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "forge.db")
    open(path, "wb").close()
    db = fs.Database(fs.sqlite_connect(path), fs.SQLITE)
    db.create_schema()
    load(db, world)
    return db, path


def postgres_database(url: str, world: Dict[str, Any]) -> fs.Database:
    """A fresh schema in the PostgreSQL database at `url` holding `world` (tables dropped
    first: each call starts empty)."""
    db = fs.Database(fs.postgres_connect(url), fs.POSTGRES)
    conn = db.connection()
    conn.execute("DROP SCHEMA public CASCADE")
    conn.execute("CREATE SCHEMA public")
    db.create_schema()
    load(db, world)
    return db

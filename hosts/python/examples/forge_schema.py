"""A forge's own database as the policy's fact source (docs/design/fact-sources.md §6).

`SchemaFacts` answers the policy's questions from the Gitea-shaped tables of
examples/forge-schema/schema.sql, on SQLite (`sqlite3`) or PostgreSQL (psycopg 3), one
indexed statement per fact (two more for protected refs, only when a repository has some).
Each answer is the §1 boundary dict; None is "no such fact"; any driver error propagates as
an exception, which the policy turns into the 503 `policy-failure` deny (never "not found").

Connections: one per thread (`threading.local`; neither `sqlite3` nor a psycopg connection
is meant for concurrent use), opened on first use and reopened when broken, each with a
statement timeout (SQLite: the busy timeout; PostgreSQL: `statement_timeout`), so a stuck
database costs a bounded wait, after which the adapter's time budget fails the decision.
Nothing is cached: an `UPDATE access_token SET revoked_unix = …` holds from the next call.
"""

from __future__ import annotations

import json
import pathlib
import re
import sqlite3
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence

SCHEMA = pathlib.Path(__file__).resolve().parents[3] / "examples" / "forge-schema" / "schema.sql"
TIMEOUT_MS = 200  # per statement (design §4)

VISIBILITY = ("public", "limited", "private")  # Gitea VisibleType 0, 1, 2
MODE_ROLE = {1: "read", 2: "write", 3: "admin", 4: "admin"}  # Gitea AccessMode (4: owner)
ROLES = ("none", "read", "write", "admin")


def ascii_lower(s: str) -> str:
    """The `lower_name` key: ASCII-only lower case, never `str.lower` (Unicode-aware)."""
    return s.translate(_ASCII_LOWER)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}

# --- the statements (§6), in PostgreSQL's `$n` style --------------------------------------

TOKEN = """SELECT t.public_id, u.name, t.name, t.scope, t.bound_repositories, t.bound_owners,
 t.parent_public_id, t.predecessor_public_id, t.successor_public_id, t.last_used_unix,
 t.created_unix, t.expires_unix, t.revoked_unix, t.secret_digest, t.digest_kind, t.ip_allow
 FROM access_token t JOIN "user" u ON u.id = t.uid WHERE t.public_id = $1"""

USER = """SELECT type, is_active, prohibit_login, is_admin, visibility FROM "user"
 WHERE lower_name = $1"""

REPOSITORY = """SELECT o.name, r.name, o.visibility, r.is_private, r.is_mirror, r.is_import,
 r.is_archived, reg.name,
 (SELECT c.mode FROM collaboration c WHERE c.repo_id = r.id AND c.user_id = v.id),
 (SELECT max(t.authorize) FROM team_user tu JOIN team t ON t.id = tu.team_id
   WHERE o.type = 1 AND tu.org_id = o.id AND tu.uid = v.id
   AND (t.includes_all_repositories = 1
        OR EXISTS (SELECT 1 FROM team_repo tr WHERE tr.team_id = t.id AND tr.repo_id = r.id))),
 (SELECT count(*) FROM protected_branch p WHERE p.repo_id = r.id), r.id, o.ip_allow
 FROM "user" o JOIN repository r ON r.owner_id = o.id AND r.lower_name = $2
 LEFT JOIN "user" v ON v.lower_name = $3 LEFT JOIN "user" reg ON reg.id = r.registrant_id
 WHERE o.lower_name = $1"""

PROTECTED = """SELECT id, rule_name, push_access, force_push_access FROM protected_branch
 WHERE repo_id = $1 ORDER BY priority"""

PROTECTED_USERS = """SELECT pu.protected_branch_id, pu.rule, u.name FROM protected_branch_user pu
 JOIN protected_branch p ON p.id = pu.protected_branch_id JOIN "user" u ON u.id = pu.user_id
 WHERE p.repo_id = $1 ORDER BY pu.protected_branch_id, pu.rule, pu.position"""

NAMESPACE = """SELECT u.name, u.type, u.visibility,
 (SELECT max(t.authorize) FROM team_user tu JOIN team t ON t.id = tu.team_id
   WHERE u.type = 1 AND tu.org_id = u.id AND tu.uid = v.id), u.ip_allow
 FROM "user" u LEFT JOIN "user" v ON v.lower_name = $2 WHERE u.lower_name = $1"""

SSH_KEY = """SELECT k.key_id, k.type, u.name, ro.name || '/' || r.name, d.mode
 FROM public_key k LEFT JOIN "user" u ON u.id = k.owner_id
 LEFT JOIN deploy_key d ON d.key_id = k.id LEFT JOIN repository r ON r.id = d.repo_id
 LEFT JOIN "user" ro ON ro.id = r.owner_id WHERE k.key_id = $1"""

_PLACEHOLDER = re.compile(r"\$(\d+)")


class Dialect:
    """How one backend spells the schema's placeholders, types and connection."""

    def __init__(self, name: str, id_type: str, blob: str, placeholder: Callable[[str], str]):
        self.name, self.id_type, self.blob, self._placeholder = name, id_type, blob, placeholder

    def sql(self, statement: str) -> str:
        """`$n` -> this backend's placeholder."""
        return _PLACEHOLDER.sub(lambda m: self._placeholder(m.group(1)), statement)

    def params(self, values: Sequence[Any]) -> Any:
        """The bound values in this backend's style (a dict for psycopg's `%(pN)s`)."""
        if self.name == "postgres":
            return {f"p{i + 1}": v for i, v in enumerate(values)}
        return tuple(values)

    def ddl(self) -> str:
        return SCHEMA.read_text().replace("{ID}", self.id_type).replace("{BLOB}", self.blob)


SQLITE = Dialect("sqlite", "INTEGER PRIMARY KEY", "BLOB", lambda n: f"?{n}")
POSTGRES = Dialect("postgres", "BIGINT PRIMARY KEY", "BYTEA", lambda n: f"%(p{n})s")


def sqlite_connect(path: str) -> Callable[[], Any]:
    """Connections to an existing SQLite file (`mode=rw`: a missing file is an error, never
    an empty new database), autocommit, with a busy timeout."""

    def connect():
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=TIMEOUT_MS / 1000,
                               isolation_level=None, check_same_thread=True)
        return conn

    return connect


def postgres_connect(url: str) -> Callable[[], Any]:
    """psycopg 3 connections, autocommit, with a statement timeout and a connect timeout."""
    import psycopg  # only needed for PostgreSQL

    def connect():
        return psycopg.connect(url, autocommit=True, connect_timeout=2,
                               options=f"-c statement_timeout={TIMEOUT_MS}")

    return connect


def _broken(conn: Any) -> bool:
    return bool(getattr(conn, "closed", False) or getattr(conn, "broken", False))


class Database:
    """One connection per thread to one database, through `connect`."""

    def __init__(self, connect: Callable[[], Any], dialect: Dialect):
        self.connect, self.dialect = connect, dialect
        self._local = threading.local()

    def connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or _broken(conn):
            conn = self._local.conn = self.connect()
        return conn

    def rows(self, statement: str, *values: Any) -> List[tuple]:
        conn = self.connection()
        cur = conn.execute(self.dialect.sql(statement), self.dialect.params(values))
        try:
            return list(cur.fetchall())
        finally:
            cur.close()

    def row(self, statement: str, *values: Any) -> Optional[tuple]:
        rows = self.rows(statement, *values)
        return rows[0] if rows else None

    def execute(self, statement: str, *values: Any) -> None:
        self.rows_affected(statement, *values)

    def rows_affected(self, statement: str, *values: Any) -> int:
        conn = self.connection()
        cur = conn.execute(self.dialect.sql(statement), self.dialect.params(values))
        try:
            return cur.rowcount
        finally:
            cur.close()

    def create_schema(self) -> None:
        conn = self.connection()
        if self.dialect is SQLITE:
            conn.executescript(self.dialect.ddl())
        else:
            conn.execute(self.dialect.ddl())

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _role(mode: Optional[int]) -> str:
    return MODE_ROLE.get(mode, "none") if mode is not None else "none"


def higher(a: str, b: str) -> str:
    """The higher of two roles (none < read < write < admin)."""
    return a if ROLES.index(a) >= ROLES.index(b) else b


class SchemaFacts:
    """The policy's fact source over the forge schema (the §1 answers from §6's rows)."""

    def __init__(self, db: Database):
        self.db = db

    def token(self, id: str) -> Optional[Dict[str, Any]]:
        r = self.db.row(TOKEN, id)
        if r is None:
            return None
        (public_id, owner, name, scope, repos, owners, parent, predecessor, successor,
         last_used, created, expires, revoked, digest, kind, ip_allow) = r
        return {"id": public_id, "owner": owner, "name": name,
                "scopes": scope.split(",") if scope else [],
                "repositories": json.loads(repos), "owners": json.loads(owners),
                "parent": parent, "predecessor": predecessor, "successor": successor,
                "last_used": last_used, "created": created, "expires": expires,
                "revoked": revoked, "secret_hash": bytes(digest).hex(), "digest": kind,
                "ip_allow": json.loads(ip_allow)}

    def user(self, name: str) -> Optional[Dict[str, Any]]:
        r = self.db.row(USER, ascii_lower(name))
        if r is None:
            return None
        kind, active, prohibit_login, admin, visibility = r
        status = "suspended" if prohibit_login else "active" if active else "inactive"
        return {"status": status, "site_admin": bool(admin),
                "visibility": VISIBILITY[visibility], "organization": kind == 1}

    def repository(self, path: str, viewer: Optional[str]) -> Optional[Dict[str, Any]]:
        owner, sep, name = path.partition("/")
        if not sep:
            return None
        r = self.db.row(REPOSITORY, ascii_lower(owner), ascii_lower(name),
                        ascii_lower(viewer) if viewer is not None else None)
        if r is None:
            return None
        (o_name, r_name, o_vis, private, mirror, imported, archived, registrant,
         collab_mode, team_mode, protected, repo_id, ip_allow) = r
        answer: Dict[str, Any] = {
            "path": f"{o_name}/{r_name}", "owner_visibility": VISIBILITY[o_vis],
            "private": bool(private),
            "kind": "import" if imported else "mirror" if mirror else "hosted",
            "archived": bool(archived), "role": higher(_role(collab_mode), _role(team_mode)),
            "owner_ip_allow": json.loads(ip_allow),
        }
        if protected:
            answer["protected_refs"] = self._protected_refs(repo_id)
        if registrant is not None:
            answer["registrant"] = registrant
        return answer

    def _protected_refs(self, repo_id: int) -> List[Dict[str, Any]]:
        users: Dict[tuple, List[str]] = {}
        for rule_id, rule, user in self.db.rows(PROTECTED_USERS, repo_id):
            users.setdefault((rule_id, rule), []).append(user)

        def access(rule_id: int, rule: str, kind: str) -> Any:
            return {"users": users.get((rule_id, rule), [])} if kind == "users" else kind

        return [{"pattern": pattern, "push": access(rule_id, "push", push),
                 "force_push": access(rule_id, "force_push", force)}
                for rule_id, pattern, push, force in self.db.rows(PROTECTED, repo_id)]

    def namespace(self, name: str, viewer: Optional[str]) -> Optional[Dict[str, Any]]:
        v = ascii_lower(viewer) if viewer is not None else None
        r = self.db.row(NAMESPACE, ascii_lower(name), v)
        if r is None:
            return None
        u_name, kind, visibility, team_mode, ip_allow = r
        if v is None:
            member_role = "none"
        elif kind != 1 and ascii_lower(u_name) == v:
            member_role = "admin"
        else:
            member_role = _role(team_mode)
        return {"organization": kind == 1, "visibility": VISIBILITY[visibility],
                "member_role": member_role, "ip_allow": json.loads(ip_allow)}

    def ssh_key(self, id: str) -> Optional[Dict[str, Any]]:
        r = self.db.row(SSH_KEY, id)
        if r is None:
            return None
        key_id, kind, owner, repository, mode = r
        if kind == 2:
            return {"id": key_id, "kind": "deploy", "owner": owner or "",
                    "repository": repository, "read_only": mode == 1}
        return {"id": key_id, "kind": "user", "owner": owner or "", "read_only": False}

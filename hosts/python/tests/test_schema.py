"""The forge schema's fact source (examples/forge_schema.py) answers exactly what the world
fixture answers, fact by fact, for every world of the expanded corpus, on SQLite and on
PostgreSQL (docs/design/fact-sources.md §6: "the same in every host"; hosts/README.md
"Facts"). Every name of each world is asked, as itself and ASCII-upper-cased, by every
viewer (and anonymously), plus names that do not exist.

The loader (tests/schema_loader.py) writes the world into the schema; the world source
(tests/world_source.py) is the reference. test_callbacks.py then decides the whole corpus
through both.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

import forge_schema as fs
import schema_loader
from conftest import corpus_docs
from world_source import WorldSource


def _upper(s: str) -> str:
    return s.translate({c: c - 32 for c in range(ord("a"), ord("z") + 1)})


def _token(answer: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """A token answer without its empty optional fields (absent and null are one fact)."""
    if answer is None:
        return None
    return {k: v for k, v in answer.items() if v is not None and v != []}


def _repository(answer: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """A repository answer without an empty `protected_refs` (absent and [] are one fact)."""
    if answer is None:
        return None
    return {k: v for k, v in answer.items() if not (k == "protected_refs" and not v)}


def differences(world: Dict[str, Any], source: Any) -> List[str]:
    """Where `source` answers otherwise than the world source, one line per fact."""
    ref = WorldSource(world)
    out: List[str] = []
    names = [u["name"] for u in world.get("users", [])]
    asked = names + [_upper(n) for n in names] + ["no-such-user"]
    viewers: List[Optional[str]] = [None, *names, "no-such-user"]

    def check(what: str, want: Any, got: Any) -> None:
        if want != got:
            out.append(f"{what}: world {want!r}, schema {got!r}")

    for n in asked:
        check(f"user({n})", ref.user(n), source.user(n))
        for v in viewers:
            check(f"namespace({n}, {v})", ref.namespace(n, v), source.namespace(n, v))
    paths = [f"{r['owner']}/{r['name']}" for r in world.get("repositories", [])]
    for p in [*paths, *map(_upper, paths), "no/such", "noslash"]:
        for v in viewers:
            check(f"repository({p}, {v})", _repository(ref.repository(p, v)),
                  _repository(source.repository(p, v)))
    for t in [t["id"] for t in world.get("tokens", [])] + ["no-such-token"]:
        check(f"token({t})", _token(ref.token(t)), _token(source.token(t)))
        if t != t.upper():  # a token id compares exactly
            check(f"token({t.upper()})", None, source.token(t.upper()))
    for k in [k["id"] for k in world.get("ssh_keys", [])] + ["no-such-key"]:
        check(f"ssh_key({k})", ref.ssh_key(k), source.ssh_key(k))
    return out


def _worlds():
    return [(d["family"], d["world"]) for d in corpus_docs()]


def test_sqlite_schema_answers_as_the_world(tmp_path):
    bad = []
    for family, world in _worlds():
        db, _ = schema_loader.sqlite_database(world, str(tmp_path / family))
        try:
            bad += [f"{family}: {d}" for d in differences(world, fs.SchemaFacts(db))]
        finally:
            db.close()
    assert not bad, "\n".join(bad[:20])


def test_postgres_schema_answers_as_the_world(pg_url):
    bad = []
    for family, world in _worlds():
        db = schema_loader.postgres_database(pg_url, world)
        try:
            bad += [f"{family}: {d}" for d in differences(world, fs.SchemaFacts(db))]
        finally:
            db.close()
    assert not bad, "\n".join(bad[:20])


@pytest.mark.parametrize("statement", [fs.TOKEN, fs.USER, fs.REPOSITORY, fs.PROTECTED,
                                       fs.PROTECTED_USERS, fs.NAMESPACE, fs.SSH_KEY])
def test_every_statement_starts_from_an_index(tmp_path, statement):
    """Scale (house rule): SQLite's plan for each statement searches by an index, never
    scans a table (a scan's cost grows with the forge)."""
    db, _ = schema_loader.sqlite_database({"users": []}, str(tmp_path))
    n = statement.count("$")
    plan = db.rows("EXPLAIN QUERY PLAN " + statement, *(["x"] * n))
    scans = [row[-1] for row in plan if str(row[-1]).startswith("SCAN")]
    assert not scans, f"{scans} in\n{statement}"

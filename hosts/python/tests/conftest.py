"""Shared fixtures: the module file under test, a small world, a token-pull request."""

import hashlib
import json
import os
import pathlib
import sys

import pytest

import forge_authz

ROOT = pathlib.Path(__file__).resolve().parents[3]
DEFAULT_WASM = ROOT / "target" / "wasm32-wasip2" / "policy" / "forge_authz_guest.wasm"
NOW = 1767225600  # tests/benches/decide.rs `NOW`

# The examples (the forge schema's fact source, the served example) import as modules.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))


# Module bytes accepted unsigned (issue 23: `allow_unsigned`, development): the tests of what
# a module decides; its trust has its own tests (test_trust.py).
UNSIGNED = {"allow_unsigned": True}


def wasm_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get("FORGE_AUTHZ_WASM") or DEFAULT_WASM)


@pytest.fixture(scope="session")
def wasm_bytes() -> bytes:
    path = wasm_path()
    if not path.is_file():
        pytest.fail(f"no policy module at {path}: run `cargo policy` or set FORGE_AUTHZ_WASM")
    return path.read_bytes()


@pytest.fixture(scope="session")
def wasm_sha256(wasm_bytes: bytes) -> str:
    return hashlib.sha256(wasm_bytes).hexdigest()


def user(name: str) -> dict:
    """An active, public user, as the world fixture lists it."""
    return {"name": name, "status": "active", "site_admin": False, "visibility": "public"}


def repository(owner: str, name: str, **fields) -> dict:
    """A public hosted repository without collaborators; `fields` change it."""
    r = {"owner": owner, "name": name, "private": False, "kind": "hosted",
         "archived": False, "collaborators": {}}
    r.update(fields)
    return r


def facts_of(users: list, repositories: list, secret: str = "07" * 32) -> dict:
    """A world at `NOW` with one key, k1 (`secret`, hex), that signs."""
    return {
        "now": NOW,
        "keys": [{"id": "k1", "secret": secret}],
        "signing_key": "k1",
        "users": users,
        "repositories": repositories,
    }


def small_world() -> dict:
    """The benchmark's world (tests/benches/decide.rs), plus a private repository and bob."""
    return facts_of([user("alice"), user("bob")],
                    [repository("alice", "app"), repository("alice", "secret", private=True)])


@pytest.fixture
def world_facts() -> dict:
    return small_world()


@pytest.fixture
def policy(wasm_bytes: bytes, world_facts: dict) -> forge_authz.Policy:
    return forge_authz.Policy(world_facts, module=wasm_bytes, trust=UNSIGNED)


@pytest.fixture
def world(world_facts: dict) -> forge_authz.World:
    return forge_authz.World(world_facts)


@pytest.fixture
def reader(policy: forge_authz.Policy, world: forge_authz.World) -> forge_authz.IssuedToken:
    """A token of alice with `read:repository`, its record in `world`."""
    return policy.issue(world, owner="alice", name="ci", scopes=["read:repository"],
                        expires_in=86400)


def pull(secret: str, repository: str = "alice/app") -> dict:
    return {"credential": {"bearer": secret}, "repository": repository, "action": "pull"}


def required_env(name: str) -> str:
    """`name`'s value; unset: a failure, or a skip when FORGE_AUTHZ_SKIP_HOSTS=1 (never a pass)."""
    value = os.environ.get(name)
    if value:
        return value
    if os.environ.get("FORGE_AUTHZ_SKIP_HOSTS") == "1":
        pytest.skip(f"{name} is unset and FORGE_AUTHZ_SKIP_HOSTS=1")
    pytest.fail(f"{name} is unset: run hosts/python/ci.sh, or set FORGE_AUTHZ_SKIP_HOSTS=1 to skip")


def corpus_docs() -> list:
    """Every family file of the expanded corpus ($FORGE_AUTHZ_CORPUS), parsed, by name."""
    corpus = pathlib.Path(required_env("FORGE_AUTHZ_CORPUS"))
    files = sorted(corpus.glob("*.json"))
    assert files, f"no family files in {corpus}"
    docs = [json.loads(p.read_text()) for p in files]
    for d in docs:
        assert d.get("format") == 1, f"{d.get('family')}: unknown corpus format {d.get('format')!r}"
    return docs


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A PostgreSQL database URL ($FORGE_AUTHZ_PG_URL; ci.sh starts the testkit's
    pg-server). Without it the test is SKIPPED, never passed."""
    url = os.environ.get("FORGE_AUTHZ_PG_URL")
    if not url:
        pytest.skip("SKIPPED: FORGE_AUTHZ_PG_URL is unset (no PostgreSQL server; "
                    "hosts/python/ci.sh starts one)")
    return url

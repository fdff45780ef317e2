"""Shared fixtures: the module file under test, a small world, a token-pull request."""

import hashlib
import os
import pathlib

import pytest

import forge_authz

ROOT = pathlib.Path(__file__).resolve().parents[3]
DEFAULT_WASM = ROOT / "target" / "wasm32-wasip2" / "policy" / "forge_authz_guest.wasm"
NOW = 1767225600  # tests/benches/decide.rs `NOW`


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
    return forge_authz.Policy(world_facts, module=wasm_bytes)


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

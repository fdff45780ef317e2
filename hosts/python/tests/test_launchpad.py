"""The Launchpad-style example (examples/launchpad_git_api.py) against seed 000's matrix."""

import json
import pathlib
import sys

import pytest

import forge_authz
from conftest import NOW, UNSIGNED, facts_of, repository, user

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
import launchpad_git_api as lp


def facts() -> dict:
    return facts_of(
        [user("lp"), user("other"), user("dave")],
        [repository("lp", "r0"), repository("lp", "r1"), repository("lp", "imp", kind="import"),
         repository("lp", "hidden", private=True), repository("dave", "x")],
        secret="11" * 32)


@pytest.fixture
def api(wasm_bytes):
    f = facts()
    return lp.GitAPI(forge_authz.Policy(f, module=wasm_bytes, trust=UNSIGNED), f)


def mint(api, scopes, repo="lp/r0", owner="lp", expires_in=86400):
    return api.policy.issue(api.world, owner=owner, name=f"{owner}-{repo}-{'-'.join(scopes)}",
                            scopes=scopes, repositories=[repo], expires_in=expires_in).secret


def test_pull_token_reads_its_repository_only(api):
    who = api.authenticateWithPassword("lp", mint(api, ["repository:pull"]))
    assert who.auth_params()["uid"] == "lp" and who.auth_params()["access-token"]
    assert api.translatePath("/lp/r0.git", "read", who) == {
        "path": "lp/r0", "readable": True, "writable": False, "trailing": "", "private": False}
    with pytest.raises(lp.PermissionDenied):
        api.translatePath("lp/r0", "write", who)
    # another repository: Unauthorized, not PermissionDenied, not NotFound (no probing)
    with pytest.raises(lp.Unauthorized):
        api.translatePath("lp/r1", "read", who)
    with pytest.raises(lp.Unauthorized):
        api.translatePath("lp/no-such-repo", "read", who)


def test_push_only_token_writes_but_cannot_read(api):
    who = api.authenticateWithPassword("lp", mint(api, ["repository:push"]))
    t = api.translatePath("lp/r0/info/refs", "write", who)
    assert (t["readable"], t["writable"], t["trailing"]) == (False, True, "info/refs")
    with pytest.raises(lp.PermissionDenied):
        api.translatePath("lp/r0", "read", who)
    assert api.checkRefPermissions("lp/r0", ["refs/heads/main"], who) == {
        "refs/heads/main": ["create", "push", "force-push"]}
    assert api.checkRefPermissions("lp/r1", ["refs/heads/main"], who) == {"refs/heads/main": []}


def test_code_imports_are_never_writable(api):
    who = api.authenticateWithPassword(
        "lp", mint(api, ["repository:pull", "repository:push"], repo="lp/imp"))
    assert api.translatePath("lp/imp", "read", who)["writable"] is False
    with pytest.raises(lp.PermissionDenied):
        api.translatePath("lp/imp", "write", who)


def test_build_status_token_neither_reads_nor_writes(api):
    who = api.authenticateWithPassword("lp", mint(api, ["repository:build_status"]))
    for permission in ("read", "write"):
        with pytest.raises(lp.PermissionDenied):
            api.translatePath("lp/r0", permission, who)


def test_password_auth_refusals(api):
    token = mint(api, ["repository:pull"])
    with pytest.raises(lp.Unauthorized):  # owned by someone other than the named user
        api.authenticateWithPassword("other", token)
    with pytest.raises(lp.Unauthorized):  # nonexistent user
        api.authenticateWithPassword("nonexistent", token)
    with pytest.raises(lp.Unauthorized):  # not a token at all
        api.authenticateWithPassword("lp", "hunter2")
    with pytest.raises(lp.Unauthorized):  # damaged
        api.authenticateWithPassword("lp", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    assert api.authenticateWithPassword("lp", token).username == "lp"


def test_expired_and_inactive(api):
    token = mint(api, ["repository:pull"], expires_in=600)
    who = api.authenticateWithPassword("lp", token)
    api.world.now = NOW + 600  # Launchpad: expired when expires <= now
    with pytest.raises(lp.Unauthorized):
        api.authenticateWithPassword("lp", token)
    with pytest.raises(lp.Unauthorized):  # every later call re-verifies the token
        api.translatePath("lp/r0", "read", who)

    dave = mint(api, ["repository:pull"], repo="dave/x", owner="dave")
    who = api.authenticateWithPassword("dave", dave)
    f = facts()
    f["users"][2]["status"] = "inactive"
    api2 = lp.GitAPI(api.policy, f)
    for record in json.loads(api.world.to_json())["tokens"]:
        api2.world.put_token(record)
    with pytest.raises(lp.Unauthorized):
        api2.authenticateWithPassword("dave", dave)
    with pytest.raises(lp.Unauthorized):
        api2.translatePath("dave/x", "read", who)


def test_anonymous(api):
    assert api.translatePath("lp/r0", "read", None)["readable"] is True
    with pytest.raises(lp.Unauthorized):
        api.translatePath("lp/r0", "write", None)
    with pytest.raises(lp.Unauthorized):  # private and missing alike: git prompts
        api.translatePath("lp/hidden", "read", None)
    with pytest.raises(lp.InvalidPath):
        api.translatePath("lp", "read", None)

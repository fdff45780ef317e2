"""Fail closed: every failure is an exception (never a Decision), every denial a deny."""

import json
import math

import pytest

import forge_authz
from conftest import UNSIGNED, pull, small_world

E = forge_authz


def test_exception_hierarchy():
    for cls in (E.InvalidConfig, E.ModuleRefused, E.InvalidRequest, E.PolicyFailure,
                E.TokenRefused, E.IssueRefused):
        assert issubclass(cls, E.ForgeAuthzError)
    assert issubclass(E.ModuleRefused, E.InvalidConfig)
    assert issubclass(E.ForgeAuthzError, Exception)


@pytest.mark.parametrize(
    "request_",
    [
        "{not json",
        "[]",
        json.dumps({"credential": "anonymous", "repository": "alice/app", "action": "pull",
                    "bogus": 1}),
        {"credential": "anonymous", "repository": "alice/app", "action": "steal"},
        {"credential": {"bearer": 7}, "repository": "alice/app", "action": "pull"},
        {"credential": {"ssh-key": "no-such-key"}, "repository": "alice/app", "action": "pull",
         "transport": "ssh"},
        {"credential": "anonymous", "repository": "alice/app", "action": "pull", "now": math.nan},
        {"credential": "anonymous", "repository": object(), "action": "pull"},
        {1: "non-string key"},
        {"kind": "batch", "credential": "anonymous", "action": "pull", "repositories": []},
        {"kind": "ref-permissions", "credential": "anonymous", "repository": "alice/app",
         "action": "push", "ref_names": []},
    ],
)
def test_an_unreadable_request_raises_invalid_request(policy, world, request_):
    with pytest.raises(E.InvalidRequest):
        policy.decide(world, request_)


def test_a_bad_request_is_named_by_its_field(policy, world):
    with pytest.raises(E.InvalidRequest, match="bogus"):
        policy.decide(world, {"credential": "anonymous", "repository": "alice/app",
                              "action": "pull", "bogus": True})


def test_wrong_kind_for_the_typed_methods(policy, world):
    with pytest.raises(E.InvalidRequest):
        policy.decide_batch(world, {"kind": "git", "credential": "anonymous",
                                    "repository": "alice/app", "action": "pull"})
    with pytest.raises(E.InvalidRequest):
        policy.ref_permissions(world, {"kind": "git", "credential": "anonymous",
                                       "repository": "alice/app", "action": "pull"})


@pytest.mark.parametrize(
    "mutate",
    [
        lambda w: w.update(bogus=1),
        lambda w: w["users"][0].update(status="maybe"),
        lambda w: w["repositories"][0].update(kind="fork"),
        lambda w: w["keys"][0].update(secret="zz" * 32),
    ],
)
def test_an_unusable_world_raises_invalid_config(mutate):
    w = small_world()
    mutate(w)
    with pytest.raises(E.InvalidConfig):
        E.World(w)


def test_an_unusable_config_raises(wasm_bytes):
    with pytest.raises(E.InvalidConfig):
        E.Policy({"keys": [{"id": "k1", "secret": "xyz"}], "signing_key": "k1"},
                 module=wasm_bytes, trust=UNSIGNED)
    with pytest.raises(E.InvalidConfig):
        E.Policy("[1, 2]", module=wasm_bytes, trust=UNSIGNED)
    with pytest.raises(E.ModuleRefused):
        E.Policy(small_world(), module=b"\x00asm\x0d\x00\x01\x00", trust=UNSIGNED)


def test_a_decision_has_no_truth_value(policy, world, reader):
    d = policy.decide(world, pull(reader.secret))
    assert d.allowed is True
    with pytest.raises(TypeError):
        bool(d)
    with pytest.raises(TypeError):
        if d:  # the point: `if decision:` must not silently allow
            pass


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"), "token-invalid"),
        (lambda s: s[:20], "token-invalid"),
        (lambda s: s + "x", "token-invalid"),
        (lambda s: "", "token-invalid"),
    ],
)
def test_a_damaged_token_denies(policy, world, reader, damage, reason):
    d = policy.decide(world, pull(damage(reader.secret)))
    assert (d.allowed, d.status, d.reason) == (False, 401, reason)
    assert d.message  # the user is told something; the detail is for operators


def test_a_private_repository_is_not_found_and_a_push_is_refused(policy, world, reader):
    bob = policy.issue(world, owner="bob", name="b", scopes=["read:repository"],
                       expires_in=3600)
    d = policy.decide(world, pull(bob.secret, "alice/secret"))
    assert (d.allowed, d.status, d.reason) == (False, 404, "repository-not-found")
    push = dict(pull(reader.secret), action="push")
    d = policy.decide(world, push)
    assert (d.allowed, d.status, d.reason) == (False, 403, "scope-missing")
    anon = policy.decide(world, {"credential": "anonymous", "repository": "alice/app",
                                 "action": "push"})
    assert (anon.allowed, anon.status) == (False, 401)


def test_verify_refuses_a_forged_token(policy, reader, wasm_bytes):
    assert policy.verify({"bearer": reader.secret}).token_id == reader.token_id
    assert policy.verify('"anonymous"') is None
    other = small_world()
    other["keys"] = [{"id": "k1", "secret": "08" * 32}]
    forged = E.Policy(other, module=wasm_bytes, trust=UNSIGNED).issue(
        E.World(other), owner="alice", name="f", scopes=["read:repository"], expires_in=3600)
    with pytest.raises(E.TokenRefused) as e:
        policy.verify({"bearer": forged.secret})
    assert e.value.code == "bad-signature"


def test_a_forged_token_denies(policy, world, wasm_bytes):
    other = small_world()
    other["keys"] = [{"id": "k1", "secret": "08" * 32}]
    forged = E.Policy(other, module=wasm_bytes, trust=UNSIGNED).issue(
        E.World(other), owner="alice", name="f", scopes=["read:repository"], expires_in=3600)
    world.put_token(forged)  # even with its record stored: the signature decides
    d = policy.decide(world, pull(forged.secret))
    assert (d.allowed, d.status, d.reason) == (False, 401, "token-invalid")


def test_issue_refusals(policy, world):
    with pytest.raises(E.IssueRefused) as e:
        policy.issue(world, owner="alice", name="none", scopes=[], expires_in=3600)
    assert e.value.reason
    with pytest.raises(E.IssueRefused):
        policy.issue(world, owner="alice", name="bogus", scopes=["read:everything"],
                     expires_in=3600)
    with pytest.raises(E.InvalidRequest):
        policy.issue(world, owner="nobody", name="x", scopes=["read:repository"],
                     expires_in=3600)


def test_a_revoked_or_expired_record_denies(policy, world, reader):
    record = reader.record
    record["revoked"] = record["created"]
    world.put_token(record)
    d = policy.decide(world, pull(reader.secret))
    assert (d.allowed, d.status, d.reason) == (False, 401, "token-revoked")

    t = policy.issue(world, owner="alice", name="short", scopes=["read:repository"],
                     expires_in=600)
    assert policy.decide(world, pull(t.secret)).allowed
    late = dict(pull(t.secret), now=world.now + 600)
    d = policy.decide(world, late)
    assert (d.allowed, d.status, d.reason) == (False, 401, "token-expired")


def test_decide_json_matches_the_typed_decision(policy, world, reader):
    req = pull(reader.secret)
    out = json.loads(policy.decide_json(world, json.dumps(req)))
    typed = policy.decide(world, req)
    assert out == typed.output == json.loads(typed.to_json())
    assert out["decision"] == "allow" and out["status"] == 200 and "message" not in out

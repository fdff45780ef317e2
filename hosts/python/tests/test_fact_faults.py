"""Fail closed at the fact boundary (docs/design/fact-sources.md §1 "Rules of the answer",
§7 "Fault injection"): a fact callback that raises, answers garbage, the wrong type, a
missing or unknown field, another name, a wrong-length batch, or takes longer than its
budget makes the decision the `policy-failure` deny (503, the fixed message, the cause in
`detail`): never "not found", never an allow, never an exception out of `decide`. An
*absent* fact (None) is the world path's ordinary answer. A `KeyboardInterrupt` or
`SystemExit` from a callback is raised to the caller (Ctrl-C is not swallowed).
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any, Callable, Dict, Optional

import pytest

import forge_authz
from conftest import NOW, UNSIGNED, facts_of, pull, repository, user
from world_source import WorldSource

FAILURE = {"decision": "deny", "status": 503, "reason": "policy-failure",
           "message": "the authorization policy could not decide; access denied"}


def world_dict() -> Dict[str, Any]:
    """alice (with an SSH key) and her public repository, at NOW."""
    w = facts_of([user("alice"), user("bob")], [repository("alice", "app")])
    w["ssh_keys"] = [{"id": "alice-laptop", "kind": "user", "owner": "alice"}]
    return w


@pytest.fixture
def setup(wasm_bytes):
    """(policy, world dict with a token of alice that may push, the token's secret)."""
    w = world_dict()
    policy = forge_authz.Policy(w, module=wasm_bytes, trust=UNSIGNED)
    world = forge_authz.World(w)
    token = policy.issue(world, owner="alice", name="ci",
                         scopes=["read:repository", "write:repository"], expires_in=86400)
    return policy, json.loads(world.to_json()), token.secret


class Faulty(WorldSource):
    """The world's answers, except `method`, whose answer `fault` replaces (it gets the
    world's answer and the arguments); counts the calls of `method`."""

    def __init__(self, world: Dict[str, Any], method: str,
                 fault: Callable[..., Any], budget: Optional[float] = None):
        super().__init__(world)
        self.method, self.fault, self.calls = method, fault, 0
        if budget is not None:
            self.budget = budget
        original = getattr(super(), method)

        def faulty(*args):
            self.calls += 1
            return self.fault(original(*args), *args)

        setattr(self, method, faulty)

    def now(self) -> int:
        return NOW


def raise_(e: BaseException) -> Callable[..., Any]:
    def f(*_):
        raise e
    return f


def changed(**fields) -> Callable[..., Any]:
    """The answer with `fields` set."""
    return lambda answer, *_: {**answer, **fields}


def without(field: str) -> Callable[..., Any]:
    return lambda answer, *_: {k: v for k, v in answer.items() if k != field}


def sleep_then(seconds: float) -> Callable[..., Any]:
    def f(answer, *_):
        time.sleep(seconds)
        return answer
    return f


# Each request and the method it is sure to call with a found answer.
REQUESTS = {
    "token": lambda secret: pull(secret),
    "user": lambda secret: pull(secret),
    "repository": lambda secret: pull(secret),
    "namespace": lambda secret: {"kind": "create", "credential": {"bearer": secret},
                                 "repository": "alice/fresh", "step": "push-to-create"},
    "ssh_key": lambda _secret: {"credential": {"ssh-key": "alice-laptop"}, "transport": "ssh",
                                "repository": "alice/app", "action": "pull"},
}

WRONG_ENUM = {"token": changed(digest="md5"), "user": changed(status="on-holiday"),
              "repository": changed(role="owner"), "namespace": changed(member_role="owner"),
              "ssh_key": changed(kind="root")}
REQUIRED_FIELD = {"token": "secret_hash", "user": "status", "repository": "role",
                  "namespace": "member_role", "ssh_key": "kind"}
OTHER_NAME = {"token": changed(id="another-token"), "repository": changed(path="alice/other"),
              "ssh_key": changed(id="bob-key")}

FAULTS = {
    "raises": (lambda m: raise_(RuntimeError("database is down")), "RuntimeError: database"),
    "a str": (lambda m: lambda *_: "garbage", "invalid type"),
    "a list": (lambda m: lambda a, *_: [a], "invalid type"),
    "not JSON data": (lambda m: lambda *_: {"when": object()}, "not JSON data"),
    "a float that is not finite": (lambda m: changed(site_admin=float("nan")), "finite"),
    "wrong enum value": (lambda m: WRONG_ENUM[m], "unknown variant|is neither"),
    "missing field": (lambda m: without(REQUIRED_FIELD[m]), "missing field"),
    "unknown field": (lambda m: changed(bogus=1), "unknown field"),
}


def decide(policy, source, request, **kw):
    d = policy.decide(source, request, **kw)
    return d.output


@pytest.mark.parametrize("method", list(REQUESTS))
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_faulty_answer_is_the_policy_failure_deny(setup, method, fault):
    policy, w, secret = setup
    make, cause = FAULTS[fault]
    source = Faulty(w, method, make(method))
    out = decide(policy, source, REQUESTS[method](secret))
    assert source.calls >= 1, f"{method} was not asked"
    assert {k: out.get(k) for k in FAILURE} == FAILURE, out
    assert re.search(cause, out["detail"]), out["detail"]


@pytest.mark.parametrize("method", list(OTHER_NAME))
def test_an_answer_for_another_name_is_a_failure(setup, method):
    policy, w, secret = setup
    source = Faulty(w, method, OTHER_NAME[method])
    out = decide(policy, source, REQUESTS[method](secret))
    assert out["status"] == 503 and out["reason"] == "policy-failure", out
    assert "not `" in out["detail"] or "needs" in out["detail"], out["detail"]


def test_a_token_digest_that_is_not_64_hex_digits_is_a_failure(setup):
    """Where the world falls back to a digest that matches nothing (token-unknown), a
    forge's answer fails (§1 "Token digest")."""
    policy, w, secret = setup
    out = decide(policy, Faulty(w, "token", changed(secret_hash="00ff")), pull(secret))
    assert out["status"] == 503 and "64 hex" in out["detail"], out


@pytest.mark.parametrize("method", list(REQUESTS))
def test_a_callback_past_the_budget_is_a_failure_even_with_a_good_answer(setup, method):
    policy, w, secret = setup
    request = REQUESTS[method](secret)
    by_keyword = decide(policy, Faulty(w, method, sleep_then(0.05)), request, budget=0.01)
    by_attribute = decide(policy, Faulty(w, method, sleep_then(0.05), budget=0.01), request)
    for out in (by_keyword, by_attribute):
        assert out["status"] == 503 and "over their budget of 10 ms" in out["detail"], out
    # the same answers in time decide as usual
    assert decide(policy, Faulty(w, method, sleep_then(0)), request, budget=1)["status"] != 503


def test_the_default_budget_is_250_ms(setup):
    policy, w, secret = setup
    assert decide(policy, Faulty(w, "user", sleep_then(0.05)), pull(secret))["status"] == 200
    out = decide(policy, Faulty(w, "user", sleep_then(0.3)), pull(secret))
    assert out["status"] == 503 and "budget of 250 ms" in out["detail"], out


@pytest.mark.parametrize("method,world_change", [
    ("token", lambda w: w.update(tokens=[])),
    ("user", lambda w: w.update(users=[u for u in w["users"] if u["name"] != "alice"])),
    ("repository", lambda w: w.update(repositories=[])),
])
def test_an_absent_fact_is_the_world_paths_ordinary_deny(setup, wasm_bytes, method,
                                                         world_change):
    """None from a callback is "no such fact": the same output as a world without it."""
    policy, w, secret = setup
    request = REQUESTS[method](secret)
    source = Faulty(w, method, lambda *_: None)
    got = decide(policy, source, request)
    without_fact = json.loads(json.dumps(w))
    world_change(without_fact)
    want = policy.decide(forge_authz.World(without_fact), request).output
    assert source.calls >= 1
    assert got == want and got["status"] in (401, 403, 404), (got, want)


def test_an_absent_namespace_is_the_world_paths_ordinary_deny(setup):
    """The world cannot lose alice's namespace and keep alice: compare with a namespace the
    world does not have."""
    policy, w, secret = setup
    source = Faulty(w, "namespace", lambda *_: None)
    got = decide(policy, source, REQUESTS["namespace"](secret))
    ghost = {**REQUESTS["namespace"](secret), "repository": "ghost/fresh"}
    want = policy.decide(forge_authz.World(w), ghost).output
    assert source.calls >= 1
    assert (got["status"], got["reason"]) == (want["status"], want["reason"]), (got, want)
    assert got["status"] in (401, 403, 404), got


def test_an_absent_ssh_key_is_an_unreadable_request_as_on_the_world_path(setup):
    policy, w, secret = setup
    request = REQUESTS["ssh_key"](secret)
    with pytest.raises(forge_authz.InvalidRequest):
        policy.decide(forge_authz.World({**w, "ssh_keys": []}), request)
    with pytest.raises(forge_authz.InvalidRequest):
        policy.decide(Faulty(w, "ssh_key", lambda *_: None), request)


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("method", list(REQUESTS))
def test_keyboard_interrupt_and_system_exit_are_raised_not_decided(setup, method, exc):
    policy, w, secret = setup
    source = Faulty(w, method, raise_(exc()))
    with pytest.raises(exc):
        policy.decide(source, REQUESTS[method](secret))
    assert source.calls == 1, "asked once, then abandoned"


def test_a_batch_of_the_wrong_length_fails_every_target(setup):
    policy, w, secret = setup

    class Batch(WorldSource):
        def now(self):
            return NOW

        def repositories(self, paths, viewer):
            return [self.repository(p, viewer) for p in paths][:-1]

    request = {"kind": "batch", "credential": {"bearer": secret}, "action": "pull",
               "repositories": ["alice/app", "alice/none"]}
    out = policy.decide_batch(Batch(w), request).output
    assert [d["repository"] for d in out] == ["alice/app", "alice/none"]
    for d in out:
        assert d["status"] == 503 and "1 answers for 2 paths" in d["detail"], d

    class GoodBatch(Batch):
        def repositories(self, paths, viewer):
            return [self.repository(p, viewer) for p in paths]

    assert (policy.decide_batch(GoodBatch(w), request).output
            == policy.decide_batch(forge_authz.World(w), request).output)


def test_a_lookup_override_is_checked_like_the_per_fact_answers(setup):
    policy, w, secret = setup
    base = WorldSource(w)

    class Lookup(WorldSource):
        def now(self):
            return NOW

        def lookup(self, query_json):
            q = json.loads(query_json)
            token = base.token(q["token"]) if q["token"] else None
            viewer = token["owner"] if token and q["viewer"] == "token-owner" else None
            return {"token": token, "owner": base.user(token["owner"]) if token else None,
                    "account": None, "sudo": None,
                    "repository": base.repository(q["repository"], viewer),
                    "namespace": None}

    assert decide(policy, Lookup(w), pull(secret))["status"] == 200

    class Wrong(Lookup):
        def lookup(self, query_json):
            return {**super().lookup(query_json), "sudo": base.user("bob")}

    out = decide(policy, Wrong(w), pull(secret))
    assert out["status"] == 503 and "not asked" in out["detail"], out


def test_an_observe_hook_that_raises_does_not_change_the_decision(setup, monkeypatch):
    """The hook cannot fail a decision: its exception goes to `sys.unraisablehook`."""
    policy, w, secret = setup
    seen, unraisable = [], []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    class Observed(Faulty):
        def observe(self, asked):
            seen.append(asked)
            raise RuntimeError("log full")

    out = decide(policy, Observed(w, "user", lambda a, *_: a), pull(secret))
    assert out["status"] == 200 and len(seen) == 1
    assert [str(u.exc_value) for u in unraisable] == ["log full"]


def test_an_object_without_the_fact_methods_is_a_type_error(setup):
    policy, w, secret = setup
    with pytest.raises(TypeError, match="namespace"):
        policy.decide(type("NoNamespace", (), {"token": 1, "user": 1, "repository": 1})(),
                      pull(secret))
    with pytest.raises(ValueError, match="budget"):
        policy.decide(WorldSource(w), pull(secret), budget=-1.0)

"""One Policy and one World (or one fact source) shared by many threads (the GIL is released
in every call; a fact source's callbacks take it for their own call only)."""

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import forge_authz
from conftest import NOW, pull
from world_source import WorldSource


class Source(WorldSource):
    """The world's facts through callbacks, counting the repository lookups."""

    def __init__(self, world: forge_authz.World):
        super().__init__(json.loads(world.to_json()))
        self.lock, self.repository_calls = threading.Lock(), 0

    def repository(self, path, viewer):
        with self.lock:
            self.repository_calls += 1
        return super().repository(path, viewer)

    def now(self):
        return NOW


@pytest.mark.parametrize("through", ["world", "fact source"])
def test_many_threads_decide_with_one_policy(policy, world, reader, through):
    """Eight threads share one policy and one world, or one fact source (its callbacks run
    on the deciding threads; each decision asks for its repository once)."""
    bob = policy.issue(world, owner="bob", name="b", scopes=["read:repository"],
                       expires_in=3600)
    facts = world if through == "world" else Source(world)

    def work(i: int):
        if i % 2:
            d = policy.decide(facts, pull(reader.secret))
            return d.allowed, d.reason
        d = policy.decide(facts, pull(bob.secret, "alice/secret"))
        return d.allowed, d.reason

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(2000)))
    assert results.count((True, "granted")) == 1000
    assert results.count((False, "repository-not-found")) == 1000
    if through == "fact source":
        assert facts.repository_calls == 2000


def test_swaps_while_threads_decide(policy, world, reader, wasm_bytes, wasm_sha256):
    stop = threading.Event()
    bad: list = []
    digests = {wasm_sha256, forge_authz.EMBEDDED_SHA256}

    def decide():
        while not stop.is_set():
            d = policy.decide(world, pull(reader.secret))
            if not d.allowed:
                bad.append(d.output)
            if policy.sha256 not in digests:
                bad.append(policy.sha256)

    threads = [threading.Thread(target=decide) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            policy.swap(None if i % 2 == 0 else wasm_bytes)
            try:
                policy.swap(b"garbage")
            except forge_authz.ModuleRefused:
                pass
            else:
                bad.append("garbage accepted")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not bad, bad[:3]
    assert policy.generation == 7
    assert policy.sha256 == wasm_sha256


def test_tokens_minted_from_threads_all_work(policy, world):
    def mint(i: int):
        return policy.issue(world, owner="alice", name=f"t{i}", scopes=["read:repository"],
                            expires_in=3600)

    with ThreadPoolExecutor(max_workers=4) as pool:
        tokens = list(pool.map(mint, range(40)))
    assert len({t.token_id for t in tokens}) == 40
    assert all(policy.decide(world, pull(t.secret)).allowed for t in tokens)


def test_decide_releases_the_gil(policy, world, reader):
    """With the interpreter's forced switches off (a 100 s interval), another Python thread
    runs only when the main thread releases the GIL: here, only inside `decide`."""
    request = pull(reader.secret)
    stop = threading.Event()
    ticks = [0]

    def tick():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.0001)  # releases the GIL; waking up needs it back

    old = sys.getswitchinterval()
    t = threading.Thread(target=tick)
    sys.setswitchinterval(100)
    try:
        t.start()
        start_ticks = ticks[0]
        deadline = time.monotonic() + 3
        while ticks[0] - start_ticks < 20 and time.monotonic() < deadline:
            assert policy.decide(world, request).allowed
        seen = ticks[0] - start_ticks
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old)
    assert seen >= 20, f"the other thread ran {seen} times while decide ran: GIL held?"


def test_a_callback_that_waits_does_not_hold_the_gil_for_the_decision(policy, world, reader):
    """While one thread's decision waits in a callback (sleeping: the GIL released), another
    thread decides: the decision itself never holds the GIL."""
    started, release = threading.Event(), threading.Event()

    class Waiting(Source):
        def user(self, name):
            started.set()
            release.wait(5)
            return super().user(name)

    slow = threading.Thread(target=lambda: policy.decide(Waiting(world), pull(reader.secret)))
    slow.start()
    try:
        assert started.wait(5)
        assert policy.decide(Source(world), pull(reader.secret)).allowed
    finally:
        release.set()
        slow.join()

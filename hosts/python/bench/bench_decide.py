"""Per-call cost of `Policy.decide` on the token-pull case (tests/benches/decide.rs,
group `host_token_pull`, the Rust host's yardstick).

    python hosts/python/bench/bench_decide.py [--module PATH] [--runs 7] [--seconds 0.5]
        [--cpu] [--sqlite]

Prints the median microseconds per call over `runs` runs of about `seconds` each (the cases
round-robin), for:
- `decide(world, dict)`: the typed path (a dict in, a `Decision` out);
- `decide(world, str)`: JSON text in, a `Decision` out;
- `decide_json(world, str)`: JSON text in, JSON text out (what the C ABI does);
- the same three with `source` instead of `world`: facts through callbacks
  (docs/design/fact-sources.md §4) from an in-memory fact source (`MemorySource`: the
  answers are dicts already built, so what is measured is the crossing — three
  `Python::attach` calls, dict -> JSON, the boundary's strict parsing — not a store);
then the ratio callbacks / world for each, the target being 1.5 (issue 22). With
`--sqlite`, also `decide(schema, dict)`: the forge schema on SQLite (examples/forge_schema.py),
store I/O included, reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

import forge_authz

NOW = 1_767_225_600  # tests/benches/decide.rs `NOW`

WORLD = {
    "now": NOW,
    "keys": [{"id": "k1", "secret": "07" * 32}],
    "signing_key": "k1",
    "users": [{"name": "alice", "status": "active", "site_admin": False,
               "visibility": "public"}],
    "repositories": [{"owner": "alice", "name": "app", "private": False, "kind": "hosted",
                      "archived": False, "collaborators": {}}],
}


class MemorySource:
    """A fact source answering from dicts built once (the in-memory yardstick)."""

    def __init__(self, world: dict):
        self.tokens = {t["id"]: t for t in world.get("tokens", [])}
        self.users = {u["name"]: {"status": "active", "site_admin": False,
                                  "visibility": "public", "organization": False}
                      for u in world["users"]}
        self.repos = {f"{r['owner']}/{r['name']}": {
            "path": f"{r['owner']}/{r['name']}", "owner_visibility": "public",
            "private": False, "kind": "hosted", "archived": False, "role": "none"}
            for r in world["repositories"]}

    def token(self, id):
        return self.tokens.get(id)

    def user(self, name):
        return self.users.get(name)

    def repository(self, path, viewer):
        return self.repos.get(path)

    def namespace(self, name, viewer):
        return None

    def now(self):
        return NOW


def schema_source(world: dict):
    """The forge schema on a fresh SQLite file holding `world` (the tests' loader)."""
    here = pathlib.Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(here / "examples"), str(here / "tests")]
    import forge_schema
    import schema_loader

    db, _ = schema_loader.sqlite_database(world, tempfile.mkdtemp(prefix="bench-schema-"))

    class Schema(forge_schema.SchemaFacts):
        def now(self):
            return NOW

    return Schema(db)


def per_call_us(cases: dict, seconds: float, runs: int, clock=time.perf_counter_ns) -> dict:
    """Microseconds per call of each case, one list of `runs` figures per case. The cases
    run round-robin, one run of each per round, so that a machine busy with other work
    slows every case alike and the ratios stay comparable."""
    per = {}
    for name, fn in cases.items():  # calibrate: calls per run of about `seconds`
        n, t0 = 0, time.perf_counter_ns()
        while time.perf_counter_ns() - t0 < 50_000_000:
            fn()
            n += 1
        per[name] = max(1, int(n * seconds / 0.05))
    results: dict = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            t0 = clock()
            for _ in range(per[name]):
                fn()
            results[name].append((clock() - t0) / per[name] / 1000)
    return results


def main() -> None:
    root = pathlib.Path(__file__).resolve().parents[3]
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", default=os.environ.get("FORGE_AUTHZ_WASM") or str(
        root / "target" / "wasm32-wasip2" / "policy" / "forge_authz_guest.wasm"))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--cpu", action="store_true",
                    help="measure this thread's CPU time, not wall time (a machine busy with "
                    "other work then disturbs the figures less)")
    ap.add_argument("--sqlite", action="store_true",
                    help="also through the forge schema on SQLite (store I/O included)")
    args = ap.parse_args()

    module = pathlib.Path(args.module).read_bytes()
    # The module under measurement, unsigned (development trust: issue 23).
    policy = forge_authz.Policy(WORLD, module=module, trust={"allow_unsigned": True})
    world = forge_authz.World(WORLD)
    token = policy.issue(world, owner="alice", name="bench", scopes=["read:repository"],
                         expires_in=86400)
    request = {"credential": {"bearer": token.secret}, "repository": "alice/app",
               "action": "pull"}
    text = json.dumps(request)
    d = policy.decide(world, request)
    assert d.allowed and d.reason == "granted", d
    assert json.loads(policy.decide_json(world, text))["decision"] == "allow"

    facts = json.loads(world.to_json())
    source = MemorySource(facts)
    assert policy.decide(source, request).output == d.output

    cases = {}
    for facts_name, f in (("world", world), ("source", source)):
        cases[f"decide({facts_name}, dict)"] = lambda f=f: policy.decide(f, request)
        cases[f"decide({facts_name}, str)"] = lambda f=f: policy.decide(f, text)
        cases[f"decide_json({facts_name}, str)"] = lambda f=f: policy.decide_json(f, text)
    if args.sqlite:
        schema = schema_source(facts)
        assert policy.decide(schema, request).output == d.output
        cases["decide(schema, dict) SQLite"] = lambda: policy.decide(schema, request)
    print(f"forge_authz {forge_authz.__version__}, module sha256 {policy.sha256[:16]}..., "
          f"Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} cpus; {args.runs} runs x ~{args.seconds}s"
          f"{', CPU time' if args.cpu else ''}")
    medians = {}
    clock = time.thread_time_ns if args.cpu else time.perf_counter_ns
    for name, r in per_call_us(cases, args.seconds, args.runs, clock).items():
        medians[name] = statistics.median(r)
        print(f"token pull  {name:<30} median {medians[name]:7.2f} us/call"
              f"  (min {min(r):.2f}, max {max(r):.2f})")
    for name in [n for n in medians if "(world" in n]:
        other = name.replace("(world", "(source")
        print(f"callbacks / world  {name.split('(')[0]:<12} x{medians[other] / medians[name]:.2f}")


if __name__ == "__main__":
    main()

"""Per-call cost of `Policy.decide` on the token-pull case (tests/benches/decide.rs,
group `host_token_pull`, the Rust host's yardstick).

    python hosts/python/bench/bench_decide.py [--module PATH] [--runs 7] [--seconds 0.5]

Prints the median microseconds per call over `runs` runs of about `seconds` each, for:
- `decide(world, dict)`: the typed path (a dict in, a `Decision` out);
- `decide(world, str)`: JSON text in, a `Decision` out;
- `decide_json(world, str)`: JSON text in, JSON text out (what the C ABI does).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
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


def per_call_us(fn, seconds: float, runs: int) -> list[float]:
    # calibrate: calls per run
    n, t0 = 0, time.perf_counter_ns()
    while time.perf_counter_ns() - t0 < 50_000_000:
        fn()
        n += 1
    per = max(1, int(n * seconds / 0.05))
    results = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        for _ in range(per):
            fn()
        results.append((time.perf_counter_ns() - t0) / per / 1000)
    return results


def main() -> None:
    root = pathlib.Path(__file__).resolve().parents[3]
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", default=os.environ.get("FORGE_AUTHZ_WASM") or str(
        root / "target" / "wasm32-wasip2" / "policy" / "forge_authz_guest.wasm"))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=0.5)
    args = ap.parse_args()

    module = pathlib.Path(args.module).read_bytes()
    policy = forge_authz.Policy(WORLD, module=module)
    world = forge_authz.World(WORLD)
    token = policy.issue(world, owner="alice", name="bench", scopes=["read:repository"],
                         expires_in=86400)
    request = {"credential": {"bearer": token.secret}, "repository": "alice/app",
               "action": "pull"}
    text = json.dumps(request)
    d = policy.decide(world, request)
    assert d.allowed and d.reason == "granted", d
    assert json.loads(policy.decide_json(world, text))["decision"] == "allow"

    cases = {
        "decide(world, dict)": lambda: policy.decide(world, request),
        "decide(world, str)": lambda: policy.decide(world, text),
        "decide_json(world, str)": lambda: policy.decide_json(world, text),
    }
    print(f"forge_authz {forge_authz.__version__}, module sha256 {policy.sha256[:16]}..., "
          f"Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} cpus; {args.runs} runs x ~{args.seconds}s")
    for name, fn in cases.items():
        r = per_call_us(fn, args.seconds, args.runs)
        print(f"token pull  {name:<26} median {statistics.median(r):7.2f} us/call"
              f"  (min {min(r):.2f}, max {max(r):.2f})")


if __name__ == "__main__":
    main()

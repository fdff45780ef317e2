"""The expanded scenario corpus (hosts/README.md), replayed through the Python host.

Every scenario of every family file in $FORGE_AUTHZ_CORPUS is decided with the module file
$FORGE_AUTHZ_WASM and compared, as JSON values, with the `output` the Rust harness printed.
Without FORGE_AUTHZ_CORPUS this test fails, unless FORGE_AUTHZ_SKIP_HOSTS=1 (then it is
reported as skipped, never as passed).
"""

import hashlib
import json
import pathlib

import forge_authz
from conftest import UNSIGNED, required_env


def _typed_output(policy: forge_authz.Policy, world: forge_authz.World, request: dict):
    """The same request through the typed API: its `output` must be the same JSON."""
    kind = request.get("kind", "git")
    if kind == "batch":
        return policy.decide_batch(world, request).output
    if kind == "ref-permissions":
        return policy.ref_permissions(world, request).output
    return policy.decide(world, request).output


def test_expanded_corpus_replays_to_the_rust_outputs(capsys):
    corpus = pathlib.Path(required_env("FORGE_AUTHZ_CORPUS"))
    wasm = pathlib.Path(required_env("FORGE_AUTHZ_WASM"))
    module = wasm.read_bytes()
    digest = hashlib.sha256(module).hexdigest()
    files = sorted(corpus.glob("*.json"))
    assert files, f"no family files in {corpus}"

    matched, total, mismatches = 0, 0, []
    for path in files:
        doc = json.loads(path.read_text())
        assert doc.get("format") == 1, f"{path.name}: unknown corpus format {doc.get('format')!r}"
        family = doc["family"]
        policy = forge_authz.Policy(doc["world"], module=module, trust=UNSIGNED)
        # Same bytes: the module the host runs is the file's.
        assert policy.sha256 == digest, f"{family}: host runs {policy.sha256}, file is {digest}"
        world = forge_authz.World(doc["world"])
        scenarios = doc["scenarios"]
        assert scenarios, f"{family}: no scenarios"
        for s in scenarios:
            total += 1
            expected = s["output"]
            got = json.loads(policy.decide_json(world, json.dumps(s["request"])))
            typed = _typed_output(policy, world, s["request"])
            if got == expected and typed == expected:
                matched += 1
            else:
                mismatches.append((family, s["name"], expected, got, typed))

    with capsys.disabled():
        print(f"\npython host: module {wasm} sha256 {digest}")
        print(f"python host: {matched}/{total} scenarios matched in {len(files)} families")
        for family, name, expected, got, typed in mismatches:
            print(f"MISMATCH {family} / {name}\n  expected: {json.dumps(expected, sort_keys=True)}"
                  f"\n  got:      {json.dumps(got, sort_keys=True)}"
                  f"\n  typed:    {json.dumps(typed, sort_keys=True)}")
    assert not mismatches, f"{len(mismatches)} of {total} scenarios differ (printed above)"
    assert matched == total and total > 0

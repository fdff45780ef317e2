"""Hot swap: another module version published at run time; a refused one changes nothing."""

import hashlib

import pytest

import forge_authz
from conftest import UNSIGNED, pull


def test_swap_to_the_embedded_module_and_back(policy, world, reader, wasm_bytes, wasm_sha256):
    assert policy.sha256 == wasm_sha256
    assert policy.generation == 1
    assert policy.decide(world, pull(reader.secret)).allowed

    assert forge_authz.EMBEDDED_SHA256 != "none", "this build embeds no module"
    assert policy.swap(None) == 2
    assert policy.sha256 == forge_authz.EMBEDDED_SHA256
    d = policy.decide(world, pull(reader.secret))
    assert (d.allowed, d.status, d.reason) == (True, 200, "granted")

    assert policy.swap(wasm_bytes) == 3
    assert policy.sha256 == wasm_sha256
    assert policy.decide(world, pull(reader.secret)).allowed


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"not a wasm module",
        b"\x00asm\x01\x00\x00\x00",  # a valid, empty core module: not a component
        "truncated",
    ],
)
def test_a_refused_module_leaves_the_old_one_serving(policy, world, reader, wasm_bytes,
                                                    wasm_sha256, bad):
    if bad == "truncated":
        bad = wasm_bytes[: len(wasm_bytes) // 2]
    with pytest.raises(forge_authz.ModuleRefused) as e:
        policy.swap(bad)
    assert isinstance(e.value, forge_authz.ForgeAuthzError)
    assert policy.generation == 1
    assert policy.sha256 == wasm_sha256
    assert policy.decide(world, pull(reader.secret)).allowed


def test_a_module_that_refuses_the_keys_is_refused_at_load(wasm_bytes):
    config = {"keys": [{"id": "k1", "secret": "07" * 4}], "signing_key": "k1"}  # 4 bytes: too short
    with pytest.raises(forge_authz.InvalidConfig):
        forge_authz.Policy(config, module=wasm_bytes, trust=UNSIGNED)


def test_tokens_survive_a_swap_when_the_keys_stay(policy, world, wasm_bytes):
    """A token minted under one version verifies under the next (the keys are the config)."""
    t = policy.issue(world, owner="alice", name="before", scopes=["read:repository"],
                     expires_in=3600)
    policy.swap(None)
    info = policy.verify({"bearer": t.secret})
    assert info is not None and info.token_id == t.token_id and info.key_id == "k1"
    assert policy.decide(world, pull(t.secret)).allowed


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_swap_to_another_version_serves_that_version(policy, world, reader, wasm_bytes,
                                                     wasm_sha256):
    """Another build of the policy (here: the module with a custom section appended, other
    bytes and another digest, the same rules) is what serves after the swap."""
    name, payload = b"forge-authz-test-version", b"2"
    body = _leb128(len(name)) + name + payload
    other = wasm_bytes + b"\x00" + _leb128(len(body)) + body
    other_sha256 = hashlib.sha256(other).hexdigest()
    assert other_sha256 != wasm_sha256

    assert policy.swap(other) == 2
    assert (policy.sha256, policy.generation) == (other_sha256, 2)
    assert policy.decide(world, pull(reader.secret)).allowed
    # and back: every swap is a new generation
    assert policy.swap(wasm_bytes) == 3
    assert policy.sha256 == wasm_sha256

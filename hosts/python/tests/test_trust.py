"""Signed modules (issue 23, "Signed modules" and its "Done when": unsigned, tampered (one
byte), wrong-key, replayed-older and retired-key modules refused on every path that makes a
module live — `Policy(config, module=bytes)` and `Policy.swap` — with the old module still
serving; allow-unsigned works and is visible in `Policy.trust`). Keys and signatures are
made by the real `minisign` binary, per run, in pytest's temporary directory."""

import hashlib
import re
import shutil
import subprocess
from typing import Optional

import pytest

import forge_authz
from conftest import pull, small_world

if shutil.which("minisign") is None:
    print("SKIPPED: test_trust.py: no `minisign` binary (Debian package minisign)")
    pytestmark = pytest.mark.skip(reason="SKIPPED: no minisign binary")


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def statement(module: bytes, version: int, contract: str = forge_authz.CONTRACT) -> str:
    return f"forge-authz-module contract={contract} version={version} sha256={sha(module)}"


class Signer:
    def __init__(self, tmp):
        self.tmp = tmp
        self.n = 0

    def run(self, *args):
        subprocess.run(["minisign", *args], check=True, capture_output=True,
                       stdin=subprocess.DEVNULL)

    def key(self, name):
        pub, sec = self.tmp / f"{name}.pub", self.tmp / f"{name}.key"
        self.run("-G", "-W", "-p", str(pub), "-s", str(sec))
        text = pub.read_text()
        # minisign's comment drops an id's leading zeros: the id is 16 hex digits.
        kid = re.search(r"minisign public key ([0-9A-F]{1,16})", text).group(1).rjust(16, "0")
        return {"pub": text, "sec": str(sec), "id": kid}

    def sign(self, key, module: bytes, version: int, comment: Optional[str] = None) -> str:
        self.n += 1
        f = self.tmp / f"m{self.n}.wasm"
        f.write_bytes(module)
        self.run("-S", "-s", key["sec"], "-m", str(f), "-x", f"{f}.minisig",
                 "-t", comment or statement(module, version))
        return (self.tmp / f"m{self.n}.wasm.minisig").read_text()


def version(wasm_bytes: bytes, n: int) -> bytes:
    """The module with a custom section appended: another version that decides the same."""
    body = bytes([16]) + b"forge-authz-test" + f"v{n}".encode()
    return wasm_bytes + b"\x00" + bytes([len(body)]) + body


@pytest.fixture
def s(tmp_path):
    signer = Signer(tmp_path)
    signer.keys = {k: signer.key(k) for k in ("a", "b", "old")}
    return signer


def trust(s, allow_unsigned=False):
    return {"public_keys": [s.keys["a"]["pub"], s.keys["old"]["pub"]],
            "retired_keys": [s.keys["old"]["id"]], "allow_unsigned": allow_unsigned}


def signed_v5(s, wasm_bytes):
    v5 = version(wasm_bytes, 5)
    p = forge_authz.Policy(small_world(), module=v5, signature=s.sign(s.keys["a"], v5, 5),
                           trust=trust(s))
    w = forge_authz.World(small_world())
    token = p.issue(w, owner="alice", name="ci", scopes=["read:repository"], expires_in=3600)
    return v5, p, w, token.secret


def still_serving(p, module, w, secret):
    assert p.sha256 == sha(module)
    d = p.decide(w, pull(secret))
    assert (d.allowed, d.reason) == (True, "granted")


def refused(code, f):
    with pytest.raises(forge_authz.ModuleRefused) as e:
        f()
    want = f"policy module refused: untrusted module: {code}: "
    assert str(e.value).startswith(want), str(e.value)


def test_a_signed_module_loads_swaps_and_shows_its_trust(s, wasm_bytes):
    _, p, w, secret = signed_v5(s, wasm_bytes)
    t = p.trust
    assert (t["module"], t["version"], t["signer"]) == ("signed", 5, s.keys["a"]["id"])
    assert (t["allow_unsigned"], t["floor"], t["retired_keys"]) == (False, 5, [s.keys["old"]["id"]])
    v6 = version(wasm_bytes, 6)
    assert p.swap(v6, signature=s.sign(s.keys["a"], v6, 6)) == 2
    assert p.trust["version"] == 6
    still_serving(p, v6, w, secret)
    p.swap(None)  # the embedded module: trusted as built
    assert p.trust["module"] == "built-in"


def test_refused_modules_leave_the_old_one_serving(s, wasm_bytes):
    v5, p, w, secret = signed_v5(s, wasm_bytes)
    v7, v4 = version(wasm_bytes, 7), version(wasm_bytes, 4)
    tampered = v7[:-1] + bytes([v7[-1] ^ 1])  # one byte
    cases = [
        ("unsigned", v7, None),
        ("bad-signature", tampered, s.sign(s.keys["a"], v7, 7)),
        ("untrusted-key", v7, s.sign(s.keys["b"], v7, 7)),
        ("retired-key", v7, s.sign(s.keys["old"], v7, 7)),
        ("replayed-older", v4, s.sign(s.keys["a"], v4, 4)),
        ("wrong-contract", v7, s.sign(s.keys["a"], v7, 7, statement(v7, 7, "0.4.0"))),
        ("statement-mismatch", v7, s.sign(s.keys["a"], v7, 7, statement(v5, 7))),
    ]
    for code, module, sig in cases:
        refused(code, lambda m=module, g=sig: p.swap(m, signature=g))
        still_serving(p, v5, w, secret)
    assert p.generation == 1


def test_refused_at_load(s, wasm_bytes):
    v3 = version(wasm_bytes, 3)
    refused("unsigned", lambda: forge_authz.Policy(small_world(), module=v3))
    refused("untrusted-key", lambda: forge_authz.Policy(
        small_world(), module=v3, signature=s.sign(s.keys["b"], v3, 3), trust=trust(s)))
    refused("retired-key", lambda: forge_authz.Policy(
        small_world(), module=v3, signature=s.sign(s.keys["old"], v3, 3), trust=trust(s)))
    for bad in ({"public_keys": ["not a key"]}, {"retired_keys": ["x"]}, {"allow": True}):
        with pytest.raises(forge_authz.InvalidConfig, match="trust"):
            forge_authz.Policy(small_world(), trust=bad)


def test_allow_unsigned_works_and_is_visible(s, wasm_bytes):
    v8, v9 = version(wasm_bytes, 8), version(wasm_bytes, 9)
    p = forge_authz.Policy(small_world(), module=v8, trust=trust(s, allow_unsigned=True))
    assert (p.trust["module"], p.trust["allow_unsigned"]) == ("unsigned", True)
    # a signature given is still checked
    refused("untrusted-key", lambda: p.swap(v9, signature=s.sign(s.keys["b"], v9, 9)))
    assert p.sha256 == sha(v8)
    assert p.swap(v9) == 2 and p.sha256 == sha(v9)

"""The README's fact source (the block after `<!-- fact-source`) runs as printed, and decides
as the world does on a forge with collaborators, private repositories, an import and branch
protection (README "The few lines a forge writes"; issue 22: a forge's fact source in at
most 40 lines)."""

import json
import pathlib
import re

import forge_authz
import schema_loader
from conftest import UNSIGNED, facts_of, repository, user

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def fact_source_block() -> str:
    text = README.read_text()
    m = re.search(r"<!-- fact-source[^\n]*-->\n```python\n(.*?)\n```", text, re.S)
    assert m, "no fact-source block in the README"
    return m.group(1)


def test_the_readme_fact_source_is_at_most_40_lines():
    assert len(fact_source_block().splitlines()) <= 40


def test_the_readme_fact_source_decides_as_the_world(wasm_bytes, tmp_path):
    w = facts_of([user("alice"), user("bob"), user("carol")], [
        repository("alice", "app", protected_refs=[{"pattern": "main", "push": "nobody"}],
                   collaborators={"bob": "write"}),
        repository("alice", "secret", private=True, collaborators={"bob": "read"}),
        repository("alice", "imp", kind="import", collaborators={"bob": "admin"}),
    ])
    policy = forge_authz.Policy(w, module=wasm_bytes, trust=UNSIGNED)
    world = forge_authz.World(w)
    secrets = {who: policy.issue(world, owner=who, name="t", expires_in=86400,
                                 scopes=["read:repository", "write:repository"]).secret
               for who in ("alice", "bob", "carol")}
    revoked = policy.issue(world, owner="bob", name="r", scopes=["read:repository"],
                           expires_in=86400)
    w = json.loads(world.to_json())
    next(t for t in w["tokens"] if t["id"] == revoked.token_id)["revoked"] = w["now"] - 1
    world = forge_authz.World(w)
    _, path = schema_loader.sqlite_database(w, str(tmp_path))

    namespace: dict = {}
    exec(compile(fact_source_block(), str(README), "exec"), namespace)

    class Facts(namespace["ForgeFacts"]):
        def now(self):
            return w["now"]

    facts = Facts(path)
    requests = [{"credential": {"bearer": secret}, "repository": repo, "action": action,
                 "refs": [{"name": ref, "new": "2" * 40}] if ref else []}
                for secret in [*secrets.values(), revoked.secret]
                for repo in ("alice/app", "alice/secret", "alice/imp", "alice/none", "Alice/App")
                for action, ref in (("pull", None), ("push", "refs/heads/main"),
                                    ("push", "refs/heads/topic"))]
    requests.append({"kind": "create", "credential": {"bearer": secrets["bob"]},
                     "repository": "bob/new", "step": "push-to-create"})
    seen = set()
    for r in requests:
        want, got = policy.decide(world, r).output, policy.decide(facts, r).output
        assert got == want, (r, want, got)
        seen.add((want["status"], want["reason"]))
    assert {(200, "granted"), (401, "token-revoked"), (403, "ref-protected"),
            (403, "repository-import"), (404, "repository-not-found")} <= seen, seen

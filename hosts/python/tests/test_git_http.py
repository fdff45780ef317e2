"""The served example (examples/git_http.py) with a real `git` client on 127.0.0.1, deciding
from the forge schema on SQLite and on PostgreSQL (docs/design/fact-sources.md §7 "Served
examples", steps 1-5; issue 22 "revoking a token row takes effect on the next request with
no cache to flush"):

1. clone with a token, push to an unprotected branch: both pass;
2. push to a protected branch: refused (403) before git runs; a forced (non-fast-forward)
   push is refused by git, as the example cannot tell it before its objects arrive; a push
   of a free and a protected branch at once is refused whole (neither ref moves), one of
   two free branches passes;
3. `UPDATE access_token SET revoked_unix = …`: the next clone is 401 `token-revoked`;
4. `DELETE` the row: 401 `token-unknown`;
5. the database unavailable (SQLite: the file gone; PostgreSQL: the database refusing
   connections): 503 `policy-failure`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time

import pytest

import forge_authz
import forge_schema as fs
import git_http
import schema_loader
from conftest import UNSIGNED, repository, user

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="SKIPPED: no git client")


def world() -> dict:
    """acme (an organisation; alice writes to its repositories) and its private acme/app,
    whose `release` branch nobody may push to. System clock: tokens are minted for now."""
    acme = {**user("acme"), "organization": True, "members": {"alice": "write"}}
    return {"keys": [{"id": "k1", "secret": "42" * 32}], "signing_key": "k1",
            "users": [user("alice"), acme],
            "repositories": [repository("acme", "app", private=True, protected_refs=[
                {"pattern": "release", "push": "nobody", "force_push": "nobody"}])]}


def git(*args: str, cwd: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=check, timeout=60,
                          capture_output=True, text=True)


@pytest.fixture(params=["sqlite", "postgres"])
def forge(request, tmp_path, wasm_bytes):
    """(server URL, decision log, the token's secret and id, the database, an outage
    switch, git's environment, the work directory)."""
    w = world()
    policy = forge_authz.Policy(w, module=wasm_bytes, trust=UNSIGNED)
    minted = forge_authz.World(w)
    token = policy.issue(minted, owner="alice", name="ci", expires_in=86400,
                         scopes=["read:repository", "write:repository"])
    w = json.loads(minted.to_json())
    if request.param == "sqlite":
        db, path = schema_loader.sqlite_database(w, str(tmp_path / "db"))

        def outage(on: bool) -> None:
            os.rename(*((path, path + ".away") if on else (path + ".away", path)))
    else:
        url = request.getfixturevalue("pg_url")
        db = schema_loader.postgres_database(url, w)
        dbname = db.connection().info.dbname
        admin = fs.Database(fs.postgres_connect(url.replace(f"/{dbname}", "/postgres")),
                            fs.POSTGRES)

        def outage(on: bool) -> None:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS {str(not on).lower()}')
            if on:
                admin.rows("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE datname = $1 AND pid <> pg_backend_pid()", dbname)

    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x",
           "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x"}
    repos = tmp_path / "repos"
    (repos / "acme").mkdir(parents=True)
    git("init", "-q", "--bare", "-b", "main", str(repos / "acme" / "app.git"),
        cwd=str(tmp_path), env=env)
    seed = tmp_path / "seed"
    git("init", "-q", "-b", "main", str(seed), cwd=str(tmp_path), env=env)
    git("commit", "-q", "--allow-empty", "-m", "seed", cwd=str(seed), env=env)
    git("push", "-q", str(repos / "acme" / "app.git"), "main", "main:release",
        cwd=str(seed), env=env)

    facts = fs.SchemaFacts(fs.Database(db.connect, db.dialect))
    server, log = git_http.serve(policy, facts, str(repos))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_address[1]}", "log": log,
               "secret": token.secret, "id": token.token_id, "db": db, "outage": outage,
               "env": env, "tmp": tmp_path}
    finally:
        server.shutdown()
        server.server_close()
        if request.param == "postgres":
            outage(False)
            admin.close()
        db.close()


def clone(f: dict, into: str, secret: str) -> subprocess.CompletedProcess:
    return git("-c", f"http.extraHeader=Authorization: Bearer {secret}", "clone", "-q",
               f"{f['url']}/acme/app.git", into, cwd=str(f["tmp"]), env=f["env"], check=False)


def push(f: dict, work: str, *refspecs: str) -> subprocess.CompletedProcess:
    return git("-c", f"http.extraHeader=Authorization: Bearer {f['secret']}", "push", "-q",
               "origin", *refspecs, cwd=work, env=f["env"], check=False)


def last(f: dict) -> tuple:
    d = f["log"][-1]
    return d["status"], d["reason"]


def test_clone_push_protect_revoke_delete_outage(forge):
    f = forge
    work = str(f["tmp"] / "work")
    # 1. clone and push to an unprotected branch
    r = clone(f, work, f["secret"])
    assert r.returncode == 0, r.stderr
    assert last(f) == (200, "granted")
    git("commit", "-q", "--allow-empty", "-m", "change", cwd=work, env=f["env"])
    r = push(f, work, "HEAD:main")
    assert r.returncode == 0, r.stderr
    assert last(f) == (200, "granted")
    assert git("ls-remote", f"{f['tmp']}/repos/acme/app.git", "main", cwd=work,
               env=f["env"]).stdout.split()[0] == git("rev-parse", "HEAD", cwd=work,
                                                       env=f["env"]).stdout.strip()

    # a rewrite of main is not decided as a plain push: git refuses it
    git("commit", "-q", "--amend", "--allow-empty", "-m", "rewritten", cwd=work, env=f["env"])
    r = push(f, work, "+HEAD:main")
    assert r.returncode != 0 and "non-fast-forward" in r.stderr, r.stderr

    # 2. a protected branch: refused before git runs
    r = push(f, work, "HEAD:release")
    assert r.returncode != 0
    assert last(f)[0] == 403, f["log"][-1]
    assert "403" in r.stderr, r.stderr

    # a free branch and the protected one in one push: the policy allows the push with a
    # refused ref update (README "Git (`kind: git`)": "the host applies the allowed refs (or
    # none, for an atomic push)"); git http-backend cannot apply part of a push, so the whole
    # push is refused and neither ref moves
    served = f"{f['tmp']}/repos/acme/app.git"

    def ref(name: str) -> str:
        r = git("--git-dir", served, "rev-parse", "--verify", "-q", name, cwd=work,
                env=f["env"], check=False)
        return r.stdout.strip() if r.returncode == 0 else ""

    release = ref("refs/heads/release")
    r = push(f, work, "HEAD:refs/heads/feature", "HEAD:refs/heads/release")
    assert r.returncode != 0 and "403" in r.stderr, r.stderr
    assert last(f) == (403, "ref-protected"), f["log"][-1]
    assert f["log"][-1]["ref"] == "refs/heads/release"
    assert ref("refs/heads/feature") == "", "the refused push created feature"
    assert ref("refs/heads/release") == release, "the refused push moved release"
    # only free branches in one push: both applied
    head = git("rev-parse", "HEAD", cwd=work, env=f["env"]).stdout.strip()
    r = push(f, work, "HEAD:refs/heads/feature", "HEAD:refs/heads/feature2")
    assert r.returncode == 0, r.stderr
    assert last(f) == (200, "granted")
    assert ref("refs/heads/feature") == head and ref("refs/heads/feature2") == head

    # anonymous: a private repository is not found to strangers
    r = git("clone", "-q", f"{f['url']}/acme/app.git", str(f["tmp"] / "anon"),
            cwd=str(f["tmp"]), env=f["env"], check=False)
    assert r.returncode != 0 and f["log"][-1]["status"] in (401, 404)

    # 3. revoke the row: the next request is refused, nothing flushed or restarted
    n = f["db"].rows_affected("UPDATE access_token SET revoked_unix = $1 WHERE public_id = $2",
                              int(time.time()), f["id"])
    assert n == 1
    r = clone(f, str(f["tmp"] / "after-revoke"), f["secret"])
    assert r.returncode != 0
    assert last(f) == (401, "token-revoked"), f["log"][-1]

    # 4. delete the row
    assert f["db"].rows_affected("DELETE FROM access_token WHERE public_id = $1", f["id"]) == 1
    r = clone(f, str(f["tmp"] / "after-delete"), f["secret"])
    assert r.returncode != 0
    assert last(f) == (401, "token-unknown"), f["log"][-1]

    # 5. the database unavailable: 503, never a guess
    f["db"].close()
    f["outage"](True)
    try:
        r = clone(f, str(f["tmp"] / "outage"), f["secret"])
    finally:
        f["outage"](False)
    assert r.returncode != 0
    assert last(f) == (503, "policy-failure"), f["log"][-1]
    assert "503" in r.stderr, r.stderr

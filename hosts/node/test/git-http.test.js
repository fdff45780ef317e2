// The served example (examples/git-http.js; docs/design/fact-sources.md §7 "Served
// examples"): real `git clone` and `git push` over HTTP on 127.0.0.1, through the package's
// middleware in front of `git http-backend`, with the facts read from the forge schema on
// SQLite, and on PostgreSQL when FORGE_AUTHZ_PG_URL names a database (design §7's test
// sequence): a clone and a push with a token; a push to a protected
// branch refused before git runs, and one with a free branch beside it refused whole (neither
// ref moves), while a push of two free branches passes; revoking the token row takes effect on the next request
// with nothing flushed (the token's record is the forge's row, read per decision: design §0,
// the problem of issue 22); a deleted row is an unknown token; a database that fails is the
// 503 policy-failure, never an allow (design §1 "Not found vs failed").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { World, boundaryFacts } from '../index.js';
import { schemaAnswers, sqliteSql } from '../examples/forge-schema.js';
import { gitServer, pushedRefs } from '../examples/git-http.js';
import { postgresWorld, sqliteWorld } from './schema-loader.js';
import { WORLD, policy } from './fixture.js';

const run = promisify(execFile);
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' };
const git = (cwd, ...args) => run('git', args, { cwd, env: gitEnv });
const fails = async (p) => p.then(() => assert.fail('git succeeded'), (e) => e.stderr ?? String(e));

// Per database: the fact source, and the forge's own writes (revoke, delete) and an outage.
const BACKENDS = {
  async SQLite(world) {
    const sqlite = await sqliteWorld(world);
    return {
      facts: boundaryFacts(schemaAnswers(sqlite.db)),
      write: async (sql, params) => sqlite.database.run(sqliteSql(sql), params),
      fail: async () => (sqlite.db.close(), sqlite.database.close()),
      close: async () => {},
    };
  },
  async PostgreSQL(world) {
    const pg = await postgresWorld(process.env.FORGE_AUTHZ_PG_URL, world, 'node_served');
    let ended = false;
    return {
      asyncFacts: boundaryFacts(schemaAnswers(pg.db)),
      write: (sql, params) => pg.pool.query(sql, params),
      fail: async () => ((ended = true), await pg.pool.end()),
      close: async () => ended || (await pg.pool.end()),
    };
  },
};

for (const [backend, open] of Object.entries(BACKENDS)) {
  const skip = backend === 'PostgreSQL' && !process.env.FORGE_AUTHZ_PG_URL ? 'SKIPPED: FORGE_AUTHZ_PG_URL unset' : false;
  if (skip) console.log('SKIPPED: the served example on PostgreSQL (FORGE_AUTHZ_PG_URL unset)');
  test(`git clone and push through the middleware, facts from the forge schema on ${backend}`, { skip }, (t) => served(t, open));
}

async function served(t, open) {
  const dir = mkdtempSync(join(tmpdir(), 'forge-authz-node-git-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // alice/app: `main` protected (nobody pushes), other branches free.
  const fixture = structuredClone(WORLD);
  fixture.repositories = [{ owner: 'alice', name: 'app', protected_refs: [{ pattern: 'main', push: 'nobody' }] }];
  const world = new World(fixture);
  const p = await policy();
  const now = Math.floor(Date.now() / 1000);
  const minted = p.mint(world, { owner: 'alice', name: 'git', scopes: ['write:repository'], expires_in: 3600, now });
  assert.ok(minted.ok, JSON.stringify(minted.error));
  const { secret, record } = minted.value;
  const db = await open(world);
  t.after(() => db.close());

  // The bare repository, with one commit on main.
  const repos = join(dir, 'repos');
  await git(dir, 'init', '-q', '--bare', '-b', 'main', join(repos, 'alice', 'app.git'));
  const seed = join(dir, 'seed');
  await git(dir, 'init', '-q', '-b', 'main', seed);
  writeFileSync(join(seed, 'README'), 'hello\n');
  await git(seed, 'add', 'README');
  await git(seed, 'commit', '-q', '-m', 'first');
  await git(seed, 'push', '-q', join(repos, 'alice', 'app.git'), 'main');

  const decisions = [];
  // A generous budget: a busy CI machine must not turn a slow read into a 503 here (the
  // budget has its own tests in faults.test.js and middleware.test.js).
  const server = gitServer({ policy: p, facts: db.facts, asyncFacts: db.asyncFacts, repos, budgetMs: 10_000, onDecision: (req, d) => decisions.push(d.value) });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${server.address().port}/alice/app.git`;
  const auth = ['-c', `http.extraHeader=Authorization: Bearer ${secret}`];
  const infoRefs = () => fetch(`${url}/info/refs?service=git-upload-pack`, { headers: { authorization: `Bearer ${secret}` } });

  // 1. Clone with the token, push a new branch: both pass. The URL's spelling of the path is
  //    not the directory's: the repository is served as the store spells it.
  const work = join(dir, 'work');
  await git(dir, ...auth, 'clone', '-q', url.replace('/alice/app.git', '/ALICE/App.git'), work);
  writeFileSync(join(work, 'more'), 'more\n');
  await git(work, 'add', 'more');
  await git(work, 'commit', '-q', '-m', 'second');
  await git(work, ...auth, 'push', '-q', 'origin', 'HEAD:refs/heads/dev');
  const { stdout: dev } = await git(join(repos, 'alice', 'app.git'), 'rev-parse', 'refs/heads/dev');
  assert.match(dev, /^[0-9a-f]{40}\n$/);

  // 2. A push to the protected branch is refused before git runs (ref-protected).
  const refused = await fails(git(work, ...auth, 'push', '-q', 'origin', 'HEAD:refs/heads/main'));
  assert.match(refused, /403|protected/);
  assert.equal(decisions.at(-1).reason, 'ref-protected');
  const { stdout: main } = await git(join(repos, 'alice', 'app.git'), 'rev-parse', 'refs/heads/main');
  assert.notEqual(main, dev, 'main did not move');

  // A free branch and the protected main in one push: the policy allows the push with a
  // refused ref update (README "Git (`kind: git`)": "the host applies the allowed refs (or
  // none, for an atomic push)"); git http-backend cannot apply part of a push, so the whole
  // push is refused (403 ref-protected) and neither ref moves.
  const served = join(repos, 'alice', 'app.git');
  const ref = (name) => git(served, 'rev-parse', '--verify', '-q', name).then((r) => r.stdout.trim(), () => '');
  const both = await fails(git(work, ...auth, 'push', '-q', 'origin', 'HEAD:refs/heads/free', 'HEAD:refs/heads/main'));
  assert.match(both, /403|protected/);
  assert.equal(await ref('refs/heads/free'), '', 'the refused push created free');
  assert.equal(await ref('refs/heads/main'), main.trim(), 'the refused push moved main');
  // Only free branches in one push: both applied.
  const { stdout: head } = await git(work, 'rev-parse', 'HEAD');
  await git(work, ...auth, 'push', '-q', 'origin', 'HEAD:refs/heads/free', 'HEAD:refs/heads/free2');
  assert.equal(await ref('refs/heads/free'), head.trim());
  assert.equal(await ref('refs/heads/free2'), head.trim());

  // 3. Revoke the row: the next request is refused, with nothing restarted or flushed.
  assert.equal((await infoRefs()).status, 200);
  await db.write('UPDATE access_token SET revoked_unix = $1 WHERE public_id = $2', [now, record.id]);
  let r = await infoRefs();
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('x-forge-authz-reason'), 'token-revoked');
  await fails(git(dir, ...auth, 'clone', '-q', url, join(dir, 'again')));

  // 4. Delete the row: an unknown token.
  await db.write('DELETE FROM access_token WHERE public_id = $1', [record.id]);
  r = await infoRefs();
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('x-forge-authz-reason'), 'token-unknown');

  // 5. The database fails (closed under the server): 503, never an allow.
  await db.fail();
  r = await infoRefs();
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('x-forge-authz-reason'), 'policy-failure');
  assert.match(decisions.at(-1).detail, /fact lookup failed/);
}

test('push commands are read from the pkt-lines; malformed ones are refused', () => {
  const line = (s) => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;
  const a = '1'.repeat(40);
  const b = '2'.repeat(40);
  const body = Buffer.from(`${line(`${a} ${b} refs/heads/main\0report-status side-band-64k\n`)}${line(`${'0'.repeat(40)} ${b} refs/heads/new\n`)}0000PACK...`);
  assert.deepEqual(pushedRefs(body), [
    { name: 'refs/heads/main', old: a, new: b },
    { name: 'refs/heads/new', old: '0'.repeat(40), new: b },
  ]);
  for (const bad of ['', '00', 'zzzz', '0009abcde', line('only two'), `${line(`${a} ${b} x y`)}0000`]) {
    assert.throws(() => pushedRefs(Buffer.from(bad)), /malformed/, JSON.stringify(bad));
  }
});

// The README's fact source (the first ```js block: a forge's per-fact functions over the
// forge schema, in at most 40 lines) runs, and decides as the world does on what it covers
// (it leaves out protected refs, the registrant and SSH keys, which examples/forge-schema.js
// has): the README's code is the code this test runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { World } from '../index.js';
import { sqliteWorld } from './schema-loader.js';
import { WORLD, policy } from './fixture.js';

test("the README's fact source decides as the world does", async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(readme)[1];
  assert.ok(code.includes('boundaryFacts'), 'the first js block is the fact source');
  const lines = code.trimEnd().split('\n').length;
  assert.ok(lines <= 40, `the README's fact source is ${lines} lines`);
  const dir = mkdtempSync(join(tmpdir(), 'forge-authz-readme-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'facts.mjs');
  writeFileSync(file, code.replace("from 'forge-authz'", `from ${JSON.stringify(new URL('../index.js', import.meta.url).href)}`));
  const { forgeFacts } = await import(pathToFileURL(file).href);

  const fixture = structuredClone(WORLD);
  fixture.users.push({ name: 'carol', status: 'suspended' }, { name: 'hidden', organization: true, visibility: 'private', members: { bob: 'read' } });
  fixture.repositories.push({ owner: 'hidden', name: 'plans' }, { owner: 'acme', name: 'mirror', kind: 'mirror' });
  const world = new World(fixture);
  const p = await policy();
  const now = world.now();
  const mint = (owner, scopes) => p.mint(world, { owner, name: `t-${owner}`, scopes, expires_in: 3600 }).value.secret;
  const alice = mint('alice', ['write:repository']);
  const bob = mint('bob', ['write:repository', 'read:organization']);
  const { database } = await sqliteWorld(world);
  const facts = forgeFacts(database);
  const requests = [
    { repository: 'alice/app', action: 'pull' },
    { repository: 'alice/secret', action: 'pull' },
    { credential: { bearer: alice }, repository: 'alice/secret', action: 'push' },
    { credential: { bearer: alice }, repository: 'ALICE/App.git', action: 'push' },
    { credential: { bearer: bob }, repository: 'alice/app', action: 'push' },
    { credential: { bearer: bob }, repository: 'acme/site', action: 'push' },
    { credential: { bearer: bob }, repository: 'acme/mirror', action: 'push' },
    { credential: { bearer: bob }, repository: 'hidden/plans', action: 'pull' },
    { credential: { bearer: alice }, repository: 'hidden/plans', action: 'pull' },
    { credential: { bearer: alice }, kind: 'create', repository: 'alice/new', step: 'push-to-create' },
    { credential: { bearer: alice }, kind: 'create', repository: 'acme/new', step: 'push-to-create' },
    { credential: { bearer: bob }, kind: 'api', method: 'GET', namespace: 'hidden', categories: ['organization'] },
    { credential: { bearer: 'fzpat_k1.nope' }, repository: 'alice/app', action: 'pull' },
    { credential: { session: 'carol' }, repository: 'alice/app', action: 'pull' },
  ];
  const allowed = new Set();
  for (const r of requests) {
    const expected = p.decide(world, r, { now }).value;
    assert.deepEqual(p.decide(facts, r, { now }).value, expected, JSON.stringify(r));
    allowed.add(expected.decision);
  }
  assert.deepEqual([...allowed].sort(), ['allow', 'deny'], 'both outcomes are covered');
});

// Errors are values: the policy's `err` results, a fact source that fails, a module that
// misbehaves and unreadable input come back as `{ok: false, error}` or as the host's
// `policy-failure` deny, never as an exception; s64 values come back as numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Policy, World, composeFacts } from '../index.js';
import { NOW, WORLD, policy, world } from './fixture.js';

const pull = { repository: 'alice/app', action: 'pull' };
const failure = (detail) => ({
  decision: 'deny',
  status: 503,
  reason: 'policy-failure',
  message: 'the authorization policy could not decide; access denied',
  detail,
});

test('a refused token is an error value, not a ComponentError', async () => {
  const p = await policy();
  assert.deepStrictEqual(p.verifyCredential({ tag: 'bearer', val: 'fzpat_nope' }), { ok: false, error: 'wrong-length' });
  assert.deepStrictEqual(p.verifyCredential({ tag: 'bearer', val: '' }), { ok: false, error: 'empty' });
  assert.deepStrictEqual(p.verifyCredential({ tag: 'anonymous' }), { ok: true, value: undefined });
  assert.deepStrictEqual(p.verify({ bearer: 'ghp_x' }), { ok: true, value: { token_error: 'wrong-prefix' } });
  assert.deepStrictEqual(p.verify('anonymous'), { ok: true, value: null });
  assert.deepStrictEqual(p.verify({ session: 'alice' }), { ok: true, value: null });
  assert.equal(p.inspect('fzpat_x').ok, false);
});

test('variant errors are plain {tag, val} values', async () => {
  const p = await policy();
  assert.deepStrictEqual(p.normalizeScopes(['read:repository', 'fly']), { ok: false, error: { tag: 'unknown-scope', val: 'fly' } });
  assert.deepStrictEqual(p.normalizeScopes(['read_repository', 'write:repository']).value, ['write:repository']);
  assert.deepStrictEqual(p.migrateLegacyScopes(['repo']).value, ['write:repository']);
  const refused = p.mint(world(), { owner: 'alice', name: 'x', scopes: ['public-only'], expires_in: 3600 });
  assert.deepStrictEqual(refused, { ok: false, error: { tag: 'no-permission-scope' } });
  const long = p.mint(world(), { owner: 'alice', name: 'x', scopes: ['read:repository'], expires_in: 400 * 86400 });
  // s64 in an error: a number
  assert.deepStrictEqual(long, { ok: false, error: { tag: 'lifetime-too-long', val: 366 * 86400 } });
});

test('a configuration the policy refuses is a module-refused value', async () => {
  const none = await Policy.load({ config: { ...WORLD, keys: [] } });
  assert.deepStrictEqual(none, { ok: false, error: { tag: 'module-refused', val: 'policy module refused: configuration refused: no-keys' } });
  const weak = await Policy.load({ config: { ...WORLD, keys: [{ id: 'k1', secret: '11' }] } });
  assert.deepStrictEqual(weak.error.val, 'policy module refused: configuration refused: weak-key (k1)');
  const unreadable = await Policy.load({ config: { keys: [{ id: 'k1', secret: 'zz' }], signing_key: 'k1' } });
  assert.equal(unreadable.ok, false);
  assert.match(unreadable.error.val, /secret is not hex/);
});

test('a fact source that fails is a policy-failure deny, and the next call works', async () => {
  const p = await policy();
  const w = world();
  const down = { lookup: () => { throw new Error('database is down'); }, repositories: () => [] };
  assert.deepStrictEqual(p.decide(down, pull), { ok: true, value: failure('fact lookup failed: database is down'), allow: false });
  // the trapped instance was discarded: a fresh one decides
  assert.deepStrictEqual(p.decide(w, pull).value, { decision: 'allow', status: 200, reason: 'public-read' });
  // an answer jco cannot lower (an unknown enum value) fails closed too
  const wrong = { lookup: () => ({ repository: { ...w.repository('alice/app'), kind: 'fork' } }), repositories: () => [] };
  const r = p.decide(wrong, pull);
  assert.equal(r.value.status, 503);
  assert.equal(r.allow, false);
  // no answer at all
  assert.equal(p.decide({ lookup: () => undefined, repositories: () => [] }, pull).value.status, 503);
  assert.equal(p.decide(w, pull).value.status, 200);
});

test('a fact source that calls back into the policy is refused (re-entrancy)', async () => {
  const p = await policy();
  const w = world();
  let inner;
  const nosy = {
    lookup(q) {
      inner = p.decide(w, pull);
      return w.lookup(q);
    },
    repositories: () => [],
  };
  const outer = p.decide(nosy, pull);
  assert.equal(inner.value.status, 503);
  assert.match(inner.value.detail, /re-entrant/);
  assert.equal(outer.value.status, 200);
});

test('a batch and ref permissions fail closed too', async () => {
  const p = await policy();
  const down = { lookup: () => { throw new Error('down'); }, repositories: () => { throw new Error('down'); } };
  const batch = p.decide(down, { kind: 'batch', action: 'pull', repositories: ['alice/app.git', 'alice/secret'] });
  assert.deepStrictEqual(batch.value, [
    { ...failure('fact lookup failed: down'), repository: 'alice/app.git' },
    { ...failure('fact lookup failed: down'), repository: 'alice/secret' },
  ]);
  const perms = p.decide(down, { kind: 'ref-permissions', credential: { session: 'alice' }, repository: 'alice/app', ref_names: ['refs/heads/main'] });
  assert.deepStrictEqual(perms, { ok: true, value: { 'refs/heads/main': [] }, allow: false });
});

test('unreadable requests are invalid-input values', async () => {
  const p = await policy();
  const w = world();
  const bad = (req) => {
    const r = p.decide(w, req);
    assert.equal(r.ok, false, JSON.stringify(req));
    assert.equal(r.error.tag, 'invalid-input');
    return r.error.val;
  };
  assert.match(bad({ repository: 'alice/app', action: 'pull', colour: 'blue' }), /unknown field `colour`/);
  assert.match(bad({ repository: 'alice/app', action: 'fetch' }), /action: unknown action `fetch`/);
  assert.match(bad({ repository: 'alice/app' }), /needs `action`/);
  assert.match(bad({ action: 'pull' }), /needs `repository`/);
  assert.match(bad({ credential: { 'ssh-key': 'nope' }, repository: 'alice/app', action: 'pull' }), /unknown ssh key `nope`/);
  assert.match(bad({ repository: 'alice/app', action: 'push', refs: [{ name: 'refs/heads/x', old: '' }] }), /old and new object ids/);
  assert.match(bad({ kind: 'api' }), /needs `method`/);
  assert.match(bad('{not json'), /^request: /);
  assert.match(bad({ repository: 'alice/\ud800', action: 'pull' }), /lone surrogate/);
  assert.match(bad({ repository: 'alice/app', action: 'pull', now: 1.5 }), /now: expected an integer/);
  // and a bad world
  const r = World.from({ ...WORLD, users: [{ name: 'x', status: 'on-holiday' }] });
  assert.equal(r.ok, false);
  assert.match(r.error.val, /^users\[0\]\.status: unknown status `on-holiday`/);
});

test('s64 values come back as numbers, hash words as BigInts', async () => {
  const p = await policy();
  const w = world();
  const minted = p.mint(w, { owner: 'alice', name: 'ci', scopes: ['read:repository'], expires_in: 3600 });
  assert.ok(minted.ok);
  assert.equal(minted.value.record.created, NOW);
  assert.equal(minted.value.record.expires, NOW + 3600);
  const record = w.tokenRecord(minted.value.record.id);
  assert.equal(typeof record.secret.val.w0, 'bigint');
  const issued = p.issue({
    owner: 'alice',
    name: 'raw',
    scopes: ['read:repository'],
    repositories: [],
    owners: [],
    expires: NOW + 60 * 60, // numbers are accepted for s64
    now: BigInt(NOW), // and BigInts
    creator: { tag: 'session', val: { name: 'alice', facts: w.user('alice') } },
    existingNames: [],
    boundFacts: [],
  });
  assert.ok(issued.ok, JSON.stringify(issued.error));
  assert.equal(typeof issued.value.record.created, 'number');
  assert.equal(typeof issued.value.event.at, 'number');
  assert.equal(issued.value.event.action, 'create');
  assert.equal(typeof issued.value.record.secret.val.w3, 'bigint');
  // the record goes back in as it came out
  const plan = p.planRevoke(issued.value.record.id, 'token', [issued.value.record], { actor: { tag: 'session', val: { name: 'alice', facts: w.user('alice') } }, now: NOW + 10 });
  assert.ok(plan.ok, JSON.stringify(plan.error));
  assert.equal(plan.value.updates[0].revoked, NOW + 10);
  assert.deepStrictEqual(p.planRevoke('nope', 'token', [], { actor: { tag: 'session', val: { name: 'alice', facts: w.user('alice') } }, now: NOW }), { ok: false, error: { tag: 'unknown-token', val: 'nope' } });
});

test('discarded (trapped) instances never crash the process when collected', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const p = await policy();
  const down = { lookup: () => { throw new Error('down'); }, repositories: () => [] };
  for (let i = 0; i < 20; i++) assert.equal(p.decide(down, pull).value.status, 503);
  gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(p.decide(world(), pull).value.status, 200);
});

test('composeFacts answers exactly what the query asks', async () => {
  const w = world();
  const asked = [];
  const facts = composeFacts({
    token: () => undefined,
    user: (n) => (asked.push(['user', n]), w.user(n)),
    repository: (path, viewer) => (asked.push(['repository', path, viewer]), { ...w.repository(path, viewer), registrant: 'alice' }),
    namespace: (n, v) => (asked.push(['namespace', n, v]), w.namespace(n, v)),
  });
  const a = facts.lookup({ account: 'bob', repository: 'alice/app', viewer: 'account', registrant: false });
  assert.deepStrictEqual(asked, [['user', 'bob'], ['repository', 'alice/app', 'bob']]);
  assert.equal(a.repository.role, 'read');
  assert.equal(a.repository.registrant, undefined);
  assert.equal(facts.lookup({ repository: 'alice/app', viewer: 'anonymous', registrant: true }).repository.registrant, 'alice');
  assert.deepStrictEqual(facts.repositories(['alice/app', 'nobody/x'], undefined).map((r) => r?.role), ['none', undefined]);
});

test('misuse is an error value too, never an exception or an allow', async () => {
  const p = await policy();
  for (const facts of [null, undefined, 42, { lookup: 'no' }]) {
    const r = p.decide(facts, pull);
    assert.equal(r.allow === true, false);
    assert.ok(!r.ok || r.value.decision === 'deny', JSON.stringify(r));
    const a = await p.decideAsync(facts, pull);
    assert.ok(!a.ok || a.value.decision === 'deny', JSON.stringify(a));
  }
  assert.equal(p.mint(null, { owner: 'alice', name: 'x', scopes: ['read:repository'] }).ok, false);
  assert.equal((await Policy.load(null)).ok, false);
  assert.equal((await Policy.load({ config: 42 })).ok, false);
  assert.equal((await p.swap(null)).ok, false);
  assert.equal(p.decide(world(), pull).value.decision, 'allow');
});

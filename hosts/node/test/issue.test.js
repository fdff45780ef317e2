// Issue + verify round trip: a token minted through the component verifies, its record
// (stored in the world in the fixture format) decides, and a damaged copy is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, recordFromTokenDef, tokenDefFromRecord } from '../index.js';
import { NOW, WORLD, policy, world } from './fixture.js';

test('mint, verify, decide, round trip through the fixture format', async () => {
  const p = await policy();
  const w = world();
  const minted = p.mint(w, { owner: 'alice', name: 'ci', scopes: ['read:repository'], expires_in: 86400 });
  assert.ok(minted.ok, JSON.stringify(minted.error));
  const { secret, record } = minted.value;
  assert.match(secret, /^fzpat_k1\./);
  assert.equal(record.owner, 'alice');
  assert.equal(record.digest, 'hmac-tag');
  assert.match(record.secret_hash, /^[0-9a-f]{64}$/);
  assert.ok(!JSON.stringify(record).includes(secret.split('.')[2]), 'the record never holds the secret');

  // verify: no facts needed
  assert.deepStrictEqual(p.verify({ bearer: secret }), { ok: true, value: { token_id: record.id, key_id: 'k1' } });
  assert.deepStrictEqual(p.verify(JSON.stringify({ basic: { username: 'alice', password: secret } })).value, { token_id: record.id, key_id: 'k1' });
  assert.deepStrictEqual(p.inspect(secret), { ok: true, value: { tokenId: record.id, keyId: 'k1' } });
  const damaged = secret.slice(0, -1) + (secret.endsWith('0') ? '1' : '0');
  assert.deepStrictEqual(p.verify({ bearer: damaged }), { ok: true, value: { token_error: 'bad-checksum' } });

  // decide with it
  const pull = (repository, credential = { bearer: secret }) => p.decide(w, { credential, repository, action: 'pull' });
  const allowed = pull('alice/app');
  assert.deepStrictEqual(allowed.value, { decision: 'allow', status: 200, reason: 'granted' });
  assert.equal(allowed.user, 'alice');
  assert.deepStrictEqual(allowed.effects, { touchLastUsed: true, revokeFamily: false });
  assert.equal(allowed.token, record.id);
  assert.equal(pull('alice/secret').value.status, 200);
  assert.equal(pull('alice/app', { bearer: damaged }).value.reason, 'token-invalid');
  const push = p.decide(w, { credential: { bearer: secret }, repository: 'alice/app', action: 'push' });
  assert.equal(push.value.reason, 'scope-missing');

  // the name is taken now
  assert.deepStrictEqual(p.mint(w, { owner: 'alice', name: 'ci', scopes: ['read:repository'], expires_in: 86400 }), {
    ok: false,
    error: { tag: 'name-taken' },
  });
  // the record survives the fixture format both ways
  assert.deepStrictEqual(tokenDefFromRecord(recordFromTokenDef(w.tokens[0])), w.tokens[0]);
  // and a world reloaded from JSON decides the same
  const reloaded = new World(JSON.stringify({ ...WORLD, tokens: w.tokens }));
  assert.deepStrictEqual(p.decide(reloaded, { credential: { bearer: secret }, repository: 'alice/app', action: 'pull' }).value, allowed.value);
  // revoked: refused
  reloaded.putToken({ ...w.tokens[0], revoked: NOW });
  assert.equal(p.decide(reloaded, { credential: { bearer: secret }, repository: 'alice/app', action: 'pull' }).value.reason, 'token-revoked');
});

test('a token minted under a retired key no longer verifies', async () => {
  const p = await policy();
  const w = world();
  const { secret } = p.mint(w, { owner: 'alice', name: 'old', scopes: ['read:repository'], expires_in: 3600 }).value;
  const { Policy } = await import('../index.js');
  const rotated = (await Policy.load({ config: { ...WORLD, keys: [{ id: 'k2', secret: '33'.repeat(32) }], signing_key: 'k2' } })).value;
  assert.deepStrictEqual(rotated.verify({ bearer: secret }).value, { token_error: 'unknown-key' });
});

test('derive a child and rotate through the raw calls', async () => {
  const p = await policy();
  const w = world();
  const minted = p.mint(w, { owner: 'alice', name: 'parent', scopes: ['write:repository'], expires_in: 86400 });
  const parent = w.tokenRecord(minted.value.record.id);
  const child = p.deriveChild({
    parent,
    scopes: ['read:repository'],
    lifetime: 3600,
    existingChildren: [],
    context: { actor: { tag: 'session', val: { name: 'alice', facts: w.user('alice') } }, now: NOW },
  });
  assert.ok(child.ok, JSON.stringify(child.error));
  assert.equal(child.value.tag, 'minted');
  assert.equal(child.value.val.record.parent, parent.id);
  const rotation = p.rotate({ old: parent, records: [child.value.val.record], context: { actor: { tag: 'session', val: { name: 'alice', facts: w.user('alice') } }, now: NOW + 1 } });
  assert.ok(rotation.ok, JSON.stringify(rotation.error));
  assert.equal(rotation.value.old.successor, rotation.value.new.record.id);
  assert.equal(rotation.value.revokedChildren.length, 1);
});

// The fault table of docs/design/fact-sources.md §7 ("Fault injection, per host"): a fact
// source answering in the boundary format (§1) that throws, rejects, answers something that is
// not an object, a wrong enum value, a missing or unknown field, a record for another name, a
// batch of the wrong length, or answers past its time budget makes the decision the
// `policy-failure` deny (503), never "not found" and never an allow — for each of the token,
// user, repository, namespace and SSH key queries, through `decide` (sync) and `decideAsync`
// (promises). "Absent" is the ordinary deny (§1 "Not found vs failed").
// SHOW_DETAIL=1 prints each fault's `detail` (the cause a forge's log gets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, boundaryFacts, composeFacts } from '../index.js';
import { worldAnswers } from '../lib/boundary.js';
import { WORLD, policy } from './fixture.js';

const p = await policy();
const world = new World({ ...structuredClone(WORLD), ssh_keys: [{ id: 'key-alice', kind: 'user', owner: 'alice' }] });
const minted = p.mint(world, { owner: 'alice', name: 'faults', scopes: ['write:repository'], expires_in: 3600 });
assert.ok(minted.ok, JSON.stringify(minted.error));
const bearer = { bearer: minted.value.secret };

// Per fact: a request that asks it (and is allowed when the fact is there), a field to drop,
// a wrong enum value, and what "absent" gives.
const FACTS = {
  token: {
    request: { credential: bearer, repository: 'alice/app', action: 'pull' },
    drop: 'created',
    wrongEnum: { digest: 'md5' },
    otherName: { id: 'someone-else' },
    absent: { status: 401, reason: 'token-unknown' },
  },
  user: {
    request: { credential: bearer, repository: 'alice/app', action: 'pull' },
    drop: 'site_admin',
    wrongEnum: { status: 'banned' },
    absent: { decision: 'deny' },
  },
  repository: {
    request: { credential: bearer, repository: 'alice/app', action: 'pull' },
    drop: 'role',
    wrongEnum: { role: 'owner' },
    otherName: { path: 'alice/secret' },
    absent: { status: 404, reason: 'repository-not-found' },
  },
  namespace: {
    request: { credential: bearer, kind: 'create', repository: 'alice/new', step: 'push-to-create' },
    drop: 'member_role',
    wrongEnum: { visibility: 'secret' },
    absent: { status: 404, reason: 'namespace-not-found' },
  },
  sshKey: {
    request: { credential: { 'ssh-key': 'key-alice' }, transport: 'ssh', repository: 'alice/app', action: 'pull' },
    drop: 'kind',
    wrongEnum: { kind: 'root' },
    otherName: { id: 'key-bob' },
    absent: 'invalid-input',
  },
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const busy = (ms) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

/** The faults for one fact: `[name, wrap(good) => faulty function, budgetMs?]`, sync or async. */
function faults(fact, spec, async) {
  const answer = (f) => (async ? async (...a) => f(...a) : f);
  const edited = (edit) => (good) => answer((...a) => edit({ ...good(...a) }));
  const list = [
    ['throws', () => answer(() => { throw new Error('database is down'); })],
    ['non-object answer', () => answer(() => 42)],
    ['a string answer', () => answer(() => '{"status": "active"}')],
    ['wrong enum value', edited((v) => ({ ...v, ...spec.wrongEnum }))],
    [`missing field \`${spec.drop}\``, edited((v) => (delete v[spec.drop], v))],
    ['unknown field', edited((v) => ({ ...v, surprise: true }))],
  ];
  if (spec.otherName) list.push(['answered for another name', edited((v) => ({ ...v, ...spec.otherName }))]);
  if (fact === 'token') {
    list.push(['secret_hash not 64 hex digits', edited((v) => ({ ...v, secret_hash: 'abcd' }))]);
  }
  if (async) {
    list.push(['rejected promise', () => () => Promise.reject(new Error('connection reset'))]);
    list.push(['over budget (late promise)', (good) => async (...a) => (await sleep(80), good(...a.slice(0, -1))), 20]);
  } else {
    list.push(['a promise to the sync decide', (good) => async (...a) => good(...a)]);
    list.push(['over budget (slow answer)', (good) => (...a) => (busy(30), good(...a)), 10]);
  }
  return list;
}

const isFailure = (out) => out.decision === 'deny' && out.status === 503 && out.reason === 'policy-failure' && typeof out.detail === 'string';

for (const [fact, spec] of Object.entries(FACTS)) {
  test(`${fact}: every fault is the policy-failure deny (503), sync and async`, async () => {
    const good = worldAnswers(world);
    // The request is allowed when the facts are good.
    const allowed = p.decide(boundaryFacts(good), spec.request);
    assert.equal(allowed.value?.decision, 'allow', `${fact}: ${JSON.stringify(allowed)}`);
    for (const async of [false, true]) {
      for (const [name, make, budgetMs] of faults(fact, spec, async)) {
        const source = boundaryFacts({ ...good, [fact]: make(good[fact].bind(good)) });
        const how = `${fact}, ${name} (${async ? 'decideAsync' : 'decide'})`;
        const d = async ? await p.decideAsync(source, spec.request, { budgetMs }) : p.decide(source, spec.request, { budgetMs });
        assert.ok(d.ok, `${how}: ${JSON.stringify(d)}`);
        assert.equal(d.allow, false, how);
        assert.ok(isFailure(d.value), `${how}: ${JSON.stringify(d.value)}`);
        if (process.env.SHOW_DETAIL) console.log(`${how}: ${JSON.stringify(d.value.detail ?? d.value)}`);
      }
    }
    // The instance a fault discarded is rebuilt: the good source decides again.
    assert.equal(p.decide(boundaryFacts(good), spec.request).value.decision, 'allow');
  });

  test(`${fact}: absent is the ordinary answer, never a 503`, async () => {
    const good = worldAnswers(world);
    for (const absent of [() => undefined, () => null, async () => undefined]) {
      const source = boundaryFacts({ ...good, [fact]: absent });
      const d = absent.constructor.name === 'AsyncFunction' ? await p.decideAsync(source, spec.request) : p.decide(source, spec.request);
      if (spec.absent === 'invalid-input') {
        // An unknown SSH key is an unreadable request, as on the world path (§1).
        assert.equal(d.ok, false);
        assert.equal(d.error.tag, 'invalid-input');
        continue;
      }
      assert.ok(d.ok && d.value.status !== 503 && d.value.decision === 'deny', `${fact} absent: ${JSON.stringify(d)}`);
      for (const [k, v] of Object.entries(spec.absent)) assert.equal(d.value[k], v, `${fact} absent: ${JSON.stringify(d.value)}`);
    }
  });
}

const batch = { credential: bearer, kind: 'batch', action: 'pull', repositories: ['alice/app', 'alice/secret'] };

test('a batch override: the wrong length, a wrong entry or a rejection is a 503 for every target', async () => {
  const good = worldAnswers(world);
  const ok = p.decide(boundaryFacts({ ...good, repositories: (paths, viewer) => paths.map((x) => good.repository(x, viewer)) }), batch);
  assert.deepEqual(ok.value.map((d) => d.decision), ['allow', 'allow']);
  const bad = [
    (paths, viewer) => [good.repository(paths[0], viewer)],
    (paths, viewer) => paths.map((x) => ({ ...good.repository(x, viewer), role: 'owner' })),
    (paths, viewer) => paths.map((x) => good.repository(x, viewer)).reverse(),
    () => ({ length: 2 }),
  ];
  for (const f of bad) {
    const d = p.decide(boundaryFacts({ ...good, repositories: f }), batch);
    assert.ok(d.value.every(isFailure), JSON.stringify(d.value));
    assert.deepEqual(d.value.map((x) => x.repository), batch.repositories);
    const a = await p.decideAsync(boundaryFacts({ ...good, repositories: async (...x) => f(...x) }), batch);
    assert.ok(a.value.every(isFailure), JSON.stringify(a.value));
  }
  const rejected = await p.decideAsync(boundaryFacts({ ...good, repositories: () => Promise.reject(new Error('gone')) }), batch);
  assert.ok(rejected.value.every(isFailure));
});

test('a lookup override: all six keys, nothing that was not asked', async () => {
  const good = worldAnswers(world);
  const request = FACTS.token.request;
  const answer = (q) => ({
    token: good.token(q.token),
    owner: good.user('alice'),
    account: null,
    sudo: null,
    repository: good.repository(q.repository, 'alice'),
    namespace: null,
  });
  const seen = [];
  const d = p.decide(boundaryFacts({ ...good, lookup: (q) => (seen.push(q), answer(q)) }), request);
  assert.equal(d.value.decision, 'allow');
  // The override gets the query JSON (§1), all seven keys.
  assert.deepEqual(Object.keys(seen[0]), ['token', 'account', 'sudo', 'repository', 'namespace', 'viewer', 'registrant']);
  for (const edit of [
    (a) => (delete a.namespace, a),
    (a) => ({ ...a, namespace: { organization: false, visibility: 'public', member_role: 'admin' } }),
    (a) => ({ ...a, token: { ...a.token, id: 'other' } }),
    (a) => ({ ...a, extra: null }),
  ]) {
    const r = p.decide(boundaryFacts({ ...good, lookup: (q) => edit(answer(q)) }), request);
    assert.ok(isFailure(r.value), JSON.stringify(r.value));
  }
});

test('decideAsync passes {signal}, aborted when the budget runs out', async () => {
  const good = worldAnswers(world);
  let signal;
  const slow = (...a) => {
    signal = a.at(-1).signal;
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(undefined)));
  };
  const t0 = performance.now();
  const d = await p.decideAsync(boundaryFacts({ ...good, repository: slow }), FACTS.repository.request, { budgetMs: 30 });
  assert.ok(isFailure(d.value), JSON.stringify(d.value));
  assert.match(d.value.detail, /budget of 30 ms/);
  assert.equal(signal.aborted, true);
  assert.ok(performance.now() - t0 < 1000, 'the decision does not wait for the late read');
});

test('composeFacts answers (jco shapes) are checked before lowering: a misspelt field fails, never reads as false', () => {
  const w = new World(structuredClone(WORLD));
  const per = { token: (id) => w.token(id), user: (n) => w.user(n), repository: (x, v) => w.repository(x, v), namespace: (n, v) => w.namespace(n, v) };
  const pull = { repository: 'alice/app', action: 'pull' };
  assert.equal(p.decide(composeFacts(per), pull).value.status, 200);
  for (const repository of [
    (x, v) => ({ ...w.repository(x, v), owner_visibility: 'public' }),
    (x, v) => ({ ...w.repository(x, v), private: 'no' }),
    (x, v) => ({ ...w.repository(x, v), protectedRefs: [{ pattern: 'main', push: { tag: 'everyone' }, forcePush: { tag: 'nobody' } }] }),
  ]) {
    const d = p.decide(composeFacts({ ...per, repository }), pull);
    assert.ok(isFailure(d.value), JSON.stringify(d.value));
  }
});

test('observe is told each query as §1 query JSON; its own failure does not fail the decision', () => {
  const good = worldAnswers(world);
  const asked = [];
  const d = p.decide(boundaryFacts(good), batch, {
    observe: (json) => {
      asked.push(JSON.parse(json));
      throw new Error('a broken hook');
    },
  });
  assert.deepEqual(d.value.map((x) => x.decision), ['allow', 'allow']);
  assert.deepEqual(asked, [
    { lookup: { token: minted.value.record.id, account: null, sudo: null, repository: null, namespace: null, viewer: 'token-owner', registrant: false } },
    { repositories: { paths: ['alice/app', 'alice/secret'], viewer: 'alice' } },
  ]);
});

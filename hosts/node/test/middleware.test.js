// The HTTP middleware: decisions → 200 (next), 401 + WWW-Authenticate, 403, 404, 400, 503,
// on a node:http server and on Express.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import express from 'express';
import { authorizeHttp, expressAuthorize, mapDecisionToHttp } from '../index.js';
import { policy, world } from './fixture.js';

async function listen(server) {
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${server.address().port}`;
}

async function setup(p, w) {
  const { secret } = p.mint(w, { owner: 'alice', name: 'ci', scopes: ['read:repository'], expires_in: 3600 }).value;
  const bob = p.mint(w, { owner: 'bob', name: 'ci', scopes: ['write:repository'], expires_in: 3600 }).value.secret;
  return { secret, bob };
}

/** Every case a server must answer, against `base`. */
async function cases(base, { secret, bob }) {
  const get = (path, headers = {}) => fetch(base + path, { headers });
  const basic = (user, pass) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

  let r = await get('/alice/app.git/info/refs?service=git-upload-pack');
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'served to anonymous');

  r = await get('/alice/app.git/info/refs?service=git-receive-pack');
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('x-forge-authz-reason'), 'authentication-required');
  assert.match(r.headers.get('www-authenticate'), /^Basic realm="forge-authz"/);

  r = await get('/alice/app.git/info/refs?service=git-upload-pack', { authorization: 'Bearer fzpat_k1.nope' });
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
  assert.equal(r.headers.get('x-forge-authz-reason'), 'token-invalid');

  r = await get('/alice/secret.git/info/refs?service=git-upload-pack', { authorization: `Bearer ${secret}` });
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'served to alice');

  r = await get('/alice/app.git/info/refs?service=git-upload-pack', basic('alice', secret));
  assert.equal(r.status, 200);

  r = await get('/alice/app.git/info/refs?service=git-receive-pack', { authorization: `token ${secret}` });
  assert.equal(r.status, 403);
  assert.equal(r.headers.get('x-forge-authz-reason'), 'scope-missing');
  assert.match(await r.text(), /scope/);

  // missing and hidden: the same answer
  const hidden = await get('/alice/secret.git/info/refs?service=git-upload-pack', { authorization: `Bearer ${bob}` });
  const missing = await get('/alice/nothing.git/info/refs?service=git-upload-pack', { authorization: `Bearer ${bob}` });
  assert.equal(hidden.status, 404);
  assert.equal(missing.status, 404);
  assert.equal(await hidden.text(), await missing.text());

  // two different tokens in one request
  r = await get(`/alice/app.git/info/refs?service=git-upload-pack&access_token=${bob}`, { authorization: `Bearer ${secret}` });
  assert.equal(r.status, 400);
  assert.equal(r.headers.get('x-forge-authz-reason'), 'conflicting-credentials');

  // a malformed path (the policy refuses it)
  r = await get('/alice/a%20b.git/info/refs?service=git-upload-pack');
  assert.equal(r.status, 400);

  // a route that is not the policy's
  r = await get('/healthz');
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'served to anonymous');

  // the store is down: 503, never an allow
  r = await get('/down/alice/app.git/info/refs?service=git-upload-pack');
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('x-forge-authz-reason'), 'policy-failure');
}

const down = { lookup: () => { throw new Error('down'); }, repositories: () => [] };

test('node:http middleware', async () => {
  const p = await policy();
  const w = world();
  const tokens = await setup(p, w);
  const guard = authorizeHttp({ policy: p, facts: w });
  const guardDown = authorizeHttp({ policy: p, facts: down, describe: (req, url) => (url.pathname.startsWith('/down/') ? { repository: 'alice/app', action: 'pull' } : null) });
  const server = createServer((req, res) => {
    const next = () => res.end(`served to ${req.forgeAuthz?.user ?? 'anonymous'}`);
    if (req.url.startsWith('/down/')) return guardDown(req, res, next);
    return guard(req, res, next);
  });
  try {
    await cases(await listen(server), tokens);
  } finally {
    server.close();
  }
});

test('Express middleware, over an asynchronous fact source', async () => {
  const p = await policy();
  const w = world();
  const tokens = await setup(p, w);
  const later = (f) => new Promise((r) => setTimeout(() => r(f()), 1));
  const asyncFacts = { lookup: (q) => later(() => w.lookup(q)), repositories: (ps, v) => later(() => w.repositories(ps, v)), now: () => w.now() };
  const app = express();
  app.use('/down', expressAuthorize({ policy: p, asyncFacts: { lookup: async () => { throw new Error('down'); }, repositories: async () => [] } }));
  app.use(expressAuthorize({ policy: p, asyncFacts }));
  app.use((req, res) => res.send(`served to ${req.forgeAuthz?.user ?? 'anonymous'}`));
  const server = createServer(app);
  try {
    await cases(await listen(server), tokens);
  } finally {
    server.close();
  }
});

test('mapDecisionToHttp never allows what is not an allow', () => {
  assert.equal(mapDecisionToHttp({ decision: 'allow', status: 200, reason: 'granted' }).allow, true);
  for (const weird of [null, {}, { decision: 'allow', status: 403 }, { decision: 'deny', status: 200 }, { status: 302 }]) {
    const a = mapDecisionToHttp(weird);
    assert.equal(a.allow, false);
    assert.ok([400, 401, 403, 404, 503].includes(a.status), JSON.stringify(weird));
  }
  assert.equal(mapDecisionToHttp({ decision: 'deny', status: 503, reason: 'policy-failure' }).headers['retry-after'], '1');
  // A push allowed with a refused ref update (README "Git (`kind: git`)": the host applies
  // the allowed refs or none) is refused whole: an HTTP answer cannot serve part of a push.
  const ok = { name: 'refs/heads/dev', decision: 'allow', reason: 'granted', message: '' };
  const no = { name: 'refs/heads/main', decision: 'deny', reason: 'ref-protected', message: 'main is protected' };
  assert.equal(mapDecisionToHttp({ decision: 'allow', status: 200, reason: 'granted', refs: [ok, ok] }).allow, true);
  const partial = mapDecisionToHttp({ decision: 'allow', status: 200, reason: 'granted', refs: [ok, no] });
  assert.deepEqual([partial.allow, partial.status, partial.headers['x-forge-authz-reason'], partial.body], [false, 403, 'ref-protected', 'main is protected\n']);
  for (const garbage of [null, 'deny', {}, { decision: 'deny' }]) {
    const a = mapDecisionToHttp({ decision: 'allow', status: 200, reason: 'granted', refs: [ok, garbage] });
    assert.deepEqual([a.allow, a.status], [false, 503], JSON.stringify(garbage));
  }
});

test('the middleware passes its budget on: a store slower than budgetMs is a 503, within it it serves', async () => {
  const p = await policy();
  const w = world();
  const slow = { lookup: (q) => new Promise((r) => setTimeout(() => r(w.lookup(q)), 100)), repositories: async () => [], now: () => w.now() };
  for (const [budgetMs, status] of [[20, 503], [5000, 200]]) {
    const guard = authorizeHttp({ policy: p, asyncFacts: slow, budgetMs });
    const server = createServer((req, res) => guard(req, res, () => res.end('served')));
    try {
      const r = await fetch(`${await listen(server)}/alice/app.git/info/refs?service=git-upload-pack`);
      assert.equal(r.status, status, `budgetMs ${budgetMs}`);
      if (status === 503) assert.equal(r.headers.get('x-forge-authz-reason'), 'policy-failure');
    } finally {
      server.close();
    }
  }
});

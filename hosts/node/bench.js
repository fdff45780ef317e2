#!/usr/bin/env node
// `node bench.js [rounds] [calls-per-round]`: the cost of a warm decision through the Node
// host, in µs per call (median of the rounds), after a warm-up:
//
// - token_pull_decide: `policy.decide(world, request)` of a token pull — the request in the
//   `forge-authz decide` format (an object), the answer its output JSON: what a forge calls,
//   and the same call as the Rust host's yardstick (tests/benches/decide.rs, group
//   `host_token_pull`, `rust_json`/`rust_typed`: the same world, token and request);
// - token_pull_authorize: `policy.authorize(witRequest, world)` — the WIT call alone, the
//   request already in jco's shape;
// - anonymous_pull_authorize: the same for an anonymous pull of a public repository;
// - token_pull_decide_callbacks: the same decide through `boundaryFacts` over the world's
//   per-fact answers in the boundary format (design §1: a token record, a user, a repository
//   as plain JSON objects, read by the strict readers): the callback path a forge's database
//   takes, store I/O excluded (tests/benches/decide.rs `host_token_pull/callbacks`);
// - token_pull_decide_sqlite: the same callbacks answered by the forge schema on SQLite
//   (examples/forge-schema.js over sql.js, in memory): the store's own cost, reported apart;
// - token_pull_decide_async: `decideAsync` over an asynchronous store (two passes);
// - token_pull_decide_async_callbacks: `decideAsync` over `boundaryFacts` whose per-fact
//   functions return promises (each read raced against the budget's timer).
//
// The token is presented again and again (the authorizer's verified-token table skips the
// HMAC), the facts come from a small in-memory World.

import { Policy, World, boundaryFacts } from './index.js';
import { worldAnswers } from './lib/boundary.js';
import { schemaAnswers } from './examples/forge-schema.js';
import { sqliteWorld } from './test/schema-loader.js';

const rounds = Number(process.argv[2] ?? 7);
const calls = Number(process.argv[3] ?? 50000);
// tests/benches/decide.rs `NOW` and `host_api`'s world.
const NOW = 1767225600;
const fixture = {
  now: NOW,
  keys: [{ id: 'k1', secret: '07'.repeat(32) }],
  signing_key: 'k1',
  users: [{ name: 'alice', status: 'active', site_admin: false, visibility: 'public' }],
  repositories: [{ owner: 'alice', name: 'app', private: false, kind: 'hosted', archived: false, collaborators: {} }],
};
const world = new World(fixture);
const loaded = await Policy.load({ config: fixture });
if (!loaded.ok) {
  console.error(loaded.error.val);
  process.exit(1);
}
const policy = loaded.value;
// Minted through the component (`issue`) as alice's session; last used now, as the Rust bench.
const minted = policy.mint(world, { owner: 'alice', name: 'bench', scopes: ['read:repository'], expires_in: 86400 });
if (!minted.ok) {
  console.error(`mint refused: ${JSON.stringify(minted.error)}`);
  process.exit(1);
}
const secret = minted.value.secret;
world.putToken({ ...minted.value.record, last_used: NOW });

const jsonRequest = { credential: { bearer: secret }, repository: 'alice/app', action: 'pull' };
const witRequest = (credential, repository) => ({
  credential,
  request: { tag: 'git', val: { transport: 'http', repository, action: 'pull' } },
  now: BigInt(NOW),
  explain: false,
});
const tokenPull = witRequest({ tag: 'bearer', val: secret }, 'alice/app');
const anonymousPull = witRequest({ tag: 'anonymous' }, 'alice/app');
const callbacks = boundaryFacts(worldAnswers(world));
const sqlite = boundaryFacts({ ...schemaAnswers((await sqliteWorld(world)).db), now: () => NOW });
const asyncWorld = {
  lookup: async (q) => world.lookup(q),
  repositories: async (p, v) => world.repositories(p, v),
  now: () => NOW,
};

const check = (name, ok) => {
  if (!ok) {
    console.error(`${name}: unexpected answer`);
    process.exit(1);
  }
};
check('token_pull_decide', policy.decide(world, jsonRequest).value.reason === 'granted');
check('token_pull_decide_callbacks', policy.decide(callbacks, jsonRequest).value.reason === 'granted');
check('token_pull_decide_sqlite', policy.decide(sqlite, jsonRequest).value.reason === 'granted');
check('token_pull_authorize', policy.authorize(tokenPull, world).value.verdict.val === 'granted');
check('anonymous_pull_authorize', policy.authorize(anonymousPull, world).value.verdict.val === 'public-read');
check('token_pull_decide_async', (await policy.decideAsync(asyncWorld, jsonRequest)).value.reason === 'granted');
const answers = worldAnswers(world);
const asyncCallbacks = boundaryFacts(Object.fromEntries(Object.entries(answers).map(([k, f]) => [k, k === 'now' ? f : async (...a) => f(...a)])));
check('token_pull_decide_async_callbacks', (await policy.decideAsync(asyncCallbacks, jsonRequest)).value.reason === 'granted');

const cases = {
  token_pull_decide: () => policy.decide(world, jsonRequest),
  token_pull_decide_callbacks: () => policy.decide(callbacks, jsonRequest),
  token_pull_decide_sqlite: () => policy.decide(sqlite, jsonRequest),
  token_pull_authorize: () => policy.authorize(tokenPull, world),
  anonymous_pull_authorize: () => policy.authorize(anonymousPull, world),
};

function measure(f, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  return Number(process.hrtime.bigint() - t0) / n / 1000;
}
async function measureAsync(f, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await f();
  return Number(process.hrtime.bigint() - t0) / n / 1000;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const results = {};
// Round-robin: each round measures every case in turn, so a change of load on the machine
// weighs on all of them alike (the ratios stay meaningful on a busy machine).
const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
// The SQLite case reads a store (~0.1-0.2 ms a statement through sql.js): fewer calls.
const callsOf = (name) => (name === 'token_pull_decide_sqlite' ? Math.max(100, calls >> 6) : calls);
for (const [name, f] of Object.entries(cases)) measure(f, Math.min(20000, callsOf(name) * 4)); // warm-up: JIT, the verified-token table
for (let r = 0; r < rounds; r++) for (const [name, f] of Object.entries(cases)) samples[name].push(measure(f, callsOf(name)));
for (const [name, xs] of Object.entries(samples)) {
  results[name] = { median_us: +median(xs).toFixed(3), min_us: +Math.min(...xs).toFixed(3), max_us: +Math.max(...xs).toFixed(3) };
}
{
  const asyncCases = {
    token_pull_decide_async: () => policy.decideAsync(asyncWorld, jsonRequest),
    token_pull_decide_async_callbacks: () => policy.decideAsync(asyncCallbacks, jsonRequest),
  };
  const xs = Object.fromEntries(Object.keys(asyncCases).map((name) => [name, []]));
  for (const f of Object.values(asyncCases)) await measureAsync(f, 5000);
  for (let r = 0; r < rounds; r++) for (const [name, f] of Object.entries(asyncCases)) xs[name].push(await measureAsync(f, Math.max(1000, calls >> 2)));
  for (const [name, v] of Object.entries(xs)) results[name] = { median_us: +median(v).toFixed(3), min_us: +Math.min(...v).toFixed(3), max_us: +Math.max(...v).toFixed(3) };
}

console.log(`node ${process.version}, module ${policy.sha256.slice(0, 12)} (${policy.origin}), ${rounds} rounds x ${calls} calls`);
for (const [name, r] of Object.entries(results)) {
  console.log(`${name.padEnd(34)} ${r.median_us.toFixed(3).padStart(8)} µs/call (min ${r.min_us.toFixed(3)}, max ${r.max_us.toFixed(3)})`);
}
{
  const ratio = results.token_pull_decide_callbacks.median_us / results.token_pull_decide.median_us;
  console.log(`callbacks / world (token_pull_decide_callbacks / token_pull_decide): ${ratio.toFixed(2)}x`);
}
console.log('Rust yardstick: `cargo bench -p forge-authz-tests --bench decide -- host_token_pull` (rust_json 5.04 µs, rust_typed 3.65 µs on this machine: hosts/node/README.md)');
if (process.env.BENCH_JSON) console.log(JSON.stringify(results));

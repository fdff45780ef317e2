// Replays the expanded corpus (hosts/README.md) through the module named by FORGE_AUTHZ_WASM:
// every scenario of every family file, decided four ways, must equal (as a JSON value) the
// Rust harness's `output` (design docs/design/fact-sources.md §7, "The corpus through
// callbacks"):
// 1. synchronously from the world;
// 2. `decideAsync` over an asynchronous view of the same world;
// 3. `boundaryFacts` over the world's per-fact answers in the boundary format (§1), sync;
// 4. the same through `decideAsync`, every per-fact function returning a promise;
// 5. `boundaryFacts` over the forge schema (examples/forge-schema.js) on SQLite (sql.js),
//    the world written into its tables by the test loader (§6 "Loader");
// 6. the same on PostgreSQL (pg, `decideAsync`) when FORGE_AUTHZ_PG_URL names a database
//    (hosts/node/ci.sh starts one: the testkit's pg-server); SKIPPED without it.
// The queries each way asked (`observe`) must be equal, and equal to the scenario's
// `queries` (what the Rust host's policy asked) when the corpus records them.
// The module the host reports it runs must be those bytes.
//
// FORGE_AUTHZ_CORPUS: the expanded corpus directory; unset or empty is a FAILURE, unless
// FORGE_AUTHZ_SKIP_HOSTS=1 (then the replay is reported SKIPPED, never passed).
// FORGE_AUTHZ_WASM: the component file (required with the corpus). When generated/ holds a
// prebuilt transpile (`npm run transpile`), that is what runs (what a deployed forge loads),
// and its recorded source digest must be the file's; else the file is transpiled here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { GENERATED_DIR, Policy, World, boundaryFacts, compileModule, loadPrebuiltModule, sha256Hex } from '../index.js';
import { worldAnswers } from '../lib/boundary.js';
import { schemaAnswers } from '../examples/forge-schema.js';
import { postgresWorld, sqliteWorld } from './schema-loader.js';

const dir = process.env.FORGE_AUTHZ_CORPUS;
const wasmPath = process.env.FORGE_AUTHZ_WASM;
const skip = process.env.FORGE_AUTHZ_SKIP_HOSTS === '1';
const pgUrl = process.env.FORGE_AUTHZ_PG_URL;

if (!dir && skip) {
  console.log('SKIPPED: the expanded corpus replay (FORGE_AUTHZ_SKIP_HOSTS=1 and FORGE_AUTHZ_CORPUS unset)');
  test('expanded corpus replay', { skip: 'SKIPPED: FORGE_AUTHZ_SKIP_HOSTS=1, FORGE_AUTHZ_CORPUS unset' }, () => {});
} else {
  test('expanded corpus replay', async () => {
    assert.ok(
      dir,
      'FORGE_AUTHZ_CORPUS is unset: run `cargo run -p forge-authz-tests --bin expand-corpus -- target/corpus-expanded` and point FORGE_AUTHZ_CORPUS at it (or set FORGE_AUTHZ_SKIP_HOSTS=1 to skip)',
    );
    assert.ok(existsSync(dir), `FORGE_AUTHZ_CORPUS=${dir} does not exist`);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    assert.ok(files.length > 0, `FORGE_AUTHZ_CORPUS=${dir} holds no family file (*.json)`);
    assert.ok(wasmPath, 'FORGE_AUTHZ_WASM is unset: name the policy component the corpus replays (hosts/node/ci.sh sets it)');

    // Same bytes: the digest of the file, and of the module the host says it runs.
    const bytes = new Uint8Array(readFileSync(wasmPath));
    const digest = sha256Hex(bytes);
    const module = existsSync(join(GENERATED_DIR, 'source.json')) ? await loadPrebuiltModule(GENERATED_DIR) : await compileModule(bytes, { prebuiltDir: null });
    console.log(`module ${wasmPath}: sha256 ${digest} (${bytes.length} bytes); the host runs sha256 ${module.sha256} (${module.origin})`);
    assert.equal(module.sha256, digest, `the host runs a module other than FORGE_AUTHZ_WASM (${module.origin}); re-run \`npm run transpile\``);

    const asyncView = (w) => {
      const delay = () => new Promise((r) => setImmediate(r));
      return {
        lookup: async (q) => (await delay(), w.lookup(q)),
        repositories: async (p, v) => (await delay(), w.repositories(p, v)),
        sshKey: async (id) => (await delay(), w.sshKey(id)),
        now: () => w.now(),
      };
    };

    // The world's boundary answers, each per-fact function returning a promise.
    const promised = (answers) => {
      const delay = () => new Promise((r) => setImmediate(r));
      const out = { now: answers.now };
      for (const k of ['token', 'user', 'repository', 'namespace', 'sshKey']) out[k] = async (...a) => (await delay(), answers[k](...a.slice(0, -1)));
      return out;
    };
    // The outputs are what is compared here; the time budget has its own tests
    // (faults.test.js): a busy CI machine that pauses the process must not fail a read.
    const budgetMs = 60_000;
    const recorder = () => {
      const asked = [];
      return { asked, observe: (json) => asked.push(JSON.parse(json)), budgetMs };
    };

    if (!pgUrl) console.log('SKIPPED: the corpus through the forge schema on PostgreSQL (FORGE_AUTHZ_PG_URL unset)');
    let pgPool;
    let total = 0;
    let matched = 0;
    let withQueries = 0;
    const mismatches = [];
    for (const file of files) {
      const family = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      assert.equal(family.format, 1, `${file}: expanded corpus format`);
      assert.ok(Array.isArray(family.scenarios) && family.scenarios.length > 0, `${file}: a family has scenarios`);
      const world = new World(family.world);
      // The module under test, unsigned (its trust is test/trust.test.js's subject).
      const loaded = await Policy.load({ module, config: family.world, trust: { allowUnsigned: true } });
      assert.ok(loaded.ok, `${file}: the policy loads: ${JSON.stringify(loaded.error)}`);
      const policy = loaded.value;
      assert.equal(policy.sha256, digest);
      const boundary = boundaryFacts(worldAnswers(world));
      const boundaryAsync = boundaryFacts(promised(worldAnswers(world)));
      const sqlite = await sqliteWorld(world);
      const schema = boundaryFacts({ ...schemaAnswers(sqlite.db), now: () => world.now() });
      const postgres = pgUrl ? await postgresWorld(pgUrl, world, 'node_corpus', pgPool) : undefined;
      pgPool = postgres?.pool;
      const schemaPg = postgres && boundaryFacts({ ...schemaAnswers(postgres.db), now: () => world.now() });
      const value = (r) => (r.ok ? r.value : { host_error: r.error });
      for (const s of family.scenarios) {
        total += 1;
        const [w, b, ba, sq, pq] = [recorder(), recorder(), recorder(), recorder(), recorder()];
        const ways = [
          ['decide(world)', value(policy.decide(world, s.request, w))],
          ['decideAsync(world)', value(await policy.decideAsync(asyncView(world), s.request, { budgetMs }))],
          ['decide(boundaryFacts)', value(policy.decide(boundary, s.request, b))],
          ['decideAsync(boundaryFacts, promises)', value(await policy.decideAsync(boundaryAsync, s.request, ba))],
          ['decide(schema on SQLite)', value(policy.decide(schema, s.request, sq))],
        ];
        const recorded = [['decide(boundaryFacts)', b], ['decideAsync(boundaryFacts, promises)', ba], ['decide(schema on SQLite)', sq]];
        if (schemaPg) {
          ways.push(['decideAsync(schema on PostgreSQL)', value(await policy.decideAsync(schemaPg, s.request, pq))]);
          recorded.push(['decideAsync(schema on PostgreSQL)', pq]);
        }
        const bad = ways.filter(([, got]) => !isDeepStrictEqual(got, s.output));
        for (const [how, r] of recorded) {
          if (!isDeepStrictEqual(r.asked, w.asked)) bad.push([`${how} queries`, r.asked, w.asked]);
        }
        if (s.queries !== undefined) {
          withQueries += 1;
          if (!isDeepStrictEqual(w.asked, s.queries)) bad.push(['queries (the Rust host asked)', w.asked, s.queries]);
        }
        if (bad.length === 0) matched += 1;
        for (const [how, g, expected = s.output] of bad) {
          mismatches.push(`family ${family.family} (${file}), scenario ${JSON.stringify(s.name)} [${how}]\n  expected: ${JSON.stringify(expected)}\n  got:      ${JSON.stringify(g)}`);
        }
      }
      policy.close();
      sqlite.db.close();
      sqlite.database.close();
    }
    await pgPool?.end();
    console.log(`corpus: ${matched} of ${total} scenarios matched the Rust harness's outputs ${pgUrl ? 'six' : 'five'} ways (world, async world, boundaryFacts, async boundaryFacts, the forge schema on SQLite${pgUrl ? ' and on PostgreSQL' : ''}; ${files.length} families, module sha256 ${digest})`);
    if (withQueries === 0) {
      console.log('SKIPPED: the queries asked compared with the Rust host\'s: this corpus records no `queries` (expand-corpus does not write them yet); the ways\' queries were compared with each other');
    } else {
      console.log(`queries: ${withQueries} of ${total} scenarios record the Rust host's queries; the Node host asked the same`);
    }
    if (mismatches.length > 0) {
      console.log(mismatches.slice(0, 50).join('\n'));
      if (mismatches.length > 50) console.log(`... and ${mismatches.length - 50} more`);
    }
    assert.ok(total > 0, 'no scenario replayed');
    assert.equal(matched, total, `${total - matched} of ${total} scenarios differ from the Rust harness (printed above)`);
  });
}

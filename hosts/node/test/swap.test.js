// Hot swap at run time: the same bytes again (transpiled by jco at run time, not the
// prebuilt copy), another version (another SHA-256), junk and truncated bytes, a module that
// answers wrongly and a tampered prebuilt dir refused with the old module kept serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GENERATED_DIR, ModuleRefused, Policy, PolicyModule, compileModule, defaultModuleBytes, loadPrebuiltModule, sha256Hex } from '../index.js';
import { WORLD, anotherVersion, policy as trustedPolicy, world } from './fixture.js';

// These tests are about the module check, not its trust (test/trust.test.js): unsigned allowed.
const UNSIGNED = { allowUnsigned: true };
const policy = () => trustedPolicy({ trust: UNSIGNED });

const pull = { repository: 'alice/app.git', action: 'pull' };
const expected = { decision: 'allow', status: 200, reason: 'public-read' };

test('swap to the same bytes, transpiled at run time with jco', async () => {
  const p = await policy();
  const w = world();
  const bytes = defaultModuleBytes();
  const before = p.sha256;
  assert.equal(before, sha256Hex(bytes));
  assert.deepStrictEqual(p.decide(w, pull).value, expected);
  const swapped = await p.swap(bytes, { prebuiltDir: null });
  assert.ok(swapped.ok, JSON.stringify(swapped.error));
  assert.deepStrictEqual(swapped.value, { sha256: before, previous: before });
  assert.equal(p.origin, 'transpiled');
  assert.deepStrictEqual(p.decide(w, pull).value, expected);
  // and back to the prebuilt copy (when `npm run transpile` made one)
  assert.ok((await p.swap(bytes)).ok);
  assert.deepStrictEqual(p.decide(w, pull).value, expected);
});

test('junk bytes are refused and the old module keeps serving', async () => {
  const p = await policy();
  const w = world();
  const before = p.sha256;
  for (const junk of [new Uint8Array([0, 1, 2, 3]), new TextEncoder().encode('not wasm at all'), new Uint8Array(0)]) {
    const r = await p.swap(junk);
    assert.equal(r.ok, false);
    assert.equal(r.error.tag, 'module-refused');
    assert.match(r.error.val, /^policy module refused: /);
    assert.equal(p.sha256, before);
    assert.deepStrictEqual(p.decide(w, pull).value, expected);
  }
});

test('a truncated module is refused and the old module keeps serving', async () => {
  const p = await policy();
  const w = world();
  const bytes = defaultModuleBytes();
  const r = await p.swap(bytes.slice(0, bytes.length >> 1));
  assert.equal(r.ok, false);
  assert.equal(r.error.tag, 'module-refused');
  assert.equal(p.sha256, sha256Hex(bytes));
  assert.deepStrictEqual(p.decide(w, pull).value, expected);
});

test('a core wasm module that is not a component is refused', async () => {
  const p = await policy();
  // The smallest core module: magic and version 1.
  const core = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const r = await p.swap(core);
  assert.equal(r.ok, false);
  assert.equal(r.error.tag, 'module-refused');
  assert.deepStrictEqual(p.decide(world(), pull).value, expected);
});

test('not bytes at all is refused', async () => {
  const p = await policy();
  const r = await p.swap('x.wasm');
  assert.deepStrictEqual(r.ok, false);
  assert.equal(r.error.tag, 'module-refused');
});

test('swap to another module version at run time, transpiled in-process, and back', async () => {
  const p = await policy();
  const w = world();
  const v1 = defaultModuleBytes();
  const v2 = anotherVersion(v1, 'v2');
  assert.notEqual(sha256Hex(v2), sha256Hex(v1));
  const minted = p.mint(w, { owner: 'alice', name: 'ci', scopes: ['read:repository'], expires_in: 86400 });
  const tokenPull = { credential: { bearer: minted.value.secret }, repository: 'alice/app', action: 'pull' };
  const tokenPush = { ...tokenPull, action: 'push' };
  assert.equal(p.decide(w, tokenPull).value.reason, 'granted');
  const swapped = await p.swap(v2);
  assert.ok(swapped.ok, JSON.stringify(swapped.error));
  assert.deepStrictEqual(swapped.value, { sha256: sha256Hex(v2), previous: sha256Hex(v1) });
  assert.equal(p.sha256, sha256Hex(v2));
  assert.equal(p.origin, 'transpiled');
  // the new version decides, with the same keys: the token minted before the swap verifies
  assert.deepStrictEqual(p.decide(w, pull).value, expected);
  assert.equal(p.decide(w, tokenPull).value.reason, 'granted');
  assert.equal(p.decide(w, tokenPush).value.reason, 'scope-missing');
  const back = await p.swap(v1);
  assert.ok(back.ok);
  assert.equal(p.sha256, sha256Hex(v1));
  assert.equal(p.decide(w, tokenPull).value.reason, 'granted');
});

test('a module that loads but answers wrongly is refused by the known-answer check', async () => {
  const p = await policy();
  const w = world();
  const real = await compileModule(defaultModuleBytes());
  // A module whose authorizer allows everything: it loads and accepts the config.
  const lax = Object.create(real, {
    sha256: { value: 'e'.repeat(64) },
    instantiate: {
      value(host) {
        const api = real.instantiate(host);
        return {
          ...api,
          Authorizer: {
            create(config) {
              const a = api.Authorizer.create(config);
              return new Proxy(a, {
                get(t, k) {
                  if (k === 'authorize') return (r) => ({ ...t.authorize(r), verdict: { tag: 'allow', val: 'granted' } });
                  const v = Reflect.get(t, k, t);
                  return typeof v === 'function' ? v.bind(t) : v;
                },
              });
            },
          },
        };
      },
    },
  });
  assert.ok(lax instanceof PolicyModule);
  const before = p.sha256;
  const r = await p.swap(lax);
  assert.equal(r.ok, false);
  assert.equal(r.error.tag, 'module-refused');
  assert.match(r.error.val, /^policy module refused: known-answer check failed: anonymous pull of a public repository: got allow granted$/);
  assert.equal(p.sha256, before);
  assert.deepStrictEqual(p.decide(w, { repository: 'alice/app', action: 'push' }).value.reason, 'authentication-required');
  // and a fresh load of it is refused the same way
  const loaded = await Policy.load({ module: lax, config: WORLD, trust: UNSIGNED });
  assert.equal(loaded.ok, false);
  assert.match(loaded.error.val, /known-answer/);
});

test('a prebuilt module whose files changed since they were transpiled is refused', async () => {
  const { cpSync, mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const tmp = mkdtempSync(join(tmpdir(), 'forge-authz-node-'));
  try {
    cpSync(GENERATED_DIR, tmp, { recursive: true });
    const m = await loadPrebuiltModule(tmp);
    assert.equal(m.sha256, sha256Hex(defaultModuleBytes()));
    assert.equal(m.origin, 'prebuilt');
    writeFileSync(join(tmp, 'policy.core.wasm'), new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    await assert.rejects(loadPrebuiltModule(tmp), (e) => e instanceof ModuleRefused && /does not match/.test(e.message));
    const p = await policy();
    const r = await p.swap(m);
    assert.ok(r.ok);
    const loaded = await Policy.load({ config: WORLD, prebuiltDir: tmp, trust: UNSIGNED });
    assert.equal(loaded.ok, false);
    assert.match(loaded.error.val, /policy\.core\.wasm does not match/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

// The tuned string glue (lib/module.js `tuneGlue`) exchanges the same bytes as jco's own:
// strings cross into the component and back unchanged, ASCII or not, short or long, and a
// lone surrogate becomes U+FFFD as TextEncoder makes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENERATED_DIR, tuneGlue } from '../index.js';
import { policy } from './fixture.js';

const samples = ['x', 'a'.repeat(64), 'a'.repeat(65), 'b'.repeat(257), 'ünïcödé', '日本語のスコープ', 'emoji-😀', 'lone-\ud800-surrogate', 'é'.repeat(200), `${'a'.repeat(63)}é`, '\u007f\u0080'];

test('strings round-trip through the component unchanged', async () => {
  const p = await policy();
  for (const s of samples) {
    const r = p.normalizeScopes(['read:repository', s]);
    assert.deepStrictEqual(r, { ok: false, error: { tag: 'unknown-scope', val: Buffer.from(s, 'utf8').toString('utf8') } }, JSON.stringify(s));
  }
});

test('the memory grows under the glue and every view follows it', async () => {
  const p = await policy();
  const w = (await import('./fixture.js')).world();
  for (const n of [1 << 16, 1 << 21, 1 << 23]) {
    const big = 'x'.repeat(n);
    const r = p.normalizeScopes(['read:repository', big]);
    assert.equal(r.ok, false);
    assert.equal(r.error.val.length, n);
    assert.equal(r.error.val, big);
    // after the growth, small strings and a decision still cross correctly
    assert.deepStrictEqual(p.normalizeScopes(['ü', 'x']), { ok: false, error: { tag: 'unknown-scope', val: 'ü' } });
    assert.deepStrictEqual(p.decide(w, { repository: 'alice/app', action: 'pull' }).value, { decision: 'allow', status: 200, reason: 'public-read' });
  }
});

test('the prebuilt glue is tuned, and tuning is idempotent in effect', () => {
  const js = readFileSync(join(GENERATED_DIR, 'policy.js'), 'utf8');
  assert.match(js, /utf8DecodeTuned\(new Uint8Array\(/);
  assert.doesNotMatch(js, /utf8Decoder\.decode\(new Uint8Array\(/);
  assert.match(js, /dvBuffer\.byteLength !== 0/);
  // glue it does not recognise is left alone
  assert.equal(tuneGlue('export function instantiate() {}'), 'export function instantiate() {}');
});

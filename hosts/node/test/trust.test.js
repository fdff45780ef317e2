// Module trust (issue 23, "Signed modules" and its "Done when": unsigned, tampered (one
// byte), wrong-key, replayed-older and retired-key modules refused on every path that makes a
// module live — Policy.load with bytes and Policy.swap — with the old module still serving;
// allow-unsigned works and is visible). Keys and signatures are made by the real Debian
// `minisign` binary, in a temporary directory, per run (no secret key is committed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTRACT_VERSION, Policy, defaultModuleBytes, sha256Hex } from '../index.js';
import { WORLD, anotherVersion, policy, world } from './fixture.js';

const hasMinisign = spawnSync('minisign', ['-v']).status === 0;
if (!hasMinisign) console.log('SKIPPED: module trust tests (no `minisign` binary: apt-get install minisign)');
const needs = { skip: !hasMinisign && 'no minisign binary' };

const dir = hasMinisign ? mkdtempSync(join(tmpdir(), 'forge-authz-trust-')) : null;
process.on('exit', () => dir && rmSync(dir, { recursive: true, force: true }));

function run(args) {
  const r = spawnSync('minisign', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `minisign ${args.join(' ')}: ${r.stderr}`);
}

/** A minisign key pair (unencrypted, test only): `{pub: text, sec: path, id}`. */
function keyPair(name) {
  const pub = join(dir, `${name}.pub`);
  const sec = join(dir, `${name}.key`);
  run(['-G', '-W', '-p', pub, '-s', sec]);
  const text = readFileSync(pub, 'utf8');
  // minisign's comment drops leading zeros: the id is 16 digits.
  return { pub: text, sec, id: /minisign public key ([0-9A-F]{1,16})/.exec(text)[1].padStart(16, '0') };
}

let n = 0;
/** `bytes` signed by `key` with the statement (`statement` overrides it whole). */
function sign(bytes, key, version, { contract = CONTRACT_VERSION, statement, legacy = false } = {}) {
  n += 1;
  const file = join(dir, `m${n}.wasm`);
  writeFileSync(file, bytes);
  const comment = statement ?? `forge-authz-module contract=${contract} version=${version} sha256=${sha256Hex(bytes)}`;
  run(['-S', ...(legacy ? ['-l'] : []), '-s', key.sec, '-m', file, '-x', `${file}.minisig`, '-t', comment]);
  return readFileSync(`${file}.minisig`, 'utf8');
}

const keys = hasMinisign ? { a: keyPair('a'), b: keyPair('b'), old: keyPair('old') } : {};
const base = defaultModuleBytes();
const v = (i) => anotherVersion(base, `v${i}`);
const trust = () => ({ publicKeys: [keys.a.pub, keys.old.pub], retiredKeyIds: [keys.old.id] });

/** The policy still serves the module it had: same SHA-256, and a token pull still allowed. */
async function servingStill(p, sha256, mint) {
  assert.equal(p.sha256, sha256);
  const d = p.decide(mint.world, { credential: { bearer: mint.secret }, repository: 'alice/app', action: 'pull' });
  assert.equal(d.value.reason, 'granted');
}

async function signedPolicy() {
  const p = (await Policy.load({ module: v(5), signature: sign(v(5), keys.a, 5), config: WORLD, trust: trust() })).value;
  const w = world();
  const minted = p.mint(w, { owner: 'alice', name: 'ci', scopes: ['read:repository'], expires_in: 86400 });
  return { p, mint: { world: w, secret: minted.value.secret } };
}

test('a signed module loads and swaps in; its trust is visible', needs, async () => {
  const { p, mint } = await signedPolicy();
  assert.deepStrictEqual(p.moduleTrust, { module: 'signed', version: 5n, keyId: keys.a.id, allowUnsigned: false, highestVersion: 5n });
  const swapped = await p.swap(v(6), { signature: sign(v(6), keys.a, 6) });
  assert.ok(swapped.ok, JSON.stringify(swapped.error));
  assert.equal(p.sha256, sha256Hex(v(6)));
  assert.equal(p.moduleTrust.version, 6n);
  await servingStill(p, sha256Hex(v(6)), mint);
  // the built-in module is trusted as built
  assert.equal((await policy()).moduleTrust.module, 'built-in');
});

test('refused on swap, the old module still serving: unsigned, tampered, wrong key, retired key, replayed, wrong contract, statement mismatch', needs, async () => {
  const { p, mint } = await signedPolicy();
  const before = p.sha256;
  const tampered = v(7).slice();
  tampered[tampered.length - 1] ^= 1; // one byte of the signed bytes
  const cases = [
    ['unsigned', v(7), undefined],
    ['bad-signature', tampered, sign(v(7), keys.a, 7)],
    ['untrusted-key', v(7), sign(v(7), keys.b, 7)],
    ['retired-key', v(7), sign(v(7), keys.old, 7)],
    ['replayed-older', v(4), sign(v(4), keys.a, 4)],
    ['wrong-contract', v(7), sign(v(7), keys.a, 7, { contract: '0.4.0' })],
    ['statement-mismatch', v(7), sign(v(7), keys.a, 7, { statement: `forge-authz-module contract=${CONTRACT_VERSION} version=7 sha256=${sha256Hex(base)}` })],
    ['statement-mismatch', v(7), sign(v(7), keys.a, 7, { statement: 'shipped on friday' })],
    ['bad-signature', v(7), 'untrusted comment: x\nnot a signature\n'],
    ['bad-signature', v(7), sign(v(7), keys.a, 7, { legacy: true })],
  ];
  for (const [code, bytes, signature] of cases) {
    const r = await p.swap(bytes, { signature });
    assert.equal(r.ok, false, code);
    assert.equal(r.error.tag, 'module-refused');
    assert.match(r.error.val, new RegExp(`^policy module refused: untrusted module: ${code}: `), code);
    await servingStill(p, before, mint);
  }
  // a trusted comment edited after signing breaks the global signature
  const sig = sign(v(7), keys.a, 7).replace('version=7', 'version=9');
  assert.match((await p.swap(v(7), { signature: sig })).error.val, /^policy module refused: untrusted module: bad-signature: the trusted comment/);
  await servingStill(p, before, mint);
  assert.equal(p.moduleTrust.version, 5n);
});

test('refused at load: unsigned bytes, an untrusted key; trust configuration unreadable', needs, async () => {
  for (const [code, options] of [
    ['unsigned', {}],
    ['unsigned', { trust: trust() }],
    ['untrusted-key', { trust: trust(), signature: sign(v(3), keys.b, 3) }],
    ['retired-key', { trust: trust(), signature: sign(v(3), keys.old, 3) }],
  ]) {
    const r = await Policy.load({ module: v(3), config: WORLD, ...options });
    assert.equal(r.ok, false, code);
    assert.match(r.error.val, new RegExp(`^policy module refused: untrusted module: ${code}: `));
  }
  for (const bad of [{ publicKeys: ['not a key'] }, { retiredKeyIds: ['x'] }, { allowUnsigned: 'yes' }, { publickeys: [] }]) {
    const r = await Policy.load({ config: WORLD, trust: bad });
    assert.match(r.error.val, /^trust configuration unreadable: /);
  }
});

test('allow-unsigned: an unsigned module serves, visibly; a bad signature is still refused', needs, async () => {
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on('warning', onWarning);
  const p = await policy({ trust: { ...trust(), allowUnsigned: true } });
  const r = await p.swap(v(8));
  assert.ok(r.ok, JSON.stringify(r.error));
  assert.deepStrictEqual(p.moduleTrust, { module: 'unsigned', version: null, keyId: null, allowUnsigned: true, highestVersion: 0n });
  const bad = await p.swap(v(9), { signature: sign(v(9), keys.b, 9) });
  assert.match(bad.error.val, /^policy module refused: untrusted module: untrusted-key: /);
  assert.equal(p.sha256, sha256Hex(v(8)));
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  assert.ok(
    warnings.some((w) => w.code === 'FORGE_AUTHZ_UNSIGNED_MODULE' && w.message.includes(sha256Hex(v(8)))),
    'a process warning names the unsigned module',
  );
});

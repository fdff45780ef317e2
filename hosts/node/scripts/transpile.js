#!/usr/bin/env node
// `npm run transpile [-- path/to/policy.wasm]`: transpile the policy component with jco into
// generated/ (policy.js, its core wasm, the TypeScript types jco derives from the WIT in
// generated/interfaces/, a copy of the .wasm, and source.json: the SHA-256 of the component
// it was transpiled from and of every file the host loads). The host loads generated/ only
// when those files still have the recorded digests, and reports the component's SHA-256 as
// the module it runs. Bytes with that SHA-256 then load without transpiling; any other
// bytes are transpiled at run time. Default input: FORGE_AUTHZ_WASM, else the module
// `cargo policy` builds.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { transpile } from '@bytecodealliance/jco';
import { CARGO_POLICY_WASM, GENERATED_DIR, TRANSPILE_OPTIONS, sha256Hex, tuneGlue } from '../lib/module.js';

const input = process.argv[2] ?? process.env.FORGE_AUTHZ_WASM ?? CARGO_POLICY_WASM;
let bytes;
try {
  bytes = readFileSync(input);
} catch (e) {
  console.error(`transpile: cannot read ${input} (${e.message}); build it with \`cargo policy\` at the repository root`);
  process.exit(1);
}
const started = performance.now();
let out;
try {
  out = await transpile(new Uint8Array(bytes), { ...TRANSPILE_OPTIONS, noTypescript: false });
} catch (e) {
  console.error(`transpile: jco refused ${input}: ${String(e?.message ?? e).split('\n')[0]}`);
  process.exit(1);
}
out.files['policy.js'] = new TextEncoder().encode(tuneGlue(Buffer.from(out.files['policy.js']).toString('utf8')));
rmSync(GENERATED_DIR, { recursive: true, force: true });
for (const [name, content] of Object.entries(out.files)) {
  const p = join(GENERATED_DIR, name);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
}
writeFileSync(join(GENERATED_DIR, 'forge_authz_guest.wasm'), bytes);
const jco = JSON.parse(readFileSync(new URL('../node_modules/@bytecodealliance/jco/package.json', import.meta.url), 'utf8')).version;
const meta = {
  sha256: sha256Hex(bytes),
  source: input,
  jco,
  options: TRANSPILE_OPTIONS,
  // What the host loads, with their digests (checked at every load).
  files: Object.fromEntries(
    Object.entries(out.files)
      .filter(([f]) => f === 'policy.js' || f.endsWith('.wasm'))
      .map(([f, content]) => [f, sha256Hex(content)]),
  ),
  imports: out.imports,
  exports: out.exports,
};
writeFileSync(join(GENERATED_DIR, 'source.json'), `${JSON.stringify(meta, null, 2)}\n`);
console.log(`transpiled ${input} (sha256 ${meta.sha256}, ${bytes.length} bytes) with jco ${jco} into ${GENERATED_DIR} in ${Math.round(performance.now() - started)} ms`);

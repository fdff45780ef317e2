// One policy module version: the component's bytes, transpiled by jco into JavaScript and
// core wasm, with its core modules compiled once. Instances are made from it synchronously.
//
// Bytes are transpiled with jco's JS API (`transpile`, imported only when needed) and the
// generated code is imported from a `data:` URL: nothing is written to disk. `npm run
// transpile` (scripts/transpile.js) prebuilds a module into generated/ with source.json
// recording the SHA-256 of the component and of each generated file; generated/ loads only
// while every file still has its recorded digest (the very bytes checked are imported), and
// the module then reports the component's recorded SHA-256. Both paths apply `tuneGlue`.

import { createHash, randomFillSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The WIT package version this host speaks. */
export const CONTRACT_VERSION = '0.6.0';
/** The export every policy module must have. */
export const AUTHORIZER_EXPORT = `forge:authz/authorizer@${CONTRACT_VERSION}`;
/** jco's options (the same for the prebuilt and the run-time transpile). */
export const TRANSPILE_OPTIONS = Object.freeze({ name: 'policy', instantiation: 'sync', noTypescript: true, quiet: true });

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
/** Where `npm run transpile` writes the prebuilt module. */
export const GENERATED_DIR = join(PACKAGE_DIR, 'generated');
/** The bytes `cargo policy` builds (relative to this package in the repository). */
export const CARGO_POLICY_WASM = join(PACKAGE_DIR, '..', '..', 'target', 'wasm32-wasip2', 'policy', 'forge_authz_guest.wasm');

const MAX_RANDOM_BYTES = 1 << 16;
const KEEP = 8;
const compiled = new Map(); // sha256 -> Promise<PolicyModule> (the last KEEP versions)
const provenance = new WeakMap(); // PolicyModule -> {bytes} | {builtIn: true} (see moduleProvenance)

export const sha256Hex = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** A refusal to load a module (not a component, wrong contract...). */
export class ModuleRefused extends Error {}

/**
 * A compiled policy version. `instantiate(host)` makes a fresh component instance whose
 * `forge:authz/facts` import calls `host.lookup` / `host.repositories`, and returns its
 * `forge:authz/authorizer` interface (`Authorizer`, `inspect`, ...).
 */
export class PolicyModule {
  #instantiate;
  #cores;
  constructor({ sha256, instantiate, cores, imports, exports, origin }) {
    this.sha256 = sha256;
    this.imports = imports;
    this.exports = exports;
    /** `prebuilt` (generated/) or `transpiled` (jco at run time). */
    this.origin = origin;
    this.#instantiate = instantiate;
    this.#cores = cores;
  }

  instantiate(host) {
    const root = this.#instantiate(
      (name) => {
        const m = this.#cores.get(name);
        if (!m) throw new Error(`the generated code asked for an unknown core module ${name}`);
        return m;
      },
      importObject(host),
      (module, imports) => new WebAssembly.Instance(module, imports),
    );
    const api = root[AUTHORIZER_EXPORT] ?? root.authorizer;
    if (!api || typeof api.Authorizer?.create !== 'function') {
      throw new ModuleRefused(`the module does not export ${AUTHORIZER_EXPORT}`);
    }
    return api;
  }
}

/** The import object: facts from `host`, `wasi:random` from node:crypto, anything else traps. */
function importObject(host) {
  const facts = {
    lookup: (query) => host.lookup(query),
    repositories: (paths, viewer) => host.repositories(paths, viewer),
  };
  const u64 = new BigUint64Array(1);
  const random = {
    getRandomU64() {
      randomFillSync(u64);
      return u64[0];
    },
    getRandomBytes(len) {
      const n = Number(len);
      if (n > MAX_RANDOM_BYTES) throw new Error(`the policy asked for ${len} random bytes`);
      return randomFillSync(new Uint8Array(n));
    },
  };
  // jco asks for interfaces by name (with or without `@version`, depending on its version).
  return new Proxy(
    {},
    {
      get(_, name) {
        if (typeof name !== 'string') return undefined;
        const base = name.replace(/@.*$/, '');
        if (base === 'forge:authz/facts') return facts;
        if (base === 'wasi:random/random') return random;
        // The policy has no filesystem, network, clock or environment: a language runtime's
        // stray import (stdio, exit...) links, and traps if it is ever called.
        return new Proxy(
          {},
          {
            get: (_t, fn) => () => {
              throw new Error(`the policy called ${name}#${String(fn)}, which this host does not provide`);
            },
          },
        );
      },
    },
  );
}

/**
 * jco's glue with faster memory access (the only changes made to what jco generates,
 * applied to the prebuilt and the run-time transpile alike): short ASCII strings are copied
 * into and out of the component's memory by a loop instead of a `TextEncoder` /
 * `TextDecoder` call each, and the DataView over memory is kept until the memory grows.
 * Together they were about half of a decision's glue cost. Anything else takes jco's own
 * path, so the bytes exchanged are the same; glue this does not recognise is left as it is.
 */
export function tuneGlue(js) {
  // The DataView over the component's memory: reused while the memory has not grown (a grown
  // memory detaches its old buffer, whose length then reads 0), without reading
  // `memory.buffer` on every load and store.
  const dv = 'const dataView = mem => dv.buffer === mem.buffer ? dv : dv = new DataView(mem.buffer);';
  if (js.includes(dv)) {
    js = js.replace(
      dv,
      'let dvBuffer = dv.buffer;\n  let dvMemory = null;\n  const dataView = mem => (dvMemory === mem && dvBuffer.byteLength !== 0) ? dv : (dvMemory = mem, dvBuffer = mem.buffer, dv = new DataView(dvBuffer));',
    );
  }
  const enc = '    let buf = utf8Encoder.encode(s);\n    let ptr = realloc(0, 0, 1, buf.length);\n    new Uint8Array(memory.buffer).set(buf, ptr);\n    utf8EncodedLen = buf.length;\n    return ptr;';
  const dec = '  const utf8Decoder = new TextDecoder();\n';
  if (!js.includes(enc) || !js.includes(dec)) return js;
  js = js.replace(enc, `    const n = s.length;
    let ascii = n <= 256;
    for (let i = 0; ascii && i < n; i++) if (s.charCodeAt(i) > 0x7f) ascii = false;
    if (ascii) {
      const p = realloc(0, 0, 1, n);
      const m = new Uint8Array(memory.buffer, p, n);
      for (let i = 0; i < n; i++) m[i] = s.charCodeAt(i);
      utf8EncodedLen = n;
      return p;
    }
${enc}`);
  js = js.replace(dec, `${dec}  const utf8DecodeTuned = (bytes) => {
    const n = bytes.length;
    if (n > 64) return utf8Decoder.decode(bytes);
    for (let i = 0; i < n; i++) if (bytes[i] > 0x7f) return utf8Decoder.decode(bytes);
    return String.fromCharCode.apply(null, bytes);
  };
`);
  return js.replaceAll('utf8Decoder.decode(new Uint8Array(', 'utf8DecodeTuned(new Uint8Array(');
}

/** The prebuilt module's `source.json`, if `dir` holds one made with this host's options. */
function prebuiltMeta(dir) {
  const meta = join(dir, 'source.json');
  if (!existsSync(meta)) return null;
  let m;
  try {
    m = JSON.parse(readFileSync(meta, 'utf8'));
  } catch (e) {
    throw new ModuleRefused(`${meta} is unreadable (${firstLine(e)}): run \`npm run transpile\``);
  }
  if (JSON.stringify(m.options) !== JSON.stringify(TRANSPILE_OPTIONS)) return null;
  return m;
}

/**
 * Load a prebuilt module from `dir` (`npm run transpile`): every generated file must still
 * have the SHA-256 `source.json` recorded when it was written, and the module reports the
 * SHA-256 of the component it was transpiled from (recorded there too).
 */
async function loadPrebuilt(dir, meta) {
  if (typeof meta.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(meta.sha256)) {
    throw new ModuleRefused(`${dir}/source.json names no component SHA-256: run \`npm run transpile\``);
  }
  const files = meta.files && typeof meta.files === 'object' ? meta.files : {};
  if (!Object.hasOwn(files, 'policy.js')) throw new ModuleRefused(`${dir}/source.json lists no policy.js: run \`npm run transpile\``);
  const contents = {};
  for (const [name, digest] of Object.entries(files)) {
    if (name.includes('/') || name.includes('\\') || name.startsWith('.')) throw new ModuleRefused(`${dir}/source.json names a file outside it: ${name}`);
    let b;
    try {
      b = readFileSync(join(dir, name));
    } catch (e) {
      throw new ModuleRefused(`prebuilt ${name} is unreadable (${firstLine(e)}): run \`npm run transpile\``);
    }
    if (sha256Hex(b) !== digest) throw new ModuleRefused(`prebuilt ${name} does not match ${dir}/source.json (changed since it was transpiled): run \`npm run transpile\``);
    contents[name] = b;
  }
  // Import the very bytes just checked (a data: URL), not the file again.
  const js = contents['policy.js'];
  const { instantiate } = await import(`data:text/javascript;base64,${js.toString('base64')}`);
  const cores = Object.fromEntries(Object.entries(contents).filter(([n]) => n.endsWith('.wasm')));
  return finish({ sha256: meta.sha256, instantiate, files: cores, imports: meta.imports ?? [], exports: meta.exports ?? [], origin: 'prebuilt' });
}

async function build(bytes, sha256, dir) {
  const meta = dir ? prebuiltMeta(dir) : null;
  if (meta && meta.sha256 === sha256) return loadPrebuilt(dir, meta);
  let transpile;
  try {
    ({ transpile } = await import('@bytecodealliance/jco'));
  } catch (e) {
    throw new ModuleRefused(`cannot transpile: @bytecodealliance/jco is not installed (${e.message})`);
  }
  let out;
  try {
    out = await transpile(bytes, { ...TRANSPILE_OPTIONS });
  } catch (e) {
    throw new ModuleRefused(`not a loadable component: ${firstLine(e)}`);
  }
  const { files, imports, exports } = out;
  if (!files || !files['policy.js']) throw new ModuleRefused('jco produced no policy.js');
  const js = Buffer.from(tuneGlue(Buffer.from(files['policy.js']).toString('utf8'))).toString('base64');
  let instantiate;
  try {
    ({ instantiate } = await import(`data:text/javascript;base64,${js}`));
  } catch (e) {
    throw new ModuleRefused(`the transpiled module does not load: ${firstLine(e)}`);
  }
  return finish({ sha256, instantiate, files, imports, exports, origin: 'transpiled' });
}

async function finish({ sha256, instantiate, files, imports, exports, origin }) {
  if (typeof instantiate !== 'function') throw new ModuleRefused('the transpiled module has no `instantiate` (not transpiled with instantiation: sync)');
  const names = exports.map(([n]) => n);
  if (!names.includes(AUTHORIZER_EXPORT)) {
    throw new ModuleRefused(`the module does not export ${AUTHORIZER_EXPORT} (it exports ${names.join(', ') || 'nothing'})`);
  }
  const cores = new Map();
  for (const [name, b] of Object.entries(files)) {
    if (!name.endsWith('.wasm')) continue;
    try {
      cores.set(name, await WebAssembly.compile(b));
    } catch (e) {
      throw new ModuleRefused(`core module ${name} does not compile: ${firstLine(e)}`);
    }
  }
  return new PolicyModule({ sha256, instantiate, cores, imports, exports, origin });
}

/**
 * The module prebuilt in `dir` (default generated/, written by `npm run transpile`), checked
 * against the digests its `source.json` recorded; `sha256` is that of the component it was
 * transpiled from. Rejects with `ModuleRefused` when there is none or a file changed.
 */
export async function loadPrebuiltModule(dir = GENERATED_DIR) {
  const meta = prebuiltMeta(dir);
  if (!meta) throw new ModuleRefused(`no prebuilt module in ${dir} (made with these options): run \`npm run transpile\``);
  const m = await loadPrebuilt(dir, meta);
  if (resolve(dir) === resolve(GENERATED_DIR)) provenance.set(m, { builtIn: true });
  return m;
}

/**
 * Where a compiled module came from, for its trust (lib/trust.js): `{bytes}` (the very bytes
 * compileModule compiled), `{builtIn: true}` (this package's generated/), or undefined (a
 * module built some other way: its bytes were never seen, so it can only be live unsigned).
 */
export const moduleProvenance = (m) => provenance.get(m);

const firstLine = (e) => String(e?.message ?? e).split('\n')[0];

/**
 * Compile a policy component from its bytes (cached by SHA-256: a swap back to a version
 * this process ran compiles nothing). Rejects with `ModuleRefused` for bytes that are not a
 * component exporting `forge:authz/authorizer@0.6.0`.
 *
 * @param {Uint8Array} bytes
 * @param {{prebuiltDir?: string | null}} [options] `null`: never use generated/
 */
export function compileModule(bytes, { prebuiltDir = GENERATED_DIR } = {}) {
  if (!(bytes instanceof Uint8Array)) return Promise.reject(new ModuleRefused('module bytes must be a Uint8Array'));
  const sha256 = sha256Hex(bytes);
  const key = `${sha256}:${prebuiltDir ?? ''}`;
  let p = compiled.get(key);
  if (!p) {
    const seen = bytes.slice();
    p = build(bytes, sha256, prebuiltDir).then((m) => {
      provenance.set(m, { bytes: seen });
      return m;
    });
    compiled.set(key, p);
    p.catch(() => compiled.delete(key));
    if (compiled.size > KEEP) compiled.delete(compiled.keys().next().value);
  }
  return p;
}

/**
 * The default module's bytes: the prebuilt copy in generated/ (`npm run transpile`), else
 * the one `cargo policy` built in this repository.
 */
export function defaultModuleBytes() {
  for (const p of [join(GENERATED_DIR, 'forge_authz_guest.wasm'), CARGO_POLICY_WASM]) {
    if (existsSync(p)) return new Uint8Array(readFileSync(p));
  }
  throw new ModuleRefused(`no policy module: run \`cargo policy\` (${CARGO_POLICY_WASM}) or pass the bytes`);
}

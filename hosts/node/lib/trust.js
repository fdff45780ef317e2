// Module trust (issue 23; README "Trusting a module"): a policy module's bytes become live
// only with a minisign detached signature from a trusted key whose trusted comment is the
// statement `forge-authz-module contract=<this host's contract> version=<u64> sha256=<hex>`
// — unless the host said `allowUnsigned` (development; shown by `Policy.moduleTrust`).
//
// Verified here with node:crypto, not by the module being judged: Ed25519 over the file's
// BLAKE2b-512 (minisign's prehashed `ED`, its default; a legacy `Ed` signature over the raw
// bytes is refused, as the Rust hosts' minisign-verify refuses it), and the global signature
// over signature || trusted comment, which binds the statement. Refusals carry the Rust
// hosts' codes (forge_authz_host::trust::Refusal): unsigned, bad-signature, untrusted-key,
// retired-key, wrong-contract, replayed-older (a version below the highest this Policy
// object accepted), statement-mismatch.

import { createHash, createPublicKey, verify } from 'node:crypto';
import { CONTRACT_VERSION, sha256Hex } from './module.js';

/** DER SubjectPublicKeyInfo of an Ed25519 key, up to the 32 raw key bytes. */
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const STATEMENT = /^forge-authz-module contract=(\S+) version=(\d{1,20}) sha256=([0-9a-f]{64})$/;
const U64_MAX = (1n << 64n) - 1n;

/** A module refused by its trust (`code`: why, one of the codes above). */
export class TrustRefused extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/** Strict base64 (what minisign writes): decoded bytes, or null. */
function base64(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  const b = Buffer.from(text, 'base64');
  return b.toString('base64') === text ? b : null;
}

/** minisign's key id: the 8 id bytes as a little-endian u64, 16 upper-case hex digits. */
const keyIdOf = (id) => Buffer.from(id).reverse().toString('hex').toUpperCase();

/**
 * A minisign public key: the `.pub` file's text (its comment line optional) or its base64
 * line. Returns `{id, key}`; throws an Error saying why it is unreadable.
 */
export function parsePublicKey(text) {
  if (typeof text !== 'string') throw new Error('a public key must be minisign public-key text');
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('untrusted comment:'));
  const raw = lines.length === 1 ? base64(lines[0]) : null;
  if (!raw || raw.length !== 42 || raw.toString('latin1', 0, 2) !== 'Ed') {
    throw new Error('not a minisign Ed25519 public key');
  }
  const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI, raw.subarray(10)]), format: 'der', type: 'spki' });
  return { id: keyIdOf(raw.subarray(2, 10)), key };
}

/**
 * The trust of a Policy from its `trust` option: `{publicKeys: [minisign public-key text],
 * retiredKeyIds: ['4B99B9833531D702'], allowUnsigned: false}` (all optional; none: only the
 * built-in module can be live; key ids as minisign prints them, leading zeros optional).
 * Throws an Error for an unreadable option.
 */
export function readTrust(option = {}) {
  if (option === null || typeof option !== 'object' || Array.isArray(option)) throw new Error('trust must be an object');
  const known = new Set(['publicKeys', 'retiredKeyIds', 'allowUnsigned']);
  for (const k of Object.keys(option)) if (!known.has(k)) throw new Error(`trust: unknown field ${k}`);
  const { publicKeys = [], retiredKeyIds = [], allowUnsigned = false } = option;
  if (!Array.isArray(publicKeys)) throw new Error('trust.publicKeys must be a list of minisign public keys');
  if (!Array.isArray(retiredKeyIds) || !retiredKeyIds.every((id) => typeof id === 'string' && /^[0-9a-fA-F]{1,16}$/.test(id))) {
    throw new Error('trust.retiredKeyIds must be a list of minisign key ids (hex)');
  }
  if (typeof allowUnsigned !== 'boolean') throw new Error('trust.allowUnsigned must be a boolean');
  const keys = new Map();
  publicKeys.forEach((text, i) => {
    try {
      const k = parsePublicKey(text);
      keys.set(k.id, k.key);
    } catch (e) {
      throw new Error(`trust.publicKeys[${i}]: ${e.message}`);
    }
  });
  // minisign's comment line drops an id's leading zeros (`%llX`): padded to 16 digits.
  return Object.freeze({ keys, retired: new Set(retiredKeyIds.map((id) => id.toUpperCase().padStart(16, '0'))), allowUnsigned });
}

/** A `.minisig` text's parts, or a `bad-signature` refusal. */
function parseSignature(text) {
  const lines = typeof text === 'string' ? text.replace(/(\r?\n)+$/, '').split(/\r?\n/) : [];
  const bad = (why) => new TrustRefused('bad-signature', `the signature is not a minisign signature (${why})`);
  if (lines.length !== 4 || !lines[0].startsWith('untrusted comment:')) throw bad('four lines, an untrusted comment first');
  const sig = base64(lines[1]);
  if (!sig || sig.length !== 74) throw bad('its signature line');
  const alg = sig.toString('latin1', 0, 2);
  if (alg === 'Ed') throw bad('a legacy signature, not prehashed: sign with a current minisign');
  if (alg !== 'ED') throw bad(`algorithm ${JSON.stringify(alg)}`);
  if (!lines[2].startsWith('trusted comment: ')) throw bad('no trusted comment');
  const global = base64(lines[3]);
  if (!global || global.length !== 64) throw bad('its global signature line');
  const comment = Buffer.from(lines[2].slice('trusted comment: '.length), 'utf8');
  return { keyId: keyIdOf(sig.subarray(2, 10)), signature: sig.subarray(10), comment, global };
}

/**
 * Check a module's bytes against `trust`: returns `{signed: true, version (BigInt), keyId,
 * sha256}`, or `{signed: false}` for an unsigned module the trust allows; throws
 * `TrustRefused` otherwise. `floor`: the highest version already accepted (a lower one is a
 * replay). A signature given is always checked, even when unsigned modules are allowed.
 */
export function verifyModule(bytes, signature, trust, floor = 0n) {
  if (signature === undefined || signature === null) {
    if (trust.allowUnsigned) return { signed: false };
    throw new TrustRefused('unsigned', 'the module has no signature and this host does not allow unsigned modules');
  }
  const s = parseSignature(typeof signature === 'string' ? signature : Buffer.from(signature).toString('utf8'));
  if (trust.retired.has(s.keyId)) throw new TrustRefused('retired-key', `signed by retired key ${s.keyId}`);
  const key = trust.keys.get(s.keyId);
  if (!key) throw new TrustRefused('untrusted-key', `signed by key ${s.keyId}, which this host does not trust`);
  if (!verify(null, createHash('blake2b512').update(bytes).digest(), key, s.signature)) {
    throw new TrustRefused('bad-signature', `the signature by key ${s.keyId} does not match the module's bytes`);
  }
  if (!verify(null, Buffer.concat([s.signature, s.comment]), key, s.global)) {
    throw new TrustRefused('bad-signature', `the trusted comment is not the one key ${s.keyId} signed`);
  }
  const m = STATEMENT.exec(s.comment.toString('utf8'));
  if (!m || BigInt(m[2]) > U64_MAX) {
    throw new TrustRefused('statement-mismatch', `the trusted comment is not a module statement (forge-authz-module contract=… version=… sha256=…)`);
  }
  const [, contract, v, sha256] = m;
  if (contract !== CONTRACT_VERSION) {
    throw new TrustRefused('wrong-contract', `signed for contract ${contract}, this host speaks ${CONTRACT_VERSION}`);
  }
  const actual = sha256Hex(bytes);
  if (sha256 !== actual) throw new TrustRefused('statement-mismatch', `the statement names sha256 ${sha256}, the module is ${actual}`);
  const version = BigInt(v);
  if (version < floor) throw new TrustRefused('replayed-older', `version ${version} is older than version ${floor}, already accepted`);
  return { signed: true, version, keyId: s.keyId, sha256 };
}

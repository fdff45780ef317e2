// Small helpers shared by the wrapper: results as values, ASCII case folding, hex, the s64
// conversion and a strict reader for the JSON formats (unknown fields and wrong types are
// errors, as in the Rust host's serde `deny_unknown_fields` types).

import { POLICY_FAILURE_CODE } from './vocabulary.js';

/** A successful result. */
export const ok = (value) => ({ ok: true, value });
/** A refusal or failure, as a value. */
export const err = (error) => ({ ok: false, error });

/** The host could not read its input (a malformed request, an unknown SSH key...). */
export const invalidInput = (message) => err({ tag: 'invalid-input', val: message });
/** The policy could not decide or answer (trap, fact source failure, refused module). */
export const policyFailure = (message) => err({ tag: POLICY_FAILURE_CODE, val: message });

/** The message of anything thrown. */
export function messageOf(e) {
  if (e instanceof Error) return e.message;
  try {
    return String(e);
  } catch {
    return 'unknown error';
  }
}

/** ASCII-only lower case (Rust's `to_ascii_lowercase`: the Kelvin sign stays itself). */
export function asciiLower(s) {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Rust's `eq_ignore_ascii_case`. */
export function eqIgnoreAsciiCase(a, b) {
  return a.length === b.length && (a === b || asciiLower(a) === asciiLower(b));
}

/** Byte-wise UTF-8 order (Rust's `String` order, a `BTreeMap`'s iteration order). */
export function utf8Compare(a, b) {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Strict hex decoding (Rust's `hex::decode`: even length, 0-9 a-f A-F only). */
export function hexDecode(s) {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function hexEncode(bytes) {
  return Buffer.from(bytes.buffer ?? bytes, bytes.byteOffset ?? 0, bytes.byteLength ?? bytes.length).toString('hex');
}

/** 32 bytes as the WIT `hash256` (four big-endian u64 words, as BigInts). */
export function hash256FromBytes(bytes) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, 32);
  return { w0: v.getBigUint64(0), w1: v.getBigUint64(8), w2: v.getBigUint64(16), w3: v.getBigUint64(24) };
}

/** The 32 bytes of a WIT `hash256`. */
export function hash256ToBytes(h) {
  const out = new Uint8Array(32);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt.asUintN(64, BigInt(h.w0)));
  v.setBigUint64(8, BigInt.asUintN(64, BigInt(h.w1)));
  v.setBigUint64(16, BigInt.asUintN(64, BigInt(h.w2)));
  v.setBigUint64(24, BigInt.asUintN(64, BigInt(h.w3)));
  return out;
}

/** A `secret-digest` from its kind (`hmac-tag` / `sha256`) and 32 bytes or 64 hex digits. */
export function secretDigest(kind, bytesOrHex) {
  const bytes = typeof bytesOrHex === 'string' ? hexDecode(bytesOrHex) : bytesOrHex;
  if ((kind !== 'hmac-tag' && kind !== 'sha256') || !bytes || bytes.length !== 32) return null;
  return { tag: kind, val: hash256FromBytes(bytes) };
}

const isHash256 = (v) => {
  const k = Object.keys(v);
  return k.length === 4 && k[0] === 'w0' && k[1] === 'w1' && k[2] === 'w2' && k[3] === 'w3';
};

/**
 * A value as jco lifted it, with every `s64` (timestamps, lifetimes) as a plain number.
 *
 * The only other 64-bit integers of the contract are the `u64` words of `hash256`, which do
 * not fit a double: they stay BigInts (and the value can be passed back to the policy as is).
 */
export function plain(v) {
  if (typeof v === 'bigint') {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    if (isHash256(v)) return v;
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

/** JSON with BigInts as decimal strings (for keys and logs). */
export function stableJson(v) {
  return JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
}

// ---- strict JSON reading ------------------------------------------------------------------

/** Thrown by the readers below; the message names the field (`refs[2].name: ...`). */
export class InputError extends Error {}

export const fail = (path, what) => {
  throw new InputError(path ? `${path}: ${what}` : what);
};

const typeName = (v) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v);

/** Refuse fields other than `allowed` (serde's `deny_unknown_fields`). */
export function onlyFields(obj, allowed, path) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) fail(path, `expected an object, got ${typeName(obj)}`);
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(path, `unknown field \`${k}\`, expected one of ${allowed.map((a) => `\`${a}\``).join(', ')}`);
  }
  return obj;
}

const at = (path, key) => (path ? `${path}.${key}` : key);

/** A string that is valid Unicode (JSON's lone surrogates are refused, as serde refuses them). */
export function str(v, path) {
  if (typeof v !== 'string') fail(path, `expected a string, got ${typeName(v)}`);
  if (typeof v.isWellFormed === 'function' ? !v.isWellFormed() : /\p{Cs}/u.test(v)) fail(path, 'lone surrogate in string');
  return v;
}

export function field(obj, key, path, read, dflt) {
  const v = obj[key];
  if (v === undefined) {
    if (dflt === undefined) fail(path, `missing field \`${key}\``);
    return typeof dflt === 'function' ? dflt() : dflt;
  }
  return read(v, at(path, key));
}

/** An optional field: absent or `null` is `undefined`. */
export function optField(obj, key, path, read) {
  const v = obj[key];
  return v === undefined || v === null ? undefined : read(v, at(path, key));
}

export function bool(v, path) {
  if (typeof v !== 'boolean') fail(path, `expected a boolean, got ${typeName(v)}`);
  return v;
}

export function int64(v, path) {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(path, `expected an integer, got ${typeName(v)}`);
  return v;
}

export function list(read) {
  return (v, path) => {
    if (!Array.isArray(v)) fail(path, `expected a list, got ${typeName(v)}`);
    return v.map((x, i) => read(x, `${path}[${i}]`));
  };
}

export function oneOf(values, what) {
  return (v, path) => {
    if (typeof v !== 'string' || !values.includes(v)) {
      fail(path, `unknown ${what} \`${typeof v === 'string' ? v : typeName(v)}\`, expected one of ${values.map((x) => `\`${x}\``).join(', ')}`);
    }
    return v;
  };
}

/** A JSON object used as a map (`collaborators`, `members`): entries in Rust's key order. */
export function map(read) {
  return (v, path) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(path, `expected a map, got ${typeName(v)}`);
    return Object.keys(v)
      .sort(utf8Compare)
      .map((k) => [str(k, path), read(v[k], at(path, k))]);
  };
}

/** Parse JSON text, or take an already parsed value. */
export function parsed(input, what) {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch (e) {
    throw new InputError(`${what}: ${messageOf(e)}`);
  }
}

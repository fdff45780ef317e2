// A small world for the tests that need no corpus.
import { Policy, World } from '../index.js';

export const NOW = 1767225600;

export const WORLD = Object.freeze({
  now: NOW,
  keys: [
    { id: 'k1', secret: '11'.repeat(32) },
    { id: 'k0', secret: '22'.repeat(32) },
  ],
  signing_key: 'k1',
  users: [
    { name: 'alice', visibility: 'public' },
    { name: 'bob', visibility: 'public' },
    { name: 'acme', organization: true, visibility: 'public', members: { bob: 'write' } },
  ],
  repositories: [
    { owner: 'alice', name: 'app', collaborators: { bob: 'read' } },
    { owner: 'alice', name: 'secret', private: true },
    { owner: 'acme', name: 'site', protected_refs: [{ pattern: 'main', push: 'admins' }] },
  ],
  tokens: [],
});

export const world = () => new World(structuredClone(WORLD));

/** A policy over WORLD (`options`: more of Policy.load's, e.g. `trust`). */
export async function policy(options = {}) {
  const p = await Policy.load({ config: WORLD, ...options });
  if (!p.ok) throw new Error(`policy refused: ${p.error.val}`);
  return p.value;
}

/** The component with a custom section appended: another module version (another SHA-256) that decides the same. */
export function anotherVersion(bytes, note) {
  const name = new TextEncoder().encode('forge-authz-test');
  const payload = new TextEncoder().encode(note);
  const body = [name.length, ...name, ...payload];
  const leb = [];
  let n = body.length;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    leb.push(b);
  } while (n);
  return new Uint8Array([...bytes, 0, ...leb, ...body]);
}
